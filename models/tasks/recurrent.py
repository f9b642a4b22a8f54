"""Cell kinds by name: the recurrent layer a task model is built around.

``lstm``, ``peephole``, ``coupled``, ``gru``, ``rnn`` are the PyTorch-style layers of
:mod:`models.layers`, and ``layernorm`` their layer-normalised LSTM; ``module:Class`` (or
``module.Class``) is a user's own cell, built as ``Class(input_size, hidden_size)`` and
run by the generic :class:`models.layers.SequenceLayer`.
"""
from __future__ import annotations

import importlib
import inspect

#: the built-in kinds, and which of them carry an LSTM memory cell (gate heatmaps)
CELL_KINDS = ("lstm", "peephole", "coupled", "gru", "rnn", "layernorm")
LSTM_KINDS = ("lstm", "peephole", "coupled", "layernorm")


def _accepts(callable_, name):
    try:
        return name in inspect.signature(callable_).parameters
    except (TypeError, ValueError):
        return False


def resolve_cell_class(spec):
    """``"package.module:Class"`` or ``"package.module.Class"`` -> the class."""
    if ":" in spec:
        module_name, _, attribute = spec.partition(":")
    elif "." in spec:
        module_name, _, attribute = spec.rpartition(".")
    else:
        raise ValueError(f"unknown cell {spec!r}: choose one of {', '.join(CELL_KINDS)}, "
                         f"or name your own as module:Class")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"cell {spec!r}: cannot import {module_name!r} ({exc})") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ValueError(f"cell {spec!r}: {module_name!r} has no {attribute!r}") from None


def _cell_factory(cell_class, forget_bias):
    """``SequenceLayer`` builds cells as ``factory(input_size, hidden_size, bias=...)``;
    a user's cell gets only the keywords its constructor takes."""
    def factory(input_size, hidden_size, bias=True):
        kwargs = {}
        if not bias and _accepts(cell_class, "bias"):
            kwargs["bias"] = False
        if forget_bias and _accepts(cell_class, "forget_bias"):
            kwargs["forget_bias"] = forget_bias
        return cell_class(input_size, hidden_size, **kwargs)
    return factory


def build_recurrent(cell, input_size, hidden_size, num_layers=1, forget_bias=1.0):
    """A recurrent layer of kind ``cell`` with PyTorch's API
    (``forward(x (T, B, I), hx=None) -> (output (T, B, H), state)``).

    ``cell`` is a kind name (:data:`CELL_KINDS`), ``"module:Class"``, or a cell class.
    ``forget_bias`` is added to the forget-gate bias of the LSTM kinds at initialisation
    (Gers, Schmidhuber & Cummins 2000: start with the gate open, so memories are kept
    early in training).
    """
    from .. import layers
    by_kind = {"lstm": layers.LSTM, "peephole": layers.PeepholeLSTM,
               "coupled": layers.CoupledLSTM, "layernorm": layers.LayerNormLSTM,
               "gru": layers.GRU, "rnn": layers.RNN}
    if isinstance(cell, str) and cell in by_kind:
        if cell in LSTM_KINDS:
            return by_kind[cell](input_size, hidden_size, num_layers, forget_bias=forget_bias)
        return by_kind[cell](input_size, hidden_size, num_layers)
    cell_class = cell if isinstance(cell, type) else resolve_cell_class(cell)
    return layers.SequenceLayer(_cell_factory(cell_class, forget_bias), input_size,
                                hidden_size, num_layers)


def detach_state(state):
    """The recurrent state cut from the graph (a tensor, or a tuple/list of them)."""
    if state is None:
        return None
    if isinstance(state, (tuple, list)):
        return type(state)(detach_state(s) for s in state)
    return state.detach()


def state_arrays(state):
    """The state as a flat list of NumPy arrays (for checkpoints)."""
    if state is None:
        return []
    if isinstance(state, (tuple, list)):
        return [a for s in state for a in state_arrays(s)]
    return [state.numpy()]


def state_from_arrays(arrays):
    """Inverse of :func:`state_arrays` for the two layouts: ``(h, c)`` or ``h``."""
    import minigrad as mg
    if not len(arrays):
        return None
    tensors = [mg.tensor(a) for a in arrays]
    return tuple(tensors) if len(tensors) > 1 else tensors[0]


__all__ = ["CELL_KINDS", "LSTM_KINDS", "build_recurrent", "resolve_cell_class",
           "detach_state", "state_arrays", "state_from_arrays"]
