"""Loop-level oracles for every reference op, written from SPEC.md's formulas (not from the reference).

Plain Python loops over rows and columns, ``math`` functions, float64 results. Slow on purpose:
use small inputs. Signatures follow ``fastmlp.kernels.reference`` except where noted (dense layers
take ``b`` in the backward pass and may take a ready ``mask``; losses accept any row count).
In-place ops mutate their arguments, as the reference does.
"""

from __future__ import annotations

import math

import numpy as np

# --------------------------------------------------------------------------------------------
# Philox-4x32-10 (Salmon, Moraes, Dror, Shaw, SC'11), scalar, with Python ints.
# --------------------------------------------------------------------------------------------
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9  # golden ratio
PHILOX_W1 = 0xBB67AE85  # sqrt(3) - 1
MASK32 = 0xFFFFFFFF
TWO32 = 1 << 32


def _mulhilo(a, b):
    product = a * b
    return product >> 32, product & MASK32


def philox4x32(ctr, key, rounds=10):
    """One Philox-4x32 block: ctr is 4 words, key 2 words; returns the 4 output words."""
    c0, c1, c2, c3 = (int(c) & MASK32 for c in ctr)
    k0, k1 = (int(k) & MASK32 for k in key)
    for r in range(rounds):
        if r > 0:  # Random123 bumps the key before every round but the first
            k0 = (k0 + PHILOX_W0) & MASK32
            k1 = (k1 + PHILOX_W1) & MASK32
        hi0, lo0 = _mulhilo(PHILOX_M0, c0)
        hi1, lo1 = _mulhilo(PHILOX_M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def _shape_tuple(shape):
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)


def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def random_words(size, seed, stream=0):
    """List of the first ``size`` words of (seed, stream): element e = word e%4 of block e//4."""
    key = (seed & MASK32, (seed >> 32) & MASK32)
    words = []
    block_words = None
    for e in range(size):
        block, word = divmod(e, 4)
        if word == 0:
            block_words = philox4x32((block & MASK32, block >> 32, stream, 0), key)
        words.append(block_words[word])
    return words


def random_bits(shape, seed, stream=0):
    """uint32 array of the given shape (flat C order)."""
    shape = _shape_tuple(shape)
    return np.array(random_words(_size(shape), seed, stream), dtype=np.uint32).reshape(shape)


def dropout_mask(shape, keep_prob, seed, stream=0, dtype=np.float64):
    """Inverted mask: kept iff word < min(int(p * 2^32), 2^32); kept value 1/p (in ``dtype``)."""
    shape = _shape_tuple(shape)
    threshold = min(int(keep_prob * TWO32), TWO32)
    dt = np.dtype(dtype).type
    scale = dt(1) / dt(keep_prob)
    out = np.zeros(_size(shape), dtype=dtype)
    for e, word in enumerate(random_words(_size(shape), seed, stream)):
        if word < threshold:
            out[e] = scale
    return out.reshape(shape)


# --------------------------------------------------------------------------------------------
# Elementwise activations (any shape).
# --------------------------------------------------------------------------------------------
def _map(fn, *arrays):
    arrays = [np.asarray(a, dtype=np.float64) for a in arrays]
    out = np.zeros(arrays[0].shape)
    for idx in np.ndindex(*arrays[0].shape):
        out[idx] = fn(*(float(a[idx]) for a in arrays))
    return out


def _sigmoid(x):
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)  # x < 0: e in (0, 1), no overflow
    return e / (1.0 + e)


def _softplus(u):
    """log(1 + e^u) without overflow."""
    return max(u, 0.0) + math.log1p(math.exp(-abs(u)))


def relu_forward(x):
    return _map(lambda v: v if v > 0 else 0.0, x)


def relu_backward(dy, y):
    return _map(lambda g, v: g if v > 0 else 0.0, dy, y)


def leaky_relu_forward(x, alpha=0.01):
    return _map(lambda v: v if v >= 0 else alpha * v, x)


