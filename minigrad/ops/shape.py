"""Shape ops, basic indexing (``x[...]``), joining and splitting, and PyTorch's
rearrangements (pad, repeat, roll, flip, the triangles, diagonal); indexing by tensors of
positions is :mod:`minigrad.ops.indexing`.

None of the backward rules here scatter-add except integer-array indexing, where repeated
indices must accumulate: a slice's gradient is written into zeros by slice assignment,
and the pieces of a split or chunk are joined by one concatenation.
"""
from __future__ import annotations

import builtins
import functools

from .. import backend as _backend
from ..tensor import AxisError, Tensor, constant, kernel, record
from .reduction import axis_int, normalize_axes, single_axis, torch_spellings
from .arithmetic import reduce_to_shape
from .elementwise import astype


def _shape_arg(shape):
    """Shapes given as ints or as one tuple."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(x, *shape):
    """The same elements in a new shape; a view when NumPy can make one.

    Parameters
    ----------
    x : Tensor
    *shape : int or tuple of int
        The new shape, as ints or one tuple; one size may be ``-1`` (inferred).

    Returns
    -------
    Tensor
        ``shape``, holding ``x.size`` elements; ``x`` itself when the shape is unchanged.
    """
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    try:
        out = x.data.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape: cannot reshape {x.shape} ({x.size} elements) "
                         f"into {shape}") from None

    def backward(grad):
        return (grad.reshape(x.shape),)
    return record(out, (x,), backward, "reshape", reshape_values, {"shape": out.shape})


@kernel(view=True)
def reshape_values(xp, x, shape):
    """:func:`reshape`'s kernel."""
    return x.reshape(shape)


def transpose(x, *axes):
    """Permute axes (reverse them when none are given), as NumPy.

    Parameters
    ----------
    x : Tensor
    *axes : int, or one tuple
        A permutation of all axes (NumPy's meaning; to swap two axes as
        ``torch.transpose`` does, use :func:`swapaxes`). A 0-d tensor takes none.

    Returns
    -------
    Tensor
        A view with axis ``i`` taken from ``x``'s axis ``axes[i]``.
    """
    axes = tuple(axis_int(a, "transpose") for a in _shape_arg(axes)) or \
        tuple(reversed(range(x.ndim)))
    if x.ndim == 0:
        if not axes:
            return x
        raise AxisError(f"transpose: a 0-d tensor has no axes to permute, got axes {axes}; "
                        f"call transpose() without axes (or swapaxes(0, -1), as "
                        f"torch.transpose takes them)")
    if len(axes) == 2 and x.ndim > 2:
        # torch.transpose(x, a, b) swaps two axes; here the axes are NumPy's permutation
        raise ValueError(f"transpose takes a permutation of all axes (NumPy); to swap two "
                         f"axes as torch.transpose does, use x.swapaxes({axes[0]}, "
                         f"{axes[1]}) or x.permute(...)")
    if len(axes) == x.ndim:
        for a in axes:
            if not -x.ndim <= a < x.ndim:
                raise AxisError(f"transpose: axis {a} is out of range for a tensor of "
                                f"{x.ndim} dimensions")
    if len(axes) != x.ndim or sorted(a % x.ndim for a in axes) != list(range(x.ndim)):
        raise ValueError(f"transpose: axes {axes} are not a permutation of {x.ndim} axes")
    axes = tuple(a % x.ndim for a in axes)
    inverse = tuple(sorted(range(x.ndim), key=axes.__getitem__))

    def backward(grad):
        return (grad.transpose(*inverse),)
    return record(x.data.transpose(axes), (x,), backward, "transpose", transpose_values,
                  {"axes": axes})


def swapaxes(x, axis1, axis2):
    """``x`` with axes ``axis1`` and ``axis2`` exchanged (NumPy's ``swapaxes``, what
    ``torch.transpose(x, axis1, axis2)`` does); a view.

    Parameters
    ----------
    x : Tensor
    axis1, axis2 : int
        0 or -1 for a 0-d tensor (which is returned as is).

    Returns
    -------
    Tensor
    """
    if x.ndim == 0:
        normalize_axes((axis1,), 0, "swapaxes")
        normalize_axes((axis2,), 0, "swapaxes")
        return x
    order = list(range(x.ndim))
    for a in (axis1, axis2):
        if not -x.ndim <= a < x.ndim:
            raise AxisError(f"swapaxes: axis {a} is out of range for a tensor of {x.ndim} "
                            f"dimensions")
    a, b = axis1 % x.ndim, axis2 % x.ndim
    order[a], order[b] = order[b], order[a]
    return x if a == b else transpose(x, *order)


@kernel(view=True)
def transpose_values(xp, x, axes):
    """:func:`transpose`'s kernel."""
    return x.transpose(axes)


