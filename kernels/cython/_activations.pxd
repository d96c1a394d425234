# The activation table (kernels/activation_table.py) in C: _activations.h, which setup.py
# regenerates with _ctable.py before every build, so the kernels run the table's own formulas.
# Codes are the table's positions; only the rows the kernels name in hand-written loops are
# declared here, every other row is reached through its code.

from libc.stddef cimport size_t

cdef extern from "_activations.h" nogil:
    const char *FM_ACT_FINGERPRINT  # a digest of the header: ties a build to the table it came from
    enum:
        FM_ACT_COUNT
        FM_ACT_IDENTITY
        FM_ACT_RELU
        FM_ACT_LEAKY_RELU
        FM_ACT_SIGMOID
        FM_ACT_TANH
    const char FM_ACT_FROM_OUTPUT[]  # 1 where f' is exact from the output a = f(z)
    # each row's loops (AVX2 and baseline copies), chosen by code once per call: fwd out <- f(x);
    # fwd_bias z <- f(z + b) in place; bwd out <- dy f'(x); bwd_out out <- dy f'(a), a = f(z)
    void fm_act_fwd_f(int code, const float *x, float *out, double alpha, size_t n)
    void fm_act_fwd_d(int code, const double *x, double *out, double alpha, size_t n)
    void fm_act_fwd_bias_f(int code, float *z, const float *b, double alpha, size_t n)
    void fm_act_fwd_bias_d(int code, double *z, const double *b, double alpha, size_t n)
    void fm_act_bwd_f(int code, const float *dy, const float *x, float *out, double alpha, size_t n)
    void fm_act_bwd_d(int code, const double *dy, const double *x, double *out, double alpha, size_t n)
    void fm_act_bwd_out_f(int code, const float *dy, const float *a, float *out, double alpha, size_t n)
    void fm_act_bwd_out_d(int code, const double *dy, const double *a, double *out, double alpha, size_t n)
    # loops over the vector math the rows run on (_vecmath.h), for the tests
    void fm_vexp_d_loop(const double *x, double *out, size_t n)
    void fm_vexpm1_d_loop(const double *x, double *out, size_t n)
    void fm_vlog1p_d_loop(const double *x, double *out, size_t n)
    void fm_vtanh_d_loop(const double *x, double *out, size_t n)
    void fm_verf_d_loop(const double *x, double *out, size_t n)
