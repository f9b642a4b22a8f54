"""Indexing by tensors of positions or masks: gather, scatter, index_select, the masked
ops, nonzero, sorting (sort, argsort, topk) and one_hot.

Index and mask tensors are inputs of their op (with no gradient), so fused code reads
each call's positions rather than freezing the first call's. Only the ops that add values
at positions (scatter_add, and the backward rules of gather and index_select, where
positions repeat) scatter-add.
"""
from __future__ import annotations

import builtins

from .. import backend as _backend
from ..tensor import Tensor, constant, kernel, record
from .reduction import ValuesIndices, axis_int, on_vector, single_axis, torch_spellings
from .elementwise import astype, where
from .shape import broadcast_to, getitem, reshape


# --------------------------------------------------------------------------- gather,
# scatter, masks: index tensors are inputs of the op (no gradient), so fused code reads
# each call's indices

def _index_tensor(index, like, op, name="index"):
    """``index`` (a tensor, array or list of integers) as an integer tensor on ``like``'s
    backend."""
    if isinstance(index, Tensor):
        if type(index.data) is not type(like.data):
            raise _backend.BackendError(f"{op}: the tensor and its {name} live on different "
                                        f"backends ({like.backend} and {index.backend}); "
                                        f"move one with .to()")
    else:
        index = constant(_backend.convert(index, _backend.of(like.data)))
    if index.dtype.kind not in "iu":
        raise TypeError(f"{op}: {name} must hold integers, got dtype {index.dtype}")
    return index


def _check_positions(index, length, op, axis):
    """Refuses positions outside ``0 .. length - 1`` (PyTorch takes no negative ones)."""
    data = index.data
    if data.size and bool(((data < 0) | (data >= length)).any()):
        bad = int(data[(data < 0) | (data >= length)].ravel()[0].item())
        raise IndexError(f"{op}: index {bad} is out of bounds for dimension {axis} with "
                         f"size {length}")


def _along(xp, index, axis):
    """The index tuple that reaches ``index``'s positions along ``axis`` (and each
    element's own position along the others)."""
    parts = []
    for d, n in enumerate(index.shape):
        if d == axis:
            parts.append(index)
        else:
            shape = [1] * index.ndim
            shape[d] = n
            parts.append(xp.arange(n).reshape(shape))
    return tuple(parts)


def _check_index_shape(x, axis, index, op, src=None):
    if index.ndim != x.ndim:
        raise ValueError(f"{op}: index of shape {index.shape} must have as many dimensions "
                         f"as the tensor of shape {x.shape}")
    for d, n in enumerate(index.shape):
        if d != axis and n > x.shape[d]:
            raise ValueError(f"{op}: index of shape {index.shape} is larger than the tensor "
                             f"of shape {x.shape} in dimension {d}")
        if src is not None and n > src.shape[d]:
            raise ValueError(f"{op}: index of shape {index.shape} is larger than src of "
                             f"shape {src.shape} in dimension {d}")
    _check_positions(index, x.shape[axis], op, axis)


@torch_spellings
def gather(x, axis, index):
    """``out[i][j] = x[index[i][j]][j]`` for ``axis`` 0 (and so on), as ``torch.gather``.

    Parameters
    ----------
    x : Tensor
    axis : int
        ``dim=`` too.
    index : Tensor or array of integers
        As many dimensions as ``x``, no longer than it except along ``axis``.

    Returns
    -------
    Tensor
        ``index``'s shape. Repeated positions add up their gradients.
    """
    axis = single_axis(axis, x.ndim, "gather", "dim")
    index = _index_tensor(index, x, "gather")
    if x.ndim == 0:
        return gather(reshape(x, 1), 0, reshape(index, -1)).reshape(index.shape)
    _check_index_shape(x, axis, index, "gather")
    return taken_along(x, axis, index)


def taken_along(x, axis, index):
    """:func:`gather` without its checks, for indices that ops made themselves (those of
    ``sort``, ``topk``, ``cummax``, ``max(dim=)``): no pass over them, no device sync.

    Parameters
    ----------
    x : Tensor
    axis : int
        In ``range(x.ndim)``.
    index : Tensor of integers
        Valid positions, as many dimensions as ``x``.

    Returns
    -------
    Tensor
        ``index``'s shape.
    """
    def backward(grad):
        return (gather_into_zeros(grad, axis, index, x.shape), None)
    return record(gather_values(x.xp, x.data, index.data, axis), (x, index), backward,
                  "gather", gather_values, {"axis": axis})


