"""Backend registry, selection order, fallback and the consistency of backend packages."""

import importlib
import inspect
import os
import sys
import threading
import types

import numba
import numpy as np
import pytest

import fastmlp
from chunking import COMPILED
from fastmlp import backends, ops
from fastmlp.backends import BackendUnavailableError
from fastmlp.cases import BY_NAME, CASES, inputs
from fastmlp.kernels import activation_table
from fastmlp.kernels import reference as ref
from fastmlp.kernels._exports import reference_ops

OP_NAMES = backends.ops()
BUFFER_KEYWORDS = {"out", "need_dx", "grads", "pre"}


@pytest.fixture
def clean_selection(monkeypatch):
    monkeypatch.delenv(backends.ENV_VAR, raising=False)
    fastmlp.set_backend(None)
    yield
    fastmlp.set_backend(None)


@pytest.fixture
def fake_backend(monkeypatch):
    """A backend with one native op whose result is recognisable, and one unavailable backend."""
    fake = types.ModuleType("fake_kernels")
    fake.relu_forward = lambda x: np.full_like(x, 42.0)
    broken = types.ModuleType("broken_kernels")
    broken.UNAVAILABLE_REASON = "needs hardware this machine lacks"
    monkeypatch.setitem(sys.modules, "fake_kernels", fake)
    monkeypatch.setitem(sys.modules, "broken_kernels", broken)
    backends.register("fake", "fake_kernels")
    backends.register("broken", "broken_kernels")
    yield "fake"
    for name in ("fake", "broken"):
        backends._registered.pop(name, None)
        backends.forget(name)


def test_reference_is_always_available_and_complete():
    assert "numpy" in backends.available()
    assert set(backends.coverage()["numpy"].values()) == {"native"}
    # the API's op table and the kernels' contract (what the reference modules define) agree
    assert set(OP_NAMES) == set(reference_ops())


def test_every_op_has_a_public_function_with_backend_keyword():
    for op in OP_NAMES:
        fn = getattr(ops, op)
        param = inspect.signature(fn).parameters["backend"]
        assert param.kind is inspect.Parameter.KEYWORD_ONLY and param.default is None, op
        assert fn.__doc__ and fn.__doc__.strip(), f"ops.{op} has no docstring"
    public = {n for n in ops.__all__ if callable(getattr(ops, n))}
    assert public == set(OP_NAMES)


def test_case_table_covers_every_op():
    assert {case.op for case in CASES} == set(OP_NAMES)
    assert len({case.name for case in CASES}) == len(CASES)


@pytest.mark.parametrize("name", [n for n in backends.available() if n != "numpy"])
def test_backend_packages_match_the_reference(name):
    """thinc's consistency idea: a backend exports only reference names, with the same signatures."""
    module = importlib.import_module(backends.registry()[name])
    public = {n for n in dir(module) if not n.startswith("_") and callable(getattr(module, n))}
    extra = public - set(OP_NAMES)
    assert not extra, f"backend {name} exports names the reference lacks: {sorted(extra)}"
    for op in public:
        got = list(inspect.signature(getattr(module, op)).parameters)
        want = list(inspect.signature(getattr(ref, op)).parameters)
        # the buffer keywords are optional: the ops layer copies into buffers for backends without them
        core = list(want)
        while core and core[-1] in BUFFER_KEYWORDS:  # trailing only: dense_backward's `out` is an input
            core.pop()
        assert got[: len(core)] == core and set(got[len(core) :]) <= BUFFER_KEYWORDS, f"{name}.{op}{got} vs {want}"


def test_automatic_choice_prefers_compiled_backends(clean_selection):
    first = next(n for n in backends.AUTO_ORDER if backends.is_available(n))
    assert fastmlp.get_backend() == first


def test_selection_order(clean_selection, monkeypatch, fake_backend):
    monkeypatch.setenv(backends.ENV_VAR, "numpy")
    assert fastmlp.get_backend() == "numpy"  # env beats automatic
    fastmlp.set_backend("fake")
    assert fastmlp.get_backend() == "fake"  # set_backend beats env
    with fastmlp.use_backend("numpy"):
        assert fastmlp.get_backend() == "numpy"  # context beats set_backend
        x = np.array([[-1.0, 2.0]])
        np.testing.assert_array_equal(ops.relu_forward(x, backend="fake"), [[42.0, 42.0]])  # explicit wins
        np.testing.assert_array_equal(ops.relu_forward(x), [[0.0, 2.0]])
    assert fastmlp.get_backend() == "fake"
    np.testing.assert_array_equal(ops.relu_forward(np.array([[1.0]])), [[42.0]])
    fastmlp.set_backend(None)
    assert fastmlp.get_backend() == "numpy"


