"""Build a design for one target in named steps, with a JSON report.

Steps: ``elaborate`` → ``synthesize`` → ``place&route`` → ``pack`` → ``report``.

For a board, ``elaborate`` lets Amaranth's Lattice platform write its own build plan
(RTLIL, the Yosys script, the pin constraints and ``build_<name>.sh``, which stays runnable
by hand with the environment of :func:`layerpipe.boards.toolchain.toolchain_env`), with
three overrides: ``synth_opts`` (``-dsp`` on the iCE40), ``script_after_synth`` (a Yosys
``stat -json``) and ``nextpnr_opts`` (``--report``, ``--timing-allow-fail``, ``--seed``).
The later steps run the plan's commands one by one (from ``build_<name>.json``), each with
its own log, time and JSON record. ``place&route`` first runs nextpnr ``--pack-only`` with a
JSON report (seconds, counted in the step's time): the exact cell counts after packing, so a
design that cannot fit is reported with its numbers without a placement attempt. The Verilog-only target writes the
Verilog and runs a generic Yosys ``synth`` for a cell count.

A bare ``wiring.Component`` is put on the board through :class:`~layerpipe.boards.harness.PinHarness`
(its cost is in the report); an Elaboratable with ``board_top = True`` (the self-checking
:class:`~layerpipe.boards.board_top.BoardTop`) requests its own pins (the target's status LEDs).

Progress goes to a text stream (stderr by default): a line when a step starts and ends, and
while a tool (or Amaranth's elaboration) runs, a line every ``progress_interval`` seconds
with the step's elapsed time and what is running (``place&route: 2 min 30 s (nextpnr-ecp5
running)``), so a log shows a long place-and-route is alive and where it is.

Each finished step is written to ``DIR/steps/NN-<step>.json``; ``DIR/report.json`` is
rewritten (atomically: temporary file, then rename) after every step, so an interrupted
build still leaves a consistent report. A design that does not fit is a result
(``status: "does-not-fit"``, ``fits: false`` and the numbers), not an exception; a tool
failure is ``status: "failed"`` with the step's log named.
"""

from __future__ import annotations

import json
import re
import shlex
import struct
import sys
import threading
import time
import traceback
import zlib
from contextlib import contextmanager
from pathlib import Path

from layerpipe.boards import report as report_mod
from layerpipe.boards import toolchain
from layerpipe.boards.targets import Target, get_target
from layerpipe.core.files import write_text_atomic

__all__ = ["STEPS", "REPORT_SCHEMA", "DESIGNS", "build", "design_for_table", "design_from_spec", "write_json_atomic",
           "throughput", "dfu_suffix", "pack_only_args"]

STEPS = ("elaborate", "synthesize", "place&route", "pack", "report")
REPORT_SCHEMA = "layerpipe.build-report/1"
_STEP_TOOL = {"yosys": "synthesize", "nextpnr-ice40": "place&route", "nextpnr-ecp5": "place&route",
              "icepack": "pack", "ecppack": "pack"}
# nextpnr's messages when a design needs more of a resource than the device has.
_NO_FIT = re.compile(r"no BELs remaining to implement cell type '([^']+)'")


def write_json_atomic(path: Path, data) -> None:
    write_text_atomic(path, json.dumps(data, indent=2, default=str) + "\n")


def throughput(fmax_mhz: float | None, period_cycles: int | None) -> float | None:
    """Training samples per second: one sample every ``period_cycles`` at ``fmax_mhz``."""
    if not fmax_mhz or not period_cycles:
        return None
    return fmax_mhz * 1e6 / period_cycles


