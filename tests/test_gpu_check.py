"""scripts/gpu_check.sh, the one command a GPU machine runs, tried here end to end in its
quick mode (every step, tiny sizes), so that a typo cannot wait for the GPU machine to be
found; and scripts/offline_wheels.py, which brings it the project's pure-Python wheels."""
import os
import pathlib
import shutil
import subprocess
import sys
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import offline_wheels  # noqa: E402


def has_gpu():
    import minigrad as mg
    return "cupy" in mg.backends_available()


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None or shutil.which("timeout") is None,
                    reason="needs bash and coreutils' timeout")
def test_the_gpu_check_runs_to_the_end_in_quick_mode(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "MINIGRAD_BACKEND"}
    env["PYTHON"] = sys.executable
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_check.sh"), str(tmp_path),
                           "--quick"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    log = (tmp_path / "log.txt").read_text()
    expected = 0 if has_gpu() else 3
    assert done.returncode == expected, f"exit status {done.returncode}:\n{log[-4000:]}"
    for section in ("## tests under", "## engine overhead", "## LSTM training step",
                    "## adding problem"):
        assert section in log, f"the log has no {section!r} section:\n{log[-4000:]}"
    assert "FAILED" not in log
    results = (tmp_path / "results.md").read_text()
    assert "| tiny (2, 4, 3, 5) |" in results, results
    if expected == 3:
        assert "NO GPU PRESENT" in log and "No GPU present" in results
    assert (tmp_path / "adding" / "summary.json").exists()


def _wheel(folder, name):
    path = folder / name
    with zipfile.ZipFile(path, "w") as archive:
        package = name.split("-")[0]
        archive.writestr(f"{package}/__init__.py", "VALUE = 42\n")
    return path


def test_offline_wheels_unpacks_only_what_is_missing(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    wheels.mkdir()
    _wheel(wheels, "minigrad_absent_pkg-1.0-py3-none-any.whl")
    _wheel(wheels, "numpy-0.1-py3-none-any.whl")           # installed: never shadowed
    lines = offline_wheels.install(wheels, target)
    assert (target / "minigrad_absent_pkg" / "__init__.py").exists()
    assert not (target / "numpy").exists()
    assert any(line.startswith("kept the installed numpy") for line in lines), lines
    _wheel(wheels, "compiled_pkg-1.0-cp312-cp312-linux_x86_64.whl")
    assert offline_wheels.main([str(wheels), str(target)]) == 1      # refused: not pure


def test_the_carried_wheels_are_pure_python():
    wheels = sorted((ROOT / ".whl").glob("*.whl"))
    assert any(w.name.startswith("graphviz-") for w in wheels), "graphviz's wheel is missing"
    assert all(w.name.endswith("-py3-none-any.whl") for w in wheels), wheels
