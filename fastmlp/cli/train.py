"""``fastmlp train``: train an MLP on the bundled digits (default) or the user's own data."""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import time
from typing import Any

import numpy as np

from .. import backends, datasets, optim
from ..builder import ACTIVATIONS, MLP
from ..model import TrainingDiverged
from ..preprocessing import Standardize

OPTIMIZERS = ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The train command's options."""
    data = parser.add_argument_group("data")
    data.add_argument("--data", metavar="PATH", help=".npz (arrays X, y) or .csv (label column); default: digits")
    data.add_argument("--label-column", type=int, default=-1, help="label column of a CSV file (default: last)")
    data.add_argument("--test-fraction", type=float, default=0.2, help="held-out test share (default 0.2)")
    data.add_argument("--no-standardize", action="store_true", help="don't standardize --data features")
    net = parser.add_argument_group("network")
    net.add_argument("--hidden", type=int, nargs="+", default=[128, 64], metavar="N", help="hidden sizes")
    net.add_argument("--activation", choices=ACTIVATIONS, default="relu")
    net.add_argument("--keep-prob", type=float, default=1.0, help="dropout keep probability (1 = off)")
    net.add_argument("--batchnorm", action="store_true", help="batch norm after each hidden layer")
    net.add_argument("--init", default="he", help="he, xavier, lecun, small, sparse")
    fit = parser.add_argument_group("training")
    fit.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    fit.add_argument("--lr", type=float, default=None, help="learning rate (default: 1e-3 adam/rmsprop, 0.05 sgd)")
    fit.add_argument("--weight-decay", type=float, default=0.0, help="L2 strength on weights")
    fit.add_argument("--epochs", type=int, default=30)
    fit.add_argument("--batch-size", type=int, default=64)
    fit.add_argument("--backend", default=None, help=f"one of {sorted(backends.registry())}")
    fit.add_argument("--seed", type=int, default=0)
    out = parser.add_argument_group("output")
    out.add_argument("--save", metavar="PATH", help="save the trained model (.npz)")
    out.add_argument("--plot", metavar="PNG", help="plot loss and accuracy curves")
    out.add_argument("--json", action="store_true", help="make the last line one JSON object")
    out.add_argument("--quiet", action="store_true", help="no progress bar")


def _optimizer(name: str, lr: float | None, weight_decay: float) -> optim.Optimizer:
    default = 1e-3 if name in ("adam", "rmsprop") else 0.05
    lr = default if lr is None else lr  # an explicit --lr 0 is refused by the optimizer, not replaced
    if name == "adagrad":
        return optim.Adagrad(lr=lr, weight_decay=weight_decay)
    return optim.get(name, lr=lr, weight_decay=weight_decay)


def _writable(path: str, option: str, parser: argparse.ArgumentParser) -> None:
    """Refuse, before any training, an output path that cannot be written."""
    target = os.path.realpath(path)
    directory = os.path.dirname(target) or "."
    if os.path.isdir(target):
        parser.error(f"{option} {path!r} is a directory; give a file name")
    if not os.path.isdir(directory):
        parser.error(f"{option} {path!r}: directory {directory!r} does not exist")
    if not os.access(directory, os.W_OK) or (os.path.exists(target) and not os.access(target, os.W_OK)):
        parser.error(f"{option} {path!r} is not writable")


