"""The losses of ``mg.nn.functional`` and their modules against PyTorch: values and
gradients for every combination of options (hypothesis draws the shapes and options),
float64 gradchecks, each loss inside ``mg.fuse`` equal to the same loss op by op, and
the errors for bad arguments.
"""
import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import minigrad as mg
from minigrad import nn
from minigrad.nn import functional as F

TF = torch.nn.functional

FAST = settings(max_examples=60, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture])
REDUCTIONS = st.sampled_from(["mean", "sum", "none"])
seeds = st.integers(0, 2**16)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def as_torch(value, requires_grad=False):
    return torch.tensor(value, requires_grad=requires_grad)


def compare(ours, theirs, arrays, wants_grad, what, rtol=1e-10, atol=1e-12):
    """Run ``ours(*tensors)`` and ``theirs(*torch_tensors)`` on float64 copies of
    ``arrays`` and check the losses and the gradients of the inputs in ``wants_grad``."""
    mine = [mg.tensor(a, requires_grad=w) for a, w in zip(arrays, wants_grad)]
    reference = [as_torch(a, w) for a, w in zip(arrays, wants_grad)]
    loss, loss_t = ours(*mine), theirs(*reference)
    assert loss.shape == tuple(loss_t.shape), what
    assert loss.dtype == np.float64, what
    np.testing.assert_allclose(loss.numpy(), loss_t.detach().numpy(), rtol=rtol, atol=atol,
                               err_msg=f"{what}: value")
    # a fixed cotangent, so that 'none' checks every element's gradient
    cotangent = np.random.default_rng(0).standard_normal(loss.shape)
    loss.backward(mg.tensor(cotangent))
    loss_t.backward(torch.tensor(cotangent))
    for k, (a, b, w) in enumerate(zip(mine, reference, wants_grad)):
        if w:
            np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-9, atol=1e-12,
                                       err_msg=f"{what}: gradient of input {k}")


def gradcheck(fn, arrays, wants_grad):
    inputs = [mg.tensor(np.asarray(a, np.float64), requires_grad=w)
              for a, w in zip(arrays, wants_grad)]
    assert mg.gradcheck(fn, inputs)


# --------------------------------------------------------------------------- regression

REGRESSION = {
    # name -> (ours, torch's, options drawn, whether it takes weight=)
    "mse_loss": (F.mse_loss, TF.mse_loss, {}, True),
    "l1_loss": (F.l1_loss, TF.l1_loss, {}, True),
    "smooth_l1_loss": (F.smooth_l1_loss, TF.smooth_l1_loss,
                       {"beta": st.sampled_from([0.0, 0.5, 1.0, 2.5])}, False),
    "huber_loss": (F.huber_loss, TF.huber_loss,
                   {"delta": st.sampled_from([0.3, 1.0, 2.0])}, True),
}


@st.composite
def regression_cases(draw):
    name = draw(st.sampled_from(sorted(REGRESSION)))
    ours, theirs, drawn, takes_weight = REGRESSION[name]
    options = {key: draw(strategy) for key, strategy in drawn.items()}
    options["reduction"] = draw(REDUCTIONS)
    weighted = takes_weight and draw(st.booleans())
    shape = draw(shapes)
    rng = np.random.default_rng(draw(seeds))
    arrays = [rng.standard_normal(shape) * 2, rng.standard_normal(shape) * 2]
    if weighted:
        arrays.append(rng.uniform(0.1, 2.0, shape))
    return name, ours, theirs, options, arrays


def _with_weight(fn, options):
    def call(input, target, weight=None):
        extra = {} if weight is None else {"weight": weight}
        return fn(input, target, **options, **extra)
    return call


@FAST
@given(regression_cases())
def test_regression_losses_match_torch(case):
    name, ours, theirs, options, arrays = case
    wants = [True, True, False]
    compare(_with_weight(ours, options), _with_weight(theirs, options), arrays,
            wants[:len(arrays)], f"{name} {options} weighted={len(arrays) == 3}")


