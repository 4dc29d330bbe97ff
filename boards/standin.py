"""A small stand-in design that exercises what the accelerator needs from an FPGA.

Until :mod:`layerpipe.hw.generate` provides the accelerator, the board flow is proven on
this: ``lanes`` 16×16 → 40-bit multiply-accumulate lanes (the DSP blocks) reading their
weights from an ``amaranth.lib.memory.Memory`` (block RAM) with one write port, the
shape of one processing element and its weight bank. It is deliberately pipelined the
way the real datapath is (registered memory read, registered product, accumulate), so
its Fmax is a fair first guess for the accelerator's.
"""

from __future__ import annotations

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["StandinMac", "StandinArray"]


class StandinMac(wiring.Component):
    """``lanes`` MAC lanes, weights in one memory of ``depth`` words of ``lanes`` × ``data_bits``.

    Ports: ``x`` (one data word per lane), ``x_valid``, ``clear`` (start a new dot product),
    ``raddr`` (weight address), a write port (``we``, ``waddr``, ``wdata``) and ``acc``
    (every lane's accumulator, concatenated).
    """

    def __init__(self, lanes: int = 4, depth: int = 256, data_bits: int = 16, acc_bits: int = 40):
        self.lanes, self.depth, self.data_bits, self.acc_bits = lanes, depth, data_bits, acc_bits
        addr_bits = max(1, (depth - 1).bit_length())
        super().__init__({
            "x": In(unsigned(lanes * data_bits)),
            "x_valid": In(1),
            "clear": In(1),
            "raddr": In(addr_bits),
            "we": In(1),
            "waddr": In(addr_bits),
            "wdata": In(unsigned(lanes * data_bits)),
            "acc": Out(unsigned(lanes * acc_bits)),
        })

    def elaborate(self, platform):
        m = Module()
        d = self.data_bits
        m.submodules.bank = bank = memory.Memory(shape=unsigned(self.lanes * d), depth=self.depth, init=[])
        rd = bank.read_port()
        wr = bank.write_port()
        m.d.comb += [rd.addr.eq(self.raddr), rd.en.eq(1),
                     wr.addr.eq(self.waddr), wr.data.eq(self.wdata), wr.en.eq(self.we)]

        # Stage 1: memory read (registered inside the port), x delayed alongside.
        # Stage 2: multiplier operands registered (the DSP's input registers).
        x_r, x_rr = Signal.like(self.x), Signal.like(self.x)
        w_r = Signal.like(rd.data)
        valid = Signal(3)
        clear = Signal(3)
        m.d.sync += [x_r.eq(self.x), x_rr.eq(x_r), w_r.eq(rd.data),
                     valid.eq(Cat(self.x_valid, valid[:-1])), clear.eq(Cat(self.clear, clear[:-1]))]
        # Stage 3: products, registered (the DSP's output register); stage 4: accumulate.
        valid_p, clear_p = valid[-1], clear[-1]
        accs = []
        for lane in range(self.lanes):
            a = w_r[lane * d:(lane + 1) * d].as_signed()
            b = x_rr[lane * d:(lane + 1) * d].as_signed()
            product = Signal(signed(2 * d), name=f"product{lane}")
            m.d.sync += product.eq(a * b)
            # Accumulate, restarting on clear.
            acc = Signal(signed(self.acc_bits), name=f"acc{lane}")
            with m.If(valid_p):
                m.d.sync += acc.eq(Mux(clear_p, 0, acc) + product)
            accs.append(acc)
        m.d.comb += self.acc.eq(Cat(*accs))
        return m


class StandinArray(wiring.Component):
    """``processors`` :class:`StandinMac` processing elements, sized like a schedule's datapath.

    Each element gets ``lanes`` multipliers and a weight memory deep enough for its share
    of ``weight_words`` (rounded up to a power of two), so utilisation grows with P and K
    the way the accelerator's will. It is not the accelerator: no sequencer, delay lines
    or links.
    """

    def __init__(self, processors: int = 1, lanes: int = 4, weight_words: int = 1024, data_bits: int = 16,
                 acc_bits: int = 40):
        self.processors, self.lanes = processors, lanes
        per_pe = -(-weight_words // (processors * lanes))
        self.depth = max(16, 1 << max(0, (per_pe - 1).bit_length()))
        self.pes = [StandinMac(lanes, self.depth, data_bits, acc_bits) for _ in range(processors)]
        super().__init__({f"pe{i}": Out(pe.signature) for i, pe in enumerate(self.pes)})

    def elaborate(self, platform):
        m = Module()
        for i, pe in enumerate(self.pes):
            m.submodules[f"pe{i}"] = pe
            wiring.connect(m, wiring.flipped(getattr(self, f"pe{i}")), pe)
        return m
