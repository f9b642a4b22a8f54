"""Making tensors: from Python data or arrays, and the usual factories."""
from __future__ import annotations

from . import backend as _backend
from .tensor import Tensor


def tensor(data, dtype=None, requires_grad=False, backend=None, name=None):
    """A new leaf tensor holding a copy of ``data``.

    Parameters
    ----------
    data : number, list, NumPy or CuPy array, or Tensor
        Python floats and lists of floats become ``float32``; arrays keep their dtype.
    dtype : dtype, optional
    requires_grad : bool
        Only floating tensors may require grad.
    backend : str, optional
        Where the data goes (the active backend by default).
    name : str, optional
        Shown by the graph renderer.
    """
    if isinstance(data, Tensor):
        data = data.data
    target = _backend.get(backend)
    array = _backend.convert(data, target, dtype)
    if array is data:
        array = array.copy()
    return Tensor(array, requires_grad=requires_grad, name=name)


def from_numpy(array):
    """A leaf tensor holding the NumPy ``array`` itself (its dtype and memory, as
    PyTorch's ``from_numpy``), on the NumPy backend."""
    if not isinstance(array, _backend.get("numpy").array_types):
        raise TypeError(f"from_numpy: expected a numpy.ndarray, got {type(array).__name__}")
    return Tensor(_backend.convert(array, _backend.get("numpy")))


def _shape(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _make(array, requires_grad, name=None):
    return Tensor(array, requires_grad=requires_grad, name=name)


def zeros(*shape, dtype=None, requires_grad=False, backend=None):
    """Zeros of ``shape`` (ints or one tuple), ``float32`` unless ``dtype`` says otherwise."""
    xp = _backend.get(backend).xp
    return _make(xp.zeros(_shape(shape), dtype=dtype or _backend.DEFAULT_FLOAT), requires_grad)


def ones(*shape, dtype=None, requires_grad=False, backend=None):
    """Ones of ``shape``."""
    xp = _backend.get(backend).xp
    return _make(xp.ones(_shape(shape), dtype=dtype or _backend.DEFAULT_FLOAT), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False, backend=None):
    """``fill_value`` everywhere in ``shape``."""
    xp = _backend.get(backend).xp
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None:
        dtype = _backend.DEFAULT_FLOAT if isinstance(fill_value, float) else None
    return _make(xp.full(shape, fill_value, dtype=dtype), requires_grad)


def randn(*shape, dtype=None, requires_grad=False, backend=None):
    """Standard normal samples from the backend's generator (see :func:`manual_seed`)."""
    b = _backend.get(backend)
    array = b.generator.standard_normal(_shape(shape), dtype=dtype or _backend.DEFAULT_FLOAT)
    return _make(array, requires_grad)


def rand(*shape, dtype=None, requires_grad=False, backend=None):
    """Uniform samples in ``[0, 1)``."""
    b = _backend.get(backend)
    array = b.generator.random(_shape(shape), dtype=dtype or _backend.DEFAULT_FLOAT)
    return _make(array, requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, backend=None):
    """NumPy's arange; float arguments give ``float32``."""
    xp = _backend.get(backend).xp
    if stop is None:
        start, stop = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, stop, step)):
        dtype = _backend.DEFAULT_FLOAT
    return _make(xp.arange(start, stop, step, dtype=dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    """Zeros with ``t``'s shape, dtype and backend."""
    return _make(t.xp.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    """Ones with ``t``'s shape, dtype and backend."""
    return _make(t.xp.ones(t.shape, dtype=dtype or t.dtype), requires_grad)
