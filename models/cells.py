"""Recurrent cells: one time step of the LSTM family, written as its equations.

Every cell is a composition of minigrad ops; backpropagation through time is the
engine's own backward sweep. Parameters follow PyTorch's blocked layout: the gates'
weights are stacked along the first axis in one order per cell (LSTM: i, f, g, o), so a
step is ONE product ``h @ weight_hh.T`` for all gates, cut with one ``chunk``.

The cell protocol, which :class:`models.layers.SequenceLayer` relies on (docs/cells.md
has it in full): ``initial_state(batch_size, like)`` (the zero state: a tensor, or a
tuple of tensors, batch first), ``output(state)`` (the hidden output ``h``, also of a
stacked history), and the step, as ``forward(x_t, state)``, as ``input_projection(x)``
plus ``step(projected_t, state)``, or as functions of tensors
(``projection_function()``, ``step_function()``: the fast path, one fused ``mg.scan``
per sequence). :class:`RecurrentCell` gives the rest, and :meth:`RecurrentCell.scan_plan`
says which of the three a layer runs. Inside a layer a cell owns no parameters: it
borrows them from the layer (``Module.borrow``), which registers them under PyTorch's
flat names.

Each gate is computed inside ``mg.scope(<gate name>)`` so the graph renderer draws it
as a cluster, and handed to :func:`models.gates.record_gate` for inspection.

A step's equations live in a module-level function of tensors (``_lstm_step``, ...)
decorated with ``mg.fuse``: the engine records the whole step as one op with generated
forward and backward code, the numbers identical to running its ops one by one (which
``mg.unfused()`` and anomaly detection do; gate recording taps the fused code). The
graph renderer still draws every gate.
"""
from __future__ import annotations

import collections
import math

import minigrad as mg
from minigrad.nn import Module, Parameter, init

from . import checks
from .gates import record_gate

__all__ = ["RecurrentCell", "ScanPlan", "scan_plan", "RNNCell", "LSTMCell",
           "PeepholeLSTMCell", "CoupledLSTMCell", "GRUCell", "LayerNormLSTMCell", "layer_norm"]


