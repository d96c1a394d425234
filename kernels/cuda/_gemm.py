"""Matrix products for the CUDA drivers: cuBLAS through CuPy when installed, else a tiled Numba GEMM.

``gemm(a, b, out, trans_a, trans_b)`` writes ``out = op(a) @ op(b)`` (op = transpose when flagged)
into a preallocated C-contiguous device array. The Numba fallback (also what runs under the
simulator) stages tile x tile blocks of both operands in shared memory; ``symmetric=True`` skips
the blocks below the diagonal (covariance needs only one triangle, then :func:`mirror` fills it).
"""

from numba import cuda

from . import _launch
from ._arrays import _cupy, _fill_kernel, cupy_view, flat, launch

MAX_GRID_Y = 65535  # CUDA's limit on gridDim.y; the kernel strides over any further tiles

_kernels = {}


def _make_gemm_kernel(scalar, tile):
    """Compile-time specialisation: shared tiles need a constant shape and dtype."""

    @cuda.jit
    def _gemm_kernel(a, b, c, trans_a, trans_b, symmetric):
        """c (M, N) = op(a) @ op(b) with tile x tile shared-memory blocks, grid-strided over tiles."""
        sa = cuda.shared.array((tile, tile), scalar)
        sb = cuda.shared.array((tile, tile), scalar)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        m = c.shape[0]
        n = c.shape[1]
        kdim = a.shape[0] if trans_a else a.shape[1]
        tiles_m = (m + tile - 1) // tile
        tiles_n = (n + tile - 1) // tile
        for by in range(cuda.blockIdx.y, tiles_m, cuda.gridDim.y):
            for bx in range(cuda.blockIdx.x, tiles_n, cuda.gridDim.x):
                if symmetric and by > bx:  # uniform over the block: no thread skips a barrier alone
                    continue
                row = by * tile + ty
                col = bx * tile + tx
                acc = scalar(0)
                for k0 in range(0, kdim, tile):
                    ka = k0 + tx
                    if row < m and ka < kdim:
                        sa[ty, tx] = a[ka, row] if trans_a else a[row, ka]
                    else:
                        sa[ty, tx] = scalar(0)
                    kb = k0 + ty
                    if kb < kdim and col < n:
                        sb[ty, tx] = b[col, kb] if trans_b else b[kb, col]
                    else:
                        sb[ty, tx] = scalar(0)
                    cuda.syncthreads()
                    for kk in range(tile):
                        acc += sa[ty, kk] * sb[kk, tx]
                    cuda.syncthreads()
                if row < m and col < n:
                    c[row, col] = acc

    return _gemm_kernel


def _numba_gemm(a, b, out, trans_a, trans_b, symmetric):
    tile = int(_launch.CUDA_GEMM_TILE)  # a tile x tile block of threads
    key = (out.dtype, tile)
    kernel = _kernels.get(key)
    if kernel is None:
        kernel = _kernels[key] = _make_gemm_kernel(out.dtype.type, tile)
    m, n = out.shape
    grid_x = max(1, min(int(_launch.CUDA_MAX_BLOCKS), (n + tile - 1) // tile))
    grid_y = max(1, min(MAX_GRID_Y, (m + tile - 1) // tile))
    kernel[(grid_x, grid_y), (tile, tile)](a, b, out, bool(trans_a), bool(trans_b), bool(symmetric))


def gemm(a, b, out, trans_a=False, trans_b=False, symmetric=False):
    """out = op(a) @ op(b) on the device (cuBLAS via CuPy, else the tiled kernel).

    With ``symmetric`` (a is b, op(a) = a.T) only one triangle may be computed: returns True
    when the other triangle holds zeros (cuBLAS syrk), False when the upper one is complete.
    """
    if out.size == 0:
        return False
    kdim = a.shape[0] if trans_a else a.shape[1]
    if kdim == 0:
        _fill_kernel[launch(out.size)](flat(out), out.dtype.type(0))
        return False
    cp = _cupy()
    if cp is not None:
        ca, cb = cupy_view(a), cupy_view(b)
        if symmetric and a is b and trans_a and not trans_b:
            # syrk: half the flops of the GEMM. It fills one triangle and leaves the other as it
            # was, so zero it first: mirror(..., either=True) then works whichever it filled.
            syrk = getattr(cp.cublas, "syrk", None)  # older CuPy lacks it: the full GEMM below
            if syrk is not None:
                cout = cupy_view(out)
                cout.fill(0)
                got = syrk("T", ca, out=cout, alpha=1.0, beta=0.0, lower=False)
                if got is not cout:
                    cout[...] = got
                return True
        cp.matmul(ca.T if trans_a else ca, cb.T if trans_b else cb, out=cupy_view(out))
        return False
    _numba_gemm(a, b, out, trans_a, trans_b, symmetric)
    return False


@cuda.jit
def _mirror_kernel(c, divisor, either):
    """c[i, j] = c[j, i] = upper (or upper + lower, when only one triangle is nonzero) / divisor."""
    d = c.shape[0]
    for e in range(cuda.grid(1), d * d, cuda.gridsize(1)):
        i = e // d
        j = e - i * d
        if i < j:
            v = c[i, j] + c[j, i] if either else c[i, j]
            v = v / divisor
            c[i, j] = v
            c[j, i] = v
        elif i == j:
            c[i, i] = c[i, i] / divisor


def mirror(c, divisor, either=False):
    """Symmetrise square ``c`` from its upper triangle (``either``: from whichever triangle is
    nonzero, the other holding zeros) and divide every entry by ``divisor``."""
    _mirror_kernel[launch(c.size)](c, c.dtype.type(divisor), bool(either))
    return c


def covariance_product(xc, out):
    """out = xc.T @ xc / N, symmetric to the bit (syrk on cuBLAS, upper tiles with Numba)."""
    return mirror(out, xc.shape[0], gemm(xc, xc, out, trans_a=True, symmetric=True))
