"""Data preprocessing of the notes (SPEC.md section 3) as scikit-learn-style transformers.

Statistics come from ``fit`` (the training split) only and are then applied by ``transform`` to
any split, so "fit on everything, then split" cannot happen by accident. ``partial_fit``
accumulates the statistics chunk by chunk (data larger than memory) and equals a one-shot
``fit``. PCA and whitening use the fast ``covariance`` op (centring fused, half the flops of a
GEMM) and a symmetric eigensolver; transforms are one fused affine op, so they run on any
backend — device arrays in, device arrays out on ``cuda``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import backends, ops
from ._sklearn_compat import BaseEstimator, TransformerMixin, check_is_fitted, float_data
from .ops import _checks as chk


def _host(x: Any) -> np.ndarray:
    """A NumPy copy of a device array (CuPy, Numba, torch), or x itself."""
    for method in ("get", "copy_to_host"):
        if hasattr(x, method):
            return np.asarray(getattr(x, method)())
    if hasattr(x, "cpu"):
        return x.cpu().numpy()
    return np.asarray(x)


class _Transformer(TransformerMixin, BaseEstimator):
    """Shared plumbing: validation that also lets device arrays through to the ops."""

    backend: str | None = None

    def _data(self, X: Any, reset: bool) -> Any:
        if backends.is_device_array(X):
            shape = tuple(X.shape)
            if len(shape) != 2 or shape[0] == 0:
                raise ValueError(f"X must be a non-empty 2-d array, got shape {shape}")
            if reset:
                self.n_features_in_ = shape[1]
            elif shape[1] != self.n_features_in_:
                raise ValueError(
                    f"X has {shape[1]} features, but {type(self).__name__} is expecting "
                    f"{self.n_features_in_} features as input."
                )
            return X
        return float_data(self, X, reset)

    def _affine(self, X: Any, W: np.ndarray, b: np.ndarray) -> Any:
        """``X @ W + b`` on the transformer's backend (device arrays pick ``cuda``)."""
        backend = "cuda" if backends.is_device_array(X) and self.backend is None else self.backend
        if not backends.is_device_array(X):  # statistics are float64; the data's dtype wins
            W, b = W.astype(X.dtype, copy=False), b.astype(X.dtype, copy=False)
        return ops.affine_forward(X, W, b, backend=backend)

    def _scale_shift(self, X: Any, scale: np.ndarray, shift: np.ndarray) -> Any:
        """``X * scale + shift`` per feature: elementwise on the host, a diagonal affine op on devices."""
        if backends.is_device_array(X):
            return self._affine(X, np.diag(scale), shift)
        return X * scale.astype(X.dtype) + shift.astype(X.dtype)


class _Moments:
    """Running count, mean (D,) and centred second moment (D, D) in float64 (Chan et al. merge)."""

    def __init__(self) -> None:
        self.n = 0
        self.mean = np.zeros(0)
        self.m2 = np.zeros((0, 0))

    def add(self, X: Any, backend: str | None) -> None:
        n_b = int(X.shape[0])
        mean_b, cov_b = ops.covariance(X, backend=backend)
        mean_b = _host(mean_b).astype(np.float64)
        m2_b = _host(cov_b).astype(np.float64) * n_b
        if self.n == 0:
            self.n, self.mean, self.m2 = n_b, mean_b, m2_b
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        self.m2 = self.m2 + m2_b + np.outer(delta, delta) * (self.n * n_b / n)
        self.mean = self.mean + delta * (n_b / n)
        self.n = n

    @property
    def cov(self) -> np.ndarray:
        return self.m2 / self.n


