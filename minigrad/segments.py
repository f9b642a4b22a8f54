"""Runs of elementwise lines in generated code, each made ONE kernel on the GPU.

A fused function's generated code (:mod:`minigrad.fusion`) is one line per op. On the
GPU each line is a kernel launch and a round trip through memory, so an LSTM step would
be some fifteen launches forward and as many backward around its one matrix product. On
CuPy the generator therefore cuts the lines into *segments*: runs of lines that compute
each element of their result from the same element of their (broadcast) operands, ended
by any line that does not (a product, a reduction, a view, indexing, a kernel without a
C++ description). A segment of two lines or more becomes one ``cupy.ElementwiseKernel``;
the LSTM step is then the product, one addition, and one kernel for all the gates and
the cell update, and its backward one kernel before the concatenation and the product.

How the kernel is written. Every op's kernel carries its element's value as a C++
expression (a ufunc kernel's from ``tensor.UFUNC_C``, an ``@kernel``'s from
``@kernel(c=...)``: the op's own description, no second copy of the op). A line becomes
``const float v7 = <expression>;`` with its operands written in their common type
``T`` (NumPy's promotion, a Python number a weak scalar written as a literal of ``T``,
so a float32 line computes in float, as NumPy does) and its result kept in the line's
own dtype. Values read after the segment (by a later line, a tap, or the function's
outputs and saved values) are the kernel's outputs; the others live in registers.

What stays exact: each line is the same IEEE operation in the same type and order, and
contraction into fused multiply-adds is off (``--fmad=false``), so +, -, *, /, sqrt,
comparisons and selections give the bits NumPy and CuPy's own ufuncs give; exp, log,
tanh, sin, cos and pow are the device's maths library, which CuPy's ufuncs call too
(the host's libm and NumPy's differ by a few ulp: ``tests/engine/test_segments.py``
states how many). Taps inside a segment are called after it, with the same values.

The trade-off: a line joins a segment only when its operands and result are float32,
float64 or bool, its Python-number operands are finite, and its result has the
segment's shape; anything else ends the segment and runs as before, line by line. A new
op joins once its kernel has a C++ expression. Each kernel is compiled at its first call
(CuPy keeps the binary on disk); one that fails to compile warns once and runs its lines
instead. ``MINIGRAD_GENERATED_KERNELS=0`` turns the generated kernels off (for programs
compiled afterwards), to measure what they give.
"""
from __future__ import annotations

import os
import re
import warnings

from . import backend as _backend

__all__ = ["Segment", "group", "run_lines", "default_runner", "C_TYPES", "PREAMBLE",
           "host_source", "device_source", "TRANSCENDENTAL"]

# NumPy dtype name -> the C++ type of one element (also CuPy's name in kernel parameters)
C_TYPES = {"float32": "float", "float64": "double", "bool": "bool"}

# Helpers the expressions call, for the device (NVRTC) and, with __device__ defined
# away, the host. NumPy's maximum/minimum let NaN win and give the second operand at a
# tie (-0.0 against 0.0); its sign keeps NaN and gives +0 at both zeros; its clip tests
# the low bound first and keeps NaN.
PREAMBLE = r"""
template <typename T> __device__ __forceinline__ T mg_maximum(T a, T b) {
    return (a > b || a != a) ? a : b;
}
template <typename T> __device__ __forceinline__ T mg_minimum(T a, T b) {
    return (a < b || a != a) ? a : b;
}
template <typename T> __device__ __forceinline__ T mg_sign(T a) {
    return a > T(0) ? T(1) : a < T(0) ? T(-1) : a == T(0) ? T(0) : a;
}
template <typename T> __device__ __forceinline__ T mg_clip_low(T x, T low) {
    return x < low ? low : x;
}
template <typename T> __device__ __forceinline__ T mg_clip_high(T x, T high) {
    return x > high ? high : x;
}
"""

# the maths-library calls whose last bits depend on the library (host against NumPy)
TRANSCENDENTAL = re.compile(r"\b(exp|log|tanh|sin|cos|pow)\(")

_NUMBERS = (bool, int, float)


