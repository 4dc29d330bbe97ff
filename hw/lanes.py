"""Lane packing: a vector of words as rows of ``lanes`` elements, element k of a row two's complement
``bits`` wide at bits ``[k·bits, (k+1)·bits)``, a vector that does not fill its last row padded with zeros.

Every memory row and port word of the generator is laid out so (weight banks, delay lines, the MAC's
vector ports, the stream payloads' arrays); the weight bank's helpers, the benches' configurations and
the tests' models all pack through here, so they cannot come to disagree on the layout.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pad_lanes", "pack_lanes"]


def pad_lanes(words, lanes: int) -> np.ndarray:
    """Integers (a vector, or a matrix row by row) with zeros appended to each row up to a multiple of ``lanes``."""
    words = np.asarray(words, dtype=np.int64)
    padded = np.zeros((*words.shape[:-1], -(-words.shape[-1] // lanes) * lanes), dtype=np.int64)
    padded[..., :words.shape[-1]] = words
    return padded


def pack_lanes(values, bits: int) -> int:
    """Element k (two's complement, ``bits`` wide) at bits [k·bits, (k+1)·bits): one memory row or port word."""
    mask = (1 << bits) - 1
    return sum((int(v) & mask) << (k * bits) for k, v in enumerate(np.asarray(values).tolist()))
