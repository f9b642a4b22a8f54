"""The benchmarks' NumPy LSTM floor agrees with PyTorch, and every benchmark script runs.

The floor's gradients are hand-written, so they are checked against ``torch.nn.LSTM`` in
float64; the smoke tests run each benchmark's ``main`` on a tiny configuration with one
repetition. Nothing here times anything.
"""
import os
import sys

import numpy as np
import pytest

# `python -m pytest` from the repository root puts it on sys.path; other runners may not
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.numpy_lstm import NumpyLSTM  # noqa: E402

torch = pytest.importorskip("torch")


def _torch_lstm(floor):
    lstm = torch.nn.LSTM(floor.input_size, floor.hidden_size).double()
    with torch.no_grad():
        for name, value in floor.state().items():
            getattr(lstm, name + "_l0").copy_(torch.from_numpy(value))
    return lstm


@pytest.mark.parametrize("T,B,I,H", [(1, 1, 1, 1), (5, 3, 4, 6), (7, 2, 3, 5)])
@pytest.mark.parametrize("with_state", [False, True])
def test_floor_matches_torch_forward_and_gradients(T, B, I, H, with_state):
    rng = np.random.default_rng(T * 100 + H)
    floor = NumpyLSTM(I, H, dtype=np.float64, seed=H)
    x = rng.standard_normal((T, B, I))
    h0 = rng.standard_normal((B, H)) if with_state else None
    c0 = rng.standard_normal((B, H)) if with_state else None
    grad_output = rng.standard_normal((T, B, H))
    grad_h_n = rng.standard_normal((B, H))
    grad_c_n = rng.standard_normal((B, H))

    output, (h_n, c_n) = floor.forward(x, h0, c0)
    output, h_n, c_n = output.copy(), h_n.copy(), c_n.copy()
    grads = floor.backward(grad_output, grad_h_n, grad_c_n, input_grad=True)

    lstm = _torch_lstm(floor)
    tx = torch.tensor(x, requires_grad=True)
    th0 = torch.tensor(h0 if with_state else np.zeros((B, H)), requires_grad=True)
    tc0 = torch.tensor(c0 if with_state else np.zeros((B, H)), requires_grad=True)
    t_out, (t_hn, t_cn) = lstm(tx, (th0[None], tc0[None]))
    torch.autograd.backward([t_out, t_hn[0], t_cn[0]],
                            [torch.tensor(grad_output), torch.tensor(grad_h_n),
                             torch.tensor(grad_c_n)])

    def same(name, ours, theirs):
        theirs = theirs.detach().numpy()
        assert ours.shape == theirs.shape, f"{name}: shape {ours.shape} vs {theirs.shape}"
        worst = np.abs(ours - theirs).max() if ours.size else 0.0
        assert np.allclose(ours, theirs, rtol=1e-9, atol=1e-10), \
            f"{name}: the floor differs from torch.nn.LSTM by up to {worst:.3g}"

    same("output", output, t_out)
    same("h_n", h_n, t_hn[0])
    same("c_n", c_n, t_cn[0])
    for name in NumpyLSTM.PARAM_NAMES:
        same(f"grad {name}", grads[name], getattr(lstm, name + "_l0").grad)
    same("grad x", grads["x"], tx.grad)
    same("grad h0", grads["h0"], th0.grad)
    same("grad c0", grads["c0"], tc0.grad)


@pytest.mark.parametrize("loss", ["all", "last"])
def test_floor_train_step_matches_torch_sgd(loss):
    T, B, I, H, lr = 6, 3, 4, 5, 0.1
    rng = np.random.default_rng(1)
    floor = NumpyLSTM(I, H, dtype=np.float64, seed=2)
    lstm = _torch_lstm(floor)
    x = rng.standard_normal((T, B, I))
    target = rng.standard_normal((T, B, H) if loss == "all" else (B, H))
    for _ in range(3):      # a few steps: buffers are reused, parameters move
        value = floor.train_step(x, target, lr=lr, loss=loss)
        out, (h_n, _) = lstm(torch.tensor(x))
        pred = out if loss == "all" else h_n[0]
        t_loss = torch.nn.functional.mse_loss(pred, torch.tensor(target))
        lstm.zero_grad()
        t_loss.backward()
        with torch.no_grad():
            for p in lstm.parameters():
                p -= lr * p.grad
        assert value == pytest.approx(t_loss.item(), rel=1e-10)
    for name in NumpyLSTM.PARAM_NAMES:
        theirs = getattr(lstm, name + "_l0").detach().numpy()
        assert np.allclose(getattr(floor, name), theirs, rtol=1e-9, atol=1e-11), \
            f"{name} after 3 SGD steps differs from PyTorch's"


def test_floor_float32_is_float32():
    floor = NumpyLSTM(3, 4)
    x = np.ones((2, 2, 3), dtype=np.float32)
    floor.train_step(x, np.zeros((2, 2, 4), dtype=np.float32))
    assert all(getattr(floor, n).dtype == np.float32 for n in NumpyLSTM.PARAM_NAMES)
    assert all(g.dtype == np.float32 for g in floor.grads.values())


# --------------------------------------------------------------------------- smoke tests
# Each benchmark's main on a tiny configuration, one repetition: the scripts run and
# print their tables. No timing is asserted.

def test_engine_overhead_runs(capsys):
    from benchmarks import engine_overhead
    result = engine_overhead.main(["--repeats", "1", "--length", "10", "--no-header"])
    assert result["chain_ops"] == 11 and result["mlp_ops"] > 5
    assert "minigrad / PyTorch" in capsys.readouterr().out
    assert "tottime" in engine_overhead.profile(length=10, rounds=1)


def test_lstm_step_runs(capsys):
    pytest.importorskip("models")
    from benchmarks import lstm_step
    rows = lstm_step.main(["--configs", "tiny", "--repeats", "1", "--no-header"])
    assert {"floor", "minigrad", "nn.LSTM", "LSTMCell loop"} <= set(rows[0]["median"])
    assert "minigrad / floor" in capsys.readouterr().out
    assert "tottime" in lstm_step.profile("tiny", steps=1)


def test_cells_runs(capsys):
    pytest.importorskip("models")
    from benchmarks import cells
    rows = cells.main(["--config", "tiny", "--repeats", "1", "--no-header"])
    assert [row[0] for row in rows] == list(cells.KINDS)
    assert "shipped / op by op" in capsys.readouterr().out


def test_memory_runs(capsys):
    pytest.importorskip("models")
    from benchmarks import memory
    result = memory.main(["--lengths", "3,6", "--no-header"])
    assert all(row["floor"] > 0 and row["minigrad"] > 0 for row in result["rows"])
    assert "minigrad / floor" in capsys.readouterr().out


def test_machine_header_names_blas_and_threads():
    from benchmarks.common import machine_header
    header = machine_header()
    assert "BLAS" in header and "threads" in header


def test_graph_size_runs(capsys):
    pytest.importorskip("models")
    pytest.importorskip("graphviz", reason="the graphviz package is missing")
    from benchmarks import graph_size
    (row,) = graph_size.main(["--steps", "3", "--no-render"])
    assert row["nodes"] > 0 and row["duplicate_labels"] == 0 and row["render_s"] is None
    assert "dot -Tsvg" in capsys.readouterr().out
