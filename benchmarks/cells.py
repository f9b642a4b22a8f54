"""Every layer kind, fused against op by op: what ``mg.scan`` and ``mg.fuse`` give each
cell.

One training step (forward, MSE of every output, full BPTT, SGD) of each layer in
``models`` at one size, run as shipped (the whole sequence one ``mg.scan`` of the
cell's fused step) and under ``mg.unfused()`` (every op recorded), round-robin in one
process.

    python -m benchmarks.cells [--config S] [--repeats 10]
"""
from __future__ import annotations

import argparse
import contextlib

from .common import (fmt_ms, fmt_ratio, machine_header, markdown_table, median,
                     time_round_robin)
from .lstm_step import CONFIGS, make_data, sgd_step

KINDS = ("LSTM", "PeepholeLSTM", "CoupledLSTM", "GRU", "LayerNormLSTM", "RNN")


def training_step(kind, x, target, fused):
    import minigrad as mg
    import models
    layer = getattr(models, kind)(x.shape[-1], target.shape[-1])
    mode = contextlib.nullcontext if fused else mg.unfused
    return sgd_step(layer, mg.tensor(x), mg.tensor(target), mode)


def run(config="S", repeats=10, kinds=KINDS):
    """``[(kind, fused seconds, op-by-op seconds), ...]``: medians."""
    x, target = make_data(*CONFIGS[config])
    steps = {}
    for kind in kinds:
        steps[(kind, True)] = training_step(kind, x, target, fused=True)
        steps[(kind, False)] = training_step(kind, x, target, fused=False)
    times = time_round_robin(steps, repeats)
    return [(kind, median(times[(kind, True)]), median(times[(kind, False)]))
            for kind in kinds]


def format_table(rows, config="S"):
    B, T, I, H = CONFIGS[config]
    header = (f"One training step of each layer kind at {config} (B={B}, T={T}, I={I}, "
              f"H={H}), float32, median ms\n\n")
    return header + markdown_table(
        ["layer", "as shipped ms", "op by op ms", "shipped / op by op"],
        [[kind, fmt_ms(fused), fmt_ms(plain), fmt_ratio(fused / plain)]
         for kind, fused, plain in rows])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cells",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="S", choices=sorted(CONFIGS))
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.no_header:
        print(machine_header())
        print()
    rows = run(args.config, args.repeats)
    print(format_table(rows, args.config))
    return rows


if __name__ == "__main__":
    main()
