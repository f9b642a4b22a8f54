"""Layers: Linear, Embedding, Dropout, LayerNorm, Sequential, the activation modules and
the loss modules.

Each is a composition of engine ops, so its gradient comes from the engine. Parameters
are made on the active backend and initialised from the seeded host generator (see
:mod:`minigrad.nn.init`), with PyTorch's shapes, names and default initialisation.
"""
from __future__ import annotations

import inspect
import math
import warnings

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


# --------------------------------------------------------------------------- activations
# Modules around the functions in :mod:`minigrad.nn.functional`, with PyTorch's
# constructor arguments and reprs. ``inplace=True`` is accepted (and shown, as PyTorch
# shows it); the result is always a new tensor and the input is left unchanged.

class _Activation(Module):
    """An activation module: its arguments are attributes (``m.negative_slope``, as in
    PyTorch), ``forward(x)`` is ``function(x, **those attributes)``, and the repr lists
    them (``inplace`` only when set, as PyTorch)."""
    function = None
    argument_names = ()
    shows_arguments = True

    def forward(self, input):
        return type(self).function(input, **{k: getattr(self, k) for k in self.argument_names})

    def extra_repr(self):
        if not self.shows_arguments:
            return ""
        return ", ".join(f"{k}={getattr(self, k)!r}" for k in self.argument_names
                         if k != "inplace" or self.inplace)


