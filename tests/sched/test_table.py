import copy

import pytest

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.table import ScheduleTable, load_table
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.table import check
from layerpipe.sched.zoo import zoo_network


@pytest.fixture
def table():
    return schedule(zoo_network("mlp-digits"), 4, "layerpipe", CostModel())


def test_save_and_load_round_trip(tmp_path, table):
    path = tmp_path / "sub" / "t.json"
    table.save(path)
    loaded = load_table(path)
    assert loaded.data == table.data
    assert [p.name for p in tmp_path.joinpath("sub").iterdir()] == ["t.json"]  # no temporary left


def test_total_cycles_formula_matches_predictions(table):
    for samples, total in table.data["predicted"]["total_cycles"].items():
        assert table.total_cycles(int(samples)) == total
    assert table.total_cycles(1) == table.latency_cycles


def test_lower_bound_is_max_of_average_and_longest(table):
    cycles = [t.cycles for tasks in table.processor_tasks for t in tasks]
    assert table.lower_bound_cycles == max(-(-sum(cycles) // table.processors), max(cycles))


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["processor_tasks"][0][0].update(start=d["period_cycles"]), "after the period"),
    (lambda d: d["processor_tasks"][0].append(dict(d["processor_tasks"][0][0])), "exactly once"),
    (lambda d: d.update(period_cycles=d["period_cycles"] // 2), "period"),
    (lambda d: [t.update(lag=0) for tasks in d["processor_tasks"] for t in tasks], "dependency"),
])
def test_check_finds_edited_tables(table, edit, message):
    data = copy.deepcopy(table.data)
    edit(data)
    problems = check(ScheduleTable(data))
    assert any(message in p for p in problems), problems


def test_check_accepts_scheduler_output(table):
    assert check(table) == []


def test_wrong_field_type_is_named(table):
    data = copy.deepcopy(table.data)
    data["processor_tasks"][1][0]["cycles"] = "many"
    with pytest.raises(LayerPipeError, match=r"processor_tasks\[1\]\[0\]\.cycles"):
        ScheduleTable(data)


def test_dual_port_tables_never_overuse_a_bank():
    for processors in (2, 3, 4, 6):
        t = schedule(zoo_network("mlp-digits"), processors, "layerpipe", CostModel(memory="dual-port"))
        assert check(t) == []


def test_optimal_entry_is_optional_and_checked():
    table = schedule(zoo_network("mlp-digits"), 2, "optimal", CostModel())
    assert table.search == table.data["optimal"] == {"proven": True, "stopped_by": None}
    older = copy.deepcopy(table.data)
    del older["optimal"]  # as tables written before the entry existed
    assert ScheduleTable(older).search is None
    for field, value in (("stopped_by", "luck"), ("proven", "yes")):
        data = copy.deepcopy(table.data)
        data["optimal"][field] = value
        with pytest.raises(LayerPipeError, match=rf"optimal\.{field}"):
            ScheduleTable(data)
