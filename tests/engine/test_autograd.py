"""The tape and the backward sweep: higher-order gradients, long chains, accumulation,
graph freeing, mg.grad, grad modes, anomaly detection, scopes, seeding, and gradient
aliasing; on NumPy and on the device stand-in."""
import warnings

import numpy as np
import pytest

import minigrad as mg

pytestmark = pytest.mark.usefixtures("engine_backend")


def leaf(values, dtype=mg.float64):
    return mg.tensor(np.asarray(values, dtype=dtype), requires_grad=True)


def close(tensor, expected, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(tensor.numpy(), np.asarray(expected), rtol=rtol, atol=atol)


X = np.array([-1.3, -0.4, 0.2, 0.9, 1.7])


# --------------------------------------------------------------------------- higher order

@pytest.mark.parametrize("f, second", [
    (lambda x: x ** 3, lambda x: 6 * x),
    (mg.tanh, lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2)),
    (mg.sigmoid, lambda x: (s := 1 / (1 + np.exp(-x))) * (1 - s) * (1 - 2 * s)),
    (mg.exp, np.exp),
    (lambda x: 1 / x, lambda x: 2 / x ** 3),
], ids=["cube", "tanh", "sigmoid", "exp", "reciprocal"])
def test_second_derivative_by_backward_twice(f, second):
    x = leaf(X)
    f(x).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    x.grad = None
    first.sum().backward()
    close(x.grad, second(X), rtol=1e-9)


def test_second_derivative_with_mg_grad():
    x = leaf(X)
    (first,) = mg.grad((x ** 3).sum(), x, create_graph=True)
    close(first, 3 * X ** 2)
    (second,) = mg.grad(first.sum(), x)
    close(second, 6 * X)
    assert x.grad is None
    # and a plain backward through the recorded gradient
    (first,) = mg.grad((x ** 3).sum(), x, create_graph=True)
    (first * first).sum().backward()        # d/dx sum(9 x^4) = 36 x^3
    close(x.grad, 36 * X ** 3, rtol=1e-9)


@pytest.mark.parametrize("f", [
    lambda x: mg.softmax(x.reshape(2, 3)) * x.reshape(2, 3),
    lambda x: mg.log_softmax(x.reshape(3, 2), axis=0) ** 2,
    lambda x: mg.logsumexp(x.reshape(2, 3)) ** 2,
    lambda x: (x.reshape(2, 3) @ x.reshape(3, 2)) ** 2,
    lambda x: x.reshape(2, 3) @ x[:3].tanh(),
    lambda x: mg.sigmoid(x) * mg.tanh(x) * mg.exp(x),
    lambda x: mg.sqrt(x * x + 1.0) * mg.log(x * x + 1.0),
    lambda x: mg.where(x > 0, x ** 3, x * x) / (x * x + 2.0),
    lambda x: x.var() * x.mean() + x.max() * x,
    lambda x: x[[0, 0, 3]] ** 3,
    lambda x: mg.concat(x.chunk(3)[::-1]) ** 3,
    lambda x: mg.stack(mg.split(x, 2)) ** 3,
    lambda x: mg.maximum(x, 0.1) ** 3 + mg.minimum(x * x, x).abs() ** 2,
    lambda x: (x.reshape(1, 3, 2).broadcast_to(2, 3, 2) @ x.reshape(2, 3)) ** 2,
    lambda x: mg.stack(mg.unbind(x.reshape(2, 3), axis=1)[::-1]) ** 3,
    lambda x: x.broadcast_to(2, 6).sum(0) ** 3,
], ids=["softmax", "log_softmax", "logsumexp", "matmul", "matvec", "elementwise",
        "sqrt-log", "where", "reductions", "getitem", "concat-chunk", "stack-split",
        "max-min-abs", "rows-times-matrix", "unbind-stack", "broadcast"])
def test_gradients_of_gradients_gradcheck(f):
    """The recorded backward sweep (create_graph=True) is itself correct: gradcheck
    the gradient as a function of the input."""
    values = np.array([-1.3, -0.4, 0.3, 0.9, 1.7, 0.6])

    def gradient(x):
        with mg.enable_grad():      # gradcheck evaluates fn under no_grad
            (g,) = mg.grad(f(x).sum(), x, create_graph=True)
        return g
    assert mg.gradcheck(gradient, [leaf(values)])


# --------------------------------------------------------------------------- long chains

def test_a_chain_of_100000_ops_backward_without_recursion():
    x = mg.tensor(1.0, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.backward()                  # a recursive walk would pass Python's recursion limit
    assert x.grad.item() == 1.0


# --------------------------------------------------------------------------- accumulation

def test_leaf_gradients_accumulate_until_zeroed():
    x = leaf([1.0, 2.0])
    (x * 2).sum().backward()
    (x * 3).sum().backward()
    close(x.grad, [5.0, 5.0])
    x.grad = None
    (x * x).sum().backward()
    close(x.grad, [2.0, 4.0])


def test_a_tensor_used_several_times_sums_its_gradients():
    x = leaf([1.0, 2.0])
    y = x * x + x * 3 + x.exp() - x
    y.sum().backward()
    close(x.grad, 2 * np.array([1.0, 2.0]) + 2 + np.exp([1.0, 2.0]))


def test_retain_graph_allows_a_second_sweep():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, [4.0, 8.0])


