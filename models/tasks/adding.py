"""The adding problem (Hochreiter & Schmidhuber 1997, experiment 4), in the form later
papers popularised (e.g. Le, Jaitly & Hinton 2015; Arjovsky, Shah & Bengio 2016).

Each step carries two numbers: a value drawn from U[0, 1] and a marker, 1 at exactly two
steps (one in each half of the sequence) and 0 elsewhere. After the last step the model
outputs the sum of the two marked values. The sum of two U[0, 1] values has variance
2/12, so always answering 1 (its mean) scores a mean squared error of 1/6 ~ 0.167; the
task counts as solved once the test MSE is below 0.01.
"""
from __future__ import annotations

import numpy as np

import minigrad as mg
from minigrad import nn

from .base import RandomStream, Task, as_tensor

#: MSE of always predicting the mean sum, 1: Var(U1 + U2) = 2 * (1/12)
BASELINE_MSE = 1.0 / 6.0


def adding_batch(rng, batch_size, seq_len):
    """One batch of the adding problem.

    Returns
    -------
    x : ndarray, float32, shape (T, B, 2)
        ``x[..., 0]`` the values, ``x[..., 1]`` the two markers.
    y : ndarray, float32, shape (B, 1)
        The sum of the two marked values.
    """
    if seq_len < 2:
        raise ValueError(f"adding problem: seq_len must be at least 2, got {seq_len}")
    half = seq_len // 2
    values = rng.random((seq_len, batch_size)).astype(np.float32)
    first = rng.integers(0, half, batch_size)
    second = rng.integers(half, seq_len, batch_size)
    markers = np.zeros((seq_len, batch_size), dtype=np.float32)
    columns = np.arange(batch_size)
    markers[first, columns] = 1.0
    markers[second, columns] = 1.0
    x = np.stack([values, markers], axis=-1)
    y = (values[first, columns] + values[second, columns])[:, None].astype(np.float32)
    return x, y


class AddingTask(Task):
    """Regression from the last hidden state; metric: test MSE (solved below 0.01)."""

    name = "adding"
    metric_name = "test MSE"
    threshold = 0.01
    baseline = BASELINE_MSE
    input_size = 2
    output_size = 1
    defaults = dict(seq_len=100, hidden_size=64, batch_size=64, lr=1e-2, steps=4000,
                    eval_every=100, clip=1.0, test_size=1000)

    def __init__(self, seq_len=None, seed=0, test_size=None):
        super().__init__(seq_len, seed)
        self.test_size = int(test_size or self.defaults["test_size"])
        # the held-out set: its own generator, so evaluating never moves training data
        self.test_x, self.test_y = adding_batch(np.random.default_rng([self.seed, 1]),
                                                self.test_size, self.seq_len)

    def train_stream(self, seed, batch_size):
        return RandomStream(lambda rng, b: adding_batch(rng, b, self.seq_len), seed,
                            batch_size)

    def predict(self, model, x):
        output, _ = model(as_tensor(x))
        return output[-1]                       # (B, 1): read out after the last step

    def loss(self, model, batch, carry=None):
        x, y = batch
        return nn.mse_loss(self.predict(model, x), as_tensor(y)), None

    def evaluate(self, model, batch_size=500):
        squared = 0.0
        with mg.no_grad():
            for start in range(0, self.test_size, batch_size):
                x = self.test_x[:, start:start + batch_size]
                y = self.test_y[start:start + batch_size]
                prediction = self.predict(model, x).numpy()
                squared += float(((prediction - y) ** 2).sum())
        mse = squared / self.test_size
        return {"metric": mse, "test_mse": mse, "baseline": self.baseline,
                "solved": bool(mse < self.threshold)}

    def example(self):
        x = self.test_x[:, :1]
        marks = [int(t) for t in np.flatnonzero(x[:, 0, 1])]
        return x, {"markers": marks}
