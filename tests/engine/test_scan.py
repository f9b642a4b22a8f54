"""mg.scan: a recurrence over a whole sequence recorded as one op.

The scan must give what the same loop gives op by op: the same outputs to the bit, the
same gradients (the weights' summed by one product instead of in groups, so to
rounding), gradients of gradients through a replay; and it must keep the caller's
arrays intact although it reuses its own memory.
"""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import minigrad as mg
from minigrad.fusion import unfold
from minigrad.tensor import record

pytestmark = pytest.mark.usefixtures("engine_backend")
FAST = settings(max_examples=10, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def leaf(array, requires_grad=True):
    return mg.tensor(np.asarray(array, dtype=np.float64), requires_grad=requires_grad)


@mg.fuse
def project(x, weight_t, bias):
    return x @ weight_t + bias


@mg.fuse
def lstm_step(gates, h, c, weight_t):
    i, f, g, o = (gates + h @ weight_t).chunk(4, axis=1)
    c = mg.sigmoid(f) * c + mg.sigmoid(i) * mg.tanh(g)
    return mg.sigmoid(o) * mg.tanh(c), c


def problem(steps=5, batch=2, size=3, hidden=4, seed=0, init_grad=True):
    rng = np.random.default_rng(seed)
    xs = leaf(rng.standard_normal((steps, batch, size)))
    init = (leaf(rng.standard_normal((batch, hidden)), init_grad),
            leaf(rng.standard_normal((batch, hidden)), init_grad))
    prepare_params = (leaf(rng.standard_normal((size, 4 * hidden)) * 0.5),
                      leaf(rng.standard_normal(4 * hidden) * 0.1))
    params = (leaf(rng.standard_normal((hidden, 4 * hidden)) * 0.5),)
    return xs, init, prepare_params, params


def run_lstm(xs, init, prepare_params, params, reverse=False):
    return mg.scan(lstm_step, init, xs, params, prepare=project,
                   prepare_params=prepare_params, reverse=reverse)


def outputs_and_grads(run, tensors):
    for t in tensors:
        t.grad = None
    (hs, cs), (h, c) = run()
    loss = (hs * hs).sum() + (cs * 0.5).sum() + (h * c).sum()
    loss.backward()
    return [a.numpy() for a in (hs, cs, h, c)], \
        [t.grad.numpy() if t.grad is not None else None for t in tensors]


def assert_same_as_op_by_op(run, tensors, rtol=1e-12):
    (outputs, grads) = outputs_and_grads(run, tensors)
    with mg.unfused():
        (expected_outputs, expected_grads) = outputs_and_grads(run, tensors)
    for a, b in zip(outputs, expected_outputs):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(grads, expected_grads):
        if b is None:
            assert a is None
        else:
            np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-13)


@pytest.mark.parametrize("reverse", [False, True])
def test_scan_equals_the_loop_op_by_op(reverse):
    xs, init, prepare_params, params = problem()
    tensors = [xs, *init, *prepare_params, *params]
    assert_same_as_op_by_op(lambda: run_lstm(xs, init, prepare_params, params, reverse),
                            tensors)


def test_the_whole_sequence_is_one_node():
    xs, init, prepare_params, params = problem(steps=7)
    (hs, cs), (h, c) = run_lstm(xs, init, prepare_params, params)
    assert hs.node is cs.node is h.node is c.node and hs.node.op == "scan"
    assert hs.shape == (7, 2, 4) and h.shape == (2, 4)
    np.testing.assert_array_equal(hs.numpy()[-1], h.numpy())
    np.testing.assert_array_equal(cs.numpy()[-1], c.numpy())
    # the final state is a copy: keeping it does not keep the history
    assert not np.shares_memory(np.asarray(mg.tensor(h.numpy())), hs.numpy())


@FAST
@given(st.integers(1, 4), st.integers(1, 3), st.booleans(), st.integers(0, 2**16))
def test_gradcheck_over_every_input(steps, batch, reverse, seed):
    xs, init, prepare_params, params = problem(steps, batch, size=2, hidden=2, seed=seed)

    def fn(xs, h0, c0, weight_ih_t, bias, weight_hh_t):
        return run_lstm(xs, (h0, c0), (weight_ih_t, bias), (weight_hh_t,), reverse)[0]
    assert mg.gradcheck(fn, [xs, *init, *prepare_params, *params])


def test_without_prepare_the_sequence_is_read_as_given():
    xs, init, prepare_params, params = problem()
    gates = leaf(np.random.default_rng(1).standard_normal((5, 2, 16)))
    before = gates.numpy().copy()
    tensors = [gates, *init, *params]
    assert_same_as_op_by_op(lambda: mg.scan(lstm_step, init, gates, params), tensors)
    np.testing.assert_array_equal(gates.numpy(), before)


