"""Kernels of a 2-D convolution layer (stride 1, ReLU, pooling folded in), written once for both numerics.

``fmt`` is a :class:`~layerpipe.core.numerics.FixedFormat` (data words, int64) or a
:class:`~layerpipe.sim.floatmodel.RealFormat` (float64, nothing rounds): every sum is
formed exactly (int64 products and sums cannot overflow once ``fmt.check_fan_in`` has
passed for the layer), then ``fmt`` rounds it once, so the order of accumulation never
matters. docs/semantics.md and docs/numerics.md ("Convolution layers") are the contract.

Weights are ``W[o, c, ky, kx]``; activations ``a[c, y, x]``, optionally with trailing
sample axes (batched evaluation). ``mask`` has the shape of the pre-pool output z: 1
where z > 0 and, with max-pooling, the element is its window's argmax (the first in
row-major order on ties); 0 past the last whole window. How a mode pools is its entry
in core/pooling.py.
"""

from __future__ import annotations

import numpy as np

from layerpipe.core.pooling import DEFAULT_POOL_MODE, POOL_MODES
from layerpipe.sim.bias import with_bias

__all__ = ["correlate", "forward", "backward", "mask_error", "update"]


def _pad(x, padding: int):
    """Zeros around the two spatial axes (1 and 2); a negative padding crops instead."""
    if padding >= 0:
        return np.pad(x, [(0, 0), (padding, padding), (padding, padding)] + [(0, 0)] * (x.ndim - 3))
    return x[:, -padding:x.shape[1] + padding, -padding:x.shape[2] + padding]


def _patches(a, kernel: int, padding: int):
    """im2col: (C·K·K, H_out, W_out, ...) with row (c, ky, kx) holding a_pad[c, y + ky, x + kx]."""
    padded = _pad(a, padding)
    height, width = padded.shape[1] - kernel + 1, padded.shape[2] - kernel + 1
    rows = [padded[:, ky:ky + height, kx:kx + width] for ky in range(kernel) for kx in range(kernel)]
    stacked = np.stack(rows, axis=1)  # (C, K·K, H_out, W_out, ...): c major, then ky, kx as W is laid out
    return stacked.reshape((-1,) + stacked.shape[2:])


def correlate(W, a, padding: int):
    """The exact sums z[o, y, x] = Σ_c,ky,kx W[o, c, ky, kx] · a_pad[c, y + ky, x + kx] (no rounding)."""
    cols = _patches(a, W.shape[2], padding)
    return np.tensordot(W.reshape(W.shape[0], -1), cols, axes=(1, 0))


def _windows(x, pool: int):
    """The whole non-overlapping pool×pool windows of ``x``: (O, rows, pool, cols, pool, ...)."""
    channels, height, width = x.shape[:3]
    rows, cols = height // pool, width // pool
    return x[:, :rows * pool, :cols * pool].reshape((channels, rows, pool, cols, pool) + x.shape[3:])


def _window_mask(z, pool: int, argmax: bool):
    """Per non-overlapping pool×pool window, 1 at its first maximum (``argmax``) or at every position;
    rows and columns past the last whole window 0."""
    windows = _windows(z, pool)
    channels, rows, cols = windows.shape[0], windows.shape[1], windows.shape[3]
    hot = np.ones(windows.shape, dtype=bool)
    if argmax:
        windows = np.moveaxis(windows, (2, 4), (-2, -1))  # (O, rows, cols, ..., pool, pool)
        flat = windows.reshape(windows.shape[:-2] + (pool * pool,))
        first = np.argmax(flat, axis=-1)  # argmax returns the first of equal maxima: row-major order
        hot = np.moveaxis((np.arange(pool * pool) == first[..., None]).reshape(windows.shape), (-2, -1), (2, 4))
    mask = np.zeros(z.shape, dtype=bool)
    mask[:, :rows * pool, :cols * pool] = hot.reshape((channels, rows * pool, cols * pool) + z.shape[3:])
    return mask


def forward(W, a, padding: int, pool: int, fmt, bias=None, pool_mode: str = DEFAULT_POOL_MODE):
    """F: z = fmt.to_data(W ∗ a + b · 1.0) per element, then ReLU and pooling; returns ``(a_out, mask)``.

    a_out[o, Y, X] = fmt.shift_down(Σ over the window of mask · z, the mode's shift): with
    max-pooling the mask passes the window's first maximum if it is > 0 (the sum is
    max(0, window max), no shift); with average pooling it passes every z > 0 (the sum is
    that of the ReLU outputs, divided by p² with one rounding in fixed point).
    """
    mode = POOL_MODES[pool_mode]
    fmt.check_fan_in(W[0].size + (bias is not None))
    z = fmt.to_data(with_bias(correlate(W, a, padding), bias, fmt.one))
    mask = _window_mask(z, pool, mode.argmax) & (z > 0)
    return fmt.shift_down(_windows(np.where(mask, z, 0), pool).sum(axis=(2, 4)), mode.shift(pool)), mask


def backward(W, delta, padding: int, fmt):
    """B: e[c, i, j] = fmt.to_data(Σ_o,ky,kx W[o, c, ky, kx] · δ[o, i + P − ky, j + P − kx]), δ zero outside.

    The gather form: δ padded by K − 1 − P correlated with W flipped in both spatial
    axes and with its channel axes swapped; one rounding per input element.
    """
    kernel = W.shape[2]
    flipped = np.ascontiguousarray(np.swapaxes(W, 0, 1)[:, :, ::-1, ::-1])
    fmt.check_fan_in(flipped[0].size)
    return fmt.to_data(correlate(flipped, delta, kernel - 1 - padding))


def mask_error(e, mask, pool: int, fmt, pool_mode: str = DEFAULT_POOL_MODE):
    """δ_pre[o, y, x] = mask[o, y, x] · fmt.shift_down(e[o, y // pool, x // pool], the mode's shift): the pooled
    error routed to each window's argmax (max-pooling) or shared by its p² positions (average pooling: e / p²,
    one rounding per pooled error in fixed point), where the mask is set."""
    e = fmt.shift_down(e, POOL_MODES[pool_mode].shift(pool))
    spread = np.repeat(np.repeat(e, pool, axis=1), pool, axis=2)
    routed = np.zeros(mask.shape, dtype=e.dtype)
    routed[:, :spread.shape[1], :spread.shape[2]] = spread
    return np.where(mask, routed, 0)


def update(W, delta, a_prev, padding: int, fmt):
    """G: W − fmt.weight_step(Σ_y,x δ[o, y, x] · a_pad[c, y + ky, x + kx]), one rounded step per weight, saturated."""
    cols = _patches(a_prev, W.shape[2], padding)
    fmt.check_fan_in(cols.shape[1] * cols.shape[2])
    gradient = delta.reshape(delta.shape[0], -1) @ cols.reshape(cols.shape[0], -1).T
    return fmt.saturate(W - fmt.weight_step(gradient.reshape(W.shape)))
