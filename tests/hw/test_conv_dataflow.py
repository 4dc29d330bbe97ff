"""The conv dataflow (core/conv_dataflow.py) computes the golden model's F, B and G bit for bit.

tests/helpers/conv_dataflow.py runs each task issue by issue, as the RTL will, on memory rows in
the layouts of hw/conv_layout.py; sim/conv.py (the fixed-point golden model) is the reference.
"""

from __future__ import annotations

import numpy as np
import pytest

from layerpipe.core.conv_dataflow import conv_task_nest, fc_columns, input_layout, mask_bits, output_layout
from layerpipe.core.costs import CostModel
from layerpipe.core.network import network_from_dict
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.tasks import data_items
from layerpipe.hw.conv_layout import (
    conv_bank_rows,
    conv_bank_weights,
    fc_bank_columns,
    fc_bank_weights,
    mask_rows,
    rows_mask,
    rows_volume,
    volume_rows,
)
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.sim import conv
from tests.helpers.conv_dataflow import run_backward, run_forward, run_update

FMT = FixedFormat()


def random_network(rng):
    """Two conv layers (so the second reads a channel-chunked input) and an fc layer, seeded shapes."""
    layers = []
    for _ in range(2):
        kernel = int(rng.choice([1, 3, 5]))
        layers.append({"kind": "conv", "out_channels": int(rng.integers(1, 11)), "kernel": kernel,
                       "padding": int(rng.integers(0, kernel // 2 + 2)), "pool": int(rng.choice([1, 2]))})
    layers.append({"kind": "fc", "out": int(rng.integers(1, 6))})
    while True:
        size = int(rng.integers(5, 11))
        spec = {"name": "random", "input": [int(rng.integers(1, 4)), size, size + int(rng.integers(0, 3))],
                "layers": layers}
        try:
            return network_from_dict(spec)
        except Exception:  # a shape whose second pool leaves nothing: try a larger input
            layers[1]["pool"] = 1


def _words(rng, shape, bound=1 << 12):
    return rng.integers(-bound, bound + 1, size=shape)


def _random_mask(rng, layer):
    """A pre-pool mask as F makes it: at most one bit per window, on whole windows only."""
    out_channels, pooled_h, pooled_w = layer.out_shape
    pool = layer.pool
    rows, cols = (layer.in_shape[1] + 2 * layer.padding - layer.kernel + 1,
                  layer.in_shape[2] + 2 * layer.padding - layer.kernel + 1)
    mask = np.zeros((out_channels, rows, cols), dtype=bool)
    for o in range(out_channels):
        for y in range(pooled_h):
            for x in range(pooled_w):
                if rng.random() < 0.7:
                    mask[o, pool * y + rng.integers(pool), pool * x + rng.integers(pool)] = True
    return mask


CASES = [(seed, lanes) for seed in range(6) for lanes in (4, 8)]


@pytest.mark.parametrize("seed,lanes", CASES)
def test_forward_backward_update_match_the_golden_kernels(seed, lanes):
    rng = np.random.default_rng(seed)
    network = random_network(rng)
    previous = None
    for layer in network.layers[:2]:
        source = input_layout(layer, lanes, previous)
        target = output_layout(layer, lanes)
        weights = _words(rng, (layer.out_shape[0], layer.in_shape[0], layer.kernel, layer.kernel))
        a_prev = _words(rng, layer.in_shape)
        bank = conv_bank_rows(weights, lanes)
        in_rows = volume_rows(a_prev, source)

        golden_out, golden_mask = conv.forward(weights, a_prev, layer.padding, layer.pool, FMT)
        out, mask, stash = run_forward(layer, lanes, source, bank, in_rows, FMT, target.rows)
        assert np.array_equal(out, volume_rows(golden_out, target))
        assert np.array_equal(mask, mask_rows(golden_mask, layer.pool, target))
        assert np.array_equal(stash, bank)  # the first pooled position copies every row once

        e = _words(rng, layer.out_shape)
        pre_mask = _random_mask(rng, layer)
        delta = conv.mask_error(e, pre_mask, layer.pool, FMT)
        err_rows, packed = volume_rows(e, target), mask_rows(pre_mask, layer.pool, target)
        if layer.index > 1:
            golden_e = conv.backward(weights, delta, layer.padding, FMT)
            e_rows = run_backward(layer, lanes, source, bank, err_rows, packed, FMT)
            assert np.array_equal(rows_volume(e_rows, source), golden_e)
            assert not e_rows[volume_rows(np.ones(layer.in_shape), source) == 0].any()  # padding lanes stay 0
        golden_w = conv.update(weights, delta, a_prev, layer.padding, FMT)
        updated = run_update(layer, lanes, source, bank, in_rows, err_rows, packed, FMT)
        assert np.array_equal(conv_bank_weights(updated, weights.shape), golden_w)
        assert not updated[conv_bank_rows(np.ones_like(weights), lanes) == 0].any()
        previous = layer


def test_a_wrong_dataflow_is_caught():
    """The comparison can fail: the golden kernels disagree with F run on the flat layout's addresses
    when the data sit in the channel-chunked rows."""
    rng = np.random.default_rng(7)
    network = network_from_dict({"name": "two", "input": [3, 6, 6], "layers": [
        {"kind": "conv", "out_channels": 4, "kernel": 3, "padding": 1, "pool": 2},
        {"kind": "conv", "out_channels": 5, "kernel": 3, "padding": 1}]})
    layer = network.layer(2)
    chunked = input_layout(layer, 8, network.layer(1))
    flat = input_layout(layer, 8, None)
    weights = _words(rng, (5, 4, 3, 3))
    a_prev = _words(rng, layer.in_shape)
    golden, _ = conv.forward(weights, a_prev, 1, 1, FMT)
    target = output_layout(layer, 8)
    out, _, _ = run_forward(layer, 8, flat, conv_bank_rows(weights, 8), volume_rows(a_prev, chunked), FMT,
                            target.rows)
    assert not np.array_equal(out, volume_rows(golden, target))


def test_cnn_digits_cycles_are_the_dataflow_issues():
    """F and G: whole windows × O_c × K²·C; B: H·W·C × K²·O_c (docs/semantics.md), plus the overhead."""
    network = zoo_network("cnn-digits")
    cost = CostModel()
    expected = {1: {"F": 8 * 8 * 1 * 9 * 1, "G": 9 * 1 * 1 * 64},
                2: {"F": 4 * 4 * 2 * 9 * 8, "G": 9 * 8 * 2 * 16, "B": 4 * 4 * 8 * 9 * 2},
                3: {"F": 10 * 8, "B": 10 * 8, "G": 10 * 8}}
    for layer_index, kinds in expected.items():
        for kind, issues in kinds.items():
            assert cost.task_cycles(network.layer(layer_index), kind) == issues + cost.task_overhead_cycles


def test_lanes_over_output_channels_pad_the_last_chunk():
    """A layer whose channels do not fill the lanes streams whole chunks: cycles exceed MACs / lanes."""
    network = network_from_dict({"name": "pad", "input": [2, 6, 6], "layers": [
        {"kind": "conv", "out_channels": 3, "kernel": 3, "padding": 1}, {"kind": "fc", "out": 2}]})
    layer = network.layer(1)
    assert CostModel(lanes=8).stream_cycles(layer, "F") == 36 * 1 * 9 * 2  # one chunk of 3 channels
    assert CostModel(lanes=8).stream_cycles(layer, "F") > layer.macs / 8
    # the fc layer reads 36 positions of one chunk each
    assert CostModel(lanes=8).stream_cycles(network.layer(2), "F") == 2 * 36
    # the table says so: what the lanes run over and the share of lane-cycles that do a MAC
    rows = {row["layer"]: row for row in schedule(network, 1, "sequential").data["dataflow"]}
    assert rows[1]["lanes_over"] == "output channels" and rows[2]["lanes_over"] == "input features"
    assert rows[1]["lane_use"] == {"F": 3 / 8, "G": 3 / 8} and rows[2]["lane_use"]["B"] == 3 / 8
    digits = schedule(zoo_network("cnn-digits"), 4, "layerpipe").data["dataflow"]
    assert all(use == 1.0 for row in digits for use in row["lane_use"].values())


def test_mask_words_count_a_bit_per_pre_pool_element():
    network = zoo_network("cnn-digits")
    words = {item.name: item.words for item in data_items(network, 16)}
    assert words["mask1"] == 8 * 4 * 4 * 4 // 16  # 8 channels × 4×4 pooled × pool² bits
    assert words["mask2"] == 16 * 2 * 2 * 4 // 16
    assert mask_bits(network.layer(1)) == 8 * 8 * 8


def test_nest_windows_mark_padding_and_the_stash_pass():
    network = zoo_network("cnn-digits")
    layer = network.layer(1)
    nest = conv_task_nest(layer, "F", 8, input_layout(layer, 8, None))
    points = list(nest.points())
    assert len(points) == nest.issues == 576
    padded = sum(not nest.inside("in", p) for p in points)
    # the taps of the 8×8 map that fall into the zero border
    zeros = sum(1 for y in range(8) for x in range(8) for ky in range(3) for kx in range(3)
                if not (0 <= y + ky - 1 < 8 and 0 <= x + kx - 1 < 8))
    assert padded == zeros
    assert sum(nest.inside("stash", p) for p in points) == 9  # 9 weight rows of one chunk


def test_layouts_round_trip():
    rng = np.random.default_rng(3)
    weights = _words(rng, (11, 3, 5, 5))
    assert np.array_equal(conv_bank_weights(conv_bank_rows(weights, 8), weights.shape), weights)
    assert conv_bank_rows(weights, 8).shape == (3 * 25 * 2, 8)
    # row ((c·K + ky)·K + kx)·O_c + oc, lane k holds W[oc·8 + k, c, ky, kx]
    assert conv_bank_rows(weights, 8)[((2 * 5 + 1) * 5 + 4) * 2 + 1][2] == weights[10, 2, 1, 4]
    network = network_from_dict({"name": "n", "input": [2, 5, 5], "layers": [
        {"kind": "conv", "out_channels": 11, "kernel": 3, "padding": 1, "pool": 2}, {"kind": "fc", "out": 3}]})
    layer, fc = network.layer(1), network.layer(2)
    layout = output_layout(layer, 8)
    volume = _words(rng, layer.out_shape)
    assert np.array_equal(rows_volume(volume_rows(volume, layout), layout), volume)
    assert volume_rows(volume, layout)[(1 * 2 + 0) * 2 + 1][2] == volume[10, 1, 0]
    mask = _random_mask(rng, layer)
    assert np.array_equal(rows_mask(mask_rows(mask, 2, layout), 2, layout, mask.shape), mask)
    # the fc layer reads the chunked rows: its dot product with the laid-out weights is W @ flatten(a)
    fc_weights = _words(rng, (3, fc.in_size))
    laid = fc_bank_columns(fc_weights, fc, 8)
    assert np.array_equal(laid @ volume_rows(volume, layout).reshape(-1), fc_weights @ volume.reshape(-1))
    assert np.array_equal(fc_bank_weights(laid, fc, 8), fc_weights)
    assert sorted(c for c in fc_columns(fc, 8) if c is not None) == list(range(fc.in_size))