def view(x, *shape):
    """PyTorch's name for :func:`reshape`.

    Here a view when NumPy can make one and a copy otherwise, where PyTorch would refuse.

    Parameters
    ----------
    x : Tensor
    *shape : int or tuple of int
        The new shape; one size may be ``-1``.

    Returns
    -------
    Tensor
        ``shape``, holding ``x.size`` elements.
    """
    return reshape(x, *shape)


def flatten(x, start_dim=0, end_dim=-1):
    """Axes ``start_dim`` to ``end_dim`` (both included) joined into one, as PyTorch's
    ``flatten``; a 0-d tensor becomes shape ``(1,)``.

    Parameters
    ----------
    x : Tensor
    start_dim, end_dim : int
        The first and last axis joined (negatives count from the end); all axes by default.

    Returns
    -------
    Tensor
        ``x.shape[:start_dim] + (product of the joined sizes,) + x.shape[end_dim + 1:]``.
    """
    if x.ndim == 0:
        return reshape(x, 1)
    start, end = (normalize_axes(d, x.ndim, "flatten")[0] for d in (start_dim, end_dim))
    if start > end:
        raise ValueError(f"flatten: start_dim {start_dim} comes after end_dim {end_dim} "
                         f"for shape {x.shape}")
    return reshape(x, x.shape[:start] + (-1,) + x.shape[end + 1:])


def permute(x, *dims):
    """PyTorch's ``permute``: the axes in the order ``dims``.

    NumPy's :func:`transpose` with explicit axes.

    Parameters
    ----------
    x : Tensor
    *dims : int or tuple of int
        A permutation of all of ``x``'s axes.

    Returns
    -------
    Tensor
        A view; axis ``i`` of the result is axis ``dims[i]`` of ``x``.
    """
    dims = _shape_arg(dims)
    if len(dims) != x.ndim:
        raise ValueError(f"permute: dims {dims} must name each of the {x.ndim} axes of "
                         f"shape {x.shape} once")
    return transpose(x, *dims)


def expand(x, *sizes):
    """PyTorch's ``expand``: :func:`broadcast_to` where a size of ``-1`` keeps that axis.

    Parameters
    ----------
    x : Tensor
    *sizes : int or tuple of int
        At least ``x.ndim`` sizes; new axes go in front, ``-1`` keeps an existing axis's
        length, and an axis of length 1 may grow.

    Returns
    -------
    Tensor
        A read-only view of shape ``sizes``; its gradient is summed back to ``x.shape``.
    """
    sizes = _shape_arg(sizes)
    lead = len(sizes) - x.ndim
    if lead < 0:
        raise ValueError(f"expand: {len(sizes)} sizes {sizes} for a tensor of shape "
                         f"{x.shape}; give at least {x.ndim}")
    shape = []
    for i, n in enumerate(sizes):
        if n == -1:
            if i < lead:
                raise ValueError(f"expand: size -1 at position {i} of {sizes} is a new "
                                 f"axis, which has no length to keep")
            n = x.shape[i - lead]
        shape.append(n)
    return broadcast_to(x, tuple(shape))


def clone(x):
    """A copy of ``x`` in its own memory, which gradients flow through.

    Parameters
    ----------
    x : Tensor

    Returns
    -------
    Tensor
        The shape, dtype and values of ``x``.
    """
    return record(copy_values(None, x.data), (x,), lambda grad: (grad,), "clone",
                  copy_values)


@kernel
def copy_values(xp, x):
    """:func:`clone`'s kernel."""
    return x.copy()


def broadcast_to(x, *shape):
    """``x`` stretched to ``shape`` by NumPy's broadcasting rules.

    Parameters
    ----------
    x : Tensor
    *shape : int or tuple of int
        A shape that ``x.shape`` broadcasts to.

    Returns
    -------
    Tensor
        A read-only view of shape ``shape``; its gradient is summed back to ``x.shape``.
    """
    shape = _shape_arg(shape)
    if shape == x.shape:
        return x
    try:
        out = x.xp.broadcast_to(x.data, shape)
    except ValueError:
        raise ValueError(f"broadcast_to: shape {x.shape} cannot broadcast to {shape}") from None

    def backward(grad):
        return (reduce_to_shape(grad, x.shape),)
    return record(out, (x,), backward, "broadcast_to", broadcast_values, {"shape": shape})


@kernel(view=True)
def broadcast_values(xp, x, shape):
    """:func:`broadcast_to`'s kernel."""
    return xp.broadcast_to(x, shape)


@torch_spellings
def squeeze(x, axis=None):
    """Axes of length 1 dropped: all of them, or those in ``axis``.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
        The axes to drop (``dim=`` too); each must have length 1.

    Returns
    -------
    Tensor
        ``x``'s shape without those axes (a view).
    """
    if axis is None:
        axes = tuple(i for i, n in enumerate(x.shape) if n == 1)
    else:
        axes = normalize_axes(axis, x.ndim, "squeeze")
        for a in axes:
            if x.shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {x.shape} has length "
                                 f"{x.shape[a]}, not 1")
    return reshape(x, tuple(n for i, n in enumerate(x.shape) if i not in axes))


