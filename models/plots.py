"""Figures for a training run: the loss curve and the gates over one example sequence.

Matplotlib runs on its file-only Agg backend, so plots are written on machines without
a display; a process that has already imported pyplot (a notebook, whose inline backend
shows the plots made after these) keeps the backend it chose.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

import minigrad as mg


def _pyplot():
    import matplotlib
    if "matplotlib.pyplot" not in sys.modules:
        # no one has chosen a backend yet: the file-only one, which needs no display.
        # Switching a running notebook's backend would stop its later plots showing.
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def read_metrics(path):
    """The records of a ``metrics.jsonl`` file, as a list of dicts."""
    records = []
    with open(path, encoding="utf-8") as lines:
        for line in lines:
            line = line.strip()
            if line:
                records.append(json.loads(line))
    return records


def plot_loss(metrics_path, out_path, title="", metric_name="metric", threshold=None,
              baseline=None):
    """Training loss and the evaluation metric against the step, log scale.

    Parameters
    ----------
    metrics_path : path of ``metrics.jsonl`` (``{"kind": "train" | "eval", "step", ...}``)
    out_path : path of the PNG to write
    threshold, baseline : float, optional
        Drawn as horizontal lines on the metric's axis (solved level, trivial baseline).
    """
    plt = _pyplot()
    records = read_metrics(metrics_path)
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    figure, (loss_axis, metric_axis) = plt.subplots(1, 2, figsize=(11, 4))
    if train:
        loss_axis.plot([r["step"] for r in train], [r["loss"] for r in train], lw=1)
    loss_axis.set(xlabel="step", ylabel="training loss", title="training loss")
    _log_scale_if_positive(loss_axis, [r["loss"] for r in train])
    if evals:
        metric_axis.plot([r["step"] for r in evals], [r["metric"] for r in evals], "o-",
                         ms=3, color="C1")
    if threshold is not None:
        metric_axis.axhline(threshold, ls="--", color="C2", lw=1,
                            label=f"solved ({threshold:.3g})")
    if baseline is not None:
        metric_axis.axhline(baseline, ls=":", color="C3", lw=1,
                            label=f"baseline ({baseline:.3g})")
    if threshold is not None or baseline is not None:
        metric_axis.legend()
    metric_axis.set(xlabel="step", ylabel=metric_name, title=f"held-out {metric_name}")
    _log_scale_if_positive(metric_axis, [r["metric"] for r in evals])
    if title:
        figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(out_path, dpi=110)
    plt.close(figure)
    return Path(out_path)


def _log_scale_if_positive(axis, values):
    values = [v for v in values if v is not None and np.isfinite(v)]
    if values and min(values) > 0 and max(values) / min(values) > 20:
        axis.set_yscale("log")


def record_example_gates(model, x):
    """Run ``model`` on one example ``x`` (``(T, 1, ...)``) and return the recorded gates
    of its first layer: ``{gate name: array (T, H)}``."""
    from .gates import record_gates
    with mg.no_grad(), record_gates() as gates:
        model(mg.tensor(x))
    layer = {}
    for key, values in gates.items():
        prefix, _, gate = key.rpartition("/")
        if prefix in ("", "l0"):
            layer[gate] = values[:, 0, :]
    return layer


GATE_PANELS = ("input_gate", "forget_gate", "cell_state", "output_gate")


def plot_gates(model, x, out_path, marks=None, title="", units=16):
    """Heatmaps (unit x time) of the gates of the first layer over one sequence.

    Parameters
    ----------
    model : a task model (``models.tasks.SequenceModel``)
    x : ndarray, ``(T, 1, ...)``, one example sequence
    out_path : path of the PNG to write
    marks : dict, optional
        ``"markers"``: time steps drawn as vertical lines (the adding problem's marked
        positions); ``"symbols"``: one label per step.
    units : int
        Show the ``units`` units whose input gate varies most over the sequence (the ones
        that write selectively); all of them when the layer is no wider.

    Returns the path, or ``None`` when the model records none of the LSTM gates.
    """
    plt = _pyplot()
    gates = record_example_gates(model, x)
    panels = [name for name in GATE_PANELS if name in gates]
    if not panels:
        return None
    marks = marks or {}
    steps, width = gates[panels[0]].shape
    chosen = np.arange(width)
    if width > units:
        # the units whose input gate moves most: where the cell writes selectively
        chosen = np.sort(np.argsort(-gates[panels[0]].std(axis=0))[:units])
    figure = plt.figure(figsize=(11, 1.8 + 1.9 * len(panels)))
    grid = figure.add_gridspec(len(panels) + 1, 2, width_ratios=[1, 0.015], wspace=0.02,
                               height_ratios=[0.7] + [1] * len(panels), top=0.93)
    top = figure.add_subplot(grid[0, 0])
    signal = np.asarray(x)[:, 0]
    time_axis = np.arange(steps)
    if signal.ndim == 2:          # real-valued channels (adding problem: value, marker)
        names = ("value", "marker") if signal.shape[1] == 2 else [None] * signal.shape[1]
        for channel in range(signal.shape[1]):
            top.step(time_axis, signal[:, channel], where="mid", lw=1, label=names[channel])
        if signal.shape[1] == 2:
            top.legend(loc="upper right", fontsize=7)
    elif marks.get("symbols") and len(marks["symbols"]) == steps:   # named symbols
        for t, symbol in enumerate(marks["symbols"]):
            top.text(t, 0.5, symbol, ha="center", va="center", family="monospace",
                     fontsize=9 if steps <= 40 else 6)
        top.set_yticks([])
    else:                         # symbol indices
        top.plot(time_axis, signal, ".", ms=3)
    top.set_xlim(-0.5, steps - 0.5)
    top.set_ylabel("input", fontsize=8)
    axes = [top]
    for row, name in enumerate(panels, start=1):
        axis = figure.add_subplot(grid[row, 0], sharex=top)
        values = gates[name][:, chosen].T                                  # (units, T)
        if name == "cell_state":
            bound = float(np.abs(values).max()) or 1.0
            style = dict(cmap="RdBu_r", vmin=-bound, vmax=bound)
        else:
            style = dict(cmap="viridis", vmin=0, vmax=1)
        image = axis.imshow(values, aspect="auto", interpolation="nearest",
                            extent=(-0.5, steps - 0.5, len(chosen) - 0.5, -0.5), **style)
        axis.set_yticks(range(len(chosen)))
        axis.set_yticklabels([str(u) for u in chosen], fontsize=5)
        axis.set_ylabel(name.replace("_", " ") + "\n(unit)", fontsize=8)
        figure.colorbar(image, cax=figure.add_subplot(grid[row, 1]))
        axes.append(axis)
    for axis in axes:
        for step in marks.get("markers", []):
            axis.axvline(step, color="red", lw=0.8, alpha=0.7)
        if axis is not axes[-1]:
            axis.tick_params(labelbottom=False)
    symbols = marks.get("symbols")
    if symbols and len(symbols) == steps and steps <= 40:
        axes[-1].set_xticks(time_axis)
        axes[-1].set_xticklabels(list(symbols), fontsize=7)
    axes[-1].set_xlabel("time step")
    shown = "" if len(chosen) == width else \
        f" ({len(chosen)} of {width} units: those whose input gate varies most)"
    figure.suptitle((title or "gate activations over one example (first layer)") + shown,
                    fontsize=10)
    figure.savefig(out_path, dpi=110, bbox_inches="tight")
    plt.close(figure)
    return Path(out_path)
