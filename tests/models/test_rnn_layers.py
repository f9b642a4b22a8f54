"""Sequence-layer behaviour: argument checks, gate recording, forget_bias, dropout,
long sequences, exact BPTT across calls, user cells, scopes and parameter names."""
import pathlib
import re

import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import Module, Parameter
from minigrad.nn.utils import rnn
from models import (GRU, LSTM, RNN, CoupledLSTM, CoupledLSTMCell, GRUCell, LayerNormLSTM,
                    LayerNormLSTMCell, LSTMCell, PeepholeLSTM, RecurrentCell, SequenceLayer,
                    record_gate, record_gates)
from models import cells as cells_module
from tests.test_viz import needs_graphviz

ROOT = pathlib.Path(__file__).resolve().parents[2]


def to_float64(module):
    for param in module.parameters():
        param.data = param.data.astype(np.float64)
    return module


# ---- argument checks

@pytest.mark.parametrize("shape, match", [
    ((5, 2, 4), r"input_size=3.*\(5, 2, 4\)"),
    ((5,), r"3-D.*\(5,\)"),            # (5, 3) is unbatched input now, as PyTorch's
    ((1, 5, 2, 3), r"3-D.*\(1, 5, 2, 3\)"),
])
def test_input_shape_errors(shape, match):
    with pytest.raises(ValueError, match=match):
        LSTM(3, 4)(mg.zeros(*shape))


def test_hx_errors():
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True)
    x = mg.zeros(5, 2, 3)
    good = mg.zeros(4, 2, 4)
    with pytest.raises(ValueError, match=r"hx\[1\].*\(4, 2, 4\).*\(2, 2, 4\)"):
        lstm(x, (good, mg.zeros(2, 2, 4)))
    with pytest.raises(ValueError, match=r"hx must be a tuple of 2"):
        lstm(x, good)
    with pytest.raises(ValueError, match=r"hx must be a tuple of 2"):
        lstm(x, (good,))
    gru = GRU(3, 4)
    with pytest.raises(ValueError, match=r"hx must have shape \(1, 2, 4\).*\(1, 3, 4\)"):
        gru(x, mg.zeros(1, 3, 4))
    with pytest.raises(ValueError, match=r"hx must be one tensor"):
        gru(x, (mg.zeros(1, 2, 4),))


@pytest.mark.parametrize("lengths, match", [
    ([5, 0], r"lengths.*\[1, 5\].*min 0"),
    ([6, 2], r"lengths.*\[1, 5\].*max 6"),
    ([5, 2, 1], r"lengths.*batch size 2.*\(3,\)"),
    ([[5, 2]], r"lengths.*batch size 2"),
    ([2.5, 1], r"lengths must be integers"),
])
def test_lengths_errors(lengths, match):
    with pytest.raises(ValueError, match=match):
        RNN(3, 4)(mg.zeros(5, 2, 3), lengths=lengths)


def test_constructor_and_cell_errors():
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(ValueError, match="dropout"):
        LSTM(3, 4, dropout=1.5)             # PyTorch accepts 1.0
    with pytest.raises(ValueError, match="num_layers"):
        GRU(3, 4, num_layers=0)
    with pytest.raises(ValueError, match="forget_bias"):
        LSTMCell(3, 4, bias=False, forget_bias=1.0)
    cell = LSTMCell(3, 4)
    with pytest.raises(ValueError, match=r"input_size=3.*\(2, 5\)"):
        cell(mg.zeros(2, 5))
    with pytest.raises(ValueError, match=r"\(2, 4\)"):
        cell(mg.zeros(2, 3), (mg.zeros(2, 4), mg.zeros(3, 4)))


# ---- parameters

