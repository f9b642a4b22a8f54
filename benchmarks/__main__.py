"""``python -m benchmarks [--quick]``: every benchmark, one Markdown block each.

Prints the machine first (CPU, NumPy's BLAS and threads, PyTorch's threads), then the
engine-overhead, LSTM-step, layer-kind (fused against op by op) and memory tables. ``--quick`` runs few repetitions on the
small configurations only: a smoke test, not numbers to quote.
"""
from __future__ import annotations

import argparse
import sys
import time

from . import cells, engine_overhead, lstm_step, memory
from .common import load_average, machine_header


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats, small configs")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    print(f"# minigrad benchmarks (`{command}`)\n")
    print(machine_header())
    print()

    print("## Engine overhead\n")
    result = engine_overhead.run(repeats=3 if args.quick else 30)
    print(engine_overhead.format_table(result))
    print()
    sys.stdout.flush()

    print("## LSTM training step\n")
    print("Median ms per step (forward, MSE of every output, full BPTT, SGD), float32, "
          "NumPy backend; ratios of medians and of the fastest repetitions.\n")
    rows = lstm_step.run(["S"] if args.quick else ["S", "M", "L"],
                         repeats=2 if args.quick else None)
    print(lstm_step.format_table(rows))
    print()
    sys.stdout.flush()

    print("## Every layer kind, fused and op by op\n")
    config = "tiny" if args.quick else "S"
    print(cells.format_table(cells.run(config, repeats=2 if args.quick else 10), config))
    print()
    sys.stdout.flush()

    print("## Memory\n")
    print(memory.format_table(memory.run([100, 1000] if args.quick else [100, 1000, 10000])))
    print(f"\n(total {time.perf_counter() - start:.0f} s; at the end: {load_average()})")


if __name__ == "__main__":
    main()
