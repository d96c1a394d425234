"""Data preprocessing of the notes (SPEC.md section 3) as scikit-learn-style transformers.

Statistics come from ``fit`` (the training split) only and are then applied by ``transform`` to
any split, so "fit on everything, then split" cannot happen by accident. ``partial_fit``
accumulates the statistics chunk by chunk (data larger than memory) and equals a one-shot
``fit``. PCA and whitening use the fast ``covariance`` op (centring fused, half the flops of a
GEMM) and a symmetric eigensolver; transforms are one fused affine op, so they run on any
backend — device arrays in, device arrays out on ``cuda``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _dask, backends, ops
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


class _Transformer(TransformerMixin, BaseEstimator, abc.ABC):
    """Shared plumbing: statistics accumulated chunk by chunk, validation that lets device and
    dask arrays through, and lazy transforms of dask arrays.

    A subclass declares its sufficient statistics once: ``_statistics(X, backend)`` of one chunk
    and ``_merge(a, b)`` of two (associative, so any chunking and any reduction tree give the
    same result to rounding); ``_absorb()`` turns the merged statistics into fitted attributes.
    ``partial_fit`` merges a chunk's statistics into the running ones; ``fit`` of a dask array
    merges its blocks' statistics in Dask's tree reduction, computed where the blocks live.
    """

    backend: str | None = None
    n_features_in_: int
    _stats: Any
    _statistics: Callable[[Any, str | None], Any]
    _merge: Callable[[Any, Any], Any]

    def fit(self, X: Any, y: Any = None) -> Any:
        """Learn the statistics from X (N, D): an array, a device array or a dask array."""
        self.__dict__.pop("_stats", None)
        return self.partial_fit(X, y)

    def partial_fit(self, X: Any, y: Any = None) -> Any:
        """Add a chunk of rows (or every block of a dask array) to the statistics."""
        self._accumulate(X)
        self._absorb()
        return self

    def _accumulate(self, X: Any) -> None:
        first = not hasattr(self, "_stats")
        if _dask.is_dask_array(X):
            X = _dask.row_blocks(X, None if first else self.n_features_in_)
            self._check_params(X.shape[1])
            block_statistics = _BlockStatistics(type(self)._statistics, self._backend_for(X))
            stats = _dask.reduce_rows(X, block_statistics, type(self)._merge)
            self.n_features_in_ = X.shape[1]
        else:
            X = self._data(X, reset=first)
            self._check_params(X.shape[1])
            stats = type(self)._statistics(X, self._backend_for(X))
        if first:
            self._dtype = _output_dtype(X)
        self._stats = stats if first else type(self)._merge(self._stats, stats)

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, rebuilding ``_stats`` for estimators pickled by fastmlp before the statistics
        were declared per class (they kept them under other names), so ``partial_fit`` goes on
        from them instead of silently starting over."""
        if "_stats" not in state:
            legacy = _legacy_statistics(state)
            if legacy is not None:
                state["_stats"] = legacy
        super().__setstate__(state)

    def _check_params(self, d: int) -> None:
        """Raise for parameters that do not fit data of ``d`` features (subclasses add theirs)."""

    @abc.abstractmethod
    def _absorb(self) -> None:
        """Set the fitted attributes from the merged statistics ``_stats``."""

    @_dask.lazy_on_dask
    def transform(self, X: Any) -> Any:
        """The transformed rows; a dask array in gives a lazy dask array out."""
        check_is_fitted(self)
        return self._transform(self._data(X, reset=False))

    @_dask.lazy_on_dask
    def inverse_transform(self, X: Any) -> Any:
        """Back to the original feature space; a dask array in gives a lazy dask array out."""
        check_is_fitted(self)
        return self._inverse(X)

    @abc.abstractmethod
    def _transform(self, X: Any) -> Any:
        """The transform of validated rows X."""

    @abc.abstractmethod
    def _inverse(self, X: Any) -> Any:
        """The inverse transform of rows X (validated here: their width is the output's)."""

    def _backend_for(self, X: Any) -> str | None:
        return "cuda" if backends.is_device_array(X) and self.backend is None else self.backend

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
        if not backends.is_device_array(X):  # statistics are float64; the data's dtype wins
            W, b = W.astype(X.dtype, copy=False), b.astype(X.dtype, copy=False)
        return ops.affine_forward(X, W, b, backend=self._backend_for(X))

    def _scale_shift(self, X: Any, scale: np.ndarray, shift: np.ndarray) -> Any:
        """``X * scale + shift`` per feature: elementwise on the host, a diagonal affine op on devices."""
        if backends.is_device_array(X):
            return self._affine(X, np.diag(scale), shift)
        return X * scale.astype(X.dtype) + shift.astype(X.dtype)