class MeanSubtraction(_Transformer):
    """Subtract the training mean: per feature, one global mean, or one mean per colour channel.

    Parameters
    ----------
    axis : {"feature", "global", "channel"}
    n_channels : int, for ``axis="channel"`` (e.g. 3 for RGB rows of 3·H·W values)
    layout : {"chw", "hwc"}, for ``axis="channel"``: rows as (C, H, W) planes or (H, W, C) pixels

    Attributes
    ----------
    mean_ : ndarray — (D,), scalar array, or (n_channels,)
    n_samples_seen_ : int
    n_features_in_ : int
    """

    def __init__(
        self, axis: str = "feature", n_channels: int | None = None, layout: str = "chw", backend: str | None = None
    ) -> None:
        self.axis = axis
        self.n_channels = n_channels
        self.layout = layout
        self.backend = backend

    def _check_params(self, d: int) -> None:
        chk.choice(self.axis, "axis", ("feature", "global", "channel"))
        chk.choice(self.layout, "layout", ("chw", "hwc"))
        if self.axis == "channel":
            c = chk.integer(self.n_channels, "n_channels", 1)
            if d % c:
                raise ValueError(f"X has {d} features, not a multiple of n_channels={c}")

    def fit(self, X: Any, y: Any = None) -> MeanSubtraction:
        """Learn the mean from X (N, D)."""
        for name in ("_sum", "n_samples_seen_"):
            self.__dict__.pop(name, None)
        return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any = None) -> MeanSubtraction:
        """Add a chunk of rows to the statistics."""
        first = not hasattr(self, "n_samples_seen_")
        X = _host(self._data(X, reset=first))
        self._check_params(X.shape[1])
        if first:
            self._sum, self.n_samples_seen_ = np.zeros(X.shape[1]), 0
        self._sum = self._sum + X.sum(axis=0, dtype=np.float64)
        self.n_samples_seen_ += X.shape[0]
        feature_mean = self._sum / self.n_samples_seen_
        if self.axis == "feature":
            self.mean_ = feature_mean
        elif self.axis == "global":
            self.mean_ = np.asarray(feature_mean.mean())
        else:
            c = chk.integer(self.n_channels, "n_channels", 1)
            grid = feature_mean.reshape(c, -1) if self.layout == "chw" else feature_mean.reshape(-1, c).T
            self.mean_ = grid.mean(axis=1)
        self._offset = self._expand(self.mean_, X.shape[1])
        return self

    def _expand(self, value: np.ndarray, d: int) -> np.ndarray:
        if self.axis == "feature":
            return value
        if self.axis == "global":
            return np.full(d, float(value))
        per = d // chk.integer(self.n_channels, "n_channels", 1)
        return np.repeat(value, per) if self.layout == "chw" else np.tile(value, per)

    def transform(self, X: Any) -> Any:
        """X minus the training mean."""
        check_is_fitted(self)
        X = self._data(X, reset=False)
        return self._scale_shift(X, np.ones(X.shape[1]), -self._offset)

    def inverse_transform(self, X: Any) -> Any:
        """Add the mean back."""
        check_is_fitted(self)
        X = self._data(X, reset=False)
        return self._scale_shift(X, np.ones(X.shape[1]), self._offset)