def _activation(name, function, summary, parameters="", shows_arguments=True, **defaults):
    """An :class:`_Activation` subclass taking ``defaults``' names, in order, as
    PyTorch's constructor does."""
    names = tuple(defaults)

    def __init__(self, *args, **kwargs):
        if len(args) > len(names):
            raise TypeError(f"{name}() takes at most {len(names)} arguments "
                            f"({', '.join(names) or 'none'}), got {len(args)}")
        arguments = dict(defaults)
        arguments.update(zip(names, args))
        for key, value in kwargs.items():
            if key not in arguments:
                raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
            arguments[key] = value
        Module.__init__(self)
        for key, value in arguments.items():
            setattr(self, key, value)
    # the signature it checks by hand, for inspect.signature, help() and the reference
    # (the call itself still goes through *args and **kwargs)
    __init__.__signature__ = inspect.Signature(
        [inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
        + [inspect.Parameter(key, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=value)
           for key, value in defaults.items()])
    section = f"\n    Parameters\n    ----------\n{parameters}\n" if parameters else ""
    doc = f"""{summary} (see :func:`minigrad.nn.functional.{function.__name__}`).
{section}
    Shapes
    ------
    Any shape; the result has the input's shape.
    """
    return type(name, (_Activation,), {
        "__init__": __init__, "__doc__": doc, "function": staticmethod(function),
        "argument_names": names, "shows_arguments": shows_arguments, "__module__": __name__})


_INPLACE = """    inplace : bool
        Accepted for PyTorch's signature; the result is a new tensor."""

ReLU = _activation("ReLU", functional.relu, "``max(x, 0)``", _INPLACE, inplace=False)
Tanh = _activation("Tanh", functional.tanh, "The hyperbolic tangent")
Sigmoid = _activation("Sigmoid", functional.sigmoid, "``1 / (1 + exp(-x))``")
GELU = _activation("GELU", functional.gelu, "``x * Phi(x)``", """    approximate : "none" or "tanh"
        The exact form (with erf) or the tanh approximation.""", approximate="none")
SiLU = _activation("SiLU", functional.silu, "``x * sigmoid(x)``", _INPLACE, inplace=False)
ELU = _activation("ELU", functional.elu, "``x`` above 0, ``alpha (exp(x) - 1)`` below",
                  "    alpha : float\n" + _INPLACE, alpha=1.0, inplace=False)
LeakyReLU = _activation("LeakyReLU", functional.leaky_relu,
                        "``x`` above 0, ``negative_slope * x`` below",
                        "    negative_slope : float\n" + _INPLACE, negative_slope=0.01,
                        inplace=False)
Softplus = _activation("Softplus", functional.softplus, "``log(1 + exp(beta x)) / beta``",
                       """    beta : float
    threshold : float
        Above it (in ``beta x``) the function is ``x`` itself.""", beta=1.0, threshold=20.0)
Hardtanh = _activation("Hardtanh", functional.hardtanh, "``x`` limited to ``[min_val, max_val]``",
                       "    min_val, max_val : float\n" + _INPLACE, min_val=-1.0, max_val=1.0,
                       inplace=False)
Mish = _activation("Mish", functional.mish, "``x * tanh(softplus(x))``", _INPLACE,
                   inplace=False)
LogSigmoid = _activation("LogSigmoid", functional.logsigmoid, "``log(sigmoid(x))``, stable")
SELU = _activation("SELU", functional.selu, "The self-normalising ``scale * elu(x, alpha)``",
                   _INPLACE, inplace=False)
# PyTorch's Hardsigmoid shows no arguments, even inplace=True
Hardsigmoid = _activation("Hardsigmoid", functional.hardsigmoid, "``relu6(x + 3) / 6``",
                          _INPLACE, shows_arguments=False, inplace=False)


def _softmax_dim(dim, ndim, name):
    """PyTorch's implicit choice when ``dim`` is None (deprecated there, and warned
    about here too): 0 for 0-, 1- and 3-D input, else 1."""
    if dim is not None:
        return dim
    warnings.warn(f"{name}: implicit dimension choice (dim=None) is deprecated, as in "
                  f"PyTorch; pass dim", UserWarning, stacklevel=3)
    return 0 if ndim in (0, 1, 3) else 1


class Softmax(Module):
    """``exp(x) / sum(exp(x))`` along ``dim``.

    Parameters
    ----------
    dim : int, optional
        The axis that sums to 1. None picks PyTorch's legacy default (0 for 0-, 1- and
        3-D input, else 1) with a warning.

    Shapes
    ------
    Any shape; the result has the input's shape.
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        """The softmax of ``input`` along ``dim``.

        Parameters
        ----------
        input : Tensor
            Any shape.

        Returns
        -------
        Tensor
            ``input``'s shape; it sums to 1 along ``dim``.
        """
        return functional.softmax(input, axis=_softmax_dim(self.dim, input.ndim, "Softmax"))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    """``x - logsumexp(x)`` along ``dim``.

    Parameters
    ----------
    dim : int, optional
        As :class:`Softmax`.

    Shapes
    ------
    Any shape; the result has the input's shape.
    """

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        """The log-softmax of ``input`` along ``dim``.

        Parameters
        ----------
        input : Tensor
            Any shape.

        Returns
        -------
        Tensor
            ``input``'s shape.
        """
        return functional.log_softmax(input, axis=_softmax_dim(self.dim, input.ndim,
                                                               "LogSoftmax"))

    def extra_repr(self):
        return f"dim={self.dim}"


class Identity(Module):
    """Returns its input; any constructor arguments are ignored, as in PyTorch.

    Parameters
    ----------
    *args, **kwargs : any
        Accepted and ignored.

    Shapes
    ------
    Any shape; the result is the input itself.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        """``input`` itself.

        Parameters
        ----------
        input : Tensor or any

        Returns
        -------
        The same object
        """
        return input


class Flatten(Module):
    """Axes ``start_dim`` to ``end_dim`` (both included) joined into one
    (``x.flatten(start_dim, end_dim)``).

    Parameters
    ----------
    start_dim : int
        By default 1, so the batch axis is kept.
    end_dim : int

    Shapes
    ------
    ``(*before, n_start, ..., n_end, *after)`` to
    ``(*before, n_start * ... * n_end, *after)``.
    """

    def __init__(self, start_dim=1, end_dim=-1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input):
        """``input`` with axes ``start_dim`` to ``end_dim`` joined.

        Parameters
        ----------
        input : Tensor
            Shape ``(*before, n_start, ..., n_end, *after)``.

        Returns
        -------
        Tensor
            Shape ``(*before, n_start * ... * n_end, *after)``.
        """
        return input.flatten(self.start_dim, self.end_dim)

    def extra_repr(self):
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


# --------------------------------------------------------------------------- losses
# Modules holding a loss's options, calling the function in mg.nn.functional (PyTorch's
# classes, without the deprecated size_average and reduce).

class _Loss(Module):
    """A loss module: ``loss(input, target)`` calls its function with its options."""
    function = None

    def __init__(self, reduction="mean"):
        super().__init__()
        functional._check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def _options(self):
        return {"reduction": self.reduction}

    def forward(self, input, target):
        """The loss of ``input`` against ``target`` with this module's options."""
        return type(self).function(input, target, **self._options())

    def extra_repr(self):
        return ", ".join(f"{key}={value!r}" for key, value in self._options().items()
                         if not hasattr(value, "shape"))


class MSELoss(_Loss):
    """:func:`~minigrad.nn.functional.mse_loss` as a module.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}

    Shapes
    ------
    ``input`` and ``target`` of one shape; the result is () (``'none'``: that shape).
    """
    function = staticmethod(functional.mse_loss)


class L1Loss(_Loss):
    """:func:`~minigrad.nn.functional.l1_loss` as a module.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}

    Shapes
    ------
    ``input`` and ``target`` of one shape; the result is () (``'none'``: that shape).
    """
    function = staticmethod(functional.l1_loss)


class SmoothL1Loss(_Loss):
    """:func:`~minigrad.nn.functional.smooth_l1_loss` as a module.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}
    beta : float >= 0

    Shapes
    ------
    ``input`` and ``target`` of one shape; the result is () (``'none'``: that shape).
    """
    function = staticmethod(functional.smooth_l1_loss)

    def __init__(self, reduction="mean", beta=1.0):
        super().__init__(reduction)
        self.beta = beta

    def _options(self):
        return {"reduction": self.reduction, "beta": self.beta}


class HuberLoss(_Loss):
    """:func:`~minigrad.nn.functional.huber_loss` as a module.

    Parameters
    ----------
    reduction : {'mean', 'sum', 'none'}
    delta : float > 0

    Shapes
    ------
    ``input`` and ``target`` of one shape; the result is () (``'none'``: that shape).
    """
    function = staticmethod(functional.huber_loss)

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        self.delta = delta

    def _options(self):
        return {"reduction": self.reduction, "delta": self.delta}


class NLLLoss(_Loss):
    """:func:`~minigrad.nn.functional.nll_loss` as a module.

    Parameters
    ----------
    weight : Tensor or array, shape (C,), optional
    ignore_index : int or None
    reduction : {'mean', 'sum', 'none'}

    Shapes
    ------
    ``input`` (N, C) or (N, C, d1, ...) log-probabilities, ``target`` (N,) or
    (N, d1, ...) class indices; the result is () (``'none'``: the target's shape).
    """
    function = staticmethod(functional.nll_loss)

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight
        self.ignore_index = ignore_index

    def _options(self):
        return {"weight": self.weight, "ignore_index": self.ignore_index,
                "reduction": self.reduction}


class CrossEntropyLoss(_Loss):
    """:func:`~minigrad.nn.functional.cross_entropy` as a module.

    Parameters
    ----------
    weight : Tensor or array, shape (C,), optional
    ignore_index : int or None
    reduction : {'mean', 'sum', 'none'}
    label_smoothing : float in [0, 1]

    Shapes
    ------
    ``input`` (N, C) or (N, C, d1, ...) logits; ``target`` (N,) or (N, d1, ...) class
    indices, or probabilities of the input's shape; the result is () (``'none'``:
    (N, d1, ...)).
    """
    function = staticmethod(functional.cross_entropy)

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean",
                 label_smoothing=0.0):
        super().__init__(reduction)
        self.weight = weight
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def _options(self):
        return {"weight": self.weight, "ignore_index": self.ignore_index,
                "reduction": self.reduction, "label_smoothing": self.label_smoothing}


