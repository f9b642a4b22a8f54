"""Forward values against NumPy for every op, numerical stability of the exp family,
dtype rules, and comparisons; on NumPy and on the device stand-in."""
import operator
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg

pytestmark = pytest.mark.usefixtures("engine_backend")

FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 4))
Y = RNG.standard_normal((4,))
POSITIVE = np.abs(X) + 0.1


def same(tensor, expected, **tolerance):
    """``tensor`` holds ``expected``: same shape, same values."""
    assert isinstance(tensor, mg.Tensor)
    got = tensor.numpy()
    expected = np.asarray(expected)
    assert got.shape == expected.shape, f"shape {got.shape}, expected {expected.shape}"
    np.testing.assert_allclose(got, expected, **(tolerance or {"rtol": 1e-12, "atol": 1e-12}))


def t(array):
    return mg.tensor(array)


# --------------------------------------------------------------------------- elementwise

@pytest.mark.parametrize("op", [operator.add, operator.sub, operator.mul, operator.truediv])
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4),
       st.integers(0, 1000))
@FAST
def test_binary_ops_broadcast_as_numpy(op, shapes, seed):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shapes.input_shapes[0])
    b = rng.standard_normal(shapes.input_shapes[1]) + 3.0
    same(op(t(a), t(b)), op(a, b))
    same(op(t(a), 2.5), op(a, 2.5))
    same(op(2.5, t(b)), op(2.5, b))
    same(op(t(a), b), op(a, b))                 # a host array on the right
    same(op(a, t(b)), op(a, b))                 # and on the left (reflected)


def test_power_and_negation():
    same(t(POSITIVE) ** t(Y), POSITIVE ** Y)
    same(t(POSITIVE) ** 3, POSITIVE ** 3)
    same(2.0 ** t(X), 2.0 ** X)
    same(-t(X), -X)
    same(abs(t(X)), np.abs(X))


@pytest.mark.parametrize("name, reference", [
    ("exp", np.exp), ("log", np.log), ("sqrt", np.sqrt), ("abs", np.abs), ("tanh", np.tanh),
    ("sigmoid", lambda x: 1 / (1 + np.exp(-x))), ("relu", lambda x: np.maximum(x, 0)),
    ("sin", np.sin), ("cos", np.cos), ("sign", np.sign),
])
def test_unary_ops(name, reference):
    data = POSITIVE if name in ("log", "sqrt") else X
    same(getattr(mg, name)(t(data)), reference(data))
    same(getattr(t(data), name)(), reference(data))


@pytest.mark.parametrize("name", ["sin", "cos", "sign"])
def test_sin_cos_sign_against_torch(name):
    import torch
    data = np.concatenate([X.ravel(), [0.0, -0.0, np.pi, 1e6]])
    x = mg.tensor(data, requires_grad=True)
    getattr(mg, name)(x).sum().backward()
    tx = torch.tensor(data, requires_grad=True)
    getattr(torch, name)(tx).sum().backward()
    same(getattr(mg, name)(mg.tensor(data)), getattr(torch, name)(tx).detach().numpy())
    same(x.grad, tx.grad.numpy())


def test_selection_ops():
    same(mg.maximum(t(X), t(Y)), np.maximum(X, Y))
    same(mg.minimum(t(X), t(Y)), np.minimum(X, Y))
    same(mg.maximum(t(X), 0.0), np.maximum(X, 0.0))
    same(mg.minimum(0.5, t(X)), np.minimum(0.5, X))
    same(t(X).clip(-0.5, 0.5), np.clip(X, -0.5, 0.5))
    same(t(X).clip(None, 0.5), np.clip(X, None, 0.5))
    same(mg.clip(t(X), -0.5, None), np.clip(X, -0.5, None))
    same(mg.where(t(X) > 0, t(X), t(Y)), np.where(X > 0, X, Y))
    same(mg.where(X > 0, t(X), 0.0), np.where(X > 0, X, 0.0))
    same(mg.where([True, False, True, False], 1.0, t(Y)), np.where([1, 0, 1, 0], 1.0, Y))


# --------------------------------------------------------------------------- reductions

@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var"])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), (-1, 0), (0, 1, 2)])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions(name, axis, keepdims):
    data = RNG.standard_normal((2, 3, 4))
    expected = getattr(np, name)(data, axis=axis, keepdims=keepdims)
    same(getattr(mg, name)(t(data), axis=axis, keepdims=keepdims), expected)
    same(getattr(t(data), name)(axis, keepdims), expected)