class RecurrentCell(Module):
    """Base class of the cells: parameters with PyTorch's initialisation, zero
    states, argument checks, unbatched input, and ``forward = step(input_projection(x), state)``.

    A subclass sets ``state_count`` (1: the state is ``h``; 2: the state is ``(h, c)``)
    and describes one step in one of three ways (docs/cells.md has the whole contract):

    - ``forward(x_t, state) -> state`` alone: a layer runs it step by step (op by op);
    - ``input_projection(x)`` and ``step(projected_t, state)``: a layer projects the
      whole sequence once and runs ``step`` op by op;
    - ``step_function()`` (and optionally ``projection_function()``), functions of
      tensors and the tensors they take: a layer runs the sequence as ONE ``mg.scan``,
      fused (the fast path); ``input_projection``, ``step`` and ``forward`` are built
      from them.

    Where a class gives more than one, the one defined furthest down the class
    hierarchy wins; within one class the fastest.

    Parameters
    ----------
    input_size : int
        The features of one step's input ``x_t``.
    hidden_size : int
        The features of the state (``output_size``, the width of ``h``, starts equal).
    """
    state_count = 1

    def __init__(self, input_size, hidden_size):
        super().__init__()
        owner = type(self).__name__
        checks.check_size(owner, "input_size", input_size)
        checks.check_size(owner, "hidden_size", hidden_size)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.output_size = hidden_size       # the width of h (a projection narrows it)

    def _parameter(self, *shape):
        # PyTorch's recurrent initialisation: U(-1/sqrt(H), 1/sqrt(H)) for every parameter.
        bound = 1.0 / math.sqrt(self.hidden_size)
        return Parameter(init.uniform_(mg.zeros(*shape), -bound, bound))

    def state_sizes(self):
        """The last-axis width of each state part: ``h`` is ``output_size`` wide, the
        rest (an LSTM's ``c``) ``hidden_size``.

        Returns
        -------
        tuple of int
            One width per state part (``state_count`` of them).
        """
        return (self.output_size,) + (self.hidden_size,) * (self.state_count - 1)

    def initial_state(self, batch_size, like):
        """Zeros for every state part, shaped as :meth:`state_sizes` says.

        Parameters
        ----------
        batch_size : int
            ``B``.
        like : Tensor
            The dtype and backend to use (the input, usually).

        Returns
        -------
        Tensor or tuple of Tensor
            ``(B, size)`` zeros: one tensor when ``state_count`` is 1, else a tuple.
        """
        parts = tuple(mg.zeros(batch_size, size, dtype=like.dtype, backend=like.backend)
                      for size in self.state_sizes())
        return parts[0] if self.state_count == 1 else parts

    def output(self, state):
        """The hidden output ``h`` of ``state``.

        Parameters
        ----------
        state : Tensor or tuple of Tensor
            A state, or a layer's stacked history of states (each part ``(T, B, ...)``).

        Returns
        -------
        Tensor
            ``h``: the state itself when it is one tensor, else its first part.
        """
        return state if self.state_count == 1 else state[0]

    def forward(self, x, state=None):
        """One time step.

        Parameters
        ----------
        x : Tensor
            ``(B, input_size)``, or unbatched ``(input_size,)``.
        state : Tensor or tuple of Tensor, optional
            As :meth:`initial_state` gives it (each part ``(B, size)``, or ``(size,)``
            unbatched); zeros when None.

        Returns
        -------
        Tensor or tuple of Tensor
            The next state, shaped as ``state``.
        """
        unbatched = checks.check_step_arguments(self, x, state)
        if unbatched:
            x = x.reshape(1, -1)
            if state is not None:
                state = _map_state(lambda p: p.reshape(1, -1), state)
        if state is None:
            state = self.initial_state(x.shape[0], x)
        new = self.step(self.input_projection(x), state)
        return _map_state(lambda p: p.reshape(-1), new) if unbatched else new

    # ---- a step as a function of tensors (so a layer can scan it: mg.scan)
    def projection_function(self):
        """The input projection as a function of tensors, for ``mg.scan``.

        Returns
        -------
        tuple or None
            ``(function, params)`` with :meth:`input_projection` ``(x)`` equal to
            ``function(x, *params)``; None (the default): the step reads ``x_t`` itself.
        """
        return None

    def step_function(self):
        """One step as a function of tensors, for ``mg.scan`` (the fast path).

        Returns
        -------
        tuple
            ``(function, params)`` with :meth:`step` ``(projected, state)`` equal to
            ``function(projected, *state_parts, *params)``, which returns the next state.

        Raises
        ------
        NotImplementedError
            When the class defines none of ``forward``, ``step`` and ``step_function``.
        """
        raise NotImplementedError(f"{type(self).__name__} defines none of forward(x, "
                                  f"state), step(projected, state), step_function()")

    def input_projection(self, x):
        """The input's share of the pre-activations (a layer projects a whole
        sequence at once).

        Parameters
        ----------
        x : Tensor
            ``(..., input_size)``, any leading shape.

        Returns
        -------
        Tensor
            ``(..., width)``, what :meth:`step` takes as ``projected`` (``x`` itself when
            the cell has no projection).
        """
        described = self.projection_function()
        if described is None:
            return x
        function, params = described
        return function(x, *params)

    def step(self, projected, state):
        """The next state from the projected input and the state.

        Parameters
        ----------
        projected : Tensor
            One step of :meth:`input_projection`'s output, ``(B, width)``.
        state : Tensor or tuple of Tensor
            Each part ``(B, size)``.

        Returns
        -------
        Tensor or tuple of Tensor
            The next state.
        """
        function, params = self.step_function()
        parts = (state,) if self.state_count == 1 else tuple(state)
        return function(projected, *parts, *params)

    def scan_plan(self):
        """How a layer runs this cell over a sequence: the functions when the class
        describes its step as functions, else its methods, op by op.

        Returns
        -------
        ScanPlan
        """
        kind = _plan_kind(type(self))
        if kind == "functions":
            described = self.projection_function()
            prepare, prepare_params = described if described is not None else (None, ())
            step, params = self.step_function()
            return ScanPlan(step, tuple(params), prepare, tuple(prepare_params), True)
        if kind == "methods":
            return ScanPlan(_method_step(self), (), self.input_projection, (), False)
        return forward_plan(self, self.state_count == 1)

    def extra_repr(self):
        """The sizes and non-default options, shown in ``repr``.

        Returns
        -------
        str
        """
        extra = f"{self.input_size}, {self.hidden_size}"
        if self.output_size != self.hidden_size:
            extra += f", proj_size={self.output_size}"
        if getattr(self, "bias", True) is False:
            extra += ", bias=False"
        return extra


