"""The ScheduleTable's one declarative schema: every field it names is checked, by its path."""

import copy
import re

import pytest

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.schema import ListOf, MapOf, Nullable, Record
from layerpipe.core.table import TABLE_SCHEMA, ScheduleTable
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network

TABLE = schedule(zoo_network("mlp-digits"), 3, "layerpipe")


def required_paths(schema, value, path=()):
    """(path of keys and indices, field name) of every required record field present in ``value``."""
    if isinstance(schema, Nullable):
        if value is not None:
            yield from required_paths(schema.inner, value, path)
    elif isinstance(schema, Record):
        for name, inner in schema.fields.items():
            if name in value:
                if name not in schema.optional:
                    yield path + (name,)
                yield from required_paths(inner, value[name], path + (name,))
    elif isinstance(schema, ListOf) and value:
        yield from required_paths(schema.item, value[0], path + (0,))
    elif isinstance(schema, MapOf) and value:
        key = next(iter(value))
        yield from required_paths(schema.value, value[key], path + (key,))


def dotted(path) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


PATHS = list(required_paths(TABLE_SCHEMA, TABLE.data))


def test_the_schema_covers_what_the_consumers_read():
    names = {dotted(p) for p in PATHS}
    for path in ("processor_tasks[0][0].cycles", "staleness[0].backward_latest", "delay_lines[0].depth",
                 "bank_ports[0].accesses[0].tasks", "weight_versions.latest.versions", "predicted.busy_cycles",
                 "retiming.iteration_bound_cycles", "transfers[0].words"):
        assert path in names


@pytest.mark.parametrize("path", PATHS, ids=dotted)
def test_a_missing_field_is_named(path):
    data = copy.deepcopy(TABLE.data)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    del parent[path[-1]]
    with pytest.raises(LayerPipeError) as error:
        ScheduleTable(data)
    assert str(error.value) == f"schedule table: {dotted(path)}: is missing"


@pytest.mark.parametrize("path", [p for p in PATHS if p[-1] in ("depth", "cycles", "memory_words", "layer")],
                         ids=dotted)
def test_a_wrong_type_is_named_with_what_it_should_be(path):
    data = copy.deepcopy(TABLE.data)
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = "many"
    with pytest.raises(LayerPipeError) as error:
        ScheduleTable(data)
    assert re.fullmatch(rf"schedule table: {re.escape(dotted(path))}: should be an integer >= \d, found 'many'",
                        str(error.value))


def test_lengths_the_network_fixes_are_checked():
    data = copy.deepcopy(TABLE.data)
    data["weight_versions"]["stash"]["versions"].pop()
    with pytest.raises(LayerPipeError, match=r"weight_versions\.stash\.versions: has 2 counts for 3 layers"):
        ScheduleTable(data)
    data = copy.deepcopy(TABLE.data)
    data["staleness"].pop()
    with pytest.raises(LayerPipeError, match="staleness: has rows for layers"):
        ScheduleTable(data)


def test_the_typed_view_reads_the_document():
    table = ScheduleTable(copy.deepcopy(TABLE.data))
    assert [line.item for line in table.delay_lines] == [d["item"] for d in TABLE.data["delay_lines"]]
    assert sum(t.words for t in table.transfers) == table.transfer_words_per_sample
    assert sorted(table.bank_ports) == [1, 2, 3]
    assert table.processor_utilisation == [round(b / table.period_cycles, 6) for b in table.busy_cycles]
