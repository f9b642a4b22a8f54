"""mg.save / mg.load: round trips, atomic writes, refusing damaged or foreign files, and
resuming training from a checkpoint in a fresh process."""
import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import minigrad as mg

ROOT = pathlib.Path(__file__).resolve().parent.parent


def sample():
    return {
        "model": {"w": np.arange(6, dtype=np.float32).reshape(2, 3),
                  "b": np.array([1.5, -2.0], dtype=np.float64)},
        "tensor": mg.tensor([[1.0, 2.0]]),
        "ints": np.array([1, -2, 3], dtype=np.int64),
        "mask": np.array([True, False]),
        "scalar": np.array(3.25, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
        "list": [1, 2.5, None, True, "text", [np.ones(2, np.float32)]],
        "tuple": (0.9, 0.999),
        "numbers": {"step": 12, "loss": float("nan"), "inf": float("-inf"), "flag": False},
        7: "int key",
        "unicode": "grüße ✓",
    }


def test_round_trip_keeps_structure_values_and_dtypes(tmp_path):
    path = tmp_path / "checkpoint.npz"
    mg.save(sample(), path)
    loaded = mg.load(path)
    assert list(loaded) == list(sample())
    np.testing.assert_array_equal(loaded["model"]["w"], np.arange(6).reshape(2, 3))
    assert loaded["model"]["w"].dtype == np.float32
    assert loaded["model"]["b"].dtype == np.float64
    assert isinstance(loaded["tensor"], np.ndarray)          # tensors come back as arrays
    np.testing.assert_array_equal(loaded["tensor"], [[1.0, 2.0]])
    assert loaded["ints"].dtype == np.int64 and loaded["mask"].dtype == np.bool_
    assert loaded["scalar"].shape == () and loaded["scalar"] == 3.25
    assert loaded["empty"].shape == (0, 4)
    assert loaded["list"][:5] == [1, 2.5, None, True, "text"]
    assert type(loaded["list"][0]) is int and type(loaded["list"][3]) is bool
    np.testing.assert_array_equal(loaded["list"][5][0], [1, 1])
    assert loaded["tuple"] == (0.9, 0.999)
    numbers = loaded["numbers"]
    assert numbers["step"] == 12 and type(numbers["step"]) is int
    assert np.isnan(numbers["loss"]) and numbers["inf"] == float("-inf")
    assert numbers["flag"] is False
    assert loaded[7] == "int key" and loaded["unicode"] == "grüße ✓"


def test_writes_exactly_the_path_given_and_plain_values(tmp_path):
    path = tmp_path / "model.ckpt"
    mg.save([1, 2], str(path))
    assert sorted(os.listdir(tmp_path)) == ["model.ckpt"]
    assert mg.load(str(path)) == [1, 2]
    mg.save(np.ones(3), path)
    np.testing.assert_array_equal(mg.load(path), np.ones(3))


def test_the_file_is_an_npz_with_a_json_manifest_and_no_pickle(tmp_path):
    path = tmp_path / "c.npz"
    mg.save({"w": np.ones(2)}, path)
    with np.load(path, allow_pickle=False) as archive:
        manifest = json.loads(archive["__minigrad__"].tobytes())
    assert manifest["format"] == "minigrad-checkpoint"


def test_module_and_optimizer_state_round_trip(tmp_path):
    model = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.LayerNorm(4))
    opt = mg.optim.AdamW(model.parameters(), lr=0.01)
    model(mg.ones(2, 3)).sum().backward()
    opt.step()
    mg.save({"model": model.state_dict(), "optim": opt.state_dict()}, tmp_path / "c.npz")
    loaded = mg.load(tmp_path / "c.npz")
    other = mg.nn.Sequential(mg.nn.Linear(3, 4), mg.nn.LayerNorm(4)).load_state_dict(
        loaded["model"])
    for (name, a), b in zip(model.named_parameters(), other.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=name)
    other_opt = mg.optim.AdamW(other.parameters())
    other_opt.load_state_dict(loaded["optim"])
    assert other_opt.param_groups[0]["betas"] == (0.9, 0.999)
    assert other_opt.lr == 0.01


