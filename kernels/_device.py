"""The one test for "is this a CUDA device array", shared by the API and the cuda backend."""


def is_device(x):
    """True for CUDA device arrays: anything exposing ``__cuda_array_interface__`` (Numba, CuPy,
    torch CUDA tensors) and the Numba simulator's stand-in. A torch CUDA tensor that requires
    grad refuses to hand out the interface (RuntimeError) but is a device array all the same:
    True, and the conversion then says to pass ``x.detach()``."""
    try:
        return hasattr(x, "__cuda_array_interface__") or type(x).__name__ == "FakeCUDAArray"
    except RuntimeError:
        return True
