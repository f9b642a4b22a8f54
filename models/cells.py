"""Recurrent cells: one time step of the LSTM family, written as its equations.

Every cell is a composition of minigrad ops; backpropagation through time is the
engine's own backward sweep. Parameters follow PyTorch's blocked layout: the gates'
weights are stacked along the first axis in one order per cell (LSTM: i, f, g, o), so a
step is ONE product ``h @ weight_hh.T`` for all gates, cut with one ``chunk``.

The cell protocol, which :class:`models.layers.SequenceLayer` relies on:

``initial_state(batch_size, like)``
    the zero state (a tensor, or a tuple of tensors) with ``like``'s dtype and backend.
``output(state)``
    the hidden output ``h`` of a state.
``input_projection(x)`` (optional)
    the part of the pre-activations that depends on the input alone, for ``x`` of any
    leading shape; a layer computes it for all time steps with one product.
``step(projected_x, state)``
    the next state, from one step's projected input ``(B, G)``.
``forward(x, state=None)``
    ``step(input_projection(x), state)``, with zeros for a missing state.

Each gate is computed inside ``mg.scope(<gate name>)`` so the graph renderer draws it
as a cluster, and handed to :func:`models.gates.record_gate` for inspection.

A step's equations live in a module-level function of tensors (``_lstm_step``, ...)
decorated with ``mg.fuse``: the engine records the whole step as one op with generated
forward and backward code, the numbers identical to running its ops one by one (which
``mg.unfused()`` and anomaly detection do; gate recording taps the fused code). The
graph renderer still draws every gate.
"""
from __future__ import annotations

import contextlib
import math

import minigrad as mg
from minigrad.nn import Module, Parameter, init

from .gates import record_gate

__all__ = ["RecurrentCell", "RNNCell", "LSTMCell", "PeepholeLSTMCell", "CoupledLSTMCell",
           "GRUCell", "LayerNormLSTMCell", "layer_norm"]


