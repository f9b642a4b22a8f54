"""Pointwise math beyond the basics: trigonometric and hyperbolic functions, logarithms and
exponentials in other bases, rounding, remainders and floor division, the error function,
predicates (``isnan``, ``isclose``, ...), logical ops, ``lerp`` and ``logaddexp``.

Dtypes follow PyTorch: a floating function of an integer or bool tensor gives the default
float dtype (float32), a floating tensor keeps its dtype; binary ops promote as
:func:`~minigrad.ops.arithmetic.result_dtype` says. Rounding keeps integers as they are.

Derivatives follow PyTorch too: rounding and rounded division have zero gradients
(``floor_divide`` as well, which PyTorch leaves without a derivative), predicates and
logical ops give bool tensors with no gradient. Ops whose derivative is cheapest in their
own output (tan, expm1, exp2, rsqrt, reciprocal) reach it through a weak reference, as
:mod:`minigrad.ops.elementwise` explains.
"""
from __future__ import annotations

import math

from .. import backend as _backend
from ..tensor import Tensor, constant, kernel, output_ref, record, ufunc_kernel
from .arithmetic import (div as _true_divide, floating, needs_grad, operands, reduce_to_shape,
                         shape_error)
from .elementwise import _output, astype, eq, exp, where
from .shape import clone

(TAN, SINH, COSH, ASIN, ACOS, ATAN, ATAN2, LOG1P, EXPM1, LOG2, LOG10, EXP2, RECIPROCAL, SQUARE,
 FLOOR, CEIL, RINT, TRUNC, ISNAN, ISINF, ISFINITE, LOGICAL_OR, LOGICAL_NOT, LOGICAL_XOR,
 LOGADDEXP) = (ufunc_kernel(name) for name in (
    "tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "arctan2", "log1p", "expm1", "log2",
    "log10", "exp2", "reciprocal", "square", "floor", "ceil", "rint", "trunc", "isnan", "isinf",
    "isfinite", "logical_or", "logical_not", "logical_xor", "logaddexp"))

LN2, LN10 = math.log(2.0), math.log(10.0)


def _tensor(x, op, argument="input"):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: {argument} must be a Tensor, got {type(x).__name__}")
    return x


def _is_float(value):
    return value.dtype.kind == "f" if isinstance(value, Tensor) else isinstance(value, float)


def _promoted(a, b, op):
    """A binary op's operands in PyTorch's result dtype (``operands`` does the casting:
    ``int_tensor % 2.5`` is float32, not NumPy's float64); one must be a tensor."""
    if not isinstance(a, Tensor) and not isinstance(b, Tensor):
        raise TypeError(f"{op}: at least one operand must be a Tensor, got "
                        f"{type(a).__name__} and {type(b).__name__}")
    a, b, _, _ = operands(a, b, op)
    return a, b


def _data(operand):
    return operand.data if isinstance(operand, Tensor) else operand


def _xp(a, b):
    return (a if isinstance(a, Tensor) else b).xp


def _zero_gradient(x):
    """The backward of an op that is flat almost everywhere (rounding): zeros of ``x``'s
    shape, as PyTorch gives."""
    def backward(grad):
        return (constant(grad.xp.zeros(x.shape, dtype=grad.dtype)),)
    return backward


# --------------------------------------------------------------------------- trigonometry

def tan(x):
    """Elementwise tangent.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "tan")
    y = x.xp.tan(x.data)

    def backward(grad):
        t = _output(ref, y)
        return (grad * (1 + t * t),)           # d tan x = (1 + tan^2 x) dx
    out = record(y, (x,), backward, "tan", TAN)
    ref = output_ref(out)
    return out


def sinh(x):
    """Elementwise hyperbolic sine.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "sinh")

    def backward(grad):
        return (grad * cosh(x),)
    return record(x.xp.sinh(x.data), (x,), backward, "sinh", SINH)


def cosh(x):
    """Elementwise hyperbolic cosine.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "cosh")

    def backward(grad):
        return (grad * sinh(x),)
    return record(x.xp.cosh(x.data), (x,), backward, "cosh", COSH)


def asin(x):
    """Elementwise inverse sine (NaN outside ``[-1, 1]``); the gradient is
    ``1 / sqrt(1 - x^2)``, infinite at ``±1`` as in PyTorch.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "asin")

    def backward(grad):
        return (grad * rsqrt(1 - x * x),)
    return record(x.xp.arcsin(x.data), (x,), backward, "asin", ASIN)


