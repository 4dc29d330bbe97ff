"""Pool write-back: a conv layer's F output rows through ReLU and pooling, straight into the delay line.

A conv F task (docs/semantics.md, "Dataflow") accumulates each output position's row of
``lanes`` channels in the VectorMAC's B path and delivers it once per position as ``z``
(``col_valid`` / ``col_data``), the p² positions of one pooling window consecutively,
position index ``pool_bit`` = dy·p + dx (0 … p² − 1). How it pools is the layer's
``pool_mode`` (core/pooling.py); ``position`` 0 restarts a window's registers:

* max-pooling: per lane, a register pair holds the window's running best value and its
  position; a later position replaces the best only when strictly greater (ties keep the
  first, as the golden model's argmax does);
* average pooling: per lane, a running sum of ReLU(z), ``data_bits`` − 1 + 2·log2 p bits
  unsigned (p² values of at most 2^(data_bits−1) − 1), and the ReLU bits z > 0 of the
  window's positions so far.

Timing: no cycle of latency. In the cycle of the window's last position (``valid`` and
``position`` = p² − 1) ``write`` is high and, combinationally from that cycle's ``z`` and the
registers,

* max: ``act`` = max(0, window max) per lane: a_l[o, Y, X]; ``mask`` per lane a p²-bit
  one-hot of the argmax position (bit dy·p + dx), and'ed with window max > 0 (0 when the
  max is ≤ 0): the pooled mask element of docs/semantics.md;
* average: ``act`` = round_shift(sum + ReLU(z), 2·log2 p), the golden model's one rounding;
  the mean of data words is a data word, so nothing saturates; ``mask`` bit dy·p + dx is
  z > 0 at that position.

So the delay-line write happens in the cycle of the MAC's output. ``act`` and ``mask`` are
only meaningful while ``write`` is high. Between positions any number of idle cycles
(``valid`` low, any ``z`` and ``position``) may pass: the registers change only on valid
positions. With pool = 1 every valid row is a window, in either mode: act = ReLU(z), mask = z > 0.
"""

from __future__ import annotations

import math

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.core.numerics import FixedFormat
from layerpipe.core.pooling import DEFAULT_POOL_MODE, POOL_MODES
from layerpipe.hw import estimate as est
from layerpipe.hw.checked import CheckedFirst
from layerpipe.hw.mac import round_shift

__all__ = ["PoolWriteBack", "pool_resources"]


def _index_bits(pool: int) -> int:
    return math.ceil(math.log2(pool * pool)) if pool > 1 else 0


def _sum_bits(fmt: FixedFormat, pool: int) -> int:
    """An average window's running sum: p² ReLU outputs of at most 2^(data_bits−1) − 1, unsigned."""
    return fmt.data_bits - 1 + POOL_MODES["average"].shift(pool)


def _averages(pool: int, mode: str) -> bool:
    """The window keeps a running sum (a window of one is ReLU in either mode: the max's pass-through)."""
    return pool > 1 and not POOL_MODES[mode].argmax


def _positive(value):
    return ~value[-1] & value.any()


