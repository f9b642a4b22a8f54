"""Functions on tensors used by layers: dropout, and (below) the losses."""
from __future__ import annotations

from ..tensor import Tensor


def dropout(x, p=0.5, training=True):
    """Inverted dropout: zero each element with probability ``p`` and scale the rest by
    ``1 / (1 - p)``, so evaluation needs no rescaling. The identity when not training."""
    if not 0.0 <= p < 1.0:
        raise ValueError(f"dropout: p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    from .. import backend as _backend
    generator = _backend.of(x.data).generator
    keep = generator.random(x.shape, dtype=x.dtype) >= p
    return x * Tensor(keep.astype(x.dtype) * (1.0 / (1.0 - p)))
