"""Reductions over axes, scans along one axis (cumulative sums and products), and the
numerically stable log-sum-exp family.

Axes follow PyTorch's edge rules: a NumPy integer works wherever an int does, dims 0 and
-1 of a 0-d tensor name the tensor itself, and a reduction over no elements gives NaN
for the means and variances. Results that are (values, indices) pairs, as PyTorch's
``torch.return_types``, are :class:`ValuesIndices`.
"""
from __future__ import annotations

import builtins
import functools
import math
import operator
from typing import NamedTuple

from ..tensor import AxisError, Tensor, constant, kernel, output_ref, record
from .elementwise import _output, abs, astype, eq, exp, gt, log, lt, ne, where


class ValuesIndices(NamedTuple):
    """A ``(values, indices)`` pair, as PyTorch's ``torch.return_types``: the result of
    ``max``/``min`` with ``dim=``, :func:`cummax`, :func:`cummin`, ``sort`` and ``topk``.

    Attributes
    ----------
    values : Tensor
        The selected values; gradients flow to the elements they came from.
    indices : Tensor
        ``int64`` positions of those elements along the dimension; no gradient.
    """
    values: Tensor
    indices: Tensor


def torch_spellings(op):
    """``op`` accepting PyTorch's ``dim=`` and ``keepdim=`` beside NumPy's ``axis=`` and
    ``keepdims=``; giving both spellings of one argument is a ``TypeError``.

    Parameters
    ----------
    op : callable
        Takes ``axis=`` (and ``keepdims=``).

    Returns
    -------
    callable
        ``op`` that also takes the PyTorch spellings.
    """
    @functools.wraps(op)
    def accepting(*args, **kwargs):
        if "dim" in kwargs or "keepdim" in kwargs:
            kwargs = _numpy_spellings(op.__name__, kwargs)
        return op(*args, **kwargs)
    return accepting


def _numpy_spellings(op, kwargs):
    kwargs = dict(kwargs)
    for torch_name, numpy_name in (("dim", "axis"), ("keepdim", "keepdims")):
        if torch_name in kwargs:
            if numpy_name in kwargs:
                raise TypeError(f"{op}: got both {numpy_name}= and {torch_name}= (PyTorch's "
                                f"spelling of it); give one")
            kwargs[numpy_name] = kwargs.pop(torch_name)
    return kwargs


def axis_int(axis, op, name="axis"):
    """``axis`` as a Python int (NumPy integers included); anything else, a float or a
    bool, is a ``TypeError`` naming the op and the argument.

    Parameters
    ----------
    axis : int
    op, name : str
        Named in the error.

    Returns
    -------
    int
    """
    if isinstance(axis, bool):
        raise TypeError(f"{op}: {name} must be an int, got bool {axis}")
    try:
        return operator.index(axis)
    except TypeError:
        raise TypeError(f"{op}: {name} must be an int or a tuple of ints, got "
                        f"{type(axis).__name__} {axis!r}") from None


def normalize_axes(axis, ndim, op, name="axis"):
    """``axis`` (None, an int or a tuple, negatives allowed) as a sorted tuple.

    A 0-d tensor takes axes 0 and -1, as PyTorch's: they name no axis (``()``).

    Parameters
    ----------
    axis : None, int or tuple of int
        NumPy integers count as ints; a float is a ``TypeError``.
    ndim : int
    op, name : str
        The op and argument named in errors.

    Returns
    -------
    tuple of int
        Each in ``range(ndim)``; out of range is :class:`~minigrad.AxisError`, a repeat
        a ``ValueError``.
    """
    if axis is None:
        return tuple(range(ndim))
    if isinstance(axis, (tuple, list)):
        axes = tuple(axis_int(a, op, name) for a in axis)
    else:
        axes = (axis_int(axis, op, name),)
    bound = builtins.max(ndim, 1)
    normalized = []
    for a in axes:
        if not -bound <= a < bound:
            raise AxisError(f"{op}: {name} {a} is out of range for a tensor of {ndim} "
                            f"dimensions")
        normalized.append(a % bound)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(normalized)) if ndim else ()


def single_axis(axis, ndim, op, name="axis"):
    """One axis (an int) in ``range(ndim)``; 0 for a 0-d tensor's 0 or -1.

    Parameters
    ----------
    axis : int
    ndim : int
    op, name : str
        Named in errors (a tuple or None is a ``TypeError``).

    Returns
    -------
    int
    """
    if isinstance(axis, (tuple, list)) or axis is None:
        raise TypeError(f"{op}: {name} must be one int, got {axis!r}")
    axes = normalize_axes(axis, ndim, op, name)
    return axes[0] if axes else 0


