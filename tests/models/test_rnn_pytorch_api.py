"""The recurrent layers as a PyTorch user writes them, against PyTorch: parameters the
layer owns (assignment, tying, state dicts, optimizers), packed sequences, projections,
unbatched input; and the argument checks PyTorch makes (float64 throughout)."""
import numpy as np
import pytest

import minigrad as mg
from minigrad.nn import Parameter
from minigrad.nn.utils import rnn
from models import (GRU, LSTM, RNN, CoupledLSTM, GRUCell, LayerNormLSTM, LSTMCell,
                    PeepholeLSTM, RNNCell)

torch = pytest.importorskip("torch")
trnn = torch.nn.utils.rnn

I, H, T, B = 3, 4, 5, 3


def to_float64(module):
    for param in module.parameters():
        param.data = param.data.astype(np.float64)
    return module


def pair(ours_cls, torch_cls, *args, **kwargs):
    """The same layer twice, PyTorch's weights loaded into ours."""
    torch.manual_seed(0)
    theirs = torch_cls(*args, **kwargs).double()
    ours = to_float64(ours_cls(*args, **kwargs))
    ours.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def close(ours, theirs, what):
    ours = ours.numpy() if isinstance(ours, mg.Tensor) else np.asarray(ours)
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else np.asarray(theirs)
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11, err_msg=what)


def flat(state):
    return list(state) if isinstance(state, tuple) else [state]


def compare(ours, theirs, run_ours, run_theirs, inputs):
    """Run both on the same arrays (``inputs``: name -> array), weigh every result
    with random weights, backpropagate; compare results and every gradient."""
    ours_in = {k: mg.tensor(v, requires_grad=True) for k, v in inputs.items()}
    theirs_in = {k: torch.tensor(v, requires_grad=True) for k, v in inputs.items()}
    results_m, results_t = run_ours(**ours_in), run_theirs(**theirs_in)
    rng = np.random.default_rng(7)
    loss_m = loss_t = 0
    for k, (a, b) in enumerate(zip(results_m, results_t)):
        close(a, b, f"result {k}")
        w = rng.standard_normal(a.shape)
        loss_m = loss_m + (a * w).sum()
        loss_t = loss_t + (b * torch.tensor(w)).sum()
    loss_m.backward()
    loss_t.backward()
    for name in inputs:
        close(ours_in[name].grad, theirs_in[name].grad, f"gradient of {name}")
    theirs_params = dict(theirs.named_parameters())
    ours_params = dict(ours.named_parameters())
    assert list(ours_params) == list(theirs_params)
    for name, param in ours_params.items():
        close(param.grad, theirs_params[name].grad, f"gradient of {name}")


# ---- the layer owns its parameters

def test_assigning_a_parameter_reaches_what_computes():
    ours, theirs = pair(GRU, torch.nn.GRU, I, H, num_layers=2)
    zeros = np.zeros((3 * H, H))
    ours.weight_hh_l1 = Parameter(mg.tensor(zeros))
    theirs.weight_hh_l1 = torch.nn.Parameter(torch.tensor(zeros))
    x = np.random.default_rng(0).standard_normal((T, B, I))
    compare(ours, theirs, lambda x: (lambda o, h: [o, h])(*ours(x)),
            lambda x: (lambda o, h: [o, h])(*theirs(x)), {"x": x})
    assert ours.weight_hh_l1.grad is not None


def test_tied_parameters_as_pytorch():
    ours, theirs = pair(LSTM, torch.nn.LSTM, I, H, bidirectional=True)
    ours.bias_ih_l0_reverse = ours.bias_ih_l0
    theirs.bias_ih_l0_reverse = theirs.bias_ih_l0
    assert len(ours.parameters()) == len(list(theirs.parameters())) == 7
    assert list(ours.state_dict()) == list(theirs.state_dict()) and len(ours.state_dict()) == 8
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    x = np.random.default_rng(1).standard_normal((T, B, I))
    compare(ours, theirs, lambda x: (lambda o, s: [o, *s])(*ours(x)),
            lambda x: (lambda o, s: [o, *s])(*theirs(x)), {"x": x})
    # a tied PyTorch state dict (8 keys) loads into a tied layer
    fresh = to_float64(LSTM(I, H, bidirectional=True))
    fresh.bias_ih_l0_reverse = fresh.bias_ih_l0
    fresh.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    np.testing.assert_array_equal(fresh.bias_ih_l0_reverse.numpy(),
                                  theirs.bias_ih_l0.detach().numpy())


