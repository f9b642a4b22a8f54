"""One trial of the variant study: sample the hyperparameters, train, score.

The search space is Greff et al. 2015's (section IV), adapted where our setting differs
(docs/study.md says why):

============================  =====================================  ====================
hyperparameter                the paper                              here
============================  =====================================  ====================
learning rate ``lr``          log-uniform [1e-6, 1e-2]               log-uniform [1e-3, 10]
hidden size ``hidden_size``   log-uniform [20, 200] (blocks)         the preset's range
``one_minus_momentum``        1 - momentum log-uniform [0.01, 1]     the same
``input_noise``               Gaussian input noise std, U[0, 1]      the same
============================  =====================================  ====================

Training is SGD with Nesterov momentum (as the paper) on mini-batches, the gradient
norm clipped at 1, for a fixed number of steps (the preset's); the validation score is
measured every ``eval_every`` steps and the trial's value is the best one, with the
test score at that point beside it (early stopping on validation, as the paper does). A
run whose loss becomes NaN or infinite stops there and keeps its best score so far, so
every trial completes with a finite value (the untrained model's score at worst).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

import minigrad as mg
from minigrad import nn

from ..tasks import CharLMTask
from ..tasks.charlm import spread_windows
from ..tasks.chorales import ChoralesTask, frame_nll
from ..tasks.recurrent import detach_state
from ..variants import VARIANTS

TASK_NAMES = ("chorales", "charlm")
#: what the score of each task is (lower is better for both)
SCORE_NAMES = {"chorales": "NLL per frame (nats)", "charlm": "bits per character"}


@dataclass(frozen=True)
class Preset:
    """A study's size: how much each trial trains, and the hidden-size range."""
    name: str
    trials: int                       # COMPLETE trials per task and variant
    hidden: tuple = (20, 200)         # log-uniform range of the hidden size
    steps: dict = field(default_factory=dict)        # training steps per task
    eval_every: dict = field(default_factory=dict)
    batch_size: dict = field(default_factory=dict)
    chorale_limit: int | None = None  # parse only the first N corpus pieces
    charlm_chars: int = 2_000_000     # training characters of the language model
    charlm_val_chars: int = 40_000    # characters scored for validation, and for test
    charlm_seq_len: int = 50


PRESETS = {
    # seconds per trial, to check the machinery (the tests)
    "smoke": Preset("smoke", trials=2, hidden=(4, 8), steps={"chorales": 3, "charlm": 3},
                    eval_every={"chorales": 3, "charlm": 3},
                    batch_size={"chorales": 4, "charlm": 4}, chorale_limit=24,
                    charlm_chars=20_000, charlm_val_chars=800, charlm_seq_len=10),
    # about an hour on two cores
    "default": Preset("default", trials=30, hidden=(20, 100),
                      steps={"chorales": 300, "charlm": 600},
                      eval_every={"chorales": 100, "charlm": 150},
                      batch_size={"chorales": 16, "charlm": 16},
                      charlm_chars=1_000_000, charlm_val_chars=8_000, charlm_seq_len=50),
    # the paper's scale: 200 trials per variant, its hidden-size range, longer training
    "full": Preset("full", trials=200, hidden=(20, 200),
                   steps={"chorales": 3000, "charlm": 5000},
                   eval_every={"chorales": 250, "charlm": 500},
                   batch_size={"chorales": 8, "charlm": 32},
                   charlm_chars=None, charlm_val_chars=100_000, charlm_seq_len=100),
}


def sample_hyperparameters(trial, preset):
    """Draw the paper's four hyperparameters (adapted: see the module's docstring) from
    an Optuna ``trial``; returns them as a dict."""
    return {
        "lr": trial.suggest_float("lr", 1e-3, 10.0, log=True),
        "hidden_size": trial.suggest_int("hidden_size", *preset.hidden, log=True),
        "one_minus_momentum": trial.suggest_float("one_minus_momentum", 0.01, 1.0, log=True),
        "input_noise": trial.suggest_float("input_noise", 0.0, 1.0),
    }


