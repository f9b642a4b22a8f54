"""The ops, grouped by kind, and their binding to :class:`~minigrad.tensor.Tensor`
methods and operators."""
from ..tensor import Tensor
from .arithmetic import add, sub, mul, div, pow, neg, matmul, reduce_to_shape
from .elementwise import (exp, log, sqrt, abs, sign, sin, cos, tanh, sigmoid, relu, maximum,
                          minimum, clip, clamp, where, astype, lt, le, gt, ge, eq, ne, logical_and)
from .reduction import (sum, mean, max, min, var, std, logsumexp, softmax, log_softmax,
                        argmax, argmin, prod, cumsum, cumprod, logcumsumexp, cummax, cummin,
                        any, all, amax, amin, norm, ValuesIndices)
from .shape import (reshape, view, flatten, transpose, swapaxes, permute, broadcast_to, expand,
                    squeeze, unsqueeze, getitem, concat, cat, stack, split, split_sizes, chunk,
                    unbind, clone, to, unflatten, pad, repeat, tile, roll, flip, tril, triu,
                    diagonal)
from .indexing import (gather, scatter, scatter_add, index_select, masked_fill, masked_select,
                       nonzero, sort, argsort, topk, one_hot)
from .einsum import einsum
from .. import backend as _backend
from .. import modes as _modes


def _reflected(op):
    return lambda self, other: op(other, self)


for _name, _op in {
    "__add__": add, "__radd__": _reflected(add), "__sub__": sub, "__rsub__": _reflected(sub),
    "__mul__": mul, "__rmul__": _reflected(mul), "__truediv__": div,
    "__rtruediv__": _reflected(div), "__pow__": pow, "__rpow__": _reflected(pow),
    "__matmul__": matmul, "__rmatmul__": _reflected(matmul), "__neg__": neg,
    "__lt__": lt, "__le__": le, "__gt__": gt, "__ge__": ge, "__eq__": eq, "__ne__": ne,
    "__getitem__": getitem,
    "exp": exp, "log": log, "sqrt": sqrt, "abs": abs, "sign": sign, "sin": sin, "cos": cos,
    "tanh": tanh, "sigmoid": sigmoid, "astype": astype,
    "relu": relu, "clip": clip, "sum": sum, "mean": mean, "max": max, "min": min, "var": var,
    "logsumexp": logsumexp, "softmax": softmax, "log_softmax": log_softmax,
    "reshape": reshape, "transpose": transpose, "broadcast_to": broadcast_to,
    "squeeze": squeeze, "unsqueeze": unsqueeze, "chunk": chunk, "unbind": unbind, "to": to,
    "split": split_sizes,       # PyTorch's method (NumPy arrays have none): pieces of a size
    # PyTorch's spellings
    "swapaxes": swapaxes, "view": view, "flatten": flatten, "permute": permute,
    "expand": expand, "clone": clone,
    "matmul": matmul, "pow": pow, "clamp": clamp,
    # issue 14: reductions, shape and indexing (PyTorch's meanings; repeat is torch's)
    "std": std, "argmax": argmax, "argmin": argmin, "prod": prod, "cumsum": cumsum,
    "cumprod": cumprod, "logcumsumexp": logcumsumexp, "cummax": cummax, "cummin": cummin,
    "any": any, "all": all, "amax": amax, "amin": amin, "norm": norm,
    "unflatten": unflatten, "repeat": repeat, "tile": tile, "roll": roll, "flip": flip,
    "tril": tril, "triu": triu, "diagonal": diagonal, "gather": gather, "scatter": scatter,
    "scatter_add": scatter_add, "index_select": index_select, "masked_fill": masked_fill,
    "masked_select": masked_select, "nonzero": nonzero, "sort": sort, "argsort": argsort,
    "topk": topk,
}.items():
    setattr(Tensor, _name, _op)


