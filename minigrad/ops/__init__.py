"""The ops, grouped by kind, and their binding to :class:`~minigrad.tensor.Tensor`
methods and operators."""
from ..tensor import AxisError, Tensor
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
from .. import factories as _factories
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


# ---- more of PyTorch's method spellings, each a composition of the ops above

def _comparison_method(compare, symbol):
    def method(self, other):
        return compare(self, other)
    method.__name__ = compare.__name__
    method.__doc__ = f"""``self {symbol} other`` elementwise, broadcasting (PyTorch's
    ``x.{compare.__name__}(other)``).

    Parameters
    ----------
    other : Tensor or number

    Returns
    -------
    Tensor
        ``bool``, the broadcast shape; no gradient.
    """
    return method


for _compare_op, _symbol in ((eq, "=="), (ne, "!="), (lt, "<"), (le, "<="), (gt, ">"),
                             (ge, ">=")):
    setattr(Tensor, _compare_op.__name__, _comparison_method(_compare_op, _symbol))


def _maximum(self, other):
    """The elementwise maximum of ``self`` and ``other`` (PyTorch's ``x.maximum``; ties
    share the gradient).

    Parameters
    ----------
    other : Tensor or number

    Returns
    -------
    Tensor
        The broadcast shape.
    """
    return maximum(self, other)


def _minimum(self, other):
    """The elementwise minimum of ``self`` and ``other`` (PyTorch's ``x.minimum``).

    Parameters
    ----------
    other : Tensor or number

    Returns
    -------
    Tensor
        The broadcast shape.
    """
    return minimum(self, other)


def _clamp_min(self, min):
    """``self`` limited below by ``min`` (PyTorch's ``x.clamp_min``).

    Parameters
    ----------
    min : number

    Returns
    -------
    Tensor
        ``self``'s shape.
    """
    return clamp(self, min=min)


def _clamp_max(self, max):
    """``self`` limited above by ``max`` (PyTorch's ``x.clamp_max``).

    Parameters
    ----------
    max : number

    Returns
    -------
    Tensor
        ``self``'s shape.
    """
    return clamp(self, max=max)


def _matrix_product(name, ndim):
    def product(self, other):
        if self.ndim != ndim or getattr(other, "ndim", None) != ndim:
            raise ValueError(f"{name}: expects two {ndim}-D tensors, got shapes {self.shape} "
                             f"and {getattr(other, 'shape', type(other).__name__)}")
        if ndim == 3 and self.shape[0] != other.shape[0]:
            raise ValueError(f"{name}: batch sizes differ: {self.shape} and {other.shape}")
        return matmul(self, other)
    product.__name__ = name
    what = {1: "inner product of two vectors", 2: "matrix product of two matrices",
            3: "batched matrix product, (B, N, K) @ (B, K, M)"}[ndim]
    product.__doc__ = f"""The {what} (PyTorch's ``x.{name}``; no broadcasting).

    Parameters
    ----------
    other : Tensor
        {ndim}-D.

    Returns
    -------
    Tensor
    """
    return product


def _outer(self, other):
    """The outer product of two vectors: ``(N,)`` and ``(M,)`` give ``(N, M)``.

    Parameters
    ----------
    other : Tensor
        1-D.

    Returns
    -------
    Tensor
        ``(N, M)``.
    """
    if self.ndim != 1 or getattr(other, "ndim", None) != 1:
        raise ValueError(f"outer: expects two 1-D tensors, got shapes {self.shape} and "
                         f"{getattr(other, 'shape', type(other).__name__)}")
    return unsqueeze(self, 1) * unsqueeze(other, 0)


def _expand_as(self, other):
    """``self`` broadcast to ``other``'s shape (PyTorch's ``x.expand_as``).

    Parameters
    ----------
    other : Tensor

    Returns
    -------
    Tensor
        ``other``'s shape.
    """
    return broadcast_to(self, other.shape)


def _view_as(self, other):
    """``self`` reshaped to ``other``'s shape (PyTorch's ``x.view_as``, ``reshape_as``).

    Parameters
    ----------
    other : Tensor

    Returns
    -------
    Tensor
        ``other``'s shape.
    """
    return reshape(self, other.shape)


def _type_as(self, other):
    """``self`` cast to ``other``'s dtype (PyTorch's ``x.type_as``).

    Parameters
    ----------
    other : Tensor

    Returns
    -------
    Tensor
        ``self``'s shape, ``other``'s dtype.
    """
    return astype(self, other.dtype)


def _new(fill):
    def new(self, *size, dtype=None, requires_grad=False):
        shape = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) \
            else size
        return _factories.full(shape, fill, dtype or self.dtype, requires_grad, self.backend)
    new.__name__ = {0: "new_zeros", 1: "new_ones"}[fill]
    new.__doc__ = f"""A new tensor of ``size`` filled with {fill}, of ``self``'s dtype and
    backend unless ``dtype`` says otherwise (PyTorch's ``x.{new.__name__}``).

    Parameters
    ----------
    *size : int, or one tuple of int
    dtype : dtype, optional
    requires_grad : bool

    Returns
    -------
    Tensor
        A leaf of shape ``size``.
    """
    return new


