"""Importing minigrad (and models) changes nothing in the host process: not the umask,
not the C allocator's settings. Allocator tuning is an explicit opt-in.

Each check runs in a fresh interpreter, since this one imported minigrad long ago.
"""
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# A 64 MiB malloc: glibc serves it with its own mapping under its default settings
# (the mmap threshold it adjusts by itself stops at 32 MiB), from the heap once
# tune_allocator() has raised the threshold to 128 MiB. mallinfo2's hblkhd (bytes in
# mapped blocks) tells the two apart: an observable of the setting itself.
_PROBE = r"""
import ctypes, json, os, sys

libc = ctypes.CDLL("libc.so.6")

class MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
        "uordblks", "fordblks", "keepcost")]

libc.mallinfo2.restype = MallInfo2
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]

def big_block_is_mapped():
    before = libc.mallinfo2().hblkhd
    block = libc.malloc(64 << 20)
    mapped = libc.mallinfo2().hblkhd - before >= 64 << 20
    libc.free(block)
    return mapped

def umask():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1], 8) for line in status if line.startswith("Umask:"))

os.umask(0o027)
umask_calls = []
real_umask = os.umask
os.umask = lambda mask: umask_calls.append(mask) or real_umask(mask)
mallopt_calls = []
real_cdll = ctypes.CDLL
class RecordingCDLL(real_cdll):
    def __getattr__(self, name):
        if name == "mallopt":
            mallopt_calls.append(name)
        return super().__getattr__(name)
ctypes.CDLL = RecordingCDLL

import minigrad as mg
import models
x = mg.randn(64, 64, requires_grad=True)       # the NumPy backend at work
(x * x).sum().backward()
report = {"umask": umask(), "umask_calls": list(umask_calls),
          "mallopt_calls": list(mallopt_calls),
          "mapped_after_import": big_block_is_mapped()}
if sys.argv[1:] == ["tune"]:
    report["tune_allocator"] = mg.tune_allocator()
    report["mapped_after_tuning"] = big_block_is_mapped()
print(json.dumps(report))
"""


def _probe(*args, env=None):
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MINIGRAD_")}
    environment.update(env or {})
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "tests")])
    done = subprocess.run([sys.executable, "-c", _PROBE, *args], capture_output=True,
                          text=True, env=environment, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


needs_glibc = pytest.mark.skipif(
    not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc"
    or tuple(map(int, platform.libc_ver()[1].split(".")[:2])) < (2, 33),
    reason="the probe reads glibc's mallinfo2 and Linux's /proc/self/status")


@needs_glibc
def test_import_leaves_the_umask_and_the_allocator_alone():
    report = _probe("tune")
    assert report["umask"] == 0o027, f"import changed the umask to {report['umask']:o}"
    assert report["umask_calls"] == [], f"import called os.umask{report['umask_calls']}"
    assert report["mallopt_calls"] == [], "import called mallopt"
    assert report["mapped_after_import"], \
        "a 64 MiB block came from the heap: the mmap threshold was raised at import"
    # the observable does see the tuning, once it is asked for
    assert report["tune_allocator"] is True
    assert not report["mapped_after_tuning"], "tune_allocator() left the mmap threshold"


@needs_glibc
def test_the_environment_setting_opts_in_at_import():
    report = _probe(env={"MINIGRAD_TUNE_ALLOCATOR": "1"})
    assert report["mallopt_calls"], "MINIGRAD_TUNE_ALLOCATOR=1 did not tune at import"
    assert not report["mapped_after_import"]
    assert report["umask"] == 0o027 and report["umask_calls"] == []


@needs_glibc
def test_the_environment_setting_can_refuse_tuning():
    report = _probe("tune", env={"MINIGRAD_TUNE_ALLOCATOR": "0"})
    assert report["tune_allocator"] is False
    assert report["mapped_after_tuning"], "MINIGRAD_TUNE_ALLOCATOR=0 did not refuse"


def test_the_umask_is_read_without_changing_it(tmp_path, monkeypatch):
    from minigrad.serialization import current_umask
    expected = os.umask(0o022)
    os.umask(expected)
    calls = []
    real_umask = os.umask
    monkeypatch.setattr(os, "umask", lambda mask: calls.append(mask) or real_umask(mask))
    assert current_umask() == expected
    if sys.platform.startswith("linux"):
        assert calls == [], "current_umask() set the umask on Linux"
