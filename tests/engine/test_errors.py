"""Every error a user can hit says which op failed and with what; on NumPy and on the
device stand-in."""
import re
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import Tensor, record

pytestmark = pytest.mark.usefixtures("engine_backend")


def raises(error, text):
    """``pytest.raises`` matching ``text`` literally."""
    return pytest.raises(error, match=re.escape(text))


def test_matmul_shape_mismatch_message_is_exact():
    with pytest.raises(ValueError) as error:
        mg.randn(3, 4) @ mg.randn(5, 2)
    assert str(error.value) == "matmul: shapes (3, 4) and (5, 2) do not align"
    with raises(ValueError, "matmul: shapes (2, 3, 4) and (3,) do not align"):
        mg.matmul(mg.randn(2, 3, 4), mg.randn(3))


def test_matmul_of_scalars_is_refused():
    with raises(ValueError, "matmul: both operands need at least one dimension"):
        mg.tensor(2.0) @ mg.randn(2)


@pytest.mark.parametrize("name, op", [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / b), ("pow", lambda a, b: a ** b),
    ("maximum", mg.maximum), ("minimum", mg.minimum), ("lt", lambda a, b: a < b),
    ("eq", lambda a, b: a == b),
])
def test_broadcast_failures_name_the_op_and_both_shapes(name, op):
    with raises(ValueError, f"{name}: shapes (2, 3) and (4,) do not broadcast"):
        op(mg.randn(2, 3), mg.randn(4))


def test_reflected_broadcast_failure_keeps_the_order():
    with raises(ValueError, "sub: shapes (4,) and (2, 3) do not broadcast"):
        np.ones(4) - mg.randn(2, 3)


def test_where_broadcast_failure():
    with raises(ValueError, "where: shapes (2,), (3,) and (4,) do not broadcast"):
        mg.where(np.array([True, False]), mg.randn(3), mg.randn(4))


@pytest.mark.parametrize("call, message", [
    (lambda x: x.reshape(4, 4), "reshape: cannot reshape (2, 3) (6 elements) into (4, 4)"),
    (lambda x: x.transpose(0, 0), "transpose: axes (0, 0) are not a permutation of 2 axes"),
    (lambda x: x.transpose(1, 0, 2), "transpose: axes (1, 0, 2) are not a permutation"),
    (lambda x: x.squeeze(1), "squeeze: axis 1 of shape (2, 3) has length 3, not 1"),
    (lambda x: x.squeeze(5), "squeeze: axis 5 is out of range"),
    (lambda x: x.unsqueeze(4), "unsqueeze: axis 4 is out of range for 3 dimensions"),
    (lambda x: x.broadcast_to(4, 3, 2), "broadcast_to: shape (2, 3) cannot broadcast to "
                                        "(4, 3, 2)"),
    (lambda x: mg.split(x, 4, axis=1), "split: 3 elements along axis 1 do not divide "
                                       "into 4 equal sections"),
    (lambda x: mg.split(x, 2, axis=2), "split: axis 2 is out of range for shape (2, 3)"),
    (lambda x: mg.unbind(x, axis=-3), "unbind: axis -3 is out of range for shape (2, 3)"),
    (lambda x: x.chunk(0), "chunk: chunks must be positive, got 0"),
    (lambda x: x.chunk(2, axis=-3), "chunk: axis -3 is out of range for shape (2, 3)"),
    (lambda x: mg.concat([x, mg.randn(3, 3)], axis=1), "concat: shapes [(2, 3), (3, 3)] "
                                                       "do not join along axis 1"),
    (lambda x: mg.concat([]), "concat: needs at least one tensor"),
    (lambda x: mg.stack([x, mg.randn(3, 2)]), "stack: shapes [(2, 3), (3, 2)] differ"),
    (lambda x: x.sum(axis=2), "sum: axis 2 is out of range for a tensor of 2 dimensions"),
    (lambda x: x.mean(axis=(0, -2)), "mean: repeated axis in (0, -2)"),
    (lambda x: x.max(axis=-3), "max: axis -3 is out of range"),
    (lambda x: mg.softmax(x, axis=2), "softmax: axis 2 is out of range"),
    (lambda x: mg.zeros(0, 3).max(), "max: zero-size tensor of shape (0, 3) has no maximum"),
], ids=["reshape", "transpose-repeat", "transpose-length", "squeeze-length", "squeeze-axis",
        "unsqueeze", "broadcast_to", "split-sections", "split-axis", "unbind-axis", "chunk-count",
        "chunk-axis", "concat-shapes", "concat-empty", "stack", "sum-axis", "mean-repeat",
        "max-axis", "softmax-axis", "max-empty"])