@FAST
@given(regression_cases())
def test_regression_losses_gradcheck(case):
    name, ours, _, options, arrays = case
    gradcheck(_with_weight(ours, options), arrays, [True, True, False][:len(arrays)])


def test_regression_losses_at_their_kinks_match_torch():
    # d = 0 (|d|'s subgradient 0), d = +-beta/delta (the branch taken at the boundary)
    input = np.array([0.0, 1.0, -1.0, 0.5, 2.0, -0.5])
    target = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0])
    kinks = {"mse_loss": [{}], "l1_loss": [{}], "smooth_l1_loss": [{"beta": 1.0},
                                                                  {"beta": 0.5}],
             "huber_loss": [{"delta": 1.0}, {"delta": 0.5}]}
    for name, (ours, theirs, _, _) in REGRESSION.items():
        for options in kinks[name]:
            compare(lambda x, y: ours(x, y, reduction="none", **options),
                    lambda x, y: theirs(x, y, reduction="none", **options),
                    [input, target], [True, True], f"{name} {options} at the kinks")


# --------------------------------------------------------------------------- classification

@st.composite
def classification_cases(draw):
    """An input (N, C, d...) or (C,), a target of class indices or probabilities, and
    the options that apply."""
    classes = draw(st.integers(1, 5))
    unbatched = draw(st.integers(0, 5)) == 0
    positions = () if unbatched else (draw(st.integers(1, 4)), *draw(
        hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3)))
    shape = (classes,) if unbatched else (positions[0], classes, *positions[1:])
    rng = np.random.default_rng(draw(seeds))
    logits = rng.standard_normal(shape) * 2
    options = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):
        options["weight"] = rng.uniform(0.2, 2.0, classes)
    soft = draw(st.integers(0, 3)) == 0
    # an index target that also fits minigrad's (N, T, C) reading is read that way
    # (test_sequence_layout_with_classes_last); PyTorch's reading is checked elsewhere
    assume(unbatched or len(shape) < 3 or tuple(positions) != shape[:-1])
    if soft:
        target = rng.dirichlet(np.ones(classes), positions or None)
        if not unbatched:
            target = np.moveaxis(target, -1, 1)
    else:
        target = rng.integers(0, classes, positions)
        ignore = draw(st.sampled_from([None, -100, 0, classes - 1]))
        if ignore is not None:
            options["ignore_index"] = ignore
            if target.ndim and draw(st.booleans()):
                target.reshape(-1)[::2] = ignore
    smoothing = draw(st.sampled_from([0.0, 0.0, 0.1, 0.7]))
    return logits, np.asarray(target), soft, options, smoothing


def _torch_options(options):
    options = dict(options)
    if options.get("weight") is not None:
        options["weight"] = as_torch(options["weight"])
    if options.get("ignore_index", 0) is None:
        options.pop("ignore_index")
    return options


@FAST
@given(classification_cases())
def test_cross_entropy_matches_torch(case):
    logits, target, soft, options, smoothing = case
    options = dict(options, label_smoothing=smoothing)
    if soft:
        compare(lambda x, t: F.cross_entropy(x, t, **options),
                lambda x, t: TF.cross_entropy(x, t, **_torch_options(options)),
                [logits, target], [True, True], f"soft cross_entropy {options}")
    else:
        compare(lambda x: F.cross_entropy(x, target, **options),
                lambda x: TF.cross_entropy(x, torch.tensor(target), **_torch_options(options)),
                [logits], [True], f"cross_entropy {options}", atol=1e-11)


@FAST
@given(classification_cases())
def test_nll_loss_matches_torch(case):
    logits, target, soft, options, _ = case
    if soft:
        target = np.argmax(target, axis=0 if target.ndim == 1 else 1)
    log_probs = logits - np.log(np.exp(logits).sum(axis=0 if logits.ndim == 1 else 1,
                                                   keepdims=True))
    compare(lambda x: F.nll_loss(x, target, **options),
            lambda x: TF.nll_loss(x, torch.tensor(target), **_torch_options(options)),
            [log_probs], [True], f"nll_loss {options}")


