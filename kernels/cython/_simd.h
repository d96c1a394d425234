/* Portable SIMD for the Cython kernels: runtime dispatch between an AVX2 and a baseline copy,
 * and the OpenMP team size.
 *
 * The extensions are compiled for the x86-64 baseline (SSE2), so one build runs on any x86-64
 * CPU; the element loops (Philox, exp, row reductions, activations, the optimizer updates) are
 * compiled a second time for AVX2 and picked at run time: against the Numba backend (which JITs
 * for the host CPU), the baseline copies alone were clearly slower on those loops
 * (benches/NOTES.md, 'Measurements behind code comments': _simd.h).
 *
 * FM_MULTIVERSION copies use AVX2 without FMA: both copies do the same IEEE operations in the same
 * order, so their results are bit-identical on every CPU. FM_MULTIVERSION_FMA (the exp loops
 * only: _vecmath.h's and the activation table's rows in _activations.h) lets the compiler
 * contract a*b+c into FMA in the AVX2 copy: the exp polynomial's latency chain halves (which
 * brings softmax close to Numba's time; same note) and the results move by an ulp or so, always
 * in the accurate direction.
 */
#ifndef FASTMLP_SIMD_H
#define FASTMLP_SIMD_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define FM_X86 1
#include <immintrin.h>
#define FM_AVX2 __attribute__((target("avx2")))
#define FM_AVX2_FMA __attribute__((target("avx2,fma")))
#define FM_NOINLINE __attribute__((noinline))
#define FM_ALWAYS_INLINE inline __attribute__((always_inline))
/* AVX2 and FMA (the FMA copies need both; every AVX2 CPU but a few early VIA ones has FMA) */
static inline int fm_has_avx2(void) {
    static int has = -1; /* benign race: every thread stores the same value */
    if (has < 0) {
        const char *off = getenv("FASTMLP_CYTHON_NO_AVX2"); /* lets tests run the baseline copies */
        __builtin_cpu_init();
        has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")
              && !(off && off[0] && off[0] != '0');
    }
    return has;
}
/* name(params) runs name##_body(args), compiled twice (AVX2 and baseline), chosen per call. The
 * copies stay out of line: inlined into Cython's row loops, gcc left such loops scalar. */
#define FM_MULTIVERSION(name, params, args)                                          \
    FM_AVX2 FM_NOINLINE static void name##_avx2 params { name##_body args; }         \
    FM_NOINLINE static void name##_base params { name##_body args; }                 \
    static inline void name params {                                                 \
        if (fm_has_avx2()) name##_avx2 args; else name##_base args;                  \
    }
#define FM_MULTIVERSION_FMA(name, params, args)                                      \
    FM_AVX2_FMA FM_NOINLINE static void name##_avx2 params { name##_body args; }     \
    FM_NOINLINE static void name##_base params { name##_body args; }                 \
    static inline void name params {                                                 \
        if (fm_has_avx2()) name##_avx2 args; else name##_base args;                  \
    }
#define FM_MULTIVERSION_RET(T, name, params, args)                                   \
    FM_AVX2 FM_NOINLINE static T name##_avx2 params { return name##_body args; }     \
    FM_NOINLINE static T name##_base params { return name##_body args; }             \
    static inline T name params {                                                    \
        return fm_has_avx2() ? name##_avx2 args : name##_base args;                  \
    }
#else
#define FM_X86 0
#define FM_NOINLINE
#define FM_ALWAYS_INLINE inline
static inline int fm_has_avx2(void) { return 0; }
#define FM_MULTIVERSION(name, params, args) \
    static void name params { name##_body args; }
#define FM_MULTIVERSION_FMA FM_MULTIVERSION
#define FM_MULTIVERSION_RET(T, name, params, args) \
    static T name params { return name##_body args; }
#endif

/* Threads an OpenMP region may use now: the calling thread's nthreads-var, which threadpoolctl
 * (fastmlp.set_num_threads) sets through omp_set_num_threads. 1 without OpenMP. */
static inline int fm_max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

/* Sets the calling thread's nthreads-var (what fm_max_threads then returns). No-op without OpenMP. */
static inline void fm_set_max_threads(int n) {
#ifdef _OPENMP
    omp_set_num_threads(n);
#else
    (void)n;
#endif
}

static inline int fm_have_openmp(void) {
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

#endif