def test_parameter_names_follow_pytorch():
    names = [n for n, _ in LSTM(3, 4, num_layers=2, bidirectional=True).named_parameters()]
    assert names[:8] == ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                         "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
                         "bias_hh_l0_reverse"]
    assert len(names) == 16 and names[-1] == "bias_hh_l1_reverse"
    peephole = dict(PeepholeLSTM(3, 4, num_layers=2).named_parameters())
    assert peephole["weight_ci_l1"].shape == (4,) and "weight_co_l0" in peephole
    assert dict(CoupledLSTM(3, 4).named_parameters())["weight_hh_l0"].shape == (12, 4)
    assert [n for n, _ in GRU(3, 4, bias=False).named_parameters()] == \
        ["weight_ih_l0", "weight_hh_l0"]
    assert "norm_c_gain_l0" in dict(LayerNormLSTM(3, 4).named_parameters())
    # the cells are in the module tree (train/eval reach them) but own no parameters
    assert all(not cell._parameters for cell in LSTM(3, 4).cells)


def test_initialisation_bound_and_forget_bias():
    hidden = 16
    bound = 1 / np.sqrt(hidden)
    for param in LSTM(3, hidden, num_layers=2).parameters():
        assert np.abs(param.numpy()).max() <= bound
    mg.manual_seed(5)
    plain = LSTM(3, hidden)
    mg.manual_seed(5)
    biased = LSTM(3, hidden, forget_bias=1.0)
    shift = biased.bias_ih_l0.numpy() - plain.bias_ih_l0.numpy()
    expected = np.zeros(4 * hidden)
    expected[hidden:2 * hidden] = 1.0                # gate order i, f, g, o
    np.testing.assert_allclose(shift, expected, atol=1e-6)
    np.testing.assert_array_equal(biased.bias_hh_l0.numpy(), plain.bias_hh_l0.numpy())
    mg.manual_seed(5)
    coupled = CoupledLSTMCell(3, hidden, forget_bias=2.0)
    mg.manual_seed(5)
    coupled_plain = CoupledLSTMCell(3, hidden)
    shift = coupled.bias_ih.numpy() - coupled_plain.bias_ih.numpy()
    assert np.allclose(shift[:hidden], 2.0) and np.allclose(shift[hidden:], 0.0)  # f, g, o
    norm = LayerNormLSTMCell(3, hidden, forget_bias=1.0)
    assert np.all(norm.bias_ih.numpy()[hidden:2 * hidden] == 1.0)


# ---- gate recording

def test_gate_recorder_shapes_keys_and_time_order():
    lstm = LSTM(3, 4, num_layers=2, bidirectional=True)
    x = mg.randn(6, 2, 3)
    with record_gates() as gates:
        output, (h_n, c_n) = lstm(x)
    gate_names = ["input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state",
                  "hidden_state"]
    prefixes = ["l0", "l0_reverse", "l1", "l1_reverse"]
    assert sorted(gates) == sorted(f"{p}/{g}" for p in prefixes for g in gate_names)
    for array in gates.values():
        assert isinstance(array, np.ndarray) and array.shape == (6, 2, 4)
    # time order in both directions: the recorded hidden states are the layer's outputs
    np.testing.assert_allclose(gates["l1/hidden_state"], output.numpy()[..., :4])
    np.testing.assert_allclose(gates["l1_reverse/hidden_state"], output.numpy()[..., 4:])
    np.testing.assert_allclose(gates["l1_reverse/cell_state"][0], c_n.numpy()[3])
    assert np.all((gates["l0/forget_gate"] > 0) & (gates["l0/forget_gate"] < 1))


def test_gate_recorder_other_cells_and_bare_calls():
    with record_gates() as gates:
        GRU(3, 4)(mg.randn(5, 2, 3))
        cell = CoupledLSTMCell(3, 4)
        state = None
        for _ in range(3):
            state = cell(mg.randn(2, 3), state)
    assert gates["l0/update_gate"].shape == (5, 2, 4)
    assert {"l0/reset_gate", "l0/candidate", "l0/hidden_state"} <= set(gates)
    assert gates["forget_gate"].shape == (3, 2, 4)
    np.testing.assert_allclose(gates["input_gate"], 1 - gates["forget_gate"])
    with record_gates() as gates:
        RNN(3, 4)(mg.randn(5, 2, 3))
    assert list(gates) == ["l0/hidden_state"]


