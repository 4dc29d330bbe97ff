"""Built-in networks. ``mlp-digits`` is the default workload, ``cnn-digits`` its convolutional
counterpart on the same 8×8 images (docs/networks.md). The zoo's layers have no biases, as the
paper's task model has none; ``mlp-digits-bias`` and ``cnn-digits-bias`` are the digits networks
with one in every layer, and ``cnn-digits-avg`` is ``cnn-digits`` with average pooling.

The ImageNet networks follow torchvision's layer shapes, with pooling folded into
the preceding convolution (``pool``). ResNet-18 is folded into a chain: each basic
block contributes its two 3x3 convolutions in order; identity shortcuts add only
element-wise work and are left out; a projection (1x1, stride 2) shortcut is folded
into the first convolution of its block, whose F, B and G tasks then carry its MACs
and weights too (docs/networks.md).
"""

from __future__ import annotations

from pathlib import Path

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import NETWORK_FILE_TYPES, Network, network_from_dict, read_network_file

__all__ = ["ZOO", "DEFAULT_NETWORK", "zoo_network", "load_network"]

DEFAULT_NETWORK = "mlp-digits"


def _fc(out: int, name: str) -> dict:
    return {"kind": "fc", "out": out, "name": name, "bias": False}


def _conv(out: int, kernel: int, name: str, stride: int = 1, padding: int = 0, pool: int = 1,
          projection: bool = False) -> dict:
    spec = {"kind": "conv", "out_channels": out, "kernel": kernel, "stride": stride, "padding": padding,
            "pool": pool, "name": name, "bias": False}
    if projection:
        spec["projection"] = True
    return spec


def _vgg16() -> dict:
    layers, stages = [], [(64, 2), (128, 2), (256, 3), (512, 3), (512, 3)]
    for stage, (channels, convs) in enumerate(stages, start=1):
        for conv in range(1, convs + 1):
            pool = 2 if conv == convs else 1
            layers.append(_conv(channels, 3, f"conv{stage}_{conv}", padding=1, pool=pool))
    layers += [_fc(4096, "fc6"), _fc(4096, "fc7"), _fc(1000, "fc8")]
    return {"name": "vgg16", "input": [3, 224, 224], "layers": layers}


def _resnet18() -> dict:
    layers = [_conv(64, 7, "conv1", stride=2, padding=3, pool=2)]
    for stage, channels in enumerate((64, 128, 256, 512), start=1):
        for block in (1, 2):
            downsample = stage > 1 and block == 1
            layers.append(_conv(channels, 3, f"layer{stage}.{block}.conv1", stride=2 if downsample else 1,
                                padding=1, projection=downsample))
            last = stage == 4 and block == 2
            layers.append(_conv(channels, 3, f"layer{stage}.{block}.conv2", padding=1,
                                pool=7 if last else 1))  # global average pool folded in
    layers.append(_fc(1000, "fc"))
    return {"name": "resnet18", "input": [3, 224, 224], "layers": layers}


def _with_biases(spec: dict) -> dict:
    return spec | {"name": f"{spec['name']}-bias", "layers": [layer | {"bias": True} for layer in spec["layers"]]}


def _with_average_pooling(spec: dict) -> dict:
    return spec | {"name": f"{spec['name']}-avg", "layers": [
        layer | {"pool_mode": "average"} if layer["kind"] == "conv" else layer for layer in spec["layers"]]}


ZOO = {
    "mlp-digits": {"name": "mlp-digits", "input": 64,
                   "layers": [_fc(32, "fc1"), _fc(16, "fc2"), _fc(10, "fc3")]},
    "cnn-digits": {"name": "cnn-digits", "input": [1, 8, 8],
                   "layers": [_conv(8, 3, "conv1", padding=1, pool=2), _conv(16, 3, "conv2", padding=1, pool=2),
                              _fc(10, "fc")]},
    "lenet5": {"name": "lenet5", "input": [1, 32, 32],
               "layers": [_conv(6, 5, "c1", pool=2), _conv(16, 5, "c3", pool=2),
                          _fc(120, "c5"), _fc(84, "f6"), _fc(10, "output")]},
    "alexnet": {"name": "alexnet", "input": [3, 224, 224],
                "layers": [_conv(64, 11, "conv1", stride=4, padding=2, pool=2),
                           _conv(192, 5, "conv2", padding=2, pool=2),
                           _conv(384, 3, "conv3", padding=1),
                           _conv(256, 3, "conv4", padding=1),
                           _conv(256, 3, "conv5", padding=1, pool=2),
                           _fc(4096, "fc6"), _fc(4096, "fc7"), _fc(1000, "fc8")]},
    "vgg16": _vgg16(),
    "resnet18": _resnet18(),
}
# The zoo is bias-free, as the paper's task model is; these two are the digits networks with a bias
# in every layer, as PyTorch, ONNX and network files have by default.
ZOO |= {f"{name}-bias": _with_biases(ZOO[name]) for name in ("mlp-digits", "cnn-digits")}
ZOO["cnn-digits-avg"] = _with_average_pooling(ZOO["cnn-digits"])


def zoo_network(name: str) -> Network:
    if name not in ZOO:
        raise LayerPipeError(f"unknown zoo network '{name}'; choose one of {', '.join(ZOO)}")
    return network_from_dict(ZOO[name], source=name)


def load_network(name_or_path: str) -> Network:
    """A zoo name (``mlp-digits``, ``vgg16``, …), the path of a network file or of an ONNX model
    (whose initializers become the network's initial parameters: core/onnx_model.py)."""
    if name_or_path in ZOO:
        return zoo_network(name_or_path)
    path = Path(name_or_path)
    if path.suffix.lower() in NETWORK_FILE_TYPES:
        return read_network_file(path)
    if path.suffix.lower() == ".onnx":
        from layerpipe.core.onnx_model import read_onnx

        return read_onnx(path)
    raise LayerPipeError(f"unknown network '{name_or_path}'; use a zoo name ({', '.join(ZOO)}), "
                         "a .toml/.yaml/.json file or an .onnx model")
