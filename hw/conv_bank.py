"""Conv weight store: one convolution layer's weights, one replica per reading processor.

F, B and G of a conv layer read its weight rows in three different orders
(docs/semantics.md, "Weights of a conv layer"), so unlike an fc layer's tasks they cannot
share one dual-port bank in lockstep. Every processor that runs a task of the layer reads
its own **replica** (one read port each), and G writes every updated row into every
replica at the same address. A row is ``lanes`` data words (:func:`chunk_layout`, lane k
at bits ``[k·data_bits, (k+1)·data_bits)``); the rows are in the order of
hw/conv_layout.py's :func:`~layerpipe.hw.conv_layout.conv_bank_rows`.

Double buffering (``double_buffered=True``, when G runs beside readers on other
processors). Each replica holds two **halves** of ``rows`` rows; a register ``current``
names the current half (half 0 after reset). G writes the *back* half (``~current``) of
every replica; its own reads go through its replica's read port like any reader's.
``swap`` flips ``current`` at the end of the cycle it is high in (G's last write), so
every reader keeps, for its whole run, the version that was current when it began:

* reader i latches a half on ``r<i>_begin`` (high together with the first read request
  of a task run): the half current in that cycle, i.e. including a swap in the previous
  cycle, and reads it, from that request on, until its next begin. Before its first
  begin a reader reads half 0. The begin latches whether or not ``en`` is high.
* So a reader that begins in the cycle after G's last write (the swap cycle) reads every
  update of that G run, and one that begins in the swap cycle or earlier reads none of
  them, even while G's next run writes: that run writes the other half. This is the rule
  of docs/semantics.md "Weights": G's update lands at the end of its last write cycle t
  and is visible to a read that starts at t + 1.

With ``double_buffered=False`` (all tasks of the layer on one processor, so G never
overlaps a reader) there is one half: G writes in place, a read issued in the cycle
after a write sees it, and ``swap`` and the begins are unused (they stay members so that
a PE connects alike either way; a top-level conversion names ``ports`` without them).

Memory mapping. Each replica is one Amaranth :class:`~amaranth.lib.memory.Memory` with
one read port and one write port (simple dual-port: one block RAM, or LUT RAM where
Yosys prefers it, on ECP5 / iCE40 / Xilinx 7). The half is the *top* address bit, so no
adder sits on the read-address path (the PE requests rows from its iterator's next
state): half h's row q is memory row ``h·2**addr_bits + q``, and a double-buffered
replica has ``2**addr_bits + rows`` rows (2·rows when ``rows`` is a power of two; the
rows between the halves are never addressed). A single-buffered replica has
``max(2, rows)`` rows (hw/plan.py's ``memory_depth``).

Load. ``load`` writes a row into the current half of every replica (in place when
single-buffered): the weights a run starts from, written while the accelerator is idle, never
together with ``w``. The back half needs none: G rewrites every row of it before it becomes
current.

Read-back. ``readback`` reads replica 0's current half (to read the trained weights out
while the accelerator is idle). It shares replica 0's read port through a multiplexer
selected by ``readback.en`` (so that every memory keeps one read port): ``readback.data``
and ``r0.data`` are the same register, so a read-back read also changes what ``r0.data``
holds. An idle-time read never coincides with a task's read; if both request in one
cycle, the read-back wins.

Contract (not checked in hardware): **no row is read in the cycle it is written, in the
same half**. The memories are marked ``no_rw_check`` (as the weight bank and the delay
line are), so such a read returns undefined data on the FPGA (Amaranth's simulator
returns the old row). A schedule never needs it: G writes the back half, which no reader
reads (a reader that latched it began before the previous swap and has ended before G's
next run starts, a period later: no task is longer than the period); in place
(single-buffered), G writes row q ``1 + latency`` cycles after reading it and nobody
else reads then. G writes each row once per run, so the same-address write/write case
does not arise.

Timing: ``r<i>.addr`` with ``r<i>.en`` in cycle t gives ``r<i>.data`` in cycle t + 1
(synchronous read; the data register holds while ``en`` is low); ``w.en`` in cycle t
writes ``w.data`` at the end of cycle t (into the back half, or in place).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Cat, Module, Mux, Signal
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In
from amaranth.utils import ceil_log2

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw import estimate as est
from layerpipe.hw.checked import CheckedFirst
from layerpipe.hw.signatures import ReadRequest, WriteRequest
from layerpipe.hw.weight_bank import chunk_layout

__all__ = ["ConvWeightStore", "conv_store_depth", "conv_store_resources"]


def _addr_bits(rows: int) -> int:
    return ceil_log2(max(2, rows))  # hw/plan.py memory_depth: at least 2 rows, a 1-bit address


def conv_store_depth(rows: int, double_buffered: bool) -> int:
    """Rows of one replica's memory: two halves at the top address bit, or ``max(2, rows)`` (module docstring)."""
    return (1 << _addr_bits(rows)) + rows if double_buffered else max(2, rows)


