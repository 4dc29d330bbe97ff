"""Learning curves: the golden model trained on a data set (sim/datasets.py) for some epochs, accuracy after each.

Shared by ``layerpipe train`` and ``benchmarks/convergence.py`` so both measure the same
thing. The epochs form one continuous sample stream (the pipeline does not drain
between them); each epoch visits the training set in a fresh order drawn from ``seed``,
which also seeds the initial weights.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.numerics import FixedFormat
from layerpipe.sim import golden
from layerpipe.sim.datasets import DEFAULT_DATA, DataSet, load_data

__all__ = ["EpochResult", "LearningCurve", "learning_curve"]


@dataclass(frozen=True)
class EpochResult:
    epoch: int  # 0: the initial weights
    train_accuracy: float | None  # with the weights after the epoch's last update (None: no classes)
    test_accuracy: float | None
    mean_squared_error: float | None  # ‖a_L − t‖² in real units, averaged over the epoch as trained (stale)


@dataclass
class LearningCurve:
    epochs: list[EpochResult] = field(default_factory=list)
    weights: list[np.ndarray] = field(default_factory=list)  # after the last epoch
    biases: list = field(default_factory=list)  # after the last epoch, None for a layer without a bias

    @property
    def final(self) -> EpochResult:
        return self.epochs[-1]


def learning_curve(network, staleness=None, weights: str = "stash", numerics: str = "fixed",
                   fmt: FixedFormat | None = None, epochs: int = 15, seed: int = 0, lr: float | None = None,
                   dataset: DataSet | None = None,
                   progress: Callable[[EpochResult], None] | None = None) -> LearningCurve:
    """Train ``network`` on a data set's training split (default digits); evaluate train and test accuracy
    per epoch (None for a set without classes: synthetic)."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise LayerPipeError(f"epochs is {epochs!r}; give an integer >= 0")
    digits = dataset or load_data(DEFAULT_DATA, network)
    fmt = fmt or FixedFormat()
    model = golden.GoldenModel(network, staleness, weights, numerics, fmt, seed=seed, lr=lr)
    train_x, train_t = digits.train.inputs(numerics, fmt, network), digits.train.targets(numerics, fmt)
    test_x = digits.test.inputs(numerics, fmt, network)
    scale = 1.0 if numerics == "float" else float(fmt.one) ** 2  # squared error's binary point: 2·frac_bits
    order = np.random.default_rng(seed)
    curve = LearningCurve()

    def accuracy(x, labels):
        return None if labels is None else golden.accuracy(model.weights, x, labels, numerics, fmt, network,
                                                              model.biases)

    def record(epoch: int, errors) -> None:
        result = EpochResult(epoch, accuracy(train_x, digits.train.labels), accuracy(test_x, digits.test.labels),
                             None if errors is None else float(np.mean(errors)) / scale)
        curve.epochs.append(result)
        if progress is not None:
            progress(result)

    record(0, None)
    for epoch in range(1, epochs + 1):
        visit = order.permutation(len(train_x))
        record(epoch, model.run(train_x[visit], train_t[visit]).squared_errors)
    curve.weights, curve.biases = model.weights, model.biases
    return curve
