"""A NumPy-backed stand-in for a device array library, so that CI without a GPU still runs
the engine through the code path CuPy takes.

What it imitates
----------------
CuPy arrays live in device memory, and CuPy refuses to move them to the host behind the
caller's back. The ways an engine written for NumPy leaks onto the host are exactly the
ones this module turns into errors:

* ``numpy.asarray(device_array)`` (and anything that calls ``__array__``, such as
  ``numpy.testing`` or a NumPy function on a list of device arrays) raises ``TypeError``;
  ``.get()`` is the one way home, as in CuPy.
* an operator, ufunc or function mixing a device array with a host ``numpy.ndarray``
  raises ``TypeError`` (CuPy says "Unsupported type <class 'numpy.ndarray'>"). Python
  scalars and NumPy scalars mix freely, as in CuPy.
* results are always device arrays: a reduction gives a 0-d array, never a NumPy scalar.
* the array class is not an ``ndarray`` subclass, so ``isinstance(x, numpy.ndarray)``
  is ``False``, as it is for ``cupy.ndarray``; and it has only methods CuPy has too.

NumPy functions called on device arrays dispatch to the "device" through
``__array_ufunc__``/``__array_function__``, as they do on CuPy arrays.

Why not ``array-api-strict``
----------------------------
``array-api-strict`` checks a different promise: that code uses nothing outside the
array API standard. The engine legitimately uses NumPy/CuPy functions outside that
standard (``add.at``-style scatter-add, ``split`` with cut indices, ``clip`` with one
open bound, ``astype(copy=False)``, the ``Generator`` API), which CuPy provides, so a
strict namespace would fail the engine where CuPy would not, while it would not model
the failure that matters on a GPU: a silent round trip through host memory. This
stand-in does the opposite trade: NumPy's full namespace, but CuPy's refusals exactly
where a CPU-only test suite would otherwise hide a host leak.

Use
---
``register()`` makes ``"standin"`` a minigrad backend (``mg.use_backend("standin")``);
``xp`` is its array module, ``StandInArray`` its array class.
"""
from __future__ import annotations

import types

import numpy as np

import minigrad.backend

__all__ = ["StandInArray", "xp", "to_host", "from_host", "scatter_add", "register"]

_HOST_MIX = ("standin: a host numpy.ndarray cannot be mixed with a device array "
             "(move it with xp.asarray first)")
_IMPLICIT = ("implicit conversion of a device array to NumPy is not allowed; "
             "use .get()")


# --------------------------------------------------------------------------- unwrap, wrap

def _unwrap(value):
    """Device arrays (also inside lists and tuples) as the NumPy arrays they hold;
    host ndarrays refused."""
    if isinstance(value, StandInArray):
        return value._array
    if isinstance(value, np.ndarray):
        raise TypeError(_HOST_MIX)
    if isinstance(value, list):
        return [_unwrap(v) for v in value]
    if type(value) is tuple:
        return tuple(_unwrap(v) for v in value)
    return value


def _unwrap_kwargs(kwargs):
    return {key: _unwrap(value) for key, value in kwargs.items()}


def _unwrap_index(index):
    """An index may hold host arrays and lists: CuPy copies those to the device."""
    if isinstance(index, StandInArray):
        return index._array
    if type(index) is tuple:
        return tuple(_unwrap_index(part) for part in index)
    return index


def _wrap(value):
    """NumPy results as device arrays (NumPy scalars as 0-d arrays, as CuPy returns)."""
    if isinstance(value, np.ndarray):
        return StandInArray(value)
    if isinstance(value, np.generic):
        return StandInArray(np.asarray(value))
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if type(value) is tuple:
        return tuple(_wrap(v) for v in value)
    return value


def _operand(other):
    """The other side of an operator: device arrays unwrapped, scalars as they are,
    host arrays refused, anything else (a Tensor) left to its own reflected method."""
    if isinstance(other, StandInArray):
        return other._array
    if isinstance(other, np.ndarray):
        raise TypeError(_HOST_MIX)
    if isinstance(other, (int, float, complex, bool, np.generic)):
        return other
    return NotImplemented