def test_device_arrays_are_saved_as_numpy(engine_backend, tmp_path):
    model = mg.nn.Linear(2, 3)
    assert model.weight.backend == engine_backend
    mg.save({"w": model.weight.data, "t": model.bias}, tmp_path / "c.npz")
    loaded = mg.load(tmp_path / "c.npz")
    assert type(loaded["w"]) is np.ndarray and type(loaded["t"]) is np.ndarray
    np.testing.assert_array_equal(loaded["w"], model.weight.numpy())


@pytest.mark.parametrize("bad, match", [
    ({"a": np.array([{}, 1], dtype=object)}, "dtype object"),
    ({"a": {1, 2}}, "set"),
    ({(1, 2): 3}, "keys"),
    ({True: 3}, "keys"),
])
def test_unstorable_values_are_refused_before_writing(tmp_path, bad, match):
    path = tmp_path / "c.npz"
    with pytest.raises(TypeError, match=match):
        mg.save(bad, path)
    assert os.listdir(tmp_path) == []


# --------------------------------------------------------------------------- crashes

def _fails_midway(real_savez):
    def savez(file, **arrays):
        file.write(b"PK\x03\x04 partial bytes of a checkpoint")
        raise OSError("disk full (simulated)")
    return savez


@pytest.mark.parametrize("where", ["array write", "replace", "interrupt"])
def test_failed_save_leaves_the_old_file_and_no_temp_file(tmp_path, monkeypatch, where):
    path = tmp_path / "c.npz"
    mg.save({"version": "old", "w": np.ones(3)}, path)
    before = path.read_bytes()
    if where == "array write":
        monkeypatch.setattr(np, "savez", _fails_midway(np.savez))
        error = OSError
    elif where == "replace":
        def replace(src, dst):
            raise OSError("rename failed (simulated)")
        monkeypatch.setattr(os, "replace", replace)
        error = OSError
    else:
        def fsync(fd):
            raise KeyboardInterrupt
        monkeypatch.setattr(os, "fsync", fsync)
        error = KeyboardInterrupt
    with pytest.raises(error):
        mg.save({"version": "new", "w": np.zeros(3)}, path)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["c.npz"], "a temporary file was left behind"
    assert path.read_bytes() == before
    assert mg.load(path)["version"] == "old"


# --------------------------------------------------------------------------- bad files

def _check_refused(path):
    with pytest.raises(ValueError) as info:
        mg.load(path)
    assert str(path) in str(info.value)


def test_truncated_files_are_refused(tmp_path):
    path = tmp_path / "c.npz"
    mg.save({"w": np.arange(1000, dtype=np.float32), "n": 3}, path)
    data = path.read_bytes()
    for length in (len(data) // 2, len(data) - 1, 10, 3, 0):
        path.write_bytes(data[:length])
        _check_refused(path)


def test_flipped_bytes_in_the_data_are_refused(tmp_path):
    path = tmp_path / "c.npz"
    mg.save({"w": np.arange(1000, dtype=np.float32)}, path)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0xFF           # inside the array's bytes
    path.write_bytes(bytes(data))
    _check_refused(path)


def test_any_flipped_byte_is_refused_or_harmless(tmp_path):
    """Flip bytes all over the file: each load either raises ValueError naming the path or
    (a byte the zip format does not check, such as a timestamp) gives the saved data."""
    path = tmp_path / "c.npz"
    original = {"w": np.arange(50, dtype=np.float32), "meta": {"step": 3, "name": "run"}}
    mg.save(original, path)
    data = path.read_bytes()
    refused = 0
    for position in range(0, len(data), 7):
        damaged = bytearray(data)
        damaged[position] ^= 0x5A
        path.write_bytes(bytes(damaged))
        try:
            loaded = mg.load(path)
        except ValueError as error:
            assert str(path) in str(error)
            refused += 1
            continue
        np.testing.assert_array_equal(loaded["w"], original["w"], err_msg=f"byte {position}")
        assert loaded["meta"] == original["meta"], f"byte {position}"
    assert refused > len(data) // 7 // 2


def test_foreign_files_are_refused(tmp_path):
    plain = tmp_path / "plain.npz"
    np.savez(plain, w=np.ones(3))
    _check_refused(plain)
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint\n")
    _check_refused(text)
    single = tmp_path / "single.npy"
    np.save(single, np.ones(3))
    _check_refused(single)
    other = tmp_path / "other.npz"       # a manifest entry that is not ours
    np.savez(other, __minigrad__=np.frombuffer(b'{"format": "else"}', np.uint8))
    _check_refused(other)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, __minigrad__=np.array([{"format": "minigrad-checkpoint"}], dtype=object))
    _check_refused(pickled)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        mg.load(tmp_path / "nope.npz")