def on_vector(op, x, *args, **kwargs):
    """``op`` on the 0-d ``x`` seen as shape ``(1,)``, its results back to 0-d: how the
    ops along one axis take dim 0 or -1 of a 0-d tensor, as PyTorch's do.

    Parameters
    ----------
    op : callable
        Called as ``op(x.reshape(1), *args, **kwargs)``.
    x : Tensor, 0-d

    Returns
    -------
    Tensor or ValuesIndices
        0-d.
    """
    result = op(x.reshape(1), *args, **kwargs)
    if isinstance(result, ValuesIndices):
        return ValuesIndices(*(r.reshape(()) for r in result))
    return result.reshape(())


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _count(shape, axes):
    count = 1
    for a in axes:
        count *= shape[a]
    return count


def _positions(x, axis):
    """``0 .. n-1`` along ``axis`` of ``x``, shaped to broadcast against it (int64)."""
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return constant(x.xp.arange(x.shape[axis]).reshape(shape))


# --------------------------------------------------------------------------- sums, means

@torch_spellings
def sum(x, axis=None, keepdims=False, *, dtype=None):
    """Sum over ``axis``.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
        The axes summed over (``dim=`` too); all of them when None.
    keepdims : bool
        Keep the summed axes with length 1 (``keepdim=`` too).
    dtype : dtype, optional
        Cast ``x`` to it before summing (PyTorch's ``sum(dtype=)``); integers and bools
        otherwise sum to ``int64``, as PyTorch.

    Returns
    -------
    Tensor
        ``x``'s shape without (or with length 1 at) the summed axes.
    """
    static = {"axis": normalize_axes(axis, x.ndim, "sum"), "keepdims": keepdims}
    if dtype is not None:
        x = astype(x, dtype)
    elif x.dtype.kind in "biu":
        x = astype(x, "int64")
    out = sum_values(None, x.data, **static)

    def backward(grad):
        if not keepdims:
            grad = grad.reshape(_kept_shape(x.shape, static["axis"]))
        return (grad.broadcast_to(x.shape),)
    return record(out, (x,), backward, "sum", sum_values, static)


@kernel
def sum_values(xp, x, axis, keepdims):
    """:func:`sum`'s kernel."""
    return x.sum(axis=axis, keepdims=keepdims)


@torch_spellings
def mean(x, axis=None, keepdims=False):
    """Mean over ``axis`` (NaN over no elements, as PyTorch).

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
        All axes when None.
    keepdims : bool

    Returns
    -------
    Tensor
    """
    axes = normalize_axes(axis, x.ndim, "mean")
    count = _count(x.shape, axes)
    return sum(x, axes, keepdims) * (1.0 / count if count else math.nan)


def _correction(op, correction, ddof, unbiased):
    given = [name for name, v in (("correction", correction), ("ddof", ddof),
                                  ("unbiased", unbiased)) if v is not None]
    if len(given) > 1:
        raise TypeError(f"{op}: give one of correction=, ddof= and unbiased=, not "
                        f"{' and '.join(given)}")
    if unbiased is not None:
        if not isinstance(unbiased, bool):
            raise TypeError(f"{op}: unbiased must be a bool, got {unbiased!r}")
        return 1 if unbiased else 0
    value = correction if correction is not None else ddof
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{op}: correction must be a number, got {value!r}")
    return value


def _spelling_picks_correction(op):
    """``var`` and ``std`` with the default correction of the spelling they are called
    with: PyTorch's ``dim=`` gives PyTorch's (1, the sample variance); NumPy's ``axis=``,
    a positional axis or none give NumPy's (0, the population variance API.md names)."""
    @functools.wraps(op)
    def picking(*args, **kwargs):
        if "dim" in kwargs and not {"correction", "ddof", "unbiased"} & kwargs.keys():
            kwargs["correction"] = 1
        return op(*args, **kwargs)
    return picking