class Segment:
    """A run of elementwise lines of generated code, computed as one kernel.

    Attributes
    ----------
    name : str
        The kernel's name (a C identifier, unique in its program).
    lines : list
        The generated lines it stands for, in order (fusion's ``_Line``).
    statements : list of (str, str, str)
        Per line: the value's name, its C++ type and its C++ expression.
    inputs, outputs : list of str
        The arrays it reads (in order of first use) and the values it hands back (those
        read after it); Python numbers are written into the code.
    dtypes : dict
        ``name -> dtype name`` of every input and output.
    shape : tuple of int
        The shape of every line's result (inputs broadcast to it).
    """

    def __init__(self, name, lines, statements, inputs, outputs, dtypes, shape):
        self.name = name
        self.lines = lines
        self.statements = statements
        self.inputs = inputs
        self.outputs = outputs
        self.dtypes = dtypes
        self.shape = shape

    def __repr__(self):
        return (f"<Segment {self.name}: {len(self.lines)} lines, "
                f"{len(self.inputs)} in, {len(self.outputs)} out>")

    @property
    def transcendental(self):
        """Whether a line calls exp, log, tanh, sin, cos or pow."""
        return any(TRANSCENDENTAL.search(e) for _, _, e in self.statements)

    def body(self):
        """The C++ statements for one element.

        Returns
        -------
        str
            One statement per line: an output assigned (CuPy's output parameters are
            references), any other value a ``const`` local.
        """
        outputs = set(self.outputs)
        return "\n".join(f"{name} = {expression};" if name in outputs
                         else f"const {ctype} {name} = {expression};"
                         for name, ctype, expression in self.statements)

    def parameters(self):
        """The kernel's parameters, as CuPy's ElementwiseKernel takes them.

        Returns
        -------
        (str, str)
            ``in_params`` and ``out_params``: ``"float32 x0, bool v3"``, ...
        """
        return tuple(", ".join(f"{self.dtypes[n]} {n}" for n in names)
                     for names in (self.inputs, self.outputs))

    def python_source(self):
        """The segment's lines as a Python function of its inputs.

        Returns
        -------
        str
            ``def NAME(inputs...):`` with the lines as the generated code had them, the
            outputs returned (one array, or a tuple of several).
        """
        lines = [f"def {self.name}({', '.join(self.inputs)}):"]
        lines += [f"    {line.results[0]} = {line.expression}" for line in self.lines]
        lines.append(f"    return {', '.join(self.outputs)}")
        return "\n".join(lines) + "\n"


class _SegmentKernel:
    """The kernel of a line that calls a segment: fresh results, no view, no ufunc."""
    ufunc = None
    view = False
    c = None


SEGMENT_KERNEL = _SegmentKernel()


class _NotElementwise(Exception):
    """A line that cannot be written as C++ (it ends the segment)."""


def group(lines, kept, namespace, runner, prefix, line_type):
    """``lines`` with each run of two or more elementwise lines replaced by one line that
    calls the run's kernel.

    Parameters
    ----------
    lines : list
        Generated lines, in order (before any is rewritten to write in place).
    kept : set of str
        Names read after these lines (outputs, saved values, gradients).
    namespace : dict
        The generated code's globals: the constants' values; each segment's callable is
        put there under its name.
    runner : callable
        ``runner(segment, namespace)`` gives the callable that computes a segment:
        ``outputs = f(*inputs)`` (one array, or a tuple when there are several).
    prefix : str
        Starts every segment's name.
    line_type : type
        Fusion's line class, to make the calling lines with.

    Returns
    -------
    (list, list of Segment)
        The new lines and the segments made.
    """
    items = []                      # a line, or (run of (line, statement), taps after it)
    run, taps = [], []

    def close():
        if len(run) >= 2:
            items.append((list(run), list(taps)))
        else:
            items.extend([line for line, _ in run] + taps)
        run.clear()
        taps.clear()

    for line in lines:
        if line.kernel is None:             # a tap: reads only, so it can wait
            (taps if run else items).append(line)
            continue
        try:
            statement = _statement(line, namespace)
        except _NotElementwise:
            close()
            items.append(line)
            continue
        if run and line.like[0] != run[0][0].like[0]:
            close()
        run.append((line, statement))
    close()

    # from the last line back, so that each run knows what is read after it
    read_after = set(kept)
    backwards = []
    for item in reversed(items):
        if not isinstance(item, tuple):
            read_after.update(item.args)
            backwards.append(item)
            continue
        statements, waiting = item
        for tap in reversed(waiting):
            backwards.append(tap)
            read_after.update(tap.args)
        segment = _segment(statements, read_after)
        if segment.outputs:
            read_after.update(segment.inputs)
            backwards.append(segment)
        else:           # nothing reads it (never so in generated code): keep the lines
            for line, _ in reversed(statements):
                read_after.update(line.args)
                backwards.append(line)
    result, made = [], []
    for item in reversed(backwards):
        if isinstance(item, Segment):
            item.name = f"{prefix}{len(made)}"
            namespace[item.name] = runner(item, namespace)
            made.append(item)
            item = line_type(item.outputs, f"{item.name}({', '.join(item.inputs)})",
                             item.inputs, SEGMENT_KERNEL, [None] * len(item.inputs),
                             (item.shape, None), None)
        result.append(item)
    return result, made


