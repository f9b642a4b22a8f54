"""Layers and cells against PyTorch: outputs, final states and every gradient, with the
PyTorch module's weights loaded through ``load_state_dict`` (float64)."""
import numpy as np
import pytest

import minigrad as mg
from models import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell

torch = pytest.importorskip("torch")

I, H, T, B = 4, 5, 6, 3
KINDS = {
    "lstm": (LSTM, torch.nn.LSTM, {}),
    "gru": (GRU, torch.nn.GRU, {}),
    "rnn_tanh": (RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
}
# (num_layers, bidirectional, batch_first, initial state, lengths, bias)
CONFIGS = {
    "1layer": (1, False, False, False, None, True),
    "2layer_bidir_hx": (2, True, False, True, None, True),
    "3layer_bidir_batchfirst_lengths_hx": (3, True, True, True, [6, 2, 4], True),
    "2layer_lengths": (2, False, False, False, [3, 6, 1], True),
    "1layer_bidir_batchfirst_lengths_nobias": (1, True, True, False, [5, 6, 2], False),
}


def to_float64(module):
    for param in module.parameters():
        param.data = param.data.astype(np.float64)
    return module


def torch_state(module):
    return {k: v.detach().numpy() for k, v in module.state_dict().items()}


def assert_close(ours, theirs, what):
    ours = ours.numpy() if isinstance(ours, mg.Tensor) else ours
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    assert ours.shape == theirs.shape, f"{what}: shape {ours.shape} vs torch {theirs.shape}"
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11, err_msg=what)


@pytest.mark.parametrize("config", CONFIGS, ids=str)
@pytest.mark.parametrize("kind", KINDS, ids=str)
def test_layer_matches_torch(kind, config):
    ours_cls, torch_cls, extra = KINDS[kind]
    num_layers, bidirectional, batch_first, with_hx, lengths, bias = CONFIGS[config]
    directions = 2 if bidirectional else 1
    torch.manual_seed(0)
    reference = torch_cls(I, H, num_layers=num_layers, bias=bias, batch_first=batch_first,
                          bidirectional=bidirectional, **extra).double()
    ours = to_float64(ours_cls(I, H, num_layers=num_layers, bias=bias,
                               batch_first=batch_first, bidirectional=bidirectional, **extra))
    ours.load_state_dict(torch_state(reference))
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in reference.named_parameters()]

    rng = np.random.default_rng(1)
    x = rng.standard_normal((B, T, I) if batch_first else (T, B, I))
    state_count = 2 if kind == "lstm" else 1
    hx = [rng.standard_normal((num_layers * directions, B, H)) for _ in range(state_count)] \
        if with_hx else None

    x_t = torch.tensor(x, requires_grad=True)
    hx_t = [torch.tensor(h, requires_grad=True) for h in hx] if hx else None
    torch_hx = None if hx_t is None else (tuple(hx_t) if state_count == 2 else hx_t[0])
    if lengths is None:
        out_t, final_t = reference(x_t, torch_hx)
    else:
        packed = torch.nn.utils.rnn.pack_padded_sequence(
            x_t, torch.tensor(lengths), batch_first=batch_first, enforce_sorted=False)
        out_t, final_t = reference(packed, torch_hx)
        out_t, _ = torch.nn.utils.rnn.pad_packed_sequence(out_t, batch_first=batch_first,
                                                          total_length=T)
    final_t = final_t if state_count == 2 else (final_t,)

    x_m = mg.tensor(x, requires_grad=True)
    hx_m = [mg.tensor(h, requires_grad=True) for h in hx] if hx else None
    our_hx = None if hx_m is None else (tuple(hx_m) if state_count == 2 else hx_m[0])
    out_m, final_m = ours(x_m, our_hx, lengths=lengths)
    final_m = final_m if state_count == 2 else (final_m,)

    assert_close(out_m, out_t, "output")
    for k, (a, b) in enumerate(zip(final_m, final_t)):
        assert_close(a, b, f"final state part {k}")

    # one scalar that weighs every output element differently, so every gradient is checked
    weights = [rng.standard_normal(out_m.shape)] + [rng.standard_normal(f.shape) for f in final_m]
    loss_t = sum((t * torch.tensor(w)).sum() for t, w in zip([out_t, *final_t], weights))
    loss_m = sum((t * w).sum() for t, w in zip([out_m, *final_m], weights))
    loss_t.backward()
    loss_m.backward()
    assert_close(x_m.grad, x_t.grad, "input gradient")
    for k, (a, b) in enumerate(zip(hx_m or (), hx_t or ())):
        assert_close(a.grad, b.grad, f"initial state part {k} gradient")
    torch_params = dict(reference.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad, torch_params[name].grad, f"gradient of {name}")