def test_var_is_the_population_variance_unless_spelled_as_pytorch():
    """API.md: ``var`` is the population variance (NumPy's ddof=0); called with PyTorch's
    ``dim=`` it has PyTorch's default, the sample variance (correction=1)."""
    data = np.array([1.0, 2.0, 3.0, 4.0])
    for population in (t(data).var(), t(data).var(0), t(data).var(axis=0),
                       t(data).var(dim=0, correction=0), mg.var(t(data), unbiased=False)):
        same(population, 1.25)
    for sample in (t(data).var(dim=0), mg.var(t(data), dim=0), t(data).var(correction=1),
                   t(data).var(ddof=1), t(data).var(unbiased=True)):
        same(sample, 5 / 3)
    same(t(data).std(dim=0), np.std(data, ddof=1))
    same(t(data).std(), np.std(data))


@pytest.mark.parametrize("axis", [-1, 0, (0, 1)])
def test_logsumexp_family(axis):
    data = RNG.standard_normal((3, 4)) * 5
    lse = np.log(np.exp(data).sum(axis=axis, keepdims=True))
    same(mg.logsumexp(t(data), axis=axis, keepdims=True), lse)
    same(mg.logsumexp(t(data), axis=axis), np.squeeze(lse, axis=axis))
    same(mg.softmax(t(data), axis=axis), np.exp(data - lse))
    same(mg.log_softmax(t(data), axis=axis), data - lse)
    same(t(data).softmax(), np.exp(data) / np.exp(data).sum(-1, keepdims=True))


def _quiet(fn):
    """Run ``fn`` with every warning, overflow, division by zero and invalid value an
    error (underflow to 0 is the expected, harmless outcome here)."""
    with warnings.catch_warnings(), np.errstate(over="raise", divide="raise", invalid="raise"):
        warnings.simplefilter("error")
        return fn()


@pytest.mark.parametrize("dtype", [mg.float32, mg.float64])
def test_exp_family_is_stable_for_large_inputs(dtype):
    big = mg.tensor([1e4, -1e4, 0.0, 3e4], dtype=dtype)
    sig = _quiet(lambda: mg.sigmoid(big)).numpy()
    np.testing.assert_allclose(sig, [1.0, 0.0, 0.5, 1.0])
    rows = mg.tensor([[1e4, -1e4, 1e4], [-1e4, -2e4, -1e4]], dtype=dtype)
    soft = _quiet(lambda: mg.softmax(rows)).numpy()
    np.testing.assert_allclose(soft, [[0.5, 0.0, 0.5], [0.5, 0.0, 0.5]])
    lse = _quiet(lambda: mg.logsumexp(rows)).numpy()
    np.testing.assert_allclose(lse, [1e4 + np.log(2), -1e4 + np.log(2)], rtol=1e-6)
    log_soft = _quiet(lambda: mg.log_softmax(rows)).numpy()
    np.testing.assert_allclose(log_soft, [[-np.log(2), -2e4 - np.log(2), -np.log(2)],
                                          [-np.log(2), -1e4 - np.log(2), -np.log(2)]],
                               rtol=1e-6)
    for result in (sig, soft, lse, log_soft):
        assert np.isfinite(result).all()


def test_exp_family_gradients_are_stable_for_large_inputs():
    x = mg.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    _quiet(lambda: (mg.sigmoid(x).sum() + mg.softmax(x)[0, 0] + mg.logsumexp(x).sum()
                    + mg.log_softmax(x)[0, 1]).backward())
    assert np.isfinite(x.grad.numpy()).all()


# --------------------------------------------------------------------------- shapes

def test_shape_ops():
    data = RNG.standard_normal((2, 1, 3))
    same(t(data).reshape(3, 2), data.reshape(3, 2))
    same(t(data).reshape((-1,)), data.reshape(-1))
    same(mg.reshape(t(data), (3, -1)), data.reshape(3, -1))
    same(t(data).transpose(), data.transpose())
    same(t(data).transpose(2, 0, 1), data.transpose(2, 0, 1))
    same(mg.transpose(t(data), (-1, 0, 1)), data.transpose(-1, 0, 1))
    same(t(data).T, data.T)
    same(t(data).broadcast_to(4, 2, 5, 3), np.broadcast_to(data, (4, 2, 5, 3)))
    same(mg.broadcast_to(t(data), (2, 2, 3)), np.broadcast_to(data, (2, 2, 3)))
    same(t(data).squeeze(), data.squeeze())
    same(t(data).squeeze(1), data.squeeze(1))
    same(mg.squeeze(t(data), -2), data.squeeze(-2))
    same(t(data).unsqueeze(0), np.expand_dims(data, 0))
    same(t(data).unsqueeze(-1), np.expand_dims(data, -1))
    same(mg.unsqueeze(t(data), 2), np.expand_dims(data, 2))


