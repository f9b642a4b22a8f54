"""Sequence layers: any recurrent cell, run over time, stacked and in both directions.

:class:`SequenceLayer` takes a cell factory and does everything else once, for every
cell: the time loop, packed sequences (``lengths=`` or a
:class:`~minigrad.nn.utils.rnn.PackedSequence`), unbatched input, stacking,
bidirectionality, dropout between layers, argument checks, and PyTorch's parameter
names (``weight_ih_l0``, ``bias_hh_l1_reverse``, ...). :class:`LSTM`, :class:`GRU` and
the rest are thin subclasses that only choose the cell.

The layer owns the parameters. Each cell's parameters are registered on the layer under
the flat PyTorch names and the cell borrows them back (``Module.borrow``): the cell reads
``self.weight_hh`` from the layer at every call, so assigning ``layer.weight_hh_l0``,
tying two names to one parameter, ``load_state_dict``, ``to`` and optimizers all act on
what computes. The cells sit in ``layer.cells`` (a ``ModuleList``, so train/eval reach
them) and own no parameters themselves.

One execution path: each layer and direction is one ``mg.scan``. A cell that describes
its step as functions of tensors (the built-in cells) is scanned fused, as ONE op that
reuses the input projection's memory; any other cell (its own ``forward`` or
``step``) is scanned op by op (``fuse=False``). Either way the scan owns the time loop
and the packed-sequence mask; backpropagation through time is the engine's own sweep.
"""
from __future__ import annotations

import contextlib
import inspect
import warnings

import numpy

import minigrad as mg
from minigrad.nn import Module
from minigrad.nn.functional import dropout as _dropout
from minigrad.nn.utils import rnn
from minigrad.modes import collector_paused

