"""CNNs on the whole accelerator in Amaranth's simulator: bit-exact against the golden model, cycle-exact
against the table, for seeded random shapes (channels, kernels 1/3/5, padding, pooling, 1–3 conv layers,
1–2 fc layers) under every policy, both weight policies, and the conv layers' refusals."""

from __future__ import annotations

import numpy as np
import pytest

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import network_from_dict
from layerpipe.hw.plan import hardware_plan
from layerpipe.sched.scheduler import schedule
from tests.helpers.accelerator import check_training
from tests.helpers.problems import FMT


def random_cnn(seed: int):
    """A small CNN of seeded shapes whose every layer has an output (retried until it has) and a bias (each
    in its layer's bias store, the first fc layer's after the conv layer's channel-chunked volume)."""
    rng = np.random.default_rng(seed)
    while True:
        size = int(rng.integers(5, 9))
        layers = []
        for _ in range(int(rng.integers(1, 4))):
            kernel = int(rng.choice([1, 3, 5]))
            layers.append({"kind": "conv", "out_channels": int(rng.integers(1, 7)), "kernel": kernel,
                           "padding": int(rng.integers(0, kernel // 2 + 1)), "pool": int(rng.choice([1, 2]))})
        layers += [{"kind": "fc", "out": int(rng.integers(2, 6))} for _ in range(int(rng.integers(1, 3)))]
        spec = {"name": f"cnn{seed}", "input": [int(rng.integers(1, 4)), size, size], "layers": layers}
        try:
            return network_from_dict(spec)
        except LayerPipeError:
            continue


CASES = [(0, "layerpipe", 2, "stash"), (1, "optimal", 3, "latest"), (2, "pipedream", 2, "stash"),
         (6, "layerpipe", 3, "latest"), (4, "sequential", 1, "stash"), (13, "optimal", 2, "stash")]


@pytest.mark.parametrize("seed,policy,processors,weights", CASES)
def test_random_cnn_trains_bit_exact(seed, policy, processors, weights):
    network = random_cnn(seed)
    assert any(layer.kind == "conv" for layer in network.layers)
    table = schedule(network, processors, policy, CostModel(lanes=4))
    check_training(table, weights, samples=3, seed=seed)


# average pooling in both conv layers (the second pools a 3×3 map: its last row and column are dropped), and biases
AVERAGE_CNN = network_from_dict({"name": "cnn-average", "input": [2, 6, 6], "layers": [
    {"kind": "conv", "out_channels": 3, "kernel": 3, "padding": 1, "pool": 2, "pool_mode": "average"},
    {"kind": "conv", "out_channels": 5, "kernel": 1, "pool": 2, "pool_mode": "average"},
    {"kind": "fc", "out": 3}]})


@pytest.mark.parametrize("policy,processors,weights", [("layerpipe", 2, "stash"), ("pipedream", 2, "latest")])
def test_average_pooled_cnn_trains_bit_exact(policy, processors, weights):
    table = schedule(AVERAGE_CNN, processors, policy, CostModel(lanes=4))
    max_pooled = network_from_dict(AVERAGE_CNN.to_dict() | {"layers": [
        {k: v for k, v in layer.items() if k != "pool_mode"} for layer in AVERAGE_CNN.to_dict()["layers"]]})
    assert table.period_cycles == schedule(max_pooled, processors, policy, CostModel(lanes=4)).period_cycles
    check_training(table, weights, samples=3, seed=5)


def test_the_random_shapes_cover_what_the_issue_asks():
    """Kernels 1/3/5, padding, pooling, 1–3 conv layers, 1–2 fc layers, channels that do not fill the lanes."""
    networks = [random_cnn(seed) for seed, *_ in CASES]
    convs = [layer for network in networks for layer in network.layers if layer.kind == "conv"]
    assert {layer.kernel for layer in convs} == {1, 3, 5}
    assert {layer.pool for layer in convs} == {1, 2}
    assert any(layer.padding for layer in convs) and any(not layer.padding for layer in convs)
    assert any(layer.out_shape[0] % 4 for layer in convs)
    depths = {sum(layer.kind == "conv" for layer in network.layers) for network in networks}
    assert len(depths) >= 2


def test_conv_layers_share_no_bank_and_double_buffer_across_processors():
    network = random_cnn(0)
    table = schedule(network, 2, "layerpipe", CostModel(lanes=4))
    plan = hardware_plan(table, FMT, "latest")
    conv = [layer.index for layer in network.layers if layer.kind == "conv"]
    assert set(plan.conv_banks) == set(conv) and not set(plan.ports) & set(conv)
    for layer, bank in plan.conv_banks.items():
        processors = {p for p, pe in plan.pes.items() for task in pe.tasks if task.layer == layer}
        assert set(bank.readers) == processors
        assert bank.double_buffered == (len(processors) > 1)


@pytest.mark.parametrize("change,message", [
    ({"stride": 2}, "field 'stride' is 2; the RTL generator trains stride 1 convolutions only"),
    ({"pool": 3}, "field 'pool' is 3"),
    ({"projection": True}, "field 'projection' is true"),
])
def test_what_the_rtl_cannot_build_is_refused_in_one_line(change, message):
    spec = {"name": "refused", "input": [2, 9, 9], "layers": [
        {"kind": "conv", "name": "c1", "out_channels": 4, "kernel": 3, "padding": 1, "bias": False, **change},
        {"kind": "fc", "out": 3, "bias": False}]}
    table = schedule(network_from_dict(spec), 1, "sequential", CostModel(lanes=4))
    with pytest.raises(LayerPipeError, match="layer 1 \\('c1'\\)") as error:
        hardware_plan(table, FMT, "stash")
    assert message in str(error.value) and "\n" not in str(error.value)


def test_lanes_that_are_not_a_power_of_two_are_refused_for_conv():
    network = random_cnn(0)
    table = schedule(network, 1, "sequential", CostModel(lanes=6))
    with pytest.raises(LayerPipeError, match="lanes is 6; .* use lanes 4, 8 or 16"):
        hardware_plan(table, FMT, "stash")
