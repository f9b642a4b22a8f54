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

from . import backend as _backend
from .tensor import Tensor


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
        """Add ``{"params": [...], **hyperparameters}``; missing ones take the defaults."""
        group = dict(group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        for param in group["params"]:
            if not isinstance(param, Tensor) or not param.requires_grad:
                raise TypeError(f"{type(self).__name__}: every parameter must be a tensor "
                                f"that requires grad")
            if id(param) in seen:
                raise ValueError(f"{type(self).__name__}: a parameter appears in two groups")
            seen.add(id(param))
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
        for param in self._params():
            param.grad = None

    def step(self):
        """Update every parameter that has a gradient, in place."""
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

        Arrays are copied onto each parameter's backend and dtype. Raises ``ValueError``
        when the groups or parameters do not match this optimizer's.
        """
        name = type(self).__name__
        states = list(state_dict["state"])
        groups = list(state_dict["param_groups"])
        params = self._params()
        sizes = [len(g["params"]) for g in self.param_groups]
        saved_sizes = [len(g["params"]) for g in groups]
        if sizes != saved_sizes or len(states) != len(params):
            raise ValueError(f"{name}.load_state_dict: the state holds groups of "
                             f"{saved_sizes} parameters ({len(states)} states), this "
                             f"optimizer groups of {sizes}")
        restored = {}
        for position, (param, entry) in enumerate(zip(params, states)):
            target = _backend.of(param.data)
            values = {}
            for key, value in dict(entry).items():
                if isinstance(value, Tensor):
                    value = value.data
                if isinstance(value, (bool, int, float)) or value is None:
                    values[key] = value
                    continue
                host = _backend.to_numpy(value)
                if tuple(host.shape) != param.shape:
                    raise ValueError(f"{name}.load_state_dict: state {key!r} of parameter "
                                     f"{position} has shape {tuple(host.shape)}, the "
                                     f"parameter {param.shape}")
                array = _backend.convert(host, target, param.dtype)
                values[key] = array.copy() if array is host or array is value else array
            if values:
                restored[id(param)] = values
        for group, saved in zip(self.param_groups, groups):
            for key, value in saved.items():
                if key != "params":
                    group[key] = tuple(value) if isinstance(value, list) else value
        self.state = restored

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"  group {i}: " + ", ".join(
                f"{k}={v}" for k, v in group.items() if k != "params"))
        return "\n".join(lines) + "\n)"


def _check(name, value, low=0.0):
    if not value >= low:
        raise ValueError(f"invalid {name}: {value}")


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

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        _check("lr", lr)
        _check("momentum", momentum)
        _check("weight_decay", weight_decay)
        if nesterov and momentum <= 0:
            raise ValueError("SGD: nesterov needs momentum > 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay,
                                      nesterov=nesterov))

    def _update(self, param, grad, state, group):
        p = param.data
        momentum = group["momentum"]
        if group["weight_decay"]:
            grad = grad + group["weight_decay"] * p
        if momentum:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = grad.copy()
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

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        _check("lr", lr)
        _check("eps", eps)
        _check("weight_decay", weight_decay)
        if not (0.0 <= betas[0] < 1.0 and 0.0 <= betas[1] < 1.0):
            raise ValueError(f"invalid betas: {betas}")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps,
                                      weight_decay=weight_decay))

    _decoupled = False

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
        for name, value in (("lr", lr), ("alpha", alpha), ("eps", eps),
                            ("weight_decay", weight_decay), ("momentum", momentum)):
            _check(name, value)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

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
