"""``--data``: the registered data sets and user files (sim/datasets.py), checked against the network."""

from __future__ import annotations

import numpy as np
import pytest

from layerpipe.cli import main
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import network_from_dict
from layerpipe.core.numerics import FixedFormat
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.sim import data as digits_data
from layerpipe.sim.datasets import DATASETS, classification, load_data
from layerpipe.sim.learning import learning_curve


def mlp(*sizes):
    return network_from_dict({"name": "-".join(map(str, sizes)), "input": sizes[0],
                              "layers": [{"kind": "fc", "out": n} for n in sizes[1:]]})


@pytest.mark.parametrize("name,features,classes,samples", [
    ("iris", 4, 3, 150), ("wine", 13, 3, 178), ("breast-cancer", 30, 2, 569)])
def test_the_scikit_learn_sets_are_split_and_scaled(name, features, classes, samples):
    dataset = load_data(name, mlp(features, 8, classes))
    assert len(dataset.train) + len(dataset.test) == samples
    assert len(dataset.test) == round(0.2 * samples)
    x = dataset.train.inputs("float")
    assert x.shape == (len(dataset.train), features)
    assert np.allclose(x.min(axis=0), 0.0) and np.allclose(x.max(axis=0), 1.0)  # min-max of the training split
    test = dataset.test.inputs("float")
    assert test.min() >= 0.0 and test.max() <= 1.0  # clipped to the training split's range
    targets = dataset.train.targets("float")
    assert np.array_equal(np.argmax(targets, axis=1), dataset.train.labels) and np.all(targets.sum(axis=1) == 1)
    fmt = FixedFormat()
    assert np.array_equal(dataset.train.inputs("fixed", fmt), fmt.quantize(x))
    assert set(np.unique(dataset.train.labels)) == set(range(classes))


def test_digits_is_the_fixed_split_of_sim_data():
    dataset = load_data("digits", zoo_network("mlp-digits"))
    digits = digits_data.load_digits()
    assert dataset.train is digits.train and dataset.test is digits.test
    assert load_data("digits", zoo_network("cnn-digits")).input_shapes == ((64,), (1, 8, 8))


def test_synthetic_takes_the_networks_shape_and_has_no_classes():
    network = mlp(16, 12, 6, 3)
    dataset = load_data("synthetic", network, seed=3)
    assert dataset.classes is None and dataset.train.labels is None
    assert dataset.train.inputs("float").shape == (256, 16) and dataset.test.targets("float").shape == (64, 3)
    again = load_data("synthetic", network, seed=3)
    assert np.array_equal(again.train.inputs("fixed"), dataset.train.inputs("fixed"))
    assert not np.array_equal(load_data("synthetic", network, seed=4).train.inputs("fixed"),
                              dataset.train.inputs("fixed"))
    curve = learning_curve(network, None, numerics="fixed", epochs=1, dataset=dataset)
    assert curve.final.test_accuracy is None and curve.final.mean_squared_error > 0
    cnn = load_data("synthetic", zoo_network("cnn-digits"))
    assert cnn.train.inputs("fixed", network=zoo_network("cnn-digits")).shape == (256, 1, 8, 8)


@pytest.mark.parametrize("name,network,message", [
    ("iris", (16, 12, 6, 3), "network '16-12-6-3' has input 16 but data 'iris' has 4 features; set the network's "
                             "'input' to 4"),
    ("wine", (13, 8, 2), "network '13-8-2' has 2 outputs but data 'wine' has 3 classes; set the last layer's "
                         "'out' to 3"),
    ("mnist", (4, 3), "--data mnist: not a data set; use digits, iris, wine, breast-cancer, synthetic or a "
                      ".npz/.csv file"),
    ("missing.npz", (4, 3), "--data missing.npz: no such file"),
])
def test_a_mismatch_is_one_line(name, network, message):
    with pytest.raises(LayerPipeError) as error:
        load_data(name, mlp(*network))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_user_files_npz_and_csv(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5))
    y = (x[:, 0] > 0).astype(int)
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    from_npz = load_data(str(tmp_path / "mine.npz"), mlp(5, 4, 2))
    (tmp_path / "mine.csv").write_text("a,b,c,d,e,label\n" + "\n".join(
        ",".join(f"{v:.17g}" for v in row) + f",{label}" for row, label in zip(x, y)))
    from_csv = load_data(str(tmp_path / "mine.csv"), mlp(5, 4, 2))
    assert np.array_equal(from_npz.train.inputs("fixed"), from_csv.train.inputs("fixed"))
    assert from_npz.classes == 2 and len(from_npz.test) == 8
    np.savez(tmp_path / "bad.npz", x=x)
    with pytest.raises(LayerPipeError, match="has no array 'y'"):
        load_data(str(tmp_path / "bad.npz"), mlp(5, 2))
    with pytest.raises(LayerPipeError, match="labels must be integers"):
        classification("halves", x, y + 0.5)
    with pytest.raises(LayerPipeError, match="unknown file type '.txt'"):
        (tmp_path / "x.txt").write_text("1,2")
        load_data(str(tmp_path / "x.txt"), mlp(1, 2))


def test_train_on_other_sets_beats_the_majority_class(capsys):
    """wine and breast-cancer on small MLPs: better than always guessing the largest class (report the numbers)."""
    for name, network in (("wine", mlp(13, 16, 3)), ("breast-cancer", mlp(30, 16, 2))):
        dataset = load_data(name, network)
        majority = np.bincount(dataset.test.labels).max() / len(dataset.test)
        curve = learning_curve(network, schedule(network, 2, "layerpipe"), numerics="fixed",
                               fmt=FixedFormat(lr_shift=4), epochs=20, dataset=dataset)
        print(f"{name}: test accuracy {100 * curve.final.test_accuracy:.1f} %, majority {100 * majority:.1f} %")
        assert curve.final.test_accuracy > majority + 0.1


def test_cli_data_option(capsys, tmp_path):
    path = tmp_path / "iris.toml"
    path.write_text('name = "iris"\ninput = 4\n[[layers]]\nkind = "fc"\nout = 16\n[[layers]]\nkind = "fc"\nout = 3\n')
    assert main(["train", "--network", str(path), "--data", "iris", "--epochs", "2", "--processors", "2"]) == 0
    out, err = capsys.readouterr()
    assert "on iris" in out and "data iris: 120 training and 30 test samples of 4 features, 3 classes" in err
    assert main(["train", "--network", str(path), "--data", "wine"]) == 2
    assert "has input 4 but data 'wine' has 13 features" in capsys.readouterr().err
    assert set(DATASETS) == {"digits", "iris", "wine", "breast-cancer", "synthetic"}
