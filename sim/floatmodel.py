"""Float64 kernels of one training task each: the same API as :mod:`layerpipe.sim.fixed`, no rounding.

The float golden model is the accuracy reference (what the fixed-point format costs is
measured against it). ``lr`` is the learning rate η; the fixed-point kernels take it
from the format as 2**−lr_shift instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from layerpipe.sim.bias import with_bias

__all__ = ["RealFormat", "forward", "output_delta", "squared_error", "backward", "mask_error", "update"]


@dataclass(frozen=True)
class RealFormat:
    """FixedFormat's rounding interface in float64, for kernels written once for both numerics (sim/conv.py):
    nothing rounds or saturates, and a weight step is η times the gradient sum."""

    lr: float
    one = 1.0  # what a bias is multiplied by (sim/bias.py)

    def to_data(self, acc):
        return acc

    def saturate(self, value):
        return value

    def weight_step(self, gradient):
        return self.lr * gradient

    def shift_down(self, value, shift: int):
        """value / 2**shift, exact (a power of two scales a float64 without rounding)."""
        return value / float(1 << shift)

    def check_fan_in(self, fan_in: int) -> None:
        """A float sum cannot overflow."""


def forward(W, a, hidden: bool, bias=None):
    """F_l: z = W a (+ b); ``(ReLU(z), z > 0)`` for a hidden layer, ``(z, None)`` for the linear output."""
    z = with_bias(W @ a, bias, 1.0)
    if not hidden:
        return z, None
    mask = z > 0
    return np.where(mask, z, 0.0), mask


def output_delta(a_L, target):
    """δ_L = a_L − target, the gradient of ½‖a_L − target‖²."""
    return a_L - target


def squared_error(a_L, target) -> float:
    """‖a_L − target‖² (twice the loss), as the fixed-point kernel reports it."""
    diff = a_L - target
    return float(diff @ diff)


def backward(W, delta):
    """B_l: e_{l−1} = W_lᵀ δ_l."""
    return W.T @ delta


def mask_error(e, mask):
    """δ_l = e_l ⊙ σ'(z_l) with σ' of ReLU as a mask."""
    return np.where(mask, e, 0.0)


def update(W, delta, a_prev, lr: float):
    """G_l: W − η δ aᵀ (a new array; versions other tasks still read are never written in place)."""
    return W - lr * np.outer(delta, a_prev)
