"""Sequence layers: any recurrent cell, run over time, stacked and in both directions.

:class:`SequenceLayer` takes a cell factory and does everything else once, for every
cell: the input projection of all time steps with one product per layer and direction,
the time loop, packed-sequence semantics for ``lengths``, stacking, bidirectionality,
dropout between layers, and PyTorch's parameter names (``weight_ih_l0``,
``bias_hh_l1_reverse``, ...). :class:`LSTM`, :class:`GRU` and the rest are thin
subclasses that only choose the cell.

Backpropagation through time is the engine's own backward sweep. A cell that describes
its step as functions of tensors (``scan_functions()``: the built-in cells) runs the
whole sequence as ONE op, ``mg.scan``, which reuses the input projection's memory for
the step's saved values and then for its gradient, as a hand-written LSTM does (with
``lengths``, its mask keeps a finished sequence's state). Other cells run an unrolled
loop, written so that the sweep stays linear in ``T``: the projected input is cut into steps with ONE
``mg.unbind`` (whose backward is one ``stack``; indexing ``proj[t]`` per step would
allocate a full-size zero gradient per step) and the outputs are joined with ONE
``mg.stack`` (whose backward is one ``unbind``).
"""
from __future__ import annotations

import contextlib

import numpy

import minigrad as mg
from minigrad.nn import Module
from minigrad.nn.functional import dropout as _dropout
from minigrad.tensor import collector_paused

from .cells import (CoupledLSTMCell, GRUCell, LayerNormLSTMCell, LSTMCell, PeepholeLSTMCell,
                    RNNCell)
from .gates import active_recorder

__all__ = ["SequenceLayer", "RNN", "LSTM", "PeepholeLSTM", "CoupledLSTM", "GRU",
           "LayerNormLSTM"]


def _map(fn, *states):
    """Apply ``fn`` across a state that is one tensor or a tuple of tensors."""
    if isinstance(states[0], mg.Tensor):
        return fn(*states)
    return tuple(fn(*parts) for parts in zip(*states))


def _parts(state):
    return (state,) if isinstance(state, mg.Tensor) else tuple(state)


