"""What every benchmark shares: round-robin timing, Markdown tables, the machine's
description (CPU, NumPy's BLAS and its threads, PyTorch's threads)."""
from __future__ import annotations

import cProfile
import ctypes
import glob
import io
import os
import platform
import pstats
import statistics
import time

import numpy as np

from . import CLEARED_ENV, THREADS


def time_round_robin(steps, repeats, warmup=1, sync=None):
    """Time each callable in ``steps`` (name -> zero-argument callable) ``repeats`` times.

    The callables take turns, one call each per repetition, so that load from other
    processes falls on all of them alike; ``warmup`` untimed rounds go first. ``sync``
    (for GPU runs) is called before reading the clock.

    Returns
    -------
    dict
        name -> list of seconds, one per repetition.
    """
    sync = sync or (lambda: None)
    for _ in range(warmup):
        for step in steps.values():
            step()
    sync()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            sync()
            start = time.perf_counter()
            step()
            sync()
            times[name].append(time.perf_counter() - start)
    return times


def profile_top(step, rounds, top):
    """Run ``step`` ``rounds`` times under cProfile; the ``top`` functions by own time."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(rounds):
        step()
    profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(top)
    return out.getvalue()


def median(values):
    return statistics.median(values)


def markdown_table(headers, rows):
    """A Markdown table; numbers are formatted by the caller."""
    lines = ["| " + " | ".join(headers) + " |",
             "| " + " | ".join("---" for _ in headers) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def setup_torch():
    """PyTorch, set to :data:`THREADS` threads, or ``None`` when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(THREADS)
    return torch


def _openblas_library():
    """NumPy's bundled OpenBLAS (loaded already, so this only finds the handle)."""
    folder = os.path.dirname(np.__file__) + ".libs"
    for path in glob.glob(os.path.join(folder, "*openblas*")):
        try:
            return ctypes.CDLL(path)
        except OSError:
            continue
    return None


def blas_info():
    """NumPy's BLAS: name, version, the kernel it chose and its thread count.

    Uses threadpoolctl when it is installed, otherwise asks NumPy's bundled OpenBLAS
    directly (the same calls threadpoolctl makes).
    """
    info = {"name": "unknown", "version": "", "threads": None, "core": "",
            "cleared_env": CLEARED_ENV}
    try:
        config = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        info["name"] = config.get("name", "unknown")
        info["version"] = config.get("version", "")
    except Exception:       # older NumPy: no dict mode
        pass
    try:
        from threadpoolctl import threadpool_info
        for pool in threadpool_info():
            if pool.get("user_api") == "blas" and "numpy" in pool.get("filepath", ""):
                info["threads"] = pool.get("num_threads")
                info["core"] = pool.get("architecture", "")
                return info
    except ImportError:
        pass
    lib = _openblas_library()
    if lib is not None:
        for prefix in ("scipy_openblas_", "openblas_"):
            for suffix in ("64_", ""):
                try:
                    threads = getattr(lib, f"{prefix}get_num_threads{suffix}")
                    corename = getattr(lib, f"{prefix}get_corename{suffix}")
                except AttributeError:
                    continue
                corename.restype = ctypes.c_char_p
                info["threads"] = threads()
                info["core"] = corename().decode()
                return info
    return info


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average():
    """The 1-minute load average, to judge how busy the machine was."""
    try:
        return f"load average {os.getloadavg()[0]:.2f} (1 min)"
    except OSError:
        return "load average unknown"


def machine_header():
    """Markdown lines describing where the numbers came from."""
    blas = blas_info()
    torch = setup_torch()
    cleared = ", ".join(blas["cleared_env"]) or "none set"
    lines = [
        f"- CPU: {cpu_model()}, {os.cpu_count()} logical cores visible; {load_average()}",
        f"- Python {platform.python_version()}, NumPy {np.__version__}, BLAS {blas['name']} "
        f"{blas['version']} (kernel {blas['core'] or '?'}, {blas['threads']} threads; "
        f"OpenBLAS overrides cleared: {cleared})",
    ]
    if torch is not None:
        lines.append(f"- PyTorch {torch.__version__}, {torch.get_num_threads()} threads "
                     f"(MKL {'on' if torch.backends.mkl.is_available() else 'off'})")
    else:
        lines.append("- PyTorch not installed")
    try:
        import jax
        lines.append(f"- JAX {jax.__version__}")
    except ImportError:
        lines.append("- JAX not installed (its column is skipped)")
    return "\n".join(lines)


def fmt_ms(seconds):
    return f"{seconds * 1e3:.2f}"


def fmt_ratio(value):
    return f"{value:.2f}x"
