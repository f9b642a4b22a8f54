"""Optimizers with PyTorch's update rules: SGD, Adam, AdamW, RMSprop.

An optimizer updates its parameters' backend arrays (``p.data``) in place, using the
array module of each parameter's own backend, and records nothing on the tape.
Parameters whose ``.grad`` is ``None`` are skipped.

Hyperparameters live in ``param_groups`` (a list of dicts, as PyTorch), so a schedule can
change them between steps; ``optimizer.lr = 0.01`` sets the learning rate of every group.

``state_dict()`` gives plain dicts and lists of NumPy arrays and numbers, which
:func:`minigrad.save` can write; ``load_state_dict`` moves the arrays to the
parameters' backends.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Mapping

from .. import backend as _backend
from .. import graphs as _graphs
from ..tensor import Tensor


class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad`` and state dicts.

    Subclasses define ``_update(param, grad, state, group)``, which changes
    ``param.data`` in place given the gradient array ``grad`` and the parameter's own
    ``state`` dict (empty before the first step).

    Parameters
    ----------
    params : iterable of Tensor, or iterable of dict
        The parameters, or groups ``{"params": [...], "lr": ..., ...}`` whose missing
        hyperparameters come from ``defaults``.
    defaults : dict
        The hyperparameters of this optimizer.
    """
    # whether a CUDA graph's replay of a step does what the step did (minigrad.graphs)
    capturable = False
    uncapturable = "it counts its steps in Python, which a replay would not advance"

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of tensors "
                            f"(e.g. model.parameters()), not a single tensor")
        params = list(params)
        if not params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = params if isinstance(params[0], dict) else [{"params": params}]
        self.defaults = dict(defaults)
        self.param_groups = []
        self.state = {}               # id(param) -> dict of arrays and numbers
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group):
        """Add ``{"params": [...], **hyperparameters}``; missing ones take the defaults.

        Parameters
        ----------
        group : dict
            ``"params"``: a tensor or an iterable of tensors that require grad, none of
            them already in a group; any other key sets that hyperparameter for the group.

        Raises
        ------
        TypeError
            When a parameter is not a tensor that requires grad.
        ValueError
            When a parameter appears twice.
        """
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        name = type(self).__name__
        index = len(self.param_groups)
        seen = {id(p): (g_index, p_index) for g_index, g in enumerate(self.param_groups)
                for p_index, p in enumerate(g["params"])}
        for position, param in enumerate(group["params"]):
            if not isinstance(param, Tensor) or not param.requires_grad:
                raise TypeError(f"{name}: every parameter must be a tensor that requires "
                                f"grad; parameter {position} of group {index} is "
                                f"{type(param).__name__}"
                                + ("" if not isinstance(param, Tensor) else
                                   " that does not require grad"))
            if id(param) in seen:
                where, first = seen[id(param)]
                place = f"in group {index}" if where == index else \
                    f"in groups {where} and {index}"
                raise ValueError(f"{name}: one parameter appears twice {place} (positions "
                                 f"{first} and {position}); list each parameter once")
            seen[id(param)] = (index, position)
        for key, value in self.defaults.items():
            group.setdefault(key, value)
        self.param_groups.append(group)

    @property
    def lr(self):
        """The learning rate (of the first group); setting it sets every group's."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        for group in self.param_groups:
            group["lr"] = value

    def _params(self):
        return [p for group in self.param_groups for p in group["params"]]

    def zero_grad(self):
        """Drop every parameter's gradient (``.grad = None``, PyTorch's default)."""
        _graphs.note_cleared(self)
        for param in self._params():
            param.grad = None

    def step(self):
        """Update every parameter that has a gradient, in place."""
        _graphs.note_optimizer(self)
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad.data
                if type(grad) is not type(param.data):
                    raise _backend.BackendError(
                        f"{type(self).__name__}: a parameter lives on {param.backend} but its "
                        f"gradient on {param.grad.backend}")
                state = self.state.setdefault(id(param), {})
                for key, value in state.items():
                    # the parameter moved (module.to) since the last step: follow it
                    if type(value) in _backend._BY_TYPE and type(value) is not type(grad):
                        state[key] = _backend.convert(value, _backend.of(grad))
                self._update(param, grad, state, group)

    def _update(self, param, grad, state, group):
        raise NotImplementedError

    # ---- state
    def state_dict(self):
        """``{"state": [one dict per parameter, in group order], "param_groups": [...]}``.

        Arrays are NumPy copies (off the GPU); groups list their parameters by position.

        Returns
        -------
        dict
            ``"state"``: a list of dicts, one per parameter; ``"param_groups"``: a list of
            dicts of each group's hyperparameters and its parameters' positions.
        """
        states = []
        for param in self._params():
            entry = {}
            for key, value in self.state.get(id(param), {}).items():
                entry[key] = _backend.to_numpy(value).copy() \
                    if type(value) in _backend._BY_TYPE else value
            states.append(entry)
        groups = []
        position = 0
        for group in self.param_groups:
            saved = {key: value for key, value in group.items() if key != "params"}
            saved["params"] = list(range(position, position + len(group["params"])))
            position += len(group["params"])
            groups.append(saved)
        return {"state": states, "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore what :meth:`state_dict` gave (possibly through save and load).

        Arrays are copied onto each parameter's backend and dtype. Everything is checked
        before anything changes: the groups and their sizes, that the hyperparameters and
        per-parameter state are this optimizer's kind (an SGD state does not load into
        Adam), and each array's shape and castability.

        Parameters
        ----------
        state_dict : dict
            What :meth:`state_dict` returned, for the same parameter groups.

        Raises
        ------
        TypeError
            When ``state_dict`` is not a dict with ``"state"`` and ``"param_groups"``
            lists.
        ValueError
            Naming the group, parameter and key of what does not match; the optimizer is
            unchanged then.
        """
        name = type(self).__name__
        if not isinstance(state_dict, Mapping) or not isinstance(
                state_dict.get("state"), (list, tuple)) or not isinstance(
                state_dict.get("param_groups"), (list, tuple)):
            raise TypeError(f"{name}.load_state_dict: expected a dict with 'state' and "
                            f"'param_groups' lists (what state_dict() returns), got "
                            f"{type(state_dict).__name__}")
        states = list(state_dict["state"])
        groups = list(state_dict["param_groups"])
        if not all(isinstance(g, Mapping) and isinstance(g.get("params"), (list, tuple))
                   for g in groups) or not all(isinstance(e, Mapping) for e in states):
            raise TypeError(f"{name}.load_state_dict: each group must be a dict with a "
                            f"'params' list, and each state a dict")
        params = self._params()
        sizes = [len(g["params"]) for g in self.param_groups]
        saved_sizes = [len(g["params"]) for g in groups]
        if sizes != saved_sizes or len(states) != len(params):
            raise ValueError(f"{name}.load_state_dict: the state holds groups of "
                             f"{saved_sizes} parameters ({len(states)} states), this "
                             f"optimizer groups of {sizes}")
        new_groups = []
        for index, saved in enumerate(groups):
            hyper = {key: tuple(value) if isinstance(value, list) else value
                     for key, value in saved.items() if key != "params"}
            if not set(self.defaults) <= set(hyper):
                raise ValueError(f"{name}.load_state_dict: group {index} has the "
                                 f"hyperparameters {sorted(hyper)}, a {name} "
                                 f"{sorted(self.defaults)} (a state of another optimizer?)")
            try:   # extra keys (a schedule's own, say) are kept, as PyTorch keeps them
                self._check_hyperparameters(**{key: hyper[key] for key in self.defaults})
            except (TypeError, ValueError) as error:
                raise ValueError(f"{name}.load_state_dict: group {index}: {error}") from None
            new_groups.append(hyper)
        group_of = [hyper for hyper, size in zip(new_groups, sizes) for _ in range(size)]
        restored = {}
        for position, (param, entry, hyper) in enumerate(zip(params, states, group_of)):
            where = f"{name}.load_state_dict: parameter {position}"
            entry = dict(entry)
            expected = self._state_keys(hyper)
            if entry and expected is not None and set(entry) != expected:
                raise ValueError(f"{where} has the state {sorted(entry)}, a {name} with "
                                 f"these hyperparameters keeps {sorted(expected)} (a state "
                                 f"of another optimizer?)")
            target = _backend.of(param.data)
            values = {}
            for key, value in entry.items():
                if isinstance(value, Tensor):
                    value = value.data
                if key == "step":
                    step = value.item() if hasattr(value, "item") else value
                    if isinstance(step, bool) or not isinstance(step, (int, float)) or \
                            step != int(step) or step < 0:
                        raise ValueError(f"{where}: state 'step' must be a count, got "
                                         f"{value!r}")
                    values[key] = int(step)
                    continue
                try:
                    host = _backend.to_numpy(value)
                except Exception:
                    raise ValueError(f"{where}: state {key!r} is a "
                                     f"{type(value).__name__}, not an array") from None
                if tuple(host.shape) != param.shape:
                    raise ValueError(f"{where}: state {key!r} has shape "
                                     f"{tuple(host.shape)}, the parameter {param.shape}")
                if host.dtype.kind not in "biuf":
                    raise ValueError(f"{where}: state {key!r} holds dtype {host.dtype}, "
                                     f"which cannot be cast to {param.dtype}")
                values[key] = host
            restored[id(param)] = (param, target, values)
        # everything checked: now change the optimizer
        self.state = {}
        for key, (param, target, values) in restored.items():
            state = {}
            for entry_key, value in values.items():
                if isinstance(value, int):
                    state[entry_key] = value
                    continue
                array = _backend.convert(value, target, param.dtype)
                state[entry_key] = array.copy() if array is value else array
            if state:
                self.state[key] = state
        for group, hyper in zip(self.param_groups, new_groups):
            group.update(hyper)

    @staticmethod
    def _check_hyperparameters(**hyper):
        """Raise ValueError (or TypeError) for values the constructor would refuse."""

    def _state_keys(self, group):
        """The keys of a parameter's state once it has one, given its group's settings
        (None: not checked, for subclasses that do not say)."""
        return None

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"  group {i}: " + ", ".join(
                f"{k}={v}" for k, v in group.items() if k != "params"))
        return "\n".join(lines) + "\n)"


