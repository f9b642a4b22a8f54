"""mg.fuse: a function of elementwise ops recorded as one op, with generated code.

Fused and op-by-op runs must agree bit for bit (the generated code calls the ops' own
array functions in the ops' order); gradients are checked against finite differences,
gradients of gradients against the op-by-op recording; whatever cannot be fused runs op
by op, with one warning.
"""
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad.fusion import unfold
from minigrad.tensor import record

pytestmark = pytest.mark.usefixtures("engine_backend")
FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])


def leaf(array, dtype=np.float64):
    return mg.tensor(np.asarray(array, dtype=dtype), requires_grad=True)


def cell_update(gates, c, peephole):
    """An LSTM step after the recurrent product, with a broadcast (H,) weight and a
    Python constant: chunk, sigmoid, tanh, *, +, - and the sums broadcasting needs."""
    i, f, g, o = gates.chunk(4, axis=1)
    with mg.scope("input_gate"):
        i = mg.sigmoid(i + peephole * c)
    f = mg.sigmoid(f)
    c = f * c + (1 - f) * i * mg.tanh(g)
    return mg.sigmoid(o) * mg.tanh(c), c


fused_cell_update = mg.fuse(cell_update)


def inputs_for(batch, hidden, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    return [leaf(rng.standard_normal(shape), dtype)
            for shape in ((batch, 4 * hidden), (batch, hidden), (hidden,))]


def loss_and_grads(fn, inputs):
    for x in inputs:
        x.grad = None
    h, c = fn(*inputs)
    (h * h).sum().backward()
    return [h.numpy(), c.numpy()] + [x.grad.numpy() for x in inputs]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fused_equals_op_by_op_bit_for_bit(dtype):
    inputs = inputs_for(3, 5, dtype)
    fused = loss_and_grads(fused_cell_update, inputs)
    plain = loss_and_grads(cell_update, inputs)
    for a, b in zip(fused, plain):
        np.testing.assert_array_equal(a, b)


def test_one_node_is_recorded_for_the_whole_function():
    h, c = fused_cell_update(*inputs_for(2, 3))
    assert h.node is c.node and h.node.op == "cell_update" and h.node.n_outputs == 2
    assert all(x.node is None for x in h.node.inputs)


@FAST
@given(st.integers(1, 3), st.integers(1, 4), st.integers(0, 2**16))
def test_gradcheck_over_every_input(batch, hidden, seed):
    inputs = inputs_for(batch, hidden, seed=seed)
    assert mg.gradcheck(lambda *xs: fused_cell_update(*xs)[0], inputs)
    assert mg.gradcheck(lambda *xs: fused_cell_update(*xs)[1], inputs)


@mg.fuse
def broadcast_mix(a, b):
    return (a * b + a / (b * b + 1)).exp() - mg.sqrt(a * a + 1) * mg.relu(b)


@FAST
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.integers(0, 2**16))
def test_broadcasting_operands(shapes, seed):
    rng = np.random.default_rng(seed)
    a, b = (leaf(rng.standard_normal(s)) for s in shapes.input_shapes)
    assert mg.gradcheck(broadcast_mix, [a, b])
    with mg.unfused():
        expected = broadcast_mix(a, b)
    np.testing.assert_array_equal(broadcast_mix(a, b).numpy(), expected.numpy())


@mg.fuse
def joins_and_sums(a, b):
    pieces = mg.split(a, [1], axis=-1)
    joined = mg.concat([pieces[1] * 2.0, b.tanh() * pieces[0]], axis=-1)
    return joined.sum(axis=0, keepdims=True) * a.sum() + joined.reshape(-1).sum()


def test_split_concat_sum_and_reshape():
    rng = np.random.default_rng(3)
    a, b = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal((3, 2)))
    assert mg.gradcheck(joins_and_sums, [a, b])
    assert "def backward" in joins_and_sums.source(a, b)


def test_gradients_of_gradients_go_through_a_replay():
    inputs = inputs_for(2, 3, seed=5)

    def second(fn):
        h, _ = fn(*inputs)
        first = mg.grad((h * h).sum(), inputs, create_graph=True)
        return mg.grad(sum((g * g).sum() for g in first), inputs)

    fused = second(fused_cell_update)
    plain = second(cell_update)
    for a, b in zip(fused, plain):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12, atol=1e-14)

    def gradient(x):
        with mg.enable_grad():
            (g,) = mg.grad(fused_cell_update(x, inputs[1], inputs[2])[0].sum(), x,
                           create_graph=True)
        return g
    assert mg.gradcheck(gradient, [inputs[0]])


