"""Preprocessing transformers: the notes' recipes, scikit-learn conventions, streaming fits."""

import numpy as np
import pytest

from fastmlp import backends
from fastmlp.preprocessing import PCA, MeanSubtraction, RangeScale, Standardize, Whitening

sklearn_checks = pytest.importorskip("sklearn.utils.estimator_checks")
BACKENDS = [name for name in backends.available() if name != "cuda"]

ESTIMATORS = [
    MeanSubtraction(),
    MeanSubtraction(axis="global"),
    MeanSubtraction(axis="channel", n_channels=1),
    Standardize(),
    RangeScale(),
    PCA(),
    PCA(n_components=2),
    Whitening(),
    Whitening("pca", n_components=2, eps=1e-3),
]


@sklearn_checks.parametrize_with_checks(ESTIMATORS)
def test_scikit_learn_conventions(estimator, check):
    check(estimator)


def _correlated(n=2000, d=6, seed=0):
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((d, d)) * np.linspace(0.2, 3, d)
    return rng.standard_normal((n, d)) @ mix + rng.standard_normal(d) * 5


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("method", ["pca", "zca"])
def test_whitened_training_data_has_identity_covariance(method, backend):
    X = _correlated()
    eps = 1e-8
    white = Whitening(method, eps=eps, backend=backend).fit(X)
    Z = white.transform(X)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-9)
    cov = Z.T @ Z / len(Z)
    # exactly S / (S + eps) on the diagonal: identity up to eps effects
    np.testing.assert_allclose(cov, np.eye(X.shape[1]), atol=1e-6)


def test_zca_is_pca_whitening_rotated_back():
    X = _correlated()
    pca_white = Whitening("pca", eps=1e-5).fit(X)
    zca = Whitening("zca", eps=1e-5).fit(X)
    np.testing.assert_allclose(zca.transform(X), pca_white.transform(X) @ pca_white.components_, atol=1e-9)


def test_eps_smooths_low_variance_directions():
    X = _correlated()
    big = Whitening("pca", eps=10.0).fit(X)
    Z = big.transform(X)
    want = big.explained_variance_ / (big.explained_variance_ + 10.0)
    np.testing.assert_allclose(Z.var(axis=0), want, rtol=1e-6)


