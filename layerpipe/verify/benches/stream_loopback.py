"""Bench for the stream pieces themselves: a DUT that returns each input word plus one."""

import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from layerpipe.verify.benches import config, write_results
from layerpipe.verify.streams import InOrderScoreboard, StreamDriver, StreamMonitor


@cocotb.test()
async def loopback_in_order_under_idle_and_backpressure(dut):
    cfg = config()
    rng = random.Random(cfg["seed"])
    words = [rng.randrange(1 << 16) for _ in range(cfg["count"])]
    expected = [(w + cfg["model_offset"]) & 0xFFFF for w in words]
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    driver = StreamDriver(dut, "i", dut.clk, idle_probability=cfg["idle"], seed=cfg["seed"])
    scoreboard = InOrderScoreboard(expected)
    monitor = StreamMonitor(dut, "o", dut.clk, scoreboard, backpressure_probability=cfg["backpressure"],
                            seed=cfg["seed"] + 1)
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    cocotb.start_soon(monitor.run())
    await driver.send(words)
    for _ in range(100 * len(words)):
        if scoreboard.complete:
            break
        await RisingEdge(dut.clk)
    write_results({"mismatches": scoreboard.verdict(), "observed": len(scoreboard.observed)})
