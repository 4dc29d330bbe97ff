"""Cycle simulator checks: a valid table edited by hand breaks exactly the rule the edit breaks.

Reference tables (mlp-digits, default cost model, from the scheduler):

* layerpipe, 4 processors (T = 260): p0 F1 [0,260) lag 0; p1 G1 [0,260) lag 4 (lockstep with F1);
  p2 F2 [0,68) lag 2; p3 F3 [0,24) B3 [24,48) G3 [48,72) B2 [72,140) G2 [140,208), all lag 3;
* layerpipe, 6 processors: F2, B2, G2 in lockstep at [0,68) on p2, p3, p4;
* sequential: every task back to back on p0, lag 0.
"""

import copy

import pytest

from layerpipe.core.costs import CostModel
from layerpipe.core.network import network_from_dict
from layerpipe.core.table import ScheduleTable
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.sim.cyclesim import simulate
from layerpipe.sim.resources import SimulationError

SAMPLES = 12


def _data(processors: int, policy: str = "layerpipe", memory: str = "dual-port") -> dict:
    return copy.deepcopy(schedule(zoo_network("mlp-digits"), processors, policy, CostModel(memory=memory)).data)


def _task(data: dict, name: str) -> dict:
    return next(t for tasks in data["processor_tasks"] for t in tasks if f"{t['kind']}{t['layer']}" == name)


def _move(data: dict, name: str, processor: int) -> None:
    task = _task(data, name)
    for tasks in data["processor_tasks"]:
        if task in tasks:
            tasks.remove(task)
    while len(data["processor_tasks"]) <= processor:
        data["processor_tasks"].append([])
    data["processor_tasks"][processor].append(task)
    data["processors"] = len(data["processor_tasks"])


def _run(data: dict, samples: int = SAMPLES):
    return simulate(ScheduleTable(data), samples)


def test_reference_tables_run_clean():
    for data in (_data(4), _data(6), _data(1, "sequential")):
        _run(data)


# -- dependencies ------------------------------------------------------------------------

def test_consumer_a_period_early_reads_before_produced():
    data = _data(4)
    _task(data, "B3").update(lag=2)  # B3 of a sample now runs one period before the F3 that makes err3
    with pytest.raises(SimulationError, match=r"^B3 of sample 0 \(processor 3\) starts at cycle 544 and reads err3 "
                                              r"from F3 of sample 0, which has not run yet: read before produced"):
        _run(data)


def test_consumer_before_the_transfer_arrives():
    data = _data(4)
    _task(data, "F2").update(lag=1)  # a1 leaves F1 at 260 and needs 2 + 32/8 link cycles; F2 would start at 260
    with pytest.raises(SimulationError, match=r"^F2 of sample 0 \(processor 2\) starts at cycle 260 but a1 from F1 "
                                              r"\(processor 0\) is ready only at cycle 266 \(produced 260, link 6 "
                                              r"cycles\): read before produced"):
        _run(data)


def test_slower_link_than_the_table_assumed():
    data = _data(4)
    data["cost_model"]["link_latency_cycles"] = 1000
    with pytest.raises(SimulationError, match=r"F2 of sample 0 .* a1 from F1 .* ready only at cycle 1264"):
        _run(data)


def test_crossing_processors_within_one_period():
    data = _data(1, "sequential")
    _move(data, "G3", 1)  # same start and lag on a new processor: a2 crosses without a registered boundary
    with pytest.raises(SimulationError, match=r"^a2 crosses from F2 \(processor 0, period 0\) to G3 \(processor 1, "
                                              r"period 0\) for sample 0 at cycle 376: .* later period"):
        _run(data)


# -- processors --------------------------------------------------------------------------

def test_start_moved_onto_the_previous_task():
    data = _data(4)
    _task(data, "B3").update(start=20)
    with pytest.raises(SimulationError, match=r"^processor 3 runs F3 of sample 0 over \[780, 804\) and B3 of sample 0 "
                                              r"from cycle 800: two tasks at once"):
        _run(data)


def test_task_moved_onto_a_busy_processor():
    data = _data(4)
    _move(data, "B3", 2)  # p2 runs F2 over [0, 68) of each period
    with pytest.raises(SimulationError, match=r"^processor 2 runs F2 of sample 1 over \[780, 848\) and B3 of sample 0 "
                                              r"from cycle 804: two tasks at once"):
        _run(data)