from . import checks
from .cells import (CoupledLSTMCell, GRUCell, LayerNormLSTMCell, LSTMCell, PeepholeLSTMCell,
                    RNNCell, check_nonlinearity, scan_plan)
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

    Each cell's parameters are owned by the layer as ``{name}_l{k}`` (and
    ``{name}_l{k}_reverse``), dots in nested names becoming underscores: PyTorch's names,
    so a PyTorch ``nn.LSTM``/``nn.GRU``/``nn.RNN`` state dict loads directly. The cells
    themselves are ``layer.cells``.

    Parameters
    ----------
    cell_factory : callable
        ``cell_factory(input_size, hidden_size, bias=bias, **cell_kwargs)`` (and
        ``proj_size=`` when it is not 0) returns a cell, usually a cell class. The layer
        always passes ``bias=``, so a cell's constructor takes it. See docs/cells.md for
        what a cell provides; in short a :class:`~models.cells.RecurrentCell` with
        ``forward(x_t, state)``, or a Module with ``initial_state(batch_size, like)``,
        ``output(state)`` and ``forward(x_t, state)``.
    input_size : int
        ``I``, the features of each step of ``x``.
    hidden_size : int
        ``H``, the features of the hidden state.
    num_layers : int
        Stacked layers; each takes the previous one's output.
    bias : bool
        Whether the cells have biases.
    batch_first : bool
        Input and output are ``(B, T, ·)`` instead of ``(T, B, ·)`` (unbatched and
        packed input are unaffected, as in PyTorch).
    dropout : float in [0, 1]
        Dropout on each layer's output except the last, in training mode only.
    bidirectional : bool
        Also run every layer from the last step to the first; ``D = 2`` directions,
        their outputs concatenated.
    proj_size : int
        0, or the width ``P < hidden_size`` that the LSTM kinds project ``h`` to
        (``weight_hr_l{k}`` of shape ``(P, H)``); passed to the cell when not 0.
    **cell_kwargs
        Passed on to every cell (``forget_bias``, ``nonlinearity``, ...).
    """

    def __init__(self, cell_factory, input_size, hidden_size, num_layers=1, bias=True,
                 batch_first=False, dropout=0.0, bidirectional=False, proj_size=0,
                 **cell_kwargs):
        super().__init__()
        name = type(self).__name__
        checks.check_size(name, "input_size", input_size)
        checks.check_size(name, "hidden_size", hidden_size)
        checks.check_size(name, "num_layers", num_layers)
        for flag, value in (("bias", bias), ("batch_first", batch_first),
                            ("bidirectional", bidirectional)):
            checks.check_bool(name, flag, value)
        checks.check_dropout(name, dropout)
        if proj_size:
            checks.check_proj_size(name, proj_size, hidden_size)
            cell_kwargs["proj_size"] = proj_size
        if dropout > 0 and num_layers == 1:
            warnings.warn(f"{name}: dropout={dropout} acts between layers, and this layer "
                          f"has num_layers=1, so it does nothing", UserWarning, stacklevel=3)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        cells = []
        layer_input = input_size
        for layer in range(num_layers):
            for direction in range(directions):
                cell = cell_factory(layer_input, hidden_size, bias=bias, **cell_kwargs)
                suffix = f"_l{layer}" + ("_reverse" if direction else "")
                self._own_parameters(cell, suffix)
                cells.append(cell)
            layer_input = directions * getattr(cells[-1], "output_size", hidden_size)
        self.cells = cells           # a ModuleList: sub-modules that own no parameters
        self._cell_options = {k: v for k, v in cell_kwargs.items() if k != "proj_size"}

    def _own_parameters(self, cell, suffix):
        """Register every parameter of ``cell`` (and of its sub-modules) on the layer
        under its flat PyTorch name; the cell borrows it back."""
        for module_name, module in list(cell.named_modules()):
            for param_name, param in list(module._parameters.items()):
                if param is None:
                    continue
                dotted = f"{module_name}.{param_name}" if module_name else param_name
                module.borrow(param_name, self, dotted.replace(".", "_") + suffix)

    @property
    def directions(self):
        """``D``: 2 for a bidirectional layer, else 1."""
        return 2 if self.bidirectional else 1

    @property
    def all_weights(self):
        """The parameters of each layer and direction, as PyTorch's ``all_weights``: one
        list per cell, in the cell's registration order."""
        return [[getattr(module, name) for _, module in cell.named_modules()
                 for name in module.borrowed()] for cell in self.cells]

    def flatten_parameters(self):
        """Nothing to do (PyTorch packs the weights into one buffer for cuDNN here); kept
        so that PyTorch code calling it runs unchanged."""

    def extra_repr(self):
        """The sizes, the cell and the non-default options, shown in ``repr``.

        Returns
        -------
        str
        """
        extra = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size:
            extra += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            extra += f", num_layers={self.num_layers}"
        if not self.bias:
            extra += ", bias=False"
        for flag in ("batch_first", "bidirectional"):
            if getattr(self, flag):
                extra += f", {flag}=True"
        if self.dropout:
            extra += f", dropout={self.dropout}"
        cell_class = type(self.cells[0])
        defaults = _defaults(cell_class)
        for option, value in self._cell_options.items():
            if option not in defaults or defaults[option] != value:
                extra += f", {option}={value!r}"
        return extra + f", cell={cell_class.__name__}"

    def __repr__(self):
        # the cells are listed by kind only: their parameters are the layer's
        return f"{type(self).__name__}({self.extra_repr()})"

    # ---- forward
    def forward(self, x, hx=None, lengths=None):
        """Run the sequence.

        Parameters
        ----------
        x : Tensor or PackedSequence
            ``(T, B, input_size)``, ``(B, T, input_size)`` with ``batch_first``, or
            unbatched ``(T, input_size)``; or a
            :class:`~minigrad.nn.utils.rnn.PackedSequence` (``data`` ``(N,
            input_size)``). Its dtype and backend must be the weights'.
        hx : state, optional
            The initial state of every layer and direction, each part
            ``(num_layers * D, B, size)`` (``(num_layers * D, size)`` unbatched; for
            the LSTM kinds the pair ``(h_0, c_0)``, ``h_0``'s size ``proj_size`` when
            set); zeros when None. With a PackedSequence, in the original batch order.
        lengths : sequence of int, optional
            One length per sequence, in any order, each in ``[1, T]``: PyTorch's
            packed-sequence results without packing (outputs past a sequence's end are
            zero, the final state is each sequence's state at its own last step, and
            the reverse direction starts there).

        Returns
        -------
        output : Tensor or PackedSequence
            ``(T, B, D * H_out)`` (``(B, T, D * H_out)`` with ``batch_first``,
            ``(T, D * H_out)`` unbatched; packed like ``x`` when ``x`` is packed): the
            last layer's hidden outputs, both directions concatenated. ``H_out`` is
            ``proj_size`` when set, else ``hidden_size``.
        final : state
            The final state, each part ``(num_layers * D, B, size)`` (without ``B``
            unbatched; in the original batch order for a PackedSequence): ``(h_n, c_n)``
            for the LSTM kinds, ``h_n`` for GRU and RNN.
        """
        name = type(self).__name__
        packed = x if isinstance(x, rnn.PackedSequence) else None
        if packed is not None:
            if lengths is not None:
                raise ValueError(f"{name}: a PackedSequence carries its lengths; pass "
                                 f"lengths=None")
            checks.check_input_tensor(name, packed.data, checks.first_weight(self))
            x, lengths = rnn.padded_in_packed_order(packed)
        elif not isinstance(x, mg.Tensor):
            x = mg.tensor(x)
        unbatched = packed is None and x.ndim == 2
        self._check_input(x, lengths, unbatched)
        if unbatched:
            x = x.reshape(x.shape[0], 1, x.shape[1])       # one sequence of the batch
        elif self.batch_first and packed is None:
            x = x.transpose(1, 0, 2)
        steps, batch = x.shape[0], x.shape[1]
        masks = self._masks(lengths, steps, batch, x)
        initial = self._initial_states(hx, batch, x, unbatched, packed)
        recorder = active_recorder()
        with collector_paused():       # thousands of recorded ops: see its docstring
            output, finals = self._run_layers(x, initial, masks, recorder)
        final = _map(lambda *parts: mg.stack(parts, axis=0), *finals)
        if packed is not None:
            if packed.unsorted_indices is not None:     # h_n in the caller's order
                final = _map(lambda f: f[:, packed.unsorted_indices], final)
            return rnn.repack(output, packed), final
        if unbatched:
            return output.reshape(steps, output.shape[2]), \
                _map(lambda f: f.reshape(f.shape[0], f.shape[2]), final)
        if self.batch_first:
            output = output.transpose(1, 0, 2)
        return output, final

    def _run_layers(self, x, initial, masks, recorder):
        finals = []
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction in range(self.directions):
                index = layer * self.directions + direction
                prefix = f"l{layer}" + ("_reverse" if direction else "")
                with mg.scope(prefix), _recording(recorder, prefix, bool(direction)):
                    output, final = self._run(self.cells[index], layer_input,
                                              initial[index], masks, bool(direction))
                outputs.append(output)
                finals.append(final)
            layer_input = outputs[0] if len(outputs) == 1 else mg.concat(outputs, axis=2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_input = _dropout(layer_input, self.dropout, training=True)
        return layer_input, finals

    @staticmethod
    def _run(cell, x, state, masks, reverse):
        """One direction of one layer over all ``T`` steps, as one ``mg.scan``:
        ``(outputs (T, B, H_out), final state)``."""
        plan = scan_plan(cell, state)
        history, final = mg.scan(plan.step, state, x, plan.params, prepare=plan.prepare,
                                 prepare_params=plan.prepare_params,
                                 mask=None if masks is None else masks[:, :, 0],
                                 reverse=reverse, fuse=plan.fuse)
        output = cell.output(history)
        if masks is not None:       # past its length a sequence outputs 0
            output = mg.where(masks, output, 0.0)
        return output, final

    # ---- arguments
    def _check_input(self, x, lengths, unbatched):
        name = type(self).__name__
        checks.check_input_tensor(name, x, checks.first_weight(self))
        if x.ndim not in (2, 3):
            layout = "(batch, time, input_size)" if self.batch_first \
                else "(time, batch, input_size)"
            raise checks.SequenceError(f"{name}: input must be 3-D {layout} or unbatched "
                                       f"2-D (time, input_size), got shape {x.shape}")
        if x.shape[-1] != self.input_size:
            raise checks.SequenceError(
                f"{name}: input has size {x.shape[-1]} in its last dimension, expected "
                f"input_size={self.input_size} (shape {x.shape})")
        if 0 in x.shape[:-1]:
            raise checks.SequenceError(f"{name}: input of shape {x.shape} has no time "
                                       f"steps or no sequences")
        if unbatched and lengths is not None:
            raise ValueError(f"{name}: lengths needs batched input; unbatched input "
                             f"(time, input_size) is one sequence of its own length")

    def _masks(self, lengths, steps, batch, x):
        """A ``(T, B, 1)`` bool array, true where ``t < length``; None when every sequence
        has full length."""
        if lengths is None:
            return None
        lengths = rnn.check_lengths(lengths, batch, steps, type(self).__name__)
        if lengths.min() == steps:
            return None
        valid = numpy.arange(steps)[:, None, None] < lengths[None, :, None]   # (T, B, 1)
        return x.xp.asarray(valid)

    def _initial_states(self, hx, batch, x, unbatched, packed):
        """One state per layer and direction, from ``hx`` or zeros."""
        templates = [cell.initial_state(batch, x) for cell in self.cells]
        if hx is None:
            return templates
        name = type(self).__name__
        count = len(self.cells)
        template = templates[0]
        zeros = _parts(template)
        example = "(num_layers * directions, batch, size)" if len(zeros) == 1 \
            else "(h_0, c_0), each (num_layers * directions, batch, size)"
        shapes = ", ".join(str((count,) + (z.shape[1:] if unbatched else z.shape))
                           for z in zeros)
        given = checks.state_parts(name, "hx", hx, len(zeros), example, shapes, layer=True)
        pieces = []
        for k, (part, zero) in enumerate(zip(given, zeros)):
            label = "hx" if len(zeros) == 1 else f"hx[{k}]"
            expected = (count,) + (zero.shape[1:] if unbatched else zero.shape)
            checks.check_same(name, label, part, "input", x)
            if part.shape != expected:
                layout = "(num_layers * directions, size) for unbatched input" \
                    if unbatched else "(num_layers * directions, batch, size)"
                raise checks.SequenceError(f"{name}: {label} must have shape {expected} "
                                           f"{layout}, got {part.shape}")
            if unbatched:
                part = part.reshape(count, 1, part.shape[1])
            if packed is not None and packed.sorted_indices is not None:
                part = part[:, packed.sorted_indices]      # into the packed order
            pieces.append([p.reshape(zero.shape) for p in mg.split(part, count, axis=0)])
        if len(zeros) == 1:
            return pieces[0]
        return [tuple(p[i] for p in pieces) for i in range(count)]


def _recording(recorder, prefix, reverse):
    """The gate recorder's context for one direction of one layer (or nothing)."""
    return recorder._direction(prefix, reverse) if recorder is not None \
        else contextlib.nullcontext()


def _no_projection(owner, proj_size):
    """GRU and RNN have no projection; PyTorch refuses the keyword, so do we."""
    if proj_size is not None:
        raise ValueError(f"{owner}: proj_size is for the LSTM kinds only, not {owner}")


def _defaults(cell_class):
    """A cell constructor's keyword defaults (for ``repr``: options left out when
    they are the default)."""
    try:
        parameters = inspect.signature(cell_class).parameters.values()
    except (TypeError, ValueError):
        return {}
    return {p.name: p.default for p in parameters if p.default is not inspect.Parameter.empty}


class RNN(SequenceLayer):
    """Elman RNN layer (:class:`~models.cells.RNNCell`), as PyTorch's ``nn.RNN``.

    ``forward(x, hx=None, lengths=None) -> (output, h_n)``, with PyTorch's shapes; see
    :meth:`SequenceLayer.forward`. The arguments come in PyTorch's positional order.

    Parameters
    ----------
    input_size : int
        ``I``, the features of each step of ``x``.
    hidden_size : int
        ``H``, the features of the hidden state.
    num_layers : int
        Stacked layers; each takes the previous one's output.
    nonlinearity : {"tanh", "relu"}
        The cells' activation.
    bias : bool
        Whether the cells have biases.
    batch_first : bool
        Input and output are ``(B, T, ·)`` instead of ``(T, B, ·)`` (unbatched and
        packed input are unaffected, as in PyTorch).
    dropout : float in [0, 1]
        Dropout on each layer's output except the last, in training mode only.
    bidirectional : bool
        Also run every layer from the last step to the first; ``D = 2`` directions,
        their outputs concatenated.
    proj_size : None
        Refused when given, as PyTorch refuses it for this kind.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, nonlinearity="tanh",
                 bias=True, batch_first=False, dropout=0.0, bidirectional=False, *,
                 proj_size=None):
        _no_projection("RNN", proj_size)
        check_nonlinearity("RNN", nonlinearity)
        super().__init__(RNNCell, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, nonlinearity=nonlinearity)
        self.nonlinearity = nonlinearity


class LSTM(SequenceLayer):
    """LSTM layer (:class:`~models.cells.LSTMCell`), as PyTorch's ``nn.LSTM``.

    ``forward(x, hx=None, lengths=None) -> (output, (h_n, c_n))``, with PyTorch's shapes;
    see :meth:`SequenceLayer.forward`.

    Parameters
    ----------
    input_size : int
        ``I``, the features of each step of ``x``.
    hidden_size : int
        ``H``, the features of the hidden state.
    num_layers : int
        Stacked layers; each takes the previous one's output.
    bias : bool
        Whether the cells have biases.
    batch_first : bool
        Input and output are ``(B, T, ·)`` instead of ``(T, B, ·)`` (unbatched and
        packed input are unaffected, as in PyTorch).
    dropout : float in [0, 1]
        Dropout on each layer's output except the last, in training mode only.
    bidirectional : bool
        Also run every layer from the last step to the first; ``D = 2`` directions,
        their outputs concatenated.
    proj_size : int
        0, or ``P < hidden_size``: ``h`` is projected to ``P`` features
        (``weight_hr_l{k}`` ``(P, H)``, Sak et al. 2014): ``output`` is ``(T, B, D * P)``,
        ``h_n`` ``(num_layers * D, B, P)``, ``c_n`` keeps ``H``.
    forget_bias : float
        Added to the forget-gate bias at initialisation (0.0 matches PyTorch; 1.0 helps
        long dependencies).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, forget_bias=0.0):
        super().__init__(LSTMCell, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, proj_size, forget_bias=forget_bias)


