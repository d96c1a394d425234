"""Preprocessing: centring, normalizing, PCA, whitening; eigen-digits and whitened digits.

A correlated point cloud original, zero-centred and normalized, then PCA-rotated and whitened;
the first 49 eigen-digits of the bundled digits and digits before and after ZCA whitening."""

from __future__ import annotations

import numpy as np

from .. import datasets
from ..preprocessing import PCA, MeanSubtraction, Standardize, Whitening
from ._plot import pyplot, save


def _cloud(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, 2)) * np.array([2.0, 0.5])
    angle = np.pi / 6
    rotation = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]])
    return base @ rotation + np.array([4.0, 2.0])


def _scatter(ax, X, title):
    ax.scatter(X[:, 0], X[:, 1], s=4, alpha=0.6)
    ax.axhline(0, color="grey", lw=0.5)
    ax.axvline(0, color="grey", lw=0.5)
    ax.set(title=title, aspect="equal", xlim=(-8, 10), ylim=(-8, 10))


def _tiles(ax, images, shape, grid, title):
    h, w = shape
    rows, cols = grid
    canvas = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for i, img in enumerate(images[: rows * cols]):
        r, c = divmod(i, cols)
        lo, hi = img.min(), img.max()
        canvas[r * (h + 1) : r * (h + 1) + h, c * (w + 1) : c * (w + 1) + w] = (img.reshape(h, w) - lo) / (
            hi - lo + 1e-12
        )
    ax.imshow(canvas, cmap="gray")
    ax.set(title=title, xticks=[], yticks=[])


def main(out_dir: str, quick: bool = False) -> list[str]:
    """Two figures: ``preprocessing_clouds.png`` and ``preprocessing_digits.png``.

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
    X = _cloud(200 if quick else 1000)
    centred = MeanSubtraction().fit_transform(X)
    normalized = Standardize().fit_transform(X)
    rotated = PCA().fit_transform(X)
    whitened = Whitening("pca", eps=1e-5).fit_transform(X)
    fig, axes = plt.subplots(1, 5, figsize=(20, 4.2))
    for ax, data, title in zip(
        axes,
        (X, centred, normalized, rotated, whitened),
        ("original data", "zero-centred", "normalized", "decorrelated (PCA-rotated)", "whitened"),
    ):
        _scatter(ax, data, title)
    fig.suptitle("Preprocessing, after the notes: each step on the same correlated point cloud")
    paths = [save(fig, out_dir, "preprocessing_clouds.png")]

    digits, _ = datasets.load_digits()
    digits = digits[:300] if quick else digits
    pca = PCA().fit(digits)
    zca = Whitening("zca", eps=1e-2).fit(digits)
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    _tiles(axes[0], digits[:49], (8, 8), (7, 7), "digits")
    _tiles(axes[1], pca.components_[:49], (8, 8), (7, 7), "the first 49 eigen-digits (PCA)")
    _tiles(axes[2], zca.transform(digits[:49]), (8, 8), (7, 7), "the same digits, ZCA-whitened")
    fig.suptitle("Eigenvectors of the digits' covariance, and whitening (edges survive, smooth regions fade)")
    paths.append(save(fig, out_dir, "preprocessing_digits.png"))
    return paths
