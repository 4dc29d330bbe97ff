"""Delay line: a ring buffer of whole samples with static timing (no handshake inside).

A delay line holds the last ``depth`` samples of one data item (an activation vector
a_l or a ReLU mask mask_l), each sample ``chunks`` memory rows of ``lanes`` elements
(chunk c holds elements c·lanes … c·lanes + lanes − 1; pad the last chunk). It is the
FIFO that makes a_{l−1} wait Delay(l) samples for G_l (docs/semantics.md); its depth is the
table's ``delay_lines[].depth``.

One write side and one or more read sides, each with its own *sample pointer* that
advances on its own ``advance`` strobe (once per sample, at a cycle fixed by the
schedule). The writer's n-th sample (after n advances) goes to slot n mod depth; read
side i starts ``delays[i]`` slots behind, so its n-th sample is the writer's sample
n − delays[i]: "the entry written k samples ago" with k = delays[i], independent of
where in the period each side advances.

Timing: ``w.en`` (one bit per lane: a whole chunk, or one word of it) writes
``w.data`` into row ``w.chunk`` of the current write slot at the end of the cycle;
``r.en`` with ``r.chunk`` in cycle t gives ``r.data`` in cycle t + 1 (synchronous read,
held while ``en`` is low). ``advance`` takes effect after the cycle it is asserted in
(an access in the same cycle still uses the old slot).

Contract (not checked in hardware): a read side reads its sample only after the writer
has finished writing it, and before the writer comes back to that slot, i.e. while the
writer is at most ``depth − 1 − delays[i]`` samples further on; hence every delay
must be < depth. No row is read in the cycle it is written: the memory is marked
``no_rw_check`` (like the weight bank) so that Yosys maps it to block RAM without
collision logic.
"""

from __future__ import annotations

import math

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In
from amaranth.utils import ceil_log2

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw import estimate as est
from layerpipe.hw.checked import CheckedFirst
from layerpipe.hw.signatures import ELEMENTS, DelayReadSignature, DelayWriteSignature, element_shape

__all__ = ["ELEMENTS", "element_shape", "DelayWriteSignature", "DelayReadSignature", "DelayLine",
           "delay_line_resources"]

class DelayLine(CheckedFirst, wiring.Component):
    """``depth`` samples of ``chunks`` rows of ``lanes`` elements (module docstring).

    Members: ``w`` (:class:`DelayWriteSignature`, flipped) and ``r0``, ``r1``, … (one
    :class:`DelayReadSignature`, flipped, per entry of ``delays``); ``read_ports`` lists
    the read sides in order.
    """

    @staticmethod
    def check(fmt: FixedFormat, lanes: int, chunks: int, depth: int, delays=(0,), element: str = "data") -> None:
        for name, value in (("lanes", lanes), ("chunks", chunks), ("depth", depth)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        delays = tuple(delays)
        if not delays:
            raise ValueError("a delay line needs at least one read side")
        for k in delays:
            if not isinstance(k, int) or not 0 <= k < depth:
                raise ValueError(f"delay {k!r} does not fit a delay line of depth {depth}; use 0..{depth - 1}")
        element_shape(fmt, element)

    def __init__(self, fmt: FixedFormat, lanes: int, chunks: int, depth: int, delays=(0,), element: str = "data"):
        delays = tuple(delays)
        self.fmt, self.lanes, self.chunks, self.depth, self.delays = fmt, lanes, chunks, depth, delays
        self.element = element
        self.row = data.ArrayLayout(element_shape(fmt, element), lanes)
        self.rows = depth * chunks
        members = {"w": In(DelayWriteSignature(self.row, lanes, chunks))}
        for i in range(len(delays)):
            members[f"r{i}"] = In(DelayReadSignature(self.row, chunks))
        super().__init__(members)

    @property
    def read_ports(self):
        return [getattr(self, f"r{i}") for i in range(len(self.delays))]

    @classmethod
    def for_words(cls, fmt: FixedFormat, lanes: int, words: int, depth: int, delays=(0,), element: str = "data"):
        """A delay line for samples of ``words`` elements (ceil(words / lanes) rows each)."""
        return cls(fmt, lanes, math.ceil(words / lanes), depth, delays, element)

    def elaborate(self, platform):
        m = Module()
        rows, chunks = self.rows, self.chunks
        m.submodules.memory = mem = memory.Memory(shape=self.row, depth=max(2, rows), init=[],
                                                  attrs={"no_rw_check": 1})
        addr_shape = range(max(2, rows))

        def slot_base(name, init_slot, advance):
            """First row of the current slot; moves on by ``chunks`` rows (wrapping) after ``advance``."""
            base = Signal(addr_shape, init=init_slot * chunks, name=name)
            with m.If(advance):
                m.d.sync += base.eq(Mux(base == (self.depth - 1) * chunks, 0, base + chunks))
            return base

        write = mem.write_port(granularity=1)
        wbase = slot_base("write_base", 0, self.w.advance)
        m.d.comb += [write.addr.eq(wbase + self.w.chunk), write.data.eq(self.w.data), write.en.eq(self.w.en)]
        for i, (port, k) in enumerate(zip(self.read_ports, self.delays)):
            read = mem.read_port()
            rbase = slot_base(f"read{i}_base", (-k) % self.depth, port.advance)
            m.d.comb += [read.addr.eq(rbase + port.chunk), read.en.eq(port.en), port.data.eq(read.data)]
        return m

    def estimate(self, family: est.Family | str = est.ECP5) -> est.Resources:
        return delay_line_resources(self.row.size, self.rows, len(self.delays), family)


def delay_line_resources(width: int, rows: int, readers: int, family: est.Family | str = est.ECP5) -> est.Resources:
    """A delay line of ``rows`` rows of ``width`` bits with ``readers`` read sides: one simple-dual-port copy
    of the ring per read side, plus the slot pointers and address adders."""
    fam = est.get_family(family)
    addr_bits = ceil_log2(max(2, rows))
    total = est.memory(max(2, rows), width, fam) * readers
    pointer = est.register(addr_bits) + est.adder(addr_bits) * 2 + est.logic(addr_bits, 1, fam)
    total += pointer * (readers + 1)  # base register, increment, row adder, wrap compare
    return total
