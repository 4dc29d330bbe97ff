"""The network's arrays in the RTL's memory rows, for the layouts of core/conv_dataflow.py.

Weights of a conv layer (O, C, K, K) become bank rows ``((c·K + ky)·K + kx)·O_c + oc`` of
``lanes`` output channels; a volume (C, H, W) becomes the rows of its
:class:`~layerpipe.core.conv_dataflow.VolumeLayout`; a pre-pool mask (O, H', W') becomes
one ``pool²``-bit element per pooled output (bit dy·pool + dx); an fc layer's weights after
a conv layer take the channel-chunked column order (:func:`~layerpipe.core.conv_dataflow.fc_columns`); a
bias becomes the rows of its layer's bias store (:func:`bias_store_rows`).
Each conversion has its inverse, for weight read-back and the benches' checks; padding
lanes are zero one way and ignored the other.
"""

from __future__ import annotations

import math

import numpy as np

from layerpipe.core.conv_dataflow import VolumeLayout, fc_columns, fc_input_chunks
from layerpipe.hw.lanes import pack_lanes

__all__ = ["conv_bank_rows", "conv_bank_weights", "volume_rows", "rows_volume", "mask_rows", "rows_mask",
           "fc_bank_columns", "fc_bank_weights", "weight_shape", "layer_bank_rows", "layer_weights", "layer_bias",
           "layer_bank_depth", "bias_store_shape", "bias_store_rows", "layer_readback_rows", "layer_bank_words"]


def conv_bank_rows(weights, lanes: int) -> np.ndarray:
    """W[o, c, ky, kx] → (C·K·K·O_c, lanes): row ((c·K + ky)·K + kx)·O_c + oc holds W[oc·lanes + k, c, ky, kx]."""
    weights = np.asarray(weights, dtype=np.int64)
    out_channels = weights.shape[0]
    chunks = math.ceil(out_channels / lanes)
    padded = np.zeros((chunks * lanes,) + weights.shape[1:], dtype=np.int64)
    padded[:out_channels] = weights
    # (O_c, lanes, C, K, K) → (C, K, K, O_c, lanes)
    return np.moveaxis(padded.reshape((chunks, lanes) + weights.shape[1:]), (0, 1), (3, 4)).reshape(-1, lanes)


def conv_bank_weights(rows, shape: tuple[int, int, int, int]) -> np.ndarray:
    """The inverse of :func:`conv_bank_rows` for weights of ``shape`` (O, C, K, K)."""
    out_channels, channels, kernel, _ = shape
    rows = np.asarray(rows, dtype=np.int64)
    lanes = rows.shape[1]
    chunks = math.ceil(out_channels / lanes)
    stacked = np.moveaxis(rows.reshape(channels, kernel, kernel, chunks, lanes), (3, 4), (0, 1))
    return stacked.reshape((chunks * lanes, channels, kernel, kernel))[:out_channels]


def _element_grid(layout: VolumeLayout) -> np.ndarray:
    c, y, x = np.meshgrid(np.arange(layout.channels), np.arange(layout.height), np.arange(layout.width),
                          indexing="ij")
    s_c, s_y, s_x = layout.strides()
    return c * s_c + y * s_y + x * s_x


def volume_rows(volume, layout: VolumeLayout) -> np.ndarray:
    """A (C, H, W) volume as ``layout.rows`` rows of ``lanes`` elements (padding zero)."""
    flat = np.zeros(layout.rows * layout.lanes, dtype=np.int64)
    flat[_element_grid(layout)] = np.asarray(volume, dtype=np.int64)
    return flat.reshape(layout.rows, layout.lanes)


def rows_volume(rows, layout: VolumeLayout) -> np.ndarray:
    """The inverse of :func:`volume_rows`."""
    return np.asarray(rows, dtype=np.int64).reshape(-1)[_element_grid(layout)]


def mask_rows(mask, pool: int, layout: VolumeLayout) -> np.ndarray:
    """A pre-pool mask (O, H', W') as the rows of the pooled ``layout``: one pool²-bit element each."""
    mask = np.asarray(mask, dtype=np.int64)
    channels, height, width = layout.channels, layout.height, layout.width
    windows = mask[:, :height * pool, :width * pool].reshape(channels, height, pool, width, pool)
    weights = (1 << np.arange(pool * pool)).reshape(pool, pool)
    packed = np.einsum("oyaxb,ab->oyx", windows, weights)
    return volume_rows(packed, layout)


def rows_mask(rows, pool: int, layout: VolumeLayout, shape: tuple[int, int, int]) -> np.ndarray:
    """The inverse of :func:`mask_rows`: the pre-pool mask of ``shape`` (O, H', W'), 0 past the last window."""
    packed = rows_volume(rows, layout)
    bits = (packed[..., None] >> np.arange(pool * pool)) & 1
    channels, height, width = layout.channels, layout.height, layout.width
    windows = bits.reshape(channels, height, width, pool, pool).transpose(0, 1, 3, 2, 4)
    mask = np.zeros(shape, dtype=np.int64)
    mask[:, :height * pool, :width * pool] = windows.reshape(channels, height * pool, width * pool)
    return mask