class RecurrentCell(Module):
    """Shared plumbing: parameter creation with PyTorch's initialisation, zero states,
    and ``forward = step(input_projection(x), state)``.

    Subclasses set ``state_count`` (1: the state is ``h``; 2: the state is ``(h, c)``)
    and describe their step as functions of tensors, ``projection_function()`` and
    ``step_function()``, from which ``input_projection`` and ``step`` are built and which
    a layer runs over a whole sequence as one op (``mg.scan``); or they define
    ``input_projection`` and ``step`` themselves.
    """
    state_count = 1

    def __init__(self, input_size, hidden_size):
        super().__init__()
        if input_size < 1 or hidden_size < 1:
            raise ValueError(f"{type(self).__name__}: input_size and hidden_size must be "
                             f"positive, got {input_size} and {hidden_size}")
        self.input_size = input_size
        self.hidden_size = hidden_size

    def _parameter(self, *shape):
        # PyTorch's recurrent initialisation: U(-1/sqrt(H), 1/sqrt(H)) for every parameter.
        bound = 1.0 / math.sqrt(self.hidden_size)
        return Parameter(init.uniform_(mg.zeros(*shape), -bound, bound))

    def initial_state(self, batch_size, like):
        """Zeros ``(batch_size, hidden_size)`` (a pair of them for LSTM kinds), with the
        dtype and backend of ``like``."""
        zeros = mg.zeros(batch_size, self.hidden_size, dtype=like.dtype, backend=like.backend)
        return zeros if self.state_count == 1 else tuple(
            [zeros] + [mg.zeros_like(zeros) for _ in range(self.state_count - 1)])

    def output(self, state):
        """The hidden output ``h`` of ``state``."""
        return state if self.state_count == 1 else state[0]

    def forward(self, x, state=None):
        """One step: ``x`` is ``(B, input_size)``; ``state`` as :meth:`initial_state`
        gives it, zeros when None. Returns the next state."""
        check_step_arguments(self, x, state)
        if state is None:
            state = self.initial_state(x.shape[0], x)
        return self.step(self.input_projection(x), state)

    # ---- a step as a function of tensors (so a layer can scan it: mg.scan)
    def projection_function(self):
        """``(function, params)`` with :meth:`input_projection` ``(x)`` equal to
        ``function(x, *params)``."""
        raise NotImplementedError(f"{type(self).__name__} defines no projection_function")

    def step_function(self):
        """``(function, params)`` with :meth:`step` ``(projected, state)`` equal to
        ``function(projected, *state_parts, *params)``, returning the next state."""
        raise NotImplementedError(f"{type(self).__name__} defines no step_function")

    def input_projection(self, x):
        """The input's share of the pre-activations, for ``x`` of any leading shape (a
        layer projects a whole sequence at once)."""
        function, params = self.projection_function()
        return function(x, *params)

    def step(self, projected, state):
        """The next state from the projected input and the state."""
        function, params = self.step_function()
        parts = (state,) if self.state_count == 1 else tuple(state)
        return function(projected, *parts, *params)

    def scan_functions(self):
        """``(projection_function(), step_function())`` for a layer to run the whole
        sequence as one op (``mg.scan``); None when a subclass redefines
        :meth:`input_projection`, :meth:`step` or :meth:`output` instead (the layer then
        runs its own loop, calling them)."""
        cls = type(self)
        if cls.input_projection is not RecurrentCell.input_projection \
                or cls.step is not RecurrentCell.step or cls.output is not RecurrentCell.output:
            return None
        try:
            return self.projection_function(), self.step_function()
        except NotImplementedError:
            return None

    def extra_repr(self):
        return f"{self.input_size}, {self.hidden_size}"

    # ---- the recurrent product, with weight_hh transposed once per sequence
    _weight_hh_t = None

    @contextlib.contextmanager
    def unrolled(self):
        """While a layer runs this cell over a sequence, transpose ``weight_hh`` once
        instead of once per step: the per-step gradients of the product then sum into
        one contiguous buffer, transposed back once, rather than through a transposed
        view each step."""
        object.__setattr__(self, "_weight_hh_t", self.weight_hh.T)
        try:
            yield
        finally:
            object.__setattr__(self, "_weight_hh_t", None)

    def _weight_hh_transposed(self):
        weight_t = self._weight_hh_t
        return weight_t if weight_t is not None else self.weight_hh.T

    def _recurrent(self, h):
        """``h @ weight_hh.T``: one product for all gates."""
        return h @ self._weight_hh_transposed()


class _GatedCell(RecurrentCell):
    """Cells with ``gates * hidden_size`` rows in weight_ih, weight_hh and the biases."""
    gates = 1

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=None):
        super().__init__(input_size, hidden_size)
        rows = self.gates * hidden_size
        self.weight_ih = self._parameter(rows, input_size)
        self.weight_hh = self._parameter(rows, hidden_size)
        self.bias = bias
        if bias:
            self.bias_ih = self._parameter(rows)
            self.bias_hh = self._parameter(rows)
        if forget_bias:
            if not bias:
                raise ValueError(f"{type(self).__name__}: forget_bias={forget_bias} needs "
                                 f"bias=True")
            forget = self.forget_slice
            self.bias_ih.data[forget * hidden_size:(forget + 1) * hidden_size] += forget_bias

    def projection_function(self):
        """``x @ weight_ih.T + bias_ih + bias_hh``.

        Both biases add straight onto the pre-activations, so they are added here, once
        for the whole sequence, instead of at every step.
        """
        biases = (self.bias_ih, self.bias_hh) if self.bias else ()
        return _input_projection, (self.weight_ih.T, *biases)


@mg.fuse
def _input_projection(x, weight_ih_t, *biases):
    """``x @ weight_ih.T`` plus the biases, recorded as one op (the product is then a
    temporary, not a tensor the tape keeps)."""
    projected = x @ weight_ih_t
    if len(biases) == 2:
        return projected + (biases[0] + biases[1])
    return projected + biases[0] if biases else projected


