"""Functions on tensors used by layers: dropout, the activations, and (below) the losses."""
from __future__ import annotations

import math

from .. import backend as _backend
from ..fusion import fuse
from .. import ops as _ops
from ..modes import state
from ..ops import (abs, erf, exp, expm1, log, log1p, log_softmax, maximum, sigmoid,
                   softmax, tanh, where)
from ..tensor import Tensor, constant
from ..ops.indexing import one_hot
from ..ops.shape import pad


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``, so evaluation needs no rescaling. The identity when not training;
    zeros when ``p`` is 1 (as PyTorch).

    Parameters
    ----------
    x : Tensor
        Any shape.
    p : float in [0, 1]
        The probability of zeroing an element.
    training : bool
        False gives ``x`` itself.

    Returns
    -------
    Tensor
        ``x``'s shape and dtype (``x`` itself when not training or when ``p`` is 0).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    generator = _backend.of(x.data).generator
    keep = generator.random(x.shape, dtype=x.dtype) >= p
    return x * Tensor(keep.astype(x.dtype) * (1.0 / (1.0 - p)))


# --------------------------------------------------------------------------- activations
# sigmoid, tanh, softmax and log_softmax are the engine's ops (imported above). The
# others are compositions of engine ops, so their gradients (and gradients of gradients)
# come from the engine; where a branch is not taken, its input is replaced first, so that
# an overflow there cannot reach a value or a gradient. PyTorch's names and defaults;
# ``inplace`` is accepted and the result is always a new tensor (the input is unchanged).

def relu(input, inplace=False):
    """``max(x, 0)``, the engine's :func:`minigrad.relu` with PyTorch's signature.

    Parameters
    ----------
    input : Tensor, any shape
    inplace : bool
        Accepted for PyTorch's signature; the result is a new tensor.

    Returns
    -------
    Tensor, ``input``'s shape
    """
    return _ops.relu(input)


_SQRT_HALF = math.sqrt(0.5)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
# Klambauer et al. 2017, "Self-Normalizing Neural Networks": the fixed point constants
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def gelu(input, approximate="none"):
    """Hendrycks & Gimpel 2016: ``x * Phi(x)``, with ``Phi`` the standard normal CDF.

    Parameters
    ----------
    input : Tensor, any shape
    approximate : "none" or "tanh"
        ``"none"``: ``0.5 x (1 + erf(x / sqrt 2))``. ``"tanh"``:
        ``0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))``.

    Returns
    -------
    Tensor, ``input``'s shape
    """
    if approximate == "none":
        return input * 0.5 * (1.0 + erf(input * _SQRT_HALF))
    if approximate == "tanh":
        inner = _SQRT_2_OVER_PI * (input + 0.044715 * input * input * input)
        return input * 0.5 * (1.0 + tanh(inner))
    raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")


def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta x)) / beta``, and ``x`` itself where ``beta x > threshold``
    (PyTorch's switch to the linear function, for stability).

    Parameters
    ----------
    input : Tensor, any shape
    beta : float
    threshold : float

    Returns
    -------
    Tensor, ``input``'s shape
    """
    scaled = input * beta
    linear = scaled > threshold
    curved = log1p(exp(where(linear, 0.0, scaled))) / beta
    return where(linear, input, curved)


def silu(input, inplace=False):
    """Elfwing et al. 2017 (swish): ``x * sigmoid(x)``.

    Parameters
    ----------
    input : Tensor, any shape
    inplace : bool
        Accepted for PyTorch's signature; the result is a new tensor.

    Returns
    -------
    Tensor, ``input``'s shape
    """
    return input * sigmoid(input)


def elu(input, alpha=1.0, inplace=False):
    """Clevert et al. 2015: ``x`` for ``x > 0``, else ``alpha (exp(x) - 1)``.

    Parameters
    ----------
    input : Tensor, any shape
    alpha : float
    inplace : bool
        Accepted for PyTorch's signature; the result is a new tensor.

    Returns
    -------
    Tensor, ``input``'s shape
    """
    positive = input > 0
    return where(positive, input, expm1(where(positive, 0.0, input)) * alpha)


def selu(input, inplace=False):
    """``scale * elu(x, alpha)`` with Klambauer et al.'s fixed constants
    (``alpha ~ 1.6733``, ``scale ~ 1.0507``).

    Parameters
    ----------
    input : Tensor, any shape
    inplace : bool
        Accepted for PyTorch's signature; the result is a new tensor.

    Returns
    -------
    Tensor, ``input``'s shape
    """
    return elu(input, _SELU_ALPHA) * _SELU_SCALE


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    Parameters
    ----------
    input : Tensor, any shape
    negative_slope : float
    inplace : bool
        Accepted for PyTorch's signature; the result is a new tensor.

    Returns
    -------
    Tensor, ``input``'s shape
    """
    return where(input > 0, input, input * negative_slope)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """``x`` limited to ``[min_val, max_val]``; as PyTorch, the gradient is zero at the
    bounds too (``clip`` lets it through there).

    Parameters
    ----------
    input : Tensor, any shape
    min_val, max_val : float
    inplace : bool
        Accepted for PyTorch's signature; the result is a new tensor.

    Returns
    -------
    Tensor, ``input``'s shape
    """
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) must not be above max_val "
                         f"({max_val})")
    return where(input >= max_val, max_val, where(input <= min_val, min_val, input))


