"""Shape ops, indexing, joining and splitting.

None of the backward rules here scatter-add except integer-array indexing, where repeated
indices must accumulate: a slice's gradient is written into zeros by slice assignment,
and the pieces of a split or chunk are joined by one concatenation.
"""
from __future__ import annotations

import builtins

from .. import backend as _backend
from ..tensor import AxisError, Tensor, constant, kernel, record
from .reduction import normalize_axes, torch_spellings
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
    """Axes permuted as NumPy's ``transpose``: reversed when none are given.

    ``x.T`` is ``transpose(x)``. To swap two axes of a tensor of more than 2 dimensions, as
    ``torch.transpose`` does, use :func:`swapaxes` (two axes given here are refused there).

    Parameters
    ----------
    x : Tensor
    *axes : int or tuple of int
        A permutation of all of ``x``'s axes (negatives count from the end), or nothing.

    Returns
    -------
    Tensor
        A view; axis ``i`` of the result is axis ``axes[i]`` of ``x``.
    """
    axes = _shape_arg(axes) or tuple(reversed(range(x.ndim)))
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
    ``torch.transpose(x, axis1, axis2)`` does).

    Parameters
    ----------
    x : Tensor
    axis1, axis2 : int
        The two axes; negatives count from the end.

    Returns
    -------
    Tensor
        A view of ``x`` with the two sizes exchanged.
    """
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
    """An axis of length 1 inserted at ``axis`` (NumPy's ``expand_dims``).

    Parameters
    ----------
    x : Tensor
    axis : int
        Its position in the result, ``-x.ndim - 1 <= axis <= x.ndim`` (``dim=`` too).

    Returns
    -------
    Tensor
        ``x.ndim + 1`` dimensions (a view).
    """
    ndim = x.ndim + 1
    if not -ndim <= axis < ndim:
        raise ValueError(f"unsqueeze: axis {axis} is out of range for {ndim} dimensions")
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

def _tensors(ts, op):
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
    """Tensors joined along an existing axis (``mg.cat`` is the same function).

    Parameters
    ----------
    ts : sequence of Tensor
        Of one dtype and backend, with equal sizes except along ``axis``.
    axis : int
        The axis to join along (``dim=`` too).

    Returns
    -------
    Tensor
        ``axis`` as long as the inputs' lengths added up.
    """
    ts = _tensors(ts, "concat")
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
    """Same-shaped tensors joined along a new axis.

    Parameters
    ----------
    ts : sequence of Tensor
        Of one shape, dtype and backend.
    axis : int
        The new axis's position in the result (``dim=`` too).

    Returns
    -------
    Tensor
        ``ts[0].shape`` with ``len(ts)`` inserted at ``axis``.
    """
    ts = _tensors(ts, "stack")
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
    """The slices of ``x`` along ``axis``, that axis removed: the inverse of
    :func:`stack`, as PyTorch's ``unbind``.

    One recorded op; its backward stacks the slices' gradients (zeros for slices that got
    none).

    Parameters
    ----------
    x : Tensor
    axis : int
        The axis to slice along (``dim=`` too).

    Returns
    -------
    tuple of Tensor
        ``x.shape[axis]`` views, each ``x``'s shape without ``axis``.
    """
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"unbind: axis {axis} is out of range for shape {x.shape}")
    axis %= x.ndim
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


@torch_spellings
def split(x, indices_or_sections, axis=0):
    """NumPy's ``split``: ``n`` equal sections, or pieces cut at the given indices.

    The backward joins the pieces' gradients with one concatenation (zeros for pieces that
    got none). For PyTorch's ``split`` by piece sizes, give the running sums of the sizes as
    cut indices, or use :func:`chunk`.

    Parameters
    ----------
    x : Tensor
    indices_or_sections : int or sequence of int
        A number of equal sections (it must divide the length), or increasing cut indices
        (negatives count from the end).
    axis : int
        The axis to split (``dim=`` too).

    Returns
    -------
    list of Tensor
        The pieces, as views.
    """
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"split: axis {axis} is out of range for shape {x.shape}")
    axis %= x.ndim
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


@torch_spellings
def chunk(x, chunks, axis=0):
    """PyTorch's ``chunk``: pieces of ``ceil(length / chunks)`` along ``axis``, the last
    one smaller, so there may be fewer than ``chunks`` pieces.

    Parameters
    ----------
    x : Tensor
    chunks : int
        How many pieces at most, ``>= 1``.
    axis : int
        The axis to cut (``dim=`` too).

    Returns
    -------
    list of Tensor
        The pieces, as views.
    """
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"chunk: axis {axis} is out of range for shape {x.shape}")
    axis %= x.ndim
    length = x.shape[axis]
    size = -(-length // chunks) if length else 1
    return _split_at(x, list(range(size, length, size)), axis, "chunk")


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


def to(x, *targets, dtype=None):
    """``x`` on another backend and/or with another dtype, as PyTorch's ``to``.

    Parameters
    ----------
    x : Tensor
    *targets : str or dtype
        A backend name (``"numpy"``, ``"cupy"``, ``"cpu"``, ``"gpu"``), a dtype, or one of
        each: ``x.to("cupy")``, ``x.to(mg.float64)``, ``x.to("cupy", mg.float64)``.
    dtype : dtype, optional
        The dtype, as a keyword.

    Returns
    -------
    Tensor
        ``x``'s shape on the target backend, in the target dtype; ``x`` itself when both
        already match. Gradients flow back to the original backend and dtype.
    """
    name = None
    for target in targets:
        if _backend.is_name(target):
            name = target
        elif dtype is None:
            dtype = target
        else:
            raise TypeError(f"to: more than one dtype in {targets} (dtype={dtype})")
    if dtype is not None:
        x = astype(x, dtype)
    return x if name is None else _to_backend(x, name)


def _to_backend(x, name):
    source = _backend.of(x.data)
    target = _backend.get(name)
    if source is target:
        return x

    def backward(grad):
        return (_to_backend(grad, source.name),)
    return record(target.from_host(source.to_host(x.data)), (x,), backward, "to")
