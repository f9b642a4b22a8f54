"""Reductions over axes, and the numerically stable log-sum-exp family."""
from __future__ import annotations

import builtins

from ..tensor import Tensor, output_ref, record
from .elementwise import _output, exp


def normalize_axes(axis, ndim, op):
    """``axis`` (None, an int or a tuple, negatives allowed) as a sorted tuple."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    normalized = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of range for a tensor of {ndim} dimensions")
        normalized.append(a % ndim)
    if len(set(normalized)) != len(normalized):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(normalized))


def _kept_shape(shape, axes):
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def sum(x, axis=None, keepdims=False):
    """Sum over ``axis`` (an int, a tuple, or all axes when ``None``)."""
    axes = normalize_axes(axis, x.ndim, "sum")
    out = x.data.sum(axis=axes, keepdims=keepdims)

    def backward(grad):
        if not keepdims:
            grad = grad.reshape(_kept_shape(x.shape, axes))
        return (grad.broadcast_to(x.shape),)
    return record(out, (x,), backward, "sum")


def mean(x, axis=None, keepdims=False):
    """Mean over ``axis``."""
    axes = normalize_axes(axis, x.ndim, "mean")
    count = 1
    for a in axes:
        count *= x.shape[a]
    return sum(x, axes, keepdims) * (1.0 / builtins.max(count, 1))


def var(x, axis=None, keepdims=False):
    """Population variance (NumPy's ``ddof=0``) over ``axis``."""
    centred = x - mean(x, axis, keepdims=True)
    return mean(centred * centred, axis, keepdims)


def _extreme(x, axis, keepdims, op):
    axes = normalize_axes(axis, x.ndim, op)
    if x.size == 0:
        raise ValueError(f"{op}: zero-size tensor of shape {x.shape} has no {op}imum")
    kept = x.data.max(axis=axes, keepdims=True) if op == "max" else \
        x.data.min(axis=axes, keepdims=True)
    out = kept if keepdims else kept.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(grad):
        # the gradient goes to the extreme elements, split evenly among ties
        hit = x.data == kept
        share = hit / hit.sum(axis=axes, keepdims=True)
        if not keepdims:
            grad = grad.reshape(kept.shape)
        return (grad * Tensor(share.astype(x.dtype, copy=False)),)
    return record(out, (x,), backward, op)


def max(x, axis=None, keepdims=False):
    """Maximum over ``axis``; ties share the gradient."""
    return _extreme(x, axis, keepdims, "max")


def min(x, axis=None, keepdims=False):
    """Minimum over ``axis``; ties share the gradient."""
    return _extreme(x, axis, keepdims, "min")


def _stable_shift(x, axes):
    """The max over ``axes`` (kept), with non-finite maxima replaced by 0 so that rows of
    -inf give -inf instead of NaN."""
    xp = x.xp
    shift = x.data.max(axis=axes, keepdims=True)
    return xp.where(xp.isfinite(shift), shift, 0)


def logsumexp(x, axis=-1, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, without overflow."""
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    xp = x.xp
    shift = _stable_shift(x, axes)
    kept = xp.log(xp.exp(x.data - shift).sum(axis=axes, keepdims=True)) + shift
    out = kept if keepdims else kept.reshape([n for i, n in enumerate(x.shape) if i not in axes])

    def backward(grad):
        # d lse / dx = softmax(x) = exp(x - lse)
        lse = _output(ref, out)
        if not keepdims:
            grad = grad.reshape(kept.shape)
            lse = lse.reshape(kept.shape)
        return (grad * exp(x - lse),)
    result = record(out, (x,), backward, "logsumexp")
    ref = output_ref(result)
    return result


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``, shifted by the max for stability."""
    axes = normalize_axes(axis, x.ndim, "softmax")
    xp = x.xp
    e = xp.exp(x.data - _stable_shift(x, axes))
    e /= e.sum(axis=axes, keepdims=True)

    def backward(grad):
        y = _output(ref, e)
        return (y * (grad - (grad * y).sum(axis=axes, keepdims=True)),)
    out = record(e, (x,), backward, "softmax")
    ref = output_ref(out)
    return out


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``."""
    axes = normalize_axes(axis, x.ndim, "log_softmax")
    xp = x.xp
    shifted = x.data - _stable_shift(x, axes)
    y = shifted - xp.log(xp.exp(shifted).sum(axis=axes, keepdims=True))

    def backward(grad):
        return (grad - exp(_output(ref, y)) * grad.sum(axis=axes, keepdims=True),)
    out = record(y, (x,), backward, "log_softmax")
    ref = output_ref(out)
    return out
