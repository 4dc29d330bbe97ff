"""Read the tools' machine-readable reports (never their logs) into one summary.

* nextpnr ``--report FILE.json``: ``utilization`` (per bel type ``used``/``available``, after
  placement), ``fmax`` (per clock net ``achieved``/``constraint`` in MHz, after routing) and
  ``critical_paths`` (per clock pair: segments of type clk-to-q / logic / routing / setup
  with delays in ns, cells and the Amaranth source lines of each routed net).
* Yosys ``stat -json`` (``tee -q -o stat.json stat -json`` after synthesis): cell counts by
  type. Used where nextpnr does not count separately (LUTs and FFs on the iCE40, whose
  logic cell is one LUT4 + one FF + carry), for the Verilog-only target, and for a
  design that does not fit (nextpnr stops before writing its report).

:func:`summarize` turns these into ``resources`` (LUT/FF/DSP/BRAM, …: used, available,
percent), ``fmax_mhz`` (the slowest clock's achieved Fmax), ``clocks``, ``critical_path``
and ``fits``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from layerpipe.boards.targets import Target
from layerpipe.core.text import format_rows

__all__ = ["load_json", "parse_nextpnr_report", "parse_yosys_stat", "count_multipliers", "summarize",
           "format_summary", "format_duration", "format_step_times", "RESOURCE_ORDER"]

RESOURCE_ORDER = ("LC", "LUT", "FF", "DSP", "BRAM", "SPRAM", "IO")
_FF_CELL = re.compile(r"^(\$_(S?DFF|DFFE|SDFFC?E|ALDFF|DFFSR|DLATCH)\w*_|SB_DFF\w*|TRELLIS_FF)$")


def load_json(source) -> dict:
    if isinstance(source, dict):
        return source
    return json.loads(Path(source).read_text())


def clock_name(net: str) -> str:
    """``$glbnet$cd_sync.clk`` (ECP5 global buffer net) → ``cd_sync.clk``."""
    return re.sub(r"^\$glbnet\$", "", net)


def _critical_path(entry: dict) -> dict:
    segments = entry.get("path", [])
    by_type: dict[str, float] = {}
    for seg in segments:
        by_type[seg.get("type", "?")] = by_type.get(seg.get("type", "?"), 0.0) + float(seg.get("delay", 0.0))
    sources = []
    for seg in segments:
        for src in seg.get("sources", []):
            # Keep the design's own lines (Amaranth sources), not the tools' techmap files.
            if src.startswith("/share/") or src in sources:
                continue
            sources.append(src)
    start = segments[0]["from"]["cell"] if segments else None
    end = segments[-1]["to"]["cell"] if segments else None
    return {
        "from": clock_name(entry.get("from", "")).replace("$glbnet$", ""),
        "to": clock_name(entry.get("to", "")).replace("$glbnet$", ""),
        "delay_ns": round(sum(by_type.values()), 3),
        "logic_ns": round(by_type.get("logic", 0.0) + by_type.get("clk-to-q", 0.0) + by_type.get("setup", 0.0), 3),
        "routing_ns": round(by_type.get("routing", 0.0), 3),
        "logic_levels": sum(1 for seg in segments if seg.get("type") == "logic"),
        "start": start,
        "end": end,
        "sources": sources,
    }


def parse_nextpnr_report(source) -> dict:
    """``{"utilization": {bel: {used, available}}, "clocks": {clock: {achieved_mhz, constraint_mhz, met}},
    "critical_paths": [...]}`` from nextpnr's ``--report`` JSON (a path or the loaded dict)."""
    data = load_json(source)
    utilization = {bel: {"used": int(v["used"]), "available": int(v["available"])}
                   for bel, v in sorted(data.get("utilization", {}).items())}
    clocks = {}
    for net, v in sorted(data.get("fmax", {}).items()):
        achieved, constraint = float(v["achieved"]), float(v["constraint"])
        clocks[clock_name(net)] = {"achieved_mhz": round(achieved, 2), "constraint_mhz": round(constraint, 2),
                                   "met": achieved >= constraint}
    paths = [_critical_path(p) for p in data.get("critical_paths", [])]
    return {"utilization": utilization, "clocks": clocks, "critical_paths": paths}


def parse_yosys_stat(source) -> dict:
    """``{"cells": {type: count}, "memory_bits": n, "memories": n, "modules": {name: {type: count}}}``
    from Yosys ``stat -json`` (``-top``: ``design`` holds the hierarchy's totals; ``modules`` each
    module's own cells, submodule instances left out)."""
    data = load_json(source)
    modules = data.get("modules", {})
    names = set(modules) | {name.lstrip("\\") for name in modules}

    def own(counts: dict) -> dict:
        return dict(sorted((k, int(v)) for k, v in counts.items()
                           if not k.startswith("$scopeinfo") and k not in names and k.lstrip("\\") not in names))

    design = data.get("design")
    if design is None:  # no "design" key when there is a single module: take it
        design = next(iter(modules.values()), {})
    return {"cells": own(design.get("num_cells_by_type", {})), "memory_bits": int(design.get("num_memory_bits", 0)),
            "memories": int(design.get("num_memories", 0)),
            "modules": {name.lstrip("\\"): own(m.get("num_cells_by_type", {})) for name, m in modules.items()}}


