"""Amaranth's simulator with one clock and one testbench, as the component tests run it."""

from __future__ import annotations

from amaranth.sim import Simulator


def run_clocked(dut, testbench, clock_period: float) -> None:
    """Run the async ``testbench(ctx)`` to its end with ``dut``'s sync domain clocked every ``clock_period`` s."""
    sim = Simulator(dut)
    sim.add_clock(clock_period)
    sim.add_testbench(testbench)
    sim.run()
