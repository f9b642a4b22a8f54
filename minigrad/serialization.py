"""Checkpoints: nested dicts and lists of arrays, numbers and strings in one ``.npz``.

File layout: a NumPy ``.npz`` (a zip archive of ``.npy`` arrays) holding the arrays as
``a0``, ``a1``, ... and one entry ``__minigrad__``: a JSON manifest, stored as a uint8
array, that describes the nested structure and points at the arrays by name, with each
one's dtype and shape (version 2; version 1 manifests gave the names alone). Loading
checks every member against the manifest and reads it to its end, so a flipped bit or a
cut anywhere in what is read is refused (see :func:`load`). Nothing is
pickled, and loading refuses pickled (object) arrays, so loading a file cannot run code.

Arrays are stored as NumPy arrays whatever backend they came from, so a checkpoint
written on the GPU loads on a machine without CuPy; :func:`load` always returns NumPy
arrays (``Module.load_state_dict`` and ``Optimizer.load_state_dict`` move them back).
"""
from __future__ import annotations

import io
import json
import math
import os
import tempfile
import threading
import zipfile

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
VERSION = 2
#: version 1 manifests name each array only; they are read with the size and CRC checks
READABLE_VERSIONS = (1, 2)


# --------------------------------------------------------------------------- encoding

#: deepest nesting of dicts, lists and tuples that save writes and load reads; far more than
#: any state dict needs, and well inside Python's recursion limit (which JSON also obeys)
MAX_DEPTH = 256