class RNNCell(_GatedCell):
    """Elman RNN cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act tanh or relu.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
    nonlinearity : {"tanh", "relu"}

    ``cell(x, h=None) -> h'``: ``x`` is ``(B, input_size)``, ``h`` and ``h'`` are
    ``(B, hidden_size)``. Parameters ``weight_ih (H, I)``, ``weight_hh (H, H)``,
    ``bias_ih (H,)``, ``bias_hh (H,)``.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNNCell: nonlinearity must be 'tanh' or 'relu', "
                             f"got {nonlinearity!r}")
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        """One step: ``x`` ``(B, input_size)``, ``h`` ``(B, hidden_size)`` (zeros when
        None); returns the next ``h``."""
        return super().forward(x, h)

    def step_function(self):
        step = _rnn_tanh_step if self.nonlinearity == "tanh" else _rnn_relu_step
        return step, (self._weight_hh_transposed(),)


@mg.fuse
def _rnn_tanh_step(projected, h, weight_hh_t):
    """One Elman step with tanh, recorded as one op."""
    # Elman 1990: h_t = act(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
    with mg.scope("hidden_state"):
        h = mg.tanh(projected + h @ weight_hh_t)
    record_gate("hidden_state", h)
    return h


@mg.fuse
def _rnn_relu_step(projected, h, weight_hh_t):
    """One Elman step with relu, recorded as one op."""
    with mg.scope("hidden_state"):
        h = mg.relu(projected + h @ weight_hh_t)
    record_gate("hidden_state", h)
    return h


class LSTMCell(_GatedCell):
    """Long short-term memory cell (Hochreiter & Schmidhuber 1997, with the forget gate
    of Gers et al. 2000), as PyTorch's ``nn.LSTMCell``.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
    forget_bias : float
        Added to the forget-gate slice of ``bias_ih`` at initialisation (1.0 is the usual
        choice for learning long dependencies; 0.0 matches PyTorch).

    ``cell(x, state=None) -> (h, c)``: ``x`` is ``(B, input_size)``; ``state`` is
    ``(h, c)``, each ``(B, hidden_size)``. Parameters ``weight_ih (4H, I)``,
    ``weight_hh (4H, H)``, ``bias_ih (4H,)``, ``bias_hh (4H,)``; gate order i, f, g, o.
    """
    gates = 4
    state_count = 2
    forget_slice = 1

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=0.0):
        super().__init__(input_size, hidden_size, bias, forget_bias)

    def step_function(self):
        return _lstm_step, (self._weight_hh_transposed(),)


@mg.fuse
def _lstm_step(projected, h, c, weight_hh_t):
    """One LSTM step from the projected input, recorded as one op (``mg.fuse``)."""
    # i, f, o = sigmoid(W_i* x + b_i* + W_h* h + b_h*); g = tanh(...)   (PyTorch order)
    # c' = f * c + i * g;  h' = o * tanh(c')
    i, f, g, o = (projected + h @ weight_hh_t).chunk(4, axis=1)
    with mg.scope("input_gate"):
        i = mg.sigmoid(i)
    with mg.scope("forget_gate"):
        f = mg.sigmoid(f)
    with mg.scope("cell_candidate"):
        g = mg.tanh(g)
    with mg.scope("output_gate"):
        o = mg.sigmoid(o)
    with mg.scope("cell_state"):
        c = f * c + i * g
    with mg.scope("hidden_state"):
        h = o * mg.tanh(c)
    _record_lstm(i, f, g, o, c, h)
    return h, c


class PeepholeLSTMCell(_GatedCell):
    """LSTM with diagonal peephole connections (Gers & Schmidhuber 2000).

    As :class:`LSTMCell`, plus ``weight_ci``, ``weight_cf``, ``weight_co``, each
    ``(hidden_size,)``: the input and forget gates see ``c_{t-1}``, the output gate sees
    the new ``c_t``.
    """
    gates = 4
    state_count = 2
    forget_slice = 1

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=0.0):
        super().__init__(input_size, hidden_size, bias, forget_bias)
        self.weight_ci = self._parameter(hidden_size)
        self.weight_cf = self._parameter(hidden_size)
        self.weight_co = self._parameter(hidden_size)

    def step_function(self):
        return _peephole_step, (self._weight_hh_transposed(), self.weight_ci,
                                self.weight_cf, self.weight_co)


@mg.fuse
def _peephole_step(projected, h, c, weight_hh_t, weight_ci, weight_cf, weight_co):
    """One peephole LSTM step from the projected input, recorded as one op."""
    # Gers & Schmidhuber 2000: peepholes see c_{t-1} for i and f, c_t for o
    # i = sigmoid(a_i + w_ci * c);  f = sigmoid(a_f + w_cf * c);  g = tanh(a_g)
    # c' = f * c + i * g;  o = sigmoid(a_o + w_co * c');  h' = o * tanh(c')
    i, f, g, o = (projected + h @ weight_hh_t).chunk(4, axis=1)
    with mg.scope("input_gate"):
        i = mg.sigmoid(i + weight_ci * c)
    with mg.scope("forget_gate"):
        f = mg.sigmoid(f + weight_cf * c)
    with mg.scope("cell_candidate"):
        g = mg.tanh(g)
    with mg.scope("cell_state"):
        c = f * c + i * g
    with mg.scope("output_gate"):
        o = mg.sigmoid(o + weight_co * c)
    with mg.scope("hidden_state"):
        h = o * mg.tanh(c)
    _record_lstm(i, f, g, o, c, h)
    return h, c


class CoupledLSTMCell(_GatedCell):
    """LSTM with coupled input and forget gates (Greff et al. 2017, "CIFG"): ``i = 1 - f``.

    Parameters ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)``,
    ``bias_hh (3H,)``; gate order f, g, o. Otherwise as :class:`LSTMCell`.
    """
    gates = 3
    state_count = 2
    forget_slice = 0

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=0.0):
        super().__init__(input_size, hidden_size, bias, forget_bias)

    def step_function(self):
        return _coupled_step, (self._weight_hh_transposed(),)


@mg.fuse
def _coupled_step(projected, h, c, weight_hh_t):
    """One coupled-gate LSTM step from the projected input, recorded as one op."""
    # Greff et al. 2017 (CIFG): f = sigmoid(a_f), i = 1 - f, g = tanh(a_g),
    # o = sigmoid(a_o);  c' = f * c + i * g;  h' = o * tanh(c')
    f, g, o = (projected + h @ weight_hh_t).chunk(3, axis=1)
    with mg.scope("forget_gate"):
        f = mg.sigmoid(f)
    with mg.scope("input_gate"):
        i = 1 - f
    with mg.scope("cell_candidate"):
        g = mg.tanh(g)
    with mg.scope("output_gate"):
        o = mg.sigmoid(o)
    with mg.scope("cell_state"):
        c = f * c + i * g
    with mg.scope("hidden_state"):
        h = o * mg.tanh(c)
    _record_lstm(i, f, g, o, c, h)
    return h, c


def _record_lstm(i, f, g, o, c, h):
    record_gate("input_gate", i)
    record_gate("forget_gate", f)
    record_gate("cell_candidate", g)
    record_gate("output_gate", o)
    record_gate("cell_state", c)
    record_gate("hidden_state", h)


class GRUCell(_GatedCell):
    """Gated recurrent unit (Cho et al. 2014), as PyTorch's ``nn.GRUCell``.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool
    reset_after : bool
        True (PyTorch, cuDNN): ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
        False (the original paper; Keras' ``reset_after=False``):
        ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``.

    ``cell(x, h=None) -> h'`` with ``h' = (1 - z) * n + z * h``. Parameters
    ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)``, ``bias_hh (3H,)``;
    gate order r, z, n.
    """
    gates = 3

    def __init__(self, input_size, hidden_size, bias=True, reset_after=True):
        super().__init__(input_size, hidden_size, bias)
        self.reset_after = reset_after

    def forward(self, x, h=None):
        """One step: ``x`` ``(B, input_size)``, ``h`` ``(B, hidden_size)`` (zeros when
        None); returns the next ``h``."""
        return super().forward(x, h)

    def projection_function(self):
        """``x @ weight_ih.T + bias_ih`` (``b_hn`` sits inside the reset product, so
        ``bias_hh`` is added per step)."""
        return _input_projection, (self.weight_ih.T, *((self.bias_ih,) if self.bias else ()))

    def step_function(self):
        # Cho et al. 2014: r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        #                  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        #   reset_after:   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        #   otherwise:     n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
        #                  h' = (1 - z) * n + z * h
        bias = (self.bias_hh,) if self.bias else ()
        if self.reset_after:
            return _gru_step, (self._weight_hh_transposed(), *bias)
        return _gru_step_reset_before, (self.weight_hh, *bias)


def _gru_gates(x_r, h_r, x_z, h_z):
    with mg.scope("reset_gate"):
        r = mg.sigmoid(x_r + h_r)
    with mg.scope("update_gate"):
        z = mg.sigmoid(x_z + h_z)
    return r, z


def _gru_output(r, z, n, h):
    with mg.scope("hidden_state"):
        h = (1 - z) * n + z * h
    record_gate("reset_gate", r)
    record_gate("update_gate", z)
    record_gate("candidate", n)
    record_gate("hidden_state", h)
    return h


@mg.fuse
def _gru_step_reset_before(projected, h, weight_hh, *bias_hh):
    """One GRU step with ``reset_after=False`` from the projected input, recorded as one
    op: the candidate's product multiplies ``r * h``, so the weights are cut in two."""
    cut = [2 * h.shape[1]]
    weight_rz, weight_n = mg.split(weight_hh, cut, axis=0)
    recurrent = h @ weight_rz.T
    if bias_hh:
        bias_rz, bias_n = mg.split(bias_hh[0], cut, axis=0)
        recurrent = recurrent + bias_rz
    x_r, x_z, x_n = projected.chunk(3, axis=1)
    h_r, h_z = recurrent.chunk(2, axis=1)
    r, z = _gru_gates(x_r, h_r, x_z, h_z)
    with mg.scope("candidate"):
        h_n = (r * h) @ weight_n.T
        n = mg.tanh(x_n + (h_n + bias_n if bias_hh else h_n))
    return _gru_output(r, z, n, h)


