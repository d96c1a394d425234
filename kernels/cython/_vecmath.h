/* The Cython kernels' element loops, in C so each gets an AVX2 and a baseline copy (_simd.h):
 * exp for x <= 0 and the loops around it (softmax, sigmoid, tanh), the whole-range exp, expm1,
 * log1p, tanh and erf the activation table's rows run on (_activations.h), the row reductions of the
 * losses, the ReLU family and the optimizer updates. The .pyx files own the structure (chunks,
 * OpenMP, BLAS, drivers); these own the arithmetic, in the reference's operation order. */
#ifndef FASTMLP_VECMATH_H
#define FASTMLP_VECMATH_H

#include <math.h>

#include "_simd.h"

/* ------------------------------------------------------------------------------------------
 * e^x and e^x - 1 for x <= 0 (and -inf, NaN), written so loops calling them vectorise: libm's
 * scalar expf is a call per element. Cody-Waite reduction x = k ln2 + r, |r| <= ln2/2; Taylor
 * polynomial for expm1(r) (degree 8 for float, 15 for double: truncation < 0.1 ulp); k comes
 * from the round-to-nearest "magic number" trick (no floor(), which SSE2 lacks) and 2^k from
 * its bits. Results are within ~2 ulp of NumPy's. 2^k is built as 2^(k+OFF) * 2^-OFF so
 * subnormal results survive. Same algorithm as kernels/numba_cpu/_common.py.
 * ------------------------------------------------------------------------------------------ */
static FM_ALWAYS_INLINE float fm_bits_f(int32_t i) { float f; memcpy(&f, &i, 4); return f; }
static FM_ALWAYS_INLINE int32_t fm_ibits_f(float f) { int32_t i; memcpy(&i, &f, 4); return i; }
/* doubles' bits as uint64_t: shifts into the sign bit are defined, and AVX2 has logical 64-bit
 * shifts only */
static FM_ALWAYS_INLINE uint64_t fm_ubits_d(double f) { uint64_t i; memcpy(&i, &f, 8); return i; }
static FM_ALWAYS_INLINE double fm_from_ubits_d(uint64_t i) { double f; memcpy(&f, &i, 8); return f; }

#define FM_MAGIC_F 12582912.0f            /* 1.5 * 2^23: adding it rounds to an integer */
#define FM_MAGIC_D 6755399441055744.0     /* 1.5 * 2^52 */

static FM_ALWAYS_INLINE float fm_expm1_parts_f(float x, float *s) {
    float xc = x > -104.0f ? x : -104.0f; /* e^-104 < half the smallest subnormal; NaN -> -104 */
    float big = xc * 1.44269504f + FM_MAGIC_F;
    int32_t k = fm_ibits_f(big) - fm_ibits_f(FM_MAGIC_F);
    float kf = big - FM_MAGIC_F;
    float r = (xc - kf * 0.693359375f) - kf * -2.12194440e-4f;
    float q = 1.0f / 5040.0f + r * (1.0f / 40320.0f);
    q = 1.0f / 720.0f + r * q;
    q = 1.0f / 120.0f + r * q;
    q = 1.0f / 24.0f + r * q;
    q = 1.0f / 6.0f + r * q;
    q = 0.5f + r * q;
    *s = fm_bits_f((k + 64 + 127) << 23) * 5.421010862427522e-20f; /* 2^(k+64) * 2^-64 */
    return r + (r * r) * q;
}

#define FM_LN2_HI 6.93147180369123816490e-01
#define FM_LN2_LO 1.90821492927058770002e-10

/* 2^k for a double holding an integer k, -1022 <= k <= 1023 (else garbage, never a trap) */
static FM_ALWAYS_INLINE double fm_pow2_d(double kf) {
    uint64_t k = fm_ubits_d(kf + FM_MAGIC_D) - fm_ubits_d(FM_MAGIC_D);
    return fm_from_ubits_d((k + 1023) << 52);
}

