"""mg.viz: the DOT text of cell graphs, options, and rendering to files.

Everything but the render tests reads ``Digraph.source`` and needs no Graphviz program;
all of them need the ``graphviz`` Python package (the GPU machine may lack it: they skip).
"""
import collections
import re
import shutil
import xml.etree.ElementTree as ElementTree

import pytest

import minigrad as mg
from models.graph import KINDS, cell_graph, cell_step, main as graph_main, sequence_step

NODE = re.compile(r"^\s*(\w+) \[(?!.*->)")      # `name [attrs]`, not graph/node/edge defaults
EDGE = re.compile(r"^\s*(\w+) -> (\w+)")
CLUSTER_LABEL = re.compile(r"subgraph (cluster_\d+) \{\s*\n[^\n]*label=<<b>([^<]*)</b>>")
needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is missing")


def has_graphviz():
    """Whether the graphviz package imports (the GPU machine has none)."""
    try:
        import graphviz  # noqa: F401
    except ImportError:
        return False
    return True


needs_graphviz = pytest.mark.skipif(not has_graphviz(),
                                    reason="the graphviz package is missing (pip install graphviz)")
pytestmark = needs_graphviz


def nodes_of(source):
    return [m.group(1) for line in source.splitlines() if (m := NODE.match(line))
            and m.group(1) not in ("graph", "node", "edge")]


def edges_of(source):
    return [m.groups() for line in source.splitlines() if (m := EDGE.match(line))]


def cluster_labels(source):
    return [label for _, label in CLUSTER_LABEL.findall(source)]


def op_count(source, symbol):
    return source.count(f"<<b>{symbol}</b><br/>") + source.count(f"<tr><td><b>{symbol}</b>")


# ---------------------------------------------------------------- one cell of each kind

GATES = {
    "lstm": ["input gate", "forget gate", "cell candidate", "output gate", "cell state"],
    "peephole": ["input gate", "forget gate", "cell candidate", "output gate", "cell state"],
    "coupled": ["input gate", "forget gate", "cell candidate", "output gate", "cell state"],
    "layernorm": ["input gate", "forget gate", "cell candidate", "output gate", "cell state"],
    "gru": ["reset gate", "update gate", "candidate"],
    "rnn": ["hidden state"],
}
# (nodes, edges) observed for one step, input size 3, hidden size 4; a change in a cell's
# ops shows up here first.
COUNTS = {"lstm": (24, 26), "peephole": (33, 38), "coupled": (24, 26), "gru": (24, 29),
          "rnn": (13, 12), "layernorm": (61, 69)}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_one_cluster_per_gate_with_its_label(kind):
    labels = cluster_labels(cell_graph(kind).source)
    for gate in GATES[kind]:
        assert labels.count(gate) == 1, f"{kind}: clusters {labels}, wanted one {gate!r}"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_node_and_edge_counts_are_pinned(kind):
    source = cell_graph(kind).source
    counts = (len(nodes_of(source)), len(edges_of(source)))
    assert counts == COUNTS[kind], f"{kind}: (nodes, edges) {counts}, pinned {COUNTS[kind]}"
    assert counts[0] < 80


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_no_duplicate_nodes_or_edges(kind):
    source = cell_graph(kind, show_tensors="all", fold_trivial=False).source
    for what, items in (("node", nodes_of(source)), ("edge", edges_of(source))):
        repeated = [k for k, n in collections.Counter(items).items() if n > 1]
        assert not repeated, f"{kind}: repeated {what}s {repeated}"
    named = set(nodes_of(source))
    for tail, head in edges_of(source):
        assert tail in named and head in named, f"{kind}: edge {tail}->{head} to nowhere"


def test_names_shapes_and_kinds_are_shown():
    source = cell_graph("lstm").source
    for text in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "16×3 float32",
                 "16×4 float32", "2×3 float32", "x<sub>t</sub>", "h<sub>prev</sub>",
                 "c<sub>prev</sub>", "h<sub>t</sub>", "c<sub>t</sub>", "matmul", "chunk"):
        assert text in source, f"{text!r} missing from the LSTM graph"
    assert source.count("shape=cylinder") == 2          # h_prev, c_prev: states
    assert source.count("shape=parallelogram") == 3     # x_t, and the outputs h_t, c_t
    assert source.count('fillcolor="#ffe0b2"') == 4     # the four parameters
    assert op_count(source, "σ") == 3 and op_count(source, "tanh") == 2
    assert "parameter" in source and "state" in source   # the legend


