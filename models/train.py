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
kinds the gates over one example sequence). An existing run folder is never written over
unless ``--overwrite`` says so.

What is guaranteed (see also :data:`GUARANTEES`, printed by ``--help``):

- The checkpoint holds the full configuration, the step, the parameters, the optimizer's
  state, the learning-rate schedule's state (``--lr-schedule``), the position of the
  data stream (the NumPy generator's state, or the text position and the carried state
  for the language model), the engine's generator and the bookkeeping of the log; it is
  replaced atomically and verified to the byte when read, so it is always the last good
  one.
- ``--resume`` continues from it: a run killed at any moment (even mid-save) and resumed
  ends bit for bit where an uninterrupted run with the same configuration ends (on the
  same backend and number of BLAS threads), with the same metrics log (records written
  after the checkpoint, and a torn last line, are dropped). Without a checkpoint it
  starts the run its ``config.json`` describes from step 0. The configuration is the
  run's own: only the run-control options (:data:`RUN_CONTROL`, such as ``--steps``) may
  change on resume; any other option that differs is refused.
- Every setting is checked before anything is written; each failure is one line on
  stderr and an exit status (:data:`EXIT_CODES`).
"""
from __future__ import annotations

import argparse
import errno
import inspect
import json
import math
import os
import sys
import tempfile
import textwrap
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
CONFIG = "config.json"
EXIT_OK, EXIT_USAGE, EXIT_DIVERGED, EXIT_DISK, EXIT_CHECKPOINT, EXIT_INTERRUPTED = \
    0, 2, 3, 4, 5, 130
#: what each exit status of the CLI means
EXIT_CODES = {
    EXIT_OK: "done (trained to the step budget, or solved)",
    EXIT_USAGE: "bad usage: an invalid setting, an unusable --out, an existing run without "
                "--resume or --overwrite, or --resume with options that differ from the run",
    EXIT_DIVERGED: "diverged (NaN, infinite or exploding loss); the last good checkpoint "
                   "is kept",
    EXIT_DISK: "the run folder could not be written (disk full, file too large, read-only "
               "or I/O error); the last good checkpoint is kept",
    EXIT_CHECKPOINT: "--resume found a checkpoint or config.json it cannot use "
                     "(corrupted, truncated, foreign, or not matching the model)",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); the last good checkpoint is kept",
}
OPTIMIZERS = ("adam", "adamw", "sgd", "rmsprop")
#: learning-rate schedules over the run's step budget (``mg.optim.lr_scheduler``)
LR_SCHEDULES = ("constant", "cosine", "onecycle")

#: options a resumed run may change (they do not change what is computed, except the
#: step budget, which only says where to stop); the others are the run's configuration
RUN_CONTROL = ("steps", "log_every", "stop_after", "plots", "quiet", "threads", "backend",
               "early_stop")
#: the files a run writes into its folder (what --overwrite removes)
RUN_FILES = (CONFIG, METRICS, CHECKPOINT, "summary.json", "loss.png", "gates.png",
             "sample.txt")
#: the keys of a training checkpoint
CHECKPOINT_KEYS = ("format", "config", "step", "model", "optimizer", "stream", "generator",
                   "carry", "first_loss", "solved_at", "window", "train_seconds",
                   "last_eval")
#: what --help says is guaranteed
GUARANTEES = """\
guarantees:
  checkpoint.npz holds the configuration, step, parameters, optimizer and lr-schedule
  state, data-stream position and generator states; it is replaced atomically and
  verified when read.
  --resume continues it bit for bit: a run killed at any moment ends exactly as an
  uninterrupted one, metrics.jsonl included (on the same backend and --threads).
  Without a checkpoint, --resume starts the run in config.json from step 0. Only
  run-control options (--steps, --log-every, --no-plots, --quiet, --threads, --backend,
  --no-early-stop) may change on resume; other options that differ are refused."""


class Diverged(RuntimeError):
    """The loss became NaN, infinite, or exploded."""


class RunError(Exception):
    """A run that cannot start or go on; ``exit_code`` says why (:data:`EXIT_CODES`)."""

    def __init__(self, message, exit_code):
        super().__init__(message)
        self.exit_code = exit_code


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (the full usage is in ``--help``)."""

    def error(self, message):
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


