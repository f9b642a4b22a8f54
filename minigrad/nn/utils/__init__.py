"""Utilities: gradient clipping that acts on parameters' ``.grad`` in place, and packed
sequences (:mod:`minigrad.nn.utils.rnn`, PyTorch's ``torch.nn.utils.rnn``)."""
from __future__ import annotations

import math
import numbers

from ... import backend as _backend
from ...tensor import Tensor

numpy = _backend.get("numpy").xp     # host arithmetic on the per-tensor norms


def _vector_norm(values, norm_type):
    """``torch.linalg.vector_norm(values, norm_type)`` of one flat array (any backend),
    as a float.

    Half-precision values are summed in float32 (PyTorch accumulates them in float32
    too), so four gradients of 300 in float16 have the norm 600, not an overflow."""
    if values.dtype.kind == "f" and values.dtype.itemsize < 4:
        values = values.astype("float32")
    magnitudes = abs(values)
    if norm_type == 0:
        return float((magnitudes != 0).sum())                 # how many are nonzero
    if not magnitudes.size:
        return math.inf if norm_type < 0 else 0.0
    if norm_type == math.inf:
        return float(magnitudes.max())
    if norm_type == -math.inf:
        return float(magnitudes.min())
    if norm_type < 0 and bool((magnitudes == 0).any()):
        return 0.0                       # 0 ** p is inf for p < 0, and inf ** (1/p) is 0
    return float((magnitudes ** norm_type).sum()) ** (1.0 / norm_type)


def clip_grad_norm_(params, max_norm, norm_type=2.0):
    """Scale the gradients of ``params`` in place so that their joint norm is at most
    ``max_norm``.

    As PyTorch: the total norm is the norm of the gradients' own norms (for ``p > 0`` the
    same as the norm of all gradients concatenated), and every gradient is multiplied by
    ``min(1, max_norm / (total_norm + 1e-6))``. Parameters whose ``.grad`` is ``None``
    are skipped.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
    max_norm : float
        ``>= 0``; ``float("inf")`` measures without clipping.
    norm_type : float
        ``2.0`` (default), any other ``p`` (negative ones too), ``float("inf")`` for the
        largest magnitude, ``-inf`` for the smallest, or ``0`` for PyTorch's count of
        nonzeros (the total is then the number of gradients that hold a nonzero).

    Returns
    -------
    float
        The total norm before clipping.

    Raises
    ------
    ValueError
        When ``max_norm`` is negative or NaN, or ``norm_type`` NaN (PyTorch would flip
        the gradients' sign, or make them NaN).
    """
    if isinstance(max_norm, bool) or not isinstance(max_norm, numbers.Real) \
            or not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_: max_norm must be a number >= 0, got {max_norm!r}")
    if isinstance(norm_type, bool) or not isinstance(norm_type, numbers.Real) \
            or math.isnan(norm_type):
        raise ValueError(f"clip_grad_norm_: norm_type must be a number (p, inf or 0), "
                         f"got {norm_type!r}")
    if isinstance(params, Tensor):
        params = [params]
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    norms = numpy.array([_vector_norm(g.reshape(-1), norm_type) for g in grads])
    total = _vector_norm(norms, norm_type)
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return total


from . import rnn  # noqa: E402  (PyTorch's torch.nn.utils.rnn: packed sequences)