def test_a_prepare_returning_a_view_of_its_input_leaves_the_input_alone():
    xs, init, _, params = problem()
    gates = leaf(np.random.default_rng(2).standard_normal((5, 32)))
    before = gates.numpy().copy()

    @mg.fuse
    def steps_of(x):
        return x.reshape(5, 2, 16)
    run = lambda: mg.scan(lstm_step, init, gates, params, prepare=steps_of)  # noqa: E731
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # fused: the view is copied, not refused
        assert_same_as_op_by_op(run, [gates, *init, *params])
    np.testing.assert_array_equal(gates.numpy(), before)


@mg.fuse
def reads_its_input(x, h, weight):
    # the backward reads x itself, so the sequence's memory cannot hold the saved
    # temporaries (the tanh and the sigmoid, each the size of x)
    return mg.tanh(x * h) * mg.sigmoid(h @ weight)


def test_a_step_whose_backward_reads_its_input():
    rng = np.random.default_rng(3)
    xs, h0, weight = leaf(rng.standard_normal((6, 2, 3))), leaf(rng.standard_normal((2, 3))), \
        leaf(rng.standard_normal((3, 3)))
    bias = leaf(rng.standard_normal(3))

    @mg.fuse
    def shift(x, bias):
        return x + bias

    def run():
        hs, h = mg.scan(reads_its_input, h0, xs, (weight,), prepare=shift,
                        prepare_params=(bias,))
        return (hs, hs), (h, h)
    assert_same_as_op_by_op(run, [xs, h0, weight, bias])


def test_only_what_needs_a_gradient_gets_one():
    xs, init, prepare_params, params = problem(init_grad=False)
    xs.requires_grad = False
    tensors = [xs, *init, *prepare_params, *params]
    _, grads = outputs_and_grads(lambda: run_lstm(xs, init, prepare_params, params), tensors)
    assert grads[:3] == [None, None, None] and all(g is not None for g in grads[3:])
    assert_same_as_op_by_op(lambda: run_lstm(xs, init, prepare_params, params), tensors)


def test_nothing_is_recorded_without_grad():
    xs, init, prepare_params, params = problem()
    with mg.no_grad():
        (hs, cs), _ = run_lstm(xs, init, prepare_params, params)
    assert hs.node is None and not hs.requires_grad
    with mg.unfused(), mg.no_grad():
        (expected, _), _ = run_lstm(xs, init, prepare_params, params)
    np.testing.assert_array_equal(hs.numpy(), expected.numpy())


def test_retain_graph_sweeps_twice_with_the_same_result():
    xs, init, prepare_params, params = problem()
    tensors = [xs, *init, *prepare_params, *params]
    (hs, _), _ = run_lstm(xs, init, prepare_params, params)
    loss = (hs * hs).sum()
    first = mg.grad(loss, tensors, retain_graph=True)
    second = mg.grad(loss, tensors)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    with pytest.raises(RuntimeError):
        mg.grad(loss, tensors)


def test_gradients_of_gradients_go_through_a_replay():
    xs, init, prepare_params, params = problem(steps=3)
    tensors = [xs, *init, *prepare_params, *params]

    def second():
        (hs, _), _ = run_lstm(xs, init, prepare_params, params)
        first = mg.grad((hs * hs).sum(), tensors, create_graph=True)
        return mg.grad(sum((g * g).sum() for g in first), tensors)
    got = second()
    with mg.unfused():
        expected = second()
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)


