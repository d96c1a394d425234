"""Babysitting the learning process: loss, accuracy gap, update ratios, dead ReLUs.

From training on the bundled digits: loss per epoch at several learning rates, the
train/validation accuracy gap, the ratio of each update to the weights per layer (~1e-3 is
healthy) and the dead-ReLU fraction per learning rate."""

from __future__ import annotations

import numpy as np

from .. import datasets, optim
from ..builder import MLP
from ._plot import pyplot, save

RATES = (1e-3, 1e-2, 1e-1, 5e-1)


def _weights(net):
    return [p.value.copy() for p in net.parameters() if p.value.ndim == 2]


def _train(X, y, X_val, y_val, lr, epochs):
    net = MLP([64, 100, 50, 10], seed=0)
    ratios: list[list[float]] = []
    steps_per_epoch = -(-len(y) // 64)
    before = [_weights(net)]

    def record(epoch, history, model):
        now = _weights(model)
        ratios.append(
            [float(np.linalg.norm(a - b) / np.linalg.norm(b)) / steps_per_epoch for a, b in zip(now, before[0])]
        )
        before[0] = now

    history = net.fit(
        X, y, epochs=epochs, batch_size=64, optimizer=optim.SGD(lr, momentum=0.9), validation_data=(X_val, y_val),
        callbacks=[record], evaluate_train=True,  # the train/validation gap: both measured the same way
    )  # fmt: skip
    return history, np.array(ratios)


def main(out_dir: str, quick: bool = False) -> list[str]:
    """One figure: ``learning.png`` (four panels).

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
    X, y = datasets.load_digits()
    cut = 300 if quick else 1400
    X_train, y_train, X_val, y_val = X[:cut], y[:cut], X[cut : cut + (100 if quick else 397)], y[cut : cut + 397]
    y_val = y_val[: len(X_val)]
    epochs = 3 if quick else 40
    runs = {lr: _train(X_train, y_train, X_val, y_val, lr, epochs) for lr in RATES}
    fig, axes = plt.subplots(2, 2, figsize=(12, 9))
    ax = axes[0, 0]
    for lr, (history, _) in runs.items():
        ax.plot(np.arange(1, epochs + 1), history.loss, label=f"lr {lr:g}")
    ax.set(title="loss per epoch at several learning rates", xlabel="epoch", ylabel="loss", yscale="log")
    ax.legend()
    history, ratios = runs[1e-2]
    ax = axes[0, 1]
    ax.plot(history.train_accuracy, label="train")
    ax.plot(history.val_accuracy, label="validation")
    ax.set(title="accuracy, lr 0.01: the gap is overfitting", xlabel="epoch", ylabel="accuracy")
    ax.legend()
    ax = axes[1, 0]
    for layer in range(ratios.shape[1]):
        ax.plot(ratios[:, layer], label=f"layer {layer + 1}")
    ax.axhline(1e-3, color="grey", ls="--", label="1e-3 (rule of thumb)")
    ax.set(title="‖update‖ / ‖W‖ per step, lr 0.01", xlabel="epoch", yscale="log")
    ax.legend()
    ax = axes[1, 1]
    dead = [np.mean(history.dead_relu[-1]) if history.dead_relu else 0.0 for history, _ in runs.values()]
    ax.bar([f"{lr:g}" for lr in RATES], dead)
    ax.set(title="dead ReLU units after training", xlabel="learning rate", ylabel="fraction never firing")
    fig.suptitle("Babysitting the learning process (digits, 64-100-50-10, SGD momentum 0.9)")
    return [save(fig, out_dir, "learning.png")]
