"""mg.nn: layers, losses and clip_grad_norm_ against PyTorch and finite differences;
modules' state dicts, parameter order and train/eval."""
import numpy as np
import pytest

import minigrad as mg
from minigrad import nn

torch = pytest.importorskip("torch")

RNG = np.random.default_rng(1234)


def randn(*shape, dtype=np.float32):
    return RNG.standard_normal(shape).astype(dtype)


def close(actual, expected, atol=1e-5, rtol=1e-5, what=""):
    actual = actual.numpy() if hasattr(actual, "numpy") and not isinstance(actual, np.ndarray) \
        else np.asarray(actual)
    if isinstance(expected, torch.Tensor):
        expected = expected.detach().numpy()
    np.testing.assert_allclose(actual, expected, atol=atol, rtol=rtol, err_msg=what)


def load_torch(module, torch_module):
    module.load_state_dict({k: v.detach().numpy() for k, v in torch_module.state_dict().items()})
    return module


def to64(module):
    for param in module.parameters():
        param.data = param.data.astype(np.float64)
    return module


# --------------------------------------------------------------------------- layers

@pytest.mark.parametrize("lead", [(5,), (2, 3), (2, 3, 2), ()])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(lead, bias):
    ours = nn.Linear(4, 3, bias=bias)
    theirs = torch.nn.Linear(4, 3, bias=bias)
    load_torch(ours, theirs)
    x_np = randn(*lead, 4)
    x = mg.tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    assert y.shape == tuple(yt.shape)
    close(y, yt, what="Linear forward")
    g = randn(*y.shape)
    y.backward(g)
    yt.backward(torch.tensor(g))
    close(x.grad, xt.grad, what="grad x")
    close(ours.weight.grad, theirs.weight.grad, what="grad weight")
    if bias:
        close(ours.bias.grad, theirs.bias.grad, what="grad bias")
    else:
        assert ours.bias is None and [n for n, _ in ours.named_parameters()] == ["weight"]


def test_linear_default_init_shapes_and_bounds():
    layer = nn.Linear(16, 7)
    assert layer.weight.shape == (7, 16) and layer.bias.shape == (7,)
    assert layer.weight.dtype == mg.float32
    bound = 1 / np.sqrt(16)
    for p in (layer.weight, layer.bias):
        values = p.numpy()
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.5 * bound     # uses the range, is not zeros
    mg.manual_seed(3)
    a = nn.Linear(5, 5).weight.numpy()
    mg.manual_seed(3)
    b = nn.Linear(5, 5).weight.numpy()
    np.testing.assert_array_equal(a, b)


def test_linear_wrong_input_size_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 5\).*in_features=4"):
        nn.Linear(4, 3)(mg.zeros(2, 5))


@pytest.mark.parametrize("shape", [6, (6,), (3, 4)])
def test_layernorm_matches_torch(shape):
    theirs = torch.nn.LayerNorm(shape, eps=1e-5)
    with torch.no_grad():   # non-trivial affine parameters
        theirs.weight.copy_(torch.randn(theirs.weight.shape))
        theirs.bias.copy_(torch.randn(theirs.bias.shape))
    ours = load_torch(nn.LayerNorm(shape), theirs)
    tail = (shape,) if isinstance(shape, int) else shape
    x_np = randn(2, 5, *tail) * 3 + 1
    x = mg.tensor(x_np, requires_grad=True)
    xt = torch.tensor(x_np, requires_grad=True)
    y, yt = ours(x), theirs(xt)
    close(y, yt, atol=1e-5, what="LayerNorm forward")
    g = randn(*y.shape)
    y.backward(g)
    yt.backward(torch.tensor(g))
    close(x.grad, xt.grad, atol=1e-4, what="grad x")
    close(ours.weight.grad, theirs.weight.grad, atol=1e-4, what="grad weight")
    close(ours.bias.grad, theirs.bias.grad, atol=1e-4, what="grad bias")


def test_layernorm_defaults():
    norm = nn.LayerNorm(3)
    np.testing.assert_array_equal(norm.weight.numpy(), np.ones(3, np.float32))
    np.testing.assert_array_equal(norm.bias.numpy(), np.zeros(3, np.float32))
    y = nn.LayerNorm(3, elementwise_affine=False)(mg.tensor([[1.0, 2.0, 3.0]]))
    close(y, [[-1.2247438, 0.0, 1.2247438]], atol=1e-4)
    with pytest.raises(ValueError, match=r"\(2, 4\).*\(3,\)"):
        norm(mg.zeros(2, 4))


