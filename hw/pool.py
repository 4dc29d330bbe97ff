"""Pool write-back: a conv layer's F output rows through ReLU and max-pool, straight into the delay line.

A conv F task (docs/semantics.md, "Dataflow") accumulates each output position's row of
``lanes`` channels in the VectorMAC's B path and delivers it once per position as ``z``
(``col_valid`` / ``col_data``), the p² positions of one pooling window consecutively,
position index ``pool_bit`` = dy·p + dx (0 … p² − 1). Per lane, a register pair holds the
window's running best value and its position; ``position`` 0 restarts them, a later
position replaces the best only when strictly greater (ties keep the first, as the golden
model's argmax does).

Timing: no cycle of latency. In the cycle of the window's last position (``valid`` and
``position`` = p² − 1) ``write`` is high and, combinationally from that cycle's ``z`` and the
registers,

* ``act`` = max(0, window max) per lane: a_l[o, Y, X];
* ``mask`` per lane a p²-bit one-hot of the argmax position (bit dy·p + dx), and'ed with
  window max > 0 (0 when the max is ≤ 0): the pooled mask element of docs/semantics.md.

So the delay-line write happens in the cycle of the MAC's output. ``act`` and ``mask`` are
only meaningful while ``write`` is high. Between positions any number of idle cycles
(``valid`` low, any ``z`` and ``position``) may pass: the registers change only on valid
positions. With pool = 1 every valid row is a window: act = ReLU(z), mask = z > 0.
"""

from __future__ import annotations

import math

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw import estimate as est
from layerpipe.hw.checked import CheckedFirst

__all__ = ["PoolWriteBack", "pool_resources"]


def _index_bits(pool: int) -> int:
    return math.ceil(math.log2(pool * pool)) if pool > 1 else 0


class PoolWriteBack(CheckedFirst, wiring.Component):
    """ReLU and max-pool of a conv F task's output rows, combinational in a window's last cycle (module docstring).

    Parameters: ``fmt`` (data width), ``lanes`` (channels a row), ``pool`` (p).

    Inputs: ``valid`` (1), ``z`` (``ArrayLayout(signed(data_bits), lanes)``: one position's
    row), ``position`` (``range(max(2, p²))``: its pool_bit dy·p + dx; at least one bit,
    since Verilog has no 0-bit vectors, so it is 0 for p = 1). Outputs: ``write`` (1: valid
    and position = p² − 1), ``act`` (a row of ``lanes`` data words), ``mask``
    (``ArrayLayout(unsigned(p²), lanes)``).
    """

    @staticmethod
    def check(fmt: FixedFormat, lanes: int, pool: int) -> None:
        for name, value in (("lanes", lanes), ("pool", pool)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")

    def __init__(self, fmt: FixedFormat, lanes: int, pool: int):
        self.fmt, self.lanes, self.pool = fmt, lanes, pool
        self.positions = pool * pool
        row = data.ArrayLayout(signed(fmt.data_bits), lanes)
        super().__init__({
            "valid": In(1),
            "z": In(row),
            "position": In(range(max(2, self.positions))),
            "write": Out(1),
            "act": Out(row),
            "mask": Out(data.ArrayLayout(unsigned(self.positions), lanes)),
        })

    def elaborate(self, platform):
        m = Module()
        lanes, bits, last = self.lanes, self.fmt.data_bits, self.positions - 1
        index_bits = _index_bits(self.pool)
        m.d.comb += self.write.eq(self.valid & (self.position == last))
        restart = self.position == 0
        for k in range(lanes):
            z = self.z[k]
            if self.positions == 1:
                best, arg = z, None
            else:
                best_reg = Signal(signed(bits), name=f"best{k}")
                arg_reg = Signal(index_bits, name=f"arg{k}")
                take = restart | (z > best_reg)  # strictly greater: ties keep the first position
                best = Signal(signed(bits), name=f"window_max{k}")
                arg = Signal(index_bits, name=f"window_arg{k}")
                m.d.comb += [best.eq(Mux(take, z, best_reg)), arg.eq(Mux(take, self.position[:index_bits], arg_reg))]
                with m.If(self.valid):
                    m.d.sync += [best_reg.eq(best), arg_reg.eq(arg)]
            positive = ~best[-1] & best.any()
            m.d.comb += self.act[k].eq(Mux(positive, best, Const(0, signed(bits))))
            if arg is None:
                m.d.comb += self.mask[k].eq(positive)
            else:
                m.d.comb += self.mask[k].eq(Mux(positive, Const(1, self.positions) << arg, 0))
        return m

    def estimate(self, family: est.Family | str = est.ECP5) -> est.Resources:
        return pool_resources(self.fmt, self.lanes, self.pool, family)


def pool_resources(fmt: FixedFormat, lanes: int, pool: int, family: est.Family | str = est.ECP5) -> est.Resources:
    """Expected LUT/FF of a PoolWriteBack (hw/estimate.py's assumptions): per lane, pool > 1, the
    best/argmax registers, a comparator and their multiplexers; the ReLU; the one-hot decode."""
    fam = est.get_family(family)
    bits, positions, index_bits = fmt.data_bits, pool * pool, _index_bits(pool)
    position_bits = max(1, index_bits)
    total = est.logic(position_bits + 1, 1, fam)  # write
    per_lane = est.logic(bits, 1, fam) + est.logic(2, bits, fam)  # z > 0 (sign, any), ReLU
    if pool > 1:
        total += est.logic(position_bits, 1, fam)  # restart
        per_lane += est.register(bits + index_bits) + est.adder(bits)  # registers, comparator
        per_lane += est.mux(bits + index_bits, 2, fam) + est.logic(2, 1, fam)  # best/arg select, take
        per_lane += est.logic(index_bits + 1, positions, fam)  # one-hot decode and'ed with max > 0
    return total + per_lane * lanes
