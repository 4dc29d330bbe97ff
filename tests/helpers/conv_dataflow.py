"""An issue-by-issue model of a conv task as the RTL runs it: the loop nest of core/conv_dataflow.py
driving the MAC's three shapes over memory rows, in the FixedFormat's integers.

It knows nothing of sim/conv.py: the tests compare it with the golden model's kernels through the
layouts of hw/conv_layout.py, which proves the dataflow (the nests, the layouts, the pooling
write-back, the mask encoding) computes the golden model's F, B and G bit for bit, and it is the
reference the RTL's address generator and benches are checked against.
"""

from __future__ import annotations

import numpy as np

from layerpipe.core.conv_dataflow import conv_task_nest

__all__ = ["run_forward", "run_backward", "run_update"]


def _delta_row(nest, index, err_rows, mask_rows):
    """δ_pre's row at the issue: the pooled error where the mask element has the issue's bit set."""
    row = nest.address("delta_row", index)
    bit = nest.address("mask_bit", index)
    selected = (np.asarray(mask_rows[row]) >> bit) & 1
    return np.where(selected == 1, err_rows[row], 0)


def _input(nest, index, in_rows) -> int:
    """The input element of the issue, 0 where it lies in the zero padding."""
    if not nest.inside("in", index):
        return 0
    return int(in_rows[nest.address("in_row", index)][nest.address("in_lane", index)])


def run_forward(layer, lanes, source, bank, in_rows, fmt, out_rows_count):
    """F: returns (a_l rows, mask_l rows, stash rows or None)."""
    nest = conv_task_nest(layer, "F", lanes, source)
    out = np.zeros((out_rows_count, lanes), dtype=np.int64)
    mask = np.zeros((out_rows_count, lanes), dtype=np.int64)
    stash = np.zeros_like(bank)
    acc = best = arg = None
    for index in nest.points():
        weights = bank[nest.address("weight", index)]
        if nest.inside("stash", index):
            stash[nest.address("weight", index)] = weights
        acc = (0 if nest.first("c", index) else acc) + weights * _input(nest, index, in_rows)
        if not nest.last("c", index):
            continue
        z = fmt.to_data(acc)
        position = nest.address("pool_bit", index)  # dy·pool + dx: the window's first is 0, its last pool² − 1
        if position == 0:
            best, arg = z, np.zeros(lanes, dtype=np.int64)
        else:
            better = z > best  # strictly: ties keep the first position
            best, arg = np.where(better, z, best), np.where(better, position, arg)
        if position == layer.pool ** 2 - 1:
            row = nest.address("out_row", index)
            out[row] = np.maximum(best, 0)
            mask[row] = np.where(best > 0, 1 << arg, 0)
    return out, mask, stash


def run_backward(layer, lanes, source, bank, err_rows, mask_rows, fmt):
    """B: e_{l−1} in ``source``'s rows."""
    nest = conv_task_nest(layer, "B", lanes, source)
    out = np.zeros((source.rows, lanes), dtype=np.int64)
    acc = None
    for index in nest.points():
        delta = _delta_row(nest, index, err_rows, mask_rows) if nest.inside("delta", index) else np.zeros(lanes, int)
        acc = (0 if nest.first("ky", index) else acc) + int(np.dot(bank[nest.address("weight", index)], delta))
        if nest.last("ky", index):
            out[nest.address("out_row", index)][nest.address("out_lane", index)] = fmt.to_data(acc)
    return out


def run_update(layer, lanes, source, bank, in_rows, err_rows, mask_rows, fmt):
    """G: the updated bank rows."""
    nest = conv_task_nest(layer, "G", lanes, source)
    bank = np.array(bank, dtype=np.int64)
    acc = None
    for index in nest.points():
        acc = (0 if nest.first("Y", index) else acc) + _delta_row(nest, index, err_rows, mask_rows) * _input(
            nest, index, in_rows)
        if nest.last("Y", index):
            row = nest.address("weight", index)
            bank[row] = fmt.saturate(bank[row] - fmt.weight_step(acc))
    return bank
