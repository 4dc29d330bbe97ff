"""An independent reference for networks of conv and fc layers: plain loops, scatter-form backward.

Written from the definitions in docs/semantics.md ("Convolution layers"), not from
layerpipe.sim.conv: bounds checks instead of padded arrays, the input gradient
scattered from each output position instead of gathered, max-pool by scanning each
window. Works on float64 or on integers (exact sums, for the fixed-point checks).
"""

from __future__ import annotations

import numpy as np


def conv_sums(W, a, padding: int):
    """z[o, y, x] = Σ W[o, c, ky, kx] · a[c, y + ky − P, x + kx − P] over the taps inside the image."""
    out_channels, channels, kernel, _ = W.shape
    _, height, width = a.shape
    rows, cols = height + 2 * padding - kernel + 1, width + 2 * padding - kernel + 1
    z = np.zeros((out_channels, rows, cols), dtype=np.result_type(W, a))
    for o in range(out_channels):
        for y in range(rows):
            for x in range(cols):
                for c in range(channels):
                    for ky in range(kernel):
                        for kx in range(kernel):
                            i, j = y + ky - padding, x + kx - padding
                            if 0 <= i < height and 0 <= j < width:
                                z[o, y, x] += W[o, c, ky, kx] * a[c, i, j]
    return z


def relu_max_pool(z, pool: int):
    """Max-pool of ReLU(z) over non-overlapping windows, and the mask: first maximum in row-major order and z > 0."""
    channels, height, width = z.shape
    out = np.zeros((channels, height // pool, width // pool), dtype=z.dtype)
    mask = np.zeros(z.shape, dtype=bool)
    for o in range(channels):
        for row in range(height // pool):
            for col in range(width // pool):
                best = (row * pool, col * pool)
                for dy in range(pool):
                    for dx in range(pool):
                        if z[o, row * pool + dy, col * pool + dx] > z[o, best[0], best[1]]:
                            best = (row * pool + dy, col * pool + dx)
                if z[o, best[0], best[1]] > 0:
                    mask[o, best[0], best[1]] = True
                    out[o, row, col] = z[o, best[0], best[1]]
    return out, mask


def input_gradient_sums(W, delta, in_shape, padding: int):
    """Scatter every output error back to the inputs its taps read."""
    _, channels, kernel, _ = W.shape
    e = np.zeros(in_shape, dtype=np.result_type(W, delta))
    out_channels, rows, cols = delta.shape
    for o in range(out_channels):
        for y in range(rows):
            for x in range(cols):
                for c in range(channels):
                    for ky in range(kernel):
                        for kx in range(kernel):
                            i, j = y + ky - padding, x + kx - padding
                            if 0 <= i < in_shape[1] and 0 <= j < in_shape[2]:
                                e[c, i, j] += W[o, c, ky, kx] * delta[o, y, x]
    return e


def weight_gradient_sums(delta, a, kernel: int, padding: int):
    """Σ over output positions of δ[o, y, x] · a[c, y + ky − P, x + kx − P]."""
    out_channels, rows, cols = delta.shape
    channels, height, width = a.shape
    grad = np.zeros((out_channels, channels, kernel, kernel), dtype=np.result_type(delta, a))
    for o in range(out_channels):
        for c in range(channels):
            for ky in range(kernel):
                for kx in range(kernel):
                    for y in range(rows):
                        for x in range(cols):
                            i, j = y + ky - padding, x + kx - padding
                            if 0 <= i < height and 0 <= j < width:
                                grad[o, c, ky, kx] += delta[o, y, x] * a[c, i, j]
    return grad


def backprop(network, weights, x, target):
    """Float forward and backward of one sample: (a_L, dL/dW per layer) for L = ½‖a_L − t‖²."""
    acts, masks = [np.asarray(x, dtype=np.float64)], []
    for layer, W in zip(network.layers, weights):
        last = layer.index == network.depth
        if layer.kind == "conv":
            a, mask = relu_max_pool(conv_sums(W, acts[-1], layer.padding), layer.pool)
        else:
            z = W @ acts[-1].reshape(-1)
            a, mask = (z, None) if last else (np.maximum(z, 0.0), z > 0)
        acts.append(a)
        masks.append(mask)
    delta = acts[-1] - target
    grads = [None] * network.depth
    for layer, W in reversed(list(zip(network.layers, weights))):
        below = acts[layer.index - 1]
        if layer.kind == "conv":
            grads[layer.index - 1] = weight_gradient_sums(delta, below, layer.kernel, layer.padding)
            e = input_gradient_sums(W, delta, below.shape, layer.padding)
        else:
            grads[layer.index - 1] = np.outer(delta, below.reshape(-1))
            e = (W.T @ delta).reshape(below.shape)
        if layer.index == 1:
            break
        previous, mask = network.layers[layer.index - 2], masks[layer.index - 2]
        if previous.kind == "conv":
            pool = previous.pool
            delta = np.zeros(mask.shape)
            for o, y, xx in zip(*np.nonzero(mask)):
                delta[o, y, xx] = e[o, y // pool, xx // pool]
        else:
            delta = np.where(mask, e, 0.0)
    return acts[-1], grads
