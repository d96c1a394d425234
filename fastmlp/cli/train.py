"""``fastmlp train``: train an MLP on the bundled digits (default) or the user's own data."""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import backends, datasets, optim
from ..builder import ACTIVATIONS, MLP
from ..init import SCHEMES
from ..model import TrainingDiverged
from ..preprocessing import Standardize
from ..warmup import cached_numba_kernels, numba_cache_dir

OPTIMIZERS = ("adam", "sgd", "momentum", "nesterov", "rmsprop", "adagrad")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The train command's options; every help text ends with the option's default."""
    data = parser.add_argument_group("data")
    _option(
        data,
        "--data",
        metavar="PATH",
        default_text="the bundled digits",
        help=".npz (arrays X, y) or .csv (numbers, an optional header row, integer or text labels)",
    )
    _option(
        data,
        "--label-column",
        type=label_column,
        default=-1,
        metavar="NAME|INDEX",
        default_text="-1, the last",
        help="label column of a CSV file: its name in the header, or its 0-based index (negative from the end)",
    )
    _option(data, "--test-fraction", type=float, default=0.2, metavar="F", help="held-out test share")
    _option(data, "--no-standardize", action="store_true", help="don't standardize --data features")
    net = parser.add_argument_group("network")
    _option(net, "--hidden", type=int, nargs="+", default=[128, 64], metavar="N", help="hidden layer sizes")
    _option(net, "--activation", choices=ACTIVATIONS, default="relu", help="activation of the hidden layers")
    _option(net, "--keep-prob", type=float, default=1.0, metavar="P", help="dropout keep probability (1 = off)")
    _option(net, "--batchnorm", action="store_true", help="batch norm after each hidden layer")
    _option(
        net,
        "--init",
        choices=sorted(SCHEMES),
        default_text="the activation's own: he, or xavier for sigmoid and tanh",
        help="weight initialisation",
    )
    fit = parser.add_argument_group("training")
    _option(fit, "--optimizer", choices=OPTIMIZERS, default="adam", help="update rule")
    _option(
        fit,
        "--lr",
        type=float,
        metavar="LR",
        default_text="1e-3 for adam and rmsprop, 0.05 for the others",
        help="learning rate",
    )
    _option(fit, "--weight-decay", type=float, default=0.0, metavar="L2", help="L2 strength on the weights")
    _option(fit, "--epochs", type=int, default=30, metavar="N", help="passes over the training rows")
    _option(fit, "--batch-size", type=int, default=64, metavar="N", help="rows per step")
    _option(
        fit,
        "--backend",
        metavar="NAME",
        help=f"one of {', '.join(sorted(backends.registry()))}",
        default_text=f"${backends.ENV_VAR} if set, else the first of {', '.join(backends.AUTO_ORDER)} that runs here",
    )
    _option(fit, "--seed", type=int, default=0, metavar="N", help="seed of the weights, dropout and shuffling")
    _option(
        fit,
        "--distributed",
        action="store_true",
        help="data-parallel over MPI: run under mpirun/mpiexec (pip install 'fastmlp[distributed]'); every rank "
        "reads the data and trains on its share of each batch, rank 0 prints and writes the files; the result "
        "is that of one process",
    )
    out = parser.add_argument_group("output")
    _option(out, "--save", metavar="PATH", default_text="not saved", help="save the trained model (.npz)")
    _option(out, "--plot", metavar="PNG", default_text="no plot", help="plot loss and accuracy curves")
    _option(out, "--json", action="store_true", help="make the last line one JSON object")
    _option(out, "--quiet", action="store_true", help="no progress bar and no notices")


def _option(group: Any, flag: str, *, help: str, default_text: str | None = None, **kwargs: Any) -> None:
    """``group.add_argument`` with the default stated at the end of the help text: in words
    (``default_text``) where the value itself would not say it (None), else the value."""
    default = kwargs.get("default", False if kwargs.get("action") == "store_true" else None)
    shown = default_text if default_text is not None else shown_default(default)
    group.add_argument(flag, help=f"{help} (default: {shown})", **kwargs)


def shown_default(value: Any) -> str:
    """A default as the help text shows it: lists as typed on the command line, a flag's False as off."""
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    if value is False:
        return "off"
    return str(value)


def label_column(text: str) -> int | str:
    """``--label-column``: an index when the text is an integer, else a column name."""
    try:
        return int(text)
    except ValueError:
        return text


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


