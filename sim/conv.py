"""Kernels of a 2-D convolution layer (stride 1, ReLU, max-pool folded in), written once for both numerics.

``fmt`` is a :class:`~layerpipe.core.numerics.FixedFormat` (data words, int64) or a
:class:`~layerpipe.sim.floatmodel.RealFormat` (float64, nothing rounds): every sum is
formed exactly (int64 products and sums cannot overflow once ``fmt.check_fan_in`` has
passed for the layer), then ``fmt`` rounds it once, so the order of accumulation never
matters. docs/semantics.md and docs/numerics.md ("Convolution layers") are the contract.

Weights are ``W[o, c, ky, kx]``; activations ``a[c, y, x]``, optionally with trailing
sample axes (batched evaluation). ``mask`` has the shape of the pre-pool output z: 1
where an element is its pooling window's argmax (the first in row-major order on ties)
and z > 0.
"""

from __future__ import annotations

import numpy as np

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


def _window_mask(z, pool: int):
    """1 at the first maximum of each non-overlapping pool×pool window; rows and columns past the last window 0."""
    windows = _windows(z, pool)
    channels, rows, cols = windows.shape[0], windows.shape[1], windows.shape[3]
    windows = np.moveaxis(windows, (2, 4), (-2, -1))  # (O, rows, cols, ..., pool, pool)
    flat = windows.reshape(windows.shape[:-2] + (pool * pool,))
    first = np.argmax(flat, axis=-1)  # argmax returns the first of equal maxima: row-major order
    hot = np.arange(pool * pool) == first[..., None]
    hot = np.moveaxis(hot.reshape(windows.shape), (-2, -1), (2, 4)).reshape(
        (channels, rows * pool, cols * pool) + z.shape[3:])
    mask = np.zeros(z.shape, dtype=bool)
    mask[:, :rows * pool, :cols * pool] = hot
    return mask


def forward(W, a, padding: int, pool: int, fmt, bias=None):
    """F: z = fmt.to_data(W ∗ a + b · 1.0) per element, then ReLU and max-pool; returns ``(a_out, mask)``.

    a_out[o, Y, X] = max(0, max of the window) = Σ over the window of mask · z, which is
    how it is computed: the mask is the only thing B needs and a_out follows from it.
    """
    fmt.check_fan_in(W[0].size + (bias is not None))
    z = fmt.to_data(with_bias(correlate(W, a, padding), bias, fmt.one))
    mask = _window_mask(z, pool) & (z > 0)
    return _windows(np.where(mask, z, 0), pool).sum(axis=(2, 4)), mask


def backward(W, delta, padding: int, fmt):
    """B: e[c, i, j] = fmt.to_data(Σ_o,ky,kx W[o, c, ky, kx] · δ[o, i + P − ky, j + P − kx]), δ zero outside.

    The gather form: δ padded by K − 1 − P correlated with W flipped in both spatial
    axes and with its channel axes swapped; one rounding per input element.
    """
    kernel = W.shape[2]
    flipped = np.ascontiguousarray(np.swapaxes(W, 0, 1)[:, :, ::-1, ::-1])
    fmt.check_fan_in(flipped[0].size)
    return fmt.to_data(correlate(flipped, delta, kernel - 1 - padding))


def mask_error(e, mask, pool: int):
    """δ_pre[o, y, x] = mask[o, y, x] · e[o, y // pool, x // pool]: the pooled error routed to each window's argmax."""
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