def _check_options(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Every option that can be wrong, before the data is read or a step is taken."""
    if args.epochs < 1 or args.batch_size < 1:
        parser.error("--epochs and --batch-size must be positive")
    if not 0.0 < args.keep_prob <= 1.0:
        parser.error(f"--keep-prob must be in (0, 1], got {args.keep_prob}")
    if not 0 <= args.seed < 2**64:
        parser.error(f"--seed must be an integer in [0, 2**64), got {args.seed}")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        parser.error(f"--lr must be a positive number, got {args.lr}")
    if not (math.isfinite(args.weight_decay) and args.weight_decay >= 0):
        parser.error(f"--weight-decay must be a number >= 0, got {args.weight_decay}")
    if args.save:
        _writable(args.save, "--save", parser)
    if args.plot:
        _writable(args.plot, "--plot", parser)
        if importlib.util.find_spec("matplotlib") is None:
            parser.error("--plot needs matplotlib: pip install 'fastmlp[plot]'")


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """Train and evaluate; returns the summary (printed as JSON with ``--json``)."""
    _check_options(args, parser)
    if args.backend is not None:
        known = sorted(backends.registry())
        if args.backend not in known:
            parser.error(f"--backend {args.backend!r} is not a backend; known: {known}")
        if not backends.is_available(args.backend):
            parser.error(f"--backend {args.backend} cannot run here: {backends.unavailable_reason(args.backend)}")
    try:
        if args.data:
            X, y = datasets.load_file(args.data, args.label_column)
            name = args.data
        else:
            X, y = datasets.load_digits()
            name = "digits (bundled)"
        Xtr, ytr, Xte, yte = datasets.train_test_split(X, y, args.test_fraction, seed=args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    if args.data and not args.no_standardize:
        scaler = Standardize().fit(Xtr)  # statistics of the training split only
        Xtr, Xte = scaler.transform(Xtr), scaler.transform(Xte)
    n_classes = int(max(ytr.max(), yte.max())) + 1
    try:
        net = MLP(
            [X.shape[1], *args.hidden, n_classes],
            activation=args.activation,
            keep_prob=args.keep_prob,
            batchnorm=args.batchnorm,
            init=args.init,
            seed=args.seed,
            backend=args.backend,
        )
        optimizer = _optimizer(args.optimizer, args.lr, args.weight_decay)
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    if not args.quiet and not args.json:
        print(
            f"training {net.num_params} parameters on {name}: {len(Xtr)} train / {len(Xte)} test rows, "
            f"backend {args.backend or backends.get_backend()}"
        )
    callbacks = []
    bar = None
    if not args.quiet:
        from tqdm.auto import tqdm

        bar = tqdm(total=args.epochs, unit="epoch", leave=False)

        def progress(epoch: int, history: Any, model: Any) -> None:
            bar.set_postfix(loss=f"{history.loss[-1]:.4f}", acc=f"{history.train_accuracy[-1]:.3f}")
            bar.update(1)

        callbacks.append(progress)
    start = time.perf_counter()
    try:
        history = net.fit(
            Xtr,
            ytr,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=optimizer,
            validation_data=(Xte, yte),
            callbacks=callbacks,
        )
    except TrainingDiverged as exc:  # a user's choice of settings (usually --lr), not a crash
        if bar is not None:
            bar.close()
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    test = net.evaluate(Xte, yte)
    train = net.evaluate(Xtr, ytr)
    dead = history.dead_relu[-1] if history.dead_relu else []
    summary = {
        "test_accuracy": test["accuracy"],
        "train_accuracy": train["accuracy"],
        "test_loss": test["loss"],
        "epochs": len(history.loss),
        "backend": args.backend or backends.get_backend(),
        "seconds": round(seconds, 3),
        "dead_relu_fraction": float(np.mean(dead)) if dead else 0.0,
        "dead_relu_per_layer": dead,
        "num_params": net.num_params,
        "data": name,
    }
    if args.save:
        net.save(args.save)
        summary["saved"] = args.save
    if args.plot:
        plot_history(history, args.plot)
        summary["plot"] = args.plot
    if not args.json:
        print(f"train accuracy {train['accuracy']:.4f}")
        print(f"test accuracy {test['accuracy']:.4f}  ({len(history.loss)} epochs, {seconds:.2f} s)")
        if dead:
            print(
                "dead ReLU units (never fire on the training data): "
                + ", ".join(f"layer {i + 1}: {f:.1%}" for i, f in enumerate(dead))
            )
        if args.save:
            print(f"model saved to {args.save}")
        if args.plot:
            print(f"curves plotted to {args.plot}")
    return summary


def plot_history(history: Any, path: str) -> None:
    """Loss and accuracy per epoch, training vs held-out data, as a PNG.

    Parameters
    ----------
    history : :class:`fastmlp.model.History`
        The record of a fit with validation data: ``loss``, ``val_loss``, ``train_accuracy`` and
        ``val_accuracy``, one entry per epoch.
    path : str
        Where the PNG is written (two panels: loss on a log scale, accuracy).

    Raises
    ------
    SystemExit
        matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise SystemExit("fastmlp: --plot needs matplotlib: pip install 'fastmlp[plot]'") from None
    epochs = np.arange(1, len(history.loss) + 1)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4))
    ax_loss.plot(epochs, history.loss, label="train (mean over the epoch's batches)")
    ax_loss.plot(epochs, history.val_loss, label="held-out")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss", yscale="log")
    ax_acc.plot(epochs, history.train_accuracy, label="train")
    ax_acc.plot(epochs, history.val_accuracy, label="held-out")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