class PeepholeLSTM(SequenceLayer):
    """Peephole LSTM layer (:class:`~models.cells.PeepholeLSTMCell`): as
    :class:`LSTM`, plus ``weight_ci_l0``, ``weight_cf_l0``, ``weight_co_l0``, ...

    ``forward(x, hx=None, lengths=None) -> (output, (h_n, c_n))``, with PyTorch's shapes;
    see :meth:`SequenceLayer.forward`.

    Parameters
    ----------
    input_size : int
        ``I``, the features of each step of ``x``.
    hidden_size : int
        ``H``, the features of the hidden state.
    num_layers : int
        Stacked layers; each takes the previous one's output.
    bias : bool
        Whether the cells have biases.
    batch_first : bool
        Input and output are ``(B, T, ·)`` instead of ``(T, B, ·)`` (unbatched and
        packed input are unaffected, as in PyTorch).
    dropout : float in [0, 1]
        Dropout on each layer's output except the last, in training mode only.
    bidirectional : bool
        Also run every layer from the last step to the first; ``D = 2`` directions,
        their outputs concatenated.
    proj_size : int
        0, or ``P < hidden_size``: ``h`` is projected to ``P`` features
        (``weight_hr_l{k}`` ``(P, H)``, Sak et al. 2014): ``output`` is ``(T, B, D * P)``,
        ``h_n`` ``(num_layers * D, B, P)``, ``c_n`` keeps ``H``.
    forget_bias : float
        Added to the forget-gate bias at initialisation (0.0 matches PyTorch; 1.0 helps
        long dependencies).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, forget_bias=0.0):
        super().__init__(PeepholeLSTMCell, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, proj_size,
                         forget_bias=forget_bias)


class CoupledLSTM(SequenceLayer):
    """Coupled-gate LSTM layer (:class:`~models.cells.CoupledLSTMCell`): as
    :class:`LSTM` with ``(3H, ·)`` weights in gate order f, g, o.

    ``forward(x, hx=None, lengths=None) -> (output, (h_n, c_n))``, with PyTorch's shapes;
    see :meth:`SequenceLayer.forward`.

    Parameters
    ----------
    input_size : int
        ``I``, the features of each step of ``x``.
    hidden_size : int
        ``H``, the features of the hidden state.
    num_layers : int
        Stacked layers; each takes the previous one's output.
    bias : bool
        Whether the cells have biases.
    batch_first : bool
        Input and output are ``(B, T, ·)`` instead of ``(T, B, ·)`` (unbatched and
        packed input are unaffected, as in PyTorch).
    dropout : float in [0, 1]
        Dropout on each layer's output except the last, in training mode only.
    bidirectional : bool
        Also run every layer from the last step to the first; ``D = 2`` directions,
        their outputs concatenated.
    proj_size : int
        0, or ``P < hidden_size``: ``h`` is projected to ``P`` features
        (``weight_hr_l{k}`` ``(P, H)``, Sak et al. 2014): ``output`` is ``(T, B, D * P)``,
        ``h_n`` ``(num_layers * D, B, P)``, ``c_n`` keeps ``H``.
    forget_bias : float
        Added to the forget-gate bias at initialisation (0.0 matches PyTorch; 1.0 helps
        long dependencies).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, forget_bias=0.0):
        super().__init__(CoupledLSTMCell, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, proj_size,
                         forget_bias=forget_bias)


