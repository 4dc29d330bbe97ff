"""ScheduleTable: the static processor-task table, the contract of sim/ and hw/.

Plain JSON with a schema version (docs/architecture.md lists every field). Loading
validates the structure and names the first bad field; it does not re-derive the
schedule, so a table edited by hand loads and its timing faults are caught where the
table is executed (the cycle simulator) or checked (:func:`layerpipe.sched.table.check`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from layerpipe.core.costs import CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.files import write_text_atomic
from layerpipe.core.network import Network, network_from_dict
from layerpipe.core.tasks import KINDS, Task

__all__ = ["SCHEMA", "SCHEMA_VERSION", "SAMPLE_COUNTS", "TableTask", "ScheduleTable", "table_from_dict",
           "load_table"]

SCHEMA = "layerpipe-schedule-table"
SCHEMA_VERSION = 1
SAMPLE_COUNTS = (1, 2, 17, 100)  # the sample counts a table's predicted.total_cycles lists
_TASK_FIELDS = {"kind": str, "layer": int, "start": int, "cycles": int, "lag": int}
_STOPPED_BY = ("work", "time", None)  # what cut a policy's search short: a work budget, the time limit, nothing


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


class ScheduleTable:
    """A validated table; ``data`` is the JSON document, the properties are typed views of it."""

    def __init__(self, data: dict):
        self.data = data
        self.network: Network = network_from_dict(data["network"], source="table network")
        self.cost = CostModel.from_dict(data["cost_model"])

    # -- the fields consumers use --------------------------------------------------
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
    def period_cycles(self) -> int:
        return self.data["period_cycles"]

    @property
    def lower_bound_cycles(self) -> int:
        return self.data["lower_bound_cycles"]

    @property
    def latency_cycles(self) -> int:
        return self.data["predicted"]["latency_cycles"]

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

    @property
    def delay_lines(self) -> list[dict]:
        return self.data["delay_lines"]

    @property
    def utilisation(self) -> float:
        return self.data["predicted"]["utilisation_mean"]

    @property
    def transfer_words_per_sample(self) -> int:
        return self.data["transfer_words_per_sample"]

    @property
    def search(self) -> dict | None:
        """The policy's account of its own search, where it gives one (``optimal``: ``proven``, ``stopped_by``)."""
        return self.data.get(self.policy)

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


def _fail(path: str, message: str) -> None:
    raise LayerPipeError(f"schedule table: {path}: {message}")


def _validate(data) -> None:
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise LayerPipeError("schedule table: not a LayerPipe schedule table (field 'schema' is not "
                             f"'{SCHEMA}'); make one with `layerpipe schedule -o table.json`")
    if data.get("schema_version") != SCHEMA_VERSION:
        _fail("schema_version", f"is {data.get('schema_version')!r}, this tool reads version {SCHEMA_VERSION}; "
              "regenerate the table with this version of layerpipe")
    for key, kind in (("policy", str), ("memory_model", str), ("processors", int), ("period_cycles", int),
                      ("lower_bound_cycles", int), ("network", dict), ("cost_model", dict),
                      ("processor_tasks", list), ("staleness", list), ("delay_lines", list),
                      ("transfers", list), ("predicted", dict)):
        if key not in data:
            _fail(key, "is missing")
        if not isinstance(data[key], kind) or isinstance(data[key], bool):
            _fail(key, f"should be a {kind.__name__}, found {type(data[key]).__name__}")
    if data["processors"] < 1 or len(data["processor_tasks"]) != data["processors"]:
        _fail("processor_tasks", f"has {len(data['processor_tasks'])} lists for {data['processors']} processors")
    if data["period_cycles"] < 1:
        _fail("period_cycles", "must be a positive integer")
    for p, tasks in enumerate(data["processor_tasks"]):
        if not isinstance(tasks, list):
            _fail(f"processor_tasks[{p}]", "should be a list of tasks")
        for i, task in enumerate(tasks):
            where = f"processor_tasks[{p}][{i}]"
            if not isinstance(task, dict):
                _fail(where, "should be a table of fields")
            for key, kind in _TASK_FIELDS.items():
                if not isinstance(task.get(key), kind) or isinstance(task.get(key), bool):
                    _fail(f"{where}.{key}", f"should be a {kind.__name__}, found {task.get(key)!r}")
            if task["kind"] not in KINDS:
                _fail(f"{where}.kind", f"is {task['kind']!r}; use one of {', '.join(KINDS)}")
            if task["cycles"] < 1 or task["start"] < 0 or task["lag"] < 0:
                _fail(where, "needs cycles >= 1, start >= 0 and lag >= 0")
    if "latency_cycles" not in data["predicted"]:
        _fail("predicted.latency_cycles", "is missing")
    policy = data["policy"]
    if policy in data:  # the policy's account of its search: optional, older tables have none
        search = data[policy]
        if not isinstance(search, dict):
            _fail(policy, "should be a table of fields")
        if not isinstance(search.get("proven"), bool):
            _fail(f"{policy}.proven", f"should be true or false, found {search.get('proven')!r}")
        if "stopped_by" not in search or search["stopped_by"] not in _STOPPED_BY:
            _fail(f"{policy}.stopped_by", f"should be \"work\", \"time\" or null, found {search.get('stopped_by')!r}")


def table_from_dict(data) -> ScheduleTable:
    _validate(data)
    table = ScheduleTable(data)
    depth = table.network.depth
    for task in table.tasks:
        if not 1 <= task.layer <= depth:
            _fail("processor_tasks", f"task {task.name} names layer {task.layer} of a {depth}-layer network")
    return table


def load_table(path: str | Path) -> ScheduleTable:
    path = Path(path)
    if not path.is_file():
        raise LayerPipeError(f"schedule table '{path}' does not exist")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LayerPipeError(f"schedule table '{path}' is not valid JSON: {str(exc).splitlines()[0]}") from None
    return table_from_dict(data)


