"""Benchmarks: scripts that print Markdown tables, minigrad side by side with references.

Run them all with ``python -m benchmarks [--quick]``, or one at a time::

    python -m benchmarks.engine_overhead [--profile]
    python -m benchmarks.lstm_step --configs S,M,L [--repeats N] [--backend cupy] [--profile]
    python -m benchmarks.memory --lengths 100,1000,10000

Every timing is a ratio measured in one process: the implementations run round-robin,
one step each per repetition, and each reports its median, so a busy machine slows them
alike.

Importing this package before NumPy (which ``python -m benchmarks...`` does) sets the
BLAS up the same way for every run: it pins OpenBLAS, OpenMP and MKL to
:data:`THREADS` threads (2, or ``MINIGRAD_BENCH_THREADS``) unless the caller set those
variables, and clears
``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE``, overrides some machines set that make
current NumPy's OpenBLAS pick a slower kernel. It also opts in to minigrad's allocator
tuning (``MINIGRAD_TUNE_ALLOCATOR=1``, see :func:`minigrad.tune_allocator`) unless the
caller set that variable: the figures in docs/performance.md are measured with it. When
NumPy is already imported (as in the tests) it changes nothing.
:func:`benchmarks.common.blas_info` reports what NumPy ended up with.
"""
import os
import sys

THREADS = int(os.environ.get("MINIGRAD_BENCH_THREADS", "2"))
CLEARED_ENV = []     # the OpenBLAS overrides removed from this process's environment

if "numpy" not in sys.modules:
    for _var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
        if os.environ.pop(_var, None) is not None:
            CLEARED_ENV.append(_var)
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(_var, str(THREADS))
    os.environ.setdefault("MINIGRAD_TUNE_ALLOCATOR", "1")
