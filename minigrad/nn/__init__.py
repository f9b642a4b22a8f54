"""Neural-network building blocks: modules, layers, losses, initialisers."""
from . import functional, init
from .module import Module, ModuleList, Parameter
from .layers import (BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Dropout, Embedding,
                     HuberLoss, L1Loss, LayerNorm, Linear, MSELoss, NLLLoss, Sequential,
                     SmoothL1Loss)
from .functional import (binary_cross_entropy, binary_cross_entropy_with_logits,
                         cross_entropy, dropout, huber_loss, l1_loss, mse_loss, nll_loss,
                         smooth_l1_loss)
from .layers import (ELU, GELU, SELU, Flatten, Hardsigmoid, Hardtanh, Identity, LeakyReLU,
                     LogSigmoid, LogSoftmax, Mish, ReLU, Sigmoid, SiLU, Softmax, Softplus, Tanh)
from .utils import clip_grad_norm_
