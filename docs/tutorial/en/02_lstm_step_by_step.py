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
# # 2. The LSTM cell, one gate at a time
#
# *From the LSTM walk-through to code, part 2 of 5.*
#
# An LSTM (Hochreiter & Schmidhuber, 1997; the forget gate is from Gers, Schmidhuber &
# Cummins, 2000) carries two states from step to step: the hidden state $h_t$, which is
# also its output, and the **cell state** $c_t$, a memory that the cell edits with
# element-wise products and sums only. Three sigmoid gates decide what happens to that
# memory: the forget gate (what to erase), the input gate (what to write) and the
# output gate (what to show). A fourth layer, with a $\tanh$, proposes the values to
# write.
#
# Here we build one step of the cell from minigrad ops, one gate at a time, draw each
# piece as it grows with `mg.viz`, and finally check that the result agrees with
# `minigrad.models.LSTMCell` up to float32 rounding.
#
# ## Notation: the walk-through's symbols and ours
#
# The walk-through follows colah's "Understanding LSTM Networks" (2015). The code follows
# PyTorch, so that PyTorch weights load as they are. Three differences:
#
# | walk-through | this code | |
# | --- | --- | --- |
# | $C_t$, the cell state | `c` | lower case, as in PyTorch |
# | $\tilde{C}_t$, the candidate values | `g` | the third of the four blocks, gate order **i, f, g, o** |
# | $W_f \cdot [h_{t-1}, x_t] + b_f$ | `W_if x + b_if + W_hf h + b_hf` | one matrix on the concatenation, or two matrices and two biases |
#
# The last row is the same computation written two ways: a matrix acting on the
# concatenation $[h_{t-1}, x_t]$ splits, column-wise, into a block that multiplies
# $h_{t-1}$ and a block that multiplies $x_t$. PyTorch keeps the two blocks apart
# (`weight_hh` and `weight_ih`) and keeps two biases whose sum plays the role of the
# walk-through's single $b_f$. Each is stacked for all four gates: `weight_ih` is
# `(4H, I)`, rows `0:H` for the input gate, `H:2H` for the forget gate, and so on.

# %%
import numpy as np

import minigrad as mg
from minigrad.nn import Parameter
from minigrad.models import LSTMCell, drawing

mg.manual_seed(0)
batch, input_size, hidden_size = 2, 3, 4
cell = LSTMCell(input_size, hidden_size)
for name, parameter in cell.named_parameters():
    print(f"{name:<10} {parameter.shape}")

# %% [markdown]
# To write the walk-through's equations literally, we cut each gate's block out of the
# stacked weights and join its two halves into one matrix $W$ of shape `(H, H + I)`,
# with one bias $b$. `Parameter` makes each a leaf of its own, so the drawings below
# show `W_f`, `b_f` and so on.

# %%
GATE_ORDER = ("i", "f", "g", "o")        # PyTorch's order of the stacked blocks


def walkthrough_form(cell, gate):
    """The block of one gate as the walk-through writes it: W (H, H + I) acting on
    [h, x], and one bias b (H,)."""
    k = GATE_ORDER.index(gate)
    rows = slice(k * cell.hidden_size, (k + 1) * cell.hidden_size)
    W = mg.cat([cell.weight_hh[rows], cell.weight_ih[rows]], axis=1)
    b = cell.bias_ih[rows] + cell.bias_hh[rows]
    return Parameter(W, name=f"W_{gate}"), Parameter(b, name=f"b_{gate}")


W_i, b_i = walkthrough_form(cell, "i")
W_f, b_f = walkthrough_form(cell, "f")
W_g, b_g = walkthrough_form(cell, "g")   # the walk-through's W_C and b_C
W_o, b_o = walkthrough_form(cell, "o")
print("W_f", W_f.shape, " b_f", b_f.shape)

# %% [markdown]
# One step needs the input $x_t$ and the previous states $h_{t-1}$ and $c_{t-1}$. We
# give them names, which the drawings use as labels, and form the concatenation
# $[h_{t-1}, x_t]$ once: all four gates read it. (None of the three requires a
# gradient, so the engine records nothing for the concatenation: to the drawings it is
# one more input of the step.)

# %%
x_t = mg.randn(batch, input_size)
h_prev = mg.randn(batch, hidden_size)
c_prev = mg.randn(batch, hidden_size)
x_t.name, h_prev.name, c_prev.name = "x_t", "h_prev", "c_prev"

hx = mg.cat([h_prev, x_t], axis=1)       # [h_{t-1}, x_t], (B, H + I)
hx.name = "[h_prev, x_t]"

# %% [markdown]
# ## The forget gate
#
# $$f_t = \sigma\left(W_f \cdot [h_{t-1}, x_t] + b_f\right)$$
#
# A sigmoid layer looks at the previous output and the new input and gives, for every
# unit of the cell state, a number between 0 ("erase this completely") and 1 ("keep it
# as it is"). Wrapping the ops in `mg.scope("forget_gate")` makes the drawing put them
# in one labelled box. `minigrad.models.drawing.graph` is `mg.viz.graph` with the colours the
# project uses for each gate; in a notebook the graph it returns displays itself.

# %%
with mg.scope("forget_gate"):
    f_t = mg.sigmoid(hx @ W_f.T + b_f)
f_t.name = "f_t"
drawing.graph(f_t)

