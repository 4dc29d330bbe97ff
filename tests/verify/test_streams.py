"""The stream driver, monitor and scoreboard on a small Amaranth design in Verilator."""

import pytest
from amaranth import Module
from amaranth.lib import fifo, stream, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.verify.convert import component_verilog
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
def plus_one(tmp_path_factory):
    return component_verilog(PlusOne(), tmp_path_factory.mktemp("plus_one"), "plus_one")


def bench(design, run_dir, cache, **config):
    # the build is cached by content: the second test reuses it
    results = run_bench(design.verilog, design.top, "stream_loopback", run_dir,
                        {"seed": 3, "count": 200, "idle": 0.3, "backpressure": 0.4, **config},
                        public_ports=design.port_names, cache_dir=cache)
    return {key: value for key, value in results.items() if key != "runner"}


def test_every_word_arrives_in_order_under_idle_and_backpressure(plus_one, tmp_path, verilator_cache):
    results = bench(plus_one, tmp_path, verilator_cache, model_offset=1)
    assert results == {"mismatches": [], "observed": 200}


def test_scoreboard_reports_a_wrong_model(plus_one, tmp_path, verilator_cache):
    results = bench(plus_one, tmp_path, verilator_cache, model_offset=2, count=5)
    assert len(results["mismatches"]) == 5
    assert "differs from the model" in results["mismatches"][0]


def test_identical_verilog_is_built_once_and_an_identical_run_is_shared(plus_one, tmp_path, verilator_cache):
    def run(verilog, name, seed=11):
        config = {"seed": seed, "count": 3, "idle": 0.5, "backpressure": 0.5, "model_offset": 1}
        return run_bench(verilog, "plus_one", "stream_loopback", tmp_path / name, config,
                         public_ports=plus_one.port_names, cache_dir=verilator_cache)

    first = run(plus_one.verilog, "first")
    copy = tmp_path / "copy.v"
    copy.write_text(plus_one.verilog.read_text())
    again = run(copy, "again")
    assert again["runner"]["build_cached"] and again["runner"]["build_folder"] == first["runner"]["build_folder"]
    assert not first["runner"]["shared_run"] and again["runner"]["shared_run"]
    assert {k: v for k, v in again.items() if k != "runner"} == {k: v for k, v in first.items() if k != "runner"}
    assert (tmp_path / "again" / "bench_results.json").exists()  # a shared run's folder still has its record
    reseeded = run(copy, "reseeded", seed=12)  # another stimulus: a run of its own
    assert not reseeded["runner"]["shared_run"]
    changed = tmp_path / "changed.v"
    changed.write_text(plus_one.verilog.read_text() + "// another design\n")
    other = run(changed, "changed")["runner"]
    assert not other["build_cached"] and other["build_folder"] != first["runner"]["build_folder"]
    assert not other["shared_run"]
