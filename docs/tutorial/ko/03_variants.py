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
# # 3. Peephole, coupled gate, 그리고 GRU
#
# *LSTM walk-through에서 코드로: 5부 중 3부*
#
# walk-through는 LSTM의 변형 세 가지로 끝납니다. 셋 모두 `minigrad.models`에 cell과 layer
# (`PeepholeLSTM`, `CoupledLSTM`, `GRU`)로 들어 있습니다. 2부처럼 수식에서 출발해 minigrad
# 연산으로 각 step을 쓰고, 라이브러리의 cell과 비교한 다음, cell이 기록한 것을 그려 봅니다. 그
# 과정에서 walk-through의 notation과 코드의 notation이 어긋나는 곳을 두 군데 만나는데, 그중
# 하나는 실제로 빠지기 쉬운 함정입니다.

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
# ## Peephole connection(핍홀)
#
# Gers & Schmidhuber(2000)는 gate가 cell state 자체를 들여다보게 했습니다. input gate와
# forget gate는 이전 state $c_{t-1}$을, output gate는 새 state $c_t$를 봅니다. walk-through는
# peephole을 행렬의 일부로 $W_f \cdot [C_{t-1}, h_{t-1}, x_t]$처럼 씁니다. 여기의 cell은
# 대부분의 구현(Greff et al.의 LSTM 변형 비교 연구, TensorFlow의 peephole 옵션)이 쓰는 대각
# 형태를 따릅니다. unit마다 weight 하나를 element-wise로 곱하는 것으로, `weight_ci`,
# `weight_cf`, `weight_co`가 각각 `(H,)`입니다.
#
# $$i_t = \sigma(a_i + w_{ci} \odot c_{t-1}), \quad
#   f_t = \sigma(a_f + w_{cf} \odot c_{t-1}), \quad
#   c_t = f_t \odot c_{t-1} + i_t \odot \tanh(a_g), \quad
#   o_t = \sigma(a_o + w_{co} \odot c_t)$$
#
# 여기서 $a_i, a_f, a_g, a_o$는 2부의 pre-activation입니다. 순서에 주의하세요. output gate는
# $c_t$를 읽기 때문에 cell 업데이트가 끝난 뒤에 계산합니다.

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
# ## Coupled forget gate와 input gate
#
# coupled cell은 무엇을 잊을지와 무엇을 쓸지를 따로 정하지 않고 한 번에 정합니다. 옛 값을 잊는
# 바로 그만큼 새 값을 쓰는 것으로, $i_t = 1 - f_t$입니다(Greff et al., 2017은 이를 CIFG라고
# 부릅니다). input gate의 weight가 없어지므로 쌓인 weight는 네 block이 아니라 세 block이고, 순서는
# **f, g, o**입니다.
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
# ## GRU
#
# Cho et al.(2014)의 gated recurrent unit은 한 걸음 더 나아갑니다. cell state를 hidden state에
# 합치고, forget gate와 input gate를 **update gate** 하나로 합칩니다. **reset gate**는 candidate가
# 이전 state를 얼마나 볼 수 있을지 정합니다. walk-through는 (colah를 따라) 이렇게 씁니다.
#
# $$z_t = \sigma(W_z \cdot [h_{t-1}, x_t]), \quad
#   r_t = \sigma(W_r \cdot [h_{t-1}, x_t]), \quad
#   \tilde{h}_t = \tanh(W \cdot [r_t \odot h_{t-1}, x_t]), \quad
#   h_t = (1 - z_t) \odot h_{t-1} + z_t \odot \tilde{h}_t.$$
#
# `GRUCell`은 PyTorch를 따릅니다. 쌓인 weight의 순서는 **r, z, n**이고(`n`이 candidate, colah의
# $\tilde{h}_t$), 마지막 식은 다음과 같습니다.
#
# $$h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}.$$
#
# 숫자를 비교하기 전에 두 가지를 짚어 둡니다.
#
# 1. **이 코드의 $z$는 colah의 $z$와 뜻이 반대입니다.** colah의 식에서 $z_t$는 *새* candidate의
#    몫이고, PyTorch(그리고 이 코드)에서는 유지되는 *이전* state의 몫입니다. 같은 weight로 colah의
#    gate를 구하면 $1 - z_t$가 됩니다.
# 2. **colah의 GRU는 `GRUCell(..., reset_after=False)`입니다.** colah는 candidate의 행렬 곱
#    *전에* reset gate를 $h_{t-1}$에 곱합니다: $W \cdot [r_t \odot h_{t-1}, x_t]$. PyTorch(와
#    cuDNN)는 곱한 *뒤에* 적용합니다: $n_t = \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn}
#    h_{t-1} + b_{hn}))$. 이것이 `GRUCell`의 기본값 `reset_after=True`이고, 다른 쪽이
#    `reset_after=False`입니다. 둘은 다른 숫자를 내므로, 한쪽으로 학습한 weight를 다른 쪽에 그대로
#    쓸 수 없습니다.
#
# (colah의 식에는 bias도 없습니다. 코드는 PyTorch의 `bias_ih`와 `bias_hh`를 유지하는데, gate에서는
# 둘이 그냥 더해집니다.) 아래는 `GRUCell`의 weight로 쓴 colah의 GRU이고, colah의 $z$는 우리 $z$를
# 1에서 뺀 값입니다.