@kernel
def gather_values(xp, x, index, axis):
    """:func:`gather`'s kernel."""
    return x[_along(xp, index, axis)]


def gather_into_zeros(values, axis, index, shape):
    """Zeros of ``shape`` with ``values`` added at the positions :func:`gather` read
    (repeated positions accumulate): the gradient of ``gather``.

    Parameters
    ----------
    values : Tensor
        ``index``'s shape.
    axis : int
    index : Tensor of integers
    shape : tuple of int

    Returns
    -------
    Tensor of ``shape``
    """
    static = {"axis": axis, "shape": tuple(shape)}

    def backward(grad):
        return (taken_along(grad, axis, index), None)
    return record(gather_into_zeros_values(values.xp, values.data, index.data, **static),
                  (values, index), backward, "gather_into_zeros", gather_into_zeros_values,
                  static)


@kernel
def gather_into_zeros_values(xp, values, index, axis, shape):
    """:func:`gather_into_zeros`'s kernel."""
    out = xp.zeros(shape, dtype=values.dtype)
    _backend.of(out).scatter_add(out, _along(xp, index, axis), values)
    return out


def _source(src, index, x, op):
    """``src`` for a scatter: a tensor cut to ``index``'s shape (only that part is read,
    as PyTorch's), or a Python number."""
    if not isinstance(src, Tensor):
        if isinstance(src, (bool, int, float)):
            return src
        raise TypeError(f"{op}: src must be a tensor or a number, got {type(src).__name__}")
    if src.dtype != x.dtype:
        raise TypeError(f"{op}: src has dtype {src.dtype}, the tensor {x.dtype}; cast one")
    if src.shape != index.shape:
        src = getitem(src, tuple(slice(0, n) for n in index.shape))
    return src


@torch_spellings
def scatter(x, axis, index, src=None, *, value=None):
    """A copy of ``x`` with ``out[index[i][j]][j] = src[i][j]`` for ``axis`` 0 (and so
    on), as ``torch.scatter``.

    Parameters
    ----------
    x : Tensor
    axis : int
        ``dim=`` too.
    index : Tensor or array of integers
        As many dimensions as ``x``; no longer than ``src``, nor than ``x`` except along
        ``axis``.
    src : Tensor or number
        The values written (a number writes itself everywhere).
    value : number, optional
        PyTorch's keyword for a number ``src``.

    Returns
    -------
    Tensor
        ``x``'s shape. Where positions repeat, one of the written values is kept (which
        one is unspecified, as in PyTorch).
    """
    if (src is None) == (value is None):
        raise TypeError("scatter: give src (a tensor or a number) or value=, one of them")
    axis = single_axis(axis, x.ndim, "scatter", "dim")
    index = _index_tensor(index, x, "scatter")
    src = _source(src if value is None else value, index, x, "scatter")
    _check_index_shape(x, axis, index, "scatter", src if isinstance(src, Tensor) else None)

    def backward(grad):
        # written-over positions get no gradient; each source element gets its target's
        return (scatter(grad, axis, index, 0.0), None,
                taken_along(grad, axis, index) if isinstance(src, Tensor) else None)
    return record(scatter_values(x.xp, x.data, index.data, getattr(src, "data", src), axis,
                                 False),
                  (x, index, src), backward, "scatter", scatter_values,
                  {"axis": axis, "accumulate": False})


@kernel
def scatter_values(xp, x, index, src, axis, accumulate):
    """The kernel of :func:`scatter` and :func:`scatter_add`."""
    out = x.copy()
    if accumulate:
        _backend.of(out).scatter_add(out, _along(xp, index, axis), src)
    else:
        out[_along(xp, index, axis)] = src
    return out


