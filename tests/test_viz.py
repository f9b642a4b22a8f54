"""mg.viz: the DOT text of cell graphs, options, and rendering to files.

Everything but the render tests reads ``Digraph.source`` and needs no Graphviz program.
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
    everything = mg.viz.graph(*outputs).source
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