def test_replayed_partials_stop_at_the_inputs():
    # c depends on gates: the fused node must still hand back partial derivatives only,
    # or gates' gradient would count the path through c twice
    gates, _, peephole = inputs_for(2, 3, seed=7)
    c = gates[:, :3] * 2.0

    def loss(fn):
        return fn(gates, c, peephole)[0].sum()
    with mg.unfused():
        (expected,) = mg.grad(loss(fused_cell_update), gates, create_graph=True)
    (got,) = mg.grad(loss(fused_cell_update), gates, create_graph=True)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12)


def test_an_output_without_gradient_gets_zeros():
    inputs = inputs_for(2, 3, seed=1)
    for fn in (fused_cell_update, cell_update):
        for x in inputs:
            x.grad = None
        fn(*inputs)[1].sum().backward()       # only c is used: h's gradient is absent
        if fn is fused_cell_update:
            fused = [x.grad.numpy() for x in inputs]
    for a, x in zip(fused, inputs):
        np.testing.assert_array_equal(a, x.grad.numpy())


def test_only_inputs_that_need_gradients_get_them():
    gates, c, peephole = inputs_for(2, 3, seed=2)
    frozen = mg.tensor(peephole.numpy())
    h, _ = fused_cell_update(gates, c, frozen)
    h.sum().backward()
    assert frozen.grad is None and gates.grad is not None and c.grad is not None
    # the generated backward does not even compute the frozen input's gradient
    source = fused_cell_update.source(gates, c, frozen)
    assert source.rstrip().splitlines()[-1].endswith(", None, )")


def test_nothing_is_recorded_without_grad():
    inputs = inputs_for(2, 3)
    with mg.no_grad():
        h, c = fused_cell_update(*inputs)
    assert h.node is None and not h.requires_grad
    plain = [mg.tensor(x.numpy()) for x in inputs]
    assert fused_cell_update(*plain)[0].node is None


def test_retain_graph_sweeps_twice_with_the_same_result():
    inputs = inputs_for(2, 3, seed=4)
    h, _ = fused_cell_update(*inputs)
    h.sum().backward(retain_graph=True)
    first = [x.grad.numpy().copy() for x in inputs]
    h.sum().backward()
    for a, x in zip(first, inputs):
        np.testing.assert_array_equal(2 * a, x.grad.numpy())
    with pytest.raises(RuntimeError, match="already freed"):
        h.sum().backward()


def test_unfused_records_every_op():
    inputs = inputs_for(2, 3)
    with mg.unfused():
        h, _ = fused_cell_update(*inputs)
    assert h.node.op == "mul"


def test_anomaly_detection_names_the_op_inside():
    gates, c, peephole = inputs_for(1, 1)
    c.data[...] = np.inf
    with mg.detect_anomaly(), pytest.raises(FloatingPointError, match="forward of 'mul'"):
        fused_cell_update(gates, c, peephole)


def doubled(x):
    """An extension op that records no kernel: it cannot be fused."""
    return record(x.data * 2.0, (x,), lambda grad: (grad * 2.0,), "doubled")


def test_what_cannot_be_fused_runs_op_by_op_with_one_warning():
    @mg.fuse
    def with_doubled(x):
        return doubled(x) * 2.0

    x = leaf([-1.0, 2.0])
    with pytest.warns(RuntimeWarning, match="with_doubled runs op by op: op 'doubled' has "
                                            "no fused form"):
        y = with_doubled(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = with_doubled(leaf([1.0, -3.0, 4.0]))      # a new shape: no second warning
    y.sum().backward()
    assert y.node.op == "mul"


def test_a_tensor_from_outside_must_be_an_argument():
    weight = leaf([1.0, 2.0])

    @mg.fuse
    def reads_outside(x):
        return x * weight

    with pytest.warns(RuntimeWarning, match="pass a tensor in as an argument"):
        y = reads_outside(leaf([3.0, 4.0]))
    y.sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [3.0, 4.0])