def test_a_second_sweep_without_retain_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()
    x2 = leaf([1.0])
    z = (x2 * x2).sum()
    mg.grad(z, x2)
    with pytest.raises(RuntimeError, match="retain_graph"):
        mg.grad(z, x2)


# --------------------------------------------------------------------------- mg.grad

def test_grad_returns_one_gradient_per_input_without_touching_dot_grad():
    x, w, unused = leaf([1.0, 2.0]), leaf([3.0, -1.0]), leaf([[5.0]])
    y = (x * w).sum()
    gx, gw, gu = mg.grad(y, [x, w, unused])
    close(gx, [3.0, -1.0])
    close(gw, [1.0, 2.0])
    close(gu, [[0.0]])
    assert gu.shape == (1, 1) and gu.dtype == mg.float64
    assert x.grad is None and w.grad is None and unused.grad is None


def test_grad_of_a_non_leaf_input():
    x = leaf([1.0, 2.0])
    h = x * 2
    y = (h * h).sum() + x.sum()
    (gh,) = mg.grad(y, h, retain_graph=True)
    close(gh, 2 * np.array([2.0, 4.0]))
    gx, gh2 = mg.grad(y, [x, h])
    close(gx, 8 * np.array([1.0, 2.0]) + 1)
    close(gh2, gh.numpy())


def test_grad_with_grad_outputs_for_a_non_scalar_output():
    x = leaf([1.0, 2.0, 3.0])
    (g,) = mg.grad(x * x, x, grad_outputs=mg.tensor(np.array([1.0, 0.0, 2.0])))
    close(g, [2.0, 0.0, 12.0])
    (g,) = mg.grad([x * 2, x.sum()], [x], grad_outputs=[np.ones(3), None])
    close(g, [3.0, 3.0, 3.0])


