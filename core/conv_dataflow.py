"""The dataflow of a convolution layer on a vector-MAC processing element, defined once.

Lanes run over **output channels** (docs/semantics.md, "Convolution layers: dataflow"):
the weight bank holds row ``((c·K + ky)·K + kx)·O_c + oc`` = W[oc·lanes : oc·lanes + lanes,
c, ky, kx] (O_c = ⌈O / lanes⌉ chunks, the last zero-padded), so every task streams whole
weight rows and the three tasks use the MAC's three shapes:

=====  ===================================================  =====================================
task   issue order (outermost first)                        per issue
=====  ===================================================  =====================================
F      Y, X, oc, dy, dx | c, ky, kx                         scalar a[c, y+ky−P, x+kx−P] × weight
                                                            row, accumulated per lane over
                                                            (c, ky, kx); ReLU and max-pool over
                                                            (dy, dx) in the write-back
G      c, ky, kx, oc | Y, dy, X, dx                         scalar a × δ_pre row at (y, x),
                                                            accumulated per lane over the
                                                            positions, then one update per row
B      i, j, c | ky, kx, oc                                 dot(weight row, δ_pre row at
                                                            (i+P−ky, j+P−kx)) summed over
                                                            (ky, kx, oc) into e[c, i, j]
=====  ===================================================  =====================================

with y = p·Y + dy, x = p·X + dx over the whole pooling windows only (rows and columns past
the last window have a zero mask, so their δ_pre is 0 and F need not compute them). A
conv layer's outputs (a_l, mask_l, e_l) are **channel-chunked**: row ``(Y·W_p + X)·O_c +
oc`` holds channels oc·lanes … of one pooled position; the network's input (and so a
first conv layer's input) is **flat**, row-major c, y, x, ``lanes`` elements a row. A mask
element is ``pool²`` bits, the one-hot argmax of its window (row-major, first on ties)
and'ed with z > 0: the pre-pool mask of docs/semantics.md, stored per pooled element.
An fc layer after a conv layer reads its input in the channel-chunked order; its weight
bank's columns are laid out to match (:func:`fc_columns`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from layerpipe.core.loop_nest import Expression, Loop, LoopNest, Term, Window, affine

if TYPE_CHECKING:
    from layerpipe.core.network import Layer

__all__ = ["VolumeLayout", "conv_task_loops", "conv_task_nest", "fc_columns", "fc_input_chunks", "input_layout",
           "output_layout", "mask_bits"]


@dataclass(frozen=True)
class VolumeLayout:
    """Where element (c, y, x) of a C×H×W volume sits in a buffer of ``lanes``-element rows."""

    channels: int
    height: int
    width: int
    lanes: int
    chunked: bool  # channel-chunked (a conv layer's output); else flat c, y, x (the network input)

    @property
    def channel_chunks(self) -> int:
        return math.ceil(self.channels / self.lanes)

    @property
    def rows(self) -> int:
        if self.chunked:
            return self.height * self.width * self.channel_chunks
        return math.ceil(self.channels * self.height * self.width / self.lanes)

    def strides(self) -> tuple[int, int, int]:
        """Element address = c·s_c + y·s_y + x·s_x."""
        if self.chunked:
            per_position = self.channel_chunks * self.lanes
            return 1, self.width * per_position, per_position
        return self.height * self.width, self.width, 1

    def element(self, c: int, y: int, x: int) -> int:
        s_c, s_y, s_x = self.strides()
        return c * s_c + y * s_y + x * s_x

    def element_term(self, c: dict, y: dict, x: dict, base_y: int = 0, base_x: int = 0) -> Term:
        """The element address as an affine term, given c, y and x as ``{loop: stride}`` (plus bases)."""
        s_c, s_y, s_x = self.strides()
        strides: dict[str, int] = {}
        for coordinate, scale in ((c, s_c), (y, s_y), (x, s_x)):
            for name, stride in coordinate.items():
                strides[name] = strides.get(name, 0) + stride * scale
        return affine(base_y * s_y + base_x * s_x, **strides)


def _lane_bits(lanes: int) -> int:
    bits = lanes.bit_length() - 1
    if lanes != 1 << bits:
        raise ValueError(f"conv dataflow: lanes {lanes} is not a power of two")
    return bits


def _pool_bits(pool: int) -> int:
    bits = pool.bit_length() - 1
    if pool != 1 << bits:
        raise ValueError(f"conv dataflow: pool {pool} is not a power of two")
    return bits


def _row_and_lane(term: Term, lanes: int, prefix: str) -> dict[str, Expression]:
    """An element address split into the buffer row and the lane within it."""
    bits = _lane_bits(lanes)
    return {f"{prefix}_row": Expression.of(Term(term.strides, term.base, shift=bits)),
            f"{prefix}_lane": Expression.of(Term(term.strides, term.base, low_bits=bits))}


def output_layout(layer: Layer, lanes: int) -> VolumeLayout:
    channels, height, width = layer.out_shape
    return VolumeLayout(channels, height, width, lanes, chunked=True)


def input_layout(layer: Layer, lanes: int, previous: Layer | None) -> VolumeLayout:
    """A conv layer's input: a conv layer's channel-chunked output, or the flat network input."""
    channels, height, width = layer.in_shape
    return VolumeLayout(channels, height, width, lanes, chunked=previous is not None and previous.kind == "conv")


def mask_bits(layer: Layer) -> int:
    """Bits of one sample's mask: ``pool²`` per pooled output element (the pre-pool mask)."""
    return layer.out_size * layer.pool * layer.pool


