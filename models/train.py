"""Train any task with any cell kind: ``python -m models.train`` (or ``minigrad-train``).

Examples
--------
    python -m models.train --task adding --seq-len 100            # LSTM, solves in minutes
    python -m models.train --task reber --cell gru
    python -m models.train --task copy --seq-len 100 --out runs/copy
    python -m models.train --task charlm --steps 3000
    python -m models.train --task adding --cell mypackage.cells:MyCell
    python -m models.train --out runs/copy --resume                # continue a killed run

A run writes into its folder (``--out``): ``config.json``, ``metrics.jsonl`` (one JSON
record per log line and per evaluation), ``checkpoint.npz`` (written atomically by
:func:`minigrad.save`), ``summary.json``, and PNG plots (the loss curve; for the LSTM
kinds the gates over one example sequence). ``--resume`` continues from the checkpoint:
it holds the parameters, the optimizer's moments, the position of the data stream
(the NumPy generator's state, or the text position and the carried state for the
language model) and the engine's generator, so a run killed at any moment and resumed
ends exactly where an uninterrupted run with the same seed ends.

A NaN, an infinite or an exploding loss stops the run with a message and exit status 3;
the checkpoint on disk is then the last good one.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg
from minigrad import backend as _backend

from .tasks import CELL_KINDS, TASKS, get_task
from .tasks.recurrent import detach_state, state_arrays, state_from_arrays

CHECKPOINT = "checkpoint.npz"
METRICS = "metrics.jsonl"
EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 2, 3, 130
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")

#: options a resumed run may change; everything else comes from the checkpoint
RUN_CONTROL = ("steps", "log_every", "stop_after", "plots", "quiet", "threads", "backend",
               "early_stop")


class Diverged(RuntimeError):
    """The loss became NaN, infinite, or exploded."""


# --------------------------------------------------------------------------- CLI

def build_parser():
    lines = ["per-task defaults:"]
    for name, task in sorted(TASKS.items()):
        d = task.defaults
        lines.append(f"  {name:7s} seq-len {d['seq_len'] or '-'}, hidden {d['hidden_size']}, "
                     f"batch {d['batch_size']}, lr {d['lr']:g}, steps {d['steps']}, "
                     f"eval every {d['eval_every']}")
    lines.append("exit status: 0 done, 2 bad usage, 3 diverged (NaN or exploding loss), "
                 "130 interrupted")
    parser = argparse.ArgumentParser(
        prog="minigrad-train",
        description="Train a recurrent model (any cell kind) on a showcase task.",
        epilog="\n".join(lines), formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--task", choices=sorted(TASKS), help="the task (default: adding)")
    add("--cell", help=f"cell kind: {', '.join(CELL_KINDS)}, or module:Class for your own "
                       "cell (default: lstm)")
    add("--seq-len", type=int, help="sequence length T (adding, copy: the delay; charlm: "
                                    "the truncated-BPTT length); task default if omitted")
    add("--hidden-size", "--hidden", type=int, dest="hidden_size")
    add("--layers", type=int, dest="num_layers", help="stacked recurrent layers (default 1)")
    add("--batch-size", "--batch", type=int, dest="batch_size")
    add("--lr", type=float, help="learning rate (task default)")
    add("--optimizer", choices=OPTIMIZERS, help="default: adam")
    add("--clip", type=float, help="clip the gradient norm to this (0: no clipping)")
    add("--forget-bias", type=float, help="added to the forget-gate bias of LSTM kinds "
                                          "(default 1.0)")
    add("--steps", type=int, help="the most training steps (task default)")
    add("--eval-every", type=int, help="steps between evaluations (task default)")
    add("--checkpoint-every", type=int, help="steps between checkpoints (default: at "
                                             "every evaluation)")
    add("--log-every", type=int, help="steps between log lines (default 50)")
    add("--seed", type=int, help="seeds the parameters and the training data (default 0)")
    add("--test-size", type=int, help="held-out sequences (adding, reber, copy)")
    add("--val-chars", type=int, help="charlm: validation characters evaluated")
    add("--max-chars", type=int, help="charlm: cap on the training characters")
    add("--out", help="run folder (default runs/TASK-CELL)")
    add("--resume", action="store_true", help="continue from the run folder's checkpoint")
    add("--backend", choices=("numpy", "cupy", "cpu", "gpu"), help="default: numpy")
    add("--no-early-stop", dest="early_stop", action="store_false", default=None,
        help="keep training after the task is solved")
    add("--no-plots", dest="plots", action="store_false", default=None,
        help="do not write PNG plots")
    add("--threads", type=int, help="BLAS threads (default 1: small matrices run fastest "
                                    "on one thread, and results are reproducible)")
    add("--explode", type=float, help="stop when the loss exceeds this multiple of the "
                                      "first step's loss (default 1e3)")
    add("--sample-chars", type=int, help="charlm: characters to sample at the end (300)")
    add("--temperature", type=float, help="charlm: sampling temperature (0.8)")
    add("--quiet", action="store_true", default=None, help="only the final summary line")
    add("--stop-after", type=int, help=argparse.SUPPRESS)   # test hook: simulate a kill
    return parser


GLOBAL_DEFAULTS = dict(task="adding", cell="lstm", num_layers=1, optimizer="adam",
                       forget_bias=1.0, log_every=50, seed=0, backend="numpy",
                       early_stop=True, plots=True, threads=1, explode=1e3,
                       sample_chars=300, temperature=0.8, quiet=False, stop_after=None,
                       checkpoint_every=None, test_size=None, val_chars=None,
                       max_chars=None)


def resolve_config(args):
    """The full configuration: command line, else the task's defaults, else ours."""
    given = {k: v for k, v in vars(args).items() if v is not None and k not in ("resume",)}
    task_name = given.get("task", GLOBAL_DEFAULTS["task"])
    config = dict(GLOBAL_DEFAULTS)
    config.update({k: v for k, v in TASKS[task_name].defaults.items()
                   if k not in ("test_size", "val_chars", "max_chars")})
    config.update(given)
    if config.get("checkpoint_every") is None:
        config["checkpoint_every"] = config["eval_every"]
    if not config.get("out"):
        config["out"] = str(Path("runs") / f"{task_name}-{_safe(config['cell'])}")
    return config


