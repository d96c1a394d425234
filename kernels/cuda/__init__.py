"""The Numba CUDA backend (``cuda``): the reference's op names, run on the GPU.

Every op takes NumPy arrays (copied over, results copied back) or device arrays (Numba, CuPy,
torch CUDA: used in place; results in the caller's kind). Kernels use grid-stride loops with
launch sizes read from :mod:`._launch` at call time, so the simulator (``NUMBA_ENABLE_CUDASIM=1``)
runs them with tiny configurations. If numba-cuda is missing or finds no GPU,
``UNAVAILABLE_REASON`` says why and nothing else is imported.
"""

import importlib.util as _util


def _why_unavailable():
    if _util.find_spec("numba_cuda") is None:
        return "numba-cuda is not installed (pip install 'fastmlp[cuda]')"
    try:
        from numba import cuda

        from ._arrays import SIM
    except Exception as exc:  # broken CUDA bindings and the like
        return f"numba.cuda could not be imported: {type(exc).__name__}: {exc}"
    if SIM:
        return ""
    try:
        if cuda.is_available():
            return ""
    except Exception as exc:
        return f"numba.cuda failed to find a GPU: {type(exc).__name__}: {exc}"
    return "numba.cuda found no usable GPU or driver (NUMBA_ENABLE_CUDASIM=1 runs the simulator)"


UNAVAILABLE_REASON = _why_unavailable()

if not UNAVAILABLE_REASON:
    from .activations import TABLE_OPS as _TABLE_OPS
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

    # elu_forward, gelu_backward, ...: one pair per activation-table row, generated in activations.py
    globals().update(_TABLE_OPS)