@_spelling_picks_correction
@torch_spellings
def var(x, axis=None, keepdims=False, *, correction=None, ddof=None, unbiased=None):
    """Variance over ``axis``: ``sum((x - mean)^2) / (N - correction)``.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
        All axes when None.
    keepdims : bool
    correction : int or float, optional
        Subtracted from the element count ``N``. By default 0 (the population variance,
        NumPy's default) and, when the axes are given as PyTorch's ``dim=``, 1 (Bessel's
        correction, the sample variance: PyTorch's default), so each spelling means what
        it means where it comes from.
    ddof : int, optional
        NumPy's name for ``correction``.
    unbiased : bool, optional
        PyTorch's older spelling: True is ``correction=1``, False ``correction=0``.

    Returns
    -------
    Tensor
        NaN where ``N - correction <= 0`` and the elements are equal (a single element
        with ``correction=1``), inf where they differ, as PyTorch.
    """
    return _variance(x, axis, keepdims, correction, ddof, unbiased, "var")


def _variance(x, axis, keepdims, correction, ddof, unbiased, op):
    axes = normalize_axes(axis, x.ndim, op)
    correction = _correction(op, correction, ddof, unbiased)
    centred = x - mean(x, axes, keepdims=True)
    total = sum(centred * centred, axes, keepdims)
    divisor = builtins.max(0, _count(x.shape, axes) - correction)
    if divisor == 0:        # 0/0 is NaN, a positive sum / 0 is inf
        return where(gt(total, 0), math.inf, total * math.nan)
    return total * (1.0 / divisor)


@_spelling_picks_correction
@torch_spellings
def std(x, axis=None, keepdims=False, *, correction=None, ddof=None, unbiased=None):
    """Standard deviation, ``sqrt(var(x, axis, keepdims, correction))``; its gradient is
    0 where it is 0 (a constant slice), as PyTorch's.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
    keepdims : bool
    correction, ddof, unbiased
        As :func:`var` (default 0, or 1 with ``dim=``).

    Returns
    -------
    Tensor
    """
    return root(_variance(x, axis, keepdims, correction, ddof, unbiased, "std"), 2)


def root(x, p):
    """``x ** (1 / p)`` for ``x >= 0``, whose gradient is taken as 0 where the root is 0
    (the limit along the paths norms and standard deviations take there).

    Parameters
    ----------
    x : Tensor, non-negative
    p : int or float

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    static = {"p": p}
    y = root_values(x.xp, x.data, p)

    def backward(grad):
        # d x^(1/p) = x^(1/p) / (p x) dx
        out = _output(ref, y)
        zero = eq(out, 0)
        return (where(zero, 0.0, grad * out / (where(zero, 1.0, x) * p)),)
    result = record(y, (x,), backward, "root", root_values, static)
    ref = output_ref(result)
    return result


@kernel
def root_values(xp, x, p):
    """:func:`root`'s kernel (``sqrt`` for ``p == 2``)."""
    return xp.sqrt(x) if p == 2 else x ** (1.0 / p)


# --------------------------------------------------------------------------- products

@torch_spellings
def prod(x, axis=None, keepdims=False, *, dtype=None):
    """Product over ``axis``; its first and second derivatives are right where elements
    are zero.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
        All axes when None.
    keepdims : bool
    dtype : dtype, optional
        Cast ``x`` to it first; integers and bools otherwise multiply in ``int64``.

    Returns
    -------
    Tensor
    """
    static = {"axis": normalize_axes(axis, x.ndim, "prod"), "keepdims": keepdims}
    if dtype is not None:
        x = astype(x, dtype)
    elif x.dtype.kind in "biu":
        x = astype(x, "int64")
    axes = static["axis"]

    def backward(grad):
        # d prod / d x_k is the product of the others: (the running product before k) *
        # (the one after k), over the reduced axes moved last and joined into one. No
        # division, so zeros need no special case, and it is a polynomial of cumprods:
        # its own gradient (prod's second derivative) is exact too, zeros included
        if not keepdims:
            grad = grad.reshape(_kept_shape(x.shape, axes))
        if not x.size:
            return (grad.broadcast_to(x.shape),)
        kept = tuple(a for a in range(x.ndim) if a not in axes)
        moved = x.transpose(*(kept + axes)) if x.ndim else x.reshape(1)
        rows = moved.reshape(tuple(x.shape[a] for a in kept) + (-1,))
        before = cumprod(shape.pad(rows, (1, -1), value=1.0), -1)
        after = shape.flip(cumprod(shape.pad(shape.flip(rows, -1), (1, -1), value=1.0), -1),
                           -1)
        others = (before * after).reshape(moved.shape)
        if x.ndim:
            others = others.transpose(*sorted(range(x.ndim), key=(kept + axes).__getitem__))
        return (grad * others.reshape(x.shape),)
    return record(prod_values(None, x.data, **static), (x,), backward, "prod", prod_values,
                  static)