class SequenceLayer(Module):
    """A multi-layer, optionally bidirectional recurrent layer built from any cell.

    Parameters
    ----------
    cell_factory : callable
        ``cell_factory(input_size, hidden_size, bias=bias, **cell_kwargs)`` returns a
        cell: a Module with ``initial_state(batch_size, like)`` (the zero state: a tensor
        or a tuple of tensors, each ``(B, ...)``), ``output(state)`` (the hidden output
        ``(B, H)``), and either ``input_projection(x)`` plus ``step(projected_t, state)``
        or just ``forward(x_t, state) -> state``. A cell may set ``output_size`` when its
        output is not ``hidden_size`` wide. A cell whose ``scan_functions()`` returns
        ``((prepare, prepare_params), (step, step_params))`` (``RecurrentCell`` builds it
        from ``projection_function()`` and ``step_function()``) is run as one
        ``mg.scan``.
    input_size, hidden_size, num_layers : int
    bias : bool
    batch_first : bool
        Input and output are ``(B, T, ·)`` instead of ``(T, B, ·)``.
    dropout : float
        Dropout on each layer's output except the last, in training mode only.
    bidirectional : bool
    **cell_kwargs
        Passed on to every cell (``forget_bias``, ``nonlinearity``, ...).

    Each cell's parameters are registered on the layer as ``{name}_l{k}`` (and
    ``{name}_l{k}_reverse``), dots in nested names becoming underscores: PyTorch's names,
    so a PyTorch ``nn.LSTM``/``nn.GRU``/``nn.RNN`` state dict loads directly. The cells
    themselves are kept in ``self.cells``, outside the module tree.
    """

    def __init__(self, cell_factory, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, **cell_kwargs):
        super().__init__()
        name = type(self).__name__
        for arg, value in (("input_size", input_size), ("hidden_size", hidden_size),
                           ("num_layers", num_layers)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}: {arg} must be a positive int, got {value!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"{name}: dropout must be in [0, 1), got {dropout}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        directions = 2 if bidirectional else 1
        cells = []
        layer_input = input_size
        for layer in range(num_layers):
            for direction in range(directions):
                cell = cell_factory(layer_input, hidden_size, bias=bias, **cell_kwargs)
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                for param_name, param in cell.named_parameters():
                    setattr(self, param_name.replace(".", "_") + suffix, param)
                cells.append(cell)
            layer_input = directions * getattr(cells[-1], "output_size", hidden_size)
        object.__setattr__(self, "cells", cells)     # not sub-modules: flat PyTorch names

    @property
    def directions(self):
        return 2 if self.bidirectional else 1

    def extra_repr(self):
        extra = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            extra += f", num_layers={self.num_layers}"
        for flag in ("batch_first", "bidirectional"):
            if getattr(self, flag):
                extra += f", {flag}=True"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        return extra

    # ---- forward
    def forward(self, x, hx=None, lengths=None):
        """Run the sequence.

        Parameters
        ----------
        x : Tensor
            ``(T, B, input_size)``, or ``(B, T, input_size)`` with ``batch_first``.
        hx : state, optional
            The initial state of every layer and direction, each part
            ``(num_layers * D, B, H)`` (for the LSTM kinds the pair ``(h_0, c_0)``);
            zeros when None.
        lengths : sequence of int, optional
            One length per sequence, in any order, each in ``[1, T]``: PyTorch's
            packed-sequence results (outputs past a sequence's end are zero, the final
            state is each sequence's state at its own last step, and the reverse
            direction starts there).

        Returns
        -------
        output : Tensor
            ``(T, B, D * H)`` (``(B, T, D * H)`` with ``batch_first``): the last layer's
            hidden outputs, both directions concatenated.
        final : state
            The final state, each part ``(num_layers * D, B, H)``: ``(h_n, c_n)`` for the
            LSTM kinds, ``h_n`` for GRU and RNN.
        """
        x = self._check_input(x)
        if self.batch_first:
            x = x.transpose(1, 0, 2)
        steps, batch = x.shape[0], x.shape[1]
        masks = self._masks(lengths, steps, batch, x)
        initial = self._initial_states(hx, batch, x)
        recorder = active_recorder()
        with collector_paused():       # thousands of recorded ops: see its docstring
            output, finals = self._run_layers(x, initial, masks, recorder)
        return output, _map(lambda *parts: mg.stack(parts, axis=0), *finals)

    def _run_layers(self, x, initial, masks, recorder):
        finals = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.directions):
                index = layer * self.directions + direction
                prefix = f"l{layer}" + ("_reverse" if direction else "")
                recording = recorder._direction(prefix, bool(direction)) \
                    if recorder is not None else contextlib.nullcontext()
                with mg.scope(prefix), recording:
                    output, final = self._run(self.cells[index], layer_input,
                                              initial[index], masks, bool(direction))
                outputs.append(output)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else mg.concat(outputs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout, training=True)
        output = layer_input.transpose(1, 0, 2) if self.batch_first else layer_input
        return output, finals

    def _run(self, cell, x, state, masks, reverse):
        """One direction of one layer over all ``T`` steps: ``(outputs (T, B, H), final
        state)``."""
        if cell.training != self.training:
            cell.train(self.training)
        unrolled = getattr(cell, "unrolled", contextlib.nullcontext)
        if hasattr(cell, "scan_functions"):
            # the whole sequence as one op (mg.scan), where the cell says how
            with unrolled():
                functions = cell.scan_functions()
                if functions is not None:
                    (prepare, prepare_params), (step, params) = functions
                    history, final = mg.scan(
                        step, state, x, params, prepare=prepare,
                        prepare_params=prepare_params,
                        mask=None if masks is None else masks[:, :, 0], reverse=reverse)
                    output = cell.output(history)
                    if masks is not None:       # past its length a sequence outputs 0
                        output = mg.where(masks, output, 0.0)
                    return output, final
        if hasattr(cell, "input_projection"):
            inputs = mg.unbind(cell.input_projection(x), axis=0)
            advance = cell.step
        else:
            inputs = mg.unbind(x, axis=0)
            advance = cell
        with unrolled():
            outputs, state = self._steps(cell, advance, inputs, state, masks, reverse)
        return mg.stack(outputs, axis=0), state

    @staticmethod
    def _steps(cell, advance, inputs, state, masks, reverse):
        """The time loop: every step's output (in time order) and the final state."""
        steps = len(inputs)
        outputs = [None] * steps
        for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
            with mg.scope(f"t{t}"):
                new = advance(inputs[t], state)
                if masks is None:
                    state = new
                    outputs[t] = cell.output(state)
                else:
                    # Packed sequences: past its length a sequence keeps its state (so the
                    # forward final state is the one at its own last step, and the reverse
                    # direction starts from the initial state at its own end) and outputs 0.
                    mask = masks[t]             # (B, 1)
                    state = _map(lambda n, o: mg.where(mask, n, o), new, state)
                    outputs[t] = mg.where(mask, cell.output(state), 0.0)
        return outputs, state

    # ---- arguments
    def _check_input(self, x):
        name = type(self).__name__
        if not isinstance(x, mg.Tensor):
            x = mg.tensor(x)
        if x.ndim != 3:
            layout = "(batch, time, input_size)" if self.batch_first \
                else "(time, batch, input_size)"
            raise ValueError(f"{name}: input must be 3-D {layout}, got shape {x.shape}")
        if x.shape[2] != self.input_size:
            raise ValueError(f"{name}: input has size {x.shape[2]} in its last dimension, "
                             f"expected input_size={self.input_size} (shape {x.shape})")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"{name}: input of shape {x.shape} has no time steps or no "
                             f"sequences")
        return x

    def _masks(self, lengths, steps, batch, x):
        """A ``(T, B, 1)`` bool array, true where ``t < length``; None when every sequence
        has full length."""
        if lengths is None:
            return None
        name = type(self).__name__
        if isinstance(lengths, mg.Tensor):
            lengths = lengths.numpy()
        lengths = numpy.asarray(lengths)
        if lengths.ndim != 1 or lengths.shape[0] != batch:
            raise ValueError(f"{name}: lengths must hold one length per sequence (batch "
                             f"size {batch}), got shape {lengths.shape}")
        if lengths.dtype.kind not in "iu":
            if lengths.dtype.kind != "f" or not numpy.all(lengths == numpy.round(lengths)):
                raise ValueError(f"{name}: lengths must be integers, got {lengths!r}")
            lengths = lengths.astype(numpy.int64)
        if lengths.min() < 1 or lengths.max() > steps:
            raise ValueError(f"{name}: lengths must lie in [1, {steps}] (the input's time "
                             f"steps), got min {lengths.min()} and max {lengths.max()}")
        if lengths.min() == steps:
            return None
        valid = numpy.arange(steps)[:, None, None] < lengths[None, :, None]   # (T, B, 1)
        return x.xp.asarray(valid)

    def _initial_states(self, hx, batch, x):
        """One state per layer and direction, from ``hx`` or zeros."""
        templates = [cell.initial_state(batch, x) for cell in self.cells]
        if hx is None:
            return templates
        name = type(self).__name__
        count = len(self.cells)
        template = templates[0]
        if isinstance(template, mg.Tensor):
            if not isinstance(hx, mg.Tensor):
                raise ValueError(f"{name}: hx must be one tensor of shape "
                                 f"{(count,) + template.shape}, got {type(hx).__name__}")
            hx_parts = (hx,)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != len(template):
                got = f"{len(hx)} items" if isinstance(hx, (tuple, list)) \
                    else type(hx).__name__
                raise ValueError(f"{name}: hx must be a tuple of {len(template)} tensors, "
                                 f"each ({count}, batch, ...), got {got}")
            hx_parts = tuple(hx)
        pieces = []
        for k, (part, zero) in enumerate(zip(hx_parts, _parts(template))):
            expected = (count,) + zero.shape
            if not isinstance(part, mg.Tensor) or part.shape != expected:
                label = "hx" if isinstance(template, mg.Tensor) else f"hx[{k}]"
                got = part.shape if isinstance(part, mg.Tensor) else type(part).__name__
                raise ValueError(f"{name}: {label} must have shape {expected} "
                                 f"(num_layers * directions, batch, size), got {got}")
            pieces.append([p.reshape(zero.shape) for p in mg.split(part, count, axis=0)])
        if isinstance(template, mg.Tensor):
            return pieces[0]
        return [tuple(p[i] for p in pieces) for i in range(count)]


