"""Invariants of every policy's table on random chains (docs/semantics.md)."""

from hypothesis import given, settings
from hypothesis import strategies as st

from layerpipe.core.tasks import training_tasks
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.table import check
from layerpipe.sched.timing import BANK_PORTS
from tests.helpers.strategies import cost_models, fc_chains


def assert_table_invariants(table):
    tasks = [t for tasks in table.processor_tasks for t in tasks]
    assert sorted(t.name for t in tasks) == sorted(t.name for t in training_tasks(table.network))
    period = table.period_cycles
    for processor_tasks in table.processor_tasks:
        ordered = sorted(processor_tasks, key=lambda t: t.start)
        for a, b in zip(ordered, ordered[1:]):
            assert a.end <= b.start, f"{a.name} and {b.name} overlap"
        assert all(0 <= t.start and t.end <= period for t in processor_tasks)
    assert period >= table.lower_bound_cycles
    if table.memory_model == "dual-port":
        for bank in table.data["bank_ports"]:
            for cycle in {a["start"] for a in bank["accesses"]}:
                used = sum(a["ports"] for a in bank["accesses"] if a["start"] <= cycle < a["end"])
                assert used <= BANK_PORTS
    # dependencies with lags, retiming legality, loop delays, staleness consistent with timing
    assert check(table) == []
    assert all(stale >= 0 for stale in table.staleness["forward"].values())


@settings(max_examples=60)
@given(network=fc_chains(), processors=st.integers(1, 16), cost=cost_models())
def test_heuristic_policies_satisfy_invariants_and_order(network, processors, cost):
    tables = {policy: schedule(network, processors, policy, cost)
              for policy in ("sequential", "pipedream", "layerpipe")}
    for table in tables.values():
        assert_table_invariants(table)
    assert tables["layerpipe"].period_cycles <= tables["pipedream"].period_cycles
    assert tables["pipedream"].period_cycles <= tables["sequential"].period_cycles


@settings(max_examples=40)
@given(network=fc_chains(max_layers=12), processors=st.integers(1, 16), cost=cost_models())
def test_pipedream_chain_staleness_is_twice_the_stages_after(network, processors, cost):
    table = schedule(network, processors, "pipedream", cost)
    stage_of = {t.layer: t.processor for tasks in table.processor_tasks for t in tasks}
    stages = len([tasks for tasks in table.processor_tasks if tasks])
    for layer, stale in table.staleness["forward"].items():
        assert stale == 2 * (stages - 1 - stage_of[layer])


# The ILP grows with layers × processors: 16-layer chains keep this under a minute while still
# covering more processors than layers and the reverse (the zoo's 40-task networks are in tests of their own).
@settings(max_examples=20)
@given(network=fc_chains(max_layers=16), processors=st.integers(1, 16), cost=cost_models())
def test_optimal_is_never_worse_than_layerpipe(network, processors, cost):
    optimal = schedule(network, processors, "optimal", cost)
    assert_table_invariants(optimal)
    assert optimal.period_cycles <= schedule(network, processors, "layerpipe", cost).period_cycles
