"""Fused functions: a chain of elementwise ops (and matrix products) recorded as one op.

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
too. The two recordings are turned into straight-line Python source, one function for the
forward and one for the backward, each line one array operation (``fused.source()``
shows them). Later calls run the generated forward on the arrays and record ONE node
whose backward runs the generated backward on the values the forward saved. The
arithmetic is the ops' own (the same array functions in the same order), so results are
the same as op by op.

What stays exact:

- gradients of gradients: a sweep with ``create_graph=True`` reaches a fused node, which
  then replays the function op by op on its inputs and differentiates the replay
  (recorded like any other backward rule);
- ``mg.viz`` draws a fused call as the ops it stands for (:func:`unfold`);
- ``detect_anomaly`` and ``with mg.unfused():`` run the function op by op, so anomalies
  are named by the op that made them and gate recorders see every gate.

The trade-off: only the ops listed in ``_EMIT`` can be fused (elementwise arithmetic and
functions, matrix products and transposes, ``chunk``/``split``/``concat``, and the sums
and reshapes that broadcasting's backward makes). A function using anything else
(indexing, ``abs`` or ``where``, whose backward reads a mask made beforehand) runs op by
op, with one warning saying why; so does one that reads a tensor's values into Python
(a branch on them would be frozen by the trace). The function must be pure and take
tensors only: its Python-level effects happen once per signature, when it is traced.
docs/engine.md has the whole story.
"""
from __future__ import annotations

import functools
import warnings

from . import backend as _backend
from .tensor import (Node, PendingProduct, Tensor, _Switch, _grad_mode, _next_id, _wrap,
                     backward_sweep, record, state)
from .ops import arithmetic as _arithmetic, elementwise as _elementwise

__all__ = ["fuse", "unfused", "Fused", "unfold"]


class unfused(_Switch):
    """``with mg.unfused():`` fused functions run op by op inside (every op recorded).

    Per thread (other threads keep fusing); can be entered again and nested."""
    __slots__ = ()
    attribute = "fusion"
    value = False


def fuse(fn):
    """Decorator: record ``fn``, a function of tensors made of elementwise ops and matrix
    products, as one op.

    ``fn`` takes tensors as positional arguments and returns a tensor or a tuple of
    tensors. See the module's docstring for what can be fused and what it costs.
    """
    return Fused(fn)


class Fused:
    """A function recorded as one op; programs are compiled per input signature."""
    CACHE_LIMIT = 64        # signatures kept per function (shapes change with the batch)

    def __init__(self, fn):
        functools.update_wrapper(self, fn)
        self.fn = fn
        self.name = getattr(fn, "__name__", "fused")
        self.programs = {}       # signature -> _Program, or None where fusing failed
        self.warned = False

    def __repr__(self):
        return f"<fused function {self.name}>"

    def __call__(self, *inputs):
        if not state.fusion or state.anomaly:
            return self.fn(*inputs)
        key = _signature(inputs, self.name)
        if len({*map(id, inputs)}) < len(inputs):
            # one tensor in two places: a replay (create_graph) could not tell the two
            # positions' partial derivatives apart, so this call runs op by op
            return self.fn(*inputs)
        try:
            program = self.programs[key]
        except KeyError:
            program = self._compile(key, inputs)
        if program is None:
            return self.fn(*inputs)
        arrays = [x.data for x in inputs]
        if not program.records:
            outputs = program.forward(*arrays)[0]
            return program.shape_result([_wrap(a, None, 0) for a in outputs])
        outputs, saved = program.forward(*arrays)
        backward = _FusedBackward(self, program, inputs, saved)
        if program.n_outputs == 1:
            return record(outputs[0], inputs, backward, self.name)
        return program.shape_result(
            record(outputs, inputs, backward, self.name, program.n_outputs))

    def _compile(self, key, inputs):
        if len(self.programs) >= self.CACHE_LIMIT:
            self.programs.pop(next(iter(self.programs)))
        try:
            program = _compile(self.fn, inputs, key[3::3])
        except _Unfusable as why:
            if not self.warned:
                warnings.warn(f"mg.fuse: {self.name} runs op by op: {why}",
                              RuntimeWarning, stacklevel=3)
                self.warned = True
            program = None
        self.programs[key] = program
        return program

    def source(self, *inputs):
        """The generated forward and backward code for these inputs (tensors)."""
        key = _signature(inputs, self.name)
        program = self.programs.get(key) or self._compile(key, inputs)
        if program is None:
            raise ValueError(f"fused function {self.name} cannot be fused for these inputs")
        return program.source


