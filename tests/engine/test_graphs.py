"""minigrad.graphs: when a training step is captured as a CUDA graph, replayed, captured
again or refused. There is no GPU here, so the decision is checked with a stand-in for
the backend's graphs that behaves as CUDA's do: nothing runs while a step is captured
(the stand-in runs it and puts the parameters back), and each launch runs the captured
step on the graph's own copies of the inputs, writing into the captured outputs."""
import contextlib
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend, graphs


class StandInGraphs:
    """The backend's graph capture, played on NumPy; ``events`` says what was asked."""

    def __init__(self, state):
        self.state = state          # the arrays a step changes in place (to put back)
        self.events = []
        self.refuse = None          # an exception the next capture raises

    def pool(self):
        self.events.append("pool")
        return object()

    @contextlib.contextmanager
    def allocating_from(self, pool):
        self.events.append("from pool")
        yield

    def capture(self, run, pool):
        self.events.append("capture")
        if self.refuse is not None:
            raise self.refuse
        before = [a.copy() for a in self.state()]
        result = run()                      # recorded, not run: undo what it changed
        for array, saved in zip(self.state(), before):
            array[...] = saved
        return (run, result), result

    def launch(self, graph):
        self.events.append("launch")
        run, captured = graph
        result = run()
        outputs = captured if isinstance(captured, tuple) else (captured,)
        fresh = result if isinstance(result, tuple) else (result,)
        for out, new in zip(outputs, fresh):
            if out is not None:
                out.data[...] = new.data


def _training(optimizer_class=mg.optim.SGD, clear=True, **hyper):
    mg.manual_seed(0)
    model = mg.nn.Linear(3, 2)
    optimizer = optimizer_class(model.parameters(), **hyper)

    def train_step(x, target):
        if clear:
            optimizer.zero_grad()
        loss = mg.nn.functional.mse_loss(model(x), target)
        loss.backward()
        optimizer.step()
        return loss
    return model, optimizer, train_step


def _batches(n, batch=4, seed=0):
    rng = np.random.default_rng(seed)
    return [(mg.tensor(rng.standard_normal((batch, 3))),
             mg.tensor(rng.standard_normal((batch, 2)))) for _ in range(n)]


@pytest.fixture
def stand_in(monkeypatch):
    """Gives the NumPy backend the stand-in graphs, for one model's arrays."""
    def install(model, optimizer):
        def state():
            arrays = [p.data for p in model.parameters()]
            return arrays + [v for s in optimizer.state.values() for v in s.values()
                             if isinstance(v, np.ndarray)]
        fake = StandInGraphs(state)
        monkeypatch.setattr(backend.get("numpy"), "graphs", fake)
        return fake
    return install


def _eager(batches, **kwargs):
    model, _, train_step = _training(**kwargs)
    losses = [train_step(x, t).item() for x, t in batches]
    return losses, [p.numpy().copy() for p in model.parameters()]


def test_without_graphs_every_call_runs_the_step():
    batches = _batches(5)
    model, _, train_step = _training(lr=0.1)
    step = graphs.capture(train_step)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        losses = [step(x, t).item() for x, t in batches]
    expected, params = _eager(batches, lr=0.1)
    assert losses == expected
    for a, b in zip(model.parameters(), params):
        np.testing.assert_array_equal(a.numpy(), b)
    (plan,) = step.plans.values()
    assert plan.graph is None and plan.refused == "the backend has no graphs"


def test_warm_up_then_capture_once_then_replay(stand_in):
    batches = _batches(6)
    model, optimizer, train_step = _training(lr=0.1, momentum=0.9)
    fake = stand_in(model, optimizer)
    step = graphs.capture(train_step, warmup=2)
    losses = [float(step(x, t).numpy()) for x, t in batches]
    assert fake.events == ["pool", "from pool", "capture", "launch", "launch", "launch",
                           "launch"]
    expected, params = _eager(batches, lr=0.1, momentum=0.9)
    assert losses == expected       # each replay read its own batch
    for a, b in zip(model.parameters(), params):
        np.testing.assert_array_equal(a.numpy(), b)


def test_each_signature_has_its_own_graph_up_to_the_limit(stand_in):
    model, optimizer, train_step = _training(lr=0.1)
    fake = stand_in(model, optimizer)
    step = graphs.capture(train_step, warmup=1, limit=2)
    for batch in (4, 4, 5, 5, 6, 6, 6):
        x, t = _batches(1, batch)[0]
        step(x, t)
    assert fake.events.count("capture") == 2
    refused = [p.refused for p in step.plans.values()]
    assert refused == [None, None, "more than 2 input signatures"]
    step.reset()
    assert not step.plans


def test_a_changed_learning_rate_is_captured_again(stand_in):
    batches = _batches(5)
    model, optimizer, train_step = _training(lr=0.1)
    fake = stand_in(model, optimizer)
    step = graphs.capture(train_step, warmup=1)
    losses = []
    for k, (x, t) in enumerate(batches):
        if k == 3:
            optimizer.lr = 0.05
        losses.append(float(step(x, t).numpy()))
    assert fake.events.count("capture") == 2
    # the same run without graphs
    model, optimizer, train_step = _training(lr=0.1)
    expected = []
    for k, (x, t) in enumerate(batches):
        if k == 3:
            optimizer.lr = 0.05
        expected.append(train_step(x, t).item())
    assert losses == expected


@pytest.mark.parametrize("kwargs, why", [
    ({"optimizer_class": mg.optim.Adam, "lr": 0.01}, "bias corrections"),
    ({"optimizer_class": mg.optim.RMSprop, "lr": 0.01}, "counts its steps"),
    ({"clear": False, "lr": 0.1}, "not cleared"),
])
def test_a_step_a_replay_would_get_wrong_is_refused(stand_in, kwargs, why):
    batches = _batches(5)
    model, optimizer, train_step = _training(**kwargs)
    fake = stand_in(model, optimizer)
    step = graphs.capture(train_step, warmup=2)
    with pytest.warns(RuntimeWarning, match=why):
        losses = [step(x, t).item() for x, t in batches]
    assert "launch" not in fake.events
    expected, params = _eager(batches, **kwargs)
    assert losses == expected
    for a, b in zip(model.parameters(), params):
        np.testing.assert_array_equal(a.numpy(), b)


def test_a_capture_the_device_refuses_runs_the_step_instead(stand_in):
    batches = _batches(4)
    model, optimizer, train_step = _training(lr=0.1)
    fake = stand_in(model, optimizer)
    fake.refuse = RuntimeError("cudaErrorStreamCaptureUnsupported: operation not permitted")
    step = graphs.capture(train_step, warmup=1)
    with pytest.warns(RuntimeWarning, match="StreamCaptureUnsupported"):
        losses = [step(x, t).item() for x, t in batches]
    assert fake.events.count("capture") == 1 and "launch" not in fake.events
    assert losses == _eager(batches, lr=0.1)[0]


def test_outputs_may_be_a_tuple_or_none(stand_in):
    model, optimizer, train_step = _training(lr=0.1)
    stand_in(model, optimizer)
    pair = graphs.capture(lambda x, t: (train_step(x, t), x.sum()), warmup=1)
    nothing = graphs.capture(lambda x, t: None, warmup=1)
    for x, t in _batches(3):
        loss, total = pair(x, t)
        assert float(total.numpy()) == pytest.approx(float(x.sum().numpy()))
        assert nothing(x, t) is None
    with pytest.raises(ValueError, match="warmup"):
        graphs.capture(train_step, warmup=0)
