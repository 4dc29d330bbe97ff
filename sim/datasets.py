"""The data sets a network trains on, each registered once (:data:`DATASETS`), and user files.

``--data`` takes a registered name or a file:

* ``digits`` (default): scikit-learn's 8×8 digits, the fixed split of :mod:`.data`
  (1,437 training, 360 test images), pixels p ∈ 0..16 → p/16.
* ``iris``, ``wine``, ``breast-cancer``: the other classification sets that ship inside
  scikit-learn (150 × 4 features, 3 classes; 178 × 13, 3; 569 × 30, 2).
* a file: ``.npz`` with arrays ``x`` (samples × features) and ``y`` (class labels 0..K−1),
  or ``.csv`` of numbers with the label in the last column (an optional header line).
* ``synthetic``: seeded random inputs in [0, 1) and targets in [−0.5, 0.5) of the network's
  shape (256 training, 64 test samples), for checking the RTL of any network: it has no
  classes, so no accuracy, only the squared error.

Every set but digits and synthetic is split by a seeded permutation (:data:`SPLIT_SEED`),
a fifth (rounded) for testing, and each feature is scaled by the training split's minimum
and maximum to [0, 1] (the test split clipped to it): the inputs' real range, which the
fixed-point format holds exactly at its ends (docs/numerics.md). Targets are one-hot (1.0
at the label). :func:`load_data` checks the network against the set, in one line.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import require_layer_kinds
from layerpipe.core.network import Network
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.registry import Registry
from layerpipe.sim import data as digits_data

__all__ = ["DATASETS", "DEFAULT_DATA", "SPLIT_SEED", "Samples", "DataSet", "load_data"]

DEFAULT_DATA = "digits"
SPLIT_SEED = 0
TEST_FRACTION = 0.2
SYNTHETIC_SIZES = (256, 64)  # training, test samples


@dataclass(frozen=True)
class Samples:
    """``n`` samples: inputs as reals in [0, 1], targets as reals, class labels (None: no classes)."""

    values: np.ndarray  # (n, features)
    target_values: np.ndarray  # (n, outputs)
    labels: np.ndarray | None  # (n,)

    def __len__(self) -> int:
        return len(self.values)

    def inputs(self, numerics: str, fmt: FixedFormat | None = None, network=None) -> np.ndarray:
        """(n, features), or the network's input shape: floats, or data words (round half up, saturated)."""
        shape = network.input_shape if isinstance(network, Network) else self.values.shape[1:]
        return _numbers(self.values, numerics, fmt).reshape((len(self),) + tuple(shape))

    def targets(self, numerics: str, fmt: FixedFormat | None = None) -> np.ndarray:
        return _numbers(self.target_values, numerics, fmt)


def _numbers(values: np.ndarray, numerics: str, fmt: FixedFormat | None) -> np.ndarray:
    if digits_data.check_numerics(numerics) == "float":
        return np.asarray(values, dtype=np.float64)
    return (fmt or FixedFormat()).quantize(values)


@dataclass(frozen=True)
class DataSet:
    name: str
    train: Samples | digits_data.Split
    test: Samples | digits_data.Split
    input_shapes: tuple[tuple[int, ...], ...]  # the network inputs it fits (digits: flat or 1×8×8)
    outputs: int
    classes: int | None  # None: regression (synthetic)
    scaling: str  # how the inputs were scaled and split, as printed

    def describe(self) -> str:
        kind = f"{self.classes} classes" if self.classes else "regression targets"
        return (f"data {self.name}: {len(self.train)} training and {len(self.test)} test samples of "
                f"{math.prod(self.input_shapes[0])} features, {kind}; {self.scaling}")

    def check(self, network: Network) -> None:
        """Refuse, in one line, a network whose input or output does not fit the set."""
        require_layer_kinds(network, "fixed")
        if network.input_shape not in self.input_shapes:
            shapes = " or ".join(f"{shape[0]} (fully connected)" if len(shape) == 1 else f"{list(shape)} (convolution)"
                                 for shape in self.input_shapes)
            given = network.input_shape[0] if len(network.input_shape) == 1 else list(network.input_shape)
            raise LayerPipeError(f"network '{network.name}' has input {given} but data '{self.name}' has "
                                 f"{math.prod(self.input_shapes[0])} features; set the network's 'input' to "
                                 f"{shapes}")
        if network.sizes[-1] != self.outputs:
            what = f"{self.classes} classes" if self.classes else f"{self.outputs} targets"
            raise LayerPipeError(f"network '{network.name}' has {network.sizes[-1]} outputs but data "
                                 f"'{self.name}' has {what}; set the last layer's 'out' to {self.outputs}")


@dataclass(frozen=True)
class DataSource:
    name: str
    title: str
    load: Callable[[Network, int], DataSet]  # (network, seed) -> the set
    models: frozenset[str] = frozenset({"float", "fixed", "functional", "rtl"})


def _digits(network: Network, seed: int) -> DataSet:
    digits = digits_data.load_digits()
    return DataSet("digits", digits.train, digits.test,
                   ((digits_data.INPUTS,), digits_data.IMAGE), digits_data.CLASSES, digits_data.CLASSES,
                   "pixels 0..16 scaled to p/16 exactly, the fixed split of sim/data.py")