def test_same_computation_gives_the_same_source():
    for kind in KINDS:
        assert cell_graph(kind).source == cell_graph(kind).source, kind


def test_highlight_marks_the_cell_state_path():
    source = cell_graph("lstm").source
    thick = [line for line in source.splitlines() if "penwidth=2.6" in line]
    assert len(thick) == 3      # c_prev -> × -> + -> c_t


def test_coupled_input_gate_shows_its_constant():
    source = cell_graph("coupled").source
    assert "1 − ·" in source


# ---------------------------------------------------------------- options

def test_show_tensors_levels():
    plain = len(nodes_of(cell_graph("lstm").source))
    every = len(nodes_of(cell_graph("lstm", show_tensors="all").source))
    none = len(nodes_of(cell_graph("lstm", show_tensors=False).source))
    assert every > plain >= none
    outputs, _ = cell_step("lstm")
    with pytest.raises(ValueError, match="show_tensors"):
        mg.viz.graph(*outputs, show_tensors="some")


def test_named_intermediate_is_drawn_unless_ops_only():
    x = mg.randn(2, 3, requires_grad=True)
    y = (x * 2.0).tanh()
    y.name = "activation"
    z = y.sum()
    assert "activation" in mg.viz.graph(z).source
    assert "activation" not in mg.viz.graph(z, show_tensors=False).source


def test_collapse_draws_a_scope_as_one_node():
    full = cell_graph("lstm").source
    folded = cell_graph("lstm", collapse=("forget_gate", "input_gate")).source
    assert "forget gate" not in cluster_labels(folded)
    assert "shape=box3d" in folded and "<b>forget gate</b>" in folded
    assert op_count(folded, "σ") == op_count(full, "σ") - 2
    assert len(nodes_of(folded)) == len(nodes_of(full))   # one σ each became one node


def test_long_sequence_folds_into_a_block():
    outputs = sequence_step("lstm", 100)
    source = mg.viz.graph(*outputs, max_steps=1).source
    assert len(nodes_of(source)) < 40
    assert "× 99 more steps" in source and "t1 … t99" in source
    labels = cluster_labels(source)
    assert "t0" in labels and "t1" not in labels and labels.count("forget gate") == 1
    two = mg.viz.graph(*outputs, max_steps=2).source
    assert "× 98 more steps" in two and cluster_labels(two).count("forget gate") == 2
    everything = mg.viz.graph(*outputs, max_nodes=None).source    # the size guard off
    assert len(nodes_of(everything)) > 100 * 12


def test_a_10000_op_chain_does_not_recurse():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = x
    for _ in range(10_000):
        y = y * 1.0001
    source = mg.viz.graph(y).source
    assert len(nodes_of(source)) == 10_002       # the leaf, 10,000 ops, the output
    assert len(edges_of(source)) == 10_001


def test_freed_graph_is_refused():
    x = mg.randn(3, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="freed"):
        mg.viz.graph(y)


def test_backward_scope_is_a_cluster():
    x = mg.randn(3, requires_grad=True)
    y = (x.tanh() * x).sum()
    with mg.scope("backward"):
        (grad,) = mg.grad(y, x, create_graph=True)
    assert "backward" in cluster_labels(mg.viz.graph(grad).source)


# ---------------------------------------------------------------- files

def test_render_gv_needs_no_dot(tmp_path):
    outputs, _ = cell_step("rnn")
    path = mg.viz.render(outputs, tmp_path / "rnn.gv")
    assert open(path).read().startswith("digraph minigrad {")
    with pytest.raises(ValueError, match=r"\.svg"):
        mg.viz.render(outputs, tmp_path / "rnn.jpeg")


@needs_dot
def test_render_svg_and_png(tmp_path):
    outputs, highlight = cell_step("lstm")
    svg = mg.viz.render(outputs, tmp_path / "cell.svg", highlight=highlight)
    root = ElementTree.parse(svg).getroot()
    assert root.tag.endswith("svg")
    png = mg.viz.render(outputs, tmp_path / "cell.png")
    with open(png, "rb") as file:
        assert file.read(8) == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cell.png", "cell.svg"]  # no temps