@kernel
def prod_values(xp, x, axis, keepdims):
    """:func:`prod`'s kernel."""
    return x.prod(axis=axis, keepdims=keepdims)


# --------------------------------------------------------------------------- scans

def _reversed_cumsum(g, axis):
    """``sum_{i >= k} g_i`` along ``axis``: the backward of a cumulative sum."""
    return shape.flip(cumsum(shape.flip(g, axis), axis), axis)


@torch_spellings
def cumsum(x, axis, *, dtype=None):
    """Running sums along ``axis`` (PyTorch's ``cumsum(dim)``).

    Parameters
    ----------
    x : Tensor
    axis : int
        ``dim=`` too; 0 or -1 for a 0-d tensor.
    dtype : dtype, optional
        Cast ``x`` to it first; integers and bools otherwise sum in ``int64``.

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    axis = single_axis(axis, x.ndim, "cumsum")
    if dtype is not None:
        x = astype(x, dtype)
    elif x.dtype.kind in "biu":
        x = astype(x, "int64")
    if x.ndim == 0:
        return on_vector(cumsum, x, 0)

    def backward(grad):
        return (_reversed_cumsum(grad, axis),)
    return record(cumsum_values(None, x.data, axis), (x,), backward, "cumsum", cumsum_values,
                  {"axis": axis})


@kernel
def cumsum_values(xp, x, axis):
    """:func:`cumsum`'s kernel."""
    return x.cumsum(axis=axis)


@torch_spellings
def cumprod(x, axis, *, dtype=None):
    """Running products along ``axis``; the gradient is right where elements are zero
    (its own derivative, a second derivative, only away from zeros).

    Parameters
    ----------
    x : Tensor
    axis : int
    dtype : dtype, optional
        Cast ``x`` to it first; integers and bools otherwise multiply in ``int64``.

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    axis = single_axis(axis, x.ndim, "cumprod")
    if dtype is not None:
        x = astype(x, dtype)
    elif x.dtype.kind in "biu":
        x = astype(x, "int64")
    if x.ndim == 0:
        return on_vector(cumprod, x, 0)
    y = cumprod_values(None, x.data, axis)

    def backward(grad):
        # y_i = prod_{j<=i} x_j, so dL/dx_k = sum_{i>=k} g_i prod_{j<=i, j!=k} x_j. Let z
        # be the first zero along the axis (n when there is none). Before z that is
        # sum_{i>=k} g_i y_i / x_k (y_i is 0 from z on); at z it is
        # prod_{j<z} x_j * sum_{i>=z} g_i prod_{z<j<=i} x_j; after z it is 0.
        if not x.size:
            return (grad,)
        out = _output(ref, y)
        position = _positions(x, axis)
        is_zero = eq(x, 0)
        first_zero = where(any(is_zero, axis, keepdims=True),
                           argmax(is_zero, axis, keepdims=True), x.shape[axis])
        before = lt(position, first_zero)
        before_zero = where(before, x, 1.0)
        grad_before = where(before, _reversed_cumsum(grad * out, axis) / before_zero, 0.0)
        after = cumprod(where(gt(position, first_zero), x, 1.0), axis)
        at_zero = prod(before_zero, axis, keepdims=True) * sum(
            where(lt(position, first_zero), 0.0, grad * after), axis, keepdims=True)
        return (grad_before + where(eq(position, first_zero), at_zero, 0.0),)
    result = record(y, (x,), backward, "cumprod", cumprod_values, {"axis": axis})
    ref = output_ref(result)
    return result


@kernel
def cumprod_values(xp, x, axis):
    """:func:`cumprod`'s kernel."""
    return x.cumprod(axis=axis)


