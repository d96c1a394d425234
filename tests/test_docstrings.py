"""Every public function and class of the API layer is documented (numpydoc sections where they apply)."""

import importlib
import inspect
import pkgutil

import pytest

import fastmlp

SKIP_MODULES = {"fastmlp.thinc_ops"}  # needs the optional thinc package; tested in test_thinc.py


def _public_modules():
    names = ["fastmlp"]
    for info in pkgutil.walk_packages(fastmlp.__path__, "fastmlp."):
        if any(part.startswith("_") for part in info.name.split(".")) or info.name.startswith("fastmlp.kernels"):
            continue
        # the benchmark suites and their helpers are pytest modules, documented per module as tests/ is
        if info.name not in SKIP_MODULES and not info.name.startswith("fastmlp.benchmarks"):
            names.append(info.name)
    return names


def _objects():
    for name in _public_modules():
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        for attr, obj in vars(module).items():
            if attr.startswith("_") or (exported is not None and attr not in exported):
                continue
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == name:
                yield f"{name}.{attr}", obj


OBJECTS = sorted(dict(_objects()).items())


def _documented_params(fn):
    return [p for p in inspect.signature(fn).parameters if p not in ("self", "cls", "backend", "args", "kwargs")]


@pytest.mark.parametrize("name,obj", OBJECTS, ids=[n for n, _ in OBJECTS])
def test_public_objects_have_numpydoc(name, obj):
    doc = inspect.getdoc(obj)
    assert doc and len(doc.strip()) > 10, f"{name} has no docstring"
    if inspect.isfunction(obj) and len(_documented_params(obj)) >= 2:
        assert "Parameters\n----------" in doc or "Returns\n-------" in doc, f"{name}: add numpydoc sections"
    if inspect.isclass(obj):
        for meth_name, meth in vars(obj).items():
            if not meth_name.startswith("_") and inspect.isfunction(meth):
                assert inspect.getdoc(meth), f"{name}.{meth_name} has no docstring"


def test_the_walk_finds_the_api():
    found = {n for n, _ in OBJECTS}
    for must in (
        "fastmlp.ops.losses.softmax_cross_entropy",
        "fastmlp.builder.MLP",
        "fastmlp.model.Sequential",
        "fastmlp.sklearn.MLPClassifier",
        "fastmlp.preprocessing.Whitening",
        "fastmlp.backends.use_backend",
    ):
        assert must in found
