"""The engine core: a Tensor, the tape it is recorded on, and the backward sweep.

Reading order: :class:`Tensor` holds a backend array; an op that runs in grad mode on
inputs that need gradients calls :func:`record`, which gives its output a :class:`Node`
(the op's name, its inputs, its backward rule, its scope, a number from one global
counter: the tape's order, and what the op computed: its array kernel and static
arguments, the description fusion generates code from). :func:`sweep` collects the
nodes reachable from the outputs, visits them in reverse recording order with an
explicit work list (no recursion), calls each backward rule, and accumulates the
gradients it returns.

Backward rules are written with minigrad ops. During a plain sweep grad mode is off, so
they record nothing; with ``create_graph=True`` it is on, so the sweep is itself recorded
and can be differentiated again.

The switches (grad mode, scope, anomaly mode, fusion, the tracer, the tap) live in
:mod:`minigrad.modes`, one set per thread; tensors, parameters and the tape's counter
are shared.
"""
from __future__ import annotations

import itertools
import types
import weakref

from . import backend as _backend
from .modes import _check_finite, _grad_mode, _threads, collector_paused, state
from .products import PendingProduct, ProductSum


_next_id = itertools.count().__next__   # one tape order for all threads (atomic in CPython)


class ElementCount(int):
    """A tensor's ``size``: NumPy's number of elements, which called as PyTorch's
    ``x.size(dim=None)`` gives the shape (a tuple), or the length of axis ``dim``."""

    def __new__(cls, count, shape):
        count = super().__new__(cls, count)
        count.shape = shape
        return count

    def __call__(self, dim=None):
        if dim is None:
            return self.shape
        ndim = len(self.shape)
        if not -ndim <= dim < ndim:
            raise AxisError(f"size: dim {dim} is out of range for a tensor of {ndim} "
                            f"dimensions")
        return self.shape[dim]


class AxisError(IndexError, ValueError):
    """A dimension out of range: both ``IndexError`` (as PyTorch raises) and
    ``ValueError`` (as NumPy's ``AxisError`` is)."""


# --------------------------------------------------------------------------- tape

class Node:
    """One recorded op: what it was, what it read, and how to send gradients back.

    ``backward(grad)`` takes the gradient of the op's output (a list, one per output, for
    ops with several outputs) and returns one gradient, or ``None``, per entry of
    ``inputs``. Inputs that are not tensors (Python scalars) get ``None``. ``scope`` is
    the calling thread's unless given (``record`` passes the one it has already read).

    ``kernel`` and ``static`` say what the forward computed: ``kernel(xp, *arrays,
    **static)`` is the array function it called on its tensor inputs' arrays (with the
    Python numbers among ``inputs`` in their places), ``static`` the arguments that are
    not tensors (axes, split points, an index). ``None`` for an op without a description
    (fusion then runs the function that uses it op by op).

    Parameters
    ----------
    op : str
        The op's name (``"matmul"``).
    inputs : tuple
        The op's operands: tensors and Python numbers.
    backward : callable or None
        The backward rule; None for an op no gradient flows through.
    n_outputs : int
        How many tensors the op returned.
    kernel : callable, optional
    static : dict, optional
    scope : str, optional
        The :class:`~minigrad.modes.scope` label (the calling thread's by default).
    """
    __slots__ = ("id", "op", "inputs", "backward", "scope", "n_outputs", "kernel", "static",
                 "__weakref__")

    def __init__(self, op, inputs, backward, n_outputs=1, kernel=None, static=None,
                 scope=None):
        self.id = _next_id()
        self.op = op
        self.inputs = inputs
        self.backward = backward
        self.scope = _threads.state.scope if scope is None else scope
        self.n_outputs = n_outputs
        self.kernel = kernel
        self.static = static

    def release(self):
        """Free what the backward rule saved (a second sweep then raises)."""
        self.backward = None
        self.inputs = ()

    def __repr__(self):
        return f"<Node {self.op} #{self.id}{' in ' + self.scope if self.scope else ''}>"


