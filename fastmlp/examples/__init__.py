"""A gallery of the CS231n notes' figures, redrawn with fastmlp (matplotlib needed: the ``plot``
extra). Each example writes PNGs and returns their paths; ``fastmlp examples NAME`` runs one.

- ``spiral``: decision regions on the notes' spiral data, for 3, 6 and 20 hidden units, and for
  20 units at three L2 strengths (capacity and regularization);
- ``preprocessing``: a point cloud original / zero-centred / normalized, then PCA-rotated and
  whitened; the first 49 eigen-digits and whitened digits;
- ``activations``: sigmoid, tanh, ReLU, leaky ReLU and maxout with their derivatives (fastmlp's
  forward and backward ops);
- ``learning``: loss curves at several learning rates, the train/validation accuracy gap, the
  weight-update-to-weight ratio per layer (~1e-3 is the notes' rule of thumb) and the dead-ReLU
  fraction per learning rate.

``quick=True`` runs each at a tiny size (what the tests do); the README's figures are full runs.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

NAMES = ("spiral", "preprocessing", "activations", "learning")


def run(name: str, out_dir: Any = ".", quick: bool = False) -> list[str]:
    """Run example ``name``, writing its PNGs into ``out_dir``.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`.
    out_dir : str or os.PathLike
        Folder for the PNGs (created if missing).
    quick : bool
        Tiny sizes and few epochs: seconds instead of a minute, same kinds of figures.

    Returns
    -------
    list of str
        The PNG files written.
    """
    if name not in NAMES:
        raise ValueError(f"unknown example {name!r}; one of {NAMES}")
    os.makedirs(out_dir, exist_ok=True)
    module = importlib.import_module(f"{__name__}.{name}")
    return module.main(os.fspath(out_dir), quick)
