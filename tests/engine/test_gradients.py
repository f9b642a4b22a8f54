"""Every op's backward rule against float64 central differences (``mg.gradcheck``),
over all of its inputs, on NumPy and on the device stand-in.

Hypothesis draws the shapes (broadcastable pairs, axes, index patterns); the values come
from a drawn seed and are kept away from the points where an op is not differentiable
(abs and relu at 0, ties of max/min, the bounds of clip, log and sqrt of non-positives).
"""
import operator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg

pytestmark = pytest.mark.usefixtures("engine_backend")

# Small examples, no deadline (gradcheck's time grows with the input's size), the same
# examples on every run; the backend fixture is set once per test, not per example.
FAST = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

seeds = st.integers(0, 2**16)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
nonempty_shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def values(shape, seed, low=None, gap=0.0):
    """float64 normal samples; with ``low``, shifted to be ``>= low``; with ``gap``,
    moved at least ``gap`` away from 0."""
    x = np.random.default_rng(seed).standard_normal(shape)
    if gap:
        x = np.where(x >= 0, x + gap, x - gap)
    if low is not None:
        x = np.abs(x) + low
    return x


def distinct(shape, seed):
    """float64 values with no ties (for max, min), spaced 0.5 apart plus noise."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape, dtype=int))
    return (rng.permutation(size) * 0.5 + rng.uniform(0, 0.1, size) - size / 4).reshape(shape)


def leaf(array, name=None):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True, name=name)


def check(fn, *arrays):
    inputs = [leaf(a) for a in arrays]
    assert mg.gradcheck(fn, inputs)


@st.composite
def axes_for(draw, ndim, allow_none=True):
    """None, an int, or a tuple of distinct axes, negatives included."""
    kinds = ["int", "tuple"] + (["none"] if allow_none else [])
    kind = draw(st.sampled_from(kinds)) if ndim else "none"
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    chosen = draw(st.lists(st.integers(0, ndim - 1), unique=True, min_size=1, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in chosen)


# --------------------------------------------------------------------------- arithmetic

BINARY = {
    "add": (operator.add, {}),
    "sub": (operator.sub, {}),
    "mul": (operator.mul, {}),
    "div": (operator.truediv, {"b": {"gap": 0.5}}),
    "pow": (operator.pow, {"a": {"low": 0.5}}),
}


@FAST
@given(st.sampled_from(sorted(BINARY)),
       hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
       seeds)
def test_binary_ops_with_broadcasting(name, shapes, seed):
    op, ranges = BINARY[name]
    a = values(shapes.input_shapes[0], seed, **ranges.get("a", {}))
    b = values(shapes.input_shapes[1], seed + 1, **ranges.get("b", {}))
    check(op, a, b)


@pytest.mark.parametrize("fn", [
    lambda x: x + 2.5, lambda x: 2.5 + x, lambda x: x - 1.5, lambda x: 1.5 - x,
    lambda x: x * -2.0, lambda x: 3 * x, lambda x: x / 2.0, lambda x: 2.0 / x,
    lambda x: x ** 2, lambda x: x ** 0.5, lambda x: x ** -1.5, lambda x: 2.0 ** x,
    lambda x: -x, lambda x: x + x * x,
], ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv", "pow2", "sqrt-pow",
        "negative-pow", "rpow", "neg", "reuse"])
def test_python_scalars_on_either_side(fn):
    check(fn, values((2, 3), 0, low=0.5))


@pytest.mark.parametrize("fn", [
    lambda x, c: x + c, lambda x, c: c + x, lambda x, c: c - x, lambda x, c: x * c,
    lambda x, c: c * x, lambda x, c: c / x, lambda x, c: x ** c, lambda x, c: c ** x,
    lambda x, c: c @ x.reshape(3, 2),
], ids=["add", "radd", "rsub", "mul", "rmul", "rdiv", "pow", "rpow", "rmatmul"])
def test_numpy_arrays_on_either_side(fn):
    constant = np.abs(values((3,), 1)) + 0.5
    check(lambda x: fn(x, constant), values((2, 3), 0, low=0.5))


# --------------------------------------------------------------------------- elementwise

UNARY = {
    "exp": {},
    "log": {"low": 0.1},
    "sqrt": {"low": 0.1},
    "abs": {"gap": 0.1},
    "tanh": {},
    "sigmoid": {},
    "relu": {"gap": 0.1},
    "sin": {},
    "cos": {},
}


@FAST
@given(st.sampled_from(sorted(UNARY)), shapes, seeds, st.booleans())
def test_unary_ops(name, shape, seed, as_method):
    fn = (lambda x: getattr(x, name)()) if as_method else getattr(mg, name)
    check(fn, values(shape, seed, **UNARY[name]))


def test_builtin_abs():
    check(abs, values((4,), 0, gap=0.1))


def test_sign_has_a_zero_gradient():
    x = leaf(values((2, 3), 1, gap=0.1))
    (mg.sign(x) * x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.sign(x.numpy()))


def test_astype_casts_the_gradient_back():
    x = leaf(values((3,), 2))
    y = x.astype(mg.float32)
    assert y.dtype == np.float32
    (y * y).sum().backward()
    assert x.grad.dtype == np.float64
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.numpy(), rtol=1e-6)


def _separated(a, b, gap=0.05):
    """Push b away from a wherever they are closer than ``gap`` (no ties to split)."""
    a_b, b_b = np.broadcast_arrays(a, b)
    if b_b.shape != b.shape:
        return b
    return np.where(np.abs(a_b - b) < gap, b + 2 * gap, b)


@FAST
@given(st.sampled_from(["maximum", "minimum"]),
       hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
       seeds)
def test_maximum_minimum(name, shapes, seed):
    a = values(shapes.input_shapes[0], seed)
    b = _separated(a, values(shapes.input_shapes[1], seed + 1))
    check(getattr(mg, name), a, b)


@pytest.mark.parametrize("fn", [
    lambda x: mg.maximum(x, 0.3), lambda x: mg.maximum(0.3, x),
    lambda x: mg.minimum(x, -0.2), lambda x: mg.minimum(-0.2, x),
])
def test_maximum_minimum_with_scalars(fn):
    x = values((3, 4), 2)
    x = np.where(np.abs(x - 0.3) < 0.05, x + 0.1, x)
    x = np.where(np.abs(x + 0.2) < 0.05, x + 0.1, x)
    check(fn, x)


@FAST
@given(shapes, seeds, st.sampled_from([(-0.5, 0.5), (None, 0.25), (-0.25, None), (0.0, 1.0)]),
       st.booleans())
def test_clip(shape, seed, bounds, as_method):
    lo, hi = bounds
    x = np.random.default_rng(seed).uniform(-1.5, 1.5, shape)
    for bound in (lo, hi):
        if bound is not None:
            x = np.where(np.abs(x - bound) < 0.05, x + 0.1, x)
    fn = (lambda t: t.clip(lo, hi)) if as_method else (lambda t: mg.clip(t, lo, hi))
    check(fn, x)


@FAST
@given(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4),
       seeds, st.booleans())
def test_where_broadcasting(shapes, seed, condition_as_tensor):
    cond_shape, a_shape, b_shape = shapes.input_shapes
    condition = np.random.default_rng(seed).random(cond_shape) > 0.5

    def fn(a, b):
        cond = mg.tensor(condition) if condition_as_tensor else condition
        return mg.where(cond, a, b)
    check(fn, values(a_shape, seed), values(b_shape, seed + 1))


@pytest.mark.parametrize("fn", [
    lambda x: mg.where(x > 0, x, 0.0), lambda x: mg.where(x > 0, 1.0, x * x),
    lambda x: mg.where([True, False, True], x, -x),
])
def test_where_with_scalars_and_lists(fn):
    check(fn, values((2, 3), 3, gap=0.1))


# --------------------------------------------------------------------------- reductions

@st.composite
def shape_and_axes(draw, allow_none=True):
    shape = draw(nonempty_shapes)
    return shape, draw(axes_for(len(shape), allow_none))


@FAST
@given(st.sampled_from(["sum", "mean", "var", "max", "min"]), shape_and_axes(), st.booleans(),
       st.booleans(), seeds)
def test_reductions(name, shape_axes, keepdims, as_method, seed):
    shape, axis = shape_axes
    x = distinct(shape, seed) if name in ("max", "min") else values(shape, seed)
    # var's default correction is NaN over one element; tests/engine/test_reduction_ops.py
    # checks it where it is finite
    extra = {"correction": 0} if name == "var" else {}
    if as_method:
        fn = lambda t: getattr(t, name)(axis=axis, keepdims=keepdims, **extra)
    else:
        fn = lambda t: getattr(mg, name)(t, axis, keepdims, **extra)
    check(fn, x)


def test_reductions_of_a_scalar_tensor():
    for name in ("sum", "mean", "max", "min"):
        check(lambda t: getattr(t, name)(), np.float64(0.7))
    check(lambda t: t.var(correction=0), np.float64(0.7))


@FAST
@given(st.sampled_from(["logsumexp", "softmax", "log_softmax"]), shape_and_axes(False),
       st.booleans(), seeds)
def test_logsumexp_family(name, shape_axes, keepdims, seed):
    shape, axis = shape_axes
    kwargs = {"keepdims": keepdims} if name == "logsumexp" else {}
    check(lambda t: getattr(mg, name)(t, axis=axis, **kwargs), values(shape, seed) * 3)


@pytest.mark.parametrize("name", ["logsumexp", "softmax", "log_softmax"])
def test_logsumexp_family_default_axis_and_method(name):
    check(lambda t: getattr(t, name)(), values((3, 4), 4))


# --------------------------------------------------------------------------- shapes

@FAST
@given(nonempty_shapes, seeds, st.sampled_from(["flat", "reversed", "lead-one", "ints"]))
def test_reshape(shape, seed, target):
    new_shape = {"flat": (-1,), "reversed": tuple(reversed(shape)),
                 "lead-one": (1,) + shape, "ints": shape[::-1]}[target]
    if target == "ints":
        fn = lambda t: t.reshape(*new_shape)
    else:
        fn = lambda t: mg.reshape(t, new_shape)
    check(fn, values(shape, seed))


@FAST
@given(nonempty_shapes.flatmap(lambda s: st.tuples(st.just(s),
                                                   st.permutations(range(len(s))))),
       seeds, st.sampled_from(["tuple", "ints", "negative", "none", "T", "function"]))
def test_transpose(shape_perm, seed, form):
    shape, perm = shape_perm
    ndim = len(shape)
    fn = {
        "tuple": lambda t: t.transpose(tuple(perm)),
        "ints": lambda t: t.transpose(*perm),
        "negative": lambda t: t.transpose(*[a - ndim for a in perm]),
        "none": lambda t: t.transpose(),
        "T": lambda t: t.T,
        "function": lambda t: mg.transpose(t, *perm),
    }[form]
    check(fn, values(shape, seed))


@FAST
@given(hnp.mutually_broadcastable_shapes(num_shapes=1, min_dims=0, max_dims=3, max_side=4),
       seeds, st.booleans())
def test_broadcast_to(shapes, seed, as_method):
    target = shapes.result_shape
    fn = (lambda t: t.broadcast_to(target)) if as_method else \
        (lambda t: mg.broadcast_to(t, *target))
    check(fn, values(shapes.input_shapes[0], seed))


@FAST
@given(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3), seeds, st.data())
def test_squeeze_unsqueeze(shape, seed, data):
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = None
    if ones and data.draw(st.booleans()):
        chosen = data.draw(st.lists(st.sampled_from(ones), unique=True, min_size=1))
        axis = chosen[0] - len(shape) if len(chosen) == 1 else tuple(chosen)
    new_axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    check(lambda t: t.squeeze(axis), values(shape, seed))
    check(lambda t: mg.squeeze(t, axis), values(shape, seed))
    check(lambda t: t.unsqueeze(new_axis), values(shape, seed))
    check(lambda t: mg.unsqueeze(t, new_axis), values(shape, seed))


# --------------------------------------------------------------------------- indexing

@FAST
@given(nonempty_shapes.flatmap(lambda s: st.tuples(
    st.just(s), hnp.basic_indices(s, min_dims=0, allow_newaxis=True, allow_ellipsis=True))),
    seeds)
def test_basic_indexing(shape_index, seed):
    shape, index = shape_index
    check(lambda t: t[index], values(shape, seed))


@FAST
@given(nonempty_shapes.flatmap(lambda s: st.tuples(
    st.just(s), hnp.integer_array_indices(s, result_shape=hnp.array_shapes(max_dims=2,
                                                                            max_side=5)))),
    seeds, st.sampled_from(["host", "list", "tensor"]))
def test_integer_array_indexing(shape_index, seed, form):
    shape, index = shape_index
    if form == "list":
        index = tuple(i.tolist() for i in index)
    elif form == "tensor":
        index = tuple(mg.tensor(i) for i in index)
    check(lambda t: t[index], values(shape, seed))


@pytest.mark.parametrize("index", [
    [0, 0, 2, 0], ([1, 1, 0], [2, 2, 2]), (slice(None), [3, 0, 3]), (Ellipsis, [1, 1]),
    (slice(None, None, -1), [0, 0]), (None, [2, 2], slice(1, None)), -1, (1, -2),
], ids=["repeated", "pairs", "slice-then-array", "ellipsis-array", "reversed-array",
        "newaxis-array", "negative-int", "ints"])
def test_mixed_indexing_repeated_indices_accumulate(index):
    check(lambda t: t[index], values((3, 4), 5))


@FAST
@given(nonempty_shapes, seeds, st.data())
def test_boolean_mask_indexing(shape, seed, data):
    prefix = data.draw(st.integers(1, len(shape)))
    mask = np.random.default_rng(seed).random(shape[:prefix]) > 0.4
    form = data.draw(st.sampled_from(["host", "tensor"]))
    index = mg.tensor(mask) if form == "tensor" else mask
    check(lambda t: t[index], values(shape, seed))


def test_mask_from_a_comparison():
    check(lambda t: t[t > 0] * 2, values((3, 4), 6, gap=0.1))


# --------------------------------------------------------------------------- join, split

@FAST
@given(nonempty_shapes, st.lists(st.integers(1, 3), min_size=1, max_size=3), seeds, st.data())
def test_concat(shape, lengths, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    parts = []
    for i, n in enumerate(lengths):
        part_shape = list(shape)
        part_shape[axis] = n
        parts.append(values(tuple(part_shape), seed + i))
    check(lambda *ts: mg.concat(ts, axis=axis), *parts)


@FAST
@given(shapes, st.integers(1, 3), seeds, st.data())
def test_stack(shape, count, seed, data):
    axis = data.draw(st.integers(-len(shape) - 1, len(shape)))
    parts = [values(shape, seed + i) for i in range(count)]
    check(lambda *ts: mg.stack(ts, axis=axis), *parts)


@FAST
@given(nonempty_shapes, seeds, st.data())
def test_unbind(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    check(lambda t: mg.unbind(t, axis=axis), values(shape, seed))
    # the gradient of an unused slice is zeros
    check(lambda t: mg.unbind(t, axis=axis)[0] * 2.0, values(shape, seed))


@FAST
@given(nonempty_shapes, seeds, st.data())
def test_split(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    length = shape[axis]
    divisors = [n for n in range(1, length + 1) if length % n == 0]
    if data.draw(st.booleans()):
        how = data.draw(st.sampled_from(divisors))
    else:
        how = sorted(data.draw(st.lists(st.integers(0, length), max_size=3)))
    check(lambda t: mg.split(t, how, axis=axis), values(shape, seed))


@FAST
@given(nonempty_shapes, st.integers(1, 5), seeds, st.data())
def test_chunk(shape, chunks, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    check(lambda t: t.chunk(chunks, axis), values(shape, seed))
    check(lambda t: mg.chunk(t, chunks, axis=axis), values(shape, seed))


# --------------------------------------------------------------------------- matmul

@FAST
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=2, max_side=3),
       st.integers(1, 4), st.integers(1, 4), st.integers(1, 4),
       st.sampled_from(["2d", "a-1d", "b-1d", "both-1d"]), seeds, st.booleans())
def test_matmul(batch, n, k, m, form, seed, use_function):
    a_shape = batch.input_shapes[0] + (n, k)
    b_shape = batch.input_shapes[1] + (k, m)
    if form in ("a-1d", "both-1d"):
        a_shape = (k,)
    if form in ("b-1d", "both-1d"):
        b_shape = (k,)
    fn = mg.matmul if use_function else operator.matmul
    check(fn, values(a_shape, seed), values(b_shape, seed + 1))


# --------------------------------------------------------------------------- moves

def test_to_another_backend_and_back():
    other = "numpy" if mg.get_backend() == "standin" else "standin"
    here = mg.get_backend()
    check(lambda x: (x.to(other) * 3.0).exp(), values((2, 3), 7))
    check(lambda x, y: x.to(other).to(here) * y, values((2, 3), 8), values((3,), 9))


def test_to_the_same_backend_is_identity():
    check(lambda x: x.to(mg.get_backend()) * 2, values((2,), 10))


def test_relu_derivative_op():
    # relu's backward is an op of its own (so fused code can run it); its derivative in
    # the incoming gradient is itself, in x zero
    from minigrad.ops.elementwise import relu_derivative
    grad = leaf(np.linspace(-1.5, 2.0, 6).reshape(2, 3))
    x = leaf([[-0.9, 0.4, 1.2], [0.3, -0.2, -1.1]])
    assert mg.gradcheck(relu_derivative, [grad, x])
    (d1,) = mg.grad((mg.relu(x) ** 2).sum(), x, create_graph=True)
    (d2,) = mg.grad(d1.sum(), x)
    np.testing.assert_array_equal(d2.numpy(), 2.0 * (x.numpy() > 0))


@pytest.mark.parametrize("name", ["tanh_derivative", "sigmoid_derivative"])
def test_fused_derivative_ops_over_both_inputs(name):
    # tanh's and sigmoid's backward rules are ops of their own; differentiable in both
    # the incoming gradient and the saved output, so third derivatives work too
    from minigrad.ops import elementwise
    op = getattr(elementwise, name)
    grad = mg.tensor(np.linspace(-1.5, 2.0, 6).reshape(2, 3), requires_grad=True)
    out = mg.tensor(np.linspace(-0.9, 0.8, 6).reshape(2, 3), requires_grad=True)
    assert mg.gradcheck(op, [grad, out])
    x = mg.tensor(np.array([0.3, -1.2]), requires_grad=True)
    f = (lambda v: v.tanh()) if name.startswith("tanh") else (lambda v: v.sigmoid())
    (d1,) = mg.grad(f(x).sum(), x, create_graph=True)
    (d2,) = mg.grad(d1.sum(), x, create_graph=True)
    (d3,) = mg.grad(d2.sum(), x)
    t = np.tanh(x.numpy()) if name.startswith("tanh") else 1 / (1 + np.exp(-x.numpy()))
    expected = (-2 + 6 * t ** 2) * (1 - t ** 2) if name.startswith("tanh") \
        else t * (1 - t) * (1 - 6 * t + 6 * t ** 2)
    np.testing.assert_allclose(d3.numpy(), expected, rtol=1e-10)


# PyTorch's spellings: each is built from ops checked above; these pin that the
# spellings reach them with the right arguments.
TORCH_SPELLINGS = {
    "view": (lambda x: x.view(4, -1), (2, 3, 2)),
    "flatten": (lambda x: x.flatten(0, 1), (2, 3, 2)),
    "permute": (lambda x: x.permute(1, 2, 0), (2, 3, 2)),
    "swapaxes": (lambda x: x.swapaxes(0, 2), (2, 3, 2)),
    "expand": (lambda x: x.expand(3, -1, 4), (2, 1)),
    "clone": (lambda x: x.clone() * x, (2, 3)),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), (2, 3)),
    "sum_dim": (lambda x: x.sum(dim=1, keepdim=True), (2, 3, 2)),
    "softmax_dim": (lambda x: x.softmax(dim=0), (3, 2)),
    "cat": (lambda x: mg.cat([x, x * x], dim=-1), (2, 3)),
    "to_float32_and_back": (lambda x: x.to(mg.float64) * x, (3,)),
}


@pytest.mark.parametrize("name", sorted(TORCH_SPELLINGS))
def test_gradcheck_torch_spellings(name):
    fn, shape = TORCH_SPELLINGS[name]
    data = np.random.default_rng(3).standard_normal(shape)
    data[np.abs(np.abs(data) - 0.5) < 0.05] += 0.2          # away from clamp's bounds
    assert mg.gradcheck(fn, [mg.tensor(data, requires_grad=True)])