def _signature(inputs, name):
    """What a compiled program depends on: the backend, and each input's shape, dtype
    and whether it needs a gradient. Refuses arguments that are not tensors."""
    if not inputs:
        raise TypeError(f"fused function {name}: needs at least one tensor argument")
    grad_mode = state.grad_enabled
    key = [None]
    for x in inputs:
        if not isinstance(x, Tensor):
            raise TypeError(f"fused function {name}: arguments must be tensors, got "
                            f"{type(x).__name__} (fix other values with a closure or "
                            f"functools.partial)")
        data = x.data
        key += (data.shape, data.dtype, grad_mode and x.requires_grad)
    key[0] = type(inputs[0].data)
    return tuple(key)


class _FusedBackward:
    """A fused node's backward rule: the generated backward on the saved arrays, or,
    when the sweep is recorded (``create_graph``), the engine's sweep over a replay."""
    __slots__ = ("fused", "program", "inputs", "saved")

    def __init__(self, fused, program, inputs, saved):
        self.fused = fused
        self.program = program
        self.inputs = inputs
        self.saved = saved

    def __call__(self, grad):
        program = self.program
        grads = [grad] if program.n_outputs == 1 else grad
        if state.grad_enabled:
            return _replay_gradients(self.fused.fn, self.inputs, grads)
        arrays = [g.data if g is not None else _zeros_like(like)
                  for g, like in zip(grads, program.output_likes)]
        results = program.backward(*self.saved, *arrays)
        return [r if r is None or type(r) is PendingProduct else _wrap(r, None, 0)
                for r in results]

    def replay(self, inputs):
        """The function op by op on ``inputs``, as a list of outputs (for drawing)."""
        with unfused():
            return _as_list(self.fused.fn(*inputs))


def _zeros_like(like):
    shape, dtype, xp = like
    return xp.zeros(shape, dtype=dtype)


def _replay_gradients(fn, inputs, grads):
    """The partial derivatives of ``fn`` at ``inputs``, as recorded ops: run ``fn`` op by
    op and sweep back to the inputs (and no further). A tensor in two places gets its
    whole gradient in the first and None in the others (the sweep adds them up)."""
    with unfused():
        outputs = _as_list(fn(*inputs))
    swept = [(out, g) for out, g in zip(outputs, grads) if g is not None]
    targets = [x for x in inputs if x.requires_grad]
    if not swept or not targets:
        return (None,) * len(inputs)
    results = iter(backward_sweep([o for o, _ in swept], [g for _, g in swept], True, True,
                                  inputs=targets, stop_at_inputs=True))
    gradients, seen = [], set()
    for x in inputs:
        grad = next(results) if x.requires_grad else None
        gradients.append(None if id(x) in seen else grad)
        seen.add(id(x))
    return tuple(gradients)


