"""``save``/``load`` of the assignments' models: the ``params`` dict as an ``.npz`` archive
(never a pickle, unlike the assignment's ``np.save`` of a dict). ``load`` returns False, saying
so, when the file is missing, as the assignment's does; a file whose arrays do not match the
model's parameters is refused with ``ValueError`` before anything is replaced."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from ....io import ModelFileError, _member_headers


class ParamsFile:
    """Mixin for a model with a ``params`` dict of arrays."""

    params: dict[str, np.ndarray]

    def save(self, fname: Any) -> None:
        """Write ``self.params`` to ``fname`` (``.npz`` appended when missing)."""
        path = _npz(fname)
        arrays = {name: np.asarray(value) for name, value in self.params.items()}
        np.savez(path, **arrays)  # type: ignore[arg-type]  # numpy's stubs mistype **kwds
        print(os.fspath(fname), "saved.")

    def load(self, fname: Any) -> bool:
        """Replace ``self.params`` by the arrays in ``fname``; False if there is no such file."""
        path = _npz(fname)
        if not os.path.isfile(path):
            print(os.fspath(fname), "not available.")
            return False
        try:
            headers = _member_headers(path)  # shapes checked against the bytes before reading
        except ModelFileError as exc:
            raise ValueError(str(exc)) from None
        stored = {name: shape for name, (shape, _) in headers.items()}
        want = {name: np.shape(value) for name, value in self.params.items()}
        if stored != want:
            raise ValueError(f"{path} holds parameters {stored}, but this model has {want}")
        with np.load(path, allow_pickle=False) as npz:
            loaded = {name: npz[name].astype(np.asarray(self.params[name]).dtype) for name in want}
        self.params.update(loaded)
        print(os.fspath(fname), "loaded.")
        return True


def _npz(fname: Any) -> str:
    path = os.fspath(fname)
    return path if path.endswith(".npz") else path + ".npz"