# --------------------------------------------------------------------------- kernels

def kernel(fn=None, *, view=False, c=None):
    """Mark ``fn(xp, *arrays, **static)`` as an op's array kernel.

    ``view=True`` says its result may share memory with its first operand (a reshape, a
    slice), so generated code never writes over one while the other is read. ``c`` says,
    for a kernel that computes each element from the same element of its (broadcast)
    operands, that element's value as a C++ expression, so that on the GPU a run of such
    kernels becomes one generated kernel (:mod:`minigrad.segments`): a string with the
    operands as ``{0}``, ``{1}``, ... and their C++ type as ``{T}``, or, for a kernel with
    static arguments, a function ``c(*operands, T=..., **static)`` giving that string.
    Without it the kernel runs as it is. Used as ``@kernel`` or ``@kernel(view=True)``;
    returns ``fn`` itself, so the eager path pays nothing for the description.
    """
    def mark(fn):
        fn.ufunc = None
        fn.view = view
        fn.c = c
        return fn
    return mark if fn is None else mark(fn)


# Each ufunc's value as a C++ expression of its operands ({0}, {1}, already of their
# common type {T}; minigrad/segments.py says how they are written). A ufunc kernel that is
# not listed still runs, as its own launch: a new one needs one line here to join the
# generated kernels. NumPy's choices at NaN and ties are kept: mg_maximum/mg_minimum
# (NaN wins, a tie gives the second operand), mg_sign (NaN stays NaN, +0 at zeros).
UFUNC_C = {
    "add": "{0} + {1}", "subtract": "{0} - {1}", "multiply": "{0} * {1}",
    "divide": "{0} / {1}", "negative": "-{0}", "power": "pow({0}, {1})",
    "exp": "exp({0})", "log": "log({0})", "sqrt": "sqrt({0})", "absolute": "fabs({0})",
    "tanh": "tanh({0})", "sin": "sin({0})", "cos": "cos({0})", "sign": "mg_sign({0})",
    "maximum": "mg_maximum({0}, {1})", "minimum": "mg_minimum({0}, {1})",
    "less": "{0} < {1}", "less_equal": "{0} <= {1}", "greater": "{0} > {1}",
    "greater_equal": "{0} >= {1}", "equal": "{0} == {1}", "not_equal": "{0} != {1}",
    "logical_and": "{0} && {1}",
}


def ufunc_kernel(name):
    """The kernel that is the array module's ufunc ``name`` (``xp.add``, ``xp.exp``):
    generated code calls ``xp.<name>`` directly and may pass ``out=`` to write over a
    dead operand. An op whose eager forward uses an operator (``x + y``) calls the same
    ufunc. Its C++ expression, for generated GPU kernels, is ``UFUNC_C[name]`` (none when
    the ufunc is not listed there)."""
    def fn(xp, *arrays):
        return getattr(xp, name)(*arrays)
    fn.__name__ = fn.__qualname__ = name
    fn.ufunc = name
    fn.view = False
    fn.c = UFUNC_C.get(name)
    return fn


def constant(data):
    """A tensor of ``data`` that an op made and that depends on no tensor's values (the
    zeros standing in for an unused piece's gradient, say). While a fused function is
    traced, such tensors become constants of the generated code; any other tensor made
    inside the trace from raw arrays makes the function run op by op."""
    out = Tensor(data)
    if state.tracer is not None:
        state.tracer.constants[id(out)] = out
    return out


def _no_gradient(grad):
    raise AssertionError("a node without a gradient was swept")    # never reached


