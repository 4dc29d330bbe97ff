"""One processing element against Python models of its memories: bit-exact results and the
cycle contract (a task's accesses start at its start cycle and its last write lands before its end)."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.hdl import ResetInserter

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.hw.conv_layout import layer_bank_words, layer_bias, layer_weights
from layerpipe.hw.pe import PE
from layerpipe.hw.plan import hardware_plan
from layerpipe.hw.weight_bank import unpack_chunk, weights_to_words
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.verify.memories import RingModel
from tests.helpers.problems import FMT, random_biases, random_problem, reference, tiny_network
from tests.helpers.simulation import run_clocked


def run_pe(table, fmt, weights, inputs, targets, biases):
    """Run PE 0 of a one-processor table; banks, delay lines, the input stream and the result sink
    are Python models. Returns final weights and biases, outputs and every (cycle, access) the PE made."""
    pe = PE(hardware_plan(table, fmt, "stash"), 0)
    lanes = table.cost.lanes
    geometry = pe.plan.buffers
    samples = len(inputs)
    banks = {layer.index: layer_bank_words(layer, weights[layer.index - 1], fmt, lanes, biases[layer.index - 1])
             for layer in table.network.layers}
    rings = {item: RingModel(geom.slots, geom.entries, geom.lanes, geom.row(fmt).size // geom.lanes)
             for item, geom in geometry.items()}
    f1 = next(t for t in table.tasks.values() if t.name == "F1")
    arrivals = {max(0, (n + f1.lag) * table.period_cycles + f1.start - 1): n for n in range(samples)}

    def arrive(n):  # the input stream's job: sample n into its slot just before F_1(n) starts
        for item, values in (("a0", inputs), ("target", targets)):
            # a sample's rows are laid out as the bank rows of a one-row matrix
            rings[item].fill("writer", weights_to_words(values[n][None, :], fmt, lanes))

    # a bias store's rows follow its layer's bank rows, as in the read-back (hw/conv_layout.py)
    bank_reads = [(getattr(pe, f"{p.name}_w"), p.layer, 0) for p in pe.plans if p.reads_bank]
    bank_reads += [(getattr(pe, f"{p.name}_b"), p.layer, p.bank_rows) for p in pe.plans if p.bias_rows]
    bank_writes = [(getattr(pe, f"{p.name}_wr"), p.layer, 0) for p in pe.plans if p.kind == "G"]
    bank_writes += [(getattr(pe, f"{p.name}_bwr"), p.layer, p.bank_rows) for p in pe.plans
                    if p.kind == "G" and p.bias_rows]
    ring_reads = [(getattr(pe, side), item, side) for item in pe.read_items for side in pe.readers(item)]
    ring_writes = [(getattr(pe, f"{item}_wr"), item) for item in pe.write_items]
    accesses, results = [], []

    async def bench(ctx):
        ctx.set(pe.samples, samples)
        pending = []
        for cycle in range(-1, table.total_cycles(samples) + 8):  # cycle -1: prime, the PE held in reset
            ctx.set(pe.prime, cycle == -1)
            if cycle in arrivals:
                arrive(arrivals[cycle])
            for port, value in pending:  # synchronous reads: data the cycle after
                ctx.set(port, value)
            pending = []
            for port, layer, offset in bank_reads:
                if ctx.get(port.en):
                    word = banks[layer][offset + ctx.get(port.addr)]
                    pending.append((port.data, word & ((1 << len(port.data)) - 1)))
                    accesses.append((cycle, "read", f"bank{layer}"))
            if cycle == -1:  # the accelerator's schedule enable is low while it primes: weight reads only
                await ctx.tick()
                continue
            for port, item, side in ring_reads:
                if ctx.get(port.en):
                    pending.append((port.data.as_value(), rings[item].read(side, ctx.get(port.chunk))))
                    accesses.append((cycle, "read", item))
            for port, layer, offset in bank_writes:
                if ctx.get(port.en):
                    banks[layer][offset + ctx.get(port.addr)] = ctx.get(port.data)
                    accesses.append((cycle, "write", f"bank{layer}"))
            for port, item in ring_writes:
                if ctx.get(port.en):
                    rings[item].write("writer", ctx.get(port.chunk), ctx.get(port.data.as_value()), ctx.get(port.en))
                    accesses.append((cycle, "write", item))
            for port, item, side in ring_reads:  # pointers move after the cycle
                if ctx.get(port.advance):
                    rings[item].advance(side)
            for port, item in ring_writes:
                if ctx.get(port.advance):
                    rings[item].advance("writer")
            if ctx.get(pe.result.valid):
                results.append((cycle, ctx.get(pe.result.index), ctx.get(pe.result.value)))
            await ctx.tick()

    run_clocked(ResetInserter(pe.prime)(pe), bench, 1e-8)
    rows = {layer.index: [unpack_chunk(word, fmt, lanes) for word in banks[layer.index]]
            for layer in table.network.layers}
    final = [(layer_weights(layer, rows[layer.index], lanes), layer_bias(layer, rows[layer.index], lanes))
             for layer in table.network.layers]
    width = table.network.sizes[-1]
    assert [index for _, index, _ in results] == list(range(width)) * samples
    outputs = np.array([value for _, _, value in results], dtype=np.int64).reshape(samples, width)
    return final, outputs, accesses


def runs(table, samples):
    """(start, end, task name) of every task run of samples 0..samples-1."""
    period = table.period_cycles
    out = []
    for tasks in table.processor_tasks:
        for t in tasks:
            for n in range(samples):
                start = (n + t.lag) * period + t.start
                out.append((start, start + t.cycles, t.name, n))
    return sorted(out)


@pytest.mark.parametrize("network,lanes,samples", [("tiny", 4, 3), ("tiny", 2, 2), ("mlp-digits", 8, 2)])
def test_sequential_pe_is_bit_and_cycle_exact(network, lanes, samples):
    net = tiny_network() if network == "tiny" else zoo_network(network)
    table = schedule(net, 1, "sequential", CostModel(lanes=lanes))
    weights, inputs, targets = random_problem(net, FMT, samples, seed=3)
    biases = random_biases(net, FMT, seed=3)
    final, outputs, accesses = run_pe(table, FMT, weights, inputs, targets, biases)
    want_outputs, _, want_weights, want_biases = reference(table, FMT, "stash", weights, inputs, targets, biases)
    np.testing.assert_array_equal(outputs, want_outputs)
    for (got, got_bias), want, want_bias in zip(final, want_weights, want_biases):
        np.testing.assert_array_equal(got, want)
        assert (got_bias is None) == (want_bias is None)
        if got_bias is not None:
            np.testing.assert_array_equal(got_bias, want_bias)

    # cycle contract: every access lies inside one task run, weight reads requested a cycle ahead
    # of their issue; each run's first access is at its start
    windows = runs(table, samples)
    first = {}
    for cycle, kind, memory in accesses:
        cycle += kind == "read" and memory.startswith("bank")
        hits = [w for w in windows if w[0] <= cycle < w[1]]
        assert len(hits) == 1, f"access at cycle {cycle} outside every task run"
        first.setdefault(hits[0], cycle)
    assert set(first) == set(windows)
    for window, cycle in first.items():
        assert cycle == window[0], f"{window[2]} of sample {window[3]} first accesses at {cycle}, starts {window[0]}"
    # the last write of each run lands within the task's overhead after its last issue; G's bank
    # writes a cycle earlier, so that a weight read requested a cycle ahead never meets one
    for start, end, _, _ in windows:
        assert max(c for c, kind, _ in accesses if start <= c < end) <= end - 1
        assert all(c <= end - 2 for c, kind, memory in accesses
                   if start <= c < end and kind == "write" and memory.startswith("bank"))


def test_plan_refuses_a_short_overhead():
    table = schedule(tiny_network(), 1, "sequential", CostModel(lanes=4, task_overhead_cycles=2))
    with pytest.raises(LayerPipeError, match="overhead"):
        hardware_plan(table, FMT)
