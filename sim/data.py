"""The default workload: scikit-learn's digits (1,797 images of 8×8, shipped with the package).

One fixed split, drawn once from a seeded permutation (numpy's PCG64 stream is stable
across versions): 1,437 training and 360 test images. Scaling (docs/numerics.md):

* input pixel p ∈ 0..16 → real p/16 ∈ [0, 1]; fixed point p << (frac_bits − 4), the
  same value exactly (16 saturates to the largest word only when frac_bits = data_bits − 1);
* target: one-hot, 1.0 for the label's output (fmt.one in fixed point), 0 elsewhere.

A network takes the 64 pixels flat (``input = 64``) or as one 8×8 channel (``input =
[1, 8, 8]``, conv layers first); :meth:`Split.inputs` gives them in its shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.core.numerics import FixedFormat

__all__ = ["INPUTS", "CLASSES", "TEST_SIZE", "SPLIT_SEED", "Split", "Digits", "load_digits", "check_numerics",
           "scale_pixels", "one_hot"]

INPUTS = 64  # 8×8 pixels
IMAGE = (1, 8, 8)  # the same pixels as [channels, height, width], row-major
CLASSES = 10
PIXEL_MAX = 16  # pixel values are 0..16: 4 fractional bits make them p/16 exactly
TEST_SIZE = 360
SPLIT_SEED = 0


def scale_pixels(pixels, numerics: str, fmt: FixedFormat | None = None) -> np.ndarray:
    """Pixels 0..16 as network inputs: floats p/16, or data words p << (frac_bits − 4)."""
    pixels = np.asarray(pixels, dtype=np.int64)
    if numerics == "float":
        return pixels / PIXEL_MAX
    fmt = fmt or FixedFormat()
    if fmt.frac_bits >= 4:
        return fmt.saturate(pixels << (fmt.frac_bits - 4))
    return fmt.quantize(pixels / PIXEL_MAX)  # fewer than 4 fractional bits: round half up


def one_hot(labels, numerics: str, fmt: FixedFormat | None = None, classes: int = CLASSES) -> np.ndarray:
    """Targets: 1.0 (fmt.one) at the label, 0 elsewhere."""
    labels = np.asarray(labels)
    hot = np.zeros((len(labels), classes), dtype=np.int64)
    hot[np.arange(len(labels)), labels] = 1
    if numerics == "float":
        return hot.astype(np.float64)
    fmt = fmt or FixedFormat()
    return fmt.saturate(hot * fmt.one)


@dataclass(frozen=True)
class Split:
    pixels: np.ndarray  # (n, 64) ints 0..16
    labels: np.ndarray  # (n,) ints 0..9

    def __len__(self) -> int:
        return len(self.labels)

    def inputs(self, numerics: str, fmt: FixedFormat | None = None, network=None) -> np.ndarray:
        """(n, 64), or (n, 1, 8, 8) for a ``network`` whose input is an image."""
        shape = network.input_shape if isinstance(network, Network) else (INPUTS,)
        return scale_pixels(self.pixels, check_numerics(numerics), fmt).reshape((len(self),) + shape)

    def targets(self, numerics: str, fmt: FixedFormat | None = None) -> np.ndarray:
        return one_hot(self.labels, check_numerics(numerics), fmt)


@dataclass(frozen=True)
class Digits:
    train: Split
    test: Split


def check_numerics(numerics: str) -> str:
    """``numerics`` if it is float or fixed, else a one-line error."""
    if numerics not in ("float", "fixed"):
        raise LayerPipeError(f"numerics '{numerics}' is unknown; use float or fixed")
    return numerics


@lru_cache(maxsize=4)
def load_digits(seed: int = SPLIT_SEED, test_size: int = TEST_SIZE) -> Digits:
    """The digits split: ``test_size`` test images, the rest for training, chosen by ``seed``."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    pixels, labels = bunch.data.astype(np.int64), bunch.target.astype(np.int64)
    if not 0 < test_size < len(labels):
        raise LayerPipeError(f"test_size is {test_size}; use 1..{len(labels) - 1}")
    order = np.random.default_rng(seed).permutation(len(labels))
    test, train = order[:test_size], order[test_size:]
    return Digits(_frozen_split(pixels[train], labels[train]), _frozen_split(pixels[test], labels[test]))


def _frozen_split(pixels: np.ndarray, labels: np.ndarray) -> Split:
    for part in (pixels, labels):
        part.flags.writeable = False  # shared by load_digits' cache: nobody may edit them in place
    return Split(pixels, labels)