def acos(x):
    """Elementwise inverse cosine (NaN outside ``[-1, 1]``); the gradient is
    ``-1 / sqrt(1 - x^2)``.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "acos")

    def backward(grad):
        return (-grad * rsqrt(1 - x * x),)
    return record(x.xp.arccos(x.data), (x,), backward, "acos", ACOS)


def atan(x):
    """Elementwise inverse tangent.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "atan")

    def backward(grad):
        return (grad / (1 + x * x),)
    return record(x.xp.arctan(x.data), (x,), backward, "atan", ATAN)


def atan2(input, other):
    """The angle of the point ``(other, input)``: ``atan(input / other)`` in the right
    quadrant, in ``[-pi, pi]``, broadcasting (PyTorch's ``atan2(input, other)``).

    At the origin the gradient is zero for both operands, as PyTorch gives.

    Parameters
    ----------
    input : Tensor or number
        The y coordinates.
    other : Tensor or number
        The x coordinates.

    Returns
    -------
    Tensor, the broadcast shape (integers become float32)
    """
    y, x = _promoted(input, other, "atan2")
    if not _is_float(y) and not _is_float(x):
        y = floating(y, "atan2") if isinstance(y, Tensor) else float(y)
        x = floating(x, "atan2") if isinstance(x, Tensor) else float(x)
    try:
        out = ATAN2(_xp(y, x), _data(y), _data(x))
    except ValueError:
        raise shape_error("atan2", y, x) from None

    def backward(grad):
        # d atan2(y, x) = (x dy - y dx) / (x^2 + y^2); 0 at the origin instead of 0/0
        radius2 = y * y + x * x
        radius2 = where(eq(radius2, 0), 1.0, radius2)
        return (reduce_to_shape(grad * x / radius2, y.shape) if needs_grad(y) else None,
                reduce_to_shape(grad * -y / radius2, x.shape) if needs_grad(x) else None)
    return record(out, (y, x), backward, "atan2", ATAN2)


# --------------------------------------------------------------------------- logs and exps

def log1p(x):
    """``log(1 + x)``, accurate for small ``x``.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "log1p")

    def backward(grad):
        return (grad / (1 + x),)
    return record(x.xp.log1p(x.data), (x,), backward, "log1p", LOG1P)


def expm1(x):
    """``exp(x) - 1``, accurate for small ``x``.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "expm1")
    y = x.xp.expm1(x.data)

    def backward(grad):
        return (grad * (_output(ref, y) + 1),)
    out = record(y, (x,), backward, "expm1", EXPM1)
    ref = output_ref(out)
    return out


def log2(x):
    """Base-2 logarithm.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "log2")

    def backward(grad):
        return (grad / (x * LN2),)
    return record(x.xp.log2(x.data), (x,), backward, "log2", LOG2)


def log10(x):
    """Base-10 logarithm.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "log10")

    def backward(grad):
        return (grad / (x * LN10),)
    return record(x.xp.log10(x.data), (x,), backward, "log10", LOG10)


def exp2(x):
    """``2 ** x``.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "exp2")
    y = x.xp.exp2(x.data)

    def backward(grad):
        return (grad * _output(ref, y) * LN2,)
    out = record(y, (x,), backward, "exp2", EXP2)
    ref = output_ref(out)
    return out


def rsqrt(x):
    """``1 / sqrt(x)`` (``inf`` at 0, NaN below).

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "rsqrt")
    y = rsqrt_values(x.xp, x.data)

    def backward(grad):
        r = _output(ref, y)
        return (grad * r * r * r * -0.5,)       # d x^(-1/2) = -x^(-3/2) / 2 dx
    out = record(y, (x,), backward, "rsqrt", rsqrt_values)
    ref = output_ref(out)
    return out


@kernel
def rsqrt_values(xp, x):
    """:func:`rsqrt`'s kernel."""
    return 1 / xp.sqrt(x)


