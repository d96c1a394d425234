"""The CS231n assignments' API (fully connected nets) on fastmlp's kernels, laid out like the
assignments' ``cs231n`` package, so replacing ``cs231n`` by ``fastmlp.compat.cs231n`` in any
import line works and a student's script runs unchanged, on fused, compiled kernels::

    # from cs231n.layers import *              from cs231n.classifiers.fc_net import *
    # from cs231n.layer_utils import *         from cs231n.classifiers.neural_net import TwoLayerNet
    # from cs231n.solver import Solver         from cs231n.gradient_check import eval_numerical_gradient
    # from cs231n.optim import adam            from cs231n.data_utils import get_CIFAR10_data
    from fastmlp.compat.cs231n.layers import *  # ... and so on, module for module

Modules, with the assignments' signatures and return conventions:

- ``layers``: ``affine_forward/backward``, ``relu_forward/backward``, ``dropout_forward/backward``
  (``dropout_param["p"]`` is the KEEP probability), ``batchnorm_forward/backward/backward_alt``
  (mutating ``bn_param``), ``layernorm_forward/backward``, ``softmax_loss``, ``svm_loss``;
- ``layer_utils``: ``affine_relu_forward/backward`` (one fused kernel each);
- ``optim``: ``sgd``, ``sgd_momentum``, ``rmsprop``, ``adam``;
- ``classifiers.fc_net``: ``FullyConnectedNet``, ``TwoLayerNet`` (assignment 2), with
  ``save``/``load`` (no pickle); ``classifiers.neural_net``: assignment 1's ``TwoLayerNet``;
- ``solver``: ``Solver``; ``gradient_check``: ``eval_numerical_gradient``,
  ``eval_numerical_gradient_array``, ``grad_check_sparse``, ``rel_error``;
- ``data_utils``: ``load_CIFAR10`` and ``get_CIFAR10_data`` from a local copy of CIFAR-10.

``from fastmlp.compat.cs231n import *`` brings the layers, update rules, models, ``Solver`` and
gradient checks at once. Not provided: the convolutional parts (``conv_*``, ``max_pool_*``,
spatial batch/group norm, ``cnn.py``), which fastmlp has no kernels for.
"""

from . import classifiers, data_utils, gradient_check, layer_utils, layers, optim, solver
from .classifiers.fc_net import FullyConnectedNet, TwoLayerNet
from .gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, grad_check_sparse, rel_error
from .layer_utils import affine_relu_backward, affine_relu_forward
from .layers import (
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
    svm_loss,
)
from .optim import adam, rmsprop, sgd, sgd_momentum
from .solver import Solver

__all__ = [
    "FullyConnectedNet",
    "Solver",
    "TwoLayerNet",
    "adam",
    "affine_backward",
    "affine_forward",
    "affine_relu_backward",
    "affine_relu_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "dropout_backward",
    "dropout_forward",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
    "layernorm_backward",
    "layernorm_forward",
    "rel_error",
    "relu_backward",
    "relu_forward",
    "rmsprop",
    "sgd",
    "sgd_momentum",
    "softmax_loss",
    "svm_loss",
]