@FAST
@given(classification_cases())
def test_cross_entropy_gradcheck(case):
    logits, target, soft, options, smoothing = case
    options = dict(options, label_smoothing=smoothing)
    # a mean over no counted targets is NaN (as torch): no gradient to check there
    # (test_cross_entropy_all_ignored_and_empty_are_nan_like_torch has that case)
    assume(np.isfinite(F.cross_entropy(mg.tensor(logits), target, **options).numpy()).all())
    if soft:
        gradcheck(lambda x, t: F.cross_entropy(x, t, **options), [logits, target],
                  [True, True])
    else:
        gradcheck(lambda x: F.cross_entropy(x, target, **options), [logits], [True])
        gradcheck(lambda x: F.nll_loss(x, target, **{k: v for k, v in options.items()
                                                     if k != "label_smoothing"}),
                  [logits], [True])


def test_cross_entropy_all_ignored_and_empty_are_nan_like_torch():
    for reduction in ("mean", "sum", "none"):
        ours = F.cross_entropy(mg.zeros(2, 3), np.array([1, 1]), ignore_index=1,
                               reduction=reduction)
        theirs = TF.cross_entropy(torch.zeros(2, 3), torch.tensor([1, 1]), ignore_index=1,
                                  reduction=reduction)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for loss in (F.cross_entropy, F.nll_loss):
        assert np.isnan(loss(mg.zeros(0, 3), np.zeros(0, np.int64)).item())
    # class weights that pick only zeros: 0 / 0 as well
    weight = np.array([0.0, 1.0, 1.0], np.float32)
    ours = F.cross_entropy(mg.zeros(2, 3), np.array([0, 0]), weight=weight).item()
    theirs = TF.cross_entropy(torch.zeros(2, 3), torch.tensor([0, 0]),
                              weight=torch.tensor(weight)).item()
    assert np.isnan(ours) and np.isnan(theirs)


def test_nll_loss_ignores_rows_of_minus_infinity():
    with np.errstate(divide="ignore"):
        log_probs = np.log(np.array([[0.5, 0.5, 0.0], [0.0, 0.0, 1.0]]))   # -inf entries
    x = mg.tensor(log_probs, requires_grad=True)
    loss = F.nll_loss(x, np.array([1, -100]), reduction="sum")
    loss.backward()
    assert loss.item() == pytest.approx(np.log(2))
    np.testing.assert_array_equal(x.grad.numpy(), [[0, -1, 0], [0, 0, 0]])


def test_cross_entropy_keeps_float32_and_accepts_lists_and_tensors():
    logits = mg.tensor(np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32))
    for target in ([0, 1, 3], np.array([0, 1, 3]), mg.tensor(np.array([0, 1, 3]))):
        loss = F.cross_entropy(logits, target)
        assert loss.dtype == np.float32
    weight = mg.tensor(np.ones(4, np.float32))
    assert F.cross_entropy(logits, [0, 1, 3], weight=weight).item() == \
        pytest.approx(loss.item())


# --------------------------------------------------------------------------- binary

@st.composite
def binary_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    rng = np.random.default_rng(draw(seeds))
    options = {"reduction": draw(REDUCTIONS)}
    if draw(st.booleans()):      # broadcast over the leading axes, as PyTorch allows
        options["weight"] = rng.uniform(0.2, 2.0, shape[draw(st.integers(0, len(shape))):])
    if draw(st.booleans()):
        options["pos_weight"] = rng.uniform(0.2, 3.0, shape[-1:])
    return rng, shape, options


def _binary_torch(options):
    return {k: as_torch(v) if isinstance(v, np.ndarray) else v for k, v in options.items()}


