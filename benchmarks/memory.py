"""Peak memory of one LSTM training step, minigrad against the NumPy floor.

Measured with :mod:`tracemalloc`, which sees NumPy's array buffers (NumPy reports them)
and every Python object (minigrad's tensors, tape nodes and backward closures) alike.
Parameters and data are made before tracing starts, so the peak is what the step itself
holds: the saved activations and the tape at the end of the forward pass, plus the
gradients. PyTorch's allocator is invisible to tracemalloc, so it is not in this table.

Small B and H (B=4, I=H=32) make the per-op bookkeeping show: the floor stores 7H
numbers per sequence and step (gates, c, tanh c, h), minigrad stores that and more
arrays, plus a few Python objects per op. Both should grow linearly in T.

    python -m benchmarks.memory [--lengths 100,1000,10000]
"""
from __future__ import annotations

import argparse
import gc
import tracemalloc

import numpy as np

from .common import machine_header, markdown_table
from .lstm_step import floor_step, make_data, minigrad_step
from .numpy_lstm import NumpyLSTM

B, I, H = 4, 32, 32
LENGTHS = (100, 1000, 10000)


def peak_of(step):
    """Peak bytes allocated while ``step()`` runs, above what was live before it."""
    gc.collect()
    tracemalloc.start()
    try:
        baseline, _ = tracemalloc.get_traced_memory()
        step()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - baseline


def run(lengths=LENGTHS, batch=B, input_size=I, hidden=H):
    rows = []
    for T in lengths:
        x, target = make_data(batch, T, input_size, hidden)
        params = {k: np.array(v) for k, v in NumpyLSTM(input_size, hidden, seed=1).state().items()}
        # fresh models: the floor's buffers are allocated inside its first step, so
        # they are counted
        floor = peak_of(floor_step(params, x, target))
        row = {"T": T, "floor": floor, "minigrad": None}
        try:
            step = minigrad_step(params, x, target)
            # a training step after the first: the first also traces the fused functions
            # for these shapes (once per shape, not per step); nothing minigrad allocates
            # outlives a step, so the warm-up hides no working memory
            step()
            row["minigrad"] = peak_of(step)
        except ImportError:
            pass
        rows.append(row)
    return {"rows": rows, "shape": (batch, input_size, hidden)}


def format_table(result):
    mib = 1 / 2 ** 20
    body = []
    for row in result["rows"]:
        T, floor, mg = row["T"], row["floor"], row["minigrad"]
        body.append([T, f"{floor * mib:.2f}", f"{mg * mib:.2f}" if mg else "-",
                     f"{mg / floor:.2f}x" if mg else "-",
                     f"{floor / T / 1024:.2f}", f"{mg / T / 1024:.2f}" if mg else "-"])
    batch, input_size, hidden = result["shape"]
    return (f"Peak memory of one training step (tracemalloc), B={batch}, I={input_size}, "
            f"H={hidden}, float32\n\n"
            + markdown_table(["T", "floor MiB", "minigrad MiB", "minigrad / floor",
                              "floor KiB per step of T", "minigrad KiB per step of T"], body))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default=",".join(map(str, LENGTHS)),
                        help="comma-separated sequence lengths")
    parser.add_argument("--no-header", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.no_header:
        print(machine_header())
        print()
    result = run([int(n) for n in args.lengths.split(",")])
    print(format_table(result))
    return result


if __name__ == "__main__":
    main()
