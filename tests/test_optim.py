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


# --------------------------------------------------------------------------- edges

@pytest.mark.parametrize("case", [c for c in CASES], ids=[_ids(c) for c in CASES])
def test_zero_dimensional_parameters_match_torch(case):
    """A 0-d parameter: NumPy's 0-d arithmetic gives scalars, which once stopped SGD's
    momentum buffer from accumulating."""
    name, kwargs = case
    ours = mg.tensor(np.array(0.5, np.float32), requires_grad=True)
    theirs = torch.tensor(0.5, requires_grad=True)
    opt = getattr(optim, name)([ours], **kwargs)
    opt_t = getattr(torch.optim, name)([theirs], **kwargs)
    for g in (0.3, -1.2, 0.7, 0.1, -0.4):
        ours.grad = mg.tensor(np.array(g, np.float32))
        theirs.grad = torch.tensor(g)
        opt.step()
        opt_t.step()
    assert ours.shape == ()
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_sgd_momentum_and_weight_decay_on_a_0d_parameter_is_torchs_number():
    p = mg.tensor(np.array(1.0, np.float32), requires_grad=True)
    pt = torch.tensor(1.0, requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, weight_decay=0.1)
    opt_t = torch.optim.SGD([pt], lr=0.1, momentum=0.9, weight_decay=0.1)
    for _ in range(5):
        p.grad, pt.grad = mg.tensor(np.array(1.0, np.float32)), torch.tensor(1.0)
        opt.step()
        opt_t.step()
    assert isinstance(opt.state[id(p)]["momentum_buffer"], np.ndarray)
    np.testing.assert_allclose(p.item(), pt.item(), rtol=1e-6)


def _stepped(name, **kwargs):
    p = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    opt = getattr(optim, name)([p], **kwargs)
    p.grad = mg.ones(3)
    opt.step()
    return p, opt


@pytest.mark.parametrize("source, target", [
    (("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", {})),
    (("Adam", {}), ("SGD", dict(lr=0.1, momentum=0.9))),
    (("RMSprop", {}), ("Adam", {})),
    (("Adam", {}), ("RMSprop", {})),
])
def test_a_state_of_another_optimizer_is_refused_and_nothing_changes(source, target):
    _, opt = _stepped(source[0], **source[1])
    state = opt.state_dict()
    p, other = _stepped(target[0], **target[1])
    before = other.state_dict()
    with pytest.raises(ValueError, match="another optimizer"):
        other.load_state_dict(state)
    after = other.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for a, b in zip(after["state"], before["state"]):
        assert a.keys() == b.keys()
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    other.step()                                          # still works


def test_state_that_cannot_be_cast_is_refused_before_anything_changes():
    a = mg.tensor(np.ones(3, np.float32), requires_grad=True)
    b = mg.tensor(np.ones(2, np.float32), requires_grad=True)
    opt = optim.Adam([a, b], lr=0.1)
    a.grad, b.grad = mg.ones(3), mg.ones(2)
    opt.step()
    state = opt.state_dict()
    state["param_groups"][0]["lr"] = 0.5
    state["state"][1]["exp_avg"] = np.array(["x", "y"])
    with pytest.raises(ValueError, match=r"parameter 1: state 'exp_avg' holds dtype <U1"):
        opt.load_state_dict(state)
    assert opt.lr == 0.1
    state["state"][1]["exp_avg"] = np.zeros(2)
    state["state"][1]["step"] = "one"
    with pytest.raises(ValueError, match=r"parameter 1: state 'step'"):
        opt.load_state_dict(state)
    state["state"][1]["step"] = 1
    state["param_groups"][0]["betas"] = [0.9]
    with pytest.raises(ValueError, match=r"group 0: invalid betas"):
        opt.load_state_dict(state)
    assert opt.lr == 0.1 and opt.state[id(a)]["step"] == 1


@pytest.mark.parametrize("bad", [[1, 2], None, {"state": 3, "param_groups": []},
                                 {"state": [], "param_groups": [{"lr": 1}]}])
def test_load_state_dict_of_the_wrong_form_is_a_type_error(bad):
    _, opt = _stepped("SGD", lr=0.1)
    with pytest.raises(TypeError, match="SGD.load_state_dict"):
        opt.load_state_dict(bad)


def test_hyperparameter_errors_are_clear():
    p = mg.tensor(np.zeros(2, np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"betas.*pair"):
        optim.Adam([p], betas=(0.9,))
    with pytest.raises(ValueError, match=r"beta parameter at index 1"):
        optim.AdamW([p], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([p], lr=0.1, momentum=float("nan"))
    optim.SGD([p], lr=np.float32(0.1))                    # NumPy numbers are numbers


def test_a_parameter_listed_twice_says_where():
    p = mg.tensor(np.zeros(2, np.float32), requires_grad=True)
    q = mg.tensor(np.zeros(2, np.float32), requires_grad=True)
    with pytest.raises(ValueError, match=r"twice in group 0 \(positions 0 and 2\)"):
        optim.SGD([p, q, p], lr=0.1)
    with pytest.raises(ValueError, match=r"twice in groups 0 and 1 \(positions 1 and 0\)"):
        optim.SGD([{"params": [q, p]}, {"params": [p]}], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1 of group 0 is int"):
        optim.SGD([p, 3], lr=0.1)
