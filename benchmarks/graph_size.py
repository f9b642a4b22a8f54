"""How big ``mg.viz.graph(loss)`` is for a whole model, and how long Graphviz takes on it.

    python -m benchmarks.graph_size                      # T = 100, render to SVG
    python -m benchmarks.graph_size --steps 20 --render-timeout 300
    python -m benchmarks.graph_size --no-render          # node count only

The model is the one a new user would draw: a classifier of token sequences,
``Embedding -> LSTM(num_layers=2, bidirectional=True) -> Linear`` on the last step's
output, then ``cross_entropy``. The graph is made with default options
(``mg.viz.graph(loss)``), as a notebook would display it. The table gives the drawn node
and edge counts, how many parameter labels occur more than once, how many leaves read
``constant``, the time to build the graph, and the time ``dot`` takes to write SVG (in a
child process, stopped after ``--render-timeout`` seconds).
"""
from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time

import minigrad as mg
from minigrad.nn import Embedding, Linear, Module
from minigrad.nn.functional import cross_entropy

from models import LSTM

NODE = re.compile(r"^\s*(\w+) \[(?!.*->)")
EDGE = re.compile(r"^\s*(\w+) -> (\w+)")
PARAMETER_LABEL = re.compile(r'label=<<table[^\n]*?<b>([^<]*)</b>[^\n]*fillcolor="#ffe0b2"')


class Classifier(Module):
    """``Embedding -> LSTM(num_layers, bidirectional) -> Linear`` on the last step."""

    def __init__(self, vocab=50, embedding_dim=16, hidden_size=32, classes=5, num_layers=2):
        super().__init__()
        self.embedding = Embedding(vocab, embedding_dim)
        self.encoder = LSTM(embedding_dim, hidden_size, num_layers=num_layers,
                            bidirectional=True)
        self.head = Linear(2 * hidden_size, classes)

    def forward(self, tokens):
        """``tokens`` ``(T, B)`` integer indices -> logits ``(B, classes)``."""
        output, _ = self.encoder(self.embedding(tokens))
        return self.head(output[-1])


def classifier_loss(steps=100, batch=4, seed=0, **sizes):
    """``(model, loss)`` for one batch of random tokens over ``steps`` steps."""
    import numpy
    mg.manual_seed(seed)
    model = Classifier(**sizes)
    rng = numpy.random.default_rng(seed)
    tokens = mg.tensor(rng.integers(0, model.embedding.num_embeddings, (steps, batch)))
    labels = mg.tensor(rng.integers(0, model.head.out_features, (batch,)))
    return model, cross_entropy(model(tokens), labels)


def measure(steps=100, render=True, render_timeout=600.0, **graph_options):
    """Build the graph with ``graph_options`` (none: the defaults) and count it.

    Returns
    -------
    dict
        ``nodes``, ``edges``, ``duplicate_labels`` (parameter labels drawn more than
        once: the extra copies), ``constants`` (leaves labelled ``constant``),
        ``graph_s``, and ``render_s`` (None when not rendered, ``inf`` past the timeout).
    """
    _, loss = classifier_loss(steps)
    start = time.perf_counter()
    dot = mg.viz.graph(loss, **graph_options)
    graph_s = time.perf_counter() - start
    source = dot.source
    lines = source.splitlines()
    nodes = [m.group(1) for line in lines if (m := NODE.match(line))
             and m.group(1) not in ("graph", "node", "edge")]
    edges = [line for line in lines if EDGE.match(line)]
    labels = collections.Counter(PARAMETER_LABEL.findall(source))
    result = dict(steps=steps, nodes=len(nodes), edges=len(edges),
                  duplicate_labels=sum(n - 1 for n in labels.values()),
                  constants=source.count("<b>constant</b>"), graph_s=graph_s,
                  render_s=None)
    if render:
        result["render_s"] = _render_seconds(source, render_timeout)
    return result


def _render_seconds(source, timeout):
    """Seconds ``dot -Tsvg`` takes on ``source``; ``inf`` when stopped at ``timeout``."""
    with tempfile.NamedTemporaryFile("w", suffix=".gv", delete=False) as file:
        file.write(source)
    start = time.perf_counter()
    try:
        subprocess.run(["dot", "-Tsvg", file.name, "-o", file.name + ".svg"], check=True,
                       timeout=timeout, capture_output=True)
    except subprocess.TimeoutExpired:
        return float("inf")
    return time.perf_counter() - start


def format_table(rows, timeout):
    lines = ["| steps | nodes | edges | duplicate parameter labels | `constant` leaves "
             "| graph (s) | dot -Tsvg (s) |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        render = row["render_s"]
        render = "not run" if render is None else \
            f"> {timeout:g} (stopped)" if render == float("inf") else f"{render:.2f}"
        lines.append(f"| {row['steps']} | {row['nodes']} | {row['edges']} | "
                     f"{row['duplicate_labels']} | {row['constants']} | "
                     f"{row['graph_s']:.2f} | {render} |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.graph_size",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="100",
                        help="comma-separated sequence lengths (default 100)")
    parser.add_argument("--no-render", action="store_true", help="count nodes only")
    parser.add_argument("--render-timeout", type=float, default=600.0,
                        help="seconds before dot is stopped (default 600)")
    args = parser.parse_args(argv)
    rows = [measure(int(steps), render=not args.no_render,
                    render_timeout=args.render_timeout)
            for steps in args.steps.split(",")]
    print("`mg.viz.graph(loss)`, default options: Embedding(50, 16) -> LSTM(16, 32, "
          "num_layers=2, bidirectional=True) -> Linear(64, 5) -> cross_entropy, batch 4\n")
    print(format_table(rows, args.render_timeout))
    return rows


if __name__ == "__main__":
    main()
    sys.exit(0)
