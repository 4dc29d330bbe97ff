"""The hardware plan: a ScheduleTable lowered, once, to what the RTL builds.

:func:`hardware_plan` validates a table for a FixedFormat and a weight policy (``sched.table.check``,
what this RTL supports: :func:`check_supported`) exactly once and
returns an immutable :class:`HardwarePlan`: per processing element its task plans
(:class:`TaskPlan`, one ROM entry each), every data item's buffer (:class:`BufferGeometry`),
the stashed weight versions, the static assignment of each weight bank's two ports
(:class:`PortUse`), the links between processors (:class:`LinkPlan`) and the pipeline's
latencies. The components (:class:`~layerpipe.hw.pe.PE`,
:class:`~layerpipe.hw.accelerator.Accelerator`) elaborate from it; the sidecar and the
resource estimates read it, so no component is built just to be asked a question.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import require_layer_kinds
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.weight_policies import WEIGHT_POLICIES, BackwardRead, WeightPolicy
from layerpipe.hw.mac import MacOp, mac_latency
from layerpipe.hw.signatures import DelayReadSignature, DelayWriteSignature, element_shape
from layerpipe.hw.weight_bank import bank_depth
from layerpipe.sched.table import check as check_table

__all__ = ["INPUT_ITEMS", "PORT_NAMES", "BufferGeometry", "TaskPlan", "PortUse", "LinkPlan",
           "PEPlan", "HardwarePlan", "hardware_plan", "check_supported", "buffer_geometry", "stash_versions",
           "task_plans", "bank_port_plan", "pipeline_cycles", "memory_depth", "index_shape", "CYCLE_BITS",
           "sample_layout", "result_layout", "error_bits"]

CYCLE_BITS = 48  # the accelerator's cycle counters
INPUT_ITEMS = ("a0", "target")  # written by the input stream: one extra (staging) slot
PORT_NAMES = ("a", "b")  # bank port 0, 1


def index_shape(count: int) -> range:
    """Shape of an index into ``count`` things, at least one bit wide (Verilog has no 0-bit vectors)."""
    return range(max(2, count))


def memory_depth(rows: int) -> int:
    """Rows of a memory holding ``rows`` rows: at least 2, so that its address is at least one bit wide."""
    return max(2, rows)


def sample_layout(table, fmt: FixedFormat) -> data.StructLayout:
    """The input stream's payload: one sample's input vector and target."""
    sizes = table.network.sizes
    return data.StructLayout({"x": data.ArrayLayout(signed(fmt.data_bits), sizes[0]),
                              "target": data.ArrayLayout(signed(fmt.data_bits), sizes[-1])})


def error_bits(table, fmt: FixedFormat) -> int:
    """Width of a sample's squared error Σ_j (y_j − t_j)², exact (sim/fixed.py squared_error)."""
    return 2 * fmt.data_bits + max(0, math.ceil(math.log2(table.network.sizes[-1])))


def result_layout(table, fmt: FixedFormat) -> data.StructLayout:
    """The result stream's payload: one sample's output vector and squared error."""
    return data.StructLayout({"y": data.ArrayLayout(signed(fmt.data_bits), table.network.sizes[-1]),
                              "error": unsigned(error_bits(table, fmt))})


@dataclass(frozen=True)
class BufferGeometry:
    """A data item's delay line: ``slots`` samples of ``entries`` rows of ``lanes`` elements."""

    item: str
    words: int  # neurons of one sample
    slots: int
    lanes: int
    element: str  # "data" (a data word) or "mask" (one bit): hw/signatures.py's elements

    @property
    def entries(self) -> int:
        return math.ceil(self.words / self.lanes)

    @property
    def depth(self) -> int:
        return self.slots * self.entries

    def row(self, fmt: FixedFormat) -> data.ArrayLayout:
        return data.ArrayLayout(element_shape(fmt, self.element), self.lanes)

    def read_signature(self, fmt: FixedFormat) -> DelayReadSignature:
        return DelayReadSignature(self.row(fmt), self.entries)

    def write_signature(self, fmt: FixedFormat) -> DelayWriteSignature:
        return DelayWriteSignature(self.row(fmt), self.lanes, self.entries)


def _item_neurons(item: str, sizes: list[int]) -> int:
    if item == "target":
        return sizes[-1]
    for prefix in ("mask", "err", "a"):
        if item.startswith(prefix) and item[len(prefix):].isdigit():
            return sizes[int(item[len(prefix):])]
    raise LayerPipeError(f"schedule table: unknown data item '{item}' in delay_lines")


