"""Regenerate the coefficients of kernels/numba_cpu/_vector_math.py's erf.

For |x| <= 1, erf(x) = x P(x^2) with P's Taylor coefficients 2/sqrt(pi) (-1)^n / (n! (2n + 1)),
n <= 18 (the next term is below 4e-18). For 1 < |x| < 6, erf(x) = 1 - e^(-x^2) erfcx(x), and
h(s) = erfcx(1/s) / s is smooth on s = 1/|x| in [1/6, 1]: its Chebyshev series on that
interval falls below 1e-17 by degree 25.
That series, interpolated at Chebyshev nodes by mpmath at 40 digits, is printed as a polynomial
in t = (2s - 7/6) / (5/6) in [-1, 1] (ERFCX_POLY): the sum of its coefficients' magnitudes is 0.58
against h >= 0.43, so the monomial form loses nothing and can be evaluated with short
dependency chains. Run: ``pip install mpmath; python benches/erf_coefficients.py``
and paste the printed tuples over ``ERF_TAYLOR`` and ``ERFCX_POLY``.
"""

import mpmath as mp

TAYLOR_TERMS = 19
DEGREE = 25
NODES = 60  # more nodes than the degree: the series' tail beyond it is below 1e-20
LO, HI = mp.mpf(1) / 6, mp.mpf(1)


def h(s):
    x = 1 / s
    return mp.exp(x * x) * mp.erfc(x) / s


def taylor():
    mp.mp.dps = 40
    return [2 / mp.sqrt(mp.pi) * (-1) ** n / (mp.factorial(n) * (2 * n + 1)) for n in range(TAYLOR_TERMS)]


def coefficients():
    mp.mp.dps = 40
    nodes = [mp.cos(mp.pi * (k + mp.mpf(1) / 2) / NODES) for k in range(NODES)]
    values = [h((HI - LO) / 2 * t + (HI + LO) / 2) for t in nodes]
    out = []
    for j in range(DEGREE + 1):
        total = sum(v * mp.cos(mp.pi * j * (k + mp.mpf(1) / 2) / NODES) for k, v in enumerate(values))
        out.append(2 * total / NODES / (2 if j == 0 else 1))
    return out


def monomial(cheb):
    """The coefficients of t^0 ... t^n of sum c_k T_k(t), exactly (T_k by its recurrence)."""
    prev2, prev = [mp.mpf(1)], [mp.mpf(0), mp.mpf(1)]
    out = [mp.mpf(0)] * len(cheb)
    for k, c in enumerate(cheb):
        if k == 0:
            t_k = prev2
        elif k == 1:
            t_k = prev
        else:
            t_k = [mp.mpf(0)] * (k + 1)
            for i, v in enumerate(prev):
                t_k[i + 1] += 2 * v
            for i, v in enumerate(prev2):
                t_k[i] -= v
            prev2, prev = prev, t_k
        for i, v in enumerate(t_k):
            out[i] += c * v
    return out


if __name__ == "__main__":
    print("ERF_TAYLOR = (")
    for c in taylor():
        print(f"    {float(c)!r},")
    print(")")
    print("ERFCX_POLY = (")
    for c in monomial(coefficients()):
        print(f"    {float(c)!r},")
    print(")")
