"""Parameter initialisers, in place, drawing from one seeded generator.

Values are drawn on the host by the NumPy generator that :func:`minigrad.manual_seed`
seeds, then moved to the parameter's backend: the same seed gives the same parameters on
the CPU and on the GPU.
"""
from __future__ import annotations

import math

from .. import backend as _backend
from ..tensor import Tensor


def _fill(tensor, host_array):
    target = _backend.of(tensor.data)
    tensor.data = target.from_host(host_array.astype(tensor.dtype, copy=False))
    return tensor


def _generator(generator):
    return generator if generator is not None else _backend.host_generator()


def _fans(tensor):
    if tensor.ndim < 2:
        raise ValueError(f"init: fan in/out needs at least 2 dimensions, got shape {tensor.shape}")
    receptive = math.prod(tensor.shape[2:])
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def uniform_(tensor: Tensor, a=0.0, b=1.0, generator=None):
    """Fill with draws from the uniform distribution U(a, b).

    Parameters
    ----------
    tensor : Tensor
        Filled in place (its shape, dtype and backend are kept).
    a, b : float
        The interval's ends.
    generator : numpy.random.Generator, optional
        Drawn from instead of the generator :func:`minigrad.manual_seed` seeds.

    Returns
    -------
    Tensor
        ``tensor``.
    """
    return _fill(tensor, _generator(generator).uniform(a, b, tensor.shape))


def normal_(tensor: Tensor, mean=0.0, std=1.0, generator=None):
    """Fill with draws from the normal distribution N(mean, std^2).

    Parameters
    ----------
    tensor : Tensor
        Filled in place (its shape, dtype and backend are kept).
    mean, std : float
    generator : numpy.random.Generator, optional
        Drawn from instead of the generator :func:`minigrad.manual_seed` seeds.

    Returns
    -------
    Tensor
        ``tensor``.
    """
    return _fill(tensor, _generator(generator).normal(mean, std, tensor.shape))


def zeros_(tensor: Tensor):
    """Fill with zeros.

    Parameters
    ----------
    tensor : Tensor
        Filled in place (its shape, dtype and backend are kept).

    Returns
    -------
    Tensor
        ``tensor``.
    """
    return constant_(tensor, 0.0)


def ones_(tensor: Tensor):
    """Fill with ones.

    Parameters
    ----------
    tensor : Tensor
        Filled in place (its shape, dtype and backend are kept).

    Returns
    -------
    Tensor
        ``tensor``.
    """
    return constant_(tensor, 1.0)


def constant_(tensor: Tensor, value):
    """Fill with ``value``.

    Parameters
    ----------
    tensor : Tensor
        Filled in place (its shape, dtype and backend are kept).
    value : float

    Returns
    -------
    Tensor
        ``tensor``.
    """
    tensor.data = tensor.xp.full(tensor.shape, value, dtype=tensor.dtype)
    return tensor


def xavier_uniform_(tensor: Tensor, gain=1.0, generator=None):
    """Glorot & Bengio (2010): U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out)).

    Parameters
    ----------
    tensor : Tensor
        Filled in place (its shape, dtype and backend are kept).
        At least 2-D: ``(fan_out, fan_in, *receptive field)``.
    gain : float
    generator : numpy.random.Generator, optional
        Drawn from instead of the generator :func:`minigrad.manual_seed` seeds.

    Returns
    -------
    Tensor
        ``tensor``.
    """
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor: Tensor, gain=1.0, generator=None):
    """Glorot & Bengio (2010): N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out)).

    Parameters
    ----------
    tensor : Tensor
        Filled in place (its shape, dtype and backend are kept).
        At least 2-D: ``(fan_out, fan_in, *receptive field)``.
    gain : float
    generator : numpy.random.Generator, optional
        Drawn from instead of the generator :func:`minigrad.manual_seed` seeds.

    Returns
    -------
    Tensor
        ``tensor``.
    """
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def orthogonal_(tensor: Tensor, gain=1.0, generator=None):
    """Saxe et al. (2014): a (semi-)orthogonal matrix, times ``gain``.

    Made from the QR decomposition of a Gaussian matrix, signs fixed so the result is
    uniformly distributed; a tensor of more than 2 dimensions is treated as
    ``(shape[0], product of the rest)``.

    Parameters
    ----------
    tensor : Tensor
        Filled in place (its shape, dtype and backend are kept).
        At least 2-D.
    gain : float
    generator : numpy.random.Generator, optional
        Drawn from instead of the generator :func:`minigrad.manual_seed` seeds.

    Returns
    -------
    Tensor
        ``tensor``.
    """
    if tensor.ndim < 2:
        raise ValueError(f"orthogonal_: needs at least 2 dimensions, got shape {tensor.shape}")
    numpy = _backend.get("numpy").xp
    rows = tensor.shape[0]
    cols = math.prod(tensor.shape[1:])
    flat = _generator(generator).normal(0.0, 1.0, (rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = numpy.linalg.qr(flat)
    q *= numpy.sign(numpy.diag(r))
    if rows < cols:
        q = q.T
    return _fill(tensor, gain * q.reshape(tensor.shape))
