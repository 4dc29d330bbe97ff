"""Processing element: a sequencer, address generation and a vector MAC unit running F, B and G.

Everything here is derived from the ScheduleTable (the processor's task list, the
cost model's ``lanes`` and ``task_overhead_cycles``, the delay-line depths, the
weight-version counts) and the FixedFormat; nothing is restated.

Dataflow of one task of layer l (N_out rows, C = ceil(N_in / lanes) row chunks): the PE
issues one row chunk per cycle, row by row, ``N_out · C`` issues from the task's start
cycle, then its pipeline drains. Cycles after an issue:

=====  ===================================================================================
−1     the weight chunk requested (bank, or stash for B under ``stash``), a cycle ahead of
       its issue: from the iterator's next state (``prime`` for the issue of cycle 0)
+0     issue (the task's start cycle for the first one): the weight chunk arrives into its
       register; addresses of the activation chunk a_{l−1}[c] (F, G), the error word e_l[j]
       and mask bit (B, G), target word t_j (F_L, last chunk of a row)
+1     operand cycle: read data arrive; δ_j = mask ? e : 0 (σ' applied as the error streams
       in); operands into :class:`~layerpipe.hw.mac.VectorMAC`; F under ``stash`` copies
       the weight chunk into the stash
+3     G: the updated chunk written back to the bank (``upd_*``)
+4     B: e_{l−1}[c] of the last row written (``col_*``); F, end of a row (``dot_*``):
       hidden layer a_l[j] = ReLU(z_j) and mask_l[j] = z_j > 0 written; output layer
       err_L[j] = δ_L = sat(z_j − t_j) written, and z_j with z_j − t_j (exact) to the result
       collector
=====  ===================================================================================

The last write of a task lands ``1 + VectorMAC latency`` cycles after its last issue
(:meth:`VectorMAC.min_task_overhead`, 4), so a task occupies ``N_out · C +
task_overhead_cycles`` cycles exactly as the cost model says when
``task_overhead_cycles`` is at least that (smaller overheads are refused). A task never
reads what it writes, and the schedule guarantees that the data it reads were written
before its start (docs/semantics.md), so all memories use plain non-transparent
synchronous read ports. The weight requests a cycle ahead keep this: G, the only writer of
a bank, writes its last chunk at +3, two cycles before its task ends, so a read requested
in the cycle before a task's start never meets a write, nor a write on the same bank port.

Memories live in the accelerator (weight banks, delay lines, stash memories); the PE has
request ports only. Weight-bank ports are named after the task (``F2_w``: weight reads
of F_2, ``G2_wr``: G_2's write-back) and carry row addresses j·C + c. Every other memory
is a :class:`~layerpipe.hw.delay_line.DelayLine` (a ring of whole samples): the PE drives
one read side per task and item (``G2_a1``: G_2 reads a1; ``B2_stash``: B_2 reads its
stashed weights) and one write side per item it produces (``a2_wr``; ``F2_stash``),
giving the row within the sample (``chunk``) and ``advance`` with its last access of a
task run. Tasks run for samples 0, 1, 2, … in order, so a side's n-th run reads or
writes sample n, slot n mod depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from layerpipe.errors import LayerPipeError
from layerpipe.hw import estimate as est
from layerpipe.hw.delay_line import DelayLine, DelayReadSignature, DelayWriteSignature, element_shape
from layerpipe.hw.mac import MacOp, VectorMAC, delayed, overflows, saturate
from layerpipe.hw.sequencer import SAMPLE_BITS, Sequencer
from layerpipe.sched.table import check as check_table
from layerpipe.sched.table import table_from_dict
from layerpipe.sim.numerics import FixedFormat

__all__ = ["INPUT_ITEMS", "BufferGeometry", "TaskPlan", "ReadRequest", "WriteRequest", "ResultSignature",
           "buffer_geometry", "task_plans", "stash_versions", "check_supported", "pipeline_cycles", "memory_depth",
           "PE"]

INPUT_ITEMS = ("a0", "target")  # written by the input stream: one extra (staging) slot


# ---------------------------------------------------------------------------------------------
# what the table says, in the terms of the hardware


@dataclass(frozen=True)
class BufferGeometry:
    """A data item's delay line: ``slots`` samples of ``entries`` rows of ``lanes`` elements."""

    item: str
    words: int  # neurons of one sample
    slots: int
    lanes: int
    element: str  # "data" (a data word) or "mask" (one bit): hw/delay_line.py's elements

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

    def delay_line(self, fmt: FixedFormat, readers: int) -> DelayLine:
        """A copy with ``readers`` read sides, each reading the sample its task works on."""
        return DelayLine(fmt, self.lanes, self.entries, self.slots, delays=(0,) * readers, element=self.element)


