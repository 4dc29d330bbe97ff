"""Link: a stream between processing elements with a fixed latency.

A transfer of ``words`` data words crosses processors as ceil(words / width) beats of
``width`` words (the cost model's ``link_width_words``); the link adds ``latency``
cycles (``link_latency_cycles``): a beat accepted on ``i`` in cycle t appears on ``o``
in cycle t + latency, through a pipeline of ``latency`` registers (payload + valid).
``latency = 0`` is a plain connection. This is the cost model's transfer time: B =
ceil(words / link_width_words) beats sent in cycles E … E + B − 1 after the producing task
ends at E arrive by cycle E + B − 1 + latency, are written in that cycle and can be read
from cycle E + latency + B = E + ``transfer_cycles(words)`` on.

Streams are :class:`amaranth.lib.stream.Signature`\\s with an
``ArrayLayout(element, width)`` payload (element: a signed data word, or a mask bit).
The static schedule needs no flow control: by default both sides are ``always_ready``
and the latency is exact. With ``backpressure=True`` the sink may hold ``o.ready`` low;
the whole pipeline then stalls (``i.ready = o.ready | ~o.valid``: an empty output stage
is always refilled) and the latency holds only while the sink is ready.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw import estimate as est
from layerpipe.hw.checked import CheckedFirst
from layerpipe.hw.signatures import element_shape

__all__ = ["link_signature", "Link", "link_resources"]


def link_signature(fmt: FixedFormat, width: int, element: str = "data", backpressure: bool = False):
    """The stream signature of a link carrying ``width`` elements per beat."""
    return stream.Signature(data.ArrayLayout(element_shape(fmt, element), width), always_ready=not backpressure)


class Link(CheckedFirst, wiring.Component):
    """Fixed-latency stream: members ``i`` (In) and ``o`` (Out) of :func:`link_signature`."""

    @staticmethod
    def check(fmt: FixedFormat, width: int, latency: int, element: str = "data", backpressure: bool = False) -> None:
        if not isinstance(width, int) or width < 1:
            raise ValueError(f"link width must be a positive number of words, not {width!r}")
        if not isinstance(latency, int) or latency < 0:
            raise ValueError(f"link latency must be an integer >= 0, not {latency!r}")
        element_shape(fmt, element)

    def __init__(self, fmt: FixedFormat, width: int, latency: int, element: str = "data", backpressure: bool = False):
        self.fmt, self.width, self.latency = fmt, width, latency
        self.element, self.backpressure = element, bool(backpressure)
        signature = link_signature(fmt, width, element, backpressure)
        super().__init__({"i": In(signature), "o": Out(signature)})

    def elaborate(self, platform):
        m = Module()
        if self.latency == 0:
            m.d.comb += [self.o.payload.eq(self.i.payload), self.o.valid.eq(self.i.valid)]
            if self.backpressure:
                m.d.comb += self.i.ready.eq(self.o.ready)
            return m
        payload, valid = self.i.payload, self.i.valid
        stages = []
        for stage in range(self.latency):
            p = Signal.like(self.o.payload, name=f"stage{stage}_payload")
            v = Signal(name=f"stage{stage}_valid")
            stages.append((p, v, payload, valid))
            payload, valid = p, v
        move = Signal()
        if self.backpressure:
            m.d.comb += [move.eq(self.o.ready | ~valid), self.i.ready.eq(move)]
        else:
            m.d.comb += move.eq(1)
        with m.If(move):
            m.d.sync += [p.eq(source) for p, _, source, _ in stages]
            m.d.sync += [v.eq(source) for _, v, _, source in stages]
        m.d.comb += [self.o.payload.eq(payload), self.o.valid.eq(valid)]
        return m

    def estimate(self, family: est.Family | str = est.ECP5) -> est.Resources:
        return link_resources(self.fmt, self.width, self.latency, self.element, self.backpressure, family)


def link_resources(fmt: FixedFormat, width: int, latency: int, element: str = "data", backpressure: bool = False,
                   family: est.Family | str = est.ECP5) -> est.Resources:
    """``latency`` registers of payload + valid (clock enables are free in FPGA flip-flops)."""
    fam = est.get_family(family)
    payload_bits = data.ArrayLayout(element_shape(fmt, element), width).size
    total = est.register(latency * (payload_bits + 1))
    if backpressure and latency:
        total += est.logic(2, 1, fam)
    return total
