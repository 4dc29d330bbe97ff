"""ONNX in and out: a chain of Gemm/MatMul/Conv layers read as a :class:`~layerpipe.core.network.Network`
with its initial parameters, and trained parameters written back as a standard ONNX model.

Only the ``onnx`` package is used (no runtime). What maps to what (docs/networks.md, "ONNX"):

* ``Gemm`` (``transA = 0``, ``transB`` 0 or 1, ``alpha = beta = 1``) or ``MatMul`` + ``Add`` → an fc layer,
  its weights (N_out, N_in) and bias (the ``C`` input or the ``Add``'s constant; none without one);
* ``Conv`` (square kernel, equal strides, symmetric pads, dilation 1, group 1) → a conv layer;
* ``Relu`` after every hidden layer (the model's hidden layers are ReLU); the last layer is an fc
  layer without one (linear);
* ``MaxPool`` with kernel = stride and no padding, after a conv layer's ``Relu`` (or just before it:
  the two commute) → the conv layer's ``pool``; ``AveragePool`` likewise, with a power-of-two
  window (its divisor is a shift), after the ``Relu`` only (the mean of ReLU outputs is not the
  ReLU of the mean) → ``pool`` with ``pool_mode = "average"`` (core/pooling.py says which op is which);
* ``Flatten`` (axis 1) and ``Reshape`` to (batch, features) → the fc layer's flattening of a
  (C, H, W) volume, in C order, as the network model flattens;
* ``Identity``, ``Dropout`` (inference) and a ``Cast`` to float are passed through;
* a final ``Softmax``/``LogSoftmax`` is dropped with a note: training uses squared error on the
  linear outputs (the predicted class, the largest output, is the same); the label outputs after
  it (``ArgMax``, ``ZipMap``, ``ArrayFeatureExtractor``, … as scikit-learn's converter adds them) are
  ignored.

Everything else is refused in one line naming the node, its op and what is supported:
``GlobalAveragePool``, an ``AveragePool`` before the ``Relu``, a branch (a tensor consumed by two nodes:
a skip connection), a weight that is not an initializer (or a ``Constant``), a symbolic dimension
other than the batch, asymmetric pads and any other layout the network model cannot express.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import defaultdict
from pathlib import Path

import numpy as np

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.files import open_atomic
from layerpipe.core.network import InitialParameters, Network, network_from_dict
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.pooling import DEFAULT_POOL_MODE, POOL_MODES

__all__ = ["SUPPORTED", "read_onnx", "onnx_model", "write_onnx", "check_export_path", "range_notes", "messages"]

SUPPORTED = ("Gemm, MatMul + Add, Conv, Relu, MaxPool (kernel = stride), AveragePool (kernel = stride, a power of "
             "two, after the Relu), Flatten, Reshape to (batch, features) and a final Softmax/LogSoftmax")
POOL_OPS = {mode.onnx_op: name for name, mode in POOL_MODES.items()}  # MaxPool → max, AveragePool → average
PASS_THROUGH = {"Identity", "Dropout", "Cast"}
LABEL_OPS = {"ArgMax", "ArgMin", "ZipMap", "ArrayFeatureExtractor", "TopK", "Cast", "Identity", "Reshape"}
LAYER_OPS = {"Gemm", "MatMul", "Add", "Conv", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool", "Flatten"}
FLOAT_TYPES = {1: "float", 11: "double", 10: "float16"}  # onnx.TensorProto.FLOAT, DOUBLE, FLOAT16
EXPORT_OPSET = 17
EXPORT_IR_VERSION = 8  # readable by every onnxruntime since 1.10


# -- import ------------------------------------------------------------------------------------

def read_onnx(path: Path) -> Network:
    """The network of an ONNX file and its initializers as the initial parameters (one-line errors)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise LayerPipeError(f"ONNX file '{path}' does not exist")
    try:
        model = onnx.load(str(path))
    except Exception as exc:  # protobuf's DecodeError, missing external data, …: one line either way
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise LayerPipeError(f"{path}: not a readable ONNX model ({first}); export it again with "
                             "torch.onnx.export or skl2onnx") from None
    return _Importer(path, model.graph).network()