def hardsigmoid(input, inplace=False):
    """``relu6(x + 3) / 6``: 0 for ``x <= -3``, 1 for ``x >= 3``, linear between (the
    gradient 1/6 strictly inside only, as PyTorch).

    Parameters
    ----------
    input : Tensor, any shape
    inplace : bool
        Accepted for PyTorch's signature; the result is a new tensor.

    Returns
    -------
    Tensor, ``input``'s shape
    """
    return where(input >= 3.0, 1.0, where(input <= -3.0, 0.0, (input + 3.0) / 6.0))


def mish(input, inplace=False):
    """Misra 2019: ``x * tanh(softplus(x))``.

    Parameters
    ----------
    input : Tensor, any shape
    inplace : bool
        Accepted for PyTorch's signature; the result is a new tensor.

    Returns
    -------
    Tensor, ``input``'s shape
    """
    return input * tanh(softplus(input))


def logsigmoid(input):
    """``log(sigmoid(x))`` computed as ``min(x, 0) - log1p(exp(-|x|))``, which neither
    overflows nor loses the tail: ``logsigmoid(-100) = -100``, gradient ``sigmoid(-x)``.

    Parameters
    ----------
    input : Tensor, any shape

    Returns
    -------
    Tensor, ``input``'s shape
    """
    negative = input < 0
    # -|x| written with where, so that the gradient at 0 is sigmoid(0) = 1/2 exactly
    minus_abs = where(negative, input, -input)
    return where(negative, input, 0.0) - log1p(exp(minus_abs))


# --------------------------------------------------------------------------- losses
# Every loss is a composition of engine ops, so its gradient comes from the engine.
# Arguments are PyTorch's (``input``, ``target``, ``weight``, ``reduction``, ...); the
# options after the tensors are keyword-only, because PyTorch's positional order still
# holds the deprecated ``size_average`` and ``reduce`` (refused rather than misread).

REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction, op):
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of 'mean', 'sum', 'none'; "
                         f"got {reduction!r}")


def _reduce(loss, reduction):
    """``loss`` (one value per element) reduced as ``reduction`` says."""
    if reduction == "mean":
        return loss.mean()
    return loss.sum() if reduction == "sum" else loss


def _values(value, like, dtype=None):
    """``value`` (a Tensor, array or list) as an array on ``like``'s backend, for a loss
    that uses the values themselves (class indices to pick with, class weights).

    A tensor that a fused function computes or takes as an argument is reported to the
    tracer as read: a trace would freeze its values, so the function runs op by op."""
    if isinstance(value, Tensor):
        if state.tracer is not None and state.tracer.follows([value]):
            state.tracer.read_values = True
        value = value.data
    return _backend.convert(value, _backend.of(like.data), dtype)