def test_embedding_matches_torch_with_repeated_indices():
    theirs = torch.nn.Embedding(10, 4)
    ours = load_torch(nn.Embedding(10, 4), theirs)
    idx = np.array([[1, 2, 1], [9, 1, 0]])
    for index in (idx, mg.tensor(idx), idx.tolist()):
        ours.zero_grad()
        theirs.zero_grad()
        y, yt = ours(index), theirs(torch.tensor(idx))
        assert y.shape == (2, 3, 4)
        close(y, yt)
        g = randn(2, 3, 4)
        y.backward(g)
        yt.backward(torch.tensor(g))
        close(ours.weight.grad, theirs.weight.grad, what="repeated rows accumulate")
    with pytest.raises(TypeError, match="integers"):
        ours(np.array([0.5]))


def test_embedding_init_is_standard_normal():
    w = nn.Embedding(1000, 50).weight.numpy()
    assert w.shape == (1000, 50) and w.dtype == np.float32
    assert abs(w.mean()) < 0.02 and abs(w.std() - 1) < 0.02


def test_dropout_inverted_and_identity_in_eval():
    drop = nn.Dropout(0.25)
    x = mg.ones(200, 500)
    y = drop(x).numpy()
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)   # scaled at train time
    assert abs(y.mean() - 1.0) < 0.01                           # so the mean is preserved
    drop.eval()
    assert drop(x) is x


def test_train_eval_toggles_every_submodule():
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(nn.Dropout(0.5), nn.Linear(3, 2)))
    assert all(m.training for m in model.modules())
    assert model.eval() is model
    assert not any(m.training for m in model.modules())
    x = mg.ones(4, 3)
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())   # deterministic
    model.train()
    assert all(m.training for m in model.modules())
    assert model[1][0].training


def test_sequential_order_names_and_indexing():
    model = nn.Sequential(nn.Linear(2, 3), nn.LayerNorm(3), nn.Linear(3, 1))
    assert [n for n, _ in model.named_parameters()] == [
        "0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"]
    assert len(model) == 3 and isinstance(model[1], nn.LayerNorm)
    assert [type(m) for m in model[1:]] == [nn.LayerNorm, nn.Linear]
    x = mg.randn(4, 2)
    np.testing.assert_array_equal(model(x).numpy(), model[2](model[1](model[0](x))).numpy())


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(2, 2)
        self.scale = nn.Parameter(mg.ones(2))
        self.layers = [nn.Linear(2, 2), nn.Linear(2, 1, bias=False)]
        self.norm = nn.LayerNorm(2)


def test_named_parameters_dotted_registration_order():
    assert [n for n, _ in Block().named_parameters()] == [
        "scale", "proj.weight", "proj.bias", "layers.0.weight", "layers.0.bias",
        "layers.1.weight", "norm.weight", "norm.bias"]


def test_load_state_dict_names_every_problem():
    block = Block()
    state = block.state_dict()
    del state["proj.bias"]
    state["proj.weight"] = np.zeros((3, 2), np.float32)
    state["layers.1.weight"] = np.zeros((2, 2), np.float32)
    state["extra.weight"] = np.zeros(1, np.float32)
    before = block.proj.weight.numpy().copy()
    with pytest.raises((KeyError, ValueError)) as info:
        block.load_state_dict(state)
    message = str(info.value)
    for piece in ("'proj.bias'", "'extra.weight'", "'proj.weight'", "(3, 2)", "(2, 2)",
                  "'layers.1.weight'", "(1, 2)"):
        assert piece in message, f"{piece} not named in: {message}"
    np.testing.assert_array_equal(block.proj.weight.numpy(), before)   # nothing loaded


def test_load_state_dict_non_strict_and_round_trip():
    a, b = Block(), Block()
    state = a.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    b.load_state_dict(state)
    for (n1, p1), (n2, p2) in zip(a.named_parameters(), b.named_parameters()):
        np.testing.assert_array_equal(p1.numpy(), p2.numpy(), err_msg=n1)
    state["proj.weight"][...] = 7      # the model owns copies, not the caller's arrays
    assert not (b.proj.weight.numpy() == 7).any()
    partial = {"proj.bias": np.full(2, 5, np.float32), "unknown": np.zeros(1)}
    b.load_state_dict(partial, strict=False)
    np.testing.assert_array_equal(b.proj.bias.numpy(), [5, 5])


def test_load_torch_state_dict_gives_same_outputs():
    theirs = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.LayerNorm(8),
                                 torch.nn.Linear(8, 3))
    with torch.no_grad():
        theirs[1].weight.copy_(torch.randn(8))
        theirs[1].bias.copy_(torch.randn(8))
    ours = load_torch(nn.Sequential(nn.Linear(5, 8), nn.LayerNorm(8), nn.Linear(8, 3)), theirs)
    x = randn(4, 6, 5)
    close(ours(mg.tensor(x)), theirs(torch.tensor(x)), atol=1e-5)


