"""Learning-rate schedules with PyTorch's semantics: StepLR, ExponentialLR,
CosineAnnealingLR, LambdaLR, OneCycleLR and ReduceLROnPlateau.

Used as in PyTorch::

    opt = mg.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    schedule = mg.optim.lr_scheduler.StepLR(opt, step_size=30, gamma=0.1)
    for epoch in range(100):
        train_one_epoch(model, opt)         # opt.step() inside
        schedule.step()

How it works. Making a schedule records each param group's ``initial_lr`` (its ``lr``
then; a resumed schedule, ``last_epoch >= 0``, finds it there instead) and takes the
first step, to ``last_epoch = 0``. Each ``step()`` adds one to ``last_epoch``, writes the
new rates into ``group["lr"]`` of every group, and keeps them for ``get_last_lr()``.
The rates are computed as PyTorch computes them, most of them from the group's current
rate (StepLR multiplies it by ``gamma`` every ``step_size`` steps, CosineAnnealingLR
takes the ratio of two cosines), so the sequence is PyTorch's to the last bit, and a
rate changed by hand or by another schedule is followed from there.

State. ``state_dict()`` is every attribute but the optimizer (as PyTorch): numbers,
strings and lists, which :func:`minigrad.save` writes without pickling. ``LambdaLR``
saves no function, only the attributes (``__dict__``) of callable objects, as PyTorch.
To resume, make the optimizer and the schedule, then load the optimizer's state (which
holds each group's ``lr`` and ``initial_lr``) and the schedule's.
"""
from __future__ import annotations

import copy
import math
import numbers
import types
from collections.abc import Mapping

from .optimizers import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR",
           "OneCycleLR", "ReduceLROnPlateau"]


def _check_optimizer(optimizer, name):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{name}: {type(optimizer).__name__} is not an Optimizer")