@pytest.mark.parametrize("kind", [LSTM, GRU, RNN])
def test_gates_are_recorded_from_the_fused_scan(kind):
    # recording taps the generated code: the layer still runs one scan per direction,
    # and every gate equals what the loop op by op records
    layer = kind(3, 4, bidirectional=True)
    x = mg.randn(5, 2, 3)
    with record_gates() as fused:
        output = layer(x)[0]
    assert output.node.inputs[0].node.op == "scan"          # concat of the two directions
    with mg.unfused(), record_gates() as plain:
        layer(x)
    assert sorted(fused) == sorted(plain)
    for key in plain:
        np.testing.assert_array_equal(fused[key], plain[key], err_msg=key)


def test_record_gate_without_recorder_does_nothing():
    record_gate("forget_gate", mg.ones(2, 3))     # no recorder: no error, nothing kept
    with record_gates() as gates:
        pass
    assert dict(gates) == {}


# ---- dropout

def test_dropout_between_layers_only_in_training():
    lstm = LSTM(3, 8, num_layers=3, dropout=0.5)
    x = mg.randn(5, 4, 3)
    first, _ = lstm(x)
    second, _ = lstm(x)
    assert not np.allclose(first.numpy(), second.numpy())   # train mode: random masks
    # never after the last layer: no output element is zeroed
    assert np.count_nonzero(first.numpy() == 0) == 0
    lstm.eval()
    assert not lstm.training
    a, _ = lstm(x)
    b, _ = lstm(x)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.warns(UserWarning, match="num_layers=1"):   # as PyTorch warns
        single = LSTM(3, 8, dropout=0.5)            # one layer: nothing to drop between
    train_out, _ = single(x)
    eval_out, _ = single.eval()(x)
    np.testing.assert_array_equal(train_out.numpy(), eval_out.numpy())


# ---- long sequences and exact BPTT

def test_bptt_over_ten_thousand_steps():
    lstm = LSTM(4, 32)
    x = mg.randn(10_000, 4, 4, requires_grad=True)
    output, (h_n, c_n) = lstm(x)
    loss = output.mean() + (h_n * h_n).sum()
    loss.backward()
    for name, param in lstm.named_parameters():
        assert param.grad is not None and np.all(np.isfinite(param.grad.numpy())), name
    grad = x.grad.numpy()
    assert np.all(np.isfinite(grad)) and np.abs(grad[0]).sum() > 0


@pytest.mark.parametrize("make", [lambda: LSTM(3, 5, num_layers=2),
                                  lambda: GRU(3, 5, batch_first=True),
                                  lambda: PeepholeLSTM(3, 5)],
                         ids=["lstm_2layers", "gru_batch_first", "peephole"])