class GRU(SequenceLayer):
    """GRU layer (:class:`~models.cells.GRUCell`), as PyTorch's ``nn.GRU``.

    ``forward(x, hx=None, lengths=None) -> (output, h_n)``, with PyTorch's shapes; see
    :meth:`SequenceLayer.forward`.

    Parameters
    ----------
    input_size : int
        ``I``, the features of each step of ``x``.
    hidden_size : int
        ``H``, the features of the hidden state.
    num_layers : int
        Stacked layers; each takes the previous one's output.
    bias : bool
        Whether the cells have biases.
    batch_first : bool
        Input and output are ``(B, T, ·)`` instead of ``(T, B, ·)`` (unbatched and
        packed input are unaffected, as in PyTorch).
    dropout : float in [0, 1]
        Dropout on each layer's output except the last, in training mode only.
    bidirectional : bool
        Also run every layer from the last step to the first; ``D = 2`` directions,
        their outputs concatenated.
    reset_after : bool
        Where the reset gate acts (see :class:`~models.cells.GRUCell`); True is PyTorch's.
    proj_size : None
        Refused when given, as PyTorch refuses it for this kind.
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, reset_after=True, *, proj_size=None):
        _no_projection("GRU", proj_size)
        super().__init__(GRUCell, input_size, hidden_size, num_layers, bias, batch_first,
                         dropout, bidirectional, reset_after=reset_after)


class LayerNormLSTM(SequenceLayer):
    """Layer-normalised LSTM layer (:class:`~models.cells.LayerNormLSTMCell`):
    as :class:`LSTM`; nothing here but the choice of cell.

    ``forward(x, hx=None, lengths=None) -> (output, (h_n, c_n))``, with PyTorch's shapes;
    see :meth:`SequenceLayer.forward`.

    Parameters
    ----------
    input_size : int
        ``I``, the features of each step of ``x``.
    hidden_size : int
        ``H``, the features of the hidden state.
    num_layers : int
        Stacked layers; each takes the previous one's output.
    bias : bool
        Whether the cells have biases.
    batch_first : bool
        Input and output are ``(B, T, ·)`` instead of ``(T, B, ·)`` (unbatched and
        packed input are unaffected, as in PyTorch).
    dropout : float in [0, 1]
        Dropout on each layer's output except the last, in training mode only.
    bidirectional : bool
        Also run every layer from the last step to the first; ``D = 2`` directions,
        their outputs concatenated.
    proj_size : int
        0, or ``P < hidden_size``: ``h`` is projected to ``P`` features
        (``weight_hr_l{k}`` ``(P, H)``, Sak et al. 2014): ``output`` is ``(T, B, D * P)``,
        ``h_n`` ``(num_layers * D, B, P)``, ``c_n`` keeps ``H``.
    forget_bias : float
        Added to the forget-gate bias at initialisation (0.0 matches PyTorch; 1.0 helps
        long dependencies).
    """

    def __init__(self, input_size, hidden_size, num_layers=1, bias=True, batch_first=False,
                 dropout=0.0, bidirectional=False, proj_size=0, forget_bias=0.0):
        super().__init__(LayerNormLSTMCell, input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional, proj_size,
                         forget_bias=forget_bias)
