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
# # 2. LSTM cell, gate 하나씩
#
# *LSTM walk-through에서 코드로: 5부 중 2부*
#
# LSTM(Hochreiter & Schmidhuber, 1997; forget gate는 Gers, Schmidhuber & Cummins, 2000)은 step
# 사이에 두 가지 state를 전달합니다. 하나는 출력이기도 한 hidden state $h_t$이고, 다른 하나는
# **cell state** $c_t$입니다. cell state는 cell이 element-wise 곱셈과 덧셈만으로 고쳐 쓰는
# 기억입니다. 이 기억에 무슨 일이 일어날지는 sigmoid gate 세 개가 정합니다. forget gate는 무엇을
# 지울지, input gate는 무엇을 쓸지, output gate는 무엇을 내보낼지를 정합니다. 네 번째 layer는
# $\tanh$를 거쳐 새로 쓸 값을 제안합니다.
#
# 이 장에서는 minigrad 연산으로 cell의 한 step을 gate 하나씩 만들고, 만들어지는 과정을
# `mg.viz`로 그려 본 다음, 결과가 float32 반올림 오차 안에서 `minigrad.models.LSTMCell`과 같은지
# 확인합니다.
#
# ## Notation: walk-through의 기호와 이 코드의 기호
#
# walk-through는 colah의 "Understanding LSTM Networks"(2015)를 따르고, 코드는 PyTorch의
# weight를 그대로 불러올 수 있도록 PyTorch를 따릅니다. 다른 점은 세 가지입니다.
#
# | walk-through | 이 코드 | |
# | --- | --- | --- |
# | cell state $C_t$ | `c` | PyTorch처럼 소문자 |
# | candidate value $\tilde{C}_t$ | `g` | 네 block 중 세 번째, gate 순서는 **i, f, g, o** |
# | $W_f \cdot [h_{t-1}, x_t] + b_f$ | `W_if x + b_if + W_hf h + b_hf` | concatenate된 입력에 행렬 하나, 또는 행렬 두 개와 bias 두 개 |
#
# 마지막 행은 같은 계산을 두 방식으로 쓴 것입니다. $[h_{t-1}, x_t]$에 곱하는 행렬은 열 방향으로
# 나누면 $h_{t-1}$에 곱하는 block과 $x_t$에 곱하는 block이 됩니다. PyTorch는 두 block을 따로
# (`weight_hh`, `weight_ih`) 두고, bias도 두 개를 두어 그 합이 walk-through의 $b_f$ 하나
# 역할을 합니다. 또 네 gate의 것을 하나로 쌓아 둡니다. `weight_ih`는 `(4H, I)`이고, 행 `0:H`가
# input gate, `H:2H`가 forget gate, 이런 식입니다.

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
# walk-through의 수식을 그대로 쓰기 위해, 쌓인 weight에서 gate마다 block을 잘라 내고 두 부분을
# 이어 붙여 `(H, H + I)` 모양의 행렬 $W$ 하나와 bias $b$ 하나로 만듭니다. `Parameter`로 각각을
# 독립된 leaf로 만들어 두면, 아래 그림에 `W_f`, `b_f` 같은 이름이 나타납니다.

# %%
GATE_ORDER = ("i", "f", "g", "o")        # 쌓인 block의 PyTorch 순서


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
W_g, b_g = walkthrough_form(cell, "g")   # walk-through의 W_C와 b_C
W_o, b_o = walkthrough_form(cell, "o")
print("W_f", W_f.shape, " b_f", b_f.shape)

# %% [markdown]
# 한 step에는 입력 $x_t$와 이전 state $h_{t-1}$, $c_{t-1}$이 필요합니다. 그림의 label로 쓰이도록
# 이름을 붙이고, 네 gate가 모두 읽는 concatenation $[h_{t-1}, x_t]$를 한 번 만들어 둡니다. (셋 중
# 어느 것도 gradient가 필요하지 않으므로 engine은 이 concatenation을 기록하지 않습니다. 그림에서는
# step의 입력 하나로 보입니다.)

# %%
x_t = mg.randn(batch, input_size)
h_prev = mg.randn(batch, hidden_size)
c_prev = mg.randn(batch, hidden_size)
x_t.name, h_prev.name, c_prev.name = "x_t", "h_prev", "c_prev"

hx = mg.cat([h_prev, x_t], axis=1)       # [h_{t-1}, x_t], (B, H + I)
hx.name = "[h_prev, x_t]"

# %% [markdown]
# ## Forget gate
#
# $$f_t = \sigma\left(W_f \cdot [h_{t-1}, x_t] + b_f\right)$$
#
# sigmoid layer가 이전 출력과 새 입력을 보고, cell state의 unit마다 0("완전히 지운다")과
# 1("그대로 둔다") 사이의 값을 냅니다. 연산을 `mg.scope("forget_gate")`로 감싸면 그림에서 이름이
# 붙은 상자 하나로 묶입니다. `minigrad.models.drawing.graph`는 이 프로젝트가 gate마다 쓰는 색을 입힌
# `mg.viz.graph`이고, notebook에서는 돌려받은 graph가 그대로 그림으로 표시됩니다.

# %%
with mg.scope("forget_gate"):
    f_t = mg.sigmoid(hx @ W_f.T + b_f)
f_t.name = "f_t"
drawing.graph(f_t)

