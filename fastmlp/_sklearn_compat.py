"""scikit-learn's estimator base classes when it is installed, a minimal stand-in otherwise.

fastmlp's transformers and estimators follow scikit-learn's conventions either way; with
scikit-learn installed they ARE scikit-learn estimators (pipelines, grid search, clone, and
``check_estimator`` passes). Input validation uses scikit-learn's own ``validate_data`` then,
so error messages match what its users know.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

try:
    from sklearn.base import BaseEstimator, TransformerMixin
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted, validate_data

    HAVE_SKLEARN = True
except ImportError:  # pragma: no cover - exercised in environments without scikit-learn
    HAVE_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):  # type: ignore[no-redef]
        """The estimator was used before ``fit``."""

    class BaseEstimator:  # type: ignore[no-redef]
        """get_params/set_params from the constructor's signature, as scikit-learn does."""

        @classmethod
        def _get_param_names(cls) -> list[str]:
            sig = inspect.signature(cls.__init__)
            params = sig.parameters.values()
            return sorted(p.name for p in params if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep: bool = True) -> dict[str, Any]:
            """Constructor parameters and their current values."""
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params: Any) -> BaseEstimator:
            """Set constructor parameters; returns self."""
            valid = self._get_param_names()
            for key, value in params.items():
                if key not in valid:
                    raise ValueError(f"invalid parameter {key!r} for {type(self).__name__}; valid: {valid}")
                setattr(self, key, value)
            return self

        def __repr__(self) -> str:
            args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
            return f"{type(self).__name__}({args})"

    class TransformerMixin:  # type: ignore[no-redef]
        """fit_transform = fit then transform."""

        def fit_transform(self, X: Any, y: Any = None, **fit_params: Any) -> Any:
            """Fit to X, then transform it."""
            return self.fit(X, y, **fit_params).transform(X)  # type: ignore[attr-defined]

    def check_is_fitted(estimator: Any, attributes: Any = None) -> None:
        """Raise NotFittedError unless ``fit`` has run."""
        if not any(k.endswith("_") and not k.startswith("__") for k in vars(estimator)):
            raise NotFittedError(f"This {type(estimator).__name__} instance is not fitted yet; call 'fit' first.")

    def validate_data(
        estimator: Any, X: Any = "no_validation", y: Any = "no_validation", reset: bool = True, **kwargs: Any
    ) -> Any:
        """2-d finite float array with at least one row, feature count remembered on ``reset``."""
        from .ops import _checks as chk

        arr = chk.batch(X, "X")
        if arr.dtype.char not in "fd":
            arr = arr.astype(np.float64)
        chk.finite(arr, "X")
        if reset:
            estimator.n_features_in_ = arr.shape[1]
        elif arr.shape[1] != getattr(estimator, "n_features_in_", arr.shape[1]):
            raise ValueError(
                f"X has {arr.shape[1]} features, but {type(estimator).__name__} is expecting "
                f"{estimator.n_features_in_} features as input."
            )
        return arr


def float_data(estimator: Any, X: Any, reset: bool) -> np.ndarray:
    """X validated as a finite 2-d float32/float64 array (other dtypes become float64)."""
    return validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32], ensure_min_samples=1)


__all__ = [
    "HAVE_SKLEARN",
    "BaseEstimator",
    "NotFittedError",
    "TransformerMixin",
    "check_is_fitted",
    "float_data",
    "validate_data",
]
