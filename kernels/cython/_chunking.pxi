# Included by every kernel module: its work-splitting threshold, readable and settable from Python
# (kernels/cython/__init__.py: set_min_chunk, chunk_constants). Each module keeps its own copy of
# the threshold (kernels/cython/_chunks.h), so each needs these two functions.
from _common cimport FM_MAX_CHUNKS, FM_MIN_CHUNK, FM_SEG, fm_min_chunk, fm_set_min_chunk


def _chunking():
    """(threshold in force, default threshold, most chunks, segment length) of this module."""
    return fm_min_chunk(), FM_MIN_CHUNK, FM_MAX_CHUNKS, FM_SEG


def _set_min_chunk(Py_ssize_t n):
    """Make chunks of at least ``n`` elements (tests: reach the chunked paths at small sizes)."""
    fm_set_min_chunk(n)
