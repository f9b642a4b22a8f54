# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 3. Peepholes, coupled gates and the GRU
#
# *From the LSTM walk-through to code, part 3 of 5.*
#
# The walk-through ends with three variants of the LSTM. Each ships in `minigrad.models` as a
# cell and as a layer (`PeepholeLSTM`, `CoupledLSTM`, `GRU`). As in part 2, we write
# each step from its equations with minigrad ops, compare it with the library's cell,
# and draw what the cell records. Along the way we meet two places where the
# walk-through's notation and the code's disagree, one of them a real trap.

# %%
import numpy as np

import minigrad as mg
from minigrad.models import CoupledLSTMCell, GRUCell, PeepholeLSTMCell, drawing

mg.manual_seed(0)
batch, input_size, hidden_size = 2, 3, 4
x_t = mg.randn(batch, input_size)
h_prev = mg.randn(batch, hidden_size)
c_prev = mg.randn(batch, hidden_size)
x_t.name, h_prev.name, c_prev.name = "x_t", "h_prev", "c_prev"


def gate_blocks(cell, x_t, h_prev):
    """Each gate's pre-activation W_i* x + b_i* + W_h* h + b_h*, cut in the cell's
    gate order (the walk-through's W . [h, x] + b, part 2)."""
    stacked = x_t @ cell.weight_ih.T + cell.bias_ih + h_prev @ cell.weight_hh.T \
        + cell.bias_hh
    return stacked.chunk(cell.weight_ih.shape[0] // cell.hidden_size, axis=1)


def largest_difference(ours, theirs):
    return float(np.abs(ours.numpy() - theirs.numpy()).max())

# %% [markdown]
# ## Peephole connections
#
# Gers & Schmidhuber (2000) let the gates look at the cell state itself: the input and
# forget gates see the old state $c_{t-1}$, the output gate sees the new one $c_t$. The
# walk-through writes the peephole as part of the matrix, $W_f \cdot [C_{t-1}, h_{t-1},
# x_t]$. The cells here use the diagonal form that most implementations use (Greff et
# al.'s study of LSTM variants, TensorFlow's peephole option): one weight per unit,
# multiplied element-wise, `weight_ci`, `weight_cf` and `weight_co`, each `(H,)`.
#
# $$i_t = \sigma(a_i + w_{ci} \odot c_{t-1}), \quad
#   f_t = \sigma(a_f + w_{cf} \odot c_{t-1}), \quad
#   c_t = f_t \odot c_{t-1} + i_t \odot \tanh(a_g), \quad
#   o_t = \sigma(a_o + w_{co} \odot c_t)$$
#
# where $a_i, a_f, a_g, a_o$ are the pre-activations of part 2. Note the order: the
# output gate is computed after the cell update, because it reads $c_t$.

# %%
peephole = PeepholeLSTMCell(input_size, hidden_size)
a_i, a_f, a_g, a_o = gate_blocks(peephole, x_t, h_prev)
i_t = mg.sigmoid(a_i + peephole.weight_ci * c_prev)
f_t = mg.sigmoid(a_f + peephole.weight_cf * c_prev)
c_t = f_t * c_prev + i_t * mg.tanh(a_g)
o_t = mg.sigmoid(a_o + peephole.weight_co * c_t)
h_t = o_t * mg.tanh(c_t)

h_cell, c_cell = peephole(x_t, (h_prev, c_prev))
print("peephole: largest difference in h", largest_difference(h_t, h_cell),
      "in c", largest_difference(c_t, c_cell))
assert np.allclose(h_t.numpy(), h_cell.numpy(), atol=1e-6)

# %%
h_cell.name, c_cell.name = "h_t", "c_t"
drawing.graph(h_cell, c_cell, highlight=(c_prev, c_cell))

# %% [markdown]
# ## Coupled input and forget gates
#
# Instead of deciding separately what to forget and what to write, the coupled cell
# makes one decision: it writes new values exactly where it forgets old ones, with
# $i_t = 1 - f_t$ (Greff et al., 2017, call it CIFG). The input gate's weights are gone,
# so the stacked weights have three blocks instead of four, in the order **f, g, o**.
#
# $$c_t = f_t \odot c_{t-1} + (1 - f_t) \odot \tanh(a_g)$$

# %%
coupled = CoupledLSTMCell(input_size, hidden_size)
print("weight_ih", coupled.weight_ih.shape, "(3H, I): f, g, o")
a_f, a_g, a_o = gate_blocks(coupled, x_t, h_prev)
f_t = mg.sigmoid(a_f)
c_t = f_t * c_prev + (1 - f_t) * mg.tanh(a_g)
h_t = mg.sigmoid(a_o) * mg.tanh(c_t)

h_cell, c_cell = coupled(x_t, (h_prev, c_prev))
print("coupled: largest difference in h", largest_difference(h_t, h_cell),
      "in c", largest_difference(c_t, c_cell))
assert np.allclose(h_t.numpy(), h_cell.numpy(), atol=1e-6)

# %%
h_cell.name, c_cell.name = "h_t", "c_t"
drawing.graph(h_cell, c_cell, highlight=(c_prev, c_cell))

# %% [markdown]
# ## The GRU
#
# The gated recurrent unit of Cho et al. (2014) goes further: it merges the cell state
# into the hidden state, and the forget and input gates into one **update gate**. A
# **reset gate** decides how much of the old state the candidate may see. The
# walk-through (after colah) writes it as
#
# $$z_t = \sigma(W_z \cdot [h_{t-1}, x_t]), \quad
#   r_t = \sigma(W_r \cdot [h_{t-1}, x_t]), \quad
#   \tilde{h}_t = \tanh(W \cdot [r_t \odot h_{t-1}, x_t]), \quad
#   h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde{h}_t.$$
#
# `GRUCell` follows PyTorch instead. Its stacked weights are in the order **r, z, n**
# (`n` is the candidate, colah's $\tilde{h}_t$), and its last line is
#
# $$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}.$$
#
# Two notes before comparing numbers:
#
# 1. **Our $z$ means the opposite of colah's.** In colah's form $z_t$ is the share of
#    the *new* candidate; in PyTorch's (and in this code) it is the share of the *old*
#    state that is kept. The same weights give colah's gate as $1 - z_t$.
# 2. **colah's GRU is `GRUCell(..., reset_after=False)`.** colah applies the reset gate
#    to $h_{t-1}$ *before* the candidate's product, $W \cdot [r_t \odot h_{t-1}, x_t]$.
#    PyTorch (and cuDNN) apply it *after*: $n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot
#    (W_{hn} h_{t-1} + b_{hn}))$. That is `GRUCell`'s default, `reset_after=True`; the
#    other placement is `reset_after=False`. The two give different numbers, so weights
#    trained with one do not carry over to the other.
#
# (colah's equations also leave out the biases; the code keeps PyTorch's `bias_ih` and
# `bias_hh`, which for the gates simply add up.) Here is colah's GRU written with the
# weights of a `GRUCell`, with his $z$ as one minus ours:

# %%
def colah_gru_step(cell, x_t, h_prev):
    """The walk-through's GRU, from a GRUCell's weights (gate order r, z, n)."""
    x_r, x_z, x_n = (x_t @ cell.weight_ih.T + cell.bias_ih).chunk(3, axis=1)
    W_hr, W_hz, W_hn = cell.weight_hh.chunk(3, axis=0)
    b_hr, b_hz, b_hn = cell.bias_hh.chunk(3, axis=0)
    r_t = mg.sigmoid(x_r + h_prev @ W_hr.T + b_hr)
    z_ours = mg.sigmoid(x_z + h_prev @ W_hz.T + b_hz)
    z_colah = 1 - z_ours                           # colah's z: the share of the new
    h_tilde = mg.tanh(x_n + (r_t * h_prev) @ W_hn.T + b_hn)  # reset before the product
    return (1 - z_colah) * h_prev + z_colah * h_tilde


gru = GRUCell(input_size, hidden_size)                    # reset_after=True, PyTorch's
colah_placed = GRUCell(input_size, hidden_size, reset_after=False)
colah_placed.load_state_dict(gru.state_dict())            # the same weights

h_colah = colah_gru_step(gru, x_t, h_prev)
reset_before = colah_placed(x_t, h_prev)
reset_after = gru(x_t, h_prev)

print("colah vs GRUCell(reset_after=False):", largest_difference(h_colah, reset_before))
print("colah vs GRUCell(reset_after=True): ", largest_difference(h_colah, reset_after))
assert np.allclose(h_colah.numpy(), reset_before.numpy(), atol=1e-6)
assert not np.allclose(h_colah.numpy(), reset_after.numpy(), atol=1e-3)

# %% [markdown]
# The first difference is float32 rounding; the second is a different function. In the
# drawing of a GRU step (PyTorch's placement) the bold path is the update gate's
# highway $z_t \odot h_{t-1}$: where $z_t$ is close to 1 the state passes through the
# step unchanged, which is the GRU's answer to the vanishing gradient.

# %%
reset_after.name = "h_t"
drawing.graph(reset_after, highlight=(h_prev, reset_after))

# %% [markdown]
# Next, part 4 (*Bidirectional and stacked RNNs*) puts cells together into layers.
