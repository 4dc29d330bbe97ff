"""ONNX in and out (core/onnx_model.py): a scikit-learn MLPClassifier and an onnx.helper CNN import with
their initializers, the float golden model's forward pass equals onnxruntime's, they train with
`layerpipe train` from those weights, `train --export` round-trips through onnxruntime, and every input
the network model cannot express is refused in one line with no file written."""

from __future__ import annotations

import json

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import helper, numpy_helper

from layerpipe.cli import main
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.onnx_model import range_notes, read_onnx
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import load_network
from layerpipe.sim import golden
from layerpipe.sim.datasets import load_data
from layerpipe.sim.learning import learning_curve
from tests.helpers.onnx_models import (
    cnn_parts,
    digits,
    helper_cnn,
    mlp_parts,
    save_graph,
    sklearn_mlp,
    tensor,
    with_output,
)

SAMPLES = 100


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("onnx")
    mlp, clf = sklearn_mlp(folder / "mlp.onnx")
    zipmapped, _ = sklearn_mlp(folder / "mlp-zipmap.onnx", zipmap=True)
    return {"mlp": mlp, "clf": clf, "zipmap": zipmapped, "cnn": helper_cnn(folder / "cnn.onnx"),
            "cnn-avg": helper_cnn(folder / "cnn-avg.onnx", pool_op="AveragePool"), "folder": folder}


def forward(network, x):
    return golden.evaluate(golden.initial_weights(network), x, "float", network=network,
                           biases=golden.initial_biases(network))


def runtime(path, x, output=0):
    session = ort.InferenceSession(str(path))
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[output]


# -- import --------------------------------------------------------------------------------------

def test_the_sklearn_mlp_imports_with_its_coefficients(models):
    network, clf = load_network(str(models["mlp"])), models["clf"]
    assert network.to_dict()["layers"] == [{"name": "MatMul", "kind": "fc", "out": 32, "bias": True},
                                           {"name": "MatMul1", "kind": "fc", "out": 10, "bias": True}]
    assert network.input_shape == (64,)
    for w, b, coef, intercept in zip(network.initial.weights, network.initial.biases, clf.coefs_, clf.intercepts_):
        np.testing.assert_array_equal(w, coef.T.astype(np.float32))
        np.testing.assert_array_equal(b, intercept.astype(np.float32))
    assert any("dropped the final Softmax" in note and "squared error" in note for note in network.initial.notes)


@pytest.mark.parametrize("which", ["mlp", "zipmap"])
def test_sklearn_forward_pass_equals_onnxruntime(models, which, tmp_path):
    """The logits (the tensor before the dropped Softmax) and the probabilities both agree to 1e-5."""
    network, x = load_network(str(models[which])), digits(SAMPLES)
    ours = forward(network, x)
    logits = runtime(with_output(models[which], "add_result1", tmp_path / "logits.onnx"), x, output=2)
    assert np.abs(ours - logits).max() < 1e-5
    probabilities = runtime(models[which], x, output=1)
    if which == "zipmap":
        probabilities = np.array([[row[k] for k in range(10)] for row in probabilities])
    softmax = np.exp(ours - ours.max(axis=1, keepdims=True))
    assert np.abs(softmax / softmax.sum(axis=1, keepdims=True) - probabilities).max() < 1e-5
    assert (ours.argmax(axis=1) == models["clf"].predict(x)).all()


def test_the_helper_cnn_imports_and_its_forward_pass_equals_onnxruntime(models):
    network, x = load_network(str(models["cnn"])), digits(SAMPLES, images=True)
    assert network.to_dict() == {"name": "cnn", "input": [1, 8, 8], "layers": [
        {"name": "conv1", "kind": "conv", "out_channels": 4, "kernel": 3, "stride": 1, "padding": 1, "pool": 2,
         "bias": True},
        {"name": "conv2", "kind": "conv", "out_channels": 6, "kernel": 3, "stride": 1, "padding": 1, "pool": 2,
         "bias": False},
        {"name": "fc1", "kind": "fc", "out": 16, "bias": True},
        {"name": "fc2", "kind": "fc", "out": 10, "bias": True}]}
    ours, theirs = forward(network, x), runtime(models["cnn"], x)
    assert ours.shape == theirs.shape == (SAMPLES, 10)
    assert np.abs(ours - theirs).max() < 1e-5
    assert np.abs(theirs).max() > 0.1  # not a trivially zero network


