"""Cycle simulator, functional mode: executing a table trains bit for bit like the golden model.

The simulator decides which weights each task sees from the execution alone (reads at a
task's start, G's update at its end); the golden model trains with the staleness the
table reports. Agreement over every sample's output and the final weights tests both
the numerics and the weight-visibility semantics.
"""

import functools

import numpy as np
import pytest

from layerpipe.core.costs import CostModel
from layerpipe.core.numerics import FixedFormat
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.sim import golden
from layerpipe.sim.functional import FixedPointDatapath, run_functional, training_setup
from tests.helpers.functional import training_mismatches

SAMPLES = 240  # ≥ 200 and well past every table's fill: the staleness has to be right in steady state


@functools.cache
def _workload(samples: int = SAMPLES, seed: int = 0):
    return training_setup(zoo_network("mlp-digits"), samples, seed)


@pytest.mark.parametrize("weights", ["stash", "latest"])
@pytest.mark.parametrize("policy", ["layerpipe", "pipedream"])
@pytest.mark.parametrize("processors", [1, 2, 4, 8])
def test_functional_mode_equals_golden_model(processors, policy, weights):
    table = schedule(zoo_network("mlp-digits"), processors, policy, CostModel())
    assert training_mismatches(table, *_workload(), weights) == []


def seeded_biases(network, fmt, seed: int = 7):
    """Initial biases of ±0.25 in data words, so every bias's F term and G step is exercised from the start."""
    rng = np.random.default_rng(seed)
    return [fmt.quantize(rng.uniform(-0.25, 0.25, size=layer.out_shape[0])) for layer in network.layers]


@pytest.mark.parametrize("weights", ["stash", "latest"])
@pytest.mark.parametrize("policy", ["layerpipe", "pipedream"])
@pytest.mark.parametrize("name", ["mlp-digits-bias", "cnn-digits-bias"])
def test_functional_mode_equals_golden_model_with_biases(name, policy, weights):
    network = zoo_network(name)
    inputs, targets, init, fmt = training_setup(network, 64 if name.startswith("cnn") else SAMPLES)
    table = schedule(network, 4, policy, CostModel())
    biases = seeded_biases(network, fmt)
    assert training_mismatches(table, inputs, targets, init, fmt, weights, biases=biases) == []
    trained = run_functional(table, inputs, targets, init, fmt, weights, biases=biases).functional.biases
    assert all(not np.array_equal(b, start) for b, start in zip(trained, biases))  # every bias trained
    # and the comparison sees a bias: the golden model started from other biases differs
    other = [b + 1 for b in biases]
    reference = golden.train(network, inputs, targets, staleness=table, weights=weights, fmt=fmt, init=init,
                             biases=other)
    assert not all(np.array_equal(a, b) for a, b in zip(trained, reference.biases))


def test_sequential_table_is_plain_sgd():
    table = schedule(zoo_network("mlp-digits"), 1, "sequential", CostModel())
    inputs, targets, weights, fmt = _workload()
    simulated = run_functional(table, inputs, targets, weights, fmt, "stash").functional
    plain = golden.train(table.network, inputs, targets, staleness=None, init=weights, fmt=fmt)
    assert np.array_equal(simulated.outputs, plain.outputs)


def test_stale_tables_train_differently_from_plain_sgd():
    """The staleness matters: a deep pipeline's outputs differ from sequential training."""
    inputs, targets, weights, fmt = _workload()
    deep = schedule(zoo_network("mlp-digits"), 8, "layerpipe", CostModel())
    assert max(deep.staleness["forward"].values()) > 0
    simulated = run_functional(deep, inputs, targets, weights, fmt, "stash").functional
    plain = golden.train(deep.network, inputs, targets, staleness=None, init=weights, fmt=fmt)
    assert not np.array_equal(simulated.outputs, plain.outputs)


def test_stash_keeps_the_versions_the_timing_needs():
    table = schedule(zoo_network("mlp-digits"), 4, "pipedream", CostModel())
    inputs, targets, weights, fmt = _workload()
    stash = run_functional(table, inputs, targets, weights, fmt, "stash").functional.peak_stash
    stale = table.staleness
    # B_l needs the version D_F − D_B updates older than the bank holds at its start
    assert stash == {layer: (0 if layer == 1 else stale["forward"][layer] - stale["backward_latest"][layer])
                     for layer in stale["forward"]}


def test_functional_and_timing_modes_execute_the_same_run():
    from layerpipe.sim.cyclesim import simulate

    table = schedule(zoo_network("mlp-digits"), 4, "layerpipe", CostModel())
    inputs, targets, weights, fmt = _workload(50)
    functional = run_functional(table, inputs, targets, weights, fmt, "latest", record_runs=True)
    timing = simulate(table, 50, record_runs=True)
    assert functional.runs == timing.runs and functional.total_cycles == table.total_cycles(50)


def test_more_samples_than_the_training_split_repeat_in_order():
    inputs, targets, _, _ = training_setup(zoo_network("mlp-digits"), 1500)
    assert np.array_equal(inputs[1437:], inputs[:63]) and np.array_equal(targets[1437:], targets[:63])


def test_datapath_refuses_a_strided_convolution_and_bad_weights():
    from layerpipe.core.errors import LayerPipeError

    fmt = FixedFormat()
    with pytest.raises(LayerPipeError, match="field 'stride' is 4; the functional simulator trains stride 1"):
        FixedPointDatapath(zoo_network("alexnet"), [], np.zeros((1, 1)), np.zeros((1, 1)), fmt)
    network = zoo_network("mlp-digits")
    with pytest.raises(LayerPipeError, match=r"weights of layer 2 have shape \(16, 16\)"):
        FixedPointDatapath(network, [np.zeros((32, 64)), np.zeros((16, 16)), np.zeros((10, 16))],
                           np.zeros((1, 64)), np.zeros((1, 10)), fmt)
    with pytest.raises(LayerPipeError, match="weights ema: the functional simulator supports latest or stash only"):
        FixedPointDatapath(network, [np.zeros((32, 64)), np.zeros((16, 32)), np.zeros((10, 16))],
                           np.zeros((1, 64)), np.zeros((1, 10)), fmt, policy="ema")
