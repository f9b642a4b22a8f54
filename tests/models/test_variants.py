"""Greff et al.'s LSTM variants (models/variants.py) against NumPy references written
from the paper's equations (section II and III), and against the cells they coincide
with."""
import numpy as np
import pytest

import minigrad as mg
from models import CoupledLSTM, LSTM, PeepholeLSTM
from models.layers import SequenceLayer
from models.variants import VARIANTS

I, H, T, B = 3, 4, 6, 2


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def paper_reference(variant, p, x):
    """One layer of variant ``variant`` over ``x (T, B, I)``, in the paper's notation:
    block input z, gates i, f, o, peepholes p_*, output y; returns (outputs, (y, c))."""
    blocks = [b for b in "ifgo" if not (b == "i" and variant in ("NIG", "CIFG"))
              and not (b == "f" and variant == "NFG") and not (b == "o" and variant == "NOG")]
    w = {b: (p["weight_ih_l0"][k * H:(k + 1) * H], p["weight_hh_l0"][k * H:(k + 1) * H],
             p["bias_ih_l0"][k * H:(k + 1) * H] + p["bias_hh_l0"][k * H:(k + 1) * H])
         for k, b in enumerate(blocks)}
    peep = {b: p.get(f"weight_c{b}_l0", np.zeros(H)) for b in "ifo"}
    y = np.zeros((B, H))
    c = np.zeros((B, H))
    gates = {b: np.zeros((B, H)) for b in "ifo"}        # FGR: the previous step's gates
    outputs = []
    for x_t in x:
        a = {b: x_t @ w[b][0].T + y @ w[b][1].T + w[b][2] for b in blocks}
        if variant == "FGR":
            previous = np.concatenate([gates["i"], gates["f"], gates["o"]], axis=1)
            for k, b in enumerate("ifo"):
                # R_{b,i} i' + R_{b,f} f' + R_{b,o} o': the rows of gate b in weight_gg
                a[b] = a[b] + previous @ p["weight_gg_l0"][k * H:(k + 1) * H].T
        z = a["g"] if variant == "NIAF" else np.tanh(a["g"])
        f = np.ones((B, H)) if variant == "NFG" else sigmoid(a["f"] + peep["f"] * c)
        if variant == "CIFG":
            i = 1 - f
        else:
            i = np.ones((B, H)) if variant == "NIG" else sigmoid(a["i"] + peep["i"] * c)
        c = z * i + c * f
        o = np.ones((B, H)) if variant == "NOG" else sigmoid(a["o"] + peep["o"] * c)
        y = (c if variant == "NOAF" else np.tanh(c)) * o
        gates = {"i": i, "f": f, "o": o}
        outputs.append(y)
    return np.stack(outputs), (y, c)


def gru_reference(p, x):
    """Cho et al. 2014 with the reset gate applied after W_hn (PyTorch's GRU)."""
    h = np.zeros((B, H))
    outputs = []
    w_ir, w_iz, w_in = np.split(p["weight_ih_l0"], 3)
    w_hr, w_hz, w_hn = np.split(p["weight_hh_l0"], 3)
    b_ir, b_iz, b_in = np.split(p["bias_ih_l0"], 3)
    b_hr, b_hz, b_hn = np.split(p["bias_hh_l0"], 3)
    for x_t in x:
        r = sigmoid(x_t @ w_ir.T + b_ir + h @ w_hr.T + b_hr)
        z = sigmoid(x_t @ w_iz.T + b_iz + h @ w_hz.T + b_hz)
        n = np.tanh(x_t @ w_in.T + b_in + r * (h @ w_hn.T + b_hn))
        h = (1 - z) * n + z * h
        outputs.append(h)
    return np.stack(outputs), h


