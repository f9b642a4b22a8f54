"""The shape and indexing ops of issue 14 (unflatten, pad, repeat, tile, roll, flip,
tril/triu, diagonal, gather, scatter, scatter_add, index_select, masked_fill,
masked_select, nonzero, sort, argsort, topk, one_hot, einsum) against PyTorch, with
float64 gradchecks over hypothesis-drawn shapes; and the clear errors of the older shape
ops (dims out of range, transpose of a 0-d tensor).
"""
import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import backend as _backend

pytestmark = pytest.mark.usefixtures("engine_backend")

FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
seeds = st.integers(0, 2**16)
shapes = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4)
matrices = hnp.array_shapes(min_dims=2, max_dims=4, min_side=1, max_side=4)


def normal(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def distinct(shape, seed):
    rng = np.random.default_rng(seed)
    size = int(np.prod(shape, dtype=int))
    return (rng.permutation(size) * 0.5 + rng.uniform(0, 0.1, size) - size / 4).reshape(shape)


def leaf(array):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=True)


def check(fn, *arrays):
    assert mg.gradcheck(fn, [leaf(a) for a in arrays])


def index(array):
    """An int64 index tensor on the active backend."""
    return mg.tensor(np.asarray(array, dtype=np.int64))


def assert_like_torch(ours, theirs, *arrays, rtol=1e-7):
    """Same shapes, dtypes, values and input gradients (under fixed weights) as torch."""
    xs = [leaf(a) for a in arrays]
    ts = [torch.tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out, expected = ours(*xs), theirs(*ts)
    pairs = list(zip(out, expected)) if isinstance(out, tuple) else [(out, expected)]
    loss = torch_loss = None
    for k, (o, e) in enumerate(pairs):
        assert o.shape == tuple(e.shape), f"output {k}: shape {o.shape}, torch {e.shape}"
        assert o.dtype == np.dtype(str(e.dtype).replace("torch.", "")), \
            f"output {k}: dtype {o.dtype}, torch {e.dtype}"
        np.testing.assert_allclose(o.numpy(), e.detach().numpy(), rtol=rtol, atol=1e-12,
                                   err_msg=f"output {k}")
        if o.dtype.kind == "f" and o.requires_grad:
            w = np.random.default_rng(k).standard_normal(o.shape)
            term, torch_term = (o * mg.tensor(w)).sum(), (e * torch.tensor(w)).sum()
            loss = term if loss is None else loss + term
            torch_loss = torch_term if torch_loss is None else torch_loss + torch_term
    if loss is not None:
        loss.backward()
        torch_loss.backward()
        for k, (x, t) in enumerate(zip(xs, ts)):
            want = np.zeros(x.shape) if t.grad is None else t.grad.numpy()
            got = np.zeros(x.shape) if x.grad is None else x.grad.numpy()
            np.testing.assert_allclose(got, want, rtol=1e-7, atol=1e-12,
                                       err_msg=f"gradient of input {k}")


# --------------------------------------------------------------------------- gradchecks

@FAST
@given(shapes, seeds, st.data())
def test_unflatten_gradcheck(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    sizes = data.draw(st.sampled_from([(1, n), (n, 1), (-1,), (n,), (1, -1, 1)]))
    check(lambda x: x.unflatten(axis, sizes) * 2.0, normal(shape, seed))


@FAST
@given(shapes, seeds, st.data())
def test_pad_gradcheck(shape, seed, data):
    widths = []
    for n in reversed(shape[-data.draw(st.integers(1, len(shape))):]):
        low = -1 if n > 2 else 0         # negative widths crop
        widths += [data.draw(st.integers(low, 2)), data.draw(st.integers(low, 2))]
    value = data.draw(st.sampled_from([0.0, 1.5]))
    check(lambda x: mg.pad(x, tuple(widths), value=value) * 2.0, normal(shape, seed))


@FAST
@given(shapes, seeds, st.data())
def test_repeat_and_tile_gradcheck(shape, seed, data):
    lead = data.draw(st.integers(0, 1))
    sizes = tuple(data.draw(st.integers(1, 3)) for _ in range(len(shape) + lead))
    check(lambda x: x.repeat(*sizes), normal(shape, seed))
    dims = sizes[data.draw(st.integers(0, len(sizes))):]
    check(lambda x: mg.tile(x, dims), normal(shape, seed))


@FAST
@given(shapes, seeds, st.data())
def test_roll_and_flip_gradcheck(shape, seed, data):
    axes = data.draw(st.lists(st.integers(0, len(shape) - 1), unique=True, min_size=1))
    shifts = tuple(data.draw(st.integers(-5, 5)) for _ in axes)
    check(lambda x: mg.roll(x, shifts, tuple(axes)), normal(shape, seed))
    check(lambda x: x.roll(shifts[0]), normal(shape, seed))
    check(lambda x: x.flip(tuple(axes)) * 2.0, normal(shape, seed))


@FAST
@given(matrices, seeds, st.integers(-2, 2), st.sampled_from(["tril", "triu"]))
def test_triangles_gradcheck(shape, seed, diagonal, name):
    check(lambda x: getattr(x, name)(diagonal), normal(shape, seed))


@FAST
@given(matrices, seeds, st.data())
def test_diagonal_gradcheck(shape, seed, data):
    dim1, dim2 = data.draw(st.lists(st.integers(-len(shape), len(shape) - 1), min_size=2,
                                    max_size=2, unique_by=lambda d: d % len(shape)))
    offset = data.draw(st.integers(-2, 2))
    check(lambda x: x.diagonal(offset, dim1, dim2) * 2.0, normal(shape, seed))


@st.composite
def gather_case(draw):
    shape = draw(shapes)
    axis = draw(st.integers(0, len(shape) - 1))
    index_shape = tuple(draw(st.integers(1, 5)) if d == axis else draw(st.integers(1, n))
                        for d, n in enumerate(shape))
    seed = draw(seeds)
    positions = np.random.default_rng(seed).integers(0, shape[axis], index_shape)
    return shape, axis, positions, seed


@FAST
@given(gather_case())
def test_gather_gradcheck(case):
    shape, axis, positions, seed = case
    check(lambda x: x.gather(axis, index(positions)), normal(shape, seed))


@FAST
@given(gather_case())
def test_scatter_add_gradcheck(case):
    shape, axis, positions, seed = case
    src_shape = positions.shape
    check(lambda x, s: mg.scatter_add(x, axis, index(positions), s), normal(shape, seed),
          normal(src_shape, seed + 1))


@FAST
@given(shapes, seeds, st.data())
def test_scatter_gradcheck(shape, seed, data):
    # positions unique along the axis, so that each written element has one source
    axis = data.draw(st.integers(0, len(shape) - 1))
    taken = data.draw(st.integers(1, shape[axis]))
    order = np.argsort(np.random.default_rng(seed).uniform(size=shape), axis=axis)
    positions = np.take(order, np.arange(taken), axis=axis)
    bigger = tuple(n + 1 for n in positions.shape)      # src may be larger than index
    check(lambda x, s: x.scatter(axis, index(positions), s), normal(shape, seed),
          normal(bigger, seed + 1))
    check(lambda x: x.scatter(axis, index(positions), 0.5), normal(shape, seed))


@FAST
@given(shapes, seeds, st.data())
def test_index_select_gradcheck(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    positions = data.draw(st.lists(st.integers(0, shape[axis] - 1), min_size=1, max_size=5))
    check(lambda x: x.index_select(axis, index(positions)), normal(shape, seed))


@FAST
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       seeds)
def test_masked_select_gradcheck(broadcast, seed):
    shape, mask_shape = broadcast.input_shapes
    mask = mg.tensor(np.random.default_rng(seed).uniform(size=mask_shape) < 0.5)
    check(lambda x: x.masked_select(mask) * 2.0, normal(shape, seed))


@FAST
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3),
       seeds)