def _node_name(node, index: int) -> str:
    return f"node '{node.name or f'#{index}'}' ({node.op_type})"


def _attrs(node) -> dict:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


class _Importer:
    def __init__(self, path: Path, graph):
        from onnx import numpy_helper

        self.where = str(path)
        self.stem = path.stem
        self.nodes = list(graph.node)  # one wrapper per node, kept: identities below are of these
        self.index = {id(node): i for i, node in enumerate(self.nodes)}
        self.consts = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
        self.consumers: dict[str, list] = defaultdict(list)
        for node in self.nodes:
            if node.op_type == "Constant":
                value = _attrs(node).get("value")
                if value is not None:
                    self.consts[node.output[0]] = numpy_helper.to_array(value)
                continue
            if node.op_type in ("Shape", "Size"):  # reads only the shape (x.view(x.size(0), -1)): not a branch
                continue
            for name in dict.fromkeys(node.input):  # a node using a tensor twice consumes it once
                if name:
                    self.consumers[name].append(node)
        self.inputs = [i for i in graph.input if i.name not in self.consts]
        self.notes: list[str] = []

    def fail(self, node, message: str):
        raise LayerPipeError(f"{self.where}: {_node_name(node, self.index[id(node)])} {message}")

    def unsupported(self, node, why: str = "is not supported"):
        self.fail(node, f"{why}; supported: {SUPPORTED}")

    # -- the input ------------------------------------------------------------------------
    def input_shape(self) -> tuple[str, tuple[int, ...]]:
        if not self.inputs:
            raise LayerPipeError(f"{self.where}: the graph has no input tensor; export the model with its "
                                 "input (torch.onnx.export's args, skl2onnx's initial_types)")
        first = self.inputs[0]
        tensor = first.type.tensor_type
        if not first.type.HasField("tensor_type") or tensor.elem_type not in FLOAT_TYPES:
            raise LayerPipeError(f"{self.where}: input '{first.name}' is not a float tensor; the project takes "
                                 "one float input of shape (batch, features) or (batch, channels, height, width)")
        if not tensor.HasField("shape"):
            raise LayerPipeError(f"{self.where}: input '{first.name}' has no shape; export it with a fixed "
                                 "shape (batch, features) or (batch, channels, height, width)")
        dims = list(tensor.shape.dim)
        if len(dims) not in (2, 4):
            raise LayerPipeError(f"{self.where}: input '{first.name}' has {len(dims)} dimensions; the project "
                                 "takes (batch, features) or (batch, channels, height, width)")
        shape = []
        for axis, dim in enumerate(dims[1:], start=1):
            if not dim.HasField("dim_value") or dim.dim_value < 1:
                what = f"symbolic ('{dim.dim_param}')" if dim.dim_param else "unknown"
                raise LayerPipeError(f"{self.where}: input '{first.name}' dimension {axis} is {what}; only the "
                                     "batch dimension may be dynamic: export with a fixed "
                                     f"{'features' if len(dims) == 2 else 'channels, height and width'}")
            shape.append(int(dim.dim_value))
        return first.name, tuple(shape)

    # -- the chain ------------------------------------------------------------------------
    def network(self) -> Network:
        name, shape = self.input_shape()
        self.input = shape
        layers: list[dict] = []
        pending: dict | None = None  # the layer whose Relu/MaxPool may still come
        tensor = name
        while True:
            users = self.consumers.get(tensor, [])
            if not users:
                break
            if len(users) > 1:
                if pending is not None and all(u.op_type in LABEL_OPS - {"Reshape"} for u in users):
                    self.ignore(users)
                    break
                nodes = ", ".join(_node_name(u, self.index[id(u)]) for u in users)
                raise LayerPipeError(f"{self.where}: tensor '{tensor}' feeds {len(users)} nodes ({nodes}): a "
                                     "branch (skip connection) cannot be mapped; the project trains a chain of "
                                     f"layers: {SUPPORTED}")
            node = users[0]
            op = node.op_type
            for extra in node.output[1:]:  # MaxPool's Indices, Dropout's mask
                if extra and self.consumers.get(extra):
                    self.fail(node, f"has its output '{extra}' used; only its first output can be mapped")
            if op in ("Softmax", "LogSoftmax"):
                self.softmax(node, pending, shape)
                break
            if op in ("ArgMax", "ArgMin", "ZipMap", "ArrayFeatureExtractor", "TopK") and pending is not None:
                self.ignore(users)
                break
            if op in PASS_THROUGH:
                self.pass_through(node)
            elif op in ("Gemm", "MatMul"):
                self.finish(pending, node, last=False, layers=layers)
                pending, node = self.dense(node, tensor, shape)
                shape = (pending["out"],)
            elif op == "Conv":
                self.finish(pending, node, last=False, layers=layers)
                pending = self.conv(node, tensor, shape)
                shape = pending["shape"]
            elif op == "Relu":
                if pending is None or pending["relu"]:
                    self.fail(node, "does not follow a Gemm, MatMul or Conv (each hidden layer has one Relu); "
                                    f"supported: {SUPPORTED}")
                pending["relu"] = True
            elif op in POOL_OPS:
                shape = self.pool(node, pending, shape, POOL_OPS[op])
            elif op == "GlobalAveragePool":
                self.unsupported(node, "pools the whole feature map; only a Conv's non-overlapping windows (kernel "
                                       "= stride) can be mapped, AveragePool after its Relu")
            elif op == "Flatten":
                axis = _attrs(node).get("axis", 1)
                if axis != 1:
                    self.fail(node, f"has axis {axis}; only Flatten to (batch, features) (axis 1) can be mapped")
                shape = (math.prod(shape),)
            elif op == "Reshape":
                shape = self.reshape(node, shape)
            elif op == "Add":
                self.unsupported(node, "adds a tensor that is not a MatMul's bias")
            else:
                self.unsupported(node)
            tensor = node.output[0]
        if pending is None:
            raise LayerPipeError(f"{self.where}: the graph has no Gemm, MatMul or Conv layer; supported: {SUPPORTED}")
        self.finish(pending, None, last=True, layers=layers)
        unused = [i.name for i in self.inputs[1:]]
        if unused:
            raise LayerPipeError(f"{self.where}: the graph has a second input '{unused[0]}'; the project takes one "
                                 "input tensor (weights must be initializers: torch.onnx.export(..., "
                                 "export_params=True))")
        return self.build(layers)

    def ignore(self, nodes) -> None:
        ops = sorted({n.op_type for n in nodes})
        self.notes.append(f"ignored the label outputs after the last layer ({', '.join(ops)} and what follows)")

    def pass_through(self, node) -> None:
        if node.op_type == "Cast" and _attrs(node).get("to") not in FLOAT_TYPES:
            self.fail(node, "casts to a non-float type; only a Cast to float can be passed through")
        if node.op_type == "Dropout" and len(node.input) > 2 and node.input[2]:
            self.fail(node, "has a training_mode input; export the model in inference mode (model.eval())")

    def const(self, node, name: str, what: str) -> np.ndarray:
        if name not in self.consts:
            self.fail(node, f"has its {what} '{name}' computed or fed at run time, not stored as an initializer; "
                            "export the model with its weights as initializers (torch.onnx.export's "
                            "export_params=True, skl2onnx does)")
        return np.asarray(self.consts[name], dtype=np.float64)

    def dense(self, node, tensor: str, shape: tuple[int, ...]):
        if len(shape) != 1:
            self.fail(node, f"takes a {len(shape) + 1}-D tensor (batch, {', '.join(map(str, shape))}); put a "
                            "Flatten before it")
        features = shape[0]
        attrs = _attrs(node)
        if node.op_type == "Gemm":
            for key in ("alpha", "beta"):
                if not math.isclose(attrs.get(key, 1.0), 1.0):
                    self.fail(node, f"has {key} = {attrs[key]}; only alpha = beta = 1 can be mapped (fold the "
                                    "scale into the weights)")
            if attrs.get("transA", 0) or node.input[0] != tensor:
                self.fail(node, "does not take the activations as its first input untransposed (transA = 0); "
                                "only x·W (+ b) can be mapped")
            matrix = self.const(node, node.input[1], "weight")
            if matrix.ndim != 2:
                self.fail(node, f"has a {matrix.ndim}-D weight; Gemm's B is a matrix")
            weights = matrix if attrs.get("transB", 0) else matrix.T
            bias_name = node.input[2] if len(node.input) > 2 and node.input[2] else None
        else:
            if node.input[0] != tensor:
                self.fail(node, "takes the activations as its second input; only x·W can be mapped")
            matrix = self.const(node, node.input[1], "weight")
            if matrix.ndim != 2:
                self.fail(node, f"has a {matrix.ndim}-D weight; only a (features, outputs) matrix can be mapped")
            weights = matrix.T
            bias_name = None
        out = weights.shape[0]
        if weights.shape[1] != features:
            self.fail(node, f"has weights for {weights.shape[1]} inputs but gets {features} features")
        bias = None
        if bias_name is not None:
            bias = self.bias(node, self.const(node, bias_name, "bias"), out)
        layer_node = node
        if node.op_type == "MatMul":  # its bias, if any, is the next node: Add(x·W, b)
            users = self.consumers.get(node.output[0], [])
            if len(users) == 1 and users[0].op_type == "Add":
                add = users[0]
                other = [name for name in add.input if name != node.output[0]]
                if len(other) != 1 or other[0] not in self.consts:
                    self.fail(add, "does not add a constant bias to the MatMul before it; only x·W + b can be "
                                   f"mapped (supported: {SUPPORTED})")
                bias = self.bias(add, self.const(add, other[0], "bias"), out)
                node = add
        layer = {"kind": "fc", "out": out, "name": layer_node.name, "bias": bias is not None,
                 "W": weights, "b": bias, "relu": False, "pool": 1, "node": layer_node}
        return layer, node

    def bias(self, node, value: np.ndarray, out: int) -> np.ndarray:
        if value.size != out or value.ndim > 2 or (value.ndim == 2 and value.shape[0] != 1):
            self.fail(node, f"has a bias of shape {value.shape}; the layer needs ({out},) or (1, {out})")
        return value.reshape(out)

    def conv(self, node, tensor: str, shape: tuple[int, ...]) -> dict:
        if len(shape) != 3:
            self.fail(node, f"takes a 2-D tensor (batch, {shape[0]}); a Conv needs (batch, channels, height, width)")
        if node.input[0] != tensor:
            self.fail(node, "does not take the activations as its first input")
        weights = self.const(node, node.input[1], "weight")
        attrs = _attrs(node)
        if weights.ndim != 4 or weights.shape[2] != weights.shape[3]:
            self.fail(node, f"has weights of shape {weights.shape}; only a square 2-D kernel (O, C, K, K) can "
                            "be mapped")
        out_channels, channels, kernel, _ = weights.shape
        if attrs.get("group", 1) != 1:
            self.fail(node, f"has group = {attrs['group']}; only group 1 (a plain convolution) can be mapped")
        if channels != shape[0]:
            self.fail(node, f"has weights for {channels} input channels but gets {shape[0]}")
        if list(attrs.get("kernel_shape", [kernel, kernel])) != [kernel, kernel]:
            self.fail(node, f"has kernel_shape {list(attrs['kernel_shape'])} but weights of shape {weights.shape}")
        if any(d != 1 for d in attrs.get("dilations", [1, 1])):
            self.fail(node, f"has dilations {list(attrs['dilations'])}; only dilation 1 can be mapped")
        strides = list(attrs.get("strides", [1, 1]))
        if len(set(strides)) != 1:
            self.fail(node, f"has strides {strides}; only equal strides in both directions can be mapped")
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
        if auto_pad not in ("NOTSET", "VALID"):
            self.fail(node, f"has auto_pad {auto_pad}; give explicit symmetric pads")
        pads = [0, 0, 0, 0] if auto_pad == "VALID" else list(attrs.get("pads", [0, 0, 0, 0]))
        if len(set(pads)) != 1:
            self.fail(node, f"has pads {pads}; only symmetric pads (the same on every side) can be mapped")
        stride, padding = int(strides[0]), int(pads[0])
        bias = None
        if len(node.input) > 2 and node.input[2]:
            bias = self.bias(node, self.const(node, node.input[2], "bias"), out_channels)
        height, width = ((n + 2 * padding - kernel) // stride + 1 for n in shape[1:])
        if height < 1 or width < 1:
            self.fail(node, f"leaves no output from a {shape[1]}x{shape[2]} input")
        return {"kind": "conv", "out_channels": int(out_channels), "kernel": int(kernel), "stride": stride,
                "padding": padding, "pool": 1, "pool_mode": DEFAULT_POOL_MODE, "name": node.name,
                "bias": bias is not None, "W": weights, "b": bias, "relu": False, "node": node,
                "shape": (int(out_channels), height, width)}

    def pool(self, node, pending: dict | None, shape: tuple[int, ...], mode: str) -> tuple[int, ...]:
        """A MaxPool or AveragePool folded into the conv layer before it as its ``pool`` and ``pool_mode``."""
        op = node.op_type
        if pending is None or pending["kind"] != "conv" or pending["pool"] != 1:
            self.fail(node, f"does not follow a Conv (and its Relu); {POOL_MODES[mode].title} is folded into the "
                            "conv layer before it, once")
        if not POOL_MODES[mode].commutes_with_relu and not pending["relu"]:
            self.fail(node, "comes before the conv layer's Relu; averaging does not commute with ReLU: only "
                            f"Conv → Relu → {op} can be mapped")
        attrs = _attrs(node)
        kernel = list(attrs.get("kernel_shape", []))
        strides = list(attrs.get("strides", [1] * len(kernel)))
        if len(kernel) != 2 or kernel[0] != kernel[1] or strides != kernel:
            self.fail(node, f"has kernel_shape {kernel} and strides {strides}; only square windows with "
                            "stride = kernel (non-overlapping) can be mapped")
        auto_pad = attrs.get("auto_pad", b"NOTSET")
        auto_pad = auto_pad.decode() if isinstance(auto_pad, bytes) else str(auto_pad)
        if any(attrs.get("pads", [0])) or auto_pad not in ("NOTSET", "VALID"):
            self.fail(node, f"pads its input; only {op} without padding can be mapped")
        if attrs.get("ceil_mode", 0) or any(d != 1 for d in attrs.get("dilations", [1])):
            self.fail(node, "has ceil_mode or dilations; only the default floor mode without dilation can be mapped")
        pool = int(kernel[0])
        if not POOL_MODES[mode].argmax and pool & (pool - 1):
            self.fail(node, f"has kernel_shape {kernel}; the mean divides by the window's size as a shift: only a "
                            "power-of-two window (2x2, 4x4, ...) can be mapped")
        if shape[1] // pool < 1 or shape[2] // pool < 1:
            self.fail(node, f"pools {pool}x{pool} windows of a {shape[1]}x{shape[2]} output")
        pending["pool"], pending["pool_mode"] = pool, mode
        return (shape[0], shape[1] // pool, shape[2] // pool)

    def reshape(self, node, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(node.input) < 2 or node.input[1] not in self.consts:
            self.fail(node, "takes its shape from a tensor computed at run time (a dynamic shape); use Flatten "
                            "(torch.flatten, nn.Flatten) or a constant shape (batch, features)")
        target = [int(v) for v in np.asarray(self.consts[node.input[1]]).reshape(-1)]
        features = math.prod(shape)
        if len(target) != 2 or target[0] not in (-1, 0, 1) or target[1] not in (-1, features) or target == [-1, -1]:
            self.fail(node, f"reshapes (batch, {', '.join(map(str, shape))}) to {target}; only (batch, features) "
                            f"= [-1, {features}] can be mapped")
        return (features,)

    def softmax(self, node, pending: dict | None, shape: tuple[int, ...]) -> None:
        if pending is None or pending["kind"] != "fc" or pending["relu"]:
            self.fail(node, "does not follow the last Gemm/MatMul directly; only a final Softmax/LogSoftmax on the "
                            "linear outputs can be dropped")
        axis = _attrs(node).get("axis", -1)
        if axis not in (-1, 1):
            self.fail(node, f"has axis {axis}; only a Softmax over the outputs (axis 1 or -1) can be dropped")
        downstream, frontier = [], list(node.output)
        while frontier:
            for user in self.consumers.get(frontier.pop(), []):
                if user.op_type in LAYER_OPS:
                    self.fail(node, f"is followed by {_node_name(user, self.index[id(user)])}; a Softmax/LogSoftmax "
                                    "can be dropped only as the last op of the float chain")
                if user not in downstream:
                    downstream.append(user)
                    frontier.extend(user.output)
        self.notes.append(f"dropped the final {node.op_type} ({_node_name(node, self.index[id(node)])}): training "
                          "uses squared error on the linear outputs; the predicted class (the largest output) is "
                          "the same")
        if downstream:
            self.ignore(downstream)

    def finish(self, pending: dict | None, next_node, last: bool, layers: list[dict]) -> None:
        if pending is None:
            return
        node = pending["node"]
        if not last and not pending["relu"]:
            what = f"before {_node_name(next_node, self.index[id(next_node)])}"
            self.fail(node, f"is a hidden layer without a Relu {what}; the model's hidden layers are ReLU "
                            "(add the Relu)")
        if last:
            if pending["kind"] != "fc":
                self.fail(node, "is the last layer; the model's output layer is fully connected and linear: end "
                                "with a Gemm or MatMul")
            if pending["relu"]:
                self.fail(node, "is the last layer but has a Relu after it; the model's output layer is linear "
                                "(drop the final Relu)")
        layers.append(pending)

    def build(self, layers: list[dict]) -> Network:
        names, specs = set(), []
        for index, layer in enumerate(layers, start=1):
            name = layer["name"] or f"layer{index}"
            if name in names:
                name = f"{name}_{index}"
            names.add(name)
            spec = {k: layer[k] for k in ("kind", "bias")} | {"name": name}
            if layer["kind"] == "fc":
                spec["out"] = layer["out"]
            else:
                spec |= {k: layer[k] for k in ("out_channels", "kernel", "stride", "padding", "pool", "pool_mode")}
            specs.append(spec)
        shape = self.input[0] if len(self.input) == 1 else list(self.input)
        network = network_from_dict({"name": self.stem, "input": shape, "layers": specs}, source=self.where)
        initial = InitialParameters(self.where, tuple(layer["W"] for layer in layers),
                                    tuple(layer["b"] for layer in layers), tuple(self.notes))
        return dataclasses.replace(network, initial=initial)


def range_notes(network: Network, fmt: FixedFormat | None = None) -> list[str]:
    """One line per layer whose initial weights or biases (from the network's file) lie outside the
    fixed-point range: fixed-point numerics saturate them (a warning, not an error: training runs)."""
    if network.initial is None:
        return []
    fmt = fmt or FixedFormat()
    low, high = fmt.data_min / fmt.one, fmt.data_max / fmt.one
    lines = []
    for layer, w, b in zip(network.layers, network.initial.weights, network.initial.biases):
        values = np.concatenate([np.ravel(w)] + ([] if b is None else [np.ravel(b)]))
        words = np.floor(values * fmt.one + 0.5)
        outside = (words > fmt.data_max) | (words < fmt.data_min)
        if outside.any():
            lines.append(f"warning: {network.initial.source}: {int(outside.sum())} parameters of layer {layer.index} "
                         f"('{layer.name}') lie outside the fixed-point range [{low:g}, {high:g}] (largest magnitude "
                         f"{np.abs(values).max():.4g}); fixed-point training saturates them (docs/networks.md)")
    return lines


def messages(network: Network, fmt: FixedFormat | None = None) -> list[str]:
    """What a command prints (stderr) on loading ``network``: the import's notes and :func:`range_notes`."""
    if network.initial is None:
        return []
    return [f"note: {network.initial.source}: {note}" for note in network.initial.notes] + range_notes(network, fmt)


# -- export ------------------------------------------------------------------------------------

def onnx_model(network: Network, weights, biases=None, producer: str = "layerpipe"):
    """A standard ONNX model of ``network`` with ``weights`` (fc (N_out, N_in), conv (O, C, K, K)) and
    ``biases`` (one entry per layer, None for a layer without one) as float32 initializers:
    Conv → Relu → MaxPool or AveragePool (the layer's pool_mode), Flatten before the first fc after a conv,
    Gemm (transB = 1) → Relu, a linear last Gemm."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if len(weights) != network.depth:
        raise LayerPipeError(f"{len(weights)} weight arrays for a {network.depth}-layer network; give one per layer")
    biases = [None] * network.depth if biases is None else list(biases)
    nodes, inits = [], []
    tensor = "input"
    for layer, w, b in zip(network.layers, weights, biases):
        prefix = f"l{layer.index}"
        w = np.asarray(w, dtype=np.float32)
        inits.append(numpy_helper.from_array(w, f"{prefix}.weight"))
        inputs = [tensor, f"{prefix}.weight"]
        if layer.bias and b is not None:
            inits.append(numpy_helper.from_array(np.asarray(b, dtype=np.float32), f"{prefix}.bias"))
            inputs.append(f"{prefix}.bias")
        hidden = layer.index < network.depth
        if layer.kind == "conv":
            nodes.append(helper.make_node("Conv", inputs, [f"{prefix}.z"], name=layer.name,
                                          kernel_shape=[layer.kernel] * 2, strides=[layer.stride] * 2,
                                          pads=[layer.padding] * 4))
            nodes.append(helper.make_node("Relu", [f"{prefix}.z"], [f"{prefix}.a"], name=f"{layer.name}.relu"))
            tensor = f"{prefix}.a"
            if layer.pool > 1:
                nodes.append(helper.make_node(POOL_MODES[layer.pool_mode].onnx_op, [tensor], [f"{prefix}.pool"],
                                              name=f"{layer.name}.pool", kernel_shape=[layer.pool] * 2,
                                              strides=[layer.pool] * 2))
                tensor = f"{prefix}.pool"
            continue
        if layer.in_volume:
            nodes.append(helper.make_node("Flatten", [tensor], [f"{prefix}.flat"], name=f"{layer.name}.flatten",
                                          axis=1))
            inputs[0] = tensor = f"{prefix}.flat"
        out = f"{prefix}.z" if hidden else "output"
        nodes.append(helper.make_node("Gemm", inputs, [out], name=layer.name, transB=1))
        tensor = out
        if hidden:
            nodes.append(helper.make_node("Relu", [out], [f"{prefix}.a"], name=f"{layer.name}.relu"))
            tensor = f"{prefix}.a"
    graph = helper.make_graph(
        nodes, network.name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", *network.input_shape])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", network.layers[-1].out_size])],
        inits)
    model = helper.make_model(graph, producer_name=producer, opset_imports=[helper.make_opsetid("", EXPORT_OPSET)])
    model.ir_version = EXPORT_IR_VERSION
    onnx.checker.check_model(model)
    return model


def check_export_path(path, option: str = "--export") -> Path:
    """Refuse, before any work, an export path that is not a .onnx file or cannot be written."""
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise LayerPipeError(f"{option} '{path}': give a file name ending in .onnx")
    if path.is_dir():
        raise LayerPipeError(f"{option} '{path}' is a folder; give a file name ending in .onnx")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise LayerPipeError(f"{option} '{path}': '{folder}' is not a writable folder; choose a path you can write")
    return path


def write_onnx(path, network: Network, weights, biases=None, option: str = "--export") -> Path:
    """Write :func:`onnx_model` to ``path`` atomically (a temporary file, then a rename; umask honoured)."""
    path = check_export_path(path, option)
    data = onnx_model(network, weights, biases).SerializeToString()
    try:
        with open_atomic(path, binary=True) as f:
            f.write(data)
    except OSError as exc:
        raise LayerPipeError(f"{option} '{path}': cannot write it ({exc.strerror or exc}); choose a path you "
                             "can write") from None
    return path
