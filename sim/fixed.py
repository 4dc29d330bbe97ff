"""Fixed-point kernels of one training task each, on int64 numpy arrays (docs/numerics.md).

Shared by the golden model (:mod:`layerpipe.sim.golden`) and the cycle simulator's
datapath (:mod:`layerpipe.sim.functional`), so the two cannot drift apart. Every value
is a data word of ``fmt`` (binary point ``fmt.frac_bits``) unless said otherwise; all
rounding and saturation goes through :class:`~layerpipe.core.numerics.FixedFormat`.

Matrix products are exact: numpy's int64 matmul is exact as long as nothing exceeds
63 bits, and ``fmt.check_fan_in`` already guarantees the sum fits in ``fmt.acc_bits``
(at most 62). ``a`` and ``delta`` may be a vector or a matrix whose columns are
samples (used for batched evaluation); the results then have one column per sample.
"""

from __future__ import annotations

import numpy as np

from layerpipe.core.numerics import FixedFormat
from layerpipe.sim.bias import with_bias

__all__ = ["forward", "output_delta", "squared_error", "backward", "mask_error", "update"]


def _words(x) -> np.ndarray:
    return np.asarray(x, dtype=np.int64)


def forward(W, a, fmt: FixedFormat, hidden: bool, bias=None):
    """F_l: z = W a (+ b · 1.0, sim/bias.py) rounded to a data word; ReLU and its mask for a hidden layer.

    Returns ``(a_out, mask)``: for a hidden layer ``a_out = max(z, 0)`` and
    ``mask = z > 0`` (σ' of ReLU, kept for layer l+1's B task to apply); for the output
    layer ``a_out = z`` and ``mask = None`` (linear output).
    """
    W = _words(W)
    fmt.check_fan_in(W.shape[1] + (bias is not None))
    z = fmt.to_data(with_bias(W @ _words(a), None if bias is None else _words(bias), fmt.one))
    if not hidden:
        return z, None
    mask = z > 0
    return np.where(mask, z, 0), mask


def output_delta(a_L, target, fmt: FixedFormat):
    """δ_L = a_L − target (gradient of ½‖a_L − t‖²), saturated to a data word."""
    return fmt.saturate(_words(a_L) - _words(target))


def squared_error(a_L, target) -> int:
    """‖a_L − target‖², exact and unsaturated; binary point 2·frac_bits (a monitor, not a data word)."""
    diff = _words(a_L) - _words(target)
    return int(np.sum(diff * diff))


def backward(W, delta, fmt: FixedFormat):
    """B_l: e_{l−1} = W_lᵀ δ_l, rounded to a data word (σ' is applied by the consumer: mask_error)."""
    W = _words(W)
    fmt.check_fan_in(W.shape[0])
    return fmt.to_data(W.T @ _words(delta))


def mask_error(e, mask):
    """δ_l = e_l ⊙ σ'(z_l): the ReLU derivative is a mask, so no arithmetic and no rounding."""
    return np.where(mask, _words(e), 0)


def update(W, delta, a_prev, fmt: FixedFormat):
    """G_l: W − η δ aᵀ with η = 2**−lr_shift, each weight's step rounded once, then saturated.

    A single product has binary point 2·frac_bits; the step is that product shifted
    right by frac_bits + lr_shift with round half up, so the learning rate costs no
    multiplier and no second rounding. No accumulation happens (per-sample SGD).
    """
    step = fmt.weight_step(np.outer(_words(delta), _words(a_prev)))
    return fmt.saturate(_words(W) - step)
