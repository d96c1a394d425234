"""The Numba CPU backend (``numba``): same op names as the reference, compiled and fused."""

UNAVAILABLE_REASON = "the numba kernels are not implemented yet"