def test_render_without_dot_writes_the_source_and_says_how_to_install(tmp_path,
                                                                      monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    outputs, _ = cell_step("gru")
    with pytest.raises(mg.viz.GraphvizNotFound) as caught:
        mg.viz.render(outputs, tmp_path / "gru.svg")
    message = str(caught.value)
    assert isinstance(caught.value, RuntimeError)
    assert "apt-get install graphviz" in message and "brew install graphviz" in message
    assert str(tmp_path / "gru.gv") in message
    assert (tmp_path / "gru.gv").read_text().startswith("digraph minigrad {")
    assert not (tmp_path / "gru.svg").exists()


def test_command_line(tmp_path, capsys):
    assert graph_main(["peephole", "-o", str(tmp_path / "p.gv"), "--hidden-size", "5"]) == 0
    source = (tmp_path / "p.gv").read_text()
    assert "weight_ci" in source and "20×5 float32" in source
    assert graph_main(["lstm", "-o", str(tmp_path / "s.gv"), "--steps", "6"]) == 0
    assert "× 5 more steps" in (tmp_path / "s.gv").read_text()


# ---------------------------------------------------------------- neutral engine defaults

def _gated_step():
    """A tiny computation in two scopes, with a leaf named like a recurrent state."""
    x = mg.randn(2, 3, requires_grad=True)
    h = mg.zeros(2, 3)
    x.name, h.name = "x", "h_prev"
    with mg.scope("mixer"):
        y = (x * h).tanh()
    with mg.scope("squash"):
        z = y.sigmoid().sum()
    return z, h


def cluster_colours(source):
    """{cluster label: fillcolor} of every cluster."""
    found = {}
    for block in source.split("subgraph ")[1:]:
        label = re.search(r"label=<<b>([^<]*)</b>>", block)
        fill = re.search(r'fillcolor="([^"]*)"', block)
        if label and fill:
            found.setdefault(label.group(1), fill.group(1))
    return found


def test_engine_knows_no_gate_names():
    text = open(mg.viz.__file__).read()
    found = re.findall(r"lstm|gate|forget|hidden|cell_state", text, re.I)
    assert not found, f"minigrad/viz.py mentions {sorted(set(found))}"


def test_scope_colours_come_from_the_caller():
    z, _ = _gated_step()
    plain = cluster_colours(mg.viz.graph(z).source)
    coloured = cluster_colours(mg.viz.graph(
        z, scope_colours={"mix": ("#123456", "#654321"), "squash": ("#abcdef", "#fedcba")}
    ).source)
    assert coloured == {"mixer": "#123456", "squash": "#abcdef"}, coloured
    assert plain["mixer"] != "#123456" and plain == cluster_colours(mg.viz.graph(z).source)
    with pytest.raises(ValueError, match="fill, border"):
        mg.viz.graph(z, scope_colours={"mixer": "#123456"})


def test_an_exact_scope_name_beats_a_part_of_one():
    z, _ = _gated_step()
    colours = cluster_colours(mg.viz.graph(
        z, scope_colours={"x": ("#111111", "#000000"), "mixer": ("#222222", "#000000")}
    ).source)
    assert colours["mixer"] == "#222222", colours


@pytest.mark.parametrize("rule", [r"_prev$", re.compile(r"^h"), {"h_prev"},
                                  lambda name: name.startswith("h")])
def test_state_names_as_regex_set_or_predicate(rule):
    z, _ = _gated_step()
    assert mg.viz.graph(z).source.count("shape=cylinder") == 1     # the default: _prev
    assert mg.viz.graph(z, state_names=rule).source.count("shape=cylinder") == 1
    assert mg.viz.graph(z, state_names=()).source.count("shape=cylinder") == 0


def test_names_label_tensors_over_their_own_names():
    z, h = _gated_step()
    source = mg.viz.graph(z, names={"previous": h}).source
    assert "<b>previous</b>" in source and "h<sub>prev</sub>" not in source
    with pytest.raises(TypeError, match="names"):
        mg.viz.graph(z, names={"previous": 3})


def test_parameters_keep_their_module_path():
    class Inner(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.weight = mg.nn.Parameter(mg.ones(2))

    class Outer(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.first = Inner()
            self.second = Inner()
            self.blocks = [Inner(), Inner()]
            self.mine = mg.nn.Parameter(mg.ones(2), name="W")

    model = Outer()
    paths = {name: param.path for name, param in model.named_parameters()}
    assert paths == {"first.weight": "first.weight", "second.weight": "second.weight",
                     "blocks.0.weight": "blocks.0.weight",
                     "blocks.1.weight": "blocks.1.weight", "mine": None}, paths
    model.second.weight = model.first.weight       # tying keeps the first path
    assert model.first.weight.path == "first.weight"
    loss = (model.first.weight * model.blocks[1].weight * model.mine).sum()
    source = mg.viz.graph(loss).source
    for label in ("first.weight", "blocks.1.weight", "<b>W</b>"):
        assert label in source, f"{label!r} missing"


# ---------------------------------------------------------------- loops and the size guard

def _scanned(steps, layers=1, x_grad=True):
    """``layers`` stacked scans of a small tanh recurrence, each in its own scope."""
    x = mg.randn(steps, 2, 3, requires_grad=x_grad)
    w = mg.randn(3, 3, requires_grad=True)
    x.name, w.name = "x", "w"
    for layer in range(layers):
        with mg.scope(f"layer{layer}"):
            history, _ = mg.scan(lambda x_t, s, w: (x_t + s @ w).tanh(), mg.zeros(2, 3),
                                 x, (w,))
        x = history
    return x.sum()


def test_initial_carry_is_a_state_labelled_by_position():
    loss = _scanned(4)
    plain = mg.viz.graph(loss).source
    assert "<b>init</b>" in plain and "<b>constant</b>" not in plain
    assert plain.count("shape=cylinder") == 1
    named = mg.viz.graph(loss, carry_names=("s0",)).source
    assert "<b>s0</b>" in named and "<b>init</b>" not in named
    # x without grad: each step reads its own constant slice, and none of them is a state
    constant_input = mg.viz.graph(_scanned(4, x_grad=False)).source
    assert constant_input.count("shape=cylinder") == 1, "a step's input taken for a state"
    assert constant_input.count("<b>constant</b>") == 4


def test_size_guard_folds_steps_and_says_how_to_unfold():
    loss = _scanned(120)
    with pytest.warns(mg.viz.GraphFolded, match="max_nodes=None"):
        source = mg.viz.graph(loss).source
    assert len(nodes_of(source)) <= mg.viz.MAX_NODES
    assert "× 119 more steps" in source
    assert "folded to" in source and "max_nodes=None" in source     # the note, in the picture
    unfolded = mg.viz.graph(loss, max_nodes=None).source
    assert len(nodes_of(unfolded)) > mg.viz.MAX_NODES and "folded to" not in unfolded
    small = mg.viz.graph(_scanned(3)).source           # under the limit: left alone
    assert "more steps" not in small and "folded to" not in small
    with pytest.raises(ValueError, match="max_nodes"):
        mg.viz.graph(loss, max_nodes=0)


def test_size_guard_folds_repeated_scopes_when_steps_are_not_enough():
    loss = _scanned(5, layers=4)
    full = len(nodes_of(mg.viz.graph(loss, max_nodes=None).source))
    with pytest.warns(mg.viz.GraphFolded, match="repeat an earlier sibling"):
        source = mg.viz.graph(loss, max_nodes=20).source
    assert len(nodes_of(source)) < full
    labels = cluster_labels(source)
    assert "layer0" in labels and "layer1" not in labels, labels
    assert source.count("shape=box3d") == 3 and "as layer0" in source


def test_a_loop_run_backwards_keeps_its_first_run_step():
    x = mg.randn(5, 2, 3)
    w = mg.randn(3, 3, requires_grad=True)
    history, _ = mg.scan(lambda x_t, s, w: (x_t + s @ w).tanh(), mg.zeros(2, 3), x, (w,),
                         reverse=True)
    source = mg.viz.graph(history.sum(), max_steps=1).source
    assert "t4" in cluster_labels(source) and "t0 … t3" in source


@pytest.mark.parametrize("argv, says", [
    (["lstm", "-o", "cell.jpg"], "got .jpg"),
    (["lstm", "-o", "cell"], "got none"),
    (["lstm", "-o", "cell.gv", "--hidden-size", "0"], "--hidden-size must be >= 1"),
    (["lstm", "-o", "cell.gv", "--steps", "0"], "--steps must be >= 1"),
])
def test_graph_cli_refuses_bad_usage_in_one_line(tmp_path, capsys, argv, says):
    argv = [argv[0], argv[1], str(tmp_path / argv[2]), *argv[3:]]
    with pytest.raises(SystemExit) as stop:
        graph_main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == 2 and says in err
    assert len(err.strip().splitlines()) == 1, err
    assert list(tmp_path.iterdir()) == []