# --------------------------------------------------------------------------- the array

def _binary(compute):
    def method(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        return _wrap(compute(self._array, other))
    return method


def _reflected(compute):
    def method(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        return _wrap(compute(other, self._array))
    return method


def _inplace(compute):
    def method(self, other):
        other = _operand(other)
        if other is NotImplemented:
            return NotImplemented
        compute(self._array, other)    # the operator module's i-functions work in place
        return self
    return method


def _forwarded(name):
    def method(self, *args, **kwargs):
        result = getattr(self._array, name)(*_unwrap(args), **_unwrap_kwargs(kwargs))
        return _wrap(result)
    method.__name__ = name
    return method


class StandInArray:
    """A "device" array: a NumPy array that will not be read by NumPy implicitly.

    Not an ``ndarray`` subclass. Build one with :data:`xp` (``xp.asarray(host)`` copies
    host data over); read it back with :meth:`get`.
    """
    __slots__ = ("_array",)
    __hash__ = None

    def __init__(self, array):
        if not isinstance(array, np.ndarray):
            raise TypeError(f"StandInArray wraps a numpy.ndarray, not {type(array).__name__}")
        self._array = array

    # ---- leaving the device: explicit only
    def get(self):
        """A host (NumPy) copy, as ``cupy.ndarray.get()``."""
        return self._array.copy()

    def __array__(self, dtype=None, copy=None):
        raise TypeError(_IMPLICIT)

    def item(self):
        return self._array.item()

    def tolist(self):
        return self._array.tolist()

    def __float__(self):
        return float(self._array.item())

    def __int__(self):
        return int(self._array.item())

    def __complex__(self):
        return complex(self._array.item())

    def __bool__(self):
        return bool(self._array)

    def __len__(self):
        return len(self._array)

    def __iter__(self):
        return (self[i] for i in range(len(self._array)))

    def __repr__(self):
        return "standin." + repr(self._array)

    def __str__(self):
        return str(self._array)

    # ---- what it is
    shape = property(lambda self: self._array.shape)
    dtype = property(lambda self: self._array.dtype)
    ndim = property(lambda self: self._array.ndim)
    size = property(lambda self: self._array.size)
    itemsize = property(lambda self: self._array.itemsize)
    nbytes = property(lambda self: self._array.nbytes)
    strides = property(lambda self: self._array.strides)
    flags = property(lambda self: self._array.flags)
    T = property(lambda self: StandInArray(self._array.T))
    device = "standin:0"

    # ---- indexing
    def __getitem__(self, index):
        index = _unwrap_index(index)
        result = self._array[index]
        if isinstance(result, np.generic):
            # NumPy gives a scalar copy for a full integer index; CuPy a 0-d view
            parts = index if type(index) is tuple else (index,)
            result = self._array[parts + (Ellipsis,)]
        return StandInArray(result)

    def __setitem__(self, index, value):
        if isinstance(value, np.ndarray):
            raise TypeError(_HOST_MIX)
        self._array[_unwrap_index(index)] = _unwrap(value)

    # ---- dispatch of NumPy's ufuncs and functions, as CuPy does
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap_kwargs(kwargs))
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, relevant_types, args, kwargs):
        out = kwargs.get("out")
        result = func(*_unwrap(args), **_unwrap_kwargs(kwargs))
        return out if out is not None else _wrap(result)

    # ---- operators
    import operator as _op
    __add__, __radd__, __iadd__ = _binary(_op.add), _reflected(_op.add), _inplace(_op.iadd)
    __sub__, __rsub__, __isub__ = _binary(_op.sub), _reflected(_op.sub), _inplace(_op.isub)
    __mul__, __rmul__, __imul__ = _binary(_op.mul), _reflected(_op.mul), _inplace(_op.imul)
    __truediv__, __rtruediv__, __itruediv__ = (_binary(_op.truediv), _reflected(_op.truediv),
                                               _inplace(_op.itruediv))
    __floordiv__, __rfloordiv__, __ifloordiv__ = (_binary(_op.floordiv),
                                                  _reflected(_op.floordiv),
                                                  _inplace(_op.ifloordiv))
    __mod__, __rmod__, __imod__ = _binary(_op.mod), _reflected(_op.mod), _inplace(_op.imod)
    __pow__, __rpow__, __ipow__ = _binary(_op.pow), _reflected(_op.pow), _inplace(_op.ipow)
    __matmul__, __rmatmul__, __imatmul__ = (_binary(_op.matmul), _reflected(_op.matmul),
                                            _inplace(_op.imatmul))
    __and__, __rand__, __iand__ = _binary(_op.and_), _reflected(_op.and_), _inplace(_op.iand)
    __or__, __ror__, __ior__ = _binary(_op.or_), _reflected(_op.or_), _inplace(_op.ior)
    __xor__, __rxor__, __ixor__ = _binary(_op.xor), _reflected(_op.xor), _inplace(_op.ixor)
    __lt__, __le__ = _binary(_op.lt), _binary(_op.le)
    __gt__, __ge__ = _binary(_op.gt), _binary(_op.ge)
    __eq__, __ne__ = _binary(_op.eq), _binary(_op.ne)
    del _op

    def __neg__(self):
        return _wrap(-self._array)

    def __pos__(self):
        return _wrap(+self._array)

    def __abs__(self):
        return _wrap(abs(self._array))

    def __invert__(self):
        return _wrap(~self._array)


