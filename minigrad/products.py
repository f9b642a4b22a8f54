"""The lazy weight gradient: ``left.T @ right``, multiplied out once for all its uses.

A weight used at every time step gets one gradient product per step, ``x_t.T @ g_t``.
Computing each as it comes costs a small matrix product and a full-size addition per
step; a hand-written LSTM instead joins the steps' rows and multiplies once,
``concat(x).T @ concat(g)``. The engine does the same, in three places that share this
module:

- matmul's backward, in a sweep that records nothing, hands back a
  :class:`PendingProduct` for the right operand instead of the product
  (:func:`weight_gradient`);
- the sweep's accumulator collects the pending products reaching one tensor in a
  :class:`ProductSum` and multiplies them out together when the sum is read;
- fusion recognises ``X.T @ G`` in a traced backward and generates code that returns a
  :class:`PendingProduct`; a scan reads which factors those are from its program and
  multiplies a recurrent weight's factors over all steps at once.

Recorded sweeps (``create_graph``) multiply at once, as ops, so they can be
differentiated again.
"""
from __future__ import annotations

from . import backend as _backend


class PendingProduct:
    """``left.T @ right`` of two backend matrices ``(N, K)`` and ``(N, M)``, not yet
    computed."""
    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left = left
        self.right = right

    def materialize(self):
        """The product, ``(K, M)``."""
        return self.left.T @ self.right

    def add_to(self, total):
        """Collect this product into ``total`` (a :class:`ProductSum`)."""
        total.add(self)


class ProductSum:
    """Pending products reaching one tensor, multiplied out together:
    ``concat(lefts).T @ concat(rights)`` is their sum in one matrix product."""
    __slots__ = ("lefts", "rights")
    LIMIT = 32      # products joined at most at once; bounds the memory the joins take

    def __init__(self):
        self.lefts, self.rights = [], []

    def add(self, pending):
        self.lefts.append(pending.left)
        self.rights.append(pending.right)

    def full(self):
        return len(self.lefts) >= self.LIMIT

    def materialize(self):
        """The sum of every product collected (a new array); empties the collection."""
        lefts, rights = self.lefts, self.rights
        self.lefts, self.rights = [], []
        if len(lefts) == 1:
            return lefts[0].T @ rights[0]
        xp = _backend.of(lefts[0]).xp
        return xp.concatenate(lefts).T @ xp.concatenate(rights)


def weight_gradient(left, right, recording):
    """The gradient ``left.T @ right`` of a matmul's right operand, from tensors of rows
    ``(N, K)`` and ``(N, M)``: a :class:`PendingProduct` when nothing is recorded, the
    recorded product otherwise."""
    if recording:
        return left.T @ right
    return PendingProduct(left.data, right.data)


def materialized(grad):
    """``grad`` as an array (a pending product multiplied out)."""
    return grad.materialize() if type(grad) is PendingProduct else grad
