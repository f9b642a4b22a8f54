"""The pointwise ops of issue 14 (minigrad/ops/pointwise.py) against PyTorch and against
float64 central differences.

Every op: a gradcheck over all of its inputs with hypothesis-drawn shapes (values kept
away from where it is not differentiable), values and gradients equal to PyTorch's on
random and special values (0, -0, ±1, halves, ±inf, NaN) in float32 and float64, and
PyTorch's dtypes and edge cases (integer division by zero, the sign of a zero remainder,
halves rounded to even).
"""

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg

# edge values (division by zero, NaN, the ends of a domain) are what many cases test:
# NumPy's warnings about them are expected
pytestmark = [pytest.mark.usefixtures("engine_backend"),
              pytest.mark.filterwarnings("ignore:.*encountered in:RuntimeWarning")]

FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)
triples = hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=3)
seeds = st.integers(0, 2**16)

INF, NAN = float("inf"), float("nan")
SPECIALS = np.array([0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, -2.5, 1e-8, 30.0, -30.0,
                     INF, -INF, NAN])


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check(fn, *arrays):
    assert mg.gradcheck(fn, [leaf(a) for a in arrays])


def draw(shape, seed, low=None, high=None, gap=None):
    """float64 samples: normal, or uniform in ``[low, high]``; ``gap``: kept at least that
    far from every whole multiple of ``gap`` (where rounding jumps)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 if low is None else rng.uniform(low, high, shape)
    if gap is not None:
        nearest = np.round(x / gap) * gap
        x = np.where(np.abs(x - nearest) < 0.05 * gap, nearest + 0.1 * gap, x)
    return x


# --------------------------------------------------------------------------- gradchecks

# name -> keyword arguments of `draw`: the op's domain, away from its kinks
UNARY = {
    "tan": {"low": -1.4, "high": 1.4}, "sinh": {}, "cosh": {},
    "asin": {"low": -0.9, "high": 0.9}, "acos": {"low": -0.9, "high": 0.9}, "atan": {},
    "log1p": {"low": -0.8, "high": 3.0}, "expm1": {}, "log2": {"low": 0.1, "high": 4.0},
    "log10": {"low": 0.1, "high": 4.0}, "exp2": {}, "rsqrt": {"low": 0.2, "high": 4.0},
    "reciprocal": {"low": 0.3, "high": 3.0}, "square": {}, "erf": {},
    "floor": {"gap": 1.0}, "ceil": {"gap": 1.0}, "round": {"gap": 0.5},
    "trunc": {"gap": 1.0}, "frac": {"gap": 1.0},
}


@FAST
@given(st.sampled_from(sorted(UNARY)), shapes, seeds, st.booleans())
def test_unary_gradients(name, shape, seed, as_method):
    fn = (lambda x: getattr(x, name)()) if as_method else getattr(mg, name)
    check(fn, draw(shape, seed, **UNARY[name]))


@FAST
@given(shapes, seeds, st.integers(-2, 3))
def test_round_with_decimals_has_a_zero_gradient(shape, seed, decimals):
    # round(x, d) jumps at odd multiples of 10^-d / 2: units of 10^-d, kept off halves
    x = (draw(shape, seed, gap=1.0) + 0.5) * 10.0 ** -decimals
    check(lambda t: t.round(decimals=decimals) * t, x)


def _away_from_zero(x, gap=0.3):
    return np.where(np.abs(x) < gap, np.where(x < 0, x - gap, x + gap), x)


def _between_multiples(a, b):
    """``a`` moved where ``a / b`` is near a whole number (where % and // jump)."""
    a, b = np.broadcast_arrays(a, b)
    q = a / b
    nearest = np.round(q)
    return np.where(np.abs(q - nearest) < 0.05, (nearest + 0.3) * b, a)


BINARY = {
    "atan2": lambda a, b: mg.atan2(a, b),
    "atan2:method": lambda a, b: a.atan2(b),
    "logaddexp": lambda a, b: mg.logaddexp(a, b),
    "remainder": lambda a, b: a % b,
    "remainder:function": lambda a, b: mg.remainder(a, b),
    "floor_divide": lambda a, b: (a // b) * a,
    "div:trunc": lambda a, b: mg.div(a, b, rounding_mode="trunc") * b,
    "div:floor": lambda a, b: a.div(b, rounding_mode="floor") * b,
    "div:true": lambda a, b: mg.div(a, b),
}


@FAST
@given(st.sampled_from(sorted(BINARY)), pairs, seeds)
def test_binary_gradients_with_broadcasting(name, shapes, seed):
    a_shape, b_shape = shapes.input_shapes
    b = _away_from_zero(draw(b_shape, seed + 1))
    a = draw(a_shape, seed)
    if name.split(":")[0] in ("remainder", "floor_divide", "div"):
        a_b = _between_multiples(a, b)
        if a_b.shape == a.shape:
            a = a_b
        else:        # a broadcast against a larger b: move b instead
            b_a = _between_multiples(b, a)
            b = b_a if b_a.shape == b.shape else b
            b = _away_from_zero(b)
    check(BINARY[name], a, b)


@pytest.mark.parametrize("fn", [
    lambda x: 2.5 % x, lambda x: x % 0.7, lambda x: x % -0.7, lambda x: 7.0 // x * x,
    lambda x: x // 0.4 * x, lambda x: mg.atan2(1.5, x), lambda x: mg.atan2(x, -2.0),
    lambda x: mg.logaddexp(x, 0.5), lambda x: mg.logaddexp(-1.0, x),
    lambda x: mg.lerp(x, x * x, 0.3), lambda x: mg.lerp(x * 2, x, 0.8),
], ids=["rmod", "mod", "mod-negative", "rfloordiv", "floordiv", "atan2-y", "atan2-x",
        "logaddexp", "logaddexp-reflected", "lerp-small", "lerp-large"])
def test_python_numbers_on_either_side(fn):
    x = np.array([0.37, 1.61, -2.23, 3.17, -0.81])
    check(fn, x)


@FAST
@given(triples, seeds)
def test_lerp_gradients_in_all_three_inputs(shapes, seed):
    start, end, weight = (draw(s, seed + k) for k, s in enumerate(shapes.input_shapes))
    check(mg.lerp, start, end, weight)


def test_predicates_record_no_gradient():
    x = leaf([1.0, NAN, INF])
    for out in (mg.isnan(x), mg.isinf(x), mg.isfinite(x), mg.logical_not(x),
                mg.isclose(x, x), mg.logical_or(x, x), mg.logical_xor(x, 0.0)):
        assert out.dtype == np.bool_ and not out.requires_grad


# --------------------------------------------------------------------------- PyTorch

TORCH_DTYPE = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
TOLERANCE = {np.dtype(np.float32): dict(rtol=2e-6, atol=1e-7),
             np.dtype(np.float64): dict(rtol=1e-13, atol=1e-300)}


def against_torch(mg_fn, torch_fn, arrays, differentiable=True, exact=False):
    """Values and (for differentiable ops) the gradients of ``sum(out * w)`` of
    ``mg_fn`` and ``torch_fn`` on the same float inputs, compared; NaN equal to NaN."""
    dtype = arrays[0].dtype
    mg_inputs = [mg.tensor(a, requires_grad=differentiable) for a in arrays]
    torch_inputs = [torch.tensor(a, requires_grad=differentiable) for a in arrays]
    with np.errstate(all="ignore"):
        got = mg_fn(*mg_inputs)
    expected = torch_fn(*torch_inputs)
    assert got.shape == tuple(expected.shape)
    expected_dtype = {torch.bool: np.dtype(bool), torch.float32: np.dtype(np.float32),
                      torch.float64: np.dtype(np.float64)}[expected.dtype]
    assert got.dtype == expected_dtype, f"dtype {got.dtype}, PyTorch {expected.dtype}"
    compare = np.testing.assert_array_equal if exact or got.dtype == bool else \
        lambda a, b, err_msg: np.testing.assert_allclose(a, b, err_msg=err_msg,
                                                         **TOLERANCE[dtype])
    compare(got.numpy(), expected.detach().numpy(), err_msg="values differ")
    if exact and got.dtype != bool:
        numbers = ~np.isnan(expected.detach().numpy())      # NaN's sign bit means nothing
        np.testing.assert_array_equal(np.signbit(got.numpy()[numbers]),
                                      np.signbit(expected.detach().numpy()[numbers]),
                                      err_msg="signs of zeros differ")
    if not differentiable:
        return
    weights = np.random.default_rng(7).standard_normal(expected.shape).astype(dtype)
    with np.errstate(all="ignore"):
        (got * mg.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    for k, (m, t) in enumerate(zip(mg_inputs, torch_inputs)):
        np.testing.assert_allclose(m.grad.numpy(), t.grad.numpy(), err_msg=f"grad {k} differs",
                                   **{**TOLERANCE[dtype], "rtol": TOLERANCE[dtype]["rtol"] * 4})


def _sample(dtype, low=-3.0, high=3.0, specials=True, size=24):
    x = np.random.default_rng(3).uniform(low, high, size)
    return np.concatenate([x, SPECIALS] if specials else [x]).astype(dtype)


FLOATS = pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])

TORCH_UNARY = {
    "sin": (mg.sin, torch.sin), "cos": (mg.cos, torch.cos), "tan": (mg.tan, torch.tan),
    "sinh": (mg.sinh, torch.sinh), "cosh": (mg.cosh, torch.cosh),
    "asin": (mg.asin, torch.asin), "acos": (mg.acos, torch.acos),
    "atan": (mg.atan, torch.atan), "log1p": (mg.log1p, torch.log1p),
    "expm1": (mg.expm1, torch.expm1), "log2": (mg.log2, torch.log2),
    "log10": (mg.log10, torch.log10), "exp2": (mg.exp2, torch.exp2),
    "rsqrt": (mg.rsqrt, torch.rsqrt), "reciprocal": (mg.reciprocal, torch.reciprocal),
    "square": (mg.square, torch.square), "erf": (mg.erf, torch.erf),
    "frac": (mg.frac, torch.frac),
}
# rounding: equal bit for bit, zero gradients
TORCH_ROUNDING = {"floor": (mg.floor, torch.floor), "ceil": (mg.ceil, torch.ceil),
                  "round": (mg.round, torch.round), "trunc": (mg.trunc, torch.trunc),
                  "sign": (mg.sign, torch.sign)}
TORCH_PREDICATES = {"isnan": (mg.isnan, torch.isnan), "isinf": (mg.isinf, torch.isinf),
                    "isfinite": (mg.isfinite, torch.isfinite),
                    "logical_not": (mg.logical_not, torch.logical_not)}


@FLOATS
@pytest.mark.parametrize("name", sorted(TORCH_UNARY))
def test_unary_ops_equal_pytorch(name, dtype):
    mg_fn, torch_fn = TORCH_UNARY[name]
    against_torch(mg_fn, torch_fn, [_sample(dtype)])


@FLOATS
@pytest.mark.parametrize("name", sorted(TORCH_ROUNDING))
def test_rounding_equals_pytorch_bit_for_bit(name, dtype):
    mg_fn, torch_fn = TORCH_ROUNDING[name]
    against_torch(mg_fn, torch_fn, [_sample(dtype, -6, 6) * 1.5], exact=True)


@FLOATS
@pytest.mark.parametrize("decimals", [-3, -1, 1, 2, 4])
def test_round_with_decimals_equals_pytorch(dtype, decimals):
    x = np.concatenate([np.random.default_rng(decimals + 5).uniform(-2000, 2000, 64),
                        [2.675, 1.005, 0.125, 1250.0, 1350.0, -0.0, INF, NAN]]).astype(dtype)
    against_torch(lambda t: mg.round(t, decimals=decimals),
                  lambda t: torch.round(t, decimals=decimals), [x], exact=True)


def test_round_takes_halves_to_even():
    x = mg.tensor([0.5, 1.5, 2.5, -0.5, -2.5, 3.5])
    assert x.round().tolist() == [0.0, 2.0, 2.0, -0.0, -2.0, 4.0]


@pytest.mark.parametrize("name", sorted(TORCH_PREDICATES))
def test_predicates_equal_pytorch(name):
    mg_fn, torch_fn = TORCH_PREDICATES[name]
    against_torch(mg_fn, torch_fn, [_sample(np.float32)], differentiable=False)
    ints = np.array([0, 3, -2])
    np.testing.assert_array_equal(mg_fn(mg.tensor(ints)).numpy(),
                                  torch_fn(torch.tensor(ints)).numpy())


def _pair(dtype):
    """Two broadcasting operands, specials in both (every special against every one)."""
    rng = np.random.default_rng(11)
    a = np.concatenate([rng.uniform(-4, 4, 9), SPECIALS]).astype(dtype)
    b = np.concatenate([rng.uniform(-4, 4, 9), SPECIALS]).astype(dtype)
    return a[:, None], b[None, :]


TORCH_BINARY = {
    "atan2": (mg.atan2, torch.atan2, True),
    "logaddexp": (mg.logaddexp, torch.logaddexp, True),
    "remainder": (lambda a, b: a % b, lambda a, b: a % b, True),
    "floor_divide": (lambda a, b: a // b, lambda a, b: a // b, False),
    "div:trunc": (lambda a, b: mg.div(a, b, rounding_mode="trunc"),
                  lambda a, b: torch.div(a, b, rounding_mode="trunc"), True),
    "div:floor": (lambda a, b: a.div(b, rounding_mode="floor"),
                  lambda a, b: a.div(b, rounding_mode="floor"), True),
}


@FLOATS
@pytest.mark.parametrize("name", sorted(TORCH_BINARY))
def test_binary_ops_equal_pytorch(name, dtype):
    mg_fn, torch_fn, differentiable = TORCH_BINARY[name]
    exact = name != "atan2" and name != "logaddexp"
    a, b = _pair(dtype)
    against_torch(mg_fn, torch_fn, [a, b], differentiable=differentiable, exact=exact)
    if not differentiable:      # PyTorch has no derivative for floor_divide; ours is zero
        x, y = leaf(a), leaf(b)
        with np.errstate(all="ignore"):
            (x // y).sum().backward()
        assert not x.grad.numpy().any() and not y.grad.numpy().any()


@pytest.mark.parametrize("name", ["remainder", "floor_divide", "div:trunc", "div:floor"])
def test_integer_division_equals_pytorch(name):
    mg_fn, torch_fn, _ = TORCH_BINARY[name]
    a, b = np.array([[7], [-7], [0], [5], [-6]]), np.array([2, -2, 3, -4])
    got = mg_fn(mg.tensor(a), mg.tensor(b))
    expected = torch_fn(torch.tensor(a), torch.tensor(b))
    assert got.dtype == np.int64
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        mg_fn(mg.tensor(a), mg.tensor([1, 0]))
    with pytest.raises(ZeroDivisionError):
        mg_fn(mg.tensor(a), 0)


def test_a_zero_remainder_keeps_the_dividends_sign():
    # PyTorch takes the remainder from fmod: -0.0 % 2 is -0.0, 3 % -3 is +0.0 (NumPy: -0.0)
    got = mg.tensor([-0.0, 3.0, -3.0, 0.0]) % mg.tensor([2.0, -3.0, 3.0, -2.0])
    expected = torch.tensor([-0.0, 3.0, -3.0, 0.0]) % torch.tensor([2.0, -3.0, 3.0, -2.0])
    np.testing.assert_array_equal(np.signbit(got.numpy()), np.signbit(expected.numpy()))


@pytest.mark.parametrize("fn", [
    lambda m, x: 5.5 % x, lambda m, x: x % 2.5, lambda m, x: x % -1.5, lambda m, x: 7 // x,
    lambda m, x: x // 0.6, lambda m, x: m.remainder(x, 3), lambda m, x: m.lerp(x, x * 3, 0.25),
    lambda m, x: m.div(x, 0.7, rounding_mode="trunc"), lambda m, x: x.floor_divide(-0.7),
    lambda m, x: x.remainder(0.9),
], ids=["rmod", "mod", "mod-negative", "rfloordiv", "floordiv", "remainder", "lerp",
        "div-trunc", "floor_divide-method", "remainder-method"])
def test_python_numbers_equal_pytorch(fn):
    x = np.array([-3.7, -1.2, 0.0, 0.6, 2.2, 5.0], dtype=np.float32)
    got, expected = fn(mg, mg.tensor(x)), fn(torch, torch.tensor(x))
    assert got.dtype == np.float32
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["atan2", "logaddexp"])
def test_python_numbers_in_atan2_and_logaddexp(name):
    # PyTorch takes tensors only; a number here acts as a 0-d tensor there
    x = np.array([-3.7, -1.2, 0.0, 0.6, 2.2, 5.0], dtype=np.float32)
    for args in ((x, 0.5), (-2.0, x)):
        got = getattr(mg, name)(*(mg.tensor(a) if isinstance(a, np.ndarray) else a
                                  for a in args))
        expected = getattr(torch, name)(*(torch.tensor(a) if isinstance(a, np.ndarray)
                                          else torch.tensor(a) for a in args))
        assert got.dtype == np.float32
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


@FLOATS
@pytest.mark.parametrize("weight", ["scalar-small", "scalar-large", "tensor"])
def test_lerp_equals_pytorch(dtype, weight):
    rng = np.random.default_rng(5)
    start, end = rng.standard_normal((3, 1)).astype(dtype), rng.standard_normal(4).astype(dtype)
    if weight == "tensor":
        w = np.array([-0.5, 0.25, 0.5, 1.0], dtype=dtype)
        against_torch(mg.lerp, torch.lerp, [start, end, w])
    else:
        w = 0.3 if weight == "scalar-small" else 0.9
        against_torch(lambda a, b: mg.lerp(a, b, w), lambda a, b: torch.lerp(a, b, w),
                      [start, end])


def test_lerp_at_weight_one_is_the_end_exactly():
    start, end = mg.tensor([1e8, -3.3]), mg.tensor([1e-3, 7.1])
    np.testing.assert_array_equal(mg.lerp(start, end, 1.0).numpy(), end.numpy())
    np.testing.assert_array_equal(start.lerp(end, 0.0).numpy(), start.numpy())


@FLOATS
@pytest.mark.parametrize("options", [{}, {"equal_nan": True}, {"rtol": 0.1, "atol": 0.0},
                                     {"rtol": 0.0, "atol": 0.0}, {"atol": 1.5}])
def test_isclose_and_allclose_equal_pytorch(dtype, options):
    a, b = _pair(dtype)
    b = np.concatenate([b, a.T + a.T * 1e-6, a.T * 1.05], axis=1)
    got = mg.isclose(mg.tensor(a), mg.tensor(b), **options)
    expected = torch.isclose(torch.tensor(a), torch.tensor(b), **options)
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    for x, y in ((a[:3, :1], a[:3, :1] * (1 + 1e-7)), (a, b)):
        result = mg.allclose(mg.tensor(x), mg.tensor(y), **options)
        assert type(result) is bool
        assert result == torch.allclose(torch.tensor(x), torch.tensor(y), **options)


def test_isclose_on_integers_equals_pytorch():
    a, b = np.array([1, 2, 100, -5]), np.array([1, 3, 101, -5])
    for options in ({}, {"atol": 1}, {"rtol": 0.01}):
        np.testing.assert_array_equal(mg.isclose(mg.tensor(a), mg.tensor(b), **options).numpy(),
                                      torch.isclose(torch.tensor(a), torch.tensor(b),
                                                    **options).numpy())


@pytest.mark.parametrize("name", ["logical_and", "logical_or", "logical_xor"])
def test_logical_ops_equal_pytorch(name):
    a = np.array([[0.0], [1.0], [-2.0], [NAN]])
    b = np.array([0, 3, 0, 1])
    got = getattr(mg, name)(mg.tensor(a), mg.tensor(b))
    expected = getattr(torch, name)(torch.tensor(a), torch.tensor(b))
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got.numpy(), expected.numpy())
    np.testing.assert_array_equal(getattr(mg.tensor(a), name)(mg.tensor(b)).numpy(),
                                  expected.numpy())


# --------------------------------------------------------------------------- dtypes

FLOATING = ["sin", "cos", "tan", "sinh", "cosh", "asin", "acos", "atan", "log1p", "expm1",
            "log2", "log10", "exp2", "rsqrt", "reciprocal", "erf"]


@pytest.mark.parametrize("name", FLOATING)
def test_integers_give_the_default_float_dtype(name):
    ints = np.array([0, 1, 2, -1])
    with np.errstate(all="ignore"):
        got = getattr(mg, name)(mg.tensor(ints))
    expected = getattr(torch, name)(torch.tensor(ints))
    assert got.dtype == np.float32 and expected.dtype == torch.float32
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6)