# issue 14: pointwise ops (after the table above, so that `/` stays arithmetic's div and
# this module's `div` is the one taking rounding_mode=)
from .pointwise import (tan, sinh, cosh, asin, acos, atan, atan2, log1p, expm1, log2, log10,
                        exp2, rsqrt, reciprocal, square, floor, ceil, round, trunc, frac, erf,
                        remainder, floor_divide, div, isnan, isinf, isfinite, isclose,
                        allclose, logical_or, logical_not, logical_xor, lerp, logaddexp)

for _op in (tan, sinh, cosh, asin, acos, atan, atan2, log1p, expm1, log2, log10, exp2, rsqrt,
            reciprocal, square, floor, ceil, round, trunc, frac, erf, remainder, floor_divide,
            div, isnan, isinf, isfinite, isclose, allclose, logical_and, logical_or,
            logical_not, logical_xor, lerp, logaddexp):
    setattr(Tensor, _op.__name__, _op)
Tensor.__mod__, Tensor.__rmod__ = remainder, _reflected(remainder)
Tensor.__floordiv__, Tensor.__rfloordiv__ = floor_divide, _reflected(floor_divide)


def _cast(dtype, name):
    def cast(self):
        return astype(self, dtype)
    cast.__name__ = name
    cast.__doc__ = (f"``self`` as ``{dtype}`` (PyTorch's ``x.{name}()``).\n\n"
                    f"Returns\n-------\nTensor\n    A copy in ``{dtype}`` (``self`` when it "
                    f"has that dtype).\n")
    return cast


for _name, _dtype in {"float": "float32", "double": "float64", "half": "float16",
                      "long": "int64", "int": "int32", "bool": "bool"}.items():
    setattr(Tensor, _name, _cast(_dtype, _name))


def _numel(self):
    """The number of elements (PyTorch's ``x.numel()``).

    Returns
    -------
    int
    """
    return int(self.data.size)


def _dim(self):
    """The number of dimensions (PyTorch's ``x.dim()``).

    Returns
    -------
    int
    """
    return self.data.ndim


def _requires_grad_(self, requires_grad=True):
    """Set ``requires_grad`` on a leaf in place and return it (PyTorch's
    ``x.requires_grad_()``).

    Parameters
    ----------
    requires_grad : bool
        ``False`` is refused on a tensor a recorded op made (use ``x.detach()``).

    Returns
    -------
    Tensor
        ``self``.
    """
    if self.node is not None and not requires_grad:
        raise RuntimeError("requires_grad_: a tensor computed by a recorded op cannot stop "
                           "requiring grad; use x.detach()")
    if requires_grad and self.dtype.kind != "f":
        raise TypeError(f"requires_grad_: only floating tensors can require grad; got dtype "
                        f"{self.dtype}")
    self.requires_grad = bool(requires_grad)
    return self


Tensor.numel, Tensor.dim, Tensor.requires_grad_ = _numel, _dim, _requires_grad_


# ---- in-place updates: ``x -= lr * x.grad`` as PyTorch code writes it

def _in_place(op, symbol, name):
    def update(self, other):
        if _modes.state.grad_enabled:
            if self.requires_grad and self.node is None:
                raise RuntimeError(
                    f"x {symbol}= ...: x is a leaf tensor that requires grad; update it "
                    f"under `with mg.no_grad():` (as an optimizer step does), or write "
                    f"x = x {symbol} ... to record a new tensor")
            if self.requires_grad or getattr(other, "requires_grad", False):
                # recorded out of place: the name is rebound to the result and the
                # graph stays correct (a tensor's values never change under a node)
                return op(self, other)
        with _modes.no_grad():
            result = op(self, other)
        if result.shape != self.shape:
            raise ValueError(f"x {symbol}= y: the result's shape {result.shape} is not x's "
                             f"shape {self.shape} (an in-place update cannot broadcast x)")
        if result.dtype.kind == "f" and self.dtype.kind != "f":
            raise TypeError(f"x {symbol}= y: a {result.dtype} result cannot be written into "
                            f"x of dtype {self.dtype}")
        self.data[...] = result.data
        return self
    update.__name__ = name
    update.__doc__ = (f"``x {symbol}= y``: with no gradient involved (under "
                      f"``mg.no_grad()``, or for tensors that do not require grad) ``x``'s "
                      f"values are updated in place and ``x`` keeps its dtype; a leaf that "
                      f"requires grad is refused in grad mode, as in PyTorch.")
    return update


