"""Saving and loading models: one .npz of arrays plus JSON metadata. Nothing is unpickled."""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import stat
import tempfile
import time
import zipfile
from typing import Any

import numpy as np

from . import __version__, backends
from . import losses as loss_lib
from .layers import LAYER_TYPES
from .model import Sequential

FORMAT = "fastmlp-model"
FORMAT_VERSION = 1
META_KEY = "__fastmlp_meta__"


class ModelFileError(ValueError):
    """The file is not a fastmlp model this version can read."""


# A deflate stream expands at most ~1032-fold: a member claiming more is lying about its size.
MAX_DEFLATE_RATIO = 1032
# Temporary files a killed save left behind are removed by a later save of the same file once
# they are this old (a younger one may belong to a save still running in another process).
STALE_TMP_S = 3600.0
_TMP_TAG = ".fastmlp-tmp-"


def save(model: Sequential, path: Any) -> None:
    """Write ``model`` to ``path`` atomically (a temporary file renamed into place).

    Like ``open(path, "w")``: a symlink is written through (its target is replaced, the link
    stays), an existing file keeps its permission bits, a new one gets the umask's.

    Parameters
    ----------
    model : Sequential
    path : str or os.PathLike (``.npz`` is NOT appended)

    Raises
    ------
    FileNotFoundError
        The directory of ``path`` does not exist.
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
    target = os.path.realpath(path)  # through symlinks, as open(path, "w") writes
    directory = os.path.dirname(target)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, f"cannot save the model: directory {directory!r} does not exist", path)
    _remove_stale_temporaries(target)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(target) + _TMP_TAG, dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stubs mistype **kwds
        os.chmod(tmp, _mode_for(target))
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _mode_for(target: str) -> int:
    """The permission bits open(target, "w") would leave: the existing file's, else 0o666 less the umask."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove_stale_temporaries(target: str) -> None:
    """Delete temporary files of earlier saves of ``target`` that were killed midway."""
    directory, prefix = os.path.dirname(target), "." + os.path.basename(target) + _TMP_TAG
    now = time.time()
    with os.scandir(directory) as entries:
        for entry in entries:
            if entry.name.startswith(prefix) and entry.is_file(follow_symlinks=False):
                with contextlib.suppress(OSError):  # raced by another cleanup, or not ours to remove
                    if now - entry.stat(follow_symlinks=False).st_mtime > STALE_TMP_S:
                        os.unlink(entry.path)


