"""The activations of issue 14: the functions in ``mg.nn.functional`` and their modules in
``mg.nn``, against PyTorch's (values and gradients, float32 and float64, with large and
special inputs), float64 central differences over drawn shapes, and PyTorch's
constructors and reprs.
"""
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
import minigrad.nn.functional as F

FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
seeds = st.integers(0, 2**16)
INF, NAN = float("inf"), float("nan")

# name -> (minigrad call, PyTorch call, points where the derivative jumps)
ACTIVATIONS = {
    "relu": (F.relu, TF.relu, [0.0]),
    "sigmoid": (F.sigmoid, torch.sigmoid, []),
    "tanh": (F.tanh, torch.tanh, []),
    "gelu": (F.gelu, TF.gelu, []),
    "gelu:tanh": (lambda x: F.gelu(x, approximate="tanh"),
                  lambda x: TF.gelu(x, approximate="tanh"), []),
    "softplus": (F.softplus, TF.softplus, []),
    "softplus:beta": (lambda x: F.softplus(x, beta=2.0, threshold=3.0),
                      lambda x: TF.softplus(x, beta=2.0, threshold=3.0), [1.5]),
    "silu": (F.silu, TF.silu, []),
    "elu": (F.elu, TF.elu, []),
    "elu:alpha": (lambda x: F.elu(x, 0.4), lambda x: TF.elu(x, 0.4), [0.0]),
    "selu": (F.selu, TF.selu, [0.0]),
    "leaky_relu": (F.leaky_relu, TF.leaky_relu, [0.0]),
    "leaky_relu:slope": (lambda x: F.leaky_relu(x, negative_slope=0.2),
                         lambda x: TF.leaky_relu(x, negative_slope=0.2), [0.0]),
    "hardtanh": (F.hardtanh, TF.hardtanh, [-1.0, 1.0]),
    "hardtanh:bounds": (lambda x: F.hardtanh(x, -2.0, 0.5),
                        lambda x: TF.hardtanh(x, -2.0, 0.5), [-2.0, 0.5]),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid, [-3.0, 3.0]),
    "mish": (F.mish, TF.mish, []),
    "logsigmoid": (F.logsigmoid, TF.logsigmoid, []),
    "softmax": (lambda x: F.softmax(x, dim=-1), lambda x: TF.softmax(x, dim=-1), []),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), lambda x: TF.log_softmax(x, dim=0), []),
}


def _inputs(dtype):
    """Random values, the kinks of every activation, large magnitudes (where naive forms
    overflow or lose the tail) and infinities; a (5, 8) block for the softmaxes."""
    x = np.random.default_rng(0).uniform(-5, 5, 16)
    special = [0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 0.5, -2.0, 1.5, 15.0, -15.0, 19.9, 20.1,
               30.0, -30.0, 100.0, -100.0, 500.0, -500.0, INF, -INF, 1e-4, -1e-4, 2.5]
    return np.concatenate([x, special]).astype(dtype).reshape(5, 8)


# float32 atol: gelu's tails (1 + erf(x), 1 + tanh(x) near -1) cancel; both libraries
# lose the same digits there, in a different order
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=2e-6), np.float64: dict(rtol=1e-12, atol=1e-14)}
# PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32, in float64 too
GRADIENT_TOLERANCE = {("hardsigmoid", np.float64): dict(rtol=1e-7, atol=1e-14)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_equals_pytorch(name, dtype):
    mg_fn, torch_fn, _ = ACTIVATIONS[name]
    values = _inputs(dtype)
    if name.startswith(("softmax", "log_softmax", "gelu")):
        # gelu: PyTorch 2.13 on the CPU gives NaN at +inf (here inf; see below)
        values = np.where(np.isinf(values), 0.0, values).astype(dtype)
    x, t = mg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        got = mg_fn(x)
        weights = np.random.default_rng(1).standard_normal(values.shape).astype(dtype)
        (got * mg.tensor(weights)).sum().backward()
    expected = torch_fn(t)
    (expected * torch.tensor(weights)).sum().backward()
    assert got.dtype == dtype
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), err_msg="values",
                               **TOLERANCE[dtype])
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), err_msg="gradients",
                               **GRADIENT_TOLERANCE.get((name, dtype), TOLERANCE[dtype]))