def test_one_tensor_in_two_places():
    # the initial h is also the recurrent weight's stand-in: square, so it fits both
    rng = np.random.default_rng(4)
    xs, shared = leaf(rng.standard_normal((4, 3, 3))), leaf(rng.standard_normal((3, 3)))

    @mg.fuse
    def step(x, h, weight):
        return mg.tanh(x + h @ weight)

    def run():
        hs, h = mg.scan(step, shared, xs, (shared,))
        return (hs, hs), (h, h)
    assert_same_as_op_by_op(run, [xs, shared])

    def second():
        hs, _ = mg.scan(step, shared, xs, (shared,))
        (g,) = mg.grad((hs * hs).sum(), shared, create_graph=True)
        return mg.grad((g * g).sum(), shared)[0].numpy()
    got = second()
    with mg.unfused():
        expected = second()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_what_cannot_be_fused_runs_op_by_op_with_one_warning():
    def clipped(x, h):
        # an extension op that records no kernel cannot be fused
        halved = record(h.data * 0.5, (h,), lambda grad: (grad * 0.5,), "halved")
        return mg.where(x > 0, halved + x, halved)
    xs, h0 = leaf(np.linspace(-1, 1, 12).reshape(4, 3)), leaf(np.ones(3))
    with pytest.warns(RuntimeWarning, match="clipped runs op by op"):
        hs, h = mg.scan(clipped, h0, xs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mg.scan(clipped, h0, xs)
    with mg.unfused():
        expected, _ = mg.scan(clipped, h0, xs)
    np.testing.assert_array_equal(hs.numpy(), expected.numpy())


def test_bad_arguments_are_named():
    xs, init, prepare_params, params = problem()
    with pytest.raises(TypeError, match="xs must be tensors"):
        mg.scan(lstm_step, init, xs.numpy(), params)
    with pytest.raises(TypeError, match="params must be tensors"):
        mg.scan(lstm_step, init, xs, [params[0].numpy()])
    with pytest.raises(ValueError, match=r"T >= 1, got shape \(0, 2, 16\)"):
        mg.scan(lstm_step, init, mg.zeros(0, 2, 16), params)

    @mg.fuse
    def widens(x, h):
        return mg.concat([h, x], axis=1)
    with pytest.raises(ValueError, match=r"step returns 1 tensor\(s\) of shape and dtype"):
        mg.scan(widens, init[0], mg.ones(3, 2, 4, dtype=mg.float64))


def test_unfold_draws_the_loop_op_by_op():
    xs, init, prepare_params, params = problem(steps=3)
    with mg.scope("layer"):
        (hs, _), _ = run_lstm(xs, init, prepare_params, params)
    (drawn,), swap = unfold([hs])
    assert swap(hs) is drawn and drawn.node.op == "stack"
    np.testing.assert_array_equal(drawn.numpy(), hs.numpy())
    scopes, work = set(), [drawn.node]
    while work:
        node = work.pop()
        scopes.add(node.scope)
        work += [x.node for x in node.inputs if isinstance(x, mg.Tensor) and x.node]
    assert {"layer/t0", "layer/t2"} <= scopes


@mg.fuse
def saves_views_of_its_input(x, h):
    # the backward reads both halves of x, views of the sequence's slice: copying the
    # first into that slice's memory would overwrite the second before it is copied
    a, b = x.chunk(2, axis=1)
    return mg.tanh(h * a + b * h)


def test_a_step_saving_views_of_its_input():
    rng = np.random.default_rng(5)
    xs, h0 = leaf(rng.standard_normal((4, 4, 6))), leaf(rng.standard_normal((4, 3)))
    scale = leaf(rng.standard_normal(6))

    @mg.fuse
    def scaled(x, scale):
        return x * scale

    def run():
        hs, h = mg.scan(saves_views_of_its_input, h0, xs, prepare=scaled,
                        prepare_params=(scale,))
        return (hs, hs), (h, h)
    assert_same_as_op_by_op(run, [xs, h0, scale])


def test_a_step_changing_the_carry_is_refused_op_by_op_too():
    @mg.fuse
    def widens(x, h):
        return mg.concat([h, x], axis=1)
    with mg.unfused(), pytest.raises(ValueError, match=r"step returns 1 tensor\(s\)"):
        mg.scan(widens, mg.ones(2, 4, dtype=mg.float64), mg.ones(3, 2, 4, dtype=mg.float64))


def mask_for(steps, lengths, xs):
    valid = np.arange(steps)[:, None] < np.asarray(lengths)[None, :]
    return xs.xp.asarray(valid)


@pytest.mark.parametrize("reverse", [False, True])
def test_a_mask_keeps_finished_rows_as_the_loop_does(reverse):
    xs, init, prepare_params, params = problem(steps=6, batch=3)
    mask = mask_for(6, [6, 2, 4], xs)
    tensors = [xs, *init, *prepare_params, *params]
    run = lambda: mg.scan(lstm_step, init, xs, params, prepare=project,   # noqa: E731
                          prepare_params=prepare_params, mask=mask, reverse=reverse)
    assert_same_as_op_by_op(run, tensors)
    (hs, _), (h, _) = run()
    if not reverse:      # row 1 stopped after step 1: its state stays
        np.testing.assert_array_equal(hs.numpy()[5, 1], hs.numpy()[1, 1])
        np.testing.assert_array_equal(h.numpy()[1], hs.numpy()[1, 1])
    else:                # row 1 starts at its own last step: the initial state until then
        np.testing.assert_array_equal(hs.numpy()[2, 1], init[0].numpy()[1])


@FAST
@given(st.integers(1, 4), st.booleans(), st.integers(0, 2**16))
def test_gradcheck_with_a_mask(steps, reverse, seed):
    xs, init, prepare_params, params = problem(steps, 3, size=2, hidden=2, seed=seed)
    lengths = np.random.default_rng(seed).integers(1, steps + 1, size=3)
    mask = mask_for(steps, lengths, xs)

    def fn(xs, h0, c0, weight_ih_t, bias, weight_hh_t):
        return mg.scan(lstm_step, (h0, c0), xs, (weight_hh_t,), prepare=project,
                       prepare_params=(weight_ih_t, bias), mask=mask, reverse=reverse)[0]
    assert mg.gradcheck(fn, [xs, *init, *prepare_params, *params])


def test_a_bad_mask_is_named():
    xs, init, prepare_params, params = problem(steps=5, batch=2)
    with pytest.raises(ValueError, match=r"mask must be \(T, B\) with B the carry's first "
                                         r"axis \(2\), got shape \(5, 3\)"):
        mg.scan(lstm_step, init, xs, params, prepare=project,
                prepare_params=prepare_params, mask=mask_for(5, [5, 5, 5], xs))
    with pytest.raises(ValueError, match="mask has 4 steps, the sequence 5"):
        mg.scan(lstm_step, init, xs, params, prepare=project,
                prepare_params=prepare_params, mask=mask_for(4, [4, 4], xs))
