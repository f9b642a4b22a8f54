"""Runs of elementwise lines made one kernel each (minigrad/segments.py), checked without
a GPU:

- every fused program of the tests (each op's case in test_every_op_fuses.CASES, float64
  and float32, and the programs the recurrent layers compile for their fused steps and
  scans), run segment by segment on NumPy, equals its straight-line code bit for bit;
- the C++ generated for every one of those segments compiles with nvcc (skipped where
  nvcc is missing), and compiled for the host with g++ it equals NumPy on random
  inputs: exactly where a segment uses +, -, *, /, sqrt, comparisons and selections
  only; within ULPS ulp (of the larger of the value and 1) where it calls exp, log,
  tanh, sin, cos or pow, whose last bits differ between the host's libm and NumPy's;
- what cannot be written as C++ (a kernel without a description, a dtype or a number C
  cannot hold) ends a segment and runs line by line, as before.
"""
import collections
import copy
import ctypes
import math
import pathlib
import shutil
import subprocess
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import fusion, segments
from minigrad.tensor import Tensor, kernel, record, ufunc_kernel
from tests.engine.test_every_op_fuses import CASES

ULPS = 4        # host libm against NumPy, for segments with transcendental functions


# --------------------------------------------------------------------------- the programs

def _case_programs():
    """(label, fn, input arrays, wanted) for each CASES entry, in float64 and float32."""
    found = []
    for name, (fn, shapes) in sorted(CASES.items()):
        rng = np.random.default_rng(sorted(CASES).index(name))
        arrays = [rng.standard_normal(shape) for shape in shapes]
        for dtype in (np.float64, np.float32):
            found.append((f"{name}[{np.dtype(dtype).name}]", fn,
                          [a.astype(dtype) for a in arrays], [True] * len(shapes)))
    return found


def _layer_programs():
    """(label, fn, input arrays, wanted) of every program the recurrent layers compile
    (their fused steps and input projections, as their scans run them), recorded by
    running each layer forward and backward with an empty program cache."""
    from models import GRU, LSTM, RNN, CoupledLSTM, LayerNormLSTM, PeepholeLSTM
    layers = {
        "LSTM": lambda: LSTM(3, 4), "LSTM-proj": lambda: LSTM(3, 4, proj_size=2),
        "PeepholeLSTM": lambda: PeepholeLSTM(3, 4), "CoupledLSTM": lambda: CoupledLSTM(3, 4),
        "GRU": lambda: GRU(3, 4), "GRU-reset-before": lambda: GRU(3, 4, reset_after=False),
        "RNN-tanh": lambda: RNN(3, 4), "RNN-relu": lambda: RNN(3, 4, nonlinearity="relu"),
        "LayerNormLSTM": lambda: LayerNormLSTM(3, 4),
        "LSTM-bidirectional-2-layers": lambda: LSTM(3, 4, num_layers=2, bidirectional=True),
    }
    seen = {}
    compile_plainly = fusion.compile

    def recording(fn, inputs, wanted, segments=None):
        key = (fn, *[(x.shape, x.dtype) for x in inputs], *wanted)
        seen.setdefault(key, (label, fn, [(x.shape, x.dtype) for x in inputs], list(wanted)))
        return compile_plainly(fn, inputs, wanted, segments)

    rng = np.random.default_rng(1)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fusion.PROGRAMS, "entries", collections.OrderedDict())
        patch.setattr(fusion, "compile", recording)
        for label, make in layers.items():
            for dtype in (mg.float32, mg.float64):
                mg.manual_seed(0)
                layer = make()
                for parameter in layer.parameters():
                    parameter.data = parameter.data.astype(dtype)
                x = mg.tensor(rng.standard_normal((5, 2, 3)), dtype=dtype, requires_grad=True)
                output, _ = layer(x)
                (output * output).sum().backward()
                with mg.no_grad():              # the programs of inference
                    layer(x)
    found = []
    for label, fn, likes, wanted in seen.values():
        arrays = [rng.standard_normal(shape).astype(dtype) for shape, dtype in likes]
        found.append((f"{label}:{fn.__name__}{[s for s, _ in likes]}[{likes[0][1].name}]"
                      f"{'' if any(wanted) else '[no grad]'}", fn, arrays, wanted))
    return found


@pytest.fixture(scope="module")
def programs():
    """Every program under test, with its straight-line and its segmented compilation."""
    found = []
    for label, fn, arrays, wanted in _case_programs() + _layer_programs():
        inputs = [Tensor(a) for a in arrays]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                plain = fusion.compile(fn, inputs, wanted)
            except fusion.Unfusable:
                continue
            split = fusion.compile(fn, inputs, wanted, segments=segments.run_lines)
        found.append((label, arrays, plain, split))
    return found


