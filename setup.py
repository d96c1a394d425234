"""Build: maps kernels/ to the import package fastmlp.kernels and compiles kernels/cython/*.pyx
as OPTIONAL extensions: if the compiler (or Cython) fails, the install goes on without them and
the ``cython`` backend reports itself unavailable with the reason."""

import glob
import importlib.util
import os
import sys
import tempfile

from setuptools import setup
from setuptools.command.build_ext import build_ext


def packages(root, name):
    """Every package under ``root`` (a directory with __init__.py), as import name -> directory.

    Found by walking, not listed: a hand-kept list once missed fastmlp.layers and fastmlp.cli,
    which an editable install hides (tests/test_packaging.py builds the package list to check)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        if "__init__.py" in filenames:
            rel = os.path.relpath(dirpath, root)
            found[name if rel == "." else name + "." + rel.replace(os.sep, ".")] = dirpath.replace(os.sep, "/")
    return found


# the API package, and kernels/ installed as fastmlp.kernels
PACKAGES = {**packages("fastmlp", "fastmlp"), **packages("kernels", "fastmlp.kernels")}


class OptionalBuildExt(build_ext):
    """Turns a failed extension build into a warning (markupsafe's pattern). Adds the compile
    flags for the compiler at hand, with OpenMP only when it can build and link a tiny OpenMP
    program (otherwise the kernels are built single-threaded: prange runs serially)."""

    def finalize_options(self):
        super().finalize_options()
        if self.parallel is None:  # the modules compile independently: one per core
            self.parallel = os.cpu_count() or 1

    def run(self):
        try:
            super().run()
        except Exception as exc:  # no compiler, broken toolchain
            self._warn(exc)

    def build_extensions(self):
        kind = "msvc" if self.compiler.compiler_type == "msvc" else "unix"
        flags = list(COMPILE_FLAGS[kind])
        openmp = [] if os.environ.get("FASTMLP_NO_OPENMP") else [OPENMP_FLAGS[kind]]
        if openmp and self.extensions and not self._openmp_works(openmp[0]):
            sys.stderr.write(
                f"WARNING: the C compiler cannot build OpenMP code ({openmp[0]}); "
                "the cython kernels are built single-threaded.\n"
            )
            openmp = []
        for ext in self.extensions:
            ext.extra_compile_args = [*ext.extra_compile_args, *flags, *openmp]
            ext.extra_link_args = [*ext.extra_link_args, *openmp]
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


# None of these flags changes a result; each lets gcc vectorise loops it otherwise keeps scalar:
# -fno-math-errno: sqrt (the optimizer updates); -fno-trapping-math: selects whose arms do float
# arithmetic (leaky ReLU, PReLU), which as branches run scalar and far slower (benches/NOTES.md,
# 'Measurements behind code comments': setup.py). Code is built for the x86-64 baseline;
# the hot loops carry their own AVX2 copies, chosen at run time (kernels/cython/_simd.h).
COMPILE_FLAGS = {"unix": ["-O3", "-fno-math-errno", "-fno-trapping-math"], "msvc": ["/O2"]}
OPENMP_FLAGS = {"unix": "-fopenmp", "msvc": "/openmp"}


def activation_header():
    """Write kernels/cython/_activations.h from the activation table (kernels/cython/_ctable.py)
    and return its path. Generated, not kept in git, so the C formulas cannot drift from the
    table; _ctable.py is loaded by path because fastmlp is not importable while it builds. A row
    outside the table's C subset stops the build here, naming the line."""
    spec = importlib.util.spec_from_file_location("_fastmlp_ctable", os.path.join("kernels", "cython", "_ctable.py"))
    ctable = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ctable)
    return os.path.relpath(ctable.write())


def cython_extensions():
    """One optional extension per kernels/cython/*.pyx (FASTMLP_CYTHON_MODULES=a,b builds a subset)."""
    sources = sorted(glob.glob("kernels/cython/*.pyx"))
    only = [m for m in os.environ.get("FASTMLP_CYTHON_MODULES", "").split(",") if m]
    if only:
        sources = [s for s in sources if os.path.splitext(os.path.basename(s))[0] in only]
    if not sources:
        return []
    header = activation_header()  # before the globs below, so a fresh checkout lists it too
    try:
        import numpy
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as exc:
        sys.stderr.write(f"WARNING: Cython/NumPy missing at build time ({exc}); no cython backend.\n")
        return []
    exts = [
        Extension(
            "fastmlp.kernels.cython." + os.path.splitext(os.path.basename(src))[0],
            [src],
            include_dirs=[numpy.get_include(), "kernels/cython"],
            # src too: cythonize swaps it for its .c in the sources, and the sdist ships sources and
            # depends, so without it a build from the sdist finds no .pyx and compiles nothing
            depends=sorted(
                {src, header}
                | set(glob.glob("kernels/cython/_*.pxd"))
                | set(glob.glob("kernels/cython/_*.pxi"))
                | set(glob.glob("kernels/cython/_*.h"))
            ),
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
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
    # the Cython-generated C (~1 MB a module) is a build product, not package data
    exclude_package_data={"fastmlp.kernels.cython": ["*.c"]},
    ext_modules=cython_extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
