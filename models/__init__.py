"""The LSTM family on minigrad: cells, sequence layers, gate inspection.

>>> from minigrad.models import RNNCell, LSTMCell, PeepholeLSTMCell, CoupledLSTMCell, GRUCell
>>> from minigrad.models import RNN, LSTM, PeepholeLSTM, CoupledLSTM, GRU

Every cell and layer is a composition of minigrad ops: backpropagation through time is
the engine's own backward sweep. See docs/cells.md for writing your own cell.

Import it as ``minigrad.models``, which a ``models.py`` of your own cannot shadow; the
name ``models`` works too where nothing else owns it, and is then the same package.
"""
from .cells import (CoupledLSTMCell, GRUCell, LayerNormLSTMCell, LSTMCell, PeepholeLSTMCell,
                    RecurrentCell, RNNCell, layer_norm)
from .checks import SequenceError, StateTypeError
from .gates import GateRecord, record_gate, record_gates
from .layers import (GRU, LSTM, RNN, CoupledLSTM, LayerNormLSTM, PeepholeLSTM,
                     SequenceLayer)

__all__ = ["RNNCell", "LSTMCell", "PeepholeLSTMCell", "CoupledLSTMCell", "GRUCell",
           "LayerNormLSTMCell", "RecurrentCell", "layer_norm",
           "RNN", "LSTM", "PeepholeLSTM", "CoupledLSTM", "GRU", "LayerNormLSTM",
           "SequenceLayer", "record_gates", "record_gate", "GateRecord", "SequenceError",
           "StateTypeError"]