def test_views_where_numpy_gives_views():
    x = t(np.arange(6.0))
    views = [x.reshape(2, 3), x.reshape(2, 3).T, x[1:4], x[::-1], x.unsqueeze(0),
             x.broadcast_to(2, 6), mg.split(x, 2)[1]]
    if mg.get_backend() == "numpy":
        for view in views:
            assert np.shares_memory(view.data, x.data)
    assert views[1].shape == (3, 2)


@pytest.mark.parametrize("index", [
    1, -1, (0, 2), slice(None, None, -1), (slice(1, None), slice(None, None, -2)),
    (None, Ellipsis, 1), (Ellipsis, None), [0, 0, 2], ([1, 1], [3, 0]),
    (slice(None), [2, 2, 0]), (np.array([True, False, True]),),
], ids=repr)
def test_indexing(index):
    same(t(X)[index], X[index])


def test_indexing_with_tensors():
    same(t(X)[t(X) > 0], X[X > 0])
    same(t(X)[mg.tensor([2, 0, 2])], X[[2, 0, 2]])


def test_join():
    a, b = RNG.standard_normal((2, 3)), RNG.standard_normal((2, 3))
    same(mg.concat([t(a), t(b)]), np.concatenate([a, b]))
    same(mg.concat([t(a), t(b)], axis=-1), np.concatenate([a, b], axis=-1))
    same(mg.stack([t(a), t(b)]), np.stack([a, b]))
    same(mg.stack([t(a), t(b)], axis=2), np.stack([a, b], axis=2))
    same(mg.stack([t(a), t(b)], axis=-1), np.stack([a, b], axis=-1))


# ([6, 2], cut points that go back, is refused: test_errors.py)
@pytest.mark.parametrize("how", [2, 5, [1, 3], [0, 4, 10]], ids=repr)
def test_split_is_numpy_split(how):
    data = np.arange(20.0).reshape(10, 2)
    pieces = mg.split(t(data), how)
    expected = np.split(data, how)
    assert len(pieces) == len(expected)
    for piece, want in zip(pieces, expected):
        same(piece, want)


def test_split_along_an_axis():
    data = np.arange(12.0).reshape(2, 6)
    for piece, want in zip(mg.split(t(data), 3, axis=1), np.split(data, 3, axis=1)):
        same(piece, want)
    for piece, want in zip(mg.split(t(data), [2], axis=-1), np.split(data, [2], axis=-1)):
        same(piece, want)


@pytest.mark.parametrize("length, chunks, sizes", [
    (10, 4, [3, 3, 3, 1]), (5, 4, [2, 2, 1]), (6, 3, [2, 2, 2]), (3, 5, [1, 1, 1]),
    (7, 1, [7]),
])
def test_chunk_is_torch_chunk(length, chunks, sizes):
    data = np.arange(float(length))
    pieces = t(data).chunk(chunks)
    assert [p.shape[0] for p in pieces] == sizes
    same(mg.concat(pieces), data)
    import torch
    assert [p.shape[0] for p in torch.arange(length).chunk(chunks)] == sizes


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_unbind_is_torch_unbind(axis):
    data = np.arange(24.0).reshape(2, 3, 4)
    pieces = mg.unbind(t(data), axis=axis)
    assert isinstance(pieces, tuple) and len(pieces) == data.shape[axis]
    for i, piece in enumerate(pieces):
        same(piece, np.take(data, i, axis=axis))
    import torch
    expected = torch.unbind(torch.tensor(data), dim=axis)
    assert [tuple(p.shape) for p in expected] == [p.shape for p in t(data).unbind(axis)]


def test_chunk_along_an_axis():
    data = np.arange(20.0).reshape(2, 10)
    pieces = mg.chunk(t(data), 4, axis=-1)
    assert [p.shape for p in pieces] == [(2, 3), (2, 3), (2, 3), (2, 1)]
    same(pieces[3], data[:, 9:])


