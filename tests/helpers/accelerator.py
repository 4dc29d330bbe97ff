"""The whole accelerator trained in Amaranth's simulator, and the check that it matches the golden model."""

from __future__ import annotations

import random
import time

import numpy as np

from layerpipe.hw.accelerator import Accelerator, sample_layout
from layerpipe.hw.conv_layout import layer_bias, layer_weights
from layerpipe.hw.plan import hardware_plan
from layerpipe.hw.weight_bank import unpack_chunk
from tests.helpers.problems import FMT, random_biases, random_problem, reference
from tests.helpers.simulation import run_clocked

__all__ = ["run_accelerator", "check_training"]


def run_accelerator(table, fmt, policy, weights, inputs, targets, idle=0.0, backpressure=0.0, seed=1, biases=None):
    """Train on the samples in Amaranth's simulator; returns outputs, errors and counters/final weights and biases."""
    dut = Accelerator(hardware_plan(table, fmt, policy), weights, biases)
    layout_in = sample_layout(table, fmt)
    samples = len(inputs)
    rng = random.Random(seed)
    results, state = [], {}
    limit = 20 * table.total_cycles(samples) + 2000

    async def bench(ctx):
        ctx.set(dut.n_samples, samples)
        ctx.set(dut.start, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        sent, wall = 0, 0
        while True:
            offer = sent < samples and rng.random() >= idle
            if offer:
                ctx.set(dut.sample_in.payload, layout_in.const({"x": [int(v) for v in inputs[sent]],
                                                                "target": [int(v) for v in targets[sent]]}))
            ctx.set(dut.sample_in.valid, int(offer))
            ready = int(rng.random() >= backpressure)
            ctx.set(dut.result_out.ready, ready)
            took = offer and ctx.get(dut.sample_in.ready)
            if ready and ctx.get(dut.result_out.valid):
                payload = ctx.get(dut.result_out.payload)
                results.append(([int(v) for v in payload.y], int(payload.error)))
            if ctx.get(dut.done):
                break
            await ctx.tick()
            sent += int(bool(took))
            wall += 1
            assert wall < limit, "the accelerator did not finish"
        ctx.set(dut.sample_in.valid, 0)
        state.update(cycles=ctx.get(dut.cycles), stall_cycles=ctx.get(dut.stall_cycles), wall=wall)
        final, final_biases = [], []
        for layer in table.network.layers:
            rows = []
            for row in range(dut.plan.readback_rows[layer.index]):
                ctx.set(dut.wread_layer, layer.index)
                ctx.set(dut.wread_addr, row)
                await ctx.tick().repeat(2)  # two cycles of read latency
                rows.append(ctx.get(dut.wread_data))
            lanes = table.cost.lanes
            rows = [unpack_chunk(word, fmt, lanes) for word in rows]
            final.append(layer_weights(layer, rows, lanes))
            final_biases.append(layer_bias(layer, rows, lanes))
        state["weights"], state["biases"] = final, final_biases

    run_clocked(dut, bench, 1e-8)
    outputs = np.array([y for y, _ in results], dtype=np.int64)
    errors = np.array([e for _, e in results], dtype=np.int64)
    return outputs, errors, state


def check_training(table, policy, samples=4, seed=0, fmt=FMT, **stream):
    network = table.network
    weights, inputs, targets = random_problem(network, fmt, samples, seed)
    biases = random_biases(network, fmt, seed)
    began = time.perf_counter()
    outputs, errors, state = run_accelerator(table, fmt, policy, weights, inputs, targets, biases=biases, **stream)
    elapsed = time.perf_counter() - began
    want_out, want_err, want_w, want_b = reference(table, fmt, policy, weights, inputs, targets, biases)
    assert state["cycles"] == table.total_cycles(samples)
    assert state["wall"] >= state["cycles"] + state["stall_cycles"]
    np.testing.assert_array_equal(outputs, want_out)
    np.testing.assert_array_equal(errors, want_err)
    for got, want in zip(state["weights"], want_w):
        np.testing.assert_array_equal(got, want)
    for got, want, first in zip(state["biases"], want_b, biases):
        assert (got is None) == (want is None) == (first is None)
        if got is not None:
            np.testing.assert_array_equal(got, want)
            assert not np.array_equal(got, first)  # every bias trained
    for got, first in zip(state["weights"], weights):
        assert not np.array_equal(got, first)  # training did something
    return state, elapsed