def _operand(value, like, op, argument, same_shape=True, transform=None):
    """``transform(value)`` (or ``value``) as a tensor operand of ``like``'s loss.

    A tensor stays a tensor (so a gradient reaches it) and is transformed with ops;
    arrays and lists become constants of ``like``'s dtype, transformed before, on the
    array: an op on constants alone would make a fused function run op by op."""
    if isinstance(value, Tensor):
        shape = value.shape
    else:
        value = _backend.convert(value, _backend.of(like.data), like.dtype)
        shape = tuple(value.shape)
    if same_shape and shape != like.shape:
        raise ValueError(f"{op}: input shape {tuple(like.shape)} and {argument} shape "
                         f"{shape} differ (PyTorch only warns and broadcasts; here that "
                         f"is refused, as it is almost always a bug such as (N, 1) "
                         f"against (N,))")
    if transform is not None:
        value = transform(value)
    if isinstance(value, Tensor):
        return value
    return constant(like.xp.asarray(value, dtype=like.dtype))


def _check_floating(x, op):
    if not isinstance(x, Tensor):
        raise TypeError(f"{op}: input must be a Tensor, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: input must be floating, got dtype {x.dtype}")


def _weighted(loss, weight, reduction, op, mean_over_weight):
    """PyTorch's elementwise ``weight`` (the input's shape) for the regression losses:
    ``mean`` divides by ``weight.sum()`` for ``mse_loss`` and ``l1_loss``
    (``mean_over_weight``) and by the element count for ``huber_loss``."""
    if weight is None:
        return _reduce(loss, reduction)
    loss = loss * _operand(weight, loss, op, "weight")
    if reduction == "mean" and mean_over_weight:
        return loss.sum() / _operand(weight, loss, op, "weight", transform=_sum)
    return _reduce(loss, reduction)


def _sum(x):
    return x.sum()


def _squared_error(input, target):
    diff = input - target
    return diff * diff


def _fused_squared_error(reduction):
    def squared_error(input, target):
        return _reduce(_squared_error(input, target), reduction)
    squared_error.__name__ = f"mse_loss_{reduction}"
    return fuse(squared_error)


# one recorded op per reduction: its backward keeps only the difference, not the squares
_MEAN_SQUARED_ERROR = {reduction: _fused_squared_error(reduction) for reduction in REDUCTIONS}


def mse_loss(input, target, *, reduction="mean", weight=None):
    """Mean squared error, ``(input - target) ** 2`` reduced.

    Parameters
    ----------
    input : Tensor, any shape
    target : Tensor or array, the same shape as ``input``
    reduction : {'mean', 'sum', 'none'}
    weight : Tensor or array, the same shape, optional
        Multiplies each squared error; ``'mean'`` then divides by ``weight.sum()``
        (as PyTorch 2.13).

    Returns
    -------
    Tensor, shape () (``'none'``: the input's shape)

    Raises
    ------
    ValueError
        When the shapes differ (PyTorch only warns; a broadcast here is almost always a
        bug, such as ``(N, 1)`` against ``(N,)``).
    """
    _check_reduction(reduction, "mse_loss")
    _check_floating(input, "mse_loss")
    target = _operand(target, input, "mse_loss", "target")
    if weight is None:
        return _MEAN_SQUARED_ERROR[reduction](input, target)
    return _weighted(_squared_error(input, target), weight, reduction, "mse_loss", True)


def l1_loss(input, target, *, reduction="mean", weight=None):
    """Mean absolute error, ``|input - target|`` reduced (gradient 0 where they are equal,
    as PyTorch).

    Parameters
    ----------
    input : Tensor, any shape
    target : Tensor or array, the same shape
    reduction : {'mean', 'sum', 'none'}
    weight : Tensor or array, the same shape, optional
        As in :func:`mse_loss`.

    Returns
    -------
    Tensor, shape () (``'none'``: the input's shape)
    """
    _check_reduction(reduction, "l1_loss")
    _check_floating(input, "l1_loss")
    target = _operand(target, input, "l1_loss", "target")
    return _weighted(abs(input - target), weight, reduction, "l1_loss", True)


def _quadratic_then_linear(input, target, threshold, quadratic_scale, linear_scale):
    # |d| < threshold: quadratic_scale * d^2 / 2, else linear_scale * (|d| - threshold / 2)
    diff = input - target
    distance = abs(diff)
    return where(distance < threshold, (0.5 * quadratic_scale) * (diff * diff),
                 linear_scale * (distance - 0.5 * threshold))