def _item_neurons(item: str, sizes: list[int]) -> int:
    if item == "target":
        return sizes[-1]
    for prefix in ("mask", "err", "a"):
        if item.startswith(prefix) and item[len(prefix):].isdigit():
            return sizes[int(item[len(prefix):])]
    raise LayerPipeError(f"schedule table: unknown data item '{item}' in delay_lines")


def buffer_geometry(table, fmt: FixedFormat) -> dict[str, BufferGeometry]:
    """Every data item's buffer, sized by the table's delay-line depth (+1 staging slot for input items)."""
    sizes = table.network.sizes
    lanes = table.cost.lanes
    result = {}
    for line in table.delay_lines:
        item = line["item"]
        slots = max(1, int(line["depth"])) + (1 if item in INPUT_ITEMS else 0)
        element = "mask" if item.startswith("mask") else "data"
        result[item] = BufferGeometry(item, _item_neurons(item, sizes), slots, lanes, element)
    return result


def stash_versions(table, weights: str) -> dict[int, int]:
    """Stashed weight versions per layer under ``weights`` (0: B reads the bank)."""
    depth = table.network.depth
    if weights == "latest":
        return {layer: 0 for layer in range(1, depth + 1)}
    versions = table.data.get("weight_versions", {}).get("stash", {}).get("versions")
    if not isinstance(versions, list) or len(versions) != depth:
        raise LayerPipeError("schedule table: weight_versions.stash.versions is missing or has the wrong length")
    return {layer: int(versions[layer - 1]) for layer in range(1, depth + 1)}


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


def task_plans(table, processor: int, weights: str = "stash") -> list[TaskPlan]:
    network, lanes = table.network, table.cost.lanes
    depth = network.depth
    versions = stash_versions(table, weights)
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


def check_supported(table, fmt) -> None:
    """Refuse (one-line LayerPipeError) what this RTL does not build.

    The table must pass schema validation and ``sched.table.check`` (the RTL executes it
    as written, so a hand-edited table with a broken dependency or a task length other
    than the cost model's would train wrongly), be fully connected and ``dual-port``; the
    format must be a FixedFormat whose words are the table's and whose accumulator holds
    every dot product; the cost model's overhead must cover the PE pipeline.
    """
    table_from_dict(table.data)  # schema validation, first bad field named
    if not isinstance(fmt, FixedFormat):
        raise LayerPipeError(f"numeric format {fmt!r} is not implemented in RTL; use a FixedFormat "
                             "(two's complement, round half up, saturation)")
    if not table.network.is_fully_connected:
        conv = next(layer for layer in table.network.layers if layer.kind != "fc")
        raise LayerPipeError(f"network '{table.network.name}' has conv layer {conv.index} ('{conv.name}'); "
                             "the RTL generator builds fully connected networks only")
    if table.memory_model != "dual-port":
        raise LayerPipeError(f"schedule table uses the '{table.memory_model}' memory model; RTL needs "
                             "'dual-port' (schedule with --memory dual-port)")
    needed = pipeline_cycles(fmt, table.cost.lanes)
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


def pipeline_cycles(fmt: FixedFormat, lanes: int) -> int:
    """Cycles from a PE's last issue to its last write: one memory read + the VectorMAC's latency."""
    mac = VectorMAC(fmt, lanes, ops=("F", "B", "G"))
    mac._MustUse__silence = True  # asked for its latency only
    return mac.min_task_overhead(read_cycles=1)


