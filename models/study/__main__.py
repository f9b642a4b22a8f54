"""``python -m models.study``: Greff et al.'s variant study, run by any number of workers.

    python -m models.study run --out /work/study-run --workers 2        # the default study
    python -m models.study run --preset full --storage postgresql+psycopg2://u:p@db/study
    python -m models.study status --out /work/study-run
    python -m models.study report --out /work/study-run --docs docs/study.md   # tables

``run`` opens (or creates) one Optuna study per task and variant in the storage and
works until each has its budget of COMPLETE trials; ``--workers N`` starts N worker
processes here, and the same command with the same ``--storage`` on another machine
adds its workers to the same studies. docs/study.md has the whole story.
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..variants import VARIANTS
from .trials import PRESETS, TASK_NAMES


def build_parser():
    """The command line: ``run``, ``status`` and ``report``, each with ``--out``,
    ``--storage``, ``--prefix``, ``--tasks``, ``--variants``."""
    parser = argparse.ArgumentParser(prog="python -m models.study",
                                     description="Greff et al. 2015's LSTM variant study "
                                                 "on Optuna")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("run", "run workers until every study has its budget"),
                       ("status", "trials done per study"),
                       ("report", "box plots, best trials, t-tests, fANOVA, study.md")):
        command = commands.add_parser(name, help=text, description=text)
        add = command.add_argument
        add("--out", default="runs/study", help="folder of the SQLite file, the logs and "
                                                "the report (default runs/study)")
        add("--storage", help="SQLAlchemy URL of the storage (default: sqlite:///OUT/"
                              "study.db); e.g. postgresql+psycopg2://user:pw@host/db")
        add("--prefix", default="", help="prefix of the study names (several sets of "
                                         "studies in one storage)")
        add("--tasks", nargs="+", choices=TASK_NAMES, default=list(TASK_NAMES))
        add("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
        if name == "run":
            add("--preset", choices=sorted(PRESETS), default="default",
                help="trial size and budget: default (about an hour on two cores), full "
                     "(the paper's scale), smoke (seconds; the tests)")
            add("--trials", type=int, help="COMPLETE trials per task and variant (default: "
                                           "the preset's)")
            add("--workers", type=int, default=1, help="worker processes to start here")
            add("--prune", action="store_true", help="median pruning on the validation "
                                                     "score (off by default: every trial "
                                                     "trains to the end, comparably)")
            add("--heartbeat", type=int, default=20, help="seconds between a running "
                                                          "trial's heartbeats")
            add("--grace", type=int, default=60, help="seconds without a heartbeat after "
                                                      "which a trial is failed and retried")
            add("--label", help=argparse.SUPPRESS)      # a worker's name (set by --workers)
            # test hook: each trial waits this long before training (to be killed mid-trial)
            add("--hold-trial", type=float, default=0.0, help=argparse.SUPPRESS)
        if name == "report":
            add("--docs", help="also write the report as this Markdown file, its figures "
                               "beside it in figures/study/")
    return parser


def storage_url(args):
    """``--storage``, else the SQLite file ``OUT/study.db`` (``OUT`` created)."""
    if args.storage:
        return args.storage
    Path(args.out).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(args.out).resolve() / 'study.db'}"


def run(args, argv):
    """``run``: open the studies and work in them, in this process (``--workers 1``)
    or in ``--workers`` child processes started with ``argv``; returns the exit status."""
    from . import workers
    preset = PRESETS[args.preset]
    config = workers.study_config(args.preset, args.trials or preset.trials, args.prune)
    storage = workers.open_storage(storage_url(args), args.heartbeat, args.grace)
    studies = workers.open_studies(storage, args.tasks, args.variants, config, args.prefix)
    if args.workers <= 1:
        workers.Worker(studies, config, args.label, say=_say, hold=args.hold_trial).run()
        return 0
    workers.prepare_data(args.tasks, args.preset)         # parse once, not per worker
    started = time.time()
    print(f"{args.workers} workers on {len(studies)} studies ({args.preset} preset, "
          f"{config['trials']} trials each): {workers.describe(studies, config)}", flush=True)
    children = []
    for index in range(args.workers):
        command = [sys.executable, "-m", "models.study", *_worker_argv(argv, index)]
        children.append(subprocess.Popen(command))
    try:
        codes = [child.wait() for child in children]
    except KeyboardInterrupt:
        for child in children:
            child.send_signal(signal.SIGINT)
        codes = [child.wait() for child in children]
    print(f"all workers done in {time.time() - started:.0f} s: "
          f"{workers.describe(studies, config)}", flush=True)
    return max(codes, default=0)


def _worker_argv(argv, index):
    """``argv`` of ``run`` with ``--workers 1`` and a label for worker ``index``."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--workers", "--label"):
            skip = True
            continue
        if arg.startswith(("--workers=", "--label=")):
            continue
        out.append(arg)
    return out + ["--workers", "1", "--label", f"w{index + 1}@{os.uname().nodename}"]


def _say(text):
    print(f"{time.strftime('%H:%M:%S')} {text}", flush=True)


def status(args):
    """``status``: one line per study, trials counted of the budget, running, failed."""
    from . import workers
    from .report import load_results
    storage = workers.open_storage(storage_url(args))
    results = load_results(storage, args.tasks, args.variants, args.prefix)
    for (task, variant), info in sorted(results.items()):
        print(f"{task}/{variant}: {info['counted']} counted of {info['budget']}, "
              f"{info['running']} running, {info['failed']} failed")
    return 0


def main(argv=None):
    """Entry point of ``python -m models.study``; returns the exit status (2 for a
    study made with other options, or a missing ``study`` extra)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    from .workers import StudyMismatch
    try:
        if args.command == "run":
            return run(args, argv)
        if args.command == "status":
            return status(args)
        from .report import report
        return report(args)
    except (StudyMismatch, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
