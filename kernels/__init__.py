"""Compute kernels, one sub-package per backend with the same op names in each.

Installed as ``fastmlp.kernels``. ``reference`` (plain NumPy) is the oracle; ``numba_cpu``,
``cython`` and ``cuda`` implement the same functions fast. Kernels never import the API layer.
"""
