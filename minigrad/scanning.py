"""Scans: a recurrence over a whole sequence recorded as ONE op, its memory reused.

``mg.fuse`` makes one time step one op. A sequence of ``T`` steps is still ``T`` nodes,
``T`` sets of saved arrays with a Python object each, and at the end copies that join
the per-step pieces: the outputs stacked for the layer, the gate gradients stacked for
the input projection's gradient and joined again for the weights' one product. The
hand-written LSTM has none of that: it writes every step into buffers made once, and
reuses the input projection's memory, first for the gate activations and then for their
gradients. ``mg.scan`` does the same for any fusable step::

    history, final = mg.scan(step, init, xs, params,
                             prepare=project, prepare_params=project_params)

runs ``carry = step(x_t, *carry, *params)`` for ``x_t`` in ``project(xs,
*project_params)`` (or in ``xs``), starting from ``init``, and returns every step's carry
stacked, ``(T, ...)`` per part, and the last one. With ``mask=`` (``(T, B)``) a step
leaves the masked rows' carry as it was: packed sequences of different lengths.

How. ``step`` and ``prepare`` are compiled as fused functions are (fusion.py: traced
once per signature into straight-line forward and backward code). The scan then lays
out the memory itself:

- each carry part lives in one ``(T + 1, ...)`` buffer; the history returned is a view
  of it, not a stacked copy, and a step's carry in and out are slots of it;
- what a step's backward reads is copied into ``(T, ...)`` buffers. When ``prepare``
  made the sequence, its slice for step ``t`` is read by that step alone, so those
  buffers are cut from it (an LSTM's four gate activations fill its projection);
- the backward loop writes each step's ``x_t`` gradient over that same slice (read by
  nothing after it), so the whole sequence's gradient is one array, ready for
  ``prepare``'s backward and for a weight's one product ``H^T G`` over all steps, with
  no copy.

What stays exact: the arithmetic is the step's own ops, as with ``mg.fuse``; a sweep that
keeps the graph (``retain_graph``) leaves the saved values alone and writes gradients
into a fresh buffer; ``create_graph`` and ``mg.viz`` replay the loop op by op; so do
``mg.unfused()`` and ``detect_anomaly``. The weights' gradient is one product over all
steps where op by op it is summed in groups, so it differs in the last bits.

The trade-off: the step and ``prepare`` must be fusable and take their tensors as
arguments (a step that cannot be fused runs op by op, with one warning). docs/engine.md
has the whole story.
"""
from __future__ import annotations

import warnings

from . import backend as _backend
from .products import PendingProduct, materialized
from .modes import scope, state
from .tensor import Tensor, _wrap, record
from . import fusion as _fusion
from .fusion import Pending, Value

__all__ = ["scan"]


def scan(step, init, xs, params=(), *, prepare=None, prepare_params=(), mask=None,
         reverse=False, fuse=True):
    """Run ``step`` over a sequence, recorded as one op.

    Parameters
    ----------
    step : callable
        ``step(x_t, *carry, *params)`` returns the next carry: a tensor when ``init`` is
        one, else a tuple like ``init`` (each part keeps its shape and dtype).
    init : Tensor or tuple of Tensor
        The carry before the first step.
    xs : Tensor
        The sequence, ``(T, ...)``: ``step`` gets ``xs[t]`` (or ``prepare``'s output's).
    params : sequence of Tensor
        Further arguments of every step (weights).
    prepare : callable, optional
        ``prepare(xs, *prepare_params)`` returns the ``(T, ...)`` tensor whose slices
        the steps read (an input projection: one product for all steps). The scan owns
        its result and reuses the memory.
    prepare_params : sequence of Tensor
    mask : bool array or Tensor ``(T, B)``, optional
        Where ``mask[t, b]`` is false, step ``t`` leaves row ``b`` of every carry part
        as it was (packed sequences: the steps past a sequence's end). Each carry part's
        first axis is the batch.
    reverse : bool
        Run from the last step to the first.
    fuse : bool
        False: run ``step`` and ``prepare`` op by op, every op recorded, without trying
        to compile them and without a warning (for steps that read tensors other than
        their arguments: a module's own parameters, say).

    Returns
    -------
    history : Tensor or tuple of Tensor
        Each carry part after every step, in time order, ``(T, ...)``.
    final : Tensor or tuple of Tensor
        The carry after the last step run (step ``0`` when ``reverse``).
    """
    single = isinstance(init, Tensor)
    carry = (init,) if single else tuple(init)
    params, prepare_params = tuple(params), tuple(prepare_params)
    _check_tensors(xs, carry, params, prepare_params)
    if mask is not None:
        mask = _Mask(mask, carry)
    result = None
    if fuse and state.fusion and not state.anomaly:
        try:
            result = _run(step, carry, xs, params, prepare, prepare_params, mask, reverse)
        except _fusion.Unfusable as why:
            key = (step, prepare)
            if key not in _WARNED:
                _WARNED.add(key)
                warnings.warn(f"mg.scan: {why}", RuntimeWarning, stacklevel=2)
    if result is None:
        result = _op_by_op(step, carry, xs, params, prepare, prepare_params, mask, reverse,
                           single)
    histories, finals = result
    return (histories[0], finals[0]) if single else (tuple(histories), tuple(finals))


