"""Fixed-point kernels, bit for bit against apytypes (an independent fixed-point library).

apytypes 0.5's ``QuantizationMode.RND`` is round to nearest, ties toward +inf: the round
half up of docs/numerics.md. ``OverflowMode.SAT`` clamps to the format's range. A cast
quantises first, then handles overflow: our round-then-saturate order.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from apytypes import APyFixedArray, OverflowMode, QuantizationMode

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.numerics import FixedFormat, round_shift
from layerpipe.sim import fixed

FMT = FixedFormat()
INT_BITS = FMT.data_bits - FMT.frac_bits
COUNT = 100_000  # random values per primitive


def random_words(rng, shape, fmt=FMT):
    """Uniform data words, with the two extremes and zero planted at the front."""
    words = rng.integers(fmt.data_min, fmt.data_max + 1, size=shape, dtype=np.int64)
    flat = words.reshape(-1)
    flat[:3] = [fmt.data_min, fmt.data_max, 0]
    return words


def apy(words, frac_bits=FMT.frac_bits, bits=FMT.data_bits) -> APyFixedArray:
    """Integers (signed, numpy) as an apytypes array with the given binary point."""
    return APyFixedArray(np.asarray(words, dtype=np.int64), bits=bits, frac_bits=frac_bits)


def ints(array: APyFixedArray, frac_bits: int) -> np.ndarray:
    """An apytypes array back to signed integers at binary point ``frac_bits``."""
    assert array.frac_bits == frac_bits
    width = array.bits
    assert width <= 62
    pattern = np.asarray(array.to_bits(numpy=True), dtype=np.uint64).astype(np.int64)
    return np.where(pattern >= 1 << (width - 1), pattern - (1 << width), pattern)


RND, SAT, WRAP = QuantizationMode.RND, OverflowMode.SAT, OverflowMode.WRAP


def to_word(array: APyFixedArray, fmt=FMT) -> APyFixedArray:
    """apytypes' version of FixedFormat.to_data / saturate: round half up, then saturate."""
    return array.cast(int_bits=fmt.data_bits - fmt.frac_bits, frac_bits=fmt.frac_bits, quantization=RND,
                      overflow=SAT)


# -- the conversion helpers themselves ---------------------------------------------------------

def test_words_round_trip_through_apytypes():
    rng = np.random.default_rng(0)
    words = random_words(rng, COUNT)
    converted = apy(words)
    assert np.array_equal(ints(converted, FMT.frac_bits), words)
    assert np.array_equal(converted.to_numpy(), words / FMT.one)  # the value apytypes sees


# -- primitives ---------------------------------------------------------------------------------

def test_multiply_is_exact():
    rng = np.random.default_rng(1)
    a, b = random_words(rng, COUNT), random_words(rng, COUNT)
    a[:4], b[:4] = [FMT.data_min, FMT.data_min, FMT.data_max, FMT.data_min], [FMT.data_min, FMT.data_max] * 2
    product = apy(a) * apy(b)
    assert product.frac_bits == 2 * FMT.frac_bits and product.bits == 2 * FMT.data_bits
    assert np.array_equal(ints(product, 2 * FMT.frac_bits), a * b)


def test_accumulate_is_exact_and_fits_the_accumulator():
    rng = np.random.default_rng(2)
    fan_in = 64  # mlp-digits' widest layer
    weights, inputs = random_words(rng, (32, fan_in)), random_words(rng, (fan_in, 3200))  # 102,400 sums
    weights[0], inputs[:, 0] = FMT.data_min, FMT.data_min  # the largest magnitude a sum can reach
    expected = apy(weights) @ apy(inputs)
    assert expected.bits == 2 * FMT.data_bits + math.ceil(math.log2(fan_in)) <= FMT.acc_bits
    ours = weights @ inputs
    assert ours[0, 0] == fan_in * FMT.data_min ** 2
    assert np.array_equal(ints(expected, 2 * FMT.frac_bits), ours)