def test_shape_errors_name_the_op(call, message):
    with raises(ValueError, message):
        call(mg.randn(2, 3))


def test_indexing_errors_name_the_op_and_the_shape():
    x = mg.randn(2, 3)
    with raises(IndexError, "getitem: "):
        x[5]
    with pytest.raises(IndexError, match=r"getitem: .*\(tensor of shape \(2, 3\)\)"):
        x[0, 7]
    with raises(IndexError, "getitem: index arrays must be integer or bool, not float"):
        x[mg.tensor([0.0, 1.0])]


@pytest.mark.parametrize("make", [
    lambda: mg.tensor([1, 2], requires_grad=True),
    lambda: mg.arange(3, requires_grad=True),
    lambda: mg.zeros(2, dtype=mg.int64, requires_grad=True),
])
def test_requires_grad_on_an_integer_tensor_names_the_dtype(make):
    with raises(TypeError, "only floating tensors can require grad; got dtype int64"):
        make()


def test_backward_errors():
    x = mg.randn(3, requires_grad=True)
    with raises(RuntimeError, "backward: a scalar output or `grad` is needed; got an output "
                              "of shape (3,) without `grad`"):
        (x * 2).backward()
    with raises(ValueError, "backward: grad of shape (2,) does not match the output's "
                            "shape (3,)"):
        (x * 2).backward(mg.ones(2))


def test_gradcheck_refuses_float32_inputs():
    with raises(TypeError, "gradcheck: input 0 is float32; finite differences need float64"):
        mg.gradcheck(lambda t: t * 2, [mg.randn(3, requires_grad=True)])


def _wrong_square(x):
    """x ** 2 with a deliberately wrong backward (3x instead of 2x)."""
    def backward(grad):
        return (grad * x * 3.0,)
    return record(x.data * x.data, (x,), backward, "wrong_square")


def _nan_gradient_square(x):
    """x ** 2 whose backward gives NaN at the first element."""
    def backward(grad):
        scale = x.xp.ones(x.shape)
        scale.reshape(-1)[0] = np.nan
        return (grad * x * 2.0 * Tensor(scale),)
    return record(x.data * x.data, (x,), backward, "nan_square")


