# The activation table (kernels/activation_table.py) in C: _activations.h, which setup.py
# regenerates with _ctable.py before every build, so the kernels run the table's own formulas.
# Codes are the table's positions; only the rows the kernels name in hand-written loops are
# declared here, every other row is reached through its code.

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
    double fm_act_f(int code, double z, double alpha)
    double fm_act_df(int code, double z, double alpha)
    double fm_act_df_out(int code, double a, double alpha)
