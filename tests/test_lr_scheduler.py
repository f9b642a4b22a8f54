"""``mg.optim.lr_scheduler`` against ``torch.optim.lr_scheduler``: the learning rates
(and OneCycleLR's momentum) of every step over many steps equal PyTorch's exactly, with
the same optimizer settings and param groups; the state dicts hold PyTorch's entries and
survive ``mg.save``/``mg.load``, so a schedule resumed from a file goes on as if never
stopped.
"""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

import minigrad as mg
from minigrad.optim import lr_scheduler

FAST = settings(max_examples=25, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
STEPS = 120
GROUP_LRS = (0.1, 0.03)


def optimizers(kind, lrs=GROUP_LRS):
    """Ours and PyTorch's optimizer of ``kind``, with one param group per rate."""
    ours = [{"params": [mg.tensor(np.zeros(2), requires_grad=True)], "lr": lr}
            for lr in lrs]
    theirs = [{"params": [torch.nn.Parameter(torch.zeros(2))], "lr": lr} for lr in lrs]
    options = {"sgd": {"momentum": 0.9}, "adam": {}, "rmsprop": {"momentum": 0.5},
               "sgd_plain": {}}[kind]
    ours_class, theirs_class = {
        "sgd": (mg.optim.SGD, torch.optim.SGD), "sgd_plain": (mg.optim.SGD, torch.optim.SGD),
        "adam": (mg.optim.Adam, torch.optim.Adam),
        "rmsprop": (mg.optim.RMSprop, torch.optim.RMSprop)}[kind]
    lr = {} if kind == "adam" else {"lr": lrs[0]}
    return ours_class(ours, **lr, **options), theirs_class(theirs, **lr, **options)


def momentum_of(group):
    return group["betas"][0] if "betas" in group else group.get("momentum")


def history(optimizer, schedule, steps, metrics=None):
    """Per step: the last rates, and each group's lr and momentum."""
    seen = []
    for k in range(steps):
        optimizer.step()
        if metrics is None:
            schedule.step()
        else:
            schedule.step(metrics[k])
        seen.append((list(schedule.get_last_lr()),
                     [(g["lr"], momentum_of(g)) for g in optimizer.param_groups]))
    return seen


def assert_same_schedule(make, kind="sgd", steps=STEPS, metrics=None, what=""):
    ours_opt, theirs_opt = optimizers(kind)
    ours, theirs = make(lr_scheduler, ours_opt), make(torch.optim.lr_scheduler, theirs_opt)
    assert ours.get_last_lr() == theirs.get_last_lr(), f"{what}: after construction"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")     # PyTorch's step() before optimizer.step() note
        got = history(ours_opt, ours, steps, metrics)
        expected = history(theirs_opt, theirs, steps, metrics)
    for step, (a, b) in enumerate(zip(got, expected)):
        assert a == b, f"{what}: step {step + 1}: {a} != PyTorch's {b}"
    shared = {k: v for k, v in theirs.state_dict().items() if k in ours.state_dict()}
    missing = set(theirs.state_dict()) - set(ours.state_dict()) - \
        {"_get_lr_called_within_step", "_is_initial"}
    assert not missing, f"{what}: state dict lacks PyTorch's {sorted(missing)}"
    for key, value in shared.items():
        if key != "lr_lambdas":
            assert ours.state_dict()[key] == value, f"{what}: state {key!r} differs"
    return ours


# --------------------------------------------------------------------------- sequences

@FAST
@given(st.integers(1, 40), st.sampled_from([0.1, 0.5, 0.9, 1.0]),
       st.sampled_from(["sgd", "adam", "rmsprop"]))
def test_step_lr_matches_torch(step_size, gamma, kind):
    assert_same_schedule(lambda m, opt: m.StepLR(opt, step_size, gamma=gamma), kind,
                         what=f"StepLR({step_size}, {gamma})")


@FAST
@given(st.sampled_from([0.5, 0.9, 0.99, 1.01]), st.sampled_from(["sgd", "adam"]))
def test_exponential_lr_matches_torch(gamma, kind):
    assert_same_schedule(lambda m, opt: m.ExponentialLR(opt, gamma), kind,
                         what=f"ExponentialLR({gamma})")


@FAST
@given(st.integers(1, 50), st.sampled_from([0.0, 1e-4, 0.01]),
       st.sampled_from(["sgd", "adam", "rmsprop"]))
def test_cosine_annealing_lr_matches_torch_past_t_max(t_max, eta_min, kind):
    # 120 steps: several periods of 2 T_max for the small ones
    assert_same_schedule(lambda m, opt: m.CosineAnnealingLR(opt, t_max, eta_min=eta_min),
                         kind, what=f"CosineAnnealingLR({t_max}, {eta_min})")


def test_lambda_lr_matches_torch_with_one_function_or_one_per_group():
    assert_same_schedule(lambda m, opt: m.LambdaLR(opt, lambda k: 0.95 ** k), what="one")
    assert_same_schedule(lambda m, opt: m.LambdaLR(
        opt, [lambda k: 1 / (k + 1), lambda k: min(1.0, (k + 1) / 10)]), what="per group")


@FAST
@given(st.sampled_from([50, 101, 120]), st.sampled_from([0.1, 0.3, 0.5]),
       st.sampled_from(["cos", "linear"]), st.booleans(),
       st.sampled_from(["sgd", "adam", "rmsprop", "sgd_plain"]), st.booleans())
def test_one_cycle_lr_matches_torch(total, pct_start, anneal, three_phase, kind, per_group):
    max_lr = [1.0, 0.2] if per_group else 0.5

    def make(module, opt):
        return module.OneCycleLR(opt, max_lr, total_steps=total, pct_start=pct_start,
                                 anneal_strategy=anneal, three_phase=three_phase)
    assert_same_schedule(make, kind, steps=total,
                         what=f"OneCycleLR({total}, {pct_start}, {anneal}, {three_phase})")


def test_one_cycle_lr_defaults_and_epochs_match_torch():
    assert_same_schedule(lambda m, opt: m.OneCycleLR(opt, 0.1, epochs=4, steps_per_epoch=25),
                         steps=100, what="epochs")
    assert_same_schedule(lambda m, opt: m.OneCycleLR(opt, 0.1, total_steps=60,
                                                     cycle_momentum=False),
                         kind="adam", steps=60, what="no momentum cycling")


def test_one_cycle_lr_refuses_a_step_past_total_steps():
    opt, _ = optimizers("sgd")
    schedule = lr_scheduler.OneCycleLR(opt, 0.1, total_steps=3)
    for _ in range(3):
        schedule.step()
    with pytest.raises(ValueError, match=r"OneCycleLR: stepped 4 times, past total_steps"):
        schedule.step()


PLATEAU_METRICS = [1.0, 0.9, 0.9, 0.95, 0.9, 0.91, 0.9, 0.5, 0.5, 0.5, 0.5, 0.5, 0.49999,
                   0.6, 0.7, 0.4] * 8


@pytest.mark.parametrize("options", [
    {}, {"patience": 1}, {"patience": 2, "cooldown": 3, "factor": 0.5},
    {"mode": "max", "patience": 0}, {"threshold_mode": "abs", "threshold": 0.05},
    {"min_lr": [0.01, 0.005], "patience": 0, "factor": 0.3},
    {"min_lr": 0.02, "patience": 0, "eps": 1e-3},
])
def test_reduce_lr_on_plateau_matches_torch(options):
    assert_same_schedule(lambda m, opt: m.ReduceLROnPlateau(opt, **options),
                         steps=len(PLATEAU_METRICS), metrics=PLATEAU_METRICS,
                         what=f"ReduceLROnPlateau({options})")


def test_resumed_with_last_epoch_matches_torch():
    # a schedule made at last_epoch >= 0 reads initial_lr from the groups (the closed
    # form at its first step, for the cosine)
    def make(module, opt, kind):
        for group in opt.param_groups:
            group["initial_lr"] = group["lr"] * 2
        return (module.CosineAnnealingLR(opt, 10, last_epoch=4) if kind == "cos" else
                module.StepLR(opt, 3, gamma=0.5, last_epoch=7))
    for kind in ("cos", "step"):
        assert_same_schedule(lambda m, opt: make(m, opt, kind), steps=30, what=kind)
    opt, _ = optimizers("sgd")
    with pytest.raises(KeyError, match=r"param_groups\[0\] has no 'initial_lr'"):
        lr_scheduler.StepLR(opt, 3, last_epoch=2)


# --------------------------------------------------------------------------- state dicts

class Warmup:
    """A callable object with state: LambdaLR saves its attributes, not the code."""

    def __init__(self, steps):
        self.steps = steps

    def __call__(self, k):
        return min(1.0, (k + 1) / self.steps)


SCHEDULES = {
    "StepLR": (lambda opt: lr_scheduler.StepLR(opt, 7, gamma=0.5), "sgd", None),
    "ExponentialLR": (lambda opt: lr_scheduler.ExponentialLR(opt, 0.97), "adam", None),
    "CosineAnnealingLR": (lambda opt: lr_scheduler.CosineAnnealingLR(opt, 13, 1e-3),
                          "sgd", None),
    "LambdaLR": (lambda opt: lr_scheduler.LambdaLR(opt, [Warmup(9), lambda k: 0.9 ** k]),
                 "sgd", None),
    "OneCycleLR": (lambda opt: lr_scheduler.OneCycleLR(opt, [0.5, 0.1], total_steps=60,
                                                       three_phase=True), "adam", None),
    "ReduceLROnPlateau": (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, patience=1,
                                                                     cooldown=1),
                          "sgd", PLATEAU_METRICS),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_state_dict_through_save_and_load_resumes_the_same_schedule(name, tmp_path):
    make, kind, metrics = SCHEDULES[name]
    whole_opt, _ = optimizers(kind)
    whole = make(whole_opt)
    expected = history(whole_opt, whole, 60, metrics)

    first_opt, _ = optimizers(kind)
    first = make(first_opt)
    if name == "LambdaLR":
        first.lr_lambdas[0].steps = 9           # saved as the object's attributes
    got = history(first_opt, first, 25, metrics)
    mg.save({"optimizer": first_opt.state_dict(), "schedule": first.state_dict()},
            tmp_path / "checkpoint.npz")
    del first, first_opt

    # a fresh run: the schedule's own first step is overwritten by the loaded state
    saved = mg.load(tmp_path / "checkpoint.npz")
    again_opt, _ = optimizers(kind, lrs=(1.0, 1.0))
    again = make(again_opt)
    if name == "LambdaLR":
        again.lr_lambdas[0].steps = 1
    again_opt.load_state_dict(saved["optimizer"])
    again.load_state_dict(saved["schedule"])
    assert again.last_epoch == 25
    if name == "LambdaLR":
        assert again.lr_lambdas[0].steps == 9
    got += history(again_opt, again, 35, None if metrics is None else metrics[25:])
    assert got == expected


def test_lambda_lr_state_dict_holds_no_function():
    opt, _ = optimizers("sgd")
    schedule = lr_scheduler.LambdaLR(opt, [Warmup(4), lambda k: 1.0])
    state = schedule.state_dict()
    assert state["lr_lambdas"] == [{"steps": 4}, None]
    assert "optimizer" not in state


def test_load_state_dict_refuses_another_schedules_state():
    opt, _ = optimizers("sgd")
    step = lr_scheduler.StepLR(opt, 3)
    cosine = lr_scheduler.CosineAnnealingLR(opt, 10)
    with pytest.raises(ValueError, match=r"StepLR.load_state_dict: missing keys "
                                         r"\['gamma', 'step_size'\]"):
        step.load_state_dict(cosine.state_dict())
    with pytest.raises(TypeError, match="expected a dict"):
        step.load_state_dict([1, 2])


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("make, error, message", [
    (lambda opt: lr_scheduler.StepLR("sgd", 3), TypeError, "StepLR: str is not an Optimizer"),
    (lambda opt: lr_scheduler.StepLR(opt, 0), ValueError,
     "StepLR: step_size must be an integer > 0, got 0"),
    (lambda opt: lr_scheduler.CosineAnnealingLR(opt, 0), ValueError,
     "CosineAnnealingLR: T_max must be a number > 0"),
    (lambda opt: lr_scheduler.LambdaLR(opt, [lambda k: 1.0]), ValueError,
     r"LambdaLR: expected 2 lr_lambdas"),
    (lambda opt: lr_scheduler.LambdaLR(opt, 0.5), TypeError, "not a function of the step"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, 0.1), ValueError,
     "give total_steps, or epochs and steps_per_epoch"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, 0.1, total_steps=10, pct_start=1.5),
     ValueError, r"pct_start must be a number >= 0.0 and <= 1.0"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, 0.1, total_steps=10, anneal_strategy="x"),
     ValueError, "anneal_strategy must be 'cos' or 'linear'"),
    (lambda opt: lr_scheduler.OneCycleLR(opt, [0.1], total_steps=10), ValueError,
     r"expected 2 values of max_lr"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, factor=1.0), ValueError,
     "factor must be < 1"),
    (lambda opt: lr_scheduler.ReduceLROnPlateau(opt, mode="lowest"), ValueError,
     "mode must be 'min' or 'max'"),
])
def test_bad_arguments_raise_clear_errors(make, error, message):
    opt, _ = optimizers("sgd")
    with pytest.raises(error, match=message):
        make(opt)
