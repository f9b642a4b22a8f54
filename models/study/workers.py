"""The studies in Optuna's storage, and the workers that fill them.

One Optuna study per task and variant (``chorales/V``, ``charlm/NIG``, ...), all in one
storage: a SQLite file on one machine, or any SQLAlchemy URL (PostgreSQL for many
machines). Every worker runs the same loop, with nothing to coordinate but the storage:

1. fail stale trials: a RUNNING trial whose worker stopped sending heartbeats for
   ``grace`` seconds (a killed worker) is set to FAIL by Optuna, and
   ``RetryHeartbeatStaleTrialCallback`` (Optuna 4.9's name for
   ``RetryFailedTrialCallback``) enqueues a copy of it (same hyperparameters, same seed)
   as a WAITING trial;
2. choose the study with the most room: a WAITING trial first, else the study with the
   fewest live trials (COMPLETE, RUNNING or WAITING) below its budget, so the variants
   fill evenly and a study stopped early is balanced;
3. run one trial there with ``study.optimize(n_trials=1)``, which sends the heartbeat.

The budget counts COMPLETE trials (and PRUNED ones when pruning is on), and it is never
overshot: trial numbers are handed out by the storage in one transaction, so a trial is
*surplus* exactly when the live trials numbered below it already fill the budget. Two
workers that start the last slot at once both get a number; the later one finds itself
surplus and is set to FAIL at once (user attribute ``surplus``) without training. A
worker exits when every study it works on has its budget of COMPLETE trials; while the
only open slots are running elsewhere, it waits, failing stale trials as it goes, so a
trial whose worker dies is retried by whoever is still there.
"""
from __future__ import annotations

import os
import random
import socket
import time
import warnings

from threadpoolctl import threadpool_limits

from .trials import PRESETS, SCORE_NAMES, StudyTask, sample_hyperparameters, train_trial

#: the version of what a study holds; a study made by another version is refused
STUDY_FORMAT = 1


def optuna():
    """Optuna, or an ImportError saying how to install the ``study`` extra."""
    try:
        import optuna as module
    except ImportError:
        raise ImportError("the study needs Optuna: pip install -e '.[study]'") from None
    return module


def open_storage(url, heartbeat=20, grace=60, max_retry=3):
    """Optuna's RDB storage at ``url`` with heartbeats every ``heartbeat`` seconds; a
    trial silent for ``grace`` seconds is failed and retried (at most ``max_retry``
    times)."""
    module = optuna()
    engine_kwargs = {"connect_args": {"timeout": 300}} if url.startswith("sqlite") \
        else {"pool_pre_ping": True}
    with warnings.catch_warnings():       # heartbeats are "experimental" in Optuna 5
        warnings.simplefilter("ignore", module.exceptions.ExperimentalWarning)
        retry = module.storages.RetryHeartbeatStaleTrialCallback(max_retry=max_retry)
        return module.storages.RDBStorage(
            url, engine_kwargs=engine_kwargs, heartbeat_interval=int(heartbeat),
            grace_period=int(grace), heartbeat_stale_trial_callback=retry)


def study_name(prefix, task, variant):
    """``{prefix}{task}/{variant}``."""
    return f"{prefix}{task}/{variant}"


def study_config(preset, trials, prune):
    """What every study of one run must agree on (kept in its user attributes)."""
    return {"format": STUDY_FORMAT, "preset": preset, "trials": int(trials),
            "prune": bool(prune)}


class StudyMismatch(ValueError):
    """A study in the storage was made with another configuration."""