class Tensor:
    """An n-dimensional array on the active backend, with gradient tracking.

    Parameters
    ----------
    data : backend array
        Used as is (no copy, no dtype change); use :func:`~minigrad.factories.tensor` to
        convert Python data.
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
    @property
    def shape(self):
        """The shape, a tuple of ints (NumPy's ``shape``, PyTorch's ``size()``)."""
        return self.data.shape

    @property
    def ndim(self):
        """The number of dimensions (also ``x.dim()``)."""
        return self.data.ndim

    @property
    def dtype(self):
        """The NumPy dtype of the data (``float32``, ``float64``, ``int64``, ``bool``, ...)."""
        return self.data.dtype

    @property
    def size(self):
        """NumPy's number of elements, an int; called, PyTorch's ``size``: ``x.size()``
        is the shape and ``x.size(dim)`` the length of axis ``dim``."""
        return ElementCount(self.data.size, self.data.shape)

    @property
    def is_leaf(self):
        """Whether no recorded op made this tensor (inputs and parameters are leaves:
        ``backward`` writes their ``.grad``)."""
        return self.node is None

    @property
    def backend(self):
        """The name of the backend holding the data: ``"numpy"`` or ``"cupy"``."""
        return _backend.of(self.data).name

    @property
    def xp(self):
        """The array module of the data (``numpy`` or ``cupy``): what ops compute with."""
        return _backend.of(self.data).xp

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
        """The data as a NumPy array (copied off the GPU when needed).

        Returns
        -------
        numpy.ndarray
            The shape and dtype of the tensor; on NumPy the tensor's own array, not a
            copy.
        """
        if state.tracer is not None:
            state.tracer.read_values = True
        return _backend.of(self.data).to_host(self.data)

    def item(self):
        """The one element of a tensor of size 1, as a Python number.

        Returns
        -------
        float, int or bool
        """
        if state.tracer is not None:
            state.tracer.read_values = True
        return self.data.item()

    def tolist(self):
        """The data as nested Python lists (a number for a 0-d tensor).

        Returns
        -------
        list or number
        """
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
        """The same data, cut from the graph (truncated BPTT carries detached states).

        Returns
        -------
        Tensor
            A leaf sharing this tensor's array and name, not requiring grad.
        """
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
        found = sweep([self], [grad], None, retain_graph or create_graph, create_graph)
        _write_leaf_gradients(found, create_graph)


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


def record(data, inputs, backward, op, kernel=None, static=None, n_outputs=1):
    """Wrap an op's result in a Tensor, recording a Node when a gradient can flow.

    Called by every op: ``data`` is the forward result (a backend array, or a list of them
    for ops with several outputs), ``inputs`` the operands (tensors or Python scalars),
    ``backward`` the rule sitting next to the op's forward code (``None`` for an op
    without a gradient, a comparison), ``kernel`` and ``static`` what the forward computed
    (see :class:`Node`).

    Parameters
    ----------
    data : backend array or list of backend arrays
        The forward result; a list when the op has ``n_outputs > 1``.
    inputs : tuple
        The operands, tensors or Python scalars, in the order ``backward`` returns
        their gradients.
    backward : callable or None
        ``backward(grad) -> tuple`` with one gradient (a Tensor, or None) per input,
        written with minigrad ops; for several outputs it takes a list of gradients.
    op : str
        The op's name, shown in graphs and errors.
    kernel : callable, optional
        ``kernel(xp, *arrays, **static)`` computing ``data`` from the inputs' arrays
        (:func:`kernel`, :func:`ufunc_kernel`); what fusion and scans generate code from.
    static : dict, optional
        The op's non-tensor arguments (axes, shapes, dtypes), passed to ``kernel``.
    n_outputs : int
        How many arrays ``data`` holds.

    Returns
    -------
    Tensor or list of Tensor
        The output(s), with a :class:`Node` when a gradient can flow to an input.
    """
    state = _threads.state      # this thread's switches, fetched once (see _CallingThread)
    needs_grad = False
    if state.grad_enabled and backward is not None:
        for operand in inputs:
            if isinstance(operand, Tensor) and operand.requires_grad:
                needs_grad = True
                break
    tracer = state.tracer
    if needs_grad or (tracer is not None and tracer.follows(inputs)):
        # while tracing, ops on traced values are recorded even without a gradient (a
        # comparison's mask), so that generated code computes them too
        node = Node(op, inputs, backward if needs_grad else _no_gradient, n_outputs,
                    kernel, static, state.scope)
        if tracer is not None:
            tracer.likes[node.id] = [(a.shape, a.dtype) for a in data] if n_outputs > 1 \
                else [(data.shape, data.dtype)]
    else:
        node = None
    if state.anomaly:
        # an op run by a backward rule is part of that op's backward: name the op swept
        what = f"forward of '{op}'" if state.backward_of is None else \
            f"backward of '{state.backward_of}' (in its '{op}')"
        for array in (data if n_outputs > 1 else (data,)):
            _check_finite(array, what)
    if n_outputs > 1:
        return [_wrap(array, node, index, needs_grad) for index, array in enumerate(data)]
    # _wrap(data, node, 0, needs_grad), written out: this is the hottest line of the engine
    if type(data) not in _BY_TYPE:      # a NumPy scalar from a ufunc on 0-d input
        data = _backend.as_array(data)
    out = _new_tensor(Tensor)
    out.data = data
    out.grad = out.name = None
    out.node = node
    out.output_index = 0
    out.requires_grad = needs_grad
    return out


_BY_TYPE = _backend._BY_TYPE      # array type -> backend (one dict, filled as backends load)
_new_tensor = object.__new__


def _wrap(data, node, index, requires_grad=None):
    # The hot path: skip __init__'s checks, which ops never need.
    if type(data) not in _backend._BY_TYPE:   # a NumPy scalar from a ufunc on 0-d input
        data = _backend.as_array(data)
    out = Tensor.__new__(Tensor)
    out.data = data
    out.grad = None
    out.name = None
    out.node = node
    out.output_index = index
    out.requires_grad = node is not None if requires_grad is None else requires_grad
    return out


def output_ref(tensor):
    """A weak reference an op's backward uses to reach its own output without a cycle."""
    return weakref.ref(tensor)