def test_two_halves_with_carried_state_equal_one_pass(make):
    layer = to_float64(make())
    rng = np.random.default_rng(0)
    steps = 40
    batch_first = layer.batch_first
    shape = (2, steps, 3) if batch_first else (steps, 2, 3)
    x = rng.standard_normal(shape)
    out_weights = rng.standard_normal(shape[:2] + (5,))
    final_weight = rng.standard_normal((layer.num_layers, 2, 5))

    def loss_of(outputs, final):
        h_n = final[0] if isinstance(final, tuple) else final
        return (outputs * out_weights).sum() + (h_n * final_weight).sum()

    x_one = mg.tensor(x, requires_grad=True)
    loss_of(*layer(x_one)).backward()
    one_pass = {n: p.grad.numpy().copy() for n, p in layer.named_parameters()}
    layer.zero_grad()

    x_two = mg.tensor(x, requires_grad=True)
    half = steps // 2
    cut = (slice(None), slice(None, half)) if batch_first else (slice(None, half),)
    rest = (slice(None), slice(half, None)) if batch_first else (slice(half, None),)
    first, state = layer(x_two[cut])
    second, final = layer(x_two[rest], state)            # carried, not detached
    outputs = mg.concat([first, second], axis=1 if batch_first else 0)
    loss_of(outputs, final).backward()
    for name, param in layer.named_parameters():
        np.testing.assert_allclose(param.grad.numpy(), one_pass[name], rtol=1e-10,
                                   atol=1e-12, err_msg=name)
    np.testing.assert_allclose(x_two.grad.numpy(), x_one.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_detached_state_stops_the_gradient():
    lstm = LSTM(3, 4)
    first, state = lstm(mg.randn(5, 2, 3))
    state = tuple(s.detach() for s in state)
    x = mg.randn(5, 2, 3, requires_grad=True)
    second, _ = lstm(x, state)
    second.sum().backward()
    assert x.grad is not None and not state[0].requires_grad


# ---- lengths beyond PyTorch parity: a short sequence equals running it alone

def test_lengths_equal_running_each_sequence_alone():
    gru = to_float64(GRU(3, 4, num_layers=2, bidirectional=True))
    x = np.random.default_rng(0).standard_normal((7, 3, 3))
    lengths = [4, 7, 1]
    output, h_n = gru(mg.tensor(x), lengths=lengths)
    for b, length in enumerate(lengths):
        alone, alone_h = gru(mg.tensor(x[:length, b:b + 1]))
        np.testing.assert_allclose(output.numpy()[:length, b], alone.numpy()[:, 0], atol=1e-12)
        assert np.all(output.numpy()[length:, b] == 0)
        np.testing.assert_allclose(h_n.numpy()[:, b], alone_h.numpy()[:, 0], atol=1e-12)


# ---- user cells

class ElmanWithoutProjection(Module):
    """A cell with only forward(x_t, state): the layer must call it step by step."""

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.hidden_size = hidden_size
        self.weight_ih = Parameter(mg.randn(hidden_size, input_size) * 0.3)
        self.weight_hh = Parameter(mg.randn(hidden_size, hidden_size) * 0.3)

    def initial_state(self, batch_size, like):
        return mg.zeros(batch_size, self.hidden_size, dtype=like.dtype)

    def output(self, state):
        return state

    def forward(self, x, h):
        return mg.tanh(x @ self.weight_ih.T + h @ self.weight_hh.T)


def test_user_cell_without_input_projection_matches_rnn():
    custom = SequenceLayer(ElmanWithoutProjection, 3, 4, num_layers=2, bidirectional=True)
    assert [n for n, _ in custom.named_parameters()][:3] == \
        ["weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse"]
    rnn = RNN(3, 4, num_layers=2, bidirectional=True, bias=False)
    rnn.load_state_dict(custom.state_dict())
    x = mg.randn(6, 2, 3)
    lengths = [3, 6]
    np.testing.assert_allclose(custom(x, lengths=lengths)[0].numpy(),
                               rnn(x, lengths=lengths)[0].numpy(), rtol=1e-5, atol=1e-6)


def test_layernorm_lstm_is_the_generic_layer_over_its_cell():
    layer = LayerNormLSTM(3, 4, bidirectional=True)
    generic = SequenceLayer(LayerNormLSTMCell, 3, 4, bidirectional=True)
    generic.load_state_dict(layer.state_dict())
    x = mg.randn(5, 2, 3)
    np.testing.assert_array_equal(layer(x)[0].numpy(), generic(x)[0].numpy())
    # the hidden output's layer norm: with unit gains each h is bounded by |tanh|
    output, (h_n, c_n) = layer(x)
    assert output.shape == (5, 2, 8) and c_n.shape == (2, 2, 4)


# ---- scopes for the graph renderer

def _scopes(*outputs):
    # fused cell updates are one node on the tape; unfold shows the ops they stand for
    outputs, _ = mg.fusion.unfold(outputs)
    seen, scopes = set(), set()
    work = [t.node for t in outputs if t.node is not None]
    while work:
        node = work.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        scopes.add(node.scope)
        work.extend(t.node for t in node.inputs
                    if isinstance(t, mg.Tensor) and t.node is not None)
    return scopes


def test_gates_are_recorded_in_named_scopes():
    h, c = LSTMCell(3, 4)(mg.randn(2, 3))
    assert {"input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state",
            "hidden_state"} <= _scopes(h, c)
    h = GRUCell(3, 4)(mg.randn(2, 3))
    assert {"reset_gate", "update_gate", "candidate", "hidden_state"} <= _scopes(h)
    output, _ = LSTM(3, 4, bidirectional=True)(mg.randn(3, 2, 3))
    scopes = _scopes(output)
    assert "l0/t2/forget_gate" in scopes and "l0_reverse/t0/output_gate" in scopes


# ---- docs/cells.md: its examples run, and the how-to's cell is the shipped one

def test_docs_cells_examples_run_and_match_shipped_cell():
    # each block runs on its own, in a fresh namespace: a reader can copy any one
    text = (ROOT / "docs" / "cells.md").read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert len(blocks) >= 5
    namespaces = []
    for number, block in enumerate(blocks, 1):
        namespace = {"__name__": f"docs_cells_{number}"}
        exec(compile(block, f"docs/cells.md[block {number}]", "exec"), namespace)
        namespaces.append(namespace)
    mine = next(n for n in namespaces if "MyLayerNormLSTMCell" in n)["MyLayerNormLSTMCell"](3, 4)
    shipped = LayerNormLSTMCell(3, 4)
    shipped.load_state_dict(mine.state_dict())
    x = mg.randn(2, 3)
    for a, b in zip(mine(x), shipped(x)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)
    # the minimal gated unit both ways: the same numbers from the same weights
    slow = next(n for n in namespaces if "MinimalGatedCell" in n)["MinimalGatedCell"]
    fast = next(n for n in namespaces if "FastMinimalGatedCell" in n)["FastMinimalGatedCell"]
    slow_layer = SequenceLayer(slow, 3, 4, bidirectional=True)
    fast_layer = SequenceLayer(fast, 3, 4, bidirectional=True)
    fast_layer.load_state_dict(slow_layer.state_dict())
    x = mg.randn(6, 2, 3)
    for a, b in zip(slow_layer(x, lengths=[6, 2]), fast_layer(x, lengths=[6, 2])):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)


