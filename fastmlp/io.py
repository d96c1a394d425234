"""Saving and loading models: one .npz of arrays plus JSON metadata. Nothing is unpickled."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from typing import Any

import numpy as np

from . import __version__
from . import losses as loss_lib
from .layers import LAYER_TYPES
from .model import Sequential

FORMAT = "fastmlp-model"
FORMAT_VERSION = 1
META_KEY = "__fastmlp_meta__"


class ModelFileError(ValueError):
    """The file is not a fastmlp model this version can read."""


def save(model: Sequential, path: Any) -> None:
    """Write ``model`` to ``path`` atomically (a temporary file renamed into place).

    Parameters
    ----------
    model : Sequential
    path : str or os.PathLike (``.npz`` is NOT appended)
    """
    path = os.fspath(path)
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fastmlp_version": __version__,
        "layers": [{"type": type(layer).__name__, "config": layer.config()} for layer in model.layers],
        "loss": {"name": model.loss.name, "config": model.loss.config()},
        "l1": model.l1,
        "seed": model.seed,
        "steps": model.steps,
    }
    for layer in model.layers:
        if type(layer).__name__ not in LAYER_TYPES:
            raise TypeError(f"cannot save custom layer type {type(layer).__name__}")
    arrays = model.get_state()
    arrays[META_KEY] = np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".fastmlp-", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stubs mistype **kwds
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def load(path: Any, backend: str | None = None) -> Sequential:
    """Read a model written by :func:`save` (``allow_pickle=False``: no code runs).

    Parameters
    ----------
    path : str or os.PathLike
    backend : str, optional, backend for the loaded model

    Returns
    -------
    Sequential

    Raises
    ------
    ModelFileError
        Not a zip/npz file, truncated, no fastmlp metadata, a newer format, object arrays,
        unknown layer types, or arrays that don't fit the described layers.
    """
    path = os.fspath(path)
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a fastmlp model file (not an .npz archive)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if META_KEY not in npz.files:
                raise ModelFileError(f"{path} is an .npz archive but not a fastmlp model (no metadata)")
            arrays = {name: npz[name] for name in npz.files}
    except ModelFileError:
        raise
    except ValueError as exc:  # object arrays need pickle, which we refuse
        raise ModelFileError(f"{path} holds arrays that need pickle to load; refusing ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ModelFileError(f"{path} is damaged or truncated: {exc}") from None
    for name, value in arrays.items():  # members that are not .npy arrays come back as raw bytes
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "biuf":
            raise ModelFileError(f"{path} member {name!r} is not a numeric array")
    try:
        meta = json.loads(arrays.pop(META_KEY).tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path} has unreadable metadata: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a fastmlp model (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in model format {version} by fastmlp {meta.get('fastmlp_version')}; "
            f"this fastmlp ({__version__}) reads format {FORMAT_VERSION} and older"
        )
    try:
        layers = []
        for spec in meta["layers"]:
            cls = LAYER_TYPES.get(spec["type"])
            if cls is None:
                raise ModelFileError(f"{path} uses unknown layer type {spec['type']!r}")
            config = dict(spec["config"])
            if "init" in config:
                config["init"] = "small"  # weights are overwritten below: skip (and don't warn for) 'zeros'
            layers.append(cls(**config))
        loss = loss_lib.from_config(meta["loss"]["name"], meta["loss"]["config"])
        model = Sequential(layers, loss, l1=meta["l1"], seed=meta["seed"], backend=backend)
        for layer, spec in zip(model.layers, meta["layers"]):
            if "init" in spec["config"]:
                setattr(layer, "init_name", spec["config"]["init"])  # noqa: B010 - only weight layers have it
        model.steps = int(meta["steps"])
        model.set_state(arrays)
    except ModelFileError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path} does not describe a valid model: {exc}") from None
    return model