def test_branching_on_values_runs_op_by_op():
    @mg.fuse
    def sign_dependent(x):
        return x * 2.0 if float(x.sum()) > 0 else x * -1.0

    with pytest.warns(RuntimeWarning, match="reads tensor values into Python"):
        first = sign_dependent(leaf([1.0, 2.0]))
    second = sign_dependent(leaf([-1.0, -2.0]))       # same signature, other branch
    np.testing.assert_array_equal(first.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(second.numpy(), [1.0, 2.0])


def test_arguments_must_be_tensors():
    with pytest.raises(TypeError, match="fused function broadcast_mix: arguments must be "
                                        "tensors, got float"):
        broadcast_mix(leaf([1.0]), 2.0)
    with pytest.raises(TypeError, match="needs at least one tensor argument"):
        mg.fuse(lambda: mg.zeros(1))()


def test_the_same_tensor_twice_runs_op_by_op():
    x = leaf([0.5, -1.0])
    broadcast_mix(x, x).sum().backward()
    fused = x.grad.numpy()
    x.grad = None
    with mg.unfused():
        broadcast_mix(x, x).sum().backward()
    np.testing.assert_array_equal(fused, x.grad.numpy())


def test_the_same_tensor_twice_in_a_recorded_sweep():
    # a replay must give each argument position its own partials, not the sum twice
    @mg.fuse
    def cube_by_parts(a, b):
        return a * b * b

    cube_by_parts(leaf([1.0, 2.0]), leaf([3.0, 4.0]))       # traced with two tensors
    x = leaf([0.5, -1.0])
    (first,) = mg.grad(cube_by_parts(x, x).sum(), x, create_graph=True)
    np.testing.assert_allclose(first.numpy(), 3 * x.numpy() ** 2)
    (second,) = mg.grad(first.sum(), x)
    np.testing.assert_allclose(second.numpy(), 6 * x.numpy())


def test_a_single_output_is_a_tensor_and_several_are_a_tuple():
    assert isinstance(broadcast_mix(leaf([1.0]), leaf([2.0])), mg.Tensor)
    assert isinstance(fused_cell_update(*inputs_for(1, 1)), tuple)


def test_programs_are_kept_per_signature_up_to_a_limit():
    @mg.fuse
    def double(x):
        return x * 2.0

    for n in range(1, double.CACHE_LIMIT + 6):
        double(leaf(np.ones(n)))
    assert len(double.programs) == double.CACHE_LIMIT


def test_unfold_shows_the_ops_and_maps_the_outputs():
    inputs = inputs_for(2, 3)
    with mg.scope("step"):
        h, c = fused_cell_update(*inputs)
    (h2, c2), swap = unfold([h, c])
    assert swap(h) is h2 and swap(c) is c2 and swap(inputs[0]) is inputs[0]
    np.testing.assert_array_equal(h2.numpy(), h.numpy())
    assert h2.node.op == "mul" and h2.node.scope == "step"
    scopes, work = set(), [h2.node]
    while work:
        node = work.pop()
        scopes.add(node.scope)
        work += [x.node for x in node.inputs if isinstance(x, mg.Tensor) and x.node]
    assert "step/input_gate" in scopes
    loss = (h * 2.0).sum()
    (loss2,), _ = unfold([loss])
    assert loss2.node is not loss.node and loss2.node.op == "sum"


@mg.fuse
def reuses_memory(a, b):
    t = a * b                   # a temporary...
    flat = t.reshape(-1)        # ...with a view read after exp's line
    u = mg.exp(t)               # so exp must not write over t
    return (u + 1.0) * 2.0 + flat.reshape(t.shape), u


def test_dead_temporaries_are_written_over_and_live_ones_are_not():
    rng = np.random.default_rng(8)
    a, b = leaf(rng.standard_normal((3, 4))), leaf(rng.standard_normal((3, 4)))
    source = reuses_memory.source(a, b)
    assert "xp.exp(v0)" in source              # t's memory is still read through flat
    assert "xp.add(v" in source and "out=" in source
    fused = loss_and_grads(reuses_memory, [a, b])
    with mg.unfused():
        plain = loss_and_grads(reuses_memory, [a, b])
    for x, y in zip(fused, plain):
        np.testing.assert_array_equal(x, y)
