"""Verilator simulation speed of the generated accelerators, in clock cycles per second.

    python benchmarks/verilator_speed.py [--processors 1,2,4] [--policy layerpipe] [--samples 256]
                                         [--cxx-opt -O0] [--build-dir DIR]

For each P, the digits MLP is generated and trained on ``--samples`` digits samples in
Verilator with cocotb (the flow of ``layerpipe verify``, bit-exact and cycle-exact checks
included). Speed = simulated clock cycles (reset, training, stalls, weight read-back) /
wall seconds of the cocotb run (simulator start to exit, so it includes cocotb's start-up
of about a second). The Verilator build (Verilog → C++ → executable) is timed separately;
every run here starts from an empty build cache, except for Verilator's runtime library,
which the first build compiles and the others reuse (as in the test suite).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import tempfile
from pathlib import Path

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.text import format_rows
from layerpipe.options import HELP_FORMATTER
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.verify.flow import verify_table
from layerpipe.verify.runner import CXX_OPT

HEADER = ["network", "policy", "P", "samples", "period", "rtl cycles", "clock cycles", "build s", "run s",
          "cycles/s", "bit-exact", "cycle-exact"]


def processor_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--processors takes counts like 1,2,4, not {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError(f"--processors takes positive counts, not {text!r}")
    return counts


def measure(network: str, processors: int, policy: str, samples: int, folder: Path, cache: Path) -> list:
    table = schedule(zoo_network(network), processors, policy, CostModel())
    v = verify_table(table, samples, folder / f"P{processors}-{policy}", cache_dir=cache)
    return [network, policy, processors, samples, v.period_cycles, f"{v.rtl_cycles:,}", f"{v.sim_clock_cycles:,}",
            f"{v.build_seconds:.1f}", f"{v.sim_seconds:.1f}", f"{v.sim_clock_cycles / v.sim_seconds:,.0f}",
            v.bit_exact, v.cycle_exact]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=HELP_FORMATTER)
    parser.add_argument("--network", default="mlp-digits", help="zoo network")
    parser.add_argument("--processors", type=processor_counts, default=[1, 2, 4], help="comma-separated P values")
    parser.add_argument("--policy", default="layerpipe", help="scheduling policy")
    parser.add_argument("--samples", type=int, default=256, help="digits samples to train on")
    parser.add_argument("--cxx-opt", default=CXX_OPT, help="C++ optimisation of the Verilated model")
    parser.add_argument("--build-dir", default=None,
                        help="keep the builds in this folder (default: a temporary folder, removed afterwards)")
    args = parser.parse_args(argv)
    os.environ["LAYERPIPE_VERILATOR_CXX_OPT"] = args.cxx_opt  # read by layerpipe.verify.runner
    with (contextlib.nullcontext(args.build_dir) if args.build_dir
          else tempfile.TemporaryDirectory(prefix="verilator-speed-")) as build_dir:
        folder = Path(build_dir)
        cache = folder / f"cache{args.cxx_opt}"
        if cache.exists() and any(cache.iterdir()):
            print(f"error: {cache} holds earlier builds; give an empty --build-dir to time the builds",
                  file=sys.stderr)
            return 2
        rows = []
        try:
            for processors in args.processors:
                rows.append(measure(args.network, processors, args.policy, args.samples, folder, cache))
                print(f"P = {processors} done", file=sys.stderr, flush=True)
        except LayerPipeError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    print(f"Verilator speed, C++ {args.cxx_opt}" + (f", builds in {folder}" if args.build_dir else ""))
    print(format_rows(HEADER, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
