"""Gate inspection: record what every gate of every cell did, as NumPy arrays.

>>> import minigrad as mg
>>> from minigrad.models import LSTM, record_gates
>>> lstm = LSTM(3, 4)
>>> with record_gates() as gates:
...     output, (h_n, c_n) = lstm(mg.randn(7, 2, 3))
>>> gates["l0/forget_gate"].shape          # (T, B, H)
(7, 2, 4)

Cells call :func:`record_gate` on each gate they compute: an engine tap
(:func:`minigrad.tap`), which costs one check when nobody listens and which fused steps
and scans honour, so recording runs the same fast code as training. A recorder listens
in its own thread only. Sequence layers tell the recorder which layer and direction is
running, so keys read ``"l{k}/{gate}"`` and ``"l{k}_reverse/{gate}"``; a cell called on
its own records under the bare gate name. Arrays are in time order for both directions.
"""
from __future__ import annotations

import contextlib

import numpy

import minigrad as mg
from minigrad.modes import current_tap


def record_gate(name, tensor):
    """Give ``tensor``, a gate's activations, to the recorder listening, if any.

    An engine tap (:func:`minigrad.tap`) under the name cells use; without a listening
    :func:`record_gates` block it costs one check.

    Parameters
    ----------
    name : str
        The gate (``"forget_gate"``); layers add the layer and direction in front.
    tensor : Tensor
        ``(B, H)``, this step's activations.
    """
    mg.tap(name, tensor)


class GateRecord(dict):
    """``{"l0/forget_gate": array (T, B, H), ...}``, filled when the ``with`` block ends.

    Every call a cell makes during the block adds one time step; calling a layer twice
    inside one block appends the second call's steps after the first's.
    """

    def __init__(self):
        super().__init__()
        self._prefix = ""
        self._steps = {}          # key -> list of (B, H) NumPy arrays, in recording order

    def __call__(self, name, tensor):
        """The tap handler: one step of gate ``name`` (copied: generated code may reuse
        the memory after the tap)."""
        key = f"{self._prefix}/{name}" if self._prefix else name
        self._steps.setdefault(key, []).append(tensor.numpy().copy())

    @contextlib.contextmanager
    def _direction(self, prefix, reverse):
        """Used by sequence layers around one direction of one layer: keys get
        ``prefix``, and a reverse pass's steps are put back in time order."""
        previous = self._prefix
        self._prefix = prefix
        marks = {key: len(steps) for key, steps in self._steps.items()}
        try:
            yield
        finally:
            self._prefix = previous
            if reverse:
                for key, steps in self._steps.items():
                    if key.startswith(prefix + "/"):
                        start = marks.get(key, 0)
                        steps[start:] = steps[start:][::-1]

    def _finish(self):
        for key, steps in self._steps.items():
            self[key] = numpy.stack(steps)


@contextlib.contextmanager
def record_gates():
    """Record every gate computed inside the block.

    Yields
    ------
    GateRecord
        A dict, filled when the block ends: ``"l{k}/{gate}"`` (``"l{k}_reverse/{gate}"``
        for the reverse direction; the bare gate name for a cell called on its own) to a
        NumPy array ``(T, B, H)``. Gate names: ``input_gate``, ``forget_gate``,
        ``cell_candidate``, ``output_gate``, ``cell_state``, ``hidden_state`` (LSTM kinds);
        ``reset_gate``, ``update_gate``, ``candidate``, ``hidden_state`` (GRU);
        ``hidden_state`` (RNN). With ``lengths``, steps past a sequence's end hold
        whatever the cell computed there (the layer discards them).
    """
    record = GateRecord()
    try:
        with mg.tapping(record):
            yield record
    finally:
        record._finish()


def active_recorder():
    """The recorder listening in this thread, or None (sequence layers read it once per
    forward)."""
    handler = current_tap()
    return handler if isinstance(handler, GateRecord) else None