class BCELoss(_Loss):
    """:func:`~minigrad.nn.functional.binary_cross_entropy` as a module.

    Parameters
    ----------
    weight : Tensor or array, broadcastable to the input's shape, optional
    reduction : {'mean', 'sum', 'none'}

    Shapes
    ------
    ``input`` (probabilities) and ``target`` of one shape; the result is ()
    (``'none'``: that shape).
    """
    function = staticmethod(functional.binary_cross_entropy)

    def __init__(self, weight=None, *, reduction="mean"):
        super().__init__(reduction)
        self.weight = weight

    def _options(self):
        return {"weight": self.weight, "reduction": self.reduction}


class BCEWithLogitsLoss(_Loss):
    """:func:`~minigrad.nn.functional.binary_cross_entropy_with_logits` as a module.

    Parameters
    ----------
    weight : Tensor or array, broadcastable to the input's shape, optional
    reduction : {'mean', 'sum', 'none'}
    pos_weight : Tensor or array, broadcastable to the input's shape, optional

    Shapes
    ------
    ``input`` (logits) and ``target`` of one shape; the result is () (``'none'``: that
    shape).
    """
    function = staticmethod(functional.binary_cross_entropy_with_logits)

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.weight = weight
        self.pos_weight = pos_weight

    def _options(self):
        return {"weight": self.weight, "reduction": self.reduction,
                "pos_weight": self.pos_weight}