/* (k, e^r - 1) with x = k ln2 + r, |r| <= ln2/2, for finite x */
static FM_ALWAYS_INLINE double fm_reduce_exp_d(double x, double *kf) {
    double k = (x * 1.4426950408889634 + FM_MAGIC_D) - FM_MAGIC_D;
    double r = (x - k * FM_LN2_HI) - k * FM_LN2_LO;
    double q = 1.0 / 87178291200.0 + r * (1.0 / 1307674368000.0);
    q = 1.0 / 6227020800.0 + r * q;
    q = 1.0 / 479001600.0 + r * q;
    q = 1.0 / 39916800.0 + r * q;
    q = 1.0 / 3628800.0 + r * q;
    q = 1.0 / 362880.0 + r * q;
    q = 1.0 / 40320.0 + r * q;
    q = 1.0 / 5040.0 + r * q;
    q = 1.0 / 720.0 + r * q;
    q = 1.0 / 120.0 + r * q;
    q = 1.0 / 24.0 + r * q;
    q = 1.0 / 6.0 + r * q;
    q = 0.5 + r * q;
    *kf = k;
    return r + (r * r) * q;
}

static FM_ALWAYS_INLINE double fm_expm1_parts_d(double x, double *s) {
    double kf, q = fm_reduce_exp_d(x > -746.0 ? x : -746.0, &kf); /* NaN -> -746 */
    *s = fm_pow2_d(kf + 128.0) * 2.938735877055719e-39; /* 2^(k+128) * 2^-128 */
    return q;
}

/* e^x for x <= 0, -inf or NaN. */
static FM_ALWAYS_INLINE float fm_exp_neg_f(float x) {
    float s, q = fm_expm1_parts_f(x, &s);
    return x == x ? s * q + s : x;
}
static FM_ALWAYS_INLINE double fm_exp_neg_d(double x) {
    double s, q = fm_expm1_parts_d(x, &s);
    return x == x ? s * q + s : x;
}

/* e^x - 1 for x <= 0, -inf or NaN, accurate near 0. */
static FM_ALWAYS_INLINE float fm_expm1_neg_f(float x) {
    float s, q = fm_expm1_parts_f(x, &s);
    return x == x ? s * q + (s - 1.0f) : x;
}
static FM_ALWAYS_INLINE double fm_expm1_neg_d(double x) {
    double s, q = fm_expm1_parts_d(x, &s);
    return x == x ? s * q + (s - 1.0) : x;
}

/* ------------------------------------------------------------------------------------------
 * exp, expm1, log1p, tanh and erf in double precision over the whole range, for the activation
 * table's rows (_activations.h maps math.<fn> to these): libm's are calls, which keep a loop
 * around them scalar. Plain arithmetic, bit casts and selects on computed values only, so the
 * loops vectorise; within 3 ulp of libm (erf: 4), with its NaNs, infinities, zeros and signs.
 * Same algorithms as kernels/numba_cpu/_vector_math.py.
 * ------------------------------------------------------------------------------------------ */
#define FM_EXP_CEILING 711.0    /* past ln(DBL_MAX) = 709.78: the result overflows to inf itself */
#define FM_EXPM1_FLOOR (-60.0)  /* e^x - 1 rounds to -1 below it */
#define FM_SQRT2 1.4142135623730951

/* c ? a : b with both a and b computed first (the table's `a if c else b` in vectorised rows): a
 * ternary whose arm computes lets gcc specialise the arm on c, and the specialised arm, run for
 * every lane once the loop is vectorised, can go through subnormals in the lanes that do not
 * take it (ELU's expm1 for z > 0 did), which x86 CPUs handle on a slow path */
static FM_ALWAYS_INLINE double fm_select_d(int c, double a, double b) { return c ? a : b; }

/* (q + 1) 2^k for -1077 <= k <= 1026: 2^k in two normal factors, 2^(k -+ 128) and 2^(+-128),
 * so results near overflow and subnormal ones are each rounded once */
static FM_ALWAYS_INLINE double fm_scale_exp_d(double q, double kf) {
    int up = kf > 0.0;
    double lift = up ? 340282366920938463463374607431768211456.0 : 2.938735877055719e-39;
    return ((q + 1.0) * fm_pow2_d(up ? kf - 128.0 : kf + 128.0)) * lift;
}

/* e^x */
static FM_ALWAYS_INLINE double fm_vexp_d(double x) {
    double xc = x > -746.0 ? x : -746.0; /* e^-746 rounds to 0; NaN -> -746, patched back below */
    double kf, q = fm_reduce_exp_d(xc < FM_EXP_CEILING ? xc : FM_EXP_CEILING, &kf);
    double e = fm_scale_exp_d(q, kf);
    return x != x ? x : e;
}

