"""Bench of a component with static timing: drive precomputed columns, check every output in order.

Config: ``drive`` (port → one value per cycle, unsigned), ``monitors`` (each ``name``,
``valid``, ``delay``, ``fields`` and the model's ``expected`` list of ``[cycle, field, …]``).
Driver → DUT → monitors → one in-order scoreboard per monitor; the cycle is part of each
item, so a right value a cycle early or late is a mismatch too.
"""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from layerpipe.verify.benches import config, write_results
from layerpipe.verify.static import CycleDriver, DelayedMonitor
from layerpipe.verify.streams import InOrderScoreboard


def _describe(name):
    return lambda i, item: f"{name} #{i} [cycle, fields…] = {item}"


@cocotb.test()
async def drive_and_compare(dut):
    cfg = config()
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    driver = CycleDriver(dut, cfg["drive"])
    scoreboards, monitors = {}, []
    for spec in cfg["monitors"]:
        scoreboards[spec["name"]] = board = InOrderScoreboard(spec["expected"], _describe(spec["name"]))
        monitors.append(DelayedMonitor(dut, spec["valid"], spec["fields"], board, spec.get("delay", 0)))
    driver.idle()
    dut.rst.value = 1
    await ClockCycles(dut.clk, 2)
    dut.rst.value = 0
    for cycle in range(driver.length):
        driver.apply(cycle)
        await RisingEdge(dut.clk)
        for monitor in monitors:
            monitor.sample(cycle)
    write_results({"monitors": {name: {"mismatches": board.verdict(), "observed": len(board.observed)}
                                for name, board in scoreboards.items()}})
