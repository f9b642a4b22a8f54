"""minigrad: a small tape-based reverse-mode autodiff engine on NumPy or CuPy.

>>> import minigrad as mg
>>> x = mg.tensor([1.0, 2.0, 3.0], requires_grad=True)
>>> (x * x).sum().backward()
>>> x.grad.tolist()
[2.0, 4.0, 6.0]
"""
from . import backend as _backend
from .backend import (BackendError, backends_available, bool_, float32, float64, get_backend,
                      int64, manual_seed, set_backend, tune_allocator, use_backend)
from .modes import detect_anomaly, enable_grad, is_grad_enabled, no_grad, scope, tap, tapping
from .tensor import Node, Tensor, grad
from . import ops
from .tensor import AxisError
from .ops import (abs, astype, broadcast_to, cat, chunk, clamp, clip, clone, concat, cos, exp,
                  expand, flatten, log, log_softmax, logsumexp, matmul, max, maximum, mean, min,
                  minimum, permute, relu, reshape, sigmoid, sign, sin, softmax, split, sqrt,
                  squeeze, stack, sum, swapaxes, tanh, transpose, unbind, unsqueeze, var, view,
                  where)
from .ops import (acos, allclose, asin, atan, atan2, ceil, cosh, div, erf, exp2, expm1, floor,
                  floor_divide, frac, isclose, isfinite, isinf, isnan, lerp, log10, log1p, log2,
                  logaddexp, logical_and, logical_not, logical_or, logical_xor, reciprocal,
                  remainder, round, rsqrt, sinh, square, tan, trunc)
from .ops import (ValuesIndices, all, amax, amin, any, argmax, argmin, argsort, cummax, cummin,
                  cumprod, cumsum, diagonal, einsum, flip, gather, index_select, logcumsumexp,
                  masked_fill, masked_select, nonzero, norm, one_hot, pad, prod, repeat, roll,
                  scatter, scatter_add, sort, std, tile, topk, tril, triu, unflatten)
from .factories import (arange, empty, eye, from_numpy, full, full_like, linspace, ones,
                        ones_like, rand, rand_like, randint, randn, randn_like, tensor, zeros,
                        zeros_like)
from .gradcheck import GradcheckError, gradcheck
from .fusion import fuse, unfused
from .scanning import scan
from . import nn
from . import viz
from . import optim
from .serialization import load, save

__version__ = "0.1.0"

_backend.from_env()
