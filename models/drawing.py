"""How the LSTM family is drawn: gate colours, state names, initial states, module paths.

``mg.viz`` knows nothing about gates; this module holds what the pictures of our cells
and layers need and passes it on:

>>> import minigrad as mg
>>> from minigrad.models import LSTM
>>> from minigrad.models.drawing import graph
>>> lstm = LSTM(3, 4)
>>> output, (h_n, c_n) = lstm(mg.randn(5, 2, 3))
>>> dot = graph(output, model=lstm)            # mg.viz.graph with the options below
>>> "h0" in dot.source and "weight_ih_l0" in dot.source
True
"""
from __future__ import annotations

import re

import minigrad as mg

__all__ = ["GATE_COLOURS", "STATE_NAMES", "CARRY_NAMES", "graph_options", "graph", "render"]

# Cluster colours (fill, border) by what a scope's name says it is, in the order they
# are tried (``mg.viz.graph``'s ``scope_colours``): each gate of every cell kind keeps
# one colour in every figure. The GRU's reset and update gates share the forget and
# input gates' colours, as they play those parts.
GATE_COLOURS = {
    "forget": ("#fdecea", "#c62828"),
    "reset": ("#fdecea", "#c62828"),
    "input_gate": ("#e8f5e9", "#2e7d32"),
    "update": ("#e8f5e9", "#2e7d32"),
    "candidate": ("#fff8e1", "#ef8f00"),
    "output_gate": ("#e3f2fd", "#1565c0"),
    "cell_state": ("#f3e5f5", "#6a1b9a"),
    "hidden": ("#e0f7fa", "#00838f"),
    "state": ("#e0f7fa", "#00838f"),
    "norm": ("#f1f8e9", "#558b2f"),
}

# Leaves named as recurrent states: h and c with any suffix (h_prev, c_0, h0), PyTorch's
# hx and cx, and anything ending in _prev.
STATE_NAMES = re.compile(r"^(?:h|c|hx|cx|state)(?:_|\d|$)|_prev$")

# A layer's zero initial state, by its position in the cell's state: (h, c) for the
# LSTM kinds, h alone for GRU and RNN.
CARRY_NAMES = ("h0", "c0")


def graph_options(model=None, **options):
    """``mg.viz.graph`` keyword arguments for the LSTM family, ``options`` on top.

    Parameters
    ----------
    model : Module, optional
        Its ``named_parameters()`` label the parameters (``encoder.weight_ih_l0``).
    **options
        Any other ``mg.viz.graph`` option; these win over the family's.
    """
    drawn = dict(scope_colours=GATE_COLOURS, state_names=STATE_NAMES,
                 carry_names=CARRY_NAMES)
    if model is not None:
        drawn["names"] = model
    drawn.update(options)
    return drawn


def graph(*outputs, model=None, **options):
    """:func:`minigrad.viz.graph` with the gate colours, state names and ``h0``/``c0``."""
    return mg.viz.graph(*outputs, **graph_options(model, **options))


def render(outputs, path, model=None, dpi=None, **options):
    """:func:`minigrad.viz.render` with the gate colours, state names and ``h0``/``c0``."""
    return mg.viz.render(outputs, path, dpi=dpi, **graph_options(model, **options))
