"""Network model: a chain of fully connected and 2-D convolution layers.

Hidden layers use ReLU, the last layer is linear (squared-error loss). Pooling and
stride are folded into the shapes: a convolution's output is ``(H + 2·padding − K) //
stride + 1`` and then divided by ``pool`` (integer division), which is the shape the
next layer sees. Each layer's training work is three equal matrix tasks (F, B, G) of
``macs`` multiply-accumulates each (docs/semantics.md).

Networks come from the zoo (:mod:`layerpipe.sched.zoo`) or from a TOML, YAML or JSON
file of the form::

    name = "my-mlp"
    input = 64              # features, or [channels, height, width]
    [[layers]]
    kind = "fc"
    out = 32
    [[layers]]
    kind = "fc"
    out = 10

Every layer has a bias (one per output neuron or channel) unless its entry says
``bias = false``, as in PyTorch and ONNX; the zoo's networks have none (docs/networks.md).
Every problem in a file is reported as one line naming the layer, the field and
the fix.
"""

from __future__ import annotations

import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import LAYER_KINDS, positive_int
from layerpipe.core.pooling import DEFAULT_POOL_MODE
from layerpipe.core.registry import or_list

__all__ = ["NETWORK_FILE_TYPES", "InitialParameters", "Layer", "Network", "network_from_dict", "read_network_file"]


@dataclass(frozen=True)
class Layer:
    """One layer of the chain; ``index`` counts from 1 (layer 1 has no B task)."""

    index: int
    name: str
    kind: str  # a name in LAYER_KINDS (core/layer_kinds.py)
    in_shape: tuple[int, ...]  # (features,) or (channels, height, width)
    out_shape: tuple[int, ...]  # shape seen by the next layer (after pooling)
    macs: int  # multiply-accumulates of each of F, B and G for one sample
    weights: int  # number of trainable weights, biases not counted (see `biases`)
    # convolution geometry (fc layers keep the defaults)
    kernel: int = 1
    stride: int = 1
    padding: int = 0
    pool: int = 1
    pool_mode: str = DEFAULT_POOL_MODE  # a name in POOL_MODES (core/pooling.py): how a conv layer pools
    projection: bool = False  # ResNet projection shortcut folded in (see docs/networks.md)
    in_volume: tuple[int, ...] = ()  # fc after a conv layer: the (channels, height, width) it flattens
    bias: bool = False  # one trainable bias per output neuron (fc) or output channel (conv)

    @property
    def in_size(self) -> int:
        return math.prod(self.in_shape)

    @property
    def out_size(self) -> int:
        return math.prod(self.out_shape)

    @property
    def biases(self) -> int:
        """Trainable biases: one per output neuron or output channel, or none."""
        return self.out_shape[0] if self.bias else 0

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind} | LAYER_KINDS[self.kind].layer_spec(self)


@dataclass(frozen=True)
class InitialParameters:
    """Initial weights and biases a network's file gives (an ONNX model's initializers), as floats."""

    source: str  # the file they came from
    weights: tuple  # per layer: fc (N_out, N_in), conv (O, C, K, K)
    biases: tuple  # per layer: (N_out,) or (O,), None for a layer without a bias
    notes: tuple[str, ...] = ()  # what the import dropped or ignored, one line each, for the commands to print

    def digest(self) -> str:
        """A digest of the values (not the source's name): what a cache of results trained from them keys on."""
        import hashlib

        import numpy as np

        h = hashlib.sha256()
        for array in (*self.weights, *self.biases):
            h.update(b"none" if array is None else np.ascontiguousarray(array, dtype=np.float64).tobytes())
            h.update(b"|" if array is None else str(np.shape(array)).encode())
        return h.hexdigest()[:20]


@dataclass(frozen=True)
class Network:
    name: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...] = field(default=())
    # The parameters its file gives (ONNX), or None (train from Glorot-initialised weights and zero biases).
    # Not part of the network's identity (equality, hash, to_dict): a table keeps its shape only.
    initial: InitialParameters | None = field(default=None, compare=False, repr=False)

    @property
    def depth(self) -> int:
        return len(self.layers)

    @property
    def forward_macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def sizes(self) -> list[int]:
        """Neuron counts [N_0, N_1, …, N_L] of a fully connected chain."""
        return [self.layers[0].in_size] + [layer.out_size for layer in self.layers]

    def layer(self, index: int) -> Layer:
        return self.layers[index - 1]

    def to_dict(self) -> dict:
        shape = self.input_shape[0] if len(self.input_shape) == 1 else list(self.input_shape)
        return {"name": self.name, "input": shape, "layers": [layer.to_dict() for layer in self.layers]}


