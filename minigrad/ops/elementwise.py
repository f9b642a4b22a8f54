"""Elementwise functions, comparisons, and selection (maximum, minimum, clip, where).

Ops whose derivative is cheapest in terms of their own output (exp, sqrt, tanh, sigmoid)
reach that output through a weak reference, so a node never keeps its output alive in a
cycle; when the output tensor is gone, its saved data stands in as a constant (only
plain sweeps, which need no second derivative, can get there).

Masks (which operand a maximum chose, where a clip let the gradient through) are made
with comparison ops in the backward rules, not from raw arrays, so a fused function's
generated code computes them from each call's values.
"""
from __future__ import annotations

from .. import backend as _backend
from ..tensor import Tensor, constant, kernel, output_ref, record, ufunc_kernel
from .arithmetic import failure, floating, needs_grad, operands, reduce_to_shape, shape_error

EXP, LOG, SQRT, ABS, TANH, SIN, COS = (ufunc_kernel(name) for name in (
    "exp", "log", "sqrt", "absolute", "tanh", "sin", "cos"))


def _output(ref, data):
    out = ref()
    return out if out is not None else Tensor(data)


def exp(x):
    """Elementwise exponential, ``e ** x``.

    Its backward reuses the output: ``d exp(x) = exp(x) dx``.
    Integer and bool inputs are computed in ``float32`` (as PyTorch's floating functions);
    anything but a tensor is a ``TypeError``.

    Parameters
    ----------
    x : Tensor
        Any shape and dtype.

    Returns
    -------
    Tensor
        The shape of ``x``; its dtype when floating, else ``float32``.
    """
    x = floating(x, "exp")
    y = x.xp.exp(x.data)

    def backward(grad):
        return (grad * _output(ref, y),)
    out = record(y, (x,), backward, "exp", EXP)
    ref = output_ref(out)
    return out


def log(x):
    """Elementwise natural logarithm.

    ``-inf`` at 0 and NaN below 0, as PyTorch's; the gradient is ``1 / x``.
    Integer and bool inputs are computed in ``float32`` (as PyTorch's floating functions);
    anything but a tensor is a ``TypeError``.

    Parameters
    ----------
    x : Tensor
        Any shape and dtype.

    Returns
    -------
    Tensor
        The shape of ``x``; its dtype when floating, else ``float32``.
    """
    x = floating(x, "log")
    def backward(grad):
        return (grad / x,)
    return record(x.xp.log(x.data), (x,), backward, "log", LOG)


def sqrt(x):
    """Elementwise square root.

    NaN below 0, as PyTorch's; the gradient, ``0.5 / sqrt(x)``, reuses the output.
    Integer and bool inputs are computed in ``float32`` (as PyTorch's floating functions);
    anything but a tensor is a ``TypeError``.

    Parameters
    ----------
    x : Tensor
        Any shape and dtype.

    Returns
    -------
    Tensor
        The shape of ``x``; its dtype when floating, else ``float32``.
    """
    x = floating(x, "sqrt")
    y = x.xp.sqrt(x.data)

    def backward(grad):
        return (grad * 0.5 / _output(ref, y),)
    out = record(y, (x,), backward, "sqrt", SQRT)
    ref = output_ref(out)
    return out


def abs(x):
    """Elementwise absolute value (also ``abs(x)``).

    The gradient is ``sign(x)``: zero at 0, as PyTorch's.

    Parameters
    ----------
    x : Tensor
        Any shape.

    Returns
    -------
    Tensor
        The shape and dtype of ``x``.
    """
    def backward(grad):
        return (grad * sign(x),)
    return record(x.xp.absolute(x.data), (x,), backward, "abs", ABS)