def smooth_l1_loss(input, target, *, reduction="mean", beta=1.0):
    """Girshick 2015: ``0.5 d^2 / beta`` where ``|d| < beta``, else ``|d| - beta / 2``,
    with ``d = input - target``; ``beta = 0`` is :func:`l1_loss`.

    Parameters
    ----------
    input : Tensor, any shape
    target : Tensor or array, the same shape
    reduction : {'mean', 'sum', 'none'}
    beta : float >= 0

    Returns
    -------
    Tensor, shape () (``'none'``: the input's shape)
    """
    _check_reduction(reduction, "smooth_l1_loss")
    _check_floating(input, "smooth_l1_loss")
    if not beta >= 0:
        raise ValueError(f"smooth_l1_loss: beta must be >= 0, got {beta}")
    target = _operand(target, input, "smooth_l1_loss", "target")
    if beta == 0:
        return _reduce(abs(input - target), reduction)
    return _reduce(_quadratic_then_linear(input, target, beta, 1.0 / beta, 1.0), reduction)


def huber_loss(input, target, *, reduction="mean", delta=1.0, weight=None):
    """Huber 1964: ``0.5 d^2`` where ``|d| < delta``, else ``delta (|d| - delta / 2)``,
    with ``d = input - target`` (``delta`` times :func:`smooth_l1_loss` with
    ``beta = delta``).

    Parameters
    ----------
    input : Tensor, any shape
    target : Tensor or array, the same shape
    reduction : {'mean', 'sum', 'none'}
    delta : float > 0
    weight : Tensor or array, the same shape, optional
        Multiplies each element's loss; ``'mean'`` stays the mean over elements
        (as PyTorch 2.13).

    Returns
    -------
    Tensor, shape () (``'none'``: the input's shape)
    """
    _check_reduction(reduction, "huber_loss")
    _check_floating(input, "huber_loss")
    if not delta > 0:
        raise ValueError(f"huber_loss: delta must be > 0, got {delta}")
    target = _operand(target, input, "huber_loss", "target")
    loss = _quadratic_then_linear(input, target, delta, 1.0, delta)
    return _weighted(loss, weight, reduction, "huber_loss", False)


# ---- classification

def _sequence_layout(input, target):
    """``input`` with its classes moved to axis 1 when it is laid out as minigrad's
    sequence losses take it (API.md): logits (N, T, ..., C) with class indices (N, T, ...),
    the target's shape the input's without its last axis. Any other input is returned as
    it is, read as PyTorch's (N, C, d1, ...). Where both readings fit (a 3-D input with
    T == C) this one is taken: it is the documented layout."""
    if input.ndim < 3:
        return input
    shape = getattr(target, "shape", None)
    if shape is None:
        shape = _backend.convert(target, _backend.of(input.data)).shape
    kind = getattr(getattr(target, "dtype", None), "kind", "i")
    if tuple(shape) != tuple(input.shape[:-1]) or kind not in "iu":
        return input
    return input.permute(0, input.ndim - 1, *range(1, input.ndim - 1))


def _classes_last(x):
    """``x`` (a tensor or an array) of shape (N, C, d1, ...) as (N * d1 * ..., C);
    (C,) as (1, C)."""
    if x.ndim == 1:
        return x.reshape(1, -1)
    if x.ndim > 2:
        x = x.transpose(0, *range(2, x.ndim), 1)
    return x.reshape(-1, x.shape[-1])


def _index_shape(input):
    """The shape class indices have for ``input``: (N, d1, ...) for (N, C, d1, ...)."""
    return () if input.ndim == 1 else (input.shape[0], *input.shape[2:])


def _class_indices(input, target, op):
    """``target`` checked to be class indices for ``input``, as an array."""
    target = _values(target, input)
    expected = _index_shape(input)
    if tuple(target.shape) != expected:
        raise ValueError(f"{op}: input shape {tuple(input.shape)} and target shape "
                         f"{tuple(target.shape)} do not match; expected target "
                         f"{expected} for input (N, C) or (N, C, d1, ...), or the input's "
                         f"shape without its last axis for input (N, T, C)")
    if target.dtype.kind not in "iu":
        raise TypeError(f"{op}: target must hold integer class indices, got dtype "
                        f"{target.dtype}")
    return target