def test_round_half_up_is_apytypes_rnd_and_no_other_mode():
    rng = np.random.default_rng(3)
    shift = FMT.frac_bits
    wide = rng.integers(-(1 << 31), 1 << 31, size=COUNT, dtype=np.int64)
    ties = (rng.integers(-(1 << 19), 1 << 19, size=COUNT // 10) << shift) + (1 << (shift - 1))
    values = np.concatenate([wide, ties, ties - 1, ties + 1])
    source = apy(values, frac_bits=2 * shift, bits=40)
    expected = source.cast(int_bits=40 - 2 * shift + 1, frac_bits=shift, quantization=RND, overflow=WRAP)
    assert np.array_equal(ints(expected, shift), round_shift(values, shift))
    # the ties tell the modes apart: each of these disagrees with round half up somewhere
    for other in (QuantizationMode.RND_INF, QuantizationMode.RND_CONV, QuantizationMode.RND_MIN_INF,
                  QuantizationMode.TRN, QuantizationMode.TRN_INF):
        rounded = source.cast(int_bits=40 - 2 * shift + 1, frac_bits=shift, quantization=other, overflow=WRAP)
        assert not np.array_equal(ints(rounded, shift), round_shift(values, shift)), other


def test_round_half_up_by_hand():
    lsb = 1 << FMT.frac_bits  # one output LSB at binary point 2·frac_bits
    cases = {lsb // 2: 1, -lsb // 2: 0, 3 * lsb // 2: 2, -3 * lsb // 2: -1, lsb // 2 - 1: 0, -lsb // 2 - 1: -1}
    for value, rounded in cases.items():
        assert round_shift(value, FMT.frac_bits) == rounded
        assert round_shift(np.array([value]), FMT.frac_bits)[0] == rounded


def test_saturate_matches_apytypes_sat():
    rng = np.random.default_rng(4)
    values = rng.integers(-(1 << 20), 1 << 20, size=COUNT, dtype=np.int64)  # 21-bit words, same binary point
    expected = apy(values, bits=21).cast(int_bits=INT_BITS, frac_bits=FMT.frac_bits, overflow=SAT)
    ours = FMT.saturate(values)
    assert np.array_equal(ints(expected, FMT.frac_bits), ours)
    assert (ours == FMT.data_max).any() and (ours == FMT.data_min).any()  # saturation did happen


def test_to_data_rounds_then_saturates_like_apytypes():
    rng = np.random.default_rng(5)
    products = random_words(rng, COUNT) * random_words(rng, COUNT) * rng.integers(1, 65, size=COUNT)
    expected = to_word(apy(products, frac_bits=2 * FMT.frac_bits, bits=FMT.acc_bits))
    ours = FMT.to_data(products)
    assert np.array_equal(ints(expected, FMT.frac_bits), ours)
    assert (np.abs(ours) == FMT.data_max).any()


@pytest.mark.parametrize("lr_shift", [0, 3, 6, 9])
def test_weight_step_is_a_shift_with_one_rounding(lr_shift):
    fmt = FixedFormat(lr_shift=lr_shift)
    rng = np.random.default_rng(6 + lr_shift)
    delta, act = random_words(rng, COUNT), random_words(rng, COUNT)
    shifted = (apy(delta) * apy(act)) >> lr_shift  # exact: moves the binary point
    expected = shifted.cast(int_bits=2 * INT_BITS + 1, frac_bits=fmt.frac_bits, quantization=RND, overflow=WRAP)
    assert np.array_equal(ints(expected, fmt.frac_bits), fmt.weight_step(delta * act))


# -- the task kernels ------------------------------------------------------------------------

def test_forward_kernel_against_apytypes():
    rng = np.random.default_rng(7)
    weights, acts = random_words(rng, (32, 64)) // 8, random_words(rng, (64, 3200)) // 8
    z = ints(to_word(apy(weights) @ apy(acts)), FMT.frac_bits)
    hidden, mask = fixed.forward(weights, acts, FMT, hidden=True)
    assert mask.dtype == bool and np.array_equal(mask, z > 0)
    assert np.array_equal(hidden, np.maximum(z, 0))
    output, none = fixed.forward(weights, acts, FMT, hidden=False)
    assert none is None and np.array_equal(output, z)
    assert (z > 0).any() and (z < 0).any() and (np.abs(z) == FMT.data_max).any()  # ReLU and saturation exercised


def test_backward_kernel_against_apytypes():
    rng = np.random.default_rng(8)
    weights, deltas = random_words(rng, (32, 64)), random_words(rng, (32, 3200)) // 4
    expected = ints(to_word(apy(weights).T @ apy(deltas)), FMT.frac_bits)
    assert np.array_equal(fixed.backward(weights, deltas, FMT), expected)


def test_update_kernel_against_apytypes():
    rng = np.random.default_rng(9)
    fmt = FixedFormat(lr_shift=2)  # large steps, so that W − step saturates somewhere
    weights, delta, act = random_words(rng, (100, 1000)), random_words(rng, 100), random_words(rng, 1000)
    step = (apy(delta).outer(apy(act)) >> fmt.lr_shift).cast(int_bits=2 * INT_BITS + 1, frac_bits=fmt.frac_bits,
                                                                quantization=RND, overflow=WRAP)
    expected = ints(to_word(apy(weights) - step, fmt), fmt.frac_bits)
    ours = fixed.update(weights, delta, act, fmt)
    assert np.array_equal(ours, expected)
    unsaturated = weights - fmt.weight_step(np.outer(delta, act))
    assert (unsaturated != ours).any()  # saturation exercised


def test_output_delta_saturates_and_squared_error_does_not():
    rng = np.random.default_rng(10)
    out, target = random_words(rng, COUNT), random_words(rng, COUNT)
    expected = ints(to_word(apy(out) - apy(target)), FMT.frac_bits)
    assert np.array_equal(fixed.output_delta(out, target, FMT), expected)
    a, t = np.array([FMT.data_max, 5]), np.array([FMT.data_min, 2])
    assert fixed.squared_error(a, t) == (FMT.data_max - FMT.data_min) ** 2 + 9
    assert fixed.output_delta(a, t, FMT)[0] == FMT.data_max
    assert isinstance(fixed.squared_error(a, t), int)


def test_mask_error_keeps_only_active_units():
    e = np.array([5, -3, 7, 0])
    mask = np.array([True, False, True, False])
    assert fixed.mask_error(e, mask).tolist() == [5, 0, 7, 0]


def test_relu_mask_is_strict():
    weights = np.array([[FMT.one], [-FMT.one], [0]])
    out, mask = fixed.forward(weights, np.array([FMT.one]), FMT, hidden=True)
    assert mask.tolist() == [True, False, False] and out.tolist() == [FMT.one, 0, 0]


def test_kernels_refuse_a_fan_in_the_accumulator_cannot_hold():
    narrow = FixedFormat(acc_bits=34)  # 2·16 + log2(64) = 38 bits needed
    with pytest.raises(LayerPipeError, match="acc_bits") as error:
        fixed.forward(np.zeros((2, 64), dtype=np.int64), np.zeros(64, dtype=np.int64), narrow, hidden=True)
    assert "\n" not in str(error.value)
    with pytest.raises(LayerPipeError, match="acc_bits"):
        fixed.backward(np.zeros((64, 2), dtype=np.int64), np.zeros(64, dtype=np.int64), narrow)
