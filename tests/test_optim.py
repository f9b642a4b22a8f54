"""mg.optim against PyTorch: the same parameters and gradient sequence give the same
parameters after 20 steps; state dicts, learning-rate changes, skipped parameters."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import optim

torch = pytest.importorskip("torch")

SHAPES = [(4, 3), (3,), (2, 2, 2)]

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.5, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01, nesterov=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, betas=(0.85, 0.95), weight_decay=0.3)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.005, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.05)),
]


def _ids(case):
    name, kwargs = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kwargs.items())


def _start(seed=0):
    rng = np.random.default_rng(seed)
    initial = [rng.standard_normal(s).astype(np.float32) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(np.float32) for s in SHAPES] for _ in range(20)]
    return initial, grads


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_twenty_steps_match_torch(case):
    name, kwargs = case
    initial, grads = _start()
    ours = [mg.tensor(a, requires_grad=True) for a in initial]
    theirs = [torch.tensor(a, requires_grad=True) for a in initial]
    opt = getattr(optim, name)(ours, **kwargs)
    opt_t = getattr(torch.optim, name)(theirs, **kwargs)
    for step, step_grads in enumerate(grads):
        opt.zero_grad()
        opt_t.zero_grad()
        for p, pt, g in zip(ours, theirs, step_grads):
            p.grad = mg.tensor(g)
            pt.grad = torch.tensor(g)
        opt.step()
        opt_t.step()
    for i, (p, pt) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(p.numpy(), pt.detach().numpy(), rtol=1e-5, atol=1e-6,
                                   err_msg=f"{name} {kwargs}: parameter {i} after 20 steps")


@pytest.mark.parametrize("case", CASES[1:3] + CASES[6:7] + CASES[8:9] + CASES[12:],
                         ids=_ids)
def test_state_dict_resume_matches_uninterrupted(case):
    """10 steps, state_dict, a new optimizer loads it, 10 more == 20 uninterrupted."""
    name, kwargs = case
    initial, grads = _start(1)

    def run(resume):
        params = [mg.tensor(a, requires_grad=True) for a in initial]
        opt = getattr(optim, name)(params, **kwargs)
        for step, step_grads in enumerate(grads):
            if resume and step == 10:
                state = opt.state_dict()
                opt = getattr(optim, name)(params, lr=123.0) if name == "SGD" \
                    else getattr(optim, name)(params)
                opt.load_state_dict(state)
            for p, g in zip(params, step_grads):
                p.grad = mg.tensor(g)
            opt.step()
        return [p.numpy() for p in params]

    for a, b in zip(run(False), run(True)):
        np.testing.assert_array_equal(a, b)


def test_state_dict_is_plain_and_copied():
    p = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = mg.tensor(np.ones(3, np.float32))
    opt.step()
    state = opt.state_dict()
    assert state["param_groups"] == [
        {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "params": [0]}]
    entry = state["state"][0]
    assert entry["step"] == 1 and isinstance(entry["step"], int)
    assert isinstance(entry["exp_avg"], np.ndarray)
    entry["exp_avg"][...] = 99          # a copy: the optimizer's own state is untouched
    assert not (opt.state_dict()["state"][0]["exp_avg"] == 99).any()


def test_load_state_dict_refuses_mismatches():
    a = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    b = mg.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.SGD([a, b], lr=0.1, momentum=0.9)
    a.grad, b.grad = mg.ones(3), mg.ones(2)
    opt.step()
    state = opt.state_dict()
    with pytest.raises(ValueError, match="groups"):
        optim.SGD([a], lr=0.1, momentum=0.9).load_state_dict(state)
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        optim.SGD([b, a], lr=0.1, momentum=0.9).load_state_dict(state)


def test_learning_rate_can_change():
    p = mg.tensor(np.zeros(2, np.float32), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    p.grad = mg.ones(2)
    opt.step()
    opt.lr = 0.5
    assert opt.param_groups[0]["lr"] == 0.5
    opt.step()
    opt.param_groups[0]["lr"] = 0.25
    opt.step()
    np.testing.assert_allclose(p.numpy(), [-1.75, -1.75])
    assert opt.lr == 0.25


def test_param_groups_and_skipped_parameters():
    a = mg.tensor(np.zeros(2, np.float32), requires_grad=True)
    b = mg.tensor(np.zeros(2, np.float32), requires_grad=True)
    c = mg.tensor(np.zeros(2, np.float32), requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b, c], "lr": 0.1}], lr=1.0)
    a.grad, b.grad = mg.ones(2), mg.ones(2)      # c has no gradient: untouched
    opt.step()
    np.testing.assert_allclose(a.numpy(), [-1, -1])
    np.testing.assert_allclose(b.numpy(), [-0.1, -0.1])
    np.testing.assert_array_equal(c.numpy(), [0, 0])
    opt.zero_grad()
    assert a.grad is None and b.grad is None


def test_updates_are_in_place_and_record_nothing():
    model = mg.nn.Linear(3, 2)
    opt = optim.Adam(model.parameters(), lr=0.1)
    weight = model.weight
    array = weight.data
    model(mg.ones(4, 3)).sum().backward()
    opt.step()
    assert model.weight is weight and weight.data is array
    assert weight.is_leaf and weight.requires_grad and weight.node is None


def test_constructor_errors():
    p = mg.tensor(np.zeros(2, np.float32), requires_grad=True)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="lr"):
        optim.Adam([p], lr=-1.0)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(p, lr=0.1)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop"])
def test_optimizers_run_on_the_device_standin(engine_backend, name):
    kwargs = {"SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
              "Adam": dict(weight_decay=0.1), "AdamW": {},
              "RMSprop": dict(momentum=0.9, centered=True, weight_decay=0.1)}[name]
    model = mg.nn.Linear(3, 2)
    opt = getattr(optim, name)(model.parameters(), **kwargs)
    for _ in range(2):
        opt.zero_grad()
        model(mg.ones(4, 3)).sum().backward()
        opt.step()
    assert model.weight.backend == engine_backend
    state = opt.state_dict()
    arrays = [v for entry in state["state"] for v in entry.values() if hasattr(v, "shape")]
    assert arrays and all(isinstance(v, np.ndarray) for v in arrays)
    fresh = getattr(optim, name)(model.parameters(), **kwargs)
    fresh.load_state_dict(state)
    for entry in fresh.state.values():
        for value in entry.values():
            if hasattr(value, "shape"):
                assert type(value) is type(model.weight.data)
    fresh.step()


def test_state_follows_a_model_moved_between_backends(engine_backend):
    model = mg.nn.Linear(3, 2).to("numpy")
    opt = optim.Adam(model.parameters(), lr=0.1)
    model(mg.ones(4, 3, backend="numpy")).sum().backward()
    opt.step()
    model.to(engine_backend)
    opt.zero_grad()
    model(mg.ones(4, 3, backend=engine_backend)).sum().backward()
    opt.step()
    assert model.weight.backend == engine_backend
    for entry in opt.state.values():
        assert type(entry["exp_avg"]) is type(model.weight.data)
