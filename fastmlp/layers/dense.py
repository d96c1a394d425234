"""Layers with weights: Dense (fused activation + dropout), Maxout, DropConnect."""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from .. import init as initializers
from .. import ops
from ..kernels.activation_table import BY_NAME, NAMES
from ..ops._dispatch import kernel
from .base import Layer, Param, _check_keep, _check_size


def is_sparse(x: Any) -> bool:
    """A SciPy sparse matrix or array (without importing SciPy's sparse module to ask)."""
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


class Dense(Layer):
    """Fully connected layer ``f(x @ W + b) * dropout_mask``, W (n_in, n_out).

    With ``activation`` and/or ``keep_prob < 1`` the activation and inverted dropout are fused
    into one pass after the GEMM (:func:`fastmlp.ops.dense_forward`).

    Parameters
    ----------
    n_in, n_out : int
    activation : str, default "identity"
        Any name of the activation table (``fastmlp.ops.ACTIVATIONS``). For those whose
        derivative their output does not give (GELU, for one) the layer keeps its pre-activation
        for the backward pass: one more (N, n_out) buffer.
    keep_prob : float in (0, 1], default 1 (no dropout)
    init : str or callable, optional (see :mod:`fastmlp.init`)
        Default: the activation's own (the activation table's ``init``: ``he``, ``xavier`` for
        sigmoid and tanh).
    bias : float, default 0 (the notes suggest 0.01 for ReLU units as an option)
    l2, l1 : float, optional
        Per-layer regularization strengths (override the model's / optimizer's).
    max_norm : float, optional
        Project each unit's incoming weights onto ``||w|| <= max_norm`` after every update.
    alpha : float, optional
        The activation's parameter, if it takes one (leaky_relu's slope, elu's scale); default
        the activation table's.
    dtype : float dtype, default float32
    rng : numpy.random.Generator, optional
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        activation: str = "identity",
        keep_prob: float = 1.0,
        init: Any = None,
        bias: float = 0.0,
        l2: float | None = None,
        l1: float | None = None,
        max_norm: float | None = None,
        alpha: float | None = None,
        dtype: Any = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_in, self._n_out = _check_size(n_in, "n_in"), _check_size(n_out, "n_out")
        if activation not in NAMES:
            raise ValueError(f"activation must be one of {NAMES}, got {activation!r}")
        row = BY_NAME[activation]
        if alpha is None:
            alpha = row.alpha if row.alpha is not None else 0.01
        self.activation, self.keep_prob, self.alpha = activation, _check_keep(keep_prob), float(alpha)
        init = row.init if init is None else init
        self.init_name = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        self.bias, self.dtype = float(bias), np.dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng()
        w = initializers.get(init)(self.n_in, self._n_out, rng, self.dtype)
        self.W = Param("W", np.ascontiguousarray(w, dtype=self.dtype), True, l2, l1, max_norm)
        self.b = Param("b", np.full(self._n_out, self.bias, dtype=self.dtype))
        self.params = [self.W, self.b]
        self._fused = activation != "identity" or self.keep_prob < 1.0
        self._keeps_pre = not row.from_output  # f' needs z, not just the output
        self._pre: np.ndarray | None = None
        self._x: np.ndarray | None = None
        self._out: np.ndarray | None = None
        self._seed = 0
        self._training = False
        self._workspaces: dict[tuple[int, np.dtype], dict[str, np.ndarray]] = {}
        self._ws: dict[str, np.ndarray] | None = None
        self._bound: dict[str, tuple[Any, Any]] = {}

    @property
    def n_out(self) -> int:
        """Number of units."""
        return self._n_out

    def _keep(self, training: bool) -> float:
        return self.keep_prob if training else 1.0

    def _workspace(self, x: Any) -> dict[str, np.ndarray] | None:
        """Reused output and gradient buffers for a training batch of x's size: after the first
        step of each batch size, a training step allocates no arrays. Only for NumPy batches of
        the weights' dtype (anything else takes the allocating path)."""
        W = self.W.value
        if type(x) is not np.ndarray or x.dtype != W.dtype or type(W) is not np.ndarray:
            return None
        key = (x.shape[0], x.dtype)
        ws = self._workspaces.get(key)
        if ws is None:
            if len(self._workspaces) >= 4:  # batch sizes keep changing: don't hoard memory
                self._workspaces.clear()
            into = self.__dict__.get("_grad_into") or {}
            ws = self._workspaces[key] = {
                "out": np.empty((x.shape[0], self._n_out), W.dtype),
                "dx": np.empty(x.shape, W.dtype),
                "dW": into.get("W", np.empty_like(W)),
                "db": into.get("b", np.empty_like(self.b.value)),
            }
            if self._keeps_pre:
                ws["pre"] = np.empty((x.shape[0], self._n_out), W.dtype)
        return ws

    def bind_grads(self, views: dict[str, np.ndarray] | None) -> None:
        """Write the training steps' gradients of W and b into these arrays (by parameter name;
        data-parallel training's flat buffer), or into the layer's own again (None)."""
        self._grad_into = views
        self._workspaces.clear()

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """``f(x @ W + b)`` with inverted dropout when training.

        In training mode the output lives in a buffer that the next training step of the same
        batch size overwrites (prediction always returns fresh arrays). ``x`` may be a SciPy
        sparse matrix (CSR): see :meth:`_sparse_forward`.
        """
        self._x, self._seed, self._training = x, seed, training
        if is_sparse(x):
            return self._sparse_forward(x, training, seed)
        self._ws = ws = self._workspace(x) if training else None
        out_buf = None if ws is None else ws["out"]
        W, b = self.W.value, self.b.value
        self._pre = None
        if self._keeps_pre and training:
            self._pre = ws["pre"] if ws is not None else np.empty((x.shape[0], self._n_out), W.dtype)
        if self._fused:
            out = ops.dense_forward(
                x,
                W,
                b,
                self.activation,
                self._keep(training),
                seed,
                self.stream,
                self.alpha,
                out=out_buf,
                pre=self._pre,
                backend=self.backend,
            )
        else:
            out = ops.affine_forward(x, W, b, out=out_buf, backend=self.backend)
        self._out = out
        return out

    def _sparse_forward(self, x: Any, training: bool, seed: int) -> np.ndarray:
        """A sparse batch (the model's validated CSR input): the NumPy kernels, whose ``x @ W``
        and ``xᵀ dz`` SciPy computes sparse × dense, never densifying x; the same maths and
        masks as the fused op (the reference every backend is tested against)."""
        self._ws = None
        W = self.W.value
        self._pre = np.empty((x.shape[0], self._n_out), W.dtype) if self._keeps_pre and training else None
        keep = self._keep(training)
        forward = kernel("dense_forward", "numpy")
        out = forward(x, W, self.b.value, self.activation, keep, seed, self.stream, self.alpha, pre=self._pre)
        self._out = out
        return out

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray | None:
        """Fused epilogue backward, then the GEMMs (the dx one only if ``need_dx``)."""
        if is_sparse(self._x):
            backward = kernel("dense_backward", "numpy")
            args = (self.activation, self._keep(self._training), self._seed, self.stream, self.alpha)
            dx, dW, db = backward(dy, self._x, self.W.value, self._out, *args, need_dx=need_dx, pre=self._pre)
            self.W.grad, self.b.grad = np.asarray(dW), np.asarray(db)
            return dx
        ws = self._ws
        grads = (
            None
            if ws is None or dy.dtype != self.W.value.dtype
            else (ws["dx"] if need_dx else None, ws["dW"], ws["db"])
        )
        if self._fused:
            dx, dW, db = ops.dense_backward(
                dy,
                self._x,
                self.W.value,
                self._out,
                self.activation,
                self._keep(self._training),
                self._seed,
                self.stream,
                self.alpha,
                need_dx=need_dx,
                grads=grads,
                pre=self._pre,
                backend=self.backend,
            )
        else:
            dx, dW, db = ops.affine_backward(
                dy, self._x, self.W.value, need_dx=need_dx, grads=grads, backend=self.backend
            )
        self.W.grad, self.b.grad = dW, db
        return dx

    def _drivers(self, backend: str) -> tuple[Any, Any]:
        """(forward, backward) drivers of this layer's op on ``backend``, looked up once."""
        bound = self._bound.get(backend)
        if bound is None:
            names = ("dense_forward", "dense_backward") if self._fused else ("affine_forward", "affine_backward")
            bound = self._bound[backend] = (kernel(names[0], backend), kernel(names[1], backend))
        return bound

    def _train_forward(self, x: np.ndarray, seed: int, backend: str) -> np.ndarray:
        """forward(x, training=True) straight to the backend's driver: x is the model's validated
        batch or the previous layer's output, the buffers this layer's own workspace, and the
        options were checked when the layer was built (the checks ops.dense_forward makes)."""
        ws = self._workspace(x)
        if ws is None:  # device arrays, other dtypes: the public path
            return self.forward(x, True, seed)
        self._x, self._seed, self._training, self._ws = x, seed, True, ws
        self._pre = ws["pre"] if self._keeps_pre else None
        forward = self._drivers(backend)[0]
        if self.mask_row0 and self.keep_prob < 1.0:
            return self._row_keyed_forward(x, seed, forward, backend)
        if self._fused:
            args = (self.activation, self.keep_prob, seed, self.stream, self.alpha)
            out = forward(x, self.W.value, self.b.value, *args, out=ws["out"], pre=self._pre)
        else:
            out = forward(x, self.W.value, self.b.value, out=ws["out"])
        self._out = out
        return out

    def _train_backward(self, dy: np.ndarray, need_dx: bool, backend: str) -> np.ndarray | None:
        """backward() straight to the driver, after :meth:`_train_forward` (its buffers)."""
        ws = self._ws
        if ws is None or dy.dtype != self.W.value.dtype or type(dy) is not np.ndarray:
            return self.backward(dy, need_dx)
        grads = (ws["dx"] if need_dx else None, ws["dW"], ws["db"])
        backward = self._drivers(backend)[1]
        if self.mask_row0 and self.keep_prob < 1.0:
            return self._row_keyed_backward(dy, need_dx, grads, backward, backend)
        if self._fused:
            args = (self.activation, self.keep_prob, self._seed, self.stream, self.alpha)
            dx, dW, db = backward(
                dy, self._x, self.W.value, self._out, *args, need_dx=need_dx, grads=grads, pre=self._pre
            )
        else:
            dx, dW, db = backward(dy, self._x, self.W.value, need_dx=need_dx, grads=grads)
        self.W.grad, self.b.grad = dW, db
        return dx

    def _row_keyed_forward(self, x: np.ndarray, seed: int, forward: Any, backend: str) -> np.ndarray:
        """A training forward on rows ``mask_row0 ..`` of a global batch: the activation fused
        as usual, the dropout mask applied after it from the global rows' counters (the fused
        kernel's counter starts at the array's first row)."""
        ws = self._ws
        assert ws is not None
        args = (self.activation, 1.0, seed, self.stream, self.alpha)
        self._active = forward(x, self.W.value, self.b.value, *args, out=ws["out"], pre=self._pre)
        mask = kernel("dropout_forward", backend)  # the driver: the layer's own buffer and options
        self._out = mask(self._active, self.keep_prob, seed, self.stream, start=self.mask_row0 * self._n_out)
        return self._out

    def _row_keyed_backward(
        self, dy: np.ndarray, need_dx: bool, grads: tuple, backward: Any, backend: str
    ) -> np.ndarray | None:
        """backward of :meth:`_row_keyed_forward`: the mask on dy, then the activation's backward
        from the unmasked output."""
        mask = kernel("dropout_backward", backend)
        dy = mask(dy, self.keep_prob, self._seed, self.stream, start=self.mask_row0 * self._n_out)
        args = (self.activation, 1.0, self._seed, self.stream, self.alpha)
        dx, dW, db = backward(
            dy, self._x, self.W.value, self._active, *args, need_dx=need_dx, grads=grads, pre=self._pre
        )
        self.W.grad, self.b.grad = dW, db
        return dx

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        # scratch, not state: never copied or pickled
        state["_workspaces"], state["_ws"], state["_pre"], state["_bound"] = {}, None, None, {}
        state.pop("_grad_into", None)
        state.pop("_active", None)
        return state

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """W (n_in, n_out), b (n_out,)."""
        n_in, n_out = operator.index(config["n_in"]), operator.index(config["n_out"])
        return {"W": (n_in, n_out), "b": (n_out,)}

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "n_in": self.n_in,
            "n_out": self._n_out,
            "activation": self.activation,
            "keep_prob": self.keep_prob,
            "init": self.init_name,
            "bias": self.bias,
            "l2": self.W.l2,
            "l1": self.W.l1,
            "max_norm": self.W.max_norm,
            "alpha": self.alpha,
            "dtype": self.dtype.name,
        }


