"""The backend switch: selecting, refusing CuPy cleanly where it cannot work, keeping
backends apart, moving tensors between them, and the stand-in's own refusals."""
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy as np
import pytest

import minigrad as mg
import minigrad.backend as backend_module
import standin

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def restore_backend():
    """Put the active backend back however a test leaves it."""
    previous = backend_module._active
    yield
    backend_module._active = previous


# --------------------------------------------------------------------------- the switch

def test_set_and_get_backend(restore_backend):
    mg.set_backend("standin")
    assert mg.get_backend() == "standin"
    assert mg.zeros(2).backend == "standin"
    mg.set_backend("numpy")
    assert mg.get_backend() == "numpy"
    assert mg.zeros(2).backend == "numpy"


def test_cpu_is_an_alias_for_numpy(restore_backend):
    mg.set_backend("standin")
    mg.set_backend("cpu")
    assert mg.get_backend() == "numpy"
    assert mg.tensor([1.0], backend="cpu").backend == "numpy"


def test_use_backend_restores_the_previous_one(restore_backend):
    mg.set_backend("numpy")
    with mg.use_backend("standin"):
        assert mg.get_backend() == "standin"
        assert mg.randn(2).backend == "standin"
    assert mg.get_backend() == "numpy"
    with pytest.raises(KeyError):
        with mg.use_backend("standin"):
            raise KeyError
    assert mg.get_backend() == "numpy"


def test_unknown_backend_is_refused_with_the_choices(restore_backend):
    mg.set_backend("numpy")
    with pytest.raises(mg.BackendError, match="unknown backend 'tpu'.*numpy"):
        mg.set_backend("tpu")
    assert mg.get_backend() == "numpy"


def test_backends_available_lists_numpy():
    available = mg.backends_available()
    assert "numpy" in available
    assert set(available) <= {"numpy", "cupy"}


def _run(code, **env):
    environment = {**os.environ, **env}
    environment.pop("PYTHONPATH", None)
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=120)


def test_minigrad_backend_environment_variable_is_read_at_import():
    result = _run("import minigrad as mg; print(mg.get_backend(), mg.zeros(1).backend)",
                  MINIGRAD_BACKEND="cpu")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "numpy"]


@pytest.mark.parametrize("name, reason", [("nonsense", "unknown backend 'nonsense'"),
                                          ("cupy", "cannot import cupy (no CUDA here)")])
def test_an_unusable_minigrad_backend_warns_in_one_line_and_keeps_numpy(tmp_path, name,
                                                                        reason):
    # a cupy that cannot be imported, whatever this machine has
    (tmp_path / "cupy").mkdir()
    (tmp_path / "cupy" / "__init__.py").write_text("raise ImportError('no CUDA here')\n")
    code = "import minigrad as mg; print(mg.get_backend(), mg.zeros(1).backend)"
    environment = {**os.environ, "MINIGRAD_BACKEND": name, "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["numpy", "numpy"]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "BackendWarning" in lines[0] and f"MINIGRAD_BACKEND={name!r}" in lines[0]
    assert reason in lines[0] and "using numpy" in lines[0]


# --------------------------------------------------------------------------- CuPy refused

def _assert_one_line(error):
    message = str(error.value)
    assert message and "\n" not in message, message
    return message


def test_cupy_missing_is_a_one_line_backend_error(monkeypatch, restore_backend):
    def missing():
        raise mg.BackendError("cupy backend unavailable: cannot import cupy (no module)")
    monkeypatch.setitem(backend_module._LOADERS, "cupy", missing)
    monkeypatch.delitem(backend_module._LOADED, "cupy", raising=False)
    mg.set_backend("standin")
    with pytest.raises(mg.BackendError) as error:
        mg.set_backend("cupy")
    _assert_one_line(error)
    assert mg.get_backend() == "standin"         # nothing half-switched
    with pytest.raises(mg.BackendError):
        mg.set_backend("gpu")
    with pytest.raises(mg.BackendError):
        with mg.use_backend("cupy"):
            pass
    assert mg.get_backend() == "standin"
    assert "cupy" not in mg.backends_available()
    assert "cupy" not in backend_module._LOADED


def _fake_cupy(monkeypatch, device_count=None, allocation_error=None):
    """Install a `cupy` that imports but has no working device."""
    cupy = types.ModuleType("cupy")
    runtime = types.SimpleNamespace()
    if isinstance(device_count, Exception):
        def get_device_count():
            raise device_count
    else:
        def get_device_count():
            return device_count
    runtime.getDeviceCount = get_device_count
    cupy.cuda = types.SimpleNamespace(runtime=runtime)

    def zeros(*args, **kwargs):
        raise allocation_error
    cupy.zeros = zeros
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", types.ModuleType("cupyx"))
    monkeypatch.setitem(backend_module._LOADERS, "cupy", backend_module._load_cupy)
    monkeypatch.delitem(backend_module._LOADED, "cupy", raising=False)


@pytest.mark.parametrize("device_count, allocation_error", [
    (RuntimeError("cudaErrorNoDevice: no CUDA-capable device is detected\ndetails"), None),
    (0, None),
    (1, RuntimeError("CUDA driver version is insufficient for CUDA runtime version\nmore")),
    (1, OSError("")),
], ids=["count-raises", "no-devices", "allocation-raises", "empty-message"])
def test_cupy_importable_but_no_device_answers(monkeypatch, restore_backend, device_count,
                                               allocation_error):
    _fake_cupy(monkeypatch, device_count, allocation_error)
    with pytest.raises(mg.BackendError) as error:
        backend_module._load_cupy()
    message = _assert_one_line(error)
    assert message.startswith("cupy backend unavailable: no CUDA device answers")
    mg.set_backend("numpy")
    with pytest.raises(mg.BackendError):
        mg.set_backend("cupy")
    assert mg.get_backend() == "numpy"
    assert "cupy" not in mg.backends_available()


def test_cupy_import_failure_is_a_backend_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)      # makes `import cupy` raise
    with pytest.raises(mg.BackendError) as error:
        backend_module._load_cupy()
    assert _assert_one_line(error).startswith("cupy backend unavailable: cannot import cupy")