def reciprocal(x):
    """``1 / x``.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "reciprocal")
    y = x.xp.reciprocal(x.data)

    def backward(grad):
        r = _output(ref, y)
        return (-grad * r * r,)
    out = record(y, (x,), backward, "reciprocal", RECIPROCAL)
    ref = output_ref(out)
    return out


def square(x):
    """``x * x``; integers stay integers (bool becomes int64), as in PyTorch.

    Parameters
    ----------
    x : Tensor, any shape

    Returns
    -------
    Tensor, ``x``'s shape
    """
    _tensor(x, "square")
    if x.dtype.kind == "b":
        x = astype(x, _backend.int64)

    def backward(grad):
        return (grad * x * 2,)
    return record(x.xp.square(x.data), (x,), backward, "square", SQUARE)


def erf(x):
    """Gauss's error function, ``2 / sqrt(pi) * integral_0^x exp(-t^2) dt``.

    Parameters
    ----------
    x : Tensor, any shape (integers become float32)

    Returns
    -------
    Tensor, ``x``'s shape
    """
    x = floating(x, "erf")

    def backward(grad):
        return (grad * exp(-(x * x)) * (2 / math.sqrt(math.pi)),)
    return record(erf_values(x.xp, x.data), (x,), backward, "erf", erf_values)


@kernel
def erf_values(xp, x):
    """:func:`erf`'s kernel (SciPy's or CuPy's, through the backend; half stays half)."""
    out = _backend.erf(xp, x)
    return out if out.dtype == x.dtype else out.astype(x.dtype)


def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow, broadcasting.

    Parameters
    ----------
    input, other : Tensor or number (integers become float32)

    Returns
    -------
    Tensor, the broadcast shape
    """
    a, b = _promoted(input, other, "logaddexp")
    a = floating(a, "logaddexp") if isinstance(a, Tensor) else float(a)
    b = floating(b, "logaddexp") if isinstance(b, Tensor) else float(b)
    try:
        out = LOGADDEXP(_xp(a, b), _data(a), _data(b))
    except ValueError:
        raise shape_error("logaddexp", a, b) from None

    def backward(grad):
        # d/da = exp(a) / (exp(a) + exp(b)) = 1 / (1 + exp(b - a)), PyTorch's form
        return (reduce_to_shape(grad / (1 + exp(b - a)), a.shape) if needs_grad(a) else None,
                reduce_to_shape(grad / (1 + exp(a - b)), b.shape) if needs_grad(b) else None)
    return record(out, (a, b), backward, "logaddexp", LOGADDEXP)


# --------------------------------------------------------------------------- rounding

def _rounded(x, op, compute):
    """floor, ceil, trunc: ``compute`` on floats with a zero gradient; integers are
    already whole, so they come back as a copy (as PyTorch returns them)."""
    _tensor(x, op)
    if x.dtype.kind != "f":
        return clone(x)
    return record(compute(x.xp, x.data), (x,), _zero_gradient(x), op, compute)


def floor(x):
    """The largest whole number ``<= x``; the gradient is zero.

    Parameters
    ----------
    x : Tensor, any shape

    Returns
    -------
    Tensor, ``x``'s shape and dtype
    """
    return _rounded(x, "floor", FLOOR)


def ceil(x):
    """The smallest whole number ``>= x``; the gradient is zero.

    Parameters
    ----------
    x : Tensor, any shape

    Returns
    -------
    Tensor, ``x``'s shape and dtype
    """
    return _rounded(x, "ceil", CEIL)


def trunc(x):
    """``x`` rounded towards zero; the gradient is zero.

    Parameters
    ----------
    x : Tensor, any shape

    Returns
    -------
    Tensor, ``x``'s shape and dtype
    """
    return _rounded(x, "trunc", TRUNC)


def round(x, decimals=0):
    """``x`` rounded to ``decimals`` decimal places, halves to even (``round(2.5) = 2``);
    the gradient is zero.

    As PyTorch: ``decimals > 0`` rounds ``x * 10**decimals`` and divides back,
    ``decimals < 0`` rounds ``x / 10**-decimals`` and multiplies back, with the power of
    ten in ``x``'s dtype.

    Parameters
    ----------
    x : Tensor, any shape
    decimals : int

    Returns
    -------
    Tensor, ``x``'s shape and dtype (integers are returned as they are when
    ``decimals`` is 0, refused otherwise, as PyTorch refuses them)
    """
    _tensor(x, "round")
    if not isinstance(decimals, int) or isinstance(decimals, bool):
        raise TypeError(f"round: decimals must be an int, got {type(decimals).__name__}")
    if x.dtype.kind != "f" and decimals:
        raise TypeError(f"round: decimals={decimals} needs a floating tensor, got dtype "
                        f"{x.dtype}")
    if decimals == 0:
        return _rounded(x, "round", RINT)
    static = {"decimals": decimals}
    return record(round_values(x.xp, x.data, **static), (x,), _zero_gradient(x), "round",
                  round_values, static)


@kernel
def round_values(xp, x, decimals):
    """:func:`round`'s kernel for ``decimals != 0``."""
    power = x.dtype.type(10.0 ** abs(decimals))
    if decimals > 0:
        return xp.rint(x * power) / power
    return xp.rint(x / power) * power


