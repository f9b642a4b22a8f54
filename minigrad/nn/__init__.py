"""Neural-network building blocks: modules, layers, losses, initialisers."""
from . import functional, init
from .module import Module, ModuleList, Parameter
from .layers import Dropout, Embedding, LayerNorm, Linear, Sequential
from .layers import (ELU, GELU, SELU, Flatten, Hardsigmoid, Hardtanh, Identity, LeakyReLU,
                     LogSigmoid, LogSoftmax, Mish, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh)
from .functional import binary_cross_entropy_with_logits, cross_entropy, dropout, mse_loss
from .utils import clip_grad_norm_