def _class_weight(weight, input, op):
    """``weight`` (one per class) as an array of ``input``'s dtype, or None."""
    if weight is None:
        return None
    weight = _values(weight, input, input.dtype)
    classes = input.shape[0 if input.ndim == 1 else 1]
    if weight.shape != (classes,):
        raise ValueError(f"{op}: weight must hold one value per class, shape "
                         f"({classes},); got shape {tuple(weight.shape)}")
    return weight


def _negative_log_likelihood(log_probs, target, weight, ignore_index, reduction,
                             label_smoothing, op):
    """The loss of rows ``log_probs`` (M, C) at class indices ``target`` (an (M,) array),
    with PyTorch's weights, ignored targets, reductions and label smoothing; ``'none'``
    gives shape (M,).

    ``(1 - s) * w[t] * -log_probs[t] + s / C * sum_c w[c] * -log_probs[c]`` per row, 0 in
    an ignored row; ``'mean'`` divides the sum by the counted rows' ``w[t]``
    (PyTorch's nll_loss and its label smoothing)."""
    xp = log_probs.xp
    rows, classes = log_probs.shape
    counted = target != ignore_index if ignore_index is not None else \
        xp.ones(target.shape, dtype=bool)
    picked = xp.where(counted, target, 0)
    count, low, high = 0, 0, 0
    if rows:     # one read off the device for the count and the range check
        count, low, high = (int(v) for v in _backend.of(target).to_host(
            xp.stack([counted.sum(), picked.min(), picked.max()])))
    if low < 0 or high >= classes:
        raise IndexError(f"{op}: target {low if low < 0 else high} is out of bounds: class "
                         f"indices must lie in [0, {classes}) or equal ignore_index "
                         f"({ignore_index})")
    everything_counted = count == rows
    # Pick each row's target log-probability by integer indexing. Measured against a
    # one-hot (M, C) mask for M = 3200, C = 100 on NumPy: indexing is ~15% faster for
    # forward + backward, as the mask costs two more passes over (M, C).
    loss = -log_probs[xp.arange(rows), picked]
    if weight is not None or label_smoothing:
        row_weight = weight[picked] * counted if weight is not None else \
            counted.astype(log_probs.dtype)
    if weight is not None:
        loss = loss * constant(row_weight)
    if label_smoothing:
        spread = log_probs * constant(weight) if weight is not None else log_probs
        smooth = -spread.sum(axis=1)
        loss = (1.0 - label_smoothing) * loss + (label_smoothing / classes) * smooth
    if not everything_counted:
        # an ignored row adds nothing, even when it holds -inf
        loss = where(constant(counted), loss, 0.0)
    if reduction != "mean":
        return _reduce(loss, reduction)
    if weight is None and everything_counted:
        return loss.mean() if rows else loss.sum() * float("nan")
    total = float(row_weight.sum()) if weight is not None else count
    return loss.sum() * (1.0 / total if total else float("nan"))


