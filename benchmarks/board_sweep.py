"""FPGA sweep: utilisation, Fmax and training throughput of the digits MLP and CNN accelerators.

1. ULX3S-85F (ECP5): every policy at P = 1, 2, 4 (``sequential`` only at P = 1), the generated
   accelerator (``layerpipe.hw.generate.accelerator_for_table``) behind the pin harness, whose
   shift registers are in the numbers.
2. iCE40UP5K (iCEBreaker): the largest P that fits (``layerpipe``, for K = 1 and 2 lanes per
   processor: the UP5K has 8 DSP blocks), as the self-checking board top (samples in ROM,
   pass/fail LEDs; ``--ice40-design accelerator`` for the harness instead, which alone needs
   more than a thousand flip-flops of the UP5K's 5,280 cells). The ROM holds the first 16
   training samples of ``--data`` (default digits; sim/datasets.py), checked against the
   network before any build.

3. The digits CNN (``cnn-digits``) on the sweep's board, at the points of ``--cnn`` (default
   layerpipe at P = 4).

Throughput = Fmax / period samples per second; GMAC/s = samples/s × the multiply-accumulates of
one training sample (F and G of every layer, B of every layer but the first).

    python benchmarks/board_sweep.py                      # the full sweep, build folders in build-sweep/
    python benchmarks/board_sweep.py --processors 1,2 --policies layerpipe --no-ice40
    python benchmarks/board_sweep.py --jobs 2             # two builds at a time (nextpnr is single-threaded)

Writes ``OUT/board_sweep.json`` with every build's summary.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from layerpipe.boards.build import build
from layerpipe.boards.build_record import write_json_atomic
from layerpipe.boards.designs import DESIGNS, design_from_spec
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.text import format_rows
from layerpipe.options import add_data, parse_processors
from layerpipe.sched.scheduler import POLICIES
from layerpipe.sim.datasets import DEFAULT_DATA


def run_one(job: dict) -> dict:
    """Build one (board, policy, P, K) point; returns a row (also for a design that does not fit)."""
    spec = {"kind": "table", "network": job["network"], "processors": job["processors"], "policy": job["policy"],
            "lanes": job["lanes"], "design": job.get("design", "accelerator")}
    if spec["design"] == "board-top":
        spec["data"] = job.get("data", DEFAULT_DATA)
    row = {"board": job["board"], "network": job["network"], "policy": job["policy"], "processors": job["processors"],
           "lanes": job["lanes"]}
    result = _previous(Path(job["out"]) / job["board"], spec) if job.get("resume") else None
    if result is None:
        try:
            design, info, table = design_from_spec(spec)
        except Exception as exc:  # a policy that cannot schedule (e.g. not implemented yet) is a row, not a crash
            return {**row, "status": "skipped", "note": f"{type(exc).__name__}: {exc}"}
        suffix = "" if spec["design"] == "accelerator" else f"-{spec['design']}"
        out = Path(job["out"]) / job["board"] / \
            f"{job['network']}-{job['policy']}-P{table.processors}-K{job['lanes']}{suffix}"
        result = build(design, job["board"], out, table=table, clock_mhz=job.get("clock_mhz"), design_info=info,
                       progress=sys.stderr if job.get("verbose") else None)
    out = Path(result["_dir"]) if "_dir" in result else out
    res = result.get("resources", {})
    samples_per_s = (result.get("throughput") or {}).get("samples_per_second")
    return {**row, "processors": result["schedule"]["processors"], "period_cycles": result["schedule"]["period_cycles"],
            "status": result["status"], "fits": result.get("fits"),
            **{k: (res.get(k) or {}).get("used") for k in ("LC", "LUT", "FF", "DSP", "BRAM")},
            "fmax_mhz": result.get("fmax_mhz"), "samples_per_s": samples_per_s,
            "gmac_per_s": None if samples_per_s is None else samples_per_s * training_macs(job["network"]) / 1e9,
            "critical_path": result.get("critical_path"), "seconds": result.get("total_seconds"),
            "report": str(out / "report.json")}


def training_macs(network_name: str) -> int:
    """Multiply-accumulates of one training sample: F and G of every layer, B of every layer but the first."""
    from layerpipe.sched.zoo import load_network

    return sum(layer.macs * (3 if layer.index > 1 else 2) for layer in load_network(network_name).layers)


def _previous(board_dir: Path, spec: dict) -> dict | None:
    """A finished earlier build of the same point in ``board_dir`` (``--resume``), else None."""
    for report_file in sorted(board_dir.glob(f"*{spec['policy']}-P*-K{spec['lanes']}*/report.json")):
        try:
            report = json.loads(report_file.read_text())
        except (OSError, ValueError):
            continue
        design = report.get("design", {})
        same_data = spec["design"] != "board-top" or design.get("data", DEFAULT_DATA) == spec["data"]
        if all(design.get(k) == spec[k] for k in ("network", "processors", "policy", "lanes", "design")) and \
                same_data and report.get("status") in ("ok", "does-not-fit"):
            return {**report, "_dir": str(report_file.parent)}
    return None


def _pct(row: dict, kind: str, available: dict) -> str:
    used = row.get(kind)
    if used is None:
        return ""
    return f"{used} ({100 * used / available[kind]:.0f}%)" if available.get(kind) else str(used)


def print_rows(title: str, rows: list[dict], available: dict, kinds=("LUT", "FF", "DSP", "BRAM")) -> None:
    print(f"\n{title}")
    table = []
    for r in rows:
        if r["status"] == "skipped":
            table.append([r["policy"], r["processors"], r["lanes"], "", *([""] * len(kinds)), "", "", "",
                          "skipped: " + r["note"][:60]])
            continue
        table.append([r["policy"], r["processors"], r["lanes"], r["period_cycles"],
                      *[_pct(r, k, available) for k in kinds],
                      "" if r["fmax_mhz"] is None else f"{r['fmax_mhz']:.1f}",
                      "" if r["samples_per_s"] is None else f"{r['samples_per_s']:,.0f}",
                      "" if r.get("gmac_per_s") is None else f"{r['gmac_per_s']:.2f}",
                      (f"= {r['same_as']} (same table)" if r.get("same_as") else
                       ("fits" if r["fits"] else "DOES NOT FIT") + f", {r['seconds']:.0f} s")])
    print(format_rows(["policy", "P", "K", "period", *kinds, "Fmax MHz", "samples/s", "GMAC/s", "result"], table))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--network", default="mlp-digits")
    parser.add_argument("--board", default="ulx3s-85f", help="board of the policy × P sweep")
    parser.add_argument("--processors", default="1,2,4", help="processor counts of the sweep")
    parser.add_argument("--policies", default=",".join(POLICIES))
    parser.add_argument("--lanes", type=int, default=8, help="multipliers per processing element (ECP5 sweep)")
    parser.add_argument("--ice40-lanes", default="1,2", help="multipliers per processing element on the iCE40 "
                                                             "(each searched for its largest P)")
    parser.add_argument("--ice40-max-p", type=int, default=8, help="largest P tried on the iCE40")
    parser.add_argument("--ice40-design", default="board-top", choices=DESIGNS, help="what the iCE40 search builds")
    parser.add_argument("--no-ice40", action="store_true", help="skip the iCE40 largest-P search")
    add_data(parser, "what the board top's ROM holds (--ice40-design board-top)")
    parser.add_argument("--cnn", default="cnn-digits:layerpipe:4",
                        help="CNN points built on --board, NETWORK:POLICY:P[,...] ('' for none)")
    parser.add_argument("--out", default="build-sweep", help="build folders and board_sweep.json go here")
    parser.add_argument("--jobs", type=int, default=1, help="builds run at a time")
    parser.add_argument("--resume", action="store_true",
                        help="reuse finished builds of the same points found in OUT (e.g. after an interruption)")
    parser.add_argument("-v", "--verbose", action="store_true", help="every build's step progress on stderr")
    args = parser.parse_args(argv)

    from layerpipe.boards.targets import get_target

    sweep_target = get_target(args.board)
    if not args.no_ice40 and args.ice40_design == "board-top":
        from layerpipe.sched.zoo import load_network
        from layerpipe.sim.datasets import load_data

        try:  # a network that does not fit --data: one line now, not after the ECP5 sweep
            print(load_data(args.data, load_network(args.network)).describe(), file=sys.stderr)
        except LayerPipeError as error:
            print(f"board_sweep.py: error: {error}", file=sys.stderr)
            return 2
    common = {"network": args.network, "out": args.out, "verbose": args.verbose,
              "resume": args.resume, "data": args.data}
    jobs = []
    for policy in args.policies.split(","):
        for p in parse_processors(args.processors):
            if policy == "sequential" and p > 1:
                continue
            jobs.append({**common, "board": sweep_target.name, "policy": policy, "processors": p,
                         "lanes": args.lanes})
    t0 = time.monotonic()
    print(f"{len(jobs)} builds on {sweep_target.name} ({args.network}, K={args.lanes}) ...", file=sys.stderr)
    # Policies that give the same table (e.g. every policy at P = 1) are built once.
    keys = [_table_key(job) for job in jobs]
    first = {}
    for i, key in enumerate(keys):
        if key is not None:
            first.setdefault(key, i)
    unique = [i for i, key in enumerate(keys) if key is None or first[key] == i]
    # "spawn": a forked worker inherits HiGHS's thread pool (the optimal policy) and deadlocks in it.
    with ProcessPoolExecutor(max_workers=args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        built = dict(zip(unique, pool.map(run_one, [jobs[i] for i in unique])))
    rows = []
    for i, job in enumerate(jobs):
        if i in built:
            rows.append(built[i])
        else:
            source = built[first[keys[i]]]
            rows.append({**source, "policy": job["policy"], "same_as": source["policy"]})
    available = _available(rows, sweep_target)
    print_rows(f"{sweep_target.description}: {args.network}, K={args.lanes} lanes per processor", rows, available)

    cnn_rows = []
    for point in filter(None, args.cnn.split(",")):
        network, policy, p = point.split(":")
        print(f"{network} on {sweep_target.name} ({policy}, P={p}, K={args.lanes}) ...", file=sys.stderr)
        cnn_rows.append(run_one({**common, "network": network, "board": sweep_target.name, "policy": policy,
                                 "processors": int(p), "lanes": args.lanes}))
        print_rows(f"{sweep_target.description}: {network}, K={args.lanes} lanes per processor", cnn_rows[-1:],
                   _available(cnn_rows[-1:], sweep_target))

    ice_rows = []
    if not args.no_ice40:
        ice = get_target("icebreaker")
        for lanes in parse_processors(args.ice40_lanes):
            print(f"iCE40 largest P (layerpipe, K={lanes}) ...", file=sys.stderr)
            rows_k = []
            for p in range(1, args.ice40_max_p + 1):
                row = run_one({**common, "board": ice.name, "policy": "layerpipe", "processors": p, "lanes": lanes,
                               "design": args.ice40_design})
                rows_k.append(row)
                print(f"  P={p}: {row['status']}" + (f", {row['fmax_mhz']} MHz" if row.get("fmax_mhz") else ""),
                      file=sys.stderr)
                if row["status"] != "ok":
                    break
            ice_rows += rows_k
            fitting = [r["processors"] for r in rows_k if r["status"] == "ok"]
            last = rows_k[-1]
            print(f"iCE40UP5K, K={lanes}: largest P that fits: {max(fitting) if fitting else 'none'}"
                  + (f" (P={last['processors']}: {last['status']})" if last["status"] != "ok" else ""))
        print_rows(f"{ice.description}: layerpipe, {args.ice40_design}", ice_rows, _available(ice_rows, ice),
                   kinds=("LC", "DSP", "BRAM"))
    print(f"\n{time.monotonic() - t0:.0f} s in all")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    write_json_atomic(Path(args.out) / "board_sweep.json", {"sweep": rows, "cnn": cnn_rows, "ice40": ice_rows})
    return 0


def _table_key(job: dict) -> str | None:
    """The job's schedule table without its policy name: equal keys build the same hardware."""
    from layerpipe.core.costs import CostModel
    from layerpipe.sched.scheduler import schedule
    from layerpipe.sched.zoo import load_network

    try:
        table = schedule(load_network(job["network"]), job["processors"], job["policy"], CostModel(lanes=job["lanes"]))
    except Exception:
        return None
    data = {k: v for k, v in table.data.items() if k != "policy"}
    return json.dumps(data, sort_keys=True, default=str)


def _available(rows: list[dict], target) -> dict:
    """Capacities by kind, from the first build report that has them."""
    for r in rows:
        if r.get("report") and Path(r["report"]).is_file():
            res = json.loads(Path(r["report"]).read_text()).get("resources", {})
            found = {k: v.get("available") for k, v in res.items() if v.get("available")}
            if found:
                return found
    return {}


if __name__ == "__main__":
    sys.exit(main())
