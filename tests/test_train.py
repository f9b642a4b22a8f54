"""The training CLI, resuming, divergence handling, plots, and the variant comparison."""
import errno
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

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


@pytest.mark.parametrize("schedule, optimizer, torch_schedule", [
    ("cosine", "adam", lambda opt: torch.optim.lr_scheduler.CosineAnnealingLR(opt, 20)),
    ("onecycle", "sgd", lambda opt: torch.optim.lr_scheduler.OneCycleLR(
        opt, 0.01, total_steps=20)),
])
def test_a_scheduled_run_resumes_its_schedule_and_follows_torch(tmp_path, schedule, optimizer,
                                                                 torch_schedule):
    common = ["--task", "adding", *TINY, "--steps", "20", "--checkpoint-every", "4",
              "--no-plots", "--quiet", "--lr", "0.01", "--optimizer", optimizer,
              "--lr-schedule", schedule, "--log-every", "1"]
    whole = tmp_path / "whole"
    assert train.main([*common, "--out", str(whole)]) == 0
    broken = tmp_path / "broken"
    assert train.main([*common, "--out", str(broken), "--stop-after", "14"]) == 0
    assert mg.load(broken / "checkpoint.npz")["schedule"]["last_epoch"] == 12
    assert train.main(["--out", str(broken), "--resume"]) == 0
    _same_run(whole, broken)
    # the rate after each step is PyTorch's (its momentum too, for the one-cycle)
    parameter = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([parameter], lr=0.01, momentum=0.9) if optimizer == "sgd" else \
        torch.optim.Adam([parameter], lr=0.01)
    reference = torch_schedule(opt)
    expected = []
    for _ in range(20):
        opt.step()
        reference.step()
        expected.append(opt.param_groups[0]["lr"])
    assert [r["lr"] for r in _records(whole, "train")] == expected
    group = mg.load(whole / "checkpoint.npz")["optimizer"]["param_groups"][0]
    momentum = "betas" if optimizer == "adam" else "momentum"
    assert group[momentum] == opt.param_groups[0][momentum]
    # a larger step budget on resume: the schedule has ended, the rate stays
    assert train.main(["--out", str(whole), "--resume", "--steps", "25"]) == 0
    assert [r["lr"] for r in _records(whole, "train")][20:] == [expected[-1]] * 5


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


# --------------------------------------------------------------------------- settings

def _one_line_usage_error(capsys, argv):
    with pytest.raises(SystemExit) as stop:
        train.main(argv)
    err = capsys.readouterr().err
    assert stop.value.code == train.EXIT_USAGE
    assert len(err.strip().splitlines()) == 1, err
    return err


@pytest.mark.parametrize("option, value, says", [
    ("--clip", "-1", "must be >= 0"), ("--eval-every", "0", "must be >= 1"),
    ("--log-every", "0", "must be >= 1"), ("--checkpoint-every", "0", "must be >= 1"),
    ("--steps", "0", "must be >= 1"), ("--steps", "ten", "expected an integer"),
    ("--lr", "0", "must be > 0"), ("--lr", "nan", "must be finite"),
    ("--hidden", "0", "must be >= 1"), ("--batch", "-2", "must be >= 1"),
    ("--seed", "-1", "must be >= 0"), ("--threads", "0", "must be >= 1"),
    ("--temperature", "0", "must be > 0"), ("--clip", "inf", "must be finite"),
])
def test_every_setting_is_checked_with_a_one_line_usage_error(tmp_path, capsys, option,
                                                              value, says):
    err = _one_line_usage_error(capsys, [option, value, "--out", str(tmp_path / "run")])
    assert option in err and says in err
    assert not (tmp_path / "run").exists(), "nothing is written for a bad setting"


def test_an_unwritable_run_folder_is_a_usage_error(tmp_path, capsys):
    afile = tmp_path / "afile"
    afile.write_text("x")
    for out in (afile, afile / "run"):
        code = train.main(["--task", "adding", *TINY, "--steps", "2", "--out", str(out)])
        err = capsys.readouterr().err
        assert code == train.EXIT_USAGE and str(afile) in err
        assert len(err.strip().splitlines()) == 1, err


