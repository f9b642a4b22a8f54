"""The ops, grouped by kind, and their binding to :class:`~minigrad.tensor.Tensor`
methods and operators."""
from ..tensor import Tensor
from .arithmetic import add, sub, mul, div, pow, neg, matmul, reduce_to_shape
from .elementwise import (exp, log, sqrt, abs, sign, sin, cos, tanh, sigmoid, relu, maximum,
                          minimum, clip, clamp, where, astype, lt, le, gt, ge, eq, ne, logical_and)
from .reduction import sum, mean, max, min, var, logsumexp, softmax, log_softmax
from .shape import (reshape, view, flatten, transpose, swapaxes, permute, broadcast_to, expand,
                    squeeze, unsqueeze, getitem, concat, cat, stack, split, chunk, unbind,
                    clone, to)
from .. import backend as _backend


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
    # PyTorch's spellings
    "swapaxes": swapaxes, "view": view, "flatten": flatten, "permute": permute,
    "expand": expand, "clone": clone,
    "matmul": matmul, "pow": pow, "clamp": clamp,
}.items():
    setattr(Tensor, _name, _op)


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
Tensor.T = property(transpose)
Tensor.__abs__ = abs
del _name, _op, _dtype