@pytest.mark.parametrize("a_shape, b_shape", [
    ((3,), (3,)), ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
    ((5, 1, 2, 3), (4, 3, 2)), ((3,), (4, 3, 2)), ((4, 2, 3), (3,)),
])
def test_matmul(a_shape, b_shape):
    a, b = RNG.standard_normal(a_shape), RNG.standard_normal(b_shape)
    same(t(a) @ t(b), a @ b)
    same(mg.matmul(t(a), t(b)), np.matmul(a, b))
    same(a @ t(b), a @ b)
    same(t(a) @ b, a @ b)


def test_to_keeps_values():
    other = "numpy" if mg.get_backend() == "standin" else "standin"
    moved = t(X).to(other)
    assert moved.backend == other
    same(moved, X)
    same(moved.to(mg.get_backend()), X)


# --------------------------------------------------------------------------- dtypes

def test_python_floats_and_lists_become_float32():
    assert mg.tensor(1.5).dtype == mg.float32
    assert mg.tensor([1.0, 2.0]).dtype == mg.float32
    assert mg.tensor([[1, 2.5]]).dtype == mg.float32
    assert mg.tensor([1, 2]).dtype == mg.int64
    assert mg.tensor([True, False]).dtype == mg.bool_


def test_arrays_keep_their_dtype():
    assert mg.tensor(np.zeros(3)).dtype == mg.float64
    assert mg.tensor(np.zeros(3, dtype=np.float32)).dtype == mg.float32
    assert mg.tensor(np.float64(2.0)).dtype == mg.float64
    assert mg.tensor(np.zeros(3), dtype=mg.float32).dtype == mg.float32
    assert mg.tensor(mg.tensor(np.zeros(3))).dtype == mg.float64


def test_python_scalars_do_not_promote():
    x = mg.tensor([1.0, 2.0])
    for result in (x * 2.5, 2.5 * x, x + 1, x / 3.0, x ** 2.0, 1.0 - x, mg.maximum(x, 0.5),
                   mg.where(x > 1, x, 0.0), x.clip(0.0, 1.5), x.mean(), x.var()):
        assert result.dtype == mg.float32, result
    assert (mg.tensor(np.ones(2)) * 2.5).dtype == mg.float64


def test_factories():
    assert mg.zeros(2, 3).shape == (2, 3) and mg.zeros(2, 3).dtype == mg.float32
    assert mg.ones((2, 3)).shape == (2, 3)
    same(mg.full((2,), 1.5), [1.5, 1.5])
    assert mg.randn(4, dtype=mg.float64).dtype == mg.float64
    r = mg.rand(100).numpy()
    assert r.dtype == np.float32 and (r >= 0).all() and (r < 1).all()
    same(mg.arange(4), np.arange(4))
    assert mg.arange(0.0, 1.0, 0.5).dtype == mg.float32
    x = mg.randn(2, 2)
    assert mg.zeros_like(x).shape == (2, 2) and mg.ones_like(x).dtype == mg.float32
    for made in (mg.zeros(1), mg.ones(1), mg.full(1, 2.0), mg.randn(1), mg.rand(1),
                 mg.arange(2), mg.zeros_like(x), mg.ones_like(x), mg.tensor([1.0])):
        assert made.backend == mg.get_backend()


# --------------------------------------------------------------------------- comparisons

@pytest.mark.parametrize("op", [operator.lt, operator.le, operator.gt, operator.ge,
                                operator.eq, operator.ne])
def test_comparisons_give_bool_tensors_without_grad(op):
    a = mg.tensor(X, requires_grad=True)
    b = mg.tensor(Y, requires_grad=True)
    for result, expected in ((op(a, b), op(X, Y)), (op(a, 0.0), op(X, 0.0)),
                             (op(0.0, a), op(0.0, X)), (op(a, Y), op(X, Y))):
        assert result.dtype == mg.bool_
        assert not result.requires_grad and result.node is None
        same(result, expected)


def test_item_tolist_and_conversions():
    x = mg.tensor([[1.5, 2.0]])
    assert x.tolist() == [[1.5, 2.0]]
    assert x[0, 1].item() == 2.0
    assert float(x[0, 0]) == 1.5 and int(x[0, 1]) == 2
    assert bool(x[0, 0] > 1)
    assert len(x) == 1
    assert isinstance(x.numpy(), np.ndarray)
    assert "tensor(" in repr(x)


# ------------------------------------------------------------------ PyTorch's spellings