@torch_spellings
def unsqueeze(x, axis):
    """Insert an axis of length 1 at ``axis`` (NumPy's ``expand_dims``).

    Parameters
    ----------
    x : Tensor
    axis : int
        In ``-(x.ndim + 1) .. x.ndim`` (``dim=`` too); else :class:`~minigrad.AxisError`.

    Returns
    -------
    Tensor
        A view with ``x.ndim + 1`` dimensions.
    """
    ndim = x.ndim + 1
    axis = axis_int(axis, "unsqueeze")
    if not -ndim <= axis < ndim:
        raise AxisError(f"unsqueeze: axis {axis} is out of range for {ndim} dimensions")
    axis %= ndim
    return reshape(x, x.shape[:axis] + (1,) + x.shape[axis:])


# --------------------------------------------------------------------------- indexing

def _plain_index(index, xp):
    """Tensors and lists inside an index become arrays; reports integer-array use."""
    parts = index if isinstance(index, tuple) else (index,)
    plain = []
    has_int_array = False
    for part in parts:
        if isinstance(part, Tensor):
            part = part.data
        elif isinstance(part, list):
            part = xp.asarray(part)
        if hasattr(part, "dtype"):
            if part.dtype.kind in "iu":
                # only an array of indices can repeat one, so only it needs scatter-add
                has_int_array = has_int_array or part.ndim > 0
            elif part.dtype.kind != "b":
                raise IndexError(f"getitem: index arrays must be integer or bool, "
                                 f"not {part.dtype}")
        plain.append(part)
    return (tuple(plain) if isinstance(index, tuple) else plain[0]), has_int_array


def getitem(x, index):
    """``x[index]`` with NumPy's rules: ints, slices, ``None``, ``...``, integer arrays
    and boolean masks.

    The gradient is written into zeros of ``x``'s shape; integer-array indices may repeat,
    so there it accumulates.

    Parameters
    ----------
    x : Tensor
    index : int, slice, None, Ellipsis, Tensor, array, list or tuple of these
        Index tensors must be on ``x``'s backend and of an integer or bool dtype.

    Returns
    -------
    Tensor
        A view for basic indexing, a copy for integer arrays and masks.
    """
    for part in index if isinstance(index, tuple) else (index,):
        # an index tensor is an operand too: never copy it across backends silently
        if isinstance(part, Tensor) and type(part.data) is not type(x.data):
            raise _backend.BackendError(f"getitem: the tensor and its index live on different "
                                        f"backends ({x.backend} and {part.backend}); move one "
                                        f"with .to()")
    index, has_int_array = _plain_index(index, x.xp)
    try:
        out = x.data[index]
    except IndexError as error:
        raise IndexError(f"getitem: {error} (tensor of shape {x.shape})") from None

    def backward(grad):
        return (index_into_zeros(grad, index, x.shape, has_int_array),)
    return record(out, (x,), backward, "getitem", getitem_values, {"index": index})


@kernel(view=True)
def getitem_values(xp, x, index):
    """:func:`getitem`'s kernel (a view for basic indexing, a copy otherwise)."""
    return x[index]


def index_into_zeros(values, index, shape, accumulate):
    """Zeros of ``shape`` with ``values`` placed at ``index``: the gradient of
    ``getitem``. Integer-array indices may repeat, so they accumulate (scatter-add);
    every other index is a plain slice assignment."""
    static = {"index": index, "shape": shape, "accumulate": accumulate}

    def backward(grad):
        return (getitem(grad, index),)
    return record(index_into_zeros_values(values.xp, values.data, **static), (values,),
                  backward, "index_into_zeros", index_into_zeros_values, static)


@kernel
def index_into_zeros_values(xp, values, index, shape, accumulate):
    """:func:`index_into_zeros`'s kernel."""
    out = xp.zeros(shape, dtype=values.dtype)
    if accumulate:
        _backend.of(out).scatter_add(out, index, values)
    else:
        out[index] = values
    return out


# --------------------------------------------------------------------------- join, split

def as_tensors(ts, op):
    """``ts`` (tensors, arrays or numbers) as tensors of one backend, for an op that
    joins them; refuses none, and tensors of two backends."""
    ts = list(ts)
    if not ts:
        raise ValueError(f"{op}: needs at least one tensor")
    like = next((t for t in ts if isinstance(t, Tensor)), None)
    target = _backend.of(like.data) if like is not None else _backend.get()
    ts = [t if isinstance(t, Tensor) else Tensor(_backend.convert(t, target)) for t in ts]
    kinds = {type(t.data) for t in ts}
    if len(kinds) > 1:
        names = sorted({t.backend for t in ts})
        raise _backend.BackendError(f"{op}: tensors live on different backends "
                                    f"({' and '.join(names)})")
    return ts


