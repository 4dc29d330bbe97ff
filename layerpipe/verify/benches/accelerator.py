"""Bench of a generated accelerator: load the weights, train on samples, compare results and final weights.

The weights the run starts from are written through ``wwrite_*`` first (one row per cycle);
driver → DUT → monitor → in-order scoreboard against the golden model's per-sample
results (packed as the sidecar describes them); afterwards the weights are read back
through ``wread_*``, compared row by row and reported.

Cycles are observed from outside the design: :class:`RunObserver` samples the ports and
the banks' write enables (named in the sidecar's ``observe``) once per clock cycle of the
clock this bench drives, and timestamps the start, the first input handshake, every
result offer and handshake and the last write of every weight bank. The end of the run
follows from those events and the sidecar's fixed offsets (``observed_cycles``); the
design's own ``cycles`` counter is reported beside it, never in its place.
``clock_cycles`` counts every simulated clock cycle (reset and read-back too), for the
simulation speed.
"""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, FallingEdge, RisingEdge
from cocotb.utils import get_sim_time

from layerpipe.verify.benches import config, write_results
from layerpipe.verify.streams import InOrderScoreboard, StreamDriver, StreamMonitor


class RunObserver:
    """Timestamps a run's events, sampling at the falling edge (every value settled for the cycle).

    Cycle numbers count the bench's clock from the cycle in which ``start`` is taken (0).
    A bank write or a result offer is converted to a schedule cycle by subtracting that
    cycle's count of stalled cycles before it (``stall_cycles``, sampled in the same cycle).
    """

    def __init__(self, dut, observe: dict):
        self.dut, self.observe = dut, observe
        self.write_enables = {entry["layer"]: getattr(dut, entry["signal"]) for entry in observe["bank_writes"]}
        self.start = None  # clock cycle in which start was taken (absolute)
        self.first_input = None
        self.offers, self.handshakes = [], []  # results: (cycle, schedule cycle) of valid rising; handshake cycle
        self.last_write = {}  # layer: (cycle, schedule cycle)
        self.stopped = False

    def _schedule_cycle(self, cycle: int) -> int:
        return cycle - 1 - int(self.dut.stall_cycles.value)

    async def run(self):
        dut, cycle, offering = self.dut, 0, False
        while not self.stopped:
            await FallingEdge(dut.clk)
            if self.start is None:
                if int(dut.start.value) and not int(dut.busy.value):
                    self.start = cycle
                cycle += 1
                continue
            here = cycle - self.start
            if self.first_input is None and int(dut.sample_in__valid.value) and int(dut.sample_in__ready.value):
                self.first_input = here
            for layer, enable in self.write_enables.items():
                if int(enable.value):
                    self.last_write[layer] = (here, self._schedule_cycle(here))
            valid = int(dut.result_out__valid.value)
            if valid and not offering:
                self.offers.append((here, self._schedule_cycle(here)))
            offering = bool(valid)
            if valid and int(dut.result_out__ready.value):
                self.handshakes.append(here)
                offering = False
            cycle += 1

    def observed_cycles(self) -> int | None:
        """The run's length in schedule cycles, as these events show it (None: the run did not end)."""
        ends = [self.last_write[e["layer"]][1] + e["cycles_to_task_end"]
                for e in self.observe["bank_writes"] if e["layer"] in self.last_write]
        if self.offers:
            ends.append(self.offers[-1][1] + self.observe["last_result"]["cycles_to_task_end"])
        return max(ends) if ends else None


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
    dut.wwrite_en.value = 0
    driver = StreamDriver(dut, "sample_in", dut.clk, idle_probability=cfg["idle"], seed=cfg["seed"])
    scoreboard = InOrderScoreboard(cfg["expected_results"], lambda i, word: f"result of sample {i} ({word:#x})")
    monitor = StreamMonitor(dut, "result_out", dut.clk, scoreboard, backpressure_probability=cfg["backpressure"],
                            seed=cfg["seed"] + 1)
    observer = RunObserver(dut, cfg["observe"])
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    for layer, rows in enumerate(cfg["load_weights"], start=1):  # the run's starting weights, while idle
        dut.wwrite_layer.value = layer
        for addr, word in enumerate(rows):
            dut.wwrite_addr.value, dut.wwrite_data.value, dut.wwrite_en.value = addr, word, 1
            await RisingEdge(dut.clk)
    dut.wwrite_en.value = 0
    cocotb.start_soon(monitor.run())
    cocotb.start_soon(driver.send(cfg["samples"]))
    cocotb.start_soon(observer.run())
    dut.start.value = 1
    await RisingEdge(dut.clk)
    dut.start.value = 0
    edges = 1
    while not int(dut.done.value):
        await RisingEdge(dut.clk)
        edges += 1
        if edges > cfg["max_cycles"]:
            break
    await FallingEdge(dut.clk)  # the observer's sample of the cycle in which done rose
    observer.stopped = True
    weight_mismatches, read_back = [], []
    for layer, rows in enumerate(cfg["expected_weights"], start=1):
        dut.wread_layer.value = layer
        read_back.append([])
        for addr, expected in enumerate(rows):
            dut.wread_addr.value = addr
            await ClockCycles(dut.clk, 3)  # two cycles of read latency, and one to sample after
            got = int(dut.wread_data.value)
            read_back[-1].append(got)
            if got != expected and len(weight_mismatches) < 10:
                weight_mismatches.append(f"layer {layer} bank row {addr}: RTL {got:#x}, golden {expected:#x}")
    write_results({"result_mismatches": scoreboard.verdict(), "weight_mismatches": weight_mismatches,
                   "read_back": read_back,
                   "observed_cycles": observer.observed_cycles(),
                   "counter_cycles": int(dut.cycles.value), "stall_cycles": int(dut.stall_cycles.value),
                   "edges_start_to_done": edges, "done": bool(int(dut.done.value)),
                   "events": {"first_input": observer.first_input,
                              "result_offers": [cycle for cycle, _ in observer.offers],
                              "result_handshakes": observer.handshakes,
                              "last_bank_writes": {str(layer): cycle
                                                   for layer, (cycle, _) in sorted(observer.last_write.items())}},
                   "clock_cycles": round(get_sim_time(unit="ns") / period_ns)})