@mg.fuse
def _gru_step(projected, h, weight_hh_t, *bias_hh):
    """One GRU step (``reset_after``) from the projected input, recorded as one op."""
    recurrent = h @ weight_hh_t
    if bias_hh:
        recurrent = recurrent + bias_hh[0]
    x_r, x_z, x_n = projected.chunk(3, axis=1)
    h_r, h_z, h_n = recurrent.chunk(3, axis=1)
    r, z = _gru_gates(x_r, h_r, x_z, h_z)
    with mg.scope("candidate"):
        n = mg.tanh(x_n + r * h_n)
    return _gru_output(r, z, n, h)


def layer_norm(x, gain, shift, eps=1e-5, name="layer_norm"):
    """Normalise the last axis to zero mean and unit variance, then ``* gain + shift``.

    Recorded inside ``mg.scope(name)``, so a graph can fold it into one box."""
    with mg.scope(name):
        centred = x - x.mean(axis=-1, keepdims=True)
        return centred / mg.sqrt((centred * centred).mean(axis=-1, keepdims=True) + eps) \
            * gain + shift


class LayerNormLSTMCell(RecurrentCell):
    """Layer-normalised LSTM (Ba, Kiros & Hinton 2016, section 3.1).

    The input and recurrent pre-activations (all four gates together) are normalised
    separately, and so is the cell state before the output's tanh. Parameters:
    ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih (4H,)`` (one bias: the
    normalisations' shifts make a second redundant), gate order i, f, g, o; gains
    and shifts ``norm_ih_*``, ``norm_hh_*`` ``(4H,)`` and ``norm_c_*`` ``(H,)``, started
    at 1 and 0.
    """
    state_count = 2

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=0.0):
        super().__init__(input_size, hidden_size)
        self.weight_ih = self._parameter(4 * hidden_size, input_size)
        self.weight_hh = self._parameter(4 * hidden_size, hidden_size)
        self.bias = bias
        if bias:
            self.bias_ih = Parameter(mg.zeros(4 * hidden_size))
            self.bias_ih.data[hidden_size:2 * hidden_size] = forget_bias
        for name, size in (("ih", 4 * hidden_size), ("hh", 4 * hidden_size), ("c", hidden_size)):
            setattr(self, f"norm_{name}_gain", Parameter(mg.ones(size)))
            setattr(self, f"norm_{name}_shift", Parameter(mg.zeros(size)))

    def projection_function(self):
        """``LN(x @ weight_ih.T) + bias_ih``."""
        return _layer_norm_projection, (self.weight_ih.T, self.norm_ih_gain,
                                        self.norm_ih_shift,
                                        *((self.bias_ih,) if self.bias else ()))

    def step_function(self):
        return _layer_norm_lstm_step, (self._weight_hh_transposed(), self.norm_hh_gain,
                                       self.norm_hh_shift, self.norm_c_gain,
                                       self.norm_c_shift)


