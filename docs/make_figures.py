"""Render every cell kind's graph to docs/figures/<kind>_cell.svg and .png, and a whole
model (benchmarks/graph_size.py's 2-layer bidirectional LSTM classifier over 100 steps,
default options: the size guard folds it) to docs/figures/classifier_graph.png.

    python docs/make_figures.py          (or: make figures)

Needs Graphviz's ``dot``; without it the DOT source is written as .gv files and the
script says how to install Graphviz.
"""
from __future__ import annotations

import os
import sys
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

import minigrad as mg  # noqa: E402
from benchmarks.graph_size import classifier_loss  # noqa: E402
from minigrad.models.drawing import graph_options  # noqa: E402
from minigrad.models.graph import DEFAULT_COLLAPSE, KINDS, cell_step  # noqa: E402

FIGURES = os.path.join(HERE, "figures")


def main():
    os.makedirs(FIGURES, exist_ok=True)
    for kind, (_, _, title) in KINDS.items():
        outputs, highlight = cell_step(kind)
        options = graph_options(highlight=highlight, title=title,
                                collapse=DEFAULT_COLLAPSE.get(kind, ()))
        for extension in ("svg", "png"):
            path = os.path.join(FIGURES, f"{kind}_cell.{extension}")
            try:
                mg.viz.render(outputs, path, **options)
            except mg.viz.GraphvizNotFound as error:
                print(error, file=sys.stderr)
                return 1
            print(f"wrote {os.path.relpath(path)}")
    model, loss = classifier_loss(steps=100)
    path = os.path.join(FIGURES, "classifier_graph.png")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", mg.viz.GraphFolded)    # the picture says it
        mg.viz.render(loss, path, dpi=48, **graph_options(
            model, title="Embedding → 2-layer bidirectional LSTM → Linear, 100 steps"))
    print(f"wrote {os.path.relpath(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
