"""``layerpipe train``: staleness from the schedule, accuracy per epoch, one-line errors."""

from __future__ import annotations

import json

import pytest

from layerpipe.cli import main
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.sim.learning import learning_curve


def run(capsys, *argv):
    status = main(["train", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_json_reports_the_schedules_staleness_and_every_epoch(capsys):
    status, out, err = run(capsys, "--processors", "8", "--numerics", "float", "--weights", "ema",
                           "--epochs", "2", "--json")
    assert status == 0
    report = json.loads(out)
    table = schedule(zoo_network("mlp-digits"), 8, "layerpipe")
    assert report["staleness"]["forward"] == {str(k): v for k, v in table.staleness["forward"].items()}
    assert report["weight_versions"] == table.data["weight_versions"]["ema"]
    assert [row["epoch"] for row in report["history"]] == [0, 1, 2]
    assert report["history"][-1]["test_accuracy"] > 0.5
    assert "epoch 2/2" in err  # progress goes to stderr, never into the JSON


def test_text_output_names_staleness_and_accuracy(capsys):
    status, out, _ = run(capsys, "--processors", "4", "--epochs", "1", "--seed", "3")
    assert status == 0
    assert "1: F 4; 2: F 1, B 0; 3: F 0, B 0" in out
    assert "numerics fixed 16-bit" in out and "seed 3" in out
    rows = [line.split() for line in out.splitlines() if line.split()[:1] in (["0"], ["1"])]
    assert len(rows) == 2


def test_cli_and_library_agree(capsys):
    status, out, _ = run(capsys, "--processors", "2", "--numerics", "float", "--weights", "latest",
                         "--epochs", "1", "--json")
    assert status == 0
    network = zoo_network("mlp-digits")
    curve = learning_curve(network, schedule(network, 2, "layerpipe"), "latest", "float", epochs=1)
    assert json.loads(out)["history"][-1]["test_accuracy"] == curve.final.test_accuracy


@pytest.mark.parametrize("argv, words", [
    (["--policy", "fastest"], "unknown policy 'fastest'"),
    (["--epochs", "-2"], "--epochs is -2"),
    (["--weights", "ema"], "--weights ema: the fixed-point golden model supports latest or stash only"),
    (["--network", "lenet5"], "convolution"),
    (["--processors", "0"], "processors"),
    (["--lr-shift", "-1"], "lr_shift"),
])
def test_bad_options_exit_2_with_one_line(capsys, argv, words):
    status, out, err = run(capsys, *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and out == "" and len(lines) == 1
    assert words in lines[0]


def test_network_file_with_the_wrong_input_size(tmp_path, capsys):
    spec = tmp_path / "net.toml"
    spec.write_text('name = "tiny"\ninput = 16\n[[layers]]\nkind = "fc"\nout = 10\n')
    status, _, err = run(capsys, "--network", str(spec), "--epochs", "1")
    assert status == 2 and "set the network's 'input' to 64" in err and len(err.strip().splitlines()) == 1


def test_json_names_the_shape_of_every_layer_of_a_cnn(capsys):
    status, out, _ = run(capsys, "--network", "cnn-digits", "--epochs", "0", "--json")
    assert status == 0
    # 1x8x8 digits; 3x3 convolutions with padding 1, each followed by a 2x2 max-pool; fc 10
    assert json.loads(out)["shapes"] == [[1, 8, 8], [8, 4, 4], [16, 2, 2], [10]]