# Methods forwarded to NumPy: only ones cupy.ndarray has too, so that the engine cannot
# come to rely on an ndarray-only method through this stand-in.
for _name in ("reshape", "transpose", "swapaxes", "squeeze", "ravel", "flatten", "view",
              "sum", "prod", "mean", "var", "std", "max", "min", "argmax", "argmin",
              "all", "any", "cumsum", "cumprod", "clip", "round", "conj", "dot", "take",
              "put", "repeat", "nonzero", "sort", "argsort", "diagonal", "trace", "fill",
              "astype", "copy"):
    setattr(StandInArray, _name, _forwarded(_name))
del _name


# --------------------------------------------------------------------------- the module

class _DeviceUfunc:
    """A NumPy ufunc that takes and returns device arrays (``xp.add``, ``xp.add.at``)."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        out = kwargs.get("out")
        result = self._ufunc(*_unwrap(args), **_unwrap_kwargs(kwargs))
        if out is not None:
            return out[0] if isinstance(out, tuple) and len(out) == 1 else out
        return _wrap(result)

    def at(self, target, index, values=None):
        if not isinstance(target, StandInArray):
            raise TypeError(f"{self.__name__}.at: the target must be a device array")
        args = () if values is None else (_unwrap(values),)
        self._ufunc.at(target._array, _unwrap_index(index), *args)

    def reduce(self, *args, **kwargs):
        return _wrap(self._ufunc.reduce(*_unwrap(args), **_unwrap_kwargs(kwargs)))

    def accumulate(self, *args, **kwargs):
        return _wrap(self._ufunc.accumulate(*_unwrap(args), **_unwrap_kwargs(kwargs)))

    def outer(self, *args, **kwargs):
        return _wrap(self._ufunc.outer(*_unwrap(args), **_unwrap_kwargs(kwargs)))


def _device_function(function):
    def call(*args, **kwargs):
        out = kwargs.get("out")
        result = function(*_unwrap(args), **_unwrap_kwargs(kwargs))
        return out if out is not None else _wrap(result)
    call.__name__ = getattr(function, "__name__", "function")
    call.__doc__ = f"Device version of numpy.{call.__name__}."
    return call


def _host_data(value):
    """Host data (Python numbers or lists, NumPy arrays or scalars) for a device copy."""
    if isinstance(value, StandInArray):
        return value._array
    if isinstance(value, (list, tuple)):
        return [_host_data(v) for v in value]     # nested device scalars are data too
    return value


class _DeviceNamespace(types.ModuleType):
    """The stand-in's ``xp``: NumPy's namespace, on device arrays.

    Every NumPy function and ufunc is available under its own name; dtypes and constants
    are NumPy's. ``asarray``/``array`` copy host data to the device, as CuPy's do.
    """
    ndarray = StandInArray

    def __init__(self):
        super().__init__("standin.xp")
        self._cache = {}

    @staticmethod
    def asarray(value, dtype=None):
        if isinstance(value, StandInArray):
            return value if dtype is None or value.dtype == np.dtype(dtype) \
                else value.astype(dtype)
        return StandInArray(np.array(_host_data(value), dtype=dtype, copy=True))

    @staticmethod
    def array(value, dtype=None, copy=True):
        if isinstance(value, StandInArray) and not copy:
            return _DeviceNamespace.asarray(value, dtype)
        return StandInArray(np.array(_host_data(value), dtype=dtype, copy=True))

    asanyarray = asarray

    @staticmethod
    def asnumpy(value):
        """``cupy.asnumpy``: the one sanctioned way to the host."""
        return value.get() if isinstance(value, StandInArray) else np.asarray(value)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cache = self.__dict__["_cache"]
        if name in cache:
            return cache[name]
        try:
            value = getattr(np, name)
        except AttributeError:
            raise AttributeError(f"standin.xp has no attribute {name!r}") from None
        if isinstance(value, np.ufunc):
            value = _DeviceUfunc(value)
        elif callable(value) and not isinstance(value, type):
            value = _device_function(value)
        elif isinstance(value, types.ModuleType):
            raise AttributeError(f"standin.xp.{name}: submodules are not provided")
        cache[name] = value           # dtypes, classes and constants are NumPy's own
        return value


xp = _DeviceNamespace()


# --------------------------------------------------------------------------- backend hooks

def to_host(array):
    """Device -> host copy (the backend's ``to_host``)."""
    if not isinstance(array, StandInArray):
        raise TypeError(f"to_host: expected a device array, got {type(array).__name__}")
    return array.get()


def from_host(array):
    """Host -> device copy (the backend's ``from_host``)."""
    if isinstance(array, StandInArray):
        raise TypeError("from_host: the array is already on the device")
    return StandInArray(np.array(array, copy=True))


def scatter_add(target, index, values):
    """``target[index] += values`` with repeated indices accumulating
    (``cupyx.scatter_add``)."""
    if not isinstance(target, StandInArray):
        raise TypeError("scatter_add: the target must be a device array")
    np.add.at(target._array, _unwrap_index(index), _unwrap(values))


class _DeviceGenerator:
    """NumPy's ``Generator`` producing device arrays (``cupy.random.Generator``)."""

    def __init__(self, seed):
        self._generator = np.random.default_rng(seed)

    def _draw(self, method, *args, **kwargs):
        return _wrap(getattr(self._generator, method)(*_unwrap(args), **_unwrap_kwargs(kwargs)))

    def standard_normal(self, size=None, dtype=np.float64):
        return self._draw("standard_normal", size, dtype=dtype)

    def random(self, size=None, dtype=np.float64):
        return self._draw("random", size, dtype=dtype)

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._draw("integers", low, high, size, dtype=dtype, endpoint=endpoint)

    def uniform(self, low=0.0, high=1.0, size=None):
        return self._draw("uniform", low, high, size)

    def normal(self, loc=0.0, scale=1.0, size=None):
        return self._draw("normal", loc, scale, size)

    def permutation(self, x):
        return self._draw("permutation", x)


def _load():
    return minigrad.backend.Backend("standin", xp, (StandInArray,), to_host, from_host,
                                    scatter_add, _DeviceGenerator)


def register():
    """Make ``"standin"`` a selectable minigrad backend."""
    minigrad.backend.register_backend("standin", _load)