def _as_list(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


# --------------------------------------------------------------------------- compiling

class _Unfusable(Exception):
    """Why a function cannot be fused (the message names the op)."""


def _split_axis(in_shape, piece_shapes):
    for axis, n in enumerate(in_shape):
        if piece_shapes[0][axis] != n:
            return axis
    raise _Unfusable("a split whose pieces keep the whole shape")


def _emit_split(args, in_shapes, out_shapes, parameters):
    axis = _split_axis(in_shapes[0], out_shapes)
    lead = ":, " * axis
    pieces, start = [], 0
    for shape in out_shapes:
        pieces.append(f"{args[0]}[{lead}{start}:{start + shape[axis]}]")
        start += shape[axis]
    return ", ".join(pieces)


def _emit_concat(args, in_shapes, out_shapes, parameters):
    out = out_shapes[0]
    axis = next((a for a, n in enumerate(in_shapes[0]) if n != out[a]), None)
    if axis is None:
        raise _Unfusable("a concat of one piece")
    return f"xp.concatenate([{', '.join(args)}], axis={axis})"


def _emit_sum(args, in_shapes, out_shapes, parameters):
    before, after = in_shapes[0], out_shapes[0]
    if after == ():
        return f"{args[0]}.sum()"
    if len(before) != len(after):
        raise _Unfusable("a sum without keepdims over some axes")
    axes = tuple(a for a, (n, m) in enumerate(zip(before, after)) if n != m)
    return f"{args[0]}.sum(axis={axes}, keepdims=True)"


# op name -> how to write it: a format string over the argument names, or a function of
# (argument names, input shapes, output shapes, the op's traced parameters). Each is
# exactly what the op computes.
_EMIT = {
    "add": "{0} + {1}", "sub": "{0} - {1}", "mul": "{0} * {1}", "div": "{0} / {1}",
    "pow": "{0} ** {1}", "neg": "-{0}",
    "exp": "xp.exp({0})", "log": "xp.log({0})", "sqrt": "xp.sqrt({0})",
    "tanh": "xp.tanh({0})", "sigmoid": "sigmoid_values(xp, {0})",
    "tanh_derivative": "tanh_derivative_values(xp, {0}, {1})",
    "sigmoid_derivative": "sigmoid_derivative_values(xp, {0}, {1})",
    "relu": "xp.maximum({0}, 0)", "relu_derivative": "relu_derivative_values(xp, {0}, {1})",
    "chunk": _emit_split, "split": _emit_split, "concat": _emit_concat, "sum": _emit_sum,
    "reshape": lambda args, ins, outs, parameters: f"{args[0]}.reshape({outs[0]})",
    "broadcast_to": lambda args, ins, outs, parameters:
        f"xp.broadcast_to({args[0]}, {outs[0]})",
    "transpose": lambda args, ins, outs, axes: f"{args[0]}.transpose({axes})",
    "matmul": "matmul_values({0}, {1})",
}


class _Program:
    """A compiled fused function for one input signature."""

    def __init__(self, forward, backward, source, records, n_outputs, output_likes,
                 as_tuple, names):
        self.forward = forward          # arrays -> (outputs, saved)
        self.backward = backward        # (*saved, *output grads) -> input grads or None
        self.source = source
        self.records = records          # whether a node is recorded (some input needs grad)
        self.n_outputs = n_outputs
        self.output_likes = output_likes  # (shape, dtype, xp) per output, for zero grads
        self.as_tuple = as_tuple
        # the generated code's names (inputs x0, x1, ...): what the forward returns and
        # saves, and each input's gradient expression ("None", "v7",
        # "PendingProduct(x1, v7)"); a scan (scanning.py) lays out its buffers by them
        self.output_names, self.saved_names, self.input_grads = names

    def shape_result(self, outputs):
        return tuple(outputs) if self.as_tuple else outputs[0]


class _Trace:
    """What the ops record while a function is traced: each node's output shapes, the
    parameters an op cannot be rebuilt without (a transpose's axes), and whether a
    tensor's values were read into Python."""

    def __init__(self):
        self.shapes = {}
        self.dtypes = {}
        self.parameters = {}
        self.read_values = False    # the function read a tensor's values into Python


def _compile(fn, inputs, wanted):
    """Trace ``fn`` at ``inputs`` and generate its forward and backward code."""
    xp = _backend.of(inputs[0].data).xp
    stand_ins = [Tensor(x.data, requires_grad=True) for x in inputs]
    trace = _Trace()
    outer = (state.scope, state.tracer, state.fusion)
    state.scope, state.tracer, state.fusion = "", trace, False
    try:
        with _grad_mode(True):
            result = fn(*stand_ins)
            if trace.read_values:
                raise _Unfusable("it reads tensor values into Python (.item(), if, ...): "
                                 "a trace would freeze what it saw at the first call")
            outputs = _as_list(result)
            _check_outputs(outputs)
            boundary = _next_id()       # forward nodes are numbered below, backward above
            reached = _reached_inputs(outputs, stand_ins, trace.shapes)
            targets = [x for x, want, hit in zip(stand_ins, wanted, reached) if want and hit]
            grad_ins = [Tensor(xp.ones_like(out.data), requires_grad=True) for out in outputs]
            try:
                grads = list(backward_sweep(outputs, grad_ins, True, True, inputs=targets,
                                            stop_at_inputs=True)) if targets else []
            except Exception as error:      # op by op, the same sweep would not record
                raise _Unfusable(f"its backward could not be recorded ({error})") from error
    finally:
        state.scope, state.tracer, state.fusion = outer

    # An input's gradient ``X.T @ G`` (a weight's, when the function multiplies by one)
    # is handed back unmultiplied, as the plain sweep's matmul does, so that the
    # products from every call reaching one weight are summed by one product.
    grad_of = {}
    for x, grad in zip(targets, grads):
        grad_of[id(x)] = _pending_factors(grad, trace) or grad
    needed = [t for grad in grad_of.values() for t in (grad if type(grad) is tuple else [grad])]

    leaf_names = {id(x): f"x{i}" for i, x in enumerate(stand_ins)}
    leaf_names.update({id(g): f"g{j}" for j, g in enumerate(grad_ins)})
    nodes = _nodes(outputs + needed, trace.shapes)
    number = {node.id: k for k, node in enumerate(nodes)}

    def name_of(tensor, reader):
        if tensor.node is None:
            if id(tensor) not in leaf_names:
                raise _Unfusable(f"its '{reader}' reads a tensor that is neither an "
                                 f"argument nor computed from them (pass a tensor in as "
                                 f"an argument; a backward rule's mask or zeros, as for "
                                 f"an unused chunk piece, cannot be fused)")
            return leaf_names[id(tensor)]
        if tensor.node.id not in number:
            raise _Unfusable(f"its '{reader}' reads a tensor computed outside it "
                             f"(pass it in as an argument)")
        k = number[tensor.node.id]
        return f"v{k}" if tensor.node.n_outputs == 1 else f"v{k}_{tensor.output_index}"

    constants = {}
    forward_lines, backward_lines = [], []
    in_forward = {f"x{i}" for i in range(len(stand_ins))}
    saved = []          # forward values the backward reads, in order of first use

    def read_in_backward(name):
        if name in in_forward and name not in saved:
            saved.append(name)

    for k, node in enumerate(nodes):
        emit = _EMIT.get(node.op)
        if emit is None:
            raise _Unfusable(f"op '{node.op}' has no fused form")
        args, in_shapes, likes = [], [], []
        for operand in node.inputs:
            if isinstance(operand, Tensor):
                args.append(name_of(operand, node.op))
                in_shapes.append(operand.shape)
                likes.append((operand.shape, operand.dtype))
            else:
                args.append(f"c{len(constants)}")
                constants[args[-1]] = operand
                likes.append(None)
        expression = emit.format(*args) if isinstance(emit, str) else \
            emit(args, in_shapes, trace.shapes[node.id], trace.parameters.get(node.id))
        results = [f"v{k}"] if node.n_outputs == 1 else \
            [f"v{k}_{i}" for i in range(node.n_outputs)]
        line = _Line(results, expression, args, node.op, likes,
                     (trace.shapes[node.id][0], trace.dtypes[node.id]))
        if node.id < boundary:
            forward_lines.append(line)
            in_forward.update(results)
        else:
            backward_lines.append(line)
            for name in args:
                read_in_backward(name)

    output_names = [name_of(out, "output") for out in outputs]
    input_grads = []
    for x in stand_ins:
        grad = grad_of.get(id(x))
        if grad is None:
            input_grads.append("None")
            continue
        names = [name_of(t, "gradient") for t in (grad if type(grad) is tuple else [grad])]
        for name in names:
            read_in_backward(name)
        input_grads.append(f"PendingProduct({names[0]}, {names[1]})" if len(names) == 2
                           else names[0])

    source = [f"def forward({', '.join(f'x{i}' for i in range(len(stand_ins)))}):"]
    forward_kept = {*output_names, *saved, *constants}
    _write_in_place(forward_lines, forward_kept)
    source += _freeing_as_it_goes(forward_lines, forward_kept)
    source.append(f"    return ({''.join(n + ', ' for n in output_names)}), "
                  f"({''.join(n + ', ' for n in saved)})")
    records = any(wanted)
    if records:
        source.append("")
        grad_args = [f"g{j}" for j in range(len(outputs))]
        source.append(f"def backward({', '.join(saved + grad_args)}):")
        backward_kept = {*(n for names in input_grads for n in _names_in(names)), *constants}
        _write_in_place(backward_lines, backward_kept)
        source += _freeing_as_it_goes(backward_lines, backward_kept)
        source.append(f"    return ({''.join(n + ', ' for n in input_grads)})")
    source = "\n".join(source) + "\n"
    namespace = dict(constants, xp=xp, PendingProduct=PendingProduct, **_KERNELS)
    exec(compile(source, f"<fused {getattr(fn, '__name__', 'function')}>", "exec"), namespace)
    return _Program(namespace["forward"], namespace.get("backward"), source, records,
                    len(outputs), [(out.shape, out.dtype, xp) for out in outputs],
                    isinstance(result, (tuple, list)), (output_names, saved, input_grads))


class _Line:
    """One line of generated code: ``results = expression``, reading ``args``."""
    __slots__ = ("results", "expression", "args", "op", "likes", "like")

    def __init__(self, results, expression, args, op, likes, like):
        self.results = results
        self.expression = expression
        self.args = args
        self.op = op
        self.likes = likes      # per argument (shape, dtype), None for a constant
        self.like = like        # the (first) result's (shape, dtype)


# Ops that are one ufunc, so ``out=`` can name an operand's memory; and ops whose result
# is a view of their first operand's memory (the rest make new arrays).
_UFUNCS = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "divide",
           "neg": "negative", "exp": "exp", "log": "log", "sqrt": "sqrt", "tanh": "tanh"}