def open_studies(storage, tasks, variants, config, prefix=""):
    """``{(task, variant): optuna.Study}``, created where missing, with the random
    sampler (the paper's random search) and pruning as ``config`` says. A study made
    with a smaller budget and otherwise the same ``config`` takes the larger budget (its
    trials so far count); any other difference raises :class:`StudyMismatch` naming it."""
    module = optuna()
    module.logging.set_verbosity(module.logging.WARNING)     # not a line per study
    studies = {}
    for task in tasks:
        for variant in variants:
            name = study_name(prefix, task, variant)
            pruner = module.pruners.MedianPruner(n_startup_trials=5) if config["prune"] \
                else module.pruners.NopPruner()
            study = module.create_study(storage=storage, study_name=name, direction="minimize",
                                        sampler=module.samplers.RandomSampler(),
                                        pruner=pruner, load_if_exists=True)
            stored = study.user_attrs.get("config")
            if stored is None:
                study.set_user_attr("config", config)
                study.set_user_attr("task", task)
                study.set_user_attr("variant", variant)
            elif stored != config and _only_more_trials(stored, config):
                study.set_user_attr("config", config)      # a larger budget: go on
            elif stored != config:
                differ = ", ".join(f"{k} {stored.get(k)!r} (asked for {config.get(k)!r})"
                                   for k in sorted(set(stored) | set(config))
                                   if stored.get(k) != config.get(k))
                raise StudyMismatch(f"study {name!r} in this storage was made with {differ}; "
                                    f"use the same options, another --storage, or "
                                    f"--prefix for a new set of studies")
            studies[task, variant] = study
    return studies


def _only_more_trials(stored, config):
    """True when ``config`` asks for the same study as ``stored`` with a larger budget."""
    return ({k: v for k, v in stored.items() if k != "trials"}
            == {k: v for k, v in config.items() if k != "trials"}
            and config["trials"] > stored.get("trials", 0))


class SurplusTrial(Exception):
    """This trial would go over the study's budget (see the module's docstring)."""


def counted_states(prune):
    """The trial states the budget counts."""
    states = optuna().trial.TrialState
    return (states.COMPLETE, states.PRUNED) if prune else (states.COMPLETE,)


def live_states(prune):
    """The states of trials that hold a slot of the budget: counted, RUNNING, WAITING."""
    states = optuna().trial.TrialState
    return counted_states(prune) + (states.RUNNING, states.WAITING)


def progress(studies, config):
    """``{task: (counted trials, budget)}`` over ``studies``."""
    done = {}
    for (task, _), study in studies.items():
        count = len(study.get_trials(deepcopy=False, states=counted_states(config["prune"])))
        got, budget = done.get(task, (0, 0))
        done[task] = (got + min(count, config["trials"]), budget + config["trials"])
    return done