@torch_spellings
def concat(ts, axis=0):
    """Join tensors along an existing axis.

    Parameters
    ----------
    ts : sequence of Tensor
        Equal shapes except along ``axis``.
    axis : int
        ``dim=`` too; out of range is :class:`~minigrad.AxisError`.

    Returns
    -------
    Tensor
    """
    ts = as_tensors(ts, "concat")
    axis = axis_int(axis, "concat")
    if not -ts[0].ndim <= axis < builtins.max(ts[0].ndim, 1):
        raise AxisError(f"concat: axis {axis} is out of range for tensors of "
                        f"{ts[0].ndim} dimensions")
    try:
        out = ts[0].xp.concatenate([t.data for t in ts], axis=axis)
    except (ValueError, IndexError) as error:
        raise ValueError(f"concat: shapes {[t.shape for t in ts]} do not join along axis "
                         f"{axis} ({error})") from None
    axis = axis % out.ndim
    cuts = []
    for t in ts[:-1]:
        cuts.append(t.shape[axis] + (cuts[-1] if cuts else 0))

    def backward(grad):
        # one split (views), the inverse of the join
        return tuple(g if t.requires_grad else None
                     for g, t in zip(_split_at(grad, cuts, axis, "split"), ts))
    return record(out, tuple(ts), backward, "concat", concat_values, {"axis": axis})


cat = concat
"""PyTorch's name for :func:`concat`."""


@kernel
def concat_values(xp, *arrays, axis):
    """:func:`concat`'s kernel."""
    return xp.concatenate(arrays, axis=axis)


@torch_spellings
def stack(ts, axis=0):
    """Join same-shaped tensors along a new axis.

    Parameters
    ----------
    ts : sequence of Tensor
        All of one shape.
    axis : int
        In ``-(ndim + 1) .. ndim`` (``dim=`` too); else :class:`~minigrad.AxisError`.

    Returns
    -------
    Tensor
        ``len(ts)`` along ``axis``.
    """
    ts = as_tensors(ts, "stack")
    axis = axis_int(axis, "stack")
    if not -ts[0].ndim - 1 <= axis <= ts[0].ndim:
        raise AxisError(f"stack: axis {axis} is out of range for {ts[0].ndim + 1} "
                        f"dimensions")
    try:
        out = ts[0].xp.stack([t.data for t in ts], axis=axis)
    except (ValueError, IndexError):
        raise ValueError(f"stack: shapes {[t.shape for t in ts]} differ or axis {axis} "
                         f"is out of range") from None
    axis = axis % out.ndim

    def backward(grad):
        return tuple(g if t.requires_grad else None
                     for g, t in zip(unbind(grad, axis), ts))
    return record(out, tuple(ts), backward, "stack", stack_values, {"axis": axis})


@kernel
def stack_values(xp, *arrays, axis):
    """:func:`stack`'s kernel."""
    return xp.stack(arrays, axis=axis)


@torch_spellings
def unbind(x, axis=0):
    """The slices of ``x`` along ``axis``, that axis removed (views): the inverse of
    :func:`stack`, as PyTorch's ``unbind``. One recorded op; its backward stacks the
    slices' gradients (zeros for slices that got none).

    Parameters
    ----------
    x : Tensor
    axis : int
        ``dim=`` too; out of range is :class:`~minigrad.AxisError`.

    Returns
    -------
    tuple of Tensor
    """
    axis = _axis_in(axis, x, "unbind")
    static = {"axis": axis}
    pieces = unbind_values(None, x.data, axis)
    if len(pieces) == 1:
        return (record(pieces[0], (x,), lambda grad: (unsqueeze(grad, axis),), "unbind",
                       only_slice, static),)

    def backward(grads):
        grads = [g if g is not None else constant(x.xp.zeros(p.shape, dtype=x.dtype))
                 for g, p in zip(grads, pieces)]
        return (stack(grads, axis=axis),)
    return tuple(record(pieces, (x,), backward, "unbind", unbind_values, static, len(pieces)))


@kernel(view=True)
def unbind_values(xp, x, axis):
    """:func:`unbind`'s kernel: the slices along ``axis``, as views."""
    lead = (slice(None),) * axis
    return [x[lead + (i,)] for i in range(x.shape[axis])]


@kernel(view=True)
def only_slice(xp, x, axis):
    """The one slice of an unbind along an axis of length 1."""
    return unbind_values(xp, x, axis)[0]


def _spelling_picks_split(op):
    """``split`` with the meaning of the spelling it is called with: NumPy's (sections or
    cut indices) with ``axis=`` or a positional axis, PyTorch's (pieces of given sizes)
    with ``dim=``, where the same numbers would cut elsewhere."""
    @functools.wraps(op)
    def picking(x, indices_or_sections, *args, **kwargs):
        if "dim" in kwargs:
            if args or "axis" in kwargs:
                raise TypeError("split: got both axis and dim= (PyTorch's spelling of it); "
                                "give one")
            return split_sizes(x, indices_or_sections, kwargs.pop("dim"), **kwargs)
        return op(x, indices_or_sections, *args, **kwargs)
    return picking


