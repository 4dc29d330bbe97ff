"""`layerpipe verify --network model.onnx --export rtl.onnx`: an imported model trains bit-exact in Verilator
from its own initializers, and the export holds the weights read back from the RTL (as the reals of its words)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from layerpipe.core.numerics import FixedFormat
from layerpipe.core.onnx_model import read_onnx
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import load_network
from layerpipe.sim import golden
from layerpipe.sim.datasets import load_data
from tests.helpers.onnx_models import helper_cnn, mlp_parts, save_graph, sklearn_mlp

SAMPLES = 16
PROCESSORS = 2


def _model(which: str, folder):
    if which == "sklearn-mlp":
        return sklearn_mlp(folder / "mlp.onnx")[0]
    if which == "helper-cnn":
        return helper_cnn(folder / "cnn.onnx")
    if which == "helper-cnn-average":
        return helper_cnn(folder / "cnn-average.onnx", pool_op="AveragePool")
    nodes, inits = mlp_parts((64, 16, 10), bias=False, scale=0.2)  # bias-free: Gemm without C
    return save_graph(folder / "plain.onnx", nodes, inits, (64,))


def _verify(tmp_path, cache, *options):
    return subprocess.run([sys.executable, "-m", "layerpipe", "verify", *options], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "LAYERPIPE_VERILATOR_CACHE": str(cache)})


def _golden_words(network):
    """What the RTL must hold after SAMPLES digits samples: the fixed-point golden model from the file's
    initializers, on the table's staleness (layerpipe/verify/flow.py trains the same)."""
    fmt = FixedFormat()
    table = schedule(network, PROCESSORS, "layerpipe")
    split = load_data("digits", network).train
    biases = golden.initial_biases(network)
    return golden.train(network, split.inputs("fixed", fmt, network)[:SAMPLES], split.targets("fixed", fmt)[:SAMPLES],
                        staleness=table, weights="stash", numerics="fixed", fmt=fmt,
                        init=[fmt.quantize(w) for w in golden.initial_weights(network)],
                        biases=None if biases is None else [None if b is None else fmt.quantize(b) for b in biases])


MODELS = ["bias-free-mlp", "sklearn-mlp", "helper-cnn", "helper-cnn-average"]


@pytest.mark.parametrize("which", MODELS)
def test_an_imported_model_verifies_bit_exact_and_exports_the_weights_read_back(which, tmp_path, verilator_cache):
    """The RTL trains from the file's initializers (its read-back equals the golden model trained from
    them, not from Glorot's), bit- and cycle-exact, and --export writes what it read back."""
    path = _model(which, tmp_path)
    out = tmp_path / "rtl-trained.onnx"
    result = _verify(tmp_path, verilator_cache, "--network", str(path), "--processors", str(PROCESSORS),
                     "--samples", str(SAMPLES), "--export", str(out))
    assert result.returncode == 0, result.stderr[-3000:] + result.stdout[-3000:]
    assert "True       True" in result.stdout  # bit_exact, cycle_exact
    assert f"written to {out}" in result.stdout
    network = load_network(str(path))
    reference, fmt = _golden_words(network), FixedFormat()
    exported = read_onnx(out)
    assert [layer.pool_mode for layer in exported.layers] == [layer.pool_mode for layer in network.layers]
    for layer, w, ew, b, eb in zip(network.layers, reference.weights, exported.initial.weights, reference.biases,
                                   exported.initial.biases):
        np.testing.assert_array_equal(ew, fmt.to_real(w), err_msg=f"weights of layer {layer.index}")
        assert (b is None) == (eb is None)
        if b is not None:
            np.testing.assert_array_equal(eb, fmt.to_real(b), err_msg=f"biases of layer {layer.index}")
    start = [fmt.quantize(w) for w in golden.initial_weights(network)]
    assert any(not np.array_equal(w, s) for w, s in zip(reference.weights, start))  # it trained


def test_verify_export_to_a_bad_path_is_one_line_before_anything_runs(tmp_path, verilator_cache):
    (tmp_path / "file").write_text("not a folder")
    result = _verify(tmp_path, verilator_cache, "--samples", "4", "--export", str(tmp_path / "file" / "x.onnx"))
    assert result.returncode == 2
    line = result.stderr.strip()
    assert "\n" not in line and line.startswith("layerpipe verify: error: --export") and "writable" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]