@torch_spellings
def logcumsumexp(x, axis):
    """``log(cumsum(exp(x)))`` along ``axis``, without overflow or underflow.

    Parameters
    ----------
    x : Tensor (floating)
    axis : int

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    axis = single_axis(axis, x.ndim, "logcumsumexp")
    if x.dtype.kind != "f":
        raise TypeError(f"logcumsumexp: needs a floating tensor, got {x.dtype}")
    if x.ndim == 0:
        return on_vector(logcumsumexp, x, 0)
    y = logcumsumexp_values(x.xp, x.data, axis)

    def backward(grad):
        # dL/dx_k = sum_{i>=k} g_i exp(x_k - y_i), summed in log space for the positive
        # and the negative parts of g separately (each a reversed logcumsumexp). An
        # x_k of -inf gets 0; the y_i of -inf (all x up to i are -inf) only reach such
        # x_k, so they are replaced by 0 first, which keeps NaN out of every derivative.
        no_mass = eq(x, -math.inf)
        out = _output(ref, y)
        out = where(eq(out, -math.inf), 0.0, out)
        finite_x = where(no_mass, 0.0, x)
        parts = []
        for sign in (1.0, -1.0):
            magnitude = grad * sign
            positive = gt(magnitude, 0)
            log_magnitude = where(positive, log(where(positive, magnitude, 1.0)), -math.inf)
            reversed_sum = shape.flip(logcumsumexp(shape.flip(log_magnitude - out, axis),
                                                   axis), axis)
            parts.append(exp(finite_x + reversed_sum))
        return (where(no_mass, 0.0, parts[0] - parts[1]),)
    result = record(y, (x,), backward, "logcumsumexp", logcumsumexp_values, {"axis": axis})
    ref = output_ref(result)
    return result


@kernel
def logcumsumexp_values(xp, x, axis):
    """:func:`logcumsumexp`'s kernel: ``logaddexp`` accumulated along ``axis``."""
    return accumulated(xp, "logaddexp", x, axis, -xp.inf)


def _running_extreme(x, axis, op):
    axis = single_axis(axis, x.ndim, op)
    if x.ndim == 0:
        return on_vector(_running_extreme, x, 0, op)
    indices = record(running_extreme_indices(x.xp, x.data, axis, op), (x,), None,
                     f"{op}_indices", running_extreme_indices, {"axis": axis, "op": op})
    return ValuesIndices(indexing.taken_along(x, axis, indices), indices)


@kernel
def running_extreme_indices(xp, x, axis, op):
    """Where the running maximum (``op`` "cummax") or minimum was last reached: the
    index of the latest element equal to it, or of the latest NaN, as PyTorch's
    ``cummax``/``cummin``."""
    running = accumulated(xp, "maximum" if op == "cummax" else "minimum", x, axis,
                          _lowest(xp, x.dtype) if op == "cummax" else _highest(xp, x.dtype))
    positions = [1] * x.ndim
    positions[axis] = x.shape[axis]
    position = xp.arange(x.shape[axis]).reshape(positions)
    # reached at x == running; every NaN is reached too (and then stays the running
    # value, which nothing else equals)
    reached = (x == running) | (x != x)
    return accumulated(xp, "maximum", xp.where(reached, position, 0), axis, 0)


def _lowest(xp, dtype):
    """What nothing is below: -inf for floats, the least value of integers, False."""
    if dtype.kind == "f":
        return -xp.inf
    return False if dtype.kind == "b" else xp.iinfo(dtype).min


def _highest(xp, dtype):
    if dtype.kind == "f":
        return xp.inf
    return True if dtype.kind == "b" else xp.iinfo(dtype).max


def accumulated(xp, name, x, axis, identity):
    """The ufunc ``xp.<name>`` accumulated along ``axis`` (``numpy.maximum.accumulate``),
    by a log-step scan where the array module has no such ``accumulate`` (CuPy has only
    ``add``'s).

    Parameters
    ----------
    xp : array module
    name : str
        An associative ufunc: "maximum", "minimum", "logaddexp".
    x : array
    axis : int
    identity : scalar
        ``op(identity, a) == a``.

    Returns
    -------
    array
        ``x``'s shape and dtype.
    """
    combine = getattr(xp, name)
    try:
        return combine.accumulate(x, axis=axis)
    except (AttributeError, NotImplementedError, TypeError):
        return doubling_scan(xp, combine, x, axis, identity)


def doubling_scan(xp, combine, x, axis, identity):
    """Running ``combine`` along ``axis`` in ``ceil(log2 n)`` elementwise steps (Hillis &
    Steele 1986): after the step with shift ``s``, element ``i`` holds the combination of
    the ``2 s`` elements up to ``i``.

    Parameters
    ----------
    xp : array module
    combine : binary ufunc, associative
    x : array
    axis : int
    identity : scalar

    Returns
    -------
    array
    """
    length = x.shape[axis]
    lead = (slice(None),) * axis
    out, shift = x, 1
    while shift < length:
        padding = list(x.shape)
        padding[axis] = shift
        shifted = xp.concatenate([xp.full(padding, identity, dtype=x.dtype),
                                  out[lead + (slice(0, length - shift),)]], axis=axis)
        out = combine(out, shifted)
        shift *= 2
    return out


