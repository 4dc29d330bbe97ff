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

    A producer emits one sample's item in a fixed order: an fc F one word per row (``words``
    beats of one word), an fc B or a conv F one row per beat (``entries`` beats of ``lanes``
    words), a conv B one word per element of a channel-chunked volume, whose rows hold
    ``row_lanes`` words in turn (the last row of each position only its remaining channels).
    The receiver counts the beats, so the link carries data only, and moves the delay line
    on to the next sample with the sample's last beat.
    """

    def __init__(self, geom: BufferGeometry, fmt: FixedFormat, chunks_per_beat: bool,
                 row_lanes: tuple[int, ...] | None = None):
        self.geom, self.chunks_per_beat = geom, chunks_per_beat
        self.row_lanes = tuple(row_lanes) if row_lanes else (geom.lanes,)
        width = geom.lanes if chunks_per_beat else 1
        super().__init__({"i": In(link_signature(fmt, width, geom.element)),
                          "w": Out(geom.write_signature(fmt))})

    def elaborate(self, platform):
        m = Module()
        geom, lanes = self.geom, self.geom.lanes
        chunk = Signal(index_shape(geom.entries))
        lane = Signal(index_shape(lanes))
        pattern = self.row_lanes
        flat = pattern == (lanes,)
        turn = None if flat else Signal(index_shape(len(pattern)))  # which row of the position's rows
        if self.chunks_per_beat:
            last = chunk == geom.entries - 1
            m.d.comb += [self.w.data.eq(self.i.payload), self.w.en.eq(Mux(self.i.valid, (1 << lanes) - 1, 0))]
        else:
            if flat:  # every row full; the sample ends within its last row
                row_end = lane == lanes - 1
                last = (chunk == (geom.words - 1) // lanes) & (lane == (geom.words - 1) % lanes)
            else:
                row_end = Const(0)
                for k, used in enumerate(pattern):
                    row_end = row_end | ((turn == k) & (lane == used - 1))
                last = (chunk == geom.entries - 1) & row_end
            m.d.comb += [self.w.en.eq(Mux(self.i.valid, Const(1, lanes) << lane, 0))]
            m.d.comb += [self.w.data[k].eq(self.i.payload[0]) for k in range(lanes)]
        m.d.comb += [self.w.chunk.eq(chunk), self.w.advance.eq(self.i.valid & last)]
        with m.If(self.i.valid):
            with m.If(last):
                m.d.sync += [chunk.eq(0), lane.eq(0)]
                if turn is not None:
                    m.d.sync += turn.eq(0)
            with m.Else():
                if self.chunks_per_beat:
                    m.d.sync += chunk.eq(chunk + 1)
                else:
                    with m.If(row_end):
                        m.d.sync += [lane.eq(0), chunk.eq(chunk + 1)]
                        if turn is not None:
                            m.d.sync += turn.eq(Mux(turn == len(pattern) - 1, 0, turn + 1))
                    with m.Else():
                        m.d.sync += lane.eq(lane + 1)
        return m
