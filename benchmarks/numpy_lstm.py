"""A hand-written NumPy LSTM, forward and backward with no autograd: the floor that
minigrad's LSTM step is measured against.

Parameters use PyTorch's layout and names (``weight_ih (4H, I)``, ``weight_hh (4H, H)``,
``bias_ih``, ``bias_hh``; gate blocks i, f, g, o). The equations (Hochreiter &
Schmidhuber 1997 with the forget gate of Gers et al. 2000, as ``torch.nn.LSTM``)::

    [a_i, a_f, a_g, a_o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh
    i, f, o = sigmoid(a_i), sigmoid(a_f), sigmoid(a_o);   g = tanh(a_g)
    c_t = f * c_{t-1} + i * g;   h_t = o * tanh(c_t)

What makes it fast: one GEMM for the input projections of all steps, one GEMM per step
for the recurrence (forward and backward), the weight gradients as two GEMMs over all
steps after the backward loop, buffers allocated once per shape, every elementwise op
in place, and sigmoid as ``0.5 * tanh(0.5 x) + 0.5`` (one transcendental, no overflow).
The backward pass overwrites each step's gate activations with the gate gradients, so
a step stores 7H numbers per sequence (gates 4H, c, tanh c, h), and nothing more.

``xp`` may be CuPy instead of NumPy: only ufuncs with ``out=``, ``dot`` with ``out=`` and
slicing are used.
"""
from __future__ import annotations

import numpy as np


