"""ONNX models for the import and export tests: a scikit-learn MLPClassifier converted with skl2onnx, as a
user's would be, and small graphs built with onnx.helper (a CNN with Gemm, Conv, Relu, MaxPool and Flatten,
and the graphs the importer must refuse)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DIGITS_SCALE = 16.0  # the digits' pixels are 0..16; the project's --data digits scales them by 1/16 exactly


def digits(samples: int | None = None, images: bool = False) -> np.ndarray:
    from sklearn.datasets import load_digits

    x = load_digits().data[:samples] / DIGITS_SCALE
    return x.reshape(-1, 1, 8, 8) if images else x


def sklearn_mlp(path: Path, zipmap: bool = False, hidden=(32,), max_iter: int = 20) -> tuple[Path, object]:
    """An MLPClassifier trained briefly on all of digits, converted with skl2onnx (Cast, MatMul, Add, Relu,
    Softmax, then ArgMax/label outputs; ZipMap too with ``zipmap``)."""
    from skl2onnx import to_onnx
    from sklearn.datasets import load_digits
    from sklearn.neural_network import MLPClassifier

    data = load_digits()
    clf = MLPClassifier(hidden_layer_sizes=hidden, max_iter=max_iter, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: max_iter is small on purpose
        clf.fit(data.data / DIGITS_SCALE, data.target)
    model = to_onnx(clf, (data.data[:1] / DIGITS_SCALE).astype(np.float32), options={"zipmap": zipmap})
    onnx.save(model, str(path))
    return path, clf


def with_output(path: Path, tensor: str, out: Path) -> Path:
    """The model at ``path`` with the inner tensor ``tensor`` as an extra float output (the logits before
    a Softmax), for comparing with the golden model's linear outputs."""
    model = onnx.load(str(path))
    model.graph.output.append(helper.make_tensor_value_info(tensor, TensorProto.FLOAT, None))
    onnx.save(model, str(out))
    return out


def tensor(name: str, array) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def save_graph(path: Path, nodes, inits, input_shape, output="y", inputs=()) -> Path:
    """A one-input graph (float, batch dimension 'N' unless ``input_shape`` gives its own first entry)."""
    shape = list(input_shape) if isinstance(input_shape[0], str) else ["N", *input_shape]
    graph = helper.make_graph(nodes, path.stem, [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape),
                                                 *inputs],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def cnn_parts(seed: int = 0, scale: float = 0.4, pool_op: str = "MaxPool"):
    """The nodes and initializers of a digits CNN: Conv(1→4, 3x3, pad 1, bias) → Relu → MaxPool 2 → Conv(4→6,
    3x3, pad 1, no bias) → Relu → MaxPool 2 → Flatten → Gemm(24→16, transB 1) → Relu → Gemm(16→10, transB 0);
    ``pool_op`` "AveragePool" pools by the mean instead."""
    rng = np.random.default_rng(seed)

    def r(*shape):
        return rng.uniform(-scale, scale, size=shape)

    inits = [tensor("c1.w", r(4, 1, 3, 3)), tensor("c1.b", r(4)), tensor("c2.w", r(6, 4, 3, 3)),
             tensor("f1.w", r(16, 24)), tensor("f1.b", r(16)), tensor("f2.w", r(16, 10)), tensor("f2.b", r(10))]
    nodes = [
        helper.make_node("Conv", ["x", "c1.w", "c1.b"], ["c1"], name="conv1", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node(pool_op, ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["p1", "c2.w"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node(pool_op, ["r2"], ["p2"], name="pool2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p2"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "f1.w", "f1.b"], ["g1"], name="fc1", transB=1),
        helper.make_node("Relu", ["g1"], ["r3"], name="relu3"),
        helper.make_node("Gemm", ["r3", "f2.w", "f2.b"], ["y"], name="fc2"),
    ]
    return nodes, inits


def helper_cnn(path: Path, seed: int = 0, pool_op: str = "MaxPool") -> Path:
    nodes, inits = cnn_parts(seed, pool_op=pool_op)
    return save_graph(path, nodes, inits, (1, 8, 8))


def mlp_parts(sizes=(16, 12, 4), seed: int = 0, scale: float = 0.5, bias: bool = True):
    """Gemm (transB 1) → Relu → … → Gemm of ``sizes``, with biases unless ``bias`` is false: nodes fc1..,
    tensors h1.., output y."""
    rng = np.random.default_rng(seed)
    nodes, inits, tensor_in = [], [], "x"
    for index, (n_in, n_out) in enumerate(zip(sizes, sizes[1:]), start=1):
        inits.append(tensor(f"w{index}", rng.uniform(-scale, scale, (n_out, n_in))))
        if bias:
            inits.append(tensor(f"b{index}", rng.uniform(-scale, scale, n_out)))
        last = index == len(sizes) - 1
        out = "y" if last else f"z{index}"
        inputs = [tensor_in, f"w{index}"] + ([f"b{index}"] if bias else [])
        nodes.append(helper.make_node("Gemm", inputs, [out], name=f"fc{index}", transB=1))
        if not last:
            nodes.append(helper.make_node("Relu", [out], [f"h{index}"], name=f"relu{index}"))
            tensor_in = f"h{index}"
    return nodes, inits
