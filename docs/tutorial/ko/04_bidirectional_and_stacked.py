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
# # 4. Bidirectional RNN과 stacked RNN
#
# *LSTM walk-through에서 코드로: 5부 중 4부*
#
# walk-through는 cell을 엮는 두 가지 방법을 소개하며 끝납니다. **Bidirectional** RNN은 cell
# 하나는 sequence를 앞에서부터, 다른 하나는 뒤에서부터 읽게 해서, step $t$의 출력이 그 앞과 뒤를
# 모두 보게 합니다. **Stacked**(deep) RNN은 한 layer의 출력 sequence 전체를 다음 layer의 입력으로
# 넣습니다. 각 step에서 layer $l$은 그 step의 layer $l-1$ 출력과, 자기 자신의 이전 step state를
# 받습니다.
#
# `minigrad.models`의 layer(`LSTM`, `GRU`, `RNN`, ...)는 PyTorch처럼 `num_layers`와 `bidirectional`을 받고,
# 모양도 PyTorch와 같습니다.
#
# | tensor | 모양 |
# | --- | --- |
# | 입력 `x` | `(T, B, I)` (`batch_first=True`이면 `(B, T, I)`) |
# | `output` | `(T, B, D * H)`: 마지막 layer의 출력, 두 방향을 나란히 |
# | `h_n`, `c_n` | `(num_layers * D, B, H)`: 모든 layer와 방향의 마지막 state |
#
# bidirectional이면 `D = 2`입니다. `h_n`의 `2 * l + d`번째 항목이 layer `l`, 방향 `d`(0은 정방향,
# 1은 역방향)입니다.

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
# ## 손으로 똑같이
#
# layer는 layer와 방향마다 cell을 하나씩 `lstm.cells`에 `l0`, `l0_reverse`, `l1`, `l1_reverse`
# 순서로 갖고 있고, 각 cell은 자기 weight(`weight_ih_l0`, ...)를 layer에서 읽습니다. 이 cell들을
# 평범한 Python loop로 돌려 보면 layer가 하는 일이 모두 드러납니다. 역방향은 마지막 step부터 첫
# step까지 거꾸로 걷고, 두 방향의 출력은 step마다 이어 붙으며, 그 sequence가 다음 layer의 입력이
# 됩니다.

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
            state = cell(layer_input[t], state)       # state는 (h, c)
            outputs[t] = state[0]
        final_states.append(state)
        directions.append(mg.stack(outputs))           # (T, B, H)
    layer_input = mg.cat(directions, axis=2)           # (T, B, 2H): 다음 layer의 입력

print("output:", np.allclose(layer_input.numpy(), output.numpy(), atol=1e-6))
print("h_n:   ", all(np.allclose(h.numpy(), h_n[k].numpy(), atol=1e-6)
                     for k, (h, c) in enumerate(final_states)))

# %% [markdown]
# bidirectional layer에서 `output[-1]`이 무엇인지 주의하세요. 앞쪽 절반은 sequence 전체를 본
# 정방향의 출력이지만, 뒤쪽 절반은 (끝에서 출발했으므로) *한* step만 본 역방향의 출력입니다.
# sequence를 요약하려면 각 방향이 자기 끝에 도달했을 때의 state를 담은 `h_n`을 쓰세요.

# %%
H = hidden_size
print("forward half of output[-1] is h_n[2]: ",
      np.allclose(output[-1, :, :H].numpy(), h_n[2].numpy()))
print("backward half of output[0] is h_n[3]:",
      np.allclose(output[0, :, H:].numpy(), h_n[3].numpy()))

# %% [markdown]
# ## 모델 전체의 그림
#
# layer 안에서 layer와 방향마다 시간에 대한 loop(`mg.scan`)가 하나씩 있으므로, 그림에는 상자가 네
# 개 나옵니다. `l0`과 `l0 reverse`가 나란히 있고, 그 출력이 이어진 다음 `l1`과 `l1 reverse`가
# 옵니다. loop마다 여섯 step을 돌지만, `max_steps=1`은 처음 실행된 step(역방향 loop에서는 `t5`)만
# 온전히 그리고 나머지 다섯 step은 node 하나로 접습니다. 이 옵션이 없어도 graph가 `max_nodes`(300)
# node를 넘으면 알아서 접고 warning으로 알려 줍니다. `model=lstm`은 각 parameter에 layer 안의
# 이름을 붙이고, loop가 시작하는 0 state는 `h0`, `c0`으로 그려집니다.

# %%
drawing.graph(output, model=lstm, max_steps=1)

# %% [markdown]
# 같은 호출로 모델 전체(embedding, 이 encoder, classifier head 등)도 그릴 수 있으며, graphs
# guide에 예가 있습니다. 다음 5부(*Adding problem으로 학습하기*)에서는 LSTM을 학습시키고 그
# gate를 들여다봅니다.