def _sigmoid_(a, xp):
    """In place: sigmoid(a) = 0.5 * tanh(0.5 a) + 0.5."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5


class NumpyLSTM:
    """One LSTM layer with a manual backward pass.

    Parameters
    ----------
    input_size, hidden_size : int
    dtype : NumPy dtype, default float32
    seed : int
        Initialisation as PyTorch's: uniform in ``[-1/sqrt(H), 1/sqrt(H)]``.
    xp : module
        ``numpy`` (default) or ``cupy``.

    Attributes
    ----------
    weight_ih (4H, I), weight_hh (4H, H), bias_ih (4H,), bias_hh (4H,) : arrays
    grads : dict
        name -> gradient array of the same shape, written by :meth:`backward`.
    """

    PARAM_NAMES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")

    def __init__(self, input_size, hidden_size, dtype=np.float32, seed=0, xp=np):
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.dtype = np.dtype(dtype)
        self.xp = xp
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(hidden_size)
        shapes = {"weight_ih": (4 * hidden_size, input_size),
                  "weight_hh": (4 * hidden_size, hidden_size),
                  "bias_ih": (4 * hidden_size,), "bias_hh": (4 * hidden_size,)}
        for name, shape in shapes.items():
            value = rng.uniform(-bound, bound, shape).astype(self.dtype)
            setattr(self, name, xp.asarray(value))
        self.grads = {name: xp.zeros(shape, dtype=self.dtype) for name, shape in shapes.items()}
        self._buffers_key = None

    # ------------------------------------------------------------------ state

    def load(self, params):
        """Copy parameters in from a mapping name -> array (e.g. a PyTorch state dict
        converted to NumPy, with or without the ``_l0`` suffix)."""
        for name in self.PARAM_NAMES:
            value = params[name] if name in params else params[name + "_l0"]
            getattr(self, name)[...] = self.xp.asarray(np.asarray(value), dtype=self.dtype)

    def state(self):
        """name -> array (the live parameters, not copies)."""
        return {name: getattr(self, name) for name in self.PARAM_NAMES}

    def _buffers(self, T, B):
        """Per-shape work arrays, allocated on the first call with a new (T, B)."""
        if self._buffers_key != (T, B):
            xp, H, dt = self.xp, self.hidden_size, self.dtype
            self.gates = xp.empty((T, B, 4 * H), dtype=dt)   # activations, then gradients
            self.cells = xp.empty((T + 1, B, H), dtype=dt)   # c_0 .. c_T
            self.tanh_cells = xp.empty((T, B, H), dtype=dt)  # tanh(c_1) .. tanh(c_T)
            self.hiddens = xp.empty((T + 1, B, H), dtype=dt)  # h_0 .. h_T
            self.recurrent = xp.empty((B, 4 * H), dtype=dt)  # h_{t-1} W_hh^T
            self.dh = xp.empty((B, H), dtype=dt)
            self.dc = xp.empty((B, H), dtype=dt)
            self.dc_next = xp.empty((B, H), dtype=dt)
            self.scratch = xp.empty((B, H), dtype=dt)
            self.scratch2 = xp.empty((B, H), dtype=dt)
            self._buffers_key = (T, B)

    # ------------------------------------------------------------------ forward

    def forward(self, x, h0=None, c0=None):
        """Run the sequence, keeping what backward needs.

        Parameters
        ----------
        x : array (T, B, I)
        h0, c0 : arrays (B, H), optional (zeros)

        Returns
        -------
        output : array (T, B, H)
            A view of the stored hidden states: copy it before the next forward.
        (h_n, c_n) : arrays (B, H), views likewise
        """
        xp = self.xp
        T, B, _ = x.shape
        H = self.hidden_size
        self._buffers(T, B)
        self.x = x
        gates, cells, tanh_cells, hiddens = self.gates, self.cells, self.tanh_cells, self.hiddens
        if h0 is None:
            hiddens[0].fill(0)
        else:
            hiddens[0] = h0
        if c0 is None:
            cells[0].fill(0)
        else:
            cells[0] = c0
        # input projections of all steps in one GEMM, both biases folded in
        flat = gates.reshape(T * B, 4 * H)
        xp.dot(x.reshape(T * B, -1), self.weight_ih.T, out=flat)
        flat += self.bias_ih
        flat += self.bias_hh
        whh_t = self.weight_hh.T
        recurrent = self.recurrent
        for t in range(T):
            a = gates[t]
            xp.dot(hiddens[t], whh_t, out=recurrent)
            a += recurrent
            _sigmoid_(a[:, :2 * H], xp)          # i, f
            _sigmoid_(a[:, 3 * H:], xp)          # o
            g = a[:, 2 * H:3 * H]
            xp.tanh(g, out=g)
            c = cells[t + 1]
            xp.multiply(a[:, H:2 * H], cells[t], out=c)          # f * c_{t-1}
            xp.multiply(a[:, :H], g, out=self.scratch)           # i * g
            c += self.scratch
            xp.tanh(c, out=tanh_cells[t])
            xp.multiply(a[:, 3 * H:], tanh_cells[t], out=hiddens[t + 1])
        return hiddens[1:], (hiddens[T], cells[T])

    # ------------------------------------------------------------------ backward

    def backward(self, grad_output=None, grad_h_n=None, grad_c_n=None, input_grad=False):
        """Backpropagation through time for the last :meth:`forward`.

        Parameters
        ----------
        grad_output : array (T, B, H), optional
            Gradient of the loss with respect to every output.
        grad_h_n, grad_c_n : arrays (B, H), optional
            Gradients with respect to the final state.
        input_grad : bool
            Also return the gradients of ``x``, ``h0`` and ``c0``.

        Returns
        -------
        dict
            :attr:`grads` (name -> array), plus ``"x"``, ``"h0"``, ``"c0"`` when
            ``input_grad``. The gate activations are overwritten: call
            :meth:`forward` again before another backward.
        """
        xp = self.xp
        gates, cells, tanh_cells, hiddens = self.gates, self.cells, self.tanh_cells, self.hiddens
        T, B, _ = gates.shape
        H = self.hidden_size
        dh, dc, dc_next, s1, s2 = self.dh, self.dc, self.dc_next, self.scratch, self.scratch2
        dh[...] = 0 if grad_h_n is None else grad_h_n
        dc[...] = 0 if grad_c_n is None else grad_c_n
        weight_hh = self.weight_hh
        for t in range(T - 1, -1, -1):
            if grad_output is not None:
                dh += grad_output[t]
            a = gates[t]
            i, f, g, o = a[:, :H], a[:, H:2 * H], a[:, 2 * H:3 * H], a[:, 3 * H:]
            tc = tanh_cells[t]
            # dc += dh * o * (1 - tanh(c)^2)
            xp.multiply(tc, tc, out=s1)
            xp.subtract(1, s1, out=s1)
            s1 *= o
            s1 *= dh
            dc += s1
            # d a_o = dh * tanh(c) * o (1 - o), written over o
            xp.subtract(1, o, out=s1)
            s1 *= tc
            s1 *= dh
            o *= s1
            # d a_i = dc * g * i (1 - i);  d a_g = dc * i * (1 - g^2)
            xp.subtract(1, i, out=s1)
            s1 *= g
            xp.multiply(g, g, out=s2)
            xp.subtract(1, s2, out=s2)
            s2 *= i
            xp.multiply(s2, dc, out=g)
            s1 *= dc
            i *= s1
            # d a_f = dc * c_{t-1} * f (1 - f);  dc_{t-1} = dc * f
            xp.multiply(dc, f, out=dc_next)
            xp.subtract(1, f, out=s1)
            s1 *= cells[t]
            s1 *= dc
            f *= s1
            dc, dc_next = dc_next, dc
            # dh_{t-1} = d a W_hh
            xp.dot(a, weight_hh, out=dh)
        self.dc, self.dc_next = dc, dc_next
        # weight gradients over all steps at once
        flat = gates.reshape(T * B, 4 * H)
        grads = self.grads
        xp.dot(flat.T, self.x.reshape(T * B, -1), out=grads["weight_ih"])
        xp.dot(flat.T, hiddens[:T].reshape(T * B, H), out=grads["weight_hh"])
        flat.sum(axis=0, out=grads["bias_ih"])
        grads["bias_hh"][...] = grads["bias_ih"]
        if not input_grad:
            return grads
        result = dict(grads)
        result["x"] = (flat @ self.weight_ih).reshape(self.x.shape)
        result["h0"] = dh.copy()
        result["c0"] = dc.copy()
        return result

    # ------------------------------------------------------------------ training

    def train_step(self, x, target, lr=0.01, loss="all"):
        """Forward, mean squared error, full BPTT, plain SGD. Returns the loss.

        Parameters
        ----------
        x : array (T, B, I)
        target : array (T, B, H) for ``loss="all"`` (every output), (B, H) for
            ``loss="last"`` (the last hidden state)
        """
        output, (h_n, _) = self.forward(x)
        if loss == "all":
            diff = output - target
            value = float((diff * diff).mean())
            diff *= 2.0 / diff.size
            self.backward(grad_output=diff)
        elif loss == "last":
            diff = h_n - target
            value = float((diff * diff).mean())
            diff *= 2.0 / diff.size
            self.backward(grad_h_n=diff)
        else:
            raise ValueError(f"loss must be 'all' or 'last', got {loss!r}")
        for name in self.PARAM_NAMES:
            param, grad = getattr(self, name), self.grads[name]
            grad *= lr
            param -= grad
        return value
