"""Whole accelerator in Amaranth's simulator: bit-exact against the reference, cycle-exact against the table."""

from __future__ import annotations

import functools

import numpy as np
import pytest

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import network_from_dict
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.tasks import Task
from layerpipe.hw.accelerator import Accelerator, sample_layout
from layerpipe.hw.plan import hardware_plan
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.table import build_table, check
from layerpipe.sched.timing import PlacedTask
from layerpipe.sched.zoo import zoo_network
from tests.helpers.accelerator import check_training, run_accelerator
from tests.helpers.problems import FMT, random_problem, reference, tiny_network
from tests.helpers.simulation import run_clocked


@functools.cache
def tiny_table(policy, processors, lanes=4):
    """A schedule of the tiny network, made once per test session (the optimal policy searches)."""
    return schedule(tiny_network(), processors, policy, CostModel(lanes=lanes))


@pytest.mark.parametrize("policy,processors,weights", [
    ("sequential", 1, "stash"),
    ("pipedream", 2, "stash"),
    ("layerpipe", 2, "stash"),
    ("layerpipe", 2, "latest"),
    ("pipedream", 3, "stash"),
    ("layerpipe", 4, "stash"),  # lockstep groups on layers 1 and 2
    ("optimal", 4, "stash"),
    ("optimal", 4, "latest"),
])
def test_tiny_network_trains_bit_exact(policy, processors, weights):
    table = tiny_table(policy, processors)
    check_training(table, weights)


def test_mlp_digits_two_processors_trains_bit_exact():
    table = schedule(zoo_network("mlp-digits"), 2, "layerpipe")
    state, _ = check_training(table, "stash", samples=3)
    assert state["cycles"] == table.total_cycles(3)


@pytest.mark.parametrize("weights", ["stash", "latest"])
def test_mlp_digits_lockstep_and_stash(weights):
    """layerpipe on 4 PEs: F1 ∥ G1 in lockstep share one read; layer 2 stashes 2 versions."""
    table = schedule(zoo_network("mlp-digits"), 4, "layerpipe")
    assert table.tasks[Task("F", 1)].lockstep is not None
    assert table.data["weight_versions"]["stash"]["versions"][1] > 0
    check_training(table, weights, samples=3)


def lockstep_table():
    """F2 ∥ B2 ∥ G2 on three processors in lockstep (one read, one write per weight)."""
    net = network_from_dict({"name": "two", "input": 6, "layers": [{"kind": "fc", "out": 5},
                                                                   {"kind": "fc", "out": 4}]})
    cost = CostModel(lanes=4)
    c1, c2 = cost.task_cycles(net.layer(1), "F"), cost.task_cycles(net.layer(2), "F")
    placed = [PlacedTask(Task("F", 1), 0, 0, c1), PlacedTask(Task("G", 1), 0, c1, c1),
              PlacedTask(Task("F", 2), 1, 0, c2), PlacedTask(Task("B", 2), 2, 0, c2),
              PlacedTask(Task("G", 2), 3, 0, c2)]
    table = build_table(net, cost, "custom", 4, 2 * c1, placed)
    assert check(table) == []
    return table


@pytest.mark.parametrize("weights", ["stash", "latest"])
def test_three_way_lockstep(weights):
    table = lockstep_table()
    assert {t.lockstep for t in table.processor_tasks[1] + table.processor_tasks[2] + table.processor_tasks[3]} == {0}
    check_training(table, weights, samples=5)


def test_stalls_are_not_counted_and_change_nothing():
    table = schedule(tiny_network(), 2, "pipedream", CostModel(lanes=3, link_latency_cycles=5))
    state, _ = check_training(table, "stash", samples=4, idle=0.97, backpressure=0.95, seed=4)
    assert state["stall_cycles"] > 0
    assert state["wall"] >= state["cycles"] + state["stall_cycles"]


@pytest.mark.parametrize("cost", [CostModel(lanes=4, link_latency_cycles=0),
                                  CostModel(lanes=8, task_overhead_cycles=5, link_latency_cycles=7)])
def test_link_latencies_and_wide_lanes(cost):
    check_training(schedule(tiny_network(), 2, "pipedream", cost), "stash", samples=3)


def test_one_sample():
    check_training(schedule(tiny_network(), 2, "pipedream", CostModel(lanes=4)), "latest", samples=1)


def test_saturation_is_bit_exact():
    """Large weights, inputs and targets: forward, output delta and update all saturate."""
    table = schedule(tiny_network(), 2, "layerpipe", CostModel(lanes=4))
    rng = np.random.default_rng(9)
    network = table.network
    weights = [FMT.quantize(rng.uniform(-4, 4, size=(layer.out_size, layer.in_size))) for layer in network.layers]
    inputs = FMT.quantize(rng.uniform(0, 4, size=(4, network.sizes[0])))
    targets = FMT.quantize(rng.choice([-7.9, 7.9], size=(4, network.sizes[-1])))
    outputs, errors, state = run_accelerator(table, FMT, "stash", weights, inputs, targets)
    want_out, want_err, want_w, _ = reference(table, FMT, "stash", weights, inputs, targets)
    assert np.any(np.abs(want_out) == FMT.data_max) or np.any(want_out == FMT.data_min)
    np.testing.assert_array_equal(outputs, want_out)
    np.testing.assert_array_equal(errors, want_err)
    for got, want in zip(state["weights"], want_w):
        np.testing.assert_array_equal(got, want)


