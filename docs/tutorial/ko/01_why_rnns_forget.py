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
# # 1. 기본 RNN은 왜 잊어버릴까
#
# *LSTM walk-through에서 코드로: 5부 중 1부*
#
# 문장이 길어지면 앞부분의 단어가 한참 뒤의 단어를 결정하는 경우가 생깁니다. 영어 문장
# "The keys to the cabinet that my grandmother brought back from her travels ... **are** on
# the table"에서 동사로 *is*가 아니라 *are*를 고르려면, 여러 time step 앞에 나온 주어
# *keys*를 기억하고 있어야 합니다. Recurrent network는 이런 정보를 hidden state에 담아 한
# step씩 앞으로 전달해야 하고, 학습할 때는 gradient가 같은 긴 경로를 거꾸로 거슬러 올라가야
# 합니다. 이것이 **long-term dependency** 문제입니다.
#
# 기본(Elman) RNN은 hidden state를 다음과 같이 갱신합니다.
#
# $$h_t = \tanh(W_{ih} x_t + b_{ih} + W_{hh} h_{t-1} + b_{hh}).$$
#
# Chain rule에 따르면 $h_t$에서 $h_{t-k}$까지 전달되는 gradient는 step마다 하나씩, 모두
# $k$개의 Jacobian을 곱한 것입니다.
#
# $$\frac{\partial h_t}{\partial h_{t-k}} = \prod_{s=t-k+1}^{t}
#   \operatorname{diag}\!\left(1 - h_s^2\right) W_{hh}.$$
#
# $\tanh$의 기울기는 1을 넘지 않으므로 각 인자는 보통 지나가는 값을 줄이고, 그 곱은
# 기하급수적으로 작아집니다. 이것이 **vanishing gradient**입니다. (인자가 1보다 크면 반대로
# 커지는데, 이것이 exploding gradient입니다.)
#
# LSTM에는 두 번째 state인 cell state $c_t$가 있고, $c_t = f_t \odot c_{t-1} + i_t \odot
# \tilde{c}_t$로 갱신됩니다. 이 경로의 Jacobian은 $\operatorname{diag}(f_t)$뿐입니다. 즉
# gradient는 step마다 forget gate만큼만 줄어들기 때문에, $f_t$가 1 가까이 유지되는 동안에는
# 사라지지 않습니다.
#
# 수식만 믿지 말고 직접 재 봅시다. minigrad는 모든 연산을 tape에 기록하므로, `mg.grad` 한
# 번으로 마지막 step 출력의 gradient를 sequence의 모든 입력에 대해 한꺼번에 구할 수 있습니다.

# %%
import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.models import LSTM, RNN, record_gates

mg.manual_seed(0)
steps_back = 50
seq_len, batch, input_size, hidden_size = steps_back + 1, 16, 8, 32

# 무작위 sequence 한 batch, (T, B, I): mg.grad가 닿도록 requires_grad
x = mg.randn(seq_len, batch, input_size, requires_grad=True)

layers = {
    "RNN": RNN(input_size, hidden_size),
    "LSTM": LSTM(input_size, hidden_size),
    "LSTM, forget_bias=1": LSTM(input_size, hidden_size, forget_bias=1.0),
}

# %% [markdown]
# 세 layer 모두 PyTorch와 같은 방식으로 초기화됩니다. 세 번째 layer는 forget gate의 bias에
# 1을 더했는데, dependency가 길 때 흔히 쓰는 설정입니다. 이유는 곧 보게 됩니다.
#
# 각 layer에서 마지막 step의 출력 `output[-1]`을 모두 더한 값의 gradient를 입력 `x` 전체에
# 대해 구합니다. 이 gradient의 `t`번째 행은 step `t`의 입력이 마지막에 아직 얼마나 영향을
# 주는지를 나타냅니다. 그 크기를 batch에 대해 평균 내고, 마지막 step부터 거꾸로 읽습니다.

# %%
def sensitivity(layer, x):
    """Mean gradient norm of sum(output[-1]) w.r.t. x[T-1-k], for k = 0 .. T-1."""
    output, _ = layer(x)
    (dx,) = mg.grad(output[-1].sum(), x)
    per_step = np.linalg.norm(dx.numpy(), axis=2).mean(axis=1)   # (T,)
    return per_step[::-1]                                           # k step 전부터


measured = {name: sensitivity(layer, x) for name, layer in layers.items()}

print(f"{'steps back':>10}" + "".join(f"{name:>22}" for name in measured))
for k in (0, 1, 5, 10, 20, 30, 40, 50):
    print(f"{k:>10}" + "".join(f"{values[k]:>22.2e}" for values in measured.values()))

# %% [markdown]
# 핵심이 되는 숫자, 50 step 전까지 도달하는 gradient입니다.

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
# 기본 RNN의 gradient는 step마다 대략 절반으로 줄어듭니다. 50 step 전에서는 열다섯 자릿수
# 가까이 작아져서, optimizer가 쓸 수 있는 수준을 한참 밑돕니다. 기본 초기화의 LSTM은 더
# 천천히 줄어들지만 역시 사라집니다. 원인은 forget gate입니다. bias가 0 근처이면
# $f_t = \sigma(\cdot)$가 0.5 정도에 머무르고, $0.5^{50} \approx 10^{-15}$입니다. bias에
# 1을 더하면 gate가 약 0.73으로 올라가고($0.73^{50} \approx 10^{-7}$), cell state 경로는 몇
# 자릿수나 더 많은 신호를 지켜냅니다.
#
# gate 값을 직접 확인할 수 있습니다. `record_gates()`는 layer가 계산한 모든 gate를
# `(T, B, H)` 모양의 NumPy 배열로 모아 줍니다.

# %%
for name in ("LSTM", "LSTM, forget_bias=1"):
    with record_gates() as gates:
        layers[name](x)
    mean_forget = gates["l0/forget_gate"].mean()
    print(f"{name:>20}: mean forget gate {mean_forget:.2f}, "
          f"to the power {steps_back}: {mean_forget ** steps_back:.1e}")

# %% [markdown]
# LSTM이 마법처럼 기억하는 것은 아닙니다. gradient가 gate 하나에만 곱해지는 경로가 있고,
# 학습을 통해 그 gate를 열어 두는 법을 배울 수 있을 뿐입니다. 5부에서는 50 step의 기억이
# 필요한 과제로 두 종류의 network를 학습시키는데, 이 과제를 풀어내는 것은 LSTM뿐입니다.
#
# 다음 2부(*LSTM cell, gate 하나씩*)에서는 minigrad 연산으로 cell을 직접 만들어 봅니다.
