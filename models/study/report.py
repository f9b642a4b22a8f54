"""``python -m models.study report``: the study analysed as Greff et al. 2015 analyse theirs.

Per task:

- the distribution of each variant's test score over its COMPLETE trials (box plots,
  the paper's Fig. 3), and the test score against the learning rate (its Fig. 6);
- the best trial of each variant (by validation score, the trials' objective);
- Welch's t-test (unequal variances, ``scipy.stats.ttest_ind(equal_var=False)``) of each
  variant against the vanilla LSTM on their *best trials*: the best 10% by validation
  score, as the paper, but at least ``MIN_BEST`` trials where a study is small;
- hyperparameter importance by functional ANOVA (Optuna's
  ``FanovaImportanceEvaluator``) on the test score, pooled over the variants (the
  paper's Fig. 5) and per variant.

Figures are PNG; the tables are written as Markdown (``report.md`` in the output
folder, and ``--docs PATH`` for the project's docs, where only the lines between the
marker lines ``<!-- report: begin -->`` and ``<!-- report: end -->`` are replaced) with the
paper's finding beside each variant.
"""
from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np

from .trials import SCORE_NAMES
from .workers import counted_states, open_storage, optuna, study_name

BEST_FRACTION = 0.10          # the paper compares the best 10% of each variant's trials
MIN_BEST = 5                  # ... but never fewer than this many (small studies)
SIGNIFICANCE = 0.05
PARAMETERS = ("lr", "hidden_size", "one_minus_momentum", "input_noise")

#: the paper's finding for each variant against vanilla (section V-A, Fig. 3), as
#: ``(on music: JSB Chorales, on speech and handwriting: TIMIT and IAM Online)``; the
#: chorales are set beside the first, the language model beside the second
PAPER = {
    "V": ("the baseline", "the baseline"),
    "NIG": ("no significant difference", "significantly worse"),
    "NFG": ("significantly worse", "significantly worse"),
    "NOG": ("no significant difference", "significantly worse"),
    "NIAF": ("no significant difference", "significantly worse"),
    "NOAF": ("significantly worse", "significantly worse"),
    "NP": ("no significant difference", "no significant difference"),
    "CIFG": ("no significant difference", "no significant difference"),
    "FGR": ("no significant difference", "no significant difference on speech, "
                                         "significantly worse on handwriting"),
    "GRU": ("not in the paper", "not in the paper"),
}
PAPER_TASKS = {"chorales": ("music (JSB Chorales)", 0),
               "charlm": ("speech and handwriting (TIMIT, IAM Online)", 1)}


def paper_finding(task, variant):
    """What the paper found for ``variant`` on the tasks set beside ``task``."""
    return PAPER.get(variant, ("", ""))[PAPER_TASKS[task][1]]


def agreement(ours, theirs):
    """``yes``, ``no``, ``partly`` or empty, comparing two verdicts in words."""
    if "not in the paper" in theirs or ours in ("the baseline", "too few trials"):
        return ""
    if ours == theirs:
        return "yes"
    return "partly" if ours in theirs else "no"


def load_results(storage, tasks, variants, prefix=""):
    """``{(task, variant): {...}}`` for each study in ``storage``: its COMPLETE trials
    (``trials``), how many the budget counts, its budget, and the RUNNING and FAIL
    counts (surplus trials, which never ran, apart)."""
    module = optuna()
    states = module.trial.TrialState
    results = {}
    for task in tasks:
        for variant in variants:
            try:
                study = module.load_study(study_name=study_name(prefix, task, variant),
                                          storage=storage)
            except KeyError:
                continue
            config = study.user_attrs.get("config", {})
            trials = study.get_trials(deepcopy=False)
            complete = [t for t in trials if t.state == states.COMPLETE
                        and "test" in t.user_attrs]
            counted = [t for t in trials if t.state in counted_states(config.get("prune"))]
            results[task, variant] = {
                "study": study, "trials": complete, "counted": len(counted),
                "budget": config.get("trials"), "config": config,
                "running": sum(t.state == states.RUNNING for t in trials),
                "failed": sum(t.state == states.FAIL and "surplus" not in t.user_attrs
                              for t in trials),
                "surplus": sum("surplus" in t.user_attrs for t in trials),
                "retried": sum(t.user_attrs.get("origin", t.number) != t.number
                               for t in complete),
            }
    return results