def nll_loss(input, target, weight=None, *, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of class indices, given log-probabilities.

    ``loss_i = -weight[t_i] * input[i, t_i]``, 0 where ``t_i == ignore_index``;
    ``'mean'`` divides the sum by the counted targets' weights (NaN when there are none,
    as PyTorch).

    Parameters
    ----------
    input : Tensor, shape (N, C), (N, C, d1, ...) or (C,)
        Log-probabilities; the classes are axis 1 (axis 0 of a (C,) input), as PyTorch.
        Also minigrad's sequence layout (N, T, C) with a target (N, T): the classes
        last (taken where both readings fit).
    target : Tensor, array or list of int, shape (N,), (N, d1, ...) or ()
        Class indices in ``[0, C)`` or ``ignore_index``.
    weight : Tensor or array, shape (C,), optional
        A weight per class.
    ignore_index : int or None
        Targets equal to it add nothing to the loss or its gradient (None: none ignored).
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor, shape () (``'none'``: the target's shape)
    """
    _check_reduction(reduction, "nll_loss")
    _check_floating(input, "nll_loss")
    if input.ndim == 0:
        raise ValueError("nll_loss: input must have a class axis, got a 0-d tensor")
    input = _sequence_layout(input, target)
    target = _class_indices(input, target, "nll_loss")
    weight = _class_weight(weight, input, "nll_loss")
    loss = _negative_log_likelihood(_classes_last(input), target.reshape(-1), weight,
                                    ignore_index, reduction, 0.0, "nll_loss")
    return loss.reshape(target.shape) if reduction == "none" else loss


def cross_entropy(input, target, weight=None, *, ignore_index=-100, reduction="mean",
                  label_smoothing=0.0):
    """Softmax cross-entropy of logits, against class indices or class probabilities.

    With class indices: ``nll_loss(log_softmax(input, 1), target, ...)`` blended with
    the uniform distribution by ``label_smoothing``, as PyTorch. An ignored row adds
    nothing, even when its logits are inf or NaN (a padded position's logits are often
    garbage): they are replaced by zeros before the softmax, so neither the loss nor any
    gradient sees them (PyTorch's loss is the same; its gradient in such a row is NaN,
    here 0).

    With probabilities (``target`` floating, of the input's shape):
    ``-sum_c weight[c] * p_c * log_softmax(input)_c`` per position, with
    ``p = (1 - label_smoothing) * target + label_smoothing / C``; ``'mean'`` divides by
    the number of positions (``N * d1 * ...``).

    Parameters
    ----------
    input : Tensor, shape (N, C), (N, C, d1, ...) or (C,)
        Unnormalised scores; the classes are axis 1, as PyTorch.
        Also minigrad's sequence layout (N, T, C) with a target (N, T): the classes
        last (taken where both readings fit).
    target : Tensor, array or list
        Class indices (integers) of shape (N,), (N, d1, ...) or (); or probabilities
        (floating) of the input's shape.
    weight : Tensor or array, shape (C,), optional
        A weight per class.
    ignore_index : int or None
        Index targets equal to it add nothing (None: none ignored). Probability targets
        take none.
    reduction : {'mean', 'sum', 'none'}
    label_smoothing : float in [0, 1]

    Returns
    -------
    Tensor, shape () (``'none'``: the shape of the positions, (N, d1, ...))
    """
    op = "cross_entropy"
    _check_reduction(reduction, op)
    _check_floating(input, op)
    if input.ndim == 0:
        raise ValueError(f"{op}: input must have a class axis, got a 0-d tensor")
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {label_smoothing}")
    input = _sequence_layout(input, target)
    weight = _class_weight(weight, input, op)
    positions = _index_shape(input)
    logits = _classes_last(input)
    if not isinstance(target, Tensor):
        target = _backend.convert(target, _backend.of(input.data))
    if target.dtype.kind == "f" and tuple(target.shape) == tuple(input.shape):
        return _soft_cross_entropy(logits, target, input, weight, ignore_index, reduction,
                                   label_smoothing, positions)
    target = _class_indices(input, target, op).reshape(-1)
    if ignore_index is not None:
        counted = target != ignore_index
        if not bool(counted.all()):
            logits = where(constant(counted[:, None]), logits, 0.0)
    loss = _negative_log_likelihood(logits.log_softmax(axis=1), target, weight,
                                    ignore_index, reduction, label_smoothing, op)
    return loss.reshape(positions) if reduction == "none" else loss


def _soft_cross_entropy(logits, target, input, weight, ignore_index, reduction,
                        label_smoothing, positions):
    if ignore_index is not None and ignore_index >= 0:
        raise ValueError(f"cross_entropy: ignore_index ({ignore_index}) takes class-index "
                         f"targets; probability targets (floating, of the input's shape) "
                         f"take none")
    classes = logits.shape[1]

    def smoothed(target):
        target = _classes_last(target)
        return target * (1.0 - label_smoothing) + label_smoothing / classes \
            if label_smoothing else target
    target = _operand(target, input, "cross_entropy", "target", transform=smoothed)
    products = logits.log_softmax(axis=1) * target
    if weight is not None:
        products = products * constant(weight)
    if reduction == "none":
        return -products.sum(axis=1).reshape(positions)
    total = -products.sum()
    if reduction == "sum":
        return total
    rows = logits.shape[0]
    return total * (1.0 / rows if rows else float("nan"))


def _one_minus(x):
    return 1.0 - x


def _minus_one(x):
    return x - 1.0


def _log_clamped(p):
    """``max(log p, -100)``, PyTorch's clamp in binary_cross_entropy, with a finite
    gradient at ``p = 0`` (0 there: the clamped branch is constant)."""
    positive = p > 0
    safe = where(positive, p, 1.0)         # log's backward never divides by zero
    return where(positive, maximum(log(safe), -100.0), -100.0)


def binary_cross_entropy(input, target, weight=None, *, reduction="mean"):
    """Binary cross-entropy of probabilities,
    ``-weight * (y log p + (1 - y) log(1 - p))`` with each log clamped at -100
    (as PyTorch, so p = 0 or 1 gives a finite loss).

    The gradient is ``weight * (p - y) / (p (1 - p))``; PyTorch bounds the denominator
    below by 1e-12, this composition does not (they differ only where
    ``p (1 - p) < 1e-12``; at p = 0 or 1 exactly the gradient here is 0 through the
    clamped log).

    Parameters
    ----------
    input : Tensor, any shape
        Probabilities in [0, 1].
    target : Tensor or array, the same shape
    weight : Tensor or array, broadcastable to the input's shape, optional
    reduction : {'mean', 'sum', 'none'}

    Returns
    -------
    Tensor, shape () (``'none'``: the input's shape)

    Raises
    ------
    ValueError
        When an input value lies outside [0, 1], or the shapes differ.
    """
    op = "binary_cross_entropy"
    _check_reduction(reduction, op)
    _check_floating(input, op)
    complement = _operand(target, input, op, "target", transform=_one_minus)
    target = _operand(target, input, op, "target")
    if input.size:
        data = input.data
        low, high = float(data.min()), float(data.max())
        if not (0.0 <= low and high <= 1.0):
            raise ValueError(f"{op}: input must hold probabilities in [0, 1], got values "
                             f"in [{low}, {high}] (for logits use "
                             f"binary_cross_entropy_with_logits)")
    loss = -(target * _log_clamped(input) + complement * _log_clamped(1.0 - input))
    if weight is not None:
        loss = loss * _operand(weight, input, op, "weight", same_shape=False)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, *, reduction="mean",
                                     pos_weight=None):
    """Sigmoid and binary cross-entropy in one stable expression.

    ``(1 - y) x + l * softplus(-x)`` with ``l = 1 + (pos_weight - 1) * y``, which equals
    ``-(pos_weight * y log sigmoid(x) + (1 - y) log(1 - sigmoid(x)))``. ``softplus(-x)``
    is written ``m + log(exp(-m) + exp(-x - m))`` with ``m = max(-x, 0)``, which does not
    overflow and gives PyTorch's values at infinite logits too (``+inf`` with ``y < 1``
    is ``inf``; ``-inf``, or ``+inf`` with ``y = 1``, is NaN). The gradient is
    ``sigmoid(x) - y`` (without weights) whatever subgradient ``max`` takes at 0 (the
    loss does not depend on ``m``).

    Parameters
    ----------
    input : Tensor, any shape
        Logits.
    target : Tensor or array of probabilities in [0, 1], the same shape
    weight : Tensor or array, broadcastable to the input's shape, optional
        Multiplies each element's loss.
    reduction : {'mean', 'sum', 'none'}
    pos_weight : Tensor or array, broadcastable to the input's shape, optional
        Weight of the positive term, usually one per class (the last axis).

    Returns
    -------
    Tensor, shape () (``'none'``: the input's shape)
    """
    op = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, op)
    _check_floating(input, op)
    complement = _operand(target, input, op, "target", transform=_one_minus)
    target = _operand(target, input, op, "target")
    shift = relu(-input)
    softplus_of_negative = shift + log(exp(-shift) + exp(-input - shift))
    loss = complement * input + softplus_of_negative
    if pos_weight is not None:
        # l * softplus(-x) = softplus(-x) + (pos_weight - 1) * (y * softplus(-x))
        excess = _operand(pos_weight, input, op, "pos_weight", same_shape=False,
                          transform=_minus_one)
        loss = loss + excess * (target * softplus_of_negative)
    if weight is not None:
        loss = loss * _operand(weight, input, op, "weight", same_shape=False)
    return _reduce(loss, reduction)
