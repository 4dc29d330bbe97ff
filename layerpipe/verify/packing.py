"""Pack stream payloads as the sidecar describes them (their array fields, like memory rows, by
:mod:`layerpipe.hw.lanes`)."""

from __future__ import annotations

from layerpipe.hw.lanes import pack_lanes

__all__ = ["pack_fields"]


def pack_fields(fields: list[dict], values: list) -> int:
    """Values in field order (arrays for array fields, ints for scalars) → one payload integer."""
    word = 0
    for field, value in zip(fields, values, strict=True):
        if "elements" in field:
            word |= pack_lanes(value, field["element_bits"]) << field["offset"]
        else:
            word |= (int(value) & ((1 << field["width"]) - 1)) << field["offset"]
    return word
