"""The fixed-point number format: one config object for golden model, simulator and RTL.

docs/numerics.md is the written contract; this module is its executable form. Values
are Python ints or numpy int64 arrays holding two's-complement integers that represent
``value / 2**frac_bits``.

* data words (inputs, targets, weights, activations, errors): ``data_bits`` wide,
  ``frac_bits`` fractional bits, saturated to the word range;
* products and sums: exact in an accumulator of ``acc_bits`` (never overflows for the
  networks the RTL accepts: :meth:`FixedFormat.check_fan_in`);
* one rounding rule, round half up (add half an LSB, arithmetic shift right), applied
  whenever a wider value becomes a data word;
* learning rate η = 2**-lr_shift: a shift folded into the update's rounding.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import ClassVar

import numpy as np

from layerpipe.core.config import ConfigRecord
from layerpipe.core.errors import LayerPipeError

__all__ = ["FixedFormat", "round_shift", "saturate"]


def round_shift(value, shift: int):
    """``value / 2**shift`` rounded half up (toward +inf on ties): ``(value + 2**(shift-1)) >> shift``."""
    if shift == 0:
        return value
    return (value + (1 << (shift - 1))) >> shift


def saturate(value, bits: int):
    """Clamp to the two's-complement range of ``bits`` bits."""
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if isinstance(value, np.ndarray):
        return np.clip(value, low, high)
    return min(max(value, low), high)


@dataclass(frozen=True)
class FixedFormat(ConfigRecord):
    title: ClassVar[str] = "numeric format"

    data_bits: int = 16
    frac_bits: int = 12
    acc_bits: int = 40
    lr_shift: int = 6

    def __post_init__(self):
        self.require_ints([f.name for f in fields(self)], 0)
        if not 2 <= self.data_bits <= 32:
            raise LayerPipeError(f"numeric format: 'data_bits' is {self.data_bits}; use 2..32")
        if not 1 <= self.frac_bits < self.data_bits:
            raise LayerPipeError(f"numeric format: 'frac_bits' is {self.frac_bits}; use 1..data_bits-1")
        if not 2 * self.data_bits <= self.acc_bits <= 62:
            raise LayerPipeError(f"numeric format: 'acc_bits' is {self.acc_bits}; use "
                                 f"{2 * self.data_bits}..62 (products are {2 * self.data_bits} bits)")

    @property
    def one(self) -> int:
        """The integer that represents 1.0."""
        return 1 << self.frac_bits

    @property
    def data_min(self) -> int:
        return -(1 << (self.data_bits - 1))

    @property
    def data_max(self) -> int:
        return (1 << (self.data_bits - 1)) - 1

    def saturate(self, value):
        return saturate(value, self.data_bits)

    def to_data(self, acc):
        """An accumulator (binary point 2·frac_bits) back to a data word: round, then saturate."""
        return self.saturate(round_shift(acc, self.frac_bits))

    def weight_step(self, product):
        """η·δ·a as a weight-word step: product (binary point 2·frac_bits) scaled by 2**-lr_shift."""
        return round_shift(product, self.frac_bits + self.lr_shift)

    def shift_down(self, value, shift: int):
        """value / 2**shift at the same binary point, rounded once (average pooling's divisor p²)."""
        return round_shift(value, shift)

    def quantize(self, real):
        """A float (or array) to data words: round half up, saturate (inputs and initial weights)."""
        scaled = np.floor(np.asarray(real, dtype=np.float64) * self.one + 0.5).astype(np.int64)
        return self.saturate(scaled)

    def to_real(self, value):
        return np.asarray(value, dtype=np.float64) / self.one

    def check_fan_in(self, fan_in: int) -> None:
        """Refuse a layer whose dot product could overflow the accumulator."""
        needed = 2 * self.data_bits + max(0, math.ceil(math.log2(fan_in)))
        if needed > self.acc_bits:
            raise LayerPipeError(f"numeric format: a dot product over {fan_in} inputs needs {needed} "
                                 f"accumulator bits, 'acc_bits' is {self.acc_bits}; raise it to {needed}")

