"""The `optimal` policy: least period, then fewest transfers; never worse than the paper's policies."""

import itertools
import json

import pytest

from layerpipe.core.costs import CostModel
from layerpipe.core.network import network_from_dict
from layerpipe.core.table import ScheduleTable
from layerpipe.core.tasks import INPUT, Task, data_items, training_tasks
from layerpipe.sched.placement_milp import solve_dual_port
from layerpipe.sched.policies import optimal
from layerpipe.sched.policies.optimal import solve
from layerpipe.sched.policies.optimal_search import SearchBudgets
from layerpipe.sched.report import describe_table
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.table import build_table, check
from layerpipe.sched.zoo import zoo_network

IDEAL = CostModel(lanes=1, task_overhead_cycles=0, memory="ideal")  # cycles = out * in
DUAL_PORT = CostModel(lanes=1, task_overhead_cycles=0, memory="dual-port")


def chain(*sizes):
    """A bias-free fc chain (the paper's task model: with lanes 1, a task takes out · in cycles)."""
    return network_from_dict({"name": "chain", "input": sizes[0],
                              "layers": [{"kind": "fc", "out": n, "bias": False} for n in sizes[1:]]})


def transfer_words(network, cost, processor_of):
    words = 0
    for item in data_items(network, cost.word_bits):
        source = processor_of[item.producer if item.producer is not INPUT else Task("F", 1)]
        words += item.words * len({processor_of[c] for c in item.consumers} - {source})
    return words


def brute_force(network, cost, processors):
    """(least period, fewest transfer words at that period) over every assignment."""
    tasks = training_tasks(network)
    cycles = {t: cost.cycles(network, t) for t in tasks}
    best = None
    for labels in itertools.product(range(processors), repeat=len(tasks)):
        assignment = [[t for t, p in zip(tasks, labels) if p == q] for q in range(processors)]
        assignment = [a for a in assignment if a]
        if cost.memory == "dual-port":
            period = solve_dual_port(network, cost, assignment).period  # exact (tested on its own)
        else:
            period = max(sum(cycles[t] for t in a) for a in assignment)
        key = (period, transfer_words(network, cost, dict(zip(tasks, labels))))
        best = key if best is None else min(best, key)
    return best


@pytest.mark.parametrize("cost", [IDEAL, DUAL_PORT], ids=lambda c: c.memory)
@pytest.mark.parametrize("sizes, processors", [((3, 2, 2), 2), ((2, 3, 1), 3), ((4, 1, 3), 2), ((3, 3, 2, 1), 2)])
def test_period_then_transfers_match_brute_force(sizes, processors, cost):
    network = chain(*sizes)
    result = solve(network, processors, cost)
    assert (result.period, result.transfer_words) == brute_force(network, cost, processors)
    assert result.proven


def test_three_way_lockstep_under_dual_port():
    # Layer 2's F, B and G each on their own processor, in lockstep: period = one task.
    network = chain(2, 3, 4)
    table = schedule(network, 4, "optimal", DUAL_PORT)
    assert table.period_cycles == 12 == table.lower_bound_cycles
    layer2 = [t for tasks in table.processor_tasks for t in tasks if t.layer == 2]
    assert len({t.processor for t in layer2}) == 3
    assert len({t.start for t in layer2}) == 1 and layer2[0].lockstep is not None
    assert check(table) == []


@pytest.mark.parametrize("memory", ["ideal", "dual-port"])
@pytest.mark.parametrize("name, processors", [("mlp-digits", 2), ("mlp-digits", 3), ("lenet5", 3), ("lenet5", 4)])
def test_never_worse_than_the_paper_policies(name, processors, memory):
    network, cost = zoo_network(name), CostModel(memory=memory)
    tables = {policy: schedule(network, processors, policy, cost) for policy in ("optimal", "layerpipe", "pipedream")}
    assert (tables["optimal"].period_cycles <= tables["layerpipe"].period_cycles
            <= tables["pipedream"].period_cycles)
    assert tables["optimal"].period_cycles >= tables["optimal"].lower_bound_cycles
    assert check(tables["optimal"]) == []


def test_one_processor_and_more_processors_than_tasks():
    network = chain(3, 2)
    assert schedule(network, 1, "optimal", IDEAL).period_cycles == 12
    table = schedule(network, 16, "optimal", DUAL_PORT)
    assert table.period_cycles == 6 and check(table) == []


def test_deterministic_and_quiet(capfd):
    network = zoo_network("lenet5")
    first, second = solve(network, 3, DUAL_PORT), solve(network, 3, DUAL_PORT)
    assert first.placed == second.placed
    assert capfd.readouterr() == ("", "")  # the solver's banner and log stay out of stdout


def test_verbose_reports_on_stderr_only(capfd):
    solve(chain(3, 2, 2), 2, IDEAL, verbose=True)
    out, err = capfd.readouterr()
    assert out == "" and "optimal" in err


def optimal_table(network, processors, cost, time_limit, **search):
    period, placed = optimal.schedule(network, processors, cost, time_limit=time_limit, **search)
    return build_table(network, cost, "optimal", processors, period, placed)


# Budgets count work: a time limit far beyond what the search takes must not change the table,
# however long each run happened to take. (Neither limit is reached, so no test here times anything.)
@pytest.mark.parametrize("name, processors, memory", [("lenet5", 3, "dual-port"), ("mlp-digits", 4, "dual-port"),
                                                      ("lenet5", 2, "ideal")])
def test_table_does_not_depend_on_a_generous_time_limit(name, processors, memory):
    network, cost = zoo_network(name), CostModel(memory=memory)
    generous, larger = (optimal_table(network, processors, cost, limit) for limit in (60.0, 600.0))
    assert generous.to_json() == larger.to_json()
    assert generous.data["optimal"]["stopped_by"] in ("work", None)
    assert generous.data["optimal"]["proven"] is True


def test_table_records_a_search_its_work_budget_cut():
    network, cost = zoo_network("lenet5"), CostModel(memory="ideal")
    assert optimal_table(network, 3, cost, 60.0).data["optimal"] == {"proven": True, "stopped_by": None}
    short = SearchBudgets(local_search_evaluations=10)  # the local search stops long before its minimum
    table = optimal_table(network, 3, cost, 60.0, budgets=short)
    assert table.data["optimal"]["stopped_by"] == "work"
    assert check(table) == []


@pytest.mark.parametrize("memory", ["ideal", "dual-port"])
def test_table_says_when_the_time_safety_net_cut_the_search(memory):
    network, cost = zoo_network("lenet5"), CostModel(memory=memory)
    table = optimal_table(network, 4, cost, 0.0)
    assert table.data["optimal"]["stopped_by"] == "time"
    assert check(table) == []
    assert table.period_cycles <= schedule(network, 4, "layerpipe", cost).period_cycles  # the fall-backs hold
    assert ScheduleTable(json.loads(table.to_json())).search == table.data["optimal"]
    assert describe_table(table).splitlines()[-1].startswith("note: the time limit cut optimal's search")
