# Shared pieces of the Cython kernels: the C inlines (_philox.h, _vecmath.h: RNG, exp, reductions,
# optimizer loops, each with an AVX2 and a baseline copy picked at run time, see _simd.h), work
# splitting, the row-major GEMM and the dropout mask rule.
#
# Every op has a serial worker over a range of rows or elements and a driver that runs it
# directly on small inputs and over chunks in an OpenMP prange on large ones. The chunking depends
# on the size only, never on the thread count, so reductions (per-chunk float64 partials summed
# in chunk order) give the same bits on any thread count. Thresholds match kernels/numba_cpu.

cimport cython
from cython cimport floating
from libc.stddef cimport ptrdiff_t, size_t
from libc.stdint cimport int64_t, uint32_t, uint64_t
from scipy.linalg.cython_blas cimport dgemm, dgemv, sgemm, sgemv

cdef extern from "_fastmlp.h" nogil:
    enum:
        FM_SEG
        FM_WORDS
        FM_MIN_CHUNK  # kernels/cython/_chunks.h: work splitting, the same numbers as numba_cpu/_common.py
        FM_MAX_CHUNKS
    ptrdiff_t fm_min_chunk()
    void fm_set_min_chunk(ptrdiff_t n)
    int fm_max_threads()
    void fm_set_max_threads(int n)
    int fm_have_openmp()
    int fm_fill_words(uint32_t *words, int64_t e_lo, int64_t length, uint32_t stream, uint32_t k0, uint32_t k1)
    int fm_has_avx2()
    void fm_exp_shift_f(const float *src, float shift, float *out, size_t n)
    void fm_exp_shift_d(const double *src, double shift, double *out, size_t n)
    void fm_sigmoid_bias_f(float *z, const float *b, size_t n)
    void fm_sigmoid_bias_d(double *z, const double *b, size_t n)
    void fm_tanh_bias_f(float *z, const float *b, size_t n)
    void fm_tanh_bias_d(double *z, const double *b, size_t n)
    float fm_max_f(const float *x, size_t n)
    double fm_max_d(const double *x, size_t n)
    double fm_sum_f(const float *x, size_t n)
    double fm_sum_d(const double *x, size_t n)
    double fm_sumsq_f(const float *x, size_t n)
    double fm_sumsq_d(const double *x, size_t n)
    void fm_scale_f(float *x, double k, size_t n)
    void fm_scale_d(double *x, double k, size_t n)
    void fm_div_f(float *x, float d, size_t n)
    void fm_div_d(double *x, double d, size_t n)
    enum:
        FM_SGD
        FM_MOMENTUM
        FM_NESTEROV
        FM_ADAM
        FM_RMSPROP
        FM_ADAGRAD
    enum:
        FM_RELU_FWD
        FM_RELU_BWD
        FM_LEAKY_FWD
        FM_LEAKY_BWD
    void fm_pointwise_f(int code, const float *a, const float *b, float *out, float alpha, size_t n)
    void fm_pointwise_d(int code, const double *a, const double *b, double *out, double alpha, size_t n)
    void fm_prelu_rows_f(const float *x, const float *dy, const float *alpha, float *out, double *acc, size_t m,
                         size_t rows)
    void fm_prelu_rows_d(const double *x, const double *dy, const double *alpha, double *out, double *acc,
                         size_t m, size_t rows)
    void fm_update_f(int code, float *w, const float *dw, float *s1, float *s2, int use_wd, const float *h,
                     size_t n)
    void fm_update_d(int code, double *w, const double *dw, double *s1, double *s2, int use_wd, const double *h,
                     size_t n)


@cython.cdivision(True)
cdef inline Py_ssize_t n_chunks(Py_ssize_t n_items, Py_ssize_t per_item) noexcept nogil:
    """Chunks to split n_items rows (of per_item elements) into; 1 means run serially."""
    cdef Py_ssize_t per = fm_min_chunk() // per_item if per_item > 0 else fm_min_chunk()
    cdef Py_ssize_t nch
    if per < 1:
        per = 1
    nch = n_items // per
    if nch > FM_MAX_CHUNKS:
        nch = FM_MAX_CHUNKS
    return nch if nch > 1 else 1