def test_optimizer_and_to_act_on_what_computes():
    lstm = LSTM(I, H)
    lstm.weight_ih_l0 = Parameter(mg.zeros(4 * H, I))
    optimizer = mg.optim.SGD(lstm.parameters(), lr=0.5)
    x = mg.randn(T, B, I)
    before = lstm(x)[0].numpy()
    lstm(x)[0].sum().backward()
    optimizer.step()
    assert np.abs(lstm.weight_ih_l0.numpy()).sum() > 0     # the new parameter was trained
    assert not np.allclose(lstm(x)[0].numpy(), before)


def test_all_weights_and_flatten_parameters_as_pytorch():
    ours, theirs = pair(LSTM, torch.nn.LSTM, I, H, num_layers=2, bidirectional=True,
                        proj_size=2)
    ours.flatten_parameters()                       # a no-op, as PyTorch code calls it
    assert [[p.shape for p in w] for w in ours.all_weights] == \
        [[tuple(p.shape) for p in w] for w in theirs.all_weights]
    assert ours.all_weights[3][-1] is ours.weight_hr_l1_reverse


def test_train_and_eval_reach_the_cells():
    lstm = LSTM(I, H, num_layers=2)
    assert all(cell.training for cell in lstm.cells)
    lstm.eval()
    assert not any(cell.training for cell in lstm.cells)


# ---- packed sequences: the helpers

LENGTHS = [3, 5, 1, 5]        # ties, unsorted


@pytest.mark.parametrize("batch_first", [False, True], ids=["time_first", "batch_first"])
def test_pack_and_pad_as_pytorch(batch_first):
    x = np.random.default_rng(2).standard_normal((4, 5, 2) if batch_first else (5, 4, 2))

    def ours_run(x):
        packed = rnn.pack_padded_sequence(x, LENGTHS, batch_first=batch_first,
                                          enforce_sorted=False)
        padded, lengths = rnn.pad_packed_sequence(packed, batch_first=batch_first,
                                                  padding_value=-2.0, total_length=7)
        assert lengths.tolist() == LENGTHS
        assert packed.batch_sizes.tolist() == [4, 3, 3, 2, 2]
        return [packed.data, padded]

    def theirs_run(x):
        packed = trnn.pack_padded_sequence(x, torch.tensor(LENGTHS), batch_first=batch_first,
                                           enforce_sorted=False)
        padded, _ = trnn.pad_packed_sequence(packed, batch_first=batch_first,
                                             padding_value=-2.0, total_length=7)
        return [packed.data, padded]

    ours_in, theirs_in = mg.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    a, b = ours_run(ours_in), theirs_run(theirs_in)
    for k, (p, q) in enumerate(zip(a, b)):
        close(p, q, f"result {k}")
    (a[0].sum() + (a[1] * a[1]).sum()).backward()
    (b[0].sum() + (b[1] * b[1]).sum()).backward()
    close(ours_in.grad, theirs_in.grad, "gradient")
    packed_t = trnn.pack_padded_sequence(torch.tensor(x), torch.tensor(LENGTHS),
                                         batch_first=batch_first, enforce_sorted=False)
    packed_m = rnn.pack_padded_sequence(mg.tensor(x), LENGTHS, batch_first=batch_first,
                                        enforce_sorted=False)
    assert packed_m.sorted_indices.tolist() == packed_t.sorted_indices.tolist()
    assert packed_m.unsorted_indices.tolist() == packed_t.unsorted_indices.tolist()


def test_sequence_lists_as_pytorch():
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]
    ours = [mg.tensor(a) for a in arrays]
    theirs = [torch.tensor(a) for a in arrays]
    for batch_first in (False, True):
        for side in ("right", "left"):
            close(rnn.pad_sequence(ours, batch_first, 9.0, side),
                  trnn.pad_sequence(theirs, batch_first, 9.0, side), f"pad {side}")
    packed_m = rnn.pack_sequence(ours, enforce_sorted=False)
    packed_t = trnn.pack_sequence(theirs, enforce_sorted=False)
    close(packed_m.data, packed_t.data, "pack_sequence")
    for a, b in zip(rnn.unpack_sequence(packed_m), trnn.unpack_sequence(packed_t)):
        close(a, b, "unpack_sequence")
    padded = rnn.pad_sequence(ours, batch_first=True)
    for a, b in zip(rnn.unpad_sequence(padded, [2, 4, 1], batch_first=True), arrays):
        close(a, b, "unpad_sequence")
    empty = [mg.zeros(0, 2, dtype=mg.float64), ours[0]]        # PyTorch pads empty ones
    close(rnn.pad_sequence(empty), trnn.pad_sequence([torch.zeros(0, 2, dtype=torch.float64),
                                                      theirs[0]]), "pad with an empty one")
    assert packed_m.float().data.dtype == np.float32 and packed_m.cpu().data.backend == "numpy"
    assert packed_m.to("float32").double().data.dtype == np.float64
    sorted_ = rnn.pack_sequence([ours[1], ours[0], ours[2]])      # enforce_sorted
    assert sorted_.sorted_indices is None and sorted_.batch_sizes.tolist() == [3, 2, 1, 1]


