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
# # 4. Bidirectional and stacked RNNs
#
# *From the LSTM walk-through to code, part 4 of 5.*
#
# The walk-through closes with two ways of combining cells. A **bidirectional** RNN runs
# one cell forward through the sequence and a second one backward, so the output at
# step $t$ has seen both what came before and what comes after. A **stacked** (deep)
# RNN feeds the whole output sequence of one layer into the next as its input; at each
# step, layer $l$ reads layer $l-1$'s output at that step and its own state from the
# step before.
#
# The layers in `minigrad.models` (`LSTM`, `GRU`, `RNN`, ...) take PyTorch's `num_layers` and
# `bidirectional`, with PyTorch's shapes:
#
# | tensor | shape |
# | --- | --- |
# | input `x` | `(T, B, I)` (or `(B, T, I)` with `batch_first=True`) |
# | `output` | `(T, B, D * H)`: the last layer's outputs, both directions side by side |
# | `h_n`, `c_n` | `(num_layers * D, B, H)`: every layer's and direction's final state |
#
# with `D = 2` when bidirectional. Entry `2 * l + d` of `h_n` is layer `l`, direction
# `d` (0 forward, 1 backward).

# %%
import numpy as np

import minigrad as mg
from minigrad.models import LSTM, drawing

mg.manual_seed(0)
seq_len, batch, input_size, hidden_size = 6, 2, 3, 4
lstm = LSTM(input_size, hidden_size, num_layers=2, bidirectional=True)
x = mg.randn(seq_len, batch, input_size)
x.name = "x"

output, (h_n, c_n) = lstm(x)
print("output", output.shape, " h_n", h_n.shape, " c_n", c_n.shape)
print([name for name, _ in lstm.named_parameters()][:8], "...")

# %% [markdown]
# ## The same thing, by hand
#
# The layer holds one cell per layer and direction, `lstm.cells`, in the order
# `l0`, `l0_reverse`, `l1`, `l1_reverse`; each reads its weights (`weight_ih_l0`, ...)
# from the layer. Running those cells in plain Python loops shows everything the layer
# does: the backward direction walks the steps from the last to the first, the two
# directions' outputs are joined at every step, and that sequence is the next layer's
# input.

# %%
layer_input = x
final_states = []
for layer in range(2):
    directions = []
    for direction in (0, 1):
        cell = lstm.cells[2 * layer + direction]
        steps = range(seq_len) if direction == 0 else reversed(range(seq_len))
        state, outputs = None, [None] * seq_len
        for t in steps:
            state = cell(layer_input[t], state)       # state is (h, c)
            outputs[t] = state[0]
        final_states.append(state)
        directions.append(mg.stack(outputs))           # (T, B, H)
    layer_input = mg.cat(directions, axis=2)           # (T, B, 2H): the next layer's input

print("output:", np.allclose(layer_input.numpy(), output.numpy(), atol=1e-6))
print("h_n:   ", all(np.allclose(h.numpy(), h_n[k].numpy(), atol=1e-6)
                     for k, (h, c) in enumerate(final_states)))

# %% [markdown]
# Note what `output[-1]` is in a bidirectional layer: its first half is the forward
# direction after the whole sequence, but its second half is the backward direction
# after only *one* step (it started at the end). To summarise a sequence, use `h_n`,
# which holds each direction's state at its own end.

# %%
H = hidden_size
print("forward half of output[-1] is h_n[2]: ",
      np.allclose(output[-1, :, :H].numpy(), h_n[2].numpy()))
print("backward half of output[0] is h_n[3]:",
      np.allclose(output[0, :, H:].numpy(), h_n[3].numpy()))

# %% [markdown]
# ## A picture of the whole model
#
# Inside the layer each direction of each layer is one loop over time (an `mg.scan`), so
# the drawing shows four boxes: `l0` and `l0 reverse` side by side, their outputs joined,
# then `l1` and `l1 reverse`. Every loop runs six steps; `max_steps=1` draws the first
# step that ran in full (`t5` for a backward loop) and folds the other five into one
# node. Without it, the drawing would fold them anyway once the graph grows past
# `max_nodes` (300) nodes, and say so in a warning. `model=lstm` labels each parameter
# by its name in the layer, and the zeros each loop starts from are drawn as `h0` and
# `c0`.

# %%
drawing.graph(output, model=lstm, max_steps=1)

# %% [markdown]
# The same call draws whole models (an embedding, this encoder and a classifier head,
# say); the graphs guide shows one. Next, part 5 (*Training on the adding problem*)
# trains an LSTM and looks at its gates.