def _count(minimum):
    """An argparse type: an integer >= ``minimum``."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    parse.__name__ = "integer"
    return parse


def _number(minimum=None, exclusive=False):
    """An argparse type: a finite float, >= ``minimum`` (> with ``exclusive``)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text}")
        if minimum is not None and (value <= minimum if exclusive else value < minimum):
            raise argparse.ArgumentTypeError(
                f"must be {'>' if exclusive else '>='} {minimum:g}, got {text}")
        return value
    parse.__name__ = "number"
    return parse


# --------------------------------------------------------------------------- CLI

def build_parser():
    lines = ["per-task defaults:"]
    for name, task in sorted(TASKS.items()):
        d = task.defaults
        lines.append(f"  {name:7s} seq-len {d['seq_len'] or '-'}, hidden {d['hidden_size']}, "
                     f"batch {d['batch_size']}, lr {d['lr']:g}, steps {d['steps']}, "
                     f"eval every {d['eval_every']}")
    lines.append(GUARANTEES)
    lines.append("exit status:")
    lines += [textwrap.fill(meaning, 88, initial_indent=f"  {code:3d}  ",
                            subsequent_indent=" " * 7) for code, meaning in EXIT_CODES.items()]
    parser = _Parser(
        prog="minigrad-train",
        description="Train a recurrent model (any cell kind) on a showcase task.",
        epilog="\n".join(lines), formatter_class=argparse.RawDescriptionHelpFormatter)
    add = parser.add_argument
    add("--task", choices=sorted(TASKS), help="the task (default: adding)")
    add("--cell", help=f"cell kind: {', '.join(CELL_KINDS)}, or module:Class for your own "
                       "cell (default: lstm)")
    add("--seq-len", type=_count(1), help="sequence length T (adding, copy: the delay; charlm: "
                                    "the truncated-BPTT length); task default if omitted")
    add("--hidden-size", "--hidden", type=_count(1), dest="hidden_size")
    add("--layers", type=_count(1), dest="num_layers",
        help="stacked recurrent layers (default 1)")
    add("--batch-size", "--batch", type=_count(1), dest="batch_size")
    add("--lr", type=_number(0.0, exclusive=True), help="learning rate (task default)")
    add("--optimizer", choices=OPTIMIZERS, help="default: adam")
    add("--lr-schedule", choices=LR_SCHEDULES,
        help="constant (default); cosine: CosineAnnealingLR from --lr down to 0; onecycle: "
             "OneCycleLR up to --lr and down, cycling momentum; both span the step budget "
             "the run started with, and the rate stays at its last value after it")
    add("--clip", type=_number(0.0), help="clip the gradient norm to this (0: no clipping)")
    add("--forget-bias", type=_number(), help="added to the forget-gate bias of LSTM kinds "
                                          "(default 1.0)")
    add("--steps", type=_count(1), help="the most training steps (task default); may "
                                        "change on --resume")
    add("--eval-every", type=_count(1), help="steps between evaluations (task default)")
    add("--checkpoint-every", type=_count(1), help="steps between checkpoints (default: at "
                                                   "every evaluation)")
    add("--log-every", type=_count(1), help="steps between log lines (default 50)")
    add("--seed", type=_count(0), help="seeds the parameters and the training data "
                                       "(default 0)")
    add("--test-size", type=_count(1), help="held-out sequences (adding, reber, copy)")
    add("--val-chars", type=_count(1), help="charlm: validation characters evaluated")
    add("--max-chars", type=_count(1), help="charlm: cap on the training characters")
    add("--out", help="run folder (default runs/TASK-CELL); it must be writable")
    add("--resume", action="store_true",
        help="continue the run in --out from its checkpoint (or, without one, start the "
             "run its config.json describes); other options must match the run's")
    add("--overwrite", action="store_true",
        help="start afresh in an --out that holds an earlier run, replacing its files")
    add("--backend", choices=("numpy", "cupy", "cpu", "gpu"),
        help="default: MINIGRAD_BACKEND's, else numpy")
    add("--no-early-stop", dest="early_stop", action="store_false", default=None,
        help="keep training after the task is solved")
    add("--no-plots", dest="plots", action="store_false", default=None,
        help="do not write PNG plots")
    add("--threads", type=_count(1), help="BLAS threads (default 1: small matrices run "
                                          "fastest on one thread, and results are "
                                          "reproducible)")
    add("--explode", type=_number(0.0, exclusive=True),
        help="stop when the loss exceeds this multiple of the first step's loss (default 1e3)")
    add("--sample-chars", type=_count(0),
        help="charlm: characters to sample at the end (300)")
    add("--temperature", type=_number(0.0, exclusive=True),
        help="charlm: sampling temperature (0.8)")
    add("--quiet", action="store_true", default=None, help="only the final summary line")
    add("--stop-after", type=_count(1), help=argparse.SUPPRESS)   # test hook: simulate a kill
    return parser


