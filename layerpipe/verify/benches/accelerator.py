"""Bench of a generated accelerator: train on samples, compare results and final weights in order.

Driver → DUT → monitor → in-order scoreboard against the golden model's per-sample
results (packed as the sidecar describes them); afterwards the weights are read back
through ``wread_*`` and compared row by row. Measured cycles: the design's ``cycles``
counter, its ``stall_cycles``, and the clock edges from ``start`` to ``done`` seen by the
bench (simulation time); ``clock_cycles`` counts every simulated clock cycle (reset and
read-back too), for the simulation speed.
"""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge
from cocotb.utils import get_sim_time

from layerpipe.verify.benches import config, write_results
from layerpipe.verify.streams import InOrderScoreboard, StreamDriver, StreamMonitor


@cocotb.test()
async def train_and_compare(dut):
    cfg = config()
    period_ns = 10
    cocotb.start_soon(Clock(dut.clk, period_ns, unit="ns").start())
    dut.rst.value = 1
    dut.start.value = 0
    dut.n_samples.value = len(cfg["samples"])
    dut.wread_layer.value = 0
    dut.wread_addr.value = 0
    driver = StreamDriver(dut, "sample_in", dut.clk, idle_probability=cfg["idle"], seed=cfg["seed"])
    scoreboard = InOrderScoreboard(cfg["expected_results"], lambda i, word: f"result of sample {i} ({word:#x})")
    monitor = StreamMonitor(dut, "result_out", dut.clk, scoreboard, backpressure_probability=cfg["backpressure"],
                            seed=cfg["seed"] + 1)
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    cocotb.start_soon(monitor.run())
    cocotb.start_soon(driver.send(cfg["samples"]))
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    edges = 1
    while not int(dut.done.value):
        await RisingEdge(dut.clk)
        edges += 1
        if edges > cfg["max_cycles"]:
            break
    weight_mismatches = []
    for layer, rows in enumerate(cfg["expected_weights"], start=1):
        dut.wread_layer.value = layer
        for addr, expected in enumerate(rows):
            dut.wread_addr.value = addr
            await ClockCycles(dut.clk, 3)  # two cycles of read latency, and one to sample after
            got = int(dut.wread_data.value)
            if got != expected and len(weight_mismatches) < 10:
                weight_mismatches.append(f"layer {layer} bank row {addr}: RTL {got:#x}, golden {expected:#x}")
    write_results({"result_mismatches": scoreboard.verdict(), "weight_mismatches": weight_mismatches,
                   "cycles": int(dut.cycles.value), "stall_cycles": int(dut.stall_cycles.value),
                   "edges_start_to_done": edges, "done": bool(int(dut.done.value)),
                   "clock_cycles": round(get_sim_time(unit="ns") / period_ns)})
