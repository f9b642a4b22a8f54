"""The tutorial notebooks (docs/tutorial/{en,ko}/*.py, Jupytext percent format) run.

Each notebook is read with jupytext and executed with nbclient in an IPython kernel of
this interpreter, the way the documentation site executes it: from the notebook's own
folder, importing this checkout. A cell that raises fails the test. The English and
Korean editions are one tutorial in two languages, so their code cells must be the same
(comments aside: those are translated), and the numbers part 1 prints must say what its
prose says about them.
"""
import functools
import io
import os
import pathlib
import re
import shutil
import sys
import tokenize

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = pathlib.Path(__file__).resolve().parent.parent
TUTORIAL = ROOT / "docs" / "tutorial"
LANGUAGES = ("en", "ko")
NOTEBOOKS = {language: sorted((TUTORIAL / language).glob("[0-9][0-9]_*.py"))
             for language in LANGUAGES}
ALL = [path for language in LANGUAGES for path in NOTEBOOKS[language]]


def _label(path):
    return f"{path.parent.name}/{path.stem}"


def _draws(path):
    """Whether the notebook shows graphs, which a notebook displays through Graphviz's
    ``dot`` (``make test`` installs it; the other notebooks run without it)."""
    return "drawing.graph(" in path.read_text(encoding="utf-8")


def _marked(path):
    if _draws(path):
        return pytest.param(path, marks=pytest.mark.skipif(
            shutil.which("dot") is None, reason="Graphviz's dot is missing"))
    return path


def _execute(notebook, folder):
    """Run ``notebook`` in a fresh IPython kernel of this interpreter, from ``folder``;
    nbclient raises on the first cell that raises."""
    # the kernel imports this checkout (not another install) and uses one BLAS thread,
    # as the tutorial's timings assume
    paths = [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths), OMP_NUM_THREADS="1",
               OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               MPLBACKEND="module://matplotlib_inline.backend_inline")
    client = nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                                     resources={"metadata": {"path": str(folder)}})
    client.execute(env=env)                 # env: the kernel's environment
    return notebook


@functools.lru_cache(maxsize=None)
def executed(path):
    """The notebook at ``path``, executed from its folder (cached: each runs once)."""
    return _execute(jupytext.read(path), path.parent)


def _code_cells(notebook):
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def _text_outputs(cell):
    return "".join(output.get("text", "") for output in cell.get("outputs", [])
                   if output.get("output_type") == "stream" and output.get("name") == "stdout")


def _without_comments(source):
    """``source`` with comments and blank lines removed, each line right-stripped."""
    tokens = [t for t in tokenize.generate_tokens(io.StringIO(source + "\n").readline)
              if t.type != tokenize.COMMENT]
    lines = tokenize.untokenize(tokens).splitlines()
    return "\n".join(line.rstrip() for line in lines if line.strip())


def test_the_kernel_is_this_interpreter_importing_this_checkout(tmp_path):
    probe = jupytext.reads("import sys, minigrad\nprint(sys.executable)\n"
                           "print(minigrad.__file__)\n", fmt="py:percent")
    printed = _text_outputs(_code_cells(_execute(probe, tmp_path))[0]).splitlines()
    assert pathlib.Path(printed[0]).resolve() == pathlib.Path(sys.executable).resolve()
    assert pathlib.Path(printed[1]).resolve() == ROOT / "minigrad" / "__init__.py"


@pytest.mark.parametrize("path", [_marked(path) for path in ALL], ids=_label)
def test_notebook_runs(path):
    notebook = executed(path)               # nbclient raises on a cell's error
    cells = _code_cells(notebook)
    assert all(cell.get("execution_count") for cell in cells)
    # an error a display hook or a plot printed instead of raising
    printed = [output.get("text", "") for cell in cells for output in cell.get("outputs", [])
               if output.get("output_type") == "stream" and output.get("name") == "stderr"]
    assert not [text for text in printed if "Traceback" in text or "Error" in text], printed
    for number, cell in enumerate(cells, 1):
        shown = {kind for output in cell.get("outputs", []) for kind in output.get("data", {})}
        # a cell ending in a graph displays it as a picture, one with plt.show() a plot
        if cell.source.strip().splitlines()[-1].startswith("drawing.graph("):
            assert "image/svg+xml" in shown, f"code cell {number} shows no graph"
        if "plt.show()" in cell.source:
            assert "image/png" in shown, f"code cell {number} shows no plot"


def test_both_languages_have_the_same_notebooks():
    names = {language: [path.name for path in NOTEBOOKS[language]] for language in LANGUAGES}
    assert names["en"], "no notebooks found in docs/tutorial/en"
    assert names["en"] == names["ko"]
    for language in LANGUAGES:
        index = (TUTORIAL / language / "index.md").read_text(encoding="utf-8")
        for name in names[language]:
            assert f"({name})" in index, f"{language}/index.md does not link {name}"


@pytest.mark.parametrize("name", [path.name for path in NOTEBOOKS["en"]])
def test_both_languages_have_the_same_code(name):
    english = jupytext.read(TUTORIAL / "en" / name)
    korean = jupytext.read(TUTORIAL / "ko" / name)
    english_code = [_without_comments(cell.source) for cell in _code_cells(english)]
    korean_code = [_without_comments(cell.source) for cell in _code_cells(korean)]
    assert len(english_code) == len(korean_code), "a different number of code cells"
    for number, (en, ko) in enumerate(zip(english_code, korean_code), 1):
        assert en == ko, f"{name}: code cell {number} differs between en and ko"


def test_without_comments_keeps_strings_and_drops_comments():
    source = 'x = "# not a comment"  # a comment\n# a whole-line comment\ny = 1\n'
    assert _without_comments(source) == 'x = "# not a comment"\ny = 1'


HEADLINE = re.compile(r"50 steps back: RNN (\S+), LSTM (\S+), LSTM, forget_bias=1 (\S+)\n")


@pytest.mark.parametrize("language", LANGUAGES)
def test_part_one_measures_the_vanishing_gradient(language):
    """Part 1 says: 50 steps back the RNN's gradient is about 1e-13, far below the
    LSTM's, and the forget-gate bias of 1 gains several more orders of magnitude."""
    notebook = executed(TUTORIAL / language / "01_why_rnns_forget.py")
    printed = "".join(_text_outputs(cell) for cell in _code_cells(notebook))
    found = HEADLINE.search(printed)
    assert found, f"no '50 steps back' line in the printed output:\n{printed}"
    rnn, lstm, lstm_open = (float(value) for value in found.groups())
    assert 0 < rnn < 1e-10
    assert rnn < lstm < lstm_open
    assert lstm_open > 1e4 * rnn
    assert lstm_open > 1e-7