def _new_full(self, size, fill_value, dtype=None, requires_grad=False):
    """A new tensor of ``size`` filled with ``fill_value``, of ``self``'s dtype and
    backend unless ``dtype`` says otherwise (PyTorch's ``x.new_full``).

    Parameters
    ----------
    size : tuple of int
    fill_value : number
    dtype : dtype, optional
    requires_grad : bool

    Returns
    -------
    Tensor
        A leaf of shape ``size``.
    """
    return _factories.full(tuple(size), fill_value, dtype or self.dtype, requires_grad,
                           self.backend)


def _new_tensor(self, data, dtype=None, requires_grad=False):
    """A new leaf holding a copy of ``data``, of ``self``'s dtype and backend unless
    ``dtype`` says otherwise (PyTorch's ``x.new_tensor``).

    Parameters
    ----------
    data : number, list or array
    dtype : dtype, optional
    requires_grad : bool

    Returns
    -------
    Tensor
    """
    return _factories.tensor(data, dtype or self.dtype, requires_grad, self.backend)


def _narrow(self, dim, start, length):
    """``length`` elements of ``self`` along ``dim`` from ``start`` (PyTorch's
    ``x.narrow``, a slice).

    Parameters
    ----------
    dim, start, length : int

    Returns
    -------
    Tensor
        ``self``'s shape with ``length`` along ``dim``.
    """
    axis = dim + self.ndim if dim < 0 else dim
    if not 0 <= axis < self.ndim:
        raise AxisError(f"narrow: dim {dim} is out of range for a tensor of {self.ndim} "
                        f"dimensions")
    size = self.shape[axis]
    start = start + size if start < 0 else start
    if not (0 <= start <= size and 0 <= length <= size - start):
        raise IndexError(f"narrow: start {start} and length {length} exceed dim {dim} of "
                         f"size {size}")
    return getitem(self, (slice(None),) * axis + (slice(start, start + length),))


def _select(self, dim, index):
    """``self`` at position ``index`` along ``dim``, that dimension removed (PyTorch's
    ``x.select``).

    Parameters
    ----------
    dim, index : int

    Returns
    -------
    Tensor
        ``self``'s shape without ``dim``.
    """
    axis = dim + self.ndim if dim < 0 else dim
    if not 0 <= axis < self.ndim:
        raise AxisError(f"select: dim {dim} is out of range for a tensor of {self.ndim} "
                        f"dimensions")
    return getitem(self, (slice(None),) * axis + (index,))


def _movedim(self, source, destination):
    """``self`` with axis ``source`` moved to ``destination`` (PyTorch's ``x.movedim``,
    NumPy's ``moveaxis``), the others in order.

    Parameters
    ----------
    source, destination : int

    Returns
    -------
    Tensor
    """
    axes = [a for a in range(self.ndim)]
    source, destination = (d + self.ndim if d < 0 else d for d in (source, destination))
    for d, name in ((source, "source"), (destination, "destination")):
        if not 0 <= d < self.ndim:
            raise AxisError(f"movedim: {name} {d} is out of range for a tensor of "
                            f"{self.ndim} dimensions")
    axes.remove(source)
    axes.insert(destination, source)
    return permute(self, *axes)


def _equal(self, other):
    """Whether ``self`` and ``other`` have one shape and the same elements (PyTorch's
    ``x.equal``).

    Parameters
    ----------
    other : Tensor

    Returns
    -------
    bool
    """
    return self.shape == other.shape and bool((self.data == other.data).all())


def _copy_(self, source):
    """``source``'s values written into ``self`` in place (broadcast to ``self``'s shape,
    cast to its dtype) and ``self`` returned (PyTorch's ``x.copy_``); under
    ``mg.no_grad()`` for a leaf that requires grad.

    Parameters
    ----------
    source : Tensor, array or number

    Returns
    -------
    Tensor
        ``self``.
    """
    if _modes.state.grad_enabled and self.requires_grad and self.node is None:
        raise RuntimeError("copy_: x is a leaf tensor that requires grad; copy into it under "
                           "`with mg.no_grad():`")
    values = source.data if isinstance(source, Tensor) else source
    self.data[...] = _backend.convert(values, _backend.of(self.data))
    return self


def _cpu(self):
    """``self`` on the NumPy backend (PyTorch's ``x.cpu()``; itself when it is there).

    Returns
    -------
    Tensor
    """
    return to(self, "numpy")


def _is_floating_point(self):
    """Whether ``self``'s dtype is floating (PyTorch's ``x.is_floating_point()``).

    Returns
    -------
    bool
    """
    return self.dtype.kind == "f"


for _name, _method in {
        "maximum": _maximum, "minimum": _minimum, "clamp_min": _clamp_min,
        "clamp_max": _clamp_max, "mm": _matrix_product("mm", 2),
        "bmm": _matrix_product("bmm", 3), "dot": _matrix_product("dot", 1),
        "outer": _outer, "expand_as": _expand_as, "view_as": _view_as,
        "reshape_as": _view_as, "type_as": _type_as, "new_zeros": _new(0),
        "new_ones": _new(1), "new_full": _new_full, "new_tensor": _new_tensor,
        "narrow": _narrow, "select": _select, "movedim": _movedim, "moveaxis": _movedim,
        "equal": _equal, "copy_": _copy_, "cpu": _cpu,
        "is_floating_point": _is_floating_point, "negative": neg, "absolute": abs,
        "nelement": _numel}.items():
    setattr(Tensor, _name, _method)


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
del _name, _op, _dtype, _symbol, _dunder, _compare_op, _method
