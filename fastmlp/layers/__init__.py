"""Layers users build networks with (batch = rows, W (n_in, n_out)); all math runs as fastmlp.ops."""

from .activations import Activation, LeakyReLU, PReLU, ReLU, Sigmoid, Tanh
from .base import Layer, Param
from .dense import Dense, DropConnect, Maxout
from .norm import BatchNorm, Dropout

LAYER_TYPES: dict[str, type[Layer]] = {
    cls.__name__: cls
    for cls in (Dense, Maxout, DropConnect, ReLU, LeakyReLU, PReLU, Sigmoid, Tanh, Activation, Dropout, BatchNorm)
}

__all__ = [
    "LAYER_TYPES",
    "Activation",
    "BatchNorm",
    "Dense",
    "DropConnect",
    "Dropout",
    "Layer",
    "LeakyReLU",
    "Maxout",
    "PReLU",
    "Param",
    "ReLU",
    "Sigmoid",
    "Tanh",
]
