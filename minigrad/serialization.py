"""Checkpoints: nested dicts and lists of arrays, numbers and strings in one ``.npz``.

File layout: a NumPy ``.npz`` (a zip archive of ``.npy`` arrays) holding the arrays as
``a0``, ``a1``, ... and one entry ``__minigrad__``: a JSON manifest, stored as a uint8
array, that describes the nested structure and points at the arrays by name. Nothing is
pickled, and loading refuses pickled (object) arrays, so loading a file cannot run code.

Arrays are stored as NumPy arrays whatever backend they came from, so a checkpoint
written on the GPU loads on a machine without CuPy; :func:`load` always returns NumPy
arrays (``Module.load_state_dict`` and ``Optimizer.load_state_dict`` move them back).
"""
from __future__ import annotations

import json
import os
import tempfile
import threading

from . import backend as _backend
from .tensor import Tensor

_umask_lock = threading.Lock()


def current_umask():
    """The process's umask, read without changing it where the system says it.

    mkstemp makes files readable by their owner only; a checkpoint (or a drawing) is
    given the mode a plain ``open`` would have given it, ``0o666 & ~umask``. Linux
    reports the umask in ``/proc/self/status``; elsewhere the only way to read it is to
    set another and put it back, which is done here under a lock, when a file is
    written (never at import), with an owner-only mask in between, so that a file
    another thread creates meanwhile is private rather than open to all.
    """
    try:
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    with _umask_lock:
        umask = os.umask(0o077)
        os.umask(umask)
    return umask

MANIFEST = "__minigrad__"
FORMAT = "minigrad-checkpoint"
VERSION = 1


# --------------------------------------------------------------------------- encoding

def _encode(obj, arrays, where):
    """``obj`` as JSON-able data; arrays are appended to ``arrays`` and referenced."""
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return int(obj) if isinstance(obj, int) else float(obj)
    if isinstance(obj, dict):
        items = []
        for key, value in obj.items():
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise TypeError(f"save: dict keys must be str or int; got {key!r} at {where}")
            items.append([key, _encode(value, arrays, f"{where}[{key!r}]")])
        return {"dict": items}
    if isinstance(obj, (list, tuple)):
        kind = "list" if isinstance(obj, list) else "tuple"
        return {kind: [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(obj)]}
    data = obj.data if isinstance(obj, Tensor) else obj
    if type(data) in _backend._BY_TYPE or hasattr(data, "__array__"):
        array = _backend.to_numpy(data)
        if array.dtype.kind in "OV":
            raise TypeError(f"save: arrays of dtype {array.dtype} (at {where}) cannot be "
                            f"stored without pickle")
        name = f"a{len(arrays)}"
        arrays[name] = array
        return {"array": name}
    raise TypeError(f"save: cannot store {type(obj).__name__} at {where}; use dicts, lists, "
                    f"arrays, tensors, numbers, strings or None")


def _decode(node, arrays):
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if not isinstance(node, dict) or len(node) != 1:
        raise ValueError(f"unexpected manifest entry {node!r:.80}")
    (kind, body), = node.items()
    if kind == "dict":
        return {key: _decode(value, arrays) for key, value in body}
    if kind == "list":
        return [_decode(value, arrays) for value in body]
    if kind == "tuple":
        return tuple(_decode(value, arrays) for value in body)
    if kind == "array":
        return arrays[body]
    raise ValueError(f"unknown manifest entry kind {kind!r}")


# --------------------------------------------------------------------------- save, load

def save(obj, path):
    """Write ``obj`` to ``path`` atomically, as one ``.npz`` file (never pickle).

    Parameters
    ----------
    obj : dict, list, tuple, array (any backend), Tensor, int, float, bool, None or str
        Nested freely; dict keys must be ``str`` or ``int``. Tensors are stored as their
        arrays, NumPy scalars as 0-d arrays.
    path : str or os.PathLike
        Written exactly as given (no extension is added).

    Notes
    -----
    The data goes to a temporary file in the same folder, which is flushed, synced to
    disk and then renamed over ``path``; if anything fails, the temporary file is
    removed and an earlier file at ``path`` is untouched.
    """
    numpy = _backend.get("numpy").xp
    path = os.fspath(path)
    arrays = {}
    tree = _encode(obj, arrays, "obj")
    manifest = json.dumps({"format": FORMAT, "version": VERSION, "tree": tree})
    arrays[MANIFEST] = numpy.frombuffer(manifest.encode("utf-8"), dtype=numpy.uint8)
    folder = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.",
                                suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            os.chmod(temp, 0o666 & ~current_umask())
            numpy.savez(file, **arrays)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        try:
            os.unlink(temp)
        except OSError:
            pass
        raise
    try:   # make the rename itself durable (not possible on every platform)
        directory = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(directory)
    except OSError:
        pass
    finally:
        os.close(directory)


def load(path):
    """Read what :func:`save` wrote.

    Returns
    -------
    The saved structure, with every array and tensor as a **NumPy array** (whatever
    backend it was saved from) and tuples as tuples.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        Naming ``path``, when the file is truncated, corrupted, or not a minigrad
        checkpoint (such as a plain ``.npz`` or a text file).
    """
    numpy = _backend.get("numpy").xp
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: {path!r}")
    with open(path, "rb") as file:
        magic = file.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(f"load: {path!r} is not a minigrad checkpoint (not an .npz archive: "
                         f"it starts with {magic!r})")
    try:
        with numpy.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files") or MANIFEST not in archive.files:
                raise ValueError("no minigrad manifest inside (not a minigrad checkpoint)")
            manifest = json.loads(archive[MANIFEST].tobytes().decode("utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise ValueError("the manifest is not a minigrad checkpoint's")
            if manifest.get("version") != VERSION:
                raise ValueError(f"checkpoint version {manifest.get('version')!r}; this "
                                 f"minigrad reads version {VERSION}")
            # Read every array now: the zip's CRC-32 check runs as each one is read.
            arrays = {name: archive[name] for name in archive.files if name != MANIFEST}
            return _decode(manifest["tree"], arrays)
    except (PermissionError, IsADirectoryError):
        raise
    except Exception as error:
        # A damaged archive fails in many ways (BadZipFile, a bad CRC, an unknown
        # compression method, a header that does not parse, a manifest that is not JSON
        # or points nowhere); each of them means the same thing to the caller.
        raise ValueError(f"load: {path!r} is truncated, corrupted or not a minigrad "
                         f"checkpoint ({type(error).__name__}: {error})") from None
