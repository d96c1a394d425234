"""The CS231n assignment API (assignment 2, fully connected nets) on fastmlp's kernels.

Replace the assignment's imports and a student's script runs unchanged, but on fused, compiled
kernels::

    # from cs231n.layers import *; from cs231n.solver import Solver; ...
    from fastmlp.compat.cs231n import *

Same signatures and return conventions as ``cs231n/layers.py``, ``layer_utils.py``,
``optim.py``, ``classifiers/fc_net.py``, ``solver.py`` and ``gradient_check.py``:

- layers: ``affine_forward/backward``, ``relu_forward/backward``, ``affine_relu_forward/backward``,
  ``dropout_forward/backward`` (``dropout_param["p"]`` is the KEEP probability),
  ``batchnorm_forward/backward/backward_alt`` (mutating ``bn_param``), ``layernorm_forward/backward``,
  ``softmax_loss``, ``svm_loss``;
- update rules (also as the module ``optim``): ``sgd``, ``sgd_momentum``, ``rmsprop``, ``adam``;
- models: ``FullyConnectedNet``, ``TwoLayerNet``; training: ``Solver``;
- gradient checks: ``eval_numerical_gradient``, ``eval_numerical_gradient_array``,
  ``grad_check_sparse``, ``rel_error``.

Not provided: the convolutional parts (``conv_*``, ``max_pool_*``, spatial batch/group norm,
``cnn.py``), which fastmlp has no kernels for, and the data loaders (``data_utils``).
"""

from . import cs231n_optim as optim  # noqa: F401 - the module, as the assignment's `from cs231n import optim`
from .cs231n_gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, grad_check_sparse, rel_error
from .cs231n_layers import (
    affine_backward,
    affine_forward,
    affine_relu_backward,
    affine_relu_forward,
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
from .cs231n_models import FullyConnectedNet, TwoLayerNet
from .cs231n_optim import adam, rmsprop, sgd, sgd_momentum
from .cs231n_solver import Solver

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
