"""Biases, written once for both numerics and both layer kinds (docs/numerics.md, "Biases").

A bias is a weight whose input is exactly 1.0: F adds ``b · 1.0`` to the exact sum before
its one rounding, and G steps it by ``η · δ · 1.0`` (summed over a conv layer's output
positions, as its weights' gradients are), rounded once and saturated like a weight. In
fixed point ``b · 1.0`` is ``b << frac_bits``, which sits at the products' binary point and
is no larger than one product, so 1.0 never has to be a data word (it is not one when
``frac_bits = data_bits − 1``). ``fmt`` is a FixedFormat or a RealFormat (sim/floatmodel.py).
"""

from __future__ import annotations

import numpy as np

__all__ = ["with_bias", "update"]


def with_bias(acc, bias, one):
    """``acc`` (output neurons or channels on axis 0, anything after) plus ``bias · one`` (``one`` is
    1.0 in the number format: ``fmt.one``); ``bias`` None adds nothing."""
    if bias is None:
        return acc
    bias = np.asarray(bias)
    return acc + (bias * one).reshape(bias.shape + (1,) * (np.ndim(acc) - 1))


def update(bias, delta, fmt):
    """G's bias step: ``bias − fmt.weight_step(Σ δ · 1.0)``, the sum over everything after axis 0 of δ."""
    bias = np.asarray(bias)
    gradient = np.asarray(delta).reshape(len(bias), -1).sum(axis=1) * fmt.one
    return fmt.saturate(bias - fmt.weight_step(gradient))
