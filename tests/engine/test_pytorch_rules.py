"""PyTorch's dtype rules and edge values for arithmetic (issue 14, items 3-4): every case
is computed by minigrad and by torch and compared, dtypes as well as values."""
import itertools
import math
import warnings

import numpy as np
import pytest

import minigrad as mg

torch = pytest.importorskip("torch")

DTYPES = ["bool", "int32", "int64", "float16", "float32", "float64"]


def _pair(dtype, zero_dim):
    values = np.array(1 if zero_dim else [1, 2, 3]).astype(dtype)
    return mg.tensor(values), torch.from_numpy(np.array(values))


def _dtype_name(t):
    return str(t.dtype).replace("torch.", "")


BINARY = {
    "add": lambda a, b: a + b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "lt": lambda a, b: a < b,
}


@pytest.mark.parametrize("op", sorted(BINARY))
@pytest.mark.parametrize("left_zero_dim, right_zero_dim", [(False, False), (False, True),
                                                          (True, False), (True, True)])
def test_tensor_with_tensor_dtypes_are_pytorchs(op, left_zero_dim, right_zero_dim):
    f = BINARY[op]
    for left, right in itertools.product(DTYPES, DTYPES):
        if op in ("add", "mul") and left == right == "bool":
            continue                       # torch: bool + bool is a logical or
        a, ta = _pair(left, left_zero_dim)
        b, tb = _pair(right, right_zero_dim)
        expected = _dtype_name(f(ta, tb))
        assert str(f(a, b).dtype) == expected, (op, left, right)


@pytest.mark.parametrize("number", [2, 0.5, True])
@pytest.mark.parametrize("op", ["add", "mul", "div"])
def test_python_numbers_are_weak(number, op):
    f = BINARY[op]
    for dtype in DTYPES:
        if dtype == "bool" and isinstance(number, bool) and op != "div":
            continue
        a, ta = _pair(dtype, False)
        assert str(f(a, number).dtype) == _dtype_name(f(ta, number)), (dtype, number)
        assert str(f(number, a).dtype) == _dtype_name(f(number, ta)), (dtype, number)


def test_integers_in_float_arithmetic_give_the_default_float():
    assert (mg.arange(4) * 0.5).dtype == mg.float32
    assert (mg.tensor([5, 6]) / mg.tensor([2, 4])).dtype == mg.float32
    np.testing.assert_allclose((mg.tensor([5, 6]) / mg.tensor([2, 4])).numpy(), [2.5, 1.5])
    assert (mg.arange(4) / 2).dtype == mg.float32
    for op in ("exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid"):
        result = getattr(mg, op)(mg.tensor([1, 2]))
        assert result.dtype == mg.float32, op
        expected = getattr(torch, op)(torch.tensor([1, 2]))
        np.testing.assert_allclose(result.numpy(), expected.numpy(), rtol=1e-6)


def test_a_gradient_has_its_leafs_dtype():
    a = mg.tensor([1.0, 2.0], requires_grad=True)
    b = mg.tensor([3.0, 4.0], dtype=mg.float64, requires_grad=True)
    product = a * b
    assert product.dtype == mg.float64
    (product * np.float64(2.0)).sum().backward()
    assert a.grad.dtype == mg.float32 and b.grad.dtype == mg.float64
    np.testing.assert_allclose(a.grad.numpy(), [6.0, 8.0])
    # a float64 0-d tensor does not widen float32, and its own gradient stays float64
    scale = mg.tensor(2.0, dtype=mg.float64, requires_grad=True)
    out = a * scale
    assert out.dtype == mg.float32
    out.sum().backward()
    assert scale.grad.dtype == mg.float64 and float(scale.grad.numpy()) == 3.0


def _pow_gradients(lib, base, exponent):
    x = lib.tensor(base, requires_grad=True)
    y = lib.tensor(exponent, requires_grad=True)
    (x ** y).sum().backward()
    return x.grad.numpy(), y.grad.numpy()


def test_pow_gradients_at_zero_match_pytorch():
    base, exponent = [0.0, 0.0, 0.0, 1.0, 2.0, -1.5], [0.0, -1.0, 2.0, 2.0, 0.5, 2.0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ours = _pow_gradients(mg, base, exponent)
    theirs = _pow_gradients(torch, base, exponent)
    for mine, expected in zip(ours, theirs):
        np.testing.assert_allclose(mine, expected, rtol=1e-6)


@pytest.mark.parametrize("base", [0.0, 0, -2.0, 3.0])
def test_pow_with_a_number_base_matches_pytorch(base):
    exponent = [0.0, 1.0, 2.5, -1.0]
    e = mg.tensor(exponent, requires_grad=True)
    te = torch.tensor(exponent, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        (base ** e).sum().backward()
    (base ** te).sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), te.grad.numpy(), rtol=1e-6)


