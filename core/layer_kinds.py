"""The layer kinds a network may use, each defined once (:data:`LAYER_KINDS`).

A kind says which fields its entry in a network file takes, how it turns an input
shape into the layer's geometry, how many cycles a processing element spends streaming
its weights once, and which models (:data:`~layerpipe.core.registry.MODELS`) train it.
:func:`require_layer_kinds` is the one check that a network suits a model.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from layerpipe.core.conv_dataflow import conv_task_loops, fc_input_chunks, mask_bits
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.pooling import DEFAULT_POOL_MODE, pool_mode
from layerpipe.core.registry import ALL_MODELS, MODELS, Registry, or_list
from layerpipe.core.schema import require_integer

if TYPE_CHECKING:
    from layerpipe.core.network import Layer, Network

__all__ = ["LayerKind", "LAYER_KINDS", "positive_int", "require_layer_kinds"]


def positive_int(value, where: str, field_name: str, minimum: int = 1) -> int:
    """A network file's field ``field_name`` of the entry ``where``, checked (core/schema.py's rule)."""
    return require_integer(value, minimum, f"{where}: field '{field_name}'")


@dataclass(frozen=True)
class LayerKind:
    name: str  # the `kind` field of a network file
    title: str  # what users call it
    fields: frozenset[str]  # the fields its entry in a network file may have
    # (spec, input shape, where) -> the Layer's geometry fields (in_shape, out_shape, macs, weights, ...)
    geometry: Callable[[dict, tuple[int, ...], str], dict]
    spec: Callable[[Layer], dict]  # the fields Layer.to_dict writes after name and kind
    # (layer, task kind, lanes) -> issue cycles of the task's dataflow on `lanes` multipliers
    stream_cycles: Callable[[Layer, str, int], int]
    mask_bits: Callable[[Layer], int]  # bits of one sample's ReLU (and pooling) mask
    lanes_over: Callable[[Layer], str]  # what the lanes of a weight row run over, as the table says
    # F, B and G read the weights in one order, so processors share one dual-port bank, in lockstep
    # where they overlap; otherwise each processor reading the layer has its own double-buffered copy
    shared_bank: bool
    models: frozenset[str]  # the models that execute it

    def layer_geometry(self, spec: dict, in_shape: tuple[int, ...], where: str) -> dict:
        """The Layer fields of an entry of this kind: its geometry and whether it has a bias."""
        bias = spec.get("bias", True)
        if not isinstance(bias, bool):
            raise LayerPipeError(f"{where}: field 'bias' is {bias!r}; set it to true or false")
        return self.geometry(spec, in_shape, where) | {"bias": bias}

    def layer_spec(self, layer: Layer) -> dict:
        """The fields Layer.to_dict writes after name and kind."""
        return self.spec(layer) | {"bias": layer.bias}


def _fc_geometry(spec: dict, in_shape: tuple[int, ...], where: str) -> dict:
    in_size = math.prod(in_shape)
    if "in" in spec and positive_int(spec["in"], where, "in") != in_size:
        raise LayerPipeError(f"{where}: field 'in' is {spec['in']} but the previous layer gives "
                             f"{in_size} features; set 'in' to {in_size} or drop it")
    out = positive_int(spec.get("out"), where, "out")
    volume = in_shape if len(in_shape) == 3 else ()  # a conv output, read in its channel-chunked order
    return dict(in_shape=(in_size,), out_shape=(out,), macs=in_size * out, weights=in_size * out, in_volume=volume)


def _conv_out(h: int, kernel: int, stride: int, padding: int) -> int:
    return (h + 2 * padding - kernel) // stride + 1


def _conv_geometry(spec: dict, in_shape: tuple[int, ...], where: str) -> dict:
    if len(in_shape) != 3:
        raise LayerPipeError(f"{where}: a conv layer needs a [channels, height, width] input but "
                             f"gets {in_shape[0]} flat features; put conv layers before fc layers "
                             "and give the network input as [channels, height, width]")
    channels, height, width = in_shape
    if "in_channels" in spec and positive_int(spec["in_channels"], where, "in_channels") != channels:
        raise LayerPipeError(f"{where}: field 'in_channels' is {spec['in_channels']} but the previous "
                             f"layer gives {channels} channels; set it to {channels} or drop it")
    out_channels = positive_int(spec.get("out_channels"), where, "out_channels")
    kernel = positive_int(spec.get("kernel"), where, "kernel")
    stride = positive_int(spec.get("stride", 1), where, "stride")
    padding = positive_int(spec.get("padding", 0), where, "padding", minimum=0)
    pool = positive_int(spec.get("pool", 1), where, "pool")
    mode = pool_mode(spec.get("pool_mode", DEFAULT_POOL_MODE), pool, where)
    projection = spec.get("projection", False)
    if not isinstance(projection, bool):
        raise LayerPipeError(f"{where}: field 'projection' is {projection!r}; set it to true or false")
    out_h, out_w = _conv_out(height, kernel, stride, padding), _conv_out(width, kernel, stride, padding)
    if out_h < 1 or out_w < 1:
        raise LayerPipeError(f"{where}: kernel {kernel} with stride {stride} and padding {padding} "
                             f"leaves no output from a {height}x{width} input; use a smaller kernel "
                             "or more padding")
    if out_h // pool < 1 or out_w // pool < 1:
        raise LayerPipeError(f"{where}: pool {pool} is larger than the {out_h}x{out_w} output; "
                             "use a smaller 'pool'")
    positions = out_h * out_w
    macs = positions * kernel * kernel * channels * out_channels
    weights = kernel * kernel * channels * out_channels
    if projection:  # 1x1 shortcut at the same stride, from the block input to its output channels
        macs += positions * channels * out_channels
        weights += channels * out_channels
    return dict(in_shape=in_shape, out_shape=(out_channels, out_h // pool, out_w // pool), macs=macs,
                weights=weights, kernel=kernel, stride=stride, padding=padding, pool=pool, pool_mode=mode,
                projection=projection)


def _conv_spec(layer: Layer) -> dict:
    spec = dict(out_channels=layer.out_shape[0], kernel=layer.kernel, stride=layer.stride,
                padding=layer.padding, pool=layer.pool)
    if layer.pool_mode != DEFAULT_POOL_MODE:  # only when not the default: max-pooled tables and caches keep their keys
        spec["pool_mode"] = layer.pool_mode
    if layer.projection:
        spec["projection"] = True
    return spec


def _conv_stream_cycles(layer: Layer, kind: str, lanes: int) -> int:
    """The issues of the RTL's dataflow (core/conv_dataflow.py); the MAC count where it has none."""
    if layer.stride != 1 or layer.projection:
        return math.ceil(layer.macs / lanes)
    return math.prod(loop.count for loop in conv_task_loops(layer, kind, lanes))