def frac(x):
    """The fractional part, ``x - trunc(x)`` (its sign is ``x``'s); the gradient is 1.

    Parameters
    ----------
    x : Tensor, any shape, floating

    Returns
    -------
    Tensor, ``x``'s shape and dtype
    """
    _tensor(x, "frac")
    if x.dtype.kind != "f":
        raise TypeError(f"frac: expected a floating tensor, got dtype {x.dtype}")

    def backward(grad):
        return (grad,)
    return record(frac_values(x.xp, x.data), (x,), backward, "frac", frac_values)


@kernel
def frac_values(xp, x):
    """:func:`frac`'s kernel."""
    return x - xp.trunc(x)


# --------------------------------------------------------------------------- division

def _check_integer_divisor(xp, a, b, op):
    """Integer division by zero raises, as in PyTorch (NumPy gives 0 and a warning)."""
    if _integers(xp, a, b) and bool(xp.any(b == 0)):
        raise ZeroDivisionError(f"{op}: integer division by zero")


def remainder(input, other):
    """The remainder of ``input / other`` with the sign of the divisor (Python's ``%``,
    PyTorch's ``remainder``): ``input - floor(input / other) * other``, broadcasting.

    Computed as PyTorch does, from ``fmod`` (so a zero result keeps ``input``'s sign);
    a floating remainder by zero is NaN, an integer one raises ``ZeroDivisionError``.
    The gradient is 1 for ``input`` and ``-floor(input / other)`` for ``other``.

    Parameters
    ----------
    input, other : Tensor or number

    Returns
    -------
    Tensor, the broadcast shape
    """
    a, b = _promoted(input, other, "remainder")
    try:
        out = remainder_values(_xp(a, b), _data(a), _data(b))
    except ValueError:
        raise shape_error("remainder", a, b) from None

    def backward(grad):
        return (reduce_to_shape(grad, a.shape) if needs_grad(a) else None,
                reduce_to_shape(-grad * floor_divide(a, b), b.shape) if needs_grad(b)
                else None)
    return record(out, (a, b), backward, "remainder", remainder_values)


@kernel
def remainder_values(xp, a, b):
    """:func:`remainder`'s kernel: ``fmod``, moved by one divisor where its sign is not
    the divisor's."""
    _check_integer_divisor(xp, a, b, "remainder")
    mod = xp.fmod(a, b)
    moved = (mod != 0) & ((mod < 0) != (b < 0))
    return xp.where(moved, mod + b, mod)


def floor_divide(input, other):
    """``floor(input / other)``, Python's ``//`` (PyTorch's ``floor_divide``), broadcasting.

    The same op as ``div(input, other, rounding_mode="floor")``: its gradient is zero
    (PyTorch gives ``floor_divide`` no derivative and raises in backward; zero is the
    derivative wherever there is one).

    Parameters
    ----------
    input, other : Tensor or number

    Returns
    -------
    Tensor, the broadcast shape
    """
    return div(input, other, rounding_mode="floor")