def fc_bank_columns(weights, layer, lanes: int) -> np.ndarray:
    """An fc layer's weights (out, in) in the bank's column order (padding columns zero): (out, columns)."""
    weights = np.asarray(weights, dtype=np.int64)
    columns = fc_columns(layer, lanes)
    laid = np.zeros((weights.shape[0], len(columns)), dtype=np.int64)
    used = [h for h, feature in enumerate(columns) if feature is not None]
    laid[:, used] = weights[:, [columns[h] for h in used]]
    return laid


def fc_bank_weights(laid, layer, lanes: int) -> np.ndarray:
    """The inverse of :func:`fc_bank_columns`."""
    laid = np.asarray(laid, dtype=np.int64)
    columns = fc_columns(layer, lanes)
    weights = np.zeros((laid.shape[0], layer.in_size), dtype=np.int64)
    for h, feature in enumerate(columns):
        if feature is not None:
            weights[:, feature] = laid[:, h]
    return weights


def weight_shape(layer) -> tuple[int, ...]:
    """The shape of a layer's weights in the network's terms: (O, C, K, K) for conv, (N_out, N_in) for fc."""
    if layer.kind == "conv":
        return (layer.out_shape[0], layer.in_shape[0], layer.kernel, layer.kernel)
    return (layer.out_size, layer.in_size)


def layer_bank_depth(layer, lanes: int) -> int:
    """Rows of a layer's weight bank: C·K²·O_c for conv; N_out · (its input's chunks) for fc."""
    if layer.kind == "conv":
        return layer.in_shape[0] * layer.kernel * layer.kernel * math.ceil(layer.out_shape[0] / lanes)
    return layer.out_size * fc_input_chunks(layer, lanes)


def bias_store_shape(layer, lanes: int) -> tuple[int, int]:
    """(rows, words per row) of a layer's bias store, (0, 0) without a bias: a conv layer's O_c rows of
    ``lanes`` output channels (F starts a row of column sums, G steps a row per run); an fc layer's one
    word per output (F starts row j's sum with b[j], G steps it with the row's first chunk)."""
    if not layer.bias:
        return 0, 0
    if layer.kind == "conv":
        return math.ceil(layer.out_shape[0] / lanes), lanes
    return layer.out_size, 1


def bias_store_rows(layer, bias, lanes: int) -> np.ndarray:
    """A layer's bias (O,) as its bias store's rows (:func:`bias_store_shape`; padding zero, and zero for None)."""
    rows, words = bias_store_shape(layer, lanes)
    padded = np.zeros(rows * words, dtype=np.int64)
    if bias is not None:
        padded[:layer.out_shape[0]] = np.asarray(bias, dtype=np.int64)
    return padded.reshape(rows, words)


def layer_readback_rows(layer, lanes: int) -> int:
    """Rows the weight read-back gives for a layer: its bank's, then its bias store's."""
    return layer_bank_depth(layer, lanes) + bias_store_shape(layer, lanes)[0]


def layer_bank_rows(layer, weights, lanes: int, bias=None) -> np.ndarray:
    """A layer's weights (:func:`weight_shape`) and bias as the read-back's rows (:func:`layer_readback_rows`,
    lanes): its bank's rows, then its bias store's, each in the low lanes of a row."""
    bank = conv_bank_rows(weights, lanes) if layer.kind == "conv" else \
        fc_bank_columns(weights, layer, lanes).reshape(-1, lanes)
    store = bias_store_rows(layer, bias, lanes)
    return np.concatenate([bank, np.pad(store, [(0, 0), (0, lanes - store.shape[1])])]) if layer.bias else bank


def layer_weights(layer, rows, lanes: int) -> np.ndarray:
    """The weights of :func:`layer_bank_rows`' rows."""
    bank = np.asarray(rows, dtype=np.int64)[:layer_bank_depth(layer, lanes)]
    if layer.kind == "conv":
        return conv_bank_weights(bank, weight_shape(layer))
    return fc_bank_weights(bank.reshape(layer.out_size, -1), layer, lanes)


def layer_bias(layer, rows, lanes: int) -> np.ndarray | None:
    """The bias of :func:`layer_bank_rows`' rows (None for a layer without one)."""
    if not layer.bias:
        return None
    words = bias_store_shape(layer, lanes)[1]
    store = np.asarray(rows, dtype=np.int64)[layer_bank_depth(layer, lanes):, :words]
    return store.reshape(-1)[:layer.out_shape[0]].copy()


def layer_bank_words(layer, weights, fmt, lanes: int, bias=None) -> list[int]:
    """A layer's bank rows as packed words (hw/lanes.py), as the weight read-back returns them."""
    return [pack_lanes(row, fmt.data_bits) for row in layer_bank_rows(layer, weights, lanes, bias)]
