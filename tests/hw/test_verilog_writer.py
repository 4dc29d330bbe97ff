"""The generator's Verilog has no combinational block that waits for a time-0 event (Icarus -g2012 ran it wrong)."""

import subprocess

import pytest
from amaranth import Module, Signal
from amaranth.back import verilog
from amaranth.hdl import Print
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from layerpipe.core.costs import CostModel
from layerpipe.hw.generate import accelerator_for_table, generate
from layerpipe.hw.verilog_writer import convert, time_zero_dependencies
from layerpipe.sched.scheduler import schedule
from layerpipe.verify.runner import simulator_available
from tests.helpers.problems import FMT, tiny_network

# Yosys's write_verilog: the dummy register whose initializer is to wake every `always @*` at time 0.
YOSYS_TIME_ZERO_TRIGGER = "reg \\$auto$verilog_backend.cc"
ICARUS_MISSING = simulator_available("icarus")


def test_only_blocks_on_clock_edges_pass():
    text = "\n".join(["always @(posedge clk)", "always @(posedge clk, negedge rst_n) begin",
                      "always @(posedge clk or posedge rst)", "always @*", "always @(*) begin", "always @(a or b)",
                      "always @(posedge clk or b)", "assign y = a; // always @* in a comment is still reported"])
    assert [line.split(":")[0] for line in time_zero_dependencies(text)] == ["4", "5", "6", "7", "8"]


def test_generated_accelerator_has_no_block_waiting_for_time_zero(tmp_path):
    table = schedule(tiny_network(), 1, "sequential", CostModel(lanes=4))
    text = generate(table, tmp_path, fmt=FMT).verilog.read_text()
    assert "always @(posedge clk)" in text  # the registers are still there
    assert time_zero_dependencies(text) == []
    assert YOSYS_TIME_ZERO_TRIGGER not in text
    raw = verilog.convert(accelerator_for_table(table, FMT), name="layerpipe_top", emit_src=False)
    assert len(time_zero_dependencies(raw)) > 10 and YOSYS_TIME_ZERO_TRIGGER in raw


class Decoder(wiring.Component):
    hits: In(2)
    chosen: Out(3)

    def elaborate(self, platform):
        m = Module()
        m.d.comb += self.chosen.eq(7)
        with m.If(self.hits[0]):
            m.d.comb += self.chosen.eq(1)
        with m.If(self.hits[1]):
            m.d.comb += self.chosen.eq(2)
        return m


class ConstantHits(wiring.Component):
    """Amaranth folds the constant into the child: its process is left reading constants only."""

    chosen: Out(3)

    def elaborate(self, platform):
        m = Module()
        m.submodules.decoder = decoder = Decoder()
        m.d.comb += [decoder.hits.eq(0b10), self.chosen.eq(decoder.chosen)]
        return m


def icarus_chosen_at_time_1(tmp_path, text: str, mode: str) -> str:
    bench = ("module bench; wire [2:0] chosen; top dut(.chosen(chosen));\n"
             "initial #1 $display(\"%b\", chosen); endmodule\n")
    (tmp_path / "design.v").write_text(text)
    (tmp_path / "bench.v").write_text(bench)
    subprocess.run(["iverilog", mode, "-o", str(tmp_path / "sim.vvp"), "-s", "bench", str(tmp_path / "bench.v"),
                    str(tmp_path / "design.v")], check=True, capture_output=True)
    return subprocess.run(["vvp", "-n", str(tmp_path / "sim.vvp")], check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.mark.skipif(ICARUS_MISSING is not None, reason=ICARUS_MISSING or "")
def test_a_process_of_constants_is_defined_under_systemverilog_rules(tmp_path):
    raw = verilog.convert(ConstantHits(), name="top", emit_src=False)
    assert icarus_chosen_at_time_1(tmp_path, raw, "-g2005") == "010"
    assert icarus_chosen_at_time_1(tmp_path, raw, "-g2012") == "xxx"  # the block never runs
    fixed = convert(ConstantHits(), "top")
    assert icarus_chosen_at_time_1(tmp_path, fixed, "-g2005") == "010"
    assert icarus_chosen_at_time_1(tmp_path, fixed, "-g2012") == "010"


class CombinationalPrint(wiring.Component):
    value: In(4)

    def elaborate(self, platform):
        m = Module()
        seen = Signal(4)
        m.d.comb += [seen.eq(self.value), Print("value =", seen)]
        return m


def test_a_block_yosys_cannot_turn_into_logic_is_refused():
    with pytest.raises(RuntimeError, match=r"1 level-sensitive always block\(s\) in printer.*always @\*"):
        convert(CombinationalPrint(), "printer")
