"""Pictures of the recorded computation: :func:`graph` and :func:`render`.

:func:`graph` walks the tape back from some outputs (an explicit work list, never
recursion) and returns a ``graphviz.Digraph``: notebooks display it, ``.source`` is its
DOT text, :func:`render` writes it as SVG, PNG, PDF or DOT.

What is drawn
-------------
* **ops** as small white ellipses labelled with the op (``σ``, ``tanh``, ``×``, ``matmul``)
  and, with ``show_shapes``, the shape they produce;
* **tensors**: parameters (leaves that require grad), inputs (leaves that do not),
  recurrent states (leaves passed as ``states=``, named as ``state_names`` says, or the
  unnamed initial carry of a loop: ``init`` of an ``mg.scan``) and the outputs, each with
  its own shape and colour, labelled with the tensor's name (from ``names=``, a
  parameter's module path such as ``encoder.weight_hh_l0``, or ``name=``), shape and
  dtype. Intermediate tensors are drawn where they add something: named ones, and a
  scope's results (the tensors that leave the scope they were made in);
* each ``mg.scope`` as a labelled, coloured cluster, nested as the scopes nest (the
  caller says which scope gets which colour: ``scope_colours``), and a small legend of the
  kinds that occur.

Large graphs
------------
Whole models unrolled over many steps give thousands of nodes, which Graphviz takes
minutes to lay out and nobody can read. When a drawing would have more than
``max_nodes`` nodes, :func:`graph` folds what repeats, one level at a time, until it
fits: first the time steps (steps are scopes ``t0``, ``t1``, ...; all but the first run
of each loop become one "× k more steps" node, as ``max_steps=1``), then sibling scopes
that repeat an earlier sibling's ops (the second layer, the reverse direction) become
one node each. The picture then says what was folded and how to draw everything
(``max_nodes=None``), and a :class:`GraphFolded` warning says the same.

The drawing is deterministic: nodes are numbered in recording order, never by ``id()``,
so the same computation gives the same DOT text. Python numbers an op was given (the
``1`` of ``1 - f``) are written into the op's label instead of becoming nodes.
"""
from __future__ import annotations

import html
import os
import re
import tempfile
import warnings
import zlib

from .fusion import unfold
from .serialization import current_umask
from .tensor import Tensor

__all__ = ["graph", "render", "GraphvizNotFound", "GraphFolded", "MAX_NODES"]


class GraphvizNotFound(RuntimeError):
    """Graphviz's ``dot`` program is missing; :func:`render` wrote the DOT source instead."""


class GraphFolded(UserWarning):
    """:func:`graph` folded repeated steps or scopes to keep a large graph readable."""


# Past this many nodes Graphviz's layout takes more than a few seconds (a recurrent
# model unrolled into 1,000 nodes took minutes) and nobody can read the picture.
MAX_NODES = 300


INSTALL_HINT = ("install Graphviz's `dot` program: `apt-get install graphviz` "
                "(Debian/Ubuntu), `brew install graphviz` (macOS), `conda install graphviz`, "
                "or see https://graphviz.org/download/")

_FONT = "Helvetica"
_STEP = re.compile(r"^(?:t|step)[_-]?(\d+)$")     # a sequence layer's per-step scope
_SUBSCRIPTED = re.compile(r"^([A-Za-z])_([A-Za-z0-9]+)$")
# Leaves drawn as states by default: names any recurrence uses (``state``, ``carry_0``,
# ``x_prev``). A model family passes its own (``state_names=``).
_STATE_NAMES = re.compile(r"^(?:state|carry)(?:_|\d|$)|_prev$")

# How each op is written: a symbol where one is standard, the op's name otherwise.
_SYMBOL = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^", "neg": "−x",
           "sigmoid": "σ", "matmul": "matmul", "transpose": "ᵀ", "getitem": "[ ]"}
_FOLDED_TEXT = {"transpose": "T", "reshape": "reshape", "broadcast_to": "broadcast"}
_TRIVIAL = set(_FOLDED_TEXT)          # ops drawn as a label on an edge when folded
_INFIX = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^"}

# Node styles, one per kind of thing; the legend shows the same ones.
_STYLE = {
    "parameter": dict(shape="box", style="rounded,filled", fillcolor="#ffe0b2",
                      color="#e65100"),
    "input": dict(shape="parallelogram", style="filled", fillcolor="#bbdefb",
                  color="#1565c0"),
    "state": dict(shape="cylinder", style="filled", fillcolor="#e1bee7", color="#6a1b9a"),
    "output": dict(shape="parallelogram", style="filled,bold", fillcolor="#c8e6c9",
                   color="#2e7d32", peripheries="2"),
    "tensor": dict(shape="box", style="filled", fillcolor="#fafafa", color="#9e9e9e",
                   fontsize="10", height="0.3", margin="0.06,0.03"),
    "op": dict(shape="ellipse", style="filled", fillcolor="white", color="#424242",
               height="0.32", margin="0.04,0.02"),
    "collapsed": dict(shape="box3d", style="filled", fillcolor="#eeeeee", color="#616161"),
    "steps": dict(shape="folder", style="filled,dashed", fillcolor="#f5f5f5",
                  color="#616161"),
}
_LEGEND_TEXT = {"parameter": "parameter", "input": "input", "state": "state",
                "output": "output", "tensor": "intermediate", "op": "op",
                "collapsed": "collapsed scope", "steps": "folded steps"}