def conv_task_loops(layer: Layer, kind: str, lanes: int) -> tuple[Loop, ...]:
    """The issue order of task ``kind`` (F, B or G) of a stride-1 conv ``layer``: one issue per cycle."""
    out_channels, pooled_h, pooled_w = layer.out_shape
    channels, height, width = layer.in_shape
    k, pool = layer.kernel, layer.pool
    out_chunks = math.ceil(out_channels / lanes)
    taps = (Loop("c", channels), Loop("ky", k), Loop("kx", k))
    if kind == "F":
        return (Loop("Y", pooled_h), Loop("X", pooled_w), Loop("oc", out_chunks), Loop("dy", pool),
                Loop("dx", pool), *taps)
    if kind == "G":
        return (*taps, Loop("oc", out_chunks), Loop("Y", pooled_h), Loop("dy", pool), Loop("X", pooled_w),
                Loop("dx", pool))
    if kind == "B":
        return (Loop("i", height), Loop("j", width), *taps, Loop("oc", out_chunks))
    raise ValueError(f"conv dataflow: unknown task kind {kind!r}")


def conv_task_nest(layer: Layer, kind: str, lanes: int, source: VolumeLayout) -> LoopNest:
    """The loop nest of task ``kind`` of conv ``layer`` reading its input from ``source``.

    Addresses: ``weight`` (bank row), ``bias`` (F and G of a layer with a bias: the bias row of
    the issue's ``lanes`` output channels), ``in_row``/``in_lane`` (the input element, F and G),
    ``delta_row``/``mask_bit`` (δ_pre's row of e_l and mask_l, and the bit within a mask
    element, B and G), ``out_row`` (F: the pooled output row; B: ``out_lane`` too, the
    element of e_{l−1}), ``pool_bit`` (F: the position's bit in its pooling window).
    Windows: ``in`` (F, G: the input element is not padding), ``delta`` (B: δ_pre's
    position lies in a whole pooling window), ``stash`` (F: the first pooled position,
    whose issues read every weight row once).
    """
    _out_channels, pooled_h, pooled_w = layer.out_shape
    _channels, height, width = layer.in_shape
    k, pad, pool = layer.kernel, layer.padding, layer.pool
    out_chunks = math.ceil(layer.out_shape[0] / lanes)
    loops = conv_task_loops(layer, kind, lanes)
    weight = Expression.of(affine(oc=1, kx=out_chunks, ky=k * out_chunks, c=k * k * out_chunks))
    pooled_row = Expression.of(affine(oc=1, X=out_chunks, Y=pooled_w * out_chunks))
    if kind in ("F", "G"):
        # input element (c, p·Y + dy + ky − P, p·X + dx + kx − P)
        y, x = affine(-pad, Y=pool, dy=1, ky=1), affine(-pad, X=pool, dx=1, kx=1)
        element = source.element_term({"c": 1}, dict(y.strides), dict(x.strides), -pad, -pad)
        addresses = {"weight": weight, **_row_and_lane(element, lanes, "in")}
        if layer.bias:  # the bias row of the output channels (F starts its sums there, G steps it)
            addresses["bias"] = Expression.of(affine(oc=1))
        windows = {"in": (Window(y, 0, height), Window(x, 0, width))}
        if kind == "F":
            addresses["out_row"] = pooled_row
            addresses["pool_bit"] = Expression.of(affine(dy=pool, dx=1))
            # the first pooled position reads every weight row once: where F copies it into the stash
            windows["stash"] = tuple(Window(affine(**{name: 1}), 0, 1) for name in ("Y", "X", "dy", "dx"))
        else:
            addresses["delta_row"] = pooled_row
            addresses["mask_bit"] = Expression.of(affine(dy=pool, dx=1))
        return LoopNest(loops, addresses, windows)
    # B: δ_pre at (i + P − ky, j + P − kx), split into its pooled position and its bit in the window
    bits = _pool_bits(pool)
    dy, dx = affine(pad, i=1, ky=-1), affine(pad, j=1, kx=-1)
    delta_row = Expression.of(Term(dy.strides, dy.base, scale=pooled_w * out_chunks, shift=bits),
                              Term(dx.strides, dx.base, scale=out_chunks, shift=bits), affine(oc=1))
    mask_bit = Expression.of(Term(dy.strides, dy.base, scale=pool, low_bits=bits),
                             Term(dx.strides, dx.base, low_bits=bits))
    out = _row_and_lane(source.element_term({"c": 1}, {"i": 1}, {"j": 1}), lanes, "out")
    windows = {"delta": (Window(dy, 0, pool * pooled_h), Window(dx, 0, pool * pooled_w))}
    return LoopNest(loops, {"weight": weight, "delta_row": delta_row, "mask_bit": mask_bit, **out}, windows)


