"""Build: maps kernels/ to the import package fastmlp.kernels and compiles kernels/cython/*.pyx
as OPTIONAL extensions: if the compiler (or Cython) fails, the install goes on without them and
the ``cython`` backend reports itself unavailable with the reason."""

import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

PACKAGES = {
    "fastmlp": "fastmlp",
    "fastmlp.ops": "fastmlp/ops",
    "fastmlp.kernels": "kernels",
    "fastmlp.kernels.reference": "kernels/reference",
    "fastmlp.kernels.numba_cpu": "kernels/numba_cpu",
    "fastmlp.kernels.cython": "kernels/cython",
    "fastmlp.kernels.cuda": "kernels/cuda",
}
PACKAGES = {name: path for name, path in PACKAGES.items() if os.path.isdir(path)}


class OptionalBuildExt(build_ext):
    """Turns a failed extension build into a warning (markupsafe's pattern)."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler, broken toolchain
            self._warn(exc)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._warn(exc, ext.name)

    @staticmethod
    def _warn(exc, name="extensions"):
        sys.stderr.write(f"WARNING: building {name} failed ({exc}); fastmlp installs without it.\n")


def cython_extensions():
    sources = sorted(glob.glob("kernels/cython/*.pyx"))
    if not sources:
        return []
    try:
        import numpy
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as exc:
        sys.stderr.write(f"WARNING: Cython/NumPy missing at build time ({exc}); no cython backend.\n")
        return []
    openmp = [] if os.environ.get("FASTMLP_NO_OPENMP") else ["-fopenmp"]
    exts = [
        Extension(
            "fastmlp.kernels.cython." + os.path.splitext(os.path.basename(src))[0],
            [src],
            include_dirs=[numpy.get_include()],
            extra_compile_args=["-O3", *openmp],
            extra_link_args=openmp,
        )
        for src in sources
    ]
    try:
        return cythonize(exts, language_level=3, quiet=True)
    except Exception as exc:
        sys.stderr.write(f"WARNING: cythonize failed ({exc}); no cython backend.\n")
        return []


setup(
    packages=list(PACKAGES),
    package_dir=PACKAGES,
    package_data={"fastmlp": ["data/*.npz", "data/*.txt", "py.typed"]},
    ext_modules=cython_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