class StudyTask:
    """A task as the study trains it: batches, a loss with input noise, and scores on a
    validation and a test split."""

    def __init__(self, name, preset):
        self.name = name
        self.preset = preset
        if name == "chorales":
            self.task = ChoralesTask(limit=preset.chorale_limit)
        elif name == "charlm":
            self.task = CharLMTask(seq_len=preset.charlm_seq_len,
                                   max_chars=preset.charlm_chars)
            # the language model's held-out files, cut in two: validation and test
            held_out = self.task.validation_codes
            half = len(held_out) // 2
            self.splits = {"valid": spread_windows(held_out[:half], preset.charlm_val_chars, 16),
                           "test": spread_windows(held_out[half:], preset.charlm_val_chars, 16)}
        else:
            raise ValueError(f"unknown study task {name!r}: choose from {', '.join(TASK_NAMES)}")

    def build_model(self, variant, hidden_size):
        """The task's model around one layer of ``variant`` (a key of ``VARIANTS``)."""
        cell = "gru" if variant == "GRU" else VARIANTS[variant]
        return self.task.build_model(cell, hidden_size, 1, forget_bias=0.0)

    def loss(self, model, batch, carry, noise, rng):
        """The training loss of one batch, with Gaussian noise of std ``noise`` on the
        recurrent layer's input (the piano roll, or the characters' embeddings)."""
        if self.name == "chorales":
            inputs, targets, mask = batch
            logits, _ = _noisy_forward(model, inputs, None, noise, rng)
            return frame_nll(logits, mg.tensor(targets), mg.tensor(mask)), None
        inputs, targets, fresh = batch
        logits, state = _noisy_forward(model, inputs, None if fresh else carry, noise, rng)
        return nn.cross_entropy(logits, targets), detach_state(state)

    def score(self, model, split):
        """The held-out score (lower is better) on ``"valid"`` or ``"test"``."""
        if self.name == "chorales":
            return self.task.evaluate(model, split)["metric"]
        self.task.validation_streams = self.splits[split]
        return self.task.evaluate(model)["metric"]


def _noisy_forward(model, inputs, state, noise, rng):
    x = mg.tensor(inputs)
    if model.encoder is not None:
        x = model.encoder(x)
    if noise > 0:
        x = x + mg.tensor(rng.normal(0.0, noise, x.shape).astype(np.float32))
    output, state = model.recurrent(x, state)
    return model.head(output), state


def train_trial(task, variant, params, seed, report=None):
    """Train ``variant`` on ``task`` (a :class:`StudyTask`) with ``params`` (from
    :func:`sample_hyperparameters`) and seed ``seed``.

    ``report(step, valid)`` is called after each evaluation (pruning hooks in there).
    Returns ``{"valid", "test", "best_step", "steps", "diverged", "parameters",
    "seconds"}``: the best validation score, the test score at that step, and so on.
    """
    started = time.perf_counter()
    preset = task.preset
    mg.manual_seed(seed)
    rng = np.random.default_rng([seed, 7])
    model = task.build_model(variant, params["hidden_size"])
    momentum = 1.0 - params["one_minus_momentum"]
    optimizer = mg.optim.SGD(model.parameters(), lr=params["lr"], momentum=momentum,
                             nesterov=momentum > 0)
    stream = task.task.train_stream([seed, 100], preset.batch_size[task.name])
    steps, eval_every = preset.steps[task.name], preset.eval_every[task.name]
    best = {"valid": task.score(model, "valid"), "best_step": 0}
    best["test"] = task.score(model, "test")
    carry, diverged, step = None, None, 0
    params_list = model.parameters()
    while step < steps:
        loss, carry = task.loss(model, stream.next_batch(), carry, params["input_noise"], rng)
        value = float(loss.item())
        if not math.isfinite(value):
            diverged = f"loss {value} at step {step + 1}"
            break
        optimizer.zero_grad()
        loss.backward()
        norm = float(nn.clip_grad_norm_(params_list, 1.0))
        if not math.isfinite(norm):
            diverged = f"gradient norm {norm} at step {step + 1}"
            break
        optimizer.step()
        step += 1
        if step % eval_every == 0 or step == steps:
            valid = task.score(model, "valid")
            if not math.isfinite(valid):
                diverged = f"validation score {valid} at step {step}"
                break
            if valid < best["valid"]:
                best = {"valid": valid, "test": task.score(model, "test"), "best_step": step}
            if report is not None:
                report(step, valid)
    return {**best, "steps": step, "diverged": diverged,
            "parameters": int(sum(p.size for p in model.parameters())),
            "seconds": time.perf_counter() - started}
