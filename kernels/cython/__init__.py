"""The Cython backend (``cython``): compiled extensions for the hot ops, the reference for the rest.

Native here: dense and affine layers (GEMMs through ``scipy.linalg.cython_blas`` plus fused
epilogues; every activation of kernels/activation_table.py, with the pre-activation saved for
those whose output does not give f'), ReLU / leaky ReLU / PReLU, the activation table's other
elementwise rows (ELU, GELU, ...: one op pair per row, run on the table's formulas compiled to C
at build time), the Philox random bits and dropout, softmax
cross-entropy and the SVM losses, covariance and whitening, and the five optimizer updates. Every
other op falls back to the NumPy reference (``fastmlp.backends.coverage()`` says which).

The extensions are optional (setup.py builds them when a C compiler works); when they are
missing this package imports anyway and sets ``UNAVAILABLE_REASON``. Kernels release the GIL.
Parallel loops use OpenMP with the calling thread's limit, which ``fastmlp.set_num_threads``
sets (threadpoolctl calls omp_set_num_threads); like Numba's, that limit is per Python thread,
so other threads keep the default (all cores). Chunking never depends on the thread count: the fused
loops give the same bits on any number of threads. The compute-bound C loops carry AVX2 copies
picked at run time (``_simd.h``); ``FASTMLP_CYTHON_NO_AVX2=1`` forces the baseline ones.
"""

import functools
import importlib

from .. import _blas_clock
from .._exports import export as _export

_MODULES = ("activations", "dense", "dropout", "losses", "optim", "rng", "whiten")
_BUILD_HINT = (
    "install with a working C compiler (pip install -e . --no-build-isolation, or python setup.py build_ext --inplace)"
)


def _load():
    """The compiled modules by name, or the reason they cannot be imported."""
    found, missing, first = {}, [], None
    for name in _MODULES:
        try:
            found[name] = importlib.import_module(f"{__name__}.{name}")
        except ImportError as exc:
            missing.append(name)
            first = first or exc
    if missing:
        return found, (
            f"the compiled extension is not built: {__name__}.{{{', '.join(missing)}}} cannot be imported "
            f"({type(first).__name__}: {first}); {_BUILD_HINT}"
        )
    return found, ""


_compiled, UNAVAILABLE_REASON = _load()


def _chunking():
    """(threshold in force, default threshold, most chunks, segment length) of every compiled
    module, by name: elements per chunk below which drivers stay serial (kernels/cython/_chunks.h).
    Private, like _set_min_chunk: a backend package exports op names only (tests/test_backends.py)."""
    return {name: module._chunking() for name, module in _compiled.items()}


def _set_min_chunk(n=None):
    """Make every compiled module split work into chunks of at least ``n`` elements (``None``: the
    default). Tests make it small to reach the chunked paths with small inputs; results do not
    depend on it beyond float summation order. Returns the previous threshold."""
    previous = {value[0] for value in _chunking().values()}
    for module in _compiled.values():
        module._set_min_chunk(module._chunking()[1] if n is None else int(n))
    return previous.pop() if len(previous) == 1 else None


# ops whose drivers call BLAS/LAPACK (through scipy's OpenBLAS) themselves
_CALLS_BLAS = frozenset(
    {"affine_forward", "affine_backward", "dense_forward", "dense_backward", "covariance", "whitening_matrix"}
)


def _serial_near_blas(fn, calls_blas):
    """fn with its OpenMP loops on the calling thread while BLAS workers may spin (kernels/_blas_clock.py
    says why; the effect: benches/NOTES.md change 8); same chunks, same bits."""
    from .rng import _openmp_threads, _set_openmp_threads

    @functools.wraps(fn)
    def run(*args, **kwargs):
        threads = _openmp_threads()[1] if _blas_clock.recent() else 1
        if threads > 1:
            _set_openmp_threads(1)
            try:
                result = fn(*args, **kwargs)
            finally:
                _set_openmp_threads(threads)
        else:
            result = fn(*args, **kwargs)
        if calls_blas:
            _blas_clock.called()
        return result

    return run


def _guard_blas_neighbours():
    """Wrap every exported op of this package in _serial_near_blas."""
    names = [n for n, v in globals().items() if getattr(v, "__module__", "").startswith(__name__ + ".")]
    for name in names:
        globals()[name] = _serial_near_blas(globals()[name], name in _CALLS_BLAS)


if not UNAVAILABLE_REASON:
    # every op the compiled modules define, found, not listed (kernels/_exports.py): the ops
    # activations.pyx generates from the activation table come with the hand-written ones
    _export(globals(), __name__, _MODULES)
    _guard_blas_neighbours()
