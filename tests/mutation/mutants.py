"""Typical kernel bugs, planted one at a time by ``plant_bugs.py``.

Each mutant replaces one exact snippet (found exactly once, with enough context to be unique) in
one source file. ``PLANTED`` are the bugs issue 26 planted by hand while the suite stayed green;
``TYPICAL`` adds the usual ways a chunked kernel goes wrong — off-by-one chunk bounds, dropped
chunks, chunk-relative offsets, partials written to the wrong slot, a misplaced eps — in every
chunked kernel of both compiled backends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str  # relative to the repository root
    old: str
    new: str
    backend: str  # "numba" or "cython": selects the tests to run
    rebuild: tuple[str, ...] = ()  # cython modules to rebuild (default: the .pyx itself)
    nth: int | None = None  # which occurrence of ``old`` to replace; None: it must be unique


NUMBA_DENSE = "kernels/numba_cpu/dense.py"
NUMBA_LOSSES = "kernels/numba_cpu/losses.py"

PLANTED: tuple[Mutant, ...] = (
    Mutant(
        "cython softmax-CE drops the first chunk's loss",
        "kernels/cython/losses.pyx",
        "partial[c] = _softmax_rows(scores, y, d, lo, hi)",
        "partial[c] = _softmax_rows(scores, y, d, lo, hi) if c > 0 else 0",
        "cython",
    ),
    Mutant(
        "numba dense backward drops the first chunk of the bias gradient",
        "kernels/numba_cpu/_rowops.py",
        "np.add.reduce(partial, axis=0,",
        "np.add.reduce(partial[1:], axis=0,",
        "numba",
    ),
    Mutant(
        "numba chunked dense forward: mask offset relative to the chunk",
        NUMBA_DENSE,
        "if masked:\n            off = fill_words(words, stage, s, ln, stream, k0, k1)\n"
        "            w = words[off : off + ln]\n            for j in range(ln):\n                seg[j]",
        "if masked:\n            off = fill_words(words, stage, s - lo * m, ln, stream, k0, k1)\n"
        "            w = words[off : off + ln]\n            for j in range(ln):\n                seg[j]",
        "numba",
    ),
    Mutant(
        "numba Adam (all updates) skips the last element of each chunk",
        "kernels/numba_cpu/optim.py",
        "        _update(code, w, dw, s1, s2, wd, lr, h1, h2, h3, h4, h5, h6, eps, lo, hi)",
        "        _update(code, w, dw, s1, s2, wd, lr, h1, h2, h3, h4, h5, h6, eps, lo, hi - 1)",
        "numba",
    ),
    Mutant(
        "cython Adam: eps inside the square root",
        "kernels/cython/_vecmath.h",
        "w[j] = w[j] - lr * (m / h5) / (SQRT(v / h6) + eps);",
        "w[j] = w[j] - lr * (m / h5) / SQRT(v / h6 + eps);",
        "cython",
        rebuild=("optim",),
    ),
    Mutant(
        "numba softmax: 1e-8 inside the log",
        NUMBA_LOSSES,
        "loss += math.log(tot) - float(row[yi] - mx)",
        "loss -= math.log(e_y / tot + 1e-8)",
        "numba",
    ),
)

TYPICAL: tuple[Mutant, ...] = (
    # ---- numba ----------------------------------------------------------------------------
    Mutant(
        "numba span(): chunks start one element late",
        "kernels/numba_cpu/_common.py",
        "lo = min(n, c * per)\n",
        "lo = min(n, c * per + (1 if c else 0))\n",
        "numba",
    ),
    Mutant(
        "numba bias add: last row of each chunk skipped",
        "kernels/numba_cpu/_rowops.py",
        "        _bias_rows(y, b, lo, hi)",
        "        _bias_rows(y, b, lo, hi - 1)",
        "numba",
    ),
    Mutant(
        "numba column sums: every chunk into partial row 0",
        "kernels/numba_cpu/_rowops.py",
        "_colsum_rows(a, partial[c], lo, hi)",
        "_colsum_rows(a, partial[0], lo, hi)",
        "numba",
    ),
    Mutant(
        "numba elementwise activations: first 64 elements of each chunk skipped",
        "kernels/numba_cpu/activations.py",
        "act_segment(code, x[lo:hi], out[lo:hi], alpha)",
        "act_segment(code, x[lo + 64 : hi], out[lo + 64 : hi], alpha)",
        "numba",
    ),
    Mutant(
        "numba activation backward: last chunk dropped",
        "kernels/numba_cpu/activations.py",
        "    for c in prange(nch):\n        lo, hi = span(c, n, nch, 64)\n        _binary_segment(",
        "    for c in prange(nch - 1):\n        lo, hi = span(c, n, nch, 64)\n        _binary_segment(",
        "numba",
    ),
    Mutant(
        "numba PReLU backward: chunks 2k and 2k+1 share one partial row",
        "kernels/numba_cpu/activations.py",
        "_prelu_rows(dy, x, alpha, out, partial[c], lo, hi)",
        "_prelu_rows(dy, x, alpha, out, partial[c // 2], lo, hi)",
        "numba",
    ),
    Mutant(
        "numba maxout forward: last row of each chunk skipped",
        "kernels/numba_cpu/activations.py",
        "        _maxout_rows(z, k, y, idx, lo, hi)",
        "        _maxout_rows(z, k, y, idx, lo, hi - 1)",
        "numba",
    ),
    Mutant(
        "numba maxout backward: first row of each chunk skipped",
        "kernels/numba_cpu/activations.py",
        "        _unmaxout_rows(dy, idx, k, dz, lo, hi)",
        "        _unmaxout_rows(dy, idx, k, dz, lo + 1, hi)",
        "numba",
    ),
    Mutant(
        "numba dead-ReLU scan: partials of every chunk into row 0",
        "kernels/numba_cpu/activations.py",
        "_fired_rows(h, partial[c], lo, hi)",
        "_fired_rows(h, partial[0], lo, hi)",
        "numba",
    ),
    Mutant(
        "numba dense forward: last row of each chunk skipped",
        NUMBA_DENSE,
        "stream, stages[c], words[c], lo, hi)",
        "stream, stages[c], words[c], lo, hi - 1)",
        "numba",
    ),
    Mutant(
        "numba dense backward: mask offset relative to the chunk",
        NUMBA_DENSE,
        "        if masked:\n            off = fill_words(words, stage, s, ln, stream, k0, k1)\n"
        "            w = words[off : off + ln]\n            g = tmp[0, :ln]",
        "        if masked:\n            off = fill_words(words, stage, s - lo * m, ln, stream, k0, k1)\n"
        "            w = words[off : off + ln]\n            g = tmp[0, :ln]",
        "numba",
    ),
    Mutant(
        "numba dropout: last element of each chunk left unwritten",
        "kernels/numba_cpu/dropout.py",
        "_mask_range(x, out, keep_prob, thr, k0, k1, stream, stages[c], words[c], lo, hi)",
        "_mask_range(x, out, keep_prob, thr, k0, k1, stream, stages[c], words[c], lo, hi - 1)",
        "numba",
    ),
    Mutant(
        "numba random bits: words offset by the chunk start",
        "kernels/numba_cpu/rng.py",
        "_bits_range(out, k0, k1, stream, stages[c], words[c], lo, hi)",
        "_bits_range(out, k0, k1, stream, stages[c], words[c], lo - lo % 4096, hi - lo % 4096)",
        "numba",
    ),
    Mutant(
        "numba softmax: first chunk's loss dropped",
        NUMBA_LOSSES,
        "partial[c] = _softmax_rows(scores, y, d, n, lo, hi)",
        "partial[c] = _softmax_rows(scores, y, d, n, lo, hi) if c > 0 else 0.0",
        "numba",
    ),
    Mutant(
        "numba SVM loss: last row of each chunk skipped",
        NUMBA_LOSSES,
        "partial[c] = _svm_rows(scores, y, d, margin, squared, n, lo, hi)",
        "partial[c] = _svm_rows(scores, y, d, margin, squared, n, lo, hi - 1)",
        "numba",
    ),
    Mutant(
        "numba pointwise losses: chunk partials overwrite slot 0",
        NUMBA_LOSSES,
        "partial[c] = _pointwise(code, f, t, d, n, lo, hi)",
        "partial[0] = _pointwise(code, f, t, d, n, lo, hi)",
        "numba",
    ),
    Mutant(
        "numba batch-norm statistics: last chunk's rows left out",
        "kernels/numba_cpu/norm.py",
        "_stats_rows(x, means[c], m2s[c], lo, hi)",
        "_stats_rows(x, means[c], m2s[c], lo, hi if c < nch - 1 else lo)",
        "numba",
    ),
    Mutant(
        "numba batch-norm apply: first row of each chunk skipped",
        "kernels/numba_cpu/norm.py",
        "        _apply_rows(x, mean, inv_std, gamma, beta, y, lo, hi)",
        "        _apply_rows(x, mean, inv_std, gamma, beta, y, lo + 1, hi)",
        "numba",
    ),
    Mutant(
        "numba batch-norm backward sums: chunks 2k and 2k+1 share one partial row",
        "kernels/numba_cpu/norm.py",
        "_grad_sums_rows(dy, x, mean, inv_std, gamma, partial[c], lo, hi)",
        "_grad_sums_rows(dy, x, mean, inv_std, gamma, partial[c // 2], lo, hi)",
        "numba",
    ),
    Mutant(
        "numba max-norm: row norms of the last row of each chunk skipped",
        "kernels/numba_cpu/optim.py",
        "_sumsq_rows(w, partial[c], lo, hi)",
        "_sumsq_rows(w, partial[c], lo, hi - 1)",
        "numba",
    ),
    Mutant(
        "numba Adam: eps inside the square root",
        "kernels/numba_cpu/optim.py",
        "ws[j] = ws[j] - lr * (m / h5) / (np.sqrt(v / h6) + eps)",
        "ws[j] = ws[j] - lr * (m / h5) / np.sqrt(v / h6 + eps)",
        "numba",
    ),
    Mutant(
        "numba covariance centring: last row of each chunk skipped",
        "kernels/numba_cpu/whiten.py",
        "        _centre_rows(x, mean, xc, lo, hi)",
        "        _centre_rows(x, mean, xc, lo, hi - 1)",
        "numba",
    ),
    # ---- cython ---------------------------------------------------------------------------
    Mutant(
        "cython chunk_len(): one element short",
        "kernels/cython/_common.pxd",
        "return ((n + nch - 1) // nch + align - 1) // align * align",
        "return ((n + nch - 1) // nch + align - 1) // align * align - 1",
        "cython",
        rebuild=("activations", "dense", "dropout", "losses", "optim", "rng", "whiten"),
    ),
    Mutant(
        "cython combine(): second chunk's partials dropped",
        "kernels/cython/_common.pxd",
        "for c in range(1, nch):\n            t += partial[c * m + j]",
        "for c in range(2, nch):\n            t += partial[c * m + j]",
        "cython",
        rebuild=("activations", "dense"),
    ),
    Mutant(
        "cython elementwise activations: last element of each chunk skipped",
        "kernels/cython/activations.pyx",
        "_pointwise_range(code, &a[0], bp, &out[0], alpha, lo, min(n, lo + per))",
        "_pointwise_range(code, &a[0], bp, &out[0], alpha, lo, min(n, lo + per - 1))",
        "cython",
    ),
    Mutant(
        "cython PReLU: partials of every chunk into row 0",
        "kernels/cython/activations.pyx",
        "_prelu_rows(x, dp, alpha, out, &partial[c, 0], lo, min(n, lo + per))",
        "_prelu_rows(x, dp, alpha, out, &partial[0, 0], lo, min(n, lo + per))",
        "cython",
    ),
    Mutant(
        "cython dense forward: last row of each chunk skipped",
        "kernels/cython/dense.pyx",
        "_forward_rows(code, out, b, alpha, key, scale, lo, min(n, lo + per))",
        "_forward_rows(code, out, b, alpha, key, scale, lo, min(n, lo + per - 1))",
        "cython",
    ),
    Mutant(
        "cython dense backward: partials of chunk c into c - 1",
        "kernels/cython/dense.pyx",
        "&partial[c, 0], alpha, keep_prob, key, scale, lo, min(n, lo + per))",
        "&partial[c - 1 if c else 0, 0], alpha, keep_prob, key, scale, lo, min(n, lo + per))",
        "cython",
    ),
    Mutant(
        "cython dropout: first chunk skipped",
        "kernels/cython/dropout.pyx",
        "_mask_range(xp, &out[0], key, scale, lo, min(n, lo + per))",
        "_mask_range(xp, &out[0], key, scale, lo if c else n, min(n, lo + per))",
        "cython",
    ),
    Mutant(
        "cython random bits: last word of each chunk skipped",
        "kernels/cython/rng.pyx",
        "_bits_range(&out[0], lo, min(n, lo + per), stream, k0, k1)",
        "_bits_range(&out[0], lo, min(n, lo + per - 1), stream, k0, k1)",
        "cython",
    ),
    Mutant(
        "cython SVM loss: first chunk's loss dropped",
        "kernels/cython/losses.pyx",
        "partial[c] = _svm_rows(scores, y, d, margin, squared, lo, hi)",
        "partial[c] = _svm_rows(scores, y, d, margin, squared, lo, hi) if c > 0 else 0",
        "cython",
    ),
    Mutant(
        "cython updates: first element of each chunk skipped",
        "kernels/cython/optim.pyx",
        "_update_range(code, &w[0], &dw[0], a, b, use_wd, &h[0], lo, min(n, lo + per))",
        "_update_range(code, &w[0], &dw[0], a, b, use_wd, &h[0], lo + 1, min(n, lo + per))",
        "cython",
    ),
    Mutant(
        "cython RMSprop: eps inside the square root",
        "kernels/cython/_vecmath.h",
        "w[j] = w[j] - lr * g / (SQRT(v) + eps);",
        "w[j] = w[j] - lr * g / SQRT(v + eps);",
        "cython",
        rebuild=("optim",),
        nth=0,  # the first of two: RMSprop, then Adagrad
    ),
    Mutant(
        "cython covariance centring: last row of each chunk skipped",
        "kernels/cython/whiten.pyx",
        "_centre_rows(x, mean, xc, &partial[c, 0] if sums else NULL, lo, min(n, lo + per))",
        "_centre_rows(x, mean, xc, &partial[c, 0] if sums else NULL, lo, min(n, lo + per - 1))",
        "cython",
    ),
    Mutant(
        "cython covariance mirror: last tile row left out",
        "kernels/cython/whiten.pyx",
        "for c in prange(nt, schedule='static', num_threads=team(nt)):",
        "for c in prange(nt - 1, schedule='static', num_threads=team(nt)):",
        "cython",
    ),
)

MUTANTS = PLANTED + TYPICAL
