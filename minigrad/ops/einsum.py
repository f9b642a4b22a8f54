"""Einstein summation (``einsum``): products and sums of any operands over named
subscripts, whose backward is itself an einsum per operand."""
from __future__ import annotations

import builtins

from ..tensor import constant, kernel, record
from .shape import as_tensors, broadcast_to, reshape


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _explicit_subscripts(equation, operands):
    """``(input subscripts, output subscripts)`` of an einsum equation, with ``...``
    spelled out in unused letters (broadcast dimensions line up from the right) and the
    implicit output (no ``->``) made explicit: the ``...`` dimensions, then the letters
    used once, in alphabetical order (NumPy's and PyTorch's rule)."""
    equation = equation.replace(" ", "")
    left, arrow, right = equation.partition("->")
    inputs = left.split(",")
    if len(inputs) != len(operands):
        raise ValueError(f"einsum: the equation {equation!r} names {len(inputs)} operands, "
                         f"got {len(operands)}")
    unused = [c for c in _LETTERS if c not in equation]
    widths = []
    for subscripts, operand in zip(inputs, operands):
        letters = subscripts.replace("...", "")
        if not builtins.all(c in _LETTERS for c in letters):
            raise ValueError(f"einsum: subscripts must be letters (and ...), got "
                             f"{subscripts!r}")
        widths.append(operand.ndim - len(letters) if "..." in subscripts else 0)
        if widths[-1] < 0 or ("..." not in subscripts and len(letters) != operand.ndim):
            raise ValueError(f"einsum: subscripts {subscripts!r} do not fit an operand of "
                             f"shape {operand.shape}")
    broadcast = "".join(unused[:builtins.max(widths, default=0)])
    explicit = [s.replace("...", broadcast[len(broadcast) - w:] if w else "")
                for s, w in zip(inputs, widths)]
    if arrow:
        output = right.replace("...", broadcast)
    else:
        counts = "".join(explicit)
        output = broadcast + "".join(sorted(c for c in set(counts) if counts.count(c) == 1
                                            and c not in broadcast))
    return explicit, output


def einsum(equation, *operands):
    """Einstein summation, as ``torch.einsum``: ``einsum("ij,jk->ik", a, b)`` is
    ``a @ b``.

    Parameters
    ----------
    equation : str
        Subscripts per operand, comma-separated, optionally ``->`` and the output's;
        ``...`` stands for broadcast dimensions.
    *operands : Tensor
        Or one list of them.

    Returns
    -------
    Tensor
        Gradients are einsums too (repeated subscripts, diagonals, are handled).
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    operands = tuple(as_tensors(operands, "einsum"))
    inputs, output = _explicit_subscripts(equation, operands)
    static = {"equation": ",".join(inputs) + "->" + output}
    try:
        out = einsum_values(operands[0].xp, *[t.data for t in operands], **static)
    except ValueError as error:
        raise ValueError(f"einsum: {equation!r} does not fit shapes "
                         f"{[t.shape for t in operands]} ({error})") from None

    def backward(grad):
        return tuple(_einsum_gradient(grad, output, inputs, operands, k)
                     if operands[k].requires_grad else None for k in range(len(operands)))
    return record(out, operands, backward, "einsum", einsum_values, static)


@kernel
def einsum_values(xp, *arrays, equation):
    """:func:`einsum`'s kernel."""
    return xp.einsum(equation, *arrays)


def _einsum_gradient(grad, output, inputs, operands, k):
    """The gradient of operand ``k``: the einsum of the output's gradient with the other
    operands, into ``k``'s subscripts. A letter repeated in ``k``'s subscripts (a
    diagonal) is renamed and tied to its first use by an identity matrix; a letter only
    ``k`` has (summed within it) is broadcast back."""
    target = operands[k]
    free = [c for c in _LETTERS if c not in "".join(inputs) + output]
    renamed, identities = [], []
    for position, letter in enumerate(inputs[k]):
        if letter in renamed:
            twin = free.pop()
            n = target.shape[position]
            identities.append((letter + twin, constant(target.xp.eye(n, dtype=grad.dtype))))
            letter = twin
        renamed.append(letter)
    others = [(s, t) for j, (s, t) in enumerate(zip(inputs, operands)) if j != k]
    terms = [(output, grad)] + others + identities
    present = set("".join(s for s, _ in terms))
    kept = [c for c in renamed if c in present]
    result = einsum(",".join(s for s, _ in terms) + "->" + "".join(kept),
                    *[t for _, t in terms])
    if len(kept) < len(renamed):        # letters summed within operand k alone
        result = reshape(result, tuple(n if c in present else 1
                                       for c, n in zip(renamed, target.shape)))
    if result.shape != target.shape:
        result = broadcast_to(result, target.shape)
    return result
