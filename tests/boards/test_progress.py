"""Progress of a board build: lines while a tool runs, and the seconds of each step at the end.

The tools are stand-ins that take a while (a Python subprocess that sleeps) and write the
files the flow reads; the progress interval is 0.2 s instead of 30 s. The tests count lines
and check what they name, never how long anything took.
"""

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from layerpipe.boards import report, toolchain
from layerpipe.boards.build import build
from layerpipe.boards.build_record import STEPS
from layerpipe.cli import main

pytest.importorskip("amaranth_boards")

HEARTBEAT = re.compile(r"^ +(\S+): (?:\d+ min )?\d+ s \((.+) running\)$")


class _Register(wiring.Component):
    d: In(4)
    q: Out(4)

    def elaborate(self, platform):
        m = Module()
        m.d.sync += self.q.eq(self.d)
        return m


class _SlowTools:
    """Each tool runs a subprocess for ``seconds``, then writes what the real one would (empty reports)."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __call__(self, tool, args, *, cwd=None, log=None, env=None):
        args, cwd = list(args), Path(cwd)
        subprocess.run([sys.executable, "-c", f"import time; time.sleep({self.seconds})"], check=True)
        if tool == "yosys":
            (cwd / "stat.json").write_text(json.dumps({"modules": {}}))
        elif tool.startswith("nextpnr"):
            (cwd / args[args.index("--report") + 1]).write_text("{}")
        else:  # the packer
            for bitstream in (arg for arg in args if arg.endswith((".bin", ".bit"))):
                (cwd / bitstream).write_bytes(b"")
        Path(log).write_text("")
        return subprocess.CompletedProcess([tool, *args], 0)


@pytest.fixture
def slow_tools(monkeypatch):
    def install(seconds: float):
        monkeypatch.setattr(toolchain, "run_tool", _SlowTools(seconds))
        monkeypatch.setattr(toolchain, "toolchain_env", lambda base=None, tools=None: {
            "YOSYS": "yosys", "NEXTPNR_ICE40": "nextpnr-ice40", "ICEPACK": "icepack", "NEXTPNR_ECP5": "nextpnr-ecp5",
            "ECPPACK": "ecppack"})
    return install


def test_a_running_tool_says_so_every_interval(tmp_path, slow_tools):
    slow_tools(1.0)
    stream = io.StringIO()
    result = build(_Register(), "icebreaker", tmp_path, progress=stream, progress_interval=0.2)
    assert result["status"] == "ok"
    lines = stream.getvalue().splitlines()
    beats = [(i, *match.groups()) for i, line in enumerate(lines) if (match := HEARTBEAT.match(line))]
    seen = {(step, what) for _, step, what in beats}
    assert {("synthesize", "yosys"), ("place&route", "nextpnr-ice40 --pack-only"), ("place&route", "nextpnr-ice40"),
            ("pack", "icepack")} <= seen
    for index, step, _what in beats:  # each between its step's start line and its result line: the ticker stops
        number = STEPS.index(step) + 1
        started = max(i for i, line in enumerate(lines[:index]) if line.startswith(f"[{number}/5] {step:<12} ..."))
        ended = min(i for i, line in enumerate(lines) if i > index and line.startswith(f"[{number}/5] {step:<12} ok"))
        assert started < index < ended


def test_no_progress_stream_no_ticker(tmp_path, slow_tools, capsys):
    slow_tools(0.5)
    assert build(_Register(), "icebreaker", tmp_path, progress=None, progress_interval=0.1)["status"] == "ok"
    assert capsys.readouterr().err == ""


def test_build_prints_the_seconds_of_each_step_and_programs(tmp_path, slow_tools, capsys, monkeypatch):
    monkeypatch.delenv("OPENFPGALOADER", raising=False)
    slow_tools(0.0)
    folder = tmp_path / "b"
    status = main(["build", "--board", "ulx3s-85f", "--processors", "1", "--lanes", "1", "-o", str(folder),
                   "--program", "--dry-run"])
    out = capsys.readouterr().out.splitlines()
    assert status == 0
    times = {match.group(1): match.group(2) for line in out
             if (match := re.match(r"^(\S+) +(ok|skipped|failed) +([\d.]+ s)$", line))}
    assert list(times) == list(STEPS) and set(times.values()) == {"ok"}
    assert any(re.match(r"^total +[\d.]+ s$", line) for line in out)
    assert out[-1].endswith(f"-b ulx3s -m {folder.resolve() / 'top.bit'}")  # then the openFPGALoader command


def test_duration_reads_as_minutes_and_seconds():
    assert report.format_duration(42.4) == "42 s"
    assert report.format_duration(150) == "2 min 30 s"
    assert report.format_duration(59.6) == "1 min 0 s"
