"""Layers: Linear, Embedding, Dropout, LayerNorm, Sequential.

Each is a composition of engine ops, so its gradient comes from the engine. Parameters
are made on the active backend and initialised from the seeded host generator (see
:mod:`minigrad.nn.init`), with PyTorch's shapes, names and default initialisation.
"""
from __future__ import annotations

import math

from .. import backend as _backend
from ..factories import ones, zeros
from ..tensor import Tensor
from . import functional, init
from .module import Module, Parameter


def _empty_parameter(*shape):
    return Parameter(zeros(*shape))


class Linear(Module):
    """``y = x @ weight.T + bias``.

    Parameters
    ----------
    in_features, out_features : int
    bias : bool
        Whether to add a learned bias.

    Attributes
    ----------
    weight : Parameter, shape (out_features, in_features)
        Initialised U(-k, k) with ``k = 1 / sqrt(in_features)`` (PyTorch's default).
    bias : Parameter, shape (out_features,), or None
        Initialised U(-k, k).

    Shapes
    ------
    ``x`` is ``(*, in_features)``; the result is ``(*, out_features)``.
    """

    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        bound = 1.0 / math.sqrt(in_features) if in_features > 0 else 0.0
        self.weight = init.uniform_(_empty_parameter(out_features, in_features), -bound, bound)
        if bias:
            self.bias = init.uniform_(_empty_parameter(out_features), -bound, bound)
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        """``x @ weight.T + bias``.

        Parameters
        ----------
        x : Tensor
            ``(*, in_features)``.

        Returns
        -------
        Tensor
            ``(*, out_features)``.
        """
        if not isinstance(x, Tensor):
            raise TypeError(f"Linear: input must be a Tensor, got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            raise ValueError(f"Linear: input shape {tuple(x.shape)} does not end in "
                             f"in_features={self.in_features}")
        lead = x.shape[:-1]
        if x.ndim > 2:   # one 2-D product instead of a batched one (cheaper backward)
            x = x.reshape(-1, self.in_features)
        y = x @ self.weight.T
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*lead, self.out_features) if len(lead) != 1 else y

    def extra_repr(self):
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}")


class Embedding(Module):
    """A lookup table: row ``i`` of ``weight`` is the vector for index ``i``.

    Parameters
    ----------
    num_embeddings : int
        Size of the vocabulary.
    embedding_dim : int

    Attributes
    ----------
    weight : Parameter, shape (num_embeddings, embedding_dim)
        Initialised N(0, 1) (PyTorch's default).

    Shapes
    ------
    ``indices`` is an integer tensor, array or list of any shape ``S``; the result is
    ``(*S, embedding_dim)``. Repeated indices accumulate their gradients.
    """

    def __init__(self, num_embeddings, embedding_dim):
        super().__init__()
        self.num_embeddings = num_embeddings
        self.embedding_dim = embedding_dim
        self.weight = init.normal_(_empty_parameter(num_embeddings, embedding_dim), 0.0, 1.0)

    def forward(self, indices):
        """The rows of ``weight`` at ``indices``.

        Parameters
        ----------
        indices : Tensor, array or list of int
            Any shape ``S``, each in ``[0, num_embeddings)``.

        Returns
        -------
        Tensor
            ``(*S, embedding_dim)``.
        """
        data = indices.data if isinstance(indices, Tensor) else indices
        data = _backend.convert(data, _backend.of(self.weight.data))
        if data.dtype.kind not in "iu":
            raise TypeError(f"Embedding: indices must be integers, got dtype {data.dtype}")
        if data.size:
            # NumPy would read a negative index from the end; PyTorch refuses it
            backend = _backend.of(data)
            low, high = (int(v) for v in backend.to_host(
                backend.xp.stack([data.min(), data.max()])))
            if low < 0 or high >= self.num_embeddings:
                raise IndexError(f"Embedding: indices must lie in [0, {self.num_embeddings})"
                                 f" (num_embeddings), got min {low} and max {high}")
        return self.weight[data]

    def extra_repr(self):
        return f"{self.num_embeddings}, {self.embedding_dim}"