# ---------------------------------------------------------------------------------------------
# request ports (from the PE's side; the accelerator owns the memories)


class ReadRequest(wiring.Signature):
    """A synchronous memory read: data arrives the cycle after ``addr``/``en``."""

    def __init__(self, addr_bits: int, data_bits: int):
        super().__init__({"addr": Out(addr_bits), "en": Out(1), "data": In(data_bits)})


class WriteRequest(wiring.Signature):
    """A memory write with one enable bit per lane."""

    def __init__(self, addr_bits: int, data_bits: int, lanes: int):
        super().__init__({"addr": Out(addr_bits), "data": Out(data_bits), "en": Out(lanes)})


class ResultSignature(wiring.Signature):
    """One output neuron of F_L per valid cycle: its value y_j = z_j and y_j − target_j (exact, unsaturated);
    ``last`` (a register) marks the sample's last output."""

    def __init__(self, outputs: int, data_bits: int):
        super().__init__({"valid": Out(1), "index": Out(range(max(2, outputs))), "value": Out(signed(data_bits)),
                          "diff": Out(signed(data_bits + 1)), "last": Out(1)})


# ---------------------------------------------------------------------------------------------


def _index(count: int) -> range:
    """Shape of an index into ``count`` things, at least one bit wide (Verilog has no 0-bit vectors)."""
    return range(max(2, count))


def memory_depth(rows: int) -> int:
    """Rows of a memory holding ``rows`` rows: at least 2, so that its address is at least one bit wide."""
    return max(2, rows)


def any_of(values):
    """OR of 1-bit values (0 for none)."""
    values = list(values)
    if not values:
        return Const(0, 1)
    out = values[0]
    for value in values[1:]:
        out = out | value
    return out


