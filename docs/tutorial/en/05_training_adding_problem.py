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
# # 5. Training on the adding problem
#
# *From the LSTM walk-through to code, part 5 of 5.*
#
# Part 1 measured that a plain RNN's gradient fades over 50 steps. Here we see what that
# means for learning. The **adding problem** (Hochreiter & Schmidhuber, 1997) is built
# to need a long memory: every step carries a random value in [0, 1] and a marker, the
# marker is 1 at exactly two steps (one in each half of the sequence), and after the
# last step the network must output the sum of the two marked values. Always answering
# 1, the mean of the sum, gives a mean squared error of $1/6 \approx 0.167$; the task
# counts as solved below 0.01.
#
# `minigrad.models.tasks` has the data, the model (a recurrent layer and a linear head, read
# after the last step) and the loss. We use sequences of 50 steps and a small model, so both
# runs below take a few seconds on one CPU core.

# %%
import pathlib
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from IPython.display import Image

import minigrad as mg
from minigrad.models.plots import plot_gates
from minigrad.models.tasks import get_task

seq_len = 50
task = get_task("adding", seq_len=seq_len, seed=0, test_size=500)

x, y = task.train_stream(seed=1, batch_size=1).next_batch()    # x (T, B, 2), y (B, 1)
marked = np.flatnonzero(x[:, 0, 1])
print("x", x.shape, " y", y.shape)
print("marked steps", marked.tolist(),
      " their values", [round(float(value), 3) for value in x[marked, 0, 0]],
      " target", round(float(y[0, 0]), 3))

# %% [markdown]
# ## A small training loop
#
# The loop is the usual one: a batch, the loss, `backward()`, gradient clipping, an Adam
# step, and every 100 steps the mean squared error on held-out sequences.
# `task.build_model` gives the LSTM kinds a forget-gate bias of 1, for the reason part 1
# showed.

# %%
def train(cell, steps=1000, hidden_size=32, batch_size=64, lr=1e-2, eval_every=100):
    """Train a task model with cell kind ``cell``; returns it and its test-MSE curve."""
    mg.manual_seed(0)
    model = task.build_model(cell, hidden_size=hidden_size)
    optimizer = mg.optim.Adam(model.parameters(), lr=lr)
    batches = task.train_stream(seed=0, batch_size=batch_size)
    curve = []
    for step in range(1, steps + 1):
        loss, _ = task.loss(model, batches.next_batch())
        optimizer.zero_grad()
        loss.backward()
        mg.nn.clip_grad_norm_(model.parameters(), max_norm=1.0)
        optimizer.step()
        if step % eval_every == 0:
            curve.append((step, task.evaluate(model)["metric"]))
    return model, curve


trained = {}
curves = {}
for cell in ("lstm", "rnn"):
    trained[cell], curves[cell] = train(cell)
    print(f"{cell:>4}: test MSE after {curves[cell][-1][0]} steps: {curves[cell][-1][1]:.4f}")

# %%
figure, axis = plt.subplots(figsize=(7, 4))
for cell, curve in curves.items():
    steps, mse = zip(*curve)
    axis.semilogy(steps, mse, "o-", ms=3, label=cell.upper())
axis.axhline(task.baseline, ls=":", color="gray", label="always answer 1 (1/6)")
axis.axhline(task.threshold, ls="--", color="green", label="solved (0.01)")
axis.set(xlabel="training step", ylabel="test MSE",
         title=f"The adding problem, T = {seq_len}")
axis.legend()
plt.show()

# %% [markdown]
# The RNN never gets below the baseline: it cannot see the marked values through 50
# steps of fading gradient, so it learns only the mean. The LSTM sits at the baseline
# for a few hundred steps too, then finds the trick and falls well below the solved
# line.
#
# ## The gates at work
#
# `minigrad.models.plots.plot_gates` runs a trained model on one sequence with `record_gates()`
# and draws the first layer's gates as heatmaps, one row per unit and one column per
# time step, with the two marked steps as red lines. It picks the units whose input
# gate varies most: those are the ones writing selectively.

# %%
example, marks = task.example()
with tempfile.TemporaryDirectory() as folder:
    path = plot_gates(trained["lstm"], example, pathlib.Path(folder) / "gates.png",
                      marks=marks, title="LSTM gates on one adding-problem sequence")
    heatmap = Image(filename=str(path))
heatmap

# %% [markdown]
# Look for units whose input gate opens at the marked steps and whose forget gate stays
# near 1 between them, and for the cell state rows that step up at each marker and
# then hold their value: that is the cell adding the two numbers and remembering the
# sum until the end.
#
# ## The gradient, after training
#
# Finally, part 1's measurement on the trained models: the gradient of the prediction
# after the last step with respect to each input step, averaged over held-out
# sequences.

# %%
def sensitivity(model, x):
    """Mean gradient norm of sum(prediction) w.r.t. each step's input, (T,)."""
    x = mg.tensor(x, requires_grad=True)
    output, _ = model(x)                      # (T, B, 1): the head at every step
    (dx,) = mg.grad(output[-1].sum(), x)      # the prediction is the last step's
    return np.linalg.norm(dx.numpy(), axis=2).mean(axis=1)


held_out = task.test_x[:, :100]
figure, axis = plt.subplots(figsize=(7, 4))
for cell, model in trained.items():
    per_step = sensitivity(model, held_out)
    axis.semilogy(np.arange(seq_len), per_step, label=f"trained {cell.upper()}")
    print(f"trained {cell.upper():>4}: gradient w.r.t. step 0 {per_step[0]:.1e}, "
          f"w.r.t. step {seq_len - 1} {per_step[-1]:.1e}")
axis.set(xlabel="input step", ylabel="gradient norm (mean over sequences)",
         title="How much each input step matters to the prediction")
axis.legend()
plt.show()

# %% [markdown]
# The trained LSTM's prediction depends on the first steps about as strongly as on the
# last ones, since a marker may sit anywhere; the trained RNN's hardly depends on them
# at all. That is the whole story of the walk-through in one picture: the cell state
# and its gates give the gradient a path through time, and training learns to use it.
#
# To go further: `python -m minigrad.models.train --task adding --seq-len 100` trains the full
# showcase, and `python -m minigrad.models.compare --task adding` trains every cell kind side by
# side.