def div(input, other, rounding_mode=None):
    """``input / other``, broadcasting, rounded as PyTorch's ``div``.

    Parameters
    ----------
    input, other : Tensor or number
    rounding_mode : None, "trunc" or "floor"
        None: true division (``/``). ``"trunc"``: rounded towards zero (C's integer
        division). ``"floor"``: rounded down (``//``). Rounded results have a zero
        gradient; integer operands give integers, and an integer division by zero raises
        ``ZeroDivisionError``.

    Returns
    -------
    Tensor, the broadcast shape
    """
    if rounding_mode is None:
        return _true_divide(input, other)
    if rounding_mode not in ("trunc", "floor"):
        raise ValueError(f"div: rounding_mode must be None, 'trunc' or 'floor', got "
                         f"{rounding_mode!r}")
    a, b = _promoted(input, other, "div")
    static = {"rounding_mode": rounding_mode}
    try:
        out = rounded_division_values(_xp(a, b), _data(a), _data(b), **static)
    except ValueError:
        raise shape_error("div", a, b) from None

    def backward(grad):
        zeros = [constant(grad.xp.zeros(t.shape, dtype=grad.dtype))
                 if needs_grad(t) else None for t in (a, b)]
        return tuple(zeros)
    return record(out, (a, b), backward, "div", rounded_division_values, static)


@kernel
def rounded_division_values(xp, a, b, rounding_mode):
    """:func:`div`'s kernel for the rounding modes. Floor division is NumPy's, which
    rounds exactly as PyTorch's does (from ``fmod``, not from ``floor(a / b)``)."""
    _check_integer_divisor(xp, a, b, "floor_divide" if rounding_mode == "floor" else "div")
    if rounding_mode == "floor":
        return xp.floor_divide(a, b)
    if not _integers(xp, a, b):
        return xp.trunc(xp.true_divide(a, b))
    return xp.floor_divide(a - xp.fmod(a, b), b)     # integers: C's division, exact


def _integers(xp, a, b):
    return xp.result_type(a, b).kind in "iub"


# --------------------------------------------------------------------------- predicates

def _predicate(name, compute, summary):
    def predicate(input):
        _tensor(input, name)
        return record(compute(input.xp, input.data), (input,), None, name, compute)
    predicate.__name__ = predicate.__qualname__ = name
    predicate.__doc__ = f"""{summary} (a bool tensor, no gradient).

    Parameters
    ----------
    input : Tensor, any shape and dtype

    Returns
    -------
    Tensor of bool, ``input``'s shape
    """
    return predicate


isnan = _predicate("isnan", ISNAN, "Whether each element is NaN")
isinf = _predicate("isinf", ISINF, "Whether each element is infinite (either sign)")
isfinite = _predicate("isfinite", ISFINITE, "Whether each element is finite (not inf or NaN)")
logical_not = _predicate("logical_not", LOGICAL_NOT,
                         "Elementwise NOT of the elements' truth (nonzero is true)")


def _logical(name, compute, summary):
    def logical(input, other):
        a, b, x, y = operands(input, other, name)
        try:
            out = compute(_xp(a, b), x, y)
        except ValueError:
            raise shape_error(name, a, b) from None
        return record(out, (a, b), None, name, compute)
    logical.__name__ = logical.__qualname__ = name
    logical.__doc__ = f"""{summary}, broadcasting (a bool tensor, no gradient).

    Parameters
    ----------
    input, other : Tensor or number, any dtype (nonzero is true)

    Returns
    -------
    Tensor of bool, the broadcast shape
    """
    return logical


