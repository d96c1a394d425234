"""Drop-in adapters that put fastmlp's kernels behind other toolkits' APIs.

- :mod:`fastmlp.compat.cs231n`: the CS231n assignment API (layers, layer utils, update rules,
  ``FullyConnectedNet``, ``Solver``, gradient checks) with the assignment's signatures.

The thinc backend lives in :mod:`fastmlp.thinc_ops` (it needs the optional ``thinc`` package).
"""

from . import cs231n

__all__ = ["cs231n"]