class Maxout(Layer):
    """Maxout (Goodfellow et al. 2013): ``max_p (x @ W_p + b_p)`` over ``k`` affine pieces per unit.

    ReLU and leaky ReLU are special cases; it has ``k`` times the parameters of a Dense layer.
    W is stored as (n_in, n_out * k), the pieces of unit j in columns ``j*k .. j*k + k - 1``.

    Parameters
    ----------
    n_in, n_out : int
    k : int >= 2, default 2
    init : str or callable, default "he"
    l2, l1, max_norm : float, optional (as for :class:`Dense`)
    dtype, rng : as for :class:`Dense`
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        k: int = 2,
        init: Any = "he",
        l2: float | None = None,
        l1: float | None = None,
        max_norm: float | None = None,
        dtype: Any = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_in, self._n_out, self.k = _check_size(n_in, "n_in"), _check_size(n_out, "n_out"), _check_size(k, "k")
        self.init_name = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        self.dtype = np.dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng()
        w = initializers.get(init)(self.n_in, self._n_out * self.k, rng, self.dtype)
        self.W = Param("W", np.ascontiguousarray(w, dtype=self.dtype), True, l2, l1, max_norm)
        self.b = Param("b", np.zeros(self._n_out * self.k, dtype=self.dtype))
        self.params = [self.W, self.b]

    @property
    def n_out(self) -> int:
        """Number of units."""
        return self._n_out

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Affine pieces, then the max over each unit's pieces."""
        self._x = x
        z = ops.affine_forward(x, self.W.value, self.b.value, backend=self.backend)
        y, self._idx = ops.maxout_forward(z, self.k, backend=self.backend)
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """Route dy to the winning pieces, then the affine backward."""
        dz = ops.maxout_backward(dy, self._idx, self.k, backend=self.backend)
        dx, self.W.grad, self.b.grad = ops.affine_backward(dz, self._x, self.W.value, backend=self.backend)
        return dx

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """W (n_in, n_out · k), b (n_out · k,)."""
        n_in, pieces = operator.index(config["n_in"]), operator.index(config["n_out"]) * operator.index(config["k"])
        return {"W": (n_in, pieces), "b": (pieces,)}

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "n_in": self.n_in,
            "n_out": self._n_out,
            "k": self.k,
            "init": self.init_name,
            "l2": self.W.l2,
            "l1": self.W.l1,
            "max_norm": self.W.max_norm,
            "dtype": self.dtype.name,
        }