def test_help_says_what_is_guaranteed_and_every_exit_code(capsys):
    with pytest.raises(SystemExit):
        train.main(["--help"])
    text = capsys.readouterr().out
    assert "--overwrite" in text and "bit for bit" in text and "checkpoint.npz holds" in text
    for code in train.EXIT_CODES:
        assert f"{code:3d}  " in text, code


# --------------------------------------------------------------------------- run folders

def _model(folder):
    return mg.load(folder / "checkpoint.npz")["model"]


def _same_run(a, b):
    """Two run folders end identically: step, every parameter bit, the metrics log."""
    ca, cb = mg.load(a / "checkpoint.npz"), mg.load(b / "checkpoint.npz")
    assert int(ca["step"]) == int(cb["step"])
    assert ca["model"].keys() == cb["model"].keys()
    for name, value in ca["model"].items():
        assert value.tobytes() == cb["model"][name].tobytes(), name
    assert ca["schedule"] == cb["schedule"]
    for kind in ("train", "eval"):
        assert _without_timing(_records(a, kind)) == _without_timing(_records(b, kind)), kind


COMMON = ["--task", "adding", *TINY, "--steps", "20", "--checkpoint-every", "4", "--no-plots",
          "--quiet"]


@pytest.fixture
def whole(tmp_path_factory):
    out = tmp_path_factory.mktemp("whole") / "run"
    assert train.main([*COMMON, "--out", str(out)]) == 0
    return out


