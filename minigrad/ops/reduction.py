"""Reductions over axes, and the numerically stable log-sum-exp family."""
from __future__ import annotations

import builtins
import functools

from ..tensor import AxisError, Tensor, kernel, output_ref, record
from .elementwise import _output, astype, eq, exp


def torch_spellings(op):
    """``op`` accepting PyTorch's ``dim=`` and ``keepdim=`` beside NumPy's ``axis=`` and
    ``keepdims=``; giving both spellings of one argument is a ``TypeError``."""
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


def normalize_axes(axis, ndim, op):
    """``axis`` (None, an int or a tuple, negatives allowed) as a sorted tuple."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise AxisError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        normalized.append(a % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(normalized))


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


@torch_spellings
def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (an int, a tuple, or all axes when ``None``)."""
    static = {"axis": normalize_axes(axis, x.ndim, "sum"), "keepdims": keepdims}
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
    """Mean over ``axis``."""
    axes = normalize_axes(axis, x.ndim, "mean")
    count = 1
    for a in axes:
        count *= x.shape[a]
    return sum(x, axes, keepdims) * (1.0 / builtins.max(count, 1))


@torch_spellings
def var(x, axis=None, keepdims=False):
    """Population variance (NumPy's ``ddof=0``) over ``axis``."""
    centred = x - mean(x, axis, keepdims=True)
    return mean(centred * centred, axis, keepdims)


def _extreme(x, axis, keepdims, op):
    static = {"axis": normalize_axes(axis, x.ndim, op), "keepdims": keepdims, "op": op}
    if x.size == 0:
        raise ValueError(f"{op}: zero-size tensor of shape {x.shape} has no {op}imum")
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
    """The kernel of :func:`max` and :func:`min`."""
    return x.max(axis=axis, keepdims=keepdims) if op == "max" else \
        x.min(axis=axis, keepdims=keepdims)


@torch_spellings
def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; ties share the gradient."""
    return _extreme(x, axis, keepdims, "max")


@torch_spellings
def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``; ties share the gradient."""
    return _extreme(x, axis, keepdims, "min")


def _stable_shift(xp, x, axes):
    """The max of the array ``x`` over ``axes`` (kept), with non-finite maxima replaced
    by 0 so that rows of -inf give -inf instead of NaN."""
    shift = x.max(axis=axes, keepdims=True)
    return xp.where(xp.isfinite(shift), shift, 0)


@torch_spellings
def logsumexp(x, axis=-1, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, without overflow."""
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
    kept = xp.log(xp.exp(x - shift).sum(axis=axis, keepdims=True)) + shift
    return kept if keepdims else kept.reshape(
        [n for i, n in enumerate(x.shape) if i not in axis])


@torch_spellings
def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the max for stability."""
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
    e /= e.sum(axis=axis, keepdims=True)
    return e


@torch_spellings
def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``."""
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
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
