"""The named steps of a build, for a board and for the Verilog-only target.

For a board, ``elaborate`` lets Amaranth's Lattice platform write its own build plan
(RTLIL, the Yosys script, the pin constraints and ``build_<name>.sh``, which stays runnable
by hand with the environment of :func:`layerpipe.boards.toolchain.toolchain_env`), with
three overrides: ``synth_opts`` (``-dsp`` on the iCE40), ``script_after_synth`` (a Yosys
``stat -json``) and ``nextpnr_opts`` (``--report``, ``--timing-allow-fail``, ``--seed``).
The later steps run the plan's commands (:mod:`layerpipe.boards.build_commands`).
``place&route`` first runs nextpnr ``--pack-only`` with a JSON report (seconds, counted in
the step's time): the exact cell counts after packing, so a design that cannot fit is
reported with its numbers without a placement attempt. The Verilog-only target writes the
Verilog and runs a generic Yosys ``synth`` for a cell count.

After a failed step the later tool steps are recorded as skipped, so every report names all five.
"""

from __future__ import annotations

import json
import re
import shlex
import time
import traceback
from pathlib import Path

from layerpipe.boards import report as report_mod
from layerpipe.boards import toolchain
from layerpipe.boards.build_commands import run_commands
from layerpipe.boards.build_record import STEPS, BuildRecord
from layerpipe.boards.targets import Target

__all__ = ["build_board", "build_verilog", "pack_only_args"]

_STEP_TOOL = {"yosys": "synthesize", "nextpnr-ice40": "place&route", "nextpnr-ecp5": "place&route",
              "icepack": "pack", "ecppack": "pack"}
# nextpnr's messages when a design needs more of a resource than the device has.
_NO_FIT = re.compile(r"no BELs remaining to implement cell type '([^']+)'")


def build_board(record: BuildRecord, design, target: Target, name: str, clock_mhz, seed: int, harness: bool,
                env) -> None:
    commands = _elaborate(record, design, target, name, clock_mhz, seed, harness, env)
    if commands is None:
        return
    steps: dict[str, list] = {}
    for argv in commands:  # the packer's step also runs any extra packing command (OrangeCrab: dfu-suffix)
        steps.setdefault(_STEP_TOOL.get(argv[0], "pack"), []).append(argv)
    synth = _synthesize(record, target, name, steps["synthesize"], env)
    packed, pnr, routed = _place_and_route(record, target, name, steps["place&route"], synth, env)
    _pack(record, steps["pack"], env)
    _report(record, target, name, synth, packed, pnr, routed)


def _elaborate(record: BuildRecord, design, target: Target, name: str, clock_mhz, seed: int, harness: bool,
               env) -> list[list[str]] | None:
    """Amaranth's build plan in the build folder; returns its commands, None when elaboration failed."""
    from layerpipe.boards.harness import PinHarness

    t0 = record.start("elaborate", "Amaranth → RTLIL and the build plan")
    try:
        with record.running("elaborate", "Amaranth", t0):
            platform = target.make_platform(clock_mhz)
            top = design
            if getattr(design, "board_top", False):  # the self-checking top: its own LEDs, no harness
                harness = False
                if target.status_leds:
                    design.leds = target.status_leds
                record.report["design"]["status_leds"] = [list(led) for led in target.status_leds]
            if harness:
                top = PinHarness(design, target.harness_in, target.harness_out)
                record.report["design"]["harness"] = {**top.cost,
                                                      "pins": [target.harness_in[0], target.harness_out[0]]}
            synth_opts = toolchain.synth_options(target.family)
            plan = platform.prepare(top, name, synth_opts=synth_opts,
                                    script_after_synth="tee -q -o stat.json stat -json",
                                    nextpnr_opts=f"--report {name}.pnr.json --timing-allow-fail --seed {seed}")
            plan.extract(record.out_dir)
            commands = json.loads((record.out_dir / f"build_{name}.json").read_text())["commands"]
    except Exception as exc:  # a design error is a failed step, not a traceback on the terminal
        _elaborate_failed(record, t0, exc)
        return None
    exports = " ".join(f"{k}={shlex.quote(env[k])}" for k in sorted(
        {toolchain._env_var(t) for t in target.tools}))
    record.record("elaborate", "ok", time.monotonic() - t0, files=sorted(plan.files), synth_opts=synth_opts,
                  rerun=f"cd {shlex.quote(str(record.out_dir))} && {exports} sh build_{name}.sh")
    return commands


