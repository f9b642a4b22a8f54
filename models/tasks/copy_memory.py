"""The copy memory problem (Hochreiter & Schmidhuber 1997, experiment 2's long-lag
setting, in the form of Arjovsky, Shah & Bengio 2016 "Unitary evolution RNNs").

An input of ``T + 20`` symbols: ten symbols drawn from ``1..8``, ``T - 1`` blanks (``0``), a
delimiter (``9``), then ten more blanks. The target is blank everywhere except the last
ten steps, where it is the first ten symbols, in order: the model must hold ten symbols
over ``T`` steps. A model that outputs blanks and then guesses uniformly scores a
cross-entropy of ``10 log 8 / (T + 20)`` per step (the baseline every memoryless model
gets stuck at). Solved: a test loss under a tenth of the baseline with more than 99% of
the copied symbols right.
"""
from __future__ import annotations

import math

import numpy as np

import minigrad as mg

from .base import RandomStream, Task, as_tensor, step_cross_entropy

COPIED = 10         # symbols to copy
ALPHABET = 8        # they are drawn from 1..ALPHABET
BLANK = 0
DELIMITER = ALPHABET + 1


def baseline_loss(delay):
    """Cross-entropy per step of blanks then uniform guesses: ``10 log 8 / (T + 20)``."""
    return COPIED * math.log(ALPHABET) / (delay + 2 * COPIED)


def copy_batch(rng, batch_size, delay):
    """Returns ``(inputs (T + 20, B) int64, targets (T + 20, B) int64)``."""
    if delay < 1:
        raise ValueError(f"copy memory: the delay T must be at least 1, got {delay}")
    length = delay + 2 * COPIED
    symbols = rng.integers(1, ALPHABET + 1, (COPIED, batch_size))
    inputs = np.full((length, batch_size), BLANK, dtype=np.int64)
    inputs[:COPIED] = symbols
    inputs[COPIED + delay - 1] = DELIMITER
    targets = np.full((length, batch_size), BLANK, dtype=np.int64)
    targets[-COPIED:] = symbols
    return inputs, targets


class CopyMemoryTask(Task):
    """Metric: test cross-entropy per step (solved under baseline / 10 with > 99% of the
    copied symbols right)."""

    name = "copy"
    metric_name = "test loss (nats/step)"
    vocab_size = ALPHABET + 2           # blank, 1..8, delimiter
    output_size = ALPHABET + 1          # blank, 1..8
    # The LSTM solved T=100 with these (lr 1e-3, forget-gate bias 3: memory kept by
    # default); with lr 3e-3 and bias 1 it stalled at about 58% (docs/results.md).
    defaults = dict(seq_len=100, hidden_size=128, batch_size=64, lr=1e-3, forget_bias=3.0,
                    steps=40000, eval_every=200, clip=1.0, test_size=500)

    def __init__(self, seq_len=None, seed=0, test_size=None):
        super().__init__(seq_len, seed)
        self.test_size = int(test_size or self.defaults["test_size"])
        self.baseline = baseline_loss(self.seq_len)
        self.threshold = self.baseline / 10
        self.test_inputs, self.test_targets = copy_batch(
            np.random.default_rng([self.seed, 3]), self.test_size, self.seq_len)

    def train_stream(self, seed, batch_size):
        return RandomStream(lambda rng, b: copy_batch(rng, b, self.seq_len), seed, batch_size)

    def loss(self, model, batch, carry=None):
        inputs, targets = batch
        logits, _ = model(as_tensor(inputs))
        return step_cross_entropy(logits, targets), None

    def evaluate(self, model, batch_size=250):
        total = 0.0
        copied_right = 0
        with mg.no_grad():
            for start in range(0, self.test_size, batch_size):
                inputs = self.test_inputs[:, start:start + batch_size]
                targets = self.test_targets[:, start:start + batch_size]
                logits, _ = model(as_tensor(inputs))
                total += float(step_cross_entropy(logits, targets).item()) * inputs.shape[1]
                guess = logits.numpy()[-COPIED:].argmax(-1)
                copied_right += int((guess == targets[-COPIED:]).sum())
        loss = total / self.test_size
        accuracy = copied_right / (COPIED * self.test_size)
        return {"metric": loss, "test_loss": loss, "baseline": self.baseline,
                "copy_accuracy": accuracy,
                "solved": bool(loss < self.threshold and accuracy > 0.99)}

    def example(self):
        x = self.test_inputs[:, :1]
        return x, {"markers": [COPIED + self.seq_len - 1]}