# --------------------------------------------------------------------------- resume

TRAIN = textwrap.dedent("""
    import numpy as np
    import minigrad as mg

    def data():
        rng = np.random.default_rng(7)
        x = rng.standard_normal((32, 3)).astype(np.float32)
        y = np.sin(x.sum(axis=1, keepdims=True)).astype(np.float32)
        return mg.tensor(x), mg.tensor(y)

    class Net(mg.nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = mg.nn.Linear(3, 16)
            self.out = mg.nn.Linear(16, 1)

        def forward(self, x):
            return self.out(self.hidden(x).tanh())

    def train(model, opt, steps):
        x, y = data()
        for _ in range(steps):
            opt.zero_grad()
            mg.nn.mse_loss(model(x), y).backward()
            opt.step()

    def save(model, opt, step, path):
        mg.save({"model": model.state_dict(), "optim": opt.state_dict(), "step": step}, path)

    def resume(path):
        checkpoint = mg.load(path)
        model = Net()
        model.load_state_dict(checkpoint["model"])
        opt = mg.optim.Adam(model.parameters())
        opt.load_state_dict(checkpoint["optim"])
        return model, opt, checkpoint["step"]
    """)


def test_resume_in_a_fresh_process_gives_identical_parameters(tmp_path):
    namespace = {}
    exec(TRAIN, namespace)
    mg.manual_seed(0)
    model = namespace["Net"]()
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    namespace["train"](model, opt, 10)
    checkpoint = tmp_path / "run.npz"
    namespace["save"](model, opt, 10, checkpoint)
    namespace["train"](model, opt, 10)
    expected = model.state_dict()

    script = TRAIN + textwrap.dedent(f"""
        model, opt, step = resume({str(checkpoint)!r})
        assert step == 10 and opt.lr == 0.01
        train(model, opt, 10)
        mg.save(model.state_dict(), {str(tmp_path / "resumed.npz")!r})
        """)
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    resumed = mg.load(tmp_path / "resumed.npz")
    assert list(resumed) == list(expected)
    for name in expected:
        np.testing.assert_array_equal(resumed[name], expected[name], err_msg=name)


