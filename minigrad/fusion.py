"""Fused functions: a chain of ops recorded as one op, with generated code.

A recurrent cell runs a dozen small elementwise ops per time step (the gates'
nonlinearities, the cell update), and their backward twice as many. Each recorded op
costs a ``Node``, a ``Tensor``, a closure and a turn of the backward sweep: at small sizes
that bookkeeping, not the arithmetic, is most of a step. ``mg.fuse`` removes it::

    @mg.fuse
    def cell_update(gates, c):
        i, f, g, o = gates.chunk(4, axis=1)
        c = mg.sigmoid(f) * c + mg.sigmoid(i) * mg.tanh(g)
        return mg.sigmoid(o) * mg.tanh(c), c

How it works. The first call for given input shapes, dtypes and backend *traces* the
function: it runs once, op by op, on stand-in leaves, and the engine's own backward
sweep is run over it with ``create_graph=True``, so the backward rules record their ops
too. Every recorded node says what it computed (its kernel, ``kernel(xp, *arrays,
**static)``, and its static arguments: see ``Node``), so the two recordings are turned
into straight-line Python source generically, one line per node: a call of the node's
kernel (of ``xp.<ufunc>`` directly where the kernel is one), one function for the
forward and one for the backward (``fused.source()`` shows them). Later calls run the
generated forward on the arrays and record ONE node whose backward runs the generated
backward on the values the forward saved. The kernels are the ones the ops call
eagerly, in the same order, so results are the same as op by op, bit for bit. A new op
fuses with no edit here: it only has to pass its kernel to ``record``.

What stays exact:

- gradients of gradients: a sweep with ``create_graph=True`` reaches a fused node, which
  then replays the function op by op on its inputs and differentiates the replay
  (recorded like any other backward rule);
- ``mg.viz`` draws a fused call as the ops it stands for (:func:`unfold`);
- ``detect_anomaly`` and ``with mg.unfused():`` run the function op by op, so anomalies
  are named by the op that made them;
- :func:`~minigrad.modes.tap` probes inside the function are called by the generated
  code, at the same point, on every call.

On CuPy each run of elementwise lines is then one generated CUDA kernel
(:mod:`minigrad.segments`, from the kernels' C++ descriptions); elsewhere the lines run
one by one.

The trade-off: an op recorded without a kernel (an extension op that gives none) makes
the function run op by op, with one warning saying why; so does one that reads a
tensor's values into Python (a branch on them would be frozen by the trace), or reads a
tensor made from raw arrays inside the function. The function must be pure and take
tensors only: its Python-level effects happen once per signature, when it is traced.

Programs are kept in one cache for all fused functions and scans (:data:`PROGRAMS`),
least recently used first out. docs/engine.md has the whole story.
"""
from __future__ import annotations

import builtins
import collections
import functools
import re
import threading
import warnings
from typing import NamedTuple

from . import backend as _backend
from . import segments as _segments
from .products import PendingProduct
from .modes import _Switch, _grad_mode, _threads, state
from .tensor import Node, Tensor, _gradient, _next_id, _wrap, record, sweep

__all__ = ["fuse", "unfused", "Fused", "unfold", "compile", "Program", "Value", "Pending",
           "Unfusable", "PROGRAMS", "replay_gradients"]


class unfused(_Switch):
    """``with mg.unfused():`` fused functions run op by op inside (every op recorded).

    Per thread (other threads keep fusing); can be entered again and nested."""
    __slots__ = ()
    attribute = "fusion"
    value = False


def fuse(fn):
    """Decorator: record ``fn``, a function of tensors, as one op.

    ``fn`` takes tensors as positional arguments and returns a tensor or a tuple of
    tensors. See the module's docstring for what can be fused and what it costs.

    Parameters
    ----------
    fn : callable
        ``fn(*tensors) -> Tensor or tuple of Tensor``, made of minigrad ops, without
        branches on tensor values (those make it run op by op).

    Returns
    -------
    Fused
        A callable with ``fn``'s signature whose every call is one node on the tape, its
        forward and backward generated from the ops ``fn`` ran.
    """
    return Fused(fn)


class Unfusable(Exception):
    """Why a function cannot be fused (the message names the op)."""


# --------------------------------------------------------------------------- programs