class _PerFeature(_Transformer):
    """Transformers that scale and shift each feature: their inverse is another scale and shift."""

    def _inverse(self, X: Any) -> Any:
        X = self._data(X, reset=False)
        scale, shift = self._inverse_scale_shift()
        return self._scale_shift(X, scale, shift)

    @abc.abstractmethod
    def _inverse_scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-feature (scale, shift) of the inverse transform."""


def _output_dtype(X: Any) -> np.dtype:
    """The dtype fitted attributes take: the data's float dtype (device data: float32)."""
    if backends.is_device_array(X):
        return np.dtype(np.float32)
    return np.dtype(X.dtype) if np.dtype(X.dtype) in (np.float32, np.float64) else np.dtype(np.float64)


class _BlockStatistics:
    """One dask block's statistics, after the checks ``fit`` makes of in-memory data (finite
    float rows): each block is validated where it lives, once, as the reduction reads it."""

    def __init__(self, statistics: Callable[[Any, str | None], Any], backend: str | None) -> None:
        self.statistics = statistics
        self.backend = backend

    def __call__(self, block: Any) -> Any:
        block = np.asarray(block)
        if block.dtype not in (np.float32, np.float64):
            block = block.astype(np.float64)
        if block.shape[0] and not chk.all_finite(block):
            raise ValueError("Input X contains NaN or infinity (in a block of the dask array)")
        return self.statistics(block, self.backend)


class _Moments:
    """Only for unpickling PCA/Whitening pickled by an earlier fastmlp (their running moments
    were a ``_Moments``: n, mean, m2); :func:`_legacy_statistics` turns it into ``_stats``."""

    n: int
    mean: np.ndarray
    m2: np.ndarray


def _legacy_statistics(state: dict[str, Any]) -> tuple | None:
    """``_stats`` from the attributes an earlier fastmlp kept (None when there are none)."""
    if isinstance(state.get("_moments"), _Moments):
        moments = state.pop("_moments")
        return moments.n, moments.mean, moments.m2
    if "_sum" in state and "n_samples_seen_" in state:
        return state["n_samples_seen_"], state.pop("_sum")
    if "_m2" in state and "mean_" in state:
        return state["n_samples_seen_"], state["mean_"], state.pop("_m2")
    if "data_min_" in state and "data_max_" in state:
        return state["data_min_"], state["data_max_"]
    return None


# ----- sufficient statistics: one chunk's, and the merge of two (Chan et al. for moments) ------
def _sums(X: Any, backend: str | None) -> tuple[int, np.ndarray]:
    X = _host(X)
    return X.shape[0], X.sum(axis=0, dtype=np.float64)


def _merge_sums(a: tuple, b: tuple) -> tuple:
    return a[0] + b[0], a[1] + b[1]