@torch_spellings
def scatter_add(x, axis, index, src):
    """A copy of ``x`` with ``out[index[i][j]][j] += src[i][j]`` for ``axis`` 0 (and so
    on), repeated positions accumulating, as ``torch.scatter_add``.

    Parameters
    ----------
    x : Tensor
    axis : int
    index : Tensor or array of integers
        As in :func:`scatter`.
    src : Tensor
        ``x``'s dtype; only its part of ``index``'s shape is read.

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    axis = single_axis(axis, x.ndim, "scatter_add", "dim")
    index = _index_tensor(index, x, "scatter_add")
    if not isinstance(src, Tensor):
        raise TypeError(f"scatter_add: src must be a tensor, got {type(src).__name__}")
    src = _source(src, index, x, "scatter_add")
    _check_index_shape(x, axis, index, "scatter_add", src)

    def backward(grad):
        return (grad, None, taken_along(grad, axis, index))
    return record(scatter_values(x.xp, x.data, index.data, src.data, axis, True),
                  (x, index, src), backward, "scatter_add", scatter_values,
                  {"axis": axis, "accumulate": True})


@torch_spellings
def index_select(x, axis, index):
    """The entries of ``x`` at positions ``index`` along ``axis``, as
    ``torch.index_select``.

    Parameters
    ----------
    x : Tensor
    axis : int
        ``dim=`` too.
    index : Tensor or array of integers, 1-D (or 0-d)

    Returns
    -------
    Tensor
        ``x``'s shape with ``len(index)`` along ``axis``; repeated positions add up their
        gradients.
    """
    axis = single_axis(axis, x.ndim, "index_select", "dim")
    index = _index_tensor(index, x, "index_select")
    if index.ndim > 1:
        raise ValueError(f"index_select: index must be 1-D, got shape {index.shape}")
    if x.ndim == 0:
        return on_vector(index_select, x, 0, index)
    _check_positions(index, x.shape[axis], "index_select", axis)
    static = {"axis": axis}

    def backward(grad):
        return (index_add_into_zeros(grad, axis, index, x.shape), None)
    return record(index_select_values(x.xp, x.data, index.data, axis), (x, index), backward,
                  "index_select", index_select_values, static)


@kernel
def index_select_values(xp, x, index, axis):
    """:func:`index_select`'s kernel (a 0-d index counts as one position)."""
    return xp.take(x, index.reshape(-1), axis=axis)


def index_add_into_zeros(values, axis, index, shape):
    """Zeros of ``shape`` with ``values`` added at positions ``index`` along ``axis``
    (repeated positions accumulate): the gradient of :func:`index_select`.

    Parameters
    ----------
    values : Tensor
        ``shape`` with ``len(index)`` along ``axis``.
    axis : int
    index : Tensor of integers, 1-D or 0-d
    shape : tuple of int

    Returns
    -------
    Tensor of ``shape``
    """
    static = {"axis": axis, "shape": tuple(shape)}

    def backward(grad):
        return (index_select(grad, axis, index), None)
    return record(index_add_into_zeros_values(values.xp, values.data, index.data, **static),
                  (values, index), backward, "index_add_into_zeros",
                  index_add_into_zeros_values, static)


@kernel
def index_add_into_zeros_values(xp, values, index, axis, shape):
    """:func:`index_add_into_zeros`'s kernel."""
    out = xp.zeros(shape, dtype=values.dtype)
    _backend.of(out).scatter_add(out, (slice(None),) * axis + (index.reshape(-1),), values)
    return out


def _mask_tensor(mask, like, op):
    if isinstance(mask, Tensor):
        if type(mask.data) is not type(like.data):
            raise _backend.BackendError(f"{op}: the tensor and its mask live on different "
                                        f"backends ({like.backend} and {mask.backend}); move "
                                        f"one with .to()")
    else:
        mask = constant(_backend.convert(mask, _backend.of(like.data)))
    if mask.dtype.kind != "b":
        raise TypeError(f"{op}: mask must be a bool tensor, got dtype {mask.dtype}")
    return mask


def _broadcast_shape(a, b):
    """The shape ``a`` and ``b`` broadcast to, or None when they do not."""
    lead = max(len(a), len(b))
    a, b = (1,) * (lead - len(a)) + tuple(a), (1,) * (lead - len(b)) + tuple(b)
    if builtins.any(m != n and 1 not in (m, n) for m, n in zip(a, b)):
        return None
    return tuple(n if m == 1 else m for m, n in zip(a, b))