@torch_spellings
def cummax(x, axis):
    """Running maximum along ``axis``, with where each was reached.

    Parameters
    ----------
    x : Tensor
    axis : int

    Returns
    -------
    ValuesIndices
        ``values`` (``x``'s shape; gradients go to the element each value came from)
        and ``indices`` (``int64``; on ties the latest position, as PyTorch).
    """
    return _running_extreme(x, axis, "cummax")


@torch_spellings
def cummin(x, axis):
    """Running minimum along ``axis``, with where each was reached (see :func:`cummax`).

    Parameters
    ----------
    x : Tensor
    axis : int

    Returns
    -------
    ValuesIndices
    """
    return _running_extreme(x, axis, "cummin")


# --------------------------------------------------------------------------- extremes

def _arg_extreme(x, axis, keepdims, op):
    if x.size == 0:
        raise ValueError(f"{op}: zero-size tensor of shape {x.shape} has no {op[3:]}imum")
    static = {"axis": None if axis is None else single_axis(axis, x.ndim, op, "dim"),
              "keepdims": keepdims, "op": op}
    if x.ndim == 0:
        static["axis"] = None
    return record(arg_extreme_values(None, x.data, **static), (x,), None, op,
                  arg_extreme_values, static)


@kernel
def arg_extreme_values(xp, x, axis, keepdims, op):
    """The kernel of :func:`argmax` and :func:`argmin` (``int64`` positions; NaN counts
    as the extreme, the first one found wins, as PyTorch)."""
    found = x.argmax(axis=axis) if op == "argmax" else x.argmin(axis=axis)
    if keepdims:
        found = found.reshape([1] * x.ndim if axis is None else
                              [1 if i == axis else n for i, n in enumerate(x.shape)])
    return found.astype("int64")


@torch_spellings
def argmax(x, axis=None, keepdims=False):
    """Position of the maximum: along ``axis``, or in the flattened tensor when None.

    Parameters
    ----------
    x : Tensor
    axis : int, optional
        ``dim=`` too.
    keepdims : bool
        Keep the reduced axis (all axes, with length 1, when ``axis`` is None).

    Returns
    -------
    Tensor
        ``int64``; no gradient. Ties give the first position.
    """
    return _arg_extreme(x, axis, keepdims, "argmax")


@torch_spellings
def argmin(x, axis=None, keepdims=False):
    """Position of the minimum (see :func:`argmax`).

    Parameters
    ----------
    x : Tensor
    axis : int, optional
    keepdims : bool

    Returns
    -------
    Tensor
        ``int64``; no gradient.
    """
    return _arg_extreme(x, axis, keepdims, "argmin")


def _truth(x, axis, keepdims, op):
    static = {"axis": normalize_axes(axis, x.ndim, op), "keepdims": keepdims, "op": op}
    return record(truth_values(None, x.data, **static), (x,), None, op, truth_values, static)


@kernel
def truth_values(xp, x, axis, keepdims, op):
    """The kernel of :func:`any` and :func:`all`."""
    return x.any(axis=axis, keepdims=keepdims) if op == "any" else \
        x.all(axis=axis, keepdims=keepdims)


@torch_spellings
def any(x, axis=None, keepdims=False):
    """Whether any element over ``axis`` is nonzero.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
    keepdims : bool

    Returns
    -------
    Tensor
        ``bool``; no gradient.
    """
    return _truth(x, axis, keepdims, "any")


@torch_spellings
def all(x, axis=None, keepdims=False):
    """Whether every element over ``axis`` is nonzero.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
    keepdims : bool

    Returns
    -------
    Tensor
        ``bool``; no gradient.
    """
    return _truth(x, axis, keepdims, "all")


def _extreme(x, axis, keepdims, kind, op):
    static = {"axis": normalize_axes(axis, x.ndim, op), "keepdims": keepdims, "op": kind}
    if x.size == 0:
        raise ValueError(f"{op}: zero-size tensor of shape {x.shape} has no {kind}imum")
    out = extreme_values(None, x.data, **static)
    axes = static["axis"]
    kept_shape = _kept_shape(x.shape, axes)

    def backward(grad):
        # the gradient goes to the extreme elements, split evenly among ties
        kept = _output(ref, out)
        hit = eq(x, kept if keepdims else kept.reshape(kept_shape))
        share = astype(hit / hit.sum(axis=axes, keepdims=True), x.dtype)
        if not keepdims:
            grad = grad.reshape(kept_shape)
        return (grad * share,)
    result = record(out, (x,), backward, op, extreme_values, static)
    ref = output_ref(result)
    return result