# --------------------------------------------------------------------------- backward

_FREED = ("backward: the graph was already freed by an earlier backward sweep; pass "
          "retain_graph=True to the first backward() (or mg.grad) to sweep it again")


def _reachable(outputs, floor=None):
    """The nodes the outputs depend on through tensors that require grad, newest first
    (reverse recording order); the walk skips nodes numbered below ``floor``."""
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
            if isinstance(operand, Tensor) and operand.requires_grad \
                    and operand.node is not None and operand.node.id not in nodes \
                    and (floor is None or operand.node.id >= floor):
                work.append(operand.node)
    return [nodes[i] for i in sorted(nodes, reverse=True)]


def _consumers_of(targets, order):
    """The ids of the nodes in ``order`` that read a target, directly or through other
    such nodes: the only ones whose backward rules the targets' gradients need."""
    target_ids = {id(t) for t in targets}
    needed = set()
    for node in reversed(order):            # recording order: producers first
        for operand in node.inputs:
            if isinstance(operand, Tensor) and (
                    id(operand) in target_ids
                    or (operand.node is not None and operand.node.id in needed)):
                needed.add(node.id)
                break
    return needed


class _Accumulator:
    """Sums the gradients reaching one tensor.

    The first gradient is kept as is (it may be shared with another tensor); the second
    makes a fresh sum that is ours, and later ones add into it in place. With
    ``create_graph`` sums are recorded ops instead. Pending products are collected in a
    :class:`~minigrad.products.ProductSum` and multiplied out together when the sum is
    read.
    """
    __slots__ = ("total", "owned", "products")

    def __init__(self, grad):
        self.owned = False
        self.total = self.products = None
        self.add(grad, False)

    def add(self, grad, create_graph):
        if type(grad) is PendingProduct:
            if self.products is None:
                self.products = ProductSum()
            grad.add_to(self.products)
            if self.products.full():
                self._multiply_out()
        elif self.total is None:
            self.total = grad
        elif create_graph:
            self.total = self.total + grad
        elif self.owned:
            self.total.data += grad.data
        else:
            self.total = Tensor(self.total.data + grad.data)
            self.owned = True

    def _multiply_out(self):
        product = Tensor(self.products.materialize())
        if self.total is None:
            self.total, self.owned = product, True
        else:
            self.add(product, False)

    @property
    def grad(self):
        if self.products is not None and self.products.lefts:
            self._multiply_out()
        return self.total