def _safe(name):
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)


# --------------------------------------------------------------------------- pieces

def make_optimizer(name, params, lr):
    if name == "adam":
        return mg.optim.Adam(params, lr=lr)
    if name == "adamw":
        return mg.optim.AdamW(params, lr=lr)
    if name == "rmsprop":
        return mg.optim.RMSprop(params, lr=lr)
    if name == "sgd":
        return mg.optim.SGD(params, lr=lr, momentum=0.9)
    raise ValueError(f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}")


def count_parameters(model):
    return int(sum(p.size for p in model.parameters()))


def make_task(config):
    """The task, given the options of the configuration it takes (``--test-size`` means
    nothing to the language model, ``--val-chars`` nothing to the others)."""
    accepted = inspect.signature(TASKS[config["task"]]).parameters
    options = {"seq_len": config["seq_len"] or None}
    for key in ("test_size", "val_chars", "max_chars"):
        if config.get(key) and key in accepted:
            options[key] = config[key]
    return get_task(config["task"], **options)


def _generator_state():
    return json.dumps(_backend.host_generator().bit_generator.state)


def _set_generator_state(text):
    _backend.host_generator().bit_generator.state = json.loads(str(text))


def _finite_parameters(model):
    return all(bool(p.xp.isfinite(p.data).all()) for p in model.parameters())