# --------------------------------------------------------------------------- losses

def _loss_pair(our_fn, torch_fn, inputs, constants, **kwargs):
    ours = [mg.tensor(a, requires_grad=True) for a in inputs]
    theirs = [torch.tensor(a, requires_grad=True) for a in inputs]
    loss = our_fn(*ours, *constants, **kwargs)
    loss_t = torch_fn(*theirs, *[torch.as_tensor(c) for c in constants], **kwargs)
    assert loss.shape == ()
    close(loss, loss_t, atol=1e-5, what="loss value")
    loss.backward()
    loss_t.backward()
    for a, b in zip(ours, theirs):
        close(a.grad, b.grad, atol=1e-6, what="loss gradient")


def test_mse_loss_matches_torch():
    _loss_pair(nn.mse_loss, torch.nn.functional.mse_loss, [randn(4, 3)], [randn(4, 3)])
    pred, target = mg.tensor(randn(3), requires_grad=True), mg.tensor(randn(3), requires_grad=True)
    nn.mse_loss(pred, target).backward()
    np.testing.assert_allclose(target.grad.numpy(), -pred.grad.numpy())


def test_mse_loss_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        nn.mse_loss(mg.zeros(4, 1), mg.zeros(4))


def _torch_ce(logits, target, ignore_index=None):
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}
    return torch.nn.functional.cross_entropy(logits, target, **kwargs)


@pytest.mark.parametrize("shape", [(6, 5), (3, 7, 4)])
@pytest.mark.parametrize("ignore_index", [None, -100, 2])
def test_cross_entropy_matches_torch(shape, ignore_index):
    logits = randn(*shape) * 3      # the classes are axis 1, as PyTorch
    target = RNG.integers(0, shape[1], (shape[0], *shape[2:]))
    if ignore_index is not None:
        target.reshape(-1)[::3] = ignore_index
    _loss_pair(nn.cross_entropy, _torch_ce, [logits], [target], ignore_index=ignore_index)


def test_cross_entropy_target_forms_and_stability():
    logits = mg.tensor([[1000.0, 0.0], [0.0, -1000.0]], requires_grad=True)
    loss = nn.cross_entropy(logits, [1, 1])
    assert np.isfinite(loss.item()) and abs(loss.item() - (1000 + 1000) / 2) < 1e-2
    loss.backward()
    assert np.isfinite(logits.grad.numpy()).all()
    a = nn.cross_entropy(mg.tensor(randn(3, 4)), mg.tensor(np.array([0, 1, 3])))
    assert a.dtype == np.float32


def test_cross_entropy_errors_name_shapes():
    with pytest.raises(ValueError, match=r"\(4, 5\).*\(3,\)"):
        nn.cross_entropy(mg.zeros(4, 5), np.zeros(3, np.int64))
    with pytest.raises(ValueError, match=r"\(2, 3, 5\).*\(3, 2\)"):
        nn.cross_entropy(mg.zeros(2, 3, 5), np.zeros((3, 2), np.int64))
    with pytest.raises(TypeError, match="integer"):
        nn.cross_entropy(mg.zeros(2, 5), np.zeros(2))
    with pytest.raises(IndexError, match=r"\[0, 5\)"):
        nn.cross_entropy(mg.zeros(2, 5), np.array([0, 5]))


def test_cross_entropy_all_ignored_is_nan_like_torch():
    loss = nn.cross_entropy(mg.zeros(2, 3), np.array([-1, -1]), ignore_index=-1)
    assert np.isnan(loss.item())


def test_bce_with_logits_matches_torch():
    logits = randn(5, 4) * 10
    logits[0, 0] = 0.0      # the kink of max(x, 0) and |x|: gradient sigmoid(0) - y
    logits[0, 1] = 80.0     # exp(-x) underflows, exp(x) would overflow
    logits[0, 2] = -80.0
    target = RNG.random((5, 4)).astype(np.float32)
    _loss_pair(nn.binary_cross_entropy_with_logits,
               torch.nn.functional.binary_cross_entropy_with_logits, [logits], [target])
    with pytest.raises(ValueError, match=r"\(5, 4\).*\(5,\)"):
        nn.binary_cross_entropy_with_logits(mg.zeros(5, 4), mg.zeros(5))


# --------------------------------------------------------------------------- gradcheck

def f64(*shape):
    return mg.tensor(RNG.standard_normal(shape), requires_grad=True)