@FAST
@given(binary_cases())
def test_binary_cross_entropy_matches_torch_and_gradchecks(case):
    rng, shape, options = case
    options.pop("pos_weight", None)
    probs, target = rng.uniform(0.05, 0.95, shape), rng.uniform(0.0, 1.0, shape)
    compare(lambda p, y: F.binary_cross_entropy(p, y, **options),
            lambda p, y: TF.binary_cross_entropy(p, y, **_binary_torch(options)),
            [probs, target], [True, True], f"binary_cross_entropy {options}")
    gradcheck(lambda p, y: F.binary_cross_entropy(p, y, **options), [probs, target],
              [True, True])


@FAST
@given(binary_cases())
def test_binary_cross_entropy_with_logits_matches_torch_and_gradchecks(case):
    rng, shape, options = case
    logits, target = rng.standard_normal(shape) * 3, rng.uniform(0.0, 1.0, shape)
    compare(lambda x, y: F.binary_cross_entropy_with_logits(x, y, **options),
            lambda x, y: TF.binary_cross_entropy_with_logits(x, y, **_binary_torch(options)),
            [logits, target], [True, True], f"binary_cross_entropy_with_logits {options}")
    gradcheck(lambda x, y: F.binary_cross_entropy_with_logits(x, y, **options),
              [logits, target], [True, True])


def test_binary_cross_entropy_clamps_the_log_at_minus_100_like_torch():
    probs = np.array([0.0, 1.0, 0.0, 1.0, 1e-50, 0.5], np.float64)
    target = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.3])
    ours = F.binary_cross_entropy(mg.tensor(probs, requires_grad=True), target,
                                  reduction="none")
    theirs = TF.binary_cross_entropy(torch.tensor(probs), torch.tensor(target),
                                     reduction="none")
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12)
    x = mg.tensor(probs, requires_grad=True)
    F.binary_cross_entropy(x, target).backward()
    assert np.isfinite(x.grad.numpy()).all()    # no 0 / 0 at the clamped ends


# --------------------------------------------------------------------------- modules

MODULES = [
    (nn.MSELoss, torch.nn.MSELoss, {"reduction": "sum"}, "regression"),
    (nn.L1Loss, torch.nn.L1Loss, {"reduction": "none"}, "regression"),
    (nn.SmoothL1Loss, torch.nn.SmoothL1Loss, {"beta": 0.5}, "regression"),
    (nn.HuberLoss, torch.nn.HuberLoss, {"delta": 0.7, "reduction": "sum"}, "regression"),
    (nn.CrossEntropyLoss, torch.nn.CrossEntropyLoss,
     {"weight": [0.5, 1.0, 2.0], "ignore_index": 1, "label_smoothing": 0.2}, "indices"),
    (nn.NLLLoss, torch.nn.NLLLoss, {"weight": [0.5, 1.0, 2.0], "reduction": "sum"},
     "indices"),
    (nn.BCELoss, torch.nn.BCELoss, {"weight": [0.5, 1.0, 2.0]}, "probabilities"),
    (nn.BCEWithLogitsLoss, torch.nn.BCEWithLogitsLoss,
     {"pos_weight": [0.5, 1.0, 2.0], "reduction": "none"}, "regression"),
]


@pytest.mark.parametrize("ours, theirs, options, kind", MODULES,
                         ids=[m[0].__name__ for m in MODULES])
def test_loss_modules_match_torch(ours, theirs, options, kind):
    rng = np.random.default_rng(3)
    input = rng.standard_normal((4, 3))
    if kind == "probabilities":
        input = rng.uniform(0.1, 0.9, (4, 3))
    target = rng.integers(0, 3, 4) if kind == "indices" else rng.uniform(0, 1, (4, 3))
    module = ours(**{k: np.array(v) if isinstance(v, list) else v
                     for k, v in options.items()})
    assert isinstance(module, nn.Module) and not module.parameters()
    reference = theirs(**{k: torch.tensor(v, dtype=torch.float64) if isinstance(v, list)
                          else v for k, v in options.items()})
    compare(lambda x: module(x, target), lambda x: reference(x, torch.tensor(target)),
            [input], [True], ours.__name__)
    assert ours.__name__ in repr(module)


