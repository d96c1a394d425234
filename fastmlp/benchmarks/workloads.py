"""The BENCH.md workloads written the ways a user would otherwise write them (NumPy, PyTorch,
scikit-learn), plus the GEMM floor — the competitors of ``fastmlp`` in bench_train_step.py."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

CIFAR_SIZES = (3072, 512, 512, 10)
KEEP, LR, MU, L2 = 0.5, 1e-2, 0.9, 1e-4


def batch(n: int, sizes: tuple[int, ...] = CIFAR_SIZES, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, sizes[0]), dtype=np.float32), rng.integers(0, sizes[-1], n)


class NotesMLP:
    """The notes' NumPy code for one step: ReLU, inverted dropout, softmax, momentum, L2."""

    def __init__(self, sizes: tuple[int, ...] = CIFAR_SIZES, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.W = [
            (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32) for a, b in itertools.pairwise(sizes)
        ]
        self.b = [np.zeros(b, np.float32) for b in sizes[1:]]
        self.vW = [np.zeros_like(w) for w in self.W]
        self.vb = [np.zeros_like(b) for b in self.b]
        self.rng = np.random.default_rng(seed + 1)

    def step(self, X, y):
        acts, masks = [X], []
        h = X
        for W, b in zip(self.W[:-1], self.b[:-1]):
            h = np.maximum(0, h.dot(W) + b)
            mask = (self.rng.random(h.shape, dtype=np.float32) < KEEP) / np.float32(KEEP)
            h = h * mask
            acts.append(h)
            masks.append(mask)
        scores = h.dot(self.W[-1]) + self.b[-1]
        scores -= scores.max(axis=1, keepdims=True)
        probs = np.exp(scores)
        probs /= probs.sum(axis=1, keepdims=True)
        n = X.shape[0]
        loss = -np.log(probs[np.arange(n), y]).mean()
        d = probs
        d[np.arange(n), y] -= 1
        d /= n
        for i in range(len(self.W) - 1, -1, -1):
            dW = acts[i].T.dot(d) + L2 * self.W[i]
            db = d.sum(axis=0)
            if i:
                d = d.dot(self.W[i].T)
                d *= masks[i - 1]
                d[acts[i] <= 0] = 0
            self.vW[i] = MU * self.vW[i] - LR * dW
            self.W[i] += self.vW[i]
            self.vb[i] = MU * self.vb[i] - LR * db
            self.b[i] += self.vb[i]
        return float(loss)


class GemmFloor:
    """The step's GEMMs alone (2 forward + ... : 3 forward, 3 weight-gradient, 2 input-gradient)."""

    def __init__(self, n: int, sizes: tuple[int, ...] = CIFAR_SIZES, seed: int = 0):
        rng = np.random.default_rng(seed)
        # He-scaled weights and unit activations keep every product finite (values don't matter)
        self.W = [
            rng.standard_normal((a, b), dtype=np.float32) / np.float32(np.sqrt(a)) for a, b in itertools.pairwise(sizes)
        ]
        self.h = [rng.standard_normal((n, s), dtype=np.float32) for s in sizes]
        self.dW = [np.empty_like(w) for w in self.W]
        self.dh = [rng.standard_normal((n, s), dtype=np.float32) for s in sizes]

    def step(self):
        for i, W in enumerate(self.W):
            np.dot(self.h[i], W, out=self.h[i + 1])
        for i in range(len(self.W) - 1, -1, -1):
            np.dot(self.h[i].T, self.dh[i + 1], out=self.dW[i])
            if i:
                np.dot(self.dh[i + 1], self.W[i].T, out=self.dh[i])


def torch_step_fn(
    sizes: tuple[int, ...] = CIFAR_SIZES, seed: int = 0, optimizer: str = "sgd", keep: float = KEEP
) -> tuple[Any, Any]:
    import torch

    torch.manual_seed(seed)
    layers: list = []
    for a, b in itertools.pairwise(sizes[:-1]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
        if keep < 1.0:
            layers.append(torch.nn.Dropout(1 - keep))
    layers.append(torch.nn.Linear(sizes[-2], sizes[-1]))
    model = torch.nn.Sequential(*layers)
    opt: Any
    if optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MU, weight_decay=L2)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step(X, y):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(X), y)
        loss.backward()
        opt.step()
        return loss

    return step, torch


def sklearn_step_fn(X, y):
    """scikit-learn's MLPClassifier on the same shapes (sgd, momentum, L2; it has no dropout): a
    zero-argument callable running one partial_fit step on (X, y), after a first, untimed one."""
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(
        hidden_layer_sizes=CIFAR_SIZES[1:-1],
        solver="sgd",
        momentum=MU,
        nesterovs_momentum=False,
        alpha=L2,
        learning_rate_init=LR,
        batch_size=X.shape[0],
    )
    clf.partial_fit(X, y, classes=np.arange(CIFAR_SIZES[-1]))
    return lambda: clf.partial_fit(X, y)
