"""Draw one recurrent cell's computation graph (or an unrolled layer's).

    python -m models.graph lstm -o lstm_cell.svg
    python -m models.graph gru -o gru.png --input-size 3 --hidden-size 4
    python -m models.graph lstm -o lstm_seq.svg --steps 50 --max-steps 2

One step of the cell is run on named inputs ``x_t``, ``h_prev`` (and ``c_prev`` for the
LSTM kinds) and drawn with :func:`minigrad.viz.render` and the family's drawing options
(:mod:`models.drawing`: gate colours, state names): each gate a cluster, the path of
the cell state (``c_prev → c_t``; ``h_prev → h_t`` for GRU and RNN) drawn thick.
The format follows the extension of ``-o``: ``.svg``, ``.png``, ``.pdf`` or ``.gv``.
"""
from __future__ import annotations

import argparse
import os
import sys

import minigrad as mg

from .drawing import graph_options
from .cells import (CoupledLSTMCell, GRUCell, LayerNormLSTMCell, LSTMCell, PeepholeLSTMCell,
                    RNNCell)
from .layers import GRU, LSTM, RNN, CoupledLSTM, LayerNormLSTM, PeepholeLSTM

# kind -> (cell class, layer class, title)
KINDS = {
    "lstm": (LSTMCell, LSTM, "LSTM cell"),
    "peephole": (PeepholeLSTMCell, PeepholeLSTM, "Peephole LSTM cell"),
    "coupled": (CoupledLSTMCell, CoupledLSTM, "Coupled (CIFG) LSTM cell"),
    "gru": (GRUCell, GRU, "GRU cell"),
    "rnn": (RNNCell, RNN, "Elman RNN cell"),
    "layernorm": (LayerNormLSTMCell, LayerNormLSTM, "Layer-normalised LSTM cell"),
}


# Scopes folded by default: layer normalisation is a dozen ops, drawn as one box each.
DEFAULT_COLLAPSE = {"layernorm": ("input_norm", "recurrent_norm", "cell_norm")}


def _named(tensor, name):
    tensor.name = name
    return tensor


def cell_step(kind, input_size=3, hidden_size=4, batch_size=2):
    """Run one step of a ``kind`` cell on named inputs.

    Returns
    -------
    outputs : list of Tensor
        ``[h_t, c_t]`` for the LSTM kinds, ``[h_t]`` for GRU and RNN.
    highlight : (Tensor, Tensor)
        The state's path to draw thick: ``(c_prev, c_t)`` or ``(h_prev, h_t)``.
    """
    cell_class = KINDS[kind][0]
    mg.manual_seed(0)
    cell = cell_class(input_size, hidden_size)
    x = _named(mg.randn(batch_size, input_size), "x_t")
    h = _named(mg.zeros(batch_size, hidden_size), "h_prev")
    if cell.state_count == 2:
        c = _named(mg.zeros(batch_size, hidden_size), "c_prev")
        h_t, c_t = cell(x, (h, c))
        return [_named(h_t, "h_t"), _named(c_t, "c_t")], (c, c_t)
    h_t = _named(cell(x, h), "h_t")
    return [h_t], (h, h_t)


def cell_graph(kind, input_size=3, hidden_size=4, batch_size=2, title=True, **options):
    """The ``graphviz.Digraph`` of one step of a ``kind`` cell (see :data:`KINDS`);
    ``options`` go to :func:`minigrad.viz.graph`, over :func:`models.drawing.graph_options`."""
    outputs, highlight = cell_step(kind, input_size, hidden_size, batch_size)
    options.setdefault("highlight", highlight)
    if title is True:
        title = KINDS[kind][2]
    return mg.viz.graph(*outputs, **graph_options(title=title or None, **options))