GLOBAL_DEFAULTS = dict(task="adding", cell="lstm", num_layers=1, optimizer="adam",
                       lr_schedule="constant",
                       forget_bias=1.0, log_every=50, seed=0, backend="numpy",
                       early_stop=True, plots=True, threads=1, explode=1e3,
                       sample_chars=300, temperature=0.8, quiet=False, stop_after=None,
                       checkpoint_every=None, test_size=None, val_chars=None,
                       max_chars=None)


def resolve_config(args):
    """The full configuration: command line, else the task's defaults, else ours (the
    backend: the active one, which ``MINIGRAD_BACKEND`` chose)."""
    given = _given(args)
    task_name = given.get("task", GLOBAL_DEFAULTS["task"])
    config = dict(GLOBAL_DEFAULTS, backend=mg.get_backend())
    config.update({k: v for k, v in TASKS[task_name].defaults.items()
                   if k not in ("test_size", "val_chars", "max_chars")})
    config.update(given)
    if config.get("checkpoint_every") is None:
        config["checkpoint_every"] = config["eval_every"]
    # a schedule spans the budget the run starts with (--steps may change on resume)
    config["schedule_steps"] = config["steps"]
    if not config.get("out"):
        config["out"] = str(Path("runs") / f"{task_name}-{_safe(config['cell'])}")
    return config


def _given(args):
    """The options given on the command line (argparse leaves the others None)."""
    return {k: v for k, v in vars(args).items()
            if v is not None and k not in ("resume", "overwrite")}


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


def make_schedule(name, optimizer, steps):
    """The learning-rate schedule ``name`` over ``steps`` steps, or None (constant)."""
    schedules = mg.optim.lr_scheduler
    if name == "constant":
        return None
    if name == "cosine":
        return schedules.CosineAnnealingLR(optimizer, T_max=steps)
    if name == "onecycle":
        return schedules.OneCycleLR(optimizer, max_lr=optimizer.lr, total_steps=steps)
    raise ValueError(f"unknown lr schedule {name!r}: choose one of {', '.join(LR_SCHEDULES)}")


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
    """Drop the records a killed run wrote after its last checkpoint (``step``), and a
    line cut short by the kill or a full disk; returns notes on what was dropped."""
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    kept, torn = [], []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            if not isinstance(record, dict):
                raise ValueError("not a record")
        except ValueError:
            torn.append(number)
            continue
        if record.get("kind") in ("train", "eval") and record.get("step", 0) <= step:
            kept.append(line)
    _write_atomic(path, "".join(line + "\n" for line in kept))
    if not torn:
        return []
    if torn == [len(lines)]:
        return [f"dropped the torn last line of {path} (a write cut short)"]
    return [f"dropped {len(torn)} unreadable line(s) of {path} (line {', '.join(map(str, torn))})"]