def _variances(X: Any, backend: str | None) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, mean, Σ (x − mean)²) per feature, float64."""
    X = _host(X).astype(np.float64)
    if X.shape[0] == 0:
        return 0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
    mean = X.mean(axis=0)
    return X.shape[0], mean, ((X - mean) ** 2).sum(axis=0)


def _covariances(X: Any, backend: str | None) -> tuple[int, np.ndarray, np.ndarray]:
    """(count, mean, centred cross-products Xcᵀ Xc) with the fused ``covariance`` kernel."""
    n, d = int(X.shape[0]), int(X.shape[1])
    if n == 0:
        return 0, np.zeros(d), np.zeros((d, d))
    mean, cov = ops.covariance(X, backend=backend)
    return n, _host(mean).astype(np.float64), _host(cov).astype(np.float64) * n


def _merge_moments(a: tuple, b: tuple) -> tuple:
    """Chan, Golub and LeVeque's pairwise merge of (count, mean, M2); M2 per feature or D × D."""
    if a[0] == 0 or b[0] == 0:
        return b if a[0] == 0 else a
    n = a[0] + b[0]
    delta = b[1] - a[1]
    cross = np.outer(delta, delta) if a[2].ndim == 2 else delta * delta
    return n, a[1] + delta * (b[0] / n), a[2] + b[2] + cross * (a[0] * b[0] / n)


def _ranges(X: Any, backend: str | None) -> tuple[np.ndarray, np.ndarray]:
    X = _host(X).astype(np.float64)
    if X.shape[0] == 0:
        return np.full(X.shape[1], np.inf), np.full(X.shape[1], -np.inf)
    return X.min(axis=0), X.max(axis=0)


def _merge_ranges(a: tuple, b: tuple) -> tuple:
    return np.minimum(a[0], b[0]), np.maximum(a[1], b[1])


class MeanSubtraction(_PerFeature):
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

    _statistics = staticmethod(_sums)
    _merge = staticmethod(_merge_sums)

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

    def _absorb(self) -> None:
        self.n_samples_seen_, total = self._stats
        feature_mean = total / self.n_samples_seen_
        if self.axis == "feature":
            self.mean_ = feature_mean
        elif self.axis == "global":
            self.mean_ = np.asarray(feature_mean.mean())
        else:
            c = chk.integer(self.n_channels, "n_channels", 1)
            grid = feature_mean.reshape(c, -1) if self.layout == "chw" else feature_mean.reshape(-1, c).T
            self.mean_ = grid.mean(axis=1)
        self._offset = self._expand(self.mean_, feature_mean.shape[0])

    def _expand(self, value: np.ndarray, d: int) -> np.ndarray:
        if self.axis == "feature":
            return value
        if self.axis == "global":
            return np.full(d, float(value))
        per = d // chk.integer(self.n_channels, "n_channels", 1)
        return np.repeat(value, per) if self.layout == "chw" else np.tile(value, per)

    def _transform(self, X: Any) -> Any:
        """X minus the training mean."""
        return self._scale_shift(X, np.ones(X.shape[1]), -self._offset)

    def _inverse_scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        return np.ones(self._offset.shape[0]), self._offset


class Standardize(_PerFeature):
    """Zero mean and unit standard deviation per feature; constant features are only centred.
    Chunks merge by Chan et al.'s parallel variance formula, in float64.

    Attributes
    ----------
    mean_, var_, scale_ : ndarrays (D,) — ``scale_`` is the std, 1 where the std is 0
    n_samples_seen_ : int
    """

    _statistics = staticmethod(_variances)
    _merge = staticmethod(_merge_moments)

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend

    def _absorb(self) -> None:
        self.n_samples_seen_, self.mean_, m2 = self._stats
        self.var_ = m2 / self.n_samples_seen_
        std = np.sqrt(self.var_)
        # relative threshold: float rounding leaves a tiny nonzero variance on constant features
        self.scale_ = np.where(std > 1e-12 * np.maximum(np.abs(self.mean_), 1.0), std, 1.0)

    def _transform(self, X: Any) -> Any:
        """(X − mean) / std."""
        return self._scale_shift(X, 1 / self.scale_, -self.mean_ / self.scale_)

    def _inverse_scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """X · std + mean."""
        return self.scale_, self.mean_


