"""The engine core: a Tensor, the tape it is recorded on, and the backward sweep.

Reading order: :class:`Tensor` holds a backend array; an op that runs in grad mode on
inputs that need gradients calls :func:`record`, which gives its output a :class:`Node`
(the op's name, its inputs, its backward rule, its scope, and a number from one global
counter: the tape's order). :func:`backward_sweep` collects the nodes reachable from the
outputs, visits them in reverse recording order with an explicit work list (no
recursion), calls each backward rule, and accumulates the gradients it returns.

Backward rules are written with minigrad ops. During a plain sweep grad mode is off, so
they record nothing; with ``create_graph=True`` it is on, so the sweep is itself recorded
and can be differentiated again.

The switches (grad mode, scope, anomaly mode, fusion, the tracer) live on :data:`state`,
one set per thread; tensors, parameters and the tape's counter are shared.
"""
from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import itertools
import operator
import threading
import weakref
from threading import get_ident

from . import backend as _backend


class _State:
    """One thread's switches, kept on one object so ops read them with one lookup; a new
    thread starts with these: grad on, no scope, anomaly mode off, fusion on, nothing
    being traced."""
    __slots__ = ("grad_enabled", "anomaly", "scope", "backward_of", "fusion", "tracer",
                 "keeping_graph")

    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.scope = ""
        self.backward_of = None     # the op whose backward rule is running (detect_anomaly)
        self.fusion = True          # fused functions run as one op (off: op by op; fusion.py)
        self.tracer = None          # while a fused function is traced: what record() saw
        self.keeping_graph = False  # the running sweep keeps the graph (retain_graph): a
                                    # backward rule must leave what it saved intact (scans)


class _PerThread(threading.local):
    def __init__(self):
        self.state = _State()       # runs in each thread at its first use


_threads = _PerThread()


class _CallingThread:
    """:data:`state`: its attributes are the calling thread's :class:`_State`'s.

    The hot paths (``record``, ``Node``, the backward sweep) fetch ``_threads.state``
    once and read that object directly: a ``threading.local`` subclass costs about 20 ns
    per attribute read, twice a plain read, and an op reads four.
    """
    __slots__ = ()


def _forwarded(name):
    read = operator.attrgetter(name)
    return property(lambda self: read(_threads.state),
                    lambda self, value: setattr(_threads.state, name, value))


for _name in _State.__slots__:
    setattr(_CallingThread, _name, _forwarded(_name))
del _name

state = _CallingThread()
_next_id = itertools.count().__next__   # one tape order for all threads (atomic in CPython)


# --------------------------------------------------------------------------- modes