def float64_layer(cls, seed=0):
    mg.manual_seed(seed)
    layer = SequenceLayer(cls, I, H)
    rng = np.random.default_rng(seed)
    # larger than the default initialisation, so every term moves the result
    state = {name: rng.normal(0, 0.6, value.shape) for name, value in
             layer.state_dict().items()}
    layer.load_state_dict(state)
    for param in layer.parameters():
        param.data = param.data.astype(np.float64)
    return layer, layer.state_dict()        # (rounded to float32 on loading)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_matches_paper_reference(variant):
    layer, params = float64_layer(VARIANTS[variant])
    x = np.random.default_rng(1).normal(size=(T, B, I))
    output, final = layer(mg.tensor(x))
    if variant == "GRU":
        expected, h = gru_reference(params, x)
        np.testing.assert_allclose(final.numpy()[0], h, rtol=1e-10, atol=1e-12)
    else:
        expected, (y, c) = paper_reference(variant, params, x)
        np.testing.assert_allclose(final[0].numpy()[0], y, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(final[1].numpy()[0], c, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(output.numpy(), expected, rtol=1e-10, atol=1e-12,
                               err_msg=f"{variant}: outputs differ from the paper's equations")


@pytest.mark.parametrize("variant", ["NIG", "NFG", "NOG", "CIFG", "NP", "FGR"])
def test_variant_has_the_paper_parameters(variant):
    """A removed gate takes its weights with it; FGR adds nine H x H matrices."""
    layer = SequenceLayer(VARIANTS[variant], I, H)
    shapes = {name: p.shape for name, p in layer.named_parameters()}
    blocks = {"NIG": 3, "NFG": 3, "NOG": 3, "CIFG": 3}.get(variant, 4)
    assert shapes["weight_ih_l0"] == (blocks * H, I)
    assert shapes["weight_hh_l0"] == (blocks * H, H)
    peepholes = {name for name in shapes if name.startswith("weight_c")}
    expected = {"NIG": {"weight_cf_l0", "weight_co_l0"}, "NFG": {"weight_ci_l0", "weight_co_l0"},
                "NOG": {"weight_ci_l0", "weight_cf_l0"}, "CIFG": {"weight_cf_l0", "weight_co_l0"},
                "NP": set(), "FGR": {"weight_ci_l0", "weight_cf_l0", "weight_co_l0"}}[variant]
    assert peepholes == expected
    assert ("weight_gg_l0" in shapes) == (variant == "FGR")
    if variant == "FGR":
        assert shapes["weight_gg_l0"] == (3 * H, 3 * H)


@pytest.mark.parametrize("variant, ours", [("V", PeepholeLSTM), ("NP", LSTM)])
def test_vanilla_and_no_peepholes_are_our_cells(variant, ours):
    """V is our peephole LSTM, NP our LSTM: the same parameters give the same numbers."""
    layer, params = float64_layer(VARIANTS[variant])
    theirs = ours(I, H)
    theirs.load_state_dict(params)
    for param in theirs.parameters():
        param.data = param.data.astype(np.float64)
    x = mg.tensor(np.random.default_rng(2).normal(size=(T, B, I)))
    np.testing.assert_allclose(layer(x)[0].numpy(), theirs(x)[0].numpy(), rtol=1e-12)


def test_cifg_without_peepholes_is_our_coupled_lstm():
    layer, params = float64_layer(VARIANTS["CIFG"])
    params = {k: v for k, v in params.items() if not k.startswith("weight_c")}
    layer.load_state_dict({**params, "weight_cf_l0": np.zeros(H), "weight_co_l0": np.zeros(H)})
    coupled = CoupledLSTM(I, H)
    coupled.load_state_dict(params)
    for param in [*layer.parameters(), *coupled.parameters()]:
        param.data = param.data.astype(np.float64)
    x = mg.tensor(np.random.default_rng(3).normal(size=(T, B, I)))
    np.testing.assert_allclose(layer(x)[0].numpy(), coupled(x)[0].numpy(), rtol=1e-12)


@pytest.mark.parametrize("variant", ["NIG", "NOAF", "CIFG", "FGR"])
def test_variant_gradients_match_finite_differences(variant):
    layer, _ = float64_layer(VARIANTS[variant])
    x = mg.tensor(np.random.default_rng(4).normal(size=(3, B, I)), requires_grad=True)
    params = list(layer.parameters())

    def loss(x, *weights):
        return (layer(x)[0] ** 2).sum()

    assert mg.gradcheck(loss, [x, *params])
