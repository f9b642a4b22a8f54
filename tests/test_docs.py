"""Every ```python block in README.md and docs/*.md runs, so examples cannot rot.

Blocks of one file run in order in one namespace (later blocks may use earlier names).
"""
import pathlib
import re

import pytest

from tests.test_viz import has_graphviz

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.mark.parametrize("path", [p for p in DOCS if p.exists()], ids=lambda p: p.name)
def test_python_blocks_run(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)          # examples that write files write them here
    blocks = BLOCK.findall(path.read_text())
    if any("viz." in block for block in blocks) and not has_graphviz():
        pytest.skip(f"{path.name} draws graphs: the graphviz package is missing")
    namespace = {"__name__": f"docs_{path.stem}"}
    for number, block in enumerate(blocks, 1):
        try:
            exec(compile(block, f"{path.name}[block {number}]", "exec"), namespace)
        except Exception as error:  # say which block of which file broke
            raise AssertionError(f"{path.name}, python block {number} failed: "
                                 f"{type(error).__name__}: {error}") from error