_VIEWS = {"chunk", "split", "reshape", "broadcast_to", "transpose"}


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
        if line.op in _VIEWS:
            source = owner.get(line.args[0])
            if source is not None:
                for name in line.results:
                    owner[name] = source
                    sharing[source].append(name)
            continue
        target = None
        if line.op in _UFUNCS and line.like[0] != ():
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
            line.expression = f"xp.{_UFUNCS[line.op]}({', '.join(line.args)}, out={target})"
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
        reads = line.args
        text.append(f"    {', '.join(line.results)} = {line.expression}")
        dead = sorted({name for name in reads if last_use[name] == number and name not in kept})
        if dead:
            text.append(f"    del {', '.join(dead)}")
    return text


def _names_in(expression):
    """The variable names in a return entry (``v3``, or ``PendingProduct(v1, v2)``)."""
    if expression.startswith("PendingProduct("):
        return expression[len("PendingProduct("):-1].split(", ")
    return [expression]


def _pending_factors(grad, trace):
    """``(X, G)`` when ``grad`` was made as ``X.T @ G`` of two matrices, else None."""
    node = grad.node
    if node is None or node.op != "matmul" or grad.ndim != 2:
        return None
    left, right = node.inputs
    if left.node is None or left.node.op != "transpose" or left.node.id not in trace.shapes \
            or trace.parameters.get(left.node.id) != (1, 0) or right.ndim != 2:
        return None
    return left.node.inputs[0], right


_KERNELS = {"matmul_values": _arithmetic.matmul_values,
            "sigmoid_values": _elementwise.sigmoid_values,
            "tanh_derivative_values": _elementwise.tanh_derivative_values,
            "sigmoid_derivative_values": _elementwise.sigmoid_derivative_values,
            "relu_derivative_values": _elementwise.relu_derivative_values}


def _check_outputs(outputs):
    for out in outputs:
        if not isinstance(out, Tensor):
            raise _Unfusable(f"it returns a {type(out).__name__}, not tensors")
        if out.node is None:
            raise _Unfusable("it returns an argument or a constant unchanged")
    if len({id(out) for out in outputs}) < len(outputs):
        raise _Unfusable("it returns one tensor twice")


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


def _reached_inputs(outputs, stand_ins, traced):
    """For each stand-in, whether the outputs depend on it."""
    seen = set()
    for node in _nodes(outputs, traced):
        seen.update(id(x) for x in node.inputs if isinstance(x, Tensor))
    return [id(x) in seen for x in stand_ins]


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
