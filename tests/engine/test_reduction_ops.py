"""The reductions and scans of issue 14 (argmax/argmin, std/var with a correction, prod,
cumsum, cumprod, logcumsumexp, cummax/cummin, any/all, amax/amin, max/min with dim=, norm,
sum(dtype=)), and the edge values of the older ones, each against PyTorch: values,
dtypes and gradients; plus float64 gradchecks over hypothesis-drawn shapes.
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg

pytestmark = pytest.mark.usefixtures("engine_backend")

FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
seeds = st.integers(0, 2**16)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)


def normal(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def distinct(shape, seed):
    """Values without ties, 0.5 apart plus noise, in random order."""
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape, dtype=int))
    return (rng.permutation(size) * 0.5 + rng.uniform(0, 0.1, size) - size / 4).reshape(shape)


def with_zeros(shape, seed):
    """Normal values with about a third of them exactly zero."""
    rng = np.random.default_rng(seed)
    return np.where(rng.uniform(size=shape) < 0.35, 0.0, rng.standard_normal(shape))


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check(fn, *arrays):
    assert mg.gradcheck(fn, [leaf(a) for a in arrays])


@st.composite
def shape_and_axis(draw, allow_none=False):
    shape = draw(shapes)
    choices = list(range(-len(shape), len(shape))) + ([None] if allow_none else [])
    return shape, draw(st.sampled_from(choices))


@st.composite
def shape_and_axes(draw):
    shape = draw(shapes)
    kind = draw(st.sampled_from(["none", "int", "tuple"]))
    if kind == "none":
        return shape, None
    if kind == "int":
        return shape, draw(st.integers(-len(shape), len(shape) - 1))
    return shape, tuple(draw(st.lists(st.integers(0, len(shape) - 1), unique=True,
                                      min_size=1)))


def count(shape, axes):
    if axes is None:
        return int(np.prod(shape))
    axes = (axes,) if isinstance(axes, int) else axes
    return int(np.prod([shape[a] for a in axes]))


def assert_like_torch(ours, theirs, *arrays, rtol=1e-7, atol=1e-9):
    """``ours(*tensors)`` and ``theirs(*torch tensors)`` agree in shape, dtype, values
    and (for floating results) every input's gradient, under fixed random weights."""
    xs = [leaf(a) for a in arrays]
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out, expected = ours(*xs), theirs(*ts)
    pairs = list(zip(out, expected)) if isinstance(out, tuple) else [(out, expected)]
    loss, torch_loss = 0.0, 0.0
    for k, (o, e) in enumerate(pairs):
        assert o.shape == tuple(e.shape), f"output {k}: shape {o.shape}, torch {e.shape}"
        assert o.dtype == np.dtype(str(e.dtype).replace("torch.", "")), \
            f"output {k}: dtype {o.dtype}, torch {e.dtype}"
        np.testing.assert_allclose(o.numpy(), e.detach().numpy(), rtol=rtol, atol=atol,
                                   err_msg=f"output {k}")
        if o.dtype.kind == "f" and o.requires_grad:
            w = np.random.default_rng(k).standard_normal(o.shape)
            loss = loss + (o * mg.tensor(w)).sum()
            torch_loss = torch_loss + (e * torch.tensor(w)).sum()
    if isinstance(loss, mg.Tensor):
        loss.backward()
        torch_loss.backward()
        for k, (x, t) in enumerate(zip(xs, ts)):
            expected_grad = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
            got = np.zeros(x.shape) if x.grad is None else x.grad.numpy()
            np.testing.assert_allclose(got, expected_grad, rtol=1e-6, atol=1e-9,
                                       err_msg=f"gradient of input {k}")


# --------------------------------------------------------------------------- gradchecks

@FAST
@given(shape_and_axes(), st.sampled_from([0, 1, 2]), st.booleans(),
       st.sampled_from(["var", "std"]), seeds)