def test_gelu_at_infinity():
    # x * Phi(x): inf at inf (PyTorch 2.13's CPU kernel gives NaN there), NaN at -inf
    # (inf * 0, as PyTorch)
    with np.errstate(invalid="ignore"):
        got = F.gelu(mg.tensor([INF, -INF])).numpy()
    assert got[0] == INF and np.isnan(got[1])


def _away_from(x, kinks, gap=0.05):
    for kink in kinks:
        x = np.where(np.abs(x - kink) < gap, x + 2 * gap, x)
    return x


@FAST
@given(st.sampled_from(sorted(ACTIVATIONS)), shapes, seeds)
def test_activation_gradcheck(name, shape, seed):
    mg_fn, _, kinks = ACTIVATIONS[name]
    if name.startswith(("softmax", "log_softmax")) and not shape:
        shape = (3,)
    x = _away_from(np.random.default_rng(seed).standard_normal(shape) * 3, kinks)
    assert mg.gradcheck(mg_fn, [mg.tensor(x, requires_grad=True)])


@pytest.mark.parametrize("name", ["gelu", "softplus", "silu", "elu", "mish", "logsigmoid"])
def test_second_derivatives(name):
    mg_fn = ACTIVATIONS[name][0]

    def gradient(x):
        with mg.enable_grad():      # gradcheck evaluates fn under no_grad
            (g,) = mg.grad(mg_fn(x).sum(), x, create_graph=True)
        return g
    x = np.array([-2.3, -0.7, 0.4, 1.1, 2.9])
    assert mg.gradcheck(gradient, [mg.tensor(x, requires_grad=True)])


def test_logsigmoid_keeps_the_tail():
    x = mg.tensor([-100.0, -20.0, 0.0, 100.0], requires_grad=True)
    y = F.logsigmoid(x)
    y.sum().backward()
    assert y.tolist()[:2] == [-100.0, -20.0]
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, 0.5, 0.0], atol=1e-7)