class RNN(SequenceLayer):
    """Elman RNN layer (:class:`~models.cells.RNNCell`), as PyTorch's ``nn.RNN``.

    ``RNN(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, nonlinearity="tanh")``;
    ``forward(x, hx=None, lengths=None) -> (output, h_n)``. See :class:`SequenceLayer`.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, nonlinearity="tanh"):
        super().__init__(RNNCell, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, nonlinearity=nonlinearity)


class LSTM(SequenceLayer):
    """LSTM layer (:class:`~models.cells.LSTMCell`), as PyTorch's ``nn.LSTM``.

    ``LSTM(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, forget_bias=0.0)``;
    ``forward(x, hx=None, lengths=None) -> (output, (h_n, c_n))``. See
    :class:`SequenceLayer`.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, forget_bias=0.0):
        super().__init__(LSTMCell, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, forget_bias=forget_bias)


class PeepholeLSTM(SequenceLayer):
    """Peephole LSTM layer (:class:`~models.cells.PeepholeLSTMCell`); as :class:`LSTM`,
    plus ``weight_ci_l0``, ``weight_cf_l0``, ``weight_co_l0``, ..."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, forget_bias=0.0):
        super().__init__(PeepholeLSTMCell, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, forget_bias=forget_bias)


class CoupledLSTM(SequenceLayer):
    """Coupled-gate LSTM layer (:class:`~models.cells.CoupledLSTMCell`); as :class:`LSTM`
    with ``(3H, ·)`` weights in gate order f, g, o."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, forget_bias=0.0):
        super().__init__(CoupledLSTMCell, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, forget_bias=forget_bias)


class GRU(SequenceLayer):
    """GRU layer (:class:`~models.cells.GRUCell`), as PyTorch's ``nn.GRU``.

    ``GRU(input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
    dropout=0.0, bidirectional=False, reset_after=True)``;
    ``forward(x, hx=None, lengths=None) -> (output, h_n)``. See :class:`SequenceLayer`.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, reset_after=True):
        super().__init__(GRUCell, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, reset_after=reset_after)


class LayerNormLSTM(SequenceLayer):
    """Layer-normalised LSTM layer (:class:`~models.cells.LayerNormLSTMCell`); as
    :class:`LSTM`. Nothing here but the choice of cell."""

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, forget_bias=0.0):
        super().__init__(LayerNormLSTMCell, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, forget_bias=forget_bias)
