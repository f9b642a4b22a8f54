"""The API reference is complete: every public name has a NumPy-style docstring.

A public name is one a user reaches: minigrad's top-level exports, Tensor's methods and
properties, everything in ``mg.nn``, ``mg.nn.functional``, ``mg.nn.utils.rnn``,
``mg.optim``, ``mg.viz``, and the cells and layers of ``minigrad.models``, with the public
methods of each class. Each needs a summary line; a ``Parameters`` section naming every
argument where it takes any; a ``Returns`` (or ``Yields``) section where it returns a
value. That each also has a place on a reference page is checked against the built site
(tests/test_docs_site.py).
"""
from __future__ import annotations

import ast
import enum
import inspect
import re
import textwrap
import types

import pytest

import minigrad as mg
import minigrad.models

SECTION = re.compile(r"^(?P<title>[A-Z][A-Za-z ]+)\n-{3,}\n", re.M)
ENTRY = re.compile(r"^(?P<names>\*{0,2}\w+(?:\s*,\s*\*{0,2}\w+)*)\s*(?::.*)?$")


def _module_members(module, names=None):
    """``(dotted name, object)`` for the public callables of ``module``."""
    if names is None:
        names = getattr(module, "__all__", None) or [
            name for name, value in vars(module).items()
            if getattr(value, "__module__", None) == module.__name__]
    for name in names:
        if name.startswith("_"):
            continue
        value = getattr(module, name)
        if callable(value) and not isinstance(value, types.ModuleType) and _ours(value):
            yield f"{module.__name__}.{name}", value


# the dtype names (mg.float32 is NumPy's scalar type): data, not API to describe
_DTYPES = (mg.float32, mg.float64, mg.int64, mg.bool_)


def _top_level():
    # classes are compared with `is`, not isinstance(value, type(mg.float32)): mg.float32 is
    # a class, so that test would leave out every class (Tensor, Node, ...) as well
    for name, value in vars(mg).items():
        if name.startswith("_") or isinstance(value, types.ModuleType) or any(
                value is dtype for dtype in _DTYPES):
            continue
        if callable(value):
            yield f"minigrad.{name}", value


def _ours(obj):
    module = getattr(obj.fget if isinstance(obj, property) else obj, "__module__", "") or ""
    return module.split(".")[0] in ("minigrad", "models")


def _own_members(cls):
    """The public methods and properties a class defines (or gets bound by minigrad)."""
    for name, member in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(member, (staticmethod, classmethod)):
            member = member.__func__
        if (isinstance(member, property) or inspect.isfunction(member)) and _ours(member):
            yield f"{cls.__module__}.{cls.__qualname__}.{name}", member


def public_objects():
    """Every ``(dotted name, object)`` the reference must describe, each object once."""
    found = {}
    groups = [
        _top_level(),
        _module_members(mg.nn, [n for n in vars(mg.nn) if not n.startswith("_")]),
        _module_members(mg.nn.functional),
        _module_members(mg.nn.init),
        _module_members(mg.nn.utils.rnn),
        _module_members(mg.optim, [n for n in vars(mg.optim) if not n.startswith("_")]),
        *(_module_members(sub) for sub in vars(mg.optim).values()   # lr_scheduler, ...
          if isinstance(sub, types.ModuleType) and sub.__name__.startswith("minigrad.optim.")),
        _module_members(mg.viz),
        _module_members(minigrad.models),
    ]
    for group in groups:
        for name, value in group:
            if isinstance(value, type) and issubclass(value, enum.Enum):
                continue
            found.setdefault(id(value), (name, value))
    for name, value in list(found.values()):
        if isinstance(value, type) and _ours(value):
            for member_name, member in _own_members(value):
                found.setdefault(id(member), (member_name, member))
    return sorted(found.values(), key=lambda item: item[0])


def _sections(doc):
    """``{title: body}`` of a NumPy-style docstring."""
    parts = {}
    matches = list(SECTION.finditer(doc))
    for match, following in zip(matches, matches[1:] + [None]):
        end = following.start() if following else len(doc)
        parts[match["title"].strip()] = doc[match.end():end]
    return parts


def _documented_parameters(body):
    names = set()
    for line in body.splitlines():
        if line and not line[0].isspace():
            entry = ENTRY.match(line.strip())
            if entry:
                names.update(n.strip().lstrip("*") for n in entry["names"].split(","))
    return names


