"""Analytic resource estimates (FINN-style): what a component should cost before synthesis.

Each hardware component has an ``estimate(family)`` method that adds up the formulas
below for the logic it builds, from a pure function of its parameters that
:mod:`layerpipe.hw.plan_estimate` adds up for a whole design from its plan; they count
what the RTL asks for, not what a synthesis tool may later share, pack or duplicate.
Compare with a real build (``boards/``).

Assumptions, per family (:class:`Family`):

* **LUT**: a ``k``-input LUT (4 on iCE40 and ECP5, 6 on Xilinx 7-series). An adder
  or subtractor of ``n`` bits is ``n`` LUTs (one per bit, with the carry chain); an
  ``m``:1 multiplexer is ``ceil((m - 1) / (s - 1))`` LUTs per bit, where ``s`` is the
  widest mux one LUT holds (2:1 in a 4-LUT, 4:1 in a 6-LUT); any other function of
  ``i`` inputs is a LUT tree of ``ceil((i - 1) / (k - 1))`` LUTs. Saturation to ``n``
  bits is a reduction over the dropped bits (all equal to the sign?) plus one LUT per
  output bit (value, maximum or minimum).
* **FF**: every register bit the RTL declares (pipeline registers, counters,
  accumulators). A multiplier's output register may be absorbed into its DSP block by
  synthesis; it is still counted here.
* **DSP**: ``ceil(a / A) · ceil(b / B)`` blocks per signed ``a × b`` multiplier for a
  block of ``A × B`` signed operands (iCE40 SB_MAC16 16×16, ECP5 MULT18X18D 18×18,
  Xilinx DSP48E1 25×18); one DSP per multiplier for 16-bit data everywhere.
  Extra partial-product adders (only when a multiplier needs more than one block)
  are counted as LUTs.
* **BRAM**: blocks of ``bram_bits`` (iCE40 SB_RAM40_4K: 4 Kbit; ECP5 DP16KD and Xilinx
  RAMB18E1: 18 Kbit). A memory of ``depth`` rows of ``width`` bits uses the cheapest
  aspect ratio of the block: ``min over (D, W) of ceil(depth / D) · ceil(width / W)``,
  from the true-dual-port ratios when the memory has two read/write ports, from the
  simple-dual-port ratios (one read, one write port; ECP5 and Xilinx then go 36 bits
  wide) otherwise. The iCE40 block has no true dual-port mode: a weight bank there is one
  simple-dual-port copy per read port with one write port, and flip-flops with two
  (hw/weight_bank.py, docs/hardware.md).
* **LUT RAM** instead of block RAM for a small one-write, one-read memory, as Yosys'
  ``memory_libmap`` decides: by its cost figures (``bram_cost`` per block against one per
  LUT of LUT RAM). ECP5: TRELLIS_DPR16X4 (16×4 bits) = 4 LUTs; Xilinx 7: RAM32M in
  simple-dual-port mode (32×6 bits) = 4 LUTs; plus a read multiplexer when the depth
  needs several primitives. iCE40 has no LUT RAM. (Checked on the VectorMAC's column
  accumulators, 8 × 320 bits: Yosys maps them to 80 DPR16X4 on ECP5, as counted here.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

__all__ = ["Family", "Resources", "ICE40", "ECP5", "XILINX7", "FAMILIES", "get_family",
           "register", "adder", "mux", "logic", "saturator", "multiplier", "memory_blocks", "lutram_luts",
           "memory", "flipflop_memory"]


@dataclass(frozen=True)
class Family:
    """The FPGA primitives an estimate is counted in."""

    name: str
    lut_inputs: int
    dsp_a: int  # signed operand widths of one DSP multiplier
    dsp_b: int
    bram_bits: int
    bram_tdp: tuple[tuple[int, int], ...]  # (depth, width) in true-dual-port mode; () when there is none
    bram_sdp: tuple[tuple[int, int], ...]  # (depth, width) with one read and one write port
    bram_cost: int  # Yosys memory_libmap cost of one block (its lutram cost is ~1 per LUT)
    lutram: tuple[int, int, int] | None  # (depth, width, LUTs) of one LUT-RAM primitive, or None

    @property
    def true_dual_port(self) -> bool:
        return bool(self.bram_tdp)

    @property
    def mux_per_lut(self) -> int:
        """Widest m:1 multiplexer one LUT implements (m data inputs + log2(m) selects <= k)."""
        m = 1
        while 2 * m + math.ceil(math.log2(2 * m)) <= self.lut_inputs:
            m *= 2
        return m


_RAM18 = ((16384, 1), (8192, 2), (4096, 4), (2048, 9), (1024, 18))
ICE40 = Family("ice40", 4, 16, 16, 4096, (), ((256, 16), (512, 8), (1024, 4), (2048, 2)), 64, None)
ECP5 = Family("ecp5", 4, 18, 18, 18432, _RAM18, _RAM18 + ((512, 36),), 128, (16, 4, 4))
XILINX7 = Family("xilinx7", 6, 25, 18, 18432, _RAM18, _RAM18 + ((512, 36),), 65, (32, 6, 4))
FAMILIES = {family.name: family for family in (ICE40, ECP5, XILINX7)}


def get_family(family: Family | str) -> Family:
    if isinstance(family, Family):
        return family
    try:
        return FAMILIES[family]
    except KeyError:
        raise ValueError(f"unknown FPGA family {family!r}; use one of {', '.join(FAMILIES)}") from None


@dataclass(frozen=True)
class Resources:
    """Expected LUT / FF / DSP / BRAM use; add records with ``+``, replicate with ``* n``."""

    lut: int = 0
    ff: int = 0
    dsp: int = 0
    bram: int = 0

    def __add__(self, other: Resources) -> Resources:
        if not isinstance(other, Resources):
            return NotImplemented
        return Resources(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    def __radd__(self, other):  # sum() starts at 0
        if other == 0:
            return self
        return NotImplemented

    def __mul__(self, count: int) -> Resources:
        if not isinstance(count, int):
            return NotImplemented
        return Resources(*(getattr(self, f.name) * count for f in fields(self)))

    __rmul__ = __mul__

    def as_dict(self) -> dict[str, int]:
        """``{"LUT": …, "FF": …, "DSP": …, "BRAM": …}`` (the keys of the board reports)."""
        return {"LUT": self.lut, "FF": self.ff, "DSP": self.dsp, "BRAM": self.bram}

    def __str__(self) -> str:
        return ", ".join(f"{key} {value:,}" for key, value in self.as_dict().items())


# -- primitive formulas -----------------------------------------------------------------------


def register(bits: int) -> Resources:
    return Resources(ff=bits)


def adder(bits: int) -> Resources:
    """An ``bits``-wide adder, subtractor or magnitude comparator on the carry chain."""
    return Resources(lut=bits)


def mux(bits: int, inputs: int, family: Family) -> Resources:
    """``inputs``:1 multiplexer of ``bits``-wide values."""
    if inputs <= 1:
        return Resources()
    per_lut = family.mux_per_lut
    return Resources(lut=bits * math.ceil((inputs - 1) / (per_lut - 1)))


def logic(inputs: int, outputs: int, family: Family) -> Resources:
    """``outputs`` functions of ``inputs`` inputs each (a LUT tree per output)."""
    if inputs <= 0 or outputs <= 0:
        return Resources()
    return Resources(lut=outputs * max(1, math.ceil((inputs - 1) / (family.lut_inputs - 1))))


def saturator(in_bits: int, out_bits: int, family: Family) -> Resources:
    """Clamp an ``in_bits`` signed value to ``out_bits``: overflow detection + one LUT per output bit."""
    if in_bits <= out_bits:
        return Resources()
    detect = logic(in_bits - out_bits + 1, 2, family)  # all-ones / all-zeros of the dropped bits and the sign
    return detect + logic(3, out_bits, family)


def multiplier(a_bits: int, b_bits: int, family: Family) -> Resources:
    """A signed ``a × b`` multiplier in DSP blocks (partial products added in LUTs if it needs several)."""
    blocks = math.ceil(a_bits / family.dsp_a) * math.ceil(b_bits / family.dsp_b)
    extra = adder(a_bits + b_bits) * (blocks - 1)
    return Resources(dsp=blocks) + extra


def memory_blocks(depth: int, width: int, family: Family, two_ports: bool = False) -> int:
    """Block RAMs for ``depth`` rows of ``width`` bits: two read/write ports (true dual-port) or one
    read + one write port (simple dual-port)."""
    if depth <= 0 or width <= 0:
        return 0
    if two_ports and not family.true_dual_port:
        raise ValueError(f"{family.name} block RAM has no true-dual-port mode")
    shapes = family.bram_tdp if two_ports else family.bram_sdp
    return min(math.ceil(depth / d) * math.ceil(width / w) for d, w in shapes)


def lutram_luts(depth: int, width: int, family: Family) -> int | None:
    """LUTs of a one-write, one-read LUT RAM of ``depth`` × ``width`` (None: the family has none)."""
    if family.lutram is None or depth <= 0 or width <= 0:
        return None
    d, w, luts = family.lutram
    banks = math.ceil(depth / d)
    return banks * math.ceil(width / w) * luts + mux(width, banks, family).lut


def memory(depth: int, width: int, family: Family, two_ports: bool = False, transparent: bool = False) -> Resources:
    """A synchronous memory: block RAM, or LUT RAM where Yosys would pick it.

    LUT RAM reads asynchronously, so its read data register is flip-flops (``width``). A
    transparent read adds a bypass: an address compare and a multiplexer, and on block RAM
    a register of the written word.
    """
    blocks = memory_blocks(depth, width, family, two_ports)
    luts = None if two_ports else lutram_luts(depth, width, family)
    addr_bits = max(1, math.ceil(math.log2(max(2, depth))))
    bypass = mux(width, 2, family) + logic(2 * addr_bits, 1, family) if transparent else Resources()
    if luts is not None and luts < blocks * family.bram_cost:
        return Resources(lut=luts, ff=width) + bypass
    return Resources(bram=blocks) + bypass + (register(width) if transparent else Resources())


def flipflop_memory(depth: int, width: int, read_ports: int, family: Family) -> Resources:
    """A memory synthesis cannot put in block RAM: one flip-flop per bit, a read multiplexer per port."""
    return register(depth * width) + mux(width, depth, family) * read_ports
