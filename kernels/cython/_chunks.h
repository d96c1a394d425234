/* Work splitting shared by every Cython kernel module. kernels/numba_cpu/_common.py uses the same
 * numbers; tests/test_chunked.py checks that they agree.
 *
 * FM_MIN_CHUNK: elements per chunk below which a driver stays serial (an OpenMP region has a
 * fixed start-up cost that an elementwise pass only earns back from about 32k floats up;
 * benches/NOTES.md, 'Measurements behind code comments': FM_MIN_CHUNK).
 * FM_MAX_CHUNKS: upper bound on chunks, enough to balance 2-16 threads.
 *
 * The threshold in force is a variable, not the constant, so that tests can make it small and
 * reach every chunked path (chunk bounds, per-chunk partials, ragged last chunks) with small
 * inputs. Each extension module has its own copy (static): kernels/cython/__init__.py's
 * set_min_chunk sets them all. */
#ifndef FASTMLP_CHUNKS_H
#define FASTMLP_CHUNKS_H

#include <stddef.h>

#define FM_MIN_CHUNK 32768
#define FM_MAX_CHUNKS 64

static ptrdiff_t fm_min_chunk_now = FM_MIN_CHUNK;

static inline ptrdiff_t fm_min_chunk(void) { return fm_min_chunk_now; }

static inline void fm_set_min_chunk(ptrdiff_t n) { fm_min_chunk_now = n > 0 ? n : 1; }

#endif
