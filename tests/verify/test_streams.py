"""The stream driver, monitor and scoreboard on a small Amaranth design in Verilator."""

import pytest
from amaranth import Module
from amaranth.back import verilog
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.verify.runner import run_bench


class PlusOne(wiring.Component):
    i: In(stream.Signature(16))
    o: Out(stream.Signature(16))

    def elaborate(self, platform):
        m = Module()
        m.submodules.queue = queue = fifo.SyncFIFOBuffered(width=16, depth=4)
        m.d.comb += [queue.w_data.eq(self.i.payload + 1), queue.w_en.eq(self.i.valid), self.i.ready.eq(queue.w_rdy),
                     self.o.payload.eq(queue.r_data), self.o.valid.eq(queue.r_rdy), queue.r_en.eq(self.o.ready)]
        return m


@pytest.fixture(scope="module")
def plus_one_verilog(tmp_path_factory):
    path = tmp_path_factory.mktemp("plus_one") / "plus_one.v"
    path.write_text(verilog.convert(PlusOne(), name="plus_one"))
    return path


def bench(path, **config):
    # one build folder per design: the second run reuses the Verilator build
    return run_bench(path, "plus_one", "stream_loopback", path.parent / "build",
                     {"seed": 3, "count": 200, "idle": 0.3, "backpressure": 0.4, **config})


def test_every_word_arrives_in_order_under_idle_and_backpressure(plus_one_verilog):
    results = bench(plus_one_verilog, model_offset=1)
    assert results == {"mismatches": [], "observed": 200}


def test_scoreboard_reports_a_wrong_model(plus_one_verilog):
    results = bench(plus_one_verilog, model_offset=2, count=5)
    assert len(results["mismatches"]) == 5
    assert "differs from the model" in results["mismatches"][0]