class ScanPlan(collections.namedtuple(
        "ScanPlan", ["step", "params", "prepare", "prepare_params", "fuse"])):
    """What a layer hands ``mg.scan`` for one direction of one layer:
    ``mg.scan(step, state, x, params, prepare=prepare, prepare_params=prepare_params,
    fuse=fuse)``. ``fuse`` is False for steps that read the cell's parameters
    themselves (methods, ``forward``): those run op by op, without trying to fuse."""
    __slots__ = ()


# the three ways of describing a step, fastest first
_PLAN_KINDS = (("functions", ("step_function", "projection_function")),
               ("methods", ("step", "input_projection")),
               ("forward", ("forward",)))


def _plan_kind(cls):
    """Which description of the step ``cls`` gives furthest down its hierarchy (see
    :class:`RecurrentCell`); RecurrentCell's own defaults count as none."""
    best = None
    for kind, names in _PLAN_KINDS:
        for depth, klass in enumerate(cls.__mro__):
            if klass is RecurrentCell:
                break
            if any(name in klass.__dict__ and klass.__dict__[name]
                   is not RecurrentCell.__dict__[name] for name in names):
                if kind == "functions" and not _defines_step_function(cls):
                    break           # a projection alone describes no step
                if best is None or depth < best[0]:
                    best = (depth, kind)
                break
    if best is None:
        raise NotImplementedError(f"{cls.__name__} defines none of forward(x, state), "
                                  f"step(projected, state), step_function()")
    return best[1]


def _defines_step_function(cls):
    return cls.step_function is not RecurrentCell.step_function


def _method_step(cell):
    def step(projected, *parts):
        return cell.step(projected, parts[0] if cell.state_count == 1 else parts)
    step.__name__ = f"{type(cell).__name__}.step"
    return step


def forward_plan(cell, single):
    """The plan for a cell known only by ``cell(x_t, state) -> state`` (``single``: the
    state is one tensor, else a tuple)."""
    def step(x_t, *parts):
        new = cell(x_t, parts[0] if single else parts)
        return new if single else tuple(new)
    step.__name__ = f"{type(cell).__name__}.forward"
    return ScanPlan(step, (), None, (), False)


def scan_plan(cell, state):
    """How a layer runs ``cell`` from ``state``: :meth:`RecurrentCell.scan_plan` for a
    RecurrentCell, else a plan calling ``cell(x_t, state)`` at every step."""
    if isinstance(cell, RecurrentCell):
        return cell.scan_plan()
    return forward_plan(cell, isinstance(state, mg.Tensor))


def _map_state(fn, state):
    return fn(state) if isinstance(state, mg.Tensor) else tuple(fn(p) for p in state)