def test_a_second_run_continues_training_from_the_first_runs_weights():
    """start again: the schedule refills from cycle 0 (every update of run 1 has landed) and the
    weights carry over, so run 2 is a fresh golden run from run 1's final weights."""
    table = tiny_table("layerpipe", 2)
    weights, inputs, targets = random_problem(table.network, FMT, 6, seed=7)
    dut = Accelerator(hardware_plan(table, FMT, "stash"), weights)
    layout = sample_layout(table, FMT)
    runs = [(inputs[:3], targets[:3]), (inputs[3:], targets[3:])]
    seen = []

    async def bench(ctx):
        ctx.set(dut.result_out.ready, 1)
        for xs, ts in runs:
            ctx.set(dut.n_samples, len(xs))
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            sent, outputs = 0, []
            while not ctx.get(dut.done):
                if sent < len(xs):
                    ctx.set(dut.sample_in.payload, layout.const({"x": [int(v) for v in xs[sent]],
                                                                 "target": [int(v) for v in ts[sent]]}))
                ctx.set(dut.sample_in.valid, int(sent < len(xs)))
                took = sent < len(xs) and ctx.get(dut.sample_in.ready)
                if ctx.get(dut.result_out.valid):
                    outputs.append([int(v) for v in ctx.get(dut.result_out.payload).y])
                await ctx.tick()
                sent += int(bool(took))
            ctx.set(dut.sample_in.valid, 0)
            seen.append((outputs, ctx.get(dut.cycles)))

    run_clocked(dut, bench, 1e-8)
    start, biases = weights, None  # weights and biases both carry over
    for (xs, ts), (outputs, cycles) in zip(runs, seen):
        want_outputs, _, start, biases = reference(table, FMT, "stash", start, xs, ts, biases)
        np.testing.assert_array_equal(np.array(outputs), want_outputs)
        assert cycles == table.total_cycles(len(xs))


WHOLE_CHUNKS = {"name": "whole-chunks", "input": 8, "layers": [{"kind": "fc", "out": 4}, {"kind": "fc", "out": 3}]}


def test_an_fc_bias_costs_no_cycle_and_needs_no_data_word_for_one():
    """Each row's sum starts at its bias: where the inputs fill whole chunks (8 and 4 inputs, 4 lanes) the
    biased layers' tasks take the unbiased ones' cycles, and 1.0 need not be a data word (frac_bits 15)."""
    cost = CostModel(lanes=4)
    biased, plain = (schedule(tiny_network(WHOLE_CHUNKS, bias), 2, "layerpipe", cost) for bias in (True, False))
    assert all(layer.bias for layer in biased.network.layers)
    assert {task: entry.cycles for task, entry in biased.tasks.items()} == \
        {task: entry.cycles for task, entry in plain.tasks.items()}
    assert biased.period_cycles == plain.period_cycles
    fmt = FixedFormat(frac_bits=15, lr_shift=2)
    assert fmt.one > fmt.data_max
    check_training(biased, "stash", fmt=fmt)


@pytest.mark.parametrize("change, message", [
    (lambda w, b: (w[:2], b), "initial weights: 2 matrices for 3 layers"),
    (lambda w, b: ([w[0][:, :-1]] + w[1:], b), r"initial weights of layer 1 have shape \(5, 5\); expected \(5, 6\)"),
    (lambda w, b: ([w[0] * 0 + 40000] + w[1:], b), "initial weights of layer 1 do not fit 16-bit words"),
    (lambda w, b: (w, b[:1]), r"initial biases: 1 entries for 3 layers \(None for a layer without a bias\)"),
    (lambda w, b: (w, [b[0][:-1]] + b[1:]), r"initial biases of layer 1 have shape \(4,\); expected \(5,\)"),
    (lambda w, b: (w, [b[0] * 0 - 40000] + b[1:]), "initial biases of layer 1 do not fit 16-bit words"),
])
def test_bad_initial_weights_and_biases_are_one_line(change, message):
    table = schedule(tiny_network(), 1, "sequential", CostModel(lanes=4))
    weights, _, _ = random_problem(table.network, FMT, 1)
    biases = [np.zeros(layer.biases, dtype=np.int64) for layer in table.network.layers]
    with pytest.raises(LayerPipeError, match=message) as error:
        Accelerator(hardware_plan(table, FMT, "stash"), *change(weights, biases))
    assert "\n" not in str(error.value)


def test_a_bias_for_a_layer_without_one_is_refused():
    table = schedule(tiny_network(bias=False), 1, "sequential", CostModel(lanes=4))
    weights, _, _ = random_problem(table.network, FMT, 1)
    with pytest.raises(LayerPipeError, match="initial biases: layer 2 has no bias; give None for it"):
        Accelerator(hardware_plan(table, FMT, "stash"), weights, [None, np.zeros(4), None])
