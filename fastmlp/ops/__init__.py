"""The one door from the API into the kernels: one function per op.

Each function validates its inputs (shapes, dtypes, label ranges, finite values where required,
contiguity) with errors naming the argument, then runs the op on the selected backend
(``backend=`` argument, else :func:`fastmlp.get_backend`). Batches are rows: x (N, D),
W (D_in, D_out). See ``fastmlp/ops/_checks.py`` for the input rules.

The op table is what these modules define, found, not listed: ``OPS`` maps every op name to its
door (each module's public functions, the activation doors generated from the activation table
included), and the exports, ``fastmlp.backends.ops()`` and the coverage report derive from it.
The doors' buffer keywords are declared on them (``_dispatch.buffers``). An op is declared once:
its door here, its kernels under ``kernels/<backend>/<module>``, its cases in ``fastmlp/cases.py``.
"""

from ..kernels.activation_table import NAMES as ACTIVATIONS
from . import activations, dense, dropout, losses, norm, optim, rng, whiten
from ._dispatch import doors

# star imports so that type checkers and editors see every door; the namespace is trimmed below
from .activations import *  # noqa: F403
from .dense import *  # noqa: F403
from .dropout import *  # noqa: F403
from .losses import *  # noqa: F403
from .norm import *  # noqa: F403
from .optim import *  # noqa: F403
from .rng import *  # noqa: F403
from .whiten import *  # noqa: F403
from .whiten import METHODS as WHITENING_METHODS

_MODULES = (activations, dense, dropout, losses, norm, optim, rng, whiten)
OPS = {name: getattr(module, name) for module in _MODULES for name in doors(vars(module), module.__name__)}

__all__ = ["ACTIVATIONS", "OPS", "WHITENING_METHODS", *sorted(OPS)]

for _name in [
    n
    for n in globals()
    if not n.startswith("_") and n not in __all__ and n not in {m.__name__.rsplit(".", 1)[1] for m in _MODULES}
]:
    del globals()[_name]  # helpers the star imports brought along (np, chk, kernel, ...)
globals().update(OPS)  # the generated activation doors, which the star imports do not see
