"""The layers of the golden model and of the functional simulator: each kind's weight shape,
accumulator checks and kernels behind one interface, and the two arithmetics they run in.

fc layers run the kernels of :mod:`layerpipe.sim.fixed` / :mod:`layerpipe.sim.floatmodel`
through the arithmetic, unchanged (the RTL is checked bit for bit against them); conv
layers run :mod:`layerpipe.sim.conv` with the arithmetic's number format. Activations
keep their layer's shape ((features,) or (channels, height, width), samples on trailing
axes when batched); an fc layer flattens what it receives.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import LAYER_KINDS, require_layer_kinds
from layerpipe.core.network import Layer, Network
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.registry import MODELS
from layerpipe.sim import bias, conv, fixed, floatmodel

__all__ = ["Parameters", "Dense", "Conv", "layer_ops", "check_sums", "check_weights", "check_biases",
           "FloatArithmetic", "FixedArithmetic",
           "arithmetic", "NUMERICS"]

NUMERICS = ("float", "fixed")


class Parameters(NamedTuple):
    """One version of a layer's trainable state: W, and its bias vector if the layer has one."""

    weights: np.ndarray
    bias: np.ndarray | None = None


class Dense:
    """An fc layer; W has shape (N_l, N_l−1), its bias (N_l,)."""

    shape_names = "(N_l, N_l-1)"

    def __init__(self, data_shape: tuple[int, ...], n_out: int, where: str, has_bias: bool = False):
        self.where = where  # how messages name the layer
        self.data_shape = data_shape  # what the previous layer hands over
        self.n_in = math.prod(data_shape)
        self.out_shape = (n_out,)
        self.shape = (n_out, self.n_in)
        self.bias_shape = (n_out,) if has_bias else None
        self.fans = (self.n_in, n_out)  # Glorot's fan-in and fan-out
        # F sums over N_l−1 (and the bias), B over N_l; G sums nothing
        self.sums = (max(self.n_in + has_bias, n_out),)

    def forward(self, arith, params: Parameters, a, hidden: bool):
        return arith.forward(params.weights, a.reshape((self.n_in,) + a.shape[len(self.data_shape):]), hidden,
                             params.bias)

    def backward(self, arith, W, delta):
        return arith.backward(W, delta)

    def mask_error(self, arith, e, mask):
        return arith.mask_error(e, mask)

    def update(self, arith, params: Parameters, delta, a_prev) -> Parameters:
        return Parameters(arith.update(params.weights, delta, a_prev.reshape(-1)), _bias_step(arith, params, delta))


def _bias_step(arith, params: Parameters, delta):
    return None if params.bias is None else bias.update(params.bias, delta, arith.number_format)


class Conv:
    """A conv layer (stride 1, ReLU, pooling); W has shape (out_channels, in_channels, kernel, kernel)."""

    shape_names = "(out_channels, in_channels, kernel, kernel)"

    def __init__(self, layer: Layer, where: str):
        self.where = where
        channels, height, width = layer.in_shape
        out_channels, kernel = layer.out_shape[0], layer.kernel
        self.padding, self.pool, self.pool_mode = layer.padding, layer.pool, layer.pool_mode
        self.data_shape, self.out_shape = layer.in_shape, layer.out_shape
        self.shape = (out_channels, channels, kernel, kernel)
        self.bias_shape = (out_channels,) if layer.bias else None
        self.fans = (channels * kernel * kernel, out_channels * kernel * kernel)
        positions = (height + 2 * layer.padding - kernel + 1) * (width + 2 * layer.padding - kernel + 1)
        # F (and the bias), B (gather form) and G (over all output positions, as the bias's gradient)
        self.sums = (self.fans[0] + layer.bias, self.fans[1], positions)

    def forward(self, arith, params: Parameters, a, hidden: bool):  # hidden: a conv output layer is refused
        return conv.forward(params.weights, a, self.padding, self.pool, arith.number_format, params.bias,
                            self.pool_mode)

    def backward(self, arith, W, delta):
        return conv.backward(W, delta, self.padding, arith.number_format)

    def mask_error(self, arith, e, mask):
        return conv.mask_error(e.reshape(self.out_shape), mask, self.pool, arith.number_format, self.pool_mode)

    def update(self, arith, params: Parameters, delta, a_prev) -> Parameters:
        return Parameters(conv.update(params.weights, delta, a_prev, self.padding, arith.number_format),
                          _bias_step(arith, params, delta))


