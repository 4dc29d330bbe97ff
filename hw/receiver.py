"""The far end of a link: writes the producer's output stream into a delay line."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.link import link_signature
from layerpipe.hw.plan import BufferGeometry, index_shape

__all__ = ["Receiver"]


class Receiver(wiring.Component):
    """Members ``i`` (the link's stream, In) and ``w`` (the delay line's write side, Out).

    A producer emits one sample's item in a fixed order: F one word per row (``words``
    beats of one word), B one row chunk per cycle of its last row (``entries`` beats of
    ``lanes`` words). The receiver counts the beats, so the link carries data only, and
    moves the delay line on to the next sample with the sample's last beat.
    """

    def __init__(self, geom: BufferGeometry, fmt: FixedFormat, chunks_per_beat: bool):
        self.geom, self.chunks_per_beat = geom, chunks_per_beat
        width = geom.lanes if chunks_per_beat else 1
        super().__init__({"i": In(link_signature(fmt, width, geom.element)),
                          "w": Out(geom.write_signature(fmt))})

    def elaborate(self, platform):
        m = Module()
        geom, lanes = self.geom, self.geom.lanes
        chunk = Signal(index_shape(geom.entries))
        lane = Signal(index_shape(lanes))
        if self.chunks_per_beat:
            last = chunk == geom.entries - 1
            m.d.comb += [self.w.data.eq(self.i.payload), self.w.en.eq(Mux(self.i.valid, (1 << lanes) - 1, 0))]
        else:
            last = (chunk == (geom.words - 1) // lanes) & (lane == (geom.words - 1) % lanes)
            m.d.comb += [self.w.en.eq(Mux(self.i.valid, Const(1, lanes) << lane, 0))]
            m.d.comb += [self.w.data[k].eq(self.i.payload[0]) for k in range(lanes)]
        m.d.comb += [self.w.chunk.eq(chunk), self.w.advance.eq(self.i.valid & last)]
        with m.If(self.i.valid):
            with m.If(last):
                m.d.sync += [chunk.eq(0), lane.eq(0)]
            with m.Else():
                if self.chunks_per_beat:
                    m.d.sync += chunk.eq(chunk + 1)
                else:
                    with m.If(lane == lanes - 1):
                        m.d.sync += [lane.eq(0), chunk.eq(chunk + 1)]
                    with m.Else():
                        m.d.sync += lane.eq(lane + 1)
        return m