LAYER_KINDS: Registry[LayerKind] = Registry("layer kind", [
    # One row of W per output neuron, `lanes` words a cycle (after a conv layer: its channel-chunked rows).
    LayerKind("fc", "fully connected", frozenset({"kind", "name", "in", "out", "bias"}), _fc_geometry,
              lambda layer: {"out": layer.out_size},
              lambda layer, kind, lanes: layer.out_size * fc_input_chunks(layer, lanes),
              lambda layer: layer.out_size, lambda layer: "input features", True, ALL_MODELS),
    # Trained by the golden model and the functional simulator (both run sim/conv.py through
    # sim/layers.py) and by the RTL (stride 1, no projection: hw/plan.py refuses the rest).
    LayerKind("conv", "convolution",
              frozenset({"kind", "name", "in_channels", "out_channels", "kernel", "stride", "padding", "pool",
                         "pool_mode", "projection", "bias"}),
              _conv_geometry, _conv_spec, _conv_stream_cycles, mask_bits,
              lambda layer: "MACs" if layer.stride != 1 or layer.projection else "output channels", False,
              ALL_MODELS),
])


def require_layer_kinds(network: Network, model: str) -> None:
    """Refuse, in one line, a network with a layer of a kind ``model`` does not execute."""
    for layer in network.layers:
        if model not in LAYER_KINDS[layer.kind].models:
            titles = or_list(LAYER_KINDS[name].title for name in LAYER_KINDS.names(model))
            raise LayerPipeError(f"network '{network.name}' has {LAYER_KINDS[layer.kind].title} layer "
                                 f"{layer.index} ('{layer.name}'); {MODELS[model]} supports {titles} layers only")
