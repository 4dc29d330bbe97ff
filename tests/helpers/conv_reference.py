"""An independent reference for networks of conv and fc layers: plain loops, scatter-form backward.

Written from the definitions in docs/semantics.md ("Convolution layers"), not from
layerpipe.sim.conv: bounds checks instead of padded arrays, the input gradient
scattered from each output position instead of gathered, max- and average pooling by
scanning each window. Works on float64 or on integers (exact sums, for the fixed-point checks).
"""

from __future__ import annotations

import itertools

import numpy as np


def taps(weight_shape, in_shape, padding: int):
    """Every (o, c, ky, kx, y, x, i, j): output (o, y, x) reads input (c, i, j) through weight
    (o, c, ky, kx), for the taps inside the image (padding reads zeros, so it adds nothing)."""
    out_channels, channels, kernel, _ = weight_shape
    _, height, width = in_shape
    rows, cols = height + 2 * padding - kernel + 1, width + 2 * padding - kernel + 1
    for o, c, ky, kx, y, x in itertools.product(range(out_channels), range(channels), range(kernel),
                                                range(kernel), range(rows), range(cols)):
        i, j = y + ky - padding, x + kx - padding
        if 0 <= i < height and 0 <= j < width:
            yield o, c, ky, kx, y, x, i, j


def conv_sums(W, a, padding: int):
    """z[o, y, x] = Σ W[o, c, ky, kx] · a[c, y + ky − P, x + kx − P] over the taps inside the image."""
    kernel = W.shape[2]
    z = np.zeros((W.shape[0], a.shape[1] + 2 * padding - kernel + 1, a.shape[2] + 2 * padding - kernel + 1),
                 dtype=np.result_type(W, a))
    for o, c, ky, kx, y, x, i, j in taps(W.shape, a.shape, padding):
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


def relu_average_pool(z, pool: int):
    """The mean of ReLU(z) over each non-overlapping window (exact: a float division), and the mask:
    z > 0 at every position of a whole window."""
    channels, height, width = z.shape
    out = np.zeros((channels, height // pool, width // pool))
    mask = np.zeros(z.shape, dtype=bool)
    for o in range(channels):
        for row in range(height // pool):
            for col in range(width // pool):
                total = 0.0
                for dy in range(pool):
                    for dx in range(pool):
                        value = z[o, row * pool + dy, col * pool + dx]
                        if value > 0:
                            total += value
                            mask[o, row * pool + dy, col * pool + dx] = True
                out[o, row, col] = total / (pool * pool)
    return out, mask


def input_gradient_sums(W, delta, in_shape, padding: int):
    """Scatter every output error back to the inputs its taps read."""
    e = np.zeros(in_shape, dtype=np.result_type(W, delta))
    for o, c, ky, kx, y, x, i, j in taps(W.shape, in_shape, padding):
        e[c, i, j] += W[o, c, ky, kx] * delta[o, y, x]
    return e


def weight_gradient_sums(delta, a, kernel: int, padding: int):
    """Σ over output positions of δ[o, y, x] · a[c, y + ky − P, x + kx − P]."""
    grad = np.zeros((delta.shape[0], a.shape[0], kernel, kernel), dtype=np.result_type(delta, a))
    for o, c, ky, kx, y, x, i, j in taps(grad.shape, a.shape, padding):
        grad[o, c, ky, kx] += delta[o, y, x] * a[c, i, j]
    return grad


def backprop(network, weights, x, target, biases=None):
    """Float forward and backward of one sample: (a_L, dL/dW per layer, dL/db per layer) for
    L = ½‖a_L − t‖²; ``biases`` one per layer (None: no bias), dL/db None where there is none."""
    biases = biases or [None] * network.depth
    acts, masks = [np.asarray(x, dtype=np.float64)], []
    for layer, W, b in zip(network.layers, weights, biases):
        last = layer.index == network.depth
        if layer.kind == "conv":
            z = conv_sums(W, acts[-1], layer.padding)
            if b is not None:
                for o in range(z.shape[0]):
                    z[o] += b[o]  # every output position of channel o
            a, mask = (relu_average_pool if layer.pool_mode == "average" else relu_max_pool)(z, layer.pool)
        else:
            z = W @ acts[-1].reshape(-1)
            if b is not None:
                z = z + b
            a, mask = (z, None) if last else (np.maximum(z, 0.0), z > 0)
        acts.append(a)
        masks.append(mask)
    delta = acts[-1] - target
    grads, bias_grads = [None] * network.depth, [None] * network.depth
    for layer, W in reversed(list(zip(network.layers, weights))):
        below = acts[layer.index - 1]
        if biases[layer.index - 1] is not None:  # dz/db = 1 at every output of the neuron or channel
            bias_grads[layer.index - 1] = np.array([np.sum(delta[o]) for o in range(len(delta))])
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
            share = pool * pool if previous.pool_mode == "average" else 1  # d mean / dz = 1 / p² on each position
            delta = np.zeros(mask.shape)
            for o, y, xx in zip(*np.nonzero(mask)):
                delta[o, y, xx] = e[o, y // pool, xx // pool] / share
        else:
            delta = np.where(mask, e, 0.0)
    return acts[-1], grads, bias_grads
