"""The one door from the API into the kernels: one function per op.

Each function validates its inputs (shapes, dtypes, label ranges, finite values where required,
contiguity) with errors naming the argument, then runs the op on the selected backend
(``backend=`` argument, else :func:`fastmlp.get_backend`). Batches are rows: x (N, D),
W (D_in, D_out). See ``fastmlp/ops/_checks.py`` for the input rules.
"""

from .activations import (
    dead_relu_fraction,
    leaky_relu_backward,
    leaky_relu_forward,
    maxout_backward,
    maxout_forward,
    prelu_backward,
    prelu_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from .dense import ACTIVATIONS, affine_backward, affine_forward, dense_backward, dense_forward
from .dropout import (
    dropconnect_backward,
    dropconnect_forward,
    dropout_backward,
    dropout_forward,
    dropout_mask,
)
from .losses import (
    attribute_hinge_loss,
    l1_loss,
    l2_loss,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
    svm_loss,
)
from .norm import batchnorm_backward, batchnorm_forward
from .optim import (
    adagrad_update,
    adam_update,
    max_norm_,
    momentum_update,
    rmsprop_update,
    sgd_update,
)
from .rng import random_bits
from .whiten import METHODS as WHITENING_METHODS
from .whiten import covariance, whitening_matrix

__all__ = [
    "ACTIVATIONS",
    "WHITENING_METHODS",
    "adagrad_update",
    "adam_update",
    "affine_backward",
    "affine_forward",
    "attribute_hinge_loss",
    "batchnorm_backward",
    "batchnorm_forward",
    "covariance",
    "dead_relu_fraction",
    "dense_backward",
    "dense_forward",
    "dropconnect_backward",
    "dropconnect_forward",
    "dropout_backward",
    "dropout_forward",
    "dropout_mask",
    "l1_loss",
    "l2_loss",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "max_norm_",
    "maxout_backward",
    "maxout_forward",
    "momentum_update",
    "prelu_backward",
    "prelu_forward",
    "random_bits",
    "relu_backward",
    "relu_forward",
    "rmsprop_update",
    "sgd_update",
    "sigmoid_backward",
    "sigmoid_cross_entropy",
    "sigmoid_forward",
    "softmax_cross_entropy",
    "svm_loss",
    "tanh_backward",
    "tanh_forward",
    "whitening_matrix",
]