class Worker:
    """One worker: runs trials in ``studies`` until each has its budget (see the
    module's docstring). ``label`` names it in the progress lines and in each trial's
    ``worker`` attribute."""

    def __init__(self, studies, config, label=None, poll=2.0, say=print, hold=0.0):
        self.studies = studies
        self.config = config
        self.preset = PRESETS[config["preset"]]
        self.label = label or f"{socket.gethostname()}:{os.getpid()}"
        self.poll = poll
        self.say = say
        self.tasks = {}
        self.random = random.Random()
        self.ran = 0
        self.hold = hold            # seconds each trial waits before training (a test hook)

    def run(self):
        """Work until every study is full; returns the number of trials this worker
        completed."""
        module = optuna()
        module.logging.set_verbosity(module.logging.WARNING)
        with threadpool_limits(limits=1, user_api="blas"):
            while True:
                self._fail_stale()
                choice = self._choose()
                if choice is None:
                    if self._all_full():
                        break
                    time.sleep(self.poll)       # open slots are running elsewhere
                    continue
                key, study = choice
                # Optuna logs a caught exception as a warning with its traceback; a
                # surplus trial is expected, and said in one line of ours instead
                module.logging.set_verbosity(module.logging.ERROR)
                try:
                    study.optimize(self._objective(key, study), n_trials=1,
                                   catch=(SurplusTrial,), gc_after_trial=False)
                finally:
                    module.logging.set_verbosity(module.logging.WARNING)
        done = progress(self.studies, self.config)
        self.say(f"[{self.label}] done: ran {self.ran} trials; "
                 + ", ".join(f"{t} {got}/{budget}" for t, (got, budget) in done.items()))
        return self.ran

    def _fail_stale(self):
        module = optuna()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", module.exceptions.ExperimentalWarning)
            for study in self.studies.values():
                module.storages.fail_stale_trials(study)

    def _counts(self, study):
        states = optuna().trial.TrialState
        counts = {"counted": 0, "running": 0, "waiting": 0}
        counted = counted_states(self.config["prune"])
        for trial in study.get_trials(deepcopy=False):
            if trial.state in counted:
                counts["counted"] += 1
            elif trial.state == states.RUNNING:
                counts["running"] += 1
            elif trial.state == states.WAITING:
                counts["waiting"] += 1
        return counts

    def _choose(self):
        budget = self.config["trials"]
        options = []
        for key, study in self.studies.items():
            counts = self._counts(study)
            live = counts["counted"] + counts["running"] + counts["waiting"]
            if counts["waiting"]:
                options.append((0, live, self.random.random(), key))
            elif live < budget:
                options.append((1, live, self.random.random(), key))
        if not options:
            return None
        key = min(options)[3]
        return key, self.studies[key]

    def _all_full(self):
        return all(self._counts(s)["counted"] >= self.config["trials"]
                   for s in self.studies.values())

    def _task(self, name):
        if name not in self.tasks:
            self.tasks[name] = StudyTask(name, self.preset)
        return self.tasks[name]

    def _objective(self, key, study):
        task_name, variant = key
        budget = self.config["trials"]
        live = live_states(self.config["prune"])

        def objective(trial):
            earlier = [t for t in study.get_trials(deepcopy=False, states=live)
                       if t.number < trial.number]
            if len(earlier) >= budget:
                trial.set_user_attr("surplus", f"budget of {budget} already filled")
                self.say(f"[{self.label}] {study.study_name}: the last slot was taken by "
                         f"another worker; trial {trial.number} set to FAIL unrun (surplus)")
                raise SurplusTrial(f"{study.study_name}: the budget of {budget} trials is "
                                   f"filled; trial {trial.number} not run")
            trial.set_user_attr("worker", self.label)
            # a retry is enqueued with the failed trial's user attributes: it keeps the
            # original trial's number, and trains with the same seed
            origin = trial.user_attrs.get("origin", trial.number)
            trial.set_user_attr("origin", origin)
            seed = origin
            params = sample_hyperparameters(trial, self.preset)
            time.sleep(self.hold)
            report = _pruning_hook(trial) if self.config["prune"] else None
            result = train_trial(self._task(task_name), variant, params, seed, report)
            for name in ("test", "best_step", "steps", "diverged", "parameters", "seconds"):
                trial.set_user_attr(name, result[name])
            self.ran += 1
            self._say_trial(study, trial, params, result, origin)
            return result["valid"]

        return objective

    def _say_trial(self, study, trial, params, result, origin):
        done = progress(self.studies, self.config)
        # the trial being told is still RUNNING here: count it
        task = study.user_attrs.get("task")
        got, budget = done.get(task, (0, 0))
        done[task] = (min(got + 1, budget), budget)
        note = f", retry of trial {origin}" if origin != trial.number else ""
        if result["diverged"]:
            note += f", diverged ({result['diverged']})"
        score = SCORE_NAMES[study.user_attrs.get("task")]
        self.say(f"[{self.label}] {study.study_name} trial {trial.number}: valid "
                 f"{result['valid']:.4g} test {result['test']:.4g} {score} (lr "
                 f"{params['lr']:.3g}, hidden {params['hidden_size']}, momentum "
                 f"{1 - params['one_minus_momentum']:.3g}, noise {params['input_noise']:.2f}; "
                 f"{result['seconds']:.0f} s{note}) | "
                 + ", ".join(f"{t} {g}/{b}" for t, (g, b) in done.items()))


def _pruning_hook(trial):
    module = optuna()

    def report(step, valid):
        trial.report(valid, step)
        if trial.should_prune():
            raise module.TrialPruned()
    return report


def prepare_data(tasks, preset):
    """Parse (and cache) each task's data once, before workers start."""
    for name in tasks:
        StudyTask(name, PRESETS[preset])


def describe(studies, config):
    """One line per task: trials counted out of the budget."""
    return "; ".join(f"{task} {got}/{budget} trials"
                     for task, (got, budget) in progress(studies, config).items())


__all__ = ["open_storage", "open_studies", "study_name", "study_config", "Worker",
           "StudyMismatch", "SurplusTrial", "progress", "counted_states", "prepare_data",
           "describe"]

