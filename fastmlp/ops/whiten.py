"""Covariance, PCA and whitening matrices (SPEC.md section 3)."""

from __future__ import annotations

from typing import Any

from . import _checks as chk
from ._dispatch import kernel

METHODS = ("pca", "zca", "rotate")


def covariance(X: Any, *, backend: str | None = None) -> tuple:
    """Feature mean and covariance ``Xc.T @ Xc / N`` of the centred rows ``Xc = X - mean``.

    Parameters
    ----------
    X : array (N, D), finite

    Returns
    -------
    mean : ndarray (D,)
    cov : ndarray (D, D), symmetric
    """
    X = chk.contiguous(chk.batch(X, "X"))
    chk.finite(X, "X")
    return kernel("covariance", backend, X)(X)


def whitening_matrix(
    cov: Any, method: str = "zca", eps: float = 1e-5, n_components: int | None = None, *, backend: str | None = None
) -> tuple:
    """Whitening matrix ``W`` so that ``(X - mean) @ W`` has (near) identity covariance.

    From the symmetric eigendecomposition ``cov = U diag(S) U.T`` (S descending, each column of U
    signed so its largest-magnitude entry is positive):

    - ``"pca"``: ``W = U_k / sqrt(S_k + eps)``, shape (D, k): rotate, keep k, scale;
    - ``"zca"``: ``W = U_k / sqrt(S_k + eps) @ U_k.T``, shape (D, D): whiten and rotate back
      (with k < D only the top-k directions survive: a low-rank ZCA);
    - ``"rotate"``: ``W = U_k``: PCA projection without scaling.

    Parameters
    ----------
    cov : array (D, D), symmetric, finite
    method : {"pca", "zca", "rotate"}
    eps : float > 0
        Added to the eigenvalues: smooths the amplification of low-variance noise.
    n_components : int in [1, D], optional

    Returns
    -------
    W : ndarray (D, k) or (D, D)
    eigenvalues : ndarray (k,), descending
    eigenvectors : ndarray (D, k), columns
    """
    cov = chk.contiguous(chk.as_array(cov, "cov", 2))
    d = cov.shape[0]
    if cov.shape != (d, d) or d == 0:
        raise ValueError(f"cov must be a non-empty square matrix, got shape {cov.shape}")
    chk.finite(cov, "cov")
    if not chk.symmetric(cov, rtol=1e-4, atol=1e-6 * (chk.max_abs(cov) or 1.0)):
        raise ValueError("cov must be symmetric")
    method = chk.choice(method, "method", METHODS)
    eps = chk.positive_in(chk.number(eps, "eps", 0.0, low_open=True), cov, "eps")
    if n_components is not None:
        n_components = chk.integer(n_components, "n_components", 1)
        if n_components > d:
            raise ValueError(f"n_components={n_components} but the data has only {d} features")
    return kernel("whitening_matrix", backend, cov)(cov, method, eps, n_components)
