"""``fastmlp.compat.cs231n`` as a package laid out like the assignments' ``cs231n``: every import
line of the assignments works with ``cs231n`` replaced, the notebooks' own checks pass (their fixed
``np.linspace`` inputs, hard-coded expected outputs and tolerances), models save and load without
pickle, and CIFAR-10 loads from a local folder."""

import importlib

import numpy as np
import pytest

from fastmlp.compat.cs231n.gradient_check import eval_numerical_gradient, rel_error

IMPORT_LINES = {
    "layers": ["affine_forward", "affine_backward", "relu_forward", "relu_backward", "batchnorm_forward",
               "batchnorm_backward", "batchnorm_backward_alt", "layernorm_forward", "layernorm_backward",
               "dropout_forward", "dropout_backward", "softmax_loss", "svm_loss"],
    "layer_utils": ["affine_relu_forward", "affine_relu_backward"],
    "optim": ["sgd", "sgd_momentum", "rmsprop", "adam"],
    "solver": ["Solver"],
    "gradient_check": ["eval_numerical_gradient", "eval_numerical_gradient_array", "grad_check_sparse", "rel_error"],
    "classifiers.fc_net": ["FullyConnectedNet", "TwoLayerNet"],
    "classifiers.neural_net": ["TwoLayerNet"],
    "data_utils": ["load_CIFAR10", "load_CIFAR_batch", "get_CIFAR10_data"],
}  # fmt: skip


@pytest.mark.parametrize("module", sorted(IMPORT_LINES))
def test_every_assignment_import_line_works(module):
    namespace: dict = {}
    exec(f"from fastmlp.compat.cs231n.{module} import *", namespace)  # the assignments' own form
    missing = [name for name in IMPORT_LINES[module] if name not in namespace]
    assert not missing, f"from cs231n.{module} import * lacks {missing}"
    assert importlib.import_module(f"fastmlp.compat.cs231n.{module}")
    namespace = {}
    exec("from fastmlp.compat.cs231n import optim, layers, solver", namespace)
    assert callable(namespace["optim"].adam) and callable(namespace["layers"].affine_forward)


# ----------------------------------------------------------------- assignment 2 notebook checks


def test_affine_forward_notebook_check():
    from fastmlp.compat.cs231n.layers import affine_forward

    num_inputs, input_shape, output_dim = 2, (4, 5, 6), 3
    input_size = num_inputs * np.prod(input_shape)
    weight_size = output_dim * np.prod(input_shape)
    x = np.linspace(-0.1, 0.5, num=input_size).reshape(num_inputs, *input_shape)
    w = np.linspace(-0.2, 0.3, num=weight_size).reshape(np.prod(input_shape), output_dim)
    b = np.linspace(-0.3, 0.1, num=output_dim)
    out, _ = affine_forward(x, w, b)
    correct_out = np.array([[1.49834967, 1.70660132, 1.91485297], [3.25553199, 3.5141327, 3.77273342]])
    assert rel_error(out, correct_out) < 1e-9


def test_relu_forward_notebook_check():
    from fastmlp.compat.cs231n.layers import relu_forward

    x = np.linspace(-0.5, 0.5, num=12).reshape(3, 4)
    out, _ = relu_forward(x)
    correct_out = np.array(
        [[0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.04545455, 0.13636364], [0.22727273, 0.31818182, 0.40909091, 0.5]]
    )
    assert rel_error(out, correct_out) < 5e-8


def _update_inputs():
    N, D = 4, 5
    w = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
    dw = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)
    return N, D, w, dw