def test_softplus_switches_to_the_identity_above_the_threshold():
    x = mg.tensor([10.0, 25.0, 1e4], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")           # no overflow in the branch not taken
        y = F.softplus(x)
        y.sum().backward()
    assert y.tolist()[1:] == [25.0, 1e4]
    assert x.grad.tolist()[1:] == [1.0, 1.0]


def test_hardtanh_and_hardsigmoid_have_zero_gradient_at_their_bounds():
    # as PyTorch (clip lets the gradient through at its bounds; these do not)
    x, t = mg.tensor([-1.0, 1.0, -3.0, 3.0], requires_grad=True), \
        torch.tensor([-1.0, 1.0, -3.0, 3.0], requires_grad=True)
    (F.hardtanh(x) + F.hardsigmoid(x)).sum().backward()
    (TF.hardtanh(t) + TF.hardsigmoid(t)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        F.gelu(mg.tensor([1.0]), approximate="erf")
    with pytest.raises(ValueError, match="hardtanh: min_val"):
        F.hardtanh(mg.tensor([1.0]), 1.0, -1.0)
    with pytest.raises(TypeError, match=r"ELU\(\) takes at most 2 arguments"):
        mg.nn.ELU(1.0, False, 3)
    with pytest.raises(TypeError, match="LeakyReLU.. got an unexpected keyword argument 'slope'"):
        mg.nn.LeakyReLU(slope=0.1)


# --------------------------------------------------------------------------- modules

# (minigrad module, PyTorch module): constructed alike, positional and keyword arguments
MODULES = [
    (mg.nn.ReLU(), torch.nn.ReLU()), (mg.nn.ReLU(True), torch.nn.ReLU(True)),
    (mg.nn.Tanh(), torch.nn.Tanh()), (mg.nn.Sigmoid(), torch.nn.Sigmoid()),
    (mg.nn.GELU(), torch.nn.GELU()), (mg.nn.GELU("tanh"), torch.nn.GELU("tanh")),
    (mg.nn.Softmax(dim=1), torch.nn.Softmax(dim=1)), (mg.nn.Softmax(0), torch.nn.Softmax(0)),
    (mg.nn.LogSoftmax(dim=-1), torch.nn.LogSoftmax(dim=-1)),
    (mg.nn.Identity(), torch.nn.Identity()), (mg.nn.Identity(3, k=1), torch.nn.Identity(3, k=1)),
    (mg.nn.Flatten(), torch.nn.Flatten()), (mg.nn.Flatten(0, 1), torch.nn.Flatten(0, 1)),
    (mg.nn.SiLU(), torch.nn.SiLU()), (mg.nn.SiLU(inplace=True), torch.nn.SiLU(inplace=True)),
    (mg.nn.ELU(), torch.nn.ELU()), (mg.nn.ELU(0.5, True), torch.nn.ELU(0.5, True)),
    (mg.nn.LeakyReLU(), torch.nn.LeakyReLU()), (mg.nn.LeakyReLU(0.2), torch.nn.LeakyReLU(0.2)),
    (mg.nn.Softplus(), torch.nn.Softplus()),
    (mg.nn.Softplus(2, threshold=5), torch.nn.Softplus(2, threshold=5)),
    (mg.nn.Hardtanh(), torch.nn.Hardtanh()),
    (mg.nn.Hardtanh(-2.0, 2.0, inplace=True), torch.nn.Hardtanh(-2.0, 2.0, inplace=True)),
    (mg.nn.Mish(), torch.nn.Mish()), (mg.nn.LogSigmoid(), torch.nn.LogSigmoid()),
    (mg.nn.SELU(), torch.nn.SELU()), (mg.nn.SELU(True), torch.nn.SELU(True)),
    (mg.nn.Hardsigmoid(), torch.nn.Hardsigmoid()),
    (mg.nn.Hardsigmoid(inplace=True), torch.nn.Hardsigmoid(inplace=True)),
]


@pytest.mark.parametrize("pair", MODULES, ids=[repr(t) for _, t in MODULES])
def test_module_equals_pytorch(pair):
    module, reference = pair
    assert repr(module) == repr(reference)
    values = np.random.default_rng(2).standard_normal((2, 3, 4)).astype(np.float32) * 3
    x, t = mg.tensor(values, requires_grad=True), torch.tensor(values, requires_grad=True)
    got = module(x)
    expected = reference(t.clone())       # PyTorch's inplace=True writes over its input
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    got.sum().backward() if got.requires_grad else None
    expected.sum().backward()
    if got.requires_grad:
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(x.numpy(), values)        # the input is left unchanged
    assert list(module.parameters()) == []


def test_module_arguments_are_attributes_as_in_pytorch():
    m = mg.nn.LeakyReLU(0.2)
    assert m.negative_slope == 0.2 and m.inplace is False
    m.negative_slope = 0.5                  # read at each call, as PyTorch reads it
    assert m(mg.tensor([-2.0])).tolist() == [-1.0]
    assert mg.nn.Softplus(beta=3).beta == 3 and mg.nn.GELU("tanh").approximate == "tanh"
    assert mg.nn.Softmax(2).dim == 2 and mg.nn.Flatten(0).start_dim == 0


def test_identity_returns_its_input():
    x = mg.tensor([1.0, 2.0])
    assert mg.nn.Identity(54, unused_argument1=0.1)(x) is x


@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
def test_softmax_without_dim_picks_pytorchs_legacy_dim_and_warns(name, ndim):
    values = np.random.default_rng(ndim).standard_normal((2, 3, 4, 5)[:ndim]).astype(np.float32)
    with pytest.warns(UserWarning, match="implicit dimension choice"):
        got = getattr(mg.nn, name)()(mg.tensor(values))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = getattr(torch.nn, name)()(torch.tensor(values))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-5, atol=1e-7)


def test_a_sequential_of_activation_modules_trains_like_pytorch():
    values = np.random.default_rng(3).standard_normal((4, 2, 3)).astype(np.float32)
    mine = mg.nn.Sequential(mg.nn.Flatten(), mg.nn.Linear(6, 5), mg.nn.GELU(), mg.nn.Linear(5, 3),
                            mg.nn.LogSoftmax(dim=1))
    theirs = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(6, 5), torch.nn.GELU(),
                                 torch.nn.Linear(5, 3), torch.nn.LogSoftmax(dim=1))
    mine.load_state_dict({k: v.detach().numpy() for k, v in theirs.state_dict().items()})
    got, expected = mine(mg.tensor(values)), theirs(torch.tensor(values))
    np.testing.assert_allclose(got.numpy(), expected.detach().numpy(), rtol=1e-5, atol=1e-6)
    got.sum().backward()
    expected.sum().backward()
    for (name, p), q in zip(mine.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6,
                                   err_msg=name)