# %%
def colah_gru_step(cell, x_t, h_prev):
    """The walk-through's GRU, from a GRUCell's weights (gate order r, z, n)."""
    x_r, x_z, x_n = (x_t @ cell.weight_ih.T + cell.bias_ih).chunk(3, axis=1)
    W_hr, W_hz, W_hn = cell.weight_hh.chunk(3, axis=0)
    b_hr, b_hz, b_hn = cell.bias_hh.chunk(3, axis=0)
    r_t = mg.sigmoid(x_r + h_prev @ W_hr.T + b_hr)
    z_ours = mg.sigmoid(x_z + h_prev @ W_hz.T + b_hz)
    z_colah = 1 - z_ours                           # colah의 z: 새 값의 몫
    h_tilde = mg.tanh(x_n + (r_t * h_prev) @ W_hn.T + b_hn)  # 곱하기 전에 reset
    return (1 - z_colah) * h_prev + z_colah * h_tilde


gru = GRUCell(input_size, hidden_size)                    # reset_after=True, PyTorch 방식
colah_placed = GRUCell(input_size, hidden_size, reset_after=False)
colah_placed.load_state_dict(gru.state_dict())            # 같은 weight

h_colah = colah_gru_step(gru, x_t, h_prev)
reset_before = colah_placed(x_t, h_prev)
reset_after = gru(x_t, h_prev)

print("colah vs GRUCell(reset_after=False):", largest_difference(h_colah, reset_before))
print("colah vs GRUCell(reset_after=True): ", largest_difference(h_colah, reset_after))
assert np.allclose(h_colah.numpy(), reset_before.numpy(), atol=1e-6)
assert not np.allclose(h_colah.numpy(), reset_after.numpy(), atol=1e-3)

# %% [markdown]
# 첫 번째 차이는 float32 반올림 오차이고, 두 번째는 아예 다른 함수입니다. GRU step(PyTorch 방식)의
# 그림에서 굵은 경로는 update gate의 지름길 $z_t \odot h_{t-1}$입니다. $z_t$가 1에 가까운 곳에서는
# state가 step을 거의 그대로 통과하는데, 이것이 vanishing gradient에 대한 GRU의 답입니다.

# %%
reset_after.name = "h_t"
drawing.graph(reset_after, highlight=(h_prev, reset_after))

# %% [markdown]
# 다음 4부(*Bidirectional RNN과 stacked RNN*)에서는 cell을 layer로 엮어 봅니다.