def test_gradcheck_losses():
    pred, target = f64(3, 4), f64(3, 4)
    assert mg.gradcheck(nn.mse_loss, [pred, target])
    logits = f64(2, 5, 3)
    target = np.array([[0, 4, 2], [1, -1, 3]])
    assert mg.gradcheck(lambda x: nn.cross_entropy(x, target, ignore_index=-1), [logits])
    assert mg.gradcheck(lambda x: nn.cross_entropy(x, target[0]), [f64(3, 5)])
    probs = mg.tensor(RNG.random((3, 4)))
    assert mg.gradcheck(nn.binary_cross_entropy_with_logits, [f64(3, 4), probs])


def test_gradcheck_linear_and_layernorm():
    linear = to64(nn.Linear(4, 3))
    x = f64(2, 2, 4)
    assert mg.gradcheck(lambda x, w, b: linear(x), [x, linear.weight, linear.bias])
    norm = to64(nn.LayerNorm(5))
    norm.weight.data = RNG.standard_normal(5)
    norm.bias.data = RNG.standard_normal(5)
    assert mg.gradcheck(lambda x, w, b: norm(x), [f64(3, 5), norm.weight, norm.bias])


# --------------------------------------------------------------------------- clipping

@pytest.mark.parametrize("max_norm", [0.5, 100.0])
@pytest.mark.parametrize("norm_type", [2.0, float("inf")])
def test_clip_grad_norm_matches_torch(max_norm, norm_type):
    grads = [randn(3, 4), randn(5), randn(2, 2, 2)]
    ours = [mg.tensor(np.zeros_like(g), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, requires_grad=True) for g in grads]
    for p, pt, g in zip(ours, theirs, grads):
        p.grad = mg.tensor(g)
        pt.grad = torch.tensor(g)
    extra = mg.tensor(np.zeros(3, np.float32), requires_grad=True)   # grad None: skipped
    total = nn.clip_grad_norm_(ours + [extra], max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    assert isinstance(total, float)
    assert abs(total - total_t.item()) < 1e-5 * total
    for p, pt in zip(ours, theirs):
        close(p.grad, pt.grad, atol=1e-6)
    assert extra.grad is None


# --------------------------------------------------------------------------- backends

def test_layers_losses_run_on_the_device_standin(engine_backend):
    model = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.Dropout(0.1), nn.Linear(4, 5))
    emb = nn.Embedding(7, 3)
    assert model[0].weight.backend == engine_backend
    tokens = mg.tensor(np.array([[1, 2], [3, 1]]), backend=engine_backend)
    logits = model(emb(tokens))
    loss = nn.cross_entropy(logits.permute(0, 2, 1), tokens, ignore_index=2) + \
        nn.mse_loss(logits, mg.zeros(2, 2, 5, backend=engine_backend)) + \
        nn.binary_cross_entropy_with_logits(logits, mg.ones(2, 2, 5, backend=engine_backend))
    loss.backward()
    total = nn.clip_grad_norm_(model.parameters() + emb.parameters(), 0.1)
    assert isinstance(total, float) and total > 0
    assert all(p.grad.backend == engine_backend for p in model.parameters())
    state = model.state_dict()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    model.load_state_dict(state)
    assert model[0].weight.backend == engine_backend


# --------------------------------------------------------------------------- edges

def _clip_both(grads, max_norm, norm_type, dtype=np.float32):
    ours = [mg.tensor(np.zeros(g.shape, dtype), requires_grad=True) for g in grads]
    theirs = [torch.zeros(g.shape, dtype=getattr(torch, np.dtype(dtype).name),
                          requires_grad=True) for g in grads]
    for p, pt, g in zip(ours, theirs, grads):
        p.grad = mg.tensor(g.astype(dtype))
        pt.grad = torch.tensor(g.astype(dtype))
    total = nn.clip_grad_norm_(ours, max_norm, norm_type=norm_type)
    total_t = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type=norm_type)
    return total, total_t.item(), ours, theirs


@pytest.mark.parametrize("norm_type", [0, 0.5, 1, 3, -1, float("-inf"), float("inf")])
def test_clip_grad_norm_every_norm_type_matches_torch(norm_type):
    grads = [np.array([0.0, 3.0, 4.0]), np.zeros(2), np.array([1.0, -2.0]), randn(3, 2)]
    total, total_t, ours, theirs = _clip_both(grads, 1.0, norm_type)
    assert total == pytest.approx(total_t, rel=1e-5), norm_type
    for p, pt in zip(ours, theirs):
        close(p.grad, pt.grad, atol=1e-6, what=f"norm_type {norm_type}")