def test_average_pool_after_relu_imports_and_its_forward_pass_equals_onnxruntime(models):
    network, x = load_network(str(models["cnn-avg"])), digits(SAMPLES, images=True)
    convs = [layer for layer in network.layers if layer.kind == "conv"]
    assert [(layer.pool, layer.pool_mode) for layer in convs] == [(2, "average"), (2, "average")]
    ours, theirs = forward(network, x), runtime(models["cnn-avg"], x)
    assert np.abs(ours - theirs).max() < 1e-5
    max_pooled = runtime(models["cnn"], x)  # the same weights: the mean gives other outputs than the maximum
    assert np.abs(theirs - max_pooled).max() > 0.01


def test_matmul_after_flatten_and_pools_in_either_order_with_relu(tmp_path):
    """MaxPool before Relu (they commute), Reshape to (batch, features), MatMul + Add(b, x·W) and a
    LogSoftmax: the same network and outputs as onnxruntime's logits."""
    rng = np.random.default_rng(1)
    inits = [tensor("cw", rng.uniform(-1, 1, (3, 1, 3, 3))), numpy_helper.from_array(np.array([-1, 27]), "shape"),
             tensor("mw", rng.uniform(-1, 1, (27, 5))), tensor("mb", rng.uniform(-1, 1, (1, 5)))]
    nodes = [helper.make_node("Conv", ["x", "cw"], ["c"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["c"], ["p"], name="pool", kernel_shape=[2, 2], strides=[2, 2]),
             helper.make_node("Relu", ["p"], ["r"], name="relu"),
             helper.make_node("Reshape", ["r", "shape"], ["flat"], name="reshape"),
             helper.make_node("MatMul", ["flat", "mw"], ["m"], name="dense"),
             helper.make_node("Add", ["mb", "m"], ["logits"], name="bias"),
             helper.make_node("LogSoftmax", ["logits"], ["y"], name="logsoftmax")]
    path = save_graph(tmp_path / "small.onnx", nodes, inits, (1, 6, 6))
    network = read_onnx(path)
    assert [(layer.kind, layer.pool, layer.bias) for layer in network.layers] == [("conv", 2, False), ("fc", 1, True)]
    x = rng.uniform(0, 1, (SAMPLES, 1, 6, 6))
    logits = runtime(with_output(path, "logits", tmp_path / "logits.onnx"), x, output=1)
    assert np.abs(forward(network, x) - logits).max() < 1e-5


# -- training from the file's weights --------------------------------------------------------------

def train(capsys, *argv):
    status = main(["train", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.mark.parametrize("which", ["mlp", "cnn"])
def test_layerpipe_train_starts_from_the_files_weights(models, which, capsys):
    status, out, err = train(capsys, "--network", str(models[which]), "--epochs", "1", "--processors", "2",
                             "--json")
    assert status == 0, err
    history = json.loads(out)["history"]
    network = load_network(str(models[which]))
    dataset = load_data("digits", network)
    fmt = FixedFormat()
    start = golden.accuracy([fmt.quantize(w) for w in golden.initial_weights(network)],
                            dataset.test.inputs("fixed", fmt, network), dataset.test.labels, "fixed", fmt, network,
                            [None if b is None else fmt.quantize(b) for b in golden.initial_biases(network)])
    assert history[0]["test_accuracy"] == start  # epoch 0: the file's weights, not Glorot's
    if which == "mlp":
        assert start > 0.85 and "dropped the final Softmax" in err  # the classifier was trained already
    assert history[1]["test_accuracy"] is not None


# -- export ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("which, numerics", [("cnn", "fixed"), ("cnn-avg", "fixed"), ("mlp", "float"),
                                             ("zoo", "fixed")])
def test_train_export_round_trips_through_onnxruntime(models, which, numerics, tmp_path, capsys):
    source = "mlp-digits-bias" if which == "zoo" else str(models[which])
    out = tmp_path / "trained.onnx"
    status, text, err = train(capsys, "--network", source, "--epochs", "1", "--processors", "2", "--numerics",
                              numerics, "--export", str(out))
    assert status == 0, err
    assert f"written to {out}" in text
    network = load_network(source)
    fmt = FixedFormat()
    curve = learning_curve(network, schedule(network, 2, "layerpipe"), "stash", numerics, fmt, epochs=1)
    real = (lambda v: v) if numerics == "float" else fmt.to_real
    weights = [real(w) for w in curve.weights]
    biases = [None if b is None else real(b) for b in curve.biases]
    exported = read_onnx(out)
    pool_ops = {"cnn": ["MaxPool"] * 2, "cnn-avg": ["AveragePool"] * 2}.get(which, [])
    assert [n.op_type for n in onnx.load(str(out)).graph.node if n.op_type.endswith("Pool")] == pool_ops
    assert exported.to_dict()["layers"] == [{**layer, "name": layer["name"] or f"layer{i}"}
                                            for i, layer in enumerate(network.to_dict()["layers"], start=1)]
    for w, ew, b, eb in zip(weights, exported.initial.weights, biases, exported.initial.biases):
        if numerics == "fixed":  # 16-bit words are exact in float32
            np.testing.assert_array_equal(ew, w)
            assert (b is None) == (eb is None) and (b is None or np.array_equal(eb, b))
        else:
            np.testing.assert_allclose(ew, w, rtol=1e-6, atol=1e-7)
    x = digits(SAMPLES, images=network.layers[0].kind == "conv")
    ours = golden.evaluate(weights, x, "float", network=network, biases=biases)
    assert np.abs(runtime(out, x) - ours).max() < 1e-5
    assert not list(tmp_path.glob(".*.tmp"))


# -- refusals: one line, exit status 2, nothing written ----------------------------------------------

def _gemm_chain(tmp_path, name, edit):
    nodes, inits = mlp_parts()
    nodes, inits, shape, extra_inputs = edit(nodes, inits)
    return save_graph(tmp_path / f"{name}.onnx", nodes, inits, shape, inputs=extra_inputs)


def _tanh(nodes, inits):
    nodes[1] = helper.make_node("Tanh", ["z1"], ["h1"], name="act1")
    return nodes, inits, (16,), ()


def _branch(nodes, inits):  # a skip connection: h1 feeds fc2 and an Add
    nodes[2:2] = [helper.make_node("Add", ["h1", "h1"], ["skip"], name="skip")]
    return nodes, inits, (16,), ()


def _dynamic(nodes, inits):
    return nodes, inits, ("N", "features"), ()


def _missing_initializer(nodes, inits):
    from onnx import TensorProto

    inits = [t for t in inits if t.name != "w2"]
    return nodes, inits, (16,), (helper.make_tensor_value_info("w2", TensorProto.FLOAT, [4, 12]),)


def _no_relu(nodes, inits):
    nodes[2].input[0] = "z1"
    del nodes[1]
    return nodes, inits, (16,), ()


def _final_relu(nodes, inits):
    nodes[-1].output[0] = "z2"
    nodes.append(helper.make_node("Relu", ["z2"], ["y"], name="relu_out"))
    return nodes, inits, (16,), ()


def _alpha(nodes, inits):
    nodes[0] = helper.make_node("Gemm", ["x", "w1", "b1"], ["z1"], name="fc1", transB=1, alpha=2.0)
    return nodes, inits, (16,), ()


def _cnn_with(change):
    def edit(nodes, inits):
        nodes, inits = cnn_parts()
        change(nodes, inits)
        return nodes, inits, (1, 8, 8), ()
    return edit


def _average_pool_before_relu(nodes, inits):
    nodes[1:3] = [helper.make_node("AveragePool", ["c1"], ["a1"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
                  helper.make_node("Relu", ["a1"], ["p1"], name="relu1")]


def _average_pool_3x3(nodes, inits):
    nodes[2] = helper.make_node("AveragePool", ["r1"], ["p1"], name="pool1", kernel_shape=[3, 3], strides=[3, 3])


def _global_average_pool(nodes, inits):
    nodes[5] = helper.make_node("GlobalAveragePool", ["r2"], ["p2"], name="gap")


def _asymmetric_pads(nodes, inits):
    nodes[0] = helper.make_node("Conv", ["x", "c1.w", "c1.b"], ["c1"], name="conv1", kernel_shape=[3, 3],
                                pads=[0, 0, 1, 1])


def _overlapping_pool(nodes, inits):
    nodes[2] = helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[3, 3], strides=[2, 2])


def _no_flatten(nodes, inits):
    del nodes[6]
    nodes[6].input[0] = "p2"


def _dynamic_reshape(nodes, inits):
    nodes[6:7] = [helper.make_node("Shape", ["p2"], ["s"], name="shape"),
                  helper.make_node("Reshape", ["p2", "s"], ["flat"], name="view")]


def _grouped(nodes, inits):
    nodes[3] = helper.make_node("Conv", ["p1", "c2.w"], ["c2"], name="conv2", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                group=2)


REFUSALS = {
    "unsupported-op": (_tanh, ["node 'act1' (Tanh)", "is not supported; supported: Gemm"]),
    "branch": (_branch, ["tensor 'h1' feeds 2 nodes", "'skip' (Add)", "branch (skip connection)"]),
    "dynamic-shape": (_dynamic, ["input 'x' dimension 1 is symbolic ('features')", "only the batch dimension"]),
    "missing-initializer": (_missing_initializer, ["node 'fc2' (Gemm)", "'w2'", "not stored as an initializer"]),
    "hidden-without-relu": (_no_relu, ["node 'fc1' (Gemm) is a hidden layer without a Relu"]),
    "final-relu": (_final_relu, ["node 'fc2' (Gemm) is the last layer but has a Relu", "linear"]),
    "gemm-alpha": (_alpha, ["node 'fc1' (Gemm) has alpha = 2.0"]),
    "average-pool-before-relu": (_cnn_with(_average_pool_before_relu), [
        "node 'pool1' (AveragePool) comes before the conv layer's Relu", "does not commute with ReLU",
        "Conv → Relu → AveragePool"]),
    "average-pool-3x3": (_cnn_with(_average_pool_3x3), ["node 'pool1' (AveragePool) has kernel_shape [3, 3]",
                                                         "power-of-two window"]),
    "global-average-pool": (_cnn_with(_global_average_pool), ["node 'gap' (GlobalAveragePool)",
                                                              "supported: Gemm", "AveragePool (kernel = stride"]),
    "asymmetric-pads": (_cnn_with(_asymmetric_pads), ["node 'conv1' (Conv) has pads [0, 0, 1, 1]", "symmetric"]),
    "overlapping-pool": (_cnn_with(_overlapping_pool), ["node 'pool1' (MaxPool)", "stride = kernel"]),
    "no-flatten": (_cnn_with(_no_flatten), ["node 'fc1' (Gemm) takes a 4-D tensor", "Flatten"]),
    "dynamic-reshape": (_cnn_with(_dynamic_reshape), ["node 'view' (Reshape)", "dynamic shape"]),
    "grouped-conv": (_cnn_with(_grouped), ["node 'conv2' (Conv) has group = 2"]),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_bad_models_are_one_line_and_write_nothing(case, tmp_path, capsys):
    edit, words = REFUSALS[case]
    path = _gemm_chain(tmp_path, case, edit)
    out = tmp_path / "out.onnx"
    status, text, err = train(capsys, "--network", str(path), "--epochs", "1", "--export", str(out))
    assert status == 2
    line = err.strip()
    assert "\n" not in line and line.startswith(f"layerpipe train: error: {path}: "), err
    for word in words:
        assert word in line, line
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    with pytest.raises(LayerPipeError):  # the library raises the same, for every command that loads it
        read_onnx(path)


@pytest.mark.parametrize("bad, words", [
    ("sub", "is not a writable folder"),  # its parent is a file
    ("model.txt", "give a file name ending in .onnx"),
    ("folder.onnx", "is a folder"),
])
def test_a_bad_export_path_is_refused_before_training(bad, words, tmp_path, capsys):
    (tmp_path / "sub").write_text("a file, not a folder")
    (tmp_path / "folder.onnx").mkdir()
    target = tmp_path / bad / "x.onnx" if bad == "sub" else tmp_path / bad
    status, text, err = train(capsys, "--epochs", "1", "--export", str(target))
    assert status == 2 and text == ""  # refused before training: no epoch was printed
    line = err.strip()
    assert "\n" not in line and words in line and "--export" in line, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["folder.onnx", "sub"]


def test_a_file_that_is_not_onnx_is_one_line(tmp_path, capsys):
    path = tmp_path / "garbage.onnx"
    path.write_bytes(b"\x08\xff\xff not a protobuf")
    status, _, err = train(capsys, "--network", str(path), "--epochs", "0")
    assert status == 2 and "\n" not in err.strip() and "not a readable ONNX model" in err


def test_weights_outside_the_fixed_point_range_are_a_warning_and_saturate(tmp_path, capsys):
    """A warning, not an error: fixed-point training runs from the saturated words (docs/networks.md)."""
    nodes, inits = mlp_parts()
    big = np.full((12, 16), 0.1)
    big[0, :3] = [9.5, -20.0, 8.0]  # 8.0 is one LSB past the largest word, 7.999755859375
    inits[0] = tensor("w1", big)
    path = save_graph(tmp_path / "big.onnx", nodes, inits, (16,))
    network = read_onnx(path)
    (line,) = range_notes(network)
    assert "3 parameters of layer 1 ('fc1')" in line and "largest magnitude 20" in line and "saturates" in line
    status, _, err = train(capsys, "--network", str(path), "--data", "synthetic", "--epochs", "1")
    assert status == 0 and line in err
    fmt = FixedFormat()
    words = [fmt.quantize(w) for w in golden.initial_weights(network)]
    assert words[0][0, :3].tolist() == [fmt.data_max, fmt.data_min, fmt.data_max]


def test_the_functional_simulator_and_the_golden_model_start_from_the_files_parameters(models):
    """simulate --functional's setup (sim/functional.py) and the golden model's defaults are the file's
    weights and biases, quantised; trained on the table they agree bit for bit."""
    from layerpipe.sim.functional import run_functional, training_setup

    network = load_network(str(models["mlp"]))
    table = schedule(network, 2, "layerpipe")
    inputs, targets, weights, fmt = training_setup(network, 20)
    for w, file_w in zip(weights, network.initial.weights):
        np.testing.assert_array_equal(w, fmt.quantize(file_w))
    functional = run_functional(table, inputs, targets, weights, fmt).functional
    reference = golden.train(network, inputs, targets, staleness=table, fmt=fmt)  # every default: the file's
    zero_bias = golden.train(network, inputs, targets, staleness=table, fmt=fmt,
                             biases=[np.zeros(layer.out_size) for layer in network.layers])
    for got, want, other in zip(functional.biases, reference.biases, zero_bias.biases):
        np.testing.assert_array_equal(got, want)
        assert not np.array_equal(got, other)  # the file's biases made a difference
    for got, want in zip(functional.weights, reference.weights):
        np.testing.assert_array_equal(got, want)


def test_a_strided_conv_maps_its_stride_and_training_refuses_it_in_one_line(tmp_path, capsys):
    """The network format takes stride (the scheduler and cost model use it); the trained models refuse it."""
    nodes, inits = cnn_parts()
    nodes[0] = helper.make_node("Conv", ["x", "c1.w", "c1.b"], ["c1"], name="conv1", kernel_shape=[3, 3],
                                pads=[1, 1, 1, 1], strides=[2, 2])
    nodes[2] = helper.make_node("Identity", ["r1"], ["p1"], name="no_pool")  # 8x8 -> 4x4 by the stride instead
    path = save_graph(tmp_path / "strided.onnx", nodes, inits, (1, 8, 8))
    network = read_onnx(path)
    assert (network.layers[0].stride, network.layers[0].padding, network.layers[0].out_shape) == (2, 1, (4, 4, 4))
    assert main(["schedule", "--network", str(path), "--processors", "2"]) == 0
    capsys.readouterr()
    status, _, err = train(capsys, "--network", str(path), "--epochs", "1")
    last = err.strip().splitlines()[-1]  # after the data set's description, which train prints first
    assert status == 2 and last.startswith("layerpipe train: error: ") and "field 'stride' is 2" in last


def test_the_initial_parameters_digest_keys_on_the_values(models, tmp_path):
    """The demo's caches key on it: the network's dict and a table's JSON do not hold the weights."""
    one, again = load_network(str(models["cnn"])), read_onnx(helper_cnn(tmp_path / "cnn.onnx"))
    other = read_onnx(helper_cnn(tmp_path / "other.onnx", seed=1))
    assert one.initial.digest() == again.initial.digest()
    assert other.to_dict()["layers"] == one.to_dict()["layers"] and other.initial.digest() != one.initial.digest()
    assert schedule(one, 2, "layerpipe").network.initial is one.initial  # the table keeps the parameters