class ConvWeightStore(CheckedFirst, wiring.Component):
    """A conv layer's ``rows`` weight rows of ``lanes`` words, one replica per reader (module docstring).

    ``init``: initial rows as an integer (rows, lanes) array of data words
    (:func:`~layerpipe.hw.conv_layout.conv_bank_rows`; default zeros), loaded into both
    halves of every replica. Members (driven by their users): ``r0`` … ``r<readers−1>``
    (:class:`ReadRequest` ``(addr_bits, lanes·data_bits)``, flipped) and ``r<i>_begin``
    (In(1)); ``w`` (:class:`WriteRequest` ``(addr_bits, lanes·data_bits, 1)``, flipped) and
    ``swap`` (In(1)); ``load`` (:class:`WriteRequest`, flipped); ``readback`` (:class:`ReadRequest`,
    flipped). ``read_ports`` and
    ``begins`` list the readers' members in order; ``depth`` is a replica's memory rows.
    """

    @staticmethod
    def check(fmt: FixedFormat, lanes: int, rows: int, readers: int, double_buffered: bool, init=None) -> None:
        for name, value in (("lanes", lanes), ("rows", rows), ("readers", readers)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if init is not None:
            init = np.asarray(init)
            if not np.issubdtype(init.dtype, np.integer):
                raise ValueError(f"initial rows must be integers, not {init.dtype}")
            if init.shape != (rows, lanes):
                raise ValueError(f"initial rows have shape {init.shape}, the store is {(rows, lanes)}")
            if init.size and (init.min() < fmt.data_min or init.max() > fmt.data_max):
                raise ValueError(f"initial rows exceed the {fmt.data_bits}-bit data range")

    def __init__(self, fmt: FixedFormat, lanes: int, rows: int, readers: int, double_buffered: bool, init=None):
        self.fmt, self.lanes, self.rows, self.readers = fmt, lanes, rows, readers
        self.double_buffered = bool(double_buffered)
        self.init = np.zeros((rows, lanes), dtype=np.int64) if init is None else np.asarray(init, dtype=np.int64)
        self.row = chunk_layout(fmt, lanes)
        self.addr_bits = _addr_bits(rows)
        self.depth = conv_store_depth(rows, self.double_buffered)
        width = lanes * fmt.data_bits
        members = {}
        for i in range(readers):
            members[f"r{i}"] = In(ReadRequest(self.addr_bits, width))
            members[f"r{i}_begin"] = In(1)
        members["w"] = In(WriteRequest(self.addr_bits, width, 1))
        members["swap"] = In(1)
        members["load"] = In(WriteRequest(self.addr_bits, width, 1))
        members["readback"] = In(ReadRequest(self.addr_bits, width))
        super().__init__(members)

    @property
    def read_ports(self):
        return [getattr(self, f"r{i}") for i in range(self.readers)]

    @property
    def begins(self):
        return [getattr(self, f"r{i}_begin") for i in range(self.readers)]

    def _init_rows(self) -> list[list[int]]:
        rows = self.init.tolist()
        if not self.double_buffered:
            return rows + [[0] * self.lanes] * (self.depth - self.rows)
        gap = [[0] * self.lanes] * ((1 << self.addr_bits) - self.rows)
        return rows + gap + rows

    def elaborate(self, platform):
        m = Module()
        init = self._init_rows()
        if self.double_buffered:
            current = Signal(name="current")  # the half readers begin on; G writes the other
            with m.If(self.swap):
                m.d.sync += current.eq(~current)
        for i, (port, begin) in enumerate(zip(self.read_ports, self.begins)):
            mem = memory.Memory(shape=self.row, depth=self.depth, init=init, attrs={"no_rw_check": 1})
            m.submodules[f"replica{i}"] = mem
            write = mem.write_port()
            read = mem.read_port()
            loading = self.load.en[0]
            if self.double_buffered:
                m.d.comb += write.addr.eq(Mux(loading, Cat(self.load.addr, current), Cat(self.w.addr, ~current)))
                latched = Signal(name=f"r{i}_half")
                half = Signal(name=f"r{i}_read_half")
                m.d.comb += half.eq(Mux(begin, current, latched))
                m.d.sync += latched.eq(half)
                addr = Cat(port.addr, half)
            else:
                m.d.comb += write.addr.eq(Mux(loading, self.load.addr, self.w.addr))
                addr = port.addr
            m.d.comb += [write.data.eq(Mux(loading, self.load.data, self.w.data)), write.en.eq(self.w.en | loading)]
            en = port.en
            if i == 0:  # the read-back shares replica 0's read port (module docstring)
                back = Cat(self.readback.addr, current) if self.double_buffered else self.readback.addr
                addr = Mux(self.readback.en, back, addr)
                en = port.en | self.readback.en
                m.d.comb += self.readback.data.eq(read.data)
            m.d.comb += [read.addr.eq(addr), read.en.eq(en), port.data.eq(read.data)]
        return m

    def estimate(self, family: est.Family | str = est.ECP5) -> est.Resources:
        return conv_store_resources(self.fmt, self.lanes, self.rows, self.readers, self.double_buffered, family)


def conv_store_resources(fmt: FixedFormat, lanes: int, rows: int, readers: int, double_buffered: bool,
                         family: est.Family | str = est.ECP5) -> est.Resources:
    """One simple-dual-port memory per replica, plus the half registers and the read-back multiplexer."""
    fam = est.get_family(family)
    depth, width = conv_store_depth(rows, double_buffered), lanes * fmt.data_bits
    addr_bits = ceil_log2(max(2, depth))
    total = est.memory(depth, width, fam) * readers
    total += est.mux(addr_bits, 2, fam) + est.logic(2, 1, fam)  # read-back address select, read enable
    if double_buffered:
        total += est.register(1) + est.logic(2, 1, fam)  # current half, toggled by swap
        total += (est.register(1) + est.logic(3, 1, fam)) * readers  # latched half, begin ? current : latched
        total += est.logic(1, 1, fam)  # the write half, ~current
    return total