_HIGHLIGHT = dict(color="#6a1b9a", penwidth="2.6", weight="8")

# Cluster colours (fill, border): the caller's ``scope_colours`` first, then these
# (what the engine itself scopes: a recorded backward sweep), then a colour from a fixed
# palette picked by a checksum of the scope's name (stable across runs).
_SCOPE_COLOURS = {"backward": ("#fbe9e7", "#bf360c")}
_STEP_COLOURS = ("#fafafa", "#9e9e9e")
_PALETTE = [("#f1f8e9", "#558b2f"), ("#e8eaf6", "#283593"), ("#fce4ec", "#ad1457"),
            ("#e0f7fa", "#00838f"), ("#fff3e0", "#e65100"), ("#efebe9", "#4e342e")]


def _colour_rule(scope_colours):
    """``colours(name) -> (fill, border)`` for a scope's own name (its last part)."""
    given = dict(scope_colours or {})
    for key, value in given.items():
        if not (isinstance(key, str) and isinstance(value, (tuple, list)) and len(value) == 2):
            raise ValueError(f"viz.graph: scope_colours maps a scope name to a (fill, border) "
                             f"pair of colours, got {key!r}: {value!r}")
    tables = [given, _SCOPE_COLOURS]

    def colours(name):
        if _STEP.match(name):
            return _STEP_COLOURS
        for table in tables:          # an exact name beats a part of one
            if name in table:
                return tuple(table[name])
        for table in tables:
            for key, value in table.items():
                if key in name:
                    return tuple(value)
        return _PALETTE[zlib.crc32(name.encode()) % len(_PALETTE)]
    return colours


def _state_rule(state_names):
    """``is_state(name) -> bool`` from a predicate, a regex (searched) or a set of names."""
    if state_names is None:
        state_names = _STATE_NAMES
    if isinstance(state_names, str):
        state_names = re.compile(state_names)
    if isinstance(state_names, re.Pattern):
        return lambda name: state_names.search(name) is not None
    if callable(state_names):
        return state_names
    names = frozenset(state_names)
    return names.__contains__


def _parameter_names(names):
    """``{id(tensor): label}`` from a Module, a mapping ``name -> tensor`` or pairs."""
    if names is None:
        return {}
    if hasattr(names, "named_parameters"):
        names = names.named_parameters()
    elif hasattr(names, "items"):
        names = names.items()
    labels = {}
    for name, tensor in names:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"viz.graph: names must map names to tensors, got {name!r}: "
                            f"{type(tensor).__name__}")
        labels.setdefault(id(tensor), str(name))
    return labels


def _pretty_scope(name):
    return name.replace("_", " ")


def _shape_text(shape):
    return "×".join(str(n) for n in shape) if shape else "scalar"


def _number_text(value):
    return f"{value:g}" if isinstance(value, float) else str(value)


def _name_html(name):
    """``x_t`` as x with subscript t (one-letter names read as maths); others verbatim."""
    match = _SUBSCRIPTED.match(name)
    if match:
        return f"{html.escape(match.group(1))}<sub>{html.escape(match.group(2))}</sub>"
    return html.escape(name)


def _html(bold, detail=None, detail_size=10, subscript=False):
    """A label: the bold name over a small grey detail line (a table, so a subscript in
    the name never runs into the line below)."""
    name = _name_html(bold) if subscript else html.escape(bold)
    if not detail:
        return f"<<b>{name}</b>>"
    return (f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="0">'
            f"<tr><td><b>{name}</b></td></tr>"
            f'<tr><td><font point-size="{detail_size}" color="#555555">'
            f"{html.escape(detail)}</font></td></tr></table>>")


def _parent(path):
    return path.rpartition("/")[0]


# --------------------------------------------------------------------------- walking

def _collect(outputs):
    """The nodes the outputs depend on, in recording order (explicit stack, a seen set)."""
    seen = set()
    nodes = []
    work = [t.node for t in outputs if t.node is not None]
    while work:
        node = work.pop()
        if node.id in seen:
            continue
        if node.backward is None and not node.inputs:
            raise RuntimeError(f"viz.graph: the graph through '{node.op}' was freed by a "
                               f"backward sweep; draw it before backward(), or pass "
                               f"retain_graph=True")
        seen.add(node.id)
        nodes.append(node)
        for operand in node.inputs:
            if isinstance(operand, Tensor) and operand.node is not None \
                    and operand.node.id not in seen:
                work.append(operand.node)
    nodes.sort(key=lambda n: n.id)
    return nodes


def _step_of(scope):
    """``(depth, enclosing scope, step number)`` of the first step part of ``scope``
    (``"encoder/t7/update"`` -> ``(1, "encoder", 7)``), or None outside every step."""
    parts = scope.split("/") if scope else []
    for depth, part in enumerate(parts):
        match = _STEP.match(part)
        if match:
            return depth, "/".join(parts[:depth]), int(match.group(1))
    return None


