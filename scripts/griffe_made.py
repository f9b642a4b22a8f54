"""A Griffe extension (mkdocs.yml loads it before griffe_roles): the public functions and
classes a module makes with a factory are read from the live module.

Griffe reads the source, where ``ReLU = _activation("ReLU", ...)`` or
``isnan = _predicate("isnan", ...)`` is an attribute with no docstring: the reference
would show nothing for it. Once the package is loaded, each such name whose live value is
a function or class of that module, with a docstring, is replaced by what Griffe's
dynamic inspection makes of it: its signature and docstring (of a class, only those: its
other members are the factory's machinery).
"""
from __future__ import annotations

import importlib
import inspect

import griffe


def _modules(obj):
    if obj.is_module:
        yield obj
    for member in obj.members.values():
        if not member.is_alias and member.is_module:
            yield from _modules(member)


def _made_here(value, module_path):
    """Whether ``value`` is a documented function or class that ``module_path`` made."""
    return ((inspect.isfunction(value) or inspect.isclass(value))
            and value.__module__ == module_path and bool(value.__doc__))


class FactoryMade(griffe.Extension):
    """Replace each factory-made attribute by its dynamically inspected function or class."""

    def on_package(self, *, pkg, **kwargs):
        for module in list(_modules(pkg)):
            names = [name for name, member in module.members.items()
                     if not name.startswith("_") and not member.is_alias
                     and member.is_attribute]
            if not names:
                continue
            try:
                live = importlib.import_module(module.path)
            except ImportError:
                continue
            made = [name for name in names if _made_here(getattr(live, name, None), module.path)]
            if not made:
                continue
            inspected = griffe.inspect(module.path, filepath=module.filepath)
            for name in made:
                if name in inspected.members:
                    module.set_member(name, _public_face(inspected.members[name]))


def _public_face(obj):
    """``obj`` without what the factory set on a class for its own use (``function``,
    ``argument_names``, ...: inspection would show them with their types' docstrings);
    the constructor stays, for the signature."""
    if obj.is_class:
        for name in [name for name in obj.members if name != "__init__"]:
            obj.del_member(name)
    return obj