def _segment(run, read_after):
    made, inputs, dtypes = set(), [], {}
    for line, _ in run:
        for arg, like in zip(line.args, line.likes):
            if like is not None and arg not in made and arg not in dtypes:
                inputs.append(arg)
                dtypes[arg] = like[1].name
        made.add(line.results[0])
        dtypes[line.results[0]] = line.like[1].name
    outputs = [line.results[0] for line, _ in run if line.results[0] in read_after]
    return Segment(None, [line for line, _ in run], [s for _, s in run], inputs, outputs,
                   {n: dtypes[n] for n in inputs + outputs}, run[0][0].like[0])


def _statement(line, namespace):
    """``(name, C++ type, expression)`` of an elementwise line; raises _NotElementwise."""
    kernel = line.kernel
    template = getattr(kernel, "c", None)
    if template is None or kernel.view or len(line.results) != 1:
        raise _NotElementwise
    result = _c_type(line.like[1])
    operands = []           # a dtype per array, the value per Python number
    for name, like in zip(line.args, line.likes):
        if like is None:
            value = namespace[name]
            if type(value) not in _NUMBERS:
                raise _NotElementwise
            operands.append(value)
        else:
            _c_type(like[1])
            operands.append(like[1])
    common = _backend.result_type(*operands)
    ctype = _c_type(common)
    floats = {d for d in operands if not isinstance(d, _NUMBERS) and d.kind == "f"}
    if kernel.ufunc is not None:
        # NumPy computes in the result's type (comparisons give bool from any)
        if line.like[1].kind == "f" and common != line.like[1]:
            raise _NotElementwise
    elif len(floats) > 1:       # an @kernel's description assumes one float type
        raise _NotElementwise
    written = []
    for name, operand in zip(line.args, operands):
        if isinstance(operand, _NUMBERS):
            written.append(_literal(operand, ctype))
        else:
            written.append(name if operand == common else f"{ctype}({name})")
    if callable(template):
        static = {key: None if value is None else _literal(value, ctype)
                  for key, value in (line.static or {}).items()}
        expression = template(*written, T=ctype, **static)
    else:
        expression = template.format(*written, T=ctype)
    return line.results[0], result, expression


def _c_type(dtype):
    ctype = C_TYPES.get(getattr(dtype, "name", None))
    if ctype is None:
        raise _NotElementwise
    return ctype


def _literal(value, ctype):
    """A Python number as a C++ value of ``ctype`` (NumPy's conversion of a weak scalar:
    the nearest value of the type)."""
    if type(value) is bool:
        text = "true" if value else "false"
    elif type(value) is int and abs(value) < 2 ** 24:      # exact in float and double
        text = str(value)
    elif type(value) is float and value - value == 0:      # finite
        text = repr(value)
    else:
        raise _NotElementwise
    return f"{ctype}({text})"


# --------------------------------------------------------------------------- runners

