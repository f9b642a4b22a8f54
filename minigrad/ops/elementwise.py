"""Elementwise functions, comparisons, and selection (maximum, minimum, clip, where).

Ops whose derivative is cheapest in terms of their own output (exp, sqrt, tanh, sigmoid)
reach that output through a weak reference, so a node never keeps its output alive in a
cycle; when the output tensor is gone, its saved data stands in as a constant (only
plain sweeps, which need no second derivative, can get there).
"""
from __future__ import annotations

from .. import backend as _backend
from ..tensor import Tensor, output_ref, record
from .arithmetic import needs_grad, operands, reduce_to_shape, shape_error


def _output(ref, data):
    out = ref()
    return out if out is not None else Tensor(data)


def _constant(array):
    return Tensor(array)


def exp(x):
    y = x.xp.exp(x.data)

    def backward(grad):
        return (grad * _output(ref, y),)
    out = record(y, (x,), backward, "exp")
    ref = output_ref(out)
    return out


def log(x):
    def backward(grad):
        return (grad / x,)
    return record(x.xp.log(x.data), (x,), backward, "log")


def sqrt(x):
    y = x.xp.sqrt(x.data)

    def backward(grad):
        return (grad * 0.5 / _output(ref, y),)
    out = record(y, (x,), backward, "sqrt")
    ref = output_ref(out)
    return out


def abs(x):
    def backward(grad):
        return (grad * _constant(x.xp.sign(x.data)),)
    return record(x.xp.abs(x.data), (x,), backward, "abs")


def tanh(x):
    y = x.xp.tanh(x.data)

    def backward(grad):
        return (tanh_derivative(grad, _output(ref, y)),)
    out = record(y, (x,), backward, "tanh")
    ref = output_ref(out)
    return out


def tanh_derivative(grad, t):
    """``grad * (1 - t^2)``, tanh's backward given its output ``t``, as one op: one
    buffer and three passes instead of three ops (the LSTM family runs it every step).
    Differentiable, so gradients of gradients still flow."""
    out = tanh_derivative_values(t.xp, grad.data, t.data)

    def backward(g):
        return (tanh_derivative(g, t) if needs_grad(grad) else None,
                -2 * g * grad * t if needs_grad(t) else None)
    return record(out, (grad, t), backward, "tanh_derivative")


def tanh_derivative_values(xp, grad, t):
    """The arrays behind :func:`tanh_derivative` (fused functions call it too)."""
    out = xp.multiply(t, t, out=xp.empty_like(t))   # stays an array at 0-d
    xp.subtract(1, out, out=out)
    out *= grad
    return out


def sigmoid(x):
    y = sigmoid_values(x.xp, x.data)

    def backward(grad):
        return (sigmoid_derivative(grad, _output(ref, y)),)
    out = record(y, (x,), backward, "sigmoid")
    ref = output_ref(out)
    return out


def sigmoid_values(xp, x):
    """The arrays behind :func:`sigmoid` (fused functions call it too).

    sigmoid(x) = (1 + tanh(x / 2)) / 2: no exp to overflow for large |x|, one pass less
    than the two-branch form."""
    y = xp.tanh(x * 0.5)
    y *= 0.5
    y += 0.5
    return y


def sigmoid_derivative(grad, s):
    """``grad * s * (1 - s)``, sigmoid's backward given its output ``s``, as one op (see
    :func:`tanh_derivative`)."""
    out = sigmoid_derivative_values(s.xp, grad.data, s.data)

    def backward(g):
        return (sigmoid_derivative(g, s) if needs_grad(grad) else None,
                g * grad * (1 - 2 * s) if needs_grad(s) else None)
    return record(out, (grad, s), backward, "sigmoid_derivative")


def sigmoid_derivative_values(xp, grad, s):
    """The arrays behind :func:`sigmoid_derivative` (fused functions call it too)."""
    out = 1 - s
    out *= s
    out *= grad
    return out