def _write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file renamed over it, so a kill or
    a full disk leaves the old file or the new one, never half of one."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _format_eval(task, step, metrics):
    extras = ", ".join(f"{k.replace('_', ' ')} {v:.4g}" for k, v in metrics.items()
                       if k not in ("metric", "solved", "baseline") and isinstance(v, float)
                       and v != metrics["metric"])
    extras = f" ({extras})" if extras else ""
    flag = "  SOLVED" if metrics["solved"] else ""
    return f"eval @ step {step}: {task.metric_name} {metrics['metric']:.4g}{extras}{flag}"


# --------------------------------------------------------------------------- run folders

def read_checkpoint(path):
    """The training checkpoint at ``path``, checked to be one (else :class:`RunError`
    with exit status 5, naming the path)."""
    try:
        saved = mg.load(path)
    except ValueError as exc:
        raise RunError(f"cannot resume: {exc}", EXIT_CHECKPOINT) from None
    missing = [key for key in CHECKPOINT_KEYS if not isinstance(saved, dict) or key not in saved]
    if missing or saved.get("format") != "minigrad-train":
        raise RunError(f"cannot resume: {path} is a minigrad file but not a training "
                       f"checkpoint of models.train (missing {', '.join(missing) or 'format'}); "
                       f"move it away, or start afresh with --overwrite", EXIT_CHECKPOINT)
    try:
        config = json.loads(str(saved["config"]))
        if not isinstance(config, dict):
            raise ValueError("not a dict")
    except ValueError as exc:
        raise RunError(f"cannot resume: the configuration inside {path} is unreadable "
                       f"({exc})", EXIT_CHECKPOINT) from None
    saved["config"] = config
    return saved


def _read_config(path):
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(config, dict) or "task" not in config:
            raise ValueError("not a run configuration")
    except (ValueError, UnicodeDecodeError) as exc:
        raise RunError(f"cannot resume: {path} is unreadable ({exc}); move it away, or "
                       f"start afresh with --overwrite", EXIT_CHECKPOINT) from None
    return config


def _option(key):
    return "--" + {"hidden_size": "hidden-size", "num_layers": "layers",
                   "batch_size": "batch-size", "early_stop": "no-early-stop",
                   "plots": "no-plots"}.get(key, key.replace("_", "-"))


def _resumed_config(stored, given, source):
    """``stored`` with the run-control options of ``given`` applied; any other given
    option that differs is refused (:class:`RunError`). Returns ``(config, notes)``."""
    config = dict(stored)
    notes, conflicts = [], []
    for key, value in given.items():
        if key == "out" or stored.get(key) == value:
            continue
        if key in RUN_CONTROL:
            if key != "stop_after":
                notes.append(f"{_option(key)} applied on resume ({key} "
                             f"{stored.get(key)} -> {value})")
            config[key] = value
        else:
            conflicts.append(f"{_option(key)} {value} (the run has {stored.get(key)!r})")
    if conflicts:
        raise RunError(f"--resume keeps the run's configuration ({source}), but "
                       f"{'; '.join(conflicts)} differ; start a new run with another --out "
                       f"or --overwrite to change them", EXIT_USAGE)
    return config, notes