def test_packing_errors():
    x = mg.zeros(5, 3, 2)
    with pytest.raises(RuntimeError, match="enforce_sorted"):
        rnn.pack_padded_sequence(x, [2, 5, 1])
    with pytest.raises(ValueError, match=r"lengths must lie in \[1, 5\]"):
        rnn.pack_padded_sequence(x, [6, 5, 1])
    with pytest.raises(ValueError, match="total_length=2"):
        rnn.pad_packed_sequence(rnn.pack_padded_sequence(x, [5, 2, 1]), total_length=2)


# ---- packed sequences through every layer

@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("enforce_sorted", [False, True], ids=["unsorted", "sorted"])
def test_layers_take_and_return_packed_sequences(kind, enforce_sorted):
    classes = {"lstm": (LSTM, torch.nn.LSTM), "gru": (GRU, torch.nn.GRU),
               "rnn": (RNN, torch.nn.RNN)}[kind]
    ours, theirs = pair(*classes, I, H, num_layers=2, bidirectional=True)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    rng = np.random.default_rng(4)
    x = rng.standard_normal((T, 4, I))
    parts = 2 if kind == "lstm" else 1
    hx = {f"h{k}": rng.standard_normal((4, 4, H)) for k in range(parts)}

    def run(layer, pack, x, **hx):
        state = tuple(hx[f"h{k}"] for k in range(parts))
        packed = pack(x, lengths)
        output, final = layer(packed, state if parts == 2 else state[0])
        assert type(output).__name__ == "PackedSequence"
        return [output.data, *flat(final)]

    compare(ours, theirs,
            lambda **a: run(ours, lambda x, n: rnn.pack_padded_sequence(
                x, n, enforce_sorted=enforce_sorted), **a),
            lambda **a: run(theirs, lambda x, n: trnn.pack_padded_sequence(
                x, torch.tensor(n), enforce_sorted=enforce_sorted), **a),
            {"x": x, **hx})


# ---- proj_size

@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
def test_proj_size_as_pytorch(packed):
    ours, theirs = pair(LSTM, torch.nn.LSTM, I, H, num_layers=2, bidirectional=True,
                        proj_size=2)
    shapes = {n: tuple(p.shape) for n, p in theirs.named_parameters()}
    assert {n: p.shape for n, p in ours.named_parameters()} == shapes
    assert shapes["weight_hr_l1_reverse"] == (2, H) and shapes["weight_ih_l1"] == (4 * H, 4)
    rng = np.random.default_rng(5)
    inputs = {"x": rng.standard_normal((T, B, I)), "h": rng.standard_normal((4, B, 2)),
              "c": rng.standard_normal((4, B, H))}
    lengths = [5, 2, 4]

    def run(layer, pack, x, h, c):
        if packed:
            output, (h_n, c_n) = layer(pack(x), (h, c))
            return [output.data, h_n, c_n]
        output, (h_n, c_n) = layer(x, (h, c))
        return [output, h_n, c_n]

    compare(ours, theirs,
            lambda **a: run(ours, lambda x: rnn.pack_padded_sequence(
                x, lengths, enforce_sorted=False), **a),
            lambda **a: run(theirs, lambda x: trnn.pack_padded_sequence(
                x, torch.tensor(lengths), enforce_sorted=False), **a), inputs)


@pytest.mark.parametrize("layer_class", [LSTM, PeepholeLSTM, CoupledLSTM, LayerNormLSTM])
def test_proj_size_on_every_lstm_kind(layer_class):
    layer = layer_class(I, H, num_layers=2, bidirectional=True, proj_size=2)
    output, (h_n, c_n) = layer(mg.randn(T, B, I), lengths=[5, 1, 3])
    assert output.shape == (T, B, 4) and h_n.shape == (4, B, 2) and c_n.shape == (4, B, H)
    assert layer.weight_hr_l1_reverse.shape == (2, H)
    assert "proj_size=2" in repr(layer)
    with mg.unfused():
        again, _ = layer(mg.tensor(np.zeros((T, B, I), np.float32)))
    assert again.shape == (T, B, 4)