def test_grad_refuses_an_input_that_does_not_require_grad():
    x = leaf([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.grad((x * 2).sum(), mg.tensor([1.0]))


# --------------------------------------------------------------------------- grad modes

def test_no_grad_records_nothing():
    x = leaf([1.0, 2.0])
    assert mg.is_grad_enabled()
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2 + x.exp()
        assert not y.requires_grad and y.node is None and y.is_leaf
        with mg.enable_grad():
            assert mg.is_grad_enabled()
            assert (x * 2).requires_grad
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_is_restored_after_an_error():
    with pytest.raises(ValueError):
        with mg.no_grad():
            raise ValueError
    assert mg.is_grad_enabled()


def test_detach_cuts_the_graph_and_shares_the_data():
    x = leaf([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.node is None and d.is_leaf
    close(d, [3.0, 6.0])
    (d * x).sum().backward()
    close(x.grad, [3.0, 6.0])      # d is a constant: no x * 3 term flows back


def test_requires_grad_propagates():
    a = leaf([1.0])
    b = mg.tensor([2.0])
    assert a.is_leaf and a.requires_grad and not b.requires_grad
    assert (a * b).requires_grad and not (a * b).is_leaf
    assert not (b * b).requires_grad and (b * b).node is None
    assert (b + a.exp()).requires_grad
    assert not (a > b).requires_grad


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="int64"):
        mg.tensor([1, 2], requires_grad=True)
    with pytest.raises(TypeError, match="int"):
        mg.zeros(2, dtype=mg.int64, requires_grad=True)
    with pytest.raises(TypeError, match="bool"):
        mg.tensor([True], requires_grad=True)


def test_backward_of_a_non_scalar_needs_grad():
    x = leaf([1.0, 2.0])
    y = x * 2
    with pytest.raises(RuntimeError, match="scalar.*grad"):
        y.backward()
    y.backward(mg.tensor(np.array([1.0, -1.0])), retain_graph=True)
    close(x.grad, [2.0, -2.0])
    y.backward(np.array([1.0, 1.0]))           # a plain array as grad
    close(x.grad, [4.0, 0.0])


def test_backward_of_a_one_element_non_scalar():
    x = leaf([[2.0]])
    (x * x).backward()
    close(x.grad, [[4.0]])


def test_backward_refuses_a_tensor_without_a_graph():
    with pytest.raises(RuntimeError, match="does not require grad"):
        mg.tensor([1.0]).sum().backward()


# --------------------------------------------------------------------------- anomaly

def test_detect_anomaly_names_the_forward_op():
    x = leaf([-1.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with mg.detect_anomaly():
            with pytest.raises(FloatingPointError, match="forward of 'log'"):
                mg.log(x * 2)
        mg.log(x)                              # outside: NaN, no error


def test_detect_anomaly_names_the_backward_op():
    x = leaf([0.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with mg.detect_anomaly():
            y = (mg.sqrt(x) * 3).sum()         # sqrt(0) = 0 is fine forward
            with pytest.raises(FloatingPointError, match="backward of 'sqrt'"):
                y.backward()
        x.grad = None
        (mg.sqrt(x) * 3).sum().backward()      # outside: Inf, no error
    assert np.isinf(x.grad.numpy()[0])


def test_detect_anomaly_is_quiet_for_finite_values():
    x = leaf(X)
    with mg.detect_anomaly():
        (mg.softmax(x) * x.exp()).sum().backward()
    assert np.isfinite(x.grad.numpy()).all()


# --------------------------------------------------------------------------- scopes

def test_scopes_label_nodes_and_nest_with_slashes():
    x = leaf([1.0])
    with mg.scope("a"):
        outer = x * 2
        with mg.scope("b"):
            inner = outer.exp()
        after = inner + 1
    outside = after * 3
    assert outer.node.scope == "a"
    assert inner.node.scope == "a/b"
    assert after.node.scope == "a"
    assert outside.node.scope == ""


# --------------------------------------------------------------------------- seeding

def test_manual_seed_reproduces_random_tensors():
    mg.manual_seed(3)
    first = [mg.randn(4).numpy(), mg.rand(2, 2).numpy()]
    mg.manual_seed(3)
    second = [mg.randn(4).numpy(), mg.rand(2, 2).numpy()]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    mg.manual_seed(4)
    assert not np.array_equal(mg.randn(4).numpy(), first[0])


def test_manual_seed_reproduces_a_training_step():
    def step():
        mg.manual_seed(7)
        w = mg.randn(3, 2, requires_grad=True)
        x = mg.randn(5, 3)
        loss = mg.tanh(x @ w).var()
        loss.backward()
        return loss.item(), w.grad.numpy()
    loss_a, grad_a = step()
    loss_b, grad_b = step()
    assert loss_a == loss_b
    np.testing.assert_array_equal(grad_a, grad_b)


# --------------------------------------------------------------------------- split, chunk

def test_chunk_backward_when_only_some_pieces_are_used():
    x = leaf(np.arange(10.0))
    a, b, c, d = x.chunk(4)
    (b * 2).sum().backward()
    close(x.grad, [0, 0, 0, 2, 2, 2, 0, 0, 0, 0])


def test_split_backward_when_only_some_pieces_are_used():
    x = leaf(np.arange(6.0).reshape(2, 3))
    left, middle, right = mg.split(x, 3, axis=1)
    (right * right).sum().backward(retain_graph=True)
    close(x.grad, [[0, 0, 4], [0, 0, 10]])
    (g,) = mg.grad(left.sum() + right.sum(), x)
    close(g, [[1, 0, 1], [1, 0, 1]])


def test_unused_split_pieces_do_not_hold_the_graph():
    x = leaf(np.arange(4.0))
    pieces = mg.split(x, 2)
    pieces[0].sum().backward()
    close(x.grad, [1, 1, 0, 0])


# --------------------------------------------------------------------------- aliasing

def test_gradients_are_not_shared_between_leaves():
    x, y = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    (x + y).sum().backward()
    x.grad.data += 10
    close(y.grad, [1.0, 1.0])
    close(x.grad, [11.0, 11.0])


def test_the_seed_gradient_is_not_aliased():
    x = leaf([1.0, 2.0])
    seed = mg.tensor(np.array([1.0, 1.0]))
    x.backward(seed)
    x.grad.data *= 5
    close(seed, [1.0, 1.0])
    y = leaf([1.0])
    z = y * 1.0
    g = mg.tensor(np.array([2.0]))
    z.backward(g)
    y.grad.data += 1
    close(g, [2.0])


def test_accumulating_in_place_does_not_reach_a_previous_gradient():
    x = leaf([1.0, 2.0])
    (x * 1).sum().backward()
    first = x.grad
    kept = first.numpy().copy()
    (x * 1).sum().backward()
    assert x.grad is first                   # accumulated in place into x's own gradient
    close(x.grad, kept * 2)
    y = leaf([1.0, 2.0])
    (x + y).sum().backward()
    y.grad.data += 100
    close(x.grad, kept * 3)


def test_a_weight_shared_by_many_products_sums_them_in_one_product():
    # The sweep leaves each step's weight gradient a.T @ g pending and multiplies them out
    # together; mixed with an ordinary gradient of the same weight, the sum must be exact.
    rng = np.random.default_rng(3)
    weight = mg.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    inputs = [rng.standard_normal((n, 4)) for n in (2, 5, 1)]
    loss = sum(((mg.tensor(x) @ weight).tanh()).sum() for x in inputs) + (weight * weight).sum()
    loss.backward()
    expected = 2 * weight.numpy()
    for x in inputs:
        expected += x.T @ (1 - np.tanh(x @ weight.numpy()) ** 2)
    np.testing.assert_allclose(weight.grad.numpy(), expected, rtol=1e-12, atol=1e-12)
    (again,) = mg.grad(sum((mg.tensor(x) @ weight).sum() for x in inputs), weight)
    np.testing.assert_allclose(again.numpy(), sum(x.sum(0)[:, None].repeat(3, 1) for x in inputs))