class Standardize(_Transformer):
    """Zero mean and unit standard deviation per feature; constant features are only centred.

    Attributes
    ----------
    mean_, var_, scale_ : ndarrays (D,) — ``scale_`` is the std, 1 where the std is 0
    n_samples_seen_ : int
    """

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend

    def fit(self, X: Any, y: Any = None) -> Standardize:
        """Learn mean and std from X."""
        self.__dict__.pop("n_samples_seen_", None)
        return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any = None) -> Standardize:
        """Add a chunk (Chan et al.'s parallel variance merge, float64)."""
        first = not hasattr(self, "n_samples_seen_")
        X = _host(self._data(X, reset=first)).astype(np.float64)
        n_b, mean_b = X.shape[0], X.mean(axis=0)
        m2_b = ((X - mean_b) ** 2).sum(axis=0)
        if first:
            self.n_samples_seen_, self.mean_, self._m2 = n_b, mean_b, m2_b
        else:
            n = self.n_samples_seen_ + n_b
            delta = mean_b - self.mean_
            self._m2 = self._m2 + m2_b + delta**2 * (self.n_samples_seen_ * n_b / n)
            self.mean_ = self.mean_ + delta * (n_b / n)
            self.n_samples_seen_ = n
        self.var_ = self._m2 / self.n_samples_seen_
        std = np.sqrt(self.var_)
        # relative threshold: float rounding leaves a tiny nonzero variance on constant features
        self.scale_ = np.where(std > 1e-12 * np.maximum(np.abs(self.mean_), 1.0), std, 1.0)
        return self

    def transform(self, X: Any) -> Any:
        """(X − mean) / std."""
        check_is_fitted(self)
        X = self._data(X, reset=False)
        return self._scale_shift(X, 1 / self.scale_, -self.mean_ / self.scale_)

    def inverse_transform(self, X: Any) -> Any:
        """X · std + mean."""
        check_is_fitted(self)
        X = self._data(X, reset=False)
        return self._scale_shift(X, self.scale_, self.mean_)


class RangeScale(_Transformer):
    """Scale each feature to [−1, 1] using the training minimum and maximum (constant → 0).

    Attributes
    ----------
    data_min_, data_max_ : ndarrays (D,)
    """

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend

    def fit(self, X: Any, y: Any = None) -> RangeScale:
        """Learn per-feature min and max."""
        self.__dict__.pop("data_min_", None)
        return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any = None) -> RangeScale:
        """Widen the min/max with a chunk."""
        first = not hasattr(self, "data_min_")
        X = _host(self._data(X, reset=first)).astype(np.float64)
        lo, hi = X.min(axis=0), X.max(axis=0)
        self.data_min_: np.ndarray
        self.data_max_: np.ndarray
        self.data_min_ = lo if first else np.minimum(self.data_min_, lo)
        self.data_max_ = hi if first else np.maximum(self.data_max_, hi)
        span = self.data_max_ - self.data_min_
        self._scale = np.where(span > 0, 2.0 / np.where(span > 0, span, 1.0), 0.0)
        self._shift = np.where(span > 0, -1.0 - self.data_min_ * self._scale, 0.0)
        return self

    def transform(self, X: Any) -> Any:
        """2 (X − min) / (max − min) − 1."""
        check_is_fitted(self)
        X = self._data(X, reset=False)
        return self._scale_shift(X, self._scale, self._shift)

    def inverse_transform(self, X: Any) -> Any:
        """Back to the original range (constant features come back as their value)."""
        check_is_fitted(self)
        X = self._data(X, reset=False)
        half = (self.data_max_ - self.data_min_) / 2.0
        return self._scale_shift(X, half, self.data_min_ + half)