# --------------------------------------------------------------------------- mixing

def _pair():
    here = mg.tensor([[1.0, 2.0], [3.0, 4.0]], backend="numpy", requires_grad=True)
    there = mg.tensor([[1.0, 0.0], [0.0, 1.0]], backend="standin", requires_grad=True)
    return here, there


@pytest.mark.parametrize("op", [
    lambda a, b: a + b, lambda a, b: b * a, lambda a, b: a - b, lambda a, b: a / b,
    lambda a, b: a ** b, lambda a, b: a @ b, lambda a, b: mg.matmul(b, a),
    lambda a, b: mg.maximum(a, b), lambda a, b: mg.where(a > 0, a, b),
    lambda a, b: mg.concat([a, b]), lambda a, b: mg.stack([b, a]), lambda a, b: a < b,
], ids=["add", "mul", "sub", "div", "pow", "matmul", "mg.matmul", "maximum", "where",
        "concat", "stack", "lt"])
def test_mixing_backends_in_one_op_names_both(op):
    a, b = _pair()
    with pytest.raises(mg.BackendError) as error:
        op(a, b)
    assert "numpy" in str(error.value) and "standin" in str(error.value)


@pytest.mark.parametrize("condition_on, values_on", [("standin", "numpy"),
                                                     ("numpy", "standin")])
def test_where_refuses_a_condition_on_another_backend(condition_on, values_on):
    condition = mg.tensor([True, False], backend=condition_on)
    values = mg.tensor([1.0, 2.0], backend=values_on)
    with pytest.raises(mg.BackendError, match=f"where: .*{condition_on} and {values_on}"):
        mg.where(condition, values, 0.0)


@pytest.mark.parametrize("index_on, tensor_on", [("standin", "numpy"), ("numpy", "standin")])
def test_indexing_refuses_an_index_on_another_backend(index_on, tensor_on):
    x = mg.tensor([1.0, 2.0], backend=tensor_on)
    for index in (mg.tensor([0, 0], backend=index_on), mg.tensor([True, False],
                                                                 backend=index_on)):
        with pytest.raises(mg.BackendError, match=f"getitem: .*{tensor_on} and {index_on}"):
            x[index]
        with pytest.raises(mg.BackendError):
            x[:, None][index, 0]