class Dropout(Module):
    """Inverted dropout while training (see :func:`minigrad.nn.functional.dropout`);
    the identity in eval mode.

    Parameters
    ----------
    p : float in [0, 1]
        Probability of zeroing an element.

    Shapes
    ------
    Any shape; the result has the input's shape.
    """

    def __init__(self, p=0.5):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p

    def forward(self, x):
        """``x`` with elements zeroed with probability ``p`` and the rest scaled by
        ``1 / (1 - p)`` while training; ``x`` itself in eval mode.

        Parameters
        ----------
        x : Tensor

        Returns
        -------
        Tensor
            The shape of ``x``.
        """
        return functional.dropout(x, self.p, self.training)

    def extra_repr(self):
        return f"p={self.p}"


class LayerNorm(Module):
    """Ba et al. 2016: normalise over the trailing ``normalized_shape`` axes,
    ``y = (x - mean) / sqrt(var + eps) * weight + bias`` with the biased variance
    (as PyTorch).

    Parameters
    ----------
    normalized_shape : int or tuple of int
        The trailing shape to normalise over.
    eps : float
    elementwise_affine : bool
        Whether to learn ``weight`` (ones) and ``bias`` (zeros), each of
        ``normalized_shape``.

    Shapes
    ------
    ``x`` is ``(*, *normalized_shape)``; the result has the same shape.
    """

    def __init__(self, normalized_shape, eps=1e-5, elementwise_affine=True):
        super().__init__()
        if isinstance(normalized_shape, int):
            normalized_shape = (normalized_shape,)
        self.normalized_shape = tuple(normalized_shape)
        self.eps = eps
        if elementwise_affine:
            self.weight = Parameter(ones(*self.normalized_shape))
            self.bias = Parameter(zeros(*self.normalized_shape))
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x):
        """``x`` normalised over its trailing ``normalized_shape`` axes.

        Parameters
        ----------
        x : Tensor
            ``(*, *normalized_shape)``.

        Returns
        -------
        Tensor
            The shape of ``x``.
        """
        n = len(self.normalized_shape)
        if tuple(x.shape[x.ndim - n:]) != self.normalized_shape:
            raise ValueError(f"LayerNorm: input shape {tuple(x.shape)} does not end in "
                             f"normalized_shape {self.normalized_shape}")
        axes = tuple(range(x.ndim - n, x.ndim))
        centred = x - x.mean(axis=axes, keepdims=True)
        variance = (centred * centred).mean(axis=axes, keepdims=True)
        y = centred / (variance + self.eps).sqrt()
        if self.weight is not None:
            y = y * self.weight + self.bias
        return y

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, " \
               f"elementwise_affine={self.weight is not None}"


class Sequential(Module):
    """Modules applied in order, registered as ``0``, ``1``, ... (PyTorch's naming).

    ``model[i]`` is the ``i``-th module, ``model[i:j]`` a Sequential of a slice.

    Parameters
    ----------
    *modules : Module
        In the order they run.

    Shapes
    ------
    The input shape of the first module to the output shape of the last.
    """

    def __init__(self, *modules):
        super().__init__()
        for module in modules:
            self.append(module)

    def append(self, module):
        """Add ``module`` at the end, registered under the next index.

        Parameters
        ----------
        module : Module

        Returns
        -------
        Sequential
            ``self``.
        """
        if not isinstance(module, Module):
            raise TypeError(f"Sequential: {type(module).__name__} is not a Module")
        setattr(self, str(len(self._modules)), module)
        return self

    def forward(self, x):
        """Each module applied to the previous one's output.

        Parameters
        ----------
        x : Tensor
            What the first module takes.

        Returns
        -------
        Tensor
            What the last module gives.
        """
        for module in self._modules.values():
            x = module(x)
        return x

    def __getitem__(self, index):
        modules = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*modules[index])
        return modules[index]

    def __iter__(self):
        return iter(self._modules.values())

    def __len__(self):
        return len(self._modules)