def test_sgd_momentum_notebook_check():
    from fastmlp.compat.cs231n.optim import sgd_momentum

    N, D, w, dw = _update_inputs()
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-3, "velocity": v}
    next_w, _ = sgd_momentum(w, dw, config=config)
    expected_next_w = np.asarray(
        [
            [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
            [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
            [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
            [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096],
        ]
    )
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])  # fmt: skip
    assert rel_error(next_w, expected_next_w) < 1e-8
    assert rel_error(expected_velocity, config["velocity"]) < 1e-8


def test_rmsprop_notebook_check():
    from fastmlp.compat.cs231n.optim import rmsprop

    N, D, w, dw = _update_inputs()
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "cache": cache}
    next_w, _ = rmsprop(w, dw, config=config)
    expected_next_w = np.asarray(
        [
            [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
            [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
            [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
            [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619],
        ]
    )
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])  # fmt: skip
    assert rel_error(expected_next_w, next_w) < 1e-7
    assert rel_error(expected_cache, config["cache"]) < 1e-7


def test_adam_notebook_check():
    from fastmlp.compat.cs231n.optim import adam

    N, D, w, dw = _update_inputs()
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "m": m, "v": v, "t": 5}
    next_w, _ = adam(w, dw, config=config)
    expected_next_w = np.asarray(
        [
            [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
            [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
            [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
            [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459],
        ]
    )
    expected_v = np.asarray(
        [
            [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
            [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
            [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
            [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966],
        ]
    )
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])  # fmt: skip
    # "relative errors around e-7 or less": the expected values are printed to 8 decimals, which
    # alone is 1.1e-7 of relative error on next_w's smallest entry (0.01971428)
    assert rel_error(expected_next_w, next_w) < 2e-7
    assert rel_error(expected_v, config["v"]) < 1e-7
    assert rel_error(expected_m, config["m"]) < 1e-7


def test_fc_net_two_layer_net_notebook_check():
    from fastmlp.compat.cs231n.classifiers.fc_net import TwoLayerNet

    np.random.seed(231)
    N, D, H, C = 3, 5, 50, 7
    std = 1e-3
    model = TwoLayerNet(input_dim=D, hidden_dim=H, num_classes=C, weight_scale=std)
    assert abs(model.params["W1"].std() - std) < std / 10 and np.all(model.params["b1"] == 0)
    assert abs(model.params["W2"].std() - std) < std / 10 and np.all(model.params["b2"] == 0)
    model.params["W1"] = np.linspace(-0.7, 0.3, num=D * H).reshape(D, H)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=H)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=H * C).reshape(H, C)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=C)
    X = np.linspace(-5.5, 4.5, num=N * D).reshape(D, N).T
    correct_scores = np.asarray([
        [11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
        [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
        [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])  # fmt: skip
    assert np.abs(model.loss(X) - correct_scores).sum() < 1e-6
    y = np.asarray([0, 5, 1])
    assert abs(model.loss(X, y)[0] - 3.4702243556) < 1e-10
    model.reg = 1.0
    assert abs(model.loss(X, y)[0] - 26.5948426952) < 1e-10


def test_fully_connected_net_initial_losses():
    """The notebook's sanity check: at small weights the loss is about log(C), and the L2
    penalty adds 0.5 * reg * sum(W**2) on top."""
    from fastmlp.compat.cs231n.classifiers.fc_net import FullyConnectedNet

    np.random.seed(231)
    N, D, H1, H2, C = 2, 15, 20, 30, 10
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    for reg in (0.0, 3.14):
        model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, reg=reg, weight_scale=5e-2, dtype=np.float64)
        loss, grads = model.loss(X, y)
        penalty = 0.5 * reg * sum(np.sum(model.params[f"W{i}"] ** 2) for i in (1, 2, 3))
        assert abs(loss - penalty - np.log(C)) < 0.05
        # the notebook's own run of this check shows W2 at 2.2e-5 (a ReLU kink inside the finite
        # difference's step), the others 1e-7 or less: the same numbers come out here
        for name in sorted(grads):
            num = eval_numerical_gradient(lambda _, m=model: m.loss(X, y)[0], model.params[name], verbose=False, h=1e-5)
            assert rel_error(num, grads[name]) < (5e-5 if name == "W2" else 1e-6), name


# ----------------------------------------------------------------- assignment 1's TwoLayerNet


def _toy():
    from fastmlp.compat.cs231n.classifiers.neural_net import TwoLayerNet

    np.random.seed(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    return net, X, np.array([0, 1, 2, 2, 1])


def test_neural_net_two_layer_net_notebook_checks():
    net, X, y = _toy()
    correct_scores = np.asarray([
        [-0.81233741, -1.27654624, -0.70335995],
        [-0.17129677, -1.18803311, -0.47310444],
        [-0.51590475, -1.01354314, -0.8504215],
        [-0.15419291, -0.48629638, -0.52901952],
        [-0.00618733, -0.12435261, -0.15226949]])  # fmt: skip
    assert np.sum(np.abs(net.loss(X) - correct_scores)) < 1e-7
    loss, grads = net.loss(X, y, reg=0.05)
    assert abs(loss - 1.30378789133) < 1e-12
    for name in grads:
        num = eval_numerical_gradient(lambda _: net.loss(X, y, reg=0.05)[0], net.params[name], verbose=False)
        assert rel_error(num, grads[name]) < 1e-8, name


def test_neural_net_two_layer_net_trains_on_the_toy_data():
    net, X, y = _toy()
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
    assert len(stats["loss_history"]) == 100
    assert stats["loss_history"][-1] < 0.05  # the notebook: "final training loss" ~0.017
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 100
    np.testing.assert_array_equal(net.predict(X), y)


# ----------------------------------------------------------------- save / load


@pytest.mark.parametrize("which", ["fc_net.FullyConnectedNet", "fc_net.TwoLayerNet", "neural_net.TwoLayerNet"])
def test_models_save_and_load_without_pickle(which, tmp_path, capsys):
    module, name = which.split(".")
    cls = getattr(importlib.import_module(f"fastmlp.compat.cs231n.classifiers.{module}"), name)
    make = {
        "fc_net.FullyConnectedNet": lambda: cls([6, 5], input_dim=4, num_classes=3, normalization="batchnorm"),
        "fc_net.TwoLayerNet": lambda: cls(input_dim=4, hidden_dim=6, num_classes=3),
        "neural_net.TwoLayerNet": lambda: cls(4, 6, 3, std=1e-1),
    }[which]
    model = make()
    path = tmp_path / "model"
    model.save(path)
    assert "saved" in capsys.readouterr().out
    with np.load(str(path) + ".npz", allow_pickle=False) as npz:
        assert set(npz.files) == set(model.params)
    other = make()
    assert other.load(path) is True
    for key, value in model.params.items():
        np.testing.assert_array_equal(other.params[key], value)
        assert other.params[key].dtype == value.dtype
    assert other.load(tmp_path / "missing") is False
    assert "not available" in capsys.readouterr().out
    np.savez(tmp_path / "wrong.npz", W1=np.zeros((2, 2)))
    with pytest.raises(ValueError, match="holds parameters"):
        other.load(tmp_path / "wrong.npz")


# ----------------------------------------------------------------- CIFAR-10 from a local folder


def _write_batches(folder, n_train=20, n_test=12, seed=0):
    """CIFAR-10's binary layout: records of a label byte, then the red, green and blue planes."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, n in [*((f"data_batch_{i}.bin", n_train) for i in range(1, 6)), ("test_batch.bin", n_test)]:
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        planes = rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8)
        records = np.concatenate([labels[:, None], planes.reshape(n, -1)], axis=1)
        (folder / name).write_bytes(records.tobytes())
        written[name] = (labels, planes)
    return written


def test_load_cifar10_reads_the_binary_batches(tmp_path):
    from fastmlp.compat.cs231n.data_utils import load_CIFAR10

    written = _write_batches(tmp_path / "cifar-10-batches-bin")
    Xtr, Ytr, Xte, Yte = load_CIFAR10(tmp_path)  # the folder above works too
    assert Xtr.shape == (100, 32, 32, 3) and Xte.shape == (12, 32, 32, 3) and Xtr.dtype == np.float64
    labels, planes = written["data_batch_2.bin"]
    np.testing.assert_array_equal(Ytr[20:40], labels)
    np.testing.assert_array_equal(Xtr[20:40], planes.transpose(0, 2, 3, 1))  # (N, H, W, C), as the loader gives
    np.testing.assert_array_equal(Yte, written["test_batch.bin"][0])


def test_get_cifar10_data_splits_centres_and_puts_channels_first(tmp_path):
    from fastmlp.compat.cs231n.data_utils import get_CIFAR10_data, load_CIFAR10

    _write_batches(tmp_path)
    data = get_CIFAR10_data(num_training=80, num_validation=20, num_test=10, cifar10_dir=tmp_path)
    Xtr, Ytr, _, _ = load_CIFAR10(tmp_path)
    mean = Xtr[:80].mean(axis=0)
    assert data["X_train"].shape == (80, 3, 32, 32) and data["X_val"].shape == (20, 3, 32, 32)
    assert data["X_test"].shape == (10, 3, 32, 32)
    np.testing.assert_allclose(data["X_val"], (Xtr[80:100] - mean).transpose(0, 3, 1, 2))
    np.testing.assert_array_equal(data["y_val"], Ytr[80:100])
    with pytest.raises(ValueError, match="asked for"):
        get_CIFAR10_data(num_training=100, num_validation=1, cifar10_dir=tmp_path)


def test_cifar10_loader_refuses_pickles_and_broken_files(tmp_path):
    from fastmlp.compat.cs231n.data_utils import load_CIFAR10, load_CIFAR_batch

    python_version = tmp_path / "cifar-10-batches-py"
    python_version.mkdir()
    (python_version / "data_batch_1").write_bytes(b"\x80\x04 a pickle")
    with pytest.raises(ValueError, match="pickled"):
        load_CIFAR10(python_version)
    with pytest.raises(FileNotFoundError):
        load_CIFAR10(tmp_path / "nothing")
    cut = tmp_path / "cut.bin"
    cut.write_bytes(b"\x01" * 3000)
    with pytest.raises(ValueError, match="whole number of CIFAR-10 records"):
        load_CIFAR_batch(cut)
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes([12]) + b"\x00" * 3072)
    with pytest.raises(ValueError, match="label 12"):
        load_CIFAR_batch(bad)