def prepare(args):
    """Check the command line against the run folder; returns ``(config, notes)``.

    Resolves what ``--resume`` continues (the checkpoint's configuration, else the
    folder's ``config.json``), refuses an existing run without ``--resume`` or
    ``--overwrite``, checks that the folder can be written, and removes temporary files
    of saves that a kill interrupted. Raises :class:`RunError` with a one-line message.
    """
    given = _given(args)
    fresh = resolve_config(args)
    out = Path(fresh["out"])
    if out.exists() and not out.is_dir():
        raise RunError(f"--out {out} is a file, not a folder", EXIT_USAGE)
    notes = []
    config = fresh
    if args.resume:
        if args.overwrite:
            raise RunError("--resume and --overwrite exclude each other", EXIT_USAGE)
        if (out / CHECKPOINT).exists():
            stored = read_checkpoint(out / CHECKPOINT)["config"]
            config, notes = _resumed_config(stored, given, str(out / CHECKPOINT))
        elif (out / CONFIG).exists():
            stored = _read_config(out / CONFIG)
            config, notes = _resumed_config(stored, given, str(out / CONFIG))
            notes.insert(0, f"no checkpoint in {out}: starting the run described by "
                            f"{out / CONFIG} from step 0")
        else:
            notes.append(f"nothing to resume in {out} (no checkpoint, no {CONFIG}): "
                         f"starting a fresh run")
        config["out"] = str(out)
    else:
        existing = [name for name in RUN_FILES if (out / name).exists()]
        if existing and not args.overwrite:
            raise RunError(f"{out} already holds a run ({', '.join(existing)}); continue it "
                           f"with --resume, or start afresh with --overwrite", EXIT_USAGE)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe, probe_path = tempfile.mkstemp(dir=out, prefix=".write-test-")
        os.close(probe)
        os.unlink(probe_path)
    except OSError as exc:
        raise RunError(f"--out {out} cannot be written ({exc.strerror or exc})",
                       EXIT_USAGE) from None
    if args.overwrite and not args.resume:
        removed = [name for name in RUN_FILES if (out / name).exists()]
        for name in removed:
            (out / name).unlink()
        if removed:
            notes.append(f"--overwrite: removed the earlier run's {', '.join(removed)}")
    # what a kill -9 can leave: the temporary file of a save (mg.save's, or one of
    # _write_atomic's), or the probe above
    stale = sorted({path for name in RUN_FILES for path in out.glob(f".{name}.*.tmp")}
                   | set(out.glob(".write-test-*")))
    for temp in stale:
        temp.unlink(missing_ok=True)
    if stale:
        notes.append(f"removed {len(stale)} temporary file(s) of interrupted saves in {out}")
    return config, notes


# --------------------------------------------------------------------------- the run

def run(config, resume=False):
    """Train as ``config`` (see :func:`resolve_config`) says; returns a summary dict with
    ``exit_code``, ``solved``, ``solved_at_step``, ``sequences_to_solve``, ``final`` (the
    last evaluation), ``seconds_per_step``, ``parameters`` and the output paths.

    BLAS runs on ``config["threads"]`` threads meanwhile (1 by default): a recurrent step
    multiplies small matrices, which one thread does fastest, and reproducibly; on a
    busy 2-core machine OpenBLAS's own threads made a step twenty times slower.
    """
    try:
        with threadpool_limits(limits=config["threads"] or None, user_api="blas"):
            return _train(config, resume)
    except OSError as exc:
        if exc.errno not in _WRITE_ERRORS:
            raise
        checkpoint = Path(config["out"]) / CHECKPOINT
        try:
            kept = f"the last good checkpoint (step {int(mg.load(checkpoint)['step'])}) is " \
                   f"kept at {checkpoint}; "
        except (OSError, ValueError, KeyError):
            kept = "no checkpoint was written yet; "
        what = "the disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else \
            "cannot write the run folder"
        message = (f"{what} ({exc.strerror}: {exc.filename or config['out']}); {kept}"
                   f"free some space and continue with --out {config['out']} --resume")
        print(f"error: {message}", file=sys.stderr, flush=True)
        return {"exit_code": EXIT_DISK, "error": message, "out": config["out"]}


#: errors of a write that fails for want of room or a writable disk (EFBIG: a file-size
#: limit); they end the run with EXIT_DISK
_WRITE_ERRORS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


