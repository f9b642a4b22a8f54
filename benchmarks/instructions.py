"""Instructions per training step of a recurrent layer, counted by valgrind's callgrind:
the same total for the same code and inputs whatever else the machine is doing, so two
checkouts compare on a shared, noisy machine where timings cannot tell 2% apart.

    python -m benchmarks.instructions                          # LSTM at S, this checkout
    python -m benchmarks.instructions --layer RNN --against ../base

A step is what ``benchmarks.lstm_step`` times (forward, MSE, BPTT, SGD), with one BLAS
thread. The count per step is (count for 5 steps - count for 1 step) / 4, so importing and
the first step's compiling cancel out. Needs ``valgrind`` (Debian's package); valgrind runs
the code about fifty times slower, so one checkout at S takes about three minutes.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

CONFIGS = {"S": (32, 50, 32, 128), "M": (64, 100, 128, 256)}

# the child: one warm-up step, then STEPS counted ones
CHILD = """
import sys
import numpy as np
import minigrad as mg
import models
steps, layer, (B, T, I, H) = int(sys.argv[1]), sys.argv[2], map(int, sys.argv[3].split(","))
mg.manual_seed(0)
model = getattr(models, layer)(I, H)
rng = np.random.default_rng(0)
x = mg.tensor(rng.standard_normal((T, B, I)).astype(np.float32))
target = mg.tensor(rng.standard_normal((T, B, H)).astype(np.float32))
optimizer = mg.optim.SGD(model.parameters(), lr=0.01)
for _ in range(steps + 1):
    out, _ = model(x)
    loss = ((out - target) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
"""


def count(checkout, layer, config, steps):
    """Instructions callgrind counts for a child run of ``steps`` steps in ``checkout``."""
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1")
    with tempfile.TemporaryDirectory() as folder:
        result = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={folder}/out",
             sys.executable, "-c", CHILD, str(steps), layer, ",".join(map(str, config))],
            env=env, capture_output=True, text=True, check=True)
    return int(re.search(r"Collected : (\d+)", result.stderr).group(1))


def per_step(checkout, layer, config):
    return (count(checkout, layer, config, 5) - count(checkout, layer, config, 1)) / 4


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--layer", default="LSTM", help="a layer of models (LSTM, GRU, RNN)")
    parser.add_argument("--config", default="S", choices=sorted(CONFIGS))
    parser.add_argument("--against", help="another checkout (a base) to count too")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        sys.exit("valgrind is missing: apt-get install valgrind")
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = CONFIGS[args.config]
    rows = [("this checkout", per_step(here, args.layer, config))]
    if args.against:
        rows.insert(0, (args.against, per_step(args.against, args.layer, config)))
    print(f"Instructions per training step, {args.layer} at {args.config} {config}, "
          f"one BLAS thread (callgrind)\n")
    print("| checkout | M instructions per step | vs the first |")
    print("| --- | ---: | ---: |")
    for name, value in rows:
        print(f"| {name} | {value / 1e6:.1f} | {value / rows[0][1]:.3f}x |")


if __name__ == "__main__":
    main()