def sign(x):
    """-1, 0 or 1 by the sign of each element; its gradient is zero.

    NaN gives 0, as in PyTorch (NumPy's ``sign`` keeps NaN); so does the gradient of
    :func:`abs` at NaN, which is ``grad * sign(x)``.

    Parameters
    ----------
    x : Tensor, any shape and dtype

    Returns
    -------
    Tensor, ``x``'s shape and dtype
    """
    def backward(grad):
        return (constant(grad.xp.zeros(x.shape, dtype=grad.dtype)),)
    return record(sign_values(x.xp, x.data), (x,), backward, "sign", sign_values)


@kernel
def sign_values(xp, x):
    """:func:`sign`'s kernel: NumPy's ``sign`` with NaN mapped to 0."""
    out = xp.sign(x)
    return xp.where(xp.isnan(x), 0, out) if out.dtype.kind == "f" else out


def sin(x):
    """Elementwise sine.

    Parameters
    ----------
    x : Tensor, any shape (integers become the default float dtype, as in PyTorch)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "sin")

    def backward(grad):
        return (grad * cos(x),)             # d sin x = cos x dx
    return record(x.xp.sin(x.data), (x,), backward, "sin", SIN)


def cos(x):
    """Elementwise cosine.

    Parameters
    ----------
    x : Tensor, any shape (integers become the default float dtype, as in PyTorch)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "cos")

    def backward(grad):
        return (-grad * sin(x),)            # d cos x = -sin x dx
    return record(x.xp.cos(x.data), (x,), backward, "cos", COS)


def tanh(x):
    """Elementwise hyperbolic tangent.

    Its backward is one op on the output, :func:`tanh_derivative`:
    ``d tanh(x) = (1 - tanh(x)^2) dx``.
    Integer and bool inputs are computed in ``float32`` (as PyTorch's floating functions);
    anything but a tensor is a ``TypeError``.

    Parameters
    ----------
    x : Tensor
        Any shape and dtype.

    Returns
    -------
    Tensor
        The shape of ``x``; its dtype when floating, else ``float32``.
    """
    x = floating(x, "tanh")
    y = x.xp.tanh(x.data)

    def backward(grad):
        return (tanh_derivative(grad, _output(ref, y)),)
    out = record(y, (x,), backward, "tanh", TANH)
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
    return record(out, (grad, t), backward, "tanh_derivative", tanh_derivative_values)


@kernel(c="({T}(1) - {1} * {1}) * {0}")
def tanh_derivative_values(xp, grad, t):
    """The arrays behind :func:`tanh_derivative` (fused functions call it too)."""
    out = xp.multiply(t, t, out=xp.empty_like(t))   # stays an array at 0-d
    xp.subtract(1, out, out=out)
    out *= grad
    return out


def sigmoid(x):
    """Elementwise logistic sigmoid, ``1 / (1 + exp(-x))``.

    Computed in that form (exactly 0 where ``exp(-x)`` overflows, as PyTorch's);
    its backward is one op on the output, :func:`sigmoid_derivative`:
    ``d sigmoid(x) = s (1 - s) dx``.
    Integer and bool inputs are computed in ``float32`` (as PyTorch's floating functions);
    anything but a tensor is a ``TypeError``.

    Parameters
    ----------
    x : Tensor
        Any shape and dtype.

    Returns
    -------
    Tensor
        The shape of ``x``; its dtype when floating, else ``float32``.
    """
    x = floating(x, "sigmoid")
    y = sigmoid_values(x.xp, x.data)

    def backward(grad):
        return (sigmoid_derivative(grad, _output(ref, y)),)
    out = record(y, (x,), backward, "sigmoid", sigmoid_values)
    ref = output_ref(out)
    return out


