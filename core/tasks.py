"""Task graph of one training sample: tasks, the data they exchange, their dependencies.

Per layer l (1-based): F_l (forward), B_l (activation gradient, matrix part; none for
layer 1) and G_l (weight gradient and update). The data items, their producers and
consumers (docs/semantics.md):

========  =====================  ===================  ==========================
item      producer               consumers            words
========  =====================  ===================  ==========================
a{l-1}    F_{l-1} (input if l=1)  F_l, G_l             N_{l-1}
mask{l}   F_l  (hidden layers)    B_l, G_l             ceil(mask bits / word_bits)
err{l}    B_{l+1} (F_L for l=L)   B_l, G_l             N_l
target    input                   F_L                  N_L
========  =====================  ===================  ==========================

``err{L}`` is δ_L = a_L − target, formed as F_L writes its outputs. For hidden l,
``err{l}`` is e_l = W_{l+1}ᵀ δ_{l+1}; its consumers apply ``mask{l}`` (σ' of ReLU) to
form δ_l. A mask has one bit per neuron (fc) or per pre-pool element (conv,
``pool²`` per output: core/conv_dataflow.py). Samples enter at F_1: the input stream delivers (input, target) to F_1's
processor, so ``input`` is produced there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from layerpipe.core.layer_kinds import LAYER_KINDS
from layerpipe.core.network import Network

__all__ = ["KINDS", "Task", "DataItem", "training_tasks", "data_items", "dependencies"]

KINDS = ("F", "B", "G")
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}


@dataclass(frozen=True)
class Task:
    kind: str
    layer: int

    @property
    def name(self) -> str:
        return f"{self.kind}{self.layer}"

    def sort_key(self) -> tuple[int, int]:
        return self.layer, _KIND_ORDER[self.kind]

    def __str__(self) -> str:
        return self.name


INPUT = None  # producer of the sample's input and target: the input stream at F_1


@dataclass(frozen=True)
class DataItem:
    name: str
    producer: Task | None  # INPUT for data that arrives with the sample
    consumers: tuple[Task, ...]
    words: int


def training_tasks(network: Network) -> list[Task]:
    """All tasks of one sample in a topological order: F_1..F_L, then B_L, G_L, …, G_1."""
    depth = network.depth
    tasks = [Task("F", layer) for layer in range(1, depth + 1)]
    for layer in range(depth, 0, -1):
        if layer > 1:
            tasks.append(Task("B", layer))
        tasks.append(Task("G", layer))
    return tasks


def _delta_consumers(layer: int) -> tuple[Task, ...]:
    return (Task("B", layer), Task("G", layer)) if layer > 1 else (Task("G", layer),)


def data_items(network: Network, word_bits: int) -> list[DataItem]:
    depth = network.depth
    items = []
    for layer in network.layers:
        producer = Task("F", layer.index - 1) if layer.index > 1 else INPUT
        items.append(DataItem(f"a{layer.index - 1}", producer, (Task("F", layer.index), Task("G", layer.index)),
                              layer.in_size))
    for layer in network.layers[:-1]:
        items.append(DataItem(f"mask{layer.index}", Task("F", layer.index), _delta_consumers(layer.index),
                              math.ceil(LAYER_KINDS[layer.kind].mask_bits(layer) / word_bits)))
    for layer in network.layers:
        producer = Task("B", layer.index + 1) if layer.index < depth else Task("F", depth)
        items.append(DataItem(f"err{layer.index}", producer, _delta_consumers(layer.index), layer.out_size))
    items.append(DataItem("target", INPUT, (Task("F", depth),), network.layers[-1].out_size))
    return items


def dependencies(network: Network, word_bits: int) -> list[tuple[Task, Task, DataItem]]:
    """Same-sample edges (producer, consumer, item), excluding data from the input stream."""
    return [(item.producer, consumer, item)
            for item in data_items(network, word_bits) if item.producer is not INPUT
            for consumer in item.consumers]
