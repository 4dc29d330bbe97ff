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

from layerpipe.core.conv_dataflow import conv_task_nest, input_layout, output_layout
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import LAYER_KINDS, require_layer_kinds
from layerpipe.core.loop_nest import LoopNest
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.pooling import DEFAULT_POOL_MODE, POOL_MODES
from layerpipe.core.weight_policies import WEIGHT_POLICIES, BackwardRead, WeightPolicy
from layerpipe.hw.conv_layout import bias_store_shape, layer_bank_depth, layer_readback_rows
from layerpipe.hw.mac import MacOp, mac_latency
from layerpipe.hw.signatures import DelayReadSignature, DelayWriteSignature, element_shape, mask_element
from layerpipe.sched.table import check as check_table
from layerpipe.sim.layers import check_sums, layer_ops

__all__ = ["INPUT_ITEMS", "PORT_NAMES", "BufferGeometry", "TaskPlan", "PortUse", "LinkPlan", "ConvBankPlan",
           "PEPlan", "HardwarePlan", "conv_bank_plan", "hardware_plan", "check_supported", "buffer_geometry",
           "stash_versions",
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
    element: str  # "data" (a data word) or a mask ("mask": one bit; "mask4": a conv pooling window's 4 bits)

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


def _item_words(item: str, network, lanes: int) -> tuple[int, str]:
    """Words of one sample of ``item`` in its buffer and their element.

    A conv layer's outputs are channel-chunked (core/conv_dataflow.py): whole rows, padding
    lanes included; its mask holds one pool²-bit element per pooled output.
    """
    if item == "target":
        return network.sizes[-1], "data"
    for prefix in ("mask", "err", "a"):
        if item.startswith(prefix) and item[len(prefix):].isdigit():
            index = int(item[len(prefix):])
            element = "data" if prefix != "mask" else "mask"
            if index == 0:
                return network.sizes[0], element
            layer = network.layer(index)
            if layer.kind != "conv":
                return layer.out_size, element
            if prefix == "mask":
                element = mask_element(layer.pool * layer.pool)
            return output_layout(layer, lanes).rows * lanes, element
    raise LayerPipeError(f"schedule table: unknown data item '{item}' in delay_lines")


def buffer_geometry(table) -> dict[str, BufferGeometry]:
    """Every data item's buffer, sized by the table's delay-line depth (+1 staging slot for input items)."""
    lanes = table.cost.lanes
    result = {}
    for line in table.delay_lines:
        item = line.item
        slots = max(1, line.depth) + (1 if item in INPUT_ITEMS else 0)
        words, element = _item_words(item, table.network, lanes)
        result[item] = BufferGeometry(item, words, slots, lanes, element)
    return result


def stash_versions(table, policy: WeightPolicy) -> dict[int, int]:
    """Stashed weight versions per layer under ``policy`` (0: B reads the bank)."""
    if policy.reads is not BackwardRead.FORWARD:
        return {layer.index: 0 for layer in table.network.layers}
    return table.weight_versions[policy.name].per_layer


@dataclass(frozen=True)
class TaskPlan:
    """One ROM entry of a PE and the memories it touches.

    An fc task issues ``rows · chunks`` weight chunks, row by row. A conv task (``nest``
    set) issues its loop nest (core/conv_dataflow.py) on the MAC operation ``mac_op``: F as
    the MAC's B (scalar × weight row, per lane), B as the MAC's F (a dot product), G as G
    summed over the positions; it reads ``vec`` (F, G) one element per issue and ``err``
    with ``mask`` (B, G) one row per issue, and writes ``out_word`` with ``out_mask`` (F) a
    row per pooled position and ``out_chunk`` (B) one word per input element.
    """

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
    nest: LoopNest | None = None  # a conv task's issue order and addresses
    bank_rows: int = 0  # rows of the layer's weight bank
    pool: int = 1  # a conv F task's pooling window
    pool_mode: str = DEFAULT_POOL_MODE  # how a conv layer pools (core/pooling.py): F's write-back, B's and G's δ
    bias_rows: int = 0  # F and G of a layer with a bias: rows of its bias store (hw/conv_layout.py)

    @property
    def name(self) -> str:
        return f"{self.kind}{self.layer}"

    @property
    def conv(self) -> bool:
        return self.nest is not None

    @property
    def error_shift(self) -> int:
        """What δ_pre divides a pooled error by, as a rounding shift: 2·log2 p for average pooling, else 0."""
        return POOL_MODES[self.pool_mode].shift(self.pool)

    @property
    def issues(self) -> int:
        return self.nest.issues if self.nest is not None else self.rows * self.chunks

    @property
    def mac_op(self) -> MacOp:
        """The VectorMAC operation the task issues (a conv layer's F and B swap the fc shapes)."""
        if self.conv and self.kind != "G":
            return MacOp.B if self.kind == "F" else MacOp.F
        return MacOp[self.kind]

    @property
    def writes_chunks(self) -> bool:
        """Its output item is written a row per write (fc B, conv F), else a word per write."""
        return (self.kind == "B") != self.conv

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
        l, hidden = entry.layer, entry.layer < depth
        common = dict(index=index, kind=entry.kind, layer=l, start=entry.start, lag=entry.lag,
                      cycles=entry.cycles, bank_rows=layer_bank_depth(layer, lanes),
                      bias_rows=bias_store_shape(layer, lanes)[0] if entry.kind != "B" else 0)
        if layer.kind == "conv":
            previous = network.layer(l - 1) if l > 1 else None
            nest = conv_task_nest(layer, entry.kind, lanes, input_layout(layer, lanes, previous))
            # one row of ``issues`` chunks for the PE's iterator (launch, last issue); the nest addresses
            common.update(nest=nest, rows=1, chunks=nest.issues, pool=layer.pool, pool_mode=layer.pool_mode)
        else:
            common.update(rows=layer.out_size, chunks=layer_bank_depth(layer, lanes) // layer.out_size)
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
        if LAYER_KINDS[layer.kind].shared_bank and layer.index not in plan:
            raise LayerPipeError(f"schedule table: bank_ports has no entry for layer {layer.index}")
    return plan


@dataclass(frozen=True)
class ConvBankPlan:
    """A conv layer's weight store (hw/conv_bank.py): one replica per processor that reads it."""

    layer: int
    readers: tuple[int, ...]  # the processors, one replica (read port) each, in this order
    writer: int  # G's processor
    double_buffered: bool  # a reader runs on another processor than G: G writes the other half

    def replica(self, processor: int) -> int:
        return self.readers.index(processor)


def conv_bank_plan(table, versions: dict[int, int]) -> dict[int, ConvBankPlan]:
    """Per conv layer: the processors that read its weights (F, G, and B unless it reads a stash)."""
    plan = {}
    processor_of = {(t.kind, t.layer): p for p, tasks in enumerate(table.processor_tasks) for t in tasks}
    for layer in table.network.layers:
        if LAYER_KINDS[layer.kind].shared_bank:
            continue
        l = layer.index
        kinds = ["F", "G"] + (["B"] if l > 1 and not versions[l] else [])
        readers = tuple(sorted({processor_of[(kind, l)] for kind in kinds}))
        writer = processor_of[("G", l)]
        plan[l] = ConvBankPlan(l, readers, writer, any(p != writer for p in readers))
    return plan


def bias_store_plan(table, conv_banks: dict[int, ConvBankPlan]) -> dict[int, ConvBankPlan]:
    """Per layer with a bias: its bias store's replicas. A conv layer's follow its weight store's (the same
    versions); an fc layer's are read by F and G, written in place by G (as its bank is: no halves)."""
    plan = {}
    processor_of = {(t.kind, t.layer): p for p, tasks in enumerate(table.processor_tasks) for t in tasks}
    for layer in table.network.layers:
        l = layer.index
        if not layer.bias:
            continue
        if l in conv_banks:
            plan[l] = conv_banks[l]
            continue
        readers = tuple(sorted({processor_of[("F", l)], processor_of[("G", l)]}))
        plan[l] = ConvBankPlan(l, readers, processor_of[("G", l)], False)
    return plan


def pipeline_cycles() -> int:
    """Cycles from a PE's last issue to its last write: one memory read + the VectorMAC's latency."""
    return 1 + max(mac_latency(("F", "B", "G")).values())


def _power_of_two(value: int) -> bool:
    return value & (value - 1) == 0


def _check_conv(layer, lanes: int) -> None:
    """What the conv dataflow's address generators split by a shift (core/conv_dataflow.py), in one line each
    (stride and projection are the golden model's refusals: sim/layers.py)."""
    where = f"convolution layer {layer.index} ('{layer.name}')"
    if not _power_of_two(layer.pool):
        raise LayerPipeError(f"{where}: field 'pool' is {layer.pool}; the RTL's address generator splits a "
                             "position into window and offset by a shift: use pool 1, 2 or 4")
    if not _power_of_two(lanes):
        raise LayerPipeError(f"cost model lanes is {lanes}; a conv layer's rows are addressed by a shift: "
                             "use lanes 4, 8 or 16")


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
    _, ops = layer_ops(table.network, "rtl")  # the golden model's layers: what it trains, the sums it forms
    check_sums(ops, fmt)
    for layer in table.network.layers:
        if layer.kind == "conv":
            _check_conv(layer, table.cost.lanes)
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
        """The operations its VectorMAC builds: those its tasks issue."""
        return tuple(op.name for op in MacOp if any(p.mac_op is op for p in self.tasks))

    @property
    def accumulates_g(self) -> bool:
        """A conv G runs here: the MAC sums G's products over a run of issues."""
        return any(p.conv and p.kind == "G" for p in self.tasks)

    @property
    def biases(self) -> bool:
        """F or G of a layer with a bias runs here: the MAC takes a bias row (hw/mac.py)."""
        return any(p.bias_rows for p in self.tasks)

    @property
    def mac_max_chunks(self) -> int:
        """Rows of the MAC's column accumulator memory: the widest fc B task's chunks (a conv F uses one)."""
        return max((p.chunks for p in self.tasks if p.mac_op is MacOp.B and not p.conv), default=1)

    @cached_property
    def tag_layout(self) -> data.StructLayout:
        """What an operand carries through the MAC to its write: task, row address, row (je, jl).

        A conv task carries its write address in ``lin`` (F: the pooled row; B: the row of
        e_{l−1}; G: the weight row) and in ``jl`` B's lane or F's position in the pooling window.
        """
        jl = max([self.lanes] + [p.pool * p.pool for p in self.tasks if p.conv])
        return data.StructLayout({
            "task": index_shape(len(self.tasks)), "lin": index_shape(max(p.issues for p in self.tasks)),
            "je": index_shape(math.ceil(max(p.rows for p in self.tasks) / self.lanes)),
            "jl": index_shape(jl)})

    @property
    def first_task(self) -> TaskPlan | None:
        """The task launched in schedule cycle 0 (start 0, lag 0, N ≥ 1), or None."""
        return next((p for p in self.tasks if p.start == 0 and p.lag == 0), None)

    def last_write_after_issue(self, kind: str) -> int:
        """Cycles from a ``kind`` task's last issue to its last write (G: the bank; F: the output word
        of the last row): the operand read cycle, then the MAC's latency for that operation."""
        op = next((p.mac_op for p in self.tasks if p.kind == kind), MacOp[kind])
        return 1 + mac_latency(self.mac_ops)[op]


@dataclass(frozen=True)
class LinkPlan:
    """A link carrying ``item`` from its producer's PE to a consumer's delay-line copy."""

    item: str
    producer: int
    consumer: int
    chunks_per_beat: bool  # a row chunk per beat (fc B, conv F); else one word per beat (fc F, conv B)
    width: int  # elements per beat
    row_lanes: tuple[int, ...] | None = None  # conv B's words per row, in turn (hw/receiver.py)


@dataclass(frozen=True)
class HardwarePlan:
    """A validated table lowered for one format and weight policy (module docstring)."""

    table: object  # the ScheduleTable
    fmt: FixedFormat
    weights: str
    pes: dict[int, PEPlan]  # processors that have tasks
    buffers: dict[str, BufferGeometry]
    versions: dict[int, int]  # stashed weight versions per layer (0: none)
    ports: dict[int, tuple[PortUse, ...]]  # the shared (fc) banks' ports
    conv_banks: dict[int, ConvBankPlan]  # the conv layers' weight stores
    bias_stores: dict[int, ConvBankPlan]  # the bias stores of the layers with a bias

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
        return {layer.index: layer_bank_depth(layer, self.lanes) for layer in self.table.network.layers}

    @property
    def readback_rows(self) -> dict[int, int]:
        """Rows of each layer's weight read-back: its bank's, then its bias store's."""
        return {layer.index: layer_readback_rows(layer, self.lanes) for layer in self.table.network.layers}

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
        (task,) = [p for p in self.pes[producer].tasks if item in p.writes()]
        chunks_per_beat = task.writes_chunks
        width = self.lanes if chunks_per_beat else 1
        row_lanes = None
        if task.conv and not chunks_per_beat:  # e_{l−1} of a conv layer l − 1: its channels, row by row
            channels, lanes = self.table.network.layer(task.layer - 1).out_shape[0], self.lanes
            chunks = math.ceil(channels / lanes)
            row_lanes = (lanes,) * (chunks - 1) + (channels - (chunks - 1) * lanes,)
        return [LinkPlan(item, producer, q, chunks_per_beat, width, row_lanes)
                for q in self.consumers(item) if q != producer]

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
    conv_banks = conv_bank_plan(table, versions)
    return HardwarePlan(table, fmt, weights, pes, buffer_geometry(table), versions, bank_port_plan(table, versions),
                        conv_banks, bias_store_plan(table, conv_banks))
