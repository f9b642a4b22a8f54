"""The training CLI, resuming, divergence handling, plots, and the variant comparison."""
import json
import math

import numpy as np
import pytest

import minigrad as mg
from models import compare, train
from models.tasks.adding import AddingTask

TINY = ["--seq-len", "8", "--hidden", "8", "--batch", "8", "--eval-every", "5",
        "--log-every", "5", "--test-size", "16"]


def _records(folder, kind):
    lines = (folder / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if json.loads(line)["kind"] == kind]


def _without_timing(records):
    return [{k: v for k, v in r.items() if k != "seconds_per_step"} for r in records]


def test_cli_end_to_end_writes_the_run_folder(tmp_path):
    out = tmp_path / "run"
    code = train.main(["--task", "adding", *TINY, "--steps", "12", "--out", str(out)])
    assert code == 0
    for name in ("metrics.jsonl", "checkpoint.npz", "config.json", "summary.json",
                 "loss.png", "gates.png"):
        assert (out / name).exists(), f"{name} missing from the run folder"
    for name in ("loss.png", "gates.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    evals = _records(out, "eval")
    assert [r["step"] for r in evals] == [5, 10, 12]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 12 and summary["parameters"] > 0
    checkpoint = mg.load(out / "checkpoint.npz")
    assert int(checkpoint["step"]) == 12


@pytest.mark.parametrize("task,extra", [
    ("reber", []),
    ("copy", []),
    ("charlm", ["--max-chars", "20000", "--val-chars", "2000", "--sample-chars", "20"]),
])
def test_every_task_trains_from_the_cli(tmp_path, task, extra):
    out = tmp_path / task
    code = train.main(["--task", task, *TINY, "--steps", "6", "--cell", "gru", "--out",
                       str(out), *extra])
    assert code == 0
    assert (out / "loss.png").exists()
    assert not (out / "gates.png").exists(), "a GRU has no LSTM gates to draw"
    if task == "charlm":
        assert (out / "sample.txt").read_text().startswith("def ")
        assert "val_bpc" in _records(out, "eval")[-1]


def test_custom_cell_by_module_and_class(tmp_path):
    code = train.main(["--task", "adding", *TINY, "--steps", "5", "--cell",
                       "models.cells:PeepholeLSTMCell", "--out", str(tmp_path / "custom")])
    assert code == 0
    assert (tmp_path / "custom" / "gates.png").exists()


def test_unknown_cell_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as stop:
        train.main(["--cell", "nonsense", "--out", str(tmp_path)])
    assert stop.value.code == 2


def test_stops_early_once_solved(tmp_path, monkeypatch):
    monkeypatch.setattr(AddingTask, "threshold", 10.0)      # anything counts as solved
    out = tmp_path / "easy"
    assert train.main(["--task", "adding", *TINY, "--steps", "50", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["solved"] and summary["solved_at_step"] == 5 and summary["steps"] == 5
    assert summary["sequences_to_solve"] == 5 * 8


@pytest.mark.parametrize("task,extra", [
    ("adding", ["--cell", "lstm"]),
    ("charlm", ["--cell", "lstm", "--max-chars", "20000", "--val-chars", "1000",
                "--sample-chars", "0"]),
])
def test_resume_after_a_kill_matches_the_uninterrupted_run(tmp_path, task, extra):
    common = ["--task", task, *TINY, "--steps", "20", "--checkpoint-every", "4",
              "--no-plots", *extra]
    whole = tmp_path / "whole"
    assert train.main([*common, "--out", str(whole)]) == 0
    broken = tmp_path / "broken"
    # killed after step 14: the last checkpoint is step 12, steps 13-14 are lost
    assert train.main([*common, "--out", str(broken), "--stop-after", "14"]) == 0
    assert int(mg.load(broken / "checkpoint.npz")["step"]) == 12
    assert train.main(["--out", str(broken), "--resume"]) == 0
    a, b = mg.load(whole / "checkpoint.npz"), mg.load(broken / "checkpoint.npz")
    assert int(a["step"]) == int(b["step"]) == 20
    for name, value in a["model"].items():
        np.testing.assert_array_equal(value, b["model"][name], err_msg=name)
    assert _without_timing(_records(whole, "eval")) == _without_timing(_records(broken, "eval"))
    assert _without_timing(_records(whole, "train")) == \
        _without_timing(_records(broken, "train"))


def test_resume_without_a_checkpoint_starts_fresh(tmp_path, capsys):
    out = tmp_path / "new"
    assert train.main(["--task", "adding", *TINY, "--steps", "3", "--no-plots", "--out",
                       str(out), "--resume"]) == 0
    assert "starting a fresh run" in capsys.readouterr().err


def test_nan_loss_stops_cleanly_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch,
                                                                   capsys):
    calls = {"n": 0}
    real_loss = AddingTask.loss

    def poisoned(self, model, batch, carry=None):
        calls["n"] += 1
        loss, carry = real_loss(self, model, batch, carry)
        return (loss * float("nan") if calls["n"] == 8 else loss), carry

    monkeypatch.setattr(AddingTask, "loss", poisoned)
    out = tmp_path / "nan"
    code = train.main(["--task", "adding", *TINY, "--steps", "20", "--out", str(out)])
    assert code == train.EXIT_DIVERGED
    err = capsys.readouterr().err
    assert "loss is nan at step 8" in err and "last good checkpoint (step 5)" in err
    checkpoint = mg.load(out / "checkpoint.npz")
    assert int(checkpoint["step"]) == 5
    assert all(np.isfinite(v).all() for v in checkpoint["model"].values())
    assert _records(out, "diverged")[0]["step"] == 7


def test_exploding_loss_from_a_huge_learning_rate_stops_the_run(tmp_path, capsys):
    out = tmp_path / "boom"
    code = train.main(["--task", "adding", *TINY, "--steps", "30", "--lr", "1e6",
                       "--clip", "0", "--out", str(out)])
    assert code == train.EXIT_DIVERGED
    err = capsys.readouterr().err
    assert "training stopped" in err and "smaller --lr" in err
    assert (out / "checkpoint.npz").exists()
    assert all(np.isfinite(v).all() for v in mg.load(out / "checkpoint.npz")["model"].values())


def test_unavailable_backend_is_reported(tmp_path, capsys):
    if "cupy" in mg.backends_available():
        pytest.skip("CuPy works here")
    code = train.main(["--task", "adding", *TINY, "--steps", "2", "--backend", "cupy",
                       "--out", str(tmp_path)])
    assert code == train.EXIT_USAGE
    assert "cupy" in capsys.readouterr().err
    assert mg.get_backend() == "numpy"


def test_compare_writes_a_markdown_table(tmp_path, capsys):
    out = tmp_path / "compare"
    code = compare.main(["--task", "adding", "--seq-len", "6", "--hidden", "6", "--steps",
                         "4", "--eval-every", "2", "--test-size", "8", "--cells", "lstm",
                         "gru", "rnn", "--out", str(out), "--quiet"])
    assert code == 0
    table = (out / "results.md").read_text()
    assert "| cell | parameters |" in table
    for cell in ("lstm", "gru", "rnn"):
        assert f"| {cell} |" in table
    rows = json.loads((out / "results.json").read_text())
    assert [r["cell"] for r in rows] == ["lstm", "gru", "rnn"]
    assert rows[0]["parameters"] > rows[1]["parameters"] > rows[2]["parameters"]
    assert all(math.isfinite(r["seconds_per_step"]) for r in rows)
    assert "| lstm |" in capsys.readouterr().out