def _elaborate_failed(record: BuildRecord, t0: float, exc: BaseException) -> None:
    (record.out_dir / "elaborate.log").write_text("".join(traceback.format_exception(exc)))
    record.record("elaborate", "failed", time.monotonic() - t0, log="elaborate.log",
                  message=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    record.report["status"] = "failed"
    for step in STEPS[1:]:
        record.record(step, "skipped", 0.0)


def _synthesize(record: BuildRecord, target: Target, name: str, commands: list[list[str]], env) -> dict | None:
    """Yosys from the plan; returns its cell counts (``stat.json``), None when it failed."""
    ok, _log = run_commands(record, "synthesize", commands, env)
    if not ok and target.family == "ecp5" and _abc9_crashed(record.out_dir / f"{name}.rpt"):
        # Yosys 0.70's abc9 can trip an assertion on the ECP5 (ABC_OPS_REINTEGRATE); map LUTs with abc.
        _use_abc_fallback(record.out_dir / f"{name}.ys", name)
        record.report["synth_fallback"] = ("abc9 failed an assertion in Yosys; LUTs mapped with abc -dress -lut 4:7 "
                                           "instead")
        record.progress.say(f"      {record.report['synth_fallback']}")
        record.report["steps"].pop()
        ok, _log = run_commands(record, "synthesize", commands, env)
    if ok:
        return report_mod.parse_yosys_stat(record.out_dir / "stat.json")
    record.report["status"] = "failed"
    return None


def _abc9_crashed(log: Path) -> bool:
    try:
        tail = log.read_text(errors="replace")[-20000:]
    except OSError:
        return False
    return "ERROR: Assert" in tail and "ABC9" in tail


def _use_abc_fallback(script: Path, name: str) -> None:
    """Rewrite the plan's Yosys script: ``synth_ecp5`` up to LUT mapping, ``abc -dress -lut 4:7`` (the
    mapping ``synth_ecp5`` uses without abc9: LUT4s plus PFU multiplexers for 5- to 7-input
    functions, fewer logic levels than plain LUT4s), then the rest."""
    lines = []
    for line in script.read_text().splitlines():
        if line.strip().startswith("synth_ecp5 "):
            opts = line.strip()[len("synth_ecp5 "):].replace(f"-top {name}", "").strip()
            lines += [f"synth_ecp5 {opts} -run begin:map_luts -top {name}".replace("  ", " "),
                      "techmap -map +/lattice/latches_map.v", "abc -dress -lut 4:7", "clean",
                      f"synth_ecp5 {opts} -run map_cells: -top {name}".replace("  ", " ")]
        else:
            lines.append(line)
    script.write_text("\n".join(lines) + "\n")


def _place_and_route(record: BuildRecord, target: Target, name: str, commands: list[list[str]], synth: dict | None,
                     env) -> tuple[dict | None, dict | None, bool]:
    """nextpnr: the pack check, then placement and routing if the design fits; returns
    (pack-check report, the report the summary reads, routed)."""
    if record.report["status"] != "running":
        record.record("place&route", "skipped", 0.0)
        return None, None, False
    # nextpnr --pack-only first (seconds): exact cell counts, and no placement of a design that cannot fit.
    t0 = record.start("place&route", "nextpnr --pack-only (the cells after packing), then placement and routing")
    packed, overflow = _pack_check(record, target, commands[0], name, synth, env, t0)
    if packed:
        record.report["pack_check"] = {"seconds": round(packed["seconds"], 2), "report": f"{name}.pack.json",
                                       "log": f"{name}.pack.tim"}
    if overflow:
        record.report["status"] = "does-not-fit"
        record.record("place&route", "skipped", time.monotonic() - t0,
                      message="does not fit after packing: " + overflow, pack_report=f"{name}.pack.json")
        return packed, packed, False
    ok, log = run_commands(record, "place&route", commands, env, started=t0)
    if ok:
        return packed, report_mod.parse_nextpnr_report(record.out_dir / f"{name}.pnr.json"), True
    if (bel := _no_fit_bel(record.out_dir / log)) is not None:
        record.report["status"] = "does-not-fit"
        record.report["nextpnr_out_of"] = bel
        return packed, packed, False
    record.report["status"] = "failed"
    return packed, None, False


def pack_only_args(argv: list[str], name: str) -> list[str]:
    """The plan's nextpnr command (tool name first) as a ``--pack-only`` run with its own report and log."""
    drop = {"--asc", "--textcfg", "--report", "--log"}
    args, skip = [], False
    for arg in argv[1:]:
        if skip:
            skip = False
        elif arg in drop:
            skip = True
        else:
            args.append(arg)
    return args + ["--pack-only", "--report", f"{name}.pack.json", "--log", f"{name}.pack.tim"]


def _pack_check(record: BuildRecord, target: Target, argv: list[str], name: str, synth, env,
                started: float) -> tuple[dict | None, str]:
    """Run nextpnr ``--pack-only`` with a JSON report, as the start of ``place&route`` (begun at ``started``):
    (parsed report, "" or "LC 8021/5280, ...")."""
    args = pack_only_args(argv, name)
    t0 = time.monotonic()
    with record.running("place&route", f"{argv[0]} --pack-only", started):
        result = toolchain.run_tool(argv[0], args, cwd=record.out_dir, log=record.out_dir / "pack-check.log", env=env)
    path = record.out_dir / f"{name}.pack.json"
    if result.returncode != 0 or not path.is_file():  # leave the verdict to the full run
        return None, ""
    packed = report_mod.parse_nextpnr_report(path)
    packed.update(clocks={}, critical_paths=[], seconds=time.monotonic() - t0)
    pre = report_mod.summarize(target, packed, synth, routed=False)
    over = [k for k in pre["overflow"] if not target.resources.get(k, "").startswith("cells:")]
    record.progress.say(f"      pack check ({time.monotonic() - t0:.1f} s): " + ", ".join(
        f"{k} {pre['resources'][k]['used']}/{pre['resources'][k]['available']}" for k in ("LC", "LUT", "DSP", "BRAM")
        if k in pre["resources"] and not target.resources[k].startswith("cells:")))
    return packed, ", ".join(f"{k} {pre['resources'][k]['used']}/{pre['resources'][k]['available']}" for k in over)


def _no_fit_bel(log: Path) -> str | None:
    """The bel type nextpnr ran out of ("no BELs remaining to implement cell type 'DP16KD'"), if it did."""
    try:
        match = _NO_FIT.search(log.read_text(errors="replace"))
    except OSError:
        return None
    return match.group(1) if match else None


def _pack(record: BuildRecord, commands: list[list[str]], env) -> None:
    if record.report["status"] != "running":
        record.record("pack", "skipped", 0.0)
        return
    ok, _log = run_commands(record, "pack", commands, env)
    if not ok:
        record.report["status"] = "failed"


def _report(record: BuildRecord, target: Target, name: str, synth: dict | None, packed: dict | None,
            pnr: dict | None, routed: bool) -> None:
    t0 = record.start("report", "utilisation, Fmax, fit")
    summary = report_mod.summarize(target, pnr, synth, routed=routed)
    bel = record.report.get("nextpnr_out_of")
    if bel:  # the resource nextpnr ran out of, named as the table names it
        kind = next((k for k, spec in target.resources.items() if spec == bel), bel)
        if kind not in summary["overflow"]:
            summary["overflow"].append(kind)
    bitstream = target.bitstream(name) if (record.out_dir / target.bitstream(name)).is_file() else None
    record.report.update({k: v for k, v in summary.items() if k != "cells"})
    record.report["synth_cells"] = summary["cells"]
    record.report["artifacts"] = {"bitstream": bitstream,
                                  "nextpnr_report": f"{name}.pnr.json" if routed else None,
                                  "nextpnr_pack_report": f"{name}.pack.json" if packed else None,
                                  "yosys_stat": "stat.json" if synth else None}
    harness = record.report["design"].get("harness")
    if harness:  # what the component alone would use (the harness is counted in "resources")
        record.report["without_harness"] = _without_harness(summary["resources"], harness)
    if record.report["status"] == "running" and not summary["fits"]:
        record.report["status"] = "does-not-fit"
    record.record("report", "ok", time.monotonic() - t0, fits=summary["fits"], fmax_mhz=summary["fmax_mhz"])


def _without_harness(resources: dict, harness: dict) -> dict:
    """LC/LUT/FF of the component alone: the harness's cells subtracted (an estimate: packing differs)."""
    minus = {"LC": harness["flip_flops"], "LUT": harness["luts"], "FF": harness["flip_flops"]}
    out = {}
    for kind, cells in minus.items():
        entry = resources.get(kind)
        if entry and entry.get("used") is not None:
            used = max(0, entry["used"] - cells)
            out[kind] = {"used": used, "available": entry.get("available"),
                         "percent": round(100.0 * used / entry["available"], 1) if entry.get("available") else None}
    return out


_GENERIC_SCRIPT = """\
# Generic (vendor-neutral) synthesis for a cell count: LUT4 mapping; RAMs left as $mem_v2 cells and
# multipliers (with the adders alumacc merges into them) as $mul/$macc cells, as an FPGA maps them
# to block RAM and DSP blocks. The hierarchy is kept: stat.json counts cells per Amaranth submodule.
read_verilog -sv {name}.v
hierarchy -check -top {name}
proc
opt_expr
opt_clean
tee -q -o stat_rtl.json stat -json -top {name}
write_json -noscopeinfo rtl.json
synth -top {name} -run coarse:fine
opt -fast -full
memory_map -rom-only
opt -full
techmap t:$mul t:$macc* %u %n
opt -fast
abc -lut 4
opt -fast
hierarchy -check
tee -q -o stat.json stat -json -top {name}
"""


def build_verilog(record: BuildRecord, design, name: str, env) -> None:
    t0 = record.start("elaborate", "Amaranth → Verilog")
    try:
        from amaranth.back import verilog

        ports = design.ports() if callable(getattr(design, "ports", None)) else None
        with record.running("elaborate", "Amaranth", t0):
            text = verilog.convert(design, name=name, **({"ports": ports} if ports is not None else {}))
        (record.out_dir / f"{name}.v").write_text(text)
        (record.out_dir / f"{name}.ys").write_text(_GENERIC_SCRIPT.format(name=name))
    except Exception as exc:
        _elaborate_failed(record, t0, exc)
        return
    record.record("elaborate", "ok", time.monotonic() - t0, files=[f"{name}.v", f"{name}.ys"],
                  verilog_lines=text.count("\n"))
    ok, _log = run_commands(record, "synthesize", [["yosys", "-q", "-l", f"{name}.rpt", f"{name}.ys"]], env)
    record.record("place&route", "skipped", 0.0, message="Verilog-only target")
    record.record("pack", "skipped", 0.0, message="Verilog-only target")
    t0 = record.start("report", "generic cell count")
    from layerpipe.boards.targets import TARGETS

    synth = report_mod.parse_yosys_stat(record.out_dir / "stat.json") if ok else None
    rtl = report_mod.parse_yosys_stat(record.out_dir / "stat_rtl.json") if ok else None
    if ok:
        rtl["multipliers"] = report_mod.count_multipliers(record.out_dir / "rtl.json")
        (record.out_dir / "rtl.json").unlink()  # large; only the count is kept
    summary = report_mod.summarize(TARGETS["verilog"], None, synth, rtl)
    record.report.update({k: v for k, v in summary.items() if k != "cells"})
    record.report["synth_cells"] = summary["cells"]
    record.report["artifacts"] = {"verilog": f"{name}.v", "yosys_stat": "stat.json" if ok else None}
    if not ok:
        record.report["status"] = "failed"
    record.record("report", "ok", time.monotonic() - t0)
