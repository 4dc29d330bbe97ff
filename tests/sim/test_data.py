"""The digits workload: fixed split, scaling of inputs and targets, network checks."""

from __future__ import annotations

import numpy as np
import pytest

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import network_from_dict
from layerpipe.core.numerics import FixedFormat
from layerpipe.sched.zoo import zoo_network
from layerpipe.sim import data
from layerpipe.sim.datasets import load_data


def test_split_is_fixed_disjoint_and_complete():
    digits = data.load_digits()
    assert len(digits.train) == 1437 and len(digits.test) == 360
    assert digits.train.pixels.shape == (1437, 64)
    rows = {tuple(row) for row in np.vstack([digits.train.pixels, digits.test.pixels])}
    assert len(rows) > 1700  # (a few digits images are duplicates in the data set itself)
    assert set(np.unique(digits.test.labels)) == set(range(10))
    assert digits.train.pixels.min() == 0 and digits.train.pixels.max() == 16
    again = data.load_digits.__wrapped__()  # uncached: the split depends on the seed only
    assert np.array_equal(again.test.labels, digits.test.labels)
    assert np.array_equal(again.train.pixels, digits.train.pixels)
    other = data.load_digits.__wrapped__(seed=1)
    assert not np.array_equal(other.test.labels, digits.test.labels)


def test_cached_split_is_read_only():
    with pytest.raises(ValueError):
        data.load_digits().train.pixels[0, 0] = 3


def test_inputs_scale_pixels_to_the_unit_interval():
    split = data.load_digits().train
    fmt = FixedFormat()
    real, words = split.inputs("float"), split.inputs("fixed", fmt)
    assert real.dtype == np.float64 and real.min() == 0.0 and real.max() == 1.0
    assert words.dtype == np.int64 and np.array_equal(words, split.pixels << (fmt.frac_bits - 4))
    assert np.array_equal(words, fmt.quantize(real))  # the same value exactly
    assert words.max() == fmt.one


def test_scaling_with_few_fractional_bits_rounds_and_with_no_integer_bit_saturates():
    pixels = np.arange(17)
    coarse = FixedFormat(data_bits=8, frac_bits=2)
    assert data.scale_pixels(pixels, "fixed", coarse).tolist() == [int(np.floor(p / 4 + 0.5)) for p in pixels]
    full = FixedFormat(data_bits=8, frac_bits=7)  # 1.0 is not representable: 16/16 saturates
    assert data.scale_pixels(pixels, "fixed", full)[-1] == full.data_max


def test_targets_are_one_hot():
    split = data.load_digits().test
    fmt = FixedFormat()
    real, words = split.targets("float"), split.targets("fixed", fmt)
    assert np.array_equal(np.argmax(real, axis=1), split.labels) and np.all(real.sum(axis=1) == 1.0)
    assert np.array_equal(words, real.astype(np.int64) * fmt.one)


def one_line(error) -> str:
    message = str(error.value)
    assert "\n" not in message
    return message


def mlp(*sizes):
    return network_from_dict({"name": "small", "input": sizes[0],
                              "layers": [{"kind": "fc", "out": n} for n in sizes[1:]]})


def test_network_checks_name_the_fix():
    load_data("digits", zoo_network("mlp-digits"))
    load_data("digits", mlp(64, 10))
    with pytest.raises(LayerPipeError) as error:
        load_data("digits", mlp(16, 10))
    assert "'input' to 64" in one_line(error) and "small" in str(error.value)
    with pytest.raises(LayerPipeError) as error:
        load_data("digits", mlp(64, 32, 12))
    assert "'out' to 10" in one_line(error)
    with pytest.raises(LayerPipeError) as error:
        load_data("digits", zoo_network("lenet5"))
    assert "convolution" in one_line(error)


def test_unknown_numerics_is_refused():
    with pytest.raises(LayerPipeError) as error:
        data.load_digits().test.inputs("posit")
    assert "numerics 'posit'" in one_line(error)
    with pytest.raises(LayerPipeError):
        data.load_digits(test_size=0)
