"""``layerpipe sweep``: small sweeps on real Dask LocalClusters (worker processes), outputs, failures, errors."""

from __future__ import annotations

import argparse
import csv
import json
import re

import pytest

from layerpipe.cli import build_parser, main
from layerpipe.core.costs import CostModel
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.sweep.points import Point
from layerpipe.sweep.results import assemble_rows
from layerpipe.sweep.tasks import schedule_point

SMALL = ["--networks", "mlp-digits,lenet5", "--processors", "1-3", "--policies", "sequential,pipedream,layerpipe"]


def run(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def read_results(folder):
    with open(folder / "results.csv", newline="") as f:
        csv_rows = list(csv.DictReader(f))
    return csv_rows, json.loads((folder / "results.json").read_text())


def assert_csv_matches_json(csv_rows, document):
    assert [list(r) for r in csv_rows][:1] == [document["columns"]]
    assert len(csv_rows) == len(document["rows"])
    for text_row, row in zip(csv_rows, document["rows"], strict=True):
        assert list(row) == document["columns"]
        for column, value in row.items():
            if value is None:
                assert text_row[column] == "", column
            elif isinstance(value, bool) or not isinstance(value, int | float):
                assert text_row[column] == str(value), column
            else:
                assert float(text_row[column]) == pytest.approx(value, rel=1e-12), column


def test_small_sweep_on_a_local_cluster(tmp_path, capsys):
    out = tmp_path / "sweep"
    status, stdout, stderr = run(capsys, "sweep", *SMALL, "--workers", "2", "-o", str(out))
    assert status == 0, stdout + stderr
    csv_rows, document = read_results(out)

    # every point is there, once, and succeeded
    expected = {(n, p, pol) for n in ("mlp-digits", "lenet5") for p in (1, 2, 3)
                for pol in ("sequential", "pipedream", "layerpipe")}
    assert sorted((r["network"], r["P"], r["policy"]) for r in document["rows"]) == sorted(expected)
    assert all(r["status"] == "ok" and r["error"] is None for r in document["rows"])
    assert_csv_matches_json(csv_rows, document)

    rows = {(r["network"], r["P"], r["policy"]): r for r in document["rows"]}
    for (network, processors, policy), row in rows.items():
        pipedream = rows[(network, processors, "pipedream")]
        sequential = rows[(network, 1, "sequential")]
        if policy == "pipedream":
            assert row["vs_pipedream"] == 1.0
        assert rows[(network, processors, "layerpipe")]["period"] <= pipedream["period"]
        assert row["vs_pipedream"] == pytest.approx(pipedream["period"] / row["period"], rel=1e-5)
        assert row["vs_sequential"] == pytest.approx(sequential["period"] / row["period"], rel=1e-5)
        assert row["period/LB"] >= 1.0 and 0 < row["utilisation"] <= 1.0
        assert row["worker"] in document["worker_versions"]  # computed on a worker of the cluster
        table = json.loads((out / row["table"]).read_text())
        assert table["period_cycles"] == row["period"] and table["policy"] == policy
    # the workers computed what the scheduler computes here
    assert rows[("lenet5", 3, "layerpipe")]["period"] == schedule(zoo_network("lenet5"), 3, "layerpipe").period_cycles

    # the document: how to reproduce it, with what, where
    assert document["complete"] is True and document["error_count"] == 0
    assert document["command"].startswith("layerpipe sweep --networks mlp-digits,lenet5 --processors 1,2,3 ")
    assert {"layerpipe", "python", "dask", "distributed", "numpy"} <= set(document["versions"])
    assert document["cluster"]["kind"] == "local" and document["cluster"]["workers"] == 2
    assert len({r["worker"] for r in document["rows"]}) >= 1

    plots = sorted(p.name for p in out.glob("*.png"))
    assert plots == ["period-lenet5.png", "period-mlp-digits.png", "speedup-lenet5.png", "speedup-mlp-digits.png"]
    assert all((out / p).read_bytes()[:4] == b"\x89PNG" for p in plots)
    assert not list(out.glob(".*.tmp"))  # atomic writes leave no temporary files

    # the printed table has one line per point
    table_lines = [line.split() for line in stdout.splitlines() if line.split()[:1] in (["mlp-digits"], ["lenet5"])]
    assert len(table_lines) == 18
    assert "18/18" in stderr  # the progress bar reached the end


def _inject_failure():
    """Runs on each worker (client.run): schedule() fails for lenet5 P=2 layerpipe in that process only."""
    import layerpipe.sweep.tasks as tasks

    original = tasks.schedule

    def failing(network, processors, policy, cost):
        if (network.name, processors, policy) == ("lenet5", 2, "layerpipe"):
            raise RuntimeError("injected failure on the worker")
        return original(network, processors, policy, cost)

    tasks.schedule = failing


def test_failing_points_become_error_rows_on_an_existing_cluster(tmp_path, capsys):
    from distributed import Client, LocalCluster

    out = tmp_path / "sweep"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(_inject_failure)
        # lenet5's G of c1 sums 28 × 28 positions: more than the default 40-bit accumulator holds, so each
        # board build is refused on the worker too
        status, stdout, stderr = run(capsys, "sweep", "--networks", "lenet5", "--processors", "1-2",
                                     "--policies", "pipedream,layerpipe", "--boards", "verilog",
                                     "--cluster", cluster.scheduler_address, "-o", str(out))
    assert status == 1  # some point failed; the sweep still finished
    csv_rows, document = read_results(out)
    assert_csv_matches_json(csv_rows, document)
    assert document["complete"] is True and document["cluster"]["kind"] == "remote"
    rows = {(r["P"], r["policy"]): r for r in document["rows"]}
    assert set(rows) == {(1, "pipedream"), (1, "layerpipe"), (2, "pipedream"), (2, "layerpipe")}
    assert all(r["status"] == "error" and r["board"] == "verilog" for r in rows.values())
    injected = rows[(2, "layerpipe")]
    assert injected["error"] == "RuntimeError: injected failure on the worker" and injected["period"] is None
    for key in [(1, "pipedream"), (1, "layerpipe"), (2, "pipedream")]:
        assert "over 784 inputs needs 42 accumulator bits" in rows[key]["error"]
        assert rows[key]["period"] > 0  # the schedule part of the row is kept
    tracebacks = [e["traceback"] for e in document["errors"]]
    assert any("injected failure" in (t or "") for t in tracebacks)
    assert "error: lenet5 P=2 layerpipe on verilog: RuntimeError: injected failure on the worker" in stdout
    assert stderr.count("error: ") >= 4  # each failure reported as it happened


def _exit_on_point():
    """Runs on each worker (client.run): the process dies while scheduling mlp-digits P=2 layerpipe."""
    import os

    import layerpipe.sweep.tasks as tasks

    original = tasks.schedule

    def dying(network, processors, policy, cost):
        if (network.name, processors, policy) == ("mlp-digits", 2, "layerpipe"):
            os._exit(3)
        return original(network, processors, policy, cost)

    tasks.schedule = dying


def test_a_worker_that_dies_is_an_error_row(tmp_path, capsys):
    import dask
    from distributed import Client, LocalCluster

    out = tmp_path / "sweep"
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        client.run(_exit_on_point)
        status, stdout, _ = run(capsys, "sweep", "--networks", "mlp-digits", "--processors", "1-3",
                                "--policies", "pipedream,layerpipe", "--cluster", cluster.scheduler_address,
                                "--no-plots", "-o", str(out))
    assert status == 1
    csv_rows, document = read_results(out)
    assert_csv_matches_json(csv_rows, document)
    assert len(document["rows"]) == 6 and document["complete"] is True
    rows = {(r["P"], r["policy"]): r for r in document["rows"]}
    assert rows[(2, "layerpipe")]["status"] == "error"
    assert rows[(2, "layerpipe")]["error"].startswith("KilledWorker")


def test_failed_reference_leaves_its_speedup_empty():
    cost = CostModel()
    network = zoo_network("mlp-digits")
    results = {Point("mlp-digits", 1, "sequential"): schedule_point(network, 1, "sequential", cost),
               Point("mlp-digits", 3, "pipedream"): {"error": "boom"},
               Point("mlp-digits", 3, "layerpipe"): schedule_point(network, 3, "layerpipe", cost)}
    wanted = [Point("mlp-digits", 3, "pipedream"), Point("mlp-digits", 3, "layerpipe")]
    rows, errors = assemble_rows(results, wanted, [], out_dir=None)
    assert [r["status"] for r in rows] == ["error", "ok"]
    assert rows[1]["vs_pipedream"] is None and rows[1]["vs_sequential"] == pytest.approx(796 / rows[1]["period"],
                                                                                         rel=1e-5)
    assert errors == [{"point": "mlp-digits P=3 pipedream", "error": "boom", "traceback": None}]


def one_line_error(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("argv, message", [
    (["--processors", "2..9"], "--processors '2..9' is not a count, a range like 2-9"),
    (["--processors", "9-2"], "--processors '9-2': range 9-2 runs backwards"),
    (["--processors", "0-3"], "--processors '0-3': every processor count must be at least 1"),
    (["--networks", "vgg19"], "--networks: unknown network 'vgg19'"),
    (["--networks", "vgg16,,alexnet"], "--networks 'vgg16,,alexnet' has an empty item"),
    (["--policies", "fast"], "--policies: unknown policy 'fast'"),
    (["--boards", "icebraker"], "--boards: 'icebraker' is not a known target"),
    (["--cluster", "my-laptop"], "--cluster 'my-laptop' is not a scheduler address like tcp://host:8786"),
    (["--cluster", "tcp://127.0.0.1:9", "--connect-timeout", "1"], "--cluster tcp://127.0.0.1:9: no Dask scheduler"),
    (["--workers", "0"], "--workers 0: use at least 1"),
    (["--networks", "mlp-digits", "--boards", "verilog", "--design", "board-top", "--data", "iris"],
     "network 'mlp-digits' has input 64 but data 'iris' has 4 features; set the network's 'input' to 4"),
    (["--networks", "mlp-digits", "--data", "iris"],
     "--data iris: only the board top trains on data; add --boards and --design board-top"),
])
def test_bad_input_is_one_line_naming_the_option(tmp_path, capsys, argv, message):
    status, stdout, stderr = run(capsys, "sweep", *argv, "-o", str(tmp_path / "out"))
    assert status == 2
    assert message in one_line_error(stderr)
    assert stdout == "" and not (tmp_path / "out").exists()


def _sweep_parser() -> argparse.ArgumentParser:
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return subparsers.choices["sweep"]


def test_help_lists_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = re.sub(r"\s+", " ", capsys.readouterr().out)
    parser = _sweep_parser()
    formatter = parser._get_formatter()
    options = [a for a in parser._actions if a.option_strings and a.dest != "help"]
    assert {a.dest for a in options} >= {"networks", "processors", "policies", "boards", "cluster", "workers",
                                         "output", "memory", "lanes"}
    for action in options:
        assert action.option_strings[-1] in text
        expanded = re.sub(r"\s+", " ", formatter._expand_help(action))
        assert "default" in expanded, action.option_strings
        assert expanded in text, action.option_strings
    assert "(default: vgg16,alexnet,resnet18)" in text and "(default: 2-9)" in text  # the paper's experiment


@pytest.mark.boards
def test_board_sweep_builds_each_point(tmp_path, capsys):
    """Slow (about 30 s a build): the Verilog-only target through the YoWASP Yosys."""
    out = tmp_path / "sweep"
    status, stdout, stderr = run(capsys, "sweep", "--networks", "mlp-digits", "--processors", "2",
                                 "--policies", "layerpipe", "--boards", "verilog", "--workers", "2", "-o", str(out))
    assert status == 0, stdout + stderr
    csv_rows, document = read_results(out)
    assert_csv_matches_json(csv_rows, document)
    (row,) = document["rows"]
    assert row["build_status"] == "ok" and row["LUT"] > 0 and row["DSP"] > 0
    assert (out / row["build_dir"] / "report.json").is_file()