# ---- unbatched input

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_unbatched_layers_as_pytorch(kind, batch_first):
    classes = {"lstm": (LSTM, torch.nn.LSTM), "gru": (GRU, torch.nn.GRU),
               "rnn": (RNN, torch.nn.RNN)}[kind]
    ours, theirs = pair(*classes, I, H, num_layers=2, bidirectional=True,
                        batch_first=batch_first)
    parts = 2 if kind == "lstm" else 1
    rng = np.random.default_rng(6)
    inputs = {"x": rng.standard_normal((T, I)),
              **{f"h{k}": rng.standard_normal((4, H)) for k in range(parts)}}

    def run(layer, x, **hx):
        state = tuple(hx[f"h{k}"] for k in range(parts))
        output, final = layer(x, state if parts == 2 else state[0])
        return [output, *flat(final)]

    compare(ours, theirs, lambda **a: run(ours, **a), lambda **a: run(theirs, **a), inputs)


@pytest.mark.parametrize("kind", ["lstm", "gru", "rnn"])
def test_unbatched_cells_as_pytorch(kind):
    classes = {"lstm": (LSTMCell, torch.nn.LSTMCell), "gru": (GRUCell, torch.nn.GRUCell),
               "rnn": (RNNCell, torch.nn.RNNCell)}[kind]
    ours, theirs = pair(*classes, I, H)
    parts = 2 if kind == "lstm" else 1
    rng = np.random.default_rng(8)
    inputs = {"x": rng.standard_normal(I),
              **{f"h{k}": rng.standard_normal(H) for k in range(parts)}}

    def run(cell, x, **hx):
        state = tuple(hx[f"h{k}"] for k in range(parts))
        return flat(cell(x, state if parts == 2 else state[0]))

    compare(ours, theirs, lambda **a: run(ours, **a), lambda **a: run(theirs, **a), inputs)
    assert [p.shape for p in flat(ours(mg.zeros(I, dtype=mg.float64)))] == [(H,)] * parts


# ---- argument checks

@pytest.mark.parametrize("options, error, match", [
    ({"batch_first": "False"}, TypeError, "batch_first must be a bool.*str"),
    ({"bias": "False"}, TypeError, "bias must be a bool"),
    ({"bidirectional": "False"}, TypeError, "bidirectional must be a bool"),
    ({"dropout": "x"}, ValueError, r"dropout must be a number in \[0, 1\]"),
    ({"dropout": True}, ValueError, "dropout"),
    ({"dropout": -0.1}, ValueError, "dropout"),
    ({"num_layers": 1.5}, TypeError, "num_layers must be an int"),
    ({"num_layers": 0}, ValueError, "num_layers must be at least 1"),
    ({"hidden_size": 2.0}, TypeError, "hidden_size must be an int"),
])
def test_constructor_arguments_checked_as_pytorch(options, error, match):
    arguments = {"input_size": 3, "hidden_size": 5, **options}
    with pytest.raises(error, match=match):
        GRU(**arguments)


def test_rnn_positional_order_and_nonlinearity():
    relu = RNN(2, 3, 1, "relu")
    assert relu.nonlinearity == "relu" and relu.cells[0].nonlinearity == "relu"
    assert RNN(2, 3).nonlinearity == "tanh"
    assert not RNN(2, 3, 1, "tanh", False).bias
    assert LSTM(2, 3, 2, dropout=1).dropout == 1.0        # PyTorch accepts 1
    with pytest.raises(ValueError, match="proj_size must be smaller than hidden_size=3"):
        LSTM(2, 3, proj_size=3)
    with pytest.raises(ValueError, match="nonlinearity"):
        RNN(2, 3, 1, "sigmoid")
    for layer_class in (GRU, RNN):                  # as PyTorch: LSTM kinds only
        with pytest.raises(ValueError, match="proj_size is for the LSTM kinds only"):
            layer_class(2, 3, proj_size=1)


def test_dtype_mismatch_refused_naming_both():
    layer, cell = LSTM(3, 4), GRUCell(3, 4)
    x64 = mg.zeros(5, 2, 3, dtype=mg.float64)
    with pytest.raises(ValueError, match="float64.*float32"):
        layer(x64)
    with pytest.raises(ValueError, match="float64.*float32"):
        cell(mg.zeros(2, 3, dtype=mg.float64))
    with pytest.raises(ValueError, match=r"hx\[0\] has dtype float64.*float32"):
        layer(mg.zeros(5, 2, 3), (mg.zeros(1, 2, 4, dtype=mg.float64), mg.zeros(1, 2, 4)))
    with pytest.raises(ValueError, match="state has dtype float64"):
        cell(mg.zeros(2, 3), mg.zeros(2, 4, dtype=mg.float64))
    to_float64(layer)
    with pytest.raises(ValueError, match="float32.*float64"):
        layer(mg.zeros(5, 2, 3))
    assert layer.weight_ih_l0.grad is None          # nothing computed


