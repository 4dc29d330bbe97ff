"""The tiny network the hardware tests train, random training problems in data words, and the golden
model's answer to one."""

from __future__ import annotations

import numpy as np

from layerpipe.core.network import network_from_dict
from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.conv_layout import weight_shape
from layerpipe.sim import golden
from layerpipe.sim.data import load_digits

TINY = {"name": "tiny", "input": 6, "layers": [{"kind": "fc", "out": 5}, {"kind": "fc", "out": 4},
                                               {"kind": "fc", "out": 3}]}
FMT = FixedFormat(lr_shift=2)  # a large step, so that stash and latest train differently


def tiny_network(spec=TINY, bias: bool = True):
    """``spec`` (default the 6-5-4-3 MLP, a bias in every layer) as a Network; ``bias`` False drops the biases."""
    if not bias:
        spec = spec | {"layers": [layer | {"bias": False} for layer in spec["layers"]]}
    return network_from_dict(spec)


def random_problem(network, fmt, samples, seed=0):
    """Initial weights, inputs and targets in data words (digits images for a 64-input, 10-output network)."""
    rng = np.random.default_rng(seed)
    if network.sizes[0] == 64 and network.sizes[-1] == 10:
        digits = load_digits().train
        pick = rng.choice(len(digits), size=samples, replace=False)
        weights = [fmt.quantize(w) for w in golden.initial_weights(network, seed)]
        return weights, digits.inputs("fixed", fmt)[pick], digits.targets("fixed", fmt)[pick]
    weights = [fmt.quantize(rng.uniform(-0.6, 0.6, size=weight_shape(layer))) for layer in network.layers]
    inputs = fmt.quantize(rng.uniform(0.0, 1.0, size=(samples, network.sizes[0])))
    targets = fmt.quantize(rng.uniform(-0.5, 0.5, size=(samples, network.sizes[-1])))
    return weights, inputs, targets


def random_biases(network, fmt, seed=0):
    """Initial biases in data words, ±0.25, for the layers that have one (None for the others)."""
    rng = np.random.default_rng(seed + 1000)
    return [fmt.quantize(rng.uniform(-0.25, 0.25, size=layer.biases)) if layer.bias else None
            for layer in network.layers]


def reference(table, fmt, policy, weights, inputs, targets, biases=None):
    """The golden fixed-point model trained with the table's staleness: outputs, squared errors, final
    weights and final biases."""
    inputs = np.asarray(inputs).reshape((len(inputs),) + table.network.input_shape)  # the stream's flat vectors
    result = golden.train(table.network, inputs, targets, staleness=table, weights=policy, numerics="fixed",
                          fmt=fmt, init=weights, biases=biases)
    return result.outputs, result.squared_errors, result.weights, result.biases
