"""Where Numba caches the kernels, and when a cached kernel is stale.

Where: a per-user cache directory, never the installed package. Numba's default is a
``__pycache__`` next to each source file: inside site-packages that fails on a read-only install
and, worse, survives ``pip uninstall`` (pip removes only the files it installed), so the folder
left behind made Python take ``fastmlp`` for a namespace package hiding the next install (the
README's two set-up commands, run in order, broke this way). The directory is, in order:
``FASTMLP_CACHE_DIR``, Numba's ``NUMBA_CACHE_DIR``, the platform's user cache directory
(``~/.cache/fastmlp/numba`` on Linux); inside it, one folder per kernels source folder (its name
and a hash of its path), so checkouts and installs never share entries. Where none of these can
be written, Numba's own locators take over.

Numba stamps a cached function with its own source file only, yet the kernels compile functions
of other files into themselves: the activation table's rows, ``_common``'s exp, ``_vector_math``'s
tanh, the fused kernels' table copies. An edit to one of those files left kernels that inlined
the old code in the cache, running it (this happened while the table was written). Kernel
functions are therefore stamped with every source file of the kernels package (paths, sizes,
modification times): any edit there recompiles them all, once.

Numba offers no public hook for this: the locator joins ``numba.core.caching``'s list of locator
classes, ahead of the defaults, and applies only to files of this package.
"""

import functools
import hashlib
import os
import tempfile

from numba.core import caching, config
from numba.misc.appdirs import AppDirs

# Numba's names for these have moved between releases (CacheImpl was _CacheImpl)
_CacheImpl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
_CacheLocator = caching._CacheLocator

KERNELS_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ENV_VAR = "FASTMLP_CACHE_DIR"


def cache_root():
    """The directory every kernel cache lives under (module docstring)."""
    chosen = os.environ.get(ENV_VAR) or config.CACHE_DIR
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    return os.path.join(AppDirs(appname="fastmlp", appauthor=False).user_cache_dir, "numba")


def cache_dir(py_file):
    """The folder the kernels of ``py_file`` are cached in, created if missing; None where it
    cannot be written (Numba's own locators then take over). The test is Numba's own
    (``ensure_cache_path``): create the folder, then a temporary file in it."""
    path = os.path.join(cache_root(), _CacheLocator.get_suitable_cache_subpath(py_file))
    try:
        os.makedirs(path, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return None
    return path


SOURCE_SUFFIXES = (".py", ".pyx", ".pxd", ".h")


@functools.lru_cache(maxsize=1)
def tree_stamp():
    """A digest of every kernel source file's path, size and modification time (computed once a
    process: files edited while it runs are its next run's concern)."""
    digest = hashlib.sha256()
    for root, dirs, files in os.walk(KERNELS_DIR):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if name.endswith(SOURCE_SUFFIXES):
                path = os.path.join(root, name)
                stat = os.stat(path)
                digest.update(f"{os.path.relpath(path, KERNELS_DIR)}:{stat.st_size}:{stat.st_mtime_ns};".encode())
    return digest.hexdigest()


class KernelTreeLocator(_CacheLocator):
    """Kernel caches in the per-user directory, stamped with the whole kernels tree (module docstring)."""

    def __init__(self, py_func, cache_path):
        self._lineno = py_func.__code__.co_firstlineno
        self._cache_path = cache_path

    def get_cache_path(self):
        return self._cache_path

    def get_source_stamp(self):
        return tree_stamp()

    def get_disambiguator(self):
        return str(self._lineno)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not os.path.abspath(py_file).startswith(KERNELS_DIR + os.sep):
            return None
        path = cache_dir(py_file)
        return None if path is None else cls(py_func, path)


if KernelTreeLocator not in _CacheImpl._locator_classes:
    _CacheImpl._locator_classes.insert(0, KernelTreeLocator)
