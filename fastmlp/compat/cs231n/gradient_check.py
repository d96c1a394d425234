"""CS231n ``gradient_check.py``: central finite differences and the notebooks' relative error.

These perturb ``x`` IN PLACE (one entry at a time, restored afterwards), exactly like the
assignment's helpers, so ``f`` may close over ``x`` (e.g. ``model.params["W1"]``).
"""

from __future__ import annotations

from collections.abc import Callable
from random import randrange
from typing import Any

import numpy as np


def eval_numerical_gradient(f: Callable, x: np.ndarray, verbose: bool = True, h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of a scalar function: ``(f(x + h e_i) - f(x - h e_i)) / 2h`` per entry.

    Parameters
    ----------
    f : callable
        Takes x, returns a scalar.
    x : float ndarray
        Point of evaluation; perturbed in place and restored.
    verbose : bool, default True
        Print each index and partial derivative.
    h : float, default 1e-5

    Returns
    -------
    grad : ndarray, x's shape and dtype
    """
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad[ix] = (fxph - fxmh) / (2 * h)
        if verbose:
            print(ix, grad[ix])
    return grad


def eval_numerical_gradient_array(f: Callable, x: np.ndarray, df: Any = 1, h: float = 1e-5) -> np.ndarray:
    """Numerical gradient of ``sum(f(x) * df)`` for an array-valued f (df: upstream gradient).

    Parameters
    ----------
    f : callable
        Takes x, returns an array.
    x : float ndarray
        Perturbed in place and restored.
    df : array, f(x)'s shape (or a scalar)
    h : float, default 1e-5

    Returns
    -------
    grad : ndarray, x's shape and dtype
    """
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), copy=True)
        x[ix] = old - h
        neg = np.array(f(x), copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * df) / (2 * h)
    return grad


def grad_check_sparse(
    f: Callable, x: np.ndarray, analytic_grad: np.ndarray, num_checks: int = 10, h: float = 1e-5
) -> None:
    """Print numerical vs analytic gradient at ``num_checks`` random entries of x.

    Entries are drawn with Python's ``random.randrange``, as in the assignment. A relative error
    of two zero gradients prints as 0 (the assignment divides 0 by 0).

    Parameters
    ----------
    f : callable
        Takes x, returns a scalar.
    x : float ndarray
        Point of evaluation; perturbed in place and restored.
    analytic_grad : ndarray, x's shape
        The gradient to check.
    num_checks : int, default 10
        Number of random entries (drawn with replacement).
    h : float, default 1e-5
        Finite-difference step.

    Returns
    -------
    None
        One line per entry is printed: numerical and analytic value and their relative error.
    """
    for _ in range(num_checks):
        ix = tuple(randrange(m) for m in x.shape)
        old = x[ix]
        x[ix] = old + h
        fxph = f(x)
        x[ix] = old - h
        fxmh = f(x)
        x[ix] = old
        grad_numerical = (fxph - fxmh) / (2 * h)
        grad_analytic = analytic_grad[ix]
        denom = abs(grad_numerical) + abs(grad_analytic)
        rel = abs(grad_numerical - grad_analytic) / denom if denom > 0 else 0.0
        print(f"numerical: {grad_numerical:f} analytic: {grad_analytic:f}, relative error: {rel:e}")


def rel_error(x: Any, y: Any) -> float:
    """The notebooks' relative error ``max |x - y| / max(1e-8, |x| + |y|)``.

    Parameters
    ----------
    x, y : array_like, broadcastable shapes

    Returns
    -------
    float
        Largest elementwise relative error ``|x - y| / max(1e-8, |x| + |y|)``.
    """
    x, y = np.asarray(x), np.asarray(y)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