class Value(NamedTuple):
    """What a value of a generated program is: an ``input`` (its argument position), an
    ``output`` (its position among the outputs), the gradient ``seed`` of an output, or a
    ``temporary`` (a number unique in the program)."""
    kind: str
    index: int


class Pending(NamedTuple):
    """An input gradient returned as ``PendingProduct(left, right)``: ``left.T @ right``
    left to the accumulator (see :mod:`minigrad.products`)."""
    left: Value
    right: Value


class Program:
    """A function compiled for one input signature.

    Attributes
    ----------
    forward : callable
        ``forward(*arrays) -> (outputs, saved)``: the outputs' arrays, and the values the
        backward reads, in the order of ``saved``.
    backward : callable or None
        ``backward(*saved, *output_gradients) -> input gradients`` (an array, a
        :class:`~minigrad.products.PendingProduct`, or None per input); None when no
        input needs a gradient.
    saved : tuple of Value
        What each saved value is.
    input_grads : tuple of (None, Value or Pending)
        What each input's gradient is: none, a value, or a pending product of two.
    output_likes : list of (shape, dtype, xp)
        Per output, for zero gradients of unused outputs.
    segments : list of minigrad.segments.Segment
        The runs of elementwise lines that each run as one call (one generated kernel on
        the GPU), forward's then backward's; empty where lines run one by one.
    """

    def __init__(self, forward, backward, source, n_outputs, output_likes, as_tuple,
                 saved, input_grads, segments=()):
        self.forward = forward
        self.backward = backward
        self.source = source
        self.records = backward is not None
        self.n_outputs = n_outputs
        self.output_likes = output_likes
        self.as_tuple = as_tuple
        self.saved = tuple(saved)
        self.input_grads = tuple(input_grads)
        self.segments = list(segments)

    def shape_result(self, outputs):
        return tuple(outputs) if self.as_tuple else outputs[0]


class ProgramCache:
    """Compiled programs of every fused function and scan, keyed by function and input
    signature; the least recently used goes first when more than ``limit`` are kept
    (a program is a few kilobytes of code: 512 is well under a megabyte). A function
    that cannot be fused is remembered too, with why."""

    def __init__(self, limit=512):
        self.limit = limit
        self.entries = collections.OrderedDict()
        self.compiles = 0           # how many programs were compiled (for benchmarks)
        self._lock = threading.Lock()

    def get(self, fn, inputs, wanted):
        """The program of ``fn`` for these inputs (tensors) and wanted gradients,
        compiled on first use; raises :class:`Unfusable` when it cannot be."""
        key = (fn, *signature(inputs, getattr(fn, "__name__", "fused")), *wanted)
        with self._lock:
            program = self.entries.get(key)
            if program is not None:
                self.entries.move_to_end(key)
        if program is None:
            try:
                program = compile(fn, inputs, wanted)
            except Unfusable as why:
                program = why
            with self._lock:
                self.compiles += 1
                self.entries[key] = program
                while len(self.entries) > self.limit:
                    self.entries.popitem(last=False)
        if isinstance(program, Unfusable):
            raise program
        return program

    def of(self, fn):
        """``{key: program}`` of one function's entries."""
        with self._lock:
            return {key: p for key, p in self.entries.items() if key[0] is fn}


PROGRAMS = ProgramCache()


def signature(inputs, name):
    """What a compiled program depends on: the backend, and each input's shape and
    dtype. Refuses arguments that are not tensors."""
    if not inputs:
        raise TypeError(f"fused function {name}: needs at least one tensor argument")
    key = [None]
    for x in inputs:
        if not isinstance(x, Tensor):
            raise TypeError(f"fused function {name}: arguments must be tensors, got "
                            f"{type(x).__name__} (fix other values with a closure or "
                            f"functools.partial)")
        key += (x.data.shape, x.data.dtype)
    key[0] = type(inputs[0].data)
    return key