def test_env_var_is_read_at_each_call_with_or_without_cpython_environ(clean_selection, monkeypatch):
    """get_backend reads os.environ's encoded keys directly (the unset case is every op call of a
    default model); the value still follows the environment at each call, and a mapping without
    CPython's internals is read the plain way."""
    automatic = fastmlp.get_backend()
    monkeypatch.setenv(backends.ENV_VAR, "numpy")
    assert fastmlp.get_backend() == "numpy"
    monkeypatch.delenv(backends.ENV_VAR)
    assert fastmlp.get_backend() == automatic
    monkeypatch.setattr(backends.os, "environ", {backends.ENV_VAR: "numpy"})
    assert fastmlp.get_backend() == "numpy"


def test_use_backend_is_local_to_its_thread(clean_selection, monkeypatch):
    monkeypatch.setenv(backends.ENV_VAR, "numpy")
    seen = []
    with fastmlp.use_backend("numpy"):
        backends.register("other", "fastmlp.kernels.reference")
        try:
            with fastmlp.use_backend("other"):
                t = threading.Thread(target=lambda: seen.append(fastmlp.get_backend()))
                t.start()
                t.join()
                assert fastmlp.get_backend() == "other"
        finally:
            backends._registered.pop("other")
            backends.forget("other")
    assert seen == ["numpy"]  # the other thread sees the env choice, not this thread's context


def test_use_backend_restores_after_an_exception(clean_selection, monkeypatch):
    monkeypatch.setenv(backends.ENV_VAR, "numpy")
    with pytest.raises(KeyError), fastmlp.use_backend("numpy"):
        raise KeyError("boom")
    assert backends._context.get() is None


def test_missing_op_falls_back_to_reference(fake_backend):
    cov = backends.coverage()["fake"]
    assert cov["relu_forward"] == "native"
    assert cov["sigmoid_forward"] == "reference"
    got = ops.sigmoid_forward(np.array([[0.0]]), backend="fake")
    np.testing.assert_array_equal(got, [[0.5]])


def test_unavailable_backend_raises_with_reason(clean_selection, fake_backend, monkeypatch):
    assert "broken" not in backends.available()
    assert backends.unavailable_reason("broken") == "needs hardware this machine lacks"
    with pytest.raises(BackendUnavailableError, match="needs hardware"):
        ops.relu_forward(np.ones((1, 1)), backend="broken")
    with pytest.raises(BackendUnavailableError, match="broken"):
        fastmlp.set_backend("broken")
    with pytest.raises(BackendUnavailableError), fastmlp.use_backend("broken"):
        pass
    monkeypatch.setenv(backends.ENV_VAR, "broken")  # the env var gets no silent fallback either
    with pytest.raises(BackendUnavailableError, match="not available"):
        ops.relu_forward(np.ones((1, 1)))


def test_unknown_backend_names_the_known_ones(clean_selection, monkeypatch):
    with pytest.raises(ValueError, match="known backends"):
        ops.relu_forward(np.ones((1, 1)), backend="tensorflow")
    monkeypatch.setenv(backends.ENV_VAR, "nonsense")
    with pytest.raises(ValueError, match="unknown backend 'nonsense'"):
        fastmlp.get_backend()
    with pytest.raises(TypeError):
        fastmlp.set_backend(3)


def test_builtin_names_cannot_be_replaced():
    with pytest.raises(ValueError, match="built-in"):
        backends.register("numpy", "somewhere")
    with pytest.raises(ValueError, match="identifier"):
        backends.register("not a name", "somewhere")


def test_device_arrays_are_recognised():
    class FakeDeviceArray:
        @property
        def __cuda_array_interface__(self):
            return {"shape": (1,), "typestr": "<f4", "data": (0, False), "version": 3}

    assert backends.is_device_array(FakeDeviceArray())
    assert not backends.is_device_array(np.ones(1))