def run_distributed(args: argparse.Namespace, parser: argparse.ArgumentParser) -> dict[str, Any]:
    """``run`` on every rank of MPI.COMM_WORLD (``--distributed``). Any failure aborts the whole
    job (``MPI_Abort``) with a non-zero status, so that no rank waits forever for one that has
    gone; fit's own errors are raised alike on every rank, with the same message.

    Parameters
    ----------
    args : argparse.Namespace
    parser : argparse.ArgumentParser

    Returns
    -------
    dict
        ``run``'s summary, with ``rank`` and ``ranks``.
    """
    from ..distributed import mpi

    try:
        comm = mpi().COMM_WORLD
    except ImportError as exc:
        parser.error(f"--distributed: {exc}")
    rank = comm.Get_rank()
    if rank != 0:
        args.quiet = True
    try:
        summary = run(args, parser, comm)
    except SystemExit as exc:  # parser.error, parser.exit: a rank that stops alone would strand the others
        if exc.code:
            comm.Abort(exc.code if isinstance(exc.code, int) else 2)
        raise
    except Exception as exc:
        print(f"{parser.prog}: error on rank {rank}: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        comm.Abort(1)
    summary["rank"], summary["ranks"] = rank, comm.Get_size()
    return summary


def run(args: argparse.Namespace, parser: argparse.ArgumentParser, comm: Any = None) -> dict[str, Any]:
    """Train and evaluate.

    Parameters
    ----------
    args : argparse.Namespace
    parser : argparse.ArgumentParser
    comm : mpi4py communicator, optional
        ``--distributed``: the training is data-parallel over it; only rank 0 prints and writes.

    Returns
    -------
    dict
        The summary (printed as JSON with ``--json``).
    """
    rank0 = comm is None or comm.Get_rank() == 0
    _check_options(args, parser)
    _check_backend(args, parser)
    data = _load_data(args, parser)
    if args.data and not args.no_standardize:
        scaler = Standardize().fit(data.Xtr)  # statistics of the training split only
        data.Xtr, data.Xte = scaler.transform(data.Xtr), scaler.transform(data.Xte)
    net, optimizer = _build(args, parser, data)
    backend = args.backend or backends.get_backend()
    if not args.quiet and not args.json:
        print(
            f"training {net.num_params} parameters on {data.name}: {len(data.Xtr)} train / {len(data.Xte)} test rows, "
            f"backend {backend}"
        )
    warmup_seconds = _compile_kernels(args, net, data) if backend == "numba" else 0.0
    history, seconds = _fit(args, parser, net, optimizer, data, comm)
    test = net.evaluate(data.Xte, data.yte)
    train = net.evaluate(data.Xtr, data.ytr)
    dead = history.dead_relu[-1] if history.dead_relu else []
    summary = {
        "test_accuracy": test["accuracy"],
        "train_accuracy": train["accuracy"],
        "test_loss": test["loss"],
        "epochs": len(history.loss),
        "backend": backend,
        "seconds": round(seconds, 3),
        "warmup_seconds": round(warmup_seconds, 3),
        "dead_relu_fraction": float(np.mean(dead)) if dead else 0.0,
        "dead_relu_per_layer": dead,
        "num_params": net.num_params,
        "data": data.name,
        "classes": data.classes,
    }
    if args.save:  # the model file has no place for class names: they are printed instead
        if comm is None:
            net.save(args.save)
        else:
            from .. import distributed

            distributed.save(net, args.save, comm)  # checks the ranks agree; rank 0 writes
        summary["saved"] = args.save
    if args.plot and rank0:
        plot_history(history, args.plot)
        summary["plot"] = args.plot
    if not args.json and rank0:
        _print_results(args, summary)
    return summary


def _check_backend(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.backend is not None:
        known = sorted(backends.registry())
        if args.backend not in known:
            parser.error(f"--backend {args.backend!r} is not a backend; known: {known}")
        if not backends.is_available(args.backend):
            parser.error(f"--backend {args.backend} cannot run here: {backends.unavailable_reason(args.backend)}")


@dataclass
class _Data:
    """The split data, what it is called in messages, and the original label of each class."""

    Xtr: np.ndarray
    ytr: np.ndarray
    Xte: np.ndarray
    yte: np.ndarray
    name: str
    classes: list[Any]


def _load_data(args: argparse.Namespace, parser: argparse.ArgumentParser) -> _Data:
    try:
        if args.data:
            X, y, classes = datasets.read_labelled_file(args.data, args.label_column)
            name = args.data
        else:
            X, y = datasets.load_digits()
            classes, name = list(range(int(y.max()) + 1)), "digits (bundled)"
        Xtr, ytr, Xte, yte = datasets.train_test_split(X, y, args.test_fraction, seed=args.seed)
    except ValueError as exc:
        parser.error(str(exc))
    return _Data(Xtr, ytr, Xte, yte, name, classes)


def _build(args: argparse.Namespace, parser: argparse.ArgumentParser, data: _Data) -> tuple[Any, optim.Optimizer]:
    try:
        net = MLP(
            [data.Xtr.shape[1], *args.hidden, len(data.classes)],
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
    return net, optimizer


def _compile_kernels(args: argparse.Namespace, net: Any, data: _Data) -> float:
    """Numba compiles a kernel on its first call (seconds, on the first run only: it is cached on
    disk): make those calls now, before the progress bar, so that epoch 1 is not charged for them,
    and on a cold cache say why the wait. Returns the seconds this took."""
    cached_before = cached_numba_kernels()
    cold = cached_before == 0  # None: Numba caches elsewhere, nothing can be said about it
    if cold and not args.quiet:
        print(f"compiling kernels (first run only; cached in {numba_cache_dir()}) ...", file=sys.stderr, flush=True)
    start = time.perf_counter()
    _first_calls(args, net, data)
    seconds = time.perf_counter() - start
    if not args.quiet and cached_before is not None:
        if cold:
            print(f"compiled in {seconds:.1f} s", file=sys.stderr)
        elif (cached_numba_kernels() or 0) > cached_before:  # a cache warmed by other work than training
            print(f"compiled kernels missing from the cache in {seconds:.1f} s", file=sys.stderr)
    return seconds


# Rows the warm-up evaluates: the model's evaluation block (the batch_size of
# Sequential.predict_scores). Kernels choose serial or chunked-parallel code by size, so the
# validation after each epoch calls other kernels than the training steps.
EVALUATION_ROWS = 4096


def _first_calls(args: argparse.Namespace, net: Any, data: _Data) -> None:
    """What an epoch calls, once, on a copy of the model (the real one must start untouched):
    training steps on one batch (the dead-ReLU record included), then the evaluation fit makes
    after each epoch on a full-size block, so that each kernel training will call is compiled (or
    loaded from the cache) now."""
    model = net.copy()
    rows = min(len(data.Xtr), args.batch_size)
    optimizer = _optimizer(args.optimizer, args.lr, args.weight_decay)
    try:
        model.fit(data.Xtr[:rows], data.ytr[:rows], epochs=1, batch_size=args.batch_size, optimizer=optimizer)
    except TrainingDiverged:
        return  # the real training reports it, if it diverges too
    block = slice(0, EVALUATION_ROWS)
    model.evaluate(data.Xtr[block], data.ytr[block])


def _fit(
    args: argparse.Namespace,
    parser: argparse.ArgumentParser,
    net: Any,
    optimizer: optim.Optimizer,
    data: _Data,
    comm: Any = None,
) -> tuple[Any, float]:
    """The training itself, under a progress bar unless --quiet; returns (history, seconds)."""
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
            data.Xtr,
            data.ytr,
            epochs=args.epochs,
            batch_size=args.batch_size,
            optimizer=optimizer,
            validation_data=(data.Xte, data.yte),
            callbacks=callbacks,
            evaluate_train=bool(args.plot),  # the plotted train curve is measured as the test curve is
            comm=comm,
        )
    except TrainingDiverged as exc:  # a user's choice of settings (usually --lr), not a crash
        if bar is not None:
            bar.close()  # first: the bar's last redraw would land after the message
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    seconds = time.perf_counter() - start
    if bar is not None:
        bar.close()
    return history, seconds


def _print_results(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    classes = summary["classes"]
    if classes != list(range(len(classes))):  # the file's labels were renumbered: say to what
        print(_classes_line(classes))
    print(f"train accuracy {summary['train_accuracy']:.4f}")
    print(f"test accuracy {summary['test_accuracy']:.4f}  ({summary['epochs']} epochs, {summary['seconds']:.2f} s)")
    dead = summary["dead_relu_per_layer"]
    if dead:
        print(
            "dead ReLU units (never fire on the training data): "
            + ", ".join(f"layer {i + 1}: {f:.1%}" for i, f in enumerate(dead))
        )
    if args.save:
        print(f"model saved to {args.save}")
    if args.plot:
        print(f"curves plotted to {args.plot}")


def _classes_line(classes: list[Any], limit: int = 20) -> str:
    """Class index = the file's label, the first ``limit`` of them (all are in the --json output)."""
    shown = ", ".join(f"{k} = {name}" for k, name in enumerate(classes[:limit]))
    return f"classes: {shown}" + (f", ... ({len(classes)} classes)" if len(classes) > limit else "")


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
