"""Bench of one processing element: its memories are Python models, its results checked in order.

Config: ``samples``, ``cycles`` (to run), ``banks`` (``rows`` and the ``reads``/``writes``
request ports that use each), ``rings`` (delay lines: ``name``, ``slots``, ``entries``,
``lanes``, ``element_bits``, the ``writer`` port or null, the ``readers``), ``arrivals``
(``[cycle, ring, rows]``: the input stream filling a sample), the model's
``expected_results`` (``[cycle, index, value, diff]`` per output neuron) and
``expected_banks`` (final bank rows). The PE drives its request ports; the memory models
answer (:mod:`layerpipe.verify.memories`); the ``result`` port goes to an in-order
scoreboard; the banks are compared row by row at the end.
"""

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from layerpipe.verify.benches import config, write_results
from layerpipe.verify.memories import BankModel, RingModel
from layerpipe.verify.streams import InOrderScoreboard

WRITER = "writer"


def _ports(dut, prefix, members):
    return [getattr(dut, f"{prefix}__{member}") for member in members]


@cocotb.test()
async def train_and_compare(dut):
    cfg = config()
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    banks = [BankModel(spec["rows"]) for spec in cfg["banks"]]
    bank_reads = [(*_ports(dut, port, ("en", "addr", "data")), bank)
                  for spec, bank in zip(cfg["banks"], banks, strict=True) for port in spec["reads"]]
    bank_writes = [(*_ports(dut, port, ("en", "addr", "data")), bank)
                   for spec, bank in zip(cfg["banks"], banks, strict=True) for port in spec["writes"]]
    rings = {spec["name"]: RingModel(spec["slots"], spec["entries"], spec["lanes"], spec["element_bits"])
             for spec in cfg["rings"]}
    ring_reads = [(*_ports(dut, port, ("en", "chunk", "advance", "data")), rings[spec["name"]], port)
                  for spec in cfg["rings"] for port in spec["readers"]]
    ring_writes = [(*_ports(dut, spec["writer"], ("en", "chunk", "advance", "data")), rings[spec["name"]])
                   for spec in cfg["rings"] if spec["writer"]]
    arrivals = {}
    for cycle, ring, rows in cfg["arrivals"]:
        arrivals.setdefault(cycle, []).append((rings[ring], rows))
    scoreboard = InOrderScoreboard(cfg["expected_results"], lambda i, item: f"result #{i} [cycle, index, value, "
                                                                            f"diff] = {item}")
    valid, index, value, diff = _ports(dut, "result", ("valid", "index", "value", "diff"))

    dut.samples.value = cfg["samples"]
    for data in [entry[2] for entry in bank_reads] + [entry[3] for entry in ring_reads]:
        data.value = 0
    dut.rst.value = 1
    dut.prime.value = 0
    await ClockCycles(dut.clk, 1)
    dut.prime.value = 1  # the last reset cycle primes: the weight reads of schedule cycle 0's issue
    await RisingEdge(dut.clk)
    primed = [(data, bank.read(int(addr.value))) for en, addr, data, bank in bank_reads if int(en.value)]
    dut.rst.value = 0
    dut.prime.value = 0
    for data, word in primed:
        data.value = word
    for cycle in range(cfg["cycles"]):
        await RisingEdge(dut.clk)  # ends `cycle`: the requests below are the ones the PE made in it
        for ring, rows in arrivals.get(cycle, ()):
            ring.fill(WRITER, rows)
        answers = []  # synchronous reads, before this cycle's writes: data in the next cycle
        for en, addr, data, bank in bank_reads:
            if int(en.value):
                answers.append((data, bank.read(int(addr.value))))
        for en, chunk, _, data, ring, side in ring_reads:
            if int(en.value):
                answers.append((data, ring.read(side, int(chunk.value))))
        for en, addr, data, bank in bank_writes:
            if int(en.value):
                bank.write(int(addr.value), int(data.value))
        for en, chunk, _, data, ring in ring_writes:
            lanes = int(en.value)
            if lanes:
                ring.write(WRITER, int(chunk.value), int(data.value), lanes)
        for _, _, advance, _, ring, side in ring_reads:
            if int(advance.value):
                ring.advance(side)
        for _, _, advance, _, ring in ring_writes:
            if int(advance.value):
                ring.advance(WRITER)
        for data, word in answers:
            data.value = word
        if int(valid.value):
            scoreboard([cycle, int(index.value), int(value.value), int(diff.value)])
    bank_mismatches = [f"bank {b} row {row}: RTL {got:#x}, model {want:#x}"
                       for b, (bank, rows) in enumerate(zip(banks, cfg["expected_banks"], strict=True))
                       for row, (got, want) in enumerate(zip(bank.rows, rows, strict=True)) if got != want]
    write_results({"result_mismatches": scoreboard.verdict(), "bank_mismatches": bank_mismatches[:20],
                   "results": len(scoreboard.observed)})