def _encode(obj, arrays, where, active, depth=0):
    """``obj`` as JSON-able data; arrays are appended to ``arrays`` and referenced.

    ``active`` holds the ids of the containers on the path from the root to ``obj``: one
    of them met again is a cycle (a container shared by two branches is not, and is
    simply written twice).
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, float)):
        return int(obj) if isinstance(obj, int) else float(obj)
    if isinstance(obj, (dict, list, tuple)):
        if id(obj) in active:
            raise ValueError(f"save: {where} contains itself (a cycle); a checkpoint holds "
                             f"trees of dicts, lists and tuples")
        if depth >= MAX_DEPTH:
            raise ValueError(f"save: {where} is nested more than {MAX_DEPTH} levels deep")
        active.add(id(obj))
        try:
            if isinstance(obj, dict):
                items = []
                for key, value in obj.items():
                    if isinstance(key, bool) or not isinstance(key, (str, int)):
                        raise TypeError(f"save: dict keys must be str or int; got {key!r} "
                                        f"at {where}")
                    items.append([key, _encode(value, arrays, f"{where}[{key!r}]", active,
                                               depth + 1)])
                return {"dict": items}
            kind = "list" if isinstance(obj, list) else "tuple"
            return {kind: [_encode(v, arrays, f"{where}[{i}]", active, depth + 1)
                           for i, v in enumerate(obj)]}
        finally:
            active.discard(id(obj))
    data = obj.data if isinstance(obj, Tensor) else obj
    if type(data) in _backend._BY_TYPE or hasattr(data, "__array__"):
        array = _backend.to_numpy(data)
        if array.dtype.kind in "OV":
            raise TypeError(f"save: arrays of dtype {array.dtype} (at {where}) cannot be "
                            f"stored without pickle")
        name = f"a{len(arrays)}"
        arrays[name] = array
        # shape and dtype in the manifest too: load checks each member against them
        return {"array": {"name": name, "dtype": array.dtype.str, "shape": list(array.shape)}}
    raise TypeError(f"save: cannot store {type(obj).__name__} at {where}; use dicts, lists, "
                    f"arrays, tensors, numbers, strings or None")


def _array_entries(node, found, where="obj", depth=0):
    """Collect ``{member name: ((dtype, shape) or None, where)}`` from a manifest tree,
    checking its form on the way (``None``: a version 1 manifest, which records names
    only; ``where`` is the array's place in the saved object, for messages)."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return
    if depth > MAX_DEPTH or not isinstance(node, dict) or len(node) != 1:
        raise _Fault(f"unexpected manifest entry {node!r:.80}")
    (kind, body), = node.items()
    if kind == "dict" and isinstance(body, list):
        for pair in body:
            if not (isinstance(pair, list) and len(pair) == 2 and isinstance(pair[0], (str, int))
                    and not isinstance(pair[0], bool)):
                raise _Fault(f"unexpected manifest dict item {pair!r:.80}")
            _array_entries(pair[1], found, f"{where}[{pair[0]!r}]", depth + 1)
    elif kind in ("list", "tuple") and isinstance(body, list):
        for index, value in enumerate(body):
            _array_entries(value, found, f"{where}[{index}]", depth + 1)
    elif kind == "array":
        if isinstance(body, str):                                   # version 1
            name, declared = body, None
        elif isinstance(body, dict) and set(body) == {"name", "dtype", "shape"} \
                and isinstance(body["name"], str) and isinstance(body["dtype"], str) \
                and isinstance(body["shape"], list) and all(
                    type(n) is int and n >= 0 for n in body["shape"]):
            name, declared = body["name"], (body["dtype"], tuple(body["shape"]))
        else:
            raise _Fault(f"unexpected manifest array entry {body!r:.80}")
        if name in found or name == MANIFEST:
            raise _Fault(f"the manifest names member {name!r} twice")
        found[name] = (declared, where)
    else:
        raise _Fault(f"unknown manifest entry kind {kind!r}")


def _decode(node, arrays):
    """The structure a manifest tree describes (its form checked by _array_entries)."""
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    (kind, body), = node.items()
    if kind == "dict":
        return {key: _decode(value, arrays) for key, value in body}
    if kind == "list":
        return [_decode(value, arrays) for value in body]
    if kind == "tuple":
        return tuple(_decode(value, arrays) for value in body)
    return arrays[body if isinstance(body, str) else body["name"]]


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

    Raises
    ------
    TypeError
        Naming the place inside ``obj`` (such as ``obj['model'][2]``) of a value that
        cannot be stored without pickle.
    ValueError
        Naming the place, when ``obj`` contains itself (a cycle) or nests more than
        :data:`MAX_DEPTH` levels. Nothing is written then.

    Notes
    -----
    The data goes to a temporary file in the same folder, which is flushed, synced to
    disk and then renamed over ``path``; if anything fails, the temporary file is
    removed and an earlier file at ``path`` is untouched.
    """
    numpy = _backend.get("numpy").xp
    path = os.fspath(path)
    arrays = {}
    tree = _encode(obj, arrays, "obj", set())
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
    """Read what :func:`save` wrote, verifying every byte of it.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by :func:`save`.

    Returns
    -------
    object
        The saved structure, with every array and tensor as a **NumPy array** (whatever
        backend it was saved from) and tuples as tuples.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        Naming ``path`` (and the member, where one is at fault), when the file is
        truncated, corrupted, or not a minigrad checkpoint (such as a plain ``.npz`` or a
        text file).

    Notes
    -----
    What is checked before anything is returned:

    - the archive holds the manifest and exactly the members it names, each once, stored
      or deflated;
    - each member's ``.npy`` header parses and agrees with the dtype and shape the
      manifest records for it, and the member's size is that header plus those bytes;
    - every member is read to its end, so the zip's CRC-32 of every byte is verified;
    - nothing is inflated beyond the size the manifest declares, and no deflated member
      may inflate to more than :data:`DEFLATE_RATIO` times its compressed size (plus
      1 MiB), so a small file cannot make ``load`` allocate gigabytes (a deflate bomb).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load: no such file: {path!r}")
    with open(path, "rb") as file:
        magic = file.read(4)
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(f"load: {path!r} is not a minigrad checkpoint (not an .npz archive: "
                         f"it starts with {magic!r})")
    member = None
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            by_name = {}
            for info in infos:
                if info.filename in by_name:
                    raise _Fault("appears twice in the archive", repr(info.filename))
                by_name[info.filename] = info
            if MANIFEST + ".npy" not in by_name:
                raise _Fault("no minigrad manifest inside (not a minigrad checkpoint)")
            member = repr(MANIFEST)
            size = os.path.getsize(path)
            text = _read_member(by_name[MANIFEST + ".npy"], archive, size, "|u1", None,
                                MANIFEST_LIMIT)
            manifest = json.loads(text.tobytes().decode("utf-8"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT \
                    or "tree" not in manifest:
                raise _Fault("the manifest is not a minigrad checkpoint's")
            if manifest.get("version") not in READABLE_VERSIONS:
                raise _Fault(f"checkpoint version {manifest.get('version')!r}; this "
                             f"minigrad reads versions {list(READABLE_VERSIONS)}")
            declared = {}
            _array_entries(manifest["tree"], declared)
            listed = {name + ".npy" for name in declared} | {MANIFEST + ".npy"}
            for name in by_name:
                if name not in listed:
                    raise _Fault("is not named by the manifest", repr(name))
            arrays = {}
            for name, (expected, where) in declared.items():
                member = f"{name!r} ({where})"
                if name + ".npy" not in by_name:
                    raise _Fault("is named by the manifest but missing from the archive")
                dtype, shape = expected if expected is not None else (None, None)
                arrays[name] = _read_member(by_name[name + ".npy"], archive, size, dtype,
                                            shape, None)
            return _decode(manifest["tree"], arrays)
    except (PermissionError, IsADirectoryError):
        raise
    except Exception as error:
        # A damaged archive fails in many ways (BadZipFile, a bad CRC, an unknown
        # compression method, a header that does not parse, a manifest that is not JSON
        # or points nowhere); each of them means the same thing to the caller.
        member = getattr(error, "member", None) or member
        where = f", member {member}" if member else ""
        reason = str(error) if isinstance(error, _Fault) else f"{type(error).__name__}: {error}"
        raise ValueError(f"load: {path!r} is truncated, corrupted or not a minigrad "
                         f"checkpoint{where} ({reason})") from None


# --------------------------------------------------------------------------- verified reads

#: the largest manifest load reads (a state dict's manifest is kilobytes)
MANIFEST_LIMIT = 64 << 20
#: how many times its compressed size a deflated member may inflate to (beyond the first
#: MiB). mg.save never compresses; real arrays deflate by a factor near 1, and only runs of
#: one value reach deflate's limit of about 1032, which is how a bomb is made: a file of a
#: few MB that inflates to GBs is refused before anything is allocated for it.
DEFLATE_RATIO = 64
_DEFLATE_ALLOWANCE = 1 << 20
_HEADER_LIMIT = 1 << 16
_CHUNK = 16 << 20


class _Fault(ValueError):
    """What load found wrong (and in which member, when not the one being read); load
    turns it into its ValueError naming the path."""

    def __init__(self, reason, member=None):
        super().__init__(reason)
        self.member = member


def _read_member(info, archive, archive_size, dtype, shape, limit):
    """One ``.npy`` member as an array, checked against ``dtype``/``shape`` (None: take
    them from the header, for version 1 manifests) and read to its end (the CRC check).
    """
    numpy = _backend.get("numpy").xp
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise _Fault(f"unsupported compression method {info.compress_type}")
    if info.flag_bits & 0x1:
        raise _Fault("the member is encrypted")
    if info.compress_size > archive_size:
        raise _Fault(f"declares {info.compress_size} compressed bytes in a "
                     f"{archive_size}-byte file")
    if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        raise _Fault(f"is stored but declares {info.file_size} bytes in "
                     f"{info.compress_size}")
    if info.file_size > DEFLATE_RATIO * info.compress_size + _DEFLATE_ALLOWANCE:
        raise _Fault(f"would inflate {info.compress_size} compressed bytes to "
                     f"{info.file_size}, more than {DEFLATE_RATIO} times (a deflate bomb?)")
    with archive.open(info) as stream:
        prefix = stream.read(min(info.file_size, _HEADER_LIMIT))
        header = io.BytesIO(prefix)
        version = numpy.lib.format.read_magic(header)
        if version == (1, 0):
            found_shape, fortran, found_dtype = numpy.lib.format.read_array_header_1_0(header)
        elif version in ((2, 0), (3, 0)):
            found_shape, fortran, found_dtype = numpy.lib.format.read_array_header_2_0(header)
        else:
            raise _Fault(f".npy format version {version} is not known")
        if found_dtype.hasobject or found_dtype.kind == "V":
            raise _Fault(f"holds dtype {found_dtype}, which cannot be read without pickle")
        if (dtype is not None and found_dtype.str != dtype) or \
                (shape is not None and tuple(found_shape) != shape):
            raise _Fault(f"its header says dtype {found_dtype.str} and shape "
                         f"{tuple(found_shape)}, the manifest dtype {dtype} and shape {shape}")
        if limit is not None and len(found_shape) != 1:
            raise _Fault(f"is not a 1-D byte array (shape {tuple(found_shape)})")
        count = math.prod(found_shape)
        nbytes = count * found_dtype.itemsize
        if limit is not None and nbytes > limit:
            raise _Fault(f"holds {nbytes} bytes, more than the {limit} allowed")
        start = header.tell()
        if info.file_size != start + nbytes:
            raise _Fault(f"is {info.file_size} bytes, but its header ({start} bytes) "
                         f"declares {nbytes} bytes of data")
        array = numpy.empty(found_shape, found_dtype, order="F" if fortran else "C")
        target = memoryview(array.reshape(-1, order="A").view(numpy.uint8)) if count else b""
        got = len(prefix) - start
        if got:
            target[:got] = prefix[start:]
        while got < nbytes:
            # never more than the declared size: the inflater stops there (deflate bombs)
            chunk = stream.read(min(nbytes - got, _CHUNK))
            if not chunk:
                raise _Fault(f"ends after {got} of {nbytes} data bytes")
            target[got:got + len(chunk)] = chunk
            got += len(chunk)
        if stream.read(1):
            raise _Fault("holds more data than its header declares")
    return array
