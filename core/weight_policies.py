"""The weight policies: which version of W_l a sample's B_l reads, each defined once.

F_l(m) reads the bank as it is when F runs; B_l(m) runs later, after other samples' G_l
have updated the bank. A policy decides what B reads instead (docs/semantics.md):

* ``latest``: the bank as it is when B runs (no extra memory);
* ``stash``: the version F_l(m) read, kept until B_l(m) has read it (PipeDream's weight
  stashing; the table's ``weight_versions.stash`` counts the versions kept per layer);
* ``ema``: an exponential moving average of the bank's versions, extrapolated to F's
  version (one extra copy of W_l; float golden model only).

An entry names the models that implement it (:data:`~layerpipe.core.registry.MODELS`);
the table's ``weight_versions`` lists every policy in the order defined here.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from layerpipe.core.registry import Registry

__all__ = ["BackwardRead", "WeightPolicy", "WEIGHT_POLICIES"]


class BackwardRead(enum.Enum):
    BANK = "the bank as B finds it"
    FORWARD = "the version F read"
    AVERAGE = "a moving average of the bank's versions"


@dataclass(frozen=True)
class WeightPolicy:
    name: str
    reads: BackwardRead  # what B_l(m) reads
    # (layer, forward delay D_F, B's own delay under `latest`, periods from F_l(m)'s start to B_l(m)'s end)
    #   -> the versions of W_l kept beside the bank
    versions: Callable[[int, int, int, int], int]
    models: frozenset[str]


def _stashed(layer: int, forward: int, backward: int, span_periods: int) -> int:
    if layer == 1 or backward == forward:
        return 0  # B reads the bank while it still holds F's version
    return span_periods


WEIGHT_POLICIES: Registry[WeightPolicy] = Registry("weight policy", [
    WeightPolicy("latest", BackwardRead.BANK, lambda layer, forward, backward, span: 0,
                 frozenset({"float", "fixed", "functional", "rtl"})),
    WeightPolicy("stash", BackwardRead.FORWARD, _stashed, frozenset({"float", "fixed", "functional", "rtl"})),
    WeightPolicy("ema", BackwardRead.AVERAGE, lambda layer, forward, backward, span: int(layer > 1 and forward > 0),
                 frozenset({"float"})),
])