def _run(program, arrays, seed):
    """Every value a program hands out: outputs, saved values, input gradients."""
    outputs, saved = program.forward(*[a.copy() for a in arrays])
    values = [*outputs, *saved]
    if program.backward is not None:
        rng = np.random.default_rng(seed)
        seeds = [rng.standard_normal(shape).astype(dtype)
                 for shape, dtype, _ in program.output_likes]
        for grad in program.backward(*saved, *seeds):
            if grad is not None:
                values += [grad.left, grad.right] if hasattr(grad, "left") else [grad]
    return values


def test_every_program_runs_segment_by_segment_as_its_straight_line(programs):
    assert len(programs) > 2 * len(CASES)
    segmented = 0
    for label, arrays, plain, split in programs:
        expected, got = _run(plain, arrays, 0), _run(split, arrays, 0)
        assert len(expected) == len(got), label
        for k, (a, b) in enumerate(zip(expected, got)):
            assert a.dtype == b.dtype and a.shape == b.shape, f"{label}: value {k}"
            np.testing.assert_array_equal(a, b, err_msg=f"{label}: value {k} differs")
        assert not plain.segments, f"{label}: NumPy programs keep their lines"
        segmented += bool(split.segments)
    assert segmented > len(programs) // 4, "hardly any program has a segment"


def _segments_of(programs, label_start):
    (program,) = [split for label, _, _, split in programs
                  if label.startswith(label_start) and "no grad" not in label]
    return program


def test_an_lstm_step_is_one_kernel_each_way(programs):
    # forward: product, bias add, the chunk's views, then ONE run for the gates and the
    # cell update; backward: ONE run, then the concatenation and the product
    program = _segments_of(programs, "LSTM:_lstm_step[(2, 16), (2, 4), (2, 4), (4, 16)]"
                                     "[float32]")
    forward, backward = [s for s in program.segments if "_forward_" in s.name], \
        [s for s in program.segments if "_backward_" in s.name]
    assert [len(s.lines) for s in forward] == [9] and [len(s.lines) for s in backward] == [12]
    assert forward[0].outputs[-1] in program.source.split("return (")[1]
    assert program.source.count("minigrad_lstm_step_") == 2


# --------------------------------------------------------------------------- C++

def _all_segments(programs):
    """Every distinct segment (renamed check_0, check_1, ...), in the order found."""
    distinct = {}
    for _, _, _, split in programs:
        for segment in split.segments:
            key = (segment.parameters(), segment.body())
            if key not in distinct:
                renamed = copy.copy(segment)
                renamed.name = f"check_{len(distinct)}"
                distinct[key] = renamed
    return list(distinct.values())


def _nvcc():
    return shutil.which("nvcc") or next(
        (str(p) for p in [pathlib.Path("/usr/local/cuda/bin/nvcc")] if p.exists()), None)