def _layer_norm_projection(x, weight_ih_t, gain, shift, *bias):
    projected = layer_norm(x @ weight_ih_t, gain, shift, name="input_norm")
    return projected + bias[0] if bias else projected


def _layer_norm_lstm_step(projected, h, c, weight_hh_t, hh_gain, hh_shift, c_gain, c_shift):
    recurrent = _recurrent_norm(h, weight_hh_t, hh_gain, hh_shift)
    return _layer_norm_lstm_update(projected, recurrent, c, c_gain, c_shift)


@mg.fuse
def _recurrent_norm(h, weight_hh_t, gain, shift):
    """``LN(h W_hh^T)``, recorded as one op."""
    return layer_norm(h @ weight_hh_t, gain, shift, name="recurrent_norm")


@mg.fuse
def _layer_norm_lstm_update(projected, recurrent, c, cell_gain, cell_shift):
    """The layer-normalised LSTM step after the normalised recurrent product, recorded
    as one op."""
    # Ba et al. 2016, eq. 20-22: (i, f, g, o) = LN(W_h h) + LN(W_x x) + b
    # c' = sigmoid(f) * c + sigmoid(i) * tanh(g);  h' = sigmoid(o) * tanh(LN(c'))
    i, f, g, o = (projected + recurrent).chunk(4, axis=1)
    with mg.scope("input_gate"):
        i = mg.sigmoid(i)
    with mg.scope("forget_gate"):
        f = mg.sigmoid(f)
    with mg.scope("cell_candidate"):
        g = mg.tanh(g)
    with mg.scope("output_gate"):
        o = mg.sigmoid(o)
    with mg.scope("cell_state"):
        c = f * c + i * g
    with mg.scope("hidden_state"):
        h = o * mg.tanh(layer_norm(c, cell_gain, cell_shift, name="cell_norm"))
    _record_lstm(i, f, g, o, c, h)
    return h, c


