"""Cells PyTorch does not have, against NumPy references written from the papers'
equations (not from models/), and every cell against finite differences."""
import numpy as np
import pytest

import minigrad as mg
from models import (CoupledLSTM, CoupledLSTMCell, GRU, GRUCell, LayerNormLSTMCell, LSTMCell,
                    PeepholeLSTM, PeepholeLSTMCell, RNNCell)

I, H, T, B = 3, 4, 5, 2


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


# ---- references: one sequence, (T, B, I) -> outputs (T, B, H) and final state

def peephole_reference(p, x):
    """Gers & Schmidhuber 2000, blocks i, f, g, o; peepholes: i, f see c_{t-1}, o sees c_t."""
    h = np.zeros((x.shape[1], H))
    c = np.zeros((x.shape[1], H))
    outputs = []
    for x_t in x:
        a = x_t @ p["weight_ih_l0"].T + p["bias_ih_l0"] + h @ p["weight_hh_l0"].T + p["bias_hh_l0"]
        a_i, a_f, a_g, a_o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
        i = sigmoid(a_i + p["weight_ci_l0"] * c)
        f = sigmoid(a_f + p["weight_cf_l0"] * c)
        c = f * c + i * np.tanh(a_g)
        o = sigmoid(a_o + p["weight_co_l0"] * c)
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs), (h, c)


def coupled_reference(p, x):
    """Coupled input-forget gate: blocks f, g, o; i = 1 - f."""
    h = np.zeros((x.shape[1], H))
    c = np.zeros((x.shape[1], H))
    outputs = []
    for x_t in x:
        a = x_t @ p["weight_ih_l0"].T + p["bias_ih_l0"] + h @ p["weight_hh_l0"].T + p["bias_hh_l0"]
        f = sigmoid(a[:, :H])
        g = np.tanh(a[:, H:2 * H])
        o = sigmoid(a[:, 2 * H:])
        c = f * c + (1.0 - f) * g
        h = o * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs), (h, c)


def gru_reset_before_reference(p, x):
    """Cho et al. 2014 (Keras reset_after=False): the reset gate scales h before W_hn."""
    h = np.zeros((x.shape[1], H))
    outputs = []
    w_ir, w_iz, w_in = np.split(p["weight_ih_l0"], 3)
    w_hr, w_hz, w_hn = np.split(p["weight_hh_l0"], 3)
    b_ir, b_iz, b_in = np.split(p["bias_ih_l0"], 3)
    b_hr, b_hz, b_hn = np.split(p["bias_hh_l0"], 3)
    for x_t in x:
        r = sigmoid(x_t @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = sigmoid(x_t @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        n = np.tanh(x_t @ w_in.T + b_in + (r * h) @ w_hn.T + b_hn)
        h = (1.0 - z) * n + z * h
        outputs.append(h)
    return np.stack(outputs), (h,)


REFERENCES = {
    "peephole": (lambda: PeepholeLSTM(I, H), peephole_reference),
    "coupled": (lambda: CoupledLSTM(I, H), coupled_reference),
    "gru_reset_before": (lambda: GRU(I, H, reset_after=False), gru_reset_before_reference),
}


def reference_loss(reference, params, x, weights):
    outputs, final = reference(params, x)
    return sum(float((a * w).sum()) for a, w in zip((outputs, *final), weights))


def finite_differences(fn, array, eps=1e-6):
    grad = np.zeros_like(array)
    flat, flat_grad = array.reshape(-1), grad.reshape(-1)
    for k in range(flat.size):
        original = flat[k]
        flat[k] = original + eps
        plus = fn()
        flat[k] = original - eps
        minus = fn()
        flat[k] = original
        flat_grad[k] = (plus - minus) / (2 * eps)
    return grad


@pytest.mark.parametrize("kind", REFERENCES, ids=str)
def test_layer_matches_numpy_reference(kind):
    make, reference = REFERENCES[kind]
    layer = make()
    for param in layer.parameters():
        param.data = param.data.astype(np.float64)
    params = layer.state_dict()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I))

    x_m = mg.tensor(x, requires_grad=True)
    out_m, final_m = layer(x_m)
    final_m = final_m if isinstance(final_m, tuple) else (final_m,)
    out_ref, final_ref = reference(params, x)
    np.testing.assert_allclose(out_m.numpy(), out_ref, rtol=1e-10, atol=1e-12)
    for a, b in zip(final_m, final_ref):
        np.testing.assert_allclose(a.numpy()[0], b, rtol=1e-10, atol=1e-12)

    weights = [rng.standard_normal(out_ref.shape)] + [rng.standard_normal(f.shape)
                                                     for f in final_ref]
    loss = sum((a * w).sum() for a, w in zip((out_m, *final_m), [weights[0]] +
                                             [w[None] for w in weights[1:]]))
    loss.backward()
    numeric = finite_differences(lambda: reference_loss(reference, params, x, weights), x)
    np.testing.assert_allclose(x_m.grad.numpy(), numeric, rtol=1e-5, atol=1e-7,
                               err_msg="input gradient vs finite differences of the reference")
    for name, param in layer.named_parameters():
        numeric = finite_differences(
            lambda: reference_loss(reference, params, x, weights), params[name])
        np.testing.assert_allclose(param.grad.numpy(), numeric, rtol=1e-5, atol=1e-7,
                                   err_msg=f"gradient of {name} vs finite differences")


CELLS = {
    "rnn_tanh": lambda: RNNCell(2, 3, nonlinearity="tanh"),
    "rnn_relu": lambda: RNNCell(2, 3, nonlinearity="relu"),
    "lstm": lambda: LSTMCell(2, 3, forget_bias=1.0),
    "peephole": lambda: PeepholeLSTMCell(2, 3),
    "coupled": lambda: CoupledLSTMCell(2, 3),
    "gru": lambda: GRUCell(2, 3),
    "gru_reset_before": lambda: GRUCell(2, 3, reset_after=False),
    "gru_nobias": lambda: GRUCell(2, 3, bias=False, reset_after=False),
    "layernorm_lstm": lambda: LayerNormLSTMCell(2, 3),
}


@pytest.mark.parametrize("kind", CELLS, ids=str)
def test_cell_gradcheck_three_steps(kind):
    cell = CELLS[kind]()
    rng = np.random.default_rng(0)
    for param in cell.parameters():
        # also move LayerNorm's gains and shifts off 1 and 0, so every term is exercised
        param.data = param.data.astype(np.float64) + 0.1 * rng.standard_normal(param.shape)
    xs = mg.tensor(rng.standard_normal((3, 2, 2)), requires_grad=True)
    state_count = 2 if "lstm" in kind or kind in ("peephole", "coupled") else 1
    initial = [mg.tensor(rng.standard_normal((2, 3)), requires_grad=True)
               for _ in range(state_count)]

    def unrolled(xs, *rest):
        state = tuple(initial) if state_count == 2 else initial[0]
        for x in mg.split(xs, 3, axis=0):
            state = cell(x.reshape(2, 2), state)
        return state

    assert mg.gradcheck(unrolled, [xs, *initial, *cell.parameters()])