def test_var_std_gradcheck(shape_axes, correction, keepdims, name, seed):
    shape, axes = shape_axes
    assume(count(shape, axes) > correction)
    check(lambda x: getattr(x, name)(axes, keepdims, correction=correction),
          normal(shape, seed))


@FAST
@given(shape_and_axes(), st.booleans(), seeds)
def test_prod_gradcheck_with_zeros(shape_axes, keepdims, seed):
    shape, axes = shape_axes
    # a product is linear in each element, so central differences are exact at zeros
    check(lambda x: mg.prod(x, axes, keepdims), with_zeros(shape, seed))


@FAST
@given(shape_and_axis(), st.sampled_from(["cumsum", "cumprod", "logcumsumexp"]), seeds)
def test_scans_gradcheck(shape_axis, name, seed):
    shape, axis = shape_axis
    x = with_zeros(shape, seed) if name == "cumprod" else normal(shape, seed) * 3
    check(lambda t: getattr(mg, name)(t, axis), x)


@FAST
@given(shape_and_axis(), st.sampled_from(["cummax", "cummin"]), seeds)
def test_cummax_cummin_gradcheck(shape_axis, name, seed):
    shape, axis = shape_axis
    check(lambda t: getattr(t, name)(dim=axis).values, distinct(shape, seed))


@FAST
@given(shape_and_axes(), st.booleans(), st.sampled_from(["amax", "amin"]), seeds)
def test_amax_amin_gradcheck(shape_axes, keepdims, name, seed):
    shape, axes = shape_axes
    check(lambda t: getattr(mg, name)(t, axes, keepdims), distinct(shape, seed))


@FAST
@given(shape_and_axis(), st.booleans(), st.sampled_from(["max", "min"]), seeds)
def test_max_min_with_dim_gradcheck(shape_axis, keepdim, name, seed):
    shape, axis = shape_axis
    check(lambda t: getattr(t, name)(dim=axis, keepdim=keepdim).values, distinct(shape, seed))


@FAST
@given(shape_and_axes(), st.booleans(),
       st.sampled_from([2, "fro", 1, 3, 1.5, math.inf, -math.inf]), seeds)
def test_norm_gradcheck(shape_axes, keepdims, p, seed):
    shape, axes = shape_axes
    x = normal(shape, seed)
    x = np.where(x >= 0, x + 0.1, x - 0.1)              # away from |x|'s kink
    if p in (math.inf, -math.inf):
        x = distinct(shape, seed) + 0.05                # no ties of |x|
    check(lambda t: mg.norm(t, p, axes, keepdims), x)


@FAST
@given(shape_and_axes(), st.booleans(), seeds)
def test_sum_with_dtype_gradcheck(shape_axes, keepdims, seed):
    shape, axes = shape_axes
    check(lambda t: t.sum(axes, keepdims, dtype=mg.float64) * 2.0, normal(shape, seed))


@pytest.mark.parametrize("op", ["cumprod", "prod", "logcumsumexp", "cumsum"])
def test_second_derivatives_like_torch(op):
    data = np.array([[0.5, -1.5, 2.0, 0.7], [1.2, 0.3, -0.8, 2.5]])
    ours = {"prod": lambda t: mg.prod(t, 1)}.get(op, lambda t: getattr(mg, op)(t, 1))
    theirs = {"prod": lambda t: torch.prod(t, 1)}.get(op, lambda t: getattr(torch, op)(t, 1))
    x = leaf(data)
    t = torch.tensor(data, requires_grad=True)
    (g,) = mg.grad((ours(x) ** 2).sum(), x, create_graph=True)
    (g_torch,) = torch.autograd.grad((theirs(t) ** 2).sum(), t, create_graph=True)
    (g * g).sum().backward()
    (g_torch * g_torch).sum().backward()
    np.testing.assert_allclose(g.numpy(), g_torch.detach().numpy(), rtol=1e-7)
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-7)


# --------------------------------------------------------------------------- against torch

