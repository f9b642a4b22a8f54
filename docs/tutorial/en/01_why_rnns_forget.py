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
# # 1. Why plain RNNs forget
#
# *From the LSTM walk-through to code, part 1 of 5.*
#
# Picture a sentence such as "The keys to the cabinet that my grandmother brought back
# from her travels ... **are** on the table". Choosing *are* over *is* depends on a word
# that came many steps earlier. A recurrent network has to carry that fact forward in
# its hidden state, step after step, and training has to send a learning signal back
# along the same long path. This is the problem of **long-term dependencies**.
#
# A plain (Elman) RNN updates its hidden state with
#
# $$h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}).$$
#
# By the chain rule, the gradient that reaches $h_{t-k}$ from $h_t$ is a product of $k$
# Jacobians, one per step:
#
# $$\frac{\partial h_t}{\partial h_{t-k}} = \prod_{s=t-k+1}^{t}
#   \operatorname{diag}\!\left(1 - h_s^2\right) W_{hh}.$$
#
# Each factor usually shrinks what passes through it (the $\tanh$ slope is at most 1),
# so the product shrinks geometrically: the **vanishing gradient**. (When the factors
# are larger than one it grows instead: the exploding gradient.)
#
# An LSTM adds a second state, the cell state $c_t$, updated by
# $c_t = f_t \odot c_{t-1} + i_t \odot \tilde{c}_t$. Along that path the Jacobian is
# just $\operatorname{diag}(f_t)$: the gradient is scaled by the forget gate at each
# step and by nothing else, so it survives for as long as $f_t$ stays close to 1.
#
# Rather than trust the algebra, we measure it. minigrad records every op on a tape,
# so `mg.grad` can give the gradient of the last step's output with respect to every
# input of the sequence at once.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.models import LSTM, RNN, record_gates

mg.manual_seed(0)
steps_back = 50
seq_len, batch, input_size, hidden_size = steps_back + 1, 16, 8, 32

# one batch of random sequences, (T, B, I); requires_grad so mg.grad can reach it
x = mg.randn(seq_len, batch, input_size, requires_grad=True)

layers = {
    "RNN": RNN(input_size, hidden_size),
    "LSTM": LSTM(input_size, hidden_size),
    "LSTM, forget_bias=1": LSTM(input_size, hidden_size, forget_bias=1.0),
}

# %% [markdown]
# All three layers start from PyTorch's initialisation. The third adds 1 to the forget
# gate's bias, a common choice when dependencies are long; we will see why.
#
# For each layer we take the sum of the last step's output, `output[-1]`, and ask for
# its gradient with respect to the whole input `x`. Row `t` of that gradient says how
# much the input at step `t` still matters at the end. We average its size over the
# batch and read it from the last step backwards.

# %%
def sensitivity(layer, x):
    """Mean gradient norm of sum(output[-1]) w.r.t. x[T-1-k], for k = 0 .. T-1."""
    output, _ = layer(x)
    (dx,) = mg.grad(output[-1].sum(), x)
    per_step = np.linalg.norm(dx.numpy(), axis=2).mean(axis=1)   # (T,)
    return per_step[::-1]                                           # k steps back


measured = {name: sensitivity(layer, x) for name, layer in layers.items()}

print(f"{'steps back':>10}" + "".join(f"{name:>22}" for name in measured))
for k in (0, 1, 5, 10, 20, 30, 40, 50):
    print(f"{k:>10}" + "".join(f"{values[k]:>22.2e}" for values in measured.values()))

# %% [markdown]
# And the headline, the gradient that reaches back 50 steps:

# %%
print(f"{steps_back} steps back: "
      + ", ".join(f"{name} {values[steps_back]:.1e}" for name, values in measured.items()))

# %%
figure, axis = plt.subplots(figsize=(7, 4))
for name, values in measured.items():
    axis.semilogy(np.arange(seq_len), values, label=name)
axis.set(xlabel="steps back from the last output",
         ylabel="gradient norm (mean over the batch)",
         title="How far back does the gradient reach?")
axis.legend()
axis.grid(True, which="major", alpha=0.3)
plt.show()

# %% [markdown]
# The plain RNN's gradient roughly halves at every step: fifty steps back it has fallen
# by some fifteen orders of magnitude, far below anything an optimiser could use. The
# LSTM with the default initialisation fades more slowly, but it fades too, and the
# reason is its forget gate: with a bias near zero, $f_t = \sigma(\cdot)$ hovers around
# 0.5, and $0.5^{50} \approx 10^{-15}$. Adding 1 to the bias moves the gate to about
# 0.73 ($0.73^{50} \approx 10^{-7}$), and the cell-state path keeps several orders of
# magnitude more signal.
#
# We can check the gate values directly. `record_gates()` collects every gate a layer
# computes, as NumPy arrays shaped `(T, B, H)`:

# %%
for name in ("LSTM", "LSTM, forget_bias=1"):
    with record_gates() as gates:
        layers[name](x)
    mean_forget = gates["l0/forget_gate"].mean()
    print(f"{name:>20}: mean forget gate {mean_forget:.2f}, "
          f"to the power {steps_back}: {mean_forget ** steps_back:.1e}")

# %% [markdown]
# So an LSTM does not remember by magic. It has a path on which the gradient is
# multiplied only by a gate, and training can learn to hold that gate open. In part 5
# we train both kinds of network on a task that needs a 50-step memory, and only the
# LSTM learns it.
#
# Next, part 2 (*The LSTM cell, one gate at a time*) builds the cell from minigrad ops.