def sequence_step(kind, steps, input_size=3, hidden_size=4, batch_size=2):
    """Run a one-layer ``kind`` sequence layer over ``steps`` steps on named inputs
    (``x`` ``(T, B, I)``, ``h_0``/``c_0``); returns the outputs to draw."""
    layer_class = KINDS[kind][1]
    mg.manual_seed(0)
    layer = layer_class(input_size, hidden_size)
    x = _named(mg.randn(steps, batch_size, input_size), "x")
    h0 = _named(mg.zeros(1, batch_size, hidden_size), "h_0")
    if KINDS[kind][0].state_count == 2:
        c0 = _named(mg.zeros(1, batch_size, hidden_size), "c_0")
        output, (h_n, c_n) = layer(x, (h0, c0))
        return [_named(output, "output"), _named(h_n, "h_n"), _named(c_n, "c_n")]
    output, h_n = layer(x, h0)
    return [_named(output, "output"), _named(h_n, "h_n")]


#: what ``-o`` may end in: rendered by Graphviz's ``dot``, or the source alone
FORMATS = (".svg", ".png", ".pdf", ".gv", ".dot")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the full usage is in ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv=None):
    """Entry point; returns 0 when the graph is written, 1 when Graphviz is missing, 2
    for bad usage (such as an ``-o`` format that is not known)."""
    parser = _Parser(prog="python -m models.graph", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", choices=sorted(KINDS))
    parser.add_argument("-o", "--output", required=True,
                        help="file to write: .svg, .png, .pdf (need Graphviz) or .gv/.dot")
    parser.add_argument("--input-size", type=int, default=3)
    parser.add_argument("--hidden-size", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--rankdir", default="TB", choices=["TB", "LR", "BT", "RL"])
    parser.add_argument("--ops-only", action="store_true",
                        help="hide intermediate tensors (show_tensors=False)")
    parser.add_argument("--all-tensors", action="store_true",
                        help="draw every intermediate tensor (show_tensors='all')")
    parser.add_argument("--no-shapes", action="store_true", help="leave shapes out")
    parser.add_argument("--collapse", nargs="*", default=None, metavar="SCOPE",
                        help="scopes drawn as one node each, e.g. forget_gate (default: the "
                             "layer norms of the layernorm cell; give none to draw them)")
    parser.add_argument("--steps", type=int, default=None,
                        help="draw a one-layer sequence layer unrolled over this many steps")
    parser.add_argument("--max-steps", type=int, default=1,
                        help="with --steps: steps drawn in full; the rest are one block")
    parser.add_argument("--dpi", type=int, default=None, help="resolution of a PNG")
    parser.add_argument("--title", default=None, help="caption (default: the cell's name)")
    args = parser.parse_args(argv)
    extension = os.path.splitext(args.output)[1].lower()
    if extension not in FORMATS:
        parser.error(f"-o {args.output}: the format comes from the extension, one of "
                     f"{', '.join(FORMATS)}; got {extension or 'none'}")
    for name in ("input_size", "hidden_size", "batch_size", "steps", "max_steps", "dpi"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")

    options = dict(rankdir=args.rankdir, show_shapes=not args.no_shapes,
                   show_tensors="all" if args.all_tensors else not args.ops_only,
                   collapse=tuple(DEFAULT_COLLAPSE.get(args.kind, ()) if args.collapse is None
                                  else args.collapse))
    if args.steps is not None:
        outputs = sequence_step(args.kind, args.steps, args.input_size, args.hidden_size,
                                args.batch_size)
        title = args.title or f"{KINDS[args.kind][2].replace(' cell', '')} over " \
                              f"{args.steps} steps"
        options.update(max_steps=args.max_steps, title=title)
    else:
        outputs, highlight = cell_step(args.kind, args.input_size, args.hidden_size,
                                       args.batch_size)
        options.update(highlight=highlight, title=args.title or KINDS[args.kind][2])
    try:
        path = mg.viz.render(outputs, args.output, dpi=args.dpi, **graph_options(**options))
    except mg.viz.GraphvizNotFound as error:
        print(error, file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot write {args.output} ({error.strerror or error})",
              file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