def masked_fill(x, mask, value):
    """``x`` with ``value`` where ``mask`` is True, as ``torch.masked_fill``.

    Parameters
    ----------
    x : Tensor
    mask : Tensor or array of bool
        Broadcasts to ``x``'s shape.
    value : number or 0-d Tensor
        Cast to ``x``'s dtype; a tensor gets the gradient of the filled positions.

    Returns
    -------
    Tensor
        ``x``'s shape and dtype.
    """
    mask = _mask_tensor(mask, x, "masked_fill")
    if isinstance(value, Tensor) and value.ndim:
        raise ValueError(f"masked_fill: value must be a number or a 0-d tensor, got shape "
                         f"{value.shape}")
    if _broadcast_shape(mask.shape, x.shape) != x.shape:
        raise ValueError(f"masked_fill: mask of shape {mask.shape} does not broadcast to the "
                         f"tensor's shape {x.shape}")
    out = where(mask, value, x)
    return astype(out, x.dtype) if out.dtype != x.dtype else out


def masked_select(x, mask):
    """The elements of ``x`` where ``mask`` is True, as a 1-D tensor (``x`` and ``mask``
    broadcast together), as ``torch.masked_select``.

    Parameters
    ----------
    x : Tensor
    mask : Tensor or array of bool

    Returns
    -------
    Tensor
        1-D, in row-major order.
    """
    mask = _mask_tensor(mask, x, "masked_select")
    shape = _broadcast_shape(mask.shape, x.shape)
    if shape is None:
        raise ValueError(f"masked_select: shapes {x.shape} and {mask.shape} (mask) do not "
                         f"broadcast")
    x = broadcast_to(x, shape)

    def backward(grad):
        return (masked_into_zeros(grad, mask, shape), None)
    return record(masked_select_values(x.xp, x.data, mask.data), (x, mask), backward,
                  "masked_select", masked_select_values)


@kernel
def masked_select_values(xp, x, mask):
    """:func:`masked_select`'s kernel."""
    return x[xp.broadcast_to(mask, x.shape)]


def masked_into_zeros(values, mask, shape):
    """Zeros of ``shape`` with ``values`` where ``mask`` (broadcast) is True: the
    gradient of :func:`masked_select`.

    Parameters
    ----------
    values : Tensor, 1-D
        One value per True of the broadcast mask.
    mask : Tensor of bool
    shape : tuple of int
        The shape the mask broadcasts to.

    Returns
    -------
    Tensor of ``shape``
    """
    static = {"shape": tuple(shape)}

    def backward(grad):
        return (masked_select(grad, mask), None)
    return record(masked_into_zeros_values(values.xp, values.data, mask.data, **static),
                  (values, mask), backward, "masked_into_zeros", masked_into_zeros_values,
                  static)


@kernel
def masked_into_zeros_values(xp, values, mask, shape):
    """:func:`masked_into_zeros`'s kernel."""
    out = xp.zeros(shape, dtype=values.dtype)
    out[xp.broadcast_to(mask, shape)] = values
    return out


def nonzero(x, as_tuple=False):
    """The positions of the nonzero elements, as ``torch.nonzero``.

    Parameters
    ----------
    x : Tensor
    as_tuple : bool
        Give one 1-D tensor per dimension instead of one matrix (a 0-d ``x`` counts as
        1-D here, as in PyTorch).

    Returns
    -------
    Tensor of shape (count, x.ndim), or a tuple of x.ndim tensors of shape (count,)
        ``int64``, in row-major order; no gradient.
    """
    if as_tuple:
        found = nonzero(reshape(x, 1) if x.ndim == 0 else x)
        return tuple(getitem(found, (slice(None), d)) for d in range(found.shape[1]))
    return record(nonzero_values(x.xp, x.data), (x,), None, "nonzero", nonzero_values)


@kernel
def nonzero_values(xp, x):
    """:func:`nonzero`'s kernel."""
    return xp.argwhere(x).astype("int64")


# --------------------------------------------------------------------------- sorting

@torch_spellings
def argsort(x, axis=-1, descending=False, stable=False):
    """The positions that sort ``x`` along ``axis``, as ``torch.argsort``.

    Parameters
    ----------
    x : Tensor
    axis : int
        -1 by default (``dim=`` too).
    descending : bool
    stable : bool
        Accepted for PyTorch's signature; the sort is always stable (equal elements keep
        their order, descending too). NaN sorts as the largest value.

    Returns
    -------
    Tensor
        ``int64``, ``x``'s shape; no gradient.
    """
    axis = single_axis(axis, x.ndim, "argsort", "dim")
    if x.ndim == 0:
        return on_vector(argsort, x, 0, descending)
    static = {"axis": axis, "descending": bool(descending)}
    return record(argsort_values(x.xp, x.data, **static), (x,), None, "argsort",
                  argsort_values, static)