def test_longer_task_than_the_table_leaves_room_for():
    data = _data(4)
    _task(data, "F3").update(cycles=30)
    with pytest.raises(SimulationError, match=r"processor 3 runs F3 of sample 0 over \[780, 810\) and B3 .* at once"):
        _run(data)


# -- delay lines ---------------------------------------------------------------------------

@pytest.mark.parametrize("item", ["a0", "mask1", "a1", "target", "err1"])
def test_delay_line_shallower_than_the_schedule_needs(item):
    data = _data(4)
    line = next(d for d in data["delay_lines"] if d["item"] == item)
    line["depth"] -= 1
    depth = line["depth"]
    with pytest.raises(SimulationError, match=rf"^delay line {item} \(depth {depth}\) overflows at cycle \d+: "
                                              rf".* of sample {depth} writes entry {depth + 1} while samples "
                                              rf"0(, \d+)* still occupy it"):
        _run(data)


def test_delay_line_of_the_table_is_enough():
    data = _data(4)
    result = _run(data, 50)
    assert result.delay_line_peak == {d["item"]: d["depth"] for d in data["delay_lines"]}


# -- weight banks ----------------------------------------------------------------------------

def test_breaking_a_lockstep_group_overuses_the_bank():
    data = _data(6)
    assert simulate(ScheduleTable(copy.deepcopy(data)), SAMPLES).bank_peak_ports[2] == 2  # F2 ∥ B2 ∥ G2 share
    _task(data, "B2").update(start=1)  # out of step by one cycle: F2 ∥ G2 (2 ports) + B2 alone (1)
    with pytest.raises(SimulationError, match=r"^weight bank of layer 2 serves 3 ports at cycle 1041: .*G2\(sample 0\)"
                                              r".*\[2\] \+ B2\(sample 0\) \[1\]; a dual-port bank has 2"):
        _run(data)


def test_an_ideal_memory_table_is_not_buildable_as_dual_port():
    # an MLP (fc banks are shared; a conv layer's readers would each have their own copy)
    network = network_from_dict({"name": "wide", "input": 16,
                                 "layers": [{"kind": "fc", "out": n} for n in (64, 64, 4)]})
    data = copy.deepcopy(schedule(network, 3, "layerpipe", CostModel(memory="ideal")).data)
    assert max(simulate(ScheduleTable(copy.deepcopy(data)), SAMPLES).bank_peak_ports.values()) > 2
    data["memory_model"] = data["cost_model"]["memory"] = "dual-port"
    with pytest.raises(SimulationError, match=r"^weight bank of layer \d serves [34] ports at cycle \d+: "):
        _run(data)


# -- weights seen ---------------------------------------------------------------------------

def test_staleness_the_timing_does_not_give():
    data = _data(4)
    data["staleness"][0]["forward"] += 1  # the golden model would train with a different delay
    with pytest.raises(SimulationError, match=r"^F1 of sample 5 reads W1 at cycle 1300 with the updates of 1 "
                                              r"samples landed; the table's staleness 5 promises 0"):
        _run(data)


def test_backward_staleness_the_timing_does_not_give():
    data = _data(4)
    data["staleness"][1]["backward_latest"] = 1
    with pytest.raises(SimulationError, match=r"^B2 of sample \d+ reads W2 .* staleness 1 promises"):
        _run(data)


# -- structure -------------------------------------------------------------------------------

def test_task_past_the_period_end():
    data = _data(4)
    _task(data, "G2").update(start=data["period_cycles"] - 10)
    with pytest.raises(SimulationError, match=r"task G2 on processor 3 runs over \[250, 318\) .* no task wraps"):
        _run(data)


def test_task_missing():
    data = _data(4)
    data["processor_tasks"][3] = [t for t in data["processor_tasks"][3] if t["kind"] != "G"]
    with pytest.raises(SimulationError, match=r"tasks G3, G2 are not in the table"):
        _run(data)


def test_task_twice():
    data = _data(4)
    data["processor_tasks"][2].append(dict(_task(data, "G3"), start=100))
    with pytest.raises(SimulationError, match=r"task G3 is in the table twice"):
        _run(data)