_WARNED = set()


def _check_tensors(xs, carry, params, prepare_params):
    for name, values in (("xs", (xs,)), ("init", carry), ("params", params),
                         ("prepare_params", prepare_params)):
        for value in values:
            if not isinstance(value, Tensor):
                raise TypeError(f"scan: {name} must be tensors, got {type(value).__name__}")
    if not carry:
        raise ValueError("scan: init must hold at least one tensor")


def _op_by_op(step, carry, xs, params, prepare, prepare_params, mask, reverse, single):
    """The scan as a plain loop, every op recorded (also the replay of a scanned node)."""
    from .ops import stack, unbind, where
    sequence = xs if prepare is None else prepare(xs, *prepare_params)
    _check_steps(sequence.shape)
    if mask is not None:
        mask.check_steps(sequence.shape[0])
    inputs = unbind(sequence, axis=0)
    steps = len(inputs)
    history = [None] * steps
    for t in (range(steps - 1, -1, -1) if reverse else range(steps)):
        with scope(f"t{t}"):
            new = step(inputs[t], *carry, *params)
            new = (new,) if single else tuple(new)
            _check_carry([(x.shape, x.dtype) for x in new], carry)
            if mask is not None and not mask.full[t]:
                new = tuple(where(mask.rows(t, x.ndim), n, x) for n, x in zip(new, carry))
        history[t] = carry = new
    histories = [stack([parts[k] for parts in history], axis=0) for k in range(len(carry))]
    return histories, list(carry)


def _check_steps(shape):
    if len(shape) < 1 or shape[0] == 0:
        raise ValueError(f"scan: the sequence must be (T, ...) with T >= 1, got shape {shape}")


class _Mask:
    """A scan's ``(T, B)`` mask, and which steps it leaves whole (read once, on the host,
    so that the loops branch without asking the device)."""

    def __init__(self, mask, carry):
        like = carry[0]
        array = mask.data if isinstance(mask, Tensor) else mask
        if type(array) is not type(like.data):
            raise TypeError(f"scan: mask must be a bool array or tensor on the carry's "
                            f"backend ({like.backend}), got {type(mask).__name__}")
        batch = like.shape[0] if like.ndim else None
        if array.ndim != 2 or any(x.ndim == 0 or x.shape[0] != array.shape[1]
                                  for x in carry):
            raise ValueError(f"scan: mask must be (T, B) with B the carry's first axis "
                             f"({batch}), got shape {array.shape}")
        self.array = array.astype(bool, copy=False)
        self.full = [bool(v) for v in _backend.of(array).to_host(self.array.all(axis=1))]

    def check_steps(self, steps):
        if self.array.shape[0] != steps:
            raise ValueError(f"scan: mask has {self.array.shape[0]} steps, the sequence "
                             f"{steps}")

    def rows(self, t, ndim):
        """Step ``t``'s mask shaped to broadcast over a carry part of ``ndim`` axes."""
        row = self.array[t]
        return row.reshape(row.shape + (1,) * (ndim - 1))


# --------------------------------------------------------------------------- programs

