"""Decision regions on the notes' spiral data: capacity, then regularization.

Three arms, not linearly separable; nets with 3, 6 and 20 hidden units, then 20 units at three
L2 strengths."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import optim
from ..builder import MLP
from ..model import Sequential
from ._plot import pyplot, save


def spiral_data(points_per_class: int = 100, classes: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The notes' spiral: radius 0..1 along each arm, angle spread by Gaussian noise (0.2).

    Parameters
    ----------
    points_per_class : int
    classes : int
        Number of arms.
    seed : int

    Returns
    -------
    X : ndarray (points_per_class * classes, 2) float32
    y : ndarray (points_per_class * classes,) int64, the arm of each point
    """
    rng = np.random.default_rng(seed)
    X = np.zeros((points_per_class * classes, 2), np.float32)
    y = np.zeros(points_per_class * classes, np.int64)
    for k in range(classes):
        rows = slice(points_per_class * k, points_per_class * (k + 1))
        r = np.linspace(0.0, 1.0, points_per_class)
        t = np.linspace(k * 4.0, (k + 1) * 4.0, points_per_class) + rng.standard_normal(points_per_class) * 0.2
        X[rows] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[rows] = k
    return X, y


def _trained(X: np.ndarray, y: np.ndarray, hidden: int, l2: float, epochs: int) -> Sequential:
    net = MLP([2, hidden, 3], seed=1)
    net.fit(X, y, epochs=epochs, batch_size=len(y), optimizer=optim.Adam(0.02, weight_decay=l2), track_dead_relu=False)
    return net


def _regions(ax: Any, net: Sequential, X: np.ndarray, y: np.ndarray, title: str, step: float) -> None:
    xx, yy = np.meshgrid(np.arange(-1.5, 1.5, step), np.arange(-1.5, 1.5, step))
    grid = np.c_[xx.ravel(), yy.ravel()].astype(np.float32)
    zz = net.predict(grid).reshape(xx.shape)
    ax.contourf(xx, yy, zz, levels=[-0.5, 0.5, 1.5, 2.5], cmap="Spectral", alpha=0.6)
    ax.scatter(X[:, 0], X[:, 1], c=y, s=12, cmap="Spectral", edgecolors="k", linewidths=0.3)
    ax.set(title=title, xlim=(-1.5, 1.5), ylim=(-1.5, 1.5), xticks=[], yticks=[])


def main(out_dir: str, quick: bool = False) -> list[str]:
    """Two figures: ``spiral_capacity.png``, ``spiral_regularization.png``.

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
    X, y = spiral_data(30 if quick else 100)
    epochs, step = (20, 0.1) if quick else (1500, 0.01)
    paths = []
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, hidden in zip(axes, (3, 6, 20)):
        net = _trained(X, y, hidden, 1e-4, epochs)
        accuracy = float(np.mean(net.predict(X) == y))
        _regions(ax, net, X, y, f"{hidden} hidden units (train acc {accuracy:.2f})", step)
    fig.suptitle("More hidden units: more capacity (the notes' 'layer sizes' figure)")
    paths.append(save(fig, out_dir, "spiral_capacity.png"))
    fig, axes = plt.subplots(1, 3, figsize=(12, 4))
    for ax, l2 in zip(axes, (1e-3, 1e-2, 1e-1)):
        net = _trained(X, y, 20, l2, epochs)
        _regions(ax, net, X, y, f"20 units, L2 λ = {l2:g}", step)
    fig.suptitle("Stronger L2: smoother decision regions (the notes' regularization figure)")
    paths.append(save(fig, out_dir, "spiral_regularization.png"))
    return paths