@_spelling_picks_split
def split(x, indices_or_sections, axis=0):
    """NumPy's ``split``: ``n`` equal sections, or pieces cut at the given indices.

    Called with PyTorch's ``dim=`` it is PyTorch's split instead (:func:`split_sizes`:
    ``split(x, 2, dim=1)`` makes pieces of 2), as ``x.split`` always is.

    The backward joins the pieces' gradients with one concatenation (zeros for pieces
    that got none).

    Parameters
    ----------
    x : Tensor
    indices_or_sections : int or sequence of int
        A number of equal sections, or non-decreasing cut indices.
    axis : int
        Out of range is :class:`~minigrad.AxisError`.

    Returns
    -------
    list of Tensor
    """
    axis = _axis_in(axis, x, "split")
    length = x.shape[axis]
    if isinstance(indices_or_sections, int):
        sections = indices_or_sections
        if sections <= 0 or length % sections:
            raise ValueError(f"split: {length} elements along axis {axis} do not divide "
                             f"into {sections} equal sections")
        step = length // sections
        cuts = [step * i for i in range(1, sections)]
    else:
        cuts = [int(c) for c in indices_or_sections]
        # NumPy's cut indices: negatives count from the end, the rest are clipped
        bounds = [builtins.min(builtins.max(c + length if c < 0 else c, 0), length)
                  for c in cuts]
        if any(b < a for a, b in zip(bounds, bounds[1:])):
            raise ValueError(f"split: cut indices {cuts} along axis {axis} must not "
                             f"decrease (NumPy's meaning: where to cut); for pieces of "
                             f"given sizes, as torch.split, cut at their running sums, or "
                             f"use x.chunk(n) for pieces of ceil(len / n)")
    return _split_at(x, cuts, axis, "split")


def split_sizes(x, split_size_or_sections, dim=0):
    """PyTorch's split (``x.split(...)``, or ``mg.split(..., dim=)``): pieces of
    ``split_size`` along ``dim`` (the last one smaller), or of the given sizes.

    Parameters
    ----------
    x : Tensor
    split_size_or_sections : int or sequence of int
        One size for every piece, or each piece's size (they must add up to the length).
    dim : int
        Out of range is :class:`~minigrad.AxisError`.

    Returns
    -------
    list of Tensor
    """
    axis = _axis_in(dim, x, "split")
    length = x.shape[axis]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0 and not (size == 0 and length == 0):
            raise ValueError(f"split: split_size must be positive, got {size}")
        cuts = list(range(size, length, size)) if size else []
    else:
        sizes = [int(n) for n in split_size_or_sections]
        if any(n < 0 for n in sizes) or builtins.sum(sizes) != length:
            raise ValueError(f"split: sizes {sizes} must be non-negative and add up to "
                             f"{length}, the length of dim {dim}")
        cuts = [builtins.sum(sizes[:i]) for i in range(1, len(sizes))]
    return _split_at(x, cuts, axis, "split")