def test_set_num_threads_governs_numba_and_blas():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    before = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(1)
        assert fastmlp.get_num_threads() == 1
        blas = [i for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
        assert blas and all(i["num_threads"] == 1 for i in blas)
        if "numba" in sys.modules:
            import numba

            assert numba.get_num_threads() == 1
    finally:
        fastmlp.set_num_threads(before)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            fastmlp.set_num_threads(bad)


@pytest.mark.parametrize("name", [n for n in backends.available() if n != "cuda"])
def test_warmup_runs_every_op(name):
    spent = fastmlp.warmup(name, dtypes=("float32",))
    assert set(spent) == set(OP_NAMES)
    assert all(t >= 0 for t in spent.values())


SERIAL_OR_PARALLEL = [
    *("dense_backward[relu,p=0.6]", "softmax_cross_entropy", "dropout_mask", "batchnorm_backward[train]"),
    *("adam_update", "max_norm_", "prelu_backward", "svm_loss[squared]", "relu_forward"),
]


@pytest.mark.jit_only
@pytest.mark.parametrize(
    "backend,name",
    [
        (backend, name)
        for backend in COMPILED
        for name in SERIAL_OR_PARALLEL
        if backends.coverage()[backend][BY_NAME[name].op] == "native"
    ],
)
def test_chunks_give_the_same_bits_serially_or_in_parallel(backend, name):
    """Right after a BLAS call the numba and cython kernels run their chunks on the calling thread
    (kernels/_blas_clock.py); the chunks are the same, so every bit of every output is too."""
    from fastmlp.kernels import _blas_clock

    case = BY_NAME[name]
    results = []
    for recent_blas in (False, True):
        args, kwargs = inputs(case, 300, 301, "float32")  # ~90k elements: several chunks
        _blas_clock.called() if recent_blas else _blas_clock.forget()
        out = getattr(ops, case.op)(*args, backend=backend, **kwargs)
        arrays = [args[i] for i in case.inplace] if out is None else list(out) if isinstance(out, tuple) else [out]
        results.append([np.asarray(a) for a in arrays if a is not None and not isinstance(a, (bool, str))])
    _blas_clock.forget()
    assert len(results[0]) == len(results[1]) > 0
    for par, ser in zip(*results):
        np.testing.assert_array_equal(par, ser)


def test_drivers_without_buffer_keywords_are_adapted_once(monkeypatch):
    """A backend whose drivers take only the reference's positional arguments still serves every
    door: out/grads are filled by copying, need_dx honoured, pre-activation calls go to the
    reference (fastmlp/ops/_dispatch.py) — and the wrapper is built once, not per call."""
    fake = types.ModuleType("plain_kernels")
    calls = []

    def dense_forward(x, w, b, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01):
        calls.append("forward")
        return ref.dense_forward(x, w, b, activation, keep_prob, seed, stream, alpha)

    def dense_backward(dout, x, w, out, activation="relu", keep_prob=1.0, seed=0, stream=0, alpha=0.01):
        calls.append("backward")
        return ref.dense_backward(dout, x, w, out, activation, keep_prob, seed, stream, alpha)

    fake.dense_forward, fake.dense_backward = dense_forward, dense_backward
    monkeypatch.setitem(sys.modules, "plain_kernels", fake)
    backends.register("plain", "plain_kernels")
    try:
        rng = np.random.default_rng(0)
        x, w, b, dout = (
            rng.standard_normal((4, 3)),
            rng.standard_normal((3, 2)),
            rng.standard_normal(2),
            np.ones((4, 2)),
        )
        out = np.empty((4, 2))
        got = ops.dense_forward(x, w, b, "tanh", out=out, backend="plain")
        assert got is out and calls == ["forward"]
        np.testing.assert_allclose(out, np.tanh(x @ w + b))
        grads = (np.empty((4, 3)), np.empty((3, 2)), np.empty(2))
        dx, dw, db = ops.dense_backward(dout, x, w, out, "tanh", need_dx=False, grads=grads, backend="plain")
        assert dx is None and dw is grads[1] and db is grads[2]
        np.testing.assert_allclose(dw, x.T @ (1 - out**2))
        for row in (r for r in activation_table.ACTIVATIONS if not r.from_output):
            pre = np.empty((4, 2))
            ops.dense_forward(x, w, b, row.name, pre=pre, backend="plain")  # the plain driver cannot save pre
            np.testing.assert_allclose(pre, x @ w + b)
        assert calls == ["forward", "backward"]
        first = ops._dispatch.kernel("dense_forward", "plain")
        assert ops._dispatch.kernel("dense_forward", "plain") is first
    finally:
        backends._registered.pop("plain", None)
        backends.forget("plain")


def test_kernels_import_nothing_from_the_api():
    """Layering (README): kernels/ is installed as fastmlp.kernels and may import only itself —
    not fastmlp.config, fastmlp.ops or any other API module (and no relative import climbs out)."""
    import pathlib
    import re

    root = pathlib.Path(fastmlp.kernels.__file__).resolve().parent
    api = re.compile(r"^\s*(from|import)\s+fastmlp(?!\.kernels\b)|^\s*from\s+\.\.\.", re.M)
    offenders = [
        f"{path.relative_to(root)}:{text[: m.start()].count(chr(10)) + 1}"
        for path in sorted(root.rglob("*"))
        if path.suffix in (".py", ".pyx", ".pxd")
        for text in [path.read_text()]
        for m in api.finditer(text)
    ]
    assert not offenders, f"kernel modules importing the API: {offenders}"


def test_numba_kernel_caches_are_stamped_with_the_whole_kernel_tree():
    """Kernels compile other files' functions into themselves (the activation table's rows, the
    shared exp): an edit to any kernel source must invalidate every cached kernel, not only
    those defined in the edited file (kernels/numba_cpu/_cache.py)."""
    from fastmlp.kernels import activation_table
    from fastmlp.kernels.numba_cpu import _cache, _table_loops, dense

    if not numba.config.DISABLE_JIT:  # with the JIT off there are no dispatchers and no caches
        for kernel in (dense._forward_rows, _table_loops.table_forward):
            assert isinstance(kernel._cache._impl.locator, _cache.KernelTreeLocator)
    row = activation_table.relu_f
    locator = _cache.KernelTreeLocator.from_function(row, activation_table.__file__)
    assert locator.get_source_stamp() == _cache.tree_stamp()
    assert locator.get_disambiguator() == str(row.__code__.co_firstlineno)
    # never inside the package (a folder pip does not remove on uninstall): under the cache root
    assert locator.get_cache_path().startswith(_cache.cache_root() + os.sep)
    assert not locator.get_cache_path().startswith(os.path.dirname(activation_table.__file__))
    assert _cache.KernelTreeLocator.from_function(ops.dense_forward, ops.dense.__file__) is None  # not a kernel
    path = activation_table.__file__
    before = os.stat(path)
    _cache.tree_stamp.cache_clear()
    stamp = _cache.tree_stamp()
    try:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
        _cache.tree_stamp.cache_clear()
        assert _cache.tree_stamp() != stamp
    finally:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        _cache.tree_stamp.cache_clear()
    assert _cache.tree_stamp() == stamp


def test_kernel_cache_directory_is_chosen_not_inherited(monkeypatch, tmp_path):
    """FASTMLP_CACHE_DIR first, then NUMBA_CACHE_DIR, then the user cache directory; one folder
    per kernels source folder inside it."""
    from fastmlp.kernels import activation_table
    from fastmlp.kernels.numba_cpu import _cache

    monkeypatch.setenv(_cache.ENV_VAR, str(tmp_path / "mine"))
    assert _cache.cache_root() == str(tmp_path / "mine")
    locator = _cache.KernelTreeLocator.from_function(activation_table.relu_f, activation_table.__file__)
    assert locator.get_cache_path().startswith(str(tmp_path / "mine" / "kernels_"))
    assert (tmp_path / "mine").is_dir()
    monkeypatch.delenv(_cache.ENV_VAR)
    monkeypatch.setattr(numba.config, "CACHE_DIR", str(tmp_path / "numba"))
    assert _cache.cache_root() == str(tmp_path / "numba")
    monkeypatch.setattr(numba.config, "CACHE_DIR", "")
    assert _cache.cache_root().endswith(os.path.join("fastmlp", "numba"))


def test_no_runnable_backend_is_a_clear_error_not_stop_iteration(monkeypatch, clean_selection):
    """Every backend unavailable (e.g. the checkout's fastmlp/ imported without its kernels): the
    error names each backend's reason and, for a checkout, what to do."""
    monkeypatch.setattr(backends, "_loaded", {name: (None, f"{name} is broken here") for name in backends.BUILTIN})
    monkeypatch.setattr(backends, "_auto", [None])
    monkeypatch.setattr(backends, "_kernels", {})
    with pytest.raises(BackendUnavailableError, match="no fastmlp backend can run here") as caught:
        fastmlp.get_backend()
    assert "numba: numba is broken here" in str(caught.value)
    with pytest.raises(BackendUnavailableError):
        ops.relu_forward(np.ones(3))
    package_dir = os.path.dirname(os.path.abspath(backends.__file__))
    real_isdir = os.path.isdir
    monkeypatch.setattr(
        os.path, "isdir", lambda p: False if p == os.path.join(package_dir, "kernels") else real_isdir(p)
    )
    with pytest.raises(BackendUnavailableError, match="pip install -e"):
        fastmlp.get_backend()