def best_trials(trials):
    """The best ``BEST_FRACTION`` of ``trials`` by validation score (at least
    ``MIN_BEST``, at most all)."""
    count = min(len(trials), max(MIN_BEST, math.ceil(BEST_FRACTION * len(trials))))
    return sorted(trials, key=lambda t: t.value)[:count]


def welch(variant_trials, vanilla_trials):
    """Welch's t-test of the variant's best trials' test scores against vanilla's:
    ``(t, p, mean difference)``; ``(nan, nan, nan)`` with fewer than two on a side."""
    from scipy import stats
    a = [t.user_attrs["test"] for t in best_trials(variant_trials)]
    b = [t.user_attrs["test"] for t in best_trials(vanilla_trials)]
    if len(a) < 2 or len(b) < 2:
        return math.nan, math.nan, math.nan
    result = stats.ttest_ind(a, b, equal_var=False)
    return float(result.statistic), float(result.pvalue), float(np.mean(a) - np.mean(b))


def importances(trials, seed=0):
    """fANOVA importance of each hyperparameter for the test score of ``trials``
    (fractions of variance summing to 1); ``{}`` with fewer than four trials."""
    module = optuna()
    if len(trials) < 4:
        return {}
    pooled = module.create_study(direction="minimize")
    pooled.add_trials(trials)
    evaluator = module.importance.FanovaImportanceEvaluator(seed=seed)
    return dict(module.importance.get_param_importances(
        pooled, evaluator=evaluator, params=list(PARAMETERS),
        target=lambda t: t.user_attrs["test"], normalize=True))


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def box_plot(task, by_variant, path):
    """Each variant's test scores over its trials as a box (all trials) and dots; the
    best trials' mean as a diamond. Scores far above vanilla's worst are cut off at
    the top, with their count printed."""
    plt = _plt()
    names = [v for v in by_variant if by_variant[v]]
    scores = [[t.user_attrs["test"] for t in by_variant[v]] for v in names]
    everything = np.concatenate(scores)
    top = float(np.quantile(everything, 0.9))
    bottom = float(everything.min())
    span = max(top - bottom, 1e-6)
    fig, ax = plt.subplots(figsize=(1.0 + 0.75 * len(names), 4.2))
    ax.boxplot(scores, showfliers=False, widths=0.55)
    rng = np.random.default_rng(0)
    for k, values in enumerate(scores, 1):
        values = np.asarray(values)
        ax.scatter(k + rng.uniform(-0.15, 0.15, len(values)), np.minimum(values, top + 0.08 * span),
                   s=10, alpha=0.5, color="tab:blue")
        best = [t.user_attrs["test"] for t in best_trials(by_variant[names[k - 1]])]
        ax.scatter([k], [np.mean(best)], marker="D", color="tab:red", zorder=3, s=22)
        above = int((values > top + 0.08 * span).sum())
        if above:
            ax.annotate(f"+{above}", (k, top + 0.1 * span), ha="center", fontsize=7)
    ax.set_ylim(bottom - 0.05 * span, top + 0.15 * span)
    ax.set_xticks(range(1, len(names) + 1), names)
    ax.set_ylabel(f"test {SCORE_NAMES[task]}")
    ax.set_title(f"{task}: every trial (boxes, dots); mean of the best trials (red)",
                 fontsize=9)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def learning_rate_plot(task, by_variant, path):
    """Test score against the learning rate, one colour per variant."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    everything = []
    for variant, trials in by_variant.items():
        if not trials:
            continue
        lr = [t.params["lr"] for t in trials]
        score = [t.user_attrs["test"] for t in trials]
        everything += score
        ax.scatter(lr, score, s=14, label=variant, alpha=0.75)
    top = float(np.quantile(everything, 0.9))
    bottom = min(everything)
    ax.set_ylim(bottom - 0.05 * (top - bottom), top + 0.1 * (top - bottom))
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel(f"test {SCORE_NAMES[task]}")
    ax.set_title(f"{task}: test score against the learning rate", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def importance_plot(pooled, path):
    """fANOVA importances per task (pooled over variants) as grouped bars."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.0, 3.4))
    tasks = [t for t in pooled if pooled[t]]
    width = 0.8 / max(len(tasks), 1)
    for k, task in enumerate(tasks):
        values = [pooled[task].get(p, 0.0) for p in PARAMETERS]
        ax.bar(np.arange(len(PARAMETERS)) + k * width, values, width, label=task)
    labels = ["learning rate", "hidden size", "1 - momentum", "input noise"]
    ax.set_xticks(np.arange(len(PARAMETERS)) + width * (len(tasks) - 1) / 2, labels)
    ax.set_ylabel("fraction of variance (fANOVA)")
    ax.set_title("hyperparameter importance for the test score, variants pooled", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def analyse(results, tasks, variants):
    """The numbers of the report: ``{task: {"rows": [...], "importance": {...},
    "per_variant_importance": {...}}}``."""
    analysis = {}
    for task in tasks:
        by_variant = {v: results[task, v]["trials"] for v in variants if (task, v) in results}
        vanilla = by_variant.get("V", [])
        rows = []
        for variant, trials in by_variant.items():
            info = results[task, variant]
            row = {"variant": variant, "trials": len(trials), "budget": info["budget"],
                   "failed": info["failed"], "retried": info["retried"],
                   "surplus": info["surplus"]}
            if trials:
                tests = [t.user_attrs["test"] for t in trials]
                best = min(trials, key=lambda t: t.value)
                best_set = best_trials(trials)
                row.update(median=float(np.median(tests)),
                           best_mean=float(np.mean([t.user_attrs["test"] for t in best_set])),
                           best_count=len(best_set), best_valid=best.value,
                           best_test=best.user_attrs["test"], best_number=best.number,
                           best_params=dict(best.params),
                           parameters=best.user_attrs.get("parameters"))
                if variant != "V" and vanilla:
                    row["t"], row["p"], row["difference"] = welch(trials, vanilla)
            row["paper"] = paper_finding(task, variant)
            rows.append(row)
        pooled = [t for trials in by_variant.values() for t in trials]
        analysis[task] = {
            "rows": rows, "importance": importances(pooled),
            "per_variant_importance": {v: importances(t) for v, t in by_variant.items()},
            "by_variant": by_variant,
        }
    return analysis


def verdict(row):
    """Ours in words: better / worse / no significant difference against vanilla."""
    if row["variant"] == "V":
        return "the baseline"
    p = row.get("p")
    if p is None or math.isnan(p):
        return "too few trials"
    if p < SIGNIFICANCE:
        return f"significantly {'worse' if row['difference'] > 0 else 'better'}"
    return "no significant difference"


def markdown(analysis, figures, results):
    """The report's tables as Markdown; ``figures`` maps names to relative paths."""
    lines = []
    for task, part in analysis.items():
        lines += [f"### {task}: test {SCORE_NAMES[task]} (lower is better)", "",
                  f"![{task}: test scores per variant]({figures[f'{task}_box']})", "",
                  f"| variant | trials | median test | best trials' mean test (n) | "
                  f"Welch t vs V | p | ours | the paper, on {PAPER_TASKS[task][0]} | agree |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | --- |"]
        for row in part["rows"]:
            if not row["trials"]:
                lines.append(f"| {row['variant']} | 0 | | | | | | {row['paper']} | |")
                continue
            t = row.get("t")
            tp = ("", "") if t is None or math.isnan(t) else (f"{t:+.2f}", f"{row['p']:.3g}")
            ours = verdict(row)
            lines.append(f"| {row['variant']} | {row['trials']} | {row['median']:.4g} | "
                         f"{row['best_mean']:.4g} ({row['best_count']}) | {tp[0]} | {tp[1]} | "
                         f"{ours} | {row['paper']} | {agreement(ours, row['paper'])} |")
        lines += ["", f"Best trial per variant (by validation score):", "",
                  "| variant | trial | valid | test | lr | hidden | momentum | input noise | "
                  "parameters |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for row in part["rows"]:
            if not row["trials"]:
                continue
            p = row["best_params"]
            lines.append(f"| {row['variant']} | {row['best_number']} | {row['best_valid']:.4g} "
                         f"| {row['best_test']:.4g} | {p['lr']:.3g} | {p['hidden_size']} | "
                         f"{1 - p['one_minus_momentum']:.3g} | {p['input_noise']:.2f} | "
                         f"{row['parameters']:,} |")
        lines += ["", f"![{task}: test score against the learning rate]"
                      f"({figures[f'{task}_lr']})", ""]
        if part["importance"]:
            lines += ["fANOVA importance (fraction of the test score's variance), all "
                      "variants pooled and per variant:", "",
                      "| | " + " | ".join(PARAMETERS) + " |",
                      "| --- |" + " ---: |" * len(PARAMETERS)]
            rows = [("pooled", part["importance"])] + [
                (v, imp) for v, imp in part["per_variant_importance"].items() if imp]
            for name, values in rows:
                lines.append(f"| {name} | " + " | ".join(f"{values.get(p, 0.0):.2f}"
                                                       for p in PARAMETERS) + " |")
            lines.append("")
    if "importance" in figures:
        lines += [f"![hyperparameter importance]({figures['importance']})", ""]
    return "\n".join(lines)


BEGIN, END = "<!-- report: begin -->", "<!-- report: end -->"


def _replace_generated(path, tables):
    """``path``'s text with the lines between the marker lines ``BEGIN`` and ``END``
    replaced by ``tables`` (the prose around them is kept); the tables alone where
    ``path`` does not exist or has no such lines."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    if BEGIN in lines and END in lines[lines.index(BEGIN):]:
        start = lines.index(BEGIN)
        end = lines.index(END, start)
        return "\n".join(lines[:start + 1] + [tables] + lines[end:]) + "\n"
    return f"{BEGIN}\n{tables}\n{END}\n"


def report(args):
    """Build the report of the studies in ``args.storage`` (or ``args.out``'s SQLite
    file) into ``args.out``/report; with ``args.docs`` also as that Markdown file."""
    from .__main__ import storage_url
    optuna().logging.set_verbosity(optuna().logging.WARNING)
    storage = open_storage(storage_url(args))
    results = load_results(storage, args.tasks, args.variants, args.prefix)
    if not any(info["trials"] for info in results.values()):
        print("no COMPLETE trials yet: nothing to report")
        return 1
    tasks = [t for t in args.tasks if any(results.get((t, v), {}).get("trials")
                                          for v in args.variants)]
    analysis = analyse(results, tasks, args.variants)
    folder = Path(args.out) / "report"
    figures_folder = folder / "figures"
    figures_folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for task in tasks:
        by_variant = analysis[task]["by_variant"]
        written[f"{task}_box"] = box_plot(task, by_variant, figures_folder / f"{task}_box.png")
        written[f"{task}_lr"] = learning_rate_plot(task, by_variant,
                                                   figures_folder / f"{task}_lr.png")
    pooled = {task: analysis[task]["importance"] for task in tasks}
    if any(pooled.values()):
        written["importance"] = importance_plot(pooled, figures_folder / "importance.png")
    relative = {k: f"figures/{Path(v).name}" for k, v in written.items()}
    text = markdown(analysis, relative, results)
    (folder / "report.md").write_text(text + "\n", encoding="utf-8")
    (folder / "report.json").write_text(json.dumps(
        {task: {"rows": part["rows"], "importance": part["importance"],
                "per_variant_importance": part["per_variant_importance"]}
         for task, part in analysis.items()}, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"report: {folder / 'report.md'} ({len(written)} figures in {figures_folder})")
    if args.docs:
        docs = Path(args.docs)
        target = docs.parent / "figures" / "study"
        target.mkdir(parents=True, exist_ok=True)
        for path in written.values():
            shutil.copy(path, target / Path(path).name)
        tables = markdown(analysis, {k: f"figures/study/{Path(v).name}"
                                     for k, v in written.items()}, results)
        docs.write_text(_replace_generated(docs, tables), encoding="utf-8")
        print(f"tables: {docs} (figures in {target})")
    return 0
