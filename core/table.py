"""ScheduleTable: the static processor-task table, the contract of sim/ and hw/.

Plain JSON with a schema version. :data:`TABLE_SCHEMA` declares every field a consumer
reads (docs/architecture.md lists them); a :class:`ScheduleTable` is validated when it is
made and names the first bad field. Validation does not re-derive the schedule, so a table
edited by hand loads and its timing faults are caught where the table is executed (the
cycle simulator) or checked (:func:`layerpipe.sched.table.check`). The properties are the
typed view every consumer reads instead of the JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.files import write_text_atomic
from layerpipe.core.network import Network, network_from_dict
from layerpipe.core.schema import Boolean, Integer, ListOf, MapOf, Nullable, Number, Record, Table, Text, raiser
from layerpipe.core.tasks import KINDS, Task

__all__ = ["SCHEMA", "SCHEMA_VERSION", "SAMPLE_COUNTS", "TABLE_SCHEMA", "TableTask", "DelayLine", "Transfer",
           "BankAccess", "WeightVersions", "ScheduleTable", "load_table"]

SCHEMA = "layerpipe-schedule-table"
SCHEMA_VERSION = 1
SAMPLE_COUNTS = (1, 2, 17, 100)  # the sample counts a table's predicted.total_cycles lists

_COUNT, _CYCLE, _LAYER = Integer(0), Integer(0), Integer(1)
TABLE_SCHEMA = Record({
    "policy": Text(), "memory_model": Text(), "processors": Integer(1),
    "network": Table(),  # validated by core/network.py
    "cost_model": Table(),  # validated by core/costs.py
    "period_cycles": Integer(1), "lower_bound_cycles": _CYCLE,
    "processor_tasks": ListOf(ListOf(Record(
        {"kind": Text(KINDS), "layer": _LAYER, "start": _CYCLE, "cycles": Integer(1), "lag": _COUNT,
         "lockstep": Nullable(_COUNT)}, optional=frozenset({"lockstep"})))),
    "staleness": ListOf(Record({"layer": _LAYER, "forward": _COUNT, "backward_latest": Nullable(Integer())})),
    "delay_lines": ListOf(Record({"item": Text(), "words": Integer(1), "depth": _COUNT,
                                  "consumers": ListOf(Text())})),
    "transfers": ListOf(Record({"item": Text(), "from": _COUNT, "to": _COUNT, "words": Integer(1),
                                "cycles": _CYCLE})),
    "transfer_words_per_sample": _COUNT,
    "bank_ports": ListOf(Record({"layer": _LAYER, "accesses": ListOf(Record(
        {"tasks": ListOf(Text()), "start": _CYCLE, "end": _CYCLE, "ports": Integer(1)}))})),
    "weight_versions": MapOf(Record({"versions": ListOf(_COUNT), "memory_words": _COUNT})),
    "delay_line_words": _COUNT,
    "retiming": Record({"loops": ListOf(Record({"layer": _LAYER, "cycles": _CYCLE, "delays": _COUNT})),
                        "iteration_bound_cycles": Number()}),
    "predicted": Record({"latency_cycles": Integer(1), "busy_cycles": ListOf(_CYCLE),
                         "utilisation": ListOf(Number()), "utilisation_mean": Number(),
                         "total_cycles_formula": Text(), "total_cycles": MapOf(Integer(1))}),
    # what each layer's lanes run over and how many of them work (optional: older tables have none)
    "dataflow": ListOf(Record({"layer": _LAYER, "lanes_over": Text(), "lane_use": MapOf(Number())})),
}, optional=frozenset({"dataflow"}))
# The policy's account of its search, stored under the policy's name (optional: older tables have none).
SEARCH_SCHEMA = Record({"proven": Boolean(), "stopped_by": Nullable(Text(("work", "time")))})

_fail = raiser("schedule table")


@dataclass(frozen=True)
class TableTask:
    """One entry of a processor's task list."""

    kind: str
    layer: int
    start: int
    cycles: int
    lag: int
    lockstep: int | None
    processor: int

    @property
    def task(self) -> Task:
        return Task(self.kind, self.layer)

    @property
    def name(self) -> str:
        return f"{self.kind}{self.layer}"

    @property
    def end(self) -> int:
        return self.start + self.cycles


@dataclass(frozen=True)
class DelayLine:
    """A data item's buffer: ``depth`` periods of ``words`` words, read by ``consumers``."""

    item: str
    words: int
    depth: int
    consumers: tuple[str, ...]


@dataclass(frozen=True)
class Transfer:
    """A data item crossing from processor ``source`` to ``destination`` once per sample."""

    item: str
    source: int
    destination: int
    words: int
    cycles: int


@dataclass(frozen=True)
class BankAccess:
    """Tasks reading a layer's weight bank together over [start, end) of the period, on ``ports`` ports."""

    tasks: tuple[str, ...]
    start: int
    end: int
    ports: int


@dataclass(frozen=True)
class WeightVersions:
    """The weight versions a policy keeps beside the bank: per layer, and their words in all."""

    versions: tuple[int, ...]
    memory_words: int

    @property
    def per_layer(self) -> dict[int, int]:
        return {layer: count for layer, count in enumerate(self.versions, start=1)}


