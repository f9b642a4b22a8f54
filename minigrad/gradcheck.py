"""Finite-difference gradient checking."""
from __future__ import annotations

from . import backend as _backend
from .modes import no_grad
from .tensor import Tensor, grad


class GradcheckError(AssertionError):
    """The engine's gradient and the finite differences disagree."""


def _as_outputs(result):
    return [result] if isinstance(result, Tensor) else list(result)


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3):
    """Compare the engine's gradients of ``fn`` with float64 central differences.

    Every element of every input that requires grad is perturbed by ``±eps``. The
    outputs are reduced to a scalar with fixed random weights, so every output element
    is checked at once.

    Parameters
    ----------
    fn : callable
        ``fn(*inputs)`` returns a tensor or a sequence of tensors.
    inputs : sequence of Tensor
        float64 tensors; those with ``requires_grad`` are checked.
    eps : float
        The perturbation of each element.
    atol, rtol : float
        An element passes when ``|analytic - numeric| <= atol + rtol * |numeric|``.

    Returns
    -------
    bool
        True; a mismatch raises :class:`GradcheckError` naming the input and its worst
        element.
    """
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    for i in checked:
        if inputs[i].dtype != _backend.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; finite differences "
                            f"need float64 inputs")
    outputs = _as_outputs(fn(*inputs))
    numpy = _backend.get("numpy").xp
    rng = numpy.random.default_rng(0)
    weights = [Tensor(_backend.convert(rng.standard_normal(o.shape), _backend.of(o.data)))
               for o in outputs]

    def weighted_sum():
        with no_grad():
            return sum(float((o.data * w.data).sum()) for o, w in zip(_as_outputs(fn(*inputs)),
                                                                       weights))

    differentiable = [(o, w) for o, w in zip(outputs, weights) if o.requires_grad]
    if differentiable:
        analytic = grad([o for o, _ in differentiable], [inputs[i] for i in checked],
                        grad_outputs=[w for _, w in differentiable])
    else:
        analytic = [Tensor(inputs[i].xp.zeros(inputs[i].shape)) for i in checked]

    for position, i in enumerate(checked):
        x = inputs[i]
        engine = _backend.to_numpy(analytic[position].data).reshape(-1)
        numeric = numpy.zeros(x.size)
        if not x.data.flags.c_contiguous:
            x.data = x.xp.ascontiguousarray(x.data)
        flat = x.data.reshape(-1)          # a view: perturbs x in place
        for k in range(x.size):
            original = flat[k].item()
            flat[k] = original + eps
            plus = weighted_sum()
            flat[k] = original - eps
            minus = weighted_sum()
            flat[k] = original
            numeric[k] = (plus - minus) / (2 * eps)
        error = numpy.abs(engine - numeric) - (atol + rtol * numpy.abs(numeric))
        # NaN on either side is a failure (NaN > 0 is False: a max would let it through)
        bad = ~(error <= 0)
        if bad.any():
            worst = int(numpy.argmax(numpy.where(numpy.isnan(error), numpy.inf, error)))
            where = numpy.unravel_index(worst, x.shape) if x.ndim else ()
            label = f"input {i}" + (f" ({x.name!r})" if x.name else "")
            raise GradcheckError(
                f"gradcheck: {label} of shape {x.shape}: worst element "
                f"{tuple(int(v) for v in where)}: "
                f"engine {engine[worst]:.8g}, finite differences {numeric[worst]:.8g} "
                f"({int(bad.sum())} of {x.size} elements outside atol={atol}, rtol={rtol})")
    return True