def _summed(slot):
    """The gradient in a sweep's slot: a lone gradient, or an accumulator's sum (a lone
    pending product is multiplied out by one)."""
    if type(slot) is PendingProduct:
        slot = _Accumulator(slot)
    return slot.grad if type(slot) is _Accumulator else slot


def _added(slot, grad, create_graph):
    """A slot with ``grad`` added: the first gradient as is, an accumulator from the
    second on."""
    if slot is None:
        return grad
    if type(slot) is not _Accumulator:
        slot = _Accumulator(slot)
    slot.add(grad, create_graph)
    return slot


class _Delivery:
    """Where a sweep's gradients wait: per node, one slot per output until the node is
    swept; per leaf (or target), an accumulator, the sweep's result."""
    __slots__ = ("slots", "found", "wanted", "relevant", "create_graph")

    def __init__(self, wanted, relevant, create_graph):
        self.slots = {}         # node id -> slot (a list of them for multi-output nodes)
        self.found = {}         # id(tensor) -> (tensor, _Accumulator or gradient)
        self.wanted = wanted    # ids of the targets, or None: every leaf
        self.relevant = relevant  # ids of the nodes whose gradients are used, or None: all
        self.create_graph = create_graph

    def deliver(self, tensor, grad):
        node = tensor.node
        if node is None:
            if self.wanted is None or id(tensor) in self.wanted:
                entry = self.found.get(id(tensor))
                self.found[id(tensor)] = (tensor, _Accumulator(grad) if entry is None
                                          else _added(entry[1], grad, self.create_graph))
        elif self.relevant is None or node.id in self.relevant:
            slots = self.slots
            if node.n_outputs == 1:
                slot = slots.get(node.id)
                slots[node.id] = grad if slot is None else \
                    _added(slot, grad, self.create_graph)
            else:
                parts = slots.get(node.id) or [None] * node.n_outputs
                index = tensor.output_index
                parts[index] = _added(parts[index], grad, self.create_graph)
                slots[node.id] = parts

    def take(self, node):
        """The gradient of ``node``'s output (a list for several outputs), or None when
        nothing reached it."""
        slot = self.slots.pop(node.id, None)
        if type(slot) is Tensor:
            return slot
        if slot is None or node.n_outputs == 1:
            return _summed(slot)
        return [_summed(s) for s in slot]


def _plan(outputs, targets):
    """``(nodes newest first, ids of the nodes whose rules run or None for all, targets by
    the id of the node that computed them)``."""
    if targets is None:
        return _reachable(outputs), None, {}
    by_node = {}
    for t in targets:
        if t.node is not None:
            by_node.setdefault(t.node.id, []).append(t)
    floor = min(by_node) if targets and all(t.node is not None for t in targets) else None
    order = _reachable(outputs, floor)
    return order, _consumers_of(targets, order), by_node


