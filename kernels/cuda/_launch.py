"""CUDA launch sizes. The drivers read these module attributes at every launch (not at import),
so the simulator tests can patch them small and make every grid-stride loop take several laps.

They live with the kernels, not in ``fastmlp.config``: kernels never import the API.
"""

CUDA_THREADS_PER_BLOCK = 256
CUDA_MAX_BLOCKS = 1024
# Side of the shared-memory tile of the Numba GEMM, used when CuPy (cuBLAS) is absent
CUDA_GEMM_TILE = 16