class _GatedCell(RecurrentCell):
    """Cells with ``gates * hidden_size`` rows in weight_ih, weight_hh and the biases."""
    gates = 1

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=None, proj_size=0):
        super().__init__(input_size, hidden_size)
        owner = type(self).__name__
        checks.check_bool(owner, "bias", bias)
        if proj_size:
            checks.check_proj_size(owner, proj_size, hidden_size)
            self.output_size = proj_size
        rows = self.gates * hidden_size
        self.weight_ih = self._parameter(rows, input_size)
        self.weight_hh = self._parameter(rows, self.output_size)
        self.bias = bias
        if bias:
            self.bias_ih = self._parameter(rows)
            self.bias_hh = self._parameter(rows)
        if proj_size:
            # Sak et al. 2014 (LSTMP): h_t = W_hr (o * tanh(c_t)), PyTorch's weight_hr
            self.weight_hr = self._parameter(proj_size, hidden_size)
        if forget_bias:
            if not bias:
                raise ValueError(f"{owner}: forget_bias={forget_bias} needs bias=True")
            forget = self.forget_slice
            self.bias_ih.data[forget * hidden_size:(forget + 1) * hidden_size] += forget_bias

    def _projection_weights(self):
        """``(weight_hr.T,)`` when ``h`` is projected, else ``()``: the step's last
        arguments."""
        return (self.weight_hr.T,) if self.output_size != self.hidden_size else ()

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


def check_nonlinearity(owner, nonlinearity):
    """An Elman cell's activation: ``"tanh"`` or ``"relu"`` (PyTorch's choices)."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{owner}: nonlinearity must be 'tanh' or 'relu', got "
                         f"{nonlinearity!r}")


class RNNCell(_GatedCell):
    """Elman RNN cell: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act tanh or relu.

    Calling the cell, ``cell(x, h=None) -> h'``: ``x`` is ``(B, input_size)`` (or unbatched
    ``(input_size,)``), ``h`` and ``h'`` are ``(B, hidden_size)``; zeros when ``h`` is None.
    Parameters ``weight_ih (H, I)``, ``weight_hh (H, H)``, ``bias_ih (H,)``, ``bias_hh (H,)``,
    as PyTorch's ``nn.RNNCell``.

    Parameters
    ----------
    input_size : int
        ``I``, the features of ``x``.
    hidden_size : int
        ``H``, the features of ``h``.
    bias : bool
        Whether the cell has ``bias_ih`` and ``bias_hh``.
    nonlinearity : {"tanh", "relu"}
        The activation.
    """

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh"):
        check_nonlinearity("RNNCell", nonlinearity)
        super().__init__(input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, x, h=None):
        """One step.

        Parameters
        ----------
        x : Tensor
            ``(B, input_size)``, or unbatched ``(input_size,)``.
        h : Tensor, optional
            ``(B, hidden_size)``; zeros when None.

        Returns
        -------
        Tensor
            The next ``h``, ``(B, hidden_size)``.
        """
        return super().forward(x, h)

    def extra_repr(self):
        """The sizes and non-default options, shown in ``repr``.

        Returns
        -------
        str
        """
        extra = super().extra_repr()
        return extra + (f", nonlinearity={self.nonlinearity!r}"
                        if self.nonlinearity != "tanh" else "")

    def step_function(self):
        step = _rnn_tanh_step if self.nonlinearity == "tanh" else _rnn_relu_step
        return step, (self.weight_hh.T,)


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

    Calling the cell, ``cell(x, state=None) -> (h, c)``: ``x`` is ``(B, input_size)`` (or
    unbatched ``(input_size,)``); ``state`` is ``(h, c)``, each ``(B, hidden_size)`` (``h``
    ``(B, proj_size)`` with a projection), zeros when None.
    Parameters ``weight_ih (4H, I)``, ``weight_hh (4H, H)``, ``bias_ih (4H,)``,
    ``bias_hh (4H,)``; gate order i, f, g, o.

    Parameters
    ----------
    input_size : int
        The features of ``x``.
    hidden_size : int
        ``H``, the features of ``h`` and ``c``.
    bias : bool
        Whether the cell has ``bias_ih`` and ``bias_hh``.
    forget_bias : float
        Added to the forget-gate slice of ``bias_ih`` at initialisation (1.0 is the usual
        choice for learning long dependencies; 0.0 matches PyTorch).
    proj_size : int
        0, or ``P < hidden_size``: ``h`` is projected to ``P`` features by ``weight_hr``
        ``(P, H)`` (Sak et al. 2014; PyTorch's ``nn.LSTM(proj_size=...)``), and
        ``weight_hh`` is ``(4H, P)``.
    """
    gates = 4
    state_count = 2
    forget_slice = 1

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=0.0, proj_size=0):
        super().__init__(input_size, hidden_size, bias, forget_bias, proj_size)

    def step_function(self):
        return _lstm_step, (self.weight_hh.T, *self._projection_weights())