# %% [markdown]
# ## The input gate and the candidate values
#
# $$i_t = \sigma\left(W_i \cdot [h_{t-1}, x_t] + b_i\right), \qquad
#   g_t = \tanh\left(W_g \cdot [h_{t-1}, x_t] + b_g\right)$$
#
# Deciding what to write takes two parts. A $\tanh$ layer proposes new values $g_t$
# (the walk-through's $\tilde{C}_t$), each between -1 and 1, and a second sigmoid gate,
# the input gate $i_t$, decides how much of each proposal to let in. The input gate has
# exactly the forget gate's form; only its role differs.

# %%
with mg.scope("input_gate"):
    i_t = mg.sigmoid(hx @ W_i.T + b_i)
with mg.scope("cell_candidate"):
    g_t = mg.tanh(hx @ W_g.T + b_g)
i_t.name, g_t.name = "i_t", "g_t"
drawing.graph(i_t, g_t)

# %% [markdown]
# ## Updating the cell state
#
# $$c_t = f_t \odot c_{t-1} + i_t \odot g_t$$
#
# The update is one product and one sum. The product with $f_t$ scales down what the
# cell forgets; the sum adds what it writes. Because the old state enters through a
# product with a gate and a sum, and through no weight matrix or squashing function,
# this is the path on which part 1's gradient survived. The drawing marks it in bold
# (`highlight=(c_prev, c_t)`).

# %%
with mg.scope("cell_state"):
    c_t = f_t * c_prev + i_t * g_t
c_t.name = "c_t"
drawing.graph(c_t, highlight=(c_prev, c_t))

# %% [markdown]
# ## The output gate
#
# $$o_t = \sigma\left(W_o \cdot [h_{t-1}, x_t] + b_o\right), \qquad
#   h_t = o_t \odot \tanh(c_t)$$
#
# The output is a filtered view of the memory: $\tanh$ squashes the new cell state into
# (-1, 1), and the output gate picks which units to show. That filtered view is $h_t$,
# both the cell's output at this step and the state it hands to the next step's gates.
# Here is the whole step:

# %%
with mg.scope("output_gate"):
    o_t = mg.sigmoid(hx @ W_o.T + b_o)
with mg.scope("hidden_state"):
    h_t = o_t * mg.tanh(c_t)
h_t.name = "h_t"
drawing.graph(h_t, c_t, highlight=(c_prev, c_t))

# %% [markdown]
# ## The same numbers as `LSTMCell`
#
# Our step and the library's cell share their weights, so they must agree:

# %%
h_cell, c_cell = cell(x_t, (h_prev, c_prev))
print("largest difference in h:", float(abs(h_t - h_cell).max()))
print("largest difference in c:", float(abs(c_t - c_cell).max()))
assert np.allclose(h_t.numpy(), h_cell.numpy(), atol=1e-6)
assert np.allclose(c_t.numpy(), c_cell.numpy(), atol=1e-6)

# %% [markdown]
# They agree over a whole sequence too, and so do the gradients that flow back through
# it: backpropagation through time is nothing but the engine's backward sweep over the
# unrolled loop, in both versions.

# %%
def walkthrough_step(x_t, h_prev, c_prev):
    """One LSTM step, written as the walk-through writes it."""
    hx = mg.cat([h_prev, x_t], axis=1)
    f_t = mg.sigmoid(hx @ W_f.T + b_f)
    i_t = mg.sigmoid(hx @ W_i.T + b_i)
    g_t = mg.tanh(hx @ W_g.T + b_g)
    o_t = mg.sigmoid(hx @ W_o.T + b_o)
    c_t = f_t * c_prev + i_t * g_t
    h_t = o_t * mg.tanh(c_t)
    return h_t, c_t


sequence = mg.randn(10, batch, input_size, requires_grad=True)   # (T, B, I)
finals = {}
for name, step in (("walk-through", walkthrough_step), ("LSTMCell", None)):
    h, c = mg.zeros(batch, hidden_size), mg.zeros(batch, hidden_size)
    for t in range(len(sequence)):
        h, c = walkthrough_step(sequence[t], h, c) if step else cell(sequence[t], (h, c))
    (d_sequence,) = mg.grad(h.sum(), sequence)
    finals[name] = (h.numpy(), d_sequence.numpy())

for part, label in enumerate(("h after 10 steps", "gradient w.r.t. the inputs")):
    difference = np.abs(finals["walk-through"][part] - finals["LSTMCell"][part]).max()
    print(f"{label:<28} largest difference {difference:.1e}")
    assert difference < 1e-5

# %% [markdown]
# ## How `LSTMCell` computes it: one product for all gates
#
# Four separate products are clear but slow. `LSTMCell` keeps the gates stacked and does
# one product per weight matrix, then cuts the result into the four gates with `chunk`,
# in the order i, f, g, o. The input's share `x @ weight_ih.T + bias_ih + bias_hh` can
# even be computed for every step of a sequence at once, before the time loop starts.

# %%
pre_activations = x_t @ cell.weight_ih.T + cell.bias_ih + h_prev @ cell.weight_hh.T \
    + cell.bias_hh                                     # (B, 4H)
a_i, a_f, a_g, a_o = pre_activations.chunk(4, axis=1)
print("forget gate, stacked form:", np.allclose(mg.sigmoid(a_f).numpy(), f_t.numpy(),
                                                  atol=1e-6))
print("candidate,   stacked form:", np.allclose(mg.tanh(a_g).numpy(), g_t.numpy(),
                                                  atol=1e-6))

# %% [markdown]
# Drawn from what the library's cell recorded, the step has the same boxes around one
# shared product per weight matrix:

# %%
h_cell.name, c_cell.name = "h_t", "c_t"
drawing.graph(h_cell, c_cell, highlight=(c_prev, c_cell))

# %% [markdown]
# Next, part 3 (*Peepholes, coupled gates and the GRU*) changes this cell in three
# well-known ways.
