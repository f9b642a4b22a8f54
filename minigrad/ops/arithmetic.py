"""Arithmetic with NumPy broadcasting, and matrix products.

Every binary op sends its gradient back through :func:`reduce_to_shape`, the one place
that undoes broadcasting.
"""
from __future__ import annotations

import math

from .. import backend as _backend
from ..products import weight_gradient
from ..modes import state
from ..tensor import Tensor, kernel, record, ufunc_kernel

ADD, SUB, MUL, DIV, POW, NEG = (ufunc_kernel(name) for name in (
    "add", "subtract", "multiply", "divide", "power", "negative"))


def reduce_to_shape(grad, shape):
    """Sum ``grad`` over the axes that broadcasting stretched, giving ``shape``.

    Broadcasting prepends axes and stretches axes of length 1; the gradient of a
    broadcast input is the sum over exactly those axes.
    """
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, n in enumerate(shape) if n == 1 and grad.shape[lead + i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


def as_operand(value, like):
    """A binary op's other operand: tensors as they are, Python numbers as they are
    (NumPy's weak scalars keep the tensor's dtype), arrays and lists as constants."""
    if isinstance(value, (Tensor, int, float, bool)):
        return value
    return Tensor(_backend.convert(value, _backend.of(like.data)))


def operands(a, b, op):
    """``(a, b, a_data, b_data)`` for a binary op; refuses tensors of two backends."""
    if type(a) is Tensor and type(b) is Tensor and type(a.data) is type(b.data):
        return a, b, a.data, b.data          # the common case, checked cheaply first
    if isinstance(a, Tensor):
        b = as_operand(b, a)
    else:
        a = as_operand(a, b)
    a_data = a.data if isinstance(a, Tensor) else a
    b_data = b.data if isinstance(b, Tensor) else b
    if type(a_data) is not type(b_data) and isinstance(a, Tensor) and isinstance(b, Tensor):
        raise _backend.BackendError(
            f"{op}: operands live on different backends ({a.backend} and {b.backend}); "
            f"move one with .to()")
    return a, b, a_data, b_data


def needs_grad(operand):
    return isinstance(operand, Tensor) and operand.requires_grad


def shape_error(op, a, b, verb="do not broadcast"):
    shape = lambda x: x.shape if isinstance(x, Tensor) else "scalar"
    return ValueError(f"{op}: shapes {shape(a)} and {shape(b)} {verb}")


# --------------------------------------------------------------------------- + - * / **

def add(a, b):
    """Elementwise sum (``a + b``), with NumPy's broadcasting.

    The gradient of a broadcast operand is summed back to its shape
    (:func:`reduce_to_shape`).

    Parameters
    ----------
    a, b : Tensor or number
        At least one a tensor; shapes that broadcast together. A Python number keeps the
        tensor's dtype.

    Returns
    -------
    Tensor
        The broadcast shape.
    """
    a, b, x, y = operands(a, b, "add")
    try:
        out = x + y
    except ValueError:
        raise shape_error("add", a, b) from None

    def backward(grad):
        return (reduce_to_shape(grad, a.shape) if needs_grad(a) else None,
                reduce_to_shape(grad, b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, "add", ADD)


def sub(a, b):
    """Elementwise difference (``a - b``), with NumPy's broadcasting.

    The gradient of a broadcast operand is summed back to its shape
    (:func:`reduce_to_shape`).

    Parameters
    ----------
    a, b : Tensor or number
        At least one a tensor; shapes that broadcast together. A Python number keeps the
        tensor's dtype.

    Returns
    -------
    Tensor
        The broadcast shape.
    """
    a, b, x, y = operands(a, b, "sub")
    try:
        out = x - y
    except ValueError:
        raise shape_error("sub", a, b) from None

    def backward(grad):
        return (reduce_to_shape(grad, a.shape) if needs_grad(a) else None,
                reduce_to_shape(-grad, b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, "sub", SUB)


def mul(a, b):
    """Elementwise product (``a * b``), with NumPy's broadcasting.

    The gradient of a broadcast operand is summed back to its shape
    (:func:`reduce_to_shape`).

    Parameters
    ----------
    a, b : Tensor or number
        At least one a tensor; shapes that broadcast together. A Python number keeps the
        tensor's dtype.

    Returns
    -------
    Tensor
        The broadcast shape.
    """
    a, b, x, y = operands(a, b, "mul")
    try:
        out = x * y
    except ValueError:
        raise shape_error("mul", a, b) from None

    def backward(grad):
        return (reduce_to_shape(grad * b, a.shape) if needs_grad(a) else None,
                reduce_to_shape(grad * a, b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, "mul", MUL)


def div(a, b):
    """Elementwise true division (``a / b``), with NumPy's broadcasting.

    The gradient of a broadcast operand is summed back to its shape
    (:func:`reduce_to_shape`).

    Parameters
    ----------
    a, b : Tensor or number
        At least one a tensor; shapes that broadcast together. A Python number keeps the
        tensor's dtype.

    Returns
    -------
    Tensor
        The broadcast shape.
    """
    a, b, x, y = operands(a, b, "div")
    try:
        out = x / y
    except ValueError:
        raise shape_error("div", a, b) from None

    def backward(grad):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        return (reduce_to_shape(grad / b, a.shape) if needs_grad(a) else None,
                reduce_to_shape(-grad * a / (b * b), b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, "div", DIV)


def pow(a, b):
    """Elementwise power, also ``x.pow(b)`` (``a ** b``), with NumPy's broadcasting.

    The gradient of a broadcast operand is summed back to its shape
    (:func:`reduce_to_shape`).

    Parameters
    ----------
    a, b : Tensor or number
        At least one a tensor; shapes that broadcast together. A Python number keeps the
        tensor's dtype.

    Returns
    -------
    Tensor
        The broadcast shape.
    """
    a, b, x, y = operands(a, b, "pow")
    try:
        out = x ** y
    except ValueError:
        raise shape_error("pow", a, b) from None

    def backward(grad):
        # d(a^b)/da = b a^(b-1), d(a^b)/db = a^b log a
        return (reduce_to_shape(grad * b * a ** (b - 1), a.shape) if needs_grad(a) else None,
                reduce_to_shape(grad * a ** b * _log(a), b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, "pow", POW)


def _log(a):
    from .elementwise import log
    return log(a) if isinstance(a, Tensor) else math.log(a)


def neg(a):
    """Elementwise negation (``-a``).

    Parameters
    ----------
    a : Tensor

    Returns
    -------
    Tensor
        The shape and dtype of ``a``.
    """
    def backward(grad):
        return (-grad,)
    return record(-a.data, (a,), backward, "neg", NEG)


# --------------------------------------------------------------------------- matmul

def _swap_last(x):
    if x.ndim == 2:
        return x.T
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return x.transpose(*axes)


def matmul(a, b):
    """Matrix product (``a @ b``) with NumPy's rules.

    Batch dimensions broadcast; a 1-D operand is promoted to a row (on the left) or a
    column (on the right) and the added axis dropped from the result. ``(..., K) @ (K, N)``
    runs as one product over all rows, and its weight gradient joins the weight's other
    uses in one product (the input projection of a whole sequence is such a product).

    Parameters
    ----------
    a : Tensor
        ``(..., M, K)`` or ``(K,)``.
    b : Tensor
        ``(..., K, N)`` or ``(K,)``.

    Returns
    -------
    Tensor
        ``(..., M, N)``, the batch dimensions broadcast; without ``M`` or ``N`` where that
        operand was 1-D.

    Raises
    ------
    ValueError
        When an operand is 0-d or not a tensor, or the inner sizes differ.
    """
    a, b, x, y = operands(a, b, "matmul")
    if not isinstance(a, Tensor) or not isinstance(b, Tensor) or x.ndim == 0 or y.ndim == 0:
        raise ValueError("matmul: both operands need at least one dimension")
    try:
        out = matmul_values(None, x, y)
    except ValueError:
        raise shape_error("matmul", a, b, "do not align") from None

    def backward(grad):
        if a.ndim >= 2 and b.ndim == 2:
            # (..., K) @ (K, N): the rows of every batch entry times one matrix (a
            # weight): grad @ b.T, and rows(a).T @ rows(grad), left for the
            # accumulator to sum with the weight's other uses in one product
            grad_b = None
            if needs_grad(b):
                a_rows, grad_rows = a, grad
                if a.ndim > 2:
                    a_rows = a.reshape(-1, a.shape[-1])
                    grad_rows = grad.reshape(-1, grad.shape[-1])
                grad_b = weight_gradient(a_rows, grad_rows, state.grad_enabled or state.anomaly)
            return grad @ b.T if needs_grad(a) else None, grad_b
        # Work with the promoted forms (1-D a as a row, 1-D b as a column), then undo the
        # promotion and the broadcasting of batch dimensions.
        a2 = a if a.ndim > 1 else a.reshape(1, a.shape[0])
        b2 = b if b.ndim > 1 else b.reshape(b.shape[0], 1)
        if a.ndim == 1 and b.ndim == 1:
            grad = grad.reshape(1, 1)
        elif a.ndim == 1:
            grad = grad.reshape(*grad.shape[:-1], 1, grad.shape[-1])
        elif b.ndim == 1:
            grad = grad.reshape(*grad.shape, 1)
        grad_a = grad_b = None
        if needs_grad(a):
            grad_a = reduce_to_shape(grad @ _swap_last(b2), a2.shape).reshape(a.shape)
        if needs_grad(b):
            grad_b = reduce_to_shape(_swap_last(a2) @ grad, b2.shape).reshape(b.shape)
        return grad_a, grad_b
    return record(out, (a, b), backward, "matmul", matmul_values)


@kernel
def matmul_values(xp, x, y):
    """:func:`matmul`'s kernel. ``(..., K) @ (K, N)``: the batch dimensions fold into
    rows, one product instead of one per batch entry (the input projection of a whole
    sequence is such a product)."""
    if x.ndim > 2 and y.ndim == 2 and x.shape[-1] == y.shape[0]:
        return (x.reshape(-1, x.shape[-1]) @ y).reshape(*x.shape[:-1], y.shape[1])
    return x @ y