@pytest.mark.parametrize("name", FLOATING + ["square", "frac", "floor", "round", "erf"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floats_keep_their_dtype(name, dtype):
    x = leaf([0.3, 0.7]).astype(dtype) if dtype == np.float64 else mg.tensor([0.3, 0.7])
    y = getattr(x, name)()
    assert y.dtype == dtype


def test_rounding_keeps_integers_and_square_keeps_them_integer():
    ints = mg.tensor([3, -4])
    for name in ("floor", "ceil", "round", "trunc"):
        out = getattr(mg, name)(ints)
        assert out.dtype == np.int64 and out.tolist() == [3, -4]
    assert mg.square(ints).dtype == np.int64 and mg.square(ints).tolist() == [9, 16]
    assert mg.square(mg.tensor([True, False])).dtype == np.int64


def test_mixed_integer_and_float_operands_give_the_float_dtype():
    ints = mg.tensor([5, -7])
    assert (ints % 2.5).dtype == np.float32 and (ints // 2.0).dtype == np.float32
    assert (ints % mg.tensor([2.0, 3.0])).dtype == np.float32
    assert mg.atan2(ints, ints).dtype == np.float32
    assert (ints % 2).dtype == np.int64
    assert mg.div(ints, 2, rounding_mode="floor").dtype == np.int64
    np.testing.assert_array_equal((ints % 2.5).numpy(),
                                  (torch.tensor([5, -7]) % 2.5).numpy())


# --------------------------------------------------------------------------- edges, errors

def test_gradients_at_the_edges_equal_pytorch():
    def grads(module, name, values, *extra):
        x = module.tensor(values, requires_grad=True)
        with np.errstate(all="ignore"):
            out = getattr(module, name)(x, *extra)
        out.sum().backward()
        return np.asarray(x.grad.numpy() if module is mg else x.grad.detach().numpy())

    for name, values in (("rsqrt", [0.0]), ("asin", [1.0, -1.0]), ("acos", [1.0, -1.0]),
                         ("log1p", [-1.0]), ("reciprocal", [0.0]), ("log2", [0.0])):
        np.testing.assert_array_equal(grads(mg, name, values), grads(torch, name, values),
                                      err_msg=name)
    # atan2 at the origin: zero gradients (not 0/0)
    y, x = leaf([0.0]), leaf([0.0])
    mg.atan2(y, x).sum().backward()
    assert y.grad.tolist() == [0.0] and x.grad.tolist() == [0.0]


def test_logaddexp_of_infinities_equals_pytorch():
    a = [-INF, INF, -INF, 3.0]
    b = [-INF, INF, 2.0, INF]
    got = mg.logaddexp(mg.tensor(a), mg.tensor(b))
    np.testing.assert_array_equal(got.numpy(), torch.logaddexp(torch.tensor(a),
                                                               torch.tensor(b)).numpy())


@pytest.mark.parametrize("call, error, match", [
    (lambda: mg.div(mg.tensor([1.0]), 2.0, rounding_mode="round"), ValueError,
     "div: rounding_mode must be None, 'trunc' or 'floor'"),
    (lambda: mg.isclose(mg.tensor([1.0]), mg.tensor([1.0]), rtol=-1), ValueError,
     "isclose: rtol must be >= 0"),
    (lambda: mg.isclose(mg.tensor([1.0]), mg.tensor([1.0]), atol=-1e-3), ValueError,
     "isclose: atol must be >= 0"),
    (lambda: mg.isclose(mg.tensor([1]), mg.tensor([1.0])), TypeError,
     "isclose: input and other must have the same dtype"),
    (lambda: mg.lerp(mg.tensor([1.0]), mg.tensor([1.0], dtype=mg.float64), 0.5), TypeError,
     "lerp: end must have input's dtype"),
    (lambda: mg.lerp(mg.tensor([1]), mg.tensor([2]), 0.5), TypeError,
     "lerp: expected floating tensors"),
    (lambda: mg.lerp(mg.tensor([1.0]), mg.tensor([2.0]), "half"), TypeError,
     "lerp: weight must be a float or a Tensor"),
    (lambda: mg.lerp(mg.tensor([1.0, 2.0]), mg.tensor([1.0, 2.0, 3.0]), 0.5), ValueError,
     "lerp: shapes"),
    (lambda: mg.tan([1.0, 2.0]), TypeError, "tan: input must be a Tensor, got list"),
    (lambda: mg.round(mg.tensor([1.5]), decimals=1.5), TypeError,
     "round: decimals must be an int"),
    (lambda: mg.round(mg.tensor([1]), decimals=1), TypeError, "round: decimals=1 needs a "
     "floating tensor"),
    (lambda: mg.frac(mg.tensor([1])), TypeError, "frac: expected a floating tensor"),
    (lambda: mg.atan2(1.0, 2.0), TypeError, "atan2: at least one operand must be a Tensor"),
    (lambda: mg.tensor([1.0, 2.0]) % mg.tensor([1.0, 2.0, 3.0]), ValueError,
     r"remainder: shapes \(2,\) and \(3,\) do not broadcast"),
    (lambda: mg.logical_or(mg.tensor([1.0, 2.0]), mg.tensor([1.0, 2.0, 3.0])), ValueError,
     "logical_or: shapes"),
])
def test_bad_arguments_are_named(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_every_op_is_a_tensor_method_too():
    x = mg.tensor([0.25, 0.5])
    for name in ("tan", "sinh", "cosh", "asin", "acos", "atan", "log1p", "expm1", "log2",
                 "log10", "exp2", "rsqrt", "reciprocal", "square", "floor", "ceil", "round",
                 "trunc", "frac", "erf", "isnan", "isinf", "isfinite", "logical_not"):
        np.testing.assert_array_equal(getattr(x, name)().numpy(), getattr(mg, name)(x).numpy())
    for name in ("atan2", "logaddexp", "remainder", "floor_divide", "div", "isclose",
                 "logical_and", "logical_or", "logical_xor"):
        np.testing.assert_array_equal(getattr(x, name)(x).numpy(), getattr(mg, name)(x, x).numpy())
    assert x.allclose(x) is True
    assert x.lerp(x * 2, 0.5).tolist() == mg.lerp(x, x * 2, 0.5).tolist()


def test_second_derivatives_flow_through_the_backward_rules():
    x = leaf([0.3, -0.1, 0.8])          # t * 0.5 + 0.1 > 0: rsqrt is real there
    for fn in (mg.tan, mg.asin, mg.erf, mg.rsqrt, lambda t: mg.logaddexp(t, t * t),
               lambda t: mg.atan2(t, t * t + 1), lambda t: mg.lerp(t, t * t, t)):
        def first(t, fn=fn):
            with mg.enable_grad():      # gradcheck evaluates fn under no_grad
                (g,) = mg.grad(fn(t * 0.5 + 0.1).sum(), t, create_graph=True)
            return g
        assert mg.gradcheck(first, [x])


def test_sign_of_nan_and_the_gradient_of_abs_there_equal_pytorch():
    values = [NAN, -0.0, 0.0, -2.0, INF]
    x, t = leaf(values), torch.tensor(values, dtype=torch.float64, requires_grad=True)
    np.testing.assert_array_equal(mg.sign(x).numpy(), torch.sign(t).detach().numpy())
    mg.abs(x).sum().backward()
    torch.abs(t).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_erf_without_scipy_is_the_c_librarys(monkeypatch):
    """SciPy is optional: without it erf is math.erf on each element (0-d included)."""
    import math
    import sys
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    values = np.linspace(-6.0, 6.0, 25)
    for dtype in (mg.float32, mg.float64):
        out = mg.erf(mg.tensor(values, dtype=dtype))
        assert out.dtype == dtype
        np.testing.assert_array_equal(out.numpy(),
                                      np.array([math.erf(v) for v in values], dtype))
    assert mg.erf(mg.tensor(0.5, dtype=mg.float64)).item() == math.erf(0.5)
