"""Argument checks for cells and sequence layers, in one place, as PyTorch checks them.

Every check names the argument and says what was expected. The exception types follow
PyTorch where it has one; where PyTorch raises ``RuntimeError`` and this project has
always raised ``ValueError`` (a shape that does not fit), the error is both
(:class:`~minigrad.nn.utils.rnn.SequenceError`), and a state in the wrong container is
both ``TypeError`` and ``ValueError`` (:class:`StateTypeError`). Nothing is changed when a
check fails: they all run before any computation.
"""
from __future__ import annotations

import numbers

import minigrad as mg
from minigrad.nn.utils.rnn import SequenceError

__all__ = ["SequenceError", "StateTypeError", "check_bool", "check_size", "check_dropout",
           "check_proj_size", "check_input_tensor", "check_same", "first_weight",
           "state_parts", "check_step_arguments"]


class StateTypeError(TypeError, ValueError):
    """A recurrent state given in the wrong container (one tensor where a tuple
    ``(h, c)`` is expected, or the reverse) or not as tensors (a NumPy array).
    Both ``TypeError`` (PyTorch's type) and ``ValueError``."""


def check_bool(owner, name, value):
    """``value`` must be a ``bool`` (``"False"`` is a non-empty string, hence true)."""
    if not isinstance(value, bool):
        raise TypeError(f"{owner}: {name} must be a bool, got {type(value).__name__} "
                        f"{value!r}")


def check_size(owner, name, value, minimum=1):
    """``value`` must be an int (not a bool) of at least ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {name} must be an int, got {type(value).__name__} "
                        f"{value!r}")
    if value < minimum:
        raise ValueError(f"{owner}: {name} must be at least {minimum}, got {value}")


def check_dropout(owner, value):
    """A probability: a real number (not a bool) in ``[0, 1]``, as PyTorch accepts."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) \
            or not 0.0 <= value <= 1.0:
        raise ValueError(f"{owner}: dropout must be a number in [0, 1] (the probability "
                         f"of zeroing an element), got {value!r}")


def check_proj_size(owner, proj_size, hidden_size):
    """``0`` (no projection) or an int in ``[1, hidden_size)``."""
    check_size(owner, "proj_size", proj_size, minimum=0)
    if proj_size >= hidden_size:
        raise ValueError(f"{owner}: proj_size must be smaller than hidden_size="
                         f"{hidden_size}, got {proj_size}")


def first_weight(module):
    """The first parameter ``module`` computes with (its own or one it borrows from a
    layer), or None: what its input's dtype and backend are checked against."""
    for param in module.parameters():
        return param
    for name in module.borrowed():
        value = getattr(module, name)
        if isinstance(value, mg.Tensor):
            return value
    return None


def check_input_tensor(owner, x, weight):
    """The input ``x`` against the weights: a float tensor of the weights' dtype, on
    their backend."""
    if not isinstance(x, mg.Tensor):
        raise TypeError(f"{owner}: input must be a Tensor, got {type(x).__name__} "
                        f"(wrap it with mg.tensor(...))")
    if x.dtype.kind in "iub":
        raise ValueError(f"{owner}: input has dtype {x.dtype}, but a recurrent layer needs "
                         f"float input: embed token ids first (mg.nn.Embedding)")
    if weight is not None:
        check_same(owner, "input", x, "the weights", weight)


def check_same(owner, name, tensor, other_name, other):
    """``tensor`` must have ``other``'s backend and dtype."""
    if tensor.backend != other.backend:
        raise mg.BackendError(f"{owner}: {name} is on backend {tensor.backend!r} but "
                              f"{other_name} on {other.backend!r}; move one with .to()")
    if tensor.dtype != other.dtype:
        raise ValueError(f"{owner}: {name} has dtype {tensor.dtype} but {other_name} "
                         f"{other.dtype}; convert one (x.astype(...), or the module's "
                         f"parameters) so that they match")


def state_parts(owner, name, state, count, example, shapes, layer=False):
    """``state`` as a tuple of ``count`` tensors: one tensor when ``count`` is 1, else a
    tuple (or list) of them. ``example`` and ``shapes`` (the expected shapes, as text)
    go into the messages; a ``layer``'s one-tensor state is called "one tensor"."""
    if count == 1:
        if isinstance(state, mg.Tensor):
            return (state,)
        expected = f"one tensor {example}" if layer else "a Tensor"
        raise StateTypeError(f"{owner}: {name} must be {expected}, got {_describe(state)}")
    if not isinstance(state, (tuple, list)):
        raise StateTypeError(f"{owner}: {name} must be a tuple of {count} Tensors "
                             f"{example}, got {_describe(state)}")
    if len(state) != count:
        raise StateTypeError(f"{owner}: {name} must be a tuple of {count} Tensors of shape "
                             f"{shapes}, got {_describe(state)}")
    for k, part in enumerate(state):
        if not isinstance(part, mg.Tensor):
            raise StateTypeError(f"{owner}: {name}[{k}] must be a Tensor, got "
                                 f"{_describe(part)} (the state is {count} Tensors "
                                 f"{example}, of shape {shapes})")
    return tuple(state)


def check_step_arguments(cell, x, state):
    """Refuse what a cell's ``forward(x, state)`` cannot take, naming the argument:
    ``x`` a ``(B, input_size)`` (or unbatched ``(input_size,)``) float tensor of the
    weights' dtype and backend; ``state`` None, or what ``cell.initial_state`` gives (a
    tensor, or a tuple of ``state_count`` tensors), each ``(B, size)`` (``(size,)``
    unbatched) of the input's dtype and backend. Returns whether the call is unbatched.
    """
    owner = type(cell).__name__
    check_input_tensor(owner, x, first_weight(cell))
    if x.ndim not in (1, 2) or x.shape[-1] != cell.input_size:
        raise SequenceError(f"{owner}: input must be (batch, input_size={cell.input_size}) "
                            f"or unbatched (input_size,), got shape {x.shape}")
    if state is None:
        return x.ndim == 1
    count = cell.state_count
    expected = [x.shape[:-1] + (size,) for size in cell.state_sizes()]
    shapes = expected[0] if count == 1 else ", ".join(map(str, expected))
    example = "(h, c)" if count == 2 else "h" if count == 1 else f"({count} parts)"
    parts = state_parts(owner, "state", state, count, example, shapes)
    for k, (part, shape) in enumerate(zip(parts, expected)):
        label = "state" if count == 1 else f"state[{k}]"
        check_same(owner, label, part, "input", x)
        if part.shape != shape:
            form = "a Tensor" if count == 1 else f"a tuple of {count} Tensors"
            raise SequenceError(f"{owner}: state must be {form} of shape {shapes}, got "
                                f"{[p.shape for p in parts]}")
    return x.ndim == 1


def _describe(value):
    if isinstance(value, (tuple, list)):
        return f"{type(value).__name__} of {len(value)} items"
    if isinstance(value, mg.Tensor):
        return f"Tensor of shape {value.shape}"
    return f"{type(value).__name__}" + (" (wrap it with mg.tensor(...))"
                                        if hasattr(value, "__array__") else "")