def leaky_relu_backward(dy, x, alpha=0.01):
    return _map(lambda g, v: g if v >= 0 else alpha * g, dy, x)


def sigmoid_forward(x):
    return _map(_sigmoid, x)


def sigmoid_backward(dy, y):
    return _map(lambda g, s: g * s * (1.0 - s), dy, y)


def tanh_forward(x):
    return _map(math.tanh, x)


def tanh_backward(dy, y):
    return _map(lambda g, t: g * (1.0 - t * t), dy, y)


def prelu_forward(x, alpha):
    n, m = x.shape
    y = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            v = float(x[i, j])
            y[i, j] = v if v >= 0 else float(alpha[j]) * v
    return y


def prelu_backward(dy, x, alpha):
    n, m = x.shape
    dx = np.zeros((n, m))
    dalpha = np.zeros(m)
    for j in range(m):
        for i in range(n):
            v, g = float(x[i, j]), float(dy[i, j])
            if v < 0:
                dx[i, j] = float(alpha[j]) * g
                dalpha[j] += g * v
            else:
                dx[i, j] = g
    return dx, dalpha


def maxout_forward(z, k):
    n, mk = z.shape
    m = mk // k
    y = np.zeros((n, m))
    idx = np.zeros((n, m), dtype=np.int64)
    for i in range(n):
        for j in range(m):
            best_p, best = 0, float(z[i, j * k])
            for p in range(1, k):
                if float(z[i, j * k + p]) > best:  # strict: the first maximum wins ties
                    best_p, best = p, float(z[i, j * k + p])
            y[i, j], idx[i, j] = best, best_p
    return y, idx


def maxout_backward(dy, idx, k):
    n, m = dy.shape
    dz = np.zeros((n, m * k))
    for i in range(n):
        for j in range(m):
            dz[i, j * k + int(idx[i, j])] = float(dy[i, j])
    return dz


def dead_relu_fraction(h, fired=None):
    n, m = h.shape
    dead = 0
    for j in range(m):
        fires = any(float(h[i, j]) > 0 for i in range(n))
        if fired is not None:
            fires = fires or bool(fired[j])
            fired[j] = fires
        dead += not fires
    return dead / m if m else 0.0


# --------------------------------------------------------------------------------------------
# Dense layers.
# --------------------------------------------------------------------------------------------
ACTIVATIONS = {
    "identity": (lambda z, a: z, lambda z, a: 1.0),
    "relu": (lambda z, a: z if z > 0 else 0.0, lambda z, a: 1.0 if z > 0 else 0.0),
    "leaky_relu": (lambda z, a: z if z >= 0 else a * z, lambda z, a: 1.0 if z >= 0 else a),
    "sigmoid": (lambda z, a: _sigmoid(z), lambda z, a: _sigmoid(z) * (1.0 - _sigmoid(z))),
    "tanh": (lambda z, a: math.tanh(z), lambda z, a: 1.0 - math.tanh(z) ** 2),
}


def affine_forward(x, w, b):
    n, d = x.shape
    m = w.shape[1]
    y = np.zeros((n, m))
    for i in range(n):
        for j in range(m):
            s = float(b[j])
            for k in range(d):
                s += float(x[i, k]) * float(w[k, j])
            y[i, j] = s
    return y


def affine_backward(dy, x, w):
    n, d = x.shape
    m = w.shape[1]
    dx, dw, db = np.zeros((n, d)), np.zeros((d, m)), np.zeros(m)
    for i in range(n):
        for j in range(m):
            g = float(dy[i, j])
            db[j] += g
            for k in range(d):
                dx[i, k] += g * float(w[k, j])
                dw[k, j] += float(x[i, k]) * g
    return dx, dw, db


def _dense_mask(shape, keep_prob, seed, stream, mask):
    if mask is not None:
        return np.asarray(mask, dtype=np.float64)
    if keep_prob >= 1.0:
        return np.ones(shape)
    return dropout_mask(shape, keep_prob, seed, stream, np.float64)


