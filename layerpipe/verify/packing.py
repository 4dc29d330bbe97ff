"""Pack and unpack stream payloads and weight rows as the sidecar describes them."""

from __future__ import annotations

import numpy as np

__all__ = ["pack_fields", "pack_lanes", "bank_rows"]


def pack_fields(fields: list[dict], values: list) -> int:
    """Values in field order (arrays for array fields, ints for scalars) → one payload integer."""
    word = 0
    for field, value in zip(fields, values, strict=True):
        if "elements" in field:
            word |= pack_lanes(value, field["element_bits"]) << field["offset"]
        else:
            word |= (int(value) & ((1 << field["width"]) - 1)) << field["offset"]
    return word


def pack_lanes(values, bits: int) -> int:
    """Element k (two's complement, ``bits`` wide) at bits [k·bits, (k+1)·bits): one memory row or port word."""
    mask = (1 << bits) - 1
    return sum((int(v) & mask) << (k * bits) for k, v in enumerate(np.asarray(values).tolist()))


def bank_rows(weights: np.ndarray, lanes: int, data_bits: int) -> list[int]:
    """W (N_out, N_in) → bank row words: row j*C + c, lane k holds W[j, c*lanes + k] (zero padding)."""
    out_size, in_size = weights.shape
    chunks = -(-in_size // lanes)
    padded = np.zeros((out_size, chunks * lanes), dtype=np.int64)
    padded[:, :in_size] = weights
    return [pack_lanes(lane_words, data_bits) for lane_words in padded.reshape(out_size * chunks, lanes)]
