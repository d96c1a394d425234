"""The Numba CPU backend (``numba``): same op names as the reference, compiled and fused."""

from .._exports import export as _export

_export(globals(), __name__)
from . import epoch as compiled_steps  # noqa: E402 - the whole-run training path (fastmlp/_plan.py)