def run_lines(segment, namespace):
    """The segment as its own lines, a Python function: what runs where a kernel does
    not compile, and how the tests check a segmentation on NumPy.

    Parameters
    ----------
    segment : Segment
    namespace : dict
        The generated code's globals (its kernels and constants); the function is
        defined there.

    Returns
    -------
    callable
        ``f(*inputs)`` -> the output array, or a tuple of them.
    """
    exec(compile(segment.python_source(), f"<segment {segment.name}>", "exec"), namespace)
    return namespace[segment.name]


def default_runner(backend):
    """How ``backend`` runs segments.

    Parameters
    ----------
    backend : minigrad.backend.Backend

    Returns
    -------
    callable or None
        A :func:`group` runner that makes each segment one generated kernel, where the
        backend compiles them (CuPy) and ``MINIGRAD_GENERATED_KERNELS`` is not ``0``;
        None elsewhere: no segments, the lines run one by one.
    """
    if backend.elementwise_kernel is None or \
            os.environ.get("MINIGRAD_GENERATED_KERNELS") == "0":
        return None

    def runner(segment, namespace):
        return _FirstCall(backend, segment, namespace)
    return runner


class _FirstCall:
    """A segment's kernel until its first call: compiles it, and puts the kernel (or,
    when it fails there, the segment's lines, after one warning) in the code's namespace
    for the calls after."""

    def __init__(self, backend, segment, namespace):
        self.backend, self.segment, self.namespace = backend, segment, namespace

    def __call__(self, *arrays):
        segment, backend = self.segment, self.backend
        in_params, out_params = segment.parameters()
        kernel = backend.elementwise_kernel(in_params, out_params, segment.body(),
                                            segment.name, PREAMBLE)
        try:
            results = kernel(*arrays)
        except Exception as error:      # compilation (NVRTC), or generated code CuPy refuses
            warnings.warn(f"minigrad: generated kernel {segment.name} does not compile; "
                          f"its {len(segment.lines)} lines run one by one ({error})",
                          RuntimeWarning, stacklevel=2)
            kernel = run_lines(segment, self.namespace)
            results = kernel(*arrays)
        self.namespace[segment.name] = kernel
        return results


# --------------------------------------------------------------------------- C++ sources

def _loads(segment):
    loads = [f"const {C_TYPES[segment.dtypes[n]]} {n} = {n}_[i];" for n in segment.inputs]
    loads += [f"{C_TYPES[segment.dtypes[n]]}& {n} = {n}_[i];" for n in segment.outputs]
    return "\n".join(loads)


def _pointers(segment):
    return ", ".join(["long n"] + [f"const {C_TYPES[segment.dtypes[n]]}* {n}_"
                                   for n in segment.inputs]
                     + [f"{C_TYPES[segment.dtypes[n]]}* {n}_" for n in segment.outputs])


def host_source(segments):
    """The segments' code compiled for the host, to check it against NumPy where there
    is no GPU.

    Parameters
    ----------
    segments : sequence of Segment

    Returns
    -------
    str
        C++ with ``extern "C" void NAME(long n, inputs..., outputs...)`` per segment,
        each over ``n`` elements of contiguous arrays already broadcast to its shape.
    """
    text = ["#include <cmath>", "using namespace std;", "#define __device__",
            "#define __forceinline__ inline", PREAMBLE]
    for segment in segments:
        text.append(f'extern "C" void {segment.name}({_pointers(segment)}) {{\n'
                    f"for (long i = 0; i < n; ++i) {{\n{_loads(segment)}\n"
                    f"{segment.body()}\n}}\n}}")
    return "\n".join(text) + "\n"


def device_source(segments):
    """The segments' code as standalone CUDA, to compile with nvcc where there is no GPU.

    Parameters
    ----------
    segments : sequence of Segment

    Returns
    -------
    str
        CUDA C++ with one ``extern "C" __global__`` kernel per segment (arguments as in
        :func:`host_source`), each thread one element, around the body CuPy's kernel has.
    """
    text = [PREAMBLE]
    for segment in segments:
        text.append(f'extern "C" __global__ void {segment.name}({_pointers(segment)}) {{\n'
                    f"const long i = blockIdx.x * (long)blockDim.x + threadIdx.x;\n"
                    f"if (i >= n) return;\n{_loads(segment)}\n{segment.body()}\n}}")
    return "\n".join(text) + "\n"
