"""Engine state is per thread: grad mode, scopes, anomaly mode, the fusion switch and the
tracer belong to the thread that set them, and context objects can be entered again.

Every interleaving is forced with events (no sleeps): each thread waits for the other
to reach a given point. Each scenario checks what each thread saw against what it sees
alone, and that no switch is left flipped afterwards, in either thread or this one.
"""
import gc
import threading
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad.tensor import record

TIMEOUT = 30        # seconds a thread waits for the other before the test fails


class Step:
    """A point one thread reaches and another waits for."""

    def __init__(self, what):
        self.what = what
        self.event = threading.Event()

    def reached(self):
        self.event.set()

    def wait(self):
        assert self.event.wait(TIMEOUT), f"the other thread never reached: {self.what}"


def run_together(*bodies):
    """Run each body in its own thread; re-raise the first failure, naming its thread."""
    failures = []

    def guarded(body):
        def run():
            try:
                body()
            except BaseException as error:      # noqa: BLE001 - reported below
                failures.append((body.__name__, error))
        return run

    threads = [threading.Thread(target=guarded(body), name=body.__name__) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(TIMEOUT * 2)
        assert not thread.is_alive(), f"thread {thread.name} did not finish"
    if failures:
        name, error = failures[0]
        raise AssertionError(f"in thread {name}: {error!r}") from error


def switches():
    """The calling thread's switches, as a dict."""
    from minigrad.modes import state
    return {"grad_enabled": state.grad_enabled, "anomaly": state.anomaly,
            "scope": state.scope, "fusion": state.fusion, "tracer": state.tracer,
            "backward_of": state.backward_of, "tap": state.tap}


DEFAULTS = {"grad_enabled": True, "anomaly": False, "scope": "", "fusion": True,
            "tracer": None, "backward_of": None, "tap": None}


@pytest.fixture(autouse=True)
def nothing_left_flipped():
    """This thread's switches and the collector are as they were after every test."""
    assert switches() == DEFAULTS
    collecting = gc.isenabled()
    yield
    assert switches() == DEFAULTS, "a switch was left flipped in the main thread"
    assert gc.isenabled() == collecting, "the garbage collector was left paused"


def leaves_nothing_flipped(body):
    """``body`` (a thread's work), then a check that its own switches are back."""
    def checked():
        body()
        assert switches() == DEFAULTS, f"{body.__name__} left {switches()}"
    checked.__name__ = body.__name__
    return checked


def train_step(seed):
    """A small recorded computation and its gradients, as NumPy arrays."""
    rng = np.random.default_rng(seed)
    w = mg.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    x = mg.tensor(rng.standard_normal((5, 3)).astype(np.float32))
    loss = mg.tanh(x @ w).sum()
    loss.backward()
    return loss.item(), w.grad.numpy()


# --------------------------------------------------------------------------- grad mode

def test_no_grad_in_one_thread_leaves_recording_on_in_another():
    inside, trained = Step("inside no_grad"), Step("trained")
    seen = {}

    @leaves_nothing_flipped
    def evaluator():
        with mg.no_grad():
            inside.reached()
            trained.wait()
            seen["evaluator recorded"] = (mg.tensor([1.0], requires_grad=True) * 2).requires_grad

    @leaves_nothing_flipped
    def trainer():
        inside.wait()
        seen["trainer grad mode"] = mg.is_grad_enabled()
        seen["trainer"] = train_step(0)
        trained.reached()

    run_together(evaluator, trainer)
    assert seen["trainer grad mode"] is True, "the other thread's no_grad turned grad off here"
    assert seen["evaluator recorded"] is False
    alone = train_step(0)
    assert seen["trainer"][0] == alone[0]
    np.testing.assert_array_equal(seen["trainer"][1], alone[1])


def _paused_op(x, started, release):
    """``x * 1`` whose backward rule says it started and waits for ``release``."""
    def backward(grad):
        started.reached()
        release.wait()
        return (grad,)
    return record(x.data * 1, (x,), backward, "paused")


def test_backward_in_one_thread_leaves_recording_on_in_another():
    sweeping, recorded = Step("inside a backward rule"), Step("recorded")
    seen = {}

    @leaves_nothing_flipped
    def sweeper():
        x = mg.tensor([1.0, 2.0], requires_grad=True)
        _paused_op(x * 3, sweeping, recorded).sum().backward()
        seen["sweeper grad"] = x.grad.tolist()

    @leaves_nothing_flipped
    def recorder():
        sweeping.wait()
        seen["recorder grad mode"] = mg.is_grad_enabled()
        seen["recorder"] = train_step(1)
        recorded.reached()

    run_together(sweeper, recorder)
    assert seen["recorder grad mode"] is True, "another thread's sweep turned grad mode off"
    assert seen["sweeper grad"] == [3.0, 3.0]
    alone = train_step(1)
    assert seen["recorder"][0] == alone[0]
    np.testing.assert_array_equal(seen["recorder"][1], alone[1])


def test_interleaved_no_grad_blocks_leave_grad_mode_on_in_both_threads():
    # enter A, enter B, exit A, exit B
    a_in, b_in, a_out = Step("A entered"), Step("B entered"), Step("A left")
    seen = {}

    @leaves_nothing_flipped
    def a():
        with mg.no_grad():
            a_in.reached()
            b_in.wait()
            seen["A inside"] = mg.is_grad_enabled()
        seen["A after"] = mg.is_grad_enabled()
        a_out.reached()

    @leaves_nothing_flipped
    def b():
        a_in.wait()
        with mg.no_grad():
            b_in.reached()
            a_out.wait()
            seen["B inside, A gone"] = mg.is_grad_enabled()
        seen["B after"] = mg.is_grad_enabled()
        seen["B records"] = (mg.tensor([1.0], requires_grad=True) * 2).requires_grad

    run_together(a, b)
    assert seen == {"A inside": False, "A after": True, "B inside, A gone": False,
                    "B after": True, "B records": True}
    assert mg.is_grad_enabled()


def test_detect_anomaly_is_per_thread():
    inside, checked = Step("inside detect_anomaly"), Step("other thread checked")
    seen = {}

    @leaves_nothing_flipped
    def watcher():
        with mg.detect_anomaly():
            inside.reached()
            checked.wait()
            with pytest.raises(FloatingPointError, match="log"), np.errstate(invalid="ignore"):
                mg.log(mg.tensor([-1.0], requires_grad=True))

    @leaves_nothing_flipped
    def other():
        inside.wait()
        with np.errstate(invalid="ignore"):
            seen["other"] = mg.log(mg.tensor([-1.0], requires_grad=True)).tolist()
        checked.reached()

    run_together(watcher, other)
    assert np.isnan(seen["other"][0]), "anomaly mode of another thread raised here"


# --------------------------------------------------------------------------- scopes

def test_interleaved_scopes_label_each_threads_ops_with_its_own_scope():
    a_in, b_in, a_out = Step("A entered"), Step("B entered"), Step("A left")
    scopes = {}
    w = mg.tensor([1.0, 2.0], requires_grad=True)

    @leaves_nothing_flipped
    def a():
        with mg.scope("encoder"):
            a_in.reached()
            b_in.wait()
            scopes["A inside"] = (w * 2).node.scope
        scopes["A after"] = (w * 2).node.scope
        a_out.reached()

    @leaves_nothing_flipped
    def b():
        a_in.wait()
        with mg.scope("decoder"):
            b_in.reached()
            a_out.wait()
            scopes["B inside"] = (w * 2).node.scope
        scopes["B after"] = (w * 2).node.scope

    run_together(a, b)
    assert scopes == {"A inside": "encoder", "A after": "", "B inside": "decoder",
                      "B after": ""}


# --------------------------------------------------------------------------- fusion

@mg.fuse
def _gate(x, y):
    return mg.tanh(x) * y


def _fused_node_count(x, y):
    """Nodes recorded by one call of the fused function (1 when it ran fused)."""
    out = _gate(x, y)
    nodes, work = set(), [out.node]
    while work:
        node = work.pop()
        if node is not None and node.id not in nodes:
            nodes.add(node.id)
            work.extend(t.node for t in node.inputs if isinstance(t, mg.Tensor))
    return len(nodes)


def test_unfused_in_one_thread_leaves_fusion_on_in_another():
    inside, called = Step("inside unfused"), Step("fused call made")
    counts = {}

    def inputs():
        return (mg.tensor([0.5, -1.0], requires_grad=True),
                mg.tensor([2.0, 3.0], requires_grad=True))

    @leaves_nothing_flipped
    def unfusing():
        with mg.unfused():
            inside.reached()
            called.wait()
            counts["unfused thread"] = _fused_node_count(*inputs())

    @leaves_nothing_flipped
    def fusing():
        inside.wait()
        counts["other thread"] = _fused_node_count(*inputs())
        called.reached()

    run_together(unfusing, fusing)
    assert counts == {"unfused thread": 2, "other thread": 1}


def test_a_trace_is_not_spoiled_by_another_thread_reading_values():
    tracing, read = Step("tracing"), Step("other thread read a value")
    first_call = []

    @mg.fuse
    def waits_while_traced(x):
        if not first_call:          # Python effects happen once, while it is traced
            first_call.append(True)
            tracing.reached()
            read.wait()
        return mg.sigmoid(x) * x

    results = {}

    @leaves_nothing_flipped
    def tracer():
        x = mg.tensor([0.5, -1.0], requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")      # "runs op by op" would be a failure
            out = waits_while_traced(x)
        results["op"] = out.node.op

    @leaves_nothing_flipped
    def reader():
        tracing.wait()
        results["value"] = (mg.tensor([2.0]) * 3).item()
        read.reached()

    run_together(tracer, reader)
    assert results == {"op": "waits_while_traced", "value": 6.0}, \
        "another thread's .item() marked the trace as reading values"


def test_two_threads_compiling_fused_functions_at_once_get_correct_programs():
    # each thread's trace is interrupted while the other traces, recording ops of its own
    # meanwhile: neither trace may see the other's nodes, and both programs are right
    a_tracing, b_traced = Step("thread a is tracing"), Step("thread b traced and ran")
    first_call = []

    @mg.fuse
    def waits(x, y):
        if not first_call:
            first_call.append(True)
            a_tracing.reached()
            b_traced.wait()
        return mg.tanh(x * y) + y.sum(axis=0)

    @mg.fuse
    def other(x, y):
        return mg.sigmoid(x) * mg.maximum(x, y)

    rng = np.random.default_rng(4)
    x_data, y_data = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    results = {}

    def grads(fn):          # fresh leaves: each thread its own
        x, y = (mg.tensor(d, requires_grad=True) for d in (x_data, y_data))
        out = fn(x, y)
        out.sum().backward()
        return out.node.op, out.numpy(), x.grad.numpy(), y.grad.numpy()

    @leaves_nothing_flipped
    def a():
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results["a"] = grads(waits)

    @leaves_nothing_flipped
    def b():
        a_tracing.wait()
        mg.tensor([1.0], requires_grad=True) * 2.0      # recorded while a traces
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            results["b"] = (grads(other), mg.tensor(1.0).item())
        b_traced.reached()

    run_together(a, b)
    with mg.unfused():
        expected_a, expected_b = grads(waits), grads(other)
    assert results["a"][0] == "waits" and results["b"][0][0] == "other"
    for got, expected in ((results["a"], expected_a), (results["b"][0], expected_b)):
        for g, e in zip(got[1:], expected[1:]):
            np.testing.assert_array_equal(g, e)


# --------------------------------------------------------------------------- context objects

@pytest.mark.parametrize("make, read, inside", [
    (mg.no_grad, mg.is_grad_enabled, False),
    (mg.detect_anomaly, lambda: switches()["anomaly"], True),
    (mg.unfused, lambda: switches()["fusion"], False),
])
def test_one_context_object_entered_twice_nested(make, read, inside):
    context = make()
    before = read()
    with context:
        with context:
            assert read() == inside
        assert read() == inside, "the inner exit undid the outer entry"
    assert read() == before


def test_one_scope_object_nested_joins_and_unwinds():
    encoder = mg.scope("encoder")
    w = mg.tensor([1.0], requires_grad=True)
    with encoder:
        with encoder:
            assert (w * 2).node.scope == "encoder/encoder"
        assert (w * 2).node.scope == "encoder"
    assert (w * 2).node.scope == ""


def test_no_grad_and_enable_grad_objects_nest_inside_each_other():
    off, on = mg.no_grad(), mg.enable_grad()
    with off:
        with on:
            assert mg.is_grad_enabled()
            with off:
                assert not mg.is_grad_enabled()
            assert mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()


@pytest.mark.parametrize("make, read, inside", [
    (mg.no_grad, mg.is_grad_enabled, False),
    (lambda: mg.scope("shared"), lambda: switches()["scope"], "shared"),
    (mg.unfused, lambda: switches()["fusion"], False),
])
def test_one_context_object_entered_by_two_threads(make, read, inside):
    context = make()
    before = read()
    a_in, b_in, a_out = Step("A entered"), Step("B entered"), Step("A left")
    seen = {}

    @leaves_nothing_flipped
    def a():
        with context:
            a_in.reached()
            b_in.wait()
            seen["A inside"] = read()
        seen["A after"] = read()
        a_out.reached()

    @leaves_nothing_flipped
    def b():
        a_in.wait()
        with context:
            b_in.reached()
            a_out.wait()
            seen["B inside, A gone"] = read()
        seen["B after"] = read()

    run_together(a, b)
    assert seen == {"A inside": inside, "A after": before, "B inside, A gone": inside,
                    "B after": before}
    assert not context._saved, "the context object kept entries of finished threads"


def test_no_grad_decorates_with_and_without_the_call():
    @mg.no_grad
    def bare():
        return mg.is_grad_enabled()

    @mg.no_grad()
    def called():
        return mg.is_grad_enabled()

    def recursive(depth):
        return mg.is_grad_enabled() if depth == 0 else recursive_off(depth - 1)

    recursive_off = mg.no_grad()(recursive)
    assert bare() is False and called() is False and recursive_off(3) is False
    assert bare.__name__ == "bare"
    with mg.no_grad():
        assert mg.enable_grad(lambda: mg.is_grad_enabled())() is True
    assert mg.is_grad_enabled()


def test_decorating_a_generator_function_is_refused():
    with pytest.raises(TypeError, match="generator"):
        @mg.no_grad()
        def steps():
            yield 1


def test_collector_paused_in_two_threads_resumes_after_the_last():
    from minigrad.modes import collector_paused
    a_in, b_in, a_out = Step("A paused"), Step("B paused"), Step("A resumed")
    seen = {}

    def a():
        with collector_paused():
            a_in.reached()
            b_in.wait()
        seen["after A, B still inside"] = gc.isenabled()
        a_out.reached()

    def b():
        a_in.wait()
        with collector_paused():
            b_in.reached()
            a_out.wait()
        seen["after both"] = gc.isenabled()

    assert gc.isenabled()
    run_together(a, b)
    assert seen == {"after A, B still inside": False, "after both": True}


def test_collector_paused_leaves_a_disabled_collector_disabled():
    from minigrad.modes import collector_paused
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


# --------------------------------------------------------------------------- models

def _train_lstm(model, seed, steps, role=0, barrier=None):
    """SGD on a small regression. Each step has two phases: in phase ``role`` this thread
    evaluates under ``no_grad``, in the other it records the loss; with ``barrier`` (two
    threads of opposite roles) one thread's recording happens while the other is inside
    its ``no_grad`` block."""
    def line_up():
        if barrier is not None:
            barrier.wait(TIMEOUT)

    rng = np.random.default_rng(seed)
    opt = mg.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(steps):
        x = mg.tensor(rng.standard_normal((6, 3, 2)).astype(np.float32))
        target = mg.tensor(rng.standard_normal((3, 1)).astype(np.float32))
        for phase in (0, 1):
            if phase == role:
                with mg.no_grad():
                    line_up()
                    model.lstm(x)           # an evaluation
                    line_up()
            else:
                line_up()
                output, _ = model.lstm(x)
                loss = mg.nn.mse_loss(model.head(output[-1]), target)
                line_up()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {name: p.numpy().copy() for name, p in model.named_parameters()}


def _regressor(state=None):
    from models import LSTM
    model = mg.nn.Module()
    model.lstm = LSTM(2, 5)
    model.head = mg.nn.Linear(5, 1)
    if state is not None:
        model.load_state_dict(state)
    return model


def test_two_threads_training_two_lstms_get_what_each_gets_alone():
    mg.manual_seed(3)
    start = [_regressor().state_dict() for _ in range(2)]   # the shared generator, here
    alone = [_train_lstm(_regressor(start[k]), seed=k, steps=4, role=k) for k in range(2)]
    together = [None, None]
    barrier = threading.Barrier(2)

    def trainer(k):
        @leaves_nothing_flipped
        def body():
            try:
                together[k] = _train_lstm(_regressor(start[k]), seed=k, steps=4, role=k,
                                          barrier=barrier)
            except BaseException:
                barrier.abort()         # the other thread stops waiting at once
                raise
        body.__name__ = f"trainer_{k}"
        return body

    run_together(trainer(0), trainer(1))
    for k in range(2):
        for name, value in alone[k].items():
            np.testing.assert_array_equal(together[k][name], value,
                                          err_msg=f"model {k}'s {name} differs")
