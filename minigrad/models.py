"""The LSTM family under a name that no user's ``models.py`` can shadow.

>>> from minigrad.models import LSTM, LSTMCell
>>> from minigrad.models.tasks import get_task

The family lives in the top-level package ``models`` (the folder beside ``minigrad/``).
Many projects have a ``models.py`` of their own, and the folder a script runs from comes
first on ``sys.path``, so there ``import models`` finds the user's file. This module hands
out the real package whatever the working folder holds, and never two copies of it:

- when the name ``models`` resolves to our package (nothing shadows it), ``minigrad.models``
  *is* ``models``: the same module object, and ``minigrad.models.X`` is ``models.X`` (a small
  finder on ``sys.meta_path`` maps the one name to the other);
- when something else owns the name ``models`` (a user's file, imported or not), our
  package is loaded from its folder under the name ``minigrad.models`` alone, and the
  user's ``import models`` still finds their own file.

``import minigrad`` does not load this module: the engine knows nothing of LSTMs (arrows
point from ``models`` to ``minigrad`` only); importing ``minigrad.models`` is the one step
that loads the family.
"""
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import pathlib
import sys

_TOP = "models"
# the folder that holds both packages: the repository, or site-packages once installed
_HOME = pathlib.Path(__file__).resolve().parent.parent


def _our_spec():
    """Where our ``models`` package is, looked up beside ``minigrad`` only."""
    spec = importlib.machinery.PathFinder.find_spec(_TOP, [str(_HOME)])
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"minigrad.models: the package 'models' is missing from {_HOME}; "
                          "reinstall minigrad (pip install -e .)")
    return spec


def _is_ours(module_spec, ours):
    """Whether ``module_spec`` (what ``models`` names now) is the package at ``ours``."""
    origin = getattr(module_spec, "origin", None)
    return origin is not None and pathlib.Path(origin).resolve() == pathlib.Path(
        ours.origin).resolve()


class _SubmoduleAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``minigrad.models.X`` is ``models.X`` while the two package names are one module."""

    prefix = __name__ + "."

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(self.prefix):
            return None
        if sys.modules.get(__name__) is not sys.modules.get(_TOP):
            return None               # loaded under our own name: the plain path finder works
        real = importlib.util.find_spec(self.real_name(fullname))
        if real is None:
            return None
        # a package stays one (runpy then runs ``python -m minigrad.models.study`` through
        # its ``__main__``)
        return importlib.util.spec_from_loader(
            fullname, self, is_package=real.submodule_search_locations is not None)

    def real_name(self, fullname):
        return _TOP + "." + fullname[len(self.prefix):]

    def create_module(self, spec):
        module = importlib.import_module(self.real_name(spec.name))
        spec.loader_state = module.__spec__      # the import system stamps ours on it next
        return module

    def exec_module(self, module):
        module.__spec__ = module.__spec__.loader_state   # the module's own spec, back

    def get_code(self, fullname):
        """The real module's code, for ``python -m minigrad.models.train`` (runpy asks)."""
        real = importlib.util.find_spec(self.real_name(fullname))
        return real.loader.get_code(real.name)


def _load():
    ours = _our_spec()
    current = sys.modules.get(_TOP)
    if current is not None:
        named_ours = _is_ours(getattr(current, "__spec__", None), ours)
    else:
        try:
            named_ours = _is_ours(importlib.util.find_spec(_TOP), ours)
        except (ImportError, ValueError):  # a broken or half-set 'models' of someone else's
            named_ours = False
    if named_ours:
        package = importlib.import_module(_TOP)
        if not any(isinstance(finder, _SubmoduleAlias) for finder in sys.meta_path):
            sys.meta_path.insert(0, _SubmoduleAlias())
        return package
    # someone else owns the name 'models': load ours from its folder under our name alone
    spec = importlib.util.spec_from_file_location(
        __name__, ours.origin, submodule_search_locations=list(ours.submodule_search_locations))
    package = importlib.util.module_from_spec(spec)
    sys.modules[__name__] = package
    try:
        spec.loader.exec_module(package)
    except BaseException:
        del sys.modules[__name__]
        raise
    return package


# the import system returns whatever sys.modules holds under our name once this body ends
sys.modules[__name__] = _load()