def test_checkpoint_gets_the_usual_file_mode(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    mg.save({"a": 1}, tmp_path / "c.npz")
    assert (tmp_path / "c.npz").stat().st_mode & 0o777 == 0o666 & ~umask


# --------------------------------------------------------------------------- verified to the byte

def _regions(data):
    """Byte ranges of ``data`` (a checkpoint), found through the zip directory: each
    member's stored bytes (its ``.npy`` header and data), and the array payload alone
    (the data after each header)."""
    import io
    import zipfile
    members, payload = [], []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        for info in archive.infolist():
            local = data[info.header_offset:info.header_offset + 30]
            name_length = int.from_bytes(local[26:28], "little")
            extra_length = int.from_bytes(local[28:30], "little")
            start = info.header_offset + 30 + name_length + extra_length
            member = data[start:start + info.file_size]
            header_length = 10 + int.from_bytes(member[8:10], "little")
            members.append(range(start, start + info.file_size))
            payload.append(range(start + header_length, start + info.file_size))
    return members, payload


def _loads_exactly_or_refuses(path, original, what):
    try:
        loaded = mg.load(path)
    except ValueError as error:
        assert str(path) in str(error), what
        return False
    assert loaded.keys() == original.keys(), what
    for key, value in original.items():
        if isinstance(value, np.ndarray):
            assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape, what
            assert loaded[key].tobytes() == value.tobytes(), what
        else:
            assert loaded[key] == value, what
    return True


def test_every_bit_flip_and_truncation_is_refused_or_harmless(tmp_path):
    """Every bit of every header, the manifest and the zip directory is flipped, and every
    bit of every 16th byte of the array data (the zip's CRC-32 catches any single-bit
    error there; the sample keeps the test at a few seconds); every truncation of the
    metadata and every 16th of the data. Each load refuses with ValueError naming the
    path, or returns the original exactly."""
    path = tmp_path / "c.npz"
    original = {"w": np.arange(1030, dtype=np.float32).reshape(103, 10) / 7,   # 4120 bytes
                "b": np.array([1.5, -2.0]), "step": 30, "name": "run"}
    mg.save(original, path)
    data = path.read_bytes()
    members, spans = _regions(data)
    payload = set()
    for span in spans:
        payload.update(span)
    assert len(payload) > 4096
    positions = [p for p in range(len(data)) if p not in payload or p % 16 == 0]
    harmless = set()
    for position in positions:
        for bit in range(8):
            damaged = bytearray(data)
            damaged[position] ^= 1 << bit
            path.write_bytes(bytes(damaged))
            if _loads_exactly_or_refuses(path, original, f"bit {bit} of byte {position}"):
                harmless.add(position)
    for length in positions:
        path.write_bytes(data[:length])
        assert not _loads_exactly_or_refuses(path, original, f"truncated to {length} bytes")
    # what passes lies in zip fields nothing reads (timestamps, the local headers' copies
    # of sizes and CRCs); a flip inside any member, header or manifest included, is refused
    inside = sorted(p for p in harmless if any(p in span for span in members))
    assert not inside, f"flips at {inside} inside a member loaded"
    assert len(harmless) < len(positions) // 4


def _archive(path, members, compression=None):
    """Write ``members`` ({name: bytes}) as a zip, as a forger would."""
    import zipfile
    with zipfile.ZipFile(path, "w", compression or zipfile.ZIP_STORED) as archive:
        for name, payload in members.items():
            archive.writestr(name, payload)


def _npy(array):
    import io
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def _manifest(tree, version=2):
    text = json.dumps({"format": "minigrad-checkpoint", "version": version, "tree": tree})
    return _npy(np.frombuffer(text.encode(), np.uint8))


def _entry(name, array):
    return {"array": {"name": name, "dtype": array.dtype.str, "shape": list(array.shape)}}


def test_a_header_that_disagrees_with_the_member_or_manifest_is_refused(tmp_path):
    big = np.ones((300, 20), np.float32)
    # a valid zip (CRC right) whose .npy header declares fewer elements than it holds
    header = _npy(np.ones((200, 20), np.float32))[:128]
    short = tmp_path / "short.npz"
    _archive(short, {"__minigrad__.npy": _manifest({"dict": [["w", _entry("a0", big)]]}),
                     "a0.npy": header + big.tobytes()})
    with pytest.raises(ValueError, match=r"short\.npz.*member 'a0' \(obj\['w'\]\).*shape"):
        mg.load(short)
    # header and size agree with each other, but not with the manifest
    other = tmp_path / "other.npz"
    _archive(other, {"__minigrad__.npy": _manifest({"dict": [["w", _entry("a0", big)]]}),
                     "a0.npy": _npy(np.ones((200, 20), np.float32))})
    with pytest.raises(ValueError, match=r"other\.npz.*'a0'.*manifest dtype <f4 and shape "
                                         r"\(300, 20\)"):
        mg.load(other)
    # a member the manifest does not name, and one it names that is not there
    extra = tmp_path / "extra.npz"
    _archive(extra, {"__minigrad__.npy": _manifest({"dict": []}), "a0.npy": _npy(big)})
    with pytest.raises(ValueError, match=r"extra\.npz.*'a0\.npy'.*not named"):
        mg.load(extra)
    missing = tmp_path / "missing.npz"
    _archive(missing, {"__minigrad__.npy": _manifest(_entry("a0", big))})
    with pytest.raises(ValueError, match=r"missing\.npz.*'a0'.*missing"):
        mg.load(missing)


def refused_without_allocating(path, match):
    """``mg.load(path)`` raises a ValueError matching ``match`` having allocated < 5 MB."""
    import tracemalloc
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match):
            mg.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 5_000_000, f"load allocated {peak} bytes for a bomb"


