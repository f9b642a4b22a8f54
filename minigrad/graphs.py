"""A whole training step captured as a CUDA graph and replayed, where its shapes repeat.

Experimental, and not measured on a GPU yet (docs/gpu.md). Even with one generated kernel
per elementwise run, a training step on the GPU is a few hundred launches, each some
microseconds of Python and driver. A CUDA graph records them once and replays them in
one launch::

    def train_step(x, target):
        optimizer.zero_grad()
        loss = mg.nn.functional.mse_loss(model(x)[0], target)
        loss.backward()
        optimizer.step()
        return loss

    step = minigrad.graphs.capture(train_step)
    for x, target in batches:
        loss = step(x, target)          # a tensor whose values the next call overwrites

How it decides, per input signature (backend, each input's shape and dtype):

- on a backend without graphs (NumPy, the tests' stand-in) every call runs the step;
- the first ``warmup`` calls run it (fused programs and generated kernels compile, the
  optimizer makes its state); the last of them allocates from the signature's own
  memory pool, which then holds one step's arrays for as long as the graph lives;
- the next call captures the step into a graph (nothing runs while it is captured) on
  copies of its inputs, launches the graph, and returns its outputs;
- later calls copy their inputs into those copies and launch the graph again;
- a change to an optimizer's hyperparameters (a learning-rate schedule) makes a new
  capture; more than ``limit`` signatures run their further ones uncaptured.

What must hold, or the step is refused (one warning, then it runs uncaptured for that
signature): its optimizers update in place from device values only (SGD; Adam, AdamW
and RMSprop keep a Python step count and Adam's bias corrections are Python numbers,
which a replay would freeze); the gradients are cleared inside the step, before the
backward (``optimizer.zero_grad()``), so that no gradient from before the capture is
read; nothing in it reads values to the host (``.item()``, a packed sequence's mask),
which the device refuses during a capture. What the step reads must stay where it is:
after ``load_state_dict`` or any new parameter array, call :meth:`CapturedStep.reset`.
Whether gradients are cleared is seen through ``zero_grad`` (an optimizer's or a
module's) between one optimizer step and the next; a step that clears them another way
is refused, to be safe.
"""
from __future__ import annotations

import threading
import warnings

from . import backend as _backend
from .fusion import signature
from .tensor import Tensor

__all__ = ["capture", "CapturedStep", "Uncapturable", "note_optimizer", "note_cleared"]


class Uncapturable(Exception):
    """Why a step cannot be captured as a graph (the message says what to change)."""


_watching = threading.local()       # .plan: the plan whose step runs on this thread


def note_optimizer(optimizer):
    """Called by every optimizer's ``step()``: tells a step being warmed up or captured
    which optimizers it runs, and refuses, while it is captured, one whose update a
    replay would get wrong (``optimizer.capturable`` false).

    Parameters
    ----------
    optimizer : minigrad.optim.Optimizer

    Raises
    ------
    Uncapturable
        Inside a capture, for an optimizer that cannot be replayed.
    """
    plan = getattr(_watching, "plan", None)
    if plan is None:
        return
    key = id(optimizer)
    plan.optimizers.setdefault(key, optimizer)
    if plan.capturing and not getattr(optimizer, "capturable", False):
        raise Uncapturable(f"{type(optimizer).__name__} cannot be replayed: "
                           f"{getattr(optimizer, 'uncapturable', 'its update is not in place')}")
    if key in plan.stepped and key not in plan.cleared:
        # the backward added to the last step's gradients: a graph would read arrays
        # from before its capture
        plan.accumulates = True
        if plan.capturing:
            raise Uncapturable(_NOT_CLEARED)
    plan.stepped.add(key)
    plan.cleared.discard(key)


_NOT_CLEARED = ("its gradients are not cleared between steps: call optimizer.zero_grad() "
                "(or model.zero_grad()) in the step")


def note_cleared(optimizer=None):
    """Called by ``zero_grad``: the gradients of ``optimizer``'s parameters (of every
    optimizer the step runs, for a module's ``zero_grad``) are cleared.

    Parameters
    ----------
    optimizer : minigrad.optim.Optimizer, optional
    """
    plan = getattr(_watching, "plan", None)
    if plan is not None:
        plan.cleared.update(plan.optimizers if optimizer is None else [id(optimizer)])


def _hyperparameters(optimizer):
    """What of an optimizer a captured step has frozen: its groups' hyperparameters
    and parameters."""
    return tuple((tuple(sorted((k, v) for k, v in group.items() if k != "params")),
                  tuple(map(id, group["params"]))) for group in optimizer.param_groups)


class _Plan:
    """What one input signature of a captured step is at: warming up, captured, or
    refused (with why)."""

    def __init__(self):
        self.calls = 0              # calls run uncaptured so far
        self.optimizers = {}        # id -> optimizer, seen in the step
        self.stepped = set()        # optimizers that have made a step
        self.cleared = set()        # ... and have cleared their gradients since
        self.accumulates = False    # a step added to the last one's gradients
        self.capturing = False
        self.pool = None            # the signature's own memory pool (backend's)
        self.graph = None
        self.inputs = None          # the graph's copies of the inputs (Tensors)
        self.outputs = None         # the graph's outputs (Tensors), or None
        self.frozen = None          # the optimizers' hyperparameters at capture
        self.refused = None         # why it runs uncaptured