def dense_forward(x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, mask=None):
    """f(x w + b) * mask; ``mask`` (N, M) if given, else the dropout mask of (keep_prob, seed, stream)."""
    f, _ = ACTIVATIONS[activation]
    z = affine_forward(x, w, b)
    mask = _dense_mask(z.shape, keep_prob, seed, stream, mask)
    out = np.zeros(z.shape)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            out[i, j] = f(z[i, j], alpha) * mask[i, j]
    return out


def dense_backward(dout, x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01, mask=None):
    """Takes ``b`` (not ``out``): f'(z) is evaluated at the recomputed pre-activation z."""
    _, fprime = ACTIVATIONS[activation]
    z = affine_forward(x, w, b)
    mask = _dense_mask(z.shape, keep_prob, seed, stream, mask)
    dz = np.zeros(z.shape)
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            dz[i, j] = float(dout[i, j]) * mask[i, j] * fprime(z[i, j], alpha)
    return affine_backward(dz, x, w)


# --------------------------------------------------------------------------------------------
# Dropout and DropConnect.
# --------------------------------------------------------------------------------------------
def dropout_forward(x, keep_prob, seed, stream=0):
    mask = dropout_mask(np.shape(x), keep_prob, seed, stream, np.float64)
    return _map(lambda v, k: v * k, x, mask)


def dropout_backward(dy, keep_prob, seed, stream=0):
    return dropout_forward(dy, keep_prob, seed, stream)


def dropconnect_forward(x, w, b, keep_prob, seed, stream=0):
    mask = dropout_mask(w.shape, keep_prob, seed, stream, np.float64)
    return affine_forward(x, _map(lambda v, k: v * k, w, mask), b)


def dropconnect_backward(dy, x, w, keep_prob, seed, stream=0):
    mask = dropout_mask(w.shape, keep_prob, seed, stream, np.float64)
    dx, dw_masked, db = affine_backward(dy, x, _map(lambda v, k: v * k, w, mask))
    return dx, _map(lambda g, k: g * k, dw_masked, mask), db


# --------------------------------------------------------------------------------------------
# Batch normalization (the staged computational graph of Ioffe & Szegedy, not the compact formula).
# --------------------------------------------------------------------------------------------
def batchnorm_forward(x, gamma, beta, running_mean, running_var, training=True, momentum=0.9, eps=1e-5):
    n, d = x.shape
    y, means, inv_stds = np.zeros((n, d)), np.zeros(d), np.zeros(d)
    for j in range(d):
        col = [float(x[i, j]) for i in range(n)]
        if training:
            mu = sum(col) / n
            var = sum((v - mu) ** 2 for v in col) / n  # biased
            running_mean[j] = momentum * running_mean[j] + (1 - momentum) * mu
            running_var[j] = momentum * running_var[j] + (1 - momentum) * var
        else:
            mu, var = float(running_mean[j]), float(running_var[j])
        inv_std = 1.0 / math.sqrt(var + eps)
        for i in range(n):
            y[i, j] = float(gamma[j]) * (col[i] - mu) * inv_std + float(beta[j])
        means[j], inv_stds[j] = mu, inv_std
    return y, means, inv_stds


def batchnorm_backward(dy, x, gamma, mean, inv_std, training=True):
    n, d = x.shape
    dx, dgamma, dbeta = np.zeros((n, d)), np.zeros(d), np.zeros(d)
    for j in range(d):
        mu, istd, g = float(mean[j]), float(inv_std[j]), float(gamma[j])
        xc = [float(x[i, j]) - mu for i in range(n)]
        dys = [float(dy[i, j]) for i in range(n)]
        dgamma[j] = sum(dys[i] * xc[i] * istd for i in range(n))
        dbeta[j] = sum(dys)
        dxhat = [dys[i] * g for i in range(n)]
        if not training:
            for i in range(n):
                dx[i, j] = dxhat[i] * istd
            continue
        # xhat = xc * (var + eps)^(-1/2); var = Σ xc² / n; xc = x − mu; mu = Σ x / n
        dvar = sum(dxhat[i] * xc[i] for i in range(n)) * -0.5 * istd**3
        dmu = -istd * sum(dxhat) + dvar * (-2.0 / n) * sum(xc)
        for i in range(n):
            dx[i, j] = dxhat[i] * istd + dvar * 2.0 * xc[i] / n + dmu / n
    return dx, dgamma, dbeta