@torch_spellings
def chunk(x, chunks, axis=0):
    """PyTorch's chunk: pieces of ``ceil(len / chunks)`` along ``axis``, the last one
    smaller (so there may be fewer than ``chunks`` pieces).

    Parameters
    ----------
    x : Tensor
    chunks : int
        Positive.
    axis : int
        ``dim=`` too; out of range is :class:`~minigrad.AxisError`.

    Returns
    -------
    list of Tensor
    """
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    axis = _axis_in(axis, x, "chunk")
    length = x.shape[axis]
    size = -(-length // chunks) if length else 1
    return _split_at(x, list(range(size, length, size)), axis, "chunk")


def _axis_in(axis, x, op):
    """One axis of ``x`` (which must have one) in ``range(x.ndim)``."""
    axis = axis_int(axis, op)
    if not -x.ndim <= axis < x.ndim:
        raise AxisError(f"{op}: axis {axis} is out of range for shape {x.shape}")
    return axis % x.ndim


def _split_at(x, cuts, axis, op):
    xp = x.xp
    static = {"cuts": tuple(cuts), "axis": axis}
    pieces = cut_pieces(xp, x.data, **static)
    if len(pieces) == 1:
        return [record(pieces[0], (x,), lambda grad: (grad,), op, whole_piece, static)]

    def backward(grads):
        grads = [g if g is not None else constant(xp.zeros(p.shape, dtype=x.dtype))
                 for g, p in zip(grads, pieces)]
        return (concat(grads, axis=axis),)
    return record(pieces, (x,), backward, op, cut_pieces, static, len(pieces))


@kernel(view=True)
def cut_pieces(xp, data, cuts, axis):
    """``data`` cut at ``cuts`` along ``axis``, as views (NumPy's split, by plain slicing:
    ``numpy.split`` spends microseconds per piece on axis swaps)."""
    lead = (slice(None),) * axis
    bounds = [0, *cuts, data.shape[axis]]
    return [data[lead + (slice(start, stop),)] for start, stop in zip(bounds, bounds[1:])]


@kernel(view=True)
def whole_piece(xp, data, cuts, axis):
    """The one piece of a split without cuts (a view of all of ``data``)."""
    return cut_pieces(xp, data, cuts, axis)[0]


def alias(x):
    """``x`` again, as a new node of the tape: a place where a sweep can stop (a
    fused node's replay sweeps back to aliases of its inputs, not past them)."""
    return record(x.data, (x,), lambda grad: (grad,), "alias", alias_values)


@kernel(view=True)
def alias_values(xp, x):
    """:func:`alias`'s kernel."""
    return x


def to(x, *targets, dtype=None, backend=None, device=None, copy=False):
    """``x`` on another backend and/or with another dtype, as PyTorch's ``to``.

    Parameters
    ----------
    x : Tensor
    *targets : str, dtype or Tensor
        A backend name (``"numpy"``, ``"cupy"``, ``"cpu"``, ``"gpu"``), a dtype, one of
        each (``x.to("cupy", mg.float64)``), or a tensor whose backend and dtype to take
        (PyTorch's ``x.to(other)``).
    dtype : dtype, optional
        The dtype, as a keyword.
    backend, device : str, optional
        The backend, as a keyword (``device`` is PyTorch's name for it).
    copy : bool
        Return a new tensor even when nothing changes (as PyTorch; a copy that keeps the
        graph, like ``clone``).

    Returns
    -------
    Tensor
        ``x`` itself when nothing changes and ``copy`` is false. Gradients flow back to
        the original backend and dtype.
    """
    if len(targets) == 1 and isinstance(targets[0], Tensor):
        targets = (targets[0].backend, targets[0].dtype)       # PyTorch's x.to(other)
    elif any(isinstance(t, Tensor) for t in targets):
        raise TypeError("to: a tensor to match takes no other target")
    name, dtype = _backend.read_targets("to", targets, dtype, backend, device,
                                        expected="a dtype or a tensor")
    if name is not None and not _backend.is_name(name):
        raise ValueError(f"to: unknown backend {name!r}; expected 'numpy', 'cupy', 'cpu' "
                         f"or 'gpu'")
    out = x if dtype is None else astype(x, dtype)
    if name is not None:
        out = _to_backend(out, name)
    return clone(x) if copy and out is x else out


def _to_backend(x, name):
    source = _backend.of(x.data)
    target = _backend.get(name)
    if source is target:
        return x

    def backward(grad):
        return (_to_backend(grad, source.name),)
    return record(target.from_host(source.to_host(x.data)), (x,), backward, "to")


# --------------------------------------------------------------------------- PyTorch's
# shape ops: reshaping, padding, repeating, reordering, triangles and diagonals

@torch_spellings
def unflatten(x, axis, sizes):
    """Axis ``axis`` split into axes of ``sizes`` (one may be -1), as PyTorch's
    ``unflatten(dim, sizes)``: the inverse of :func:`flatten`.

    Parameters
    ----------
    x : Tensor
    axis : int
        ``dim=`` too.
    sizes : tuple of int
        Their product is the length of axis ``axis``.

    Returns
    -------
    Tensor
        ``x.shape[:axis] + sizes + x.shape[axis + 1:]``.
    """
    axis = single_axis(axis, x.ndim, "unflatten", "dim")
    sizes = tuple(axis_int(n, "unflatten", "sizes") for n in sizes)
    if not sizes:
        raise ValueError("unflatten: sizes must not be empty")
    length = x.shape[axis] if x.ndim else 1
    known = 1
    for n in sizes:
        known *= n if n != -1 else 1
    if sizes.count(-1) > 1 or (-1 not in sizes and known != length) or \
            (-1 in sizes and (known == 0 or length % known)):
        raise ValueError(f"unflatten: sizes {sizes} do not make the {length} elements of "
                         f"axis {axis} of shape {x.shape}")
    return reshape(x, x.shape[:axis] + sizes + x.shape[axis + 1:])



def pad(x, pad, mode="constant", value=0.0):
    """``x`` padded with ``value``, as ``torch.nn.functional.pad`` in constant mode.

    Parameters
    ----------
    x : Tensor
    pad : tuple of int
        ``(left, right)`` widths for the last axis, then for the one before it, and so
        on (PyTorch's order: last axis first). Negative widths crop.
    mode : str
        Only ``"constant"``.
    value : number
        The fill value (0 by default, and when None).

    Returns
    -------
    Tensor
        The last ``len(pad) // 2`` axes lengthened by their two widths.
    """
    if mode != "constant":
        raise ValueError(f"pad: only mode='constant' is supported, got mode={mode!r}")
    widths = tuple(axis_int(w, "pad", "pad") for w in pad)
    if len(widths) % 2 or len(widths) // 2 > x.ndim:
        raise ValueError(f"pad: pad must hold two widths per padded axis, at most "
                         f"{2 * x.ndim} for shape {x.shape}; got {len(widths)}")
    value = 0.0 if value is None else value
    pairs = [(0, 0)] * x.ndim
    for i in range(len(widths) // 2):
        pairs[x.ndim - 1 - i] = widths[2 * i], widths[2 * i + 1]
    for (before, after), n in zip(pairs, x.shape):
        if n + before + after < 0:
            raise ValueError(f"pad: widths {widths} would give shape {x.shape} a negative "
                             f"length")
    if builtins.any(w < 0 for pair in pairs for w in pair):
        x = getitem(x, tuple(slice(builtins.max(-before, 0), n - builtins.max(-after, 0))
                             for (before, after), n in zip(pairs, x.shape)))
        pairs = [(builtins.max(before, 0), builtins.max(after, 0)) for before, after in pairs]
    static = {"widths": tuple(pairs), "value": value}
    if not builtins.any(w for pair in pairs for w in pair):
        return x

    def backward(grad):
        return (getitem(grad, tuple(slice(before, before + n)
                                    for (before, _), n in zip(pairs, x.shape))),)
    return record(pad_values(x.xp, x.data, **static), (x,), backward, "pad", pad_values,
                  static)


@kernel
def pad_values(xp, x, widths, value):
    """:func:`pad`'s kernel."""
    return xp.pad(x, widths, mode="constant", constant_values=value)


def repeat(x, *sizes):
    """``x`` repeated ``sizes[i]`` times along axis ``i``, as PyTorch's ``repeat`` (NumPy's
    ``tile``; not NumPy's ``repeat``, which repeats each element).

    Parameters
    ----------
    x : Tensor
    *sizes : int, or one tuple
        At least ``x.ndim`` of them; extra ones add leading axes.

    Returns
    -------
    Tensor
        Shape ``sizes[i] * shape[i]``, ``x.shape`` padded with leading 1s.
    """
    sizes = tuple(axis_int(n, "repeat", "sizes") for n in _shape_arg(sizes))
    if len(sizes) < x.ndim:
        raise ValueError(f"repeat: {len(sizes)} sizes {sizes} for a tensor of {x.ndim} "
                         f"dimensions; give at least {x.ndim} (or use tile)")
    if builtins.any(n < 0 for n in sizes):
        raise ValueError(f"repeat: sizes must not be negative, got {sizes}")
    shape = (1,) * (len(sizes) - x.ndim) + x.shape
    # each axis n becomes (1, n), broadcast to (r, n), then joined into r * n
    interleaved = [k for n in shape for k in (1, n)]
    stretched = [k for r, n in zip(sizes, shape) for k in (r, n)]
    return reshape(broadcast_to(reshape(x, interleaved), stretched),
                   tuple(r * n for r, n in zip(sizes, shape)))


def tile(x, dims):
    """``x`` repeated ``dims[i]`` times along axis ``i``, as ``torch.tile``: like
    :func:`repeat`, with ``dims`` padded with leading 1s when shorter than ``x.ndim``.

    Parameters
    ----------
    x : Tensor
    dims : int or tuple of int

    Returns
    -------
    Tensor
    """
    dims = (dims,) if not isinstance(dims, (tuple, list)) else tuple(dims)
    return repeat(x, (1,) * (x.ndim - len(dims)) + dims)


def roll(x, shifts, dims=None):
    """Elements shifted cyclically by ``shifts`` along ``dims``, as ``torch.roll``.

    Parameters
    ----------
    x : Tensor
    shifts : int or tuple of int
    dims : int or tuple of int, optional
        One per shift; when None, ``x`` is rolled as if flattened (one shift).

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    if dims is None:
        if isinstance(shifts, (tuple, list)):
            if len(shifts) != 1:
                raise ValueError(f"roll: without dims give one shift, got {shifts}")
            shifts = shifts[0]
        return reshape(roll(reshape(x, -1), shifts, 0), x.shape)
    shifts = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
    dims = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
    if len(shifts) != len(dims):
        raise ValueError(f"roll: {len(shifts)} shifts {shifts} for {len(dims)} dims {dims}")
    shifts = tuple(axis_int(s, "roll", "shifts") for s in shifts)
    axes = tuple(single_axis(d, x.ndim, "roll", "dims") for d in dims)
    if x.ndim == 0:
        return x
    static = {"shifts": shifts, "axes": axes}

    def backward(grad):
        return (roll(grad, tuple(-s for s in shifts), axes),)
    return record(roll_values(x.xp, x.data, **static), (x,), backward, "roll", roll_values,
                  static)


@kernel
def roll_values(xp, x, shifts, axes):
    """:func:`roll`'s kernel."""
    return xp.roll(x, shifts, axis=axes)


def flip(x, dims):
    """``x`` reversed along ``dims``, as ``torch.flip``; a view.

    Parameters
    ----------
    x : Tensor
    dims : int or tuple of int

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    axes = normalize_axes(dims, x.ndim, "flip", "dims")
    if not axes:
        return x

    def backward(grad):
        return (flip(grad, axes),)
    return record(flip_values(x.xp, x.data, axes), (x,), backward, "flip", flip_values,
                  {"axes": axes})


@kernel(view=True)
def flip_values(xp, x, axes):
    """:func:`flip`'s kernel."""
    return xp.flip(x, axis=axes)


def _triangle(x, diagonal, op):
    if x.ndim < 2:
        raise ValueError(f"{op}: needs a tensor of at least 2 dimensions, got shape "
                         f"{x.shape}")
    static = {"diagonal": axis_int(diagonal, op, "diagonal"), "op": op}

    def backward(grad):
        return (_triangle(grad, diagonal, op),)
    return record(triangle_values(x.xp, x.data, **static), (x,), backward, op,
                  triangle_values, static)


@kernel
def triangle_values(xp, x, diagonal, op):
    """The kernel of :func:`tril` and :func:`triu` (over the last two axes)."""
    return xp.tril(x, diagonal) if op == "tril" else xp.triu(x, diagonal)


def tril(x, diagonal=0):
    """The lower triangle of the last two axes (zeros above diagonal ``diagonal``).

    Parameters
    ----------
    x : Tensor, at least 2-D
    diagonal : int
        0 is the main diagonal, positive ones lie above it.

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    return _triangle(x, diagonal, "tril")


def triu(x, diagonal=0):
    """The upper triangle of the last two axes (zeros below diagonal ``diagonal``).

    Parameters
    ----------
    x : Tensor, at least 2-D
    diagonal : int

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    return _triangle(x, diagonal, "triu")


def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` of the planes spanned by ``dim1`` and ``dim2``, as
    ``torch.diagonal``: those two axes removed, the diagonal appended as the last axis.

    Parameters
    ----------
    x : Tensor, at least 2-D
    offset : int
        0 the main diagonal, positive above it, negative below.
    dim1, dim2 : int
        Two different axes.

    Returns
    -------
    Tensor
        A view.
    """
    if x.ndim < 2:
        raise ValueError(f"diagonal: needs a tensor of at least 2 dimensions, got shape "
                         f"{x.shape}")
    static = {"offset": axis_int(offset, "diagonal", "offset"),
              "dim1": single_axis(dim1, x.ndim, "diagonal", "dim1"),
              "dim2": single_axis(dim2, x.ndim, "diagonal", "dim2")}
    if static["dim1"] == static["dim2"]:
        raise ValueError(f"diagonal: dim1 and dim2 must differ, both are {dim1}")

    def backward(grad):
        return (diagonal_into_zeros(grad, x.shape, **static),)
    return record(diagonal_values(x.xp, x.data, **static), (x,), backward, "diagonal",
                  diagonal_values, static)


@kernel(view=True)
def diagonal_values(xp, x, offset, dim1, dim2):
    """:func:`diagonal`'s kernel."""
    return xp.diagonal(x, offset, dim1, dim2)


def diagonal_into_zeros(values, shape, offset, dim1, dim2):
    """Zeros of ``shape`` with ``values`` on the diagonal that :func:`diagonal` takes:
    the gradient of ``diagonal`` (PyTorch's ``diagonal_scatter`` into zeros).

    Parameters
    ----------
    values : Tensor
        The diagonal, shaped as :func:`diagonal` gives it.
    shape : tuple of int
    offset, dim1, dim2 : int
        As :func:`diagonal` (normalized dims).

    Returns
    -------
    Tensor of ``shape``
    """
    static = {"shape": tuple(shape), "offset": offset, "dim1": dim1, "dim2": dim2}

    def backward(grad):
        return (diagonal(grad, offset, dim1, dim2),)
    return record(diagonal_into_zeros_values(values.xp, values.data, **static), (values,),
                  backward, "diagonal_into_zeros", diagonal_into_zeros_values, static)


@kernel
def diagonal_into_zeros_values(xp, values, shape, offset, dim1, dim2):
    """:func:`diagonal_into_zeros`'s kernel."""
    out = xp.zeros(shape, dtype=values.dtype)
    planes = xp.moveaxis(out, (dim1, dim2), (-2, -1))      # a view: writes reach out
    steps = xp.arange(values.shape[-1])
    planes[..., steps + builtins.max(-offset, 0), steps + builtins.max(offset, 0)] = values
    return out
