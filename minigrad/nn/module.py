"""Modules: parameters registered by attribute, state dicts, train/eval, backends.

A module may *borrow* a parameter that another module owns (:meth:`Module.borrow`): the
name then reads and writes the owner's attribute, so the owner's registry is the one
place the parameter lives. A recurrent layer owns its cells' parameters under PyTorch's
flat names this way, and whatever is assigned to the layer is what its cells compute with.
"""
from __future__ import annotations

from collections.abc import Mapping

from .. import backend as _backend
from .. import graphs as _graphs
from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf tensor that requires grad, registered when set as a module attribute.

    A parameter that its module named (``name`` was None when it was set) also keeps
    ``path``, its dotted name from the outermost module holding it
    (``encoder.weight_ih_l0``), which grows as modules are set inside others; the graph
    renderer labels parameters with it. A name you gave yourself is left alone.

    Parameters
    ----------
    data : Tensor, backend array or array-like
        The initial values (a tensor's array is used as is, without a copy).
    name : str, optional
        A label for graphs; by default the module path is used.
    """
    __slots__ = ("path",)

    def __init__(self, data, name=None):
        if isinstance(data, Tensor):
            data = data.data
        super().__init__(_backend.as_array(data), requires_grad=True, name=name)
        self.path = None

    def _registered(self, path):
        # The outermost module's dotted name is the longest one a parameter is registered
        # under (a layer re-registering its cell's ``weight_ih`` as ``weight_ih_l0``, a
        # model holding that layer as ``encoder``); a shorter one (weight tying from a
        # sibling module) does not replace it.
        if self.path is not None and len(path) > len(self.path):
            self.path = path


class Module:
    """Base class: set parameters, sub-modules and lists of modules as attributes.

    ``named_parameters()`` follows registration order with dotted names, so a module
    whose attributes are named as PyTorch names them loads a PyTorch state dict.
    A subclass calls ``super().__init__()`` first and defines :meth:`forward`; calling the
    module calls ``forward``.
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"{type(self).__name__}.__init__ must call "
                                 f"super().__init__() before setting {name!r}")
        borrowed = self.__dict__.get("_borrowed")
        if borrowed and name in borrowed:
            owner, owner_name = borrowed[name]
            setattr(owner, owner_name, value)
            return
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            if value.name is None:
                value.name = value.path = name
            else:
                value._registered(name)
            self._parameters[name] = value      # a name set again keeps its place
            object.__setattr__(self, name, value)
            return
        self._parameters.pop(name, None)
        if isinstance(value, Module):
            self._modules[name] = value
            value._qualify(name)
        elif isinstance(value, (list, tuple)) and value and \
                all(isinstance(v, Module) for v in value):
            value = ModuleList(value)
            self._modules[name] = value
            value._qualify(name)
        object.__setattr__(self, name, value)

    def _qualify(self, prefix):
        """Tell this module's parameters that it now sits at ``prefix`` in a parent."""
        for path, param in self.named_parameters():
            param._registered(f"{prefix}.{path}")

    def __getattr__(self, name):
        # only reached when the ordinary lookup fails: a borrowed name reads its owner's
        borrowed = self.__dict__.get("_borrowed")
        if borrowed and name in borrowed:
            owner, owner_name = borrowed[name]
            return getattr(owner, owner_name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def borrow(self, name, owner, owner_name):
        """Hand this module's parameter ``name`` to ``owner``, registered there as
        ``owner_name``; from now on ``self.name`` reads and assigns ``owner.owner_name``.

        The parameter then counts once, as the owner's (``parameters()``,
        ``state_dict()``, ``load_state_dict``, ``to``), and assigning or tying it on
        the owner changes what this module computes with.

        Parameters
        ----------
        name : str
            The attribute name of one of this module's parameters.
        owner : Module
            The module that keeps it from now on (a recurrent layer, for its cells).
        owner_name : str
            Its name there (``weight_ih_l0``).
        """
        param = self._parameters.pop(name)
        object.__delattr__(self, name)
        setattr(owner, owner_name, param)
        if "_borrowed" not in self.__dict__:
            object.__setattr__(self, "_borrowed", {})
        self._borrowed[name] = (owner, owner_name)

    def borrowed(self):
        """The parameters this module borrows (see :meth:`borrow`).

        Returns
        -------
        dict
            ``{name: (owner, owner_name)}``, a copy.
        """
        return dict(self.__dict__.get("_borrowed", {}))

    def __delattr__(self, name):
        borrowed = self.__dict__.get("_borrowed")
        if borrowed and name in borrowed:
            owner, owner_name = borrowed[name]
            delattr(owner, owner_name)
            return
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def register_parameter(self, name, value):
        """Register ``value`` under ``name``, as setting the attribute does.

        Parameters
        ----------
        name : str
        value : Parameter or None
        """
        setattr(self, name, value)

    def forward(self, *args, **kwargs):
        """The module's computation; subclasses define it (calling the module calls it).

        Parameters
        ----------
        *args, **kwargs
            Whatever the subclass takes.

        Raises
        ------
        NotImplementedError
            On a module that does not define it.
        """
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal
    def children(self):
        """The direct sub-modules, in registration order.

        Returns
        -------
        iterator of Module
        """
        return iter(self._modules.values())

    def named_modules(self, prefix=""):
        """This module and every module inside it, depth first, with dotted names.

        Parameters
        ----------
        prefix : str
            Put before every name (this module's own name is ``prefix``).

        Yields
        ------
        tuple of (str, Module)
        """
        yield prefix, self
        for name, module in self._modules.items():
            yield from module.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        """This module and every module inside it, depth first.

        Returns
        -------
        iterator of Module
        """
        return (module for _, module in self.named_modules())

    def named_parameters(self, prefix=""):
        """``(dotted name, Parameter)`` pairs in registration order, each parameter once
        (a tied one under its first name).

        Parameters
        ----------
        prefix : str
            Put before every name.

        Yields
        ------
        tuple of (str, Parameter)
        """
        seen = set()
        for module_name, module in self.named_modules(prefix):
            for name, param in module._parameters.items():
                if id(param) in seen:
                    continue
                seen.add(id(param))
                yield (f"{module_name}.{name}" if module_name else name), param

    def parameters(self):
        """Every parameter, once each, in registration order (what optimizers take).

        Returns
        -------
        list of Parameter
        """
        return [param for _, param in self.named_parameters()]

    def zero_grad(self):
        """Drop every parameter's gradient (``.grad = None``)."""
        _graphs.note_cleared()
        for param in self.parameters():
            param.grad = None

    def train(self, mode=True):
        """Set training mode (dropout active) on this module and every one inside it.

        Parameters
        ----------
        mode : bool
            False is evaluation mode, as :meth:`eval`.

        Returns
        -------
        Module
            ``self``.
        """
        for module in self.modules():
            object.__setattr__(module, "training", mode)
        return self

    def eval(self):
        """Set evaluation mode (dropout off) on this module and every one inside it.

        Returns
        -------
        Module
            ``self``.
        """
        return self.train(False)

    # ---- state
    def _named_parameter_slots(self):
        """``(dotted name, Parameter)`` for every registered name, a parameter tied to
        two names listed under both (as PyTorch's state dict lists it)."""
        for module_name, module in self.named_modules():
            for name, param in module._parameters.items():
                yield (f"{module_name}.{name}" if module_name else name), param

    def state_dict(self):
        """Every parameter's values by dotted name, copied off the GPU.

        A parameter registered under two names (tied) appears under both, as in PyTorch.

        Returns
        -------
        dict of str to numpy.ndarray
        """
        return {name: _backend.to_numpy(param.data).copy()
                for name, param in self._named_parameter_slots()}

    def load_state_dict(self, state, strict=True):
        """Copy arrays (NumPy, or anything with ``__array__``) into the parameters.

        Each value is cast to its parameter's dtype and moved to its backend. Every entry
        is checked before any parameter changes: a missing, unexpected or mis-shaped
        entry, or one that cannot be cast to its parameter's dtype (text, objects,
        complex numbers into a real parameter), raises one error naming every one of
        them (with both shapes or dtypes); nothing is loaded then. A tied parameter
        takes the entry of whichever of its names comes last.

        Parameters
        ----------
        state : mapping of str to array
            Such as :meth:`state_dict` gives, or a PyTorch state dict's values as NumPy.
        strict : bool
            Whether missing and unexpected names are errors (else they are skipped).

        Returns
        -------
        Module
            ``self``.

        Raises
        ------
        TypeError
            When ``state`` is not a mapping.
        ValueError
            Naming every problem, as above.
        """
        if not isinstance(state, Mapping):
            raise TypeError(f"load_state_dict into {type(self).__name__}: expected a mapping "
                            f"of parameter names to arrays (what state_dict() returns), got "
                            f"{type(state).__name__}")
        params = dict(self._named_parameter_slots())
        numpy = _backend.get("numpy").xp
        arrays = {}
        problems = []
        for name, value in state.items():
            if name not in params:
                if strict:
                    problems.append(f"unexpected key {name!r}")
                continue
            param = params[name]
            array = value.data if isinstance(value, Tensor) else value
            try:
                array = _backend.to_numpy(array) if type(array) in _backend._BY_TYPE \
                    else numpy.asarray(array)
            except Exception as error:      # an __array__ that fails, ragged lists, ...
                problems.append(f"{name!r}: not an array ({type(error).__name__}: {error})")
                continue
            if array.shape != param.shape:
                problems.append(f"{name!r}: checkpoint shape {tuple(array.shape)}, "
                                f"model shape {param.shape}")
                continue
            target = numpy.dtype(param.dtype)
            if array.dtype.kind not in "biufc" or (array.dtype.kind == "c"
                                                   and target.kind != "c"):
                problems.append(f"{name!r}: checkpoint dtype {array.dtype} cannot be cast "
                                f"to the parameter's {target}")
                continue
            arrays[name] = array.astype(target, copy=True)
        if strict:
            problems += [f"missing key {name!r}" for name in params if name not in state]
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: "
                             + "; ".join(problems))
        for name, array in arrays.items():
            param = params[name]
            target = _backend.of(param.data)
            param.data = array if target.name == "numpy" else target.from_host(array)
        return self

    def to(self, *targets, dtype=None, backend=None, device=None):
        """Move every parameter to a backend and/or cast it to a floating dtype, in place,
        as PyTorch's ``module.to``: each stays the same :class:`Parameter` object (so
        optimizers and tied weights follow), with its gradient moved and cast too.

        Parameters
        ----------
        *targets : str or dtype
            A backend name (``"numpy"``, ``"cupy"``, ``"cpu"``, ``"gpu"``), a floating
            dtype, or one of each: ``model.to("cupy")``, ``model.to(mg.float64)``,
            ``model.to("cupy", mg.float64)``.
        dtype : dtype, optional
        backend, device : str, optional
            The backend as a keyword (``device`` is PyTorch's name for it).

        Returns
        -------
        Module
            ``self``.
        """
        name = type(self).__name__
        backend, dtype = _backend.read_targets(f"{name}.to", targets, dtype, backend, device,
                                               expected="a floating dtype")
        if dtype is not None and dtype.kind != "f":
            raise TypeError(f"{name}.to: the dtype must be floating (parameters "
                            f"require grad), got {dtype}")
        target = _backend.get(backend) if backend is not None else None
        for param in self.parameters():
            param.data = _converted(param.data, target, dtype)
            if param.grad is not None:
                param.grad = Tensor(_converted(param.grad.data, target, dtype))
        return self

    def float(self):
        """Cast every parameter (and gradient) to ``float32`` in place, as PyTorch's
        ``module.float()``.

        Returns
        -------
        Module
            ``self``.
        """
        return self.to(_backend.float32)

    def double(self):
        """Cast every parameter (and gradient) to ``float64`` in place, as PyTorch's
        ``module.double()``.

        Returns
        -------
        Module
            ``self``.
        """
        return self.to(_backend.float64)

    def half(self):
        """Cast every parameter (and gradient) to ``float16`` in place, as PyTorch's
        ``module.half()``.

        Returns
        -------
        Module
            ``self``.
        """
        return self.to("float16")

    def __repr__(self):
        lines = [f"  ({name}): {module!r}".replace("\n", "\n  ")
                 for name, module in self._modules.items()]
        extra = self.extra_repr()
        if not lines:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}({extra}\n" + "\n".join(lines) + "\n)"

    def extra_repr(self):
        """The options shown inside this module's ``repr``; subclasses override it.

        Returns
        -------
        str
        """
        return ""


def _converted(array, target, dtype):
    """``array`` on the backend ``target`` (None: its own) with ``dtype`` (None: its
    own)."""
    if target is not None:
        array = _backend.convert(array, target)
    if dtype is not None and array.dtype != dtype:
        array = array.astype(dtype)
    return array


class ModuleList(Module):
    """A list of modules registered as ``0``, ``1``, ... (PyTorch's naming).

    Parameters
    ----------
    modules : iterable of Module
        The first entries.
    """

    def __init__(self, modules=()):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        """Add ``module`` at the end, registered under the next index.

        Parameters
        ----------
        module : Module

        Returns
        -------
        ModuleList
            ``self``.
        """
        setattr(self, str(len(self._modules)), module)
        return self

    def __getitem__(self, index):
        return list(self._modules.values())[index]

    def __iter__(self):
        return iter(self._modules.values())

    def __len__(self):
        return len(self._modules)