for _name, _symbol, _op in (("__iadd__", "+", add), ("__isub__", "-", sub),
                            ("__imul__", "*", mul), ("__itruediv__", "/", div),
                            ("__ipow__", "**", pow)):
    setattr(Tensor, _name, _in_place(_op, _symbol, _name))


def _in_place_method(update, name, symbol):
    def method(self, other, *, alpha=None):
        if alpha is not None:
            other = other * alpha
        return update(self, other)
    method.__name__ = name
    method.__doc__ = f"""PyTorch's ``x.{name}(other, alpha=1)``: ``x`` updated in place
    (``alpha`` scales ``other``) and returned, under the rules of ``x {symbol}= other``:
    under ``mg.no_grad()`` for a leaf that requires grad.

    Parameters
    ----------
    other : Tensor or number
        Broadcast to ``x``'s shape (the result may not be larger than ``x``).
    alpha : number, optional
        A factor for ``other``.

    Returns
    -------
    Tensor
        ``x`` itself, updated; where a gradient is recorded, a new tensor instead.
    """
    return method


for _name, _dunder, _symbol in (("add_", "__iadd__", "+"), ("sub_", "__isub__", "-"),
                                ("mul_", "__imul__", "*"), ("div_", "__itruediv__", "/")):
    setattr(Tensor, _name, _in_place_method(getattr(Tensor, _dunder), _name, _symbol))


def _t(self):
    """PyTorch's ``x.t()``: a 2-D tensor transposed; 0-d and 1-D tensors as they are.

    Returns
    -------
    Tensor
        Shape ``(m, n)`` for ``x`` of shape ``(n, m)``; ``x`` itself below 2-D.
    """
    if self.ndim > 2:
        raise ValueError(f"t: expects a tensor of at most 2 dimensions, got {self.ndim}; "
                         f"use x.swapaxes(a, b) or x.permute(...)")
    return transpose(self) if self.ndim == 2 else self


def _contiguous(self):
    """PyTorch's ``x.contiguous()``: ``x`` itself (the engine's ops never need a
    particular memory layout).

    Returns
    -------
    Tensor
        ``x``.
    """
    return self


Tensor.t, Tensor.contiguous = _t, _contiguous
Tensor.add, Tensor.sub, Tensor.mul, Tensor.neg = add, sub, mul, neg


def _zero_(self):
    """Set every element to zero in place and return ``self`` (PyTorch's ``zero_()``).

    Returns
    -------
    Tensor
        ``self``, its shape and dtype unchanged.
    """
    return _fill_(self, 0)


def _fill_(self, value):
    """Set every element to ``value`` in place and return ``self`` (PyTorch's ``fill_``);
    a leaf that requires grad only under ``mg.no_grad()``.

    Parameters
    ----------
    value : number
        Cast to ``self``'s dtype.

    Returns
    -------
    Tensor
        ``self``, its shape and dtype unchanged.
    """
    if _modes.state.grad_enabled and self.requires_grad and self.node is None:
        raise RuntimeError("fill_: x is a leaf tensor that requires grad; fill it under "
                           "`with mg.no_grad():`")
    self.data[...] = value
    return self


Tensor.zero_, Tensor.fill_ = _zero_, _fill_
Tensor.T = property(transpose)
Tensor.__abs__ = abs
del _name, _op, _dtype, _symbol, _dunder