def _check_number(name, argument, value, low=None, high=None, low_open=False,
                  integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or (
            low is not None and not (value > low if low_open else value >= low)) or (
            high is not None and not value <= high):
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {low}")
        if high is not None:
            bounds.append(f"<= {high}")
        raise ValueError(f"{name}: {argument} must be {'an integer' if integer else 'a number'}"
                         f"{' ' + ' and '.join(bounds) if bounds else ''}, got {value!r}")


def _per_group(name, argument, optimizer, value):
    """``value`` for each param group: a list or tuple of one per group, or one for all."""
    groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != groups:
            raise ValueError(f"{name}: expected {groups} values of {argument} (one per "
                             f"param group), got {len(value)}")
        return list(value)
    return [value] * groups


class LRScheduler:
    """Base class: ``initial_lr``, ``last_epoch``, ``step()``, ``get_last_lr()`` and the
    state dict. Subclasses define ``get_lr()``, the rates of the step being taken (one
    per param group), read after ``last_epoch`` has moved on.

    Parameters
    ----------
    optimizer : Optimizer
    last_epoch : int
        The index of the last step taken: -1 for a new schedule; a resumed one finds
        ``initial_lr`` in the param groups.
    """

    def __init__(self, optimizer, last_epoch=-1):
        name = type(self).__name__
        _check_optimizer(optimizer, name)
        _check_number(name, "last_epoch", last_epoch, -1, integer=True)
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for index, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"{name}: param_groups[{index}] has no 'initial_lr', "
                                   f"which resuming at last_epoch={last_epoch} needs (load "
                                   f"the optimizer's state dict first)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._step_count = 0
        self._is_initial = True     # the step taken here keeps the current rates
        self.step()
        self._is_initial = False

    def get_lr(self):
        """The learning rates of the step being taken.

        Returns
        -------
        list of float
            One per param group.
        """
        raise NotImplementedError

    def _current_lrs(self):
        return [group["lr"] for group in self.optimizer.param_groups]

    def step(self):
        """Move to the next step: ``last_epoch + 1``, its rates written into the
        optimizer's param groups. Call it after ``optimizer.step()``.

        Returns
        -------
        None
        """
        self._step_count += 1
        self.last_epoch += 1
        rates = self.get_lr()
        groups = self.optimizer.param_groups
        if len(rates) != len(groups):
            raise ValueError(f"{type(self).__name__}: the optimizer has {len(groups)} param "
                             f"groups, the schedule was made for {len(rates)}")
        for group, lr in zip(groups, rates):
            group["lr"] = lr
        self._last_lr = self._current_lrs()

    def get_last_lr(self):
        """The learning rates the last step set.

        Returns
        -------
        list of float
            One per param group (a copy).
        """
        return list(self._last_lr)

    def state_dict(self):
        """Every attribute but the optimizer, as a dict of numbers, strings and lists
        (what :func:`minigrad.save` writes).

        Returns
        -------
        dict
        """
        return copy.deepcopy({key: value for key, value in vars(self).items()
                              if key != "optimizer"})

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` gave (possibly through save and load).

        Parameters
        ----------
        state_dict : dict

        Raises
        ------
        TypeError
            When ``state_dict`` is not a dict.
        ValueError
            When its keys are not this schedule's (a state of another kind), naming the
            missing and unexpected ones; nothing changes then.
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{name}.load_state_dict: expected a dict (what state_dict() "
                            f"returns), got {type(state_dict).__name__}")
        expected, given = set(self.state_dict()), set(state_dict)
        if expected != given:
            raise ValueError(f"{name}.load_state_dict: missing keys "
                             f"{sorted(expected - given)}, unexpected keys "
                             f"{sorted(given - expected)} (a state of another schedule?)")
        self._restore(copy.deepcopy(dict(state_dict)))

    def _restore(self, state):
        # JSON (mg.save) keeps lists as lists; the attributes are lists too
        self.__dict__.update(state)

    def __repr__(self):
        return f"{type(self).__name__}(last_epoch={self.last_epoch}, " \
               f"last_lr={self._last_lr})"


class StepLR(LRScheduler):
    """Multiply each group's learning rate by ``gamma`` every ``step_size`` steps:
    ``lr = initial_lr * gamma ** (last_epoch // step_size)``.

    Parameters
    ----------
    optimizer : Optimizer
    step_size : int > 0
    gamma : float
    last_epoch : int
    """

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        _check_number("StepLR", "step_size", step_size, 0, low_open=True, integer=True)
        _check_number("StepLR", "gamma", gamma)
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """The rates of this step: the current ones times ``gamma`` at a multiple of
        ``step_size``, else unchanged.

        Returns
        -------
        list of float
            One per param group.
        """
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class ExponentialLR(LRScheduler):
    """Multiply each group's learning rate by ``gamma`` every step:
    ``lr = initial_lr * gamma ** last_epoch``.

    Parameters
    ----------
    optimizer : Optimizer
    gamma : float
    last_epoch : int
    """

    def __init__(self, optimizer, gamma, last_epoch=-1):
        _check_number("ExponentialLR", "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """The rates of this step: the current ones times ``gamma``.

        Returns
        -------
        list of float
            One per param group.
        """
        if self._is_initial:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


class CosineAnnealingLR(LRScheduler):
    """Loshchilov & Hutter 2017 (SGDR) without restarts:
    ``lr = eta_min + (initial_lr - eta_min) * (1 + cos(pi * last_epoch / T_max)) / 2``,
    computed as PyTorch does, from the current rate (so past ``T_max`` it climbs back,
    a cosine of period ``2 T_max``).

    Parameters
    ----------
    optimizer : Optimizer
    T_max : int > 0
        Steps from the initial rate down to ``eta_min``.
    eta_min : float
    last_epoch : int
    """

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        _check_number("CosineAnnealingLR", "T_max", T_max, 0, low_open=True)
        _check_number("CosineAnnealingLR", "eta_min", eta_min)
        self.T_max = T_max
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """The rates of this step, from the current ones (PyTorch's recursive form).

        Returns
        -------
        list of float
            One per param group.
        """
        t, period, low = self.last_epoch, self.T_max, self.eta_min
        if self._is_initial:
            return self._current_lrs()
        if self._step_count == 1 and t > 0:     # a resumed schedule: the closed form
            return [low + (base - low) * (1 + math.cos(t * math.pi / period)) / 2
                    for base in self.base_lrs]
        if (t - 1 - period) % (2 * period) == 0:     # at the bottom: the step back up
            return [lr + (base - low) * (1 - math.cos(math.pi / period)) / 2
                    for base, lr in zip(self.base_lrs, self._current_lrs())]
        return [(1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
                * (lr - low) + low for lr in self._current_lrs()]


class LambdaLR(LRScheduler):
    """``lr = initial_lr * lr_lambda(last_epoch)`` for each group.

    Parameters
    ----------
    optimizer : Optimizer
    lr_lambda : callable or list of callable
        One function of the step for all groups, or one per group.
    last_epoch : int

    Notes
    -----
    ``state_dict()`` holds no function (as PyTorch): plain functions and lambdas are
    saved as None, a callable object as its attributes (``__dict__``), which
    ``load_state_dict`` sets again on the object this schedule holds.
    """

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        _check_optimizer(optimizer, "LambdaLR")
        groups = len(optimizer.param_groups)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != groups:
                raise ValueError(f"LambdaLR: expected {groups} lr_lambdas (one per param "
                                 f"group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * groups
        for index, function in enumerate(self.lr_lambdas):
            if not callable(function):
                raise TypeError(f"LambdaLR: lr_lambda {index} is a "
                                f"{type(function).__name__}, not a function of the step")
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        """The rates of this step: ``initial_lr * lr_lambda(last_epoch)``.

        Returns
        -------
        list of float
            One per param group.
        """
        return [base * function(self.last_epoch)
                for function, base in zip(self.lr_lambdas, self.base_lrs)]

    def state_dict(self):
        """As :meth:`LRScheduler.state_dict`, with ``lr_lambdas`` as None per plain
        function and the attributes of each callable object.

        Returns
        -------
        dict
        """
        state = copy.deepcopy({key: value for key, value in vars(self).items()
                               if key not in ("optimizer", "lr_lambdas")})
        state["lr_lambdas"] = [None if isinstance(function, types.FunctionType)
                               else copy.deepcopy(function.__dict__)
                               for function in self.lr_lambdas]
        return state

    def _restore(self, state):
        saved = state.pop("lr_lambdas")
        if not isinstance(saved, (list, tuple)) or len(saved) != len(self.lr_lambdas):
            raise ValueError(f"LambdaLR.load_state_dict: lr_lambdas must list one entry "
                             f"per function ({len(self.lr_lambdas)}), got {saved!r}")
        self.__dict__.update(state)
        for function, attributes in zip(self.lr_lambdas, saved):
            if attributes is not None:
                function.__dict__.update(attributes)


class OneCycleLR(LRScheduler):
    """Smith & Topin 2019, 1cycle: the rate rises from ``max_lr / div_factor`` to
    ``max_lr`` over the first ``pct_start`` of ``total_steps``, then falls to
    ``initial_lr / final_div_factor``; momentum (SGD's ``momentum``, Adam's ``beta1``)
    moves the other way, between ``max_momentum`` and ``base_momentum``.

    ``three_phase=True`` adds PyTorch's third phase (up, back down to the initial rate
    over as many steps, then the annihilation). The schedule sets ``initial_lr``,
    ``max_lr``, ``min_lr`` (and ``max_momentum``, ``base_momentum``) in every param
    group, as PyTorch; stepping past ``total_steps`` is a ``ValueError``.

    Parameters
    ----------
    optimizer : Optimizer
    max_lr : float or list of float (one per group)
    total_steps : int, optional
        Or ``epochs * steps_per_epoch``.
    epochs, steps_per_epoch : int, optional
    pct_start : float in [0, 1]
    anneal_strategy : {'cos', 'linear'}
    cycle_momentum : bool
        Needs an optimizer with ``momentum`` or ``betas``.
    base_momentum, max_momentum : float or list of float
    div_factor, final_div_factor : float
    three_phase : bool
    last_epoch : int
    """

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None,
                 steps_per_epoch=None, pct_start=0.3, anneal_strategy="cos",
                 cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        name = "OneCycleLR"
        _check_optimizer(optimizer, name)
        if total_steps is not None:
            _check_number(name, "total_steps", total_steps, 0, low_open=True, integer=True)
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            _check_number(name, "epochs", epochs, 0, low_open=True, integer=True)
            _check_number(name, "steps_per_epoch", steps_per_epoch, 0, low_open=True,
                          integer=True)
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{name}: give total_steps, or epochs and steps_per_epoch")
        _check_number(name, "pct_start", pct_start, 0.0, 1.0)
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{name}: anneal_strategy must be 'cos' or 'linear', got "
                             f"{anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy
        up = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                _phase(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr",
                       "base_momentum", "max_momentum"),
                _phase(self.total_steps - 1, "initial_lr", "min_lr", "max_momentum",
                       "max_momentum"),
            ]
        else:
            self._schedule_phases = [
                _phase(up, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(self.total_steps - 1, "max_lr", "min_lr", "base_momentum",
                       "max_momentum"),
            ]
        max_lrs = _per_group(name, "max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, top in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = top / div_factor
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / final_div_factor
        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
                raise ValueError(f"{name}: cycle_momentum needs an optimizer with momentum "
                                 f"or betas; {type(optimizer).__name__} has neither (pass "
                                 f"cycle_momentum=False)")
            self.use_beta1 = "betas" in optimizer.defaults
            tops = _per_group(name, "max_momentum", optimizer, max_momentum)
            bases = _per_group(name, "base_momentum", optimizer, base_momentum)
            if last_epoch == -1:
                for top, base, group in zip(tops, bases, optimizer.param_groups):
                    self._set_momentum(group, top)
                    group["max_momentum"] = top
                    group["base_momentum"] = base
        super().__init__(optimizer, last_epoch)

    def _set_momentum(self, group, value):
        if self.use_beta1:
            group["betas"] = (value, *group["betas"][1:])
        else:
            group["momentum"] = value

    def _anneal(self, start, end, fraction):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return (end - start) * fraction + start

    def get_lr(self):
        """The rates of this step (and, with ``cycle_momentum``, the momentum it sets).

        Returns
        -------
        list of float
            One per param group.
        """
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: stepped {step} times, past total_steps "
                             f"({self.total_steps})")
        rates = []
        for group in self.optimizer.param_groups:
            start = 0.0
            for index, phase in enumerate(self._schedule_phases):
                end = phase["end_step"]
                if step <= end or index == len(self._schedule_phases) - 1:
                    fraction = (step - start) / (end - start)
                    rates.append(self._anneal(group[phase["start_lr"]],
                                              group[phase["end_lr"]], fraction))
                    if self.cycle_momentum:
                        self._set_momentum(group, self._anneal(
                            group[phase["start_momentum"]], group[phase["end_momentum"]],
                            fraction))
                    break
                start = end
        return rates


def _phase(end_step, start_lr, end_lr, start_momentum, end_momentum):
    """One phase of :class:`OneCycleLR`: its last step, and the group keys it moves
    between (PyTorch's layout, so the state dicts match)."""
    return {"end_step": end_step, "start_lr": start_lr, "end_lr": end_lr,
            "start_momentum": start_momentum, "end_momentum": end_momentum}


class ReduceLROnPlateau(LRScheduler):
    """Multiply the rates by ``factor`` when a metric has stopped improving for more
    than ``patience`` steps, then wait ``cooldown`` steps before counting again.

    ``step(metric)`` takes the value (a number or a one-element tensor). Better means
    below ``best * (1 - threshold)`` (``mode='min'``, ``threshold_mode='rel'``), below
    ``best - threshold`` (``'abs'``), or above ``best * (1 + threshold)`` /
    ``best + threshold`` for ``mode='max'``. A rate never goes below ``min_lr``, and
    changes smaller than ``eps`` are skipped.

    Parameters
    ----------
    optimizer : Optimizer
    mode : {'min', 'max'}
    factor : float < 1
    patience : int >= 0
    threshold : float
    threshold_mode : {'rel', 'abs'}
    cooldown : int >= 0
    min_lr : float or list of float (one per group)
    eps : float
    """

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4,
                 threshold_mode="rel", cooldown=0, min_lr=0, eps=1e-8):
        name = "ReduceLROnPlateau"
        _check_optimizer(optimizer, name)
        if not isinstance(factor, numbers.Real) or not factor < 1.0:
            raise ValueError(f"{name}: factor must be < 1, got {factor!r}")
        _check_number(name, "patience", patience, 0, integer=True)
        _check_number(name, "cooldown", cooldown, 0, integer=True)
        if mode not in ("min", "max"):
            raise ValueError(f"{name}: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{name}: threshold_mode must be 'rel' or 'abs', got "
                             f"{threshold_mode!r}")
        self.factor = factor
        self.optimizer = optimizer
        if isinstance(min_lr, (list, tuple)):
            self.default_min_lr = None
            self.min_lrs = _per_group(name, "min_lr", optimizer, min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience = patience
        self.cooldown = cooldown
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self.mode = mode
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def step(self, metrics):
        """Count one step with the metric, reducing the rates when it has not improved
        for more than ``patience`` steps.

        Parameters
        ----------
        metrics : float, or a one-element Tensor
            The value watched (a validation loss, say).

        Returns
        -------
        None
        """
        current = float(metrics)
        self.last_epoch += 1
        if self._is_better(current):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0             # bad steps in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise ValueError(f"ReduceLROnPlateau: the optimizer has {len(groups)} "
                                 f"param groups, min_lr lists {len(self.min_lrs)}")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, low in zip(groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, low)
            if old - new > self.eps:
                group["lr"] = new

    def _is_better(self, value):
        if self.mode == "min":
            return value < (self.best * (1.0 - self.threshold) if self.threshold_mode == "rel"
                            else self.best - self.threshold)
        return value > (self.best * (self.threshold + 1.0) if self.threshold_mode == "rel"
                        else self.best + self.threshold)