def buffer_geometry(table) -> dict[str, BufferGeometry]:
    """Every data item's buffer, sized by the table's delay-line depth (+1 staging slot for input items)."""
    sizes = table.network.sizes
    lanes = table.cost.lanes
    result = {}
    for line in table.delay_lines:
        item = line.item
        slots = max(1, line.depth) + (1 if item in INPUT_ITEMS else 0)
        element = "mask" if item.startswith("mask") else "data"
        result[item] = BufferGeometry(item, _item_neurons(item, sizes), slots, lanes, element)
    return result


def stash_versions(table, policy: WeightPolicy) -> dict[int, int]:
    """Stashed weight versions per layer under ``policy`` (0: B reads the bank)."""
    if policy.reads is not BackwardRead.FORWARD:
        return {layer.index: 0 for layer in table.network.layers}
    return table.weight_versions[policy.name].per_layer


@dataclass(frozen=True)
class TaskPlan:
    """One ROM entry of a PE and the memories it touches."""

    index: int
    kind: str
    layer: int
    start: int
    lag: int
    cycles: int
    rows: int
    chunks: int
    vec: str | None = None  # a_{l-1}, read one chunk per issue (F, G)
    err: str | None = None  # err_l, read one word per row (B, G)
    mask: str | None = None  # mask_l, read one bit per row (B, G of hidden layers)
    target: str | None = None  # target, read one word per row (F_L)
    out_word: str | None = None  # a_l (F hidden) or err_L (F_L), one word per row
    out_mask: str | None = None  # mask_l (F hidden), one bit per row
    out_chunk: str | None = None  # err_{l-1} (B), one chunk per issue of the last row
    result: bool = False  # F_L: output word and δ_L to the result stream
    stash: int = 0  # stashed versions of W_l: F writes them, B reads them

    @property
    def name(self) -> str:
        return f"{self.kind}{self.layer}"

    @property
    def issues(self) -> int:
        return self.rows * self.chunks

    @property
    def reads_bank(self) -> bool:
        return self.kind in ("F", "G") or (self.kind == "B" and not self.stash)

    def reads(self) -> list[str]:
        """The data items this task reads (one delay-line read side each)."""
        return [getattr(self, role) for role in ("vec", "err", "mask", "target") if getattr(self, role)]

    def writes(self) -> list[str]:
        """The data items this task produces."""
        return [getattr(self, role) for role in ("out_word", "out_mask", "out_chunk") if getattr(self, role)]


def task_plans(table, processor: int, versions: dict[int, int]) -> list[TaskPlan]:
    network, lanes = table.network, table.cost.lanes
    depth = network.depth
    plans = []
    for index, entry in enumerate(table.processor_tasks[processor]):
        layer = network.layer(entry.layer)
        rows, chunks = layer.out_size, math.ceil(layer.in_size / lanes)
        l, hidden = entry.layer, entry.layer < depth
        common = dict(index=index, kind=entry.kind, layer=l, start=entry.start, lag=entry.lag,
                      cycles=entry.cycles, rows=rows, chunks=chunks)
        if entry.kind == "F":
            if hidden:
                plan = TaskPlan(**common, vec=f"a{l - 1}", out_word=f"a{l}", out_mask=f"mask{l}",
                                stash=versions[l])
            else:
                plan = TaskPlan(**common, vec=f"a{l - 1}", target="target", out_word=f"err{l}", result=True,
                                stash=versions[l])
        elif entry.kind == "B":
            plan = TaskPlan(**common, err=f"err{l}", mask=f"mask{l}" if hidden else None,
                            out_chunk=f"err{l - 1}", stash=versions[l])
        else:
            plan = TaskPlan(**common, vec=f"a{l - 1}", err=f"err{l}", mask=f"mask{l}" if hidden else None)
        plans.append(plan)
    return plans


@dataclass(frozen=True)
class PortUse:
    """Which bank port a task uses for reading (and G for writing)."""

    task: str
    read: int | None
    write: int | None


