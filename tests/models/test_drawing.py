"""models.drawing: the LSTM family's gate colours, state names and h0/c0, and whole
models drawn with default options (issue 17: a 2-layer bidirectional classifier)."""
import collections
import re
import warnings

import pytest

import minigrad as mg
from benchmarks.graph_size import PARAMETER_LABEL, classifier_loss
from models import LSTM, GRU
from models import drawing
from models.graph import cell_graph
from tests.test_viz import cluster_colours, needs_graphviz, nodes_of

pytestmark = needs_graphviz


def test_cell_figures_keep_their_gate_colours():
    colours = cluster_colours(cell_graph("lstm").source)
    expected = {"forget gate": "#fdecea", "input gate": "#e8f5e9", "cell candidate": "#fff8e1",
                "output gate": "#e3f2fd", "cell state": "#f3e5f5", "hidden state": "#e0f7fa"}
    wrong = {k: (colours.get(k), v) for k, v in expected.items() if colours.get(k) != v}
    assert not wrong, f"(drawn, expected) colours: {wrong}"
    gru = cluster_colours(cell_graph("gru").source)
    assert gru["reset gate"] == "#fdecea" and gru["update gate"] == "#e8f5e9", gru


def test_engine_defaults_do_not_colour_gates():
    outputs, _ = __import__("models.graph", fromlist=["cell_step"]).cell_step("lstm")
    colours = cluster_colours(mg.viz.graph(*outputs).source)
    assert colours["forget gate"] != "#fdecea", "the engine coloured a gate by its name"


def test_module_docstring_example():
    lstm = LSTM(3, 4)
    output, _ = lstm(mg.randn(5, 2, 3))
    source = drawing.graph(output, model=lstm).source
    assert "h0" in source and "weight_ih_l0" in source


@pytest.mark.parametrize("layer, wanted", [(LSTM, ["h0", "c0"]), (GRU, ["h0"])])
def test_initial_states_are_named_h0_c0(layer, wanted):
    model = layer(3, 4, num_layers=2)
    x = mg.randn(5, 2, 3)
    x.name = "x"
    output, _ = model(x)
    source = drawing.graph(output).source
    for name in wanted:
        assert source.count(f"<b>{name}</b>") == 2, f"{name}: one per layer, in {layer.__name__}"
    assert "<b>constant</b>" not in source
    assert source.count("shape=cylinder") == 2 * len(wanted)
    plain = mg.viz.graph(output).source       # the engine alone: states, by position
    assert "<b>init[0]</b>" in plain if len(wanted) == 2 else "<b>init</b>" in plain


# ---------------------------------------------------------------- the whole classifier

def test_classifier_default_graph_is_folded_and_small():
    _, loss = classifier_loss(steps=40)
    with pytest.warns(mg.viz.GraphFolded, match="max_nodes=None"):
        source = mg.viz.graph(loss).source
    nodes = len(nodes_of(source))
    assert nodes <= 400, f"{nodes} nodes with default options"
    assert source.count("× 39 more steps") == 4          # one per layer and direction
    assert "folded to" in source and "max_nodes=None" in source
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        unfolded = len(nodes_of(mg.viz.graph(loss, max_nodes=None).source))
    assert unfolded > 1500, f"max_nodes=None drew only {unfolded} nodes"


def test_classifier_parameters_are_labelled_by_module_path():
    model, loss = classifier_loss(steps=3)
    for source in (mg.viz.graph(loss).source, mg.viz.graph(loss, names=model).source):
        labels = collections.Counter(PARAMETER_LABEL.findall(source))
        repeated = {k: n for k, n in labels.items() if n > 1}
        assert not repeated, f"parameter labels drawn more than once: {repeated}"
        assert set(labels) == {name for name, _ in model.named_parameters()}, labels
    assert "encoder.weight_ih_l0" in source and "encoder.weight_ih_l1_reverse" in source
    assert re.search(r"<b>(?:embedding|head)\.weight</b>", source)


def test_classifier_initial_states_are_not_constants():
    _, loss = classifier_loss(steps=3)
    source = drawing.graph(loss).source
    assert source.count("<b>h0</b>") == 4 and source.count("<b>c0</b>") == 4
    assert "<b>constant</b>" not in source   # cross_entropy, nothing ignored: a plain mean
