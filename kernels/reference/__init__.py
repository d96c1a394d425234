"""The NumPy reference backend (``numpy``): readable, obviously right, the oracle for all others.

Its modules define the op contract: every public function of ``activations``, ``dense``,
``dropout``, ``losses``, ``norm``, ``optim``, ``rng`` and ``whiten`` is an op (kernels/_exports.py).
"""

from .._exports import export as _export

_export(globals(), __name__)