def count_multipliers(source) -> dict:
    """``{"variable": n, "constant": m}``: ``$mul`` cells of a Yosys JSON netlist, by whether one
    operand is a constant (those become shifts and adds, not DSP blocks)."""
    data = load_json(source)
    counts = {"variable": 0, "constant": 0}
    for module in data.get("modules", {}).values():
        for cell in module.get("cells", {}).values():
            if cell.get("type") != "$mul":
                continue
            conns = cell.get("connections", {})
            constant = any(all(isinstance(bit, str) for bit in conns.get(port, [])) for port in ("A", "B"))
            counts["constant" if constant else "variable"] += 1
    return counts


def _count(cells: dict, cell_type: str) -> int:
    if cell_type == "SB_DFF":
        return sum(n for t, n in cells.items() if t.startswith("SB_DFF"))
    return cells.get(cell_type, 0)


def _entry(used: int | None, available: int | None, source: str) -> dict:
    entry = {"used": used, "available": available, "source": source}
    entry["percent"] = round(100.0 * used / available, 1) if used is not None and available else None
    return entry


def summarize(target: Target, pnr: dict | None = None, synth: dict | None = None, rtl: dict | None = None,
              routed: bool = True) -> dict:
    """One summary for ``report.json``.

    ``pnr``: :func:`parse_nextpnr_report` output (None when place-and-route did not finish);
    ``synth``: :func:`parse_yosys_stat` of the synthesised netlist; ``rtl``: of the RTL before
    mapping (Verilog target: multipliers and memory bits). ``routed``: place-and-route
    finished; a design that does not fit is ``fits: False``.
    """
    resources: dict[str, dict] = {}
    cells = (synth or {}).get("cells", {})
    if target.family is None:
        rtl_cells = (rtl or {}).get("cells", {})
        resources["LUT"] = _entry(cells.get("$lut", 0), None, "yosys synth; abc -lut 4")
        resources["FF"] = _entry(sum(n for t, n in cells.items() if _FF_CELL.match(t)), None, "yosys synth")
        muls = (rtl or {}).get("multipliers")
        resources["DSP"] = _entry(muls["variable"] if muls else rtl_cells.get("$mul", 0), None,
                                  "yosys: multipliers of two signals ($mul) before mapping")
        resources["BRAM"] = _entry((rtl or {}).get("memory_bits", 0), None, "yosys: memory bits")
        resources["BRAM"]["unit"] = "bits"
        by_module = {}
        for name, own in (synth or {}).get("modules", {}).items():
            by_module[name] = {"LUT": own.get("$lut", 0), "FF": sum(n for t, n in own.items() if _FF_CELL.match(t)),
                               "MACC": sum(n for t, n in own.items() if t.startswith(("$mul", "$macc"))),
                               "RAM": own.get("$mem_v2", 0)}
        return {"resources": resources, "clocks": {}, "fmax_mhz": None, "critical_path": None, "fits": None,
                "cells": cells, "by_module": by_module}

    utilization = (pnr or {}).get("utilization", {})
    overflow = []
    for kind in RESOURCE_ORDER:
        spec = target.resources.get(kind)
        if spec is None:
            continue
        if spec.startswith("cells:"):
            # iCE40 LUT/FF: post-synthesis counts; available = the logic cells (one LUT4 + one FF each).
            used = _count(cells, spec[len("cells:"):]) if synth else None
            lc = target.resources.get("LC")
            available = utilization.get(lc, {}).get("available") or target.capacity.get(lc)
            resources[kind] = _entry(used, available, "yosys stat (post-synthesis)")
        elif spec in utilization:
            resources[kind] = _entry(utilization[spec]["used"], utilization[spec]["available"],
                                     f"nextpnr {spec} (post-route)")
        else:
            # No nextpnr report (the design did not fit or place-and-route failed): synthesis counts.
            used = _synth_bel_count(target, spec, cells) if synth else None
            resources[kind] = _entry(used, target.capacity.get(spec), f"yosys stat for {spec} (post-synthesis)")
        entry = resources[kind]
        if entry["used"] is not None and entry["available"] is not None and entry["used"] > entry["available"]:
            overflow.append(kind)
    clocks = (pnr or {}).get("clocks", {})
    fmax = min((c["achieved_mhz"] for c in clocks.values()), default=None)
    paths = [p for p in (pnr or {}).get("critical_paths", []) if p["from"] != "<async>" and p["to"] != "<async>"]
    critical = max(paths, key=lambda p: p["delay_ns"], default=None)
    fits = bool(routed and not overflow)
    return {"resources": resources, "clocks": clocks, "fmax_mhz": fmax, "critical_path": critical, "fits": fits,
            "overflow": overflow, "cells": cells}


