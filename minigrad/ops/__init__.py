"""The ops, grouped by kind, and their binding to :class:`~minigrad.tensor.Tensor`
methods and operators."""
from ..tensor import Tensor
from .arithmetic import add, sub, mul, div, pow, neg, matmul, reduce_to_shape
from .elementwise import (exp, log, sqrt, abs, sign, sin, cos, tanh, sigmoid, relu, maximum,
                          minimum, clip, where, astype, lt, le, gt, ge, eq, ne, logical_and)
from .reduction import sum, mean, max, min, var, logsumexp, softmax, log_softmax
from .shape import (reshape, transpose, broadcast_to, squeeze, unsqueeze, getitem, concat,
                    stack, split, chunk, unbind, to)


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
}.items():
    setattr(Tensor, _name, _op)
Tensor.T = property(transpose)
Tensor.__abs__ = abs
del _name, _op