# ---- device backends: nothing in models/ leaks to the host

@pytest.mark.parametrize("make", [lambda: LSTM(3, 4, num_layers=2, bidirectional=True,
                                               dropout=0.3, forget_bias=1.0),
                                  lambda: GRU(3, 4, reset_after=False, batch_first=True),
                                  lambda: LayerNormLSTM(3, 4)],
                         ids=["lstm", "gru", "layernorm_lstm"])
def test_layers_run_on_the_device_standin(make):
    host_layer = make()
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    lengths = [2, 1, 2, 2, 1] if host_layer.batch_first else [5, 2]
    expected, _ = host_layer.eval()(mg.tensor(x), lengths=lengths)
    with mg.use_backend("standin"):
        layer = make()
        layer.load_state_dict(host_layer.state_dict())
        x_device = mg.tensor(x, requires_grad=True)
        with record_gates() as gates:
            output, _ = layer.eval()(x_device, lengths=lengths)
        assert output.backend == "standin"
        np.testing.assert_allclose(output.numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)
        layer.train()
        output, _ = layer(x_device, lengths=lengths)
        output.sum().backward()
        assert x_device.grad.backend == "standin"
    assert all(a.shape[:2] == (x.shape[1], x.shape[0]) if host_layer.batch_first
               else a.shape[:2] == x.shape[:2] for a in gates.values())


def test_cells_take_their_state_by_api_name():
    x = mg.randn(2, 3)
    h = mg.randn(2, 4)
    assert GRUCell(3, 4)(x, h=h).shape == (2, 4)
    assert LSTMCell(3, 4)(x, state=(h, h))[1].shape == (2, 4)
    from models import RNNCell
    assert RNNCell(3, 4, nonlinearity="relu")(x, h=h).shape == (2, 4)


# ---- scanned layers (mg.scan of fused steps): the same numbers as op by op

EVERY_LAYER_KIND = pytest.mark.parametrize("layer_class, options", [
    (LSTM, {}), (PeepholeLSTM, {}), (CoupledLSTM, {}), (GRU, {}),
    (GRU, {"reset_after": False}), (LayerNormLSTM, {}), (RNN, {}),
    (RNN, {"nonlinearity": "relu"}),
], ids=["lstm", "peephole", "coupled", "gru", "gru-reset-before", "layernorm", "rnn",
        "rnn-relu"])