def _parse_input(value, net_name: str) -> tuple[int, ...]:
    where = f"network '{net_name}'"
    if isinstance(value, list):
        if len(value) != 3:
            raise LayerPipeError(f"{where}: field 'input' is {value!r}; give a feature count or "
                                 "[channels, height, width]")
        return tuple(positive_int(v, where, "input") for v in value)
    return (positive_int(value, where, "input"),)


def _build_layer(index: int, spec, in_shape: tuple[int, ...]) -> Layer:
    if not isinstance(spec, dict):
        raise LayerPipeError(f"layer {index}: expected a table of fields, got {spec!r}")
    name = str(spec.get("name", f"layer{index}"))
    where = f"layer {index} ('{name}')"
    kind = spec.get("kind")
    if kind not in LAYER_KINDS:
        choices = or_list(f"'{k}' ({LAYER_KINDS[k].title})" for k in LAYER_KINDS)
        raise LayerPipeError(f"{where}: unknown kind {kind!r}; use {choices}")
    allowed = LAYER_KINDS[kind].fields
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise LayerPipeError(f"{where}: unknown field '{unknown[0]}' for a {kind} layer; "
                             f"allowed fields are {', '.join(sorted(allowed))}")
    return Layer(index, name, kind, **LAYER_KINDS[kind].layer_geometry(spec, in_shape, where))


def network_from_dict(spec, source: str = "network") -> Network:
    """Build and validate a :class:`Network` from its dictionary form."""
    if not isinstance(spec, dict):
        raise LayerPipeError(f"{source}: expected a table with 'name', 'input' and 'layers'")
    unknown = sorted(set(spec) - {"name", "input", "layers"})
    if unknown:
        raise LayerPipeError(f"{source}: unknown top-level field '{unknown[0]}'; "
                             "allowed fields are input, layers, name")
    name = str(spec.get("name", Path(source).stem))
    if "input" not in spec:
        raise LayerPipeError(f"network '{name}': field 'input' is missing; give the input feature count "
                             "or [channels, height, width]")
    shape = _parse_input(spec["input"], name)
    layer_specs = spec.get("layers")
    if not isinstance(layer_specs, list) or not layer_specs:
        raise LayerPipeError(f"network '{name}': it has no layers; add at least one [[layers]] entry")
    layers = []
    for index, layer_spec in enumerate(layer_specs, start=1):
        layer = _build_layer(index, layer_spec, shape)
        layers.append(layer)
        shape = layer.out_shape
    return Network(name, _parse_input(spec["input"], name), tuple(layers))


NETWORK_FILE_TYPES = (".toml", ".yaml", ".yml", ".json")


def read_network_file(path: Path) -> Network:
    """A network file (TOML, YAML or JSON), validated; every problem is a one-line LayerPipeError."""
    if not path.is_file():
        raise LayerPipeError(f"network file '{path}' does not exist")
    return network_from_dict(_read_file(path), source=str(path))


def _read_file(path: Path):
    import yaml

    suffix = path.suffix.lower()
    try:
        text = path.read_text(encoding="utf-8")
        if suffix == ".toml":
            return tomllib.loads(text)
        if suffix in (".yaml", ".yml"):
            return yaml.safe_load(text)
        if suffix == ".json":
            return json.loads(text)
    except yaml.MarkedYAMLError as exc:  # several lines with a caret; the mark is the line a user looks for
        mark = exc.problem_mark or exc.context_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise LayerPipeError(f"{path}: not valid YAML: {where}{exc.problem or exc.context}") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, yaml.YAMLError, ValueError) as exc:
        first_line = str(exc).splitlines()[0]
        raise LayerPipeError(f"{path}: not valid {suffix[1:].upper()}: {first_line}") from None
    raise LayerPipeError(f"{path}: unknown file type '{suffix}'; use .toml, .yaml, .yml or .json")