TORCH = {
    # name -> (minigrad, torch, inputs)
    "var": (lambda x: x.var(dim=1), lambda t: t.var(dim=1), [(3, 4)]),
    "var_correction2": (lambda x: mg.var(x, (0, 2), True, correction=2),
                        lambda t: t.var(dim=(0, 2), keepdim=True, correction=2), [(2, 3, 4)]),
    "var_unbiased_false": (lambda x: x.var(unbiased=False),
                           lambda t: t.var(unbiased=False), [(3, 4)]),
    "std": (lambda x: x.std(dim=0), lambda t: t.std(dim=0), [(3, 4)]),
    "std_ddof0": (lambda x: x.std(ddof=0), lambda t: t.std(correction=0), [(3, 4)]),
    "std_of_a_constant": (lambda x: (x * 0.0 + 1.0).std(dim=1) + x.sum(),
                          lambda t: (t * 0.0 + 1.0).std(dim=1) + t.sum(), [(3, 4)]),
    "prod": (lambda x: x.prod(dim=1), lambda t: t.prod(dim=1), [(3, 4)]),
    "prod_all": (lambda x: mg.prod(x), lambda t: torch.prod(t), [(2, 3)]),
    "cumsum": (lambda x: x.cumsum(dim=0), lambda t: t.cumsum(dim=0), [(3, 4)]),
    "cumprod": (lambda x: x.cumprod(1), lambda t: t.cumprod(1), [(3, 4)]),
    "logcumsumexp": (lambda x: mg.logcumsumexp(x * 30.0, 1),
                     lambda t: torch.logcumsumexp(t * 30.0, 1), [(3, 5)]),
    "cummax": (lambda x: tuple(mg.cummax(x, 1)), lambda t: tuple(torch.cummax(t, 1)),
               [(3, 5)]),
    "cummin": (lambda x: tuple(x.cummin(dim=0)), lambda t: tuple(t.cummin(dim=0)), [(4, 3)]),
    "amax": (lambda x: x.amax(dim=(0, 2)), lambda t: t.amax(dim=(0, 2)), [(2, 3, 4)]),
    "amin_kept": (lambda x: mg.amin(x, dim=1, keepdim=True),
                  lambda t: torch.amin(t, dim=1, keepdim=True), [(3, 4)]),
    "amax_empty_dims": (lambda x: x.amax(dim=()), lambda t: t.amax(dim=()), [(3, 4)]),
    "max_dim": (lambda x: tuple(x.max(dim=1)), lambda t: tuple(t.max(dim=1)), [(3, 4)]),
    "min_dim_kept": (lambda x: tuple(mg.min(x, dim=0, keepdim=True)),
                     lambda t: tuple(torch.min(t, dim=0, keepdim=True)), [(3, 4)]),
    "max_all": (lambda x: x.max(), lambda t: t.max(), [(3, 4)]),
    "argmax": (lambda x: x.argmax(), lambda t: t.argmax(), [(3, 4)]),
    "argmax_dim": (lambda x: x.argmax(dim=1), lambda t: t.argmax(dim=1), [(3, 4)]),
    "argmin_kept": (lambda x: mg.argmin(x, dim=0, keepdim=True),
                    lambda t: torch.argmin(t, dim=0, keepdim=True), [(3, 4)]),
    "argmax_kept_flat": (lambda x: x.argmax(keepdim=True), lambda t: t.argmax(keepdim=True),
                         [(3, 4)]),
    "any": (lambda x: (x > 1.0).any(dim=1), lambda t: (t > 1.0).any(dim=1), [(3, 4)]),
    "all": (lambda x: mg.all(x > -1.0), lambda t: torch.all(t > -1.0), [(3, 4)]),
    "all_dims": (lambda x: (x > -1.0).all(dim=(0, 1), keepdim=True),
                 lambda t: (t > -1.0).all(dim=(0, 1), keepdim=True), [(2, 3, 4)]),
    "norm": (lambda x: x.norm(), lambda t: t.norm(), [(3, 4)]),
    "norm_fro_dims": (lambda x: x.norm("fro", dim=(0, 1)),
                      lambda t: t.norm("fro", dim=(0, 1)), [(2, 3, 4)]),
    "norm_p3": (lambda x: mg.norm(x, 3, dim=1, keepdim=True),
                lambda t: torch.norm(t, 3, dim=1, keepdim=True), [(3, 4)]),
    "norm_p1": (lambda x: x.norm(1, dim=0), lambda t: t.norm(1, dim=0), [(3, 4)]),
    "norm_inf": (lambda x: x.norm(math.inf), lambda t: t.norm(math.inf), [(3, 4)]),
    "norm_minus_inf": (lambda x: x.norm(-math.inf, dim=1),
                       lambda t: t.norm(-math.inf, dim=1), [(3, 4)]),
    "norm_p0": (lambda x: x.norm(0) + x.sum(), lambda t: t.norm(0) + t.sum(), [(3, 4)]),
    "norm_p0_dim": (lambda x: (x * (x > 0)).norm(0, dim=1),
                    lambda t: (t * (t > 0)).norm(0, dim=1), [(3, 4)]),
    "sum_dtype": (lambda x: x.sum(dim=1, dtype=mg.float32),
                  lambda t: t.sum(dim=1, dtype=torch.float32), [(3, 4)]),
    "sum_of_bools": (lambda x: (x > 0).sum(), lambda t: (t > 0).sum(), [(3, 4)]),
    "cumsum_of_bools": (lambda x: (x > 0).cumsum(1), lambda t: (t > 0).cumsum(1), [(3, 4)]),
}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_against_torch(name):
    ours, theirs, input_shapes = TORCH[name]
    arrays = [normal(shape, k + 7) for k, shape in enumerate(input_shapes)]
    rtol = 1e-5 if "float32" in name or name == "sum_dtype" else 1e-7
    assert_like_torch(ours, theirs, *arrays, rtol=rtol)


