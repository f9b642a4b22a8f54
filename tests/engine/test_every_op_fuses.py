"""Every op the engine has fuses: run inside ``mg.fuse`` it is part of one recorded op,
and the fused call equals the same function op by op, bit for bit, in its values and
in every input's gradient.

Each case is a function of tensors using one op (with the arguments that change how it
is written: axes with and without keepdims, cut points, permutations, index forms,
masks); ``test_the_table_covers_every_op`` keeps the table complete.
"""
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import ops

pytestmark = pytest.mark.usefixtures("engine_backend")

# "op" or "op:variant" -> (function of tensors, input shapes); every input a float64 leaf
CASES = {
    "add": (lambda a, b: a + b, [(2, 3), (3,)]),
    "sub": (lambda a, b: 1.5 - a - b, [(2, 3), (2, 1)]),
    "mul": (lambda a, b: a * b * 2.0, [(2, 3), (1, 3)]),
    "div": (lambda a, b: a / (b * b + 1.0), [(2, 3), (2, 3)]),
    "pow": (lambda a, b: (a * a + 1.0) ** b + a ** 2, [(2, 3), (3,)]),
    "neg": (lambda a: -a, [(4,)]),
    "matmul": (lambda a, b: a @ b, [(2, 3), (3, 4)]),
    "matmul:batched": (lambda a, b: a @ b, [(2, 2, 3), (3, 4)]),
    "matmul:vector": (lambda a, b: a @ b, [(3,), (2, 3, 4)]),
    "exp": (mg.exp, [(2, 3)]),
    "log": (lambda a: mg.log(a * a + 1.0), [(2, 3)]),
    "sqrt": (lambda a: mg.sqrt(a * a + 1.0), [(2, 3)]),
    "abs": (mg.abs, [(2, 3)]),
    "sign": (lambda a: mg.sign(a) * a, [(2, 3)]),

    "sin": (mg.sin, [(2, 3)]),
    "cos": (mg.cos, [(2, 3)]),
    "tanh": (mg.tanh, [(2, 3)]),
    "sigmoid": (mg.sigmoid, [(2, 3)]),
    "relu": (mg.relu, [(2, 3)]),
    "maximum": (mg.maximum, [(2, 3), (3,)]),
    "maximum:scalar": (lambda a: mg.maximum(a, 0.1), [(2, 3)]),
    "minimum": (mg.minimum, [(2, 3), (2, 1)]),
    "clip": (lambda a: a.clip(-0.5, 0.5), [(2, 3)]),
    "clip:low": (lambda a: a.clip(lo=0.0), [(2, 3)]),
    "where": (lambda a, b: mg.where(a > b, a * 2.0, b), [(2, 3), (3,)]),
    "where:scalar": (lambda a: mg.where(a < 0, 0.0, a), [(2, 3)]),
    "astype": (lambda a: a.astype(mg.float32).astype(mg.float64) * a, [(2, 3)]),
    "mul:comparisons": (lambda a, b: a * (a <= b) + b * (a >= b) + a * (a != b)
                        + b * (a == b), [(2, 3), (3,)]),
    "sum:all": (lambda a: a.sum(), [(2, 3, 4)]),
    "sum:dim": (lambda a: a.sum(dim=1, keepdim=True), [(2, 3, 4)]),
    "clamp": (lambda a: a.clamp(-0.5, max=0.5), [(2, 3)]),
    "view": (lambda a: a.view(3, -1), [(2, 3, 2)]),
    "swapaxes": (lambda a: a.swapaxes(0, -1) * 2.0, [(2, 3, 4)]),
    "flatten": (lambda a: a.flatten(1), [(2, 3, 2)]),
    "permute": (lambda a: a.permute(2, 0, 1) * 2.0, [(2, 3, 4)]),
    "expand": (lambda a: a.expand(2, -1, 3) * 1.5, [(4, 1)]),
    "clone": (lambda a: a.clone() * a, [(2, 3)]),
    "cat": (lambda a, b: mg.cat([a, b], dim=1), [(2, 3), (2, 1)]),
    "sum:axis": (lambda a: a.sum(axis=1), [(2, 3, 4)]),
    "sum:axes_kept": (lambda a: a.sum(axis=(0, 2), keepdims=True), [(2, 3, 4)]),
    "sum:negative_axis": (lambda a: a.sum(axis=-1), [(2, 3, 4)]),
    "mean:axis": (lambda a: a.mean(axis=0), [(2, 3)]),
    "mean:kept": (lambda a: a.mean(axis=1, keepdims=True), [(2, 3)]),
    "var": (lambda a: a.var(axis=(0, 1)), [(2, 3, 2)]),
    "max": (lambda a: a.max(axis=1), [(3, 4)]),
    "max:all_kept": (lambda a: a.max(keepdims=True), [(3, 4)]),
    "min": (lambda a: a.min(axis=0, keepdims=True), [(3, 4)]),
    "logsumexp": (lambda a: mg.logsumexp(a, axis=1), [(3, 4)]),
    "logsumexp:kept": (lambda a: mg.logsumexp(a, axis=0, keepdims=True), [(3, 4)]),
    "softmax": (lambda a: mg.softmax(a, axis=0), [(3, 4)]),
    "log_softmax": (mg.log_softmax, [(3, 4)]),
    "reshape": (lambda a: a.reshape(6, 2) * 2.0, [(3, 4)]),
    "squeeze": (lambda a: a.squeeze(1) * 2.0, [(3, 1, 2)]),
    "unsqueeze": (lambda a: a.unsqueeze(0) * 2.0, [(3, 2)]),
    "transpose": (lambda a: a.transpose(2, 0, 1) * 2.0, [(2, 3, 4)]),
    "transpose:T": (lambda a: a.T * 2.0, [(2, 3)]),
    "broadcast_to": (lambda a: a.broadcast_to(2, 3, 4) * 2.0, [(3, 1)]),
    "getitem:slice": (lambda a: a[1:, ::2] * 2.0, [(3, 4)]),
    "getitem:int_none_ellipsis": (lambda a: a[0, None, ...] * 2.0, [(3, 4)]),
    "getitem:int_array": (lambda a: a[np.array([0, 2, 0])] * 2.0, [(3, 4)]),
    "getitem:mask": (lambda a: a[np.array([True, False, True])] * 2.0, [(3, 4)]),
    "concat": (lambda a, b: mg.concat([a, b * 2.0], axis=1), [(2, 3), (2, 1)]),
    "stack": (lambda a, b: mg.stack([a, b], axis=1), [(2, 3), (2, 3)]),
    "split:sections": (lambda a: tuple(p * 2.0 for p in mg.split(a, 2, axis=1)), [(3, 4)]),
    "split:indices_unused_piece": (lambda a: mg.split(a, [1, 3], axis=0)[1] * 2.0, [(4, 2)]),
    "split_sizes": (lambda a: tuple(p * 2.0 for p in a.split(3, dim=1)), [(2, 7)]),
    "split_sizes:list": (lambda a: mg.split(a, [1, 3], dim=0)[1] * 2.0, [(4, 2)]),
    "chunk": (lambda a: tuple(p * (k + 1.0) for k, p in enumerate(a.chunk(3, axis=-1))),
              [(2, 7)]),
    "chunk:one_piece": (lambda a: a.chunk(1)[0] * 2.0, [(2, 3)]),
    "unbind": (lambda a: tuple(p * 2.0 for p in mg.unbind(a, axis=1)), [(2, 3)]),
    "unbind:unused_slice": (lambda a: mg.unbind(a, axis=0)[0] * 2.0, [(3, 2)]),
    # issue 14: pointwise and activations
    "tan": (lambda a: mg.tan(a * 0.5), [(2, 3)]),
    "sinh": (mg.sinh, [(2, 3)]),
    "cosh": (lambda a: a.cosh(), [(2, 3)]),
    "asin": (lambda a: mg.asin(mg.tanh(a)), [(2, 3)]),
    "acos": (lambda a: mg.acos(mg.tanh(a)), [(2, 3)]),
    "atan": (mg.atan, [(2, 3)]),
    "atan2": (mg.atan2, [(2, 3), (3,)]),
    "atan2:scalar": (lambda a: mg.atan2(1.5, a) + a.atan2(-0.5), [(2, 3)]),
    "log1p": (lambda a: mg.log1p(a * a), [(2, 3)]),
    "expm1": (mg.expm1, [(2, 3)]),
    "log2": (lambda a: mg.log2(a * a + 1.0), [(2, 3)]),
    "log10": (lambda a: (a * a + 1.0).log10(), [(2, 3)]),
    "exp2": (mg.exp2, [(2, 3)]),
    "rsqrt": (lambda a: mg.rsqrt(a * a + 1.0), [(2, 3)]),
    "reciprocal": (lambda a: mg.reciprocal(a * a + 1.0), [(2, 3)]),
    "square": (mg.square, [(2, 3)]),
    "floor": (lambda a: mg.floor(a * 3.0) * a, [(2, 3)]),
    "ceil": (lambda a: mg.ceil(a * 3.0) * a, [(2, 3)]),
    "round": (lambda a: mg.round(a * 3.0) * a, [(2, 3)]),
    "round:decimals": (lambda a: a.round(decimals=1) * a + a.round(decimals=-1), [(2, 3)]),
    "trunc": (lambda a: mg.trunc(a * 3.0) * a, [(2, 3)]),
    "frac": (lambda a: mg.frac(a * 3.0), [(2, 3)]),
    "erf": (mg.erf, [(2, 3)]),
    "remainder": (lambda a, b: a % (b * b + 0.5), [(2, 3), (3,)]),
    "remainder:scalar": (lambda a: mg.remainder(a, -0.7) + 2.0 % (a * a + 0.5), [(2, 3)]),
    "floor_divide": (lambda a, b: (a // (b * b + 0.5)) * a + 2.0 // (a * a + 0.5),
                     [(2, 3), (3,)]),
    "div:trunc": (lambda a, b: mg.div(a, b * b + 0.5, rounding_mode="trunc") * b,
                  [(2, 3), (2, 1)]),
    "div:floor": (lambda a: a.div(0.3, rounding_mode="floor") * a, [(2, 3)]),
    "div:true": (lambda a, b: mg.div(a, b * b + 0.5), [(2, 3), (3,)]),
    "isnan": (lambda a: a * mg.isnan(mg.where(a > 0, float("nan"), a)), [(2, 3)]),
    "isinf": (lambda a: a * mg.isinf(mg.where(a > 0, float("-inf"), a)), [(2, 3)]),
    "isfinite": (lambda a: a * a.isfinite(), [(2, 3)]),
    "isclose": (lambda a, b: a * mg.isclose(a, b, atol=0.5) + b * a.isclose(a * 1.0),
                [(2, 3), (3,)]),
    "logical_or": (lambda a, b: a * mg.logical_or(a > 0, b > 0) + b, [(2, 3), (3,)]),
    "logical_not": (lambda a: a * mg.logical_not(a > 0), [(2, 3)]),
    "logical_xor": (lambda a, b: a * (a > 0).logical_xor(b > 0) + b, [(2, 3), (3,)]),
    "logical_and": (lambda a, b: a * mg.logical_and(a > 0, b > 0) + b, [(2, 3), (3,)]),
    "sign:inner": (lambda a: mg.sign(a * 3.0) * a, [(2, 3)]),
    "lerp": (mg.lerp, [(2, 3), (3,), (2, 1)]),
    "lerp:scalar": (lambda a, b: a.lerp(b, 0.3) + mg.lerp(b, a, 0.8), [(2, 3), (2, 3)]),
    "logaddexp": (mg.logaddexp, [(2, 3), (3,)]),
    "logaddexp:scalar": (lambda a: mg.logaddexp(a, 0.5), [(2, 3)]),
    "gelu": (mg.nn.functional.gelu, [(2, 3)]),
    "gelu:tanh": (lambda a: mg.nn.functional.gelu(a, approximate="tanh"), [(2, 3)]),
    "softplus": (lambda a: mg.nn.functional.softplus(a * 10.0, beta=2.0, threshold=5.0),
                 [(2, 3)]),
    "silu": (mg.nn.functional.silu, [(2, 3)]),
    "elu": (lambda a: mg.nn.functional.elu(a, alpha=0.5), [(2, 3)]),
    "selu": (mg.nn.functional.selu, [(2, 3)]),
    "leaky_relu": (lambda a: mg.nn.functional.leaky_relu(a, 0.2), [(2, 3)]),
    "hardtanh": (lambda a: mg.nn.functional.hardtanh(a, -0.5, 0.5), [(2, 3)]),
    "hardsigmoid": (lambda a: mg.nn.functional.hardsigmoid(a * 4.0), [(2, 3)]),
    "mish": (mg.nn.functional.mish, [(2, 3)]),
    "logsigmoid": (lambda a: mg.nn.functional.logsigmoid(a * 10.0), [(2, 3)]),
    # issue 14: reductions, shape and indexing
    "argmax": (lambda a: a * mg.argmax(a, dim=1, keepdim=True), [(3, 4)]),
    "argmin": (lambda a: a * a.argmin(), [(3, 4)]),
    "std": (lambda a: a.std(dim=1), [(3, 4)]),
    "std:population": (lambda a: mg.std(a, axis=(0, 1), keepdims=True, correction=0),
                       [(2, 3, 2)]),
    "var:correction": (lambda a: a.var(dim=0, correction=2), [(4, 3)]),
    "prod": (lambda a: a.prod(dim=1), [(3, 4)]),
    "prod:all": (lambda a: mg.prod(a * (a > 0.5)), [(3, 4)]),
    "cumsum": (lambda a: a.cumsum(dim=1), [(3, 4)]),
    "cumprod": (lambda a: mg.cumprod(a, 0), [(4, 3)]),
    "cumprod:zeros": (lambda a: mg.cumprod(a * (a > 0), -1), [(3, 5)]),
    "logcumsumexp": (lambda a: a.logcumsumexp(dim=1), [(3, 4)]),
    "cummax": (lambda a: a.cummax(dim=1).values * 2.0, [(3, 4)]),
    "cummin": (lambda a: mg.cummin(a, 0)[0] * 2.0, [(4, 3)]),
    "any": (lambda a: a * (a > 0).any(dim=1, keepdim=True), [(3, 4)]),
    "all": (lambda a: a * mg.all(a > -1.0), [(3, 4)]),
    "amax": (lambda a: a.amax(dim=(0, 1)), [(2, 3, 2)]),
    "amin": (lambda a: mg.amin(a, dim=1, keepdim=True), [(3, 4)]),
    "max:dim": (lambda a: a.max(dim=1).values * 2.0, [(3, 4)]),
    "min:dim_kept": (lambda a: mg.min(a, dim=0, keepdim=True)[0] * 2.0, [(3, 4)]),
    "norm": (lambda a: a.norm(), [(3, 4)]),
    "norm:p3_dim": (lambda a: mg.norm(a, p=3, dim=1), [(3, 4)]),
    "norm:inf": (lambda a: a.norm(p=float("inf"), dim=0), [(3, 4)]),
    "sum:dtype": (lambda a: a.sum(dim=1, dtype=mg.float32).double(), [(3, 4)]),
    "unflatten": (lambda a: a.unflatten(1, (2, -1)) * 2.0, [(3, 4)]),
    "pad": (lambda a: mg.pad(a, (1, 2, 0, 1), value=0.5), [(3, 4)]),
    "pad:crop": (lambda a: mg.pad(a, (-1, 1)) * 2.0, [(3, 4)]),
    "repeat": (lambda a: a.repeat(2, 1, 3), [(3, 4)]),
    "tile": (lambda a: a.tile((2,)), [(3, 4)]),
    "roll": (lambda a: a.roll((1, -1), (0, 1)), [(3, 4)]),
    "roll:flat": (lambda a: mg.roll(a, 5), [(3, 4)]),
    "flip": (lambda a: a.flip(0) * 2.0, [(3, 4)]),
    "tril": (lambda a: a.tril() * 2.0, [(2, 3, 4)]),
    "triu": (lambda a: mg.triu(a, 1) * 2.0, [(3, 4)]),
    "diagonal": (lambda a: a.diagonal(offset=1, dim1=0, dim2=2) * 2.0, [(3, 2, 4)]),
    "gather": (lambda a: a.gather(1, np.array([[0, 0], [3, 1], [2, 2]])) * 2.0, [(3, 4)]),
    "gather:computed_index": (lambda a: mg.gather(a, 0, a.argsort(dim=0)) * 2.0, [(3, 4)]),
    "scatter": (lambda a, b: a.scatter(1, np.array([[0], [2], [3]]), b), [(3, 4), (3, 2)]),
    "scatter:value": (lambda a: a.scatter(0, np.array([[1, 0, 2, 1]]), value=0.5) * 2.0,
                      [(3, 4)]),
    "scatter_add": (lambda a, b: mg.scatter_add(a, 0, np.array([[0, 1], [0, 1], [2, 0]]), b),
                    [(3, 2), (3, 2)]),
    "index_select": (lambda a: a.index_select(0, np.array([2, 0, 2])) * 2.0, [(3, 4)]),
    "masked_fill": (lambda a: a.masked_fill(a > 0.2, -1.0) * 2.0, [(3, 4)]),
    "masked_select": (lambda a: a.masked_select(a > 0.0) * 2.0, [(3, 4)]),
    "nonzero": (lambda a: a * mg.nonzero(a > 0).sum(), [(3, 4)]),
    "sort": (lambda a: a.sort(dim=0, descending=True).values * 2.0, [(3, 4)]),
    "argsort": (lambda a: a * a.argsort(), [(3, 4)]),
    "topk": (lambda a: a.topk(2, dim=1).values * 2.0, [(3, 4)]),
    "topk:smallest": (lambda a: mg.topk(a, 2, 0, largest=False)[0] * 2.0, [(3, 4)]),
    "one_hot": (lambda a: a * mg.one_hot(a.argmax(dim=1), 4), [(3, 4)]),
    "einsum": (lambda a, b: mg.einsum("bij,jk->bik", a, b), [(2, 3, 4), (4, 2)]),
    "einsum:diagonal_sum": (lambda a, b: mg.einsum("ii,ij->j", a, b), [(3, 3), (3, 2)]),
    "einsum:ellipsis": (lambda a: mg.einsum("...i->...", a * a), [(2, 3, 4)]),
}

# ops that are not part of the table: they record no gradient (comparisons are covered
# by "mul:comparisons"), only move data between backends, or return no tensor
NOT_OPS = {"lt", "le", "gt", "ge", "eq", "ne", "logical_and", "to", "reduce_to_shape",
           # returns a Python bool: it reads values, which a fused function must not
           "allclose",
           "ValuesIndices"}    # the (values, indices) result type


def run(fn, inputs):
    """Outputs and every input's gradient, as NumPy arrays."""
    for x in inputs:
        x.grad = None
    outputs = fn(*inputs)
    outputs = list(outputs) if isinstance(outputs, tuple) else [outputs]
    loss = sum(((out * out).sum() for out in outputs), mg.tensor(0.0, dtype=mg.float64))
    loss.backward()
    return outputs, [o.numpy() for o in outputs] + [x.grad.numpy() for x in inputs]


@pytest.mark.parametrize("name", sorted(CASES))
def test_fused_equals_op_by_op(name):
    fn, shapes = CASES[name]
    rng = np.random.default_rng(sorted(CASES).index(name))
    inputs = [mg.tensor(rng.standard_normal(shape), requires_grad=True) for shape in shapes]
    fused = mg.fuse(fn)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # a fallback to op by op warns: fail
        outputs, got = run(fused, inputs)
    assert {out.node.op for out in outputs} == {fused.name}, \
        f"{name}: not recorded as one fused op"
    with mg.unfused():
        _, expected = run(fused, inputs)
    for k, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_array_equal(a, b, err_msg=f"{name}: entry {k} differs")


def test_the_table_covers_every_op():
    names = {n for n in ops.__dict__ if callable(ops.__dict__[n]) and not n.startswith("_")
             and getattr(ops.__dict__[n], "__module__", "").startswith("minigrad.ops")}
    covered = {name.split(":")[0] for name in CASES}
    missing = names - covered - NOT_OPS
    assert not missing, f"ops without a fusion case: {sorted(missing)}"


def test_a_scan_with_masks_and_reductions_is_one_op():
    # where, maximum and a reduction without keepdims used to make a scan run op by op
    def step(x, h):
        return mg.where(x > 0, mg.maximum(h, x), h * 0.5) + x.sum(axis=1).reshape(-1, 1)

    xs, h0 = mg.tensor(np.linspace(-1, 1, 24).reshape(4, 2, 3), requires_grad=True), \
        mg.tensor(np.ones((2, 3)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        history, _ = mg.scan(step, h0, xs)
    assert history.node.op == "scan"
    history.sum().backward()
    got = xs.grad.numpy(), h0.grad.numpy()
    xs.grad = h0.grad = None
    with mg.unfused():
        expected_history, _ = mg.scan(step, h0, xs)
    expected_history.sum().backward()
    np.testing.assert_array_equal(history.numpy(), expected_history.numpy())
    for a, b in zip(got, (xs.grad.numpy(), h0.grad.numpy())):
        np.testing.assert_array_equal(a, b)
