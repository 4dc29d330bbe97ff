"""Cycle simulator, timing mode: the execution agrees with what every table predicts."""

import functools
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from layerpipe.cli import main
from layerpipe.core.costs import CostModel
from layerpipe.core.network import network_from_dict
from layerpipe.sched.scheduler import POLICIES, schedule
from layerpipe.sched.timing import shared_bank_layers
from layerpipe.sched.zoo import ZOO, zoo_network
from layerpipe.sim.cyclesim import prediction_mismatches, simulate
from layerpipe.sim.trace import chrome_trace, write_vcd
from tests.helpers.strategies import cost_models, fc_chains

SAMPLE_COUNTS = (1, 2, 17, 100)
PROCESSORS = range(1, 10)


@functools.cache
def _schedule(network: str, processors: int, policy: str, memory: str):
    return schedule(zoo_network(network), processors, policy, CostModel(memory=memory))


def table_or_skip(network: str, processors: int, policy: str, memory: str = "dual-port"):
    """The scheduler's table; a skip naming the module when that part of the scheduler is not written yet."""
    try:
        return _schedule(network, processors, policy, memory)
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("layerpipe.sched"):
            pytest.skip(f"policy '{policy}' on {processors} processors ({memory}) needs {exc.name}, "
                        "which does not exist yet")
        raise


# `optimal` solves an ILP per table (seconds each on the ImageNet networks): the test covers it
# fully on the small networks and at one P on the large ones; benchmarks/sim_vs_table.py runs the
# whole matrix.
_SMALL_NETWORKS = ("mlp-digits", "lenet5")


def _cases():
    for network in ZOO:
        for policy in POLICIES:
            for memory in ("dual-port", "ideal"):
                if policy == "sequential" and memory == "ideal":
                    continue  # one processor: the memory model changes nothing
                for processors in PROCESSORS:
                    if policy == "optimal" and network not in _SMALL_NETWORKS and (
                            processors != 4 or memory != "dual-port"):
                        continue
                    yield pytest.param(network, policy, memory, processors,
                                       id=f"{network}-{policy}-{memory}-P{processors}")


@pytest.mark.parametrize("network, policy, memory, processors", list(_cases()))
def test_simulation_matches_table(network, policy, memory, processors):
    table = table_or_skip(network, processors, policy, memory)
    per_sample_links = {}
    for t in table.data["transfers"]:
        key = (t["from"], t["to"])
        per_sample_links[key] = per_sample_links.get(key, 0) + t["words"]
    max_lag = max(t.lag for tasks in table.processor_tasks for t in tasks)
    for samples in SAMPLE_COUNTS:
        result = simulate(table, samples)
        assert result.total_cycles == table.total_cycles(samples)
        assert result.first_sample_latency == table.latency_cycles
        assert result.tasks_run == samples * len([t for tasks in table.processor_tasks for t in tasks])
        for line in table.delay_lines:  # a line fills up to its depth once enough samples are in flight
            assert result.delay_line_peak[line.item] == min(samples, line.depth), line.item
        assert result.link_words == {key: samples * words for key, words in per_sample_links.items()}
        if memory == "dual-port":  # the shared (fc) banks; a conv layer's readers each have their own copy
            assert all(result.bank_peak_ports[layer] <= 2 for layer in shared_bank_layers(table.network))
        if samples > max_lag:
            assert result.utilisation == pytest.approx(table.data["predicted"]["utilisation"], abs=1e-6)
            assert result.utilisation_mean == pytest.approx(table.utilisation, abs=1e-6)
        else:
            assert result.utilisation is None and result.steady_window is None
        assert prediction_mismatches(result, table) == []


@settings(max_examples=100)
@given(network=fc_chains(max_layers=10), processors=st.integers(1, 12), cost=cost_models(memory="ideal"),
       policy=st.sampled_from(["sequential", "pipedream", "layerpipe"]), samples=st.integers(1, 30))
def test_random_chains_execute_as_predicted(network, processors, cost, policy, samples):
    table = schedule(network, processors, policy, cost)
    assert prediction_mismatches(simulate(table, samples), table) == []


def test_delay_lines_reach_their_depth():
    """The tables' depths are reached, not only bounded: with N = 100 every line fills exactly."""
    table = table_or_skip("mlp-digits", 4, "layerpipe")
    result = simulate(table, 100)
    assert result.delay_line_peak == {line.item: line.depth for line in table.delay_lines}