@pytest.mark.parametrize("data", [
    [2.0, 0.0, 3.0, 0.5], [0.0, 2.0, 0.0, 3.0], [0.0, 0.0, 0.0], [1.5, -2.0, 0.0],
    [[0.0, 1.0, 2.0], [3.0, 0.0, 4.0]],
])
def test_prod_and_cumprod_gradients_at_zeros_like_torch(data):
    for ours, theirs in ((lambda x: x.prod(), lambda t: t.prod()),
                         (lambda x: x.prod(dim=-1), lambda t: t.prod(dim=-1)),
                         (lambda x: x.cumprod(dim=-1), lambda t: t.cumprod(dim=-1)),
                         (lambda x: mg.cumprod(x, 0), lambda t: torch.cumprod(t, 0))):
        assert_like_torch(ours, theirs, np.array(data))


@pytest.mark.parametrize("data", [
    [1.0, 3.0, 3.0, 2.0, 3.0], [2.0, 2.0, 2.0], [1.0, math.nan, 3.0, math.nan, 0.5],
    [math.nan, 1.0], [[1.0, 5.0, 5.0], [4.0, 4.0, -1.0]],
])
def test_cummax_cummin_ties_and_nan_like_torch(data):
    for op in ("cummax", "cummin"):
        ours = getattr(mg, op)(mg.tensor(np.array(data)), -1)
        theirs = getattr(torch, op)(torch.tensor(data), -1)
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())


def test_ties_share_the_gradient_in_amax_and_go_to_the_first_in_max_dim():
    data = np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]])
    for ours, theirs in ((lambda x: x.amax(dim=1), lambda t: t.amax(dim=1)),
                         (lambda x: x.amin(), lambda t: t.amin()),
                         (lambda x: x.max(), lambda t: t.max()),
                         (lambda x: x.max(dim=1).values, lambda t: t.max(dim=1).values),
                         (lambda x: tuple(x.min(dim=0)), lambda t: tuple(t.min(dim=0)))):
        assert_like_torch(ours, theirs, data)