def test_pca_matches_scikit_learn_up_to_sign():
    decomposition = pytest.importorskip("sklearn.decomposition")
    X = _correlated()
    mine = PCA(n_components=3).fit(X)
    gold = decomposition.PCA(n_components=3).fit(X)
    got, want = mine.transform(X), gold.transform(X)
    signs = np.sign((got * want).sum(axis=0))
    np.testing.assert_allclose(got * signs, want, atol=1e-8)
    n = len(X)  # the notes normalise by N, scikit-learn by N - 1
    np.testing.assert_allclose(mine.explained_variance_ * n / (n - 1), gold.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(mine.explained_variance_ratio_, gold.explained_variance_ratio_, rtol=1e-10)


@pytest.mark.parametrize(
    "make",
    [
        PCA,
        lambda: Whitening("zca"),
        lambda: Whitening("pca", n_components=3),
        Standardize,
        RangeScale,
        MeanSubtraction,
        lambda: MeanSubtraction(axis="channel", n_channels=3, layout="hwc"),
    ],
    ids=["pca", "zca", "pca-white-3", "standardize", "range", "mean", "mean-channel"],
)
def test_partial_fit_equals_fit(make):
    X = _correlated(n=999, d=6)
    whole = make().fit(X)
    chunks = make()
    for part in np.array_split(X, 7):
        chunks.partial_fit(part)
    np.testing.assert_allclose(chunks.transform(X), whole.transform(X), rtol=1e-9, atol=1e-9)


def test_partial_fit_can_defer_the_eigendecomposition():
    X = _correlated(n=500)
    pca = PCA(n_components=2)
    for part in np.array_split(X, 5):
        pca.partial_fit(part, compute=False)
    pca.finalize()
    np.testing.assert_allclose(pca.transform(X), PCA(n_components=2).fit(X).transform(X), atol=1e-9)


@pytest.mark.parametrize("make", [Standardize, RangeScale, MeanSubtraction, PCA, Whitening])
def test_test_statistics_never_leak_into_the_fit(make):
    train, test = _correlated(seed=1), _correlated(seed=2) * 3 + 7
    fitted = make().fit(train)
    state = {k: np.copy(v) for k, v in vars(fitted).items() if k.endswith("_")}
    first = fitted.transform(test)
    for k, v in state.items():
        np.testing.assert_array_equal(getattr(fitted, k), v, err_msg=f"transform changed {k}")
    shifted = fitted.transform(test + 1.0)  # a transform of other data cannot change the mapping
    np.testing.assert_allclose(fitted.transform(test), first)
    assert not np.allclose(shifted, first)


def test_standardize_constant_feature_and_range():
    X = np.column_stack([np.full(10, 4.0), np.arange(10.0)])
    Z = Standardize().fit_transform(X)
    np.testing.assert_array_equal(Z[:, 0], 0.0)
    assert Z[:, 1].mean() == pytest.approx(0) and Z[:, 1].std() == pytest.approx(1)
    R = RangeScale().fit_transform(X)
    np.testing.assert_array_equal(R[:, 0], 0.0)
    np.testing.assert_allclose([R[:, 1].min(), R[:, 1].max()], [-1, 1])


def test_channel_means_for_both_layouts():
    rng = np.random.default_rng(0)
    img = rng.standard_normal((5, 3, 2, 2)) + np.array([10.0, 20.0, 30.0])[None, :, None, None]  # (N, C, H, W)
    chw = img.reshape(5, -1)
    hwc = img.transpose(0, 2, 3, 1).reshape(5, -1)
    want = img.mean(axis=(0, 2, 3))
    m1 = MeanSubtraction(axis="channel", n_channels=3, layout="chw").fit(chw)
    m2 = MeanSubtraction(axis="channel", n_channels=3, layout="hwc").fit(hwc)
    np.testing.assert_allclose(m1.mean_, want)
    np.testing.assert_allclose(m2.mean_, want)
    np.testing.assert_allclose(m1.transform(chw).reshape(5, 3, 2, 2).mean(axis=(0, 2, 3)), 0, atol=1e-12)
    g = MeanSubtraction(axis="global").fit(chw)
    assert float(g.mean_) == pytest.approx(chw.mean())
    with pytest.raises(ValueError, match="multiple of n_channels"):
        MeanSubtraction(axis="channel", n_channels=5).fit(chw)


@pytest.mark.parametrize(
    "make", [Standardize, RangeScale, MeanSubtraction, PCA, lambda: Whitening("zca"), lambda: Whitening("pca")]
)
def test_inverse_transform_round_trips(make):
    X = _correlated(n=300)
    t = make().fit(X)
    np.testing.assert_allclose(t.inverse_transform(t.transform(X)), X, rtol=1e-8, atol=1e-8)


def test_rank_deficient_data_whitens_finitely():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((400, 2))
    X = np.column_stack([base, base @ [1.0, -2.0], np.zeros(400)])  # rank 2 of 4
    for method in ("pca", "zca"):
        Z = Whitening(method, eps=1e-5).fit_transform(X)
        assert np.all(np.isfinite(Z))
        assert np.abs(Z).max() < 1e3


def test_bad_parameters_are_named():
    X = _correlated(n=50, d=4)
    with pytest.raises(ValueError, match="n_components=5 but the data has only 4 features"):
        PCA(n_components=5).fit(X)
    with pytest.raises(ValueError, match="eps"):
        Whitening(eps=0).fit(X)
    with pytest.raises(ValueError, match="method"):
        Whitening(method="svd").fit(X)
    with pytest.raises(ValueError, match="axis"):
        MeanSubtraction(axis="pixel").fit(X)
    with pytest.raises(ValueError, match="4 features"):
        PCA().fit(X).transform(X[:, :3])


def test_float32_stays_float32():
    X = _correlated(n=100).astype(np.float32)
    for t in (PCA(), Whitening(), Standardize(), RangeScale(), MeanSubtraction()):
        assert t.fit(X).transform(X).dtype == np.float32, type(t).__name__