logical_or = _logical("logical_or", LOGICAL_OR, "Elementwise OR of the elements' truth")
logical_xor = _logical("logical_xor", LOGICAL_XOR, "Elementwise XOR of the elements' truth")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether ``|input - other| <= atol + rtol * |other|`` elementwise, broadcasting
    (a bool tensor, no gradient), as PyTorch's ``isclose``.

    Equal values are close (infinities of one sign too); NaN is close to NaN only with
    ``equal_nan``. Integer tensors are compared in the default float dtype, as PyTorch.

    Parameters
    ----------
    input : Tensor
    other : Tensor of ``input``'s dtype, or a number
    rtol, atol : float, >= 0
    equal_nan : bool

    Returns
    -------
    Tensor of bool, the broadcast shape
    """
    _tensor(input, "isclose")
    if isinstance(other, Tensor) and other.dtype != input.dtype:
        raise TypeError(f"isclose: input and other must have the same dtype, got "
                        f"{input.dtype} and {other.dtype}")
    for name, value in (("rtol", rtol), ("atol", atol)):
        if not value >= 0:
            raise ValueError(f"isclose: {name} must be >= 0, got {value}")
    if not isinstance(other, Tensor):
        other = constant(input.xp.asarray(other, dtype=input.dtype))
    a, b, x, y = operands(input, other, "isclose")
    static = {"rtol": float(rtol), "atol": float(atol), "equal_nan": bool(equal_nan)}
    try:
        out = isclose_values(a.xp, x, y, **static)
    except ValueError:
        raise shape_error("isclose", a, b) from None
    return record(out, (a, b), None, "isclose", isclose_values, static)


@kernel
def isclose_values(xp, a, b, rtol, atol, equal_nan):
    """:func:`isclose`'s kernel: PyTorch's steps (equal, or both NaN with ``equal_nan``,
    or a finite difference within the tolerance)."""
    close = a == b
    if equal_nan:
        close = close | (xp.isnan(a) & xp.isnan(b))
    if rtol == 0 and atol == 0:
        return close
    if a.dtype.kind != "f":
        a, b = a.astype(_backend.DEFAULT_FLOAT), b.astype(_backend.DEFAULT_FLOAT)
    error = xp.abs(a - b)
    return close | (xp.isfinite(error) & (error <= atol + xp.abs(rtol * b)))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Whether every element of :func:`isclose` holds.

    Parameters
    ----------
    input, other, rtol, atol, equal_nan
        As :func:`isclose`.

    Returns
    -------
    bool
        A Python bool.
    """
    return bool(isclose(input, other, rtol, atol, equal_nan).data.all())


# --------------------------------------------------------------------------- lerp

def lerp(input, end, weight):
    """Linear interpolation ``input + weight * (end - input)``, broadcasting all three.

    Computed as PyTorch does: for ``|weight| >= 0.5`` as ``end - (end - input) * (1 -
    weight)``, so ``weight = 1`` gives ``end`` exactly.

    Parameters
    ----------
    input : Tensor, floating
        The start points.
    end : Tensor of ``input``'s dtype
    weight : float or Tensor of ``input``'s dtype

    Returns
    -------
    Tensor, the broadcast shape
    """
    _tensor(input, "lerp")
    _tensor(end, "lerp", "end")
    for name, value in (("end", end), ("weight", weight)):
        if isinstance(value, Tensor) and value.dtype != input.dtype:
            raise TypeError(f"lerp: {name} must have input's dtype {input.dtype}, got "
                            f"{value.dtype}")
    if input.dtype.kind != "f":
        raise TypeError(f"lerp: expected floating tensors, got dtype {input.dtype}")
    if not isinstance(weight, (Tensor, int, float)) or isinstance(weight, bool):
        raise TypeError(f"lerp: weight must be a float or a Tensor, got "
                        f"{type(weight).__name__}")
    start, end, x, y = operands(input, end, "lerp")
    operands(start, weight, "lerp")            # refuses a weight on another backend
    try:
        out = lerp_values(start.xp, x, y, _data(weight))
    except ValueError:
        shapes = [tuple(t.shape) for t in (start, end, weight) if isinstance(t, Tensor)]
        raise ValueError(f"lerp: shapes {', '.join(map(str, shapes))} do not broadcast") \
            from None

    def backward(grad):
        return (reduce_to_shape(grad * (1 - weight), start.shape) if needs_grad(start)
                else None,
                reduce_to_shape(grad * weight, end.shape) if needs_grad(end) else None,
                reduce_to_shape(grad * (end - start), weight.shape) if needs_grad(weight)
                else None)
    return record(out, (start, end, weight), backward, "lerp", lerp_values)


@kernel
def lerp_values(xp, start, end, weight):
    """:func:`lerp`'s kernel: PyTorch's two forms, chosen by ``|weight| < 0.5``."""
    diff = end - start
    return xp.where(xp.abs(weight) < 0.5, start + weight * diff, end - diff * (1 - weight))
