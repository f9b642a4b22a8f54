"""Training with varying shapes: how often programs are compiled, and what it costs.

A character model (Embedding, LSTM, Linear, cross-entropy) trained with truncated BPTT
whose length varies from batch to batch (the usual trick: mostly the full length,
sometimes half, jittered), and a batch size that changes as data runs out, as in a
char-LM's last batches of an epoch. Every new (length, batch) pair is a new signature
for the input projection's program; the step's program depends on the batch alone.
Prints the compilations counted in the first and the second half of the run (the
second half shows whether the cache holds the working set) and ms per step.

    python -m benchmarks.recompiles [--steps 600]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from .common import markdown_table


def schedule(steps, bptt=64, seed=0):
    """``[(length, batch), ...]``: a varying-length BPTT schedule."""
    rng = np.random.default_rng(seed)
    plan = []
    for _ in range(steps):
        base = bptt if rng.random() < 0.95 else bptt // 2
        length = int(max(5, round(rng.normal(base, 10))))
        plan.append((length, int(rng.choice([32, 32, 32, 24, 16]))))
    return plan


def count_compiles():
    """A function giving the number of programs compiled so far (this engine's counter,
    or, for an engine without one, a count kept by wrapping its compiler)."""
    from minigrad import fusion
    if hasattr(fusion, "PROGRAMS"):
        return lambda: fusion.PROGRAMS.compiles
    counter = [0]
    compile_program = fusion._compile

    def counting(*args, **kwargs):
        counter[0] += 1
        return compile_program(*args, **kwargs)
    fusion._compile = counting
    return lambda: counter[0]


def run(steps=600, vocab=64, embed=32, hidden=128, seed=0):
    """``(compiles in the first half, in the second half, seconds per step)``."""
    import minigrad as mg
    from models import LSTM
    compiles = count_compiles()
    mg.manual_seed(seed)
    embedding = mg.nn.Embedding(vocab, embed)
    lstm = LSTM(embed, hidden)
    head = mg.nn.Linear(hidden, vocab)
    params = [*embedding.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = mg.optim.SGD(params, lr=0.1)
    rng = np.random.default_rng(seed)
    plan = schedule(steps, seed=seed)
    counts = []
    start = time.perf_counter()
    for k, (length, batch) in enumerate(plan):
        if k == steps // 2:
            counts.append(compiles())
        codes = rng.integers(0, vocab, size=(length + 1, batch))
        output, _ = lstm(embedding(mg.tensor(codes[:-1])))
        logits = head(output)
        loss = mg.nn.cross_entropy(logits.reshape(-1, vocab), mg.tensor(codes[1:].reshape(-1)))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    elapsed = time.perf_counter() - start
    counts.append(compiles())
    return counts[0], counts[1] - counts[0], elapsed / steps


def format_table(result, steps):
    first, second, per_step = result
    return markdown_table(
        ["steps", "compiles, first half", "compiles, second half", "ms per step"],
        [[str(steps), str(first), str(second), f"{per_step * 1e3:.2f}"]])


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recompiles",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=600)
    args = parser.parse_args(argv)
    print(format_table(run(args.steps), args.steps))


if __name__ == "__main__":
    main()