def test_the_generated_kernels_compile_with_nvcc(programs, tmp_path):
    nvcc = _nvcc()
    if nvcc is None:
        pytest.skip("nvcc is missing (neither on PATH nor /usr/local/cuda/bin): the CUDA "
                    "toolkit is needed to compile the generated kernels")
    found = _all_segments(programs)
    source = tmp_path / "segments.cu"
    source.write_text(segments.device_source(found))
    done = subprocess.run([nvcc, "--ptx", "--fmad=false", "-o", str(tmp_path / "s.ptx"),
                           str(source)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"nvcc failed:\n{done.stderr[-3000:]}"
    assert (tmp_path / "s.ptx").read_text().count(".entry check_") == len(found)


def _host_library(found, folder):
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler (g++) to build the generated code for the host")
    source = folder / "segments.cpp"
    source.write_text(segments.host_source(found))
    library = folder / "segments.so"
    done = subprocess.run([compiler, "-O2", "-ffp-contract=off", "-fno-fast-math", "-shared",
                           "-fPIC", "-o", str(library), str(source)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{compiler} failed:\n{done.stderr[-3000:]}"
    return ctypes.CDLL(str(library))


def _random(dtype, shape, rng):
    if dtype == "bool":
        return rng.random(shape) < 0.5
    return (rng.standard_normal(shape) * 2).astype(dtype)


def _run_on_host(library, segment, arrays):
    n = math.prod(segment.shape)
    inputs = [np.ascontiguousarray(np.broadcast_to(a, segment.shape)) for a in arrays]
    outputs = [np.empty(segment.shape, dtype=segment.dtypes[name]) for name in segment.outputs]
    getattr(library, segment.name)(ctypes.c_long(n), *[a.ctypes.data_as(ctypes.c_void_p)
                                                       for a in inputs + outputs])
    return outputs


def _ulps_apart(got, expected):
    """Per element: how many ulp of max(|expected|, 1) ``got`` is from ``expected``."""
    scale = np.spacing(np.maximum(np.abs(expected), 1).astype(expected.dtype))
    both_nan = np.isnan(got) & np.isnan(expected)
    same = (got == expected) | both_nan
    with np.errstate(all="ignore"):     # inf - inf where both are inf: `same` there
        return np.where(same, 0, np.abs(got.astype(np.float64) - expected) / scale)


def test_the_generated_code_equals_numpy_on_the_host(programs, tmp_path):
    found = _all_segments(programs)
    library = _host_library(found, tmp_path)
    rng = np.random.default_rng(7)
    exact = 0
    for segment in found:
        arrays = [_random(segment.dtypes[n], segment.shape, rng) for n in segment.inputs]
        namespace = dict(next(p[3] for p in programs if p[3].segments).forward.__globals__)
        namespace.update(_namespace_of(programs, segment))
        with np.errstate(all="ignore"):     # log of negatives, say: NaN both ways
            expected = segments.run_lines(segment, namespace)(*arrays)
            got = _run_on_host(library, segment, arrays)
        expected = list(expected) if isinstance(expected, tuple) else [expected]
        for name, a, b in zip(segment.outputs, got, expected):
            where = f"{segment.name} output {name}:\n{segment.body()}"
            if b.dtype == bool or not segment.transcendental:
                np.testing.assert_array_equal(a, b, err_msg=where)
            else:
                worst = _ulps_apart(a, b).max()
                assert worst <= ULPS, f"{where}\n{worst} ulp apart"
        exact += not segment.transcendental
    assert exact > 0 and exact < len(found)


_ORIGINALS = {}


def _namespace_of(programs, segment):
    """The globals the segment's lines need (kernels and constants of its program)."""
    if not _ORIGINALS:
        for _, _, _, split in programs:
            for original in split.segments:
                key = (original.parameters(), original.body())
                _ORIGINALS.setdefault(key, split.forward.__globals__)
    return _ORIGINALS[(segment.parameters(), segment.body())]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("function", ["exp", "log", "tanh", "sin", "cos", "sqrt"])
def test_each_library_function_is_within_the_stated_ulps(function, dtype, tmp_path):
    # one function at a time, over a wide range: the bound the segment check relies on
    def fn(a, b):
        return getattr(mg, function)(a * b) * b
    rng = np.random.default_rng(3)
    arrays = [np.abs(rng.standard_normal(4000)).astype(dtype) * 20 + 1e-3,
              np.abs(rng.standard_normal(4000)).astype(dtype) + 0.5]
    with np.errstate(all="ignore"):
        program = fusion.compile(fn, [Tensor(a) for a in arrays], [False, False],
                                 segments=segments.run_lines)
    (segment,) = program.segments
    library = _host_library([segment], tmp_path)
    with np.errstate(all="ignore"):         # exp overflows to inf both ways
        expected = program.forward.__globals__[segment.name](*arrays)
        got = _run_on_host(library, segment, arrays)[0]
    worst = _ulps_apart(got, expected).max()
    assert worst <= (0 if function == "sqrt" else ULPS), f"{function}: {worst} ulp"


# --------------------------------------------------------------------------- fallbacks

@kernel
def _undescribed_values(xp, x):
    return x * 3.0


def _undescribed(x):
    """An op whose kernel has no C++ description (as a newly added op may be)."""
    return record(_undescribed_values(x.xp, x.data), (x,), lambda g: (g * 3.0,), "undescribed",
                  _undescribed_values)


_ARCTAN = ufunc_kernel("arctan")        # a ufunc missing from UFUNC_C


def _arctan(x):
    return record(_ARCTAN(x.xp, x.data), (x,), lambda g: (g / (x * x + 1.0),), "arctan", _ARCTAN)


@pytest.mark.parametrize("op", [_undescribed, _arctan])
def test_a_kernel_without_c_ends_a_segment(op):
    def fn(a, b):
        return op(mg.tanh(a) * b) * a + b

    arrays = [np.linspace(-1, 1, 6).reshape(2, 3), np.linspace(0.5, 2, 6).reshape(2, 3)]
    program = fusion.compile(fn, [Tensor(a) for a in arrays], [True, True],
                             segments=segments.run_lines)
    plain = fusion.compile(fn, [Tensor(a) for a in arrays], [True, True])
    forward = [s for s in program.segments if "_forward_" in s.name]
    assert [len(s.lines) for s in forward] == [2, 2]        # tanh*b | op | *a, +b
    assert "_undescribed_values_" in program.source or "xp.arctan(" in program.source
    for a, b in zip(_run(plain, arrays, 1), _run(program, arrays, 1)):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("fn, why", [
    (lambda a: mg.exp(a) * float("inf") + 1.0, "a number C cannot write"),
    (lambda a: (mg.exp(a.astype("float16")) * 2.0).astype(mg.float64), "float16"),
    (lambda a: mg.exp(a) + (a @ a.T).sum() * a, "a product and a reduction"),
])
def test_what_cannot_be_written_runs_line_by_line(fn, why):
    arrays = [np.linspace(-1, 1, 9).reshape(3, 3)]
    program = fusion.compile(fn, [Tensor(a) for a in arrays], [True],
                             segments=segments.run_lines)
    plain = fusion.compile(fn, [Tensor(a) for a in arrays], [True])
    for segment in program.segments:
        assert "inf" not in segment.body() and "half" not in segment.body(), why
    with np.errstate(all="ignore"):
        for a, b in zip(_run(plain, arrays, 2), _run(program, arrays, 2)):
            np.testing.assert_array_equal(a, b)


class _Refused(Exception):
    pass


def _backend_whose_kernels(behave):
    def elementwise_kernel(in_params, out_params, body, name, preamble):
        return behave
    return type("FakeBackend", (), {"elementwise_kernel": staticmethod(elementwise_kernel)})()


def test_a_kernel_that_does_not_compile_warns_and_runs_its_lines():
    def refuse(*arrays):
        raise _Refused("no such function")

    fn = lambda a: mg.sigmoid(a) * a          # noqa: E731
    arrays = [np.linspace(-2, 2, 6).reshape(2, 3)]
    runner = segments.default_runner(_backend_whose_kernels(refuse))
    program = fusion.compile(fn, [Tensor(a) for a in arrays], [True], segments=runner)
    assert program.segments
    plain = fusion.compile(fn, [Tensor(a) for a in arrays], [True])
    with pytest.warns(RuntimeWarning, match="does not compile"):
        got = _run(program, arrays, 3)
    for a, b in zip(_run(plain, arrays, 3), got):
        np.testing.assert_array_equal(a, b)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # once: then the lines run without a word
        _run(program, arrays, 3)


def test_a_compiled_kernel_replaces_its_first_call(monkeypatch):
    calls = []

    def kernel_call(*arrays):
        calls.append(len(arrays))
        return segments.run_lines(program.segments[0], dict(program.forward.__globals__))(
            *arrays)

    fn = lambda a: mg.tanh(a) * 2.0 + a           # noqa: E731
    arrays = [np.linspace(-2, 2, 6).reshape(2, 3)]
    runner = segments.default_runner(_backend_whose_kernels(kernel_call))
    program = fusion.compile(fn, [Tensor(a) for a in arrays], [False], segments=runner)
    (segment,) = program.segments
    program.forward(*arrays)
    assert program.forward.__globals__[segment.name] is kernel_call     # no wrapper after
    program.forward(*arrays)
    assert calls == [1, 1]
    monkeypatch.setenv("MINIGRAD_GENERATED_KERNELS", "0")
    assert segments.default_runner(_backend_whose_kernels(kernel_call)) is None


def test_numpy_and_the_standin_run_their_lines():
    from minigrad import backend
    assert segments.default_runner(backend.get("numpy")) is None
    assert segments.default_runner(backend.get("standin")) is None


def test_group_hands_back_what_is_read_after_and_keeps_a_run_nobody_reads():
    from minigrad.fusion import _Line
    exp, multiply = ufunc_kernel("exp"), ufunc_kernel("multiply")
    like = ((2, 3), np.dtype(np.float32))

    def lines():
        return [_Line(["v0"], "xp.exp(x0)", ["x0"], exp, [like], like),
                _Line(["v1"], "xp.multiply(v0, x0)", ["v0", "x0"], multiply, [like, like],
                      like),
                _Line(["v2"], "xp.multiply(v1, c0)", ["v1", "c0"], multiply, [like, None],
                      like)]
    namespace = {"xp": np, "c0": 2.0}
    grouped, made = segments.group(lines(), {"v2", "v0"}, namespace, segments.run_lines,
                                   "s", _Line)
    (segment,) = made
    assert [line.expression for line in grouped] == ["s0(x0)"]
    assert segment.outputs == ["v0", "v2"] and segment.inputs == ["x0"]
    assert "float(2.0)" in segment.body()
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    v0, v2 = namespace["s0"](x)
    np.testing.assert_array_equal(v2, np.exp(x) * x * np.float32(2.0))
    kept, made = segments.group(lines(), set(), {"xp": np, "c0": 2.0}, segments.run_lines,
                                "s", _Line)
    assert not made and [line.results for line in kept] == [["v0"], ["v1"], ["v2"]]