def load(path: Any, backend: str | None = None) -> Sequential:
    """Read a model written by :func:`save` (``allow_pickle=False``: no code runs).

    Nothing is allocated on the file's word alone: each array's header is checked against the
    bytes its archive member really holds, and the layers described by the metadata against
    those arrays, before any array is read or any layer built.

    Parameters
    ----------
    path : str or os.PathLike
    backend : str, optional, backend for the loaded model

    Returns
    -------
    Sequential

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        ``path`` does not exist, or is a directory.
    ModelFileError
        Not a zip/npz file, truncated, no fastmlp metadata, a newer format, object arrays,
        members whose headers claim more data than they hold, unknown layer types, or layers
        whose arrays are missing or shaped otherwise.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(errno.ENOENT, "no such model file", path)
    if os.path.isdir(path):
        raise IsADirectoryError(errno.EISDIR, "a directory, not a model file", path)
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path} is not a fastmlp model file (not an .npz archive)")
    headers = _member_headers(path)
    if META_KEY not in headers:
        raise ModelFileError(f"{path} is an .npz archive but not a fastmlp model (no metadata)")
    meta = _metadata(path)
    specs = _layer_specs(path, meta, headers)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {name: npz[name] for name in npz.files if name != META_KEY}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ModelFileError(f"{path} is damaged or truncated: {exc}") from None
    try:
        layers = []
        for cls, config in specs:
            config = dict(config)
            if "init" in config:
                config["init"] = "small"  # weights are overwritten below: skip (and don't warn for) 'zeros'
            layers.append(cls(**config))
        loss = loss_lib.from_config(meta["loss"]["name"], meta["loss"]["config"])
        model = Sequential(layers, loss, l1=meta["l1"], seed=meta["seed"], backend=backend)
        for layer, (_, config) in zip(model.layers, specs):
            if "init" in config:
                setattr(layer, "init_name", config["init"])  # noqa: B010 - only weight layers have it
        model.steps = int(meta["steps"])
        model.set_state(arrays)
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        if isinstance(exc, backends.BackendUnavailableError):
            raise
        raise ModelFileError(f"{path} does not describe a valid model: {exc}") from None
    return model


def _member_headers(path: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """(shape, dtype) of every array in the archive, read from the .npy headers alone, each checked
    against the bytes its member holds (so no later read allocates what a header merely claims)."""
    headers = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename
                if not name.endswith(".npy"):
                    raise ModelFileError(f"{path} member {name!r} is not a .npy array")
                if info.compress_type != zipfile.ZIP_STORED and info.file_size > MAX_DEFLATE_RATIO * max(
                    info.compress_size, 1
                ):
                    raise ModelFileError(
                        f"{path} member {name!r} claims {info.file_size} bytes from {info.compress_size}"
                    )
                if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
                    raise ModelFileError(f"{path} member {name!r} is damaged (its sizes disagree)")
                with archive.open(info) as member:
                    shape, dtype, data_start = _npy_header(member, path, name)
                if dtype.kind not in "biuf":
                    raise ModelFileError(
                        f"{path} member {name!r} holds {dtype} data, not numbers"
                        + (" (it would need pickle to load; refusing)" if dtype.hasobject else "")
                    )
                want = data_start + math.prod(shape) * dtype.itemsize
                if info.file_size != want:
                    raise ModelFileError(
                        f"{path} member {name!r} is truncated or padded: its header declares {shape} {dtype} "
                        f"({want} bytes with the header) but the member holds {info.file_size} bytes"
                    )
                headers[name[: -len(".npy")]] = (shape, dtype)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelFileError(f"{path} is damaged or truncated: {exc}") from None
    return headers


def _npy_header(member: Any, path: str, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    try:
        version = np.lib.format.read_magic(member)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(member)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(member)
        else:
            raise ValueError(f"unsupported .npy format version {version}")
    except (ValueError, OSError, EOFError, SyntaxError) as exc:
        raise ModelFileError(f"{path} member {name!r} has no valid .npy header: {exc}") from None
    return tuple(shape), np.dtype(dtype), member.tell()


def _metadata(path: str) -> dict[str, Any]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            raw = npz[META_KEY]
        meta = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ModelFileError(f"{path} has unreadable metadata: {type(exc).__name__}: {exc}") from None
    if not isinstance(meta, dict):
        raise ModelFileError(f"{path} has metadata of the wrong form ({type(meta).__name__}, not an object)")
    if meta.get("format") != FORMAT:
        raise ModelFileError(f"{path} is not a fastmlp model (format {meta.get('format')!r})")
    version = meta.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path} was written in model format {version} by fastmlp {meta.get('fastmlp_version')}; "
            f"this fastmlp ({__version__}) reads format {FORMAT_VERSION} and older"
        )
    for key, kind in (("layers", list), ("loss", dict)):
        if not isinstance(meta.get(key), kind):
            raise ModelFileError(f"{path} has metadata of the wrong form ({key!r} is not a {kind.__name__})")
    return meta


def _layer_specs(path: str, meta: dict[str, Any], headers: dict) -> list[tuple[type, dict[str, Any]]]:
    """(layer class, config) per described layer, each layer's arrays present in the file with
    exactly the shapes its config implies (checked before any layer allocates them)."""
    specs = []
    for index, spec in enumerate(meta["layers"]):
        if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
            raise ModelFileError(f"{path} has metadata of the wrong form (layer {index} is not a type and a config)")
        cls = LAYER_TYPES.get(spec.get("type"))  # type: ignore[arg-type]
        if cls is None:
            raise ModelFileError(f"{path} uses unknown layer type {spec.get('type')!r}")
        try:
            shapes = cls.state_shapes(spec["config"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelFileError(f"{path} layer {index} ({spec['type']}) has an invalid config: {exc!r}") from None
        for name, shape in shapes.items():
            key = f"{index}.{name}"
            if key not in headers:
                raise ModelFileError(f"{path} describes layer {index} ({spec['type']}) but holds no array {key!r}")
            if headers[key][0] != shape:
                raise ModelFileError(
                    f"{path} layer {index} ({spec['type']}) declares {name} of shape {shape}, "
                    f"but the file's array has shape {headers[key][0]}"
                )
        specs.append((cls, spec["config"]))
    return specs