def relu(x):
    def backward(grad):
        return (relu_derivative(grad, x),)
    return record(x.xp.maximum(x.data, 0), (x,), backward, "relu")


def relu_derivative(grad, x):
    """``grad`` where ``x > 0``, else 0: relu's backward as one op (fusable, as it reads
    ``x`` rather than a mask made beforehand). Its own derivative in ``x`` is zero."""
    def backward(g):
        return (relu_derivative(g, x) if needs_grad(grad) else None, None)
    return record(relu_derivative_values(x.xp, grad.data, x.data), (grad, x), backward,
                  "relu_derivative")


def relu_derivative_values(xp, grad, x):
    """The arrays behind :func:`relu_derivative` (fused functions call it too)."""
    return grad * (x > 0)


# --------------------------------------------------------------------------- selection

def _select(op, a, b, pick_a):
    """maximum/minimum: the gradient goes to the chosen operand; ties split it evenly."""
    a, b, x, y = operands(a, b, op)
    xp = (a if isinstance(a, Tensor) else b).xp
    try:
        out = xp.maximum(x, y) if op == "maximum" else xp.minimum(x, y)
    except ValueError:
        raise shape_error(op, a, b) from None

    def backward(grad):
        share_a = pick_a(x, y) + 0.5 * (x == y)
        share_a = _constant(share_a.astype(grad.dtype, copy=False))
        return (reduce_to_shape(grad * share_a, a.shape) if needs_grad(a) else None,
                reduce_to_shape(grad * (1 - share_a), b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, op)


def maximum(a, b):
    """Elementwise maximum with broadcasting."""
    return _select("maximum", a, b, lambda x, y: x > y)


def minimum(a, b):
    """Elementwise minimum with broadcasting."""
    return _select("minimum", a, b, lambda x, y: x < y)


def clip(x, lo=None, hi=None):
    """Limit values to ``[lo, hi]``; the gradient passes where ``lo <= x <= hi``."""
    xp = x.xp
    out = xp.clip(x.data, lo, hi)

    def backward(grad):
        inside = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x.data >= lo
        if hi is not None:
            inside &= x.data <= hi
        return (grad * _constant(inside),)
    return record(out, (x,), backward, "clip")


def where(condition, a, b):
    """``a`` where ``condition`` holds, else ``b`` (broadcasting all three)."""
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        raise TypeError("where: a or b must be a tensor")
    if isinstance(condition, Tensor):
        # a condition tensor is an operand too: never copy it across backends silently
        if type(condition.data) is not type(like.data):
            raise _backend.BackendError(
                f"where: operands live on different backends ({condition.backend} and "
                f"{like.backend}); move one with .to()")
        condition = condition.data
    a, b, x, y = operands(a, b, "where")
    cond = like.xp.asarray(condition).astype(bool, copy=False)
    try:
        out = like.xp.where(cond, x, y)
    except ValueError:
        raise ValueError(f"where: shapes {cond.shape}, "
                         f"{getattr(a, 'shape', 'scalar')} and {getattr(b, 'shape', 'scalar')} "
                         f"do not broadcast") from None

    def backward(grad):
        return (reduce_to_shape(where(cond, grad, 0), a.shape) if needs_grad(a) else None,
                reduce_to_shape(where(cond, 0, grad), b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, "where")


# --------------------------------------------------------------------------- comparisons
# Comparisons give bool tensors and record nothing: no gradient flows through them.

def _compare(compute, op):
    def compare(a, b):
        a, b, x, y = operands(a, b, op)
        try:
            return Tensor(compute(x, y))
        except ValueError:
            raise shape_error(op, a, b) from None
    compare.__name__ = op
    return compare


lt = _compare(lambda x, y: x < y, "lt")
le = _compare(lambda x, y: x <= y, "le")
gt = _compare(lambda x, y: x > y, "gt")
ge = _compare(lambda x, y: x >= y, "ge")
eq = _compare(lambda x, y: x == y, "eq")
ne = _compare(lambda x, y: x != y, "ne")