def test_loss_modules_refuse_a_bad_reduction():
    with pytest.raises(ValueError, match="MSELoss: reduction must be one of"):
        nn.MSELoss(reduction="avg")


# --------------------------------------------------------------------------- fusion

RNG_FUSE = np.random.default_rng(7)
INDICES = np.array([[0, 2, 1], [3, 3, 0]])                  # (N=2, d1=3), C=4
SOFT = RNG_FUSE.dirichlet(np.ones(4), (2, 3)).transpose(0, 2, 1)
PROBS = RNG_FUSE.uniform(0.1, 0.9, (2, 4, 3))
WEIGHT = np.array([0.5, 1.0, 2.0, 1.5])

# name -> function of the input (2, 4, 3) and a float64 second input of that shape
FUSED = {
    "mse_loss": lambda x, y: F.mse_loss(x, y),
    "mse_loss:weight_sum": lambda x, y: F.mse_loss(x, y, weight=PROBS, reduction="sum"),
    "l1_loss:none": lambda x, y: F.l1_loss(x, y, reduction="none"),
    "smooth_l1_loss": lambda x, y: F.smooth_l1_loss(x, y, beta=0.5),
    "huber_loss": lambda x, y: F.huber_loss(x, y, delta=0.5, weight=PROBS),
    "nll_loss": lambda x, y: F.nll_loss(x, INDICES, weight=WEIGHT, ignore_index=3),
    "cross_entropy": lambda x, y: F.cross_entropy(x, INDICES) * y.sum(),
    "cross_entropy:options": lambda x, y: F.cross_entropy(
        x, INDICES, weight=WEIGHT, ignore_index=0, label_smoothing=0.1, reduction="none"),
    "cross_entropy:soft": lambda x, y: F.cross_entropy(x, mg.softmax(y, axis=1),
                                                       label_smoothing=0.2),
    "cross_entropy:soft_constant": lambda x, y: F.cross_entropy(x, SOFT, weight=WEIGHT),
    "binary_cross_entropy": lambda x, y: F.binary_cross_entropy(
        mg.sigmoid(x), PROBS, weight=WEIGHT[:, None]),
    "binary_cross_entropy_with_logits": lambda x, y: F.binary_cross_entropy_with_logits(
        x, mg.sigmoid(y), pos_weight=WEIGHT[None, :, None], reduction="sum"),
}


def _run(fn, inputs):
    for x in inputs:
        x.grad = None
    out = fn(*inputs)
    (out * out).sum().backward()
    return out, [out.numpy()] + [x.grad.numpy() for x in inputs if x.grad is not None]


@pytest.mark.usefixtures("engine_backend")
@pytest.mark.parametrize("name", sorted(FUSED))
def test_each_loss_fused_equals_op_by_op(name):
    rng = np.random.default_rng(sorted(FUSED).index(name))
    inputs = [mg.tensor(rng.standard_normal((2, 4, 3)), requires_grad=True) for _ in "xy"]
    fused = mg.fuse(FUSED[name])
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # a fallback to op by op warns: fail
        out, got = _run(fused, inputs)
        _run(fused, inputs)                 # the second call runs the generated code
    assert out.node.op == fused.name, f"{name}: not recorded as one fused op"
    with mg.unfused():
        _, expected = _run(fused, inputs)
    for k, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: entry {k} differs")


def test_class_indices_passed_into_a_fused_function_are_not_frozen():
    # the indices pick rows: a trace would freeze them, so the function runs op by op
    fused = mg.fuse(lambda x, t: F.cross_entropy(x, t))
    x = mg.tensor(np.random.default_rng(0).standard_normal((3, 4)), requires_grad=True)
    first, second = np.array([0, 1, 2]), np.array([3, 3, 0])
    with pytest.warns(RuntimeWarning, match="runs op by op: it reads tensor values"):
        assert fused(x, mg.tensor(first)).item() == F.cross_entropy(x, first).item()
    assert fused(x, mg.tensor(second)).item() == F.cross_entropy(x, second).item()


# --------------------------------------------------------------------------- errors