def sweep(outputs, grads, targets=None, retain_graph=False, create_graph=False):
    """The reverse-mode sweep from ``outputs`` (seeded with ``grads``).

    Returns ``{id(tensor): (tensor, gradient)}`` for every leaf reached when ``targets``
    is None, else for every target (leaf or not) reached. With targets, only the backward
    rules of nodes that read a target (directly or through others) are called, and the
    walk does not go below the earliest target when all of them are computed: a node
    recorded before every target cannot depend on one.

    Backward rules are called as ``rule(grad)``; a rule that is an object rather than a
    function is called as ``rule(grad, keep_graph)``, so that one which may reuse its
    saved memory (a scan's) knows whether the graph is swept again.
    """
    state = _threads.state      # this thread's switches, fetched once (see _CallingThread)
    seeds = [_seed_gradient(t, g) for t, g in zip(outputs, grads)]
    keep_graph = retain_graph or create_graph
    order, needed, by_node = _plan(outputs, targets)
    delivery = _Delivery(None if targets is None else {id(t) for t in targets},
                         None if needed is None else needed | by_node.keys(), create_graph)
    deliver, take = delivery.deliver, delivery.take
    for tensor, grad in zip(outputs, seeds):
        deliver(tensor, grad)
    outer_scope = state.scope
    sweep_scope = f"{outer_scope}/backward" if outer_scope else "backward"
    function = types.FunctionType
    try:
        with _grad_mode(create_graph), collector_paused():
            for node in order:
                grad_out = take(node)
                for target in by_node.get(node.id, ()) if by_node else ():
                    # complete now: every reader of it was recorded after it, swept before
                    delivery.found[id(target)] = (target, grad_out if node.n_outputs == 1
                                                  else grad_out[target.output_index])
                if grad_out is None or (needed is not None and node.id not in needed):
                    if not keep_graph:       # nothing flowed here, or nothing wanted does
                        node.release()
                    continue
                state.backward_of = node.op
                if create_graph:
                    # a recorded sweep is labelled, so graphs draw it apart from the forward
                    state.scope = f"{sweep_scope}/{node.scope}" if node.scope else sweep_scope
                rule = node.backward
                input_grads = rule(grad_out) if type(rule) is function else \
                    rule(grad_out, keep_graph)
                for operand, grad in zip(node.inputs, input_grads):
                    if grad is not None and operand.requires_grad:
                        if state.anomaly:
                            _check_finite(grad.data, f"backward of '{node.op}'")
                        deliver(operand, grad)
                if not keep_graph:
                    node.release()     # free saved values as soon as they are used
    finally:
        state.backward_of = None
        state.scope = outer_scope
    if not retain_graph:
        for node in order:          # create_graph without retain_graph: free at the end
            node.release()
    return delivery.found


def _gradient(entry):
    """The summed gradient of a :func:`sweep` result entry (None when absent)."""
    if entry is None:
        return None
    grad = entry[1]
    return grad.grad if type(grad) is _Accumulator else grad


def _write_leaf_gradients(found, create_graph):
    """``Tensor.backward``'s last step: add each leaf's gradient into its ``.grad``."""
    for leaf, acc in found.values():
        grad = acc.grad
        if grad.dtype != leaf.dtype and not create_graph:
            grad = Tensor(grad.data.astype(leaf.dtype))     # a gradient has its leaf's dtype
        if leaf.grad is None:
            # a gradient that may be shared with another tensor is copied, so that
            # in-place updates of one leaf's .grad never reach another's
            leaf.grad = grad if (acc.owned or create_graph) else Tensor(grad.data.copy())
        elif create_graph or leaf.grad.requires_grad:
            leaf.grad = leaf.grad + grad
        else:
            leaf.grad.data += grad.data


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
    for what, tensors in (("outputs", outputs), ("inputs", inputs)):
        for index, tensor in enumerate(tensors):
            if not isinstance(tensor, Tensor):
                raise TypeError(f"grad: {what}[{index}] is {type(tensor).__name__}, "
                                f"expected a Tensor")
    if grad_outputs is None:
        grad_outputs = [None] * len(outputs)
    elif isinstance(grad_outputs, Tensor) or not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    for tensor in inputs:
        if not tensor.requires_grad:
            raise RuntimeError("grad: an input does not require grad")
    found = sweep(outputs, grad_outputs, inputs, retain_graph or create_graph, create_graph)
    results = []
    for tensor in inputs:
        grad = _gradient(found.get(id(tensor)))
        if grad is None:        # not used by the outputs: its gradient is zero
            grad = Tensor(tensor.xp.zeros(tensor.shape, dtype=tensor.dtype))
        results.append(grad)
    return tuple(results)
