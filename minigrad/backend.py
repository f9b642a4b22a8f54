"""Where arrays live: the one module that imports NumPy or CuPy.

Everything else in the engine asks this module for an array module (``xp``) and for the
few operations where NumPy and CuPy differ: moving data to the host, scatter-add (the
backward of integer indexing), and random numbers.

A backend is a small record (:class:`Backend`). ``numpy`` is always there; ``cupy`` is
loaded the first time it is asked for and refused with :class:`BackendError` when CuPy or
a CUDA device is missing. Tests register a third one, a NumPy-backed stand-in for a device
array library (``tests/standin.py``), through :func:`register_backend`.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import warnings

import math

import numpy as np

float32 = np.float32
float64 = np.float64
int64 = np.int64
bool_ = np.bool_
DEFAULT_FLOAT = np.dtype(np.float32)

_ALIASES = {"cpu": "numpy", "gpu": "cupy"}


class BackendError(RuntimeError):
    """A backend that cannot be used here, or two backends mixed in one op."""


class Backend:
    """What the engine needs to know about one array library.

    Attributes
    ----------
    name : str
        ``"numpy"``, ``"cupy"`` or a registered test backend.
    xp : module
        The NumPy-compatible array module.
    array_types : tuple of type
        The array classes this backend produces.
    elementwise_kernel : callable or None
        ``elementwise_kernel(in_params, out_params, body, name, preamble)``: a compiled
        elementwise kernel (CuPy's), for the kernels generated from fused code
        (:mod:`minigrad.segments`); None where generated code runs line by line.
    graphs : object or None
        CUDA graph capture for :mod:`minigrad.graphs` (``pool()``,
        ``allocating_from(pool)``, ``capture(run, pool) -> (graph, result)``,
        ``launch(graph)``); None where there are no graphs.
    """

    def __init__(self, name, xp, array_types, to_host, from_host, scatter_add, generator_factory,
                 elementwise_kernel=None, graphs=None):
        self.name = name
        self.xp = xp
        self.array_types = tuple(array_types)
        self.to_host = to_host            # device array -> numpy.ndarray (a copy off the GPU)
        self.from_host = from_host        # numpy.ndarray -> device array
        self.scatter_add = scatter_add    # target[index] += values, repeated indices accumulating
        self._generator_factory = generator_factory
        self.generator = generator_factory(None)
        self.elementwise_kernel = elementwise_kernel
        self.graphs = graphs

    def seed(self, seed):
        self.generator = self._generator_factory(seed)

    def __repr__(self):
        return f"Backend({self.name!r})"


# --------------------------------------------------------------------------- loaders

def _numpy_generator(seed):
    return np.random.default_rng(seed)


def _load_numpy():
    return Backend("numpy", np, (np.ndarray,), np.asarray, np.asarray, np.add.at, _numpy_generator)


_MALLOC_TRIM_THRESHOLD, _MALLOC_MMAP_THRESHOLD = -1, -3     # glibc's mallopt parameters


def tune_allocator(trim_threshold=(1 << 31) - 1, mmap_threshold=128 << 20):
    """Let glibc keep freed memory for reuse instead of handing it back at once.

    An explicit opt-in for the whole process (importing minigrad changes nothing):
    ``models.train``, the demo and the benchmarks call it; an application that embeds
    minigrad decides for itself, in code or with ``MINIGRAD_TUNE_ALLOCATOR=1`` (applied
    at import). ``MINIGRAD_TUNE_ALLOCATOR=0`` refuses it, even where a script asks.

    Why it helps: a training step allocates the same arrays step after step. With glibc's
    defaults the memory freed at the end of a step goes back to the system, so the next
    step's activations land on fresh pages, and every page faults on first touch: 95 us
    instead of 6 us to fill a (128, 512) float32 array here (docs/performance.md has what
    it changes for a training loop). With these settings freed memory stays in the
    process (up to ``trim_threshold`` bytes at the top of the heap; glibc's maximum by
    default, as a caching allocator would) and arrays up to ``mmap_threshold`` bytes come
    from the heap. The settings last until the process ends.

    Parameters
    ----------
    trim_threshold : int
        glibc's ``M_TRIM_THRESHOLD``: free memory kept at the top of the heap, in bytes.
    mmap_threshold : int
        glibc's ``M_MMAP_THRESHOLD``: allocations at least this large get their own
        mapping (given back as soon as they are freed).

    Returns
    -------
    bool
        Whether the settings were applied (Linux with glibc only, and not refused).
    """
    if os.environ.get("MINIGRAD_TUNE_ALLOCATOR") == "0" or not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(_MALLOC_TRIM_THRESHOLD, trim_threshold)) and \
            bool(libc.mallopt(_MALLOC_MMAP_THRESHOLD, mmap_threshold))
    except (OSError, AttributeError):     # not glibc (musl, macOS): nothing to tune
        return False


def _load_cupy():
    try:
        import cupy
        import cupyx
    except Exception as exc:  # ImportError, or a broken CUDA install raising anything
        raise BackendError(f"cupy backend unavailable: cannot import cupy ({exc})") from None
    try:
        # `import cupy` succeeds without a driver; the first allocation is what fails.
        if cupy.cuda.runtime.getDeviceCount() < 1:
            raise RuntimeError("no CUDA device found")
        (cupy.zeros(1) + 1).get()
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BackendError(f"cupy backend unavailable: no CUDA device answers ({reason})") from None

    def scatter_add(target, index, values):
        cupyx.scatter_add(target, index, values)

    def generator(seed):
        return cupy.random.default_rng(seed)

    def elementwise_kernel(in_params, out_params, body, name, preamble):
        # no contraction into fused multiply-adds: each line rounds as CuPy's ufuncs do
        return cupy.ElementwiseKernel(in_params, out_params, body, name, preamble=preamble,
                                      options=("--fmad=false",))

    return Backend("cupy", cupy, (cupy.ndarray,), cupy.asnumpy, cupy.asarray, scatter_add,
                   generator, elementwise_kernel, _CupyGraphs(cupy))


class _CupyGraphs:
    """CUDA graphs through CuPy: a step captured on a stream of its own, its arrays from a
    memory pool of its own (so that no other allocation is ever handed memory a replay
    writes), replayed on the current stream."""

    def __init__(self, cupy):
        self.cupy = cupy

    def pool(self):
        return self.cupy.cuda.MemoryPool()

    def allocating_from(self, pool):
        return self.cupy.cuda.using_allocator(pool.malloc)

    def capture(self, run, pool):
        cupy = self.cupy
        cupy.cuda.Device().synchronize()        # the capture's stream waits for nothing
        stream = cupy.cuda.Stream(non_blocking=True)
        # relaxed: the pool may still ask the driver for memory while capturing
        mode = getattr(cupy.cuda.runtime, "streamCaptureModeRelaxed", None)
        with cupy.cuda.using_allocator(pool.malloc), stream:
            if mode is None:
                stream.begin_capture()
            else:
                stream.begin_capture(mode)
            try:
                result = run()
            except BaseException:
                try:
                    stream.end_capture()
                except Exception:       # the capture was invalidated already
                    pass
                raise
            graph = stream.end_capture()
        return graph, result

    def launch(self, graph):
        graph.launch()


_LOADERS = {"numpy": _load_numpy, "cupy": _load_cupy}
_LOADED: dict[str, Backend] = {}
_BY_TYPE: dict[type, Backend] = {}
_seed = None


def register_backend(name, loader):
    """Make another backend selectable by name (used by the tests' device stand-in)."""
    _LOADERS[name] = loader
    _LOADED.pop(name, None)


def is_name(value) -> bool:
    """Whether ``value`` names a backend (one that is registered, or an alias)."""
    return isinstance(value, str) and (value in _LOADERS or value in _ALIASES)


def read_targets(op, targets, dtype=None, backend=None, device=None, expected="a dtype"):
    """What a ``to(...)`` call asks for, as ``(backend name or None, dtype or None)``: its
    positional ``targets`` (backend names and at most one dtype, in any order) with the
    ``dtype=``, ``backend=`` and ``device=`` keywords (``device`` is PyTorch's name for
    the backend). Shared by ``Tensor.to`` and ``Module.to``.

    Parameters
    ----------
    op : str
        The call, named in errors.
    targets : tuple
    dtype : dtype, optional
    backend, device : str, optional
    expected : str
        What else a target may be, for the error about one that is neither.

    Returns
    -------
    tuple
        ``(name, dtype)``; ``dtype`` a NumPy dtype. The name is not checked here.
    """
    if backend is not None and device is not None:
        raise TypeError(f"{op}: got both backend= and device= (PyTorch's name for it); "
                        f"give one")
    name = backend if backend is not None else device
    for target in targets:
        if is_name(target):
            if name is not None and name != target:
                raise TypeError(f"{op}: more than one backend in {targets} "
                                f"(backend={name!r})")
            name = target
        elif dtype is not None:
            raise TypeError(f"{op}: more than one dtype in {targets} (dtype={dtype})")
        else:
            dtype = target
    if dtype is not None:
        try:
            dtype = dtype_of(dtype)
        except TypeError:
            raise TypeError(f"{op}: expected a backend name ('numpy', 'cupy', 'cpu', "
                            f"'gpu') or {expected}, got {dtype!r}") from None
    return name, dtype


def get(name=None) -> Backend:
    """The :class:`Backend` called ``name`` (the active one when ``None``), loading it once."""
    if name is None:
        return _active
    key = _ALIASES.get(name, name)
    backend = _LOADED.get(key)
    if backend is not None:
        return backend
    loader = _LOADERS.get(key)
    if loader is None:
        raise BackendError(f"unknown backend {name!r}; choose one of {sorted(_LOADERS)}")
    backend = loader()
    if _seed is not None:
        backend.seed(_seed)
    _LOADED[key] = backend
    for array_type in backend.array_types:
        _BY_TYPE[array_type] = backend
    return backend


def of(array) -> Backend:
    """The backend an array belongs to."""
    backend = _BY_TYPE.get(type(array))
    if backend is None:
        for array_type, candidate in _BY_TYPE.items():
            if isinstance(array, array_type):
                return candidate
        raise TypeError(f"not a backend array: {type(array).__name__}")
    return backend


# --------------------------------------------------------------------------- the switch

_active: Backend = get("numpy")


def get_backend() -> str:
    """Name of the active backend: where new tensors and parameters are made.

    Returns
    -------
    str
        ``"numpy"`` or ``"cupy"``.
    """
    return _active.name


def set_backend(name: str) -> None:
    """Make ``name`` the active backend, for this process.

    Parameters
    ----------
    name : str
        ``"numpy"`` (or ``"cpu"``) or ``"cupy"`` (or ``"gpu"``).

    Raises
    ------
    BackendError
        With a one-line reason when it cannot be used; the previous backend then stays
        active.
    """
    global _active
    _active = get(name)  # raises before anything changes


@contextlib.contextmanager
def use_backend(name: str):
    """``with mg.use_backend("cupy"):`` makes ``name`` active inside the block.

    Parameters
    ----------
    name : str
        As :func:`set_backend` takes it.

    Yields
    ------
    Backend
        The backend made active; the previous one is active again after the block.
    """
    global _active
    previous = _active
    set_backend(name)
    try:
        yield _active
    finally:
        _active = previous


def backends_available() -> list[str]:
    """Names of the backends that work on this machine.

    Returns
    -------
    list of str
        ``"numpy"`` always, then ``"cupy"`` where CuPy and a GPU can be used.
    """
    names = []
    for name in ("numpy", "cupy"):
        try:
            get(name)
        except BackendError:
            continue
        names.append(name)
    return names


def manual_seed(seed: int) -> None:
    """Seed every backend's generator, so a seed fixes parameters and training runs.

    Parameters initialise from one host generator, so a seed gives the same parameters on
    every backend.

    Parameters
    ----------
    seed : int
    """
    global _seed
    _seed = int(seed)
    for backend in _LOADED.values():
        backend.seed(_seed)


def host_generator():
    """NumPy generator for parameter initialisation: the same seed gives the same
    parameters on every backend."""
    return get("numpy").generator


def dtype_of(dtype):
    """``dtype`` (a NumPy dtype, type or name) as a NumPy dtype."""
    return np.dtype(dtype)


def warns(xp):
    """Whether array module ``xp`` warns about floating point overflow as NumPy does (and
    arrays computed on the host by NumPy). CuPy does not, and asking its arrays for a
    value would wait for the device."""
    return xp.__name__ != "cupy" and hasattr(xp, "errstate")


def promote_types(a, b):
    """The smallest dtype both ``a`` and ``b`` cast to safely (NumPy's table, which
    within one kind is PyTorch's too)."""
    return np.promote_types(a, b)


def _numeric(value):
    """Python data ``value`` read by NumPy, refused unless it is numbers or bools:
    ``None`` and strings would make object or string arrays, ragged lists none."""
    try:
        host = np.asarray(value)
    except ValueError as error:
        raise ValueError(f"tensor: nested lists of unequal lengths ({error})") from None
    if host.dtype.kind not in "biuf":
        what = "None" if value is None else type(value).__name__
        raise TypeError(f"tensor: cannot hold {what} (NumPy reads it as dtype {host.dtype}); "
                        f"expected numbers, bools, nested lists of them, or an array")
    return host


def result_type(*operands):
    """The dtype an elementwise ufunc computes in: NumPy's promotion.

    Parameters
    ----------
    *operands : dtype or Python number
        The operands' dtypes; Python numbers count as weak scalars (they do not widen).

    Returns
    -------
    numpy.dtype
    """
    return np.result_type(*operands)


def as_array(value):
    """``value`` as a backend array: arrays as they are, NumPy scalars (what a ufunc
    returns for 0-d input) as 0-d NumPy arrays, Python data on the active backend."""
    if type(value) in _BY_TYPE:
        return value
    if isinstance(value, np.generic):
        return np.asarray(value)
    for array_type, backend in _BY_TYPE.items():
        if isinstance(value, array_type):
            return value
    return _active.from_host(_numeric(value))


def convert(value, target=None, dtype=None):
    """``value`` (Python data, or an array of any backend) as an array on ``target``
    (a :class:`Backend`; the active one when ``None``).

    Python floats and lists of floats become ``float32``; arrays keep their dtype
    unless ``dtype`` is given. Arrays already on ``target`` are not copied.
    """
    target = target or _active
    source = _BY_TYPE.get(type(value))
    if source is None:
        for array_type, candidate in _BY_TYPE.items():
            if isinstance(value, array_type):
                source = candidate
    if source is None:
        host = _numeric(value)
        if dtype is None and host.dtype == np.float64 and \
                not isinstance(value, (np.ndarray, np.generic)):
            host = host.astype(DEFAULT_FLOAT)
        array = target.from_host(host)
    elif source is target:
        array = value
    else:
        array = target.from_host(source.to_host(value))
    if dtype is not None and array.dtype != np.dtype(dtype):
        array = array.astype(dtype)
    return array


def erf(xp, x):
    """Gauss's error function of the array ``x``, which NumPy lacks: SciPy's ufunc on the
    host where SciPy is installed (imported on first use, so ``import minigrad`` does not
    load it), else the C library's ``erf`` (Python's ``math.erf``) element by element, as
    exact but at Python's speed; CuPy's ``cupyx.scipy.special.erf`` on the GPU. Other
    array types (the tests' device stand-in) take the host ufunc through NumPy's
    ``__array_ufunc__`` dispatch.

    Parameters
    ----------
    xp : module
        The array module ``x`` belongs to.
    x : backend array, floating

    Returns
    -------
    backend array
        ``erf(x)``, of ``x``'s shape, dtype and backend.
    """
    if getattr(xp, "__name__", "") == "cupy":
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(x)
    try:
        import scipy.special
    except ImportError:         # SciPy is optional: the demo and most models never need it
        out = _ERF_PER_ELEMENT(x)           # an object array, or a float at 0-d
        return out.astype(x.dtype) if hasattr(out, "astype") else np.asarray(out, x.dtype)
    return scipy.special.erf(x)


_ERF_PER_ELEMENT = np.frompyfunc(math.erf, 1, 1)


def to_numpy(array):
    """A NumPy copy (or view, on the CPU) of any backend array or array-like."""
    backend = _BY_TYPE.get(type(array))
    if backend is not None:
        return backend.to_host(array)
    if hasattr(array, "__array__") or isinstance(array, (list, tuple, int, float, bool)):
        return np.asarray(array)
    return of(array).to_host(array)


class BackendWarning(RuntimeWarning):
    """``MINIGRAD_BACKEND`` names a backend that cannot be used here."""


def from_env():
    """Apply ``MINIGRAD_BACKEND`` and ``MINIGRAD_TUNE_ALLOCATOR=1`` (read once at import:
    the user's explicit choices; without them the import changes nothing).

    A backend that cannot be used (CuPy or a device missing, a name not known) must not
    make ``import minigrad`` fail: it gives one line, a :class:`BackendWarning` naming
    the variable and the reason, and NumPy stays active.
    """
    if os.environ.get("MINIGRAD_TUNE_ALLOCATOR") == "1":
        tune_allocator()
    name = os.environ.get("MINIGRAD_BACKEND")
    if not name:
        return
    try:
        set_backend(name)
    except BackendError as error:
        # warn_explicit with no source line behind it: the warning prints as one line
        warnings.warn_explicit(f"MINIGRAD_BACKEND={name!r} ignored: {error}; using "
                               f"{get_backend()}", BackendWarning, "minigrad", 0)