@cython.cdivision(True)
cdef inline Py_ssize_t chunk_len(Py_ssize_t n, Py_ssize_t nch, Py_ssize_t align) noexcept nogil:
    """Items per chunk when n items go to nch chunks whose starts are multiples of align."""
    return ((n + nch - 1) // nch + align - 1) // align * align


cdef inline int team(Py_ssize_t nch) noexcept nogil:
    """OpenMP threads for nch chunks: the current limit (fastmlp.set_num_threads), at most nch."""
    cdef int t = fm_max_threads()
    return <int>nch if nch < t else t


cdef inline void exp_shift(const floating *src, floating shift, floating *out, Py_ssize_t n) noexcept nogil:
    """out[:n] <- e^(src - shift) for shift >= max(src) (vectorised C in _vecmath.h)."""
    if floating is float:
        fm_exp_shift_f(src, shift, out, n)
    else:
        fm_exp_shift_d(src, shift, out, n)


cdef inline floating row_max(const floating *x, Py_ssize_t n) noexcept nogil:
    """max of x[:n], n >= 1 (vectorised C in _vecmath.h)."""
    if floating is float:
        return fm_max_f(x, n)
    else:
        return fm_max_d(x, n)


cdef inline double row_sum(const floating *x, Py_ssize_t n) noexcept nogil:
    """Σ x[:n] in float64, fixed association order (vectorised C in _vecmath.h)."""
    if floating is float:
        return fm_sum_f(x, n)
    else:
        return fm_sum_d(x, n)


cdef inline double row_sumsq(const floating *x, Py_ssize_t n) noexcept nogil:
    """Σ x[:n]² in float64, fixed association order (vectorised C in _vecmath.h)."""
    if floating is float:
        return fm_sumsq_f(x, n)
    else:
        return fm_sumsq_d(x, n)


cdef inline void row_scale(floating *x, double k, Py_ssize_t n) noexcept nogil:
    """x[:n] <- x · k computed in float64, rounded once (vectorised C in _vecmath.h)."""
    if floating is float:
        fm_scale_f(x, k, n)
    else:
        fm_scale_d(x, k, n)


cdef inline void row_div(floating *x, floating d, Py_ssize_t n) noexcept nogil:
    """x[:n] <- x / d (vectorised C in _vecmath.h)."""
    if floating is float:
        fm_div_f(x, d, n)
    else:
        fm_div_d(x, d, n)


cdef inline void sigmoid_bias(floating *z, const floating *b, Py_ssize_t n) noexcept nogil:
    """z[:n] <- sigmoid(z + b), in place (vectorised C in _vecmath.h)."""
    if floating is float:
        fm_sigmoid_bias_f(z, b, n)
    else:
        fm_sigmoid_bias_d(z, b, n)


cdef inline void tanh_bias(floating *z, const floating *b, Py_ssize_t n) noexcept nogil:
    """z[:n] <- tanh(z + b), in place (vectorised C in _vecmath.h)."""
    if floating is float:
        fm_tanh_bias_f(z, b, n)
    else:
        fm_tanh_bias_d(z, b, n)


cdef inline void gemm(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                      const floating *a, int lda, const floating *b, int ldb, floating beta,
                      floating *c, int ldc) noexcept nogil:
    """Row-major C (m, n) = alpha op(A) op(B) + beta C through the column-major BLAS.

    A row-major matrix is its transpose in column-major order, so BLAS computes
    Cᵀ = op(B)ᵀ op(A)ᵀ: operands swapped, each keeping its own transpose flag. lda/ldb/ldc are
    row strides (elements). Callers guarantee m, n, k >= 1.
    """
    cdef char tb = b'T' if trans_a else b'N'
    cdef char ta = b'T' if trans_b else b'N'
    if n == 1 or m == 1:  # a matrix-vector product: gemv, as NumPy's matmul does (sgemm with a unit
        gemv_product(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)  # side: ~2x slower)
        return
    if floating is float:
        sgemm(&ta, &tb, &n, &m, &k, &alpha, <float *>b, &ldb, <float *>a, &lda, &beta, c, &ldc)
    else:
        dgemm(&ta, &tb, &n, &m, &k, &alpha, <double *>b, &ldb, <double *>a, &lda, &beta, c, &ldc)


cdef inline void gemv_product(bint trans_a, bint trans_b, int m, int n, int k, floating alpha,
                              const floating *a, int lda, const floating *b, int ldb, floating beta,
                              floating *c, int ldc) noexcept nogil:
    """gemm's row-major C (m, n) = alpha op(A) op(B) + beta C when n == 1 or m == 1, through gemv.

    A row-major (r, s) array is the column-major (s, r) one. n == 1: C's column y (stride ldc) =
    op(A) x, x = op(B)'s column; m == 1: C's row y = op(B)ᵀ x, x = op(A)'s row.
    """
    cdef char t
    cdef int rows, cols, ld, incx, incy
    cdef const floating *mat
    cdef const floating *x
    if n == 1:
        mat, ld, x, incy = a, lda, b, ldc
        incx = 1 if trans_b else ldb
        if trans_a:  # A stored (k, m): column-major (m, k) = op(A)
            t, rows, cols = b'N', m, k
        else:  # A stored (m, k): column-major (k, m) = op(A)ᵀ
            t, rows, cols = b'T', k, m
    else:
        mat, ld, x, incy = b, ldb, a, 1
        incx = lda if trans_a else 1
        if trans_b:  # B stored (n, k): column-major (k, n) = op(B)
            t, rows, cols = b'T', k, n
        else:  # B stored (k, n): column-major (n, k) = op(B)ᵀ
            t, rows, cols = b'N', n, k
    if floating is float:
        sgemv(&t, &rows, &cols, &alpha, <float *>mat, &ld, <float *>x, &incx, &beta, c, &incy)
    else:
        dgemv(&t, &rows, &cols, &alpha, <double *>mat, &ld, <double *>x, &incx, &beta, c, &incy)


cdef inline void colsum_rows(const floating *a, Py_ssize_t m, Py_ssize_t lo, Py_ssize_t hi,
                             double *acc) noexcept nogil:
    """acc (m,) float64 <- Σ over rows lo..hi-1 of a row-major (·, m)."""
    cdef Py_ssize_t i, j
    cdef const floating *row
    for j in range(m):
        acc[j] = 0.0
    for i in range(lo, hi):
        row = a + i * m
        for j in range(m):
            acc[j] += row[j]


cdef inline void combine(const double *partial, Py_ssize_t nch, Py_ssize_t m, floating *out) noexcept nogil:
    """out (m,) <- Σ_c partial[c] (nch, m), in chunk order, rounded once to out's dtype."""
    cdef Py_ssize_t c, j
    cdef double t
    for j in range(m):
        t = partial[j]
        for c in range(1, nch):
            t += partial[c * m + j]
        out[j] = <floating>t


# ---------------------------------------------------------------------------------------------
# Dropout masks (kernels/reference/dropout.py): element e is kept iff word e < keep_prob * 2^32
# (compared as integers), and a kept element is scaled by dtype(1) / dtype(keep_prob).
# ---------------------------------------------------------------------------------------------

ctypedef struct MaskKey:
    uint32_t k0        # seed, low 32 bits
    uint32_t k1        # seed, high 32 bits
    uint32_t stream
    uint32_t thr       # keep iff word < thr, unless all_kept
    bint all_kept      # keep_prob = 1: threshold 2^32, every word passes (no RNG needed)


cdef inline MaskKey mask_key(double keep_prob, uint64_t seed, uint32_t stream) noexcept nogil:
    """The RNG key and integer threshold of a mask (the reference's keep_threshold)."""
    cdef MaskKey key
    cdef uint64_t thr = <uint64_t>(keep_prob * 4294967296.0)  # exact: a power-of-2 scaling, truncated like int()
    key.k0 = <uint32_t>seed
    key.k1 = <uint32_t>(seed >> 32)
    key.stream = stream
    key.all_kept = thr >= 4294967296ULL
    key.thr = <uint32_t>thr if not key.all_kept else 0
    return key


cdef inline void mask_segment(const floating *x, floating *out, const uint32_t *w, Py_ssize_t n,
                              uint32_t thr, floating scale) noexcept nogil:
    """out[:n] <- x · mask (x NULL: the mask itself) from words w; out may be x."""
    cdef Py_ssize_t j
    cdef floating zero = 0
    if x == NULL:
        for j in range(n):
            out[j] = scale if w[j] < thr else zero
    else:
        for j in range(n):
            out[j] = x[j] * (scale if w[j] < thr else zero)
