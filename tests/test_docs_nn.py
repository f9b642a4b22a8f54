"""The python blocks of docs/nn.md run, in order, so the training example cannot rot.

(tests/test_docs.py runs every doc's blocks; this one also pins that the guide keeps a
complete training loop, so deleting or emptying the example fails loudly.)
"""
import pathlib
import re

GUIDE = pathlib.Path(__file__).resolve().parent.parent / "docs" / "nn.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_nn_guide_examples_run(tmp_path, monkeypatch):
    blocks = BLOCK.findall(GUIDE.read_text())
    source = "\n".join(blocks)
    for piece in ("opt.step()", "mg.save(", "mg.load(", "load_state_dict"):
        assert piece in source, f"docs/nn.md: the example no longer shows {piece}"
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": "docs_nn"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"docs/nn.md[block {number}]", "exec"), namespace)
    assert (tmp_path / "regressor.npz").exists()
