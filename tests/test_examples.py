"""The gallery (fastmlp/examples): every example runs at a tiny size and writes real PNGs, each
with the panels it promises; the CLI runs them and lists them."""

import json

import numpy as np
import pytest

from fastmlp import examples
from fastmlp.cli import main

plt = pytest.importorskip("matplotlib.pyplot")  # in the test extra; the gallery needs it

EXPECTED = {
    "spiral": ["spiral_capacity.png", "spiral_regularization.png"],
    "preprocessing": ["preprocessing_clouds.png", "preprocessing_digits.png"],
    "activations": ["activations.png"],
    "learning": ["learning.png"],
}


@pytest.mark.parametrize("name", examples.NAMES)
def test_each_example_writes_its_figures(name, tmp_path):
    paths = examples.run(name, tmp_path / "out", quick=True)
    assert sorted(p.rsplit("/", 1)[-1] for p in paths) == sorted(EXPECTED[name])
    for path in paths:
        image = plt.imread(path)
        assert image.ndim == 3 and image.shape[0] > 200 and image.shape[1] > 300
        assert np.std(image[..., :3]) > 0.05  # drawn on, not a blank canvas


def test_the_activation_curves_are_the_ops_derivatives():
    from fastmlp.examples.activations import curves

    x = np.linspace(-3, 3, 61)
    found = curves(x)
    sig = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(found["sigmoid"][1], sig * (1 - sig), rtol=1e-12)
    np.testing.assert_allclose(found["tanh"][1], 1 - np.tanh(x) ** 2, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(found["ReLU"][1], (x > 0).astype(float))
    np.testing.assert_allclose(found["maxout of 2 lines"][0], np.maximum(0.5 * x - 0.2, -x + 0.1))
    np.testing.assert_array_equal(found["maxout of 2 lines"][1], np.where(0.5 * x - 0.2 >= -x + 0.1, 0.5, -1.0))


def test_spiral_data_is_the_notes_spiral():
    from fastmlp.examples.spiral import spiral_data

    X, y = spiral_data(100)
    assert X.shape == (300, 2) and np.bincount(y).tolist() == [100, 100, 100]
    radius = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(radius[:100], np.linspace(0, 1, 100), atol=1e-6)


def test_cli_lists_and_runs_examples(tmp_path, capsys):
    assert main(["examples", "--list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in examples.NAMES)
    assert main(["examples", "activations", "--quick", "--out", str(tmp_path), "--json"]) == 0
    written = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["written"]
    assert written == {"activations": [str(tmp_path / "activations.png")]}
    with pytest.raises(SystemExit) as exc:
        main(["examples", "nonsense"])
    assert exc.value.code == 2


def test_the_readme_links_every_figure():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text()
    for names in EXPECTED.values():
        for name in names:
            assert f"docs/figures/{name}" in readme, name
            assert (root / "docs" / "figures" / name).is_file(), name
