"""The Numba CPU backend (``numba``): same op names as the reference, compiled and fused."""

from .._exports import export as _export

_export(globals(), __name__)