def test_an_existing_run_is_not_overwritten_without_overwrite(tmp_path, capsys, whole):
    out = tmp_path / "run"
    assert train.main([*COMMON, "--out", str(out), "--stop-after", "9"]) == 0
    before = (out / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    code = train.main([*COMMON, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == train.EXIT_USAGE and "--resume" in err and "--overwrite" in err
    assert len(err.strip().splitlines()) == 1
    assert (out / "checkpoint.npz").read_bytes() == before
    (out / "notes.txt").write_text("mine")
    assert train.main([*COMMON, "--out", str(out), "--overwrite"]) == 0
    assert "removed the earlier run's" in capsys.readouterr().err
    assert (out / "notes.txt").read_text() == "mine"      # only the run's own files go
    _same_run(out, whole)


def test_a_torn_last_metrics_line_is_dropped_with_a_note(tmp_path, capsys, whole):
    out = tmp_path / "run"
    assert train.main([*COMMON, "--out", str(out), "--stop-after", "10"]) == 0
    with open(out / "metrics.jsonl", "a") as stream:
        stream.write('{"kind": "train", "step": 11, "lo')          # the disk filled here
    capsys.readouterr()
    assert train.main(["--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "torn last line" in err and "metrics.jsonl" in err
    _same_run(out, whole)


def test_resume_without_a_checkpoint_uses_the_folders_config(tmp_path, capsys, whole):
    out = tmp_path / "run"
    assert train.main([*COMMON, "--out", str(out), "--stop-after", "3"]) == 0
    (out / "checkpoint.npz").unlink()          # killed before its first checkpoint
    (out / "metrics.jsonl").unlink(missing_ok=True)
    config = json.loads((out / "config.json").read_text())
    capsys.readouterr()
    assert train.main(["--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err
    assert "no checkpoint" in err and "config.json" in err and "step 0" in err
    assert json.loads((out / "config.json").read_text()) == config     # not the defaults
    _same_run(out, whole)


def test_resume_refuses_options_that_differ_and_applies_the_step_budget(tmp_path, capsys):
    out = tmp_path / "run"
    assert train.main([*COMMON, "--out", str(out)]) == 0
    before = (out / "checkpoint.npz").read_bytes()
    capsys.readouterr()
    for option in (["--lr", "0.5"], ["--task", "reber"], ["--hidden", "9"],
                   ["--eval-every", "3"]):
        code = train.main(["--out", str(out), "--resume", *option])
        err = capsys.readouterr().err
        assert code == train.EXIT_USAGE, option
        assert option[0] in err and "differ" in err and len(err.strip().splitlines()) == 1
        assert (out / "checkpoint.npz").read_bytes() == before
    # the same value as the run's is no conflict; a new step budget is applied, and said
    assert train.main(["--out", str(out), "--resume", "--lr", "0.01", "--hidden", "8",
                       "--steps", "30"]) == 0
    assert "--steps applied on resume (steps 20 -> 30)" in capsys.readouterr().err
    longer = tmp_path / "longer"
    assert train.main([*COMMON[:-4], "--steps", "30", *COMMON[-4:], "--out", str(longer)]) == 0
    _same_run(out, longer)


@pytest.mark.parametrize("damage", ["foreign", "flipped header bit", "text", "truncated"])
def test_a_checkpoint_that_cannot_be_used_is_refused_with_its_path(tmp_path, capsys, damage):
    out = tmp_path / "run"
    assert train.main([*COMMON, "--out", str(out), "--stop-after", "9"]) == 0
    path = out / "checkpoint.npz"
    if damage == "foreign":
        mg.save({"weights": np.ones(3)}, path)
    elif damage == "text":
        path.write_text("not a checkpoint")
    else:
        data = bytearray(path.read_bytes())
        if damage == "truncated":
            data = data[:len(data) // 2]
        else:                         # one bit of the first array's .npy header
            data[data.index(b"{'descr'") + 12] ^= 0x04
        path.write_bytes(bytes(data))
    capsys.readouterr()
    code = train.main(["--out", str(out), "--resume"])
    err = capsys.readouterr().err
    assert code == train.EXIT_CHECKPOINT and str(path) in err
    assert len(err.strip().splitlines()) == 1, err


def test_stale_temporary_files_of_killed_saves_are_removed(tmp_path, capsys, whole):
    out = tmp_path / "run"
    assert train.main([*COMMON, "--out", str(out), "--stop-after", "9"]) == 0
    for name in (".checkpoint.npz.abc123.tmp", ".checkpoint.npz.x.tmp",
                 ".metrics.jsonl.4242.tmp"):
        (out / name).write_bytes(b"PK\x03\x04 half a save")
    (out / ".mine.tmp").write_text("not ours")
    capsys.readouterr()
    assert train.main(["--out", str(out), "--resume"]) == 0
    assert "removed 3 temporary file(s)" in capsys.readouterr().err
    assert sorted(p.name for p in out.glob(".*")) == [".mine.tmp"]
    _same_run(out, whole)


# --------------------------------------------------------------------------- kill -9

ROOT = Path(__file__).resolve().parent.parent
KILL_RUN = ["--task", "adding", *TINY, "--steps", "120", "--checkpoint-every", "1",
            "--no-plots", "--quiet", "--lr-schedule", "onecycle"]   # (the most state)
# Kill the run at its n-th fsync: mg.save calls fsync twice per save (the temporary file,
# written in full but not yet renamed; then the folder, after the rename), so this is a
# kill -9 in the middle of a checkpoint write.
KILL_IN_SAVE = textwrap.dedent("""
    import os, signal, sys
    calls = [0]
    real_fsync = os.fsync
    def fsync(fd):
        calls[0] += 1
        if calls[0] == int(os.environ["KILL_AT_FSYNC"]):
            os.kill(os.getpid(), signal.SIGKILL)
        return real_fsync(fd)
    os.fsync = fsync
    from models import train
    sys.exit(train.main(sys.argv[1:]))
    """)


def _environment(**extra):
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


def _kill_in_save(out, at):
    result = subprocess.run([sys.executable, "-c", KILL_IN_SAVE, *KILL_RUN, "--out", str(out)],
                            cwd=ROOT, env=_environment(KILL_AT_FSYNC=str(at)),
                            capture_output=True, timeout=120)
    return result.returncode


def _kill_at_random(out, delay):
    process = subprocess.Popen([sys.executable, "-m", "models.train", *KILL_RUN, "--out",
                                str(out)], cwd=ROOT, env=_environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (out / "checkpoint.npz").exists() and process.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        return process.wait(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()


def test_kill_9_at_random_moments_and_mid_save_then_resume_is_bit_for_bit(tmp_path, capsys):
    """A small campaign: two kills inside a checkpoint write (one before its rename, one
    after), two at random moments; each run is resumed and must end exactly as the
    uninterrupted run, with no temporary file left."""
    whole = tmp_path / "whole"
    assert train.main([*KILL_RUN, "--out", str(whole)]) == 0
    rng = np.random.default_rng(16)
    kills = [("in save, before the rename", lambda out: _kill_in_save(out, 15)),
             ("in save, after the rename", lambda out: _kill_in_save(out, 30))]
    kills += [(f"at random, {delay:.3f} s after the first checkpoint",
               lambda out, delay=delay: _kill_at_random(out, delay))
              for delay in rng.uniform(0.0, 0.15, size=2)]
    killed = 0
    for index, (moment, kill) in enumerate(kills):
        out = tmp_path / f"killed{index}"
        code = kill(out)
        killed += code == -signal.SIGKILL
        if index < 2:
            assert code == -signal.SIGKILL, f"{moment}: the run was not killed ({code})"
            assert len(list(out.glob(".checkpoint.npz.*.tmp"))) == (1 if index == 0 else 0)
        mg.load(out / "checkpoint.npz")                   # whatever the moment: loadable
        assert train.main(["--out", str(out), "--resume"]) == 0, moment
        assert not list(out.glob(".*.tmp")), f"{moment}: a temporary file was left"
        _same_run(out, whole)
    capsys.readouterr()
    assert killed >= 2


# --------------------------------------------------------------------------- full disk

@pytest.fixture
def small_disk(tmp_path):
    """A folder on a 4 MB tmpfs where the test may mount one (root), else a plain folder
    (the test then limits file sizes instead)."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = False
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("mount"):
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs",
                                  str(folder)], capture_output=True).returncode == 0
    yield folder, mounted
    if mounted:
        subprocess.run(["umount", str(folder)], capture_output=True)


def _fill(folder):
    """Fill the file system of ``folder`` to the last byte; returns the filler's path."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        for size in (1 << 16, 1 << 12, 1 << 9, 1):
            chunk = b"\0" * size
            try:
                while True:
                    os.write(fd, chunk)
            except OSError as error:
                assert error.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


def test_a_full_disk_stops_in_one_line_keeps_the_checkpoint_and_resumes(small_disk, tmp_path,
                                                                         capsys, whole):
    folder, mounted = small_disk
    out = folder / "run"
    assert train.main([*COMMON, "--out", str(out), "--stop-after", "9"]) == 0
    checkpoint = out / "checkpoint.npz"
    before = checkpoint.read_bytes()
    assert len(before) > 8192 > 2 * len((out / "config.json").read_bytes())
    if mounted:
        # room for the small files a resume rewrites, not for the next checkpoint
        reserve = folder / "reserve"
        reserve.write_bytes(b"\1" * 8192)
        filler = _fill(folder)
        reserve.unlink()
        capsys.readouterr()
        code = train.main(["--out", str(out), "--resume"])
        err = capsys.readouterr().err
    else:
        # no tmpfs here: a file-size limit (EFBIG) stands in for the full disk
        limit = textwrap.dedent("""
            import resource, sys
            resource.setrlimit(resource.RLIMIT_FSIZE, (8192, 8192))
            from models import train
            sys.exit(train.main(sys.argv[1:]))
            """)
        result = subprocess.run([sys.executable, "-c", limit, "--out", str(out), "--resume"],
                                cwd=ROOT, env=_environment(), capture_output=True, text=True,
                                timeout=120)
        code, err = result.returncode, result.stderr
    assert code == train.EXIT_DISK, err
    assert len(err.strip().splitlines()) == 1, err
    assert "last good checkpoint (step 8)" in err and "--resume" in err
    assert checkpoint.read_bytes() == before
    assert not list(out.glob(".*.tmp"))
    if mounted:
        filler.unlink()
    assert train.main(["--out", str(out), "--resume"]) == 0
    _same_run(out, whole)


def test_the_cli_trains_on_the_backend_minigrad_backend_chose(tmp_path, monkeypatch):
    import standin      # a device backend that NumPy cannot be mixed into by accident
    standin.register()
    with mg.use_backend("standin"):         # what MINIGRAD_BACKEND=... leaves active
        assert train.main([*COMMON, "--steps", "2", "--out", str(tmp_path / "run")]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["backend"] == "standin"