/* e^x - 1 = 2^k q + (2^k - 1): q itself near 0 (k = 0), never cancelling more than a bit; near
 * overflow 2^k alone would overflow, and e^x - 1 is e^x there to the last bit */
static FM_ALWAYS_INLINE double fm_vexpm1_d(double x) {
    double xc = x > FM_EXPM1_FLOOR ? x : FM_EXPM1_FLOOR; /* NaN -> the floor, patched back below */
    double kf, q = fm_reduce_exp_d(xc < FM_EXP_CEILING ? xc : FM_EXP_CEILING, &kf);
    double s = fm_pow2_d(kf);
    double near = s * q + (s - 1.0), far = fm_scale_exp_d(q, kf);
    double e = kf < 1000.0 ? near : far;
    return (x != x) | (x == 0.0) ? x : e; /* 0: keeps -0 */
}

/* log(1 + x): 1 + x = 2^k m, m in [sqrt(1/2), sqrt(2)), f = m - 1 exactly, log(1 + f) =
 * 2 atanh(s) as a series in s = f / (2 + f) (|s| <= 0.172: eleven terms are below half an ulp),
 * with 1 + x's rounding error added back as c / (1 + x) */
static FM_ALWAYS_INLINE double fm_vlog1p_d(double x) {
    double u = 1.0 + x; /* >= 2^-53 for x > -1: never subnormal */
    uint64_t bits = fm_ubits_d(u);
    /* the biased exponent as a double through the 2^52 trick: AVX2 has no int64 -> double */
    double e = fm_from_ubits_d(((bits >> 52) & 0x7FF) | 0x4330000000000000ULL) - 4503599627370496.0;
    double m = fm_from_ubits_d((bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL);
    int high = m > FM_SQRT2;
    double kf = (high ? e + 1.0 : e) - 1023.0;
    double f = (high ? m * 0.5 : m) - 1.0;
    double s = f / (2.0 + f), z = s * s;
    double r = 2.0 / 23.0;
    r = 2.0 / 21.0 + z * r;
    r = 2.0 / 19.0 + z * r;
    r = 2.0 / 17.0 + z * r;
    r = 2.0 / 15.0 + z * r;
    r = 2.0 / 13.0 + z * r;
    r = 2.0 / 11.0 + z * r;
    r = 2.0 / 9.0 + z * r;
    r = 2.0 / 7.0 + z * r;
    r = 2.0 / 5.0 + z * r;
    r = 2.0 / 3.0 + z * r;
    r = z * r; /* log(1 + f) = f - hf + s (hf + r), hf = f^2 / 2 */
    double hf = 0.5 * f * f;
    double c = (x - (u - 1.0)) / u; /* 1 + x = u + (x - (u - 1)) exactly; log(u + d) = log u + d/u */
    double y = kf * FM_LN2_HI + (f - (hf - (s * (hf + r) + (kf * FM_LN2_LO + c))));
    double special = x == -1.0 ? -HUGE_VAL : NAN; /* x <= -1 */
    y = x <= -1.0 ? special : y;
    return (x != x) | (x == HUGE_VAL) | (x == 0.0) ? x : y;
}

/* tanh x = -m / (m + 2), m = e^-2|x| - 1: no overflow, no cancellation near 0; NaN stays NaN */
static FM_ALWAYS_INLINE double fm_vtanh_d(double x) {
    double ax = fabs(x);
    double m = fm_expm1_neg_d(-(ax + ax));
    return copysign(-m / (m + 2.0), x);
}

/* erf: |x| <= 1: x P(x^2), P the Taylor series to n = 18. 1 < |x| < 6: 1 - e^(-x^2) erfcx(|x|),
 * erfcx(a) = s h(s), s = 1/a, h a degree-25 polynomial in t = (2s - 7/6) / (5/6) on [1/6, 1] (mpmath's
 * Chebyshev interpolant, well conditioned as a polynomial: benches/erf_coefficients.py). Past 6 erf
 * rounds to +-1 and s is held at 1/6, so h never extrapolates. Four interleaved Horner chains per
 * polynomial keep the dependency chains short. Same algorithm as kernels/numba_cpu/_vector_math.py. */
static const double FM_ERF_TAYLOR[19] = {
    1.1283791670955126,
    -0.37612638903183754,
    0.11283791670955126,
    -0.026866170645131252,
    0.005223977625442188,
    -0.0008548327023450853,
    0.00012055332981789664,
    -1.492565035840625e-05,
    1.6462114365889248e-06,
    -1.6365844691234924e-07,
    1.4807192815879218e-08,
    -1.2290555301717928e-09,
    9.422759064650411e-11,
    -6.7113668551641105e-12,
    4.4632242632864775e-13,
    -2.7835162072109215e-14,
    1.6342614095367152e-15,
    -9.063970842808673e-17,
    4.763348040515068e-18,
};
static const double FM_ERFCX_POLY[26] = {
    0.49666648512593864,
    -0.07128287792547403,
    -0.0019368880676844983,
    0.006219717587555677,
    -0.0026693430316646794,
    0.0006408677496401579,
    -2.4390209255312805e-06,
    -9.303470408872973e-05,
    5.9516327928618746e-05,
    -2.3855598012055373e-05,
    5.899924133391359e-06,
    2.135510239174228e-07,
    -1.2890308100779914e-06,
    9.239274759947809e-07,
    -4.44913847460289e-07,
    1.5479950928789475e-07,
    -2.7281195358951914e-08,
    -1.3430968720283901e-08,
    1.6691394124927222e-08,
    -8.92926098791508e-09,
    4.048495986060335e-09,
    -2.949309297479054e-09,
    1.3357064889852004e-09,
    4.3596290884308524e-10,
    -6.279510950201295e-10,
    1.622343047346226e-10,
};

static FM_ALWAYS_INLINE double fm_verf_d(double x) {
    double a = fabs(x), z = x * x;
    double z2 = z * z, z4 = z2 * z2;
    double p0 = FM_ERF_TAYLOR[16];
    p0 = FM_ERF_TAYLOR[12] + z4 * p0;
    p0 = FM_ERF_TAYLOR[8] + z4 * p0;
    p0 = FM_ERF_TAYLOR[4] + z4 * p0;
    p0 = FM_ERF_TAYLOR[0] + z4 * p0;
    double p1 = FM_ERF_TAYLOR[17];
    p1 = FM_ERF_TAYLOR[13] + z4 * p1;
    p1 = FM_ERF_TAYLOR[9] + z4 * p1;
    p1 = FM_ERF_TAYLOR[5] + z4 * p1;
    p1 = FM_ERF_TAYLOR[1] + z4 * p1;
    double p2 = FM_ERF_TAYLOR[18];
    p2 = FM_ERF_TAYLOR[14] + z4 * p2;
    p2 = FM_ERF_TAYLOR[10] + z4 * p2;
    p2 = FM_ERF_TAYLOR[6] + z4 * p2;
    p2 = FM_ERF_TAYLOR[2] + z4 * p2;
    double p3 = FM_ERF_TAYLOR[15];
    p3 = FM_ERF_TAYLOR[11] + z4 * p3;
    p3 = FM_ERF_TAYLOR[7] + z4 * p3;
    p3 = FM_ERF_TAYLOR[3] + z4 * p3;
    double p = (p0 + z * p1) + z2 * (p2 + z * p3);
    double near = x * p;
    double s = 1.0 / (a < 6.0 ? a : 6.0); /* NaN -> 6; +-inf -> 6 (e^-a^2 is 0 there) */
    double t = (2.0 * s - (1.0 + 1.0 / 6.0)) * (1.0 / (1.0 - 1.0 / 6.0)); /* [1/6, 1] -> [-1, 1] */
    double t2 = t * t, t4 = t2 * t2;
    double h0 = FM_ERFCX_POLY[24];
    h0 = FM_ERFCX_POLY[20] + t4 * h0;
    h0 = FM_ERFCX_POLY[16] + t4 * h0;
    h0 = FM_ERFCX_POLY[12] + t4 * h0;
    h0 = FM_ERFCX_POLY[8] + t4 * h0;
    h0 = FM_ERFCX_POLY[4] + t4 * h0;
    h0 = FM_ERFCX_POLY[0] + t4 * h0;
    double h1 = FM_ERFCX_POLY[25];
    h1 = FM_ERFCX_POLY[21] + t4 * h1;
    h1 = FM_ERFCX_POLY[17] + t4 * h1;
    h1 = FM_ERFCX_POLY[13] + t4 * h1;
    h1 = FM_ERFCX_POLY[9] + t4 * h1;
    h1 = FM_ERFCX_POLY[5] + t4 * h1;
    h1 = FM_ERFCX_POLY[1] + t4 * h1;
    double h2 = FM_ERFCX_POLY[22];
    h2 = FM_ERFCX_POLY[18] + t4 * h2;
    h2 = FM_ERFCX_POLY[14] + t4 * h2;
    h2 = FM_ERFCX_POLY[10] + t4 * h2;
    h2 = FM_ERFCX_POLY[6] + t4 * h2;
    h2 = FM_ERFCX_POLY[2] + t4 * h2;
    double h3 = FM_ERFCX_POLY[23];
    h3 = FM_ERFCX_POLY[19] + t4 * h3;
    h3 = FM_ERFCX_POLY[15] + t4 * h3;
    h3 = FM_ERFCX_POLY[11] + t4 * h3;
    h3 = FM_ERFCX_POLY[7] + t4 * h3;
    h3 = FM_ERFCX_POLY[3] + t4 * h3;
    double h = (h0 + t * h1) + t2 * (h2 + t * h3);
    double far = copysign(1.0 - fm_vexp_d(-(a * a)) * (s * h), x);
    return a <= 1.0 ? near : far;
}

/* out[:n] <- fn(x), compiled as the rows' loops are (FMA in the AVX2 copy): for the tests */
#define FM_VMATH_LOOP(fn)                                                                      \
    static FM_ALWAYS_INLINE void fn##_loop_body(const double *restrict x, double *restrict out, size_t n) { \
        for (size_t j = 0; j < n; j++) out[j] = fn(x[j]);                                      \
    }                                                                                          \
    FM_MULTIVERSION_FMA(fn##_loop, (const double *restrict x, double *restrict out, size_t n), (x, out, n))
FM_VMATH_LOOP(fm_vexp_d)
FM_VMATH_LOOP(fm_vexpm1_d)
FM_VMATH_LOOP(fm_vlog1p_d)
FM_VMATH_LOOP(fm_vtanh_d)
FM_VMATH_LOOP(fm_verf_d)

/* ------------------------------------------------------------------------------------------
 * Segment loops around exp, one per float type, multiversioned (FM_MULTIVERSION). Kept out of
 * line on purpose: inlined into Cython's row loops gcc left them scalar, far behind Numba
 * (benches/NOTES.md, 'Measurements behind code comments': FM_SEGMENTS).
 * ------------------------------------------------------------------------------------------ */
#define FM_SEGMENTS(T, S)                                                                      \
    /* out[:n] <- e^(src - shift), shift = max(src) (softmax) */                              \
    static FM_ALWAYS_INLINE void fm_exp_shift_##S##_body(const T *restrict src, T shift,       \
                                                          T *restrict out, size_t n) {        \
        for (size_t j = 0; j < n; j++)                                                         \
            out[j] = fm_exp_neg_##S(src[j] - shift);                                           \
    }                                                                                          \
    FM_MULTIVERSION_FMA(fm_exp_shift_##S, (const T *restrict src, T shift, T *restrict out, size_t n), \
                    (src, shift, out, n))                                                      \
    /* z[:n] <- sigmoid(z + b) = 1 / (1 + e^-x) via e^-|x| (the reference's overflow-free form) */ \
    static FM_ALWAYS_INLINE void fm_sigmoid_bias_##S##_body(T *restrict z, const T *restrict b,   \
                                                             size_t n) {                       \
        for (size_t j = 0; j < n; j++) {                                                       \
            T x = z[j] + b[j];                                                                 \
            T e = fm_exp_neg_##S(x < 0 ? x : -x);                                              \
            T pos = (T)1 / ((T)1 + e), neg = e / ((T)1 + e);                                   \
            z[j] = x >= 0 ? pos : neg;                                                         \
        }                                                                                      \
    }                                                                                          \
    FM_MULTIVERSION_FMA(fm_sigmoid_bias_##S, (T *restrict z, const T *restrict b, size_t n), (z, b, n)) \
    /* z[:n] <- tanh(z + b) = -m / (m + 2), m = expm1(-2|x|): no overflow, no cancellation */   \
    static FM_ALWAYS_INLINE void fm_tanh_bias_##S##_body(T *restrict z, const T *restrict b,      \
                                                          size_t n) {                          \
        for (size_t j = 0; j < n; j++) {                                                       \
            T x = z[j] + b[j];                                                                 \
            T ax = x < 0 ? -x : x;                                                             \
            T m = fm_expm1_neg_##S(-(ax + ax));                                                \
            T t = -m / (m + (T)2);                                                             \
            z[j] = x < 0 ? -t : t;                                                             \
        }                                                                                      \
    }                                                                                          \
    FM_MULTIVERSION_FMA(fm_tanh_bias_##S, (T *restrict z, const T *restrict b, size_t n), (z, b, n))

FM_SEGMENTS(float, f)
FM_SEGMENTS(double, d)

/* ------------------------------------------------------------------------------------------
 * Row reductions for the losses. Eight running maxima / sums in a fixed order: the compiler turns
 * them into SIMD lanes (a single chain is ~1 cycle per element), and the association order is
 * the same on every CPU. Sums of float rows accumulate in float64.
 * ------------------------------------------------------------------------------------------ */
#define FM_REDUCTIONS(T, S)                                                                    \
    /* max of x[:n] (n >= 1); a NaN after x[0] is skipped, as in the Numba backend */          \
    static FM_ALWAYS_INLINE T fm_max_##S##_body(const T *restrict x, size_t n) {               \
        T m[8];                                                                                \
        size_t j = 0;                                                                          \
        for (int k = 0; k < 8; k++) m[k] = x[0];                                               \
        for (; j + 8 <= n; j += 8)                                                             \
            for (int k = 0; k < 8; k++) m[k] = x[j + k] > m[k] ? x[j + k] : m[k];              \
        for (; j < n; j++) m[0] = x[j] > m[0] ? x[j] : m[0];                                   \
        for (int k = 1; k < 8; k++) m[0] = m[k] > m[0] ? m[k] : m[0];                          \
        return m[0];                                                                           \
    }                                                                                          \
    FM_MULTIVERSION_RET(T, fm_max_##S, (const T *restrict x, size_t n), (x, n))                \
    /* sum of x[:n] in float64 */                                                              \
    static FM_ALWAYS_INLINE double fm_sum_##S##_body(const T *restrict x, size_t n) {          \
        double t[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                \
        size_t j = 0;                                                                          \
        for (; j + 8 <= n; j += 8)                                                             \
            for (int k = 0; k < 8; k++) t[k] += (double)x[j + k];                              \
        for (; j < n; j++) t[0] += (double)x[j];                                               \
        return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));              \
    }                                                                                          \
    FM_MULTIVERSION_RET(double, fm_sum_##S, (const T *restrict x, size_t n), (x, n))                \
    /* sum of squares of x[:n] in float64 (the squared hinge) */                                 \
    static FM_ALWAYS_INLINE double fm_sumsq_##S##_body(const T *restrict x, size_t n) {         \
        double t[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                                \
        size_t j = 0;                                                                          \
        for (; j + 8 <= n; j += 8)                                                             \
            for (int k = 0; k < 8; k++) t[k] += (double)x[j + k] * (double)x[j + k];           \
        for (; j < n; j++) t[0] += (double)x[j] * (double)x[j];                                \
        return ((t[0] + t[1]) + (t[2] + t[3])) + ((t[4] + t[5]) + (t[6] + t[7]));              \
    }                                                                                          \
    FM_MULTIVERSION_RET(double, fm_sumsq_##S, (const T *restrict x, size_t n), (x, n))         \
    /* x[:n] <- x * k, the product in float64 rounded once (softmax's 1 / (Σ e · N)) */          \
    static FM_ALWAYS_INLINE void fm_scale_##S##_body(T *restrict x, double k, size_t n) {       \
        for (size_t j = 0; j < n; j++) x[j] = (T)((double)x[j] * k);                           \
    }                                                                                          \
    FM_MULTIVERSION(fm_scale_##S, (T *restrict x, double k, size_t n), (x, k, n))                \
    /* x[:n] <- x / d (a division, as the reference's gradient / N: divps is what AVX2 doubles) */ \
    static FM_ALWAYS_INLINE void fm_div_##S##_body(T *restrict x, T d, size_t n) {              \
        for (size_t j = 0; j < n; j++) x[j] = x[j] / d;                                        \
    }                                                                                          \
    FM_MULTIVERSION(fm_div_##S, (T *restrict x, T d, size_t n), (x, d, n))

FM_REDUCTIONS(float, f)
FM_REDUCTIONS(double, d)

/* ------------------------------------------------------------------------------------------
 * Optimizer updates, in place, one fused pass (kernels/cython/optim.pyx documents the codes).
 * Same formulas and operation order as kernels/reference/optim.py with every scalar already in
 * the array dtype, so float32 results round like the reference. h = (wd, lr, h1 .. h6, eps).
 * Multiversioned: adam's two divisions and square root per element are what AVX2 doubles.
 * ------------------------------------------------------------------------------------------ */
enum { FM_SGD, FM_MOMENTUM, FM_NESTEROV, FM_ADAM, FM_RMSPROP, FM_ADAGRAD };

#define FM_UPDATES(T, S, SQRT)                                                                 \
    static FM_ALWAYS_INLINE void fm_update_##S##_body(int code, T *restrict w, const T *restrict dw, \
                                                       T *restrict s1, T *restrict s2, int use_wd, \
                                                       const T *h, size_t n) {                  \
        const T wd = h[0], lr = h[1], h1 = h[2], h2 = h[3], h3 = h[4], h4 = h[5], h5 = h[6];    \
        const T h6 = h[7], eps = h[8];                                                         \
        size_t j;                                                                              \
        if (code == FM_SGD) {                                                                  \
            for (j = 0; j < n; j++) {                                                          \
                T g = use_wd ? dw[j] + wd * w[j] : dw[j];                                      \
                w[j] = w[j] - lr * g;                                                          \
            }                                                                                  \
        } else if (code == FM_MOMENTUM) {                                                      \
            for (j = 0; j < n; j++) {                                                          \
                T g = use_wd ? dw[j] + wd * w[j] : dw[j];                                      \
                T v = s1[j] * h1 - lr * g;                                                     \
                s1[j] = v;                                                                     \
                w[j] = w[j] + v;                                                               \
            }                                                                                  \
        } else if (code == FM_NESTEROV) { /* h2 = -mu, h3 = 1 + mu */                          \
            for (j = 0; j < n; j++) {                                                          \
                T g = use_wd ? dw[j] + wd * w[j] : dw[j];                                      \
                T p = s1[j], v = p * h1 - lr * g;                                              \
                s1[j] = v;                                                                     \
                w[j] = w[j] + (h2 * p + h3 * v);                                               \
            }                                                                                  \
        } else if (code == FM_ADAM) { /* h3 = 1 - b1, h4 = 1 - b2, h5/h6 the bias corrections */ \
            for (j = 0; j < n; j++) {                                                          \
                T g = use_wd ? dw[j] + wd * w[j] : dw[j];                                      \
                T m = s1[j] * h1 + h3 * g, v = s2[j] * h2 + h4 * (g * g);                      \
                s1[j] = m;                                                                     \
                s2[j] = v;                                                                     \
                w[j] = w[j] - lr * (m / h5) / (SQRT(v / h6) + eps);                            \
            }                                                                                  \
        } else if (code == FM_RMSPROP) { /* h2 = 1 - rho */                                    \
            for (j = 0; j < n; j++) {                                                          \
                T g = use_wd ? dw[j] + wd * w[j] : dw[j];                                      \
                T v = s1[j] * h1 + h2 * (g * g);                                               \
                s1[j] = v;                                                                     \
                w[j] = w[j] - lr * g / (SQRT(v) + eps);                                        \
            }                                                                                  \
        } else { /* FM_ADAGRAD */                                                              \
            for (j = 0; j < n; j++) {                                                          \
                T g = use_wd ? dw[j] + wd * w[j] : dw[j];                                      \
                T v = s1[j] + g * g;                                                           \
                s1[j] = v;                                                                     \
                w[j] = w[j] - lr * g / (SQRT(v) + eps);                                        \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    FM_MULTIVERSION(fm_update_##S, (int code, T *restrict w, const T *restrict dw, T *restrict s1, \
                                    T *restrict s2, int use_wd, const T *h, size_t n),          \
                    (code, w, dw, s1, s2, use_wd, h, n))

FM_UPDATES(float, f, sqrtf)
FM_UPDATES(double, d, sqrt)

/* ------------------------------------------------------------------------------------------
 * ReLU family (kernels/cython/activations.pyx). Formulas and NaN behaviour follow
 * kernels/reference/activations.py: u < 0 ? 0 : u lets NaN through as np.maximum does. Every arm
 * of a select is computed first: gcc does not if-convert a load or a multiply hidden in one arm.
 * ------------------------------------------------------------------------------------------ */
enum { FM_RELU_FWD, FM_RELU_BWD, FM_LEAKY_FWD, FM_LEAKY_BWD };

#define FM_ACTIVATIONS(T, S)                                                                   \
    /* out[:n] <- op(a, b): relu(a), a where b > 0, leaky(a), a or alpha a by the sign of b */  \
    static FM_ALWAYS_INLINE void fm_pointwise_##S##_body(int code, const T *restrict a,        \
                                                          const T *restrict b, T *restrict out, \
                                                          T alpha, size_t n) {                 \
        size_t j;                                                                              \
        if (code == FM_RELU_FWD) {                                                             \
            for (j = 0; j < n; j++) { T u = a[j]; out[j] = u < 0 ? (T)0 : u; }                 \
        } else if (code == FM_RELU_BWD) {                                                      \
            for (j = 0; j < n; j++) { T u = a[j], v = b[j]; out[j] = v > 0 ? u : (T)0; }       \
        } else if (code == FM_LEAKY_FWD) {                                                     \
            for (j = 0; j < n; j++) { T u = a[j], p = u * alpha; out[j] = u >= 0 ? u : p; }    \
        } else {                                                                               \
            for (j = 0; j < n; j++) {                                                          \
                T u = a[j], v = b[j], p = u * alpha;                                           \
                out[j] = v >= 0 ? u : p;                                                       \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    FM_MULTIVERSION(fm_pointwise_##S, (int code, const T *restrict a, const T *restrict b,     \
                                       T *restrict out, T alpha, size_t n),                    \
                    (code, a, b, out, alpha, n))                                               \
    /* PReLU over rows of (rows, m): forward (dy NULL) out = x or alpha x; backward out = dy or   \
     * alpha dy, and acc (m,) float64 += Σ_rows dy x over the negative part. Two loops per row: \
     * fused, gcc leaves the loop scalar. */                                                   \
    static FM_ALWAYS_INLINE void fm_prelu_rows_##S##_body(const T *restrict x, const T *restrict dy, \
                                                           const T *restrict alpha, T *restrict out, \
                                                           double *restrict acc, size_t m, size_t rows) { \
        for (size_t i = 0; i < rows; i++) {                                                    \
            const T *xr = x + i * m;                                                           \
            T *orow = out + i * m;                                                             \
            if (dy == NULL) {                                                                  \
                for (size_t j = 0; j < m; j++) {                                               \
                    T u = xr[j], p = u * alpha[j];                                             \
                    orow[j] = u >= 0 ? u : p;                                                  \
                }                                                                              \
                continue;                                                                      \
            }                                                                                  \
            const T *dr = dy + i * m;                                                          \
            for (size_t j = 0; j < m; j++) {                                                   \
                T u = xr[j], v = dr[j], p = v * alpha[j];                                      \
                orow[j] = u < 0 ? p : v;                                                       \
            }                                                                                  \
            for (size_t j = 0; j < m; j++) {                                                   \
                T u = xr[j], q = dr[j] * u;                                                    \
                acc[j] += u < 0 ? (double)q : 0.0;                                             \
            }                                                                                  \
        }                                                                                      \
    }                                                                                          \
    FM_MULTIVERSION(fm_prelu_rows_##S, (const T *restrict x, const T *restrict dy,             \
                                        const T *restrict alpha, T *restrict out,              \
                                        double *restrict acc, size_t m, size_t rows),          \
                    (x, dy, alpha, out, acc, m, rows))

FM_ACTIVATIONS(float, f)
FM_ACTIVATIONS(double, d)

#endif
