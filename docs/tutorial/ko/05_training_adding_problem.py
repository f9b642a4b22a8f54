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
# # 5. Adding problem으로 학습하기
#
# *LSTM walk-through에서 코드로: 5부 중 5부*
#
# 1부에서는 기본 RNN의 gradient가 50 step을 지나며 사라지는 것을 쟀습니다. 여기서는 그것이
# 학습에 어떤 의미인지 봅니다. **Adding problem**(Hochreiter & Schmidhuber, 1997)은 긴 기억이
# 필요하도록 만든 과제입니다. 각 step에는 [0, 1]의 무작위 값 하나와 marker 하나가 들어 있고,
# marker는 정확히 두 step(sequence의 앞 절반과 뒤 절반에 하나씩)에서만 1입니다. 마지막 step이
# 끝나면 network는 표시된 두 값의 합을 출력해야 합니다. 언제나 합의 평균인 1이라고 답하면 mean
# squared error가 $1/6 \approx 0.167$이고, 0.01 아래로 내려가면 풀었다고 봅니다.
#
# `minigrad.models.tasks`에 데이터, 모델(recurrent layer와 linear head, 마지막 step 뒤의 출력을 읽음),
# loss가 모두 있습니다. 50 step짜리 sequence와 작은 모델을 써서, 아래 두 번의 학습은 CPU core 하나에서 몇 초면
# 끝납니다.

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
# ## 작은 training loop
#
# loop는 흔히 보는 그대로입니다. batch를 받아 loss를 구하고, `backward()`, gradient clipping,
# Adam step을 거치며, 100 step마다 따로 떼어 둔 sequence로 mean squared error를 잽니다.
# `task.build_model`은 1부에서 본 이유로 LSTM 계열의 forget gate bias를 1로 둡니다.

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
# RNN은 끝내 baseline 아래로 내려가지 못합니다. 사라지는 gradient 때문에 50 step 너머의 표시된
# 값을 보지 못하고, 평균만 배웁니다. LSTM도 몇백 step 동안은 baseline에 머물지만, 곧 요령을
# 찾아내고 solved 선 한참 아래로 떨어집니다.
#
# ## 일하는 gate들
#
# `minigrad.models.plots.plot_gates`는 학습된 모델을 sequence 하나에 돌리면서 `record_gates()`로 gate를
# 기록하고, 첫 layer의 gate를 heatmap으로 그립니다. 행은 unit, 열은 time step이고, 표시된 두
# step은 빨간 선입니다. input gate가 가장 크게 변하는 unit들, 즉 골라서 쓰는 unit들을 보여 줍니다.

# %%
example, marks = task.example()
with tempfile.TemporaryDirectory() as folder:
    path = plot_gates(trained["lstm"], example, pathlib.Path(folder) / "gates.png",
                      marks=marks, title="LSTM gates on one adding-problem sequence")
    heatmap = Image(filename=str(path))
heatmap

# %% [markdown]
# 표시된 step에서 input gate가 열리고 그 사이에는 forget gate가 1 가까이 머무는 unit, 그리고
# marker마다 한 단계씩 올라간 뒤 값을 유지하는 cell state 행을 찾아보세요. cell이 두 수를 더하고,
# 그 합을 끝까지 기억하는 모습입니다.
#
# ## 학습 뒤의 gradient
#
# 마지막으로 학습된 모델에 1부의 측정을 다시 해 봅니다. 마지막 step 뒤의 예측을 각 입력 step에
# 대해 미분한 gradient를, 따로 떼어 둔 sequence들에 대해 평균 낸 것입니다.

# %%
def sensitivity(model, x):
    """Mean gradient norm of sum(prediction) w.r.t. each step's input, (T,)."""
    x = mg.tensor(x, requires_grad=True)
    output, _ = model(x)                      # (T, B, 1): 모든 step의 head 출력
    (dx,) = mg.grad(output[-1].sum(), x)      # 예측은 마지막 step의 것
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
# 학습된 LSTM의 예측은 첫 step들에도 마지막 step들만큼 강하게 의존합니다. marker가 어디에나 올 수
# 있기 때문입니다. 학습된 RNN의 예측은 첫 step들에 거의 의존하지 않습니다. walk-through의 이야기
# 전체가 이 그림 하나에 담겨 있습니다. cell state와 gate가 gradient에게 시간을 거슬러 가는 길을
# 열어 주고, 학습은 그 길을 쓰는 법을 배웁니다.
#
# 더 해 보려면: `python -m minigrad.models.train --task adding --seq-len 100`은 전체 showcase를 학습하고,
# `python -m minigrad.models.compare --task adding`은 모든 cell 종류를 나란히 학습합니다.