def test_integer_input_says_embed_first():
    with pytest.raises(ValueError, match="embed token ids first"):
        LSTM(3, 4)(mg.tensor(np.zeros((5, 2, 3), np.int64)))
    with pytest.raises(ValueError, match="embed token ids first"):
        LSTMCell(3, 4)(mg.tensor(np.zeros((2, 3), np.int64)))


def test_backend_mismatch_on_every_call():
    layer = GRU(3, 4)
    layer(mg.zeros(5, 2, 3))                        # a first call on the host
    with mg.use_backend("standin"):
        device_h = mg.zeros(1, 2, 4)
        device_x = mg.zeros(5, 2, 3)
    with pytest.raises(mg.BackendError, match="hx"):
        layer(mg.zeros(5, 2, 3), device_h)
    with pytest.raises(mg.BackendError, match="input"):
        layer(device_x)
    with pytest.raises(mg.BackendError, match="state"):
        GRUCell(3, 4)(mg.zeros(2, 3), device_h.reshape(2, 4))


def test_state_in_the_wrong_container():
    x, h = mg.zeros(2, 3), mg.zeros(2, 4)
    with pytest.raises(TypeError,
                       match=r"state must be a tuple of 2 Tensors \(h, c\), got Tensor"):
        LSTMCell(3, 4)(x, h)
    with pytest.raises(TypeError, match="state must be a Tensor, got tuple"):
        GRUCell(3, 4)(x, (h,))
    with pytest.raises(TypeError, match=r"state\[0\] must be a Tensor, got ndarray"):
        LSTMCell(3, 4)(x, (np.zeros((2, 4), np.float32), h))
    with pytest.raises(TypeError, match="hx must be one tensor.*ndarray"):
        GRU(3, 4)(mg.zeros(5, 2, 3), np.zeros((1, 2, 4), np.float32))
    with pytest.raises(TypeError, match="state must be a Tensor, got ndarray"):
        GRUCell(3, 4)(x, np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="unbatched"):
        GRU(3, 4)(mg.zeros(5, 3), mg.zeros(1, 2, 4))


def test_embedding_negative_index_is_an_index_error():
    embedding = mg.nn.Embedding(4, 2)
    with pytest.raises(IndexError, match=r"\[0, 4\)"):
        embedding(np.array([1, -1]))
    with pytest.raises(IndexError):
        embedding(np.array([4]))


def test_repr_names_the_cell_and_options():
    assert repr(LSTM(3, 4, num_layers=2, batch_first=True, proj_size=2)) == \
        "LSTM(3, 4, proj_size=2, num_layers=2, batch_first=True, cell=LSTMCell)"
    assert repr(RNN(3, 4, 1, "relu", False)) == \
        "RNN(3, 4, bias=False, nonlinearity='relu', cell=RNNCell)"
    assert "forget_bias=1.0" in repr(LSTM(3, 4, forget_bias=1.0))
    assert repr(GRU(3, 4, dropout=0.5, num_layers=2)) == \
        "GRU(3, 4, num_layers=2, dropout=0.5, cell=GRUCell)"


def test_packed_projected_unbatched_on_the_device_standin():
    # nothing in packing, projection or unbatched input round-trips through the host
    x = np.random.default_rng(9).standard_normal((5, 3, I)).astype(np.float32)
    host = LSTM(I, H, num_layers=2, bidirectional=True, proj_size=2)
    expected, (expected_h, _) = host(rnn.pack_padded_sequence(mg.tensor(x), [2, 5, 3],
                                                              enforce_sorted=False))
    with mg.use_backend("standin"):
        layer = LSTM(I, H, num_layers=2, bidirectional=True, proj_size=2)
        layer.load_state_dict(host.state_dict())
        x_device = mg.tensor(x, requires_grad=True)
        output, (h_n, _) = layer(rnn.pack_padded_sequence(x_device, [2, 5, 3],
                                                          enforce_sorted=False))
        (output.data.sum() + h_n.sum()).backward()
        assert x_device.grad.backend == "standin"
        padded, lengths = rnn.pad_packed_sequence(output)
        assert padded.backend == "standin" and lengths.tolist() == [2, 5, 3]
        single, single_h = GRU(I, H)(mg.tensor(x[:, 0]))
        assert single.shape == (5, H) and single_h.shape == (1, H)
    np.testing.assert_allclose(output.data.numpy(), expected.data.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(h_n.numpy(), expected_h.numpy(), rtol=1e-5, atol=1e-6)