def test_clip_grad_norm_sums_float16_in_float32():
    grads = [np.full(1, 300.0)] * 4
    total, total_t, ours, _ = _clip_both(grads, 1000.0, 2.0, np.float16)
    assert total == total_t == 600.0
    assert all(p.grad.numpy()[0] == 300.0 for p in ours)      # kept, not zeroed
    total, total_t, ours, theirs = _clip_both(grads, 100.0, 2.0, np.float16)
    assert total == 600.0
    close(ours[0].grad.numpy().astype(np.float32), theirs[0].grad.float(), rtol=1e-3)


@pytest.mark.parametrize("max_norm, norm_type", [(-1.0, 2.0), (float("nan"), 2.0),
                                                 (1.0, float("nan")), ("1", 2.0)])
def test_clip_grad_norm_refuses_bad_arguments_and_leaves_the_gradients(max_norm, norm_type):
    p = mg.tensor(np.zeros(3, np.float32), requires_grad=True)
    p.grad = mg.tensor(np.array([1.0, -2.0, 3.0], np.float32))
    with pytest.raises(ValueError, match="clip_grad_norm_"):
        nn.clip_grad_norm_([p], max_norm, norm_type=norm_type)
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, -2.0, 3.0])


def test_cross_entropy_ignores_rows_with_inf_and_nan_logits_like_torch():
    logits = np.array([[1.0, 2.0, 3.0], [np.inf, 0.0, 1.0], [np.nan, 1.0, 1.0],
                       [0.5, -0.5, 2.0]], np.float32)
    target = np.array([0, 9, 9, 2])
    x = mg.tensor(logits, requires_grad=True)
    loss = nn.cross_entropy(x, target, ignore_index=9)
    loss.backward()
    xt = torch.tensor(logits, requires_grad=True)
    loss_t = torch.nn.functional.cross_entropy(xt, torch.tensor(target), ignore_index=9)
    loss_t.backward()
    close(loss, loss_t)
    close(x.grad.numpy()[[0, 3]], xt.grad[[0, 3]])
    np.testing.assert_array_equal(x.grad.numpy()[[1, 2]], 0.0)   # PyTorch: NaN here


@pytest.mark.filterwarnings("ignore:invalid value")        # inf - inf: NaN is the answer
def test_bce_with_logits_at_infinite_logits_matches_torch():
    xs = np.array([-np.inf, -100.0, -1.0, 0.0, 1.0, 100.0, np.inf], np.float32)
    for y in (0.0, 0.3, 1.0):
        for value in xs:
            x = mg.tensor(np.array([value], np.float32), requires_grad=True)
            ours = nn.binary_cross_entropy_with_logits(x, np.array([y], np.float32))
            xt = torch.tensor([value], requires_grad=True)
            theirs = torch.nn.functional.binary_cross_entropy_with_logits(
                xt, torch.tensor([y]))
            np.testing.assert_allclose(ours.item(), theirs.item(), rtol=1e-6, atol=1e-30,
                                       err_msg=f"logit {value}, target {y}")
            if np.isfinite(value):
                ours.backward()
                theirs.backward()
                close(x.grad, xt.grad, what=f"gradient at logit {value}, target {y}")


def test_load_state_dict_checks_castability_before_loading_anything():
    model = nn.Sequential(nn.Linear(2, 3), nn.Linear(3, 1))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    state = {k: np.zeros_like(v) for k, v in before.items()}
    state["1.weight"] = np.array([["a", "b", "c"]])
    state["1.bias"] = np.array([1 + 2j])
    with pytest.raises(ValueError) as info:
        model.load_state_dict(state)
    message = str(info.value)
    assert "'1.weight'" in message and "<U1" in message and "'1.bias'" in message
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, before[name], err_msg=name)
    state["1.weight"] = np.zeros((1, 3), np.int64)          # ints cast, as PyTorch's copy_
    state["1.bias"] = np.ones(1, np.float64)
    model.load_state_dict(state)
    assert model[1].weight.dtype == np.float32 and model[1].bias.item() == 1.0


@pytest.mark.parametrize("bad", [[1, 2], None, "weights"])
def test_load_state_dict_of_a_non_mapping_is_a_type_error(bad):
    with pytest.raises(TypeError, match=r"load_state_dict into Linear: expected a mapping"):
        nn.Linear(2, 3).load_state_dict(bad)


def test_linear_refuses_0d_and_non_tensor_input():
    layer = nn.Linear(1, 2)
    with pytest.raises(ValueError, match=r"Linear: input shape \(\) does not end in"):
        layer(mg.tensor(1.0))
    with pytest.raises(TypeError, match="Linear: input must be a Tensor, got list"):
        layer([1.0])