@mg.fuse
def _lstm_step(projected, h, c, weight_hh_t, *weight_hr_t):
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
        h = _project(o * mg.tanh(c), weight_hr_t)
    _record_lstm(i, f, g, o, c, h)
    return h, c


class PeepholeLSTMCell(_GatedCell):
    """LSTM with diagonal peephole connections (Gers & Schmidhuber 2000).

    As :class:`LSTMCell`, plus ``weight_ci``, ``weight_cf``, ``weight_co``, each
    ``(hidden_size,)``: the input and forget gates see ``c_{t-1}``, the output gate sees
    the new ``c_t``.

    Parameters
    ----------
    input_size : int
        The features of ``x``.
    hidden_size : int
        ``H``, the features of ``h`` and ``c``.
    bias : bool
        Whether the cell has ``bias_ih`` and ``bias_hh``.
    forget_bias : float
        Added to the forget-gate slice of ``bias_ih`` at initialisation (1.0 is the usual
        choice for learning long dependencies; 0.0 matches PyTorch).
    proj_size : int
        0, or ``P < hidden_size``: ``h`` is projected to ``P`` features by ``weight_hr``
        ``(P, H)`` (Sak et al. 2014; PyTorch's ``nn.LSTM(proj_size=...)``), and
        ``weight_hh`` is ``(4H, P)``.
    """
    gates = 4
    state_count = 2
    forget_slice = 1

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=0.0, proj_size=0):
        super().__init__(input_size, hidden_size, bias, forget_bias, proj_size)
        self.weight_ci = self._parameter(hidden_size)
        self.weight_cf = self._parameter(hidden_size)
        self.weight_co = self._parameter(hidden_size)

    def step_function(self):
        return _peephole_step, (self.weight_hh.T, self.weight_ci, self.weight_cf,
                                self.weight_co, *self._projection_weights())


@mg.fuse
def _peephole_step(projected, h, c, weight_hh_t, weight_ci, weight_cf, weight_co,
                   *weight_hr_t):
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
        h = _project(o * mg.tanh(c), weight_hr_t)
    _record_lstm(i, f, g, o, c, h)
    return h, c


class CoupledLSTMCell(_GatedCell):
    """LSTM with coupled input and forget gates (Greff et al. 2017, "CIFG"): ``i = 1 - f``.

    Parameters ``weight_ih (3H, I)``, ``weight_hh (3H, H)``, ``bias_ih (3H,)``,
    ``bias_hh (3H,)``; gate order f, g, o. Otherwise as :class:`LSTMCell`.

    Parameters
    ----------
    input_size : int
        The features of ``x``.
    hidden_size : int
        ``H``, the features of ``h`` and ``c``.
    bias : bool
        Whether the cell has ``bias_ih`` and ``bias_hh``.
    forget_bias : float
        Added to the forget-gate slice of ``bias_ih`` at initialisation (1.0 is the usual
        choice for learning long dependencies; 0.0 matches PyTorch).
    proj_size : int
        0, or ``P < hidden_size``: ``h`` is projected to ``P`` features by ``weight_hr``
        ``(P, H)`` (Sak et al. 2014; PyTorch's ``nn.LSTM(proj_size=...)``), and
        ``weight_hh`` is ``(3H, P)``.
    """
    gates = 3
    state_count = 2
    forget_slice = 0

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=0.0, proj_size=0):
        super().__init__(input_size, hidden_size, bias, forget_bias, proj_size)

    def step_function(self):
        return _coupled_step, (self.weight_hh.T, *self._projection_weights())