@kernel(c="{T}(1) / ({T}(1) + exp(-{0}))")
def sigmoid_values(xp, x):
    """The arrays behind :func:`sigmoid` (fused functions call it too).

    sigmoid(x) = 1 / (1 + exp(-x)): accurate to a few ulp over the whole range (the
    shorter (1 + tanh(x / 2)) / 2 cancels for negative x: it is 0 below -17 in float32),
    and exactly 0 where exp(-x) overflows to inf, as PyTorch's. NumPy would warn about
    that overflow, so where it happens it is silenced; looking costs one max."""
    y = xp.negative(x, out=xp.empty_like(x))     # stays an array at 0-d
    if _backend.warns(xp) and y.size and y.max() > _EXP_LIMIT.get(y.dtype.char, 80.0):
        with xp.errstate(over="ignore"):
            xp.exp(y, out=y)
    else:
        xp.exp(y, out=y)
    y += 1
    xp.divide(1.0, y, out=y)        # NumPy's divide is quicker here than its reciprocal
    return y


# the largest y whose exp(y) is finite, for each float type
_EXP_LIMIT = {"e": 11.0, "f": 88.7, "d": 709.7}


def sigmoid_derivative(grad, s):
    """``grad * s * (1 - s)``, sigmoid's backward given its output ``s``, as one op (see
    :func:`tanh_derivative`)."""
    out = sigmoid_derivative_values(s.xp, grad.data, s.data)

    def backward(g):
        return (sigmoid_derivative(g, s) if needs_grad(grad) else None,
                g * grad * (1 - 2 * s) if needs_grad(s) else None)
    return record(out, (grad, s), backward, "sigmoid_derivative", sigmoid_derivative_values)


@kernel(c="({T}(1) - {1}) * {1} * {0}")
def sigmoid_derivative_values(xp, grad, s):
    """The arrays behind :func:`sigmoid_derivative` (fused functions call it too)."""
    out = 1 - s
    out *= s
    out *= grad
    return out


def relu(x):
    """Elementwise rectifier, ``max(x, 0)``.

    The gradient passes where ``x > 0`` (zero at 0, as PyTorch's).

    Parameters
    ----------
    x : Tensor
        Any shape.

    Returns
    -------
    Tensor
        The shape and dtype of ``x``.
    """
    def backward(grad):
        return (relu_derivative(grad, x),)
    return record(relu_values(x.xp, x.data), (x,), backward, "relu", relu_values)


@kernel(c="mg_maximum({0}, {T}(0))")
def relu_values(xp, x):
    """:func:`relu`'s kernel."""
    return xp.maximum(x, 0)


def relu_derivative(grad, x):
    """``grad`` where ``x > 0``, else 0: relu's backward as one op (fusable, as it reads
    ``x`` rather than a mask made beforehand). Its own derivative in ``x`` is zero."""
    def backward(g):
        return (relu_derivative(g, x) if needs_grad(grad) else None, None)
    return record(relu_derivative_values(x.xp, grad.data, x.data), (grad, x), backward,
                  "relu_derivative", relu_derivative_values)


@kernel(c="{0} * {T}({1} > {T}(0))")
def relu_derivative_values(xp, grad, x):
    """The arrays behind :func:`relu_derivative` (fused functions call it too)."""
    return grad * (x > 0)


# --------------------------------------------------------------------------- selection

