"""``minigrad.models``: the LSTM family under a name no user's ``models.py`` can shadow.

Each check runs a script in a fresh interpreter in a temporary folder, as a user's
project would: the folder comes first on ``sys.path``, so its ``models.py`` is what a
plain ``import models`` finds there.
"""
import os
import pathlib
import subprocess
import sys
import textwrap

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]

# a user's models.py that must never be loaded by minigrad
POISON = 'raise RuntimeError("the user\'s models.py was imported")\n'
# a user's models.py that their own code imports
OWN = "MINE = True\n"


def run(folder, script, *args):
    """Run ``script`` (the text of a file) in ``folder``; return its stdout."""
    (folder / "main.py").write_text(textwrap.dedent(script))
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    done = subprocess.run([sys.executable, *(args or ["main.py"])], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_a_users_models_py_is_not_loaded(tmp_path):
    (tmp_path / "models.py").write_text(POISON)
    out = run(tmp_path, """
        import sys
        import minigrad as mg
        from minigrad.models import LSTM, LSTMCell, record_gates
        from minigrad.models.tasks import get_task
        import minigrad.models.drawing

        assert "models" not in sys.modules          # the user's file was left alone
        assert LSTM.__module__ == "minigrad.models.layers", LSTM.__module__
        assert mg.models.LSTM is LSTM               # one copy, however it is reached
        assert sys.modules["minigrad.models.layers"].LSTM is LSTM
        output, (h_n, c_n) = LSTM(3, 4)(mg.randn(5, 2, 3))
        print(tuple(output.shape), get_task.__module__)
    """)
    assert out.split() == ["(5,", "2,", "4)", "minigrad.models.tasks"]


def test_the_user_keeps_their_own_models(tmp_path):
    (tmp_path / "models.py").write_text(OWN)
    out = run(tmp_path, """
        import models                               # the user's, imported first
        import minigrad.models
        import models as again
        assert models.MINE and again is models
        assert minigrad.models is not models
        print(minigrad.models.GRU.__name__)
    """)
    assert out.strip() == "GRU"


def test_without_a_shadow_both_names_are_one_package(tmp_path):
    out = run(tmp_path, """
        import minigrad.models
        import models
        import models.layers
        from minigrad.models.drawing import graph
        import minigrad.models.layers
        import models.drawing

        assert minigrad.models is models
        assert minigrad.models.layers is models.layers
        assert graph is models.drawing.graph
        assert models.layers.__spec__.name == "models.layers"   # its own spec, kept
        print(models.LSTM.__module__)
    """)
    assert out.strip() == "models.layers"


@pytest.mark.parametrize("shadowed", [False, True], ids=["plain", "shadowed"])
def test_the_command_line_runs_as_minigrad_models(tmp_path, shadowed):
    if shadowed:
        (tmp_path / "models.py").write_text(POISON)
    out = run(tmp_path, "", "-m", "minigrad.models.graph", "gru", "-o", "gru.gv")
    assert "gru.gv" in out
    assert (tmp_path / "gru.gv").read_text().startswith("digraph")


@pytest.mark.parametrize("shadowed", [False, True], ids=["plain", "shadowed"])
def test_a_package_command_runs_as_minigrad_models(tmp_path, shadowed):
    """``python -m minigrad.models.study`` runs the package's ``__main__`` (a package
    reached through the alias stays a package)."""
    if shadowed:
        (tmp_path / "models.py").write_text(POISON)
    out = run(tmp_path, "", "-m", "minigrad.models.study", "--help")
    assert "variant study" in out