@mg.fuse
def _coupled_step(projected, h, c, weight_hh_t, *weight_hr_t):
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
        h = _project(o * mg.tanh(c), weight_hr_t)
    _record_lstm(i, f, g, o, c, h)
    return h, c


def _project(h, weight_hr_t):
    """``h @ weight_hr.T`` when the cell projects its output (``weight_hr_t`` holds the
    transposed weight), else ``h``."""
    return h @ weight_hr_t[0] if weight_hr_t else h


def _record_lstm(i, f, g, o, c, h):
    record_gate("input_gate", i)
    record_gate("forget_gate", f)
    record_gate("cell_candidate", g)
    record_gate("output_gate", o)
    record_gate("cell_state", c)
    record_gate("hidden_state", h)


class GRUCell(_GatedCell):
    """Gated recurrent unit (Cho et al. 2014), as PyTorch's ``nn.GRUCell``.

    Calling the cell, ``cell(x, h=None) -> h'``: ``x`` is ``(B, input_size)`` (or unbatched
    ``(input_size,)``), ``h`` and ``h'`` are ``(B, hidden_size)``; zeros when ``h`` is None.
    ``h' = (1 - z) * n + z * h``. Parameters ``weight_ih (3H, I)``,
    ``weight_hh (3H, H)``, ``bias_ih (3H,)``, ``bias_hh (3H,)``; gate order r, z, n.

    Parameters
    ----------
    input_size : int
        ``I``, the features of ``x``.
    hidden_size : int
        ``H``, the features of ``h``.
    bias : bool
        Whether the cell has ``bias_ih`` and ``bias_hh``.
    reset_after : bool
        True (PyTorch, cuDNN): ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``.
        False (the original paper; Keras' ``reset_after=False``):
        ``n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)``.
    """
    gates = 3

    def __init__(self, input_size, hidden_size, bias=True, reset_after=True):
        checks.check_bool("GRUCell", "reset_after", reset_after)
        super().__init__(input_size, hidden_size, bias)
        self.reset_after = reset_after

    def forward(self, x, h=None):
        """One step.

        Parameters
        ----------
        x : Tensor
            ``(B, input_size)``, or unbatched ``(input_size,)``.
        h : Tensor, optional
            ``(B, hidden_size)``; zeros when None.

        Returns
        -------
        Tensor
            The next ``h``, ``(B, hidden_size)``.
        """
        return super().forward(x, h)

    def projection_function(self):
        """``x @ weight_ih.T + bias_ih``, as a function of tensors (``b_hn`` sits
        inside the reset product, so it stays in the step).

        Returns
        -------
        tuple
            ``(function, params)``, as :meth:`RecurrentCell.projection_function`.
        """
        return _input_projection, (self.weight_ih.T, *((self.bias_ih,) if self.bias else ()))

    def step_function(self):
        # Cho et al. 2014: r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
        #                  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
        #   reset_after:   n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
        #   otherwise:     n = tanh(W_in x + b_in + W_hn (r * h) + b_hn)
        #                  h' = (1 - z) * n + z * h
        bias = (self.bias_hh,) if self.bias else ()
        if self.reset_after:
            return _gru_step, (self.weight_hh.T, *bias)
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
    """The last axis normalised to zero mean and unit variance, then ``* gain + shift``.

    Recorded inside ``mg.scope(name)``, so a graph can fold it into one box.

    Parameters
    ----------
    x : Tensor
        ``(..., N)``.
    gain, shift : Tensor
        ``(N,)``.
    eps : float
        Added to the variance.
    name : str
        The scope's name.

    Returns
    -------
    Tensor
        The shape of ``x``.
    """
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
    at 1 and 0. Called as :class:`LSTMCell`.

    Parameters
    ----------
    input_size : int
        The features of ``x``.
    hidden_size : int
        ``H``, the features of ``h`` and ``c``.
    bias : bool
        Whether the cell has ``bias_ih``.
    forget_bias : float
        Added to the forget-gate slice of ``bias_ih`` at initialisation (1.0 is the usual
        choice for learning long dependencies; 0.0 matches PyTorch).
    proj_size : int
        0, or ``P < hidden_size``: ``h`` is projected to ``P`` features by ``weight_hr``
        ``(P, H)`` (Sak et al. 2014; PyTorch's ``nn.LSTM(proj_size=...)``), and
        ``weight_hh`` is ``(4H, P)``.
    """
    state_count = 2

    def __init__(self, input_size, hidden_size, bias=True, forget_bias=0.0, proj_size=0):
        super().__init__(input_size, hidden_size)
        checks.check_bool(type(self).__name__, "bias", bias)
        if proj_size:
            checks.check_proj_size(type(self).__name__, proj_size, hidden_size)
            self.output_size = proj_size
        self.weight_ih = self._parameter(4 * hidden_size, input_size)
        self.weight_hh = self._parameter(4 * hidden_size, self.output_size)
        self.bias = bias
        if bias:
            self.bias_ih = Parameter(mg.zeros(4 * hidden_size))
            self.bias_ih.data[hidden_size:2 * hidden_size] = forget_bias
        if proj_size:
            self.weight_hr = self._parameter(proj_size, hidden_size)   # as LSTMCell's
        for name, size in (("ih", 4 * hidden_size), ("hh", 4 * hidden_size), ("c", hidden_size)):
            setattr(self, f"norm_{name}_gain", Parameter(mg.ones(size)))
            setattr(self, f"norm_{name}_shift", Parameter(mg.zeros(size)))

    def projection_function(self):
        """``LN(x @ weight_ih.T) + bias_ih``, as a function of tensors.

        Returns
        -------
        tuple
            ``(function, params)``, as :meth:`RecurrentCell.projection_function`.
        """
        return _layer_norm_projection, (self.weight_ih.T, self.norm_ih_gain,
                                        self.norm_ih_shift,
                                        *((self.bias_ih,) if self.bias else ()))

    def step_function(self):
        projection = (self.weight_hr.T,) if self.output_size != self.hidden_size else ()
        return _layer_norm_lstm_step, (self.weight_hh.T, self.norm_hh_gain,
                                       self.norm_hh_shift, self.norm_c_gain,
                                       self.norm_c_shift, *projection)


def _layer_norm_projection(x, weight_ih_t, gain, shift, *bias):
    projected = layer_norm(x @ weight_ih_t, gain, shift, name="input_norm")
    return projected + bias[0] if bias else projected


def _layer_norm_lstm_step(projected, h, c, weight_hh_t, hh_gain, hh_shift, c_gain, c_shift,
                          *weight_hr_t):
    recurrent = _recurrent_norm(h, weight_hh_t, hh_gain, hh_shift)
    return _layer_norm_lstm_update(projected, recurrent, c, c_gain, c_shift, *weight_hr_t)


@mg.fuse
def _recurrent_norm(h, weight_hh_t, gain, shift):
    """``LN(h W_hh^T)``, recorded as one op."""
    return layer_norm(h @ weight_hh_t, gain, shift, name="recurrent_norm")


@mg.fuse
def _layer_norm_lstm_update(projected, recurrent, c, cell_gain, cell_shift, *weight_hr_t):
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
        h = _project(o * mg.tanh(layer_norm(c, cell_gain, cell_shift, name="cell_norm")),
                     weight_hr_t)
    _record_lstm(i, f, g, o, c, h)
    return h, c

