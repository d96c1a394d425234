"""The Numba CPU backend (``numba``): same op names as the reference, compiled and fused."""

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
from .dense import affine_backward, affine_forward, dense_backward, dense_forward
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
from .whiten import covariance, whitening_matrix
