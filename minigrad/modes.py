"""The engine's switches, one set per thread: grad mode, scopes, anomaly mode, the
fusion switch, the tracer of a fused function being compiled, and the tap handler.

:data:`state` reads and writes the calling thread's set; the context objects
(:class:`no_grad`, :class:`enable_grad`, :class:`scope`, :class:`detect_anomaly`, and
fusion's ``unfused``) change one switch for a block and put back what that thread had,
so each can be entered again, nested, and by two threads at once. Tensors, parameters
and the tape's counter are shared between threads; so are the active backend and the
garbage collector (see :func:`collector_paused`).
"""
from __future__ import annotations

import contextlib
import functools
import gc
import inspect
import operator
import threading
from threading import get_ident

from . import backend as _backend


class _State:
    """One thread's switches, kept on one object so ops read them with one lookup; a new
    thread starts with these: grad on, no scope, anomaly mode off, fusion on, nothing
    being traced, no tap."""
    __slots__ = ("grad_enabled", "anomaly", "scope", "backward_of", "fusion", "tracer", "tap")

    def __init__(self):
        self.grad_enabled = True
        self.anomaly = False
        self.scope = ""
        self.backward_of = None     # the op whose backward rule is running (detect_anomaly)
        self.fusion = True          # fused functions run as one op (off: op by op; fusion.py)
        self.tracer = None          # while a fused function is traced: what record() saw
        self.tap = None             # the handler of mg.tap, or None (see tapping())


class _PerThread(threading.local):
    def __init__(self):
        self.state = _State()       # runs in each thread at its first use


_threads = _PerThread()


class _CallingThread:
    """:data:`state`: its attributes are the calling thread's :class:`_State`'s.

    The hot paths (``record``, ``Node``, the backward sweep) fetch ``_threads.state``
    once and read that object directly: a ``threading.local`` subclass costs about 20 ns
    per attribute read, twice a plain read, and an op reads four.
    """
    __slots__ = ()


def _forwarded(name):
    read = operator.attrgetter(name)
    return property(lambda self: read(_threads.state),
                    lambda self, value: setattr(_threads.state, name, value))


for _name in _State.__slots__:
    setattr(_CallingThread, _name, _forwarded(_name))
del _name

state = _CallingThread()


# --------------------------------------------------------------------------- modes

class _Switch:
    """A context object that sets one of the thread's switches (``attribute`` of
    :data:`state`, to ``value``) for a block and puts back what that thread had.

    What each entry replaced is pushed on a stack kept per thread, so one object can be
    entered again inside its own block, or by two threads at once, and every exit restores
    its own entry's value. Also a decorator: ``@mg.no_grad()`` runs the function inside.
    """
    __slots__ = ("_saved",)
    attribute = ""
    value = None

    def __init__(self):
        self._saved = {}        # thread id -> the values its entries replaced, innermost last

    def _push(self, previous):
        ident = get_ident()
        stack = self._saved.get(ident)
        if stack is None:
            self._saved[ident] = [previous]
        else:
            stack.append(previous)

    def __enter__(self):
        mine = _threads.state
        self._push(getattr(mine, self.attribute))
        setattr(mine, self.attribute, self.value)
        return self

    def __exit__(self, *exc_info):
        ident = get_ident()
        stack = self._saved[ident]
        previous = stack.pop()
        if not stack:
            del self._saved[ident]      # a finished thread leaves nothing behind
        setattr(_threads.state, self.attribute, previous)
        return False

    def __call__(self, fn):
        if inspect.isgeneratorfunction(fn) or inspect.iscoroutinefunction(fn):
            # the body would run after the wrapper has left the block
            raise TypeError(f"{type(self).__name__}: cannot decorate the generator or "
                            f"coroutine function {fn.__qualname__}; use `with` inside it")

        @functools.wraps(fn)
        def inside(*args, **kwargs):
            with self:
                return fn(*args, **kwargs)
        return inside


class _GradSwitch(_Switch):
    """``no_grad`` and ``enable_grad``: also decorators without the call, ``@mg.no_grad``,
    as PyTorch's are."""
    __slots__ = ()
    attribute = "grad_enabled"

    def __new__(cls, fn=None):
        switch = super().__new__(cls)
        if fn is None:
            return switch
        switch.__init__()
        return switch(fn)

    def __init__(self, fn=None):
        super().__init__()


class no_grad(_GradSwitch):
    """``with mg.no_grad():`` records nothing inside (evaluation, optimizer updates).

    Per thread: other threads keep recording. Can be entered again and nested, and
    decorates functions (``@mg.no_grad()`` or ``@mg.no_grad``).
    """
    __slots__ = ()
    value = False