def _program(fn, inputs, wanted):
    """``fn`` compiled for these inputs (fusion.py's one program cache)."""
    try:
        return _fusion.PROGRAMS.get(fn, inputs, wanted)
    except _fusion.Unfusable as why:
        raise _fusion.Unfusable(f"{getattr(fn, '__name__', 'a function')} runs op by op: "
                                f"{why}") from None


def _run(step, carry, xs, params, prepare, prepare_params, mask, reverse):
    """The fused scan; raises ``Unfusable`` for the caller to run it op by op."""
    inputs = (xs, *carry, *prepare_params, *params)
    records = state.grad_enabled and any(t.requires_grad for t in inputs)
    xp = xs.xp
    if prepare is None:
        prep, prep_saved, owned = None, (), False
        sequence = xs.data
        sequence_wanted = records and xs.requires_grad
    else:
        prep_inputs = (xs, *prepare_params)
        prep = _program(prepare, prep_inputs, [records and t.requires_grad for t in prep_inputs])
        if prep.n_outputs != 1:
            raise ValueError(f"scan: prepare must return one tensor, got {prep.n_outputs}")
        (sequence,), prep_saved = prep.forward(*[t.data for t in prep_inputs])
        sequence_wanted = records and any(t.requires_grad for t in prep_inputs)
        # the scan overwrites this memory: it must be nobody else's (prepare may return
        # a view of its input, or keep its result for its own backward)
        if any(xp.may_share_memory(sequence, a)
               for a in (*(t.data for t in prep_inputs), *prep_saved)):
            sequence = sequence.copy()
        owned = True
    _check_steps(sequence.shape)
    if mask is not None:
        mask.check_steps(sequence.shape[0])
    step_inputs = (Tensor(sequence[0]), *carry, *params)
    program = _program(step, step_inputs,
                       [sequence_wanted] + [records] * len(carry)
                       + [records and p.requires_grad for p in params])
    _check_carry([(shape, dtype) for shape, dtype, _ in program.output_likes], carry)
    layout = _Layout(program, len(carry), mask, reverse)
    histories, stores = layout.forward(sequence, carry, params, records, owned)
    steps = sequence.shape[0]
    outputs = [h[:steps] if reverse else h[1:] for h in histories]
    # the final carry is a copy: a caller keeping it (to carry the state on to the next
    # batch) should not keep the whole history alive
    outputs += [(h[0] if reverse else h[steps]).copy() for h in histories]
    if not records:
        return [_wrap(a, None, 0) for a in outputs[:len(carry)]], \
            [_wrap(a, None, 0) for a in outputs[len(carry):]]
    backward = _ScanBackward(step, prepare, layout, prep, prep_saved, sequence,
                             owned, sequence_wanted, histories, stores,
                             [p.data for p in params], inputs, len(carry))
    tensors = record(outputs, inputs, backward, "scan", n_outputs=len(outputs))
    return tensors[:len(carry)], tensors[len(carry):]


def _check_carry(made, carry):
    """``made``, the step's results as (shape, dtype), must match the carry."""
    shapes = [(x.shape, x.dtype) for x in carry]
    if made != shapes:
        raise ValueError(f"scan: step returns {len(made)} tensor(s) of shape and dtype "
                         f"{made}, but the carry is {len(shapes)} of {shapes}")


