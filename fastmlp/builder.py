"""``fastmlp.MLP``: the usual fully connected network in one call."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from . import losses as loss_lib
from .kernels.activation_table import BY_NAME, NAMES
from .layers import Activation, BatchNorm, Dense, Dropout, Layer, LeakyReLU, Maxout, PReLU, ReLU, Sigmoid, Tanh
from .model import Sequential, random_seed
from .ops import _checks as chk

# the activation table's rows (fused into the dense layers), and the two with parameters of their own
ACTIVATIONS = (*(n for n in NAMES if n != "identity"), "prelu", "maxout", "identity")
_SEPARATE = {"relu": ReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def MLP(
    sizes: Any,
    activation: str = "relu",
    keep_prob: float = 1.0,
    batchnorm: bool = False,
    loss: Any = "softmax",
    init: Any = None,
    dtype: Any = "float32",
    seed: int | None = None,
    backend: str | None = None,
    l1: float = 0.0,
    l2: float | None = None,
    max_norm: float | None = None,
    alpha: float | None = None,
    maxout_k: int = 2,
    input_keep_prob: float = 1.0,
    bias: float = 0.0,
) -> Sequential:
    """Build ``D → h1 → … → C``: dense layers with an activation (and optional batch norm and
    inverted dropout) after every hidden layer, and a linear score layer.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_inputs, hidden..., n_outputs]``; for classification the last entry is the number of
        classes (hierarchical softmax then gets C - 1 score units).
    activation : str
        A name of ``fastmlp.ops.ACTIVATIONS`` (the activation table: relu, sigmoid, tanh, ...),
        or prelu or maxout.
    keep_prob : float in (0, 1]
        Dropout keep probability after every hidden layer (1 = no dropout).
    batchnorm : bool
        Batch norm between each hidden dense layer and its activation.
    loss : {"softmax", "svm", "squared_hinge", "hierarchical_softmax", "sigmoid", "attribute_hinge",
        "l2", "l1"} or a :class:`fastmlp.losses.Loss`
    init : weight scheme (:mod:`fastmlp.init`), optional
        Default: the activation's (the activation table's ``init``: ``he``, ``xavier`` for
        sigmoid and tanh; ``he`` for prelu and maxout).
    dtype : "float32" or "float64"
    seed : int, optional — fixes initial weights, dropout masks and shuffling
    backend : str, optional
    l1 : float, global L1 strength; l2 : float, optional per-layer L2 for every layer (else the
        optimizer's weight_decay); max_norm : float, optional max-norm constraint on every layer
    alpha : the activation's parameter (leaky ReLU slope, ELU scale; default the table's);
        maxout_k : pieces per maxout unit
    input_keep_prob : float, dropout on the input layer
    bias : float, initial bias of hidden layers (the notes mention 0.01 for ReLU units)

    Returns
    -------
    Sequential

    Examples
    --------
    >>> net = MLP([3, 4, 2], seed=0)
    >>> net.num_params
    26
    """
    sizes = [chk.integer(s, "sizes entry", 1) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least [n_inputs, n_outputs], got {sizes}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"dtype must be float32 or float64, got {dt}")
    loss_obj = loss_lib.get(loss, n_classes=sizes[-1])
    keep_prob = chk.keep_prob(keep_prob)
    input_keep_prob = chk.keep_prob(input_keep_prob)
    seed = random_seed() if seed is None else chk.integer(seed, "seed")
    rng = np.random.default_rng(seed)
    if init is None:
        init = BY_NAME[activation].init if activation in BY_NAME else "he"
    reg = {"l2": l2, "l1": None, "max_norm": max_norm, "dtype": dt, "rng": rng}
    layers: list[Layer] = []
    if input_keep_prob < 1.0:
        layers.append(Dropout(input_keep_prob))
    for n_in, n_out in itertools.pairwise(sizes[:-1]):
        if activation == "maxout":
            layers.append(Maxout(n_in, n_out, maxout_k, init=init, **reg))
        elif batchnorm or activation == "prelu":
            layers.append(Dense(n_in, n_out, init=init, bias=bias, **reg))
            if batchnorm:
                layers.append(BatchNorm(n_out, dtype=dt))
            if activation == "prelu":
                layers.append(PReLU(n_out, dtype=dt))
            elif activation == "leaky_relu":
                layers.append(LeakyReLU(0.01 if alpha is None else alpha))
            elif activation in _SEPARATE:
                layers.append(_SEPARATE[activation]())
            elif activation != "identity":
                layers.append(Activation(activation, alpha))
        else:  # activation and dropout fused into the dense layer's epilogue
            layers.append(Dense(n_in, n_out, activation, keep_prob, init=init, bias=bias, alpha=alpha, **reg))
            continue
        if keep_prob < 1.0:
            layers.append(Dropout(keep_prob))
    layers.append(Dense(sizes[-2], loss_obj.n_outputs(sizes[-1]), init=init, **reg))
    return Sequential(layers, loss_obj, l1=l1, seed=seed, backend=backend)