def _dense(layer: Layer, data_shape: tuple[int, ...], last: bool, where: str, model: str) -> Dense:
    return Dense(data_shape, layer.out_size, where, layer.bias)


def _conv(layer: Layer, data_shape: tuple[int, ...], last: bool, where: str, model: str) -> Conv:
    if layer.stride != 1:
        raise LayerPipeError(f"{where}: field 'stride' is {layer.stride}; {model} trains stride 1 "
                             "convolutions only, set 'stride' to 1")
    if layer.projection:
        raise LayerPipeError(f"{where}: field 'projection' is true; {model} trains plain convolutions "
                             "only, drop 'projection'")
    if last:
        raise LayerPipeError(f"{where}: field 'kind' is 'conv' for the output layer; {model}'s output "
                             "is linear, make the last layer fc")
    return Conv(layer, where)


# How each layer kind of core/layer_kinds.py runs here: (layer, input shape, is it the last, where, model).
_OPS = {"fc": _dense, "conv": _conv}


def layer_ops(network_or_sizes, numerics: str = "float") -> tuple[tuple[int, ...], list[Dense | Conv]]:
    """The input shape and the layers of a Network or of a fully connected chain [N0, N1, ...];
    ``numerics`` is the model (:data:`~layerpipe.core.registry.MODELS`) that will run them."""
    if isinstance(network_or_sizes, Network):
        network = network_or_sizes
        require_layer_kinds(network, numerics)
        ops, shape = [], network.input_shape
        for layer in network.layers:
            where = f"{LAYER_KINDS[layer.kind].title} layer {layer.index} ('{layer.name}')"
            last = layer.index == network.depth
            ops.append(_OPS[layer.kind](layer, shape, last, where, MODELS[numerics]))
            shape = layer.out_shape
        return network.input_shape, ops
    sizes = list(network_or_sizes)
    if len(sizes) < 2 or any(isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1 for n in sizes):
        raise LayerPipeError(f"layer sizes {sizes!r}: give at least two positive integers [N0, N1, ...]")
    return (int(sizes[0]),), [Dense((int(n_in),), int(n_out), f"layer {index}")
                              for index, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]), start=1)]


def check_sums(ops, fmt: FixedFormat) -> None:
    """Refuse, naming the layer, a sum of F, B or G that could overflow ``fmt``'s accumulator."""
    for op in ops:
        try:
            for terms in op.sums:
                fmt.check_fan_in(terms)
        except LayerPipeError as error:
            raise LayerPipeError(f"{op.where}: {error}") from None


def check_weights(ops, weights, what: str) -> None:
    """Refuse ``weights`` (named ``what`` in messages) unless they are one array of the right shape per layer."""
    if len(weights) != len(ops):
        raise LayerPipeError(f"{what} has {len(weights)} weight arrays; the network has {len(ops)} layers")
    for layer, (w, op) in enumerate(zip(weights, ops), start=1):
        if np.shape(w) != op.shape:
            raise LayerPipeError(f"{what}: weights of layer {layer} have shape {np.shape(w)}; "
                                 f"the network needs {op.shape} {op.shape_names}")


