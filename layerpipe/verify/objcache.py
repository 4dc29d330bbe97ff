"""Compiler wrapper that reuses the objects of Verilator's runtime library across builds.

Verilator's makefile puts ``$(OBJCACHE)`` in front of every compile. Every build of every
design compiles the same runtime sources (``verilated.cpp``, ``verilated_vpi.cpp``, …)
from the wheel's ``include/`` folder with the same flags: about half of the C++ compile
time of a small design. This wrapper stores those objects (and their ``.d`` dependency
files) under a cache folder keyed by the whole command line and the source's size and
modification time, and copies them back on a hit. Every other compile (the design's own
files, and cocotb's ``verilator.cpp``, which includes the design's ``Vtop.h``) runs
unchanged.

Usage (by make): ``python objcache.py CACHE_DIR RUNTIME_DIR c++ ARGS...``. Plain script,
standard library only: it starts once per compiled file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def _output_and_source(args: list[str]) -> tuple[str | None, str | None]:
    output = args[args.index("-o") + 1] if "-o" in args[:-1] else None
    source = args[-1] if args and args[-1].endswith(".cpp") else None
    return output, source


def main(argv: list[str]) -> int:
    cache_dir, runtime_dir, command = Path(argv[0]), Path(argv[1]).resolve(), argv[2:]
    output, source = _output_and_source(command)
    if output is None or source is None or Path(source).resolve().parent != runtime_dir:
        return subprocess.call(command)
    stat = Path(source).stat()
    key = hashlib.sha256("\0".join([*command, str(stat.st_size), str(stat.st_mtime_ns)]).encode()).hexdigest()[:24]
    entry = cache_dir / key
    depfile = Path(output).with_suffix(".d")
    if (entry / "object.o").is_file():
        shutil.copyfile(entry / "object.o", output)
        if (entry / "object.d").is_file():
            shutil.copyfile(entry / "object.d", depfile)
        return 0
    status = subprocess.call(command)
    if status == 0:
        # build the entry beside its final place, then rename: a concurrent build sees all or nothing
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f"{key}.", dir=cache_dir))
        shutil.copyfile(output, staging / "object.o")
        if depfile.is_file():
            shutil.copyfile(depfile, staging / "object.d")
        try:
            os.rename(staging, entry)
        except OSError:  # another build stored the same object first
            shutil.rmtree(staging, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
