"""PyTorch's factories (``randint``, ``empty``, ``eye``, ``linspace``, ``full_like``,
``randn_like``, ``rand_like``, with ``zeros_like``/``ones_like``), ``t.to(backend, dtype)``
and ``module.to(dtype)`` / ``float()`` / ``double()``: shapes, dtypes and values against
PyTorch, on every backend."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import minigrad as mg
from minigrad import nn

DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64,
          np.dtype(np.int64): torch.int64, np.dtype(np.int32): torch.int32}


def same_dtype(ours, theirs):
    assert DTYPES[np.dtype(ours.dtype)] == theirs.dtype, (ours.dtype, theirs.dtype)


# --------------------------------------------------------------------------- factories

@pytest.mark.parametrize("dtype", [None, mg.float64, mg.int64])
def test_eye_matches_torch(engine_backend, dtype):
    kwargs = {} if dtype is None else {"dtype": DTYPES[np.dtype(dtype)]}
    for n, m in ((3, None), (2, 4), (4, 1), (0, 2)):
        ours = mg.eye(n, m, dtype=dtype)
        theirs = torch.eye(n, m, **kwargs) if m is not None else torch.eye(n, **kwargs)
        assert ours.backend == engine_backend
        same_dtype(ours, theirs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.floats(-100, 100), st.floats(-100, 100), st.integers(0, 70),
       st.sampled_from([None, mg.float64, mg.int64, np.int32]))
def test_linspace_matches_torch(start, end, steps, dtype):
    kwargs = {} if dtype is None else {"dtype": DTYPES[np.dtype(dtype)]}
    ours = mg.linspace(start, end, steps, dtype=dtype)
    theirs = torch.linspace(start, end, steps, **kwargs)
    same_dtype(ours, theirs)
    if dtype in (mg.int64, np.int32):
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    else:
        # within an ulp of the larger end: PyTorch's kernel fuses the multiply-add
        ulp = np.finfo(ours.dtype).eps * max(abs(start), abs(end), 1e-30)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=0, atol=2 * ulp)
        if steps:
            assert ours.numpy()[0] == theirs.numpy()[0]
            assert ours.numpy()[-1] == theirs.numpy()[-1]


def test_randint_forms_dtypes_and_range(engine_backend):
    mg.manual_seed(3)
    a = mg.randint(5, (1000,))
    assert a.backend == engine_backend and a.dtype == np.int64 and a.shape == (1000,)
    values = a.numpy()
    assert values.min() == 0 and values.max() == 4
    b = mg.randint(-3, 3, (20, 30), dtype=mg.float64)
    assert b.dtype == np.float64 and set(np.unique(b.numpy())) <= set(range(-3, 3))
    mg.manual_seed(3)
    np.testing.assert_array_equal(mg.randint(5, (1000,)).numpy(), values)   # seeded
    assert torch.randint(5, (1000,)).dtype == torch.int64
    assert mg.randint(0, 1, size=[2, 0]).shape == (2, 0)


def test_randint_refuses_bad_arguments():
    with pytest.raises(TypeError, match=r"randint\(high, size\)"):
        mg.randint(5)
    with pytest.raises(ValueError, match=r"randint: high \(2\) must be greater than low \(2\)"):
        mg.randint(2, 2, (3,))
    with pytest.raises(TypeError, match="randint: size must be a tuple"):
        mg.randint(0, 5, 3)
    with pytest.raises(TypeError, match="only floating tensors can require grad"):
        mg.randint(0, 5, (3,), requires_grad=True)


def test_empty_has_torch_shape_dtype_and_grad(engine_backend):
    for size in ((2, 3), ((2, 3),), ((),), (0,)):
        ours, theirs = mg.empty(*size), torch.empty(*size)
        assert ours.shape == tuple(theirs.shape) and ours.backend == engine_backend
        same_dtype(ours, theirs)
    x = mg.empty(4, dtype=mg.float64, requires_grad=True)
    assert x.requires_grad and x.dtype == np.float64 and x.is_leaf
    with pytest.raises(ValueError, match="empty: size must be non-negative ints"):
        mg.empty(2, -1)


@pytest.mark.parametrize("fill", [2.5, 3, True])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_full_like_keeps_the_tensors_dtype_as_torch(engine_backend, fill, dtype):
    base = np.arange(6, dtype=dtype).reshape(2, 3)
    ours = mg.full_like(mg.tensor(base), fill)
    theirs = torch.full_like(torch.tensor(base), fill)
    assert ours.backend == engine_backend
    same_dtype(ours, theirs)
    np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert mg.full_like(mg.tensor(base), 1, dtype=mg.float64).dtype == np.float64


@pytest.mark.parametrize("factory", [mg.randn_like, mg.rand_like])
def test_random_likes_follow_the_tensor(engine_backend, factory):
    base = mg.zeros(300, 4, dtype=mg.float64)
    mg.manual_seed(1)
    a = factory(base)
    assert a.shape == (300, 4) and a.dtype == np.float64 and a.backend == engine_backend
    assert factory(base, dtype=mg.float32).dtype == np.float32
    assert factory(base, requires_grad=True).requires_grad
    values = a.numpy()
    if factory is mg.rand_like:
        assert 0.0 <= values.min() and values.max() < 1.0
    else:
        assert abs(values.mean()) < 0.1 and 0.9 < values.std() < 1.1
    mg.manual_seed(1)
    np.testing.assert_array_equal(factory(base).numpy(), values)
    with pytest.raises(TypeError, match=f"{factory.__name__}: dtype must be floating"):
        factory(mg.tensor(np.arange(3)))


def test_zeros_and_ones_like_keep_dtype_and_backend(engine_backend):
    base = mg.tensor(np.arange(6, dtype=np.int32).reshape(3, 2))
    for ours, theirs in ((mg.zeros_like, torch.zeros_like), (mg.ones_like, torch.ones_like)):
        got, expected = ours(base), theirs(torch.tensor(base.numpy()))
        same_dtype(got, expected)
        assert got.backend == engine_backend
        np.testing.assert_array_equal(got.numpy(), expected.numpy())


# --------------------------------------------------------------------------- t.to

def test_tensor_to_backend_and_dtype(engine_backend):
    x = mg.tensor(np.array([1.0, 2.0, 3.0], np.float32), requires_grad=True, backend="numpy")
    y = x.to(engine_backend, mg.float64)
    assert y.backend == engine_backend and y.dtype == np.float64
    (y * y).sum().backward()
    assert x.grad.dtype == np.float32 and x.grad.backend == "numpy"
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0, 6.0])
    z = x.to(dtype=mg.float64, device=engine_backend)
    assert z.backend == engine_backend and z.dtype == np.float64
    other = mg.tensor(np.zeros(2, np.float64), backend=engine_backend)
    w = x.to(other)                                  # PyTorch's x.to(other)
    assert w.backend == engine_backend and w.dtype == np.float64


def test_tensor_to_returns_itself_unless_asked_to_copy():
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    assert x.to("numpy") is x and x.to(mg.float32) is x and x.to(x) is x
    copied = x.to("cpu", copy=True)
    assert copied is not x and copied.data is not x.data
    (copied * 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.to("cuda"), TypeError, r"to: expected a backend name .* got 'cuda'"),
    (lambda x: x.to(device="tpu"), ValueError, "to: unknown backend 'tpu'"),
    (lambda x: x.to(mg.float64, mg.float32), TypeError, "to: more than one dtype"),
    (lambda x: x.to("numpy", "cupy"), TypeError, "to: more than one backend"),
    (lambda x: x.to(backend="numpy", device="cpu"), TypeError, "both backend= and device="),
])
def test_tensor_to_refuses_unclear_targets(call, error, message):
    with pytest.raises(error, match=message):
        call(mg.tensor([1.0]))


# --------------------------------------------------------------------------- module.to

def test_module_to_dtype_casts_in_place_keeping_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Linear(4, 2))
    parameters = model.parameters()
    model(mg.randn(5, 3)).sum().backward()
    assert model.double() is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in parameters]
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in parameters)
    assert model(mg.randn(5, 3, dtype=mg.float64)).dtype == np.float64
    assert model.float() is model and all(p.dtype == np.float32 for p in parameters)
    assert model.to(mg.float64) is model and parameters[0].dtype == np.float64
    assert model.half() is model and parameters[0].dtype == np.float16
    assert model.to("numpy", dtype=mg.float32) is model and parameters[0].dtype == np.float32


def test_module_double_matches_torch_and_an_optimizer_keeps_training_it():
    ours = nn.Linear(3, 2)
    theirs = torch.nn.Linear(3, 2)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    ours.double()
    theirs.double()
    opt = mg.optim.SGD(ours.parameters(), lr=0.1)
    opt_t = torch.optim.SGD(theirs.parameters(), lr=0.1)
    x = np.random.default_rng(0).standard_normal((4, 3))
    for _ in range(3):
        opt.zero_grad()
        opt_t.zero_grad()
        (ours(mg.tensor(x)) ** 2).sum().backward()
        (theirs(torch.tensor(x)) ** 2).sum().backward()
        opt.step()
        opt_t.step()
    for name, value in ours.state_dict().items():
        assert value.dtype == np.float64
        np.testing.assert_allclose(value, theirs.state_dict()[name].numpy(), rtol=1e-12)


def test_module_to_refuses_integer_dtypes_and_unknown_targets():
    with pytest.raises(TypeError, match="Linear.to: the dtype must be floating"):
        nn.Linear(2, 2).to(mg.int64)
    with pytest.raises(TypeError, match="Linear.to: expected a backend name"):
        nn.Linear(2, 2).to("cuda")