def _train(config, resume):
    out = Path(config["out"])
    out.mkdir(parents=True, exist_ok=True)
    checkpoint_path = out / CHECKPOINT

    saved = None
    if resume and checkpoint_path.exists():
        saved = read_checkpoint(checkpoint_path)
        # the checkpoint's configuration is the run's; only run control may differ
        config = {**saved["config"], **{k: config[k] for k in RUN_CONTROL if k in config},
                  "out": str(out)}
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
    # (configurations written before schedules existed have none)
    config.setdefault("lr_schedule", "constant")
    config.setdefault("schedule_steps", config["steps"])
    schedule = make_schedule(config["lr_schedule"], optimizer, config["schedule_steps"])
    stream = task.train_stream([config["seed"], 100], config["batch_size"])
    # what a resumed run starts from (the test hook never carries over)
    public_config = dict(config)
    public_config["stop_after"] = None
    _write_atomic(out / CONFIG, json.dumps(public_config, indent=2) + "\n")

    state = {"step": 0, "carry": None, "first_loss": None, "solved_at": None,
             "window": [0.0, 0.0, 0], "train_seconds": 0.0, "last_eval": None}
    if saved is not None:
        try:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            if schedule is not None:
                if saved.get("schedule") is None:
                    raise ValueError(f"it holds no state of the {config['lr_schedule']} "
                                     f"schedule")
                schedule.load_state_dict(saved["schedule"])
            stream.load_state_dict(saved["stream"])
            _set_generator_state(saved["generator"])
            state["step"] = int(saved["step"])
            state["carry"] = state_from_arrays(saved["carry"])
            state["first_loss"] = saved["first_loss"]
            state["solved_at"] = saved["solved_at"]
            state["window"] = list(saved["window"])
            state["train_seconds"] = float(saved["train_seconds"])
            state["last_eval"] = json.loads(str(saved["last_eval"]))
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise RunError(f"cannot resume: {checkpoint_path} does not fit the model its "
                           f"configuration builds ({type(exc).__name__}: {exc})",
                           EXIT_CHECKPOINT) from None
        for note in _trim_metrics(out / METRICS, state["step"]):
            print(f"note: {note}", file=sys.stderr)
    else:
        (out / METRICS).unlink(missing_ok=True)

    def save_checkpoint():
        if not _finite_parameters(model):
            raise Diverged(f"the parameters hold NaN or Inf after step {state['step']}")
        mg.save({"format": "minigrad-train", "config": json.dumps(public_config),
                 "step": state["step"], "model": model.state_dict(),
                 "optimizer": optimizer.state_dict(), "stream": stream.state_dict(),
                 "schedule": None if schedule is None else schedule.state_dict(),
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
            if schedule is not None and state["step"] < config["schedule_steps"]:
                schedule.step()
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
                          "lr": optimizer.lr,
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
    _write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n")
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
    status (:data:`EXIT_CODES`: 0 done, 2 bad usage, 3 diverged, 4 the run folder could
    not be written, 5 a checkpoint that cannot be resumed, 130 interrupted)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    # a training run allocates the same arrays every step: keep freed memory for reuse
    # (the opt-in importing minigrad no longer makes; MINIGRAD_TUNE_ALLOCATOR=0 refuses)
    mg.tune_allocator()
    cell = args.cell or GLOBAL_DEFAULTS["cell"]
    if cell not in CELL_KINDS and ":" not in cell and "." not in cell:
        parser.error(f"unknown cell {cell!r}: choose one of {', '.join(CELL_KINDS)}, "
                     f"or module:Class")
    try:
        config, notes = prepare(args)
        for note in notes:
            print(f"note: {note}", file=sys.stderr)
        summary = run(config, resume=args.resume)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        out = resolve_config(args)["out"]
        print(f"\ninterrupted: {Path(out) / CHECKPOINT} holds the last saved step; "
              f"continue with --out {out} --resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    return summary["exit_code"]


if __name__ == "__main__":
    sys.exit(main())