@pytest.mark.parametrize("call, error, message", [
    (lambda: F.mse_loss(mg.zeros(3), mg.zeros(3), reduction="avg"), ValueError,
     r"mse_loss: reduction must be one of 'mean', 'sum', 'none'; got 'avg'"),
    (lambda: F.l1_loss(mg.zeros(3, 1), mg.zeros(3)), ValueError,
     r"l1_loss: input shape \(3, 1\) and target shape \(3,\) differ"),
    (lambda: F.mse_loss(mg.zeros(3), mg.zeros(3), weight=np.ones(2)), ValueError,
     r"mse_loss: input shape \(3,\) and weight shape \(2,\) differ"),
    (lambda: F.smooth_l1_loss(mg.zeros(3), mg.zeros(3), beta=-1.0), ValueError,
     "smooth_l1_loss: beta must be >= 0"),
    (lambda: F.huber_loss(mg.zeros(3), mg.zeros(3), delta=0.0), ValueError,
     "huber_loss: delta must be > 0"),
    (lambda: F.cross_entropy(mg.zeros(2, 5), np.array([0, 5])), IndexError,
     r"cross_entropy: target 5 is out of bounds.*\[0, 5\)"),
    (lambda: F.nll_loss(mg.zeros(2, 5), np.array([-1, 0])), IndexError,
     r"nll_loss: target -1 is out of bounds"),
    (lambda: F.cross_entropy(mg.zeros(2, 3, 5), np.zeros((2, 4), np.int64)), ValueError,
     r"expected target \(2, 5\) for input \(N, C\) or \(N, C, d1, ...\), or the input's "
     r"shape without its last axis"),
    (lambda: F.cross_entropy(mg.zeros(2, 5), np.zeros(2)), TypeError,
     "cross_entropy: target must hold integer class indices"),
    (lambda: F.cross_entropy(mg.zeros(2, 5), np.zeros((2, 5)), ignore_index=1), ValueError,
     "cross_entropy: ignore_index .1. takes class-index targets"),
    (lambda: F.cross_entropy(mg.zeros(2, 5), [0, 1], weight=np.ones(4)), ValueError,
     r"cross_entropy: weight must hold one value per class, shape \(5,\); got shape \(4,\)"),
    (lambda: F.cross_entropy(mg.zeros(2, 5), [0, 1], label_smoothing=1.5), ValueError,
     r"cross_entropy: label_smoothing must be in \[0, 1\]"),
    (lambda: F.cross_entropy(mg.zeros(()), [0]), ValueError,
     "cross_entropy: input must have a class axis"),
    (lambda: F.cross_entropy(mg.tensor([[1, 2]]), [0]), TypeError,
     "cross_entropy: input must be floating"),
    (lambda: F.binary_cross_entropy(mg.tensor([0.5, 1.5]), [1.0, 0.0]), ValueError,
     r"binary_cross_entropy: input must hold probabilities in \[0, 1\]"),
    (lambda: F.cross_entropy(mg.zeros(2, 5), [0, 1], 0, -100), TypeError,
     "positional"),
])
def test_bad_arguments_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("loss", ["cross_entropy", "nll_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_sequence_layout_with_classes_last(loss, reduction):
    """API.md's layout: logits (N, T, C) with targets (N, T), equal to PyTorch's loss of
    the same logits with their classes on axis 1; where both readings fit (T == C) the
    classes are last."""
    rng = np.random.default_rng(0)
    for shape in [(2, 3, 5), (2, 4, 4), (2, 3, 2, 5)]:
        logits = rng.standard_normal(shape)
        target = rng.integers(0, shape[-1], shape[:-1])
        target[0, 0] = -100                           # ignored, as in PyTorch
        ours = getattr(F, loss)(mg.tensor(logits), target, reduction=reduction)
        moved = torch.from_numpy(np.moveaxis(logits, -1, 1))
        theirs = getattr(torch.nn.functional, loss)(moved, torch.from_numpy(target),
                                                     reduction=reduction)
        assert ours.shape == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-10)
