"""What every task provides, and the sequence model the tasks share.

A task is a seeded data generator, a model shape (input encoder, recurrent layer of any
cell kind, linear head), a loss, a metric and a solved threshold. The trainer
(:mod:`models.train`) only talks to this interface:

- ``task.build_model(cell, hidden_size, num_layers, forget_bias)`` -> :class:`SequenceModel`
- ``task.train_stream(seed, batch_size)`` -> a stream whose ``next_batch()`` gives the next
  training batch and whose ``state_dict()`` (JSON-able) fixes where it is;
- ``task.loss(model, batch, carry)`` -> ``(loss, carry)``: ``carry`` is the recurrent state
  handed from one batch to the next (truncated BPTT); ``None`` for independent sequences;
- ``task.evaluate(model)`` -> ``{"metric": float, "solved": bool, ...}`` on a held-out set
  drawn from its own seed, so evaluation never moves the training stream;
- ``task.example()`` -> one input sequence (and marks to draw) for the gate heatmap.
"""
from __future__ import annotations

import json

import numpy as np

import minigrad as mg
from minigrad import nn

from .recurrent import build_recurrent, detach_state


class SequenceModel(nn.Module):
    """Encoder -> recurrent layer -> linear head, over time-major sequences.

    Parameters
    ----------
    encoder : Module or None
        ``nn.Embedding`` for symbol inputs, or ``None`` to feed real-valued inputs as is.
    recurrent : Module
        A layer with PyTorch's recurrent API: ``forward(x, hx) -> (output, state)``.
    head : nn.Linear
        Maps each hidden output to the task's outputs.

    Shapes
    ------
    ``x`` is ``(T, B)`` integer symbols (with an encoder) or ``(T, B, I)`` floats;
    ``forward`` returns ``(outputs (T, B, O), state)``.
    """

    def __init__(self, encoder, recurrent, head):
        super().__init__()
        self.encoder = encoder
        self.recurrent = recurrent
        self.head = head

    def forward(self, x, state=None):
        if self.encoder is not None:
            x = self.encoder(x)
        output, state = self.recurrent(x, state)
        return self.head(output), state


class Task:
    """Base class: subclasses set the class attributes and implement the methods."""

    name = "task"
    #: what the metric measures, how it is read, and the solved threshold
    metric_name = "metric"
    #: per-task training defaults used by ``models.train`` (overridable from the CLI)
    defaults: dict = {}

    def __init__(self, seq_len=None, seed=0):
        self.seq_len = int(seq_len if seq_len is not None else self.defaults["seq_len"])
        self.seed = int(seed)

    # ---- model
    input_size: int = 0        # features per step (real-valued inputs), or
    vocab_size: int = 0        # symbols in the input alphabet (embedded inputs)
    output_size: int = 0

    def build_model(self, cell="lstm", hidden_size=64, num_layers=1, forget_bias=1.0,
                    embedding_dim=None):
        """The task's model around a recurrent layer of cell kind ``cell``."""
        if self.vocab_size:
            embedding_dim = embedding_dim or min(32, hidden_size)
            encoder = nn.Embedding(self.vocab_size, embedding_dim)
            input_size = embedding_dim
        else:
            encoder = None
            input_size = self.input_size
        recurrent = build_recurrent(cell, input_size, hidden_size, num_layers, forget_bias)
        head = nn.Linear(hidden_size, self.output_size)
        return SequenceModel(encoder, recurrent, head)

    # ---- data, loss, metric (subclasses)
    def train_stream(self, seed, batch_size):
        raise NotImplementedError

    def loss(self, model, batch, carry=None):
        raise NotImplementedError

    def evaluate(self, model):
        raise NotImplementedError

    def example(self):
        """``(x (T, 1, ...), marks)``: one sequence for the gate heatmap and the time
        steps worth marking on it."""
        raise NotImplementedError

    def describe(self):
        return f"{self.name} (T={self.seq_len})"


class RandomStream:
    """Independent random batches from ``make_batch(rng, batch_size)``.

    The whole position in the stream is the NumPy generator's state, which
    ``state_dict()`` returns as JSON text (PCG64's state holds 128-bit integers).
    """

    def __init__(self, make_batch, seed, batch_size):
        self.make_batch = make_batch
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(seed)

    def next_batch(self):
        return self.make_batch(self.rng, self.batch_size)

    def state_dict(self):
        return {"rng": json.dumps(self.rng.bit_generator.state)}

    def load_state_dict(self, state):
        self.rng.bit_generator.state = json.loads(str(state["rng"]))


def as_tensor(array):
    """A NumPy batch as a constant tensor on the active backend."""
    return mg.tensor(array)


def step_cross_entropy(logits, targets, **options):
    """Cross-entropy of per-step logits (T, B, C) against class indices (T, B).

    PyTorch's ``cross_entropy`` wants the classes on axis 1; the steps and the batch are
    flattened into one axis of positions instead (the same mean, without a transpose).
    """
    targets = targets.data if isinstance(targets, mg.Tensor) else np.asarray(targets)
    return nn.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1),
                            **options)


__all__ = ["SequenceModel", "Task", "RandomStream", "as_tensor", "detach_state",
           "step_cross_entropy"]