class _Run:
    """Book-keeping for one build: steps, progress on stderr, the report file."""

    def __init__(self, out_dir: Path, report: dict, progress, progress_interval: float):
        self.out_dir, self.report, self.progress = out_dir, report, progress
        self.progress_interval = progress_interval
        (out_dir / "steps").mkdir(parents=True, exist_ok=True)

    def say(self, text: str) -> None:
        if self.progress is not None:
            print(text, file=self.progress, flush=True)

    def record(self, name: str, status: str, seconds: float, **detail) -> dict:
        index = STEPS.index(name) + 1
        step = {"step": name, "status": status, "seconds": round(seconds, 2), **detail}
        self.report["steps"].append(step)
        write_json_atomic(self.out_dir / "steps" / f"{index:02d}-{name.replace('&', '-')}.json", step)
        self.report["total_seconds"] = round(sum(s["seconds"] for s in self.report["steps"]), 2)
        write_json_atomic(self.out_dir / "report.json", self.report)
        message = detail.get("message")
        self.say(f"[{index}/{len(STEPS)}] {name:<12} {status:<12} {seconds:7.1f} s" + (f"  {message}" if message
                                                                                      else ""))
        return step

    def start(self, name: str, what: str) -> float:
        self.say(f"[{STEPS.index(name) + 1}/{len(STEPS)}] {name:<12} ... {what}")
        return time.monotonic()

    @contextmanager
    def running(self, step: str, what: str, started: float):
        """While the body runs, say every ``progress_interval`` seconds how long ``step`` (begun at
        ``started``) has taken and that ``what`` is still running: a thread, because the body blocks
        in a tool's subprocess or in Amaranth."""
        if self.progress is None:
            yield
            return
        stop = threading.Event()

        def beat():
            while not stop.wait(self.progress_interval):
                self.say(f"      {step}: {report_mod.format_duration(time.monotonic() - started)} ({what} running)")

        thread = threading.Thread(target=beat, name=f"progress of {step}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()


def _run_command(run: _Run, step: str, commands: list[list[str]], env: dict,
                 started: float | None = None) -> tuple[bool, str]:
    """Run a step's tool commands from the plan in the build folder; returns (ok, log file name).

    ``started``: the step's start line was said then, and the step's time counts from then.
    """
    log = f"{step.replace('&', '-')}.log"
    shown = [" ".join([toolchain.TOOLS[a[0]][0] if a[0] in toolchain.TOOLS else a[0], *a[1:]]) for a in commands]
    t0 = run.start(step, " && ".join(shown)) if started is None else started
    ok, returncode = True, 0
    (run.out_dir / log).unlink(missing_ok=True)
    for argv in commands:
        if argv[0] in toolchain.TOOLS:
            part = run.out_dir / f"{log}.part"
            with run.running(step, argv[0], t0):
                result = toolchain.run_tool(argv[0], argv[1:], cwd=run.out_dir, log=part, env=env)
            with open(run.out_dir / log, "a") as out:
                out.write(part.read_text(errors="replace"))
            part.unlink()
            returncode = result.returncode
        elif argv[0] in _BUILTIN_TOOLS:
            returncode = _BUILTIN_TOOLS[argv[0]](argv[1:], run.out_dir, run.out_dir / log)
        else:
            with open(run.out_dir / log, "a") as out:
                out.write(f"ERROR: '{argv[0]}' is not part of the YoWASP toolchain and has no built-in stand-in\n")
            returncode = 127
        if returncode != 0:
            ok = False
            break
    message = {}
    if not ok:  # the error line: from the captured output, else from the tool's own log (-l / --log)
        logs = [run.out_dir / log] + [run.out_dir / argv[i + 1] for i, arg in enumerate(argv[:-1])
                                      if arg in ("-l", "--log")]
        message = {"message": next((m for m in map(_last_error, logs) if m and not m.startswith("see ")),
                                   f"see {log}")}
    run.record(step, "ok" if ok else "failed", time.monotonic() - t0, tools=shown, log=log, returncode=returncode,
               **message)
    return ok, log


def dfu_suffix(path: Path, vendor: int, product: int, device: int = 0xFFFF) -> None:
    """Append a DFU 1.1 suffix, as ``dfu-suffix -v VID -p PID -a FILE`` does (dfu-util is not on PyPI).

    16 bytes: bcdDevice, idProduct, idVendor, bcdDFU = 0x0100 (little-endian), "UFD", bLength = 16,
    dwCRC: CRC-32 of the file and the suffix's first 12 bytes, without the final inversion.
    """
    data = Path(path).read_bytes()
    suffix = struct.pack("<HHHH3sB", device, product, vendor, 0x0100, b"UFD", 16)
    crc = zlib.crc32(data + suffix) ^ 0xFFFFFFFF
    Path(path).write_bytes(data + suffix + struct.pack("<I", crc))


def _dfu_suffix_command(args: list[str], cwd: Path, log: Path) -> int:
    opts, files = {}, []
    it = iter(args)
    for arg in it:
        if arg in ("-v", "-p", "-d"):
            opts[arg] = int(next(it), 16)
        elif arg == "-a":
            files.append(next(it))
    with open(log, "a") as out:
        for name in files:
            dfu_suffix(cwd / name, opts.get("-v", 0xFFFF), opts.get("-p", 0xFFFF), opts.get("-d", 0xFFFF))
            out.write(f"dfu-suffix (built-in): added a DFU suffix to {name} "
                      f"(vendor {opts.get('-v', 0xFFFF):04x}, product {opts.get('-p', 0xFFFF):04x})\n")
    return 0


_BUILTIN_TOOLS = {"dfu-suffix": _dfu_suffix_command}


def _last_error(log: Path) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"see {log.name}"
    return toolchain.error_line(text) or f"see {log.name}"


def _design_name(design) -> str:
    return type(design).__name__


def build(design, target: Target | str, out_dir, *, name: str = "top", table=None, clock_mhz: float | None = None,
          seed: int = 1, harness: bool = True, design_info: dict | None = None, progress=True,
          progress_interval: float = 30.0) -> dict:
    """Build ``design`` (a ``wiring.Component``, or with ``harness=False`` an Elaboratable that
    requests its own pins) for ``target`` in ``out_dir``; returns the report (also in ``report.json``).

    ``table``: the ScheduleTable the design implements; gives the training throughput.
    ``progress``: a text stream for step lines, None for none, True for the current ``sys.stderr``.
    ``progress_interval``: seconds between the lines that say a tool is still running.
    """
    progress = sys.stderr if progress is True else progress
    target = get_target(target) if isinstance(target, str) else target
    if target.is_board:
        target.platform_class()  # without amaranth-boards: the one-line install hint, before any work
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    _remove_products(out_dir, name)  # a failed rebuild must not report a previous build's results
    versions = toolchain.installed_versions()
    report = {
        "schema": REPORT_SCHEMA,
        "board": target.name,
        "description": target.description,
        "device": target.device,
        "family": target.family,
        "design": {"name": name, "class": _design_name(design), **(design_info or {})},
        "clock_constraint_mhz": (clock_mhz or target.clock_mhz) if target.is_board else None,
        "seed": seed if target.is_board else None,
        "tools": versions,
        "version_mismatches": toolchain.version_mismatches(versions),
        "status": "running",
        "steps": [],
        "total_seconds": 0.0,
    }
    estimate = _estimate(design, target)
    if estimate:
        report["estimate"] = estimate
    if table is not None:
        report["schedule"] = {"network": table.data.get("network", {}).get("name"), "policy": table.policy,
                              "processors": table.processors, "period_cycles": table.period_cycles}
    run = _Run(out_dir, report, progress, progress_interval)
    run.say(f"building {report['design']['class']} for {target.name} ({target.description}) in {out_dir}")
    if report["version_mismatches"]:
        run.say("warning: tool versions differ from the pinned ones (baselines may not match): "
                + "; ".join(report["version_mismatches"]))
    env = toolchain.toolchain_env(tools=target.tools)
    if target.is_board:
        _build_board(run, design, target, name, clock_mhz, seed, harness, env)
    else:
        _build_verilog(run, design, name, env)

    if report["status"] == "running":
        report["status"] = "ok"
    if table is not None and report.get("fmax_mhz"):
        report["throughput"] = {"period_cycles": table.period_cycles,
                                "samples_per_second": round(throughput(report["fmax_mhz"], table.period_cycles), 1)}
    write_json_atomic(out_dir / "report.json", report)
    return report


def _remove_products(out_dir: Path, name: str) -> None:
    if not (out_dir / "report.json").is_file():  # only a previous build's folder is cleaned
        return
    for file in ("report.json", f"{name}.pnr.json", f"{name}.pack.json", "stat.json", "stat_rtl.json",
                 f"{name}.bin", f"{name}.bit", f"{name}.svf", f"{name}.asc", f"{name}.config", f"{name}.v"):
        (out_dir / file).unlink(missing_ok=True)
    for step in (out_dir / "steps").glob("*.json"):
        step.unlink()


def _estimate(design, target: Target) -> dict | None:
    """The design's own analytic estimate (hw/estimate.py: ``estimate(family)``), to set beside the build's."""
    design = getattr(design, "accelerator", design)  # the board top: its accelerator's
    fn = getattr(design, "estimate", None)
    if not callable(fn):
        return None
    try:
        result = fn(target.family or "ecp5")
        if isinstance(result, dict):
            result = sum(result.values())
        return {k: int(v) for k, v in result.as_dict().items()}
    except Exception as exc:  # an estimate bug must not stop a build
        return {"error": f"{type(exc).__name__}: {exc}"}


def _elaborate_failed(run: _Run, t0: float, exc: BaseException) -> None:
    (run.out_dir / "elaborate.log").write_text("".join(traceback.format_exception(exc)))
    run.record("elaborate", "failed", time.monotonic() - t0, log="elaborate.log",
               message=f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    run.report["status"] = "failed"
    for step in STEPS[1:]:
        run.record(step, "skipped", 0.0)


def _build_board(run: _Run, design, target: Target, name: str, clock_mhz, seed: int, harness: bool, env) -> None:
    from layerpipe.boards.harness import PinHarness

    t0 = run.start("elaborate", "Amaranth → RTLIL and the build plan")
    try:
        with run.running("elaborate", "Amaranth", t0):
            platform = target.make_platform(clock_mhz)
            top = design
            if getattr(design, "board_top", False):  # the self-checking top: its own LEDs, no harness
                harness = False
                if target.status_leds:
                    design.leds = target.status_leds
                run.report["design"]["status_leds"] = [list(led) for led in target.status_leds]
            if harness:
                top = PinHarness(design, target.harness_in, target.harness_out)
                run.report["design"]["harness"] = {**top.cost, "pins": [target.harness_in[0], target.harness_out[0]]}
            synth_opts = toolchain.synth_options(target.family)
            plan = platform.prepare(top, name, synth_opts=synth_opts,
                                    script_after_synth="tee -q -o stat.json stat -json",
                                    nextpnr_opts=f"--report {name}.pnr.json --timing-allow-fail --seed {seed}")
            plan.extract(run.out_dir)
            commands = json.loads((run.out_dir / f"build_{name}.json").read_text())["commands"]
    except Exception as exc:  # a design error is a failed step, not a traceback on the terminal
        _elaborate_failed(run, t0, exc)
        return
    exports = " ".join(f"{k}={shlex.quote(env[k])}" for k in sorted(
        {toolchain._env_var(t) for t in target.tools}))
    run.record("elaborate", "ok", time.monotonic() - t0, files=sorted(plan.files), synth_opts=synth_opts,
               rerun=f"cd {shlex.quote(str(run.out_dir))} && {exports} sh build_{name}.sh")

    steps: dict[str, list] = {}
    for argv in commands:  # the packer's step also runs any extra packing command (OrangeCrab: dfu-suffix)
        steps.setdefault(_STEP_TOOL.get(argv[0], "pack"), []).append(argv)
    synth = pnr = packed = None
    routed = False
    ok, _log = _run_command(run, "synthesize", steps["synthesize"], env)
    if not ok and target.family == "ecp5" and _abc9_crashed(run.out_dir / f"{name}.rpt"):
        # Yosys 0.70's abc9 can trip an assertion on the ECP5 (ABC_OPS_REINTEGRATE); map LUTs with abc.
        _use_abc_fallback(run.out_dir / f"{name}.ys", name)
        run.report["synth_fallback"] = "abc9 failed an assertion in Yosys; LUTs mapped with abc -dress -lut 4:7 instead"
        run.say(f"      {run.report['synth_fallback']}")
        run.report["steps"].pop()
        ok, _log = _run_command(run, "synthesize", steps["synthesize"], env)
    if ok:
        synth = report_mod.parse_yosys_stat(run.out_dir / "stat.json")
    else:
        run.report["status"] = "failed"

    if run.report["status"] == "running":
        # nextpnr --pack-only first (seconds): exact cell counts, and no placement of a design that cannot fit.
        t0 = run.start("place&route", "nextpnr --pack-only (the cells after packing), then placement and routing")
        packed, overflow = _pack_check(run, target, steps["place&route"][0], name, synth, env, t0)
        if packed:
            run.report["pack_check"] = {"seconds": round(packed["seconds"], 2), "report": f"{name}.pack.json",
                                        "log": f"{name}.pack.tim"}
        if overflow:
            run.report["status"] = "does-not-fit"
            pnr = packed
            run.record("place&route", "skipped", time.monotonic() - t0,
                       message="does not fit after packing: " + overflow, pack_report=f"{name}.pack.json")
        else:
            ok, log = _run_command(run, "place&route", steps["place&route"], env, started=t0)
            if ok:
                routed = True
                pnr = report_mod.parse_nextpnr_report(run.out_dir / f"{name}.pnr.json")
            elif (bel := _no_fit_bel(run.out_dir / log)) is not None:
                run.report["status"] = "does-not-fit"
                run.report["nextpnr_out_of"] = bel
                pnr = packed
            else:
                run.report["status"] = "failed"
    else:
        run.record("place&route", "skipped", 0.0)

    if run.report["status"] == "running":
        ok, _log = _run_command(run, "pack", steps["pack"], env)
        if not ok:
            run.report["status"] = "failed"
    else:
        run.record("pack", "skipped", 0.0)

    t0 = run.start("report", "utilisation, Fmax, fit")
    summary = report_mod.summarize(target, pnr, synth, routed=routed)
    bel = run.report.get("nextpnr_out_of")
    if bel:  # the resource nextpnr ran out of, named as the table names it
        kind = next((k for k, spec in target.resources.items() if spec == bel), bel)
        if kind not in summary["overflow"]:
            summary["overflow"].append(kind)
    bitstream = target.bitstream(name) if (run.out_dir / target.bitstream(name)).is_file() else None
    run.report.update({k: v for k, v in summary.items() if k != "cells"})
    run.report["synth_cells"] = summary["cells"]
    run.report["artifacts"] = {"bitstream": bitstream,
                               "nextpnr_report": f"{name}.pnr.json" if routed else None,
                               "nextpnr_pack_report": f"{name}.pack.json" if packed else None,
                               "yosys_stat": "stat.json" if synth else None}
    harness = run.report["design"].get("harness")
    if harness:  # what the component alone would use (the harness is counted in "resources")
        run.report["without_harness"] = _without_harness(summary["resources"], harness)
    if run.report["status"] == "running" and not summary["fits"]:
        run.report["status"] = "does-not-fit"
    run.record("report", "ok", time.monotonic() - t0, fits=summary["fits"], fmax_mhz=summary["fmax_mhz"])


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


def _pack_check(run: _Run, target: Target, argv: list[str], name: str, synth, env,
                started: float) -> tuple[dict | None, str]:
    """Run nextpnr ``--pack-only`` with a JSON report, as the start of ``place&route`` (begun at ``started``):
    (parsed report, "" or "LC 8021/5280, ...")."""
    args = pack_only_args(argv, name)
    t0 = time.monotonic()
    with run.running("place&route", f"{argv[0]} --pack-only", started):
        result = toolchain.run_tool(argv[0], args, cwd=run.out_dir, log=run.out_dir / "pack-check.log", env=env)
    path = run.out_dir / f"{name}.pack.json"
    if result.returncode != 0 or not path.is_file():  # leave the verdict to the full run
        return None, ""
    packed = report_mod.parse_nextpnr_report(path)
    packed.update(clocks={}, critical_paths=[], seconds=time.monotonic() - t0)
    pre = report_mod.summarize(target, packed, synth, routed=False)
    over = [k for k in pre["overflow"] if not target.resources.get(k, "").startswith("cells:")]
    run.say(f"      pack check ({time.monotonic() - t0:.1f} s): " + ", ".join(
        f"{k} {pre['resources'][k]['used']}/{pre['resources'][k]['available']}" for k in ("LC", "LUT", "DSP", "BRAM")
        if k in pre["resources"] and not target.resources[k].startswith("cells:")))
    return packed, ", ".join(f"{k} {pre['resources'][k]['used']}/{pre['resources'][k]['available']}" for k in over)


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


def _no_fit_bel(log: Path) -> str | None:
    """The bel type nextpnr ran out of ("no BELs remaining to implement cell type 'DP16KD'"), if it did."""
    try:
        match = _NO_FIT.search(log.read_text(errors="replace"))
    except OSError:
        return None
    return match.group(1) if match else None


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


def _build_verilog(run: _Run, design, name: str, env) -> None:
    t0 = run.start("elaborate", "Amaranth → Verilog")
    try:
        from amaranth.back import verilog

        ports = design.ports() if callable(getattr(design, "ports", None)) else None
        with run.running("elaborate", "Amaranth", t0):
            text = verilog.convert(design, name=name, **({"ports": ports} if ports is not None else {}))
        (run.out_dir / f"{name}.v").write_text(text)
        (run.out_dir / f"{name}.ys").write_text(_GENERIC_SCRIPT.format(name=name))
    except Exception as exc:
        _elaborate_failed(run, t0, exc)
        return
    run.record("elaborate", "ok", time.monotonic() - t0, files=[f"{name}.v", f"{name}.ys"],
               verilog_lines=text.count("\n"))
    ok, _log = _run_command(run, "synthesize", [["yosys", "-q", "-l", f"{name}.rpt", f"{name}.ys"]], env)
    run.record("place&route", "skipped", 0.0, message="Verilog-only target")
    run.record("pack", "skipped", 0.0, message="Verilog-only target")
    t0 = run.start("report", "generic cell count")
    from layerpipe.boards.targets import TARGETS

    synth = report_mod.parse_yosys_stat(run.out_dir / "stat.json") if ok else None
    rtl = report_mod.parse_yosys_stat(run.out_dir / "stat_rtl.json") if ok else None
    if ok:
        rtl["multipliers"] = report_mod.count_multipliers(run.out_dir / "rtl.json")
        (run.out_dir / "rtl.json").unlink()  # large; only the count is kept
    summary = report_mod.summarize(TARGETS["verilog"], None, synth, rtl)
    run.report.update({k: v for k, v in summary.items() if k != "cells"})
    run.report["synth_cells"] = summary["cells"]
    run.report["artifacts"] = {"verilog": f"{name}.v", "yosys_stat": "stat.json" if ok else None}
    if not ok:
        run.report["status"] = "failed"
    run.record("report", "ok", time.monotonic() - t0)


DESIGNS = ("accelerator", "board-top")


def design_for_table(table, lanes: int | None = None, prefer: str = "accelerator", samples: int = 16):
    """The design to build for ``table``: ``(design, info)``.

    ``prefer="accelerator"``: the generated accelerator,
    :func:`layerpipe.hw.generate.accelerator_for_table` (a table the RTL does not build is a
    one-line LayerPipeError). ``prefer="board-top"``: the self-checking
    :class:`~layerpipe.boards.board_top.BoardTop` (``samples`` in its ROM).
    """
    from layerpipe.core.errors import LayerPipeError

    lanes = lanes or table.cost.lanes
    if prefer == "board-top":
        from layerpipe.boards.board_top import BoardTop, board_problem

        inputs, targets, initial, fmt = board_problem(table, samples)
        top = BoardTop(table, inputs, targets, initial, fmt)
        return top, {"source": "layerpipe.boards.board_top.BoardTop", "lanes": lanes, "samples": samples,
                     "expected_checksum": f"0x{top.expected:08x}",
                     "note": f"self-checking top: {samples} samples in ROM, pass/fail LEDs"}
    if prefer == "accelerator":
        from layerpipe.hw.generate import accelerator_for_table

        return accelerator_for_table(table), {"source": "layerpipe.hw.generate", "lanes": lanes,
                                              "note": "layerpipe.hw.generate.accelerator_for_table(table)"}
    raise LayerPipeError(f"--design '{prefer}' is not one of {', '.join(DESIGNS)}")


def design_from_spec(spec: dict):
    """``(design, info, table)`` from a baseline's or a benchmark's design description:
    ``{"kind": "table", "network": NAME|FILE|{spec}, "processors": P, "policy": ..., "lanes": K,
    "design": "accelerator"|"board-top"}``, the design :func:`design_for_table` builds for that
    schedule (the table is returned too).
    """
    from layerpipe.core.errors import LayerPipeError

    kind = spec.get("kind")
    if kind != "table":
        raise LayerPipeError(f"design spec 'kind' is {kind!r}; use 'table'")
    from layerpipe.core.costs import CostModel
    from layerpipe.core.network import network_from_dict
    from layerpipe.sched.scheduler import schedule
    from layerpipe.sched.zoo import load_network

    cost = CostModel(lanes=spec.get("lanes", CostModel().lanes))
    net = spec.get("network", "mlp-digits")
    network = network_from_dict(net, "design spec") if isinstance(net, dict) else load_network(net)
    table = schedule(network, spec.get("processors", 1), spec.get("policy", "layerpipe"), cost)
    design, info = design_for_table(table, cost.lanes, spec.get("design", "accelerator"))
    return design, {**info, **spec}, table