class _Layout:
    """Where a scan keeps every value a step reads: the program's saved values mapped
    to buffers.

    A saved value is one of the step's inputs (input 0 the sequence slice, then the carry
    parts, then the params), one of its outputs (the carry after the step), or a
    temporary, copied each step into a ``(T, ...)`` store."""

    def __init__(self, program, n_carry, mask, reverse):
        self.program = program
        self.n_carry = n_carry
        self.mask = mask
        self.before, self.after = (1, 0) if reverse else (0, 1)
        self.reverse = reverse
        self.saved = []             # per saved value: (kind, index)
        self.temporaries = []       # positions in the saved tuple of the temporaries
        for position, (kind, index) in enumerate(program.saved):
            if kind == "input" and index == 0:
                self.saved.append(("sequence", 0))
            elif kind == "input" and index <= n_carry:
                self.saved.append(("carry", index - 1))
            elif kind == "input":
                self.saved.append(("param", index - 1 - n_carry))
            elif kind == "output":
                self.saved.append(("carry_out", index))
            else:
                self.saved.append(("store", len(self.temporaries)))
                self.temporaries.append(position)

    def forward(self, sequence, carry, params, records, owned):
        """Run every step: ``(carry buffers (T + 1, ...), temporaries' stores)``."""
        xp = carry[0].xp
        steps = sequence.shape[0]
        histories = [xp.empty((steps + 1,) + x.shape, dtype=x.dtype) for x in carry]
        start = steps if self.reverse else 0
        for history, x in zip(histories, carry):
            history[start] = x.data
        param_data = [p.data for p in params]
        forward = self.program.forward
        before, after = self.before, self.after
        temporaries = self.temporaries if records else ()
        mask = self.mask
        stores = None
        for t in (range(steps - 1, -1, -1) if self.reverse else range(steps)):
            outputs, saved = forward(sequence[t], *[h[t + before] for h in histories],
                                     *param_data)
            if mask is None or mask.full[t]:
                for history, out in zip(histories, outputs):
                    history[t + after] = out
            else:           # the masked rows keep their carry
                for history, out in zip(histories, outputs):
                    history[t + after] = xp.where(mask.rows(t, out.ndim), out,
                                                  history[t + before])
            if temporaries:
                if stores is None:
                    stores = self._stores(xp, sequence, [saved[j] for j in temporaries],
                                          owned)
                for store, j in zip(stores, temporaries):
                    store[t] = saved[j]
        return histories, stores or []

    def _stores(self, xp, sequence, first, owned):
        """A ``(T, ...)`` store per temporary, cut from the sequence's memory where its
        slices are free after their step (the sequence is the scan's own, the step's
        backward does not read it, and no temporary is a view of it)."""
        steps = sequence.shape[0]
        free = 0
        if owned and ("sequence", 0) not in self.saved and sequence.flags.c_contiguous \
                and not any(xp.may_share_memory(a, sequence) for a in first):
            free = sequence[0].size
            flat = sequence.reshape(steps, free)
        stores, offset = [], 0
        for a in first:
            store = None
            if a.dtype == sequence.dtype and offset + a.size <= free:
                store = flat[:, offset:offset + a.size].reshape((steps,) + a.shape)
                if xp.may_share_memory(store, sequence):      # a view, not a copy
                    offset += a.size
                else:
                    store = None
            stores.append(store if store is not None
                          else xp.empty((steps,) + a.shape, dtype=a.dtype))
        return stores