def test_masked_fill_gradcheck(broadcast, seed):
    shape = broadcast.result_shape
    mask = mg.tensor(np.random.default_rng(seed).uniform(size=broadcast.input_shapes[1]) < .5)
    check(lambda x, v: x.masked_fill(mask, v * 3.0), normal(shape, seed), np.float64(0.4))


@FAST
@given(shapes, seeds, st.data())
def test_sort_and_topk_gradcheck(shape, seed, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    descending = data.draw(st.booleans())
    k = data.draw(st.integers(0, shape[axis]))
    check(lambda x: x.sort(dim=axis, descending=descending).values, distinct(shape, seed))
    check(lambda x: x.topk(k, dim=axis, largest=descending).values, distinct(shape, seed))


EINSUMS = ["ij,jk->ik", "bij,bjk->bik", "ii->i", "ii", "ij->", "i,j->ij", "ij,ij->ij",
           "iij->j", "ij,jk,kl->il", "...ij,...jk->...ik", "i...->...", "ij->ji", "bii->bi"]


@FAST
@given(st.sampled_from(EINSUMS), st.dictionaries(st.sampled_from("bijkl"),
                                                 st.integers(1, 3)), seeds, st.integers(0, 2))
def test_einsum_gradcheck(equation, sizes, seed, broadcast_dims):
    lead = tuple(range(2, 2 + broadcast_dims))
    arrays = []
    for k, subscripts in enumerate(equation.split("->")[0].split(",")):
        shape = tuple(sizes.get(c, 2) for c in subscripts.replace("...", ""))
        arrays.append(normal(lead + shape if "..." in subscripts else shape, seed + k))
    check(lambda *xs: mg.einsum(equation, *xs), *arrays)


def test_einsum_second_derivatives():
    a, b = normal((2, 3), 0), normal((3, 3), 1)
    x, y = leaf(a), leaf(b)
    t, u = (torch.tensor(v, requires_grad=True) for v in (a, b))
    gx, gy = mg.grad(mg.einsum("ij,jj->i", x, y).sum() ** 2, [x, y], create_graph=True)
    tx, ty = torch.autograd.grad(torch.einsum("ij,jj->i", t, u).sum() ** 2, [t, u],
                                 create_graph=True)
    ((gx * gx).sum() + (gy * gy).sum()).backward()
    ((tx * tx).sum() + (ty * ty).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy())
    np.testing.assert_allclose(y.grad.numpy(), u.grad.numpy())


# --------------------------------------------------------------------------- against torch

def _torch_pad(widths, **kw):
    return lambda t: torch.nn.functional.pad(t, widths, **kw)


TORCH = {
    "unflatten": (lambda x: x.unflatten(1, (2, 2)), lambda t: t.unflatten(1, (2, 2)), (3, 4)),
    "unflatten_infer": (lambda x: mg.unflatten(x, dim=-1, sizes=(-1, 2)),
                        lambda t: t.unflatten(-1, (-1, 2)), (3, 4)),
    "pad": (lambda x: mg.pad(x, (1, 2)), _torch_pad((1, 2)), (3, 4)),
    "pad_two_dims": (lambda x: mg.nn.functional.pad(x, (0, 1, 2, 0), value=-1.5),
                     _torch_pad((0, 1, 2, 0), value=-1.5), (2, 3, 4)),
    "pad_crop": (lambda x: mg.pad(x, (-1, 2, 1, -2)), _torch_pad((-1, 2, 1, -2)), (3, 4)),
    "repeat": (lambda x: x.repeat(2, 3), lambda t: t.repeat(2, 3), (3, 4)),
    "repeat_new_axes": (lambda x: x.repeat((2, 1, 1, 2)), lambda t: t.repeat(2, 1, 1, 2),
                        (2, 3, 1)),
    "tile": (lambda x: x.tile((2,)), lambda t: t.tile((2,)), (3, 4)),
    "tile_longer": (lambda x: mg.tile(x, (2, 1, 2)), lambda t: torch.tile(t, (2, 1, 2)),
                    (3, 4)),
    "roll": (lambda x: x.roll(1, 0), lambda t: t.roll(1, 0), (3, 4)),
    "roll_flat": (lambda x: x.roll(-5), lambda t: t.roll(-5), (3, 4)),
    "roll_two": (lambda x: mg.roll(x, (2, -1), (1, 0)), lambda t: torch.roll(t, (2, -1), (1, 0)),
                 (3, 4)),
    "flip": (lambda x: x.flip(0), lambda t: t.flip(0), (3, 4)),
    "flip_dims": (lambda x: mg.flip(x, (0, 2)), lambda t: torch.flip(t, (0, 2)), (2, 3, 4)),
    "tril": (lambda x: x.tril(), lambda t: t.tril(), (3, 4)),
    "tril_offset": (lambda x: mg.tril(x, -1), lambda t: torch.tril(t, -1), (2, 3, 4)),
    "triu": (lambda x: x.triu(1), lambda t: t.triu(1), (4, 3)),
    "diagonal": (lambda x: x.diagonal(), lambda t: t.diagonal(), (3, 4)),
    "diagonal_offset": (lambda x: mg.diagonal(x, -1, 2, 0), lambda t: t.diagonal(-1, 2, 0),
                        (3, 2, 4)),
    "gather": (lambda x: x.gather(1, index([[0, 0], [3, 1], [2, 2]])),
               lambda t: t.gather(1, torch.tensor([[0, 0], [3, 1], [2, 2]])), (3, 4)),
    "gather_smaller": (lambda x: mg.gather(x, 0, index([[2, 0], [2, 2], [1, 1], [0, 2]])),
                       lambda t: torch.gather(t, 0, torch.tensor([[2, 0], [2, 2], [1, 1],
                                                                  [0, 2]])), (3, 4)),
    "scatter": (lambda x: x.scatter(1, index([[0], [2], [3]]), x[:, 1:2] * 2.0),
                lambda t: t.scatter(1, torch.tensor([[0], [2], [3]]), t[:, 1:2] * 2.0),
                (3, 4)),
    "scatter_value": (lambda x: x.scatter(0, index([[1, 0, 2, 1]]), value=0.5),
                      lambda t: t.scatter(0, torch.tensor([[1, 0, 2, 1]]), value=0.5), (3, 4)),
    "scatter_add": (lambda x: mg.scatter_add(x, 0, index([[0, 1, 0, 0], [0, 1, 2, 0]]),
                                             x[:2] * 3.0),
                    lambda t: torch.scatter_add(t, 0, torch.tensor([[0, 1, 0, 0],
                                                                    [0, 1, 2, 0]]), t[:2] * 3.0),
                    (3, 4)),
    "index_select": (lambda x: x.index_select(1, index([3, 0, 3])),
                     lambda t: t.index_select(1, torch.tensor([3, 0, 3])), (3, 4)),
    "index_select_0d": (lambda x: mg.index_select(x, 0, index(2)),
                        lambda t: torch.index_select(t, 0, torch.tensor(2)), (3, 4)),
    "masked_fill": (lambda x: x.masked_fill(x > 0.3, -2.0), lambda t: t.masked_fill(t > 0.3, -2.0),
                    (3, 4)),
    "masked_fill_broadcast": (lambda x: x.masked_fill(mg.tensor([True, False, False, True]), 0.0),
                              lambda t: t.masked_fill(torch.tensor([True, False, False, True]),
                                                      0.0), (3, 4)),
    "masked_select": (lambda x: x.masked_select(x > 0.0),
                      lambda t: t.masked_select(t > 0.0), (3, 4)),
    "masked_select_broadcast": (lambda x: mg.masked_select(x, mg.tensor([[True], [False],
                                                                          [True]])),
                                lambda t: torch.masked_select(t, torch.tensor(
                                    [[True], [False], [True]])), (4,)),
    "nonzero": (lambda x: mg.nonzero(x > 0.2), lambda t: torch.nonzero(t > 0.2), (3, 4)),
    "nonzero_tuple": (lambda x: mg.nonzero(x > 0.2, as_tuple=True),
                      lambda t: torch.nonzero(t > 0.2, as_tuple=True), (2, 3, 4)),
    "nonzero_0d": (lambda x: mg.nonzero(x[0, 0] * 0.0 + 1.0),
                   lambda t: torch.nonzero(t[0, 0] * 0.0 + 1.0), (3, 4)),
    "nonzero_0d_tuple": (lambda x: mg.nonzero(x[0, 0], as_tuple=True),
                         lambda t: torch.nonzero(t[0, 0], as_tuple=True), (3, 4)),
    "sort": (lambda x: tuple(x.sort()), lambda t: tuple(t.sort()), (3, 4)),
    "sort_descending": (lambda x: tuple(mg.sort(x, dim=0, descending=True)),
                        lambda t: tuple(torch.sort(t, dim=0, descending=True)), (3, 4)),
    "argsort": (lambda x: x.argsort(dim=0), lambda t: t.argsort(dim=0), (3, 4)),
    "argsort_descending": (lambda x: mg.argsort(x, descending=True),
                           lambda t: torch.argsort(t, descending=True), (3, 4)),
    "topk": (lambda x: tuple(x.topk(2)), lambda t: tuple(t.topk(2)), (3, 4)),
    "topk_smallest": (lambda x: tuple(mg.topk(x, 3, dim=0, largest=False)),
                      lambda t: tuple(torch.topk(t, 3, dim=0, largest=False)), (3, 4)),
    "one_hot": (lambda x: mg.one_hot(x.argmax(dim=1), 5),
                lambda t: torch.nn.functional.one_hot(t.argmax(dim=1), 5), (3, 4)),
    "one_hot_inferred": (lambda x: mg.nn.functional.one_hot(x.argsort(dim=1)),
                         lambda t: torch.nn.functional.one_hot(t.argsort(dim=1)), (3, 4)),
    "einsum_matmul": (lambda x: mg.einsum("ij,kj->ik", x, x * 2.0),
                      lambda t: torch.einsum("ij,kj->ik", t, t * 2.0), (3, 4)),
    "einsum_trace": (lambda x: mg.einsum("ii", x[:, :3]), lambda t: torch.einsum("ii", t[:, :3]),
                     (3, 4)),
    "einsum_list": (lambda x: mg.einsum("bij,bkj->bik", [x, x]),
                    lambda t: torch.einsum("bij,bkj->bik", [t, t]), (2, 3, 4)),
    "einsum_ellipsis": (lambda x: mg.einsum("...j,j->...", x, x[0, 0]),
                        lambda t: torch.einsum("...j,j->...", t, t[0, 0]), (2, 3, 4)),
    "einsum_implicit": (lambda x: mg.einsum("ij,jk", x, x.T), lambda t: torch.einsum(
        "ij,jk", t, t.T), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(TORCH))
def test_against_torch(name):
    ours, theirs, shape = TORCH[name]
    assert_like_torch(ours, theirs, normal(shape, sorted(TORCH).index(name)))


def test_sort_is_stable_and_nan_sorts_largest_like_torch():
    data = [1.0, math.nan, 3.0, 3.0, 2.0, 1.0, math.nan]
    for descending in (False, True):
        ours = mg.tensor(data).sort(descending=descending)
        theirs = torch.tensor(data).sort(descending=descending, stable=True)
        np.testing.assert_array_equal(ours.values.numpy(), theirs.values.numpy())
        np.testing.assert_array_equal(ours.indices.numpy(), theirs.indices.numpy())
        np.testing.assert_array_equal(mg.tensor(data).argsort(descending=descending).numpy(),
                                      torch.tensor(data).argsort(descending=descending,
                                                                 stable=True).numpy())
    assert mg.tensor([2, 1, 2, 0]).sort().indices.tolist() == [3, 1, 0, 2]


def test_topk_ties_come_in_order():
    data = [1.0, 3.0, 3.0, 2.0, 3.0]
    assert mg.tensor(data).topk(2).indices.tolist() == [1, 2]
    assert mg.tensor(data).topk(3, largest=False).indices.tolist() == [0, 3, 1]


def test_sorting_ops_of_a_0d_tensor_like_torch():
    for ours, theirs in ((lambda x: x.sort(dim=0).values, lambda t: t.sort(dim=0).values),
                         (lambda x: x.argsort(dim=-1), lambda t: t.argsort(dim=-1)),
                         (lambda x: x.topk(1).values, lambda t: t.topk(1).values),
                         (lambda x: x.flip(0), lambda t: t.flip(0)),
                         (lambda x: x.roll(1), lambda t: t.roll(1))):
        assert_like_torch(ours, theirs, np.float64(0.5))


def test_one_hot_is_in_nn_functional_and_checks_its_classes():
    assert mg.nn.functional.one_hot is mg.one_hot
    assert mg.one_hot(mg.tensor([[0, 2]]), num_classes=3).shape == (1, 2, 3)
    with pytest.raises(ValueError, match=r"one_hot: class values must be in 0 \.\. 2"):
        mg.one_hot(mg.tensor([0, 3]), 3)
    with pytest.raises(ValueError, match="one_hot: class values"):
        mg.one_hot(mg.tensor([-1, 0]))
    with pytest.raises(TypeError, match="one_hot: needs a tensor of class indices"):
        mg.one_hot(mg.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match="one_hot: cannot infer num_classes"):
        mg.one_hot(mg.zeros(0, dtype=mg.int64))


def test_masked_fill_keeps_the_dtype_and_takes_a_0d_tensor():
    x = mg.tensor([1, 2, 3])
    filled = x.masked_fill(x > 1, 0.7)
    assert filled.dtype == mg.int64 and filled.tolist() == [1, 0, 0]
    assert torch.tensor([1, 2, 3]).masked_fill(torch.tensor([False, True, True]), 0.7).tolist() \
        == [1, 0, 0]
    assert_like_torch(lambda a, v: a.masked_fill(a > 0, v * 2.0),
                      lambda a, v: a.masked_fill(a > 0, v * 2.0),
                      normal((3, 4), 0), np.float64(0.3))


# --------------------------------------------------------------------------- errors

ERRORS = [
    (lambda x: x.gather(1, index([[4]] * 3)), IndexError,
     "gather: index 4 is out of bounds for dimension 1 with size 4"),
    (lambda x: x.gather(1, index([[-1]] * 3)), IndexError, "gather: index -1 is out of bounds"),
    (lambda x: x.gather(1, index([0, 1])), ValueError,
     "gather: index of shape (2,) must have as many dimensions"),
    (lambda x: x.gather(1, mg.tensor([[0.0]])), TypeError, "gather: index must hold integers"),
    (lambda x: x.scatter(0, index([[0]]), mg.tensor([[1.0]], dtype=mg.float32)), TypeError,
     "scatter: src has dtype float32"),
    (lambda x: x.scatter(0, index([[0]])), TypeError, "scatter: give src"),
    (lambda x: x.scatter_add(0, index([[0, 0]]), x[:1, :1]), ValueError,
     "scatter_add: index of shape (1, 2) is larger than src"),
    (lambda x: x.index_select(0, index([[0]])), ValueError, "index_select: index must be 1-D"),
    (lambda x: x.index_select(0, index([3])), IndexError, "index_select: index 3 is out of"),
    (lambda x: x.masked_fill(x, 0.0), TypeError, "masked_fill: mask must be a bool tensor"),
    (lambda x: x.masked_fill(mg.tensor([[[True]]]), 0.0), ValueError,
     "masked_fill: mask of shape (1, 1, 1) does not broadcast to the tensor's shape (3, 4)"),
    (lambda x: x.masked_select(mg.tensor([True, False])), ValueError,
     "masked_select: shapes (3, 4) and (2,) (mask) do not broadcast"),
    (lambda x: x.topk(5), ValueError, "topk: k=5 is out of range for dimension 1 of length 4"),
    (lambda x: x.repeat(2), ValueError, "repeat: 1 sizes (2,) for a tensor of 2 dimensions"),
    (lambda x: mg.pad(x, (1,)), ValueError, "pad: pad must hold two widths per padded axis"),
    (lambda x: mg.pad(x, (1, 1), mode="reflect"), ValueError,
     "pad: only mode='constant' is supported"),
    (lambda x: mg.pad(x, (-3, -2)), ValueError, "pad: widths (-3, -2) would give shape"),
    (lambda x: x[0].tril(), ValueError, "tril: needs a tensor of at least 2 dimensions"),
    (lambda x: x.diagonal(0, 1, -1), ValueError, "diagonal: dim1 and dim2 must differ"),
    (lambda x: x.unflatten(1, (3, 2)), ValueError, "unflatten: sizes (3, 2) do not make"),
    (lambda x: x.roll((1, 2), 0), ValueError, "roll: 2 shifts (1, 2) for 1 dims (0,)"),
    (lambda x: mg.einsum("ij,jk->ik", x), ValueError, "einsum: the equation 'ij,jk->ik' names 2"),
    (lambda x: mg.einsum("ijk->i", x), ValueError, "einsum: subscripts 'ijk' do not fit"),
    (lambda x: mg.einsum("ij,ij->i", x, x.T), ValueError, "einsum: 'ij,ij->i' does not fit"),
    (lambda x: x.sort(dim=1.0), TypeError, "sort: dim must be an int"),
    (lambda x: x.transpose(0.5, 1), TypeError, "transpose: axis must be an int"),
]


@pytest.mark.parametrize("k", range(len(ERRORS)))
def test_bad_arguments_say_what_was_expected(k):
    call, error, message = ERRORS[k]
    with pytest.raises(error) as caught:
        call(mg.tensor(normal((3, 4), 0)))
    assert message in str(caught.value)


DIM_OUT_OF_RANGE = {
    # op -> a call on a (3, 4) tensor with a dimension out of range
    "unsqueeze": lambda x: x.unsqueeze(3), "unbind": lambda x: x.unbind(2),
    "split": lambda x: mg.split(x, 2, axis=-3), "chunk": lambda x: x.chunk(2, dim=2),
    "concat": lambda x: mg.concat([x, x], axis=2), "stack": lambda x: mg.stack([x, x], 3),
    "unflatten": lambda x: x.unflatten(2, (2, 2)), "roll": lambda x: x.roll(1, 2),
    "flip": lambda x: x.flip(2), "diagonal": lambda x: x.diagonal(0, 0, 2),
    "gather": lambda x: x.gather(2, index([[0]])),
    "scatter": lambda x: x.scatter(-3, index([[0]]), 0.0),
    "scatter_add": lambda x: x.scatter_add(2, index([[0]]), x),
    "index_select": lambda x: x.index_select(2, index([0])),
    "sort": lambda x: x.sort(2), "argsort": lambda x: x.argsort(dim=-3),
    "topk": lambda x: x.topk(1, 2), "swapaxes": lambda x: x.swapaxes(0, 2),
    "transpose": lambda x: x.transpose(0, 2),
}


@pytest.mark.parametrize("name", sorted(DIM_OUT_OF_RANGE))
def test_dims_out_of_range_are_axis_errors(name):
    with pytest.raises(mg.AxisError, match=f"^{name}: .*out of range") as caught:
        DIM_OUT_OF_RANGE[name](mg.tensor(normal((3, 4), 0)))
    assert isinstance(caught.value, IndexError) and isinstance(caught.value, ValueError)


def test_transpose_of_a_0d_tensor():
    x = mg.tensor(2.0)
    assert x.transpose() is x and x.T is x
    assert x.swapaxes(0, -1) is x       # PyTorch's transpose(0, -1) of a 0-d tensor
    assert torch.tensor(2.0).transpose(0, -1).shape == ()
    for axes in ((0,), (1,), (0, -1)):
        with pytest.raises(mg.AxisError, match=r"transpose: a 0-d tensor has no axes to "
                                               r"permute, got axes \("):
            x.transpose(*axes)


def test_squeeze_of_a_0d_tensor_with_dim_0_like_torch():
    assert mg.tensor(2.0).squeeze(0).shape == () == torch.tensor(2.0).squeeze(0).shape
    assert mg.tensor(2.0).squeeze(dim=-1).shape == ()


def test_basic_slices_backward_without_scatter_add(monkeypatch):
    """A slice's gradient is written by slice assignment; only integer-array indices
    (which may repeat) and gather-like ops scatter-add."""
    backend = _backend.of(mg.zeros(1).data)

    def refuse(*args):
        raise AssertionError("scatter-add used")
    monkeypatch.setattr(backend, "scatter_add", refuse)
    x = leaf(normal((4, 5), 0))
    (x[1:, ::2].sum() + x[0].sum() + x[..., None, 2].sum() + x[x > 0].sum()
     + mg.pad(x, (-1, 1)).sum() + x.diagonal().sum() + x.flip(0)[2:].sum()).backward()
    assert x.grad is not None
    with pytest.raises(AssertionError, match="scatter-add used"):
        x.gather(0, index([[0, 1]])).sum().backward()


@FAST
@given(shapes, seeds, st.data())
def test_ops_without_gradient_over_drawn_shapes_like_torch(shape, seed, data):
    values = np.round(normal(shape, seed))      # ties and zeros
    classes = np.minimum(np.abs(values), 3).astype(np.int64)
    x, t = mg.tensor(values), torch.tensor(values)
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    descending = data.draw(st.booleans())
    pairs = [(mg.nonzero(x), torch.nonzero(t)),
             (x.argsort(dim=axis, descending=descending),
              t.argsort(dim=axis, descending=descending, stable=True)),
             (mg.one_hot(mg.tensor(classes), 4),
              torch.nn.functional.one_hot(torch.tensor(classes), 4))]
    pairs += list(zip(mg.nonzero(x, as_tuple=True), torch.nonzero(t, as_tuple=True)))
    for ours, theirs in pairs:
        assert ours.shape == tuple(theirs.shape) and ours.dtype == mg.int64
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


def test_split_means_what_its_spelling_means():
    """``axis=`` (or positional) is NumPy's split, ``dim=`` and the method PyTorch's."""
    data = np.arange(14.0).reshape(2, 7)
    x = mg.tensor(data, requires_grad=True)
    theirs = torch.from_numpy(data)
    for ours, expected in ((x.split(3, dim=1), theirs.split(3, dim=1)),
                           (x.split(3, 1), theirs.split(3, 1)),
                           (mg.split(x, [2, 5], dim=1), torch.split(theirs, [2, 5], dim=1)),
                           (x.split([1, 1]), theirs.split([1, 1]))):
        assert [p.shape for p in ours] == [tuple(p.shape) for p in expected]
        for piece, reference in zip(ours, expected):
            np.testing.assert_array_equal(piece.numpy(), reference.numpy())
    assert [p.shape for p in mg.split(x, [2, 5], axis=1)] == [(2, 2), (2, 3), (2, 2)]
    assert [p.shape for p in mg.split(x, 7, 1)] == [(2, 1)] * 7
    sum(p.sum() * (k + 1) for k, p in enumerate(x.split(3, dim=1))).backward()
    np.testing.assert_array_equal(x.grad.numpy()[0], [1, 1, 1, 2, 2, 2, 3])
    with pytest.raises(ValueError, match=r"split: sizes \[2, 2\] must be non-negative and "
                                         r"add up to 7"):
        x.split([2, 2], dim=1)
    with pytest.raises(TypeError, match="split: got both axis and dim="):
        mg.split(x, 2, 1, dim=1)