def _synth_bel_count(target: Target, bel: str, cells: dict) -> int:
    """Rough bel counts from the synthesised netlist, for a design nextpnr refused."""
    if bel == "ICESTORM_LC":
        return max(_count(cells, "SB_LUT4") + cells.get("SB_CARRY", 0) // 4, _count(cells, "SB_DFF"))
    mapping = {"ICESTORM_DSP": "SB_MAC16", "ICESTORM_RAM": "SB_RAM40_4K", "ICESTORM_SPRAM": "SB_SPRAM256KA",
               "SB_IO": "SB_IO", "TRELLIS_COMB": None, "TRELLIS_FF": "TRELLIS_FF", "MULT18X18D": "MULT18X18D",
               "DP16KD": "DP16KD", "TRELLIS_IO": "TRELLIS_IO"}
    if bel == "TRELLIS_COMB":
        return cells.get("LUT4", 0) + 2 * cells.get("CCU2C", 0) + 2 * cells.get("TRELLIS_DPR16X4", 0)
    cell = mapping.get(bel)
    return cells.get(cell, 0) if cell else 0


def format_duration(seconds: float) -> str:
    """``42 s``, ``2 min 30 s``: what a person reads in a progress line."""
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s" if minutes else f"{rest} s"


def format_step_times(report: dict) -> str:
    """Where a build's time went: each step of ``report["steps"]`` with its status and seconds, and the total."""
    rows = [[step["step"], step["status"], f"{step['seconds']:.1f} s"] for step in report.get("steps", [])]
    rows.append(["total", "", f"{report.get('total_seconds', 0.0):.1f} s"])
    return format_rows(["step", "status", "time"], rows)


def _short(source: str) -> str:
    """``/work/main/hw/pe.py:474`` → ``hw/pe.py:474`` (the last two path parts)."""
    return "/".join(source.split("/")[-2:])


def format_summary(summary: dict) -> str:
    """The resource and timing table ``layerpipe build`` prints."""
    rows = []
    estimate = summary.get("estimate") or {}
    estimate = {} if "error" in estimate else estimate
    for kind in RESOURCE_ORDER:
        entry = summary.get("resources", {}).get(kind)  # none when the build failed before synthesis
        if entry is None:
            continue
        pct = "" if entry.get("percent") is None else f"{entry['percent']:.1f} %"
        est = "" if entry.get("unit") else estimate.get(kind, "")
        rows.append([kind, entry["used"], entry.get("available") or "", pct, est, entry.get("unit", "")])
    header = ["resource", "used", "available", "use", "estimate", "unit"]
    if not estimate:
        rows, header = [r[:4] + r[5:] for r in rows], header[:4] + header[5:]
    text = [format_rows(header, rows)]
    for clock, c in summary.get("clocks", {}).items():
        met = "met" if c["met"] else "NOT met"
        text.append(f"Fmax {clock}: {c['achieved_mhz']:.2f} MHz (constraint {c['constraint_mhz']:.2f} MHz, {met})")
    cp = summary.get("critical_path")
    if cp:
        text.append(f"critical path: {cp['delay_ns']:.2f} ns ({cp['logic_levels']} logic levels incl. carry, "
                    f"{cp['routing_ns']:.2f} ns routing): {cp['start']} -> {cp['end']}")
        if cp["sources"]:
            text.append("  through " + ", ".join(_short(src) for src in cp["sources"][:6]))
    modules = summary.get("by_module")
    if modules:
        top = sorted(modules.items(), key=lambda kv: -kv[1]["LUT"])[:12]
        text.append("LUT4s by module (own cells, largest first; multipliers and RAMs as cells):")
        text.append(format_rows(["module", "LUT", "FF", "mul/macc", "RAM"],
                                [[name, v["LUT"], v["FF"], v["MACC"], v["RAM"]] for name, v in top]))
    alone = summary.get("without_harness")
    if alone:
        text.append("without the pin harness (estimate): " + ", ".join(
            f"{k} {v['used']}" + (f" ({v['percent']:.1f} %)" if v.get("percent") is not None else "")
            for k, v in alone.items()))
    if summary.get("fits") is not None:
        text.append("fits: " + ("yes" if summary["fits"] else "NO (" + ", ".join(summary.get("overflow") or
                                                                           ["place-and-route failed"]) + ")"))
    return "\n".join(text)