def fc_input_chunks(layer: Layer, lanes: int) -> int:
    """Row chunks of an fc layer's bank row: its input, channel-chunked after a conv layer
    (``layer.in_volume``). A bias adds none: it starts the row's sum (docs/hardware.md, "Biases")."""
    return math.ceil(_fc_used_columns(layer, lanes) / lanes)


def _fc_used_columns(layer: Layer, lanes: int) -> int:
    """One past the last bank column that holds an input feature."""
    if layer.in_volume:
        channels, height, width = layer.in_volume
        layout = VolumeLayout(channels, height, width, lanes, chunked=True)
        return layout.element(channels - 1, height - 1, width - 1) + 1
    return layer.in_size


def fc_columns(layer: Layer, lanes: int) -> list[int | None]:
    """For each bank column of an fc layer, the network's input feature it holds (None: padding).

    The network flattens a conv output row-major (c, y, x); the bank is laid out in the
    channel-chunked order the conv layer writes, so each weight row streams in that order.
    """
    columns: list[int | None] = [None] * (fc_input_chunks(layer, lanes) * lanes)
    if not layer.in_volume:
        columns[:layer.in_size] = range(layer.in_size)
        return columns
    channels, height, width = layer.in_volume
    layout = VolumeLayout(channels, height, width, lanes, chunked=True)
    for c in range(channels):
        for y in range(height):
            for x in range(width):
                columns[layout.element(c, y, x)] = (c * height + y) * width + x
    return columns