def test_norm_gradient_at_zero_is_zero_like_torch():
    for ours, theirs in ((lambda x: x.norm(), lambda t: t.norm()),
                         (lambda x: x.norm(3, dim=1), lambda t: t.norm(3, dim=1)),
                         (lambda x: x.std(dim=1), lambda t: t.std(dim=1))):
        assert_like_torch(ours, theirs, np.zeros((2, 3)))


def test_logcumsumexp_is_stable():
    data = np.array([-1000.0, 0.0, 800.0, -math.inf, 1000.0])
    assert_like_torch(lambda x: mg.logcumsumexp(x, 0), lambda t: torch.logcumsumexp(t, 0),
                      data)


def test_argmax_argmin_have_no_gradient_and_give_int64():
    x = leaf(normal((3, 4), 0))
    for index in (x.argmax(), mg.argmin(x, dim=1), x.argmax(1, True)):
        assert index.dtype == mg.int64 and not index.requires_grad
    assert x.argmax(dim=1).shape == (3,)


def test_nan_is_the_extreme_for_argmax_like_torch():
    data = [1.0, math.nan, 3.0, math.nan]
    assert mg.tensor(data).argmax().item() == torch.tensor(data).argmax().item() == 1
    assert mg.tensor(data).argmin().item() == torch.tensor(data).argmin().item() == 1


def test_values_indices_is_a_named_pair():
    result = mg.tensor([[1.0, 4.0], [3.0, 2.0]]).max(dim=1)
    assert isinstance(result, mg.ValuesIndices) and isinstance(result, tuple)
    values, indices = result
    assert values.tolist() == [4.0, 3.0] and indices.tolist() == [1, 0]
    assert result.values is values and result.indices is indices


def test_max_spellings():
    x = mg.tensor(distinct((3, 4), 2))
    assert isinstance(x.max(axis=1), mg.Tensor)              # NumPy's spelling: values
    assert isinstance(x.max(1), mg.Tensor)                   # positional is NumPy's axis
    assert isinstance(x.max(dim=1), mg.ValuesIndices)        # PyTorch's spelling
    assert x.max().shape == ()
    np.testing.assert_array_equal(x.max(axis=1).numpy(), x.max(dim=1).values.numpy())
    np.testing.assert_array_equal(x.max(axis=1, keepdims=True).numpy(),
                                  x.max(dim=1, keepdim=True).values.numpy())
    with pytest.raises(TypeError, match="max: dim= takes one int"):
        x.max(dim=(0, 1))
    with pytest.raises(TypeError, match="min: got both axis= and dim="):
        x.min(axis=0, dim=0)


def test_var_correction_spellings_are_exclusive():
    x = mg.tensor(normal((3, 4), 1))
    with pytest.raises(TypeError, match="var: give one of correction=, ddof= and unbiased="):
        x.var(correction=1, ddof=1)
    with pytest.raises(TypeError, match="std: give one of"):
        x.std(unbiased=True, correction=0)


def test_variance_without_enough_elements_is_nan_or_inf_like_torch():
    for data, correction in (([1.0], 1), ([1.0, 2.0], 3), ([2.0, 2.0], 2), ([], 0)):
        ours = mg.tensor(np.array(data)).var(correction=correction).item()
        with pytest.warns(UserWarning):
            theirs = torch.tensor(data, dtype=torch.float64).var(correction=correction).item()
        assert (math.isnan(ours) and math.isnan(theirs)) or ours == theirs, (data, correction)


# --------------------------------------------------------------------------- edge values

