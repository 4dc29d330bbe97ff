"""Cost model: one config object for every cycle the scheduler, simulator and RTL count.

A processing element has ``lanes`` multipliers and issues one ``lanes``-word weight row
chunk per cycle (docs/hardware.md). Each task takes the issues of its kind's dataflow
(core/layer_kinds.py: ``N_out · ceil(N_in / lanes)`` for each of F, B and G of a fully
connected layer with N_out rows and N_in columns; for a convolution the loop nests of
core/conv_dataflow.py, where B differs from F and G), plus ``task_overhead_cycles`` for the
pipeline fill (memory read, multiply, adder tree, write-back).

The σ' product (ReLU mask) is applied to the incoming error as it streams into the
consumer of δ (B and G of the previous layer, docs/semantics.md); a mask is a select, not a
multiply, so it adds no cycles.

Data crossing processors takes ``link_latency_cycles + ceil(words / link_width_words)``
cycles after the producing task ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

from layerpipe.core.config import ConfigRecord
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import LAYER_KINDS
from layerpipe.core.network import Layer

__all__ = ["MEMORY_MODELS", "CostModel"]

MEMORY_MODELS = ("dual-port", "ideal")


@dataclass(frozen=True)
class CostModel(ConfigRecord):
    title: ClassVar[str] = "cost model"

    lanes: int = 8
    task_overhead_cycles: int = 4
    link_latency_cycles: int = 2
    link_width_words: int = 8
    word_bits: int = 16
    memory: str = "dual-port"

    def __post_init__(self):
        self.require_ints(("lanes", "link_width_words", "word_bits"), 1)
        self.require_ints(("task_overhead_cycles", "link_latency_cycles"), 0)
        if self.memory not in MEMORY_MODELS:
            raise LayerPipeError(f"cost model: unknown memory model {self.memory!r}; "
                                 f"use one of {', '.join(MEMORY_MODELS)}")

    def stream_cycles(self, layer: Layer, kind: str) -> int:
        """Issue cycles of task ``kind`` (F, B or G) of ``layer`` (no overhead)."""
        return LAYER_KINDS[layer.kind].stream_cycles(layer, kind, self.lanes)

    def task_cycles(self, layer: Layer, kind: str) -> int:
        """Cycles of task ``kind`` of ``layer``: its dataflow's issues and the pipeline's overhead."""
        return self.stream_cycles(layer, kind) + self.task_overhead_cycles

    def cycles(self, network, task) -> int:
        """Cycles of ``task`` (a core.tasks.Task) of ``network``."""
        return self.task_cycles(network.layer(task.layer), task.kind)

    def transfer_cycles(self, words: int) -> int:
        return self.link_latency_cycles + math.ceil(words / self.link_width_words)

    def describe(self) -> str:
        return (f"lanes={self.lanes} overhead={self.task_overhead_cycles} cyc "
                f"link={self.link_latency_cycles} cyc + words/{self.link_width_words} "
                f"word={self.word_bits} b memory={self.memory}")