class DropConnect(Layer):
    """Affine layer whose WEIGHTS are dropped at random while training (Wan et al. 2013).

    Training computes ``x @ (W * M) + b`` with an inverted mask M (kept weights scaled by
    ``1/keep_prob``), so inference uses W as is. An activation follows as a separate layer.

    Parameters
    ----------
    n_in, n_out : int
    keep_prob : float in (0, 1], default 0.5
    init, bias, l2, l1, max_norm, dtype, rng : as for :class:`Dense`
    """

    def __init__(
        self,
        n_in: int,
        n_out: int,
        keep_prob: float = 0.5,
        init: Any = "he",
        bias: float = 0.0,
        l2: float | None = None,
        l1: float | None = None,
        max_norm: float | None = None,
        dtype: Any = np.float32,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_in, self._n_out = _check_size(n_in, "n_in"), _check_size(n_out, "n_out")
        self.keep_prob = _check_keep(keep_prob)
        self.init_name = init if isinstance(init, str) else getattr(init, "__name__", "custom")
        self.bias, self.dtype = float(bias), np.dtype(dtype)
        rng = rng if rng is not None else np.random.default_rng()
        w = initializers.get(init)(self.n_in, self._n_out, rng, self.dtype)
        self.W = Param("W", np.ascontiguousarray(w, dtype=self.dtype), True, l2, l1, max_norm)
        self.b = Param("b", np.full(self._n_out, self.bias, dtype=self.dtype))
        self.params = [self.W, self.b]

    @property
    def n_out(self) -> int:
        """Number of units."""
        return self._n_out

    def forward(self, x: np.ndarray, training: bool = False, seed: int = 0) -> np.ndarray:
        """Masked-weight affine map when training, plain affine otherwise."""
        self._x, self._seed, self._training = x, seed, training
        if training and self.keep_prob < 1.0:
            return ops.dropconnect_forward(
                x, self.W.value, self.b.value, self.keep_prob, seed, self.stream, backend=self.backend
            )
        return ops.affine_forward(x, self.W.value, self.b.value, backend=self.backend)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> np.ndarray:
        """Gradients through the same mask (regenerated from the seed)."""
        if self._training and self.keep_prob < 1.0:
            dx, dW, db = ops.dropconnect_backward(
                dy, self._x, self.W.value, self.keep_prob, self._seed, self.stream, backend=self.backend
            )
        else:
            dx, dW, db = ops.affine_backward(dy, self._x, self.W.value, backend=self.backend)
        self.W.grad, self.b.grad = dW, db
        return dx

    @classmethod
    def state_shapes(cls, config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
        """W (n_in, n_out), b (n_out,)."""
        n_in, n_out = operator.index(config["n_in"]), operator.index(config["n_out"])
        return {"W": (n_in, n_out), "b": (n_out,)}

    def config(self) -> dict[str, Any]:
        """Constructor arguments."""
        return {
            "n_in": self.n_in,
            "n_out": self._n_out,
            "keep_prob": self.keep_prob,
            "init": self.init_name,
            "bias": self.bias,
            "l2": self.W.l2,
            "l1": self.W.l1,
            "max_norm": self.W.max_norm,
            "dtype": self.dtype.name,
        }