def test_a_deflate_bomb_is_refused_without_inflating_it(tmp_path):
    import zipfile
    bomb = tmp_path / "bomb.npz"
    small = np.zeros(4, np.float32)
    huge = np.zeros(50_000_000, np.uint8)          # 50 MB inflated, ~50 KB deflated
    _archive(bomb, {"__minigrad__.npy": _manifest(_entry("a0", small)), "a0.npy": _npy(huge)},
             zipfile.ZIP_DEFLATED)
    assert bomb.stat().st_size < 1_000_000
    refused_without_allocating(bomb, r"bomb\.npz.*'a0'")
    # deflated members that are what they declare load (files from np.savez_compressed)
    fine = tmp_path / "fine.npz"
    _archive(fine, {"__minigrad__.npy": _manifest(_entry("a0", huge[:1000])),
                    "a0.npy": _npy(huge[:1000])}, zipfile.ZIP_DEFLATED)
    np.testing.assert_array_equal(mg.load(fine), huge[:1000])


def test_version_1_files_still_load(tmp_path):
    old = tmp_path / "old.npz"
    array = np.arange(6.0).reshape(2, 3)
    _archive(old, {"__minigrad__.npy": _manifest({"dict": [["w", {"array": "a0"}]]}, 1),
                   "a0.npy": _npy(array)})
    np.testing.assert_array_equal(mg.load(old)["w"], array)


def test_fortran_ordered_and_empty_arrays_round_trip(tmp_path):
    path = tmp_path / "c.npz"
    fortran = np.asfortranarray(np.arange(12.0).reshape(3, 4))
    mg.save({"f": fortran, "e": np.zeros((0, 3), np.int8), "s": np.float16(2.5)}, path)
    loaded = mg.load(path)
    np.testing.assert_array_equal(loaded["f"], fortran)
    assert loaded["e"].shape == (0, 3) and loaded["s"].dtype == np.float16
    assert loaded["f"].flags.writeable


# --------------------------------------------------------------------------- trees only

def test_cyclic_and_too_deep_objects_are_refused_naming_the_place(tmp_path):
    path = tmp_path / "c.npz"
    cyclic = [1, [2]]
    cyclic[1].append(cyclic)
    with pytest.raises(ValueError, match=r"obj\[1\]\[1\] contains itself"):
        mg.save(cyclic, path)
    looped = {"model": {}}
    looped["model"]["again"] = looped["model"]
    with pytest.raises(ValueError, match=r"obj\['model'\]\['again'\] contains itself"):
        mg.save(looped, path)
    deep = []
    for _ in range(10_000):
        deep = [deep]
    with pytest.raises(ValueError, match=r"obj(\[0\])+ is nested more than"):
        mg.save(deep, path)
    assert os.listdir(tmp_path) == []
    shared = [1, 2]                          # one list in two places is no cycle
    mg.save({"a": shared, "b": shared}, path)
    assert mg.load(path) == {"a": [1, 2], "b": [1, 2]}


def test_an_honestly_declared_bomb_is_refused_before_allocating(tmp_path):
    """Manifest, header and zip directory all agree on 80 MB of zeros in a file of
    80 KB: the ratio alone gives it away."""
    import zipfile
    huge = np.zeros(80_000_000, np.uint8)
    bomb = tmp_path / "honest.npz"
    _archive(bomb, {"__minigrad__.npy": _manifest(_entry("a0", huge)), "a0.npy": _npy(huge)},
             zipfile.ZIP_DEFLATED)
    del huge
    assert bomb.stat().st_size < 1_000_000
    refused_without_allocating(bomb, r"honest\.npz.*'a0'.*deflate bomb")