@pytest.mark.parametrize("there", ["standin", "numpy"])
def test_to_moves_data_and_gradients_flow_back(there, restore_backend):
    here = "numpy" if there == "standin" else "standin"
    mg.set_backend(here)
    x = mg.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    moved = x.to(there)
    assert moved.backend == there and x.backend == here
    assert moved.requires_grad and not moved.is_leaf
    np.testing.assert_array_equal(moved.numpy(), [1.0, 2.0, 3.0])
    w = mg.tensor(np.array([2.0, 3.0, 4.0]), backend=there)
    (moved * w).sum().backward()
    assert x.grad.backend == here
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0, 4.0])
    back = moved.to(here)
    assert back.backend == here
    assert x.to("cpu" if here == "numpy" else here) is x


def test_tensor_takes_arrays_of_another_backend(restore_backend):
    mg.set_backend("numpy")
    device = mg.tensor([1.0, 2.0], backend="standin")
    copied = mg.tensor(device.data)
    assert copied.backend == "numpy"
    np.testing.assert_array_equal(copied.numpy(), [1.0, 2.0])


# --------------------------------------------------------------------------- the stand-in

def test_the_stand_in_refuses_implicit_host_conversion():
    x = mg.tensor([1.0, 2.0], backend="standin")
    assert not isinstance(x.data, np.ndarray)
    with pytest.raises(TypeError, match="implicit conversion.*get()"):
        np.asarray(x.data)
    with pytest.raises(TypeError, match="implicit conversion"):
        np.array(x.data)
    with pytest.raises(TypeError, match="implicit conversion"):
        np.testing.assert_array_equal(x.data, [1.0, 2.0])
    with pytest.raises(TypeError, match="implicit conversion"):
        np.asarray([x.data, x.data])


def test_the_stand_in_refuses_mixing_with_host_arrays():
    device = mg.tensor([1.0, 2.0], backend="standin").data
    host = np.array([1.0, 2.0])
    for mix in (lambda: device + host, lambda: host + device, lambda: device * host,
                lambda: host @ device, lambda: np.add(device, host),
                lambda: np.concatenate([device, host]), lambda: standin.xp.where(
                    device > 1, device, host), lambda: standin.xp.maximum(host, device)):
        with pytest.raises(TypeError, match="cannot be mixed"):
            mix()
    with pytest.raises(TypeError, match="cannot be mixed"):
        device[0:1] = host[:1]


def test_the_stand_in_behaves_like_a_device_library():
    xp = standin.xp
    device = xp.asarray(np.arange(6.0).reshape(2, 3))       # host data is copied over
    assert isinstance(device, standin.StandInArray)
    total = device.sum()
    assert isinstance(total, standin.StandInArray) and total.ndim == 0
    assert float(total) == 15.0 and total.item() == 15.0
    host = device.get()
    assert isinstance(host, np.ndarray)
    host[0, 0] = 100.0                                       # a copy, not a view
    assert device[0, 0].item() == 0.0
    assert isinstance(np.exp(device), standin.StandInArray)  # NumPy dispatches to it
    assert isinstance(xp.split(device, 3, axis=1)[0], standin.StandInArray)
    assert (device * 2 + 1.0).tolist() == [[1, 3, 5], [7, 9, 11]]
    view = device.reshape(-1)
    view[0] = 7.0
    assert device[0, 0].item() == 7.0
    generator = mg.backend.get("standin").generator
    assert isinstance(generator.standard_normal((2,), dtype=np.float32), standin.StandInArray)
    assert isinstance(generator.integers(0, 5, size=3), standin.StandInArray)
    assert not hasattr(device, "tofile")                      # not an ndarray in disguise


def test_tensor_numpy_is_the_explicit_way_home():
    x = mg.tensor([1.0, 2.0], backend="standin")
    host = x.numpy()
    assert isinstance(host, np.ndarray)
    np.testing.assert_array_equal(np.asarray(x), [1.0, 2.0])   # Tensor.__array__ copies
    assert "tensor([1., 2.]" in repr(x)


def test_keeping_freed_memory_can_be_turned_off(monkeypatch):
    monkeypatch.setenv("MINIGRAD_TUNE_ALLOCATOR", "0")
    assert mg.tune_allocator() is False
    monkeypatch.delenv("MINIGRAD_TUNE_ALLOCATOR")
    applied = mg.tune_allocator()
    assert applied is (sys.platform.startswith("linux") and _glibc())


def _glibc():
    import platform
    return platform.libc_ver()[0] == "glibc"
