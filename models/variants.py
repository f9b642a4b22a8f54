"""The LSTM variants of Greff et al. 2015 ("LSTM: A Search Space Odyssey"), as cells.

The vanilla LSTM of the paper (V) is the peephole LSTM, written with the paper's names
(block input ``z``, gates ``i``, ``f``, ``o``, cell ``c``, output ``y``)::

    z = g(W_z x + R_z y' + b_z)                 g = tanh (block input activation)
    i = sigmoid(W_i x + R_i y' + p_i * c' + b_i)
    f = sigmoid(W_f x + R_f y' + p_f * c' + b_f)
    c = z * i + c' * f
    o = sigmoid(W_o x + R_o y' + p_o * c + b_o)
    y = h(c) * o                                h = tanh (output activation)

(``'`` marks the previous step). Each variant changes one thing (section III of the
paper): NIG ``i = 1``, NFG ``f = 1``, NOG ``o = 1``, NIAF ``g(x) = x``, NOAF ``h(x) = x``,
NP no peepholes, CIFG one gate for both (``f = 1 - i`` in the paper; here ``i = 1 - f``,
the same family of functions since ``1 - sigmoid(a) = sigmoid(-a)`` and the weights'
initialisation is symmetric, which keeps the layout of :class:`~models.CoupledLSTMCell`),
FGR full gate recurrence (each gate also sees all three gates of the previous step
through nine more ``H x H`` matrices, stacked as ``weight_gg (3H, 3H)``).

Parameters are in PyTorch's blocked layout, with the blocks a variant has, in the order
i, f, g, o (``g`` is the paper's ``z``): NIG has ``weight_ih (3H, I)`` for f, g, o, and
so on. Peepholes are ``weight_ci``, ``weight_cf``, ``weight_co`` ``(H,)`` for the gates
that exist. So V's parameters are :class:`~models.PeepholeLSTMCell`'s, NP's are
:class:`~models.LSTMCell`'s, and CIFG's are :class:`~models.CoupledLSTMCell`'s plus
``weight_cf`` and ``weight_co``: the same parameters give the same numbers
(tests/models/test_variants.py).

Every variant is one class that sets a few switches on :class:`GreffLSTMCell`; the step
is made from the switches once per class and fused (``mg.fuse``). ``VARIANTS`` maps the
paper's abbreviations (plus ``GRU``) to the cell classes.
"""
from __future__ import annotations

import minigrad as mg

from .cells import GRUCell, _GatedCell
from .gates import record_gate

__all__ = ["GreffLSTMCell", "VanillaCell", "NIGCell", "NFGCell", "NOGCell", "NIAFCell",
           "NOAFCell", "NPCell", "CIFGCell", "FGRCell", "VARIANTS"]


class GreffLSTMCell(_GatedCell):
    """An LSTM cell of Greff et al. 2015, its structure chosen by class attributes.

    Parameters
    ----------
    input_size, hidden_size : int
    bias : bool

    ``cell(x, state=None) -> state``: ``x`` is ``(B, input_size)``; the state is
    ``(h, c)``, each ``(B, hidden_size)`` (FGR: ``(h, c, gates)``, ``gates`` the previous
    step's ``i, f, o`` side by side, ``(B, 3 * hidden_size)``). Parameters
    ``weight_ih (nH, I)``, ``weight_hh (nH, H)``, ``bias_ih``, ``bias_hh`` ``(nH,)`` for
    the ``n`` blocks the variant has (order i, f, g, o), peepholes ``weight_c*`` ``(H,)``.

    Subclasses set (all true for the vanilla LSTM):

    - ``input_gate``, ``forget_gate``, ``output_gate``: the gate exists (else it is 1);
    - ``input_activation``, ``output_activation``: ``g`` and ``h`` are tanh (else the
      identity);
    - ``peepholes``: the gates see the cell;
    - ``coupled``: the input gate is ``1 - f`` (CIFG);
    - ``full_gate_recurrence``: the gates see the previous step's gates (FGR).
    """
    state_count = 2
    input_gate = forget_gate = output_gate = True
    input_activation = output_activation = True
    peepholes = True
    coupled = False
    full_gate_recurrence = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._configure()

    @classmethod
    def _configure(cls):
        """The blocks, peepholes and fused step of this class's switches."""
        computed_input_gate = cls.input_gate and not cls.coupled
        cls.blocks = tuple(name for name, present in (
            ("i", computed_input_gate), ("f", cls.forget_gate), ("g", True),
            ("o", cls.output_gate)) if present)
        cls.gates = len(cls.blocks)
        cls.peephole_names = tuple(f"weight_c{name}" for name in cls.blocks
                                   if cls.peepholes and name != "g")
        if cls.coupled and not cls.forget_gate:
            raise TypeError(f"{cls.__name__}: a coupled input gate needs the forget gate")
        if cls.full_gate_recurrence:
            cls.state_count = 3
        cls._step = mg.fuse(_make_step(cls))
        cls._step.__name__ = f"_{cls.__name__}_step"

    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__(input_size, hidden_size, bias)
        for name in self.peephole_names:
            setattr(self, name, self._parameter(hidden_size))
        if self.full_gate_recurrence:
            self.weight_gg = self._parameter(3 * hidden_size, 3 * hidden_size)

    def state_sizes(self):
        """``(H, H)``, and ``3H`` for the previous gates of FGR."""
        sizes = (self.output_size, self.hidden_size)
        return sizes + ((3 * self.hidden_size,) if self.full_gate_recurrence else ())

    def step_function(self):
        """``(step, (weight_hh.T, *peepholes, [weight_gg.T]))``: the fused step of this
        variant and the tensors it takes after the projected input and the state."""
        peepholes = tuple(getattr(self, name) for name in self.peephole_names)
        recurrence = (self.weight_gg.T,) if self.full_gate_recurrence else ()
        return self._step, (self.weight_hh.T, *peepholes, *recurrence)


