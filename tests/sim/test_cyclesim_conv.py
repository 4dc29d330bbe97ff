"""Cycle simulator, functional mode on conv tables: executing them trains bit for bit like the golden model.

The datapath runs each layer through the golden model's layer code (sim/layers.py), so
what is tested here is that the values the delay lines carry between tasks (a_l, mask_l,
err_l in the shapes the next kernel takes) and the weight versions the execution lets
each task see give the golden model's training, on cnn-digits and on random small CNNs.
"""

import functools

import numpy as np
import pytest

from layerpipe.cli import main
from layerpipe.core.costs import CostModel
from layerpipe.core.network import network_from_dict
from layerpipe.core.numerics import FixedFormat
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.sim import golden
from layerpipe.sim.cyclesim import simulate
from layerpipe.sim.functional import run_functional, training_setup
from tests.helpers.functional import training_mismatches

SAMPLES = 10  # past every cnn-digits table's fill at P <= 4 (largest forward staleness 4)
SEEDS = (4, 8)  # two conv layers of kernel 5 with padding and pooling; one of kernel 1 pooling 2 channels
FMT = FixedFormat(lr_shift=2)  # a large step: stash and latest, and stale and fresh reads, train differently


@functools.cache
def _digits():
    return training_setup(zoo_network("cnn-digits"), SAMPLES, seed=0, fmt=FMT)


def _random_cnn(seed: int):
    """1–2 conv layers (kernel 1, 3 or 5, any padding that leaves an output, pool 1 or 2) and an fc output."""
    rng = np.random.default_rng(seed)
    side = size = int(rng.integers(5, 10))
    layers = []
    for _ in range(int(rng.integers(1, 3))):
        kernel = int(rng.choice([1, 3, 5]))
        padding = int(rng.integers(max(0, -(-(kernel - size) // 2)), kernel // 2 + 1))
        out = size + 2 * padding - kernel + 1
        pool = int(rng.integers(1, 3)) if out >= 2 else 1
        layers.append({"kind": "conv", "out_channels": int(rng.integers(1, 5)), "kernel": kernel,
                       "padding": padding, "pool": pool})
        size = out // pool
    layers.append({"kind": "fc", "out": int(rng.integers(2, 7))})
    return network_from_dict({"name": f"random-cnn-{seed}", "input": [int(rng.integers(1, 4)), side, side],
                              "layers": layers})


def _random_problem(network, samples: int, seed: int):
    rng = np.random.default_rng(seed)
    inputs = rng.integers(-FMT.one, FMT.one + 1, size=(samples,) + network.input_shape)
    targets = rng.integers(-FMT.one, FMT.one + 1, size=(samples, network.layers[-1].out_size))
    return inputs, targets, [FMT.quantize(w) for w in golden.initial_weights(network, seed)], FMT


@pytest.mark.parametrize("weights", ["stash", "latest"])
@pytest.mark.parametrize("policy", ["layerpipe", "pipedream"])
@pytest.mark.parametrize("processors", [1, 2, 4])
def test_cnn_digits_trains_like_the_golden_model(processors, policy, weights):
    table = schedule(zoo_network("cnn-digits"), processors, policy, CostModel())
    assert training_mismatches(table, *_digits(), weights) == []


@pytest.mark.parametrize("weights", ["stash", "latest"])
def test_average_pooled_cnn_digits_trains_like_the_golden_model(weights):
    """cnn-digits-avg's delay lines carry the ReLU-bit masks; its training is not cnn-digits' (the mode is used)."""
    table = schedule(zoo_network("cnn-digits-avg"), 4, "layerpipe", CostModel())
    inputs, targets, init, fmt = _digits()  # the same shapes, so the same inputs and initial weights
    assert training_mismatches(table, inputs, targets, init, fmt, weights) == []
    averaged = golden.train(table.network, inputs, targets, staleness=table, weights=weights, fmt=fmt, init=init)
    max_pooled = golden.train(zoo_network("cnn-digits"), inputs, targets, staleness=table, weights=weights, fmt=fmt,
                              init=init)
    assert not np.array_equal(averaged.weights[0], max_pooled.weights[0])


@pytest.mark.parametrize("weights", ["stash", "latest"])
def test_an_optimal_cnn_digits_table_trains_like_the_golden_model(weights):
    table = schedule(zoo_network("cnn-digits"), 2, "optimal", CostModel())
    assert training_mismatches(table, *_digits(), weights) == []


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("weights", ["stash", "latest"])
def test_random_small_cnns_train_like_the_golden_model(seed, weights):
    network = _random_cnn(seed)
    assert any(layer.kind == "conv" for layer in network.layers)
    inputs, targets, init, fmt = _random_problem(network, 8, seed)
    for processors, policy in ((2, "pipedream"), (4, "layerpipe")):
        table = schedule(network, processors, policy, CostModel())
        assert training_mismatches(table, inputs, targets, init, fmt, weights) == [], (processors, policy)


def test_the_random_cnns_cover_the_shapes():
    """Between them the seeds give one and two conv layers, padding, pooling and more than one kernel size."""
    convs = [layer for seed in SEEDS for layer in _random_cnn(seed).layers if layer.kind == "conv"]
    depths = {sum(layer.kind == "conv" for layer in _random_cnn(seed).layers) for seed in SEEDS}
    assert depths == {1, 2}
    assert any(layer.padding for layer in convs) and any(layer.pool > 1 for layer in convs)
    assert len({layer.kernel for layer in convs}) > 1


def test_one_wrong_weight_is_caught():
    """The comparison is not vacuous: one conv weight off by one word changes the training."""
    table = schedule(zoo_network("cnn-digits"), 4, "layerpipe", CostModel())
    inputs, targets, weights, fmt = _digits()
    flipped = [w.copy() for w in weights]
    flipped[0][0, 0, 1, 1] += 1
    assert "weights of layer 1" in training_mismatches(table, inputs, targets, weights, fmt, "stash",
                                                       golden_init=flipped)


def test_stale_conv_tables_train_differently_from_plain_sgd():
    table = schedule(zoo_network("cnn-digits"), 4, "layerpipe", CostModel())
    assert max(table.staleness["forward"].values()) > 0
    inputs, targets, weights, fmt = _digits()
    simulated = run_functional(table, inputs, targets, weights, fmt, "stash").functional
    plain = golden.train(table.network, inputs, targets, init=weights, fmt=fmt)
    assert not np.array_equal(simulated.weights[0], plain.weights[0])


def test_training_setup_gives_images_and_the_run_matches_timing_mode():
    inputs, targets, weights, fmt = _digits()
    assert inputs.shape == (SAMPLES, 1, 8, 8) and targets.shape == (SAMPLES, 10)
    assert [w.shape for w in weights] == [(8, 1, 3, 3), (16, 8, 3, 3), (10, 64)]
    table = schedule(zoo_network("cnn-digits"), 2, "layerpipe", CostModel())
    functional = run_functional(table, inputs, targets, weights, fmt, "latest", record_runs=True)
    assert functional.runs == simulate(table, SAMPLES, record_runs=True).runs


def test_cli_simulates_cnn_digits_functionally(capsys):
    assert main(["simulate", "--network", "cnn-digits", "--functional", "--samples", "4"]) == 0
    out = capsys.readouterr().out
    assert "mode functional" in out and "digits test accuracy" in out