class _Switch:
    """A context object that sets one of the thread's switches (``attribute`` of
    :data:`state`, to ``value``) for a block and puts back what that thread had.

    What each entry replaced is pushed on a stack kept per thread, so one object can be
    entered again inside its own block, or by two threads at once, and every exit restores
    its own entry's value. Also a decorator: ``@mg.no_grad()`` runs the function inside.
    """
    __slots__ = ("_saved",)
    attribute = ""
    value = None

    def __init__(self):
        self._saved = {}        # thread id -> the values its entries replaced, innermost last

    def _push(self, previous):
        ident = get_ident()
        stack = self._saved.get(ident)
        if stack is None:
            self._saved[ident] = [previous]
        else:
            stack.append(previous)

    def __enter__(self):
        mine = _threads.state
        self._push(getattr(mine, self.attribute))
        setattr(mine, self.attribute, self.value)
        return self

    def __exit__(self, *exc_info):
        ident = get_ident()
        stack = self._saved[ident]
        previous = stack.pop()
        if not stack:
            del self._saved[ident]      # a finished thread leaves nothing behind
        setattr(_threads.state, self.attribute, previous)
        return False

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn):
            # the body would run after the wrapper has left the block
            raise TypeError(f"{type(self).__name__}: cannot decorate the generator or "
                            f"coroutine function {fn.__qualname__}; use `with` inside it")

        @functools.wraps(fn)
        def inside(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return inside


class _GradSwitch(_Switch):
    """``no_grad`` and ``enable_grad``: also decorators without the call, ``@mg.no_grad``,
    as PyTorch's are."""
    __slots__ = ()
    attribute = "grad_enabled"

    def __new__(cls, fn=None):
        switch = super().__new__(cls)
        if fn is None:
            return switch
        switch.__init__()
        return switch(fn)

    def __init__(self, fn=None):
        super().__init__()


class no_grad(_GradSwitch):
    """``with mg.no_grad():`` records nothing inside (evaluation, optimizer updates).

    Per thread: other threads keep recording. Can be entered again and nested, and
    decorates functions (``@mg.no_grad()`` or ``@mg.no_grad``).
    """
    __slots__ = ()
    value = False


class enable_grad(_GradSwitch):
    """``with mg.enable_grad():`` records again inside a ``no_grad`` block (this thread's).
    Also a decorator, as :class:`no_grad`."""
    __slots__ = ()
    value = True


def _grad_mode(enabled):
    """Grad mode set to ``enabled`` inside the block (the sweep's, and fusion's traces)."""
    return enable_grad() if enabled else no_grad()


# collector_paused is process-wide by nature (there is one collector): the users of all
# threads are counted, the first one in disables it and the last one out re-enables it
# if it was enabled when the first one came in.
_collector_lock = threading.Lock()
_collector_users = 0
_collector_was_enabled = False


@contextlib.contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector inside the block.

    Recording thousands of ops makes the collector walk the growing graph again and
    again (a 10,000-step LSTM spent most of its forward pass there). The engine's graphs
    hold no reference cycles (ops reach their own outputs through weak references), so
    reference counting frees them without the collector; the backward sweep and the
    sequence layers' time loops run inside this block. Cyclic garbage made meanwhile by
    other code waits until the block ends. Safe from several threads: the collector runs
    again when the last block, in any thread, ends (and only if it ran before the first).
    """
    global _collector_users, _collector_was_enabled
    with _collector_lock:
        if _collector_users == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_users += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_users -= 1
            if _collector_users == 0 and _collector_was_enabled:
                gc.enable()


@contextlib.contextmanager
def _sweeping(outer_scope, keeping_graph):
    """Say whether the sweep keeps the graph; undo what it sets as it goes (the op being
    swept, the sweep's scope)."""
    outer_keeping = state.keeping_graph
    state.keeping_graph = keeping_graph
    try:
        yield
    finally:
        state.backward_of = None
        state.scope = outer_scope
        state.keeping_graph = outer_keeping


def is_grad_enabled() -> bool:
    """Whether ops are being recorded."""
    return state.grad_enabled


class scope(_Switch):
    """Label the ops recorded inside; nested scopes join with ``/``.

    ``with mg.scope("forget_gate"): ...``. The graph renderer (:mod:`minigrad.viz`)
    draws each scope as a labelled cluster. Per thread: another thread's ops keep their
    own scope. (A class rather than a generator-based context manager: cells enter
    several per time step.)
    """
    __slots__ = ("name",)
    attribute = "scope"

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def __enter__(self):
        mine = _threads.state
        previous = mine.scope
        self._push(previous)
        mine.scope = f"{previous}/{self.name}" if previous else self.name
        return self


class detect_anomaly(_Switch):
    """The first op whose forward or backward produces NaN or Inf raises
    ``FloatingPointError`` naming the op (slower: every result is checked). Per thread;
    can be entered again and nested."""
    __slots__ = ()
    attribute = "anomaly"
    value = True


def _check_finite(data, what):
    data = _backend.as_array(data)    # a full reduction on NumPy gives a NumPy scalar
    if data.dtype.kind == "f" and not bool(_backend.of(data).xp.isfinite(data).all()):
        raise FloatingPointError(f"detect_anomaly: {what} produced NaN or Inf")


# --------------------------------------------------------------------------- tape

class Node:
    """One recorded op: what it was, what it read, and how to send gradients back.

    ``backward(grad)`` takes the gradient of the op's output (a list, one per output, for
    ops with several outputs) and returns one gradient, or ``None``, per entry of
    ``inputs``. Inputs that are not tensors (Python scalars) get ``None``. ``scope`` is
    the calling thread's unless given (``record`` passes the one it has already read).
    """
    __slots__ = ("id", "op", "inputs", "backward", "scope", "n_outputs", "__weakref__")

    def __init__(self, op, inputs, backward, n_outputs=1, scope=None):
        self.id = _next_id()
        self.op = op
        self.inputs = inputs
        self.backward = backward
        self.scope = _threads.state.scope if scope is None else scope
        self.n_outputs = n_outputs

    def release(self):
        """Free what the backward rule saved (a second sweep then raises)."""
        self.backward = None
        self.inputs = ()

    def __repr__(self):
        return f"<Node {self.op} #{self.id}{' in ' + self.scope if self.scope else ''}>"


class Tensor:
    """An n-dimensional array on the active backend, with gradient tracking.

    Parameters
    ----------
    data : backend array
        Used as is (no copy, no dtype change); use :func:`minigrad.tensor` to convert
        Python data.
    requires_grad : bool
        Whether gradients should flow to this tensor. Only floating tensors may.
    name : str, optional
        Shown by the graph renderer.
    """
    __slots__ = ("data", "requires_grad", "grad", "node", "output_index", "name", "__weakref__")
    __array_priority__ = 1000  # make `ndarray + Tensor` call Tensor.__radd__

    def __init__(self, data, requires_grad=False, name=None):
        if type(data) not in _backend._BY_TYPE:
            data = _backend.as_array(data)
        if requires_grad and data.dtype.kind != "f":
            raise TypeError(f"only floating tensors can require grad; got dtype {data.dtype}")
        self.data = data
        self.requires_grad = requires_grad
        self.grad = None
        self.node = None
        self.output_index = 0
        self.name = name

    # ---- what it is
    shape = property(lambda self: self.data.shape)
    ndim = property(lambda self: self.data.ndim)
    dtype = property(lambda self: self.data.dtype)
    size = property(lambda self: self.data.size)
    is_leaf = property(lambda self: self.node is None)
    backend = property(lambda self: _backend.of(self.data).name)
    xp = property(lambda self: _backend.of(self.data).xp)

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        grad = ", requires_grad=True" if self.requires_grad else ""
        name = f", name={self.name!r}" if self.name else ""
        body = repr(self.numpy()).replace("array(", "").rstrip(")")
        return f"tensor({body}{grad}{name})"

    __hash__ = object.__hash__  # == is elementwise, tensors are still dict keys

    # ---- leaving the engine
    # (a fused function being traced must not branch on values: the trace would freeze
    # the branch taken, so every read into Python is reported to the tracer)
    def numpy(self):
        """The data as a NumPy array (copied off the GPU when needed)."""
        if state.tracer is not None:
            state.tracer.read_values = True
        return _backend.of(self.data).to_host(self.data)

    def item(self):
        if state.tracer is not None:
            state.tracer.read_values = True
        return self.data.item()

    def tolist(self):
        return self.numpy().tolist()

    def __array__(self, dtype=None, copy=None):
        array = self.numpy()
        return array if dtype is None else array.astype(dtype)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __bool__(self):
        if state.tracer is not None:
            state.tracer.read_values = True
        return bool(self.data)

    def detach(self):
        """The same data, cut from the graph (truncated BPTT carries detached states)."""
        return Tensor(self.data, name=self.name)

    # ---- autograd
    def backward(self, grad=None, retain_graph=False, create_graph=False):
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        Parameters
        ----------
        grad : Tensor or array, optional
            The gradient flowing into ``self``; needed unless ``self`` has one element.
        retain_graph : bool
            Keep saved values for another sweep (defaults to ``create_graph``).
        create_graph : bool
            Record the sweep, so the gradients can be differentiated again.
        """
        backward_sweep([self], [grad], retain_graph or create_graph, create_graph)


def _seed_gradient(output, grad):
    if not output.requires_grad:
        raise RuntimeError("backward: the tensor does not require grad and has no graph")
    if grad is None:
        if output.size != 1:
            raise RuntimeError(f"backward: a scalar output or `grad` is needed; got an output "
                               f"of shape {output.shape} without `grad`")
        return Tensor(output.xp.ones(output.shape, dtype=output.dtype))
    if not isinstance(grad, Tensor):
        grad = Tensor(output.xp.asarray(grad, dtype=output.dtype))
    if grad.shape != output.shape:
        raise ValueError(f"backward: grad of shape {grad.shape} does not match the output's "
                         f"shape {output.shape}")
    return grad


def record(data, inputs, backward, op, n_outputs=1):
    """Wrap an op's result in a Tensor, recording a Node when a gradient can flow.

    Called by every op: ``data`` is the forward result (a backend array, or a list of them
    for ops with several outputs), ``inputs`` the operands (tensors or Python scalars),
    ``backward`` the rule sitting next to the op's forward code.
    """
    state = _threads.state      # this thread's switches, fetched once (see _CallingThread)
    needs_grad = False
    if state.grad_enabled:
        for operand in inputs:
            if isinstance(operand, Tensor) and operand.requires_grad:
                needs_grad = True
                break
    if needs_grad:
        node = Node(op, inputs, backward, n_outputs, state.scope)
        if state.tracer is not None:
            state.tracer.shapes[node.id] = [a.shape for a in data] if n_outputs > 1 \
                else [data.shape]
            state.tracer.dtypes[node.id] = data[0].dtype if n_outputs > 1 else data.dtype
    else:
        node = None
    if state.anomaly:
        # an op run by a backward rule is part of that op's backward: name the op swept
        what = f"forward of '{op}'" if state.backward_of is None else \
            f"backward of '{state.backward_of}' (in its '{op}')"
        for array in (data if n_outputs > 1 else (data,)):
            _check_finite(array, what)
    if n_outputs > 1:
        return [_wrap(array, node, index) for index, array in enumerate(data)]
    return _wrap(data, node, 0)


def _wrap(data, node, index):
    # The hot path: skip __init__'s checks, which ops never need.
    if type(data) not in _backend._BY_TYPE:   # a NumPy scalar from a ufunc on 0-d input
        data = _backend.as_array(data)
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out.name = None
    out.node = node
    out.output_index = index
    out.requires_grad = node is not None
    return out


def output_ref(tensor):
    """A weak reference an op's backward uses to reach its own output without a cycle."""
    return weakref.ref(tensor)


# --------------------------------------------------------------------------- backward

_FREED = ("backward: the graph was already freed by an earlier backward sweep; pass "
          "retain_graph=True to the first backward() (or mg.grad) to sweep it again")


def _reachable(outputs, stop=None):
    """The nodes the outputs depend on, newest first (reverse recording order); the walk
    does not go past tensors whose ids are in ``stop``."""
    nodes = {}
    work = [t.node for t in outputs if t.node is not None]
    while work:
        node = work.pop()
        if node.id in nodes:
            continue
        if node.backward is None:
            raise RuntimeError(_FREED)
        nodes[node.id] = node
        for operand in node.inputs:
            if isinstance(operand, Tensor) and operand.node is not None \
                    and operand.node.id not in nodes \
                    and (stop is None or id(operand) not in stop):
                work.append(operand.node)
    return [nodes[i] for i in sorted(nodes, reverse=True)]


class PendingProduct:
    """``left.T @ right``, a gradient left uncomputed so that the many products reaching
    one tensor (a weight used at every time step) are summed by one matrix product,
    ``concat(lefts).T @ concat(rights)``, instead of one small product and one
    full-size addition per step. Only plain sweeps make them (see ``matmul``)."""
    __slots__ = ("left", "right")

    def __init__(self, left, right):
        self.left = left
        self.right = right


class _Accumulator:
    """Sums the gradients reaching one tensor.

    The first gradient is kept as is (it may be shared with another tensor); the second
    makes a fresh sum that is ours, and later ones add into it in place. With
    ``create_graph`` sums are recorded ops instead. Pending products are collected and
    multiplied out together when the sum is read.
    """
    __slots__ = ("total", "owned", "lefts", "rights")
    PENDING_LIMIT = 32      # products multiplied out together; bounds the memory held

    def __init__(self, grad):
        self.owned = False
        if type(grad) is PendingProduct:
            self.total = None
            self.lefts, self.rights = [grad.left], [grad.right]
        else:
            self.total = grad
            self.lefts = self.rights = None

    def add(self, grad, create_graph):
        if type(grad) is PendingProduct:
            if self.lefts is None:
                self.lefts, self.rights = [], []
            self.lefts.append(grad.left)
            self.rights.append(grad.right)
            if len(self.lefts) >= self.PENDING_LIMIT:
                self.multiply_out()
        elif self.total is None:
            self.total = grad
        elif create_graph:
            self.total = self.total + grad
        elif self.owned:
            self.total.data += grad.data
        else:
            self.total = Tensor(self.total.data + grad.data)
            self.owned = True

    def multiply_out(self):
        lefts, rights = self.lefts, self.rights
        self.lefts = self.rights = None
        if len(lefts) == 1:
            product = lefts[0].T @ rights[0]
        else:
            xp = _backend.of(lefts[0]).xp
            product = xp.concatenate(lefts).T @ xp.concatenate(rights)
        if self.total is None:
            self.total, self.owned = Tensor(product), True
        else:
            self.add(Tensor(product), False)

    @property
    def grad(self):
        if self.lefts is not None:
            self.multiply_out()
        return self.total


def _summed(slot):
    """The gradient in a sweep's slot: a lone gradient, or an accumulator's sum."""
    if slot is None or type(slot) is Tensor:
        return slot
    return (slot if type(slot) is _Accumulator else _Accumulator(slot)).grad


def backward_sweep(outputs, grads, retain_graph, create_graph, inputs=None,
                   stop_at_inputs=False):
    """Reverse-mode sweep from ``outputs`` (seeded with ``grads``).

    With ``inputs=None`` leaf gradients accumulate into ``.grad``; otherwise the
    gradients of ``inputs`` (leaves or not) are returned and no ``.grad`` is touched.
    ``stop_at_inputs`` treats the inputs as leaves: the sweep goes no further, and each
    gets only the gradient that reaches it directly (the partial derivatives a fused
    op's backward returns).
    """
    state = _threads.state      # this thread's switches, fetched once (see _CallingThread)
    seeds = [_seed_gradient(t, g) for t, g in zip(outputs, grads)]
    wanted = None if inputs is None else {id(t): t for t in inputs}
    stop = wanted if stop_at_inputs else None
    order = _reachable(outputs, stop)
    pending = {}        # node id -> its gradient slot (a list of them for multi-output nodes)
    leaves = {}         # id(leaf) -> (leaf, _Accumulator)
    wanted_nodes = {}   # node id -> wanted non-leaf tensors it produced
    for tensor in () if stop_at_inputs else inputs or ():
        if tensor.node is not None:
            wanted_nodes.setdefault(tensor.node.id, []).append(tensor)
    captured = {}       # id(wanted non-leaf) -> its gradient

    def deliver(tensor, grad):
        node = tensor.node
        if node is None or (stop is not None and id(tensor) in stop):
            if wanted is not None and id(tensor) not in wanted:
                return
            entry = leaves.get(id(tensor))
            if entry is None:
                leaves[id(tensor)] = (tensor, _Accumulator(grad))
            else:
                entry[1].add(grad, create_graph)
            return
        # a slot holds the first gradient as is, and an _Accumulator from the second on
        if node.n_outputs == 1:
            slots, index = pending, node.id
        else:
            slots = pending.get(node.id)
            if slots is None:
                slots = pending[node.id] = [None] * node.n_outputs
            index = tensor.output_index
        slot = slots.get(index) if slots is pending else slots[index]
        if slot is None:
            slots[index] = grad
        elif type(slot) is _Accumulator:
            slot.add(grad, create_graph)
        else:
            slots[index] = _Accumulator(slot)
            slots[index].add(grad, create_graph)

    for tensor, grad in zip(outputs, seeds):
        deliver(tensor, grad)

    outer_scope = state.scope
    sweep_scope = f"{outer_scope}/backward" if outer_scope else "backward"
    with _grad_mode(create_graph), _sweeping(outer_scope, retain_graph or create_graph), \
            collector_paused():
        for node in order:
            slot = pending.pop(node.id, None)
            if slot is None:            # nothing flowed here (e.g. an unused split piece)
                if not retain_graph and not create_graph:
                    node.release()
                continue
            if node.n_outputs == 1:
                grad_out = slot if type(slot) is Tensor else _summed(slot)
            else:
                grad_out = [_summed(s) for s in slot]
            for tensor in wanted_nodes.get(node.id, ()):
                captured[id(tensor)] = grad_out if node.n_outputs == 1 \
                    else grad_out[tensor.output_index]
            state.backward_of = node.op
            if create_graph:
                # a recorded sweep is labelled, so graphs draw it apart from the forward
                state.scope = f"{sweep_scope}/{node.scope}" if node.scope else sweep_scope
            input_grads = node.backward(grad_out)
            for operand, grad in zip(node.inputs, input_grads):
                if grad is None or not operand.requires_grad:
                    continue
                if state.anomaly:
                    _check_finite(grad.data, f"backward of '{node.op}'")
                deliver(operand, grad)
            if not retain_graph and not create_graph:
                node.release()     # free saved values as soon as they are used
    if not retain_graph:
        for node in order:          # create_graph without retain_graph: free at the end
            node.release()

    if wanted is not None:
        results = []
        for tensor in inputs:
            if tensor.node is None or stop_at_inputs:
                entry = leaves.get(id(tensor))
                grad = entry[1].grad if entry is not None else None
            else:
                grad = captured.get(id(tensor))
            if grad is None:        # not used by the outputs: its gradient is zero
                grad = Tensor(tensor.xp.zeros(tensor.shape, dtype=tensor.dtype))
            results.append(grad)
        return tuple(results)

    for leaf, acc in leaves.values():
        grad = acc.grad
        if leaf.grad is None:
            # a gradient that may be shared with another tensor is copied, so that
            # in-place updates of one leaf's .grad never reach another's
            leaf.grad = grad if (acc.owned or create_graph) else Tensor(grad.data.copy())
        elif create_graph or leaf.grad.requires_grad:
            leaf.grad = leaf.grad + grad
        else:
            leaf.grad.data += grad.data
    return None


def grad(outputs, inputs, grad_outputs=None, retain_graph=False, create_graph=False):
    """Gradients of ``outputs`` with respect to ``inputs``, without touching ``.grad``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
    inputs : Tensor or sequence of Tensor
    grad_outputs : Tensor, array or sequence, optional
        Gradients flowing into ``outputs``; needed for outputs with several elements.
    retain_graph : bool
        Keep the graph for another sweep (defaults to ``create_graph``).
    create_graph : bool
        Record the sweep, for gradients of gradients.

    Returns
    -------
    tuple of Tensor
        One per input; an input the outputs do not depend on gets zeros.
    """
    outputs = [outputs] if isinstance(outputs, Tensor) else list(outputs)
    inputs = [inputs] if isinstance(inputs, Tensor) else list(inputs)
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    for tensor in inputs:
        if not tensor.requires_grad:
            raise RuntimeError("grad: an input does not require grad")
    return backward_sweep(outputs, grad_outputs, retain_graph or create_graph, create_graph,
                          inputs=inputs)