# --------------------------------------------------------------------------------------------
# Losses: (mean over rows, gradient wrt the scores).
# --------------------------------------------------------------------------------------------
def softmax_cross_entropy(scores, y):
    n, c = scores.shape
    loss, d = 0.0, np.zeros((n, c))
    for i in range(n):
        row = [float(v) for v in scores[i]]
        top = max(row)
        total = sum(math.exp(v - top) for v in row)
        loss += (top + math.log(total)) - row[int(y[i])]
        for j in range(c):
            d[i, j] = (math.exp(row[j] - top) / total - (1.0 if j == int(y[i]) else 0.0)) / n
    return loss / n, d


def svm_loss(scores, y, margin=1.0, squared=False):
    n, c = scores.shape
    loss, d = 0.0, np.zeros((n, c))
    for i in range(n):
        yi = int(y[i])
        for j in range(c):
            if j == yi:
                continue
            m = float(scores[i, j]) - float(scores[i, yi]) + margin
            if m > 0:
                loss += m * m if squared else m
                g = 2.0 * m if squared else 1.0
                d[i, j] += g / n
                d[i, yi] -= g / n
    return loss / n, d


def sigmoid_cross_entropy(scores, targets):
    """−[t log σ(f) + (1 − t) log(1 − σ(f))] = t·softplus(−f) + (1 − t)·softplus(f)."""
    n, c = scores.shape
    loss, d = 0.0, np.zeros((n, c))
    for i in range(n):
        for j in range(c):
            f, t = float(scores[i, j]), float(targets[i, j])
            loss += t * _softplus(-f) + (1.0 - t) * _softplus(f)
            d[i, j] = (_sigmoid(f) - t) / n
    return loss / n, d


def attribute_hinge_loss(scores, targets):
    n, c = scores.shape
    loss, d = 0.0, np.zeros((n, c))
    for i in range(n):
        for j in range(c):
            f, t = float(scores[i, j]), float(targets[i, j])
            if 1.0 - t * f > 0:
                loss += 1.0 - t * f
                d[i, j] = -t / n
    return loss / n, d


def l2_loss(pred, target):
    n, c = pred.shape
    loss, d = 0.0, np.zeros((n, c))
    for i in range(n):
        for j in range(c):
            r = float(pred[i, j]) - float(target[i, j])
            loss += r * r
            d[i, j] = 2.0 * r / n
    return loss / n, d


def l1_loss(pred, target):
    n, c = pred.shape
    loss, d = 0.0, np.zeros((n, c))
    for i in range(n):
        for j in range(c):
            r = float(pred[i, j]) - float(target[i, j])
            loss += abs(r)
            d[i, j] = (1.0 if r > 0 else -1.0 if r < 0 else 0.0) / n
    return loss / n, d


# --------------------------------------------------------------------------------------------
# Covariance and whitening.
# --------------------------------------------------------------------------------------------
def covariance(X):
    n, d = X.shape
    mean = np.zeros(d)
    for j in range(d):
        mean[j] = sum(float(X[i, j]) for i in range(n)) / n
    cov = np.zeros((d, d))
    for a in range(d):
        for b in range(a, d):
            s = sum((float(X[i, a]) - mean[a]) * (float(X[i, b]) - mean[b]) for i in range(n))
            cov[a, b] = cov[b, a] = s / n
    return mean, cov


