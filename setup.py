"""Build: maps kernels/ to the import package fastmlp.kernels and compiles kernels/cython/*.pyx
as OPTIONAL extensions: if the compiler (or Cython) fails, the install goes on without them and
the ``cython`` backend reports itself unavailable with the reason."""

import glob
import os
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_ext import build_ext

PACKAGES = {
    "fastmlp": "fastmlp",
    "fastmlp.ops": "fastmlp/ops",
    "fastmlp.compat": "fastmlp/compat",
    "fastmlp.kernels": "kernels",
    "fastmlp.kernels.reference": "kernels/reference",
    "fastmlp.kernels.numba_cpu": "kernels/numba_cpu",
    "fastmlp.kernels.cython": "kernels/cython",
    "fastmlp.kernels.cuda": "kernels/cuda",
}
PACKAGES = {name: path for name, path in PACKAGES.items() if os.path.isdir(path)}


class OptionalBuildExt(build_ext):
    """Turns a failed extension build into a warning (markupsafe's pattern); drops OpenMP when
    the compiler cannot build and link a tiny OpenMP program (the kernels then run serially)."""

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler, broken toolchain
            self._warn(exc)

    def build_extensions(self):
        flag = OPENMP_FLAGS.get(self.compiler.compiler_type, OPENMP_FLAGS["unix"])
        if any(flag in ext.extra_compile_args for ext in self.extensions) and not self._openmp_works(flag):
            sys.stderr.write(
                f"WARNING: the C compiler cannot build OpenMP code ({flag}); "
                "the cython kernels are built single-threaded.\n"
            )
            for ext in self.extensions:
                ext.extra_compile_args = [a for a in ext.extra_compile_args if a != flag]
                ext.extra_link_args = [a for a in ext.extra_link_args if a != flag]
        super().build_extensions()

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as exc:
            self._warn(exc, ext.name)

    def _openmp_works(self, flag):
        """Compile and link a program calling the OpenMP runtime, with this build's compiler."""
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "omp_check.c")
            with open(src, "w") as f:
                f.write("#include <omp.h>\nint main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }\n")
            try:
                objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=[flag])
                self.compiler.link_executable(objs, os.path.join(tmp, "omp_check"), extra_postargs=[flag])
            except Exception:  # CompileError, LinkError, a missing compiler executable
                return False
        return True

    @staticmethod
    def _warn(exc, name="extensions"):
        sys.stderr.write(f"WARNING: building {name} failed ({exc}); fastmlp installs without it.\n")


# -fno-math-errno lets gcc vectorise sqrt (the optimizer updates) without changing any result.
COMPILE_FLAGS = {"unix": ["-O3", "-fno-math-errno"], "msvc": ["/O2"]}
OPENMP_FLAGS = {"unix": "-fopenmp", "msvc": "/openmp"}


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
    kind = "msvc" if sys.platform == "win32" else "unix"
    openmp = [] if os.environ.get("FASTMLP_NO_OPENMP") else [OPENMP_FLAGS[kind]]
    exts = [
        Extension(
            "fastmlp.kernels.cython." + os.path.splitext(os.path.basename(src))[0],
            [src],
            include_dirs=[numpy.get_include(), "kernels/cython"],
            depends=["kernels/cython/_common.pxd", "kernels/cython/_fastmlp.h"],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            extra_compile_args=[*COMPILE_FLAGS[kind], *openmp],
            extra_link_args=list(openmp),
        )
        for src in sources
    ]
    try:
        return cythonize(exts, language_level=3, quiet=True, include_path=["kernels/cython"])
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