class enable_grad(_GradSwitch):
    """``with mg.enable_grad():`` records again inside a ``no_grad`` block (this thread's).
    Also a decorator, as :class:`no_grad`."""
    __slots__ = ()
    value = True


def _grad_mode(enabled):
    """Grad mode set to ``enabled`` inside the block (the sweep's, and fusion's traces)."""
    return enable_grad() if enabled else no_grad()


# collector_paused is process-wide by nature (there is one collector): the users of all
# threads are counted, the first one in disables it and the last one out re-enables it
# if it was enabled when the first one came in.
_collector_lock = threading.Lock()
_collector_users = 0
_collector_was_enabled = False


@contextlib.contextmanager
def collector_paused():
    """Pause Python's cyclic garbage collector inside the block.

    Recording thousands of ops makes the collector walk the growing graph again and
    again (a 10,000-step LSTM spent most of its forward pass there). The engine's graphs
    hold no reference cycles (ops reach their own outputs through weak references), so
    reference counting frees them without the collector; the backward sweep and the
    sequence layers' time loops run inside this block. Cyclic garbage made meanwhile by
    other code waits until the block ends. Safe from several threads: the collector runs
    again when the last block, in any thread, ends (and only if it ran before the first).
    """
    global _collector_users, _collector_was_enabled
    with _collector_lock:
        if _collector_users == 0:
            _collector_was_enabled = gc.isenabled()
            gc.disable()
        _collector_users += 1
    try:
        yield
    finally:
        with _collector_lock:
            _collector_users -= 1
            if _collector_users == 0 and _collector_was_enabled:
                gc.enable()


def is_grad_enabled() -> bool:
    """Whether ops are being recorded in this thread.

    Returns
    -------
    bool
        False inside :class:`no_grad`, True inside :class:`enable_grad` and by default.
    """
    return state.grad_enabled


class scope(_Switch):
    """Label the ops recorded inside; nested scopes join with ``/``.

    ``with mg.scope("forget_gate"): ...``. The graph renderer (:mod:`minigrad.viz`)
    draws each scope as a labelled cluster. Per thread: another thread's ops keep their
    own scope. (A class rather than a generator-based context manager: cells enter
    several per time step.)

    Parameters
    ----------
    name : str
        The label; inside another scope the full label is ``outer/name``.
    """
    __slots__ = ("name",)
    attribute = "scope"

    def __init__(self, name: str):
        super().__init__()
        self.name = name

    def __enter__(self):
        mine = _threads.state
        previous = mine.scope
        self._push(previous)
        mine.scope = f"{previous}/{self.name}" if previous else self.name
        return self


class detect_anomaly(_Switch):
    """The first op whose forward or backward produces NaN or Inf raises
    ``FloatingPointError`` naming the op (slower: every result is checked). Per thread;
    can be entered again and nested."""
    __slots__ = ()
    attribute = "anomaly"
    value = True


def _check_finite(data, what):
    data = _backend.as_array(data)    # a full reduction on NumPy gives a NumPy scalar
    if data.dtype.kind == "f" and not bool(_backend.of(data).xp.isfinite(data).all()):
        raise FloatingPointError(f"detect_anomaly: {what} produced NaN or Inf")


# --------------------------------------------------------------------------- taps

def tap(name, tensor):
    """Hand ``tensor`` to the handler of the enclosing :func:`tapping` block, if any.

    A tap is a probe placed in a model's code (a gate's activations, say) that costs
    one check when nobody listens. Fused functions and scans honour it: their generated
    code calls the handler at the same point, once per call or step, with the value of
    that moment (the handler copies it to keep it: the memory may be reused after).
    Taps are silent while a fused function is traced and inside backward sweeps.

    Parameters
    ----------
    name : str
        What the value is (``"forget_gate"``), passed on to the handler.
    tensor : Tensor
        The value at this point.
    """
    mine = _threads.state
    if mine.tracer is not None:
        mine.tracer.taps.append((name, tensor))
    elif mine.tap is not None and mine.backward_of is None:
        mine.tap(name, tensor)


def current_tap():
    """The handler of the innermost :func:`tapping` block in this thread, or None."""
    return state.tap


@contextlib.contextmanager
def tapping(handler):
    """``with mg.tapping(handler):`` calls ``handler(name, tensor)`` for every
    :func:`tap` reached inside (this thread only); blocks nest, the inner one
    listening.

    Parameters
    ----------
    handler : callable
        ``handler(name, tensor)``; its return value is ignored.

    Yields
    ------
    callable
        ``handler``.
    """
    previous = state.tap
    state.tap = handler
    try:
        yield handler
    finally:
        state.tap = previous
