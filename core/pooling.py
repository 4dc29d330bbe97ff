"""The pooling modes of a conv layer (``pool_mode``), each defined once (:data:`POOL_MODES`).

A conv layer's F task pools its ReLU outputs over non-overlapping p×p windows
(docs/semantics.md, "Convolution layers"). Both modes compute

    a_out[o, Y, X] = (Σ over the window of mask · z) / p^shift,   δ_pre = mask · e / p^shift

with a mask of p² bits per window, so a mode is which positions of a window its mask
passes (the first argmax only, or every ReLU-positive one) and the power of two it divides
by (none, or p²). The golden kernels (sim/conv.py), the RTL's pool write-back and δ path
(hw/pool.py, hw/pe.py) and the ONNX import and export (core/onnx_model.py) ask the entry.
"""

from __future__ import annotations

from dataclasses import dataclass

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.registry import ALL_MODELS, Registry, or_list

__all__ = ["PoolMode", "POOL_MODES", "DEFAULT_POOL_MODE", "pool_mode"]


@dataclass(frozen=True)
class PoolMode:
    name: str  # the `pool_mode` field of a conv layer
    title: str  # what users call it
    onnx_op: str  # the ONNX operator that computes it after a Relu
    # the mask keeps a window's first maximum only (max-pooling); else every position where z > 0 (averaging)
    argmax: bool
    commutes_with_relu: bool  # ONNX may put the pooling before the Relu
    models: frozenset[str] = ALL_MODELS

    def shift(self, pool: int) -> int:
        """The window's divisor as a shift: none for the maximum (the masked sum is the maximum itself),
        log2(p²) for the mean (p is a power of two: :func:`pool_mode` checks it)."""
        return 0 if self.argmax else 2 * (pool.bit_length() - 1)


POOL_MODES: Registry[PoolMode] = Registry("pooling mode", [
    PoolMode("max", "max-pooling", "MaxPool", argmax=True, commutes_with_relu=True),
    # ReLU before the mean: the mean of ReLU outputs is not the ReLU of the mean
    PoolMode("average", "average pooling", "AveragePool", argmax=False, commutes_with_relu=False),
])
DEFAULT_POOL_MODE = "max"


def pool_mode(value, pool: int, where: str) -> str:
    """A conv entry's field ``pool_mode`` (default max), checked against its ``pool``, in one line each."""
    if not isinstance(value, str) or value not in POOL_MODES:  # a list or table from a file is no name
        choices = or_list(f"'{name}'" for name in POOL_MODES)
        raise LayerPipeError(f"{where}: field 'pool_mode' is {value!r}; use {choices}")
    if not POOL_MODES[value].argmax and pool & (pool - 1):  # the mean's divisor p² must be a shift
        raise LayerPipeError(f"{where}: field 'pool' is {pool} with pool_mode '{value}'; the mean divides by "
                             "pool² as a shift: use a power of two (1, 2, 4, ...) or pool_mode 'max'")
    return value