class PoolWriteBack(CheckedFirst, wiring.Component):
    """ReLU and pooling of a conv F task's output rows, combinational in a window's last cycle (module docstring).

    Parameters: ``fmt`` (data width), ``lanes`` (channels a row), ``pool`` (p), ``mode`` (a name in
    :data:`~layerpipe.core.pooling.POOL_MODES`: the layer's ``pool_mode``).

    Inputs: ``valid`` (1), ``z`` (``ArrayLayout(signed(data_bits), lanes)``: one position's
    row), ``position`` (``range(max(2, p²))``: its pool_bit dy·p + dx; at least one bit,
    since Verilog has no 0-bit vectors, so it is 0 for p = 1). Outputs: ``write`` (1: valid
    and position = p² − 1), ``act`` (a row of ``lanes`` data words), ``mask``
    (``ArrayLayout(unsigned(p²), lanes)``).
    """

    @staticmethod
    def check(fmt: FixedFormat, lanes: int, pool: int, mode: str = DEFAULT_POOL_MODE) -> None:
        for name, value in (("lanes", lanes), ("pool", pool)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive integer, not {value!r}")
        if mode not in POOL_MODES:
            raise ValueError(f"mode must be one of {', '.join(POOL_MODES)}, not {mode!r}")
        if _averages(pool, mode) and pool & (pool - 1):
            raise ValueError(f"average pooling divides by pool² as a shift: pool must be a power of two, not {pool}")

    def __init__(self, fmt: FixedFormat, lanes: int, pool: int, mode: str = DEFAULT_POOL_MODE):
        self.fmt, self.lanes, self.pool, self.mode = fmt, lanes, pool, mode
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
        last = self.positions - 1
        m.d.comb += self.write.eq(self.valid & (self.position == last))
        restart = self.position == 0
        lane = self._average_lane if _averages(self.pool, self.mode) else self._max_lane
        for k in range(self.lanes):
            act, mask = lane(m, k, restart)
            m.d.comb += [self.act[k].eq(act), self.mask[k].eq(mask)]
        return m

    def _max_lane(self, m, k: int, restart):
        """Lane ``k``'s (act, mask) under max-pooling: the running maximum and its position."""
        bits, index_bits, z = self.fmt.data_bits, _index_bits(self.pool), self.z[k]
        if self.positions == 1:
            positive = _positive(z)
            return Mux(positive, z, Const(0, signed(bits))), positive
        best_reg = Signal(signed(bits), name=f"best{k}")
        arg_reg = Signal(index_bits, name=f"arg{k}")
        take = restart | (z > best_reg)  # strictly greater: ties keep the first position
        best = Signal(signed(bits), name=f"window_max{k}")
        arg = Signal(index_bits, name=f"window_arg{k}")
        m.d.comb += [best.eq(Mux(take, z, best_reg)), arg.eq(Mux(take, self.position[:index_bits], arg_reg))]
        with m.If(self.valid):
            m.d.sync += [best_reg.eq(best), arg_reg.eq(arg)]
        positive = _positive(best)
        return Mux(positive, best, Const(0, signed(bits))), Mux(positive, Const(1, self.positions) << arg, 0)

    def _average_lane(self, m, k: int, restart):
        """Lane ``k``'s (act, mask) under average pooling: the running ReLU sum and the positions' ReLU bits."""
        z, shift = self.z[k], POOL_MODES[self.mode].shift(self.pool)
        sum_reg = Signal(_sum_bits(self.fmt, self.pool), name=f"sum{k}")
        seen_reg = Signal(self.positions, name=f"positive{k}")
        positive = _positive(z)
        total = Signal.like(sum_reg, name=f"window_sum{k}")
        seen = Signal.like(seen_reg, name=f"window_positive{k}")
        m.d.comb += [total.eq(Mux(restart, 0, sum_reg) + Mux(positive, z.as_unsigned(), 0)),
                     seen.eq(Mux(restart, 0, seen_reg) | (positive << self.position[:_index_bits(self.pool)]))]
        with m.If(self.valid):
            m.d.sync += [sum_reg.eq(total), seen_reg.eq(seen)]
        return round_shift(total, shift), seen

    def estimate(self, family: est.Family | str = est.ECP5) -> est.Resources:
        return pool_resources(self.fmt, self.lanes, self.pool, family, self.mode)


def pool_resources(fmt: FixedFormat, lanes: int, pool: int, family: est.Family | str = est.ECP5,
                   mode: str = DEFAULT_POOL_MODE) -> est.Resources:
    """Expected LUT/FF of a PoolWriteBack (hw/estimate.py's assumptions): per lane, pool > 1, the
    window's registers (max: best/argmax, a comparator and their multiplexers, the one-hot decode;
    average: the sum, its adder and rounding adder, the ReLU bits); the ReLU."""
    fam = est.get_family(family)
    bits, positions, index_bits = fmt.data_bits, pool * pool, _index_bits(pool)
    position_bits = max(1, index_bits)
    total = est.logic(position_bits + 1, 1, fam)  # write
    per_lane = est.logic(bits, 1, fam) + est.logic(2, bits, fam)  # z > 0 (sign, any), ReLU
    if pool > 1:
        total += est.logic(position_bits, 1, fam)  # restart
    if _averages(pool, mode):
        sum_bits = _sum_bits(fmt, pool)
        per_lane += est.register(sum_bits + positions) + est.adder(sum_bits) * 2  # registers, sum, rounding
        per_lane += est.logic(2, sum_bits, fam) + est.logic(index_bits + 2, positions, fam)  # restart, ReLU bits
    elif pool > 1:
        per_lane += est.register(bits + index_bits) + est.adder(bits)  # registers, comparator
        per_lane += est.mux(bits + index_bits, 2, fam) + est.logic(2, 1, fam)  # best/arg select, take
        per_lane += est.logic(index_bits + 1, positions, fam)  # one-hot decode and'ed with max > 0
    return total + per_lane * lanes