class Fused:
    """A function recorded as one op; programs are compiled per input signature."""
    CACHE_LIMIT = PROGRAMS.limit      # programs kept, for all functions together

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = getattr(fn, "__name__", "fused")
        self.warned = False

    def __repr__(self):
        return f"<fused function {self.name}>"

    @property
    def programs(self):
        """This function's compiled programs (or why it could not be), by signature."""
        return PROGRAMS.of(self.fn)

    def __call__(self, *inputs):
        mine = _threads.state           # this thread's switches, fetched once
        if not mine.fusion or mine.anomaly or len({*map(id, inputs)}) < len(inputs):
            # (one tensor in two places: op by op its gradients add up in another order)
            return self.fn(*inputs)
        grad_mode = mine.grad_enabled
        try:
            program = PROGRAMS.get(self.fn, inputs,
                                   [grad_mode and x.requires_grad for x in inputs])
        except Unfusable as why:
            if not self.warned:
                self.warned = True
                warnings.warn(f"mg.fuse: {self.name} runs op by op: {why}", RuntimeWarning,
                              stacklevel=2)
            return self.fn(*inputs)
        except AttributeError:      # not a tensor: let the signature say so
            signature(inputs, self.name)
            raise
        outputs, saved = program.forward(*[x.data for x in inputs])
        if not program.records:
            return program.shape_result([_wrap(a, None, 0) for a in outputs])
        backward = _FusedBackward(self.fn, program, inputs, saved)
        if program.n_outputs == 1:
            return record(outputs[0], inputs, backward, self.name)
        return program.shape_result(
            record(outputs, inputs, backward, self.name, n_outputs=program.n_outputs))

    def source(self, *inputs):
        """The generated forward and backward code for these inputs (tensors)."""
        try:
            return PROGRAMS.get(self.fn, inputs, [x.requires_grad for x in inputs]).source
        except Unfusable:
            raise ValueError(f"fused function {self.name} cannot be fused for these "
                             f"inputs") from None


class _FusedBackward:
    """A fused node's backward rule: the generated backward on the saved arrays, or,
    when the sweep is recorded (``create_graph``), the engine's sweep over a replay."""
    __slots__ = ("fn", "program", "inputs", "saved")

    def __init__(self, fn, program, inputs, saved):
        self.fn = fn
        self.program = program
        self.inputs = inputs
        self.saved = saved

    def __call__(self, grad, keep_graph):
        program = self.program
        grads = [grad] if program.n_outputs == 1 else grad
        if state.grad_enabled:
            return replay_gradients(self.fn, self.inputs, grads)
        arrays = [g.data if g is not None else _zeros_like(like)
                  for g, like in zip(grads, program.output_likes)]
        results = program.backward(*self.saved, *arrays)
        return [r if r is None or type(r) is PendingProduct else _wrap(r, None, 0)
                for r in results]

    def replay(self, inputs):
        """The function op by op on ``inputs``, as a list of outputs (for drawing)."""
        with unfused():
            return _as_list(self.fn(*inputs))


def _zeros_like(like):
    shape, dtype, xp = like
    return xp.zeros(shape, dtype=dtype)


def replay_gradients(fn, inputs, grads):
    """The partial derivatives of ``fn`` at ``inputs``, as recorded ops: run ``fn`` op by
    op on an alias of each input and sweep back to the aliases, so the sweep stops there
    and each argument position gets its own partial (the same tensor in two places
    included: the caller's sweep adds them up)."""
    from .ops.shape import alias
    aliases = [alias(x) if x.requires_grad else x for x in inputs]
    with unfused():
        outputs = _as_list(fn(*aliases))
    swept = [(out, g) for out, g in zip(outputs, grads) if g is not None]
    targets = [a for a, x in zip(aliases, inputs) if x.requires_grad]
    if not swept or not targets:
        return (None,) * len(inputs)
    found = sweep([o for o, _ in swept], [g for _, g in swept], targets, True, True)
    return tuple(_gradient(found.get(id(a))) if x.requires_grad else None
                 for a, x in zip(aliases, inputs))