class Log:
    """Where a run reports: a tqdm bar on a terminal, plain lines otherwise, and every
    record appended to ``metrics.jsonl``."""

    def __init__(self, out, config, start_step):
        self.path = Path(out) / METRICS
        self.quiet = bool(config["quiet"])
        self.bar = None
        if not self.quiet and sys.stderr.isatty():
            from tqdm import tqdm
            self.bar = tqdm(total=config["steps"], initial=start_step, unit="step",
                            dynamic_ncols=True, desc=f"{config['task']}/{config['cell']}")

    def record(self, record):
        with open(self.path, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")

    def say(self, text):
        if self.quiet:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            print(text, flush=True)

    def progress(self, steps, loss):
        if self.bar is not None:
            self.bar.update(steps)
            self.bar.set_postfix(loss=f"{loss:.4g}", refresh=False)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _trim_metrics(path, step):
    """Drop the records a killed run wrote after its last checkpoint (``step``)."""
    if not path.exists():
        return
    kept = [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and json.loads(line).get("step", 0) <= step
            and json.loads(line).get("kind") in ("train", "eval")]
    path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


def _format_eval(task, step, metrics):
    extras = ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in metrics.items()
                       if k not in ("metric", "solved", "baseline") and isinstance(v, float)
                       and v != metrics["metric"])
    extras = f" ({extras})" if extras else ""
    flag = "  SOLVED" if metrics["solved"] else ""
    return f"eval @ step {step}: {task.metric_name} {metrics['metric']:.4g}{extras}{flag}"


# --------------------------------------------------------------------------- the run

def run(config, resume=False):
    """Train as ``config`` (see :func:`resolve_config`) says; returns a summary dict with
    ``exit_code``, ``solved``, ``solved_at_step``, ``sequences_to_solve``, ``final`` (the
    last evaluation), ``seconds_per_step``, ``parameters`` and the output paths.

    BLAS runs on ``config["threads"]`` threads meanwhile (1 by default): a recurrent step
    multiplies small matrices, which one thread does fastest, and reproducibly; on a
    busy 2-core machine OpenBLAS's own threads made a step twenty times slower.
    """
    with threadpool_limits(limits=config["threads"] or None, user_api="blas"):
        return _train(config, resume)


