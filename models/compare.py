"""Train every cell kind on one task with the same budget and seeds, and tabulate.

A small version of Greff et al. 2015, "LSTM: A Search Space Odyssey": the same task,
hidden size, optimizer, learning rate, step budget and seeds for each variant; the table
gives the parameter count, how many steps (and training sequences) each needed to
solve the task, the final held-out metric, and the time per training step.

    python -m minigrad.models.compare --task adding --seq-len 50 --steps 2000
    python -m minigrad.models.compare --task reber --cells lstm gru rnn --seeds 0 1 2

The table is printed and saved as Markdown (``results.md``) with the raw numbers
(``results.json``) in the output folder; each run keeps its own folder below it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from .tasks import CELL_KINDS, TASKS
from .train import GLOBAL_DEFAULTS, run


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m minigrad.models.compare",
        description="Train every cell kind on one task with the same budget; print a table.")
    add = parser.add_argument
    add("--task", choices=sorted(TASKS), default="adding")
    add("--cells", nargs="+", default=list(CELL_KINDS),
        help=f"cell kinds to compare (default: all of {' '.join(CELL_KINDS)})")
    add("--seeds", nargs="+", type=int, default=[0])
    add("--seq-len", type=int, help="task default if omitted")
    add("--steps", type=int, default=2000, help="the step budget of every run")
    add("--hidden-size", "--hidden", type=int, dest="hidden_size")
    add("--batch-size", "--batch", type=int, dest="batch_size")
    add("--lr", type=float)
    add("--eval-every", type=int)
    add("--test-size", type=int)
    add("--no-early-stop", dest="early_stop", action="store_false",
        help="spend the whole budget even once solved")
    add("--out", help="output folder (default runs/compare-TASK)")
    add("--quiet", action="store_true", help="no per-run progress lines")
    return parser


def run_config(args, cell, seed, out):
    task_defaults = TASKS[args.task].defaults
    config = dict(GLOBAL_DEFAULTS)
    config.update({k: v for k, v in task_defaults.items()
                   if k not in ("test_size", "val_chars", "max_chars")})
    config.update(task=args.task, cell=cell, seed=seed, steps=args.steps, plots=False,
                  quiet=args.quiet, early_stop=args.early_stop, out=str(out),
                  log_every=max(args.steps // 10, 1))
    for key in ("seq_len", "hidden_size", "batch_size", "lr", "eval_every", "test_size"):
        value = getattr(args, key)
        if value is not None:
            config[key] = value
    config["checkpoint_every"] = config["eval_every"]
    return config


def _median(values):
    return statistics.median(values) if values else None


def summarise(cell, summaries):
    solved = [s for s in summaries if s["solved"]]
    steps = [s["solved_at_step"] for s in solved]
    return {
        "cell": cell,
        "parameters": summaries[0]["parameters"],
        "runs": len(summaries),
        "solved_runs": len(solved),
        "steps_to_solve": _median(steps),
        "sequences_to_solve": _median([s["sequences_to_solve"] for s in solved]),
        "final_metric": _median([s["final"]["metric"] for s in summaries]),
        "seconds_per_step": statistics.fmean(s["seconds_per_step"] for s in summaries),
        "per_seed": [{"seed": s["seed"], "solved_at_step": s["solved_at_step"],
                      "final_metric": s["final"]["metric"], "steps": s["steps"]}
                     for s in summaries],
    }


def markdown_table(rows, metric_name, setup):
    """The comparison as a Markdown table (with a line saying what was compared)."""
    lines = [setup, "",
             f"| cell | parameters | solved | steps to solve | sequences to solve | "
             f"final {metric_name} | ms / step |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for row in rows:
        steps = "—" if row["steps_to_solve"] is None else f"{row['steps_to_solve']:,.0f}"
        sequences = "—" if row["sequences_to_solve"] is None \
            else f"{row['sequences_to_solve']:,.0f}"
        lines.append(f"| {row['cell']} | {row['parameters']:,} | "
                     f"{row['solved_runs']}/{row['runs']} | {steps} | {sequences} | "
                     f"{row['final_metric']:.4g} | {1000 * row['seconds_per_step']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None):
    args = build_parser().parse_args(argv)
    out = Path(args.out or Path("runs") / f"compare-{args.task}")
    out.mkdir(parents=True, exist_ok=True)
    rows, started = [], time.perf_counter()
    metric_name, example = None, None
    for cell in args.cells:
        summaries = []
        for seed in args.seeds:
            config = run_config(args, cell, seed, out / f"{cell.replace(':', '_')}-seed{seed}")
            example = config
            summary = run(config)
            if summary["exit_code"] != 0:
                print(f"{cell} (seed {seed}) stopped: {summary.get('diverged', 'error')}",
                      file=sys.stderr)
                summary = {**summary, "solved": False, "solved_at_step": None,
                           "sequences_to_solve": None, "parameters": summary.get(
                               "parameters", 0), "final": {"metric": float("nan")},
                           "seconds_per_step": float("nan"), "steps": None}
            summary["seed"] = seed
            metric_name = summary.get("metric_name", metric_name)
            summaries.append(summary)
        rows.append(summarise(cell, summaries))
    length = f" (T={example['seq_len']})" if example["seq_len"] else ""
    setup = (f"Task `{args.task}`{length}, hidden size "
             f"{example['hidden_size']}, batch {example['batch_size']}, Adam lr "
             f"{example['lr']:g}, gradient norm clipped at {example['clip']:g}, budget "
             f"{args.steps} steps, evaluated every {example['eval_every']} steps"
             f"{', stopping once solved' if args.early_stop else ''}; seeds "
             f"{', '.join(map(str, args.seeds))} (medians over seeds).")
    table = markdown_table(rows, metric_name or "metric", setup)
    (out / "results.md").write_text(table, encoding="utf-8")
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    print()
    print(table)
    print(f"({time.perf_counter() - started:.0f} s in all; table in {out / 'results.md'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