class PCA(_Transformer):
    """Principal components from the covariance ``Xcᵀ Xc / N`` (the notes' normalisation).

    Components are sorted by variance with deterministic signs (largest-magnitude entry of each
    positive). ``transform`` projects onto the top ``n_components``.

    Parameters
    ----------
    n_components : int in [1, D], optional (default all)
    backend : str, optional

    Attributes
    ----------
    mean_ : ndarray (D,)
    components_ : ndarray (k, D), rows
    explained_variance_ : ndarray (k,), eigenvalues of the covariance
    explained_variance_ratio_ : ndarray (k,)
    n_samples_seen_ : int
    """

    _method = "rotate"

    def __init__(self, n_components: int | None = None, backend: str | None = None) -> None:
        self.n_components = n_components
        self.backend = backend

    def fit(self, X: Any, y: Any = None) -> PCA:
        """Covariance of X, eigendecomposition, top components."""
        self.__dict__.pop("_moments", None)
        return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any = None, compute: bool = True) -> PCA:
        """Add a chunk to the covariance; ``compute=False`` defers the eigendecomposition (call
        ``partial_fit`` once more with ``compute=True``, or ``finalize()``, after the last chunk)."""
        first = not hasattr(self, "_moments")
        X = self._data(X, reset=first)
        if first:
            self._moments = _Moments()
            self._dtype = np.dtype(X.dtype) if not backends.is_device_array(X) else np.dtype(np.float32)
        self._moments.add(X, self._backend_for(X))
        self.n_samples_seen_ = self._moments.n
        if compute:
            self.finalize()
        return self

    def _backend_for(self, X: Any) -> str | None:
        return "cuda" if backends.is_device_array(X) and self.backend is None else self.backend

    def _eps(self) -> float:
        return 1e-5

    def finalize(self) -> PCA:
        """Eigendecomposition of the accumulated covariance; sets the fitted attributes."""
        d = self.n_features_in_
        k = d if self.n_components is None else chk.integer(self.n_components, "n_components", 1)
        if k > d:
            raise ValueError(f"n_components={k} but the data has only {d} features")
        cov = self._moments.cov
        W, S, U = ops.whitening_matrix(
            cov,
            self._method,
            self._eps(),
            None if k == d else k,
            backend=self.backend if self.backend != "cuda" else None,
        )
        self.mean_ = self._moments.mean.astype(self._dtype)
        self.components_ = np.ascontiguousarray(U.T).astype(self._dtype)
        self.explained_variance_ = np.clip(S, 0, None).astype(self._dtype)
        total = float(np.trace(cov))
        self.explained_variance_ratio_ = (
            self.explained_variance_ / total if total > 0 else np.zeros_like(self.explained_variance_)
        )
        self.whitening_matrix_ = W.astype(self._dtype)
        self.n_components_ = k
        return self

    def transform(self, X: Any) -> Any:
        """``(X − mean) @ W`` as one fused affine op."""
        check_is_fitted(self)
        X = self._data(X, reset=False)
        W = self.whitening_matrix_
        return self._affine(X, W, -(self.mean_.astype(np.float64) @ W.astype(np.float64)))

    def inverse_transform(self, X: Any) -> Any:
        """Back to feature space (exact when no components were dropped)."""
        check_is_fitted(self)
        Z = _host(X) if backends.is_device_array(X) else np.asarray(X, dtype=np.float64)
        return Z @ self._inverse_matrix() + self.mean_

    def _inverse_matrix(self) -> np.ndarray:
        return self.components_.astype(np.float64)


class Whitening(PCA):
    """PCA or ZCA whitening: ``X_white = X_rot / sqrt(S + eps)``; ZCA rotates back by Uᵀ.

    Parameters
    ----------
    method : {"pca", "zca"}
    n_components : int, optional (PCA whitening only)
    eps : float > 0, default 1e-5 — smooths the amplification of low-variance directions
    backend : str, optional

    Attributes
    ----------
    mean_, components_, explained_variance_, explained_variance_ratio_ : as for :class:`PCA`
    whitening_matrix_ : ndarray, (D, k) for "pca", (D, D) for "zca"
    """

    def __init__(
        self, method: str = "zca", n_components: int | None = None, eps: float = 1e-5, backend: str | None = None
    ) -> None:
        self.method = method
        self.n_components = n_components
        self.eps = eps
        self.backend = backend

    @property
    def _method(self) -> str:  # type: ignore[override]
        return chk.choice(self.method, "method", ("pca", "zca"))

    def _eps(self) -> float:
        return chk.number(self.eps, "eps", 0.0, low_open=True)

    def _inverse_matrix(self) -> np.ndarray:
        U = self.components_.astype(np.float64)
        scale = np.sqrt(self.explained_variance_.astype(np.float64) + self._eps())
        if self._method == "pca":
            return scale[:, None] * U
        return U.T @ (scale[:, None] * U)


__all__ = ["PCA", "MeanSubtraction", "RangeScale", "Standardize", "Whitening"]