def eigen_sorted(cov):
    """Eigenvalues descending and unit eigenvectors (columns), each signed so that its
    largest-magnitude entry is positive. (np.linalg.eigh: an algorithm unlike the reference's SVD.)"""
    values, vectors = np.linalg.eigh(np.asarray(cov, dtype=np.float64))
    order = sorted(range(len(values)), key=lambda c: -values[c])
    d = len(values)
    S = np.array([values[c] for c in order])
    U = np.zeros((d, d))
    for out_c, c in enumerate(order):
        col = [float(vectors[r, c]) for r in range(d)]
        pivot = max(range(d), key=lambda r: abs(col[r]))
        sign = -1.0 if col[pivot] < 0 else 1.0
        for r in range(d):
            U[r, out_c] = sign * col[r]
    return S, U


def whitening_matrix(cov, method="zca", eps=1e-5, n_components=None):
    S, U = eigen_sorted(cov)
    d = len(S)
    k = d if n_components is None else n_components
    S, U = S[:k], U[:, :k]
    if method == "rotate":
        W = U.copy()
    elif method == "pca":
        W = np.zeros((d, k))
        for r in range(d):
            for c in range(k):
                W[r, c] = U[r, c] / math.sqrt(S[c] + eps)
    elif method == "zca":
        W = np.zeros((d, d))
        for a in range(d):
            for b in range(d):
                W[a, b] = sum(U[a, c] * U[b, c] / math.sqrt(S[c] + eps) for c in range(k))
    else:
        raise ValueError(method)
    return W, S, U


# --------------------------------------------------------------------------------------------
# Optimizers, in place: g = dw + λ w.
# --------------------------------------------------------------------------------------------
def _cells(w):
    return list(np.ndindex(*w.shape))


def sgd_update(w, dw, lr, weight_decay=0.0):
    for i in _cells(w):
        g = float(dw[i]) + weight_decay * float(w[i])
        w[i] = float(w[i]) - lr * g


def momentum_update(w, dw, velocity, lr, momentum=0.9, weight_decay=0.0, nesterov=False):
    for i in _cells(w):
        g = float(dw[i]) + weight_decay * float(w[i])
        v_prev = float(velocity[i])
        v = momentum * v_prev - lr * g
        velocity[i] = v
        if nesterov:  # the notes: x += -mu * v_prev + (1 + mu) * v
            w[i] = float(w[i]) - momentum * v_prev + (1 + momentum) * v
        else:
            w[i] = float(w[i]) + v


def adam_update(w, dw, m, v, t, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    for i in _cells(w):
        g = float(dw[i]) + weight_decay * float(w[i])
        m[i] = beta1 * float(m[i]) + (1 - beta1) * g
        v[i] = beta2 * float(v[i]) + (1 - beta2) * g * g
        m_hat = float(m[i]) / (1 - beta1**t)
        v_hat = float(v[i]) / (1 - beta2**t)
        w[i] = float(w[i]) - lr * m_hat / (math.sqrt(v_hat) + eps)


def rmsprop_update(w, dw, cache, lr=1e-2, decay_rate=0.99, eps=1e-8, weight_decay=0.0):
    for i in _cells(w):
        g = float(dw[i]) + weight_decay * float(w[i])
        cache[i] = decay_rate * float(cache[i]) + (1 - decay_rate) * g * g
        w[i] = float(w[i]) - lr * g / (math.sqrt(float(cache[i])) + eps)


def adagrad_update(w, dw, cache, lr=1e-2, eps=1e-8, weight_decay=0.0):
    for i in _cells(w):
        g = float(dw[i]) + weight_decay * float(w[i])
        cache[i] = float(cache[i]) + g * g
        w[i] = float(w[i]) - lr * g / (math.sqrt(float(cache[i])) + eps)


def max_norm_(w, max_norm):
    d_in, d_out = w.shape
    for j in range(d_out):
        norm = math.sqrt(sum(float(w[r, j]) ** 2 for r in range(d_in)))
        if norm > max_norm:
            for r in range(d_in):
                w[r, j] = float(w[r, j]) * (max_norm / norm)