class PE(wiring.Component):
    """Processing element ``processor`` of ``table`` (module docstring).

    Members (created from the task list): ``samples`` (In), ``prime`` (In: high in the cycle
    before schedule cycle 0, with the PE held in reset: requests cycle 0's weight chunk),
    ``launch``/``task``/``sample``
    (Out: the sequencer's launch in this cycle), ``next_launch``/``next_task``/``next_launches``
    (Out: the launch of the next schedule cycle, one bit per task in the last, for registered
    control), ``finished`` (Out: the sequencer's, this cycle is the PE's last of the run or
    later), per task ``<task>_w`` (weight-bank
    :class:`ReadRequest`), ``G<l>_wr`` (weight-bank :class:`WriteRequest`), per task and
    item read ``<task>_<item>`` (delay-line read side), per item produced ``<item>_wr``
    (delay-line write side), ``F<l>_stash``/``B<l>_stash`` (stash write/read side), and
    ``result`` when F_L runs here.
    """

    def __init__(self, table, processor: int, fmt: FixedFormat, weights: str = "stash"):
        self._MustUse__silence = True  # a refused design is not an unused one
        check_supported(table, fmt)
        self.table, self.processor, self.fmt, self.weights = table, processor, fmt, weights
        self.lanes = table.cost.lanes
        self.plans = task_plans(table, processor, weights)
        self.buffers = buffer_geometry(table, fmt)
        network = table.network
        lanes, bits = self.lanes, fmt.data_bits
        self.weight_row = data.ArrayLayout(signed(bits), lanes)
        members = {"samples": In(SAMPLE_BITS), "prime": In(1), "launch": Out(1), "task": Out(_index(len(self.plans))),
                   "sample": Out(SAMPLE_BITS), "next_launch": Out(1), "next_task": Out(_index(len(self.plans))),
                   "next_launches": Out(max(1, len(self.plans))), "finished": Out(1)}
        for plan in self.plans:
            bank_bits = ceil_log2(memory_depth(plan.issues))
            if plan.reads_bank:
                members[f"{plan.name}_w"] = Out(ReadRequest(bank_bits, lanes * bits))
            if plan.kind == "G":
                members[f"{plan.name}_wr"] = Out(WriteRequest(bank_bits, lanes * bits, 1))
            if plan.stash and plan.kind == "F":
                members[f"{plan.name}_stash"] = Out(DelayWriteSignature(self.weight_row, lanes, plan.issues))
            if plan.stash and plan.kind == "B":
                members[f"{plan.name}_stash"] = Out(DelayReadSignature(self.weight_row, plan.issues))
            for item in plan.reads():
                members[f"{plan.name}_{item}"] = Out(self.buffers[item].read_signature(fmt))
        self.read_items = sorted({item for p in self.plans for item in p.reads()})
        self.write_items = sorted({item for p in self.plans for item in p.writes()})
        for item in self.write_items:
            members[f"{item}_wr"] = Out(self.buffers[item].write_signature(fmt))
        if any(p.result for p in self.plans):
            members["result"] = Out(ResultSignature(network.sizes[-1], bits))
        super().__init__(members)
        if self.plans:
            max_issues = max(p.issues for p in self.plans)
            max_rows = max(p.rows for p in self.plans)
            self.tag_layout = data.StructLayout({
                "task": _index(len(self.plans)), "lin": _index(max_issues),
                "je": _index(math.ceil(max_rows / lanes)), "jl": _index(lanes)})
            needed = self._mac(silent=True).min_task_overhead(read_cycles=1)
            if table.cost.task_overhead_cycles < needed:
                raise LayerPipeError(f"cost model task_overhead_cycles is {table.cost.task_overhead_cycles}; "
                                     f"processor {processor} needs {needed} (schedule with --overhead {needed})")
        self._MustUse__silence = False

    def last_write_after_issue(self, kind: str) -> int:
        """Cycles from a ``kind`` task's last issue to its last write (G: the bank; F: the output word
        of the last row): the operand read cycle, then the MAC's latency for that operation."""
        return 1 + self._mac(silent=True).latency[MacOp[kind]]

    def readers(self, item: str) -> list[str]:
        """Names of this PE's read sides of ``item`` (one per task that reads it)."""
        return [f"{p.name}_{item}" for p in self.plans if item in p.reads()]

    # -- helpers ------------------------------------------------------------------------
    def _mac(self, silent: bool = False) -> VectorMAC:
        """The PE's vector MAC unit: the operations its tasks need, tags carrying the write address."""
        b_chunks = [p.chunks for p in self.plans if p.kind == "B"]
        mac = VectorMAC(self.fmt, self.lanes, max_chunks=max(b_chunks, default=1),
                        ops=tuple(k for k in ("F", "B", "G") if any(p.kind == k for p in self.plans)),
                        tag_shape=self.tag_layout)
        mac._MustUse__silence = silent  # asked for its latency or estimate only
        return mac

    def elaborate(self, platform):
        m = Module()
        lanes, bits = self.lanes, self.fmt.data_bits
        plans = self.plans
        if not plans:  # nothing to run: through from the start
            m.d.comb += self.finished.eq(1)
            return m
        m.submodules.sequencer = seq = Sequencer(self.table.period_cycles,
                                                 [(p.start, p.lag, p.cycles) for p in plans])
        m.d.comb += [seq.samples.eq(self.samples), self.launch.eq(seq.launch), self.task.eq(seq.task),
                     self.sample.eq(seq.sample), self.finished.eq(seq.finished)]
        m.submodules.mac = mac = self._mac()

        max_issues = max(p.issues for p in plans)
        max_chunks = max(p.chunks for p in plans)
        max_rows = max(p.rows for p in plans)
        task_shape = _index(len(plans))

        def meta(prefix):
            return {
                "valid": Signal(name=f"{prefix}_valid"), "task": Signal(task_shape, name=f"{prefix}_task"),
                "lin": Signal(_index(max_issues), name=f"{prefix}_lin"),
                "c": Signal(_index(max_chunks), name=f"{prefix}_c"), "j": Signal(_index(max_rows), name=f"{prefix}_j"),
                "jl": Signal(_index(lanes), name=f"{prefix}_jl"),
                "je": Signal(_index(math.ceil(max_rows / lanes)), name=f"{prefix}_je"),
                "first_c": Signal(name=f"{prefix}_first_c"), "last_c": Signal(name=f"{prefix}_last_c"),
                "first_row": Signal(name=f"{prefix}_first_row"), "last_row": Signal(name=f"{prefix}_last_row"),
            }

        # -- issue: the row/chunk iterator; a launch issues its first chunk in the same cycle ----
        # The issue stage ``s0`` is a set of registers, computed one cycle ahead (``nx``) from
        # the sequencer's ``next_launch`` and the current issue: a launch restarts the
        # iterator, otherwise a running task moves on to its next chunk until its last one.
        # Per-task select bits (``here``) and the task's last issue are registered too, so the
        # memory requests leave the PE straight from flip-flops. The reset values are the
        # issue of cycle 0 (the sequencer's launch of cycle 0, N ≥ 1).
        first = seq.first_launch()
        first_plan = plans[first] if first is not None else None
        s0 = meta("s0")
        if first_plan is not None:
            for key, value in (("valid", 1), ("task", first_plan.index), ("first_c", 1), ("first_row", 1),
                               ("last_c", int(first_plan.chunks == 1)), ("last_row", int(first_plan.rows == 1))):
                s0[key] = Signal.like(s0[key], name=f"s0_{key}", init=value)
        here0 = {p.index: Signal(name=f"s0_here{p.index}", init=int(p is first_plan)) for p in plans}
        end0 = Signal(name="s0_end", init=int(first_plan is not None and first_plan.issues == 1))
        s0_f = Signal(name="s0_is_f", init=int(first_plan is not None and first_plan.kind == "F"))
        nx = meta("nx")
        with m.If(seq.next_launch):
            m.d.comb += [nx["valid"].eq(1), nx["task"].eq(seq.next_task)]
        with m.Elif(s0["valid"] & ~end0):
            m.d.comb += [nx["valid"].eq(1), nx["task"].eq(s0["task"]), nx["lin"].eq(s0["lin"] + 1)]
            with m.If(s0["last_c"]):
                m.d.comb += [nx["c"].eq(0), nx["j"].eq(s0["j"] + 1)]
                with m.If(s0["jl"] == lanes - 1):
                    m.d.comb += [nx["jl"].eq(0), nx["je"].eq(s0["je"] + 1)]
                with m.Else():
                    m.d.comb += [nx["jl"].eq(s0["jl"] + 1), nx["je"].eq(s0["je"])]
            with m.Else():
                m.d.comb += [nx["c"].eq(s0["c"] + 1), nx["j"].eq(s0["j"]), nx["jl"].eq(s0["jl"]),
                             nx["je"].eq(s0["je"])]
        # The flags of the next issue without comparing the next counters: a launch selects
        # its task's constants by the sequencer's one-hot launch bits; a running task compares
        # its *current* counters (registers) with its own constants, selected by ``here``.
        launch, hits = seq.next_launch, seq.next_hits
        cont = s0["valid"] & ~end0 & ~launch

        def by_launch(predicate):
            return any_of(hits[p.index] for p in plans if predicate(p))

        def by_task(predicate):
            return any_of(here0[p.index] & predicate(p) for p in plans)

        last_c_next = Mux(launch, by_launch(lambda p: p.chunks == 1),
                          cont & Mux(s0["last_c"], by_task(lambda p: Const(p.chunks == 1)),
                                     by_task(lambda p: s0["c"] == p.chunks - 2)))
        last_row_next = Mux(launch, by_launch(lambda p: p.rows == 1),
                            cont & Mux(s0["last_c"], by_task(lambda p: s0["j"] == p.rows - 2), s0["last_row"]))
        m.d.comb += [nx["last_c"].eq(last_c_next), nx["last_row"].eq(last_row_next),
                     nx["first_c"].eq(Mux(cont, s0["last_c"], 1)),
                     nx["first_row"].eq(Mux(cont, s0["first_row"] & ~s0["last_c"], 1))]
        here_next = {p.index: Mux(launch, hits[p.index], cont & here0[p.index]) for p in plans}
        m.d.sync += [here0[p.index].eq(here_next[p.index]) for p in plans]
        m.d.sync += [s0[key].eq(nx[key]) for key in s0]
        m.d.sync += end0.eq(last_c_next & last_row_next)
        m.d.comb += [self.next_launch.eq(seq.next_launch), self.next_task.eq(seq.next_task),
                     self.next_launches.eq(seq.next_hits)]

        # -- weight rows (bank, stash) are requested a cycle ahead of their issue, from ``nx``, and
        #    registered on arrival, so that a block RAM's clock-to-out (5.8 ns on the ECP5) ends at a
        #    flip-flop instead of running on through the operand multiplexers. The issue of
        #    schedule cycle 0 has no cycle ahead inside the run: ``prime`` (the cycle before, with
        #    the PE held in reset) requests its rows.
        # A stash read side moves on to the next sample with the task's last issue, a cycle after
        # its last read: from registers, and long before the next run's first read.
        early_here = {p.index: Mux(self.prime, int(p is first_plan), here_next[p.index]) for p in plans}
        # The row address of the next issue: 0 at a launch, else the current one + 1, kept in a
        # register (a don't-care while no task reads), so no adder lies on the request path.
        lin_inc = Signal.like(s0["lin"], name="s0_lin_inc", init=1)
        m.d.sync += lin_inc.eq(nx["lin"] + 1)
        early_lin = Mux(self.prime | launch, 0, lin_inc)
        for p in plans:
            if p.reads_bank:
                port = getattr(self, f"{p.name}_w")
                m.d.comb += [port.addr.eq(early_lin), port.en.eq(early_here[p.index])]
            if p.stash and p.kind == "B":
                port = getattr(self, f"{p.name}_stash")
                m.d.comb += [port.chunk.eq(early_lin), port.en.eq(early_here[p.index]),
                             port.advance.eq(here0[p.index] & end0)]

        # -- issue requests: delay-line rows; each read side moves on to the next sample with the
        #    task's last issue
        for p in plans:
            here = here0[p.index]
            last_issue = here & end0
            rows = {p.vec: s0["c"], p.err: s0["je"], p.mask: s0["je"], p.target: s0["je"]}
            for item in p.reads():
                port = getattr(self, f"{p.name}_{item}")
                enable = here & s0["last_c"] if item == p.target else here
                m.d.comb += [port.chunk.eq(rows[item]), port.en.eq(enable), port.advance.eq(last_issue)]

        # -- operand cycle: read data into the MAC ---------------------------------------------
        s1 = meta("s1")
        m.d.sync += [s1[key].eq(s0[key]) for key in s0]
        # per-task select bits and the op decode of the operand cycle, registered in the issue
        # stage: the operand multiplexers are AND-OR trees driven by flip-flops
        here1 = {p.index: Signal(name=f"s1_here{p.index}") for p in plans}
        m.d.sync += [here1[p.index].eq(here0[p.index]) for p in plans]
        kinds = {kind: [p for p in plans if p.kind == kind] for kind in ("F", "B", "G")}
        f1, b1, relu1 = Signal(name="s1_is_f"), Signal(name="s1_is_b"), Signal(name="s1_relu")
        first1, last1 = Signal(name="s1_first"), Signal(name="s1_last")
        m.d.sync += [f1.eq(any_of(here0[p.index] for p in kinds["F"])),
                     b1.eq(any_of(here0[p.index] for p in kinds["B"])),
                     relu1.eq(any_of(here0[p.index] for p in kinds["F"] if not p.result)),
                     first1.eq(Mux(s0_f, s0["first_c"], s0["first_row"])),
                     last1.eq(Mux(s0_f, s0["last_c"], s0["last_row"]))]
        m.d.sync += s0_f.eq(Mux(launch, by_launch(lambda p: p.kind == "F"), cont & s0_f))

        def select(values):
            """AND-OR multiplexer: the value of the task whose select bit is set (0 if none)."""
            out = 0
            for index, value in values:
                out = out | Mux(here1[index], Value.cast(value), 0)
            return out

        wdata = Signal(self.weight_row, name="s1_weights")
        vdata = Signal(self.weight_row, name="s1_vector")
        eword = Signal(signed(bits), name="s1_error")
        mbit = Signal(name="s1_mask")
        sources = []
        for p in plans:
            port = getattr(self, f"{p.name}_stash" if (p.stash and p.kind == "B") else f"{p.name}_w")
            arrived = Signal(self.weight_row, name=f"s1_{p.name}_weights")  # requested two cycles ago
            m.d.sync += arrived.eq(port.data)
            sources.append((p.index, arrived))
        m.d.comb += wdata.eq(select(sources))
        vectors = [(p.index, getattr(self, f"{p.name}_{p.vec}").data) for p in plans if p.vec]
        if vectors:
            m.d.comb += vdata.eq(select(vectors))
        errors = [(p.index, getattr(self, f"{p.name}_{p.err}").data[s1["jl"]]) for p in plans if p.err]
        if errors:
            m.d.comb += eword.eq(select(errors))
        masks = [(p.index, getattr(self, f"{p.name}_{p.mask}").data[s1["jl"]] if p.mask else Const(1, 1))
                 for p in plans]
        m.d.comb += mbit.eq(select(masks))
        m.d.comb += [
            mac.valid.eq(s1["valid"]),
            mac.op.eq(Mux(f1, MacOp.F, Mux(b1, MacOp.B, MacOp.G))),
            mac.weights.eq(wdata),
            mac.first.eq(first1),
            mac.last.eq(last1),
            mac.tag.task.eq(s1["task"]), mac.tag.lin.eq(s1["lin"]), mac.tag.je.eq(s1["je"]),
            mac.tag.jl.eq(s1["jl"]),
        ]
        if hasattr(mac, "vector"):
            m.d.comb += mac.vector.eq(vdata)
        if hasattr(mac, "scalar"):
            m.d.comb += mac.scalar.eq(Mux(mbit, eword, 0))  # δ = e ⊙ σ'(z): the mask selects
        if hasattr(mac, "chunk"):
            m.d.comb += mac.chunk.eq(s1["c"])
        if hasattr(mac, "relu"):
            m.d.comb += mac.relu.eq(relu1)
        all_lanes = (1 << lanes) - 1
        for p in plans:
            if p.stash and p.kind == "F":  # the version F read, for B of the same sample
                port = getattr(self, f"{p.name}_stash")
                here = here1[p.index]
                m.d.comb += [port.chunk.eq(s1["lin"]), port.data.eq(wdata), port.en.eq(Mux(here, all_lanes, 0)),
                             port.advance.eq(here & s1["last_c"] & s1["last_row"])]

        # -- MAC results to the delay lines and the bank --------------------------------------------
        lane_one = Const(1, lanes)
        for p in plans:
            if p.kind == "F":
                here = mac.dot_valid & (mac.dot_tag.task == p.index)
                last_row = (mac.dot_tag.je == (p.rows - 1) // lanes) & (mac.dot_tag.jl == (p.rows - 1) % lanes)
                outputs = [(getattr(self, f"{p.out_word}_wr"), None)]
                if p.result:
                    # target t_j was read with the row's last chunk: align it with the MAC's dot output
                    latency = mac.latency[MacOp.F]
                    early = delayed(m, getattr(self, f"{p.name}_{p.target}").data[s1["jl"]], "target", latency - 1)
                    target = delayed(m, early, "target_aligned")
                    # z − t without waiting for z's saturation: the low word of the unsaturated z minus
                    # t, or, when z saturates, the bound minus t (registered a cycle early from t)
                    wide = mac.dot_wide
                    bound_diff = [Signal(signed(bits + 1), name=f"output_{name}_diff") for name in ("max", "min")]
                    m.d.sync += [bound_diff[0].eq(self.fmt.data_max - early),
                                 bound_diff[1].eq(self.fmt.data_min - early)]
                    diff = Signal(signed(bits + 1), name="output_diff")
                    delta = Signal(signed(bits), name="output_delta")
                    # the sample's last output, as a register: F_L's last issue delayed to the output cycle
                    m.d.comb += self.result.last.eq(
                        delayed(m, here1[p.index] & s1["last_c"] & s1["last_row"], "result_last", latency))
                    m.d.comb += [diff.eq(Mux(overflows(wide, bits), Mux(wide[-1], bound_diff[1], bound_diff[0]),
                                             wide[:bits].as_signed() - target)),
                                 delta.eq(saturate(diff, bits)),
                                 self.result.valid.eq(here),
                                 self.result.index.eq(mac.dot_tag.je * lanes + mac.dot_tag.jl),
                                 self.result.value.eq(mac.dot_z), self.result.diff.eq(diff)]
                    outputs[0] = (outputs[0][0], delta)
                else:
                    outputs = [(getattr(self, f"{p.out_word}_wr"), mac.dot_act),
                               (getattr(self, f"{p.out_mask}_wr"), mac.dot_mask)]
                for port, value in outputs:
                    m.d.comb += [port.chunk.eq(mac.dot_tag.je), port.en.eq(Mux(here, lane_one << mac.dot_tag.jl, 0)),
                                 port.advance.eq(here & last_row)]
                    m.d.comb += [port.data[k].eq(value) for k in range(lanes)]
            elif p.kind == "B":
                here = mac.col_valid & (mac.col_tag.task == p.index)
                port = getattr(self, f"{p.out_chunk}_wr")
                m.d.comb += [port.chunk.eq(mac.col_chunk), port.data.eq(mac.col_data),
                             port.en.eq(Mux(here, all_lanes, 0)),
                             port.advance.eq(here & (mac.col_chunk == p.chunks - 1))]
            else:
                port = getattr(self, f"{p.name}_wr")
                m.d.comb += [port.addr.eq(mac.upd_tag.lin), port.data.eq(mac.upd_weights),
                             port.en.eq(mac.upd_valid & (mac.upd_tag.task == p.index))]
        return m

    # -- resources -------------------------------------------------------------------------
    def estimate(self, family: est.Family | str = est.ECP5) -> est.Resources:
        """The PE's logic (hw/estimate.py's assumptions): its VectorMAC, sequencer, iterator and
        operand selection. Memories (banks, delay lines, stash) are the accelerator's."""
        if not self.plans:
            return est.Resources()
        fam = est.get_family(family)
        period = self.table.period_cycles
        count_bits = max(1, math.ceil(math.log2(max(2, period))))
        index_bits = SAMPLE_BITS + 1
        n = len(self.plans)
        total = self._mac(silent=True).estimate(fam)
        # sequencer: offset and period counters, one start compare and lag window per task
        total += est.register(count_bits + index_bits) + est.adder(count_bits) + est.adder(index_bits)
        total += (est.logic(count_bits, 1, fam) + est.adder(index_bits) * 3) * n
        # end of the run: the duration down-counter, the pending bits, the sample N − 1 compare
        total += est.register(count_bits + 2 * n + 1) + est.adder(count_bits) + est.adder(SAMPLE_BITS) \
            + est.mux(count_bits, n, fam)
        # iterator and the operand-cycle copy of its state
        tag_bits = data.Layout.cast(self.tag_layout).size
        meta_bits = tag_bits + math.ceil(math.log2(max(2, max(p.chunks for p in self.plans)))) \
            + math.ceil(math.log2(max(2, max(p.rows for p in self.plans)))) + 6
        total += est.register(2 * meta_bits) + est.adder(meta_bits) + est.logic(4, 4 * n, fam)
        # operand multiplexers: weights and vector by task, error word and mask bit by lane
        total += est.mux(self.lanes * self.fmt.data_bits, n, fam) * 2
        total += est.mux(self.fmt.data_bits, self.lanes, fam) + est.mux(1, self.lanes, fam)
        if any(p.result for p in self.plans):
            total += est.register(self.fmt.data_bits * 3) + est.adder(self.fmt.data_bits + 1) \
                + est.saturator(self.fmt.data_bits + 1, self.fmt.data_bits, fam)
        return total