def _select(op, a, b, chosen):
    """maximum/minimum: the gradient goes to the chosen operand; ties split it evenly."""
    a, b, x, y = operands(a, b, op)
    xp = (a if isinstance(a, Tensor) else b).xp
    kernel = MAXIMUM if op == "maximum" else MINIMUM
    try:
        out = kernel(xp, x, y)
    except ValueError:
        raise shape_error(op, a, b) from None

    def backward(grad):
        share_a = astype(chosen(a, b) + eq(a, b) * 0.5, grad.dtype)
        return (reduce_to_shape(grad * share_a, a.shape) if needs_grad(a) else None,
                reduce_to_shape(grad * (1 - share_a), b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, op, kernel)


MAXIMUM, MINIMUM = ufunc_kernel("maximum"), ufunc_kernel("minimum")


def maximum(a, b):
    """Elementwise maximum of ``a`` and ``b``, with NumPy's broadcasting.

    Where the two are equal the gradient is shared, half to each (PyTorch's rule).

    Parameters
    ----------
    a, b : Tensor or number
        At least one a tensor; shapes that broadcast together.

    Returns
    -------
    Tensor
        The broadcast shape.
    """
    return _select("maximum", a, b, gt)


def minimum(a, b):
    """Elementwise minimum of ``a`` and ``b``, with NumPy's broadcasting.

    Where the two are equal the gradient is shared, half to each (PyTorch's rule).

    Parameters
    ----------
    a, b : Tensor or number
        At least one a tensor; shapes that broadcast together.

    Returns
    -------
    Tensor
        The broadcast shape.
    """
    return _select("minimum", a, b, lt)


def clip(x, lo=None, hi=None):
    """Values limited to ``[lo, hi]`` (NumPy's ``clip``).

    The gradient passes where ``lo <= x <= hi`` and is zero where a bound cut the value.

    Parameters
    ----------
    x : Tensor
        Any shape.
    lo, hi : number, optional
        The lower and upper bounds; ``None`` leaves that side open.

    Returns
    -------
    Tensor
        The shape and dtype of ``x``.
    """
    static = {"lo": lo, "hi": hi}
    out = clip_values(x.xp, x.data, **static)

    def backward(grad):
        inside = None
        if lo is not None:
            inside = ge(x, lo)
        if hi is not None:
            inside = le(x, hi) if inside is None else logical_and(inside, le(x, hi))
        return (grad if inside is None else grad * inside,)
    return record(out, (x,), backward, "clip", clip_values, static)


def clamp(x, min=None, max=None):
    """PyTorch's name for :func:`clip`: values limited to ``[min, max]``.

    Parameters
    ----------
    x : Tensor
        Any shape.
    min, max : number, optional
        The lower and upper bounds; ``None`` leaves that side open.

    Returns
    -------
    Tensor
        The shape and dtype of ``x``.
    """
    return clip(x, min, max)


def _clip_c(x, T, lo, hi):
    """:func:`clip_values` in C++ (NumPy's clip: the low bound first, NaN kept)."""
    if lo is not None:
        x = f"mg_clip_low({x}, {lo})"
    return x if hi is None else f"mg_clip_high({x}, {hi})"


@kernel(c=_clip_c)
def clip_values(xp, x, lo, hi):
    """:func:`clip`'s kernel."""
    return xp.clip(x, lo, hi)


def where(condition, a, b):
    """``a`` where ``condition`` holds, else ``b`` (broadcasting all three).

    ``a`` and ``b`` may be tensors or numbers; two numbers give a tensor of the default
    float dtype (or int64, for two ints), on the condition's backend. The gradient of
    each of ``a`` and ``b`` is ``grad`` where it was chosen, 0 elsewhere, summed back to
    its shape; the condition gets none.

    Parameters
    ----------
    condition : Tensor or array-like
        Which elements come from ``a`` (any dtype: nonzero counts as true).
    a, b : Tensor or number
        The values where ``condition`` holds and where it does not.

    Returns
    -------
    Tensor
        The broadcast shape of the three; the dtype ``a`` and ``b`` promote to.

    Raises
    ------
    ValueError
        When the shapes do not broadcast.
    """
    like = a if isinstance(a, Tensor) else b
    if not isinstance(like, Tensor):
        if not all(isinstance(v, (int, float, bool)) for v in (a, b)):
            raise TypeError(f"where: a and b must be tensors or numbers; got "
                            f"{type(a).__name__} and {type(b).__name__}")
        on = condition.data if isinstance(condition, Tensor) else None
        target = _backend.of(on) if on is not None else None
        a = constant(_backend.convert(a, target))
        b = constant(_backend.convert(b, target))
        like = a
    if isinstance(condition, Tensor):
        # a condition tensor is an operand too: never copy it across backends silently
        if type(condition.data) is not type(like.data):
            raise _backend.BackendError(
                f"where: operands live on different backends ({condition.backend} and "
                f"{like.backend}); move one with .to()")
    else:
        condition = constant(like.xp.asarray(condition).astype(bool, copy=False))
    a, b, x, y = operands(a, b, "where")
    try:
        out = where_values(like.xp, condition.data, x, y)
    except ValueError:
        raise ValueError(f"where: shapes {condition.shape}, "
                         f"{getattr(a, 'shape', 'scalar')} and {getattr(b, 'shape', 'scalar')} "
                         f"do not broadcast") from None

    def backward(grad):
        return (None,
                reduce_to_shape(where(condition, grad, 0), a.shape) if needs_grad(a) else None,
                reduce_to_shape(where(condition, 0, grad), b.shape) if needs_grad(b) else None)
    return record(out, (condition, a, b), backward, "where", where_values)


@kernel(c="{0} ? {1} : {2}")
def where_values(xp, condition, a, b):
    """:func:`where`'s kernel (a condition that is not bool counts by truth)."""
    if condition.dtype != bool:
        condition = condition.astype(bool)
    return xp.where(condition, a, b)


def astype(x, dtype):
    """``x``'s values as ``dtype`` (a copy); ``x`` itself when it has that dtype.

    Between floating dtypes the gradient flows, cast back to ``x``'s dtype; a cast to or
    from an integer or bool dtype records no gradient.

    Parameters
    ----------
    x : Tensor
    dtype : dtype or str
        ``mg.float32``, ``"float64"``, ``"int64"``, ...

    Returns
    -------
    Tensor
        The shape of ``x``, in ``dtype``.
    """
    static = {"dtype": _backend.dtype_of(dtype)}
    if x.dtype == static["dtype"]:
        return x

    def backward(grad):
        return (astype(grad, x.dtype),)
    differentiable = static["dtype"].kind == "f" and x.dtype.kind == "f"
    return record(astype_values(x.xp, x.data, **static), (x,),
                  backward if differentiable else None, "astype", astype_values, static)


@kernel(c="{0}")       # the cast is the assignment to a variable of the new dtype
def astype_values(xp, x, dtype):
    """:func:`astype`'s kernel."""
    return x.astype(dtype)


# --------------------------------------------------------------------------- comparisons
# Comparisons give bool tensors and record nothing: no gradient flows through them
# (while a fused function is traced they are recorded, so its code computes them).

def _compare(name, op):
    compute = ufunc_kernel(name)

    def compare(a, b):
        given = a, b
        a, b, x, y = operands(a, b, op)
        xp = (a if isinstance(a, Tensor) else b).xp
        try:
            out = compute(xp, x, y)
        except ValueError as error:
            raise _comparison_failure(op, given, (a, b), error) from None
        return record(out, (a, b), None, op, compute)
    compare.__name__ = compare.__qualname__ = op
    return compare


def _comparison_failure(op, given, operands, error):
    """A comparison's error. ``[1, 2, 3] < t`` reaches ``t.__gt__`` (Python reflects
    it), so the message says which shape is whose rather than one order of them."""
    if type(given[0]) is Tensor and type(given[1]) is Tensor:
        return failure(op, *operands, error)
    tensor, other = given if type(given[0]) is Tensor else given[::-1]
    shape = getattr(operands[1] if tensor is given[0] else operands[0], "shape", "scalar")
    return ValueError(f"comparison ({op}): the tensor's shape {tensor.shape} and the "
                      f"{type(other).__name__}'s shape {shape} do not broadcast")


lt = _compare("less", "lt")
le = _compare("less_equal", "le")
gt = _compare("greater", "gt")
ge = _compare("greater_equal", "ge")
eq = _compare("equal", "eq")
ne = _compare("not_equal", "ne")
logical_and = _compare("logical_and", "logical_and")
logical_and.__doc__ = """Elementwise AND of the elements' truth, broadcasting (a bool tensor,
no gradient).

Parameters
----------
a, b : Tensor or number, any dtype (nonzero is true)
    At least one a tensor.

Returns
-------
Tensor of bool, the broadcast shape
"""