def test_gradcheck_fails_on_nan():
    """A NaN gradient, or a function that is NaN (no finite differences), is a failure:
    NaN compares false, so it must not slip past the tolerance test."""
    x = mg.tensor(np.array([0.5, 2.0]), requires_grad=True)
    with pytest.raises(mg.GradcheckError, match=r"worst element \(0,\): engine nan"):
        mg.gradcheck(_nan_gradient_square, [x])
    with pytest.raises(mg.GradcheckError, match="finite differences nan"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mg.gradcheck(lambda t: mg.sqrt(t - 1.0), [x])    # NaN at 0.5


def test_gradcheck_names_the_input_and_the_worst_element():
    good = mg.tensor(np.array([0.5, -1.0]), requires_grad=True, name="good")
    bad = mg.tensor(np.array([[0.1, 0.2], [4.0, 0.3]]), requires_grad=True, name="weights")
    with pytest.raises(mg.GradcheckError) as error:
        mg.gradcheck(lambda a, b: a.sum() * _wrong_square(b), [good, bad])
    message = str(error.value)
    assert "input 1 ('weights')" in message
    assert "of shape (2, 2)" in message
    assert "worst element (1, 0)" in message          # |3x - 2x| is largest at x = 4
    assert "good" not in message
    assert isinstance(error.value, AssertionError)


def test_gradcheck_passes_a_correct_custom_op():
    def square(x):
        def backward(grad):
            return (grad * x * 2.0,)
        return record(x.data * x.data, (x,), backward, "square")
    assert mg.gradcheck(square, [mg.tensor(np.array([0.1, -2.0, 3.0]), requires_grad=True)])


def test_where_takes_numbers_or_tensors():
    with raises(TypeError, "where: a and b must be tensors or numbers; got str and float"):
        mg.where(np.array([True]), "1", 2.0)


@pytest.mark.parametrize("outputs, inputs, where", [
    ([5], None, r"outputs\[0\] is int"),
    (None, [5], r"inputs\[0\] is int"),
    (None, ["x", None], r"inputs\[0\] is str"),
])
def test_grad_names_an_argument_that_is_not_a_tensor(outputs, inputs, where):
    x = mg.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    with pytest.raises(TypeError, match="grad: " + where + ", expected a Tensor"):
        mg.grad(y if outputs is None else outputs, x if inputs is None else inputs)


@pytest.mark.parametrize("call, op", [
    (lambda x: x.sum(axis=0, dim=0), "sum"),
    (lambda x: x.mean(keepdims=True, keepdim=True), "mean"),
    (lambda x: mg.softmax(x, axis=0, dim=1), "softmax"),
    (lambda x: mg.cat([x, x], axis=0, dim=0), "concat"),
    (lambda x: x.unsqueeze(axis=0, dim=0), "unsqueeze"),
])
def test_both_spellings_of_an_argument_refused(call, op):
    with raises(TypeError, f"{op}: got both"):
        call(mg.zeros(2, 3))


def test_torch_spellings_errors_name_the_op():
    x = mg.zeros(2, 3)
    with raises(ValueError, "permute: dims (1,) must name each of the 2 axes"):
        x.permute(1)
    with raises(ValueError, "expand: size -1 at position 0"):
        x.expand(-1, 2, 3)
    with raises(ValueError, "expand: 1 sizes"):
        x.expand(3)
    with raises(ValueError, "broadcast_to: shape (2, 3) cannot broadcast to (2, 4)"):
        x.expand(2, 4)
    with raises(ValueError, "flatten: start_dim 1 comes after end_dim 0"):
        x.flatten(1, 0)
    with raises(IndexError, "size: dim 2 is out of range"):
        x.size(2)
    with raises(TypeError, "requires_grad_: only floating tensors"):
        mg.tensor([1, 2]).requires_grad_()
    with raises(RuntimeError, "use x.detach()"):
        (mg.zeros(2, requires_grad=True) * 2.0).requires_grad_(False)
    with raises(TypeError, "from_numpy: expected a numpy.ndarray, got list"):
        mg.from_numpy([1.0])
    with raises(TypeError, "to: more than one dtype"):
        x.to(mg.float32, mg.float64)


def test_transpose_of_two_axes_points_to_swapaxes():
    with raises(ValueError, "transpose takes a permutation of all axes (NumPy); to swap two "
                            "axes as torch.transpose does, use x.swapaxes(1, 2) or "
                            "x.permute(...)"):
        mg.zeros(2, 3, 4).transpose(1, 2)


def test_transpose_axis_out_of_range_refused():
    # it used to wrap around: transpose(3, 2) on a 2-D tensor was transpose(1, 0)
    with pytest.raises(IndexError, match="transpose: axis 3 is out of range"):
        mg.zeros(2, 3).transpose(3, 2)
    with pytest.raises(ValueError, match="swapaxes: axis -3 is out of range"):
        mg.zeros(2, 3).swapaxes(-3, 0)


def test_split_at_decreasing_cuts_refused():
    # NumPy returns pieces for these; their gradient had the wrong shape
    with raises(ValueError, "split: cut indices [5, 2] along axis 0 must not decrease"):
        mg.split(mg.zeros(8), [5, 2])
    with raises(ValueError, "x.chunk(n)"):
        mg.split(mg.zeros(2, 8), [6, -4], axis=1)