def test_pow_zero_exponent_gives_zero_base_gradient():
    x = mg.tensor([0.0, 1.0, -2.0], requires_grad=True)
    (x ** 0.0).sum().backward()
    assert x.grad.numpy().tolist() == [0.0, 0.0, 0.0]
    second, = mg.grad((x ** 2).sum(), x, create_graph=True)
    assert second.numpy().tolist() == [0.0, 2.0, -4.0]


def test_integers_to_negative_integer_powers_are_refused():
    with pytest.raises(ValueError, match="pow: integers to negative integer powers"):
        mg.tensor([2, 3]) ** -2
    with pytest.raises(ValueError, match="pow: integers to negative integer powers"):
        mg.tensor([2, 3]) ** mg.tensor([1, -1])
    assert (mg.tensor([2, 3]) ** 2).numpy().tolist() == [4, 9]
    assert (mg.tensor([2, 3]) ** -2.0).dtype == mg.float32


def test_a_value_error_that_is_not_about_shapes_keeps_its_reason():
    with pytest.raises(ValueError, match="add: shapes \\(2,\\) and \\(3,\\) do not broadcast"):
        mg.ones(2) + mg.ones(3)
    with pytest.raises(ValueError, match="comparison \\(gt\\): the tensor's shape \\(2,\\) "
                                         "and the list's shape \\(3,\\)"):
        [1, 2, 3] < mg.ones(2)


def test_sigmoid_is_accurate_in_its_tails():
    x = np.linspace(-80, 80, 4001, dtype=np.float32)
    ours = mg.sigmoid(mg.tensor(x)).numpy()
    theirs = torch.sigmoid(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(ours, theirs, rtol=2e-6)
    v = mg.tensor([-20.0, -40.0], requires_grad=True)
    out = mg.log(mg.sigmoid(v))
    np.testing.assert_allclose(out.numpy(), [-20.0, -40.0], rtol=1e-6)
    out.sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), [1.0, 1.0], rtol=1e-6)


def test_where_of_two_numbers():
    condition = mg.tensor([True, False])
    assert mg.where(condition, 1.0, 3.0).dtype == mg.float32
    assert mg.where(condition, 1.0, 3.0).numpy().tolist() == [1.0, 3.0]
    assert mg.where(condition, 1, 3).dtype == mg.int64
    assert mg.where(condition, mg.tensor([1, 2]), 0.5).dtype == mg.float32


@pytest.mark.parametrize("data", [None, "abc", [1, None]])
def test_tensor_refuses_what_is_not_numbers(data):
    with pytest.raises(TypeError, match="tensor: cannot hold"):
        mg.tensor(data)
    with pytest.raises(ValueError, match="tensor: nested lists of unequal lengths"):
        mg.tensor([[1], [2, 3]])


def test_empty_inner_dimension_matmul_gives_zeros():
    a = mg.ones(2, 3, 0, requires_grad=True)
    b = mg.ones(0, 4, requires_grad=True)
    out = a @ b
    expected = torch.ones(2, 3, 0) @ torch.ones(0, 4)
    assert out.shape == tuple(expected.shape)
    assert not out.numpy().any()
    out.sum().backward()
    assert a.grad.shape == (2, 3, 0) and b.grad.shape == (0, 4)


def test_parameter_updates_in_place_under_no_grad():
    torch_p = torch.tensor([1.0, -2.0], requires_grad=True)
    p = mg.tensor([1.0, -2.0], requires_grad=True)
    for _ in range(3):
        for lib, param in ((mg, p), (torch, torch_p)):
            (param * param * 3.0).sum().backward()
            with lib.no_grad():
                for q in [param]:
                    q -= 0.1 * q.grad
                    q *= 0.5
            param.grad.zero_()
    assert p.is_leaf and p.requires_grad
    np.testing.assert_allclose(p.numpy(), torch_p.detach().numpy(), rtol=1e-6)


def test_in_place_update_rules():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad.*mg.no_grad"):
        p -= 1.0
    total = 0
    for _ in range(2):
        total += (p * p).sum()            # accumulating a loss, as PyTorch code does
    total.backward()
    assert p.grad.numpy().tolist() == [4.0, 8.0]
    buffer = mg.zeros(3)
    alias = buffer
    buffer += 1.0                          # no gradient involved: truly in place
    assert alias.numpy().tolist() == [1.0, 1.0, 1.0]
    counts = mg.tensor([1, 2])
    with pytest.raises(TypeError, match="float32 result cannot be written into x of dtype"):
        counts += 0.5
    with pytest.raises(ValueError, match="cannot broadcast x"):
        buffer += mg.ones(2, 3)
    assert math.isclose(float(buffer.fill_(2.5).sum().item()), 7.5)