def _train(config, resume):
    out = Path(config["out"])
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / CHECKPOINT

    saved = None
    if resume:
        if checkpoint_path.exists():
            saved = mg.load(checkpoint_path)
            stored = json.loads(str(saved["config"]))
            for key in RUN_CONTROL:
                if config.get(f"_given_{key}"):
                    stored[key] = config[key]
            stored["out"] = str(out)
            config = stored
        else:
            print(f"no checkpoint in {out}: starting a fresh run", file=sys.stderr)
    try:
        mg.set_backend(config["backend"])
    except mg.BackendError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return {"exit_code": EXIT_USAGE, "error": str(exc)}

    mg.manual_seed(config["seed"])
    task = make_task(config)
    config["seq_len"] = task.seq_len
    model = task.build_model(config["cell"], config["hidden_size"], config["num_layers"],
                             config["forget_bias"])
    optimizer = make_optimizer(config["optimizer"], model.parameters(), config["lr"])
    stream = task.train_stream([config["seed"], 100], config["batch_size"])
    # what a resumed run starts from (the test hook never carries over)
    public_config = {k: v for k, v in config.items() if not k.startswith("_given_")}
    public_config["stop_after"] = None
    (out / "config.json").write_text(json.dumps(public_config, indent=2) + "\n")

    state = {"step": 0, "carry": None, "first_loss": None, "solved_at": None,
             "window": [0.0, 0.0, 0], "train_seconds": 0.0, "last_eval": None}
    if saved is not None:
        model.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        stream.load_state_dict(saved["stream"])
        _set_generator_state(saved["generator"])
        state["step"] = int(saved["step"])
        state["carry"] = state_from_arrays(saved["carry"])
        state["first_loss"] = saved["first_loss"]
        state["solved_at"] = saved["solved_at"]
        state["window"] = list(saved["window"])
        state["train_seconds"] = float(saved["train_seconds"])
        state["last_eval"] = json.loads(str(saved["last_eval"]))
        _trim_metrics(out / METRICS, state["step"])
    else:
        (out / METRICS).unlink(missing_ok=True)

    def save_checkpoint():
        if not _finite_parameters(model):
            raise Diverged(f"the parameters hold NaN or Inf after step {state['step']}")
        mg.save({"format": "minigrad-train", "config": json.dumps(public_config),
                 "step": state["step"], "model": model.state_dict(),
                 "optimizer": optimizer.state_dict(), "stream": stream.state_dict(),
                 "generator": _generator_state(), "carry": state_arrays(state["carry"]),
                 "first_loss": state["first_loss"], "solved_at": state["solved_at"],
                 "window": state["window"], "train_seconds": state["train_seconds"],
                 "last_eval": json.dumps(state["last_eval"])}, checkpoint_path)

    log = Log(out, config, state["step"])
    parameters = count_parameters(model)
    if saved is None:
        log.say(f"training {config['cell']} on {task.describe()}: {parameters:,} parameters, "
                f"batch {config['batch_size']}, lr {config['lr']:g} ({config['optimizer']}), "
                f"up to {config['steps']} steps -> {out}")
        save_checkpoint()                   # step 0: there is always a good checkpoint
    else:
        log.say(f"resuming {out} at step {state['step']}")

    exit_code = EXIT_OK
    stopped_early = False
    params = model.parameters()
    clip = config["clip"] or math.inf
    try:
        finished = state["solved_at"] is not None and config["early_stop"]
        while state["step"] < config["steps"] and not finished:
            started = time.perf_counter()
            batch = stream.next_batch()
            loss, carry = task.loss(model, batch, state["carry"])
            loss_value = float(loss.item())
            if state["first_loss"] is None:
                state["first_loss"] = loss_value
            if not math.isfinite(loss_value):
                raise Diverged(f"the loss is {loss_value} at step {state['step'] + 1}")
            if loss_value > config["explode"] * max(state["first_loss"], 1e-3):
                raise Diverged(f"the loss exploded to {loss_value:.4g} at step "
                               f"{state['step'] + 1} (first loss {state['first_loss']:.4g})")
            optimizer.zero_grad()
            loss.backward()
            grad_norm = float(mg.nn.clip_grad_norm_(params, clip))
            if not math.isfinite(grad_norm):
                raise Diverged(f"the gradient norm is {grad_norm} at step {state['step'] + 1}")
            optimizer.step()
            state["carry"] = detach_state(carry)
            state["step"] += 1
            step = state["step"]
            state["train_seconds"] += time.perf_counter() - started
            window = state["window"]
            window[0] += loss_value
            window[1] += grad_norm
            window[2] += 1
            log.progress(1, loss_value)

            if step % config["log_every"] == 0 or step == config["steps"]:
                record = {"kind": "train", "step": step,
                          "sequences": step * config["batch_size"],
                          "loss": window[0] / window[2], "grad_norm": window[1] / window[2],
                          "seconds_per_step": state["train_seconds"] / step}
                log.record(record)
                if log.bar is None:
                    log.say(f"step {step}/{config['steps']}  loss {record['loss']:.4g}  "
                            f"grad norm {record['grad_norm']:.3g}  "
                            f"{record['seconds_per_step']:.3f} s/step")
                state["window"] = [0.0, 0.0, 0]

            evaluate = step % config["eval_every"] == 0 or step == config["steps"]
            if evaluate:
                metrics = task.evaluate(model)
                state["last_eval"] = metrics
                log.record({"kind": "eval", "step": step,
                            "sequences": step * config["batch_size"], **metrics})
                log.say(_format_eval(task, step, metrics))
                if metrics["solved"] and state["solved_at"] is None:
                    state["solved_at"] = step
                    log.say(f"solved after {step} steps "
                            f"({step * config['batch_size']:,} training sequences)")
            stop = evaluate and state["solved_at"] is not None and config["early_stop"]
            if stop or step % config["checkpoint_every"] == 0 or step == config["steps"]:
                save_checkpoint()
            if stop:
                stopped_early = True
                break
            if config.get("stop_after") and step >= config["stop_after"]:
                log.close()
                log.say(f"stopped after step {step} (--stop-after); continue with --resume")
                return {"exit_code": EXIT_OK, "stopped_at": step, "out": str(out)}
    except Diverged as exc:
        log.close()
        saved_step = int(mg.load(checkpoint_path)["step"])
        message = (f"training stopped: {exc}. The last good checkpoint (step {saved_step}) "
                   f"is kept at {checkpoint_path}; try a smaller --lr or --clip.")
        print(f"error: {message}", file=sys.stderr)
        log.record({"kind": "diverged", "step": state["step"], "message": str(exc)})
        exit_code = EXIT_DIVERGED
        return {"exit_code": exit_code, "diverged": str(exc), "out": str(out),
                "checkpoint_step": saved_step}
    log.close()

    if state["last_eval"] is None:
        state["last_eval"] = task.evaluate(model)
    summary = {
        "exit_code": exit_code, "task": config["task"], "cell": config["cell"],
        "seq_len": task.seq_len, "parameters": parameters, "steps": state["step"],
        "solved": state["solved_at"] is not None, "solved_at_step": state["solved_at"],
        "sequences_to_solve": (state["solved_at"] * config["batch_size"]
                               if state["solved_at"] is not None else None),
        "stopped_early": stopped_early, "metric_name": task.metric_name,
        "final": state["last_eval"],
        "seconds_per_step": state["train_seconds"] / max(state["step"], 1),
        "train_seconds": state["train_seconds"], "out": str(out),
        "checkpoint": str(checkpoint_path),
    }
    if config["task"] == "charlm" and config["sample_chars"]:
        from .tasks.charlm import sample
        text = sample(model, "def ", config["sample_chars"], config["temperature"],
                      seed=config["seed"])
        (out / "sample.txt").write_text(text + "\n", encoding="utf-8")
        summary["sample"] = str(out / "sample.txt")
        log.say(f"sample at temperature {config['temperature']}:\n{text}")
    if config["plots"]:
        summary["plots"] = write_plots(model, task, config, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    final = state["last_eval"]
    verdict = (f"solved after {state['solved_at']} steps "
               f"({summary['sequences_to_solve']:,} sequences)" if summary["solved"]
               else f"not solved in {state['step']} steps")
    print(f"{config['task']}/{config['cell']}: {verdict}; {task.metric_name} "
          f"{final['metric']:.4g}; {summary['seconds_per_step']:.3f} s/step; "
          f"run folder {out}", flush=True)
    return summary


def write_plots(model, task, config, out):
    """The loss curve, and for cells that record LSTM gates the gate heatmap."""
    from . import plots
    written = []
    written.append(str(plots.plot_loss(
        out / METRICS, out / "loss.png",
        title=f"{config['cell']} on {task.describe()}", metric_name=task.metric_name,
        threshold=getattr(task, "threshold", None), baseline=getattr(task, "baseline", None))))
    x, marks = task.example()
    gates = plots.plot_gates(model, x, out / "gates.png", marks,
                             title=f"{config['cell']} gates on one {task.name} example")
    if gates is not None:
        written.append(str(gates))
    return written


def main(argv=None):
    """Entry point of ``python -m models.train`` and ``minigrad-train``; returns the exit
    status (0 done, 2 bad usage, 3 diverged, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # a training run allocates the same arrays every step: keep freed memory for reuse
    # (the opt-in importing minigrad no longer makes; MINIGRAD_TUNE_ALLOCATOR=0 refuses)
    mg.tune_allocator()
    config = resolve_config(args)
    for key in RUN_CONTROL:
        config[f"_given_{key}"] = getattr(args, key, None) is not None
    if config["cell"] not in CELL_KINDS and ":" not in config["cell"] \
            and "." not in config["cell"]:
        parser.error(f"unknown cell {config['cell']!r}: choose one of "
                     f"{', '.join(CELL_KINDS)}, or module:Class")
    try:
        summary = run(config, resume=args.resume)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print(f"\ninterrupted: {Path(config['out']) / CHECKPOINT} holds the last saved step; "
              f"continue with --out {config['out']} --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return summary["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