REDUCTIONS = {
    # name -> a call taking the tensor and an axis
    "sum": lambda x, a: x.sum(a), "mean": lambda x, a: x.mean(a),
    "var": lambda x, a: x.var(a, correction=0), "std": lambda x, a: x.std(a, correction=0),
    "max": lambda x, a: x.max(a), "min": lambda x, a: x.min(a),
    "amax": lambda x, a: x.amax(a), "amin": lambda x, a: x.amin(a),
    "prod": lambda x, a: x.prod(a), "logsumexp": lambda x, a: x.logsumexp(a),
    "softmax": lambda x, a: x.softmax(a), "log_softmax": lambda x, a: x.log_softmax(a),
    "argmax": lambda x, a: x.argmax(a), "argmin": lambda x, a: x.argmin(a),
    "any": lambda x, a: x.any(a), "all": lambda x, a: x.all(a),
    "norm": lambda x, a: x.norm(2, a), "cumsum": lambda x, a: x.cumsum(a),
    "cumprod": lambda x, a: x.cumprod(a), "logcumsumexp": lambda x, a: x.logcumsumexp(a),
    "cummax": lambda x, a: x.cummax(a).values, "cummin": lambda x, a: x.cummin(a).values,
    "squeeze": lambda x, a: x.squeeze(a),
}
TORCH_REDUCTIONS = {
    "var": lambda t, a: t.var(a, correction=0), "std": lambda t, a: t.std(a, correction=0),
    "max": lambda t, a: t.amax(a), "min": lambda t, a: t.amin(a),
    "norm": lambda t, a: t.norm(2, a),
    "cummax": lambda t, a: t.cummax(a).values, "cummin": lambda t, a: t.cummin(a).values,
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@pytest.mark.parametrize("axis", [0, -1])
def test_dims_0_and_minus_1_of_a_0d_tensor_like_torch(name, axis):
    ours = REDUCTIONS[name](mg.tensor(np.float64(0.7)), axis)
    theirs = TORCH_REDUCTIONS.get(name, lambda t, a: getattr(t, name)(a))(
        torch.tensor(0.7, dtype=torch.float64), axis)
    assert ours.shape == () == tuple(theirs.shape)
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    np.testing.assert_allclose(ours.numpy(), theirs.numpy())


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_a_numpy_integer_axis_works(name):
    x = mg.tensor(distinct((2, 1), 0))          # (axis 1 has length 1 for squeeze)
    np.testing.assert_array_equal(REDUCTIONS[name](x, np.int64(1)).numpy(),
                                  REDUCTIONS[name](x, 1).numpy())


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_a_float_axis_is_a_type_error_naming_the_op(name):
    op = "max" if name == "max" else name
    with pytest.raises(TypeError, match=f"{op}: (axis|dim) must be"):
        REDUCTIONS[name](mg.tensor(distinct((2, 1), 0)), 1.0)


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_an_axis_out_of_range_is_an_axis_error(name):
    with pytest.raises(mg.AxisError, match=f"{name}: .*out of range") as error:
        REDUCTIONS[name](mg.tensor(distinct((2, 1), 0)), 2)
    assert isinstance(error.value, IndexError) and isinstance(error.value, ValueError)


@pytest.mark.filterwarnings("ignore:.*degrees of freedom")     # torch's, over nothing
@pytest.mark.parametrize("name", ["mean", "var", "std"])
def test_over_no_elements_is_nan_like_torch(name):
    x = mg.zeros(0, 3, dtype=mg.float64)
    assert np.isnan(getattr(mg, name)(x).item())
    np.testing.assert_array_equal(getattr(x, name)(dim=0).numpy(),
                                  getattr(torch.zeros(0, 3), name)(dim=0).numpy())
    assert getattr(x, name)(dim=1).shape == (0,)


def test_softmax_family_of_an_empty_tensor_is_empty_like_torch():
    for shape, axis in (((0, 3), 0), ((2, 0), 1), ((0,), -1)):
        x = mg.zeros(*shape, dtype=mg.float64)
        assert mg.softmax(x, axis).shape == shape == tuple(torch.zeros(shape).softmax(axis).shape)
        assert mg.log_softmax(x, axis).shape == shape
    assert mg.logsumexp(mg.zeros(2, 0), 1).tolist() == [-math.inf, -math.inf]
    assert torch.logsumexp(torch.zeros(2, 0), 1).tolist() == [-math.inf, -math.inf]


def test_sum_of_integers_is_int64_like_torch():
    for dtype in ("int32", "int8", "bool"):
        data = np.array([1, 0, 1], dtype=dtype)
        assert mg.tensor(data).sum().dtype == mg.int64 == mg.tensor(data).prod().dtype
        assert torch.tensor(data).sum().dtype == torch.int64


def test_logcumsumexp_gradient_at_minus_inf_is_zero():
    # PyTorch gives NaN for the elements of a leading run of -inf (and for none else);
    # here they get 0, the limit of the gradient as they go to -inf, and the rest agree
    data = np.array([-math.inf, -math.inf, 1.0, 0.3])
    x = leaf(data)
    t = torch.tensor(data, requires_grad=True)
    weights = np.array([1.0, 2.0, 3.0, -4.0])
    (mg.logcumsumexp(x, 0) * mg.tensor(weights)).sum().backward()
    (torch.logcumsumexp(t, 0) * torch.tensor(weights)).sum().backward()
    assert x.grad.tolist()[:2] == [0.0, 0.0]
    np.testing.assert_allclose(x.grad.numpy()[2:], t.grad.numpy()[2:], rtol=1e-12)


@pytest.mark.parametrize("data, dims", [
    ([[0.5, 0.0, 2.0, 0.7]], 1), ([[0.0, 1.5, 0.0, 2.0]], None), ([[1.0, 2.0], [3.0, 0.0]], 0),
    ([[[0.0, 2.0], [1.0, -1.0]], [[3.0, 0.5], [0.0, 0.0]]], (0, 2)),
])
def test_prod_second_derivatives_at_zeros_like_torch(data, dims):
    data = np.array(data)
    x, t = leaf(data), torch.tensor(data, requires_grad=True)
    out = mg.prod(x, dims)
    expected = torch.prod(t) if dims is None else torch.prod(t, dims) if isinstance(dims, int) \
        else t.prod(dims[1]).prod(dims[0])
    weights = normal(out.shape, 3)
    (g,) = mg.grad((out * mg.tensor(weights)).sum(), x, create_graph=True)
    (g_torch,) = torch.autograd.grad((expected * torch.tensor(weights)).sum(), t,
                                     create_graph=True)
    np.testing.assert_allclose(g.numpy(), g_torch.detach().numpy(), rtol=1e-12)
    more = normal(x.shape, 4)
    (g * mg.tensor(more)).sum().backward()
    (g_torch * torch.tensor(more)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name, identity", [("maximum", -np.inf), ("minimum", np.inf),
                                            ("logaddexp", -np.inf)])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_the_log_step_scan_equals_accumulate(name, identity, axis):
    # the path CuPy takes, whose ufuncs have no accumulate but add's
    from minigrad.ops.reduction import doubling_scan
    data = np.random.default_rng(axis).standard_normal((5, 7, 3))
    if name != "logaddexp":
        data[1, 2, 0] = np.nan          # NaN propagates as in accumulate
    xp = mg.tensor(data).xp
    got = doubling_scan(xp, getattr(xp, name), mg.tensor(data).data, axis, identity)
    expected = getattr(np, name).accumulate(data, axis=axis)
    np.testing.assert_allclose(mg.tensor(got).numpy(), expected, rtol=1e-13)


@FAST
@given(shape_and_axis(allow_none=True), st.booleans(),
       st.sampled_from(["argmax", "argmin", "any", "all"]), seeds)
def test_ops_without_gradient_over_drawn_shapes_like_torch(shape_axis, keepdim, name, seed):
    shape, axis = shape_axis
    data = np.round(normal(shape, seed))       # ties and zeros
    x, t = mg.tensor(data), torch.tensor(data)
    if name in ("any", "all"):
        kwargs = {} if axis is None else {"dim": axis, "keepdim": keepdim}
        ours, theirs = getattr(x, name)(**kwargs), getattr(t, name)(**kwargs)
    else:
        ours, theirs = getattr(x, name)(dim=axis, keepdim=keepdim), \
            getattr(t, name)(dim=axis, keepdim=keepdim)
    assert ours.shape == tuple(theirs.shape) and not ours.requires_grad
    assert ours.dtype == np.dtype(str(theirs.dtype).replace("torch.", ""))
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