def count_ops(tensor, op):
    count, work, seen = 0, [tensor.node], set()
    while work:
        node = work.pop()
        if node is None or node.id in seen:
            continue
        seen.add(node.id)
        count += node.op == op
        work += [t.node for t in node.inputs if isinstance(t, mg.Tensor)]
    return count


@EVERY_LAYER_KIND
@pytest.mark.parametrize("lengths", [None, [6, 3, 1]], ids=["full", "packed"])
def test_scanned_layers_equal_op_by_op(layer_class, options, lengths):
    # each layer and direction is one mg.scan; op by op, the loop of every op recorded
    layer = to_float64(layer_class(3, 4, num_layers=2, bidirectional=True, **options))
    x = mg.tensor(np.random.default_rng(0).standard_normal((6, 3, 3)), requires_grad=True)
    tensors = list(layer.parameters()) + [x]

    def run():
        for p in tensors:
            p.grad = None
        output, final = layer(x, lengths=lengths)
        finals = final if isinstance(final, tuple) else (final,)
        scans = count_ops(output, "scan")
        (output * output).sum().backward(retain_graph=True)
        sum((f * f).sum() for f in finals).backward()
        return scans, [output.numpy()] + [f.numpy() for f in finals], \
            [p.grad.numpy() for p in tensors]

    scans, values, grads = run()
    with mg.unfused():
        no_scans, expected_values, expected_grads = run()
    assert (scans, no_scans) == (4, 0)
    for a, b in zip(values, expected_values):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(grads, expected_grads):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)


# ---- the custom-cell contract (docs/cells.md)

class ForwardOnlyLSTM(RecurrentCell):
    """A RecurrentCell with only forward, a two-part state, names of its own and a
    sub-module: every layer feature must still work."""
    state_count = 2

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size)
        self.reader = mg.nn.Linear(input_size, 4 * hidden_size, bias=bias)
        self.recurrent_kernel = self._parameter(4 * hidden_size, hidden_size)

    def forward(self, x, state):
        h, c = state
        i, f, g, o = (self.reader(x) + h @ self.recurrent_kernel.T).chunk(4, axis=1)
        f = mg.sigmoid(f)
        record_gate("forget_gate", f)
        c = f * c + mg.sigmoid(i) * mg.tanh(g)
        return mg.sigmoid(o) * mg.tanh(c), c


