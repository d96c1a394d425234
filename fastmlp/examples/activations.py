"""Activation functions and their derivatives, from fastmlp's forward and backward ops."""

from __future__ import annotations

import numpy as np

from .. import ops
from ._plot import pyplot, save


def curves(x: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (f(x), f'(x)) from the ops (derivatives via each op's backward with dy = 1)."""
    row = x[None, :]
    ones = np.ones_like(row)
    sig = ops.sigmoid_forward(row)
    tanh = ops.tanh_forward(row)
    relu = ops.relu_forward(row)
    leaky = ops.leaky_relu_forward(row, 0.1)
    # maxout of two lines, max(0.5 x - 0.2, -x + 0.1): pieces adjacent per unit, k = 2
    pieces = np.stack([0.5 * x - 0.2, -x + 0.1], axis=1).reshape(1, -1)
    mx, which = ops.maxout_forward(pieces, 2)
    dmx = ops.maxout_backward(ones, which, 2).reshape(-1, 2)
    slopes = np.array([0.5, -1.0])
    return {
        "sigmoid": (sig[0], ops.sigmoid_backward(ones, sig)[0]),
        "tanh": (tanh[0], ops.tanh_backward(ones, tanh)[0]),
        "ReLU": (relu[0], ops.relu_backward(ones, relu)[0]),
        "leaky ReLU (α = 0.1)": (leaky[0], ops.leaky_relu_backward(ones, row, 0.1)[0]),
        "maxout of 2 lines": (mx[0], dmx @ slopes),
    }


def main(out_dir: str, quick: bool = False) -> list[str]:
    """One figure: ``activations.png`` (f above, f′ below, one column per activation).

    Parameters
    ----------
    out_dir : str
        Folder the PNGs go to.
    quick : bool
        Tiny sizes and few epochs (seconds).

    Returns
    -------
    list of str
        The PNGs written.
    """
    plt = pyplot()
    x = np.linspace(-4, 4, 81 if quick else 801)
    found = curves(x)
    fig, axes = plt.subplots(2, len(found), figsize=(3.2 * len(found), 5.5), sharex=True)
    for col, (name, (f, df)) in enumerate(found.items()):
        axes[0, col].plot(x, f, color="C0")
        axes[0, col].set_title(name)
        axes[1, col].plot(x, df, color="C3")
        for ax in axes[:, col]:
            ax.axhline(0, color="grey", lw=0.5)
            ax.axvline(0, color="grey", lw=0.5)
            ax.grid(alpha=0.3)
    axes[0, 0].set_ylabel("f(x)")
    axes[1, 0].set_ylabel("f′(x)")
    fig.suptitle("Activation functions (top) and their derivatives (bottom), from fastmlp's ops")
    return [save(fig, out_dir, "activations.png")]
