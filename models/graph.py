"""Draw one recurrent cell's computation graph (or an unrolled layer's).

    python -m minigrad.models.graph lstm -o lstm_cell.svg
    python -m minigrad.models.graph gru -o gru.png --input-size 3 --hidden-size 4
    python -m minigrad.models.graph lstm -o lstm_seq.svg --steps 50 --max-steps 2
    python -m minigrad.models.graph mypackage.cells:MyCell -o my_cell.svg

The kind is a built-in one (:data:`KINDS`) or any cell class named ``module:Class``.

One step of the cell is run on named inputs ``x_t``, ``h_prev`` (and ``c_prev`` for the
LSTM kinds; a user's cell's further state parts ``state{k}_prev``) and drawn with
:func:`minigrad.viz.render` and the family's drawing options (:mod:`models.drawing`:
gate colours, state names): each gate a cluster, the path of the state's last part
(``c_prev → c_t``; ``h_prev → h_t`` for GRU and RNN) drawn thick.
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
from .layers import GRU, LSTM, RNN, CoupledLSTM, LayerNormLSTM, PeepholeLSTM, SequenceLayer

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


def cell_class_of(kind):
    """The cell class of a built-in ``kind`` or of ``"module:Class"``."""
    if kind in KINDS:
        return KINDS[kind][0]
    from .tasks.recurrent import resolve_cell_class
    return resolve_cell_class(kind)


def title_of(kind):
    return KINDS[kind][2] if kind in KINDS else cell_class_of(kind).__name__


def _state_names(count):
    return ["h", "c"] if count == 2 else ["h"] + [f"state{k}" for k in range(1, count)]


def cell_step(kind, input_size=3, hidden_size=4, batch_size=2):
    """Run one step of a ``kind`` cell (built-in, or ``"module:Class"``) on named inputs.

    Returns
    -------
    outputs : list of Tensor
        ``[h_t, c_t]`` for the LSTM kinds, ``[h_t]`` for GRU and RNN: every state part.
    highlight : (Tensor, Tensor)
        The state's path to draw thick: its last part's, ``(c_prev, c_t)`` or
        ``(h_prev, h_t)``.
    """
    mg.manual_seed(0)
    cell = cell_class_of(kind)(input_size, hidden_size)
    x = _named(mg.randn(batch_size, input_size), "x_t")
    state = cell.initial_state(batch_size, x)
    single = isinstance(state, mg.Tensor)
    parts = [state] if single else list(state)
    names = _state_names(len(parts))
    parts = [_named(p, f"{n}_prev") for p, n in zip(parts, names)]
    new = cell(x, parts[0] if single else tuple(parts))
    new = [new] if single else list(new)
    new = [_named(p, f"{n}_t") for p, n in zip(new, names)]
    # the tape records only ops that involve a parameter: a cell whose first op joins
    # the state with the input alone (a concat, say) leaves h_prev out of the graph
    return new, (parts[-1], new[-1]) if _recorded_input(new, parts[-1]) else None


def _recorded_input(outputs, tensor):
    """Whether ``tensor`` is an input of some op recorded on the way to ``outputs``."""
    outputs, _ = mg.fusion.unfold(outputs)
    work, seen = [t.node for t in outputs if t.node is not None], set()
    while work:
        node = work.pop()
        if node.id in seen:
            continue
        seen.add(node.id)
        for t in node.inputs:
            if t is tensor:
                return True
            if isinstance(t, mg.Tensor) and t.node is not None:
                work.append(t.node)
    return False


def cell_graph(kind, input_size=3, hidden_size=4, batch_size=2, title=True, **options):
    """The ``graphviz.Digraph`` of one step of a ``kind`` cell (see :data:`KINDS`);
    ``options`` go to :func:`minigrad.viz.graph`, over :func:`models.drawing.graph_options`."""
    outputs, highlight = cell_step(kind, input_size, hidden_size, batch_size)
    if highlight is not None:
        options.setdefault("highlight", highlight)
    if title is True:
        title = title_of(kind)
    return mg.viz.graph(*outputs, **graph_options(title=title or None, **options))


def sequence_step(kind, steps, input_size=3, hidden_size=4, batch_size=2):
    """Run a one-layer ``kind`` sequence layer over ``steps`` steps on named inputs
    (``x`` ``(T, B, I)``, ``h_0``/``c_0``); returns the outputs to draw."""
    mg.manual_seed(0)
    layer = KINDS[kind][1](input_size, hidden_size) if kind in KINDS \
        else SequenceLayer(cell_class_of(kind), input_size, hidden_size)
    x = _named(mg.randn(steps, batch_size, input_size), "x")
    template = layer.cells[0].initial_state(batch_size, x)
    single = isinstance(template, mg.Tensor)
    parts = [template] if single else list(template)
    names = _state_names(len(parts))
    initial = [_named(p.reshape((1,) + p.shape), f"{n}_0") for p, n in zip(parts, names)]
    output, final = layer(x, initial[0] if single else tuple(initial))
    final = [final] if single else list(final)
    return [_named(output, "output")] + [_named(f, f"{n}_n") for f, n in zip(final, names)]


#: what ``-o`` may end in: rendered by Graphviz's ``dot``, or the source alone
FORMATS = (".svg", ".png", ".pdf", ".gv", ".dot")


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the full usage is in ``--help``)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def main(argv=None):
    """Entry point; returns 0 when the graph is written, 1 when Graphviz is missing, 2
    for bad usage (such as an ``-o`` format that is not known, or a cell that cannot be
    imported)."""
    parser = _Parser(prog="python -m minigrad.models.graph", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kind", help=f"one of {', '.join(sorted(KINDS))}, or a cell class "
                                     f"as module:Class")
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
    try:
        cell_class_of(args.kind)
    except ValueError as error:
        parser.error(str(error))
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
        title = args.title or f"{title_of(args.kind).replace(' cell', '')} over " \
                              f"{args.steps} steps"
        options.update(max_steps=args.max_steps, title=title)
    else:
        outputs, highlight = cell_step(args.kind, args.input_size, args.hidden_size,
                                       args.batch_size)
        options.update(title=args.title or title_of(args.kind))
        if highlight is not None:
            options.update(highlight=highlight)
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
