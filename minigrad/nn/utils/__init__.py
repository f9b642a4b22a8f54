"""Utilities: gradient clipping that acts on parameters' ``.grad`` in place, and packed
sequences (:mod:`minigrad.nn.utils.rnn`, PyTorch's ``torch.nn.utils.rnn``)."""
from __future__ import annotations

import math

from ...tensor import Tensor


def clip_grad_norm_(params, max_norm, norm_type=2.0):
    """Scale the gradients of ``params`` in place so that their joint norm is at most
    ``max_norm``.

    As PyTorch: the norm is taken over all gradients together, as if concatenated, and
    every gradient is multiplied by ``min(1, max_norm / (total_norm + 1e-6))``. Parameters
    whose ``.grad`` is ``None`` are skipped.

    Parameters
    ----------
    params : Tensor or iterable of Tensor
    max_norm : float
    norm_type : float
        ``2.0`` (default), any ``p > 0``, or ``float("inf")`` for the largest magnitude.

    Returns
    -------
    float
        The total norm before clipping.
    """
    if isinstance(params, Tensor):
        params = [params]
    grads = [p.grad.data for p in params if p.grad is not None]
    if not grads:
        return 0.0
    norm_type = float(norm_type)
    if norm_type == math.inf:
        total = max(float(abs(g).max()) if g.size else 0.0 for g in grads)
    else:
        total = sum(float((abs(g) ** norm_type).sum()) for g in grads) ** (1.0 / norm_type)
    coef = float(max_norm) / (total + 1e-6)
    if coef < 1.0:
        for g in grads:
            g *= g.dtype.type(coef)
    return total


from . import rnn  # noqa: E402  (PyTorch's torch.nn.utils.rnn: packed sequences)
