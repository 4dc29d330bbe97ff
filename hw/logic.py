"""Small Amaranth expression helpers shared by the PE and the accelerator."""

from __future__ import annotations

from amaranth.hdl import Const

__all__ = ["any_of"]


def any_of(values):
    """OR of 1-bit values (0 for none)."""
    values = list(values)
    if not values:
        return Const(0, 1)
    out = values[0]
    for value in values[1:]:
        out = out | value
    return out