CELLS = {
    "lstm": (LSTMCell, torch.nn.LSTMCell, {}),
    "gru": (GRUCell, torch.nn.GRUCell, {}),
    "rnn_tanh": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}),
    "rnn_relu": (RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}),
}


@pytest.mark.parametrize("with_state", [False, True], ids=["zero_state", "given_state"])
@pytest.mark.parametrize("kind", CELLS, ids=str)
def test_cell_matches_torch(kind, with_state):
    ours_cls, torch_cls, extra = CELLS[kind]
    torch.manual_seed(0)
    reference = torch_cls(I, H, **extra).double()
    ours = to_float64(ours_cls(I, H, **extra))
    ours.load_state_dict(torch_state(reference))
    rng = np.random.default_rng(2)
    xs = rng.standard_normal((3, B, I))
    pair = kind == "lstm"
    state = [rng.standard_normal((B, H)) for _ in range(2 if pair else 1)] if with_state else None

    x_t = torch.tensor(xs, requires_grad=True)
    x_m = mg.tensor(xs, requires_grad=True)
    s_t = [torch.tensor(s, requires_grad=True) for s in state] if state else None
    s_m = [mg.tensor(s, requires_grad=True) for s in state] if state else None
    state_t = None if s_t is None else (tuple(s_t) if pair else s_t[0])
    state_m = None if s_m is None else (tuple(s_m) if pair else s_m[0])
    outs_t, outs_m = [], []
    for step in range(3):          # unrolled: gradients flow through the carried state
        state_t = reference(x_t[step], state_t)
        state_m = ours(x_m[step], state_m)
        outs_t.append(state_t[0] if pair else state_t)
        outs_m.append(state_m[0] if pair else state_m)
    finals_t = list(state_t) if pair else [state_t]
    finals_m = list(state_m) if pair else [state_m]
    for k, (a, b) in enumerate(zip(outs_m + finals_m, outs_t + finals_t)):
        assert_close(a, b, f"cell result {k}")

    weights = [rng.standard_normal((B, H)) for _ in outs_m + finals_m]
    sum((t * torch.tensor(w)).sum() for t, w in zip(outs_t + finals_t, weights)).backward()
    sum((t * w).sum() for t, w in zip(outs_m + finals_m, weights)).backward()
    assert_close(x_m.grad, x_t.grad, "input gradient")
    for k, (a, b) in enumerate(zip(s_m or (), s_t or ())):
        assert_close(a.grad, b.grad, f"state part {k} gradient")
    torch_params = dict(reference.named_parameters())
    for name, param in ours.named_parameters():
        assert_close(param.grad, torch_params[name].grad, f"gradient of {name}")


def test_float32_layer_matches_torch_float32():
    """The default dtype: the same weights give float32 results close to PyTorch's."""
    torch.manual_seed(0)
    reference = torch.nn.LSTM(I, H, num_layers=2)
    ours = LSTM(I, H, num_layers=2)
    ours.load_state_dict(torch_state(reference))
    x = np.random.default_rng(3).standard_normal((T, B, I)).astype(np.float32)
    out_t, (h_t, c_t) = reference(torch.tensor(x))
    out_m, (h_m, c_m) = ours(mg.tensor(x))
    assert out_m.dtype == np.float32 and h_m.dtype == np.float32
    for a, b in ((out_m, out_t), (h_m, h_t), (c_m, c_t)):
        np.testing.assert_allclose(a.numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