def test_forward_only_cell_gets_every_layer_feature():
    layer = to_float64(SequenceLayer(ForwardOnlyLSTM, 3, 4, num_layers=2, bidirectional=True))
    names = [n for n, _ in layer.named_parameters()]
    # a module's own parameters first, then its sub-modules' (PyTorch's order)
    assert names[:3] == ["recurrent_kernel_l0", "reader_weight_l0", "reader_bias_l0"]
    lstm = to_float64(LSTM(3, 4, num_layers=2, bidirectional=True))
    # the same weights under PyTorch's names: reader = weight_ih and both biases in one
    state = {}
    for suffix in ("_l0", "_l0_reverse", "_l1", "_l1_reverse"):
        state["weight_ih" + suffix] = layer.state_dict()["reader_weight" + suffix]
        state["weight_hh" + suffix] = layer.state_dict()["recurrent_kernel" + suffix]
        state["bias_ih" + suffix] = layer.state_dict()["reader_bias" + suffix]
        state["bias_hh" + suffix] = np.zeros(16)
    lstm.load_state_dict(state)
    x = mg.tensor(np.random.default_rng(0).standard_normal((6, 3, 3)))
    lengths = [6, 2, 4]
    with record_gates() as gates:
        ours, (h_n, c_n) = layer(x, lengths=lengths)
    theirs, (h_ref, c_ref) = lstm(x, lengths=lengths)
    for a, b in ((ours, theirs), (h_n, h_ref), (c_n, c_ref)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
    assert gates["l1_reverse/forget_gate"].shape == (6, 3, 4)
    packed = rnn.pack_padded_sequence(x, lengths, enforce_sorted=False)
    packed_out, (packed_h, _) = layer(packed)
    np.testing.assert_allclose(packed_h.numpy(), h_ref.numpy(), rtol=1e-10, atol=1e-12)
    alone, _ = layer(x[:, 0])                                 # unbatched
    np.testing.assert_allclose(alone.numpy(), theirs.numpy()[:, 0], rtol=1e-10, atol=1e-12)
    # assigning through the layer reaches the cell's sub-module
    layer.reader_bias_l0 = Parameter(mg.tensor(np.full(16, 5.0)))
    assert layer.cells[0].reader.bias is layer.reader_bias_l0
    changed, _ = layer(x, lengths=lengths)
    assert not np.allclose(changed.numpy(), ours.numpy())


def test_which_description_of_the_step_a_layer_runs():
    class Counting(LSTMCell):             # forward overridden below the step_function
        calls = 0

        def forward(self, x, state):
            Counting.calls += 1
            return super().forward(x, state)

    layer = SequenceLayer(Counting, 3, 4)
    layer(mg.randn(5, 2, 3))
    assert Counting.calls == 5            # the user's forward ran, step by step
    assert cells_module.scan_plan(LSTMCell(3, 4), None).fuse       # built-ins: fused
    assert not cells_module.scan_plan(ForwardOnlyLSTM(3, 4), None).fuse

    class NoStep(RecurrentCell):
        def __init__(self, input_size, hidden_size, bias=True):
            super().__init__(input_size, hidden_size)
    with pytest.raises(NotImplementedError, match="defines none of forward"):
        SequenceLayer(NoStep, 3, 4)(mg.randn(5, 2, 3))


def test_bias_is_passed_to_the_cell():
    layer = SequenceLayer(ForwardOnlyLSTM, 3, 4, bias=False)
    assert [n for n, _ in layer.named_parameters()] == ["recurrent_kernel_l0",
                                                        "reader_weight_l0"]


@needs_graphviz
def test_graph_draws_any_cell_named_module_class(tmp_path, monkeypatch):
    from models.graph import main as graph_main
    (tmp_path / "my_cells.py").write_text(
        "import minigrad as mg\n"
        "from models import RecurrentCell\n"
        "class Tiny(RecurrentCell):\n"
        "    def __init__(self, input_size, hidden_size, bias=True):\n"
        "        super().__init__(input_size, hidden_size)\n"
        "        self.kernel = self._parameter(hidden_size, input_size + hidden_size)\n"
        "    def forward(self, x, h):\n"
        "        return mg.tanh(mg.concat([x, h], axis=1) @ self.kernel.T)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for extra in ([], ["--steps", "3"]):
        out = tmp_path / f"tiny{len(extra)}.gv"
        assert graph_main(["my_cells:Tiny", "-o", str(out), *extra]) == 0
        source = out.read_text()        # (h_prev meets x_t in a concat, unrecorded)
        assert "kernel" in source              # the cell's own parameter, drawn
    with pytest.raises(SystemExit):
        graph_main(["no_such_module:Cell", "-o", str(tmp_path / "x.gv")])

@pytest.mark.parametrize("state, error, match", [
    ((1, 2), TypeError, r"LSTMCell: state\[0\] must be a Tensor, got int"),
    (5, TypeError, r"LSTMCell: state must be a tuple of 2 Tensors \(h, c\), got int"),
    ("hc", TypeError, r"state must be a tuple of 2 Tensors \(h, c\), got str"),
    (lambda: (mg.zeros(2, 4),), ValueError, r"state must be a tuple of 2 Tensors of shape"),
    (lambda: (mg.zeros(2, 4), mg.zeros(3, 4)), ValueError, r"\(2, 4\)"),
])
def test_cells_name_a_bad_state_argument(state, error, match):
    cell = LSTMCell(3, 4)
    state = state() if callable(state) else state
    with pytest.raises(error, match=match):
        cell(mg.zeros(2, 3), state)


def test_cells_name_a_bad_input_argument():
    with pytest.raises(TypeError, match="GRUCell: input must be a Tensor, got list"):
        GRUCell(3, 4)([[1.0, 2.0, 3.0]])
    with pytest.raises(TypeError, match=r"GRUCell: state must be a Tensor, got tuple"):
        GRUCell(3, 4)(mg.zeros(2, 3), (mg.zeros(2, 4),))