@kernel
def argsort_values(xp, x, axis, descending):
    """:func:`argsort`'s kernel: a stable sort; descending, the ascending stable sort of
    the reversed ``x``, reversed (so equal elements still keep their order)."""
    if not descending:
        return xp.argsort(x, axis=axis, kind="stable").astype("int64")
    backwards = xp.argsort(xp.flip(x, axis=axis), axis=axis, kind="stable")
    return xp.flip(x.shape[axis] - 1 - backwards, axis=axis).astype("int64")


@torch_spellings
def sort(x, axis=-1, descending=False, stable=False):
    """``x`` sorted along ``axis``, with where each element came from, as ``torch.sort``.

    Parameters
    ----------
    x : Tensor
    axis : int
        -1 by default (``dim=`` too).
    descending : bool
    stable : bool
        Accepted; the sort is always stable (see :func:`argsort`).

    Returns
    -------
    ValuesIndices
        ``values`` (gradients go back to where each came from) and ``int64``
        ``indices``, both ``x``'s shape.
    """
    axis = single_axis(axis, x.ndim, "sort", "dim")
    if x.ndim == 0:
        return on_vector(sort, x, 0, descending)
    indices = argsort(x, axis, descending)
    return ValuesIndices(taken_along(x, axis, indices), indices)


@torch_spellings
def topk(x, k, axis=-1, largest=True, sorted=True):
    """The ``k`` largest (or smallest) elements along ``axis``, as ``torch.topk``.

    Parameters
    ----------
    x : Tensor
    k : int
        At most the length of ``axis``.
    axis : int
        -1 by default (``dim=`` too).
    largest : bool
        False for the smallest.
    sorted : bool
        Accepted; the result is always sorted (largest first, or smallest first), ties
        in their order in ``x``.

    Returns
    -------
    ValuesIndices
        ``values`` and ``int64`` ``indices``, ``x``'s shape with ``k`` along ``axis``.
    """
    axis = single_axis(axis, x.ndim, "topk", "dim")
    k = axis_int(k, "topk", "k")
    length = x.shape[axis] if x.ndim else 1
    if not 0 <= k <= length:
        raise ValueError(f"topk: k={k} is out of range for dimension {axis} of length "
                         f"{length}")
    if x.ndim == 0:
        return on_vector(topk, x, k, 0, largest)
    static = {"k": k, "axis": axis, "descending": bool(largest)}
    indices = record(topk_indices(x.xp, x.data, **static), (x,), None, "topk", topk_indices,
                     static)
    return ValuesIndices(taken_along(x, axis, indices), indices)


@kernel
def topk_indices(xp, x, k, axis, descending):
    """:func:`topk`'s kernel: the first ``k`` positions of :func:`argsort`'s."""
    order = argsort_values(xp, x, axis, descending)
    return order[(slice(None),) * axis + (slice(0, k),)]


def one_hot(x, num_classes=-1):
    """Class indices as one-hot rows, as ``torch.nn.functional.one_hot``.

    Parameters
    ----------
    x : Tensor of integers, any shape
        Values in ``0 .. num_classes - 1``.
    num_classes : int
        -1 (the default) takes the largest value plus one.

    Returns
    -------
    Tensor
        ``int64`` of shape ``x.shape + (num_classes,)``; no gradient.
    """
    if x.dtype.kind not in "iu":
        raise TypeError(f"one_hot: needs a tensor of class indices (integers), got dtype "
                        f"{x.dtype}")
    num_classes = axis_int(num_classes, "one_hot", "num_classes")
    if num_classes == -1:
        if x.size == 0:
            raise ValueError("one_hot: cannot infer num_classes from an empty tensor; "
                             "give num_classes")
        num_classes = int(x.max().item()) + 1
    elif num_classes < 0:
        raise ValueError(f"one_hot: num_classes must be -1 or at least 0, got {num_classes}")
    if x.size and bool(((x.data < 0) | (x.data >= num_classes)).any()):
        raise ValueError(f"one_hot: class values must be in 0 .. {num_classes - 1}")
    static = {"num_classes": num_classes}
    return record(one_hot_values(x.xp, x.data, **static), (x,), None, "one_hot",
                  one_hot_values, static)


@kernel
def one_hot_values(xp, x, num_classes):
    """:func:`one_hot`'s kernel."""
    return (x[..., None] == xp.arange(num_classes)).astype("int64")