def _make_step(cls):
    """The step of the variant ``cls`` as a function of tensors: ``(projected, h, c,
    [gates], weight_hh_t, *peepholes, [weight_gg_t]) -> (h, c, [gates])``."""
    blocks, peephole_names = cls.blocks, cls.peephole_names
    full = cls.full_gate_recurrence

    def step(projected, h, c, *rest):
        previous_gates, rest = (rest[0], rest[1:]) if full else (None, rest)
        weight_hh_t, rest = rest[0], rest[1:]
        peephole = dict(zip(peephole_names, rest[:len(peephole_names)]))
        pre = dict(zip(blocks, (projected + h @ weight_hh_t).chunk(len(blocks), axis=1)))
        if full:
            # FGR: i, f, o each get R_*i i' + R_*f f' + R_*o o' (one (3H, 3H) product)
            gate_input = dict(zip("ifo", (previous_gates @ rest[-1]).chunk(3, axis=1)))
            for name in "ifo":
                if name in pre:
                    pre[name] = pre[name] + gate_input[name]

        def gate(name, cell):
            with mg.scope({"i": "input_gate", "f": "forget_gate", "o": "output_gate"}[name]):
                a = pre[name]
                if f"weight_c{name}" in peephole:
                    a = a + peephole[f"weight_c{name}"] * cell
                return mg.sigmoid(a)

        # a gate that is absent is 1: its product is left out
        f = gate("f", c) if cls.forget_gate else None
        if cls.coupled:
            with mg.scope("input_gate"):
                i = 1 - f
        else:
            i = gate("i", c) if cls.input_gate else None
        with mg.scope("cell_candidate"):
            z = mg.tanh(pre["g"]) if cls.input_activation else pre["g"]
        with mg.scope("cell_state"):
            c = (c if f is None else f * c) + (z if i is None else i * z)
        o = gate("o", c) if cls.output_gate else None          # o sees the new cell
        with mg.scope("hidden_state"):
            squashed = mg.tanh(c) if cls.output_activation else c
            h = squashed if o is None else o * squashed
        for name, value in (("input_gate", i), ("forget_gate", f), ("cell_candidate", z),
                            ("output_gate", o), ("cell_state", c), ("hidden_state", h)):
            if value is not None:
                record_gate(name, value)
        if not full:
            return h, c
        # the next step's gate recurrence reads this step's gates (1 where absent)
        ones = c * 0 + 1
        gates = mg.concat([ones if g is None else g for g in (i, f, o)], axis=1)
        return h, c, gates

    step.__name__ = f"_{cls.__name__}_step"
    return step


GreffLSTMCell._configure()


class VanillaCell(GreffLSTMCell):
    """V: the vanilla LSTM of Greff et al. (peepholes; :class:`~models.PeepholeLSTMCell`'s
    parameters and numbers)."""


class NIGCell(GreffLSTMCell):
    """NIG: no input gate (``i = 1``)."""
    input_gate = False


class NFGCell(GreffLSTMCell):
    """NFG: no forget gate (``f = 1``)."""
    forget_gate = False


class NOGCell(GreffLSTMCell):
    """NOG: no output gate (``o = 1``)."""
    output_gate = False


class NIAFCell(GreffLSTMCell):
    """NIAF: no input activation function (``g(x) = x``)."""
    input_activation = False


class NOAFCell(GreffLSTMCell):
    """NOAF: no output activation function (``h(x) = x``)."""
    output_activation = False


class NPCell(GreffLSTMCell):
    """NP: no peepholes (:class:`~models.LSTMCell`'s parameters and numbers)."""
    peepholes = False


class CIFGCell(GreffLSTMCell):
    """CIFG: coupled input and forget gate (``i = 1 - f``; peepholes on ``f`` and
    ``o``)."""
    coupled = True


class FGRCell(GreffLSTMCell):
    """FGR: full gate recurrence (``weight_gg (3H, 3H)``: i, f, o from the previous
    step's i, f, o)."""
    full_gate_recurrence = True


#: the paper's abbreviations, and the GRU (Cho et al. 2014) beside them
VARIANTS = {"V": VanillaCell, "NIG": NIGCell, "NFG": NFGCell, "NOG": NOGCell,
            "NIAF": NIAFCell, "NOAF": NOAFCell, "NP": NPCell, "CIFG": CIFGCell,
            "FGR": FGRCell, "GRU": GRUCell}