@kernel
def extreme_values(xp, x, axis, keepdims, op):
    """The kernel of :func:`max`, :func:`min`, :func:`amax` and :func:`amin` (``op`` is
    "max" or "min")."""
    return x.max(axis=axis, keepdims=keepdims) if op == "max" else \
        x.min(axis=axis, keepdims=keepdims)


def _values_and_indices(x, dim, keepdim, kind):
    op = "max" if kind == "max" else "min"
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}: dim= takes one int (PyTorch's {op}(dim) returns values and "
                        f"indices); for several axes use a{op}(x, dim={tuple(dim)}) or "
                        f"axis=")
    axis = single_axis(dim, x.ndim, op, "dim")
    if x.ndim == 0:
        return on_vector(_values_and_indices, x, 0, keepdim, kind)
    indices = _arg_extreme(x, axis, True, "arg" + kind)
    values = indexing.taken_along(x, axis, indices)
    if not keepdim:
        indices, values = indices.squeeze(axis), values.squeeze(axis)
    return ValuesIndices(values, indices)


def _max_or_min(kind):
    def extreme(x, axis=None, keepdims=False, *, dim=None, keepdim=None):
        if dim is not None:
            if axis is not None:
                raise TypeError(f"{kind}: got both axis= and dim= (PyTorch's spelling of "
                                f"it); give one")
            if keepdims:
                raise TypeError(f"{kind}: keepdims= goes with axis=; with dim= give "
                                f"keepdim=")
            return _values_and_indices(x, dim, bool(keepdim), kind)
        if keepdim is not None:
            if keepdims:
                raise TypeError(f"{kind}: got both keepdims= and keepdim=; give one")
            keepdims = keepdim
        return _extreme(x, axis, keepdims, kind, kind)
    extreme.__name__ = extreme.__qualname__ = kind
    extreme.__doc__ = f"""The {kind}imum, in NumPy's or PyTorch's form by the spelling.

    ``x.{kind}()`` is the 0-d {kind}imum of all elements; ``x.{kind}(axis)`` (NumPy's
    spelling, ``axis`` an int or a tuple) the {kind}ima over ``axis``, their gradient split
    evenly among ties; ``x.{kind}(dim=d)`` (PyTorch's spelling) a :class:`ValuesIndices`
    of the {kind}ima along the one axis ``d`` and their ``int64`` positions (the first on
    ties, which gets all of the gradient), as ``torch.{kind}(x, dim)``.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
    keepdims : bool
    dim : int, optional
    keepdim : bool, optional

    Returns
    -------
    Tensor, or ValuesIndices when ``dim`` is given
    """
    return extreme


max = _max_or_min("max")
min = _max_or_min("min")


def _no_axes(axis):
    return isinstance(axis, (tuple, list)) and not axis


@torch_spellings
def amax(x, axis=None, keepdims=False):
    """Maximum over ``axis`` (all axes when None or ``()``, as PyTorch's ``amax``); the
    gradient is split evenly among ties.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
    keepdims : bool

    Returns
    -------
    Tensor
    """
    return _extreme(x, None if _no_axes(axis) else axis, keepdims, "max", "amax")


@torch_spellings
def amin(x, axis=None, keepdims=False):
    """Minimum over ``axis`` (see :func:`amax`).

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int, optional
    keepdims : bool

    Returns
    -------
    Tensor
    """
    return _extreme(x, None if _no_axes(axis) else axis, keepdims, "min", "amin")


