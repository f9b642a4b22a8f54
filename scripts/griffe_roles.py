"""A Griffe extension (mkdocs.yml loads it): Sphinx-style roles in docstrings become links.

The docstrings cross-reference with roles, as NumPy-style docstrings usually do
(``:class:`~models.cells.RNNCell```, ``:func:`record```). MkDocs writes Markdown, so each
role becomes an autorefs link, ``[`RNNCell`][models.cells.RNNCell]``: with ``mkdocs build
--strict`` a role naming something the reference does not show fails the build. A name
without dots is looked up from where the docstring is (its class, then its module).
"""
from __future__ import annotations

import importlib
import re
import types

import griffe

ROLE = re.compile(r":(class|func|meth|mod|attr|data|exc|obj):`(~?)([\w.]+)(\(\))?`")
# modules and constants have no heading of their own on the pages: shown as code
UNLINKED = {"mod", "data"}


def _absolute(target, obj):
    """The dotted path ``target`` means, read from ``obj``'s place in the package: where
    the named object is defined (``minigrad.tap`` is ``minigrad.modes.tap``)."""
    scopes = []
    here = obj
    while here is not None:
        scopes.append(here)
        here = here.parent
    root = scopes[-1]
    head, _, rest = target.partition(".")
    attempts = [(scope, target) for scope in scopes]
    if head == root.name and rest:
        attempts.append((root, rest))          # absolute, from the top of the package
    for scope, path in attempts:
        try:
            return scope[path].canonical_path
        except (KeyError, ValueError, AttributeError, griffe.AliasResolutionError):
            continue
    return _defined_at(target)


def _defined_at(target):
    """Where the object at the absolute path ``target`` is defined, asking Python (a
    name of another package, or one that ``__init__`` rebinds: ``minigrad.tensor`` is
    the function of ``minigrad.factories``); ``target`` itself when that fails (the
    build then says it found nothing)."""
    parts = target.split(".")
    try:
        obj = importlib.import_module(parts[0])
        for part in parts[1:]:
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return target
    module, qualname = getattr(obj, "__module__", None), getattr(obj, "__qualname__", None)
    if isinstance(obj, types.ModuleType) or not (module and qualname) or "<" in qualname:
        return target
    return f"{module}.{qualname}"


def linked(text, obj=None):
    """``text`` with every role replaced by a link (``obj``: where the text is written)."""
    def link(match):
        role, tilde, target, call = match.groups()
        shown = (target.rsplit(".", 1)[-1] if tilde else target) + (call or "")
        if role in UNLINKED:
            return f"`{shown}`"
        path = _absolute(target, obj) if obj is not None else target
        return f"[`{shown}`][{path}]"
    return ROLE.sub(link, text)


def _walk(obj):
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _walk(member)


class RolesToLinks(griffe.Extension):
    """Rewrite the roles of every docstring, once the whole package is loaded (a role may
    name something defined further down)."""

    def on_package(self, *, pkg, **kwargs):
        for obj in _walk(pkg):
            if obj.docstring is not None and ":" in obj.docstring.value:
                obj.docstring.value = linked(obj.docstring.value, obj)