def check_step_arguments(cell, x, state):
    """Refuse what a cell's ``forward(x, state)`` cannot take, naming the argument:
    ``x`` a ``(B, input_size)`` tensor; ``state`` None, or what :meth:`initial_state`
    gives (a tensor, or a tuple of ``state_count`` tensors), each ``(B, hidden_size)``."""
    name = type(cell).__name__
    if not isinstance(x, mg.Tensor):
        raise TypeError(f"{name}: input must be a Tensor, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != cell.input_size:
        raise ValueError(f"{name}: input must be (batch, input_size={cell.input_size}), "
                         f"got shape {x.shape}")
    if state is None:
        return
    expected = (x.shape[0], cell.hidden_size)
    if cell.state_count == 1:
        parts, form = (state,), "a Tensor"
    elif isinstance(state, (tuple, list)):
        parts, form = tuple(state), f"a tuple of {cell.state_count} Tensors"
    else:
        raise TypeError(f"{name}: state must be a tuple of {cell.state_count} Tensors "
                        f"(h, c), got {type(state).__name__}")
    for index, part in enumerate(parts):
        if not isinstance(part, mg.Tensor):
            where = "state" if cell.state_count == 1 else f"state[{index}]"
            raise TypeError(f"{name}: {where} must be a Tensor, got {type(part).__name__} "
                            f"(the state is {form}, each {expected})")
    if len(parts) != cell.state_count or any(p.shape != expected for p in parts):
        raise ValueError(f"{name}: state must be {form} of shape {expected}, got "
                         f"{[p.shape for p in parts]}")