@torch_spellings
def norm(x, p=2, axis=None, keepdims=False):
    """The vector ``p``-norm over ``axis``, ``(sum |x|^p)^(1/p)``, as ``torch.norm``.

    Parameters
    ----------
    x : Tensor (floating)
    p : int, float, "fro", inf or -inf
        2 by default; ``"fro"`` (Frobenius) is the 2-norm over ``axis``; ``inf`` the
        largest ``|x|``, ``-inf`` the smallest; 0 the number of nonzeros.
    axis : int or tuple of int, optional
        All axes when None (``dim=`` too).
    keepdims : bool

    Returns
    -------
    Tensor
        The gradient at a zero norm is 0, as PyTorch's.
    """
    if p == "fro":
        p = 2
    if isinstance(p, str) or isinstance(p, bool) or not isinstance(p, (int, float)):
        raise ValueError(f"norm: p must be a number, 'fro', inf or -inf, got {p!r}")
    if x.dtype.kind != "f":
        raise TypeError(f"norm: needs a floating tensor, got {x.dtype}")
    axes = normalize_axes(axis, x.ndim, "norm")
    if p == math.inf:
        return amax(abs(x), axes, keepdims)
    if p == -math.inf:
        return amin(abs(x), axes, keepdims)
    if p == 0:      # a count, connected to x (as PyTorch's) with a zero gradient
        return sum(where(ne(x, 0), 1.0, x * 0.0), axes, keepdims)
    if p == 1:
        return sum(abs(x), axes, keepdims)
    return root(sum(x * x if p == 2 else abs(x) ** p, axes, keepdims), p)


# --------------------------------------------------------------------------- log-sum-exp

def _stable_shift(xp, x, axes):
    """The max of the array ``x`` over ``axes`` (kept), with non-finite maxima replaced
    by 0 so that rows of -inf give -inf instead of NaN (0 for an empty ``x``)."""
    if x.size == 0:
        return 0
    shift = x.max(axis=axes, keepdims=True)
    return xp.where(xp.isfinite(shift), shift, 0)


@torch_spellings
def logsumexp(x, axis=-1, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, without overflow.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int
        -1 by default.
    keepdims : bool

    Returns
    -------
    Tensor
        -inf over no elements.
    """
    static = {"axis": normalize_axes(axis, x.ndim, "logsumexp"), "keepdims": keepdims}
    kept_shape = _kept_shape(x.shape, static["axis"])
    out = logsumexp_values(x.xp, x.data, **static)

    def backward(grad):
        # d lse / dx = softmax(x) = exp(x - lse)
        lse = _output(ref, out)
        if not keepdims:
            grad = grad.reshape(kept_shape)
            lse = lse.reshape(kept_shape)
        return (grad * exp(x - lse),)
    result = record(out, (x,), backward, "logsumexp", logsumexp_values, static)
    ref = output_ref(result)
    return result


@kernel
def logsumexp_values(xp, x, axis, keepdims):
    """:func:`logsumexp`'s kernel."""
    shift = _stable_shift(xp, x, axis)
    total = xp.exp(x - shift).sum(axis=axis, keepdims=True)
    if not x.size:      # a sum of no terms: log(0) without the warning
        kept = xp.full(total.shape, -xp.inf, dtype=x.dtype)
    else:
        kept = xp.log(total) + shift
    return kept if keepdims else kept.reshape(
        [n for i, n in enumerate(x.shape) if i not in axis])


@torch_spellings
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the max for stability.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int
        -1 by default (0 or -1 for a 0-d tensor).

    Returns
    -------
    Tensor
        ``x``'s shape (empty for an empty ``x``).
    """
    static = {"axis": normalize_axes(axis, x.ndim, "softmax")}
    axes = static["axis"]
    e = softmax_values(x.xp, x.data, **static)

    def backward(grad):
        y = _output(ref, e)
        return (y * (grad - (grad * y).sum(axis=axes, keepdims=True)),)
    out = record(e, (x,), backward, "softmax", softmax_values, static)
    ref = output_ref(out)
    return out


@kernel
def softmax_values(xp, x, axis):
    """:func:`softmax`'s kernel."""
    e = xp.exp(x - _stable_shift(xp, x, axis))
    if e.size:
        e /= e.sum(axis=axis, keepdims=True)
    return e


@torch_spellings
def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``.

    Parameters
    ----------
    x : Tensor
    axis : int or tuple of int
        -1 by default.

    Returns
    -------
    Tensor
        ``x``'s shape.
    """
    static = {"axis": normalize_axes(axis, x.ndim, "log_softmax")}
    axes = static["axis"]
    y = log_softmax_values(x.xp, x.data, **static)

    def backward(grad):
        return (grad - exp(_output(ref, y)) * grad.sum(axis=axes, keepdims=True),)
    out = record(y, (x,), backward, "log_softmax", log_softmax_values, static)
    ref = output_ref(out)
    return out


@kernel
def log_softmax_values(xp, x, axis):
    """:func:`log_softmax`'s kernel."""
    shifted = x - _stable_shift(xp, x, axis)
    if not x.size:
        return shifted
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


# (at the end: shape.py and indexing.py import this module)
from . import indexing, shape     # noqa: E402  (flip and pad; gathering along an axis)
