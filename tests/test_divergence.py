"""Divergence caught when it happens, with a message that is true, and models that cannot predict
meaningfully refuse to; bad settings refused before training starts. Every CPU backend."""

import numpy as np
import pytest

import fastmlp
from fastmlp import backends, optim
from fastmlp.model import TrainingDiverged

BACKENDS = [name for name in backends.available() if name != "cuda"]


def _regression(n=24, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 3)).astype(np.float32), rng.standard_normal((n, 1)).astype(np.float32)


def _net(backend, **kw):
    return fastmlp.MLP([3, 4, 1], loss="l2", dtype="float32", seed=0, backend=backend, **kw)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_update_that_overflows_is_reported_truthfully(backend):
    """Targets ~1e9 and lr 1e36: the loss of step 0 is finite (~1e18 in float32), its gradient
    too (~1e8), and the update overflows the weights to inf. The next step says so (not that the
    parameters are unchanged), and the model refuses to predict."""
    X, y = _regression()
    y = y * np.float32(1e9)
    net = _net(backend)
    sgd = optim.SGD(1e36)
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isfinite(net.train_step(X, y, sgd))
        assert net.non_finite_parameter() is not None
        with pytest.raises(TrainingDiverged) as caught:
            net.train_step(X, y, sgd)
    message = str(caught.value)
    assert "is already non-finite: an earlier update overflowed" in message
    assert "unchanged" not in message
    with pytest.raises(ValueError, match="holds NaN or Inf"):
        net.predict(X)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_loss_that_overflows_leaves_the_parameters_as_they_were(backend):
    """lr 1e6: the weights grow each step until a loss overflows; that step raises, says the
    parameters are unchanged by it, and they are (bit for bit the state before the step)."""
    X, y = _regression()
    net = _net(backend)
    sgd = optim.SGD(1e6)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(20):
            before = net.get_state()
            try:
                net.train_step(X, y, sgd)
            except TrainingDiverged as exc:
                assert "parameters are unchanged by this step" in str(exc)
                break
        else:
            pytest.fail("lr 1e6 never made the loss overflow")
    assert net.steps > 0 and net.non_finite_parameter() is None
    for key, value in net.get_state().items():
        np.testing.assert_array_equal(value, before[key])


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_one_epoch_fit_that_diverges_raises(backend):
    X, y = _regression()
    with np.errstate(over="ignore", invalid="ignore"), pytest.raises(TrainingDiverged):
        _net(backend).fit(X, y * np.float32(1e9), epochs=1, batch_size=8, optimizer=optim.SGD(1e36))


@pytest.mark.parametrize("backend", BACKENDS)
def test_scores_that_overflow_are_not_returned_as_predictions(backend):
    X, _ = _regression()
    net = _net(backend)
    for p in net.parameters():
        p.value[...] = 1e30  # finite, but the scores are not
    with pytest.raises(ValueError, match="overflow to NaN or Inf"):
        net.predict(X)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_loaded_model_with_nan_weights_refuses_to_predict(backend, tmp_path):
    X, _ = _regression()
    net = _net(backend)
    net.parameters()[0].value[0, 0] = np.nan
    path = tmp_path / "broken.npz"
    net.save(path)
    loaded = fastmlp.load(path, backend=backend)
    with pytest.raises(ValueError, match=r"parameter 0\.W holds NaN or Inf"):
        loaded.predict(X)


@pytest.mark.parametrize("backend", BACKENDS)
def test_validation_data_is_checked_before_the_first_step(backend):
    X, y = _regression()
    X_val = X.copy()
    X_val[3, 1] = np.nan
    net = _net(backend)
    before = net.get_state()
    with pytest.raises(ValueError, match="X_val contains NaN or Inf"):
        net.fit(X, y, epochs=2, validation_data=(X_val, y))
    assert net.steps == 0
    for key, value in net.get_state().items():
        np.testing.assert_array_equal(value, before[key])
    with pytest.raises(ValueError, match=r"y has shape \(2, 1\)"):
        net.fit(X, y, epochs=1, validation_data=(X, y[:2]))
    assert net.steps == 0


def test_an_unknown_or_unavailable_backend_is_refused_when_the_model_is_built():
    with pytest.raises(ValueError, match="unknown backend 'bogus'"):
        fastmlp.MLP([3, 2], backend="bogus")
    unavailable = [name for name in backends.registry() if not backends.is_available(name)]
    for name in unavailable:
        with pytest.raises(backends.BackendUnavailableError):
            fastmlp.MLP([3, 2], backend=name)
    net = fastmlp.MLP([3, 2])
    with pytest.raises(ValueError, match="unknown backend"):
        net.set_backend("bogus")


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_sklearn_batch_size_follows_scikit_learn():
    from fastmlp.sklearn import MLPClassifier

    X, y = np.random.default_rng(0).random((30, 4)), np.arange(30) % 3
    for bad in (0, -5, 2.5):
        with pytest.raises(ValueError, match="batch_size must be 'auto' or an int >= 1"):
            MLPClassifier(batch_size=bad, max_iter=2).fit(X, y)
    with pytest.warns(UserWarning, match="clipped to 30"):
        MLPClassifier(batch_size=100, max_iter=2).fit(X, y)


def test_set_num_threads_takes_numpy_integers():
    before = fastmlp.get_num_threads()
    try:
        fastmlp.set_num_threads(np.int64(1))
        assert fastmlp.get_num_threads() == 1
    finally:
        fastmlp.set_num_threads(before)
