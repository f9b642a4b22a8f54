"""Arithmetic with NumPy broadcasting, and matrix products.

Every binary op sends its gradient back through :func:`reduce_to_shape`, the one place
that undoes broadcasting.
"""
from __future__ import annotations

import math

from .. import backend as _backend
from ..products import weight_gradient
from ..modes import state
from ..tensor import Tensor, constant, kernel, record, ufunc_kernel

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
    (weak: they take the tensor's dtype), arrays and lists as constants."""
    if isinstance(value, (Tensor, int, float, bool)):
        return value
    return Tensor(_backend.convert(value, _backend.of(like.data)))


def operands(a, b, op):
    """``(a, b, a_data, b_data)`` for a binary op, cast to the dtype PyTorch gives the
    result (:func:`result_dtype`); refuses tensors of two backends."""
    if type(a) is Tensor and type(b) is Tensor and type(a.data) is type(b.data) \
            and a.data.dtype == b.data.dtype:
        return a, b, a.data, b.data          # the common case, checked cheaply first
    if isinstance(a, Tensor):
        b = as_operand(b, a)
    else:
        a = as_operand(a, b)
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        if type(a.data) is not type(b.data):
            raise _backend.BackendError(
                f"{op}: operands live on different backends ({a.backend} and {b.backend}); "
                f"move one with .to()")
        dtype = result_dtype(a.data, b.data)
        a, b = cast(a, dtype), cast(b, dtype)
    elif isinstance(a if isinstance(b, Tensor) else b, float):
        # a Python float meets an integer or bool tensor: the default float dtype
        if isinstance(a, Tensor):
            a = floating(a, op)
        else:
            b = floating(b, op)
    return (a, b, a.data if isinstance(a, Tensor) else a,
            b.data if isinstance(b, Tensor) else b)


# bool < integer < floating: the categories of PyTorch's promotion rules
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def result_dtype(x, y):
    """The dtype PyTorch gives an op on arrays ``x`` and ``y``.

    Within one category NumPy's promotion is PyTorch's (float32 with float64 gives
    float64). Across categories the higher one's dtype wins (int64 with float32 gives
    float32, where NumPy says float64). A 0-d operand counts only when its category is
    higher than the other's: a float64 0-d tensor does not widen a float32 one.
    """
    if x.dtype == y.dtype:
        return x.dtype
    cx, cy = _CATEGORY.get(x.dtype.kind, 3), _CATEGORY.get(y.dtype.kind, 3)
    if (x.ndim == 0) != (y.ndim == 0):
        dimensioned, zero_dim = (x, y) if y.ndim == 0 else (y, x)
        if _CATEGORY.get(zero_dim.dtype.kind, 3) <= _CATEGORY.get(dimensioned.dtype.kind, 3):
            return dimensioned.dtype
        return zero_dim.dtype
    if cx == cy:
        return _backend.promote_types(x.dtype, y.dtype)
    return x.dtype if cx > cy else y.dtype


def cast(x, dtype):
    """``x`` as ``dtype`` through the recorded ``astype`` op (its gradient comes back in
    ``x``'s dtype, so a leaf's gradient keeps the leaf's dtype)."""
    if x.dtype == dtype:
        return x
    from .elementwise import astype
    return astype(x, dtype)


def floating(x, op="cast"):
    """``x`` itself when it is floating, else ``x`` as the default float dtype (as
    PyTorch's floating functions treat integer and bool tensors; NumPy would give
    float64). Anything but a tensor is a ``TypeError`` naming ``op``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    return x if x.dtype.kind == "f" else cast(x, _backend.DEFAULT_FLOAT)


def needs_grad(operand):
    return isinstance(operand, Tensor) and operand.requires_grad


def _broadcastable(*shapes):
    for sizes in zip(*(reversed(shape) for shape in shapes)):
        if len(set(sizes) - {1}) > 1:
            return False
    return True


def shape_error(op, a, b, verb="do not broadcast"):
    shape = lambda x: x.shape if isinstance(x, Tensor) else "scalar"
    return ValueError(f"{op}: shapes {shape(a)} and {shape(b)} {verb}")


def failure(op, a, b, error):
    """The error a binary op raises when NumPy refused ``a`` and ``b``: a shape message
    when their shapes do not broadcast, NumPy's own reason (named by op) otherwise."""
    if not _broadcastable(*(getattr(x, "shape", ()) for x in (a, b))):
        return shape_error(op, a, b)
    return ValueError(f"{op}: {error}")


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
    except ValueError as error:
        raise failure("add", a, b, error) from None

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
    except ValueError as error:
        raise failure("sub", a, b, error) from None

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
    except ValueError as error:
        raise failure("mul", a, b, error) from None

    def backward(grad):
        return (reduce_to_shape(grad * b, a.shape) if needs_grad(a) else None,
                reduce_to_shape(grad * a, b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, "mul", MUL)


def div(a, b):
    """``a / b``, true division: integers divide to the default float dtype."""
    a, b, x, y = operands(a, b, "div")
    if _integral(a) and _integral(b):
        a, b, x, y = operands(*(floating(v, "div") if isinstance(v, Tensor) else float(v)
                                for v in (a, b)), "div")
    try:
        out = x / y
    except ValueError as error:
        raise failure("div", a, b, error) from None

    def backward(grad):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        return (reduce_to_shape(grad / b, a.shape) if needs_grad(a) else None,
                reduce_to_shape(-grad * a / (b * b), b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, "div", DIV)


def _integral(operand):
    return operand.dtype.kind in "biu" if isinstance(operand, Tensor) \
        else not isinstance(operand, float)


def pow(a, b):
    """``a ** b``. Integers to negative integer powers are refused (as PyTorch does);
    gradients at the edges are PyTorch's: zero for the base where the exponent is 0,
    zero for the exponent where the base is 0 and the exponent is not negative, NaN
    for the exponent where the base is negative.

    Parameters
    ----------
    a, b : Tensor or number
        The base and the exponent, broadcasting; at least one a tensor.

    Returns
    -------
    Tensor
        The broadcast shape, in the dtype ``a`` and ``b`` promote to.
    """
    a, b, x, y = operands(a, b, "pow")
    if getattr(x, "dtype", None) is not None and x.dtype.kind in "biu" and \
            (y < 0 if isinstance(y, int) else y.dtype.kind in "biu" and (y < 0).any()):
        raise ValueError("pow: integers to negative integer powers are not allowed; "
                         "make the base floating (x.float())")
    try:
        out = x ** y
    except ValueError as error:
        raise failure("pow", a, b, error) from None

    def backward(grad):
        return (reduce_to_shape(_base_gradient(grad, a, b), a.shape) if needs_grad(a) else None,
                reduce_to_shape(_exponent_gradient(grad, a, b), b.shape)
                if needs_grad(b) else None)
    return record(out, (a, b), backward, "pow", POW)


def _base_gradient(grad, a, b):
    """d(a^b)/da = b a^(b-1), and 0 where b is 0 (where b a^(b-1) would be 0 * inf)."""
    if not isinstance(b, Tensor):
        return constant(grad.xp.zeros(grad.shape, grad.dtype)) if b == 0 \
            else grad * b * a ** (b - 1)
    from .elementwise import where
    return where(b == 0, 0.0, grad * b * a ** (b - 1))


def _exponent_gradient(grad, a, b):
    """d(a^b)/db = a^b log a, and 0 where a is 0 and b is not negative (0 * -inf)."""
    from .elementwise import log, logical_and, where
    if not isinstance(a, Tensor):
        if a > 0:
            return grad * a ** b * math.log(a)
        if a < 0:
            return grad * math.nan
        return where(b >= 0, 0.0, -math.inf) * grad      # 0^b is inf where b < 0
    return where(logical_and(a == 0, b >= 0), 0.0, grad * a ** b * log(a))


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
                    rows = math.prod(a.shape[:-1])
                    a_rows = a.reshape(rows, a.shape[-1])
                    grad_rows = grad.reshape(rows, grad.shape[-1])
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
        rows = math.prod(x.shape[:-1])     # not -1: that is ambiguous when a size is 0
        return (x.reshape(rows, x.shape[-1]) @ y).reshape(*x.shape[:-1], y.shape[1])
    return x @ y