def test_pytorchs_method_spellings():
    data = np.array([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])
    x, tx = mg.tensor(data), torch.from_numpy(data)
    for name, f in {"add": lambda v: v.add(v), "sub": lambda v: v.sub(v * 2),
                    "mul": lambda v: v.mul(v), "neg": lambda v: v.neg(),
                    "t": lambda v: v.t(), "t_1d": lambda v: v[0].t(),
                    "contiguous": lambda v: v.contiguous()}.items():
        np.testing.assert_array_equal(f(x).numpy(), f(tx).numpy(), err_msg=name)
    with pytest.raises(ValueError, match="t: expects a tensor of at most 2 dimensions"):
        mg.ones(2, 2, 2).t()


def test_in_place_methods_follow_pytorch():
    p = mg.tensor([1.0, 2.0], requires_grad=True)
    torch_p = torch.tensor([1.0, 2.0], requires_grad=True)
    for param in (p, torch_p):
        (param * param).sum().backward()
        with (mg if param is p else torch).no_grad():
            param.add_(param.grad, alpha=-0.25).mul_(2.0).sub_(1.0).div_(4.0)
    np.testing.assert_allclose(p.numpy(), torch_p.detach().numpy())
    with pytest.raises(RuntimeError, match="leaf tensor that requires grad"):
        p.add_(1.0)


METHODS = {
    "eq": lambda v, w: v.eq(w), "ne": lambda v, w: v.ne(w), "lt": lambda v, w: v.lt(w),
    "le": lambda v, w: v.le(w), "gt": lambda v, w: v.gt(0.5), "ge": lambda v, w: v.ge(w),
    "maximum": lambda v, w: v.maximum(w), "minimum": lambda v, w: v.minimum(w),
    "clamp_min": lambda v, w: v.clamp_min(0.0), "clamp_max": lambda v, w: v.clamp_max(0.5),
    "mm": lambda v, w: v.mm(w.t()), "bmm": lambda v, w: v[None].bmm(w.t()[None]),
    "dot": lambda v, w: v[0].dot(w[1]), "outer": lambda v, w: v[0].outer(w[:, 1]),
    "expand_as": lambda v, w: v[:1].expand_as(w), "view_as": lambda v, w: v.view_as(w.t()),
    "reshape_as": lambda v, w: v.reshape_as(w.t()), "type_as": lambda v, w: v.type_as(w),
    "narrow": lambda v, w: v.narrow(1, 1, 2), "narrow_negative": lambda v, w: v.narrow(-1, -2, 1),
    "select": lambda v, w: v.select(1, 2), "movedim": lambda v, w: v[None].movedim(0, -1),
    "moveaxis": lambda v, w: v[None].moveaxis(-1, 0), "negative": lambda v, w: v.negative(),
    "absolute": lambda v, w: v.absolute(),
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_more_pytorch_method_spellings(name):
    data = np.array([[0.5, -1.0, 2.0], [3.0, 0.25, -0.5]])
    other = np.array([[0.5, 1.0, -2.0], [1.0, 0.25, 4.0]])
    f = METHODS[name]
    x, y = mg.tensor(data, requires_grad=True), mg.tensor(other)
    tx, ty = torch.tensor(data, requires_grad=True), torch.tensor(other)
    ours, theirs = f(x, y), f(tx, ty)
    assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == _dtype_name(theirs)
    np.testing.assert_array_equal(ours.numpy(), theirs.detach().numpy())
    if ours.requires_grad:
        ours.sum().backward()
        theirs.sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def test_new_factories_equality_and_copies():
    x = mg.tensor([[1.0, 2.0]], dtype=mg.float64)
    tx = torch.tensor([[1.0, 2.0]], dtype=torch.float64)
    for ours, theirs in ((x.new_zeros(2, 3), tx.new_zeros(2, 3)),
                         (x.new_ones((3,)), tx.new_ones((3,))),
                         (x.new_full((2,), 7), tx.new_full((2,), 7)),
                         (x.new_tensor([1, 2]), tx.new_tensor([1, 2]))):
        assert ours.shape == tuple(theirs.shape) and str(ours.dtype) == _dtype_name(theirs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert x.equal(mg.tensor([[1.0, 2.0]], dtype=mg.float64)) and not x.equal(x * 2)
    assert x.is_floating_point() and not mg.tensor([1]).is_floating_point()
    assert x.nelement() == 2 and x.cpu().backend == "numpy"
    target = mg.zeros(2, 2)
    assert target.copy_(mg.tensor([1.0, 2.0])) is target
    assert target.numpy().tolist() == [[1.0, 2.0], [1.0, 2.0]]
    leaf = mg.zeros(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="copy_: x is a leaf tensor that requires grad"):
        leaf.copy_(mg.ones(2))
    with mg.no_grad():
        leaf.copy_(mg.ones(2))
    assert leaf.numpy().tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match=r"mm: expects two 2-D tensors"):
        mg.ones(3).mm(mg.ones(3))
    with pytest.raises(mg.AxisError, match="narrow: dim 2 is out of range"):
        x.narrow(2, 0, 1)