TORCH_SPELLINGS = {
    # name -> (minigrad call, torch call), each on one (2, 3, 4) float64 tensor
    "sum_dim": (lambda x: x.sum(dim=1), lambda t: t.sum(dim=1)),
    "sum_keepdim": (lambda x: mg.sum(x, dim=(0, 2), keepdim=True),
                    lambda t: t.sum(dim=(0, 2), keepdim=True)),
    "mean": (lambda x: x.mean(dim=-1, keepdim=True), lambda t: t.mean(dim=-1, keepdim=True)),
    "max": (lambda x: x.max(dim=0).values, lambda t: t.max(dim=0).values),
    "max_indices": (lambda x: x.max(dim=0).indices, lambda t: t.max(dim=0).indices),
    "min": (lambda x: mg.min(x, dim=2, keepdim=True).values,
            lambda t: t.min(dim=2, keepdim=True).values),
    "var": (lambda x: x.var(dim=1), lambda t: t.var(dim=1)),
    "var_biased": (lambda x: x.var(dim=1, correction=0),
                   lambda t: t.var(dim=1, unbiased=False)),
    "logsumexp": (lambda x: x.logsumexp(dim=1, keepdim=True),
                  lambda t: t.logsumexp(dim=1, keepdim=True)),
    "softmax": (lambda x: x.softmax(dim=0), lambda t: t.softmax(dim=0)),
    "log_softmax": (lambda x: mg.log_softmax(x, dim=1), lambda t: t.log_softmax(dim=1)),
    "squeeze": (lambda x: x[:, :1].squeeze(dim=1), lambda t: t[:, :1].squeeze(dim=1)),
    "unsqueeze": (lambda x: x.unsqueeze(dim=-1), lambda t: t.unsqueeze(dim=-1)),
    "cat": (lambda x: mg.cat([x, x * 2.0], dim=1), lambda t: __import__("torch").cat(
        [t, t * 2.0], dim=1)),
    "concat": (lambda x: mg.concat([x, x], dim=-1), lambda t: __import__("torch").cat(
        [t, t], dim=-1)),
    "stack": (lambda x: mg.stack([x, x * 3.0], dim=2), lambda t: __import__("torch").stack(
        [t, t * 3.0], dim=2)),
    "split": (lambda x: mg.split(x, 2, dim=2)[1], lambda t: t.split(2, dim=2)[1]),
    "chunk": (lambda x: x.chunk(2, dim=1)[1], lambda t: t.chunk(2, dim=1)[1]),
    "unbind": (lambda x: x.unbind(dim=2)[3], lambda t: t.unbind(dim=2)[3]),
    "view": (lambda x: x.view(6, -1), lambda t: t.view(6, -1)),
    "view_tuple": (lambda x: x.view((4, 6)), lambda t: t.view((4, 6))),
    "permute": (lambda x: x.permute(2, 0, 1), lambda t: t.permute(2, 0, 1)),
    "permute_tuple": (lambda x: mg.permute(x, (1, 2, 0)), lambda t: t.permute((1, 2, 0))),
    "expand": (lambda x: x[:, :1].expand(-1, 5, -1), lambda t: t[:, :1].expand(-1, 5, -1)),
    "expand_new_axes": (lambda x: x.expand(3, -1, 3, 4), lambda t: t.expand(3, -1, 3, 4)),
    "flatten": (lambda x: x.flatten(), lambda t: t.flatten()),
    "flatten_from": (lambda x: x.flatten(1), lambda t: t.flatten(1)),
    "flatten_middle": (lambda x: mg.flatten(x, 0, -2), lambda t: t.flatten(0, -2)),
    "clone": (lambda x: x.clone() * 2.0, lambda t: t.clone() * 2.0),
    "matmul": (lambda x: x.matmul(x.transpose(0, 2, 1)), lambda t: t.matmul(t.transpose(1, 2))),
    "pow": (lambda x: x.pow(2), lambda t: t.pow(2)),
    "clamp": (lambda x: x.clamp(-0.5, 0.5), lambda t: t.clamp(-0.5, 0.5)),
    "clamp_min": (lambda x: mg.clamp(x, min=0.1), lambda t: t.clamp(min=0.1)),
    "clamp_max": (lambda x: x.clamp(max=0.2), lambda t: t.clamp(max=0.2)),
    "float": (lambda x: x.float().double(), lambda t: t.float().double()),
    "to_dtype": (lambda x: x.to(mg.float32), lambda t: t.to(__import__("torch").float32)),
}