def _arguments(obj):
    """The argument names a user passes (``self`` and ``cls`` left out)."""
    target = obj
    if isinstance(obj, type):
        if "__init__" in vars(obj):
            target = obj.__init__
        elif "__new__" in vars(obj):
            target = obj.__new__
        else:
            return []       # takes what its base takes: described there
    try:
        signature = inspect.signature(target)
    except (TypeError, ValueError):
        return []
    return [name for name in signature.parameters if name not in ("self", "cls", "_cls")]


def _returns_value(function):
    """Whether ``function``'s own body returns a value or yields (nested defs left out)."""
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError):
        return False
    tree = ast.parse(source)
    body = tree.body[0]
    if isinstance(body, ast.Assign):          # a lambda assigned to a name
        return True
    stack = list(ast.iter_child_nodes(body))
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda,
                             ast.ClassDef)):
            continue
        if isinstance(node, (ast.Yield, ast.YieldFrom)):
            return True
        if isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and node.value.value is None):
            return True
        stack.extend(ast.iter_child_nodes(node))
    return False


def docstring_problems(obj):
    """What ``obj``'s docstring lacks, as a list of short sentences (empty: complete)."""
    function = obj.fget if isinstance(obj, property) else obj
    doc = inspect.getdoc(function) if not isinstance(obj, type) else obj.__doc__
    if not doc or not doc.strip():
        return ["no docstring"]
    doc = inspect.cleandoc(doc)
    problems = []
    if not doc.splitlines()[0].strip():
        problems.append("no summary line")
    if isinstance(obj, property):
        return problems
    sections = _sections(doc)
    arguments = _arguments(obj)
    if isinstance(obj, type) and hasattr(obj, "_fields") and "Attributes" in sections:
        # a namedtuple takes its fields: its Attributes section describes them
        sections.setdefault("Parameters", sections["Attributes"])
    if arguments:
        if "Parameters" not in sections:
            problems.append(f"no Parameters section (arguments: {', '.join(arguments)})")
        else:
            documented = _documented_parameters(sections["Parameters"])
            documented |= _documented_parameters(sections.get("Other Parameters", ""))
            missing = [name for name in arguments if name not in documented]
            if missing:
                problems.append(f"Parameters does not describe {', '.join(missing)}")
    if not isinstance(obj, type) and _returns_value(obj) and not (
            {"Returns", "Yields"} & set(sections)):
        problems.append("returns a value but has no Returns section")
    return problems


def test_every_public_name_has_a_numpy_docstring():
    report = []
    for name, obj in public_objects():
        problems = docstring_problems(obj)
        if problems:
            report.append(f"{name}: {'; '.join(problems)}")
    assert not report, (f"{len(report)} public names lack a complete NumPy-style docstring "
                        "(summary; Parameters; Returns):\n  " + "\n  ".join(report))


def test_the_checker_tells_complete_from_incomplete():
    def complete(x, dim=None):
        """Sum of ``x``.

        Parameters
        ----------
        x : Tensor
        dim : int, optional

        Returns
        -------
        Tensor
        """
        return x

    def no_returns(x):
        """Sum of ``x``.

        Parameters
        ----------
        x : Tensor
        """
        return x

    def no_parameters(x):
        """Sum of ``x``."""

    assert docstring_problems(complete) == []
    assert docstring_problems(no_returns) == ["returns a value but has no Returns section"]
    assert docstring_problems(no_parameters) == ["no Parameters section (arguments: x)"]
    assert docstring_problems(lambda: 1) == ["no docstring"]


@pytest.mark.parametrize("name", [
    "minigrad.tensor.Tensor.backward", "minigrad.tensor.Tensor.shape", "minigrad.grad",
    "minigrad.nn.Linear", "minigrad.nn.cross_entropy", "minigrad.nn.init.orthogonal_",
    "minigrad.nn.utils.rnn.pack_padded_sequence", "minigrad.optim.Adam", "minigrad.viz.graph",
    "models.LSTM", "models.layers.SequenceLayer.forward", "models.LSTMCell",
])
def test_the_public_surface_includes(name):
    names = {found for found, _ in public_objects()}
    # the family's names read models.* or minigrad.models.* by how it was first imported
    assert name in names or name.replace("models.", "minigrad.models.", 1) in names, name