def _initial_carries(original, unfolded, carry_names):
    """``{id(leaf): (scope, label)}`` for the leaves that start a loop.

    A scan node (``mg.scan``) lists its inputs as ``(xs, *init, *params...)`` and gives
    two outputs per carry part (every step's, the last one), so its ``init`` is
    ``inputs[1:1 + n_outputs // 2]``: each part is labelled by its position, from
    ``carry_names`` (``("h0", "c0")``) or ``init[k]``. In a loop recorded op by op (steps
    scoped ``t0``, ``t1``, ...) a float leaf without grad that only the loop's first step
    reads is its initial carry too (its position is unknown: ``init``). The labels come
    from the caller, who knows what the carry holds.
    """
    carries = {}
    for node in original:
        if node.op != "scan":
            continue
        init = node.inputs[1:1 + node.n_outputs // 2]
        for position, tensor in enumerate(init):
            if isinstance(tensor, Tensor) and tensor.node is None \
                    and not tensor.requires_grad:
                if position < len(carry_names):
                    label = carry_names[position]
                else:
                    label = "init" if len(init) == 1 else f"init[{position}]"
                carries.setdefault(id(tensor), (node.scope, label))
    first_step = {}               # enclosing scope -> the step that ran first
    readers = {}                  # id(leaf) -> (leaf, the steps that read it)
    for node in unfolded:
        step = _step_of(node.scope)
        if step is not None:
            first_step.setdefault(step[1], step[2])
        for operand in node.inputs:
            if isinstance(operand, Tensor) and operand.node is None \
                    and not operand.requires_grad and operand.dtype.kind == "f":
                readers.setdefault(id(operand), (operand, set()))[1].add(
                    None if step is None else step[1:])
    candidates = {}               # id(leaf) -> (enclosing scope, leaf): first-step leaves
    per_step = set()              # (scope, shape, dtype) of one-step leaves of later steps
    for key, (tensor, steps) in readers.items():
        if key in carries or len(steps) != 1 or None in steps:
            continue
        ((prefix, number),) = steps
        if first_step.get(prefix) == number:
            candidates[key] = (prefix, tensor)
        else:
            per_step.add((prefix, tensor.shape, tensor.dtype))
    # each step reading a slice of a constant input (x_t, no grad) is no carry: a
    # first-step leaf counts only when no later step reads one like it
    for key, (prefix, tensor) in candidates.items():
        if (prefix, tensor.shape, tensor.dtype) not in per_step:
            carries[key] = (prefix, "init")
    return carries


def _repeated_scopes(nodes):
    """``{scope path: earlier sibling}`` for scopes whose ops (by kind, in the same
    sub-scopes) are those of an earlier sibling: a stacked layer's second layer, the
    reverse direction. Steps are left to ``max_steps``."""
    signatures = {}               # scope path -> Counter of (sub-scope, op) inside it
    for node in nodes:
        parts = node.scope.split("/") if node.scope else []
        for depth in range(len(parts)):
            if _STEP.match(parts[depth]):
                break
            path = "/".join(parts[:depth + 1])
            inside = "/".join(parts[depth + 1:])
            counts = signatures.setdefault(path, {})
            counts[(inside, node.op)] = counts.get((inside, node.op), 0) + 1
    first = {}                    # (parent, signature) -> the first sibling with it
    repeats = {}
    for path, counts in signatures.items():
        key = (_parent(path), frozenset(counts.items()))
        earlier = first.setdefault(key, path)
        if earlier != path:
            repeats[path] = earlier.rpartition("/")[2]
    return repeats


class _Drawing:
    """The graph as lists of node and edge records, before it becomes DOT text."""

    def __init__(self, outputs, nodes, show_shapes, show_tensors, collapse, max_steps,
                 states, fold_trivial, is_state, carries, labels, repeats=None):
        self.show_shapes = show_shapes
        self.fold_trivial = fold_trivial
        self.show_tensors = show_tensors
        self.collapse = set(collapse or ())
        self.max_steps = max_steps
        self.state_ids = {id(t) for t in states or ()}
        self.is_state = is_state
        self.carries = carries    # id(leaf) -> (scope, label): a loop's initial carry
        self.labels = labels      # id(tensor) -> the caller's name for it
        self.repeats = repeats or {}   # collapsed scope path -> the sibling it repeats
        self.items = {}          # drawn name -> (cluster path, kind, label)
        self.edges = {}          # (tail, head) -> extra attributes
        self.kinds = set()
        self.tensor_names = {}   # tensor key -> drawn name
        self.outputs = outputs
        self.nodes = nodes
        self._unit_names = {}     # (kind, scope path) -> drawn name of a collapsed unit
        self.step_counts = {}     # enclosing scope -> the step numbers folded under it

    # ---- which drawn unit an op belongs to: itself, a collapsed scope, or folded steps
    def assign_units(self):
        folded = self._folded_steps()
        self.unit = {}
        self.unit_info = {}       # unit name -> [cluster, kind, label parts, ops inside]
        for rank, node in enumerate(self.nodes):
            parts = node.scope.split("/") if node.scope else []
            depth_steps, prefix = folded.get(node.id, (None, None))
            depth_scope = next((j for j in range(len(parts))
                                if parts[j] in self.collapse
                                or "/".join(parts[:j + 1]) in self.collapse), None)
            if depth_steps is not None and (depth_scope is None or depth_steps <= depth_scope):
                key = ("steps", prefix)
                cluster = prefix
            elif depth_scope is not None:
                key = ("scope", "/".join(parts[:depth_scope + 1]))
                cluster = _parent(key[1])
            else:
                name = f"op{rank}"
                self.unit[node.id] = name
                self.unit_info[name] = [node.scope, "op", node, 1]
                continue
            name = self._unit_names.get(key)
            if name is None:
                name = f"{key[0]}{len(self._unit_names)}"
                self._unit_names[key] = name
                kind = "steps" if key[0] == "steps" else "collapsed"
                self.unit_info[name] = [cluster, kind, key[1], 0]
            self.unit_info[name][3] += 1
            self.unit[node.id] = name

    def _folded_steps(self):
        """node id -> (depth, prefix) for ops in steps past the first ``max_steps``."""
        if self.max_steps is None:
            return {}
        found = {}
        steps = {}                # prefix -> step numbers, in the order they first ran
        for node in self.nodes:
            step = _step_of(node.scope)
            if step is not None:
                depth, prefix, number = step
                found[node.id] = step
                steps.setdefault(prefix, {}).setdefault(number, None)
        # the steps that ran first stay (t99 for a loop run backwards), not the lowest
        kept = {prefix: set(list(numbers)[:self.max_steps])
                for prefix, numbers in steps.items()}
        folded = {}
        for node_id, (depth, prefix, number) in found.items():
            if number not in kept[prefix]:
                folded[node_id] = (depth, prefix)
        for prefix, numbers in steps.items():
            skipped = sorted(set(numbers) - kept[prefix])
            if skipped:
                self.step_counts[prefix] = skipped
        return folded

    # ---- tensors
    def leaf_kind(self, tensor):
        if tensor.requires_grad:
            return "parameter"
        if id(tensor) in self.state_ids or id(tensor) in self.carries \
                or (tensor.name and self.is_state(tensor.name)):
            return "state"
        return "input"

    def drawn_cluster(self, path):
        """The cluster that shows ``path``: the one around a collapsed scope holding it."""
        parts = path.split("/") if path else []
        for depth in range(len(parts)):
            if parts[depth] in self.collapse or "/".join(parts[:depth + 1]) in self.collapse:
                return "/".join(parts[:depth])
        return path

    def leaf_name(self, tensor, kind):
        """The caller's name, a parameter's module path, the tensor's name, or what it
        is (an initial carry's label, ``constant``)."""
        name = self.labels.get(id(tensor)) or getattr(tensor, "path", None) or tensor.name
        if name:
            return name
        if id(tensor) in self.carries:
            return self.carries[id(tensor)][1]
        return "constant" if kind == "input" else kind

    def tensor_label(self, tensor, kind, fallback, name=None):
        name = name or tensor.name or fallback
        detail = f"{_shape_text(tensor.shape)} {tensor.dtype}" if self.show_shapes else None
        return _html(name, detail, 10 if kind != "tensor" else 9, subscript=True)

    def add_item(self, name, cluster, kind, label):
        self.items[name] = (cluster, kind, label)
        self.kinds.add(kind)

    def add_edge(self, tail, head, **attrs):
        if tail != head and (tail, head) not in self.edges:
            self.edges[(tail, head)] = attrs

    def leaf(self, tensor):
        key = ("leaf", id(tensor))
        name = self.tensor_names.get(key)
        if name is None:
            name = self.tensor_names[key] = f"t{len(self.tensor_names)}"
            kind = self.leaf_kind(tensor)
            # an initial carry sits in its loop's cluster: four layers' h0 stay apart
            cluster = self.drawn_cluster(self.carries.get(id(tensor), ("",))[0])
            self.add_item(name, cluster, kind,
                          self.tensor_label(tensor, kind, None, self.leaf_name(tensor, kind)))
        return name

    def build(self):
        self.assign_units()
        output_keys = {}
        for index, tensor in enumerate(self.outputs):
            if tensor.node is not None:
                output_keys.setdefault((tensor.node.id, tensor.output_index), (index, tensor))
        tensor_of = {}            # (producer id, output index) -> the tensor it made
        for node in self.nodes:
            for operand in node.inputs:
                if isinstance(operand, Tensor) and operand.node is not None:
                    tensor_of.setdefault((operand.node.id, operand.output_index), operand)
        folded = set()            # trivial ops drawn as a label on an edge
        if self.fold_trivial:
            for node in self.nodes:
                made = tensor_of.get((node.id, 0))
                if node.op in _TRIVIAL and node.n_outputs == 1 \
                        and self.info(node)[1] == "op" and (node.id, 0) not in output_keys \
                        and not (made is not None and made.name) \
                        and sum(isinstance(x, Tensor) for x in node.inputs) == 1:
                    folded.add(node.id)

        def shows(tensor):
            """Whether an intermediate tensor gets its own node."""
            if self.info(tensor.node)[1] != "op":
                return False          # made inside a collapsed scope or folded steps
            if self.show_tensors == "all":
                return True
            return bool(self.show_tensors and tensor.name)

        def source(tensor):
            """``(drawn name, edge attributes)`` an edge into a consumer of ``tensor``
            starts from: the tensor's node, or the op (or collapsed unit) that made it."""
            through = []
            while tensor.node is not None and tensor.node.id in folded:
                through.append(_FOLDED_TEXT[tensor.node.op])
                tensor = next(x for x in tensor.node.inputs if isinstance(x, Tensor))
            attrs = {}
            if through:
                attrs = {"label": f"<<i>{' '.join(reversed(through))}</i>>", "fontsize": "11",
                         "fontcolor": "#424242"}
            if tensor.node is None:
                return self.leaf(tensor), attrs
            key = (tensor.node.id, tensor.output_index)
            producer_unit = self.unit[tensor.node.id]
            name = self.tensor_names.get(key)
            if name is not None:
                return name, attrs
            is_output = key in output_keys
            if is_output or shows(tensor):
                name = self.tensor_names[key] = f"t{len(self.tensor_names)}"
                if is_output:
                    index, tensor = output_keys[key]
                    fallback = "output" if len(self.outputs) == 1 else f"output {index}"
                    self.add_item(name, "", "output",
                                  self.tensor_label(tensor, "output", fallback))
                else:
                    self.add_item(name, self.unit_info[producer_unit][0], "tensor",
                                  self.tensor_label(tensor, "tensor", tensor.node.op))
                self.add_edge(producer_unit, name, **self.piece_attrs(tensor))
                return name, attrs
            return producer_unit, {**self.piece_attrs(tensor), **attrs}

        for node in self.nodes:
            if node.id in folded:
                continue
            head = self.unit[node.id]
            info = self.unit_info[head]
            if info[1] == "op":
                self.add_item(head, info[0], "op", self.op_label(node))
            elif head not in self.items:
                self.add_item(head, info[0], info[1], None)    # label set in finish()
            for operand in node.inputs:
                if isinstance(operand, Tensor):
                    tail, attrs = source(operand)
                    self.add_edge(tail, head, **attrs)
        for tensor in self.outputs:
            if tensor.node is None:
                self.leaf(tensor)
            else:
                source(tensor)
        self.finish()
        return self

    def info(self, node):
        return self.unit_info[self.unit[node.id]]

    @staticmethod
    def piece_attrs(tensor):
        """Edges out of one piece of a split are labelled with the piece's index."""
        if tensor.node is not None and tensor.node.n_outputs > 1:
            return {"taillabel": str(tensor.output_index), "fontsize": "9",
                    "fontcolor": "#757575"}
        return {}

    def op_label(self, node):
        symbol = _SYMBOL.get(node.op, node.op)
        numbers = [x for x in node.inputs if not isinstance(x, Tensor)]
        if numbers and node.op in _INFIX and len(node.inputs) == 2:
            a, b = (_number_text(x) if not isinstance(x, Tensor) else "·"
                    for x in node.inputs)
            symbol = f"{a} {_INFIX[node.op]} {b}"
        detail = None
        if self.show_shapes:
            detail = self._produced_shape(node)
        return _html(symbol, detail, 9)

    def _produced_shape(self, node):
        # The op's output tensors are not kept by the node; find them among the
        # consumers' inputs and the outputs (cached by one pass over the graph).
        if not hasattr(self, "_shapes"):
            self._shapes = {}
            for other in self.nodes:
                for operand in other.inputs:
                    if isinstance(operand, Tensor) and operand.node is not None:
                        self._shapes.setdefault(operand.node.id, {})[
                            operand.output_index] = operand.shape
            for tensor in self.outputs:
                if tensor.node is not None:
                    self._shapes.setdefault(tensor.node.id, {})[
                        tensor.output_index] = tensor.shape
        shapes = self._shapes.get(node.id, {})
        if not shapes:
            return None
        distinct = sorted(set(shapes.values()))
        if node.n_outputs > 1:
            if len(distinct) == 1:
                return f"{node.n_outputs} × {_shape_text(distinct[0])}"
            return ", ".join(_shape_text(shapes[i]) for i in sorted(shapes))
        return _shape_text(distinct[0])

    def finish(self):
        for name, (cluster, kind, label) in list(self.items.items()):
            if label is not None:
                continue
            _, _, key, count = self.unit_info[name]
            if kind == "steps":
                skipped = self.step_counts[key]
                span = f"t{skipped[0]}" if len(skipped) == 1 \
                    else f"t{skipped[0]} … t{skipped[-1]}"
                more = "step" if len(skipped) == 1 else "steps"
                label = _html(f"× {len(skipped)} more {more}", f"{span}, {count} ops", 10)
            else:
                detail = f"{count:,} op{'s' if count != 1 else ''}"
                if key in self.repeats:
                    detail += f", as {_pretty_scope(self.repeats[key])}"
                label = _html(_pretty_scope(key.rpartition("/")[2]), detail, 10)
            self.items[name] = (cluster, kind, label)


# --------------------------------------------------------------------------- DOT

def _shortest_path(edges, start, goal):
    """Drawn edges on a shortest path from ``start`` to ``goal`` (breadth first)."""
    following = {}
    for tail, head in edges:
        following.setdefault(tail, []).append(head)
    came_from = {start: None}
    frontier = [start]
    while frontier and goal not in came_from:
        next_frontier = []
        for name in frontier:
            for head in following.get(name, ()):
                if head not in came_from:
                    came_from[head] = name
                    next_frontier.append(head)
        frontier = next_frontier
    if goal not in came_from:
        return []
    path = []
    while came_from[goal] is not None:
        path.append((came_from[goal], goal))
        goal = came_from[goal]
    return path[::-1]


def _caption(kinds, highlighted, title, note=None):
    """The graph's label: an optional title over a one-row legend of the kinds drawn,
    and a note under them (what the size guard folded)."""
    cells = []
    # a note wider than the legend would stretch the swatches: keep them 18×12
    fixed = ' fixedsize="true"' if note else ""
    for kind in _LEGEND_TEXT:
        if kind in kinds:
            style = _STYLE[kind]
            cells.append(f'<td bgcolor="{style["fillcolor"]}" border="1" '
                         f'color="{style["color"]}" width="18" height="12"{fixed}></td>'
                         f'<td align="left">{_LEGEND_TEXT[kind]}  </td>')
    if highlighted:
        cells.append(f'<td><font color="{_HIGHLIGHT["color"]}" point-size="14"><b>⟶</b></font>'
                     f'</td><td align="left">{highlighted}</td>')
    rows = []
    span = 2 * len(cells)
    if title:
        rows.append(f'<tr><td colspan="{span}"><font point-size="16"><b>'
                    f"{html.escape(title)}</b></font></td></tr>")
    if cells:
        rows.append("<tr>" + "".join(cells) + "</tr>")
    if note:
        rows.append(f'<tr><td colspan="{max(1, span)}"><font point-size="11" '
                    f'color="#555555"><i>{"<br/>".join(map(html.escape, note))}</i></font>'
                    f'</td></tr>')
    if not rows:
        return None
    return ('<<table border="0" cellborder="0" cellspacing="2" cellpadding="2">'
            + "".join(rows) + "</table>>")


def _fold_to_fit(drawing, draw, nodes, collapse, max_steps, max_nodes):
    """The size guard: fold one level at a time until the drawing has at most
    ``max_nodes`` nodes; returns the drawing and the lines of a note saying what was
    folded (None when nothing could be)."""
    unfolded = len(drawing.items)
    folded = []
    if max_steps is None and any(_step_of(node.scope) for node in nodes):
        max_steps = 1
        drawing = draw(collapse, max_steps)
        folded.append("each loop's steps after the first as one node")
    if len(drawing.items) > max_nodes:
        repeats = {path: sibling for path, sibling in _repeated_scopes(nodes).items()
                   if path not in set(collapse)}
        if repeats:
            drawing = draw(set(collapse) | set(repeats), max_steps, repeats)
            folded.append("scopes that repeat an earlier sibling (a stacked layer, "
                          "the reverse direction) as one node each")
    if not folded:
        return drawing, None
    # lines of the note under the picture (short, so the legend above is not stretched)
    return drawing, [f"{unfolded:,} nodes folded to {len(drawing.items):,} "
                     f"(more than max_nodes={max_nodes}):",
                     *[f"{what};" for what in folded[:-1]], f"{folded[-1]}.",
                     "Draw everything with max_nodes=None, or choose max_steps= and "
                     "collapse=."]


def graph(*outputs, show_shapes=True, rankdir="TB", show_tensors=True, collapse=(),
          max_steps=None, states=(), highlight=(), fold_trivial=True, legend=True,
          title=None, scope_colours=None, state_names=None, carry_names=(), names=None,
          max_nodes=MAX_NODES):
    """A picture of the recorded computation that produced ``outputs``.

    Parameters
    ----------
    *outputs : Tensor
        What to draw back from (a single sequence of tensors works too).
    show_shapes : bool
        Write shapes and dtypes on tensors, and each op's result shape under the op.
    rankdir : {"TB", "LR", "BT", "RL"}
        Graphviz's direction of flow.
    show_tensors : bool or "all"
        ``True`` draws the intermediate tensors that say something (named ones and
        each scope's results), ``"all"`` every one, ``False`` none (ops only, with
        leaves and outputs).
    collapse : iterable of str
        Scopes drawn as one node each: a scope's own name (``"encoder"``, wherever it
        occurs) or its full path (``"encoder/l0"``).
    max_steps : int, optional
        For unrolled sequences, whose steps are scopes named ``t0``, ``t1``, ... (or
        ``step_0``, ...): draw the first ``max_steps`` steps that ran in full and fold
        the rest, under each enclosing scope, into one "× k more steps" node. None: as
        ``max_nodes`` decides.
    states : iterable of Tensor
        Leaves to style as recurrent states.
    highlight : sequence of (Tensor, Tensor)
        Draw a shortest path from the first tensor to the second thick and coloured
        (a state's path through one step, say). A pair without a drawn path is left
        alone.
    fold_trivial : bool
        Draw transposes, reshapes and broadcasts as a label on the edge (``ᵀ``) instead
        of as nodes.
    legend : bool
        Add a one-row legend of the kinds of node that occur, under the picture.
    title : str, optional
        A caption under the picture, above the legend.
    scope_colours : mapping of str to (str, str), optional
        Cluster colours ``(fill, border)`` by scope name: a key equal to a scope's own
        name, else the first key (in order) that occurs in it, picks its colours
        (``{"encoder": ("#e3f2fd", "#1565c0")}``). Other scopes get a stable colour from
        a small palette; ``backward`` (a recorded backward sweep) has its own.
    state_names : callable, str, regex or collection of str, optional
        Which named leaves are recurrent states: a predicate on the name, a regex
        searched in it, or the exact names. Default: ``state``, ``carry``, ``carry_0``
        and names ending in ``_prev``.
    carry_names : sequence of str
        Labels of the unnamed initial carry of a loop (``init`` of an ``mg.scan``: the
        zeros a recurrent layer starts from), by position (``("h0", "c0")``); without
        one it reads ``init[k]``. These leaves are drawn as states, inside their loop's
        scope.
    names : Module, mapping or iterable of (str, Tensor), optional
        Labels for tensors, such as ``model`` (its ``named_parameters()``) or
        ``{"W": w}``; they win over everything else. Without them a parameter is
        labelled by its module path (``encoder.weight_ih_l0``: see
        ``mg.nn.Parameter.path``), a tensor by its ``name``.
    max_nodes : int or None
        The size guard: a drawing with more nodes than this is folded (steps past the
        first, then scopes that repeat a sibling) until it fits or nothing more folds,
        and the picture says so (a :class:`GraphFolded` warning too). None draws
        everything as asked.

    Returns
    -------
    graphviz.Digraph
        ``.source`` is the DOT text; notebooks display it as a picture.
    """
    import graphviz

    if len(outputs) == 1 and isinstance(outputs[0], (list, tuple)):
        outputs = tuple(outputs[0])
    for tensor in outputs:
        if not isinstance(tensor, Tensor):
            raise TypeError(f"viz.graph: outputs must be Tensors, got {type(tensor).__name__}")
    if show_tensors not in (True, False, "all"):
        raise ValueError(f"viz.graph: show_tensors must be True, False or 'all', "
                         f"got {show_tensors!r}")
    if max_steps is not None and max_steps < 1:
        raise ValueError(f"viz.graph: max_steps must be at least 1, got {max_steps}")
    if max_nodes is not None and max_nodes < 1:
        raise ValueError(f"viz.graph: max_nodes must be at least 1 (or None), "
                         f"got {max_nodes}")
    if isinstance(collapse, str):
        collapse = (collapse,)
    if isinstance(carry_names, str):
        carry_names = (carry_names,)
    colours = _colour_rule(scope_colours)
    is_state = _state_rule(state_names)
    labels = _parameter_names(names)
    original = _collect(outputs)
    # a fused call is one node on the tape; draw the ops it stands for
    outputs, swap = unfold(outputs)
    states = [swap(t) for t in states]
    nodes = _collect(outputs)
    carries = _initial_carries(original, nodes, tuple(carry_names))

    def draw(collapse, max_steps, repeats=None):
        return _Drawing(outputs, nodes, show_shapes, show_tensors, collapse, max_steps,
                        states, fold_trivial, is_state, carries, labels, repeats).build()

    drawing = draw(collapse, max_steps)
    note = None
    if max_nodes is not None and len(drawing.items) > max_nodes:
        drawing, note = _fold_to_fit(drawing, draw, nodes, collapse, max_steps, max_nodes)
        if note:
            warnings.warn(f"viz.graph: {' '.join(note)}", GraphFolded, stacklevel=2)

    highlighted = set()
    pairs = [highlight] if len(highlight) == 2 and isinstance(highlight[0], Tensor) \
        else list(highlight)
    for start, goal in pairs:
        names = []
        for tensor in (swap(start), swap(goal)):
            key = ("leaf", id(tensor)) if tensor.node is None \
                else (tensor.node.id, tensor.output_index)
            if key not in drawing.tensor_names:
                raise ValueError("viz.graph: a highlighted tensor is not drawn in this graph")
            names.append(drawing.tensor_names[key])
        highlighted.update(_shortest_path(drawing.edges, *names))
    highlight_text = None
    if highlighted:
        highlight_text = " → ".join(_name_html(t.name or "tensor") for t in pairs[0]) \
            if len(pairs) == 1 else "highlighted paths"

    dot = graphviz.Digraph(
        "minigrad",
        graph_attr=dict(rankdir=rankdir, fontname=_FONT, fontsize="12", nodesep="0.22",
                        ranksep="0.32", bgcolor="white", pad="0.15", newrank="true"),
        node_attr=dict(fontname=_FONT, fontsize="11", penwidth="1.2"),
        edge_attr=dict(fontname=_FONT, color="#616161", arrowsize="0.6", penwidth="1.1"),
    )

    # Clusters: one per scope path that holds something, plus the scopes above it.
    members = {}
    for name, (cluster, _, _) in drawing.items.items():
        members.setdefault(cluster, []).append(("node", name))
        while cluster:
            parent = _parent(cluster)
            members.setdefault(parent, [])
            if ("cluster", cluster) not in members[parent]:
                members[parent].append(("cluster", cluster))
            cluster = parent
    cluster_ids = {}

    # Emit cluster by cluster with an explicit stack of open subgraphs (depth-first).
    def emit_node(target, name):
        _, kind, label = drawing.items[name]
        style = _STYLE[kind]
        if kind == "collapsed":       # a collapsed scope keeps its cluster's colours
            fill, border = colours(drawing.unit_info[name][2].rpartition("/")[2])
            style = {**style, "fillcolor": fill, "color": border}
        target.node(name, label=label, **style)

    stack = [(dot, members.get("", []), 0, None)]
    while stack:
        target, entries, position, finish = stack.pop()
        if position < len(entries):
            stack.append((target, entries, position + 1, finish))
            what, entry = entries[position]
            if what == "node":
                emit_node(target, entry)
            else:
                cluster_ids.setdefault(entry, f"cluster_{len(cluster_ids)}")
                context = target.subgraph(name=cluster_ids[entry])
                sub = context.__enter__()
                fill, border = colours(entry.rpartition("/")[2])
                dashed = _STEP.match(entry.rpartition("/")[2]) is not None
                sub.attr(label=_html(_pretty_scope(entry.rpartition("/")[2])),
                         style="rounded,filled" + (",dashed" if dashed else ""),
                         fillcolor=fill, color=border, fontcolor=border, fontsize="12",
                         penwidth="1.4", margin="8")
                stack.append((sub, members.get(entry, []), 0, context))
        elif finish is not None:
            finish.__exit__(None, None, None)

    for (tail, head), attrs in drawing.edges.items():
        if (tail, head) in highlighted:
            attrs = {**attrs, **_HIGHLIGHT}
        dot.edge(tail, head, **attrs)
    caption = _caption(drawing.kinds if legend else (), highlight_text if legend else None,
                       title, note)
    if caption:
        dot.attr(label=caption, labelloc="b", labeljust="c", fontsize="11")
    return dot


# --------------------------------------------------------------------------- files

_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf"}
_SOURCE = (".dot", ".gv")


def _write_atomically(path, data):
    directory = os.path.dirname(os.path.abspath(path))
    handle, temporary = tempfile.mkstemp(prefix=".viz-", dir=directory)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        # mkstemp makes 0600; give the usual mode
        os.chmod(temporary, 0o666 & ~current_umask())
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.unlink(temporary)
        raise


def render(outputs, path, dpi=None, **graph_options):
    """Draw the computation behind ``outputs`` into ``path``.

    Parameters
    ----------
    outputs : Tensor or sequence of Tensor
    path : str or os.PathLike
        ``.svg``, ``.png`` or ``.pdf`` are drawn by Graphviz's ``dot``; ``.dot`` or ``.gv``
        gets the DOT source alone (no Graphviz program needed).
    dpi : int, optional
        Resolution of a PNG (Graphviz's default is 96).
    **graph_options
        Passed to :func:`graph`.

    Returns
    -------
    str
        The path written.

    Raises
    ------
    GraphvizNotFound
        When ``dot`` is not installed: the DOT source is written next to ``path`` (same
        name, ``.gv`` extension) and the message says where and how to install Graphviz.
    """
    import graphviz

    path = os.fspath(path)
    if isinstance(outputs, Tensor):
        outputs = (outputs,)
    extension = os.path.splitext(path)[1].lower()
    if extension not in _FORMATS and extension not in _SOURCE:
        raise ValueError(f"viz.render: cannot tell the format of {path!r}; use one of "
                         f"{', '.join(list(_FORMATS) + list(_SOURCE))}")
    dot = graph(*outputs, **graph_options)
    if extension in _SOURCE:
        _write_atomically(path, dot.source.encode())
        return path
    if dpi is not None:
        dot.graph_attr["dpi"] = str(dpi)
    try:
        data = dot.pipe(format=_FORMATS[extension])
    except graphviz.ExecutableNotFound:
        source_path = os.path.splitext(path)[0] + ".gv"
        _write_atomically(source_path, dot.source.encode())
        raise GraphvizNotFound(f"viz.render: Graphviz's `dot` program was not found, so "
                               f"{path!r} was not drawn; the DOT source was written to "
                               f"{source_path!r} instead. To draw pictures, "
                               f"{INSTALL_HINT}.") from None
    except graphviz.CalledProcessError as error:
        stderr = error.stderr.decode(errors="replace") if isinstance(error.stderr, bytes) \
            else str(error.stderr)
        raise RuntimeError(f"viz.render: Graphviz's `dot` failed on {path!r}: "
                           f"{stderr.strip()}") from None
    _write_atomically(path, data)
    return path