class _ScanBackward:
    """A scan node's backward rule: the step's generated backward from the last step
    to the first, then ``prepare``'s; or, in a recorded sweep, the sweep over a replay."""

    def __init__(self, step, prepare, layout, prep, prep_saved, sequence, owned,
                 sequence_wanted, histories, stores, param_data, inputs, n_carry):
        self.step, self.prepare = step, prepare
        self.layout = layout
        self.prep, self.prep_saved = prep, prep_saved
        self.sequence, self.owned, self.sequence_wanted = sequence, owned, sequence_wanted
        self.histories, self.stores, self.param_data = histories, stores, param_data
        self.inputs = inputs
        self.n_carry = n_carry

    def replay(self, inputs):
        """The scan op by op on ``inputs`` (the node's), as a flat list of outputs."""
        n = self.n_carry
        xs, carry = inputs[0], inputs[1:1 + n]
        n_prepare = len(inputs) - 1 - n - len(self.param_data)
        prepare_params = inputs[1 + n:1 + n + n_prepare]
        params = inputs[1 + n + n_prepare:]
        layout = self.layout
        with _fusion.unfused():
            histories, finals = _op_by_op(self.step, carry, xs, params, self.prepare,
                                          prepare_params, layout.mask, layout.reverse,
                                          single=not layout.program.as_tuple)
        return histories + finals

    def __call__(self, grads, keep_graph):
        if state.grad_enabled:          # create_graph: differentiate a recorded replay
            return _fusion.replay_gradients(lambda *xs: self.replay(xs), self.inputs, grads)
        return self._sweep([g.data if g is not None else None for g in grads], keep_graph)

    def _sweep(self, grads, keep_graph):
        layout, n = self.layout, self.n_carry
        program = layout.program
        sequence = self.sequence
        xp = _backend.of(sequence).xp
        steps = sequence.shape[0]
        through_history, carried = grads[:n], grads[n:]
        # the sequence's memory takes its gradient, unless the graph is kept for another
        # sweep (which reads the saved temporaries there again)
        grad_sequence = None
        if self.sequence_wanted:
            grad_sequence = sequence if self.owned and not keep_graph \
                else xp.empty_like(sequence)
        sources = self._sources()
        param_grads = program.input_grads[1 + n:]
        whole = self._whole_sequence_products(grad_sequence)
        totals = [None] * len(param_grads)
        zeros = [None] * n
        mask = layout.mask
        backward = program.backward
        for t in (range(steps) if layout.reverse else range(steps - 1, -1, -1)):
            grad_out = []
            for k in range(n):
                g, h = carried[k], through_history[k]
                if h is not None:
                    g = h[t] if g is None else g + h[t]
                if g is None:
                    g = zeros[k]
                    if g is None:
                        history = self.histories[k]
                        g = zeros[k] = xp.zeros(history.shape[1:], dtype=history.dtype)
                grad_out.append(g)
            kept = None
            if mask is not None and not mask.full[t]:
                # a masked row's carry went around the step: its gradient does too
                rows = [mask.rows(t, g.ndim) for g in grad_out]
                kept = [xp.where(m, 0, g) for m, g in zip(rows, grad_out)]
                grad_out = [xp.where(m, g, 0) for m, g in zip(rows, grad_out)]
            results = backward(*[a if o is None else a[t + o] for a, o in sources],
                               *grad_out)
            if grad_sequence is not None:
                grad_sequence[t] = 0 if results[0] is None else _array(results[0])
            carried = [_array(r) for r in results[1:1 + n]]
            if kept is not None:
                carried = [k if c is None else c + k for c, k in zip(carried, kept)]
            for j, r in enumerate(results[1 + n:]):
                if r is None or j in whole:
                    continue
                r = _array(r)
                if totals[j] is None:
                    totals[j] = r.copy()
                else:
                    totals[j] += r
        for j, product in whole.items():
            totals[j] = product
        if self.prep is None:
            sequence_grads = [grad_sequence]
        elif grad_sequence is None:
            sequence_grads = [None] * len(self.prep.input_grads)
        else:
            sequence_grads = list(self.prep.backward(*self.prep_saved, grad_sequence))
        results = [sequence_grads[0], *carried, *sequence_grads[1:], *totals]
        return [r if r is None or type(r) is PendingProduct else _wrap(r, None, 0)
                for r in results]

    def _sources(self):
        """Per saved name: ``(array, offset)``, step ``t`` reading ``array[t + offset]``
        (offset None: the array itself)."""
        layout = self.layout
        sources = []
        for kind, index in layout.saved:
            if kind == "sequence":
                sources.append((self.sequence, 0))
            elif kind == "carry":
                sources.append((self.histories[index], layout.before))
            elif kind == "carry_out":
                sources.append((self.histories[index], layout.after))
            elif kind == "param":
                sources.append((self.param_data[index], None))
            else:
                sources.append((self.stores[index], 0))
        return sources

    def _whole_sequence_products(self, grad_sequence):
        """Params whose gradient is ``carry_k^T @ (x_t's gradient)`` at every step (a
        recurrent weight's): param index -> that product over all steps at once, read
        from the carry's buffer and the sequence's gradient without a copy."""
        program, n = self.layout.program, self.n_carry
        grad_x = program.input_grads[0]
        if grad_sequence is None or grad_x is None or grad_sequence.ndim != 3 \
                or not grad_sequence.flags.c_contiguous:
            return {}
        steps = grad_sequence.shape[0]
        whole = {}
        for j, expression in enumerate(program.input_grads[1 + n:]):
            for k in range(n):
                history = self.histories[k]
                if expression == Pending(Value("input", k + 1), grad_x) and history.ndim == 3:
                    start = self.layout.before
                    left = history[start:start + steps].reshape(-1, history.shape[-1])
                    whole[j] = PendingProduct(
                        left, grad_sequence.reshape(-1, grad_sequence.shape[-1]))
        return whole


_array = materialized