def _check(name, value, low=0.0):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= low:
        raise ValueError(f"invalid {name}: {value!r} (expected a number >= {low})")


def _check_betas(betas):
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"invalid betas: {betas!r} (expected a pair (beta1, beta2), "
                         f"each in [0, 1))")
    for index, beta in enumerate(betas):
        if isinstance(beta, bool) or not isinstance(beta, numbers.Real) or \
                not 0.0 <= beta < 1.0:
            raise ValueError(f"invalid beta parameter at index {index}: {beta!r} "
                             f"(expected a number in [0, 1))")


class SGD(Optimizer):
    """Stochastic gradient descent, with optional momentum (no dampening) and Nesterov.

    As PyTorch::

        g = grad + weight_decay * p
        buf = g                    (first step)
        buf = momentum * buf + g   (later steps)
        g = g + momentum * buf     (nesterov)   or   g = buf
        p = p - lr * g

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
    momentum, weight_decay : float
    nesterov : bool
        Needs ``momentum > 0``.
    """
    capturable = True         # every update is device arithmetic on device arrays

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        self._check_hyperparameters(lr, momentum, weight_decay, nesterov)
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      nesterov=nesterov))

    @staticmethod
    def _check_hyperparameters(lr, momentum, weight_decay, nesterov):
        _check("lr", lr)
        _check("momentum", momentum)
        _check("weight_decay", weight_decay)
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov needs momentum > 0")

    def _state_keys(self, group):
        return {"momentum_buffer"} if group["momentum"] else set()

    def _update(self, param, grad, state, group):
        p = param.data
        momentum = group["momentum"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                # an array even for a 0-d parameter (NumPy's 0-d sums are scalars, which
                # the in-place updates below would replace rather than change)
                buf = state["momentum_buffer"] = _backend.of(p).xp.array(grad, copy=True)
            else:
                buf *= momentum
                buf += grad
            grad = grad + momentum * buf if group["nesterov"] else buf
        p -= group["lr"] * grad


class Adam(Optimizer):
    """Kingma & Ba 2015, with PyTorch's arrangement of the bias corrections::

        g = grad + weight_decay * p          (L2 penalty, coupled)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
    betas : (float, float)
    eps : float
    weight_decay : float
    """
    uncapturable = ("its bias corrections are Python numbers of the step count, "
                    "which a replay would freeze")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        self._check_hyperparameters(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    _decoupled = False

    @staticmethod
    def _check_hyperparameters(lr, betas, eps, weight_decay):
        _check("lr", lr)
        _check_betas(betas)
        _check("eps", eps)
        _check("weight_decay", weight_decay)

    def _state_keys(self, group):
        return {"step", "exp_avg", "exp_avg_sq"}

    def _update(self, param, grad, state, group):
        p = param.data
        xp = _backend.of(p).xp
        lr = group["lr"]
        beta1, beta2 = group["betas"]
        if not state:
            state["step"] = 0
            state["exp_avg"] = xp.zeros_like(p)
            state["exp_avg_sq"] = xp.zeros_like(p)
        state["step"] += 1
        step = state["step"]
        if group["weight_decay"]:
            if self._decoupled:
                # Loshchilov & Hutter 2019: decay the weights directly, not through g
                p *= 1.0 - lr * group["weight_decay"]
            else:
                grad = grad + group["weight_decay"] * p
        exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
        exp_avg *= beta1
        exp_avg += (1.0 - beta1) * grad
        exp_avg_sq *= beta2
        exp_avg_sq += (1.0 - beta2) * (grad * grad)
        step_size = lr / (1.0 - beta1 ** step)
        denom = xp.sqrt(exp_avg_sq)
        denom /= math.sqrt(1.0 - beta2 ** step)
        denom += group["eps"]
        p -= step_size * (exp_avg / denom)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter 2019), as PyTorch::

        p = p * (1 - lr * weight_decay)
        then Adam's update without the L2 term.

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr : float
    betas : (float, float)
    eps : float
    weight_decay : float
        Decoupled: ``1e-2`` by default, as PyTorch's.
    """

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


class RMSprop(Optimizer):
    """Hinton's RMSprop with PyTorch's options::

        g = grad + weight_decay * p
        s = alpha * s + (1 - alpha) * g^2
        a = alpha * a + (1 - alpha) * g          (centered)
        d = sqrt(s - a^2) + eps   (centered)   or   sqrt(s) + eps
        buf = momentum * buf + g / d; p = p - lr * buf     (momentum > 0)
        p = p - lr * g / d                                 (otherwise)

    Parameters
    ----------
    params : iterable of Tensor or of dict
    lr, alpha, eps, weight_decay, momentum : float
    centered : bool
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):
        self._check_hyperparameters(lr, alpha, eps, weight_decay, momentum, centered)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    @staticmethod
    def _check_hyperparameters(lr, alpha, eps, weight_decay, momentum, centered):
        for name, value in (("lr", lr), ("alpha", alpha), ("eps", eps),
                            ("weight_decay", weight_decay), ("momentum", momentum)):
            _check(name, value)

    def _state_keys(self, group):
        return {"step", "square_avg"} | ({"momentum_buffer"} if group["momentum"] > 0
                                         else set()) | (
            {"grad_avg"} if group["centered"] else set())

    def _update(self, param, grad, state, group):
        p = param.data
        xp = _backend.of(p).xp
        alpha = group["alpha"]
        momentum = group["momentum"]
        if not state:
            state["step"] = 0
            state["square_avg"] = xp.zeros_like(p)
            if momentum > 0:
                state["momentum_buffer"] = xp.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = xp.zeros_like(p)
        state["step"] += 1
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        square_avg = state["square_avg"]
        square_avg *= alpha
        square_avg += (1.0 - alpha) * (grad * grad)
        if group["centered"]:
            grad_avg = state["grad_avg"]
            grad_avg *= alpha
            grad_avg += (1.0 - alpha) * grad
            avg = xp.sqrt(square_avg - grad_avg * grad_avg)
        else:
            avg = xp.sqrt(square_avg)
        avg += group["eps"]
        if momentum > 0:
            buf = state["momentum_buffer"]
            buf *= momentum
            buf += grad / avg
            p -= group["lr"] * buf
        else:
            p -= group["lr"] * (grad / avg)