class RangeScale(_PerFeature):
    """Scale each feature to [−1, 1] using the training minimum and maximum (constant → 0).

    Attributes
    ----------
    data_min_, data_max_ : ndarrays (D,)
    """

    _statistics = staticmethod(_ranges)
    _merge = staticmethod(_merge_ranges)

    def __init__(self, backend: str | None = None) -> None:
        self.backend = backend

    def _absorb(self) -> None:
        self.data_min_, self.data_max_ = self._stats
        span = self.data_max_ - self.data_min_
        self._scale = np.where(span > 0, 2.0 / np.where(span > 0, span, 1.0), 0.0)
        self._shift = np.where(span > 0, -1.0 - self.data_min_ * self._scale, 0.0)

    def _transform(self, X: Any) -> Any:
        """2 (X − min) / (max − min) − 1."""
        return self._scale_shift(X, self._scale, self._shift)

    def _inverse_scale_shift(self) -> tuple[np.ndarray, np.ndarray]:
        """Back to the original range (constant features come back as their value)."""
        half = (self.data_max_ - self.data_min_) / 2.0
        return half, self.data_min_ + half


class PCA(_Transformer):
    """Principal components from the covariance ``Xcᵀ Xc / N`` (the notes' normalisation).

    Components are sorted by variance with deterministic signs (largest-magnitude entry of each
    positive). ``transform`` projects onto the top ``n_components``. Chunks (``partial_fit``, or
    the blocks of a dask array) each contribute their count, mean and centred cross-products from
    the fused covariance kernel, merged pairwise (Chan et al.); one eigendecomposition of the
    D × D result follows.

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
    _statistics = staticmethod(_covariances)
    _merge = staticmethod(_merge_moments)

    def __init__(self, n_components: int | None = None, backend: str | None = None) -> None:
        self.n_components = n_components
        self.backend = backend

    def partial_fit(self, X: Any, y: Any = None, compute: bool = True) -> PCA:
        """Add a chunk to the covariance; ``compute=False`` defers the eigendecomposition (call
        ``partial_fit`` once more with ``compute=True``, or ``finalize()``, after the last chunk)."""
        self._accumulate(X)
        self.n_samples_seen_ = self._stats[0]
        if compute:
            self.finalize()
        return self

    def _absorb(self) -> None:
        self.finalize()

    def _eps(self) -> float:
        return 1e-5

    def finalize(self) -> PCA:
        """Eigendecomposition of the accumulated covariance; sets the fitted attributes."""
        d = self.n_features_in_
        k = d if self.n_components is None else chk.integer(self.n_components, "n_components", 1)
        if k > d:
            raise ValueError(f"n_components={k} but the data has only {d} features")
        n, mean, m2 = self._stats
        cov = m2 / n
        W, S, U = ops.whitening_matrix(
            cov,
            self._method,
            self._eps(),
            None if k == d else k,
            backend=self.backend if self.backend != "cuda" else None,
        )
        self.n_samples_seen_ = n
        self.mean_ = mean.astype(self._dtype)
        self.components_ = np.ascontiguousarray(U.T).astype(self._dtype)
        self.explained_variance_ = np.clip(S, 0, None).astype(self._dtype)
        total = float(np.trace(cov))
        self.explained_variance_ratio_ = (
            self.explained_variance_ / total if total > 0 else np.zeros_like(self.explained_variance_)
        )
        self.whitening_matrix_ = W.astype(self._dtype)
        self.n_components_ = k
        return self

    def _transform(self, X: Any) -> Any:
        """``(X − mean) @ W`` as one fused affine op."""
        W = self.whitening_matrix_
        return self._affine(X, W, -(self.mean_.astype(np.float64) @ W.astype(np.float64)))

    def _inverse(self, X: Any) -> Any:
        """Back to feature space (exact when no components were dropped)."""
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