def bank_port_plan(table, versions: dict[int, int]) -> dict[int, tuple[PortUse, ...]]:
    """Static assignment of each layer's two bank ports to its access groups (table ``bank_ports``).

    Groups are taken in start order; each takes the free ports it needs (a G group: read on
    one, write on the other). Tasks of one lockstep group share the read port.
    """
    plan = {}
    for layer, accesses in table.bank_ports.items():
        taken = []  # (start, end, ports)
        uses = []
        for group in sorted(accesses, key=lambda g: (g.start, g.end)):
            busy = set()
            for start, end, ports in taken:
                if start < group.end and group.start < end:
                    busy |= ports
            free = [p for p in (0, 1) if p not in busy]
            names = group.tasks
            writes = any(name.startswith("G") for name in names)
            readers = [name for name in names if not (name.startswith("B") and versions[layer])]
            need = int(bool(readers)) + int(writes)
            if len(free) < need:
                raise LayerPipeError(f"schedule table: the weight bank of layer {layer} needs more than two "
                                     f"ports at cycle {group.start} of the period; it is not a dual-port table")
            read_port = free[0] if readers else None
            write_port = free[-1] if writes else None
            taken.append((group.start, group.end, {p for p in (read_port, write_port) if p is not None}))
            for name in names:
                uses.append(PortUse(name, read_port if name in readers else None,
                                    write_port if name.startswith("G") else None))
        plan[layer] = tuple(uses)
    for layer in table.network.layers:
        if layer.index not in plan:
            raise LayerPipeError(f"schedule table: bank_ports has no entry for layer {layer.index}")
    return plan


def pipeline_cycles() -> int:
    """Cycles from a PE's last issue to its last write: one memory read + the VectorMAC's latency."""
    return 1 + max(mac_latency(("F", "B", "G")).values())


def check_supported(table, fmt) -> None:
    """Refuse (one-line LayerPipeError) what this RTL does not build.

    The table (validated against its schema when it was made) must pass ``sched.table.check``
    (the RTL executes it as written, so a hand-edited table with a broken dependency or a task
    length other than the cost model's would train wrongly), use only layer kinds the RTL
    builds (core/layer_kinds.py) and the ``dual-port`` memory model; the
    format must be a FixedFormat whose words are the table's and whose accumulator holds
    every dot product; the cost model's overhead must cover the PE pipeline.
    """
    if not isinstance(fmt, FixedFormat):
        raise LayerPipeError(f"numeric format {fmt!r} is not implemented in RTL; use a FixedFormat "
                             "(two's complement, round half up, saturation)")
    require_layer_kinds(table.network, "rtl")
    if table.memory_model != "dual-port":
        raise LayerPipeError(f"schedule table uses the '{table.memory_model}' memory model; RTL needs "
                             "'dual-port' (schedule with --memory dual-port)")
    needed = pipeline_cycles()
    if table.cost.task_overhead_cycles < needed:
        raise LayerPipeError(f"cost model task_overhead_cycles is {table.cost.task_overhead_cycles}; the PE "
                             f"pipeline needs at least {needed} (schedule with --overhead {needed} or more)")
    if fmt.data_bits != table.cost.word_bits:
        raise LayerPipeError(f"numeric format has {fmt.data_bits}-bit data words but the table's cost model "
                             f"counts {table.cost.word_bits}-bit words; use data_bits={table.cost.word_bits}")
    for layer in table.network.layers:
        fmt.check_fan_in(layer.in_size)  # F: a row's dot product
        fmt.check_fan_in(layer.out_size)  # B: a column's sum over the rows
    problems = check_table(table)
    if problems:
        raise LayerPipeError(f"schedule table cannot be executed as written: {problems[0]}")


@dataclass(frozen=True)
class PEPlan:
    """One processing element: its task ROM and what its ports and MAC unit are made of."""

    processor: int
    tasks: tuple[TaskPlan, ...]
    lanes: int

    @cached_property
    def read_items(self) -> list[str]:
        return sorted({item for p in self.tasks for item in p.reads()})

    @cached_property
    def write_items(self) -> list[str]:
        return sorted({item for p in self.tasks for item in p.writes()})

    def readers(self, item: str) -> list[str]:
        """Names of this PE's read sides of ``item`` (one per task that reads it)."""
        return [f"{p.name}_{item}" for p in self.tasks if item in p.reads()]

    @property
    def mac_ops(self) -> tuple[str, ...]:
        """The operations its VectorMAC builds: those of its tasks."""
        return tuple(k for k in ("F", "B", "G") if any(p.kind == k for p in self.tasks))

    @property
    def mac_max_chunks(self) -> int:
        """Rows of the MAC's column accumulator memory: the widest B task's chunks."""
        return max((p.chunks for p in self.tasks if p.kind == "B"), default=1)

    @cached_property
    def tag_layout(self) -> data.StructLayout:
        """What an operand carries through the MAC to its write: task, row address, row (je, jl)."""
        return data.StructLayout({
            "task": index_shape(len(self.tasks)), "lin": index_shape(max(p.issues for p in self.tasks)),
            "je": index_shape(math.ceil(max(p.rows for p in self.tasks) / self.lanes)),
            "jl": index_shape(self.lanes)})

    @property
    def first_task(self) -> TaskPlan | None:
        """The task launched in schedule cycle 0 (start 0, lag 0, N ≥ 1), or None."""
        return next((p for p in self.tasks if p.start == 0 and p.lag == 0), None)

    def last_write_after_issue(self, kind: str) -> int:
        """Cycles from a ``kind`` task's last issue to its last write (G: the bank; F: the output word
        of the last row): the operand read cycle, then the MAC's latency for that operation."""
        return 1 + mac_latency(self.mac_ops)[MacOp[kind]]