def _as_list(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


# --------------------------------------------------------------------------- compiling

class _Trace:
    """What the ops record while a function is traced: each node's output shapes and
    dtypes, the constants ops made (``tensor.constant``), the taps reached, and whether
    a tensor's values were read into Python."""

    def __init__(self, arguments):
        self.arguments = {id(x) for x in arguments}
        self.likes = {}
        self.constants = {}
        self.taps = []
        self.read_values = False    # the function read a tensor's values into Python

    def follows(self, inputs):
        """Whether an op on ``inputs`` computes from a traced value or from a constant an
        op made (so generated code must compute it too, even when no gradient flows
        through it: a backward rule's zeros scaled by the next rule, say)."""
        for x in inputs:
            if isinstance(x, Tensor) and (x.node is not None or id(x) in self.arguments
                                          or id(x) in self.constants):
                return True
        return False


def compile(fn, inputs, wanted, segments=None):
    """Trace ``fn`` at ``inputs`` (tensors) and generate its forward and backward code,
    with the gradients of the inputs flagged in ``wanted``; raises :class:`Unfusable`.

    Parameters
    ----------
    fn : callable
    inputs : sequence of Tensor
    wanted : sequence of bool
    segments : callable, optional
        How runs of elementwise lines run (:func:`minigrad.segments.group`'s ``runner``):
        by default one generated kernel each on CuPy, line by line elsewhere; the tests
        pass :func:`minigrad.segments.run_lines` to check the segmentation on NumPy.

    Returns
    -------
    Program
    """
    backend = _backend.of(inputs[0].data)
    xp = backend.xp
    runner = _segments.default_runner(backend) if segments is None else segments
    stand_ins = [Tensor(x.data, requires_grad=x.dtype.kind == "f") for x in inputs]
    trace = _Trace(stand_ins)
    outer = (state.scope, state.tracer, state.fusion)
    state.scope, state.tracer, state.fusion = "", trace, False
    try:
        with _grad_mode(True):
            result = fn(*stand_ins)
            if trace.read_values:
                raise Unfusable("it reads tensor values into Python (.item(), if, ...): "
                                "a trace would freeze what it saw at the first call")
            outputs = _as_list(result)
            _check_outputs(outputs)
            boundary = _next_id()       # forward nodes are numbered below, backward above
            targets = [x for x, want in zip(stand_ins, wanted) if want and x.requires_grad]
            seeded = [(j, out) for j, out in enumerate(outputs) if out.requires_grad]
            seeds = {j: Tensor(xp.ones_like(out.data), requires_grad=True) for j, out in seeded}
            found = {}
            if targets and seeded:
                try:
                    found = sweep([out for _, out in seeded], [seeds[j] for j, _ in seeded],
                                  targets, True, True)
                except Exception as error:      # op by op, the same sweep would not record
                    raise Unfusable(f"its backward could not be recorded ({error})") \
                        from error
    finally:
        state.scope, state.tracer, state.fusion = outer
    return _Generator(xp, stand_ins, seeds, outputs, trace, boundary, runner).program(
        fn, [_gradient(found.get(id(x))) if id(x) in found else None for x in stand_ins],
        isinstance(result, (tuple, list)), records=any(wanted))


class _Line:
    """One line of generated code: ``results = expression``, reading ``args``."""
    __slots__ = ("results", "expression", "args", "kernel", "likes", "like", "static")

    def __init__(self, results, expression, args, kernel, likes, like, static=None):
        self.results = results
        self.expression = expression
        self.args = args
        self.kernel = kernel    # None for a tap's line, which computes nothing
        self.likes = likes      # per argument (shape, dtype), None for a Python number
        self.like = like        # the (first) result's (shape, dtype)
        self.static = static    # the node's static arguments


class _Generator:
    """Turns a trace into source: every node one line, named ``v{k}`` (``v{k}_{i}`` for
    the outputs of a node with several); arguments are ``x{i}``, the outputs' gradient
    seeds ``g{j}``, constants ``c{n}``."""

    def __init__(self, xp, stand_ins, seeds, outputs, trace, boundary, runner=None):
        self.xp = xp
        self.runner = runner    # how segments run (minigrad.segments); None: no segments
        self.segments = []
        self.outputs = outputs
        self.trace = trace
        self.boundary = boundary
        self.names = {id(x): f"x{i}" for i, x in enumerate(stand_ins)}
        self.names.update({id(g): f"g{j}" for j, g in seeds.items()})
        self.n_inputs = len(stand_ins)
        self.n_seeds = len(outputs)
        self.namespace = {"xp": xp, "PendingProduct": PendingProduct,
                          "tap_handler": _tap_handler}
        self.constants = []     # names of the constants, c0, c1, ...
        self.number = {}

    def constant(self, value):
        name = f"c{len(self.constants)}"
        self.constants.append(name)
        self.namespace[name] = value
        return name

    def name_of(self, tensor, reader):
        if tensor.node is None:
            name = self.names.get(id(tensor))
            if name is None:
                if id(tensor) not in self.trace.constants:
                    raise Unfusable(f"its '{reader}' reads a tensor that is neither an "
                                    f"argument nor computed from them (pass a tensor in "
                                    f"as an argument)")
                name = self.names[id(tensor)] = self.constant(tensor.data)
            return name
        k = self.number.get(tensor.node.id)
        if k is None:
            raise Unfusable(f"its '{reader}' reads a tensor computed outside it (pass it "
                            f"in as an argument)")
        return f"v{k}" if tensor.node.n_outputs == 1 else f"v{k}_{tensor.output_index}"

    def expression(self, node, args):
        kernel = node.kernel
        if kernel is None:
            raise Unfusable(f"op '{node.op}' has no fused form (it records no kernel)")
        if kernel.ufunc is not None:
            return f"xp.{kernel.ufunc}({', '.join(args)})"
        name = self.names.get(id(kernel))
        if name is None:
            name = self.names[id(kernel)] = f"k_{kernel.__name__}_{len(self.namespace)}"
            self.namespace[name] = kernel
        keywords = [f"{key}={value!r}" if _is_literal(value) else
                    f"{key}={self.constant(value)}" for key, value in (node.static or {}).items()]
        return f"{name}({', '.join(['xp', *args, *keywords])})"

    def program(self, fn, grads, as_tuple, records):
        outputs, trace = self.outputs, self.trace
        self.name = getattr(fn, "__name__", "function")
        # An input's gradient ``X.T @ G`` (a weight's, when the function multiplies by
        # one) is handed back unmultiplied, as the plain sweep's matmul does, so that the
        # products from every call reaching one weight are summed by one product.
        grads = [None if g is None else (_pending_factors(g, trace) or g) for g in grads]
        needed = [t for g in grads if g is not None for t in (g if type(g) is tuple else [g])]
        tapped = [t for _, t in trace.taps]
        nodes = _nodes(outputs + needed + tapped, trace.likes)
        self.number = {node.id: k for k, node in enumerate(nodes)}
        forward, backward = [], []
        produced_at = {}        # forward name -> its line's position (for taps)
        for k, node in enumerate(nodes):
            args, likes = [], []
            for operand in node.inputs:
                if isinstance(operand, Tensor):
                    args.append(self.name_of(operand, node.op))
                    likes.append((operand.shape, operand.dtype))
                else:
                    args.append(self.constant(operand))
                    likes.append(None)
            results = [f"v{k}"] if node.n_outputs == 1 else \
                [f"v{k}_{i}" for i in range(node.n_outputs)]
            line = _Line(results, self.expression(node, args), args, node.kernel, likes,
                         trace.likes[node.id][0], node.static)
            if node.id < self.boundary:
                forward.append(line)
                for name in results:
                    produced_at[name] = len(forward)
            else:
                backward.append(line)
        for position, (tap_name, tensor) in sorted(
                ((produced_at.get(self.name_of(t, "tap"), 0), (n, t))
                 for n, t in trace.taps), key=lambda entry: -entry[0]):
            name = self.name_of(tensor, "tap")
            forward.insert(position, _Line([], f"if tap: tap({tap_name!r}, {name})", [name],
                                           None, [None], None))

        output_names = [self.name_of(out, "output") for out in outputs]
        forward_names = {f"x{i}" for i in range(self.n_inputs)}
        forward_names.update(n for line in forward for n in line.results)
        saved = []          # forward values the backward reads, in order of first use
        for name in (n for line in backward for n in line.args):
            if name in forward_names and name not in saved:
                saved.append(name)
        grad_names = []
        for g in grads:
            names = [] if g is None else \
                [self.name_of(t, "gradient") for t in (g if type(g) is tuple else [g])]
            for name in names:
                if name in forward_names and name not in saved:
                    saved.append(name)
            grad_names.append(names)

        what = self._values(output_names)
        constants = self.constants
        source = [f"def forward({', '.join(f'x{i}' for i in range(self.n_inputs))}):"]
        if trace.taps:
            source.append("    tap = tap_handler()")
        forward_kept = {*output_names, *saved, *constants}
        forward = self._segmented(forward, forward_kept, "forward")
        _write_in_place(forward, forward_kept)
        source += _freeing_as_it_goes(forward, forward_kept)
        source.append(f"    return ({''.join(n + ', ' for n in output_names)}), "
                      f"({''.join(n + ', ' for n in saved)})")
        returns = ["None" if not names else names[0] if len(names) == 1 else
                   f"PendingProduct({names[0]}, {names[1]})" for names in grad_names]
        if records:
            grad_args = [f"g{j}" for j in range(self.n_seeds)]
            source += ["", f"def backward({', '.join(saved + grad_args)}):"]
            backward_kept = {*(n for names in grad_names for n in names), *constants}
            backward = self._segmented(backward, backward_kept, "backward")
            _write_in_place(backward, backward_kept)
            source += _freeing_as_it_goes(backward, backward_kept)
            source.append(f"    return ({''.join(n + ', ' for n in returns)})")
        source = "\n".join(source) + "\n"
        exec(builtins.compile(source, f"<fused {getattr(fn, '__name__', 'function')}>",
                              "exec"), self.namespace)
        input_grads = [None if not names else what(names[0]) if len(names) == 1 else
                       Pending(what(names[0]), what(names[1])) for names in grad_names]
        return Program(self.namespace["forward"],
                       self.namespace.get("backward") if records else None, source,
                       len(outputs), [(out.shape, out.dtype, self.xp) for out in outputs],
                       as_tuple, [what(n) for n in saved], input_grads, self.segments)

    def _segmented(self, lines, kept, part):
        """``lines`` with each run of elementwise lines one call (minigrad.segments)."""
        if self.runner is None:
            return lines
        name = re.sub(r"[\W_]+", "_", self.name).strip("_") or "function"    # no "__" in C
        lines, made = _segments.group(lines, kept, self.namespace, self.runner,
                                      f"minigrad_{name}_{part}_", _Line)
        self.segments += made
        return lines

    def _values(self, output_names):
        """``name -> Value``: what each generated name is, for the program's readers."""
        outputs = {name: k for k, name in enumerate(output_names)}
        numbers = {}

        def what(name):
            if name in outputs:
                return Value("output", outputs[name])
            if name[0] == "x":
                return Value("input", int(name[1:]))
            if name[0] == "g":
                return Value("seed", int(name[1:]))
            return Value("temporary", numbers.setdefault(name, len(numbers)))
        return what


def _is_literal(value):
    """Whether ``repr(value)`` is Python source that evaluates back to ``value``."""
    if value is None or isinstance(value, (bool, int, str)):
        return True
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    if isinstance(value, (tuple, list)):
        return all(_is_literal(v) for v in value)
    if isinstance(value, slice):
        return all(_is_literal(v) for v in (value.start, value.stop, value.step))
    return False


def _tap_handler():
    """The generated forward's tap: None when nobody listens in this thread."""
    mine = _threads.state
    handler = mine.tap
    if handler is None or mine.backward_of is not None:
        return None
    return lambda name, array: handler(name, _wrap(array, None, 0))


def _write_in_place(lines, kept):
    """Let an elementwise line write its result over an operand that is a temporary of
    these lines, read by nothing after it (nor through a view) and not ``kept``, with
    the result's shape and dtype: the ufunc with ``out=``, the same arithmetic.

    Op by op every result is a new array; here the memory of a dead temporary is reused,
    so a chain of elementwise ops holds one array where it held two (the peak of a
    loss's backward, say), and allocates less."""
    last_read = _last_reads(lines)
    owner = {}          # name -> the temporary whose memory it is
    sharing = {}        # temporary -> every name that is its memory
    whole = set()       # names that are all of their memory (not a view of part of it)
    for number, line in enumerate(lines):
        kernel = line.kernel
        if kernel is None:          # a tap: reads only
            continue
        if kernel.view:
            source = owner.get(line.args[0])
            if source is not None:
                for name in line.results:
                    owner[name] = source
                    sharing[source].append(name)
            continue
        target = None
        if kernel.ufunc is not None and line.like[0] != ():
            for name, like in zip(line.args, line.likes):
                if name in whole and like == line.like and all(
                        last_read.get(n, -1) <= number and n not in kept
                        for n in sharing[owner[name]]):
                    target = name
                    break
        if target is None:
            for name in line.results:
                owner[name] = name
                sharing[name] = [name]
        else:
            line.expression = f"xp.{kernel.ufunc}({', '.join(line.args)}, out={target})"
            owner[line.results[0]] = owner[target]
            sharing[owner[target]].append(line.results[0])
        whole.update(line.results)


def _last_reads(lines):
    """name -> the number of the last line that reads it."""
    last = {}
    for number, line in enumerate(lines):
        for name in line.args:
            last[name] = number
    return last


def _freeing_as_it_goes(lines, kept):
    """The lines' text, each followed by ``del`` of the values it was the last to read
    (other than ``kept``): a generated function would otherwise hold every temporary
    until it returns, where op by op each is freed as soon as it is used."""
    last_use = _last_reads(lines)
    text = []
    for number, line in enumerate(lines):
        if line.results:
            text.append(f"    {', '.join(line.results)} = {line.expression}")
        else:
            text.append(f"    {line.expression}")
        dead = sorted({name for name in line.args
                       if last_use[name] == number and name not in kept})
        if dead:
            text.append(f"    del {', '.join(dead)}")
    return text


def _pending_factors(grad, trace):
    """``(X, G)`` when ``grad`` was made as ``X.T @ G`` of two matrices, else None."""
    node = grad.node
    if node is None or node.op != "matmul" or grad.ndim != 2:
        return None
    left, right = node.inputs
    if left.node is None or left.node.op != "transpose" or left.node.id not in trace.likes \
            or left.node.static != {"axes": (1, 0)} or right.ndim != 2:
        return None
    return left.node.inputs[0], right


def _check_outputs(outputs):
    for out in outputs:
        if not isinstance(out, Tensor):
            raise Unfusable(f"it returns a {type(out).__name__}, not tensors")
        if out.node is None:
            raise Unfusable("it returns an argument or a constant unchanged")
    if len({id(out) for out in outputs}) < len(outputs):
        raise Unfusable("it returns one tensor twice")


def _nodes(tensors, within=None):
    """The nodes ``tensors`` depend on (only those in ``within``, when given), in
    recording order."""
    found = {}
    work = [t.node for t in tensors if t.node is not None]
    while work:
        node = work.pop()
        if node.id in found or (within is not None and node.id not in within):
            continue
        found[node.id] = node
        work.extend(x.node for x in node.inputs
                    if isinstance(x, Tensor) and x.node is not None)
    return [found[i] for i in sorted(found)]


# --------------------------------------------------------------------------- drawing

def unfold(outputs):
    """Tensors equal to ``outputs`` whose recorded graph shows every fused call as the
    ops it stands for (the graph renderer draws these).

    Each fused node is replayed op by op on its recorded inputs, inside its own scope;
    the nodes downstream of it are copied with their inputs swapped for the replayed
    results. Returns ``(tensors, swap)``: ``swap(t)`` gives the stand-in for any tensor
    of the original graph (itself when nothing changed).
    """
    nodes = _nodes(outputs)
    if not any(hasattr(node.backward, "replay") for node in nodes):
        return list(outputs), lambda tensor: tensor
    replaced = {}       # old node id -> list of new output tensors (filled lazily for copies)
    copies = {}         # old node id -> its copied Node

    def swap(tensor):
        node = tensor.node
        if node is None or node.id not in replaced:
            return tensor
        outs = replaced[node.id]
        new = outs[tensor.output_index]
        if new is None:
            new = outs[tensor.output_index] = _wrap(tensor.data, copies[node.id],
                                                    tensor.output_index)
        new.name = new.name or tensor.name
        return new

    with _grad_mode(True):
        for node in nodes:
            inputs = tuple(swap(x) if isinstance(x, Tensor) else x for x in node.inputs)
            if hasattr(node.backward, "replay"):       # a fused call, or a scan
                saved_scope = state.scope
                state.scope = node.scope
                try:
                    replaced[node.id] = node.backward.replay(inputs)
                finally:
                    state.scope = saved_scope
            elif any(a is not b for a, b in zip(inputs, node.inputs)):
                copy = Node(node.op, inputs, node.backward, node.n_outputs)
                copy.scope = node.scope
                copies[node.id] = copy
                replaced[node.id] = [None] * node.n_outputs
    return [swap(t) for t in outputs], swap