# %% [markdown]
# ## Input gate와 candidate value
#
# $$i_t = \sigma\left(W_i \cdot [h_{t-1}, x_t] + b_i\right), \qquad
#   g_t = \tanh\left(W_g \cdot [h_{t-1}, x_t] + b_g\right)$$
#
# 무엇을 쓸지는 두 부분이 함께 정합니다. $\tanh$ layer가 -1과 1 사이의 새 값 $g_t$
# (walk-through의 $\tilde{C}_t$)를 제안하고, 두 번째 sigmoid gate인 input gate $i_t$가 각
# 제안을 얼마나 받아들일지 정합니다. input gate는 forget gate와 모양이 똑같고, 역할만 다릅니다.

# %%
with mg.scope("input_gate"):
    i_t = mg.sigmoid(hx @ W_i.T + b_i)
with mg.scope("cell_candidate"):
    g_t = mg.tanh(hx @ W_g.T + b_g)
i_t.name, g_t.name = "i_t", "g_t"
drawing.graph(i_t, g_t)

# %% [markdown]
# ## Cell state 업데이트
#
# $$c_t = f_t \odot c_{t-1} + i_t \odot g_t$$
#
# 업데이트는 곱셈 한 번과 덧셈 한 번입니다. $f_t$와의 곱은 잊을 만큼 기억을 줄이고, 덧셈은 새로
# 쓸 것을 더합니다. 이전 state가 weight 행렬이나 squashing 함수를 거치지 않고 gate와의 곱과
# 덧셈만으로 지나가기 때문에, 1부에서 gradient가 살아남은 곳이 바로 이 경로입니다. 그림에서는 이
# 경로를 굵게 표시합니다(`highlight=(c_prev, c_t)`).

# %%
with mg.scope("cell_state"):
    c_t = f_t * c_prev + i_t * g_t
c_t.name = "c_t"
drawing.graph(c_t, highlight=(c_prev, c_t))

# %% [markdown]
# ## Output gate
#
# $$o_t = \sigma\left(W_o \cdot [h_{t-1}, x_t] + b_o\right), \qquad
#   h_t = o_t \odot \tanh(c_t)$$
#
# 출력은 기억을 걸러서 보여 주는 것입니다. $\tanh$가 새 cell state를 (-1, 1)로 눌러 주고, output
# gate가 어떤 unit을 보여 줄지 고릅니다. 이렇게 걸러진 값이 $h_t$이며, 이 step의 출력이자 다음
# step의 gate들이 읽을 state입니다. 한 step 전체는 다음과 같습니다.

# %%
with mg.scope("output_gate"):
    o_t = mg.sigmoid(hx @ W_o.T + b_o)
with mg.scope("hidden_state"):
    h_t = o_t * mg.tanh(c_t)
h_t.name = "h_t"
drawing.graph(h_t, c_t, highlight=(c_prev, c_t))

# %% [markdown]
# ## `LSTMCell`과 같은 숫자
#
# 우리가 만든 step과 라이브러리의 cell은 weight를 공유하므로 결과가 같아야 합니다.

# %%
h_cell, c_cell = cell(x_t, (h_prev, c_prev))
print("largest difference in h:", float(abs(h_t - h_cell).max()))
print("largest difference in c:", float(abs(c_t - c_cell).max()))
assert np.allclose(h_t.numpy(), h_cell.numpy(), atol=1e-6)
assert np.allclose(c_t.numpy(), c_cell.numpy(), atol=1e-6)

# %% [markdown]
# sequence 전체에 대해서도, 그리고 거꾸로 흐르는 gradient도 같습니다. backpropagation through
# time은 두 경우 모두 펼쳐진 loop 위에서 engine이 하는 backward sweep일 뿐입니다.

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
# ## `LSTMCell`의 계산 방식: 모든 gate에 곱셈 한 번
#
# 곱셈 네 번은 이해하기 쉽지만 느립니다. `LSTMCell`은 gate를 쌓아 둔 채 weight 행렬마다 곱셈을
# 한 번만 하고, 그 결과를 `chunk`로 i, f, g, o 순서의 네 gate로 자릅니다. 입력 쪽 몫인
# `x @ weight_ih.T + bias_ih + bias_hh`는 time loop를 시작하기 전에 sequence의 모든 step에 대해
# 한꺼번에 계산할 수도 있습니다.

# %%
pre_activations = x_t @ cell.weight_ih.T + cell.bias_ih + h_prev @ cell.weight_hh.T \
    + cell.bias_hh                                     # (B, 4H)
a_i, a_f, a_g, a_o = pre_activations.chunk(4, axis=1)
print("forget gate, stacked form:", np.allclose(mg.sigmoid(a_f).numpy(), f_t.numpy(),
                                                  atol=1e-6))
print("candidate,   stacked form:", np.allclose(mg.tanh(a_g).numpy(), g_t.numpy(),
                                                  atol=1e-6))

# %% [markdown]
# 라이브러리의 cell이 기록한 것을 그리면, weight 행렬마다 공유되는 곱셈 하나 아래에 같은 상자들이
# 있습니다.

# %%
h_cell.name, c_cell.name = "h_t", "c_t"
drawing.graph(h_cell, c_cell, highlight=(c_prev, c_cell))

# %% [markdown]
# 다음 3부(*Peephole, coupled gate, 그리고 GRU*)에서는 이 cell을 잘 알려진 세 가지 방식으로
# 바꿔 봅니다.