def classification(name: str, x, y, seed: int = SPLIT_SEED) -> DataSet:
    """Features ``x`` and labels ``y`` (0..K−1): a seeded split, min-max scaled by the training split."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)
    if x.ndim != 2 or y.ndim != 1 or len(x) != len(y) or len(y) < 2:
        raise LayerPipeError(f"data '{name}': x must be (samples, features) and y (samples,) labels of the "
                             f"same length, not {x.shape} and {y.shape}")
    if not np.issubdtype(y.dtype, np.integer) and not np.all(np.equal(np.mod(y, 1), 0)):
        raise LayerPipeError(f"data '{name}': the labels must be integers 0..K-1")
    y = y.astype(np.int64)
    if y.min() < 0:
        raise LayerPipeError(f"data '{name}': labels must be 0..K-1, found {y.min()}")
    classes = int(y.max()) + 1
    order = np.random.default_rng(seed).permutation(len(y))
    test_size = max(1, round(TEST_FRACTION * len(y)))
    test, train = order[:test_size], order[test_size:]
    low, high = x[train].min(axis=0), x[train].max(axis=0)
    span = np.where(high > low, high - low, 1.0)

    def scaled(rows):
        return np.clip((x[rows] - low) / span, 0.0, 1.0)

    def samples(rows):
        return Samples(scaled(rows), digits_data.one_hot(y[rows], "float", classes=classes), y[rows])

    return DataSet(name, samples(train), samples(test), ((x.shape[1],),), classes, classes,
                   f"each feature scaled to [0, 1] by the training split's min and max; {test_size} test "
                   f"samples drawn by seed {seed}")


def _sklearn(loader_name: str, name: str) -> Callable[[Network, int], DataSet]:
    def load(network: Network, seed: int) -> DataSet:
        return _cached_sklearn(loader_name, name)

    return load


@lru_cache(maxsize=8)
def _cached_sklearn(loader_name: str, name: str) -> DataSet:
    import sklearn.datasets

    bunch = getattr(sklearn.datasets, loader_name)()
    return classification(name, bunch.data, bunch.target)


def _synthetic(network: Network, seed: int) -> DataSet:
    rng = np.random.default_rng(seed)
    features, outputs = network.layers[0].in_size, network.sizes[-1]

    def samples(count):
        return Samples(rng.uniform(0.0, 1.0, (count, features)), rng.uniform(-0.5, 0.5, (count, outputs)), None)

    train, test = (samples(count) for count in SYNTHETIC_SIZES)
    return DataSet("synthetic", train, test, (network.input_shape,), outputs, None,
                   f"uniform random inputs in [0, 1) and targets in [-0.5, 0.5) of seed {seed}")


DATASETS: Registry[DataSource] = Registry("data set", [
    DataSource("digits", "scikit-learn's 8x8 digits", _digits),
    DataSource("iris", "scikit-learn's iris", _sklearn("load_iris", "iris")),
    DataSource("wine", "scikit-learn's wine", _sklearn("load_wine", "wine")),
    DataSource("breast-cancer", "scikit-learn's breast cancer", _sklearn("load_breast_cancer", "breast-cancer")),
    DataSource("synthetic", "random samples of the network's shape", _synthetic),
])


def _file(path: Path) -> DataSet:
    if not path.is_file():
        raise LayerPipeError(f"--data {path}: no such file; give a data set ({', '.join(DATASETS)}) or a "
                             ".npz/.csv file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as arrays:
                missing = [key for key in ("x", "y") if key not in arrays]
                if missing:
                    raise LayerPipeError(f"--data {path}: the .npz file has no array '{missing[0]}'; it needs "
                                         "x (samples × features) and y (labels)")
                x, y = arrays["x"], arrays["y"]
        elif suffix == ".csv":
            text = path.read_text(encoding="utf-8").splitlines()
            rows = [line for line in text if line.strip()]
            try:
                float(rows[0].split(",")[0])
            except (ValueError, IndexError):
                rows = rows[1:]  # a header line
            table = np.array([[float(cell) for cell in row.split(",")] for row in rows])
            if table.ndim != 2 or table.shape[1] < 2:
                raise LayerPipeError(f"--data {path}: a .csv needs feature columns and a label column")
            x, y = table[:, :-1], table[:, -1]
        else:
            raise LayerPipeError(f"--data {path}: unknown file type '{suffix}'; use .npz (x, y) or .csv "
                                 "(label in the last column)")
    except (ValueError, OSError) as error:
        raise LayerPipeError(f"--data {path}: cannot be read: {str(error).splitlines()[0]}") from None
    return classification(path.name, x, y)


def load_data(name: str, network: Network, seed: int = 0) -> DataSet:
    """The data set ``name`` (a registered name or a file), checked against ``network`` (one-line errors)."""
    if name in DATASETS:
        dataset = DATASETS[name].load(network, seed)
    elif Path(name).suffix:
        dataset = _file(Path(name))
    else:
        raise LayerPipeError(f"--data {name}: not a data set; use {', '.join(DATASETS)} or a .npz/.csv file")
    dataset.check(network)
    return dataset