def test_runs_follow_the_contract_and_cycle_order():
    table = table_or_skip("mlp-digits", 4, "layerpipe")
    period, samples = table.period_cycles, 7
    result = simulate(table, samples, record_runs=True)
    starts = [run.start for run in result.runs]
    assert starts == sorted(starts)  # executed in cycle order
    by_name = table.tasks
    seen = set()
    for run in result.runs:
        task = next(t for t in by_name.values() if t.name == run.task)
        assert run.start == (run.sample + task.lag) * period + task.start
        assert run.end == run.start + task.cycles and run.processor == task.processor
        seen.add((run.task, run.sample))
    assert len(seen) == samples * len(by_name)
    for p in range(table.processors):  # one task at a time
        mine = sorted((r.start, r.end) for r in result.runs if r.processor == p)
        assert all(a[1] <= b[0] for a, b in zip(mine, mine[1:]))


def test_steady_state_utilisation_is_busy_over_period_and_overall_counts_fill_and_drain():
    table = table_or_skip("mlp-digits", 4, "layerpipe")
    result = simulate(table, 50)
    busy = table.data["predicted"]["busy_cycles"]
    assert result.busy_cycles == [50 * b for b in busy]
    first, end = result.steady_window
    assert (end - first) % table.period_cycles == 0
    assert result.steady_busy_cycles == [b * (end - first) // table.period_cycles for b in busy]
    assert result.utilisation_overall == pytest.approx([50 * b / result.total_cycles for b in busy])
    assert all(o < s or s == 0 for o, s in zip(result.utilisation_overall, result.utilisation))
    assert result.sample_interval_cycles == table.period_cycles


def test_lockstep_group_shares_one_read():
    """F1 ∥ G1 on two processors stream W1 once: 2 ports, not 3."""
    table = table_or_skip("mlp-digits", 4, "layerpipe")
    f1, g1 = (next(t for t in table.tasks.values() if t.name == name) for name in ("F1", "G1"))
    assert (f1.start, f1.cycles) == (g1.start, g1.cycles) and f1.processor != g1.processor
    assert simulate(table, 20).bank_peak_ports[1] == 2


def test_staleness_is_measured_from_the_execution():
    for processors in (1, 2, 4, 8):
        table = table_or_skip("mlp-digits", processors, "layerpipe")
        assert simulate(table, 40).staleness == table.staleness


def test_backward_may_see_a_later_sample_update_and_the_drain_clips_it():
    """A B that starts more than a period after its G ends sees the next sample's update (staleness -2);
    the last sample has no next one, so it sees its own."""
    cost = CostModel(lanes=256, link_width_words=1, link_latency_cycles=50, memory="ideal")
    table = schedule(zoo_network("mlp-digits"), 3, "layerpipe", cost)
    assert min(table.staleness["backward_latest"].values()) <= -2
    result = simulate(table, 30)
    assert result.staleness == table.staleness
    assert prediction_mismatches(result, table) == []


def test_links_stream_words_at_their_width():
    """p0 → p1 carries a0 (64 words, 8 cycles at 8 words/cycle) as F1 starts and mask1 (2 words, 1 cycle)
    as F1 ends, which is when the next sample's F1 starts: two streams at once on one processor pair.
    The table times each transfer alone, so the RTL needs a channel per transfer (or the slack)."""
    table = table_or_skip("mlp-digits", 4, "layerpipe")
    result = simulate(table, 10)
    assert result.link_words[(0, 1)] == 10 * (64 + 2)
    assert result.link_busy_cycles[(0, 1)] == 10 * (8 + 1)
    assert result.link_peak_streams[(0, 1)] == 2


def test_a_layer_without_data_crossing_has_no_links():
    table = table_or_skip("lenet5", 1, "sequential")
    result = simulate(table, 5)
    assert result.link_words == {} and result.transfer_words == 0


def test_input_stream_transfers_are_scheduled():
    """a0 crosses to G1 on another processor: 512 words at one word per cycle must arrive in time."""
    network = network_from_dict({"name": "wide-input", "input": 512,
                                 "layers": [{"kind": "fc", "out": 2}, {"kind": "fc", "out": 2}]})
    cost = CostModel(lanes=4096, link_width_words=1, link_latency_cycles=0, task_overhead_cycles=0, memory="ideal")
    table = schedule(network, 3, "layerpipe", cost)
    assert prediction_mismatches(simulate(table, 4), table) == []


# -- traces ---------------------------------------------------------------------------

def test_chrome_trace_has_one_event_per_run():
    table = table_or_skip("mlp-digits", 4, "layerpipe")
    result = simulate(table, 5, record_runs=True)
    trace = json.loads(json.dumps(chrome_trace(result)))
    runs = [e for e in trace["traceEvents"] if e["ph"] == "X"]
    assert len(runs) == result.tasks_run
    assert {e["tid"] for e in runs} == set(range(table.processors))
    assert max(e["ts"] + e["dur"] for e in runs) == result.total_cycles
    names = {e["args"]["name"] for e in trace["traceEvents"] if e["name"] == "thread_name"}
    assert names == {f"processor {p}" for p in range(table.processors)}


def test_vcd_busy_signal_follows_the_runs(tmp_path):
    table = table_or_skip("mlp-digits", 4, "layerpipe")
    result = simulate(table, 5, record_runs=True)
    path = tmp_path / "run.vcd"
    write_vcd(result, path)
    reader = pytest.importorskip("vcd.reader")  # pyvcd comes with amaranth; it checks the file's syntax
    ids, changes, now = {}, {}, 0
    with open(path, "rb") as stream:
        for token in reader.tokenize(stream):
            if token.kind is reader.TokenKind.VAR and token.var.reference == "busy":
                ids[token.var.id_code] = len(ids)
            elif token.kind is reader.TokenKind.CHANGE_TIME:
                now = token.time_change
            elif token.kind is reader.TokenKind.CHANGE_SCALAR and token.scalar_change.id_code in ids:
                changes.setdefault(ids[token.scalar_change.id_code], []).append((now, token.scalar_change.value))
    for p in range(table.processors):
        busy, level = [], "0"
        for time, value in changes[p]:
            if value != level:
                busy.append(time)
                level = value
        expected = []  # back-to-back runs keep busy high
        for run in sorted((r for r in result.runs if r.processor == p), key=lambda r: r.start):
            if expected and expected[-1] == run.start:
                expected[-1] = run.end
            else:
                expected += [run.start, run.end]
        assert busy == expected


# -- command line ----------------------------------------------------------------------

def _cli(capsys, *argv):
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_cli_summary_compares_prediction_and_simulation(tmp_path, capsys):
    trace, wave = tmp_path / "t.json", tmp_path / "t.vcd"
    status, out, _ = _cli(capsys, "simulate", "--processors", "3", "--samples", "20", "--trace", str(trace),
                          "--vcd", str(wave))
    assert status == 0
    assert "agrees with the table" in out and "equal" in out and "DIFFERENT" not in out
    assert json.loads(trace.read_text())["traceEvents"] and wave.read_text().startswith("$comment")


def test_cli_json_and_saved_table(tmp_path, capsys):
    table = tmp_path / "table.json"
    assert _cli(capsys, "schedule", "--processors", "2", "--policy", "pipedream", "-o", str(table))[0] == 0
    status, out, _ = _cli(capsys, "simulate", "--table", str(table), "--samples", "17", "--json")
    data = json.loads(out)
    assert status == 0 and data["mismatches"] == []
    assert data["simulated"]["total_cycles"] == data["predicted"]["total_cycles"]


def test_cli_names_the_broken_rule_of_an_edited_table(tmp_path, capsys):
    table = tmp_path / "table.json"
    assert _cli(capsys, "schedule", "--processors", "4", "-o", str(table))[0] == 0
    data = json.loads(table.read_text())
    next(d for d in data["delay_lines"] if d["item"] == "a1")["depth"] -= 1
    table.write_text(json.dumps(data))
    status, _, err = _cli(capsys, "simulate", "--table", str(table), "--samples", "20")
    assert status == 2 and err.count("\n") == 1 and "delay line a1 (depth 3) overflows" in err


@pytest.mark.parametrize("argv, message", [
    (["simulate", "--samples", "0"], "--samples is 0"),
    (["simulate", "--network", "vgg16", "--functional", "--samples", "2"], "but data 'digits' has 64 features"),
    (["simulate", "--table", "missing.json"], "does not exist"),
])
def test_cli_bad_input_is_one_line(capsys, argv, message):
    status, _, err = _cli(capsys, *argv)
    lines = [line for line in err.splitlines() if line.strip()]
    assert status == 2 and len(lines) == 1 and message in lines[0], err