@pytest.mark.parametrize("name", sorted(TORCH_SPELLINGS))
def test_torch_spellings_against_torch(name):
    import torch
    ours, theirs = TORCH_SPELLINGS[name]
    data = np.random.default_rng(5).standard_normal((2, 3, 4))
    x = mg.tensor(data, requires_grad=True)
    t = torch.tensor(data, requires_grad=True)
    out, expected = ours(x), theirs(t)
    same(out, expected.detach().numpy(), rtol=1e-6, atol=1e-6)
    assert out.dtype == np.dtype(str(expected.dtype).replace("torch.", ""))
    if out.dtype.kind == "f":
        weights = np.random.default_rng(6).standard_normal(out.shape)
        (out * mg.tensor(weights.astype(out.dtype))).sum().backward()
        (expected * torch.tensor(weights, dtype=expected.dtype)).sum().backward()
        same(x.grad, t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_torch_size_numel_dim():
    import torch
    x, t = mg.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert x.size() == tuple(t.size()) and x.size(1) == t.size(1) == 3
    assert x.size(-1) == t.size(-1) == 4 and x.size(dim=0) == 2
    assert x.size == 24 and x.numel() == t.numel() == 24     # NumPy's x.size stays
    assert x.dim() == t.dim() == 3 and mg.zeros(()).dim() == 0


def test_torch_dtype_casts():
    import torch
    data = np.array([[-1.5, 0.0, 2.7]])
    x, t = mg.tensor(data), torch.tensor(data)
    for cast in ("float", "double", "half", "long", "int", "bool"):
        got, expected = getattr(x, cast)(), getattr(t, cast)()
        assert got.dtype == np.dtype(str(expected.dtype).replace("torch.", "")), cast
        np.testing.assert_array_equal(got.numpy(), expected.numpy(), err_msg=cast)
    assert x.to(mg.float32).dtype == np.float32 and x.to(dtype=mg.int64).dtype == np.int64
    moved = x.to("numpy", mg.float32)
    assert moved.backend == "numpy" and moved.dtype == np.float32
    assert x.to(x.backend) is x and x.double() is x


def test_torch_cast_gradient_has_the_leaf_dtype():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    (x.float() * 3.0).sum().backward()
    assert x.grad.dtype == np.float64 and x.grad.tolist() == [3.0, 3.0]


def test_clone_is_a_copy_gradients_flow_through():
    x = mg.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x.clone()
    assert not np.shares_memory(y.numpy(), x.numpy()) or y.data is not x.data
    assert y.node is not None and y.node.op == "clone"
    (y * y).sum().backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_from_numpy_keeps_dtype_and_memory():
    import torch
    array = np.arange(6, dtype=np.int32).reshape(2, 3)
    x = mg.from_numpy(array)
    assert x.dtype == torch.from_numpy(array).numpy().dtype and x.shape == (2, 3)
    assert x.backend == "numpy" and np.shares_memory(x.data, array)


def test_requires_grad_in_place():
    x = mg.tensor([1.0, 2.0])
    assert x.requires_grad_() is x and x.requires_grad
    assert not x.requires_grad_(False).requires_grad
    (x.requires_grad_(True) * 2.0).sum().backward()
    assert x.grad.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("a, b", [(0, 2), (1, -1), (-3, 1), (2, 2)])
def test_swapaxes_against_torch_transpose(a, b):
    import torch
    data = np.random.default_rng(7).standard_normal((2, 3, 4))
    x, t = mg.tensor(data, requires_grad=True), torch.tensor(data, requires_grad=True)
    out, expected = x.swapaxes(a, b), torch.transpose(t, a, b)
    same(out, expected.detach().numpy())
    weights = np.random.default_rng(8).standard_normal(out.shape)
    (out * mg.tensor(weights)).sum().backward()
    (expected * torch.tensor(weights)).sum().backward()
    same(x.grad, t.grad.numpy())


@pytest.mark.parametrize("cuts", [[2, 2, 10], [-2], [0, 3], [3, -5]])
def test_split_at_non_decreasing_cuts_as_numpy(cuts):
    data = np.arange(8.0)
    x = mg.tensor(data, requires_grad=True)
    pieces = mg.split(x, cuts)
    expected = np.split(data, cuts)
    assert len(pieces) == len(expected)
    for piece, want in zip(pieces, expected):
        same(piece, want)
    sum((p * float(k + 1)).sum() for k, p in enumerate(pieces)).backward()
    assert x.grad.shape == (8,)
