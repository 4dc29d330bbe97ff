"""Lane packing: zero padding to whole rows, and element k at bits [k·bits, (k+1)·bits), two's complement."""

import numpy as np

from layerpipe.hw.lanes import pack_lanes, pad_lanes


def test_pad_lanes_fills_the_last_row_of_a_vector_or_of_each_matrix_row_with_zeros():
    assert pad_lanes([1, -2, 3], 2).tolist() == [1, -2, 3, 0]
    assert pad_lanes([[1, 2, 3], [4, 5, 6]], 4).tolist() == [[1, 2, 3, 0], [4, 5, 6, 0]]
    assert pad_lanes([[1, 2], [3, 4]], 2).tolist() == [[1, 2], [3, 4]]
    assert pad_lanes(np.zeros((3, 0)), 4).shape == (3, 0)
    assert pad_lanes([7], 3).dtype == np.int64


def test_pack_lanes_puts_lane_zero_in_the_low_bits():
    assert pack_lanes([1, -1, 0, 0x7FFF], 16) == 0x7FFF_0000_FFFF_0001
    assert pack_lanes([1, 0, 1, 1], 1) == 0b1101
    assert pack_lanes(np.array([-4, 3]), 3) == 0b011_100
    assert pack_lanes([], 16) == 0
