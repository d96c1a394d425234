"""fastmlp: compiled kernels for fully connected networks, checked against a NumPy reference.

Batches are rows (N x D, the CS231n layout); weight matrices are (D_in, D_out).
"""

from . import backends, datasets, init, layers, losses, ops, optim
from ._version import __version__
from .backends import get_backend, set_backend, use_backend
from .builder import MLP
from .io import ModelFileError, load
from .model import Sequential, TrainingDiverged
from .threads import get_num_threads, set_num_threads
from .warmup import warmup

__all__ = [
    "MLP",
    "ModelFileError",
    "Sequential",
    "TrainingDiverged",
    "__version__",
    "backends",
    "datasets",
    "get_backend",
    "get_num_threads",
    "init",
    "layers",
    "load",
    "losses",
    "ops",
    "optim",
    "set_backend",
    "set_num_threads",
    "use_backend",
    "warmup",
]