class ScheduleTable:
    """A validated table; ``data`` is the JSON document, the properties are typed views of it."""

    def __init__(self, data: dict):
        _validate(data)
        self.data = data
        self.network: Network = network_from_dict(data["network"], source="table network")
        self.cost = CostModel.from_dict(data["cost_model"])
        _check_against_network(self)

    # -- how it was made -----------------------------------------------------------
    @property
    def policy(self) -> str:
        return self.data["policy"]

    @property
    def processors(self) -> int:
        return self.data["processors"]

    @property
    def memory_model(self) -> str:
        return self.data["memory_model"]

    @property
    def search(self) -> dict | None:
        """The policy's account of its own search, where it gives one (``optimal``: ``proven``, ``stopped_by``)."""
        return self.data.get(self.policy)

    # -- the schedule --------------------------------------------------------------
    @property
    def period_cycles(self) -> int:
        return self.data["period_cycles"]

    @property
    def lower_bound_cycles(self) -> int:
        return self.data["lower_bound_cycles"]

    @property
    def processor_tasks(self) -> list[list[TableTask]]:
        return [[TableTask(t["kind"], t["layer"], t["start"], t["cycles"], t["lag"], t.get("lockstep"), p)
                 for t in tasks] for p, tasks in enumerate(self.data["processor_tasks"])]

    @property
    def tasks(self) -> dict[Task, TableTask]:
        return {t.task: t for tasks in self.processor_tasks for t in tasks}

    @property
    def staleness(self) -> dict[str, dict[int, int]]:
        """``{"forward": {layer: D}, "backward_latest": {layer: D}}``: samples of delay per layer."""
        rows = self.data["staleness"]
        return {"forward": {r["layer"]: r["forward"] for r in rows},
                "backward_latest": {r["layer"]: r["backward_latest"] for r in rows
                                    if r["backward_latest"] is not None}}

    # -- what it stores and moves --------------------------------------------------
    @property
    def delay_lines(self) -> list[DelayLine]:
        return [DelayLine(d["item"], d["words"], d["depth"], tuple(d["consumers"])) for d in self.data["delay_lines"]]

    @property
    def delay_line_words(self) -> int:
        return self.data["delay_line_words"]

    @property
    def transfers(self) -> list[Transfer]:
        return [Transfer(t["item"], t["from"], t["to"], t["words"], t["cycles"]) for t in self.data["transfers"]]

    @property
    def transfer_words_per_sample(self) -> int:
        return self.data["transfer_words_per_sample"]

    @property
    def bank_ports(self) -> dict[int, tuple[BankAccess, ...]]:
        """Per layer, the access groups on its weight bank within one period."""
        return {entry["layer"]: tuple(BankAccess(tuple(a["tasks"]), a["start"], a["end"], a["ports"])
                                      for a in entry["accesses"]) for entry in self.data["bank_ports"]}

    @property
    def weight_versions(self) -> dict[str, WeightVersions]:
        """Per weight policy (core/weight_policies.py), the versions it keeps beside the bank."""
        return {name: WeightVersions(tuple(v["versions"]), v["memory_words"])
                for name, v in self.data["weight_versions"].items()}

    @property
    def iteration_bound_cycles(self) -> float:
        return self.data["retiming"]["iteration_bound_cycles"]

    # -- the prediction ------------------------------------------------------------
    @property
    def latency_cycles(self) -> int:
        return self.data["predicted"]["latency_cycles"]

    @property
    def total_cycles_formula(self) -> str:
        return self.data["predicted"]["total_cycles_formula"]

    @property
    def busy_cycles(self) -> list[int]:
        """Per processor, the cycles of one period it runs tasks."""
        return self.data["predicted"]["busy_cycles"]

    @property
    def processor_utilisation(self) -> list[float]:
        return self.data["predicted"]["utilisation"]

    @property
    def utilisation(self) -> float:
        return self.data["predicted"]["utilisation_mean"]

    def total_cycles(self, samples: int) -> int:
        """Cycles from the first sample's F_1 to the end of the last sample's last task."""
        if samples < 1:
            raise LayerPipeError(f"samples is {samples}; give at least 1")
        return (samples - 1) * self.period_cycles + self.latency_cycles

    # -- files ---------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(self.data, indent=1)

    def save(self, path: str | Path) -> None:
        """Write atomically: a temporary file in the same folder, then a rename."""
        write_text_atomic(path, self.to_json() + "\n")


def _validate(data) -> None:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise LayerPipeError("schedule table: not a LayerPipe schedule table (field 'schema' is not "
                             f"'{SCHEMA}'); make one with `layerpipe schedule -o table.json`")
    if data.get("schema_version") != SCHEMA_VERSION:
        _fail("schema_version", f"is {data.get('schema_version')!r}, this tool reads version {SCHEMA_VERSION}; "
              "regenerate the table with this version of layerpipe")
    TABLE_SCHEMA.check(data, "", _fail)
    if len(data["processor_tasks"]) != data["processors"]:
        _fail("processor_tasks", f"has {len(data['processor_tasks'])} lists for {data['processors']} processors")
    if data["policy"] in data:
        SEARCH_SCHEMA.check(data[data["policy"]], data["policy"], _fail)


def _check_against_network(table: ScheduleTable) -> None:
    """The fields whose length or range the network fixes."""
    depth = table.network.depth
    for task in table.tasks:
        if task.layer > depth:
            _fail("processor_tasks", f"task {task.name} names layer {task.layer} of a {depth}-layer network")
    layers = sorted(row["layer"] for row in table.data["staleness"])
    if layers != list(range(1, depth + 1)):
        _fail("staleness", f"has rows for layers {layers}; a {depth}-layer network needs one for each of 1..{depth}")
    for name, kept in table.weight_versions.items():
        if len(kept.versions) != depth:
            _fail(f"weight_versions.{name}.versions", f"has {len(kept.versions)} counts for {depth} layers")


def load_table(path: str | Path) -> ScheduleTable:
    path = Path(path)
    if not path.is_file():
        raise LayerPipeError(f"schedule table '{path}' does not exist")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LayerPipeError(f"schedule table '{path}' is not valid JSON: {str(exc).splitlines()[0]}") from None
    return ScheduleTable(data)
