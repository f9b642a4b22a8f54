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

    Returns
    -------
    Tensor
        A leaf with the shape of ``data``; its memory is never ``data``'s.
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
    PyTorch's ``from_numpy``), on the NumPy backend.

    Parameters
    ----------
    array : numpy.ndarray
        Any shape and dtype; anything else is a ``TypeError``.

    Returns
    -------
    Tensor
        The shape and dtype of ``array``, not requiring grad.
    """
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
    """Zeros of ``shape`` (ints or one tuple), ``float32`` unless ``dtype`` says otherwise.

    Parameters
    ----------
    *shape : int, or one tuple or list of int
    dtype : dtype, optional
        ``float32`` by default.
    requires_grad : bool
    backend : str, optional
        Where the tensor lives (the active backend by default).

    Returns
    -------
    Tensor of shape ``shape``
    """
    xp = _backend.get(backend).xp
    return _make(xp.zeros(_shape(shape), dtype=dtype or _backend.DEFAULT_FLOAT), requires_grad)


def ones(*shape, dtype=None, requires_grad=False, backend=None):
    """Ones of ``shape`` (ints or one tuple), ``float32`` unless ``dtype`` says otherwise.

    Parameters
    ----------
    *shape : int, or one tuple or list of int
    dtype : dtype, optional
        ``float32`` by default.
    requires_grad : bool
    backend : str, optional
        Where the tensor lives (the active backend by default).

    Returns
    -------
    Tensor of shape ``shape``
    """
    xp = _backend.get(backend).xp
    return _make(xp.ones(_shape(shape), dtype=dtype or _backend.DEFAULT_FLOAT), requires_grad)


def full(shape, fill_value, dtype=None, requires_grad=False, backend=None):
    """``fill_value`` everywhere in ``shape``.

    Parameters
    ----------
    shape : int, or tuple or list of int
    fill_value : number or bool
    dtype : dtype, optional
        By default ``float32`` for a float ``fill_value``, else NumPy's dtype of the value
        (``int64`` for an int, ``bool`` for a bool).
    requires_grad : bool
    backend : str, optional
        Where the tensor lives (the active backend by default).

    Returns
    -------
    Tensor of shape ``shape``
    """
    xp = _backend.get(backend).xp
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    if dtype is None:
        dtype = _backend.DEFAULT_FLOAT if isinstance(fill_value, float) else None
    return _make(xp.full(shape, fill_value, dtype=dtype), requires_grad)


def randn(*shape, dtype=None, requires_grad=False, backend=None):
    """Standard normal samples from the backend's generator (see :func:`manual_seed`).

    Parameters
    ----------
    *shape : int, or one tuple or list of int
    dtype : dtype, optional
        A floating dtype; ``float32`` by default.
    requires_grad : bool
    backend : str, optional
        Where the tensor lives and whose generator draws (the active backend by default).

    Returns
    -------
    Tensor of shape ``shape``
    """
    b = _backend.get(backend)
    array = b.generator.standard_normal(_shape(shape), dtype=dtype or _backend.DEFAULT_FLOAT)
    return _make(array, requires_grad)


def rand(*shape, dtype=None, requires_grad=False, backend=None):
    """Uniform samples in ``[0, 1)`` from the backend's generator (see :func:`manual_seed`).

    Parameters
    ----------
    *shape : int, or one tuple or list of int
    dtype : dtype, optional
        A floating dtype; ``float32`` by default.
    requires_grad : bool
    backend : str, optional
        Where the tensor lives and whose generator draws (the active backend by default).

    Returns
    -------
    Tensor of shape ``shape``
    """
    b = _backend.get(backend)
    array = b.generator.random(_shape(shape), dtype=dtype or _backend.DEFAULT_FLOAT)
    return _make(array, requires_grad)


def arange(start, stop=None, step=1, dtype=None, requires_grad=False, backend=None):
    """Values from ``start`` up to (not including) ``stop`` by ``step``, as NumPy's
    ``arange``; ``arange(n)`` counts from 0 to ``n - 1``.

    Parameters
    ----------
    start : number
        The first value; the end when ``stop`` is None (the start is then 0).
    stop : number, optional
    step : number
    dtype : dtype, optional
        By default ``float32`` if any argument is a float, else NumPy's integer dtype.
    requires_grad : bool
    backend : str, optional
        Where the tensor lives (the active backend by default).

    Returns
    -------
    Tensor of shape (n,)
        ``n = ceil((stop - start) / step)`` (0 when that is negative).
    """
    xp = _backend.get(backend).xp
    if stop is None:
        start, stop = 0, start
    if dtype is None and any(isinstance(v, float) for v in (start, stop, step)):
        dtype = _backend.DEFAULT_FLOAT
    return _make(xp.arange(start, stop, step, dtype=dtype), requires_grad)


def zeros_like(t, dtype=None, requires_grad=False):
    """Zeros with ``t``'s shape, dtype and backend.

    Parameters
    ----------
    t : Tensor
    dtype : dtype, optional
        ``t``'s dtype by default.
    requires_grad : bool

    Returns
    -------
    Tensor of ``t``'s shape
    """
    return _make(t.xp.zeros(t.shape, dtype=dtype or t.dtype), requires_grad)


def ones_like(t, dtype=None, requires_grad=False):
    """Ones with ``t``'s shape, dtype and backend.

    Parameters
    ----------
    t : Tensor
    dtype : dtype, optional
        ``t``'s dtype by default.
    requires_grad : bool

    Returns
    -------
    Tensor of ``t``'s shape
    """
    return _make(t.xp.ones(t.shape, dtype=dtype or t.dtype), requires_grad)


# --------------------------------------------------------------------------- PyTorch's
# The factories below have PyTorch's signatures (``size`` as ints or one tuple, keyword
# ``dtype`` and ``requires_grad``) and PyTorch's default dtypes; ``backend=`` says where,
# as for the factories above.

def _float_dtype(dtype, op):
    """``dtype`` (the default float dtype when None), refused unless floating."""
    dtype = _backend.DEFAULT_FLOAT if dtype is None else _backend.dtype_of(dtype)
    if dtype.kind != "f":
        raise TypeError(f"{op}: dtype must be floating, got {dtype}")
    return dtype


def _size(size, op):
    size = _shape(size)
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in size):
        raise ValueError(f"{op}: size must be non-negative ints, got {size}")
    return size


def empty(*size, dtype=None, requires_grad=False, backend=None):
    """An uninitialised tensor of ``size`` (ints or one tuple): its values are whatever
    the memory held, as PyTorch's ``empty``; ``float32`` unless ``dtype`` says otherwise.

    Parameters
    ----------
    *size : int, or one tuple of int
    dtype : dtype, optional
    requires_grad : bool
    backend : str, optional

    Returns
    -------
    Tensor of shape ``size``
    """
    xp = _backend.get(backend).xp
    return _make(xp.empty(_size(size, "empty"), dtype=dtype or _backend.DEFAULT_FLOAT),
                 requires_grad)


def eye(n, m=None, *, dtype=None, requires_grad=False, backend=None):
    """The identity: ones on the diagonal of an ``(n, m)`` matrix (``m = n`` when None).

    Parameters
    ----------
    n, m : int
    dtype : dtype, optional
        ``float32`` by default.
    requires_grad : bool
    backend : str, optional

    Returns
    -------
    Tensor of shape (n, m)
    """
    m = n if m is None else m
    _size((n, m), "eye")
    xp = _backend.get(backend).xp
    return _make(xp.eye(n, m, dtype=dtype or _backend.DEFAULT_FLOAT), requires_grad)


def linspace(start, end, steps, *, dtype=None, requires_grad=False, backend=None):
    """``steps`` values evenly spaced from ``start`` to ``end``, both included.

    Computed as PyTorch computes them, from both ends (``k < steps // 2`` as
    ``start + k * step``, the rest as ``end - (steps - 1 - k) * step``), so the last
    value is ``end`` exactly; floats equal PyTorch's to within one unit in the last
    place (its CPU kernel fuses the multiply-add). Integer dtypes truncate ``start`` and
    ``end`` first and the values, computed in float64, after, as PyTorch.

    Parameters
    ----------
    start, end : number
    steps : int >= 0
    dtype : dtype, optional
        ``float32`` by default.
    requires_grad : bool
    backend : str, optional

    Returns
    -------
    Tensor of shape (steps,)
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"linspace: steps must be an int >= 0, got {steps!r}")
    xp = _backend.get(backend).xp
    dtype = _backend.DEFAULT_FLOAT if dtype is None else _backend.dtype_of(dtype)
    work = dtype if dtype.kind == "f" else _backend.dtype_of(_backend.float64)
    if dtype.kind in "iu":
        start, end = int(start), int(end)
    first, last = xp.asarray(start, dtype=work), xp.asarray(end, dtype=work)
    if steps == 1:
        values = xp.reshape(first, (1,))
    else:
        step = (last - first) / work.type(max(steps - 1, 1))
        index = xp.arange(steps)
        from_start = first + step * index.astype(work)
        from_end = last - step * (steps - 1 - index).astype(work)
        values = xp.where(index < steps // 2, from_start, from_end)
    return _make(values.astype(dtype), requires_grad)


def randint(low, high=None, size=None, *, dtype=None, requires_grad=False, backend=None):
    """Integers drawn uniformly from ``[low, high)``: ``randint(high, size)`` or
    ``randint(low, high, size)``, as PyTorch; ``int64`` unless ``dtype`` says otherwise.

    Parameters
    ----------
    low : int
        The lowest value (0 when only ``high`` and ``size`` are given).
    high : int
        One past the highest value.
    size : tuple of int
    dtype : dtype, optional
    requires_grad : bool
        Only for a floating ``dtype``.
    backend : str, optional

    Returns
    -------
    Tensor of shape ``size``
    """
    if size is None:
        if not isinstance(high, (tuple, list)):
            raise TypeError("randint: expected randint(high, size) or "
                            "randint(low, high, size), with size a tuple")
        low, high, size = 0, low, high
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint: size must be a tuple of ints, got {type(size).__name__}")
    size = _size((tuple(size),), "randint")
    if not high > low:
        raise ValueError(f"randint: high ({high}) must be greater than low ({low})")
    generator = _backend.get(backend).generator
    values = generator.integers(low, high, size, dtype=_backend.int64)
    dtype = _backend.int64 if dtype is None else _backend.dtype_of(dtype)
    return _make(values if dtype == values.dtype else values.astype(dtype), requires_grad)


def full_like(t, fill_value, *, dtype=None, requires_grad=False):
    """``fill_value`` in ``t``'s shape, with ``t``'s dtype (a float filled into an integer
    tensor is truncated, as PyTorch) and backend.

    Parameters
    ----------
    t : Tensor
    fill_value : number
    dtype : dtype, optional
    requires_grad : bool

    Returns
    -------
    Tensor of ``t``'s shape
    """
    dtype = t.dtype if dtype is None else _backend.dtype_of(dtype)
    return _make(t.xp.full(t.shape, fill_value, dtype=dtype), requires_grad)


def randn_like(t, *, dtype=None, requires_grad=False):
    """Standard normal samples in ``t``'s shape, dtype (floating) and backend.

    Parameters
    ----------
    t : Tensor
    dtype : dtype, optional
    requires_grad : bool

    Returns
    -------
    Tensor of ``t``'s shape
    """
    dtype = _float_dtype(t.dtype if dtype is None else dtype, "randn_like")
    generator = _backend.of(t.data).generator
    return _make(generator.standard_normal(t.shape, dtype=dtype), requires_grad)


def rand_like(t, *, dtype=None, requires_grad=False):
    """Uniform samples in ``[0, 1)`` in ``t``'s shape, dtype (floating) and backend.

    Parameters
    ----------
    t : Tensor
    dtype : dtype, optional
    requires_grad : bool

    Returns
    -------
    Tensor of ``t``'s shape
    """
    dtype = _float_dtype(t.dtype if dtype is None else dtype, "rand_like")
    generator = _backend.of(t.data).generator
    return _make(generator.random(t.shape, dtype=dtype), requires_grad)
