"""Resource estimates of a hardware plan (hw/estimate.py's formulas), read from the plan alone.

A PE is charged its own logic (:func:`pe_resources`: its VectorMAC, sequencer, iterator and
operand selection), the delay-line copies it reads and the links that feed them, the
weight bank of each layer whose G it runs and the stash of each layer whose B it runs.
``shared`` holds the input delay lines, the loader, the result collector and the control
counters (:func:`design_resources`).
"""

from __future__ import annotations

import math

from amaranth.lib import data
from amaranth.utils import ceil_log2

from layerpipe.hw import estimate as est
from layerpipe.hw.conv_bank import conv_store_resources
from layerpipe.hw.conv_layout import bias_store_shape
from layerpipe.hw.delay_line import delay_line_resources
from layerpipe.hw.link import link_resources
from layerpipe.hw.loop_nest import loop_nest_resources
from layerpipe.hw.mac import mac_resources
from layerpipe.hw.plan import CYCLE_BITS, INPUT_ITEMS, HardwarePlan, error_bits
from layerpipe.hw.pool import pool_resources
from layerpipe.hw.sequencer import SAMPLE_BITS
from layerpipe.hw.weight_bank import bank_resources

__all__ = ["pe_resources", "design_resources"]


def pe_resources(plan: HardwarePlan, processor: int, family: est.Family | str = est.ECP5) -> est.Resources:
    """The logic of processing element ``processor``; memories (banks, delay lines, stash) are the accelerator's."""
    fam = est.get_family(family)
    pe = plan.pes[processor]
    fmt, lanes, tasks = plan.fmt, plan.lanes, pe.tasks
    count_bits = max(1, math.ceil(math.log2(max(2, plan.table.period_cycles))))
    index_bits = SAMPLE_BITS + 1
    n = len(tasks)
    total = mac_resources(fmt, lanes, max_chunks=pe.mac_max_chunks, ops=pe.mac_ops, tag_shape=pe.tag_layout,
                          accumulate_g=pe.accumulates_g, biases=pe.biases, family=fam)
    for task in tasks:  # a conv task's address generator and, for F, its pooling write-back
        if task.conv:
            total += loop_nest_resources(task.nest, fam)
            if task.kind == "F":
                total += pool_resources(fmt, lanes, task.pool, fam, task.pool_mode)
    # sequencer: offset and period counters, one start compare and lag window per task
    total += est.register(count_bits + index_bits) + est.adder(count_bits) + est.adder(index_bits)
    total += (est.logic(count_bits, 1, fam) + est.adder(index_bits) * 3) * n
    # end of the run: the duration down-counter, the pending bits, the sample N − 1 compare
    total += est.register(count_bits + 2 * n + 1) + est.adder(count_bits) + est.adder(SAMPLE_BITS) \
        + est.mux(count_bits, n, fam)
    # iterator and the operand-cycle copy of its state
    tag_bits = data.Layout.cast(pe.tag_layout).size
    meta_bits = tag_bits + math.ceil(math.log2(max(2, max(p.chunks for p in tasks)))) \
        + math.ceil(math.log2(max(2, max(p.rows for p in tasks)))) + 6
    total += est.register(2 * meta_bits) + est.adder(meta_bits) + est.logic(4, 4 * n, fam)
    # operand multiplexers: weights and vector by task, error word and mask bit by lane
    total += est.mux(lanes * fmt.data_bits, n, fam) * 2
    total += est.mux(fmt.data_bits, lanes, fam) + est.mux(1, lanes, fam)
    if any(p.result for p in tasks):
        total += est.register(fmt.data_bits * 3) + est.adder(fmt.data_bits + 1) \
            + est.saturator(fmt.data_bits + 1, fmt.data_bits, fam)
    return total


def design_resources(plan: HardwarePlan, family: est.Family | str = est.ECP5) -> dict[str, est.Resources]:
    """Expected LUT/FF/DSP/BRAM per processing element (``PE<p>``), plus the shared top-level logic."""
    fam = est.get_family(family)
    table, fmt, lanes, bits = plan.table, plan.fmt, plan.lanes, plan.fmt.data_bits
    bank_rows, stash = plan.bank_rows, plan.stash
    rows = {f"PE{p}": pe_resources(plan, p, fam) for p in plan.pes}
    for p, pe in plan.pes.items():
        for task in pe.tasks:
            if task.kind == "G" and task.layer in plan.conv_banks:
                conv = plan.conv_banks[task.layer]
                rows[f"PE{p}"] += conv_store_resources(fmt, lanes, bank_rows[task.layer], len(conv.readers),
                                                       conv.double_buffered, family=fam)
            elif task.kind == "G":
                rows[f"PE{p}"] += bank_resources(fmt, lanes, bank_rows[task.layer],
                                                 len(plan.writable_ports(task.layer)), family=fam)
            if task.kind == "G" and task.layer in plan.bias_stores:  # hw/conv_layout.py: rows and words
                store, layer = plan.bias_stores[task.layer], table.network.layer(task.layer)
                bias_rows, words = bias_store_shape(layer, lanes)
                rows[f"PE{p}"] += conv_store_resources(fmt, words, bias_rows, len(store.readers),
                                                       store.double_buffered, family=fam)
            if task.kind == "B" and task.layer in stash:
                rows[f"PE{p}"] += delay_line_resources(lanes * bits, stash[task.layer] * bank_rows[task.layer], 1,
                                                       fam)
    shared = est.Resources()
    for item, geom in plan.buffers.items():
        width = geom.row(fmt).size
        if item in INPUT_ITEMS:
            shared += delay_line_resources(width, geom.depth, len(plan.input_readers(item)), fam)
            continue
        for q in plan.consumers(item):
            rows[f"PE{q}"] += delay_line_resources(width, geom.depth, len(plan.pes[q].readers(item)), fam)
        for link in plan.links(item):
            rows[f"PE{link.consumer}"] += link_resources(fmt, link.width, table.cost.link_latency_cycles,
                                                         geom.element, family=fam)
            rows[f"PE{link.consumer}"] += est.register(2 * ceil_log2(max(2, geom.entries))) + est.adder(8)
    outputs = plan.sizes[-1]
    shared += est.register(SAMPLE_BITS * 3 + 8) + est.adder(SAMPLE_BITS) * 4 + est.mux(lanes * bits, 8, fam)
    shared += est.register(outputs * bits + error_bits(table, fmt) + 1) + est.multiplier(bits + 1, bits + 1, fam)
    shared += est.adder(error_bits(table, fmt))
    shared += est.register(2 * CYCLE_BITS + SAMPLE_BITS + 4) + est.adder(CYCLE_BITS) * 2
    rows["shared"] = shared
    return rows