@dataclass(frozen=True)
class LinkPlan:
    """A link carrying ``item`` from its producer's PE to a consumer's delay-line copy."""

    item: str
    producer: int
    consumer: int
    chunks_per_beat: bool  # B's output (a row chunk per beat); else F's (one word per beat)
    width: int  # elements per beat


@dataclass(frozen=True)
class HardwarePlan:
    """A validated table lowered for one format and weight policy (module docstring)."""

    table: object  # the ScheduleTable
    fmt: FixedFormat
    weights: str
    pes: dict[int, PEPlan]  # processors that have tasks
    buffers: dict[str, BufferGeometry]
    versions: dict[int, int]  # stashed weight versions per layer (0: none)
    ports: dict[int, tuple[PortUse, ...]]

    @property
    def lanes(self) -> int:
        return self.table.cost.lanes

    @property
    def sizes(self) -> list[int]:
        return self.table.network.sizes

    @property
    def stash(self) -> dict[int, int]:
        """Layers with a stash and their version counts."""
        return {layer: v for layer, v in self.versions.items() if v}

    @property
    def bank_rows(self) -> dict[int, int]:
        return {layer.index: bank_depth(layer.out_size, layer.in_size, self.lanes)
                for layer in self.table.network.layers}

    def writable_ports(self, layer: int) -> tuple[str, ...]:
        """Names of the bank ports of ``layer`` that G writes through."""
        return tuple(PORT_NAMES[u.write] for u in self.ports[layer] if u.write is not None)

    def task_pe(self, name: str) -> tuple[int, TaskPlan]:
        """The processor that runs task ``name`` (e.g. ``G2``) and its plan."""
        for p, pe in self.pes.items():
            for plan in pe.tasks:
                if plan.name == name:
                    return p, plan
        raise LayerPipeError(f"schedule table: task {name} is not on any processor")

    def consumers(self, item: str) -> list[int]:
        return sorted(p for p, pe in self.pes.items() if item in pe.read_items)

    def producer(self, item: str) -> int:
        (producer,) = [p for p, pe in self.pes.items() if item in pe.write_items]
        return producer

    def links(self, item: str) -> list[LinkPlan]:
        """The links of a produced item: one per consuming processor other than the producer."""
        producer = self.producer(item)
        chunks_per_beat = item.startswith("err") and item != f"err{self.table.network.depth}"  # B's output
        width = self.lanes if chunks_per_beat else 1
        return [LinkPlan(item, producer, q, chunks_per_beat, width) for q in self.consumers(item) if q != producer]

    def input_readers(self, item: str) -> list[tuple[int, str]]:
        """(processor, read side) of every task reading an input item (its one delay line)."""
        return [(p, side) for p, pe in self.pes.items() for side in pe.readers(item)]


def hardware_plan(table, fmt: FixedFormat, weights: str = "stash") -> HardwarePlan:
    """Validate ``table`` for ``fmt`` and ``weights`` (one-line LayerPipeError) and lower it."""
    policy = WEIGHT_POLICIES.supported(weights, "rtl", "weights")
    check_supported(table, fmt)
    versions = stash_versions(table, policy)
    lanes = table.cost.lanes
    pes = {p: PEPlan(p, tuple(task_plans(table, p, versions)), lanes)
           for p, tasks in enumerate(table.processor_tasks) if tasks}
    return HardwarePlan(table, fmt, weights, pes, buffer_geometry(table), versions, bank_port_plan(table, versions))