def check_biases(ops, biases, what: str) -> list:
    """``biases`` (named ``what`` in messages) checked: one entry per layer, an array of the layer's bias
    shape where it has a bias and None where not; ``biases`` None starts every bias at 0 (as Keras does:
    the weights already break the symmetry). Returns the list (zeros where they were not given)."""
    if biases is None:
        return [None if op.bias_shape is None else np.zeros(op.bias_shape) for op in ops]
    if len(biases) != len(ops):
        raise LayerPipeError(f"{what} has {len(biases)} entries; the network has {len(ops)} layers "
                             "(give None for a layer without a bias)")
    for layer, (b, op) in enumerate(zip(biases, ops), start=1):
        if op.bias_shape is None and b is not None:
            raise LayerPipeError(f"{what}: layer {layer} has no bias but a bias is given; give None for it "
                                 "or set 'bias = true' for the layer")
        if op.bias_shape is not None and (b is None or np.shape(b) != op.bias_shape):
            given = "None" if b is None else f"shape {np.shape(b)}"
            raise LayerPipeError(f"{what}: the bias of layer {layer} is {given}; the network needs shape "
                                 f"{op.bias_shape}")
    return list(biases)


# -- the two arithmetics ----------------------------------------------------------------------

class FloatArithmetic:
    name = "float"

    def __init__(self, lr: float):
        self.lr = lr
        self.number_format = floatmodel.RealFormat(lr)  # what kernels written for both numerics round with

    def words(self, x, what: str) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.number) or np.issubdtype(x.dtype, np.complexfloating):
            raise LayerPipeError(f"{what} have dtype {x.dtype}; give real numbers")
        return x.astype(np.float64)

    def forward(self, W, a, hidden, bias=None):
        return floatmodel.forward(W, a, hidden, bias)

    def output_delta(self, a_L, target):
        return floatmodel.output_delta(a_L, target)

    def squared_error(self, a_L, target):
        return floatmodel.squared_error(a_L, target)

    def backward(self, W, delta):
        return floatmodel.backward(W, delta)

    def mask_error(self, e, mask):
        return floatmodel.mask_error(e, mask)

    def update(self, W, delta, a_prev):
        return floatmodel.update(W, delta, a_prev, self.lr)


class FixedArithmetic:
    name = "fixed"

    def __init__(self, fmt: FixedFormat):
        self.fmt = self.number_format = fmt

    def words(self, x, what: str) -> np.ndarray:
        x = np.asarray(x)
        if not np.issubdtype(x.dtype, np.integer):
            raise LayerPipeError(f"{what} are {x.dtype} but fixed-point numerics take data words (integers); "
                                 "convert them with FixedFormat.quantize or use layerpipe.sim.data")
        x = x.astype(np.int64)
        if x.size and (x.min() < self.fmt.data_min or x.max() > self.fmt.data_max):
            raise LayerPipeError(f"{what} hold values outside the {self.fmt.data_bits}-bit data range "
                                 f"[{self.fmt.data_min}, {self.fmt.data_max}]; saturate them with FixedFormat.saturate")
        return x

    def forward(self, W, a, hidden, bias=None):
        return fixed.forward(W, a, self.fmt, hidden, bias)

    def output_delta(self, a_L, target):
        return fixed.output_delta(a_L, target, self.fmt)

    def squared_error(self, a_L, target):
        return fixed.squared_error(a_L, target)

    def backward(self, W, delta):
        return fixed.backward(W, delta, self.fmt)

    def mask_error(self, e, mask):
        return fixed.mask_error(e, mask)

    def update(self, W, delta, a_prev):
        return fixed.update(W, delta, a_prev, self.fmt)


def arithmetic(numerics: str, fmt: FixedFormat, lr: float | None):
    if numerics == "float":
        return FloatArithmetic(2.0 ** -fmt.lr_shift if lr is None else float(lr))
    if numerics == "fixed":
        if lr is not None and lr != 2.0 ** -fmt.lr_shift:
            raise LayerPipeError(f"lr is {lr!r} but fixed point steps by 2**-lr_shift = {2.0 ** -fmt.lr_shift}; "
                                 "set FixedFormat(lr_shift=...) instead of lr")
        return FixedArithmetic(fmt)
    raise LayerPipeError(f"numerics '{numerics}' is unknown; use one of {', '.join(NUMERICS)}")