def capture(step, warmup=2, limit=4):
    """``step`` captured as a CUDA graph per input signature once that signature repeats.

    Parameters
    ----------
    step : callable
        ``step(*tensors)``: one whole training step (forward, backward, optimizer
        update), returning a tensor, a tuple of tensors, or None.
    warmup : int
        Calls per signature that run uncaptured before the capture (at least 1).
    limit : int
        Signatures captured at most; further ones run uncaptured.

    Returns
    -------
    CapturedStep
    """
    return CapturedStep(step, warmup, limit)


class CapturedStep:
    """A training step replayed as a CUDA graph where its input shapes repeat (see the
    module's docstring); called as the step is.

    Attributes
    ----------
    plans : dict
        Input signature -> its plan (``.graph``, ``.refused``, ``.calls``).
    """

    def __init__(self, step, warmup=2, limit=4):
        if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 1:
            raise ValueError(f"capture: warmup must be an int >= 1, got {warmup!r}")
        self.step = step
        self.warmup = warmup
        self.limit = limit
        self.plans = {}

    def reset(self):
        """Drop every graph (after the model's arrays changed: ``load_state_dict``)."""
        self.plans.clear()

    def __call__(self, *inputs):
        key = tuple(signature(inputs, getattr(self.step, "__name__", "step")))
        graphs = _backend.of(inputs[0].data).graphs
        plan = self.plans.get(key)
        if plan is None:
            plan = self.plans[key] = _Plan()
            if graphs is None:
                plan.refused = "the backend has no graphs"
            elif sum(p.graph is not None or p.refused is None for p in self.plans.values()) \
                    > self.limit:
                plan.refused = f"more than {self.limit} input signatures"
        if plan.refused is not None:
            return self.step(*inputs)
        if plan.graph is not None:
            if all(_hyperparameters(o) == f for o, f in plan.frozen):
                return self._replay(plan, graphs, inputs)
            plan.graph = None               # a schedule changed them: capture again
        if plan.graph is None and plan.calls < self.warmup:
            return self._run_watched(plan, graphs, inputs)
        return self._capture(plan, graphs, inputs)

    def _run_watched(self, plan, graphs, inputs):
        """An uncaptured call that notes the optimizers; the last of the warm-up
        allocates from the signature's pool, so the capture finds its memory there."""
        plan.calls += 1
        _watching.plan = plan
        try:
            if plan.calls < self.warmup:
                return self.step(*inputs)
            plan.pool = plan.pool or graphs.pool()
            with graphs.allocating_from(plan.pool):
                return self.step(*inputs)
        finally:
            _watching.plan = None

    def _capture(self, plan, graphs, inputs):
        if plan.accumulates:
            return self._refuse(plan, inputs, _NOT_CLEARED)
        params = [p for o in plan.optimizers.values() for g in o.param_groups
                  for p in g["params"]]
        grads = [p.grad for p in params]
        copies = [Tensor(x.data.copy(), requires_grad=x.requires_grad) for x in inputs]
        plan.capturing = True
        _watching.plan = plan
        try:
            graph, result = graphs.capture(lambda: self.step(*copies), plan.pool)
        except Exception as error:  # Uncapturable, or the device's refusal
            why = str(error).splitlines()[0] if str(error) else type(error).__name__
        else:
            why = None
        finally:
            plan.capturing = False
            _watching.plan = None
        if why is not None:
            for p, grad in zip(params, grads):      # the captured backward ran nothing
                p.grad = grad
            return self._refuse(plan, inputs, why)
        outputs = result if isinstance(result, (tuple, list)) else \
            None if result is None else (result,)
        if outputs is not None and not all(isinstance(t, Tensor) for t in outputs):
            return self._refuse(plan, inputs, "the step returns something other than "
                                "tensors")
        plan.graph, plan.inputs, plan.outputs = graph, copies, outputs
        plan.frozen = [(o, _hyperparameters(o)) for o in plan.optimizers.values()]
        plan.as_tuple = isinstance(result, (tuple, list))
        return self._replay(plan, graphs, inputs)

    def _replay(self, plan, graphs, inputs):
        for copy, x in zip(plan.inputs, inputs):
            if copy.data is not x.data:
                copy.data[...] = x.data
        graphs.launch(plan.graph)
        if plan.outputs is None:
            return None
        outputs = tuple(Tensor(t.data) for t in plan.outputs)
        return outputs if plan.as_tuple else outputs[0]

    def _refuse(self, plan, inputs, why):
        plan.refused = why
        plan.graph = plan.pool = None
        warnings.warn(f"capture: {getattr(self.step, '__name__', 'the step')} runs "
                      f"uncaptured: {why}", RuntimeWarning, stacklevel=3)
        return self.step(*inputs)
