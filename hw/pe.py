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

A conv task (docs/hardware.md, "Convolution tasks in the processing element") keeps this
timing: the iterator sees it as one row of ``issues`` chunks, and a
:class:`~layerpipe.hw.loop_nest.LoopNestCounter` started with its launch supplies the
addresses of each issue (its ``ahead`` output the weight row requested a cycle early); F runs
on the MAC's B path into :class:`~layerpipe.hw.pool.PoolWriteBack`, B on its F path, G on its
accumulating G path.

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

from layerpipe.hw.logic import any_of
from layerpipe.hw.loop_nest import LoopNestCounter
from layerpipe.hw.mac import MacOp, VectorMAC, delayed, overflows, round_shift, saturate
from layerpipe.hw.plan import HardwarePlan, TaskPlan, index_shape, memory_depth
from layerpipe.hw.pool import PoolWriteBack
from layerpipe.hw.sequencer import SAMPLE_BITS, Sequencer
from layerpipe.hw.signatures import DelayReadSignature, DelayWriteSignature, ReadRequest, ResultSignature, WriteRequest

__all__ = ["PE"]


@dataclass
class _Issue:
    """The issue stage's state, as the later stages of :meth:`PE.elaborate` use it."""

    s0: dict  # the issue's registers (the iterator's counters and flags)
    nx: dict  # their next values
    here0: dict  # per task: this cycle issues one of its chunks
    here_next: dict
    end0: Signal  # this cycle is the task's last issue
    s0_f: Signal  # the issuing task is an F
    launch: Value  # the sequencer launches a task in the next cycle
    cont: Value  # the current task issues again in the next cycle
    hits: Value  # the sequencer's one-hot launches of the next cycle
    counters: dict  # per conv task: its LoopNestCounter (addresses and flags of the issue)


class PE(wiring.Component):
    """Processing element ``processor`` of ``plan`` (module docstring).

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

    def __init__(self, plan: HardwarePlan, processor: int):
        self.plan, self.processor = plan, processor
        self.pe_plan = pe_plan = plan.pes[processor]
        self.table, self.fmt, self.lanes = plan.table, plan.fmt, plan.lanes
        self.plans = pe_plan.tasks
        self.read_items, self.write_items = pe_plan.read_items, pe_plan.write_items
        self.buffers = plan.buffers
        lanes, bits = self.lanes, self.fmt.data_bits
        self.weight_row = data.ArrayLayout(signed(bits), lanes)
        tasks = index_shape(len(self.plans))
        members = {"samples": In(SAMPLE_BITS), "prime": In(1), "launch": Out(1), "task": Out(tasks),
                   "sample": Out(SAMPLE_BITS), "next_launch": Out(1), "next_task": Out(tasks),
                   "next_launches": Out(len(self.plans)), "finished": Out(1)}
        for p in self.plans:
            bank_bits = ceil_log2(memory_depth(p.bank_rows))
            if p.reads_bank:
                members[f"{p.name}_w"] = Out(ReadRequest(bank_bits, lanes * bits))
                if p.conv:  # a conv layer's store: the first read of a run picks the weight version
                    members[f"{p.name}_w_begin"] = Out(1)
            if p.kind == "G":
                members[f"{p.name}_wr"] = Out(WriteRequest(bank_bits, lanes * bits, 1))
            if p.bias_rows:  # the layer's bias store: F reads a row, G reads and steps it (a conv run's, an fc row's)
                bias_bits, bias_width = ceil_log2(memory_depth(p.bias_rows)), (lanes if p.conv else 1) * bits
                members[f"{p.name}_b"] = Out(ReadRequest(bias_bits, bias_width))
                if p.kind == "G":
                    members[f"{p.name}_bwr"] = Out(WriteRequest(bias_bits, bias_width, 1))
            if p.stash and p.kind == "F":
                members[f"{p.name}_stash"] = Out(DelayWriteSignature(self.weight_row, lanes, p.bank_rows))
            if p.stash and p.kind == "B":
                members[f"{p.name}_stash"] = Out(DelayReadSignature(self.weight_row, p.bank_rows))
            for item in p.reads():
                members[f"{p.name}_{item}"] = Out(plan.buffers[item].read_signature(self.fmt))
        for item in self.write_items:
            members[f"{item}_wr"] = Out(plan.buffers[item].write_signature(self.fmt))
        if any(p.result for p in self.plans):
            members["result"] = Out(ResultSignature(plan.sizes[-1], bits))
        super().__init__(members)

    def readers(self, item: str) -> list[str]:
        """Names of this PE's read sides of ``item`` (one per task that reads it)."""
        return self.pe_plan.readers(item)

    def elaborate(self, platform):
        m = Module()
        plans = self.plans
        m.submodules.sequencer = seq = Sequencer(self.table.period_cycles,
                                                 [(p.start, p.lag, p.cycles) for p in plans])
        m.d.comb += [seq.samples.eq(self.samples), self.launch.eq(seq.launch), self.task.eq(seq.task),
                     self.sample.eq(seq.sample), self.finished.eq(seq.finished)]
        pe_plan = self.pe_plan
        m.submodules.mac = mac = VectorMAC(self.fmt, self.lanes, max_chunks=pe_plan.mac_max_chunks,
                                           ops=pe_plan.mac_ops, tag_shape=pe_plan.tag_layout,
                                           accumulate_g=pe_plan.accumulates_g, biases=pe_plan.biases)
        issue = self._issue_iterator(m, seq)
        self._weight_requests(m, issue)
        self._read_requests(m, issue)
        s1, here1, wdata, conv1 = self._operands(m, issue, mac)
        self._stash_writes(m, s1, here1, wdata, conv1)
        self._write_back(m, mac, s1, here1)
        return m

    def _meta(self, prefix: str) -> dict:
        """The iterator's state: task, row address ``lin`` = j·C + c, chunk c, row j = je·lanes + jl, flags."""
        plans, lanes = self.plans, self.lanes
        max_rows = max(p.rows for p in plans)
        return {
            "valid": Signal(name=f"{prefix}_valid"), "task": Signal(index_shape(len(plans)), name=f"{prefix}_task"),
            "lin": Signal(index_shape(max(p.issues for p in plans)), name=f"{prefix}_lin"),
            "c": Signal(index_shape(max(p.chunks for p in plans)), name=f"{prefix}_c"),
            "j": Signal(index_shape(max_rows), name=f"{prefix}_j"),
            "jl": Signal(index_shape(lanes), name=f"{prefix}_jl"),
            "je": Signal(index_shape(math.ceil(max_rows / lanes)), name=f"{prefix}_je"),
            "first_c": Signal(name=f"{prefix}_first_c"), "last_c": Signal(name=f"{prefix}_last_c"),
            "first_row": Signal(name=f"{prefix}_first_row"), "last_row": Signal(name=f"{prefix}_last_row"),
        }

    def _issue_iterator(self, m, seq) -> _Issue:
        """The row/chunk iterator; a launch issues its first chunk in the same cycle.

        The issue stage ``s0`` is a set of registers, computed one cycle ahead (``nx``) from
        the sequencer's ``next_launch`` and the current issue: a launch restarts the
        iterator, otherwise a running task moves on to its next chunk until its last one.
        Per-task select bits (``here``) and the task's last issue are registered too, so the
        memory requests leave the PE straight from flip-flops. The reset values are the
        issue of cycle 0 (the sequencer's launch of cycle 0, N ≥ 1).
        """
        plans, lanes = self.plans, self.lanes
        first_plan = self.pe_plan.first_task
        s0 = self._meta("s0")
        if first_plan is not None:
            for key, value in (("valid", 1), ("task", first_plan.index), ("first_c", 1), ("first_row", 1),
                               ("last_c", int(first_plan.chunks == 1)), ("last_row", int(first_plan.rows == 1))):
                s0[key] = Signal.like(s0[key], name=f"s0_{key}", init=value)
        here0 = {p.index: Signal(name=f"s0_here{p.index}", init=int(p is first_plan)) for p in plans}
        end0 = Signal(name="s0_end", init=int(first_plan is not None and first_plan.issues == 1))
        s0_f = Signal(name="s0_is_f", init=int(first_plan is not None and first_plan.kind == "F"))
        nx = self._meta("nx")
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
        # a conv task's addresses: its loop nest's counter, started with the launch, so it presents
        # each issue in the cycle the iterator above does (a conv task is one row of ``issues`` chunks)
        counters = {}
        for p in plans:
            if p.conv:
                counter = LoopNestCounter(p.nest, running_at_reset=p is first_plan)
                m.submodules[f"nest_{p.name}"] = counter
                m.d.comb += counter.start.eq(hits[p.index])
                counters[p.index] = counter
        self.counters = counters  # for the benches: a conv task's issue as its counter presents it
        return _Issue(s0, nx, here0, here_next, end0, s0_f, launch, cont, hits, counters)

    def _weight_requests(self, m, issue: _Issue) -> None:
        """Weight rows (bank, stash), requested a cycle ahead of their issue, from ``nx``.

        They are registered on arrival, so that a block RAM's clock-to-out (5.8 ns on the
        ECP5) ends at a flip-flop instead of running on through the operand multiplexers. The
        issue of schedule cycle 0 has no cycle ahead inside the run: ``prime`` (the cycle
        before, with the PE held in reset) requests its rows. A stash read side moves on to
        the next sample with the task's last issue, a cycle after its last read: from
        registers, and long before the next run's first read.
        """
        first_plan = self.pe_plan.first_task
        early_here = {p.index: Mux(self.prime, int(p is first_plan), issue.here_next[p.index]) for p in self.plans}
        # The row address of the next issue: 0 at a launch, else the current one + 1, kept in a
        # register (a don't-care while no task reads), so no adder lies on the request path.
        lin_inc = Signal.like(issue.s0["lin"], name="s0_lin_inc", init=1)
        m.d.sync += lin_inc.eq(issue.nx["lin"] + 1)
        early_lin = Mux(self.prime | issue.launch, 0, lin_inc)
        # an fc bias is read with its row's first chunk only (G writes it back 4 cycles later, while the
        # row's later chunks are read): the next issue's row j and whether it is a first chunk, as above
        j_inc = Signal.like(issue.s0["j"], name="s0_j_inc", init=1)
        m.d.sync += j_inc.eq(issue.nx["j"] + 1)
        restart = self.prime | issue.launch
        early_j = Mux(restart, 0, Mux(issue.s0["last_c"], j_inc, issue.s0["j"]))
        early_first_c = restart | issue.s0["last_c"]
        for p in self.plans:
            address = early_lin
            if p.conv:  # the nest's next weight row; the prime cycle asks for the first issue's
                origin = p.nest.address("weight", dict.fromkeys(p.nest.names, 0))
                address = Mux(self.prime, origin, issue.counters[p.index].ahead["weight"])
            if p.bias_rows and p.conv:  # the bias row, requested with the weight row (its version: the same begin)
                bias_port = getattr(self, f"{p.name}_b")
                m.d.comb += [bias_port.addr.eq(Mux(self.prime, 0, issue.counters[p.index].ahead["bias"])),
                             bias_port.en.eq(early_here[p.index])]
            elif p.bias_rows:
                bias_port = getattr(self, f"{p.name}_b")
                m.d.comb += [bias_port.addr.eq(early_j), bias_port.en.eq(early_here[p.index] & early_first_c)]
            if p.reads_bank:
                port = getattr(self, f"{p.name}_w")
                m.d.comb += [port.addr.eq(address), port.en.eq(early_here[p.index])]
                if p.conv:
                    m.d.comb += getattr(self, f"{p.name}_w_begin").eq(early_here[p.index] & (self.prime | issue.launch))
            if p.stash and p.kind == "B":
                port = getattr(self, f"{p.name}_stash")
                m.d.comb += [port.chunk.eq(address), port.en.eq(early_here[p.index]),
                             port.advance.eq(issue.here0[p.index] & issue.end0)]

    def _read_requests(self, m, issue: _Issue) -> None:
        """Delay-line rows of the issue; each read side moves on to the next sample with the task's last issue."""
        s0 = issue.s0
        for p in self.plans:
            here = issue.here0[p.index]
            last_issue = here & issue.end0
            rows = {p.vec: s0["c"], p.err: s0["je"], p.mask: s0["je"], p.target: s0["je"]}
            enables = {p.target: here & s0["last_c"]}
            if p.conv:  # the nest's rows; padding reads nothing
                counter = issue.counters[p.index]
                address = counter.address
                rows = {p.vec: address["in_row"] if p.vec else None, p.err: address["delta_row"] if p.err else None,
                        p.mask: address["delta_row"] if p.mask else None}
                inside = {"F": ("in", None), "G": ("in", None), "B": (None, "delta")}[p.kind]
                enables = {item: here & (counter.inside[window] if window else 1)
                           for item, window in ((p.vec, inside[0]), (p.err, inside[1]), (p.mask, inside[1])) if item}
            for item in p.reads():
                port = getattr(self, f"{p.name}_{item}")
                m.d.comb += [port.chunk.eq(rows[item]), port.en.eq(enables.get(item, here)),
                             port.advance.eq(last_issue)]

    # the loop whose run a conv task's MAC operation accumulates over (core/conv_dataflow.py)
    _CONV_RUN = {"F": "c", "B": "ky", "G": "Y"}

    def _conv_stage(self, m, issue: _Issue) -> dict[int, dict]:
        """Per conv task, its counter's outputs of the issue registered into the operand cycle."""
        stages = {}
        for p in self.plans:
            if not p.conv:
                continue
            counter, name = issue.counters[p.index], p.name
            run = self._CONV_RUN[p.kind]
            values = {"first": counter.first[run], "last": counter.last[run]}
            if p.kind in ("F", "G"):
                values.update(lane=counter.address["in_lane"], real=counter.inside["in"])
            if p.kind in ("B", "G"):
                values["bit"] = counter.address["mask_bit"]
            if p.kind == "B":
                values["real"] = counter.inside["delta"]
            # the write address the MAC's tag carries: F's pooled row, B's element, G's weight row
            values["row"] = counter.address["out_row" if p.kind != "G" else "weight"]
            values["col"] = counter.address["out_lane"] if p.kind == "B" else (
                counter.address["pool_bit"] if p.kind == "F" else Const(0))
            if p.kind == "F" and p.stash:
                values.update(stash=counter.inside["stash"], weight=counter.address["weight"])
            if p.kind == "G" and p.bias_rows:  # the runs of tap (0, 0, 0) also sum δ for the bias: rows 0 … O_c − 1
                values["bias_run"] = counter.address["weight"] < p.bias_rows
            stage = {}
            for key, value in values.items():
                value = Value.cast(value)
                stage[key] = Signal(value.shape(), name=f"s1_{name}_{key}")
                m.d.sync += stage[key].eq(value)
            stages[p.index] = stage
        return stages

    def _operands(self, m, issue: _Issue, mac):
        """The operand cycle: read data into the MAC. Returns its state, select bits and weight chunk."""
        plans, s0 = self.plans, issue.s0
        s1 = self._meta("s1")
        m.d.sync += [s1[key].eq(s0[key]) for key in s0]
        # per-task select bits and the op decode of the operand cycle, registered in the issue
        # stage: the operand multiplexers are AND-OR trees driven by flip-flops
        here1 = {p.index: Signal(name=f"s1_here{p.index}") for p in plans}
        m.d.sync += [here1[p.index].eq(issue.here0[p.index]) for p in plans]
        conv1 = self._conv_stage(m, issue)
        by_op = {op: [p for p in plans if p.mac_op is op] for op in MacOp}
        f1, b1, relu1 = Signal(name="s1_is_f"), Signal(name="s1_is_b"), Signal(name="s1_relu")
        first1, last1 = Signal(name="s1_first"), Signal(name="s1_last")
        m.d.sync += [f1.eq(any_of(issue.here0[p.index] for p in by_op[MacOp.F])),
                     b1.eq(any_of(issue.here0[p.index] for p in by_op[MacOp.B])),
                     relu1.eq(any_of(issue.here0[p.index] for p in plans
                                     if p.kind == "F" and not p.result and not p.conv)),
                     first1.eq(Mux(issue.s0_f, s0["first_c"], s0["first_row"])),
                     last1.eq(Mux(issue.s0_f, s0["last_c"], s0["last_row"]))]
        m.d.sync += issue.s0_f.eq(Mux(issue.launch, any_of(issue.hits[p.index] for p in by_op[MacOp.F]),
                                      issue.cont & issue.s0_f))
        conv_here1 = any_of(here1[index] for index in conv1)

        def select(values):
            """AND-OR multiplexer: the value of the task whose select bit is set (0 if none)."""
            out = 0
            for index, value in values:
                out = out | Mux(here1[index], Value.cast(value), 0)
            return out

        wdata = Signal(self.weight_row, name="s1_weights")
        vdata = Signal(self.weight_row, name="s1_vector")
        eword = Signal(signed(self.fmt.data_bits), name="s1_error")
        mbit = Signal(name="s1_mask")
        sources = []
        for p in plans:
            port = getattr(self, f"{p.name}_stash" if (p.stash and p.kind == "B") else f"{p.name}_w")
            arrived = Signal(self.weight_row, name=f"s1_{p.name}_weights")  # requested two cycles ago
            m.d.sync += arrived.eq(port.data)
            sources.append((p.index, arrived))
        m.d.comb += wdata.eq(select(sources))
        if hasattr(mac, "bias"):  # the task's bias row (an fc task's in lane 0), arrived as its weight row did
            bias_rows = []
            for p in plans:
                if p.bias_rows:
                    arrived = Signal(self.weight_row, name=f"s1_{p.name}_bias")
                    data_in = getattr(self, f"{p.name}_b").data
                    m.d.sync += arrived.eq(data_in) if p.conv else arrived[0].eq(data_in)
                    bias_rows.append((p.index, arrived))
            m.d.comb += mac.bias.eq(select(bias_rows))
        vectors, errors, masks = [], [], []
        for p in plans:
            if not p.conv:
                if p.vec:
                    vectors.append((p.index, getattr(self, f"{p.name}_{p.vec}").data))
                if p.err:
                    errors.append((p.index, getattr(self, f"{p.name}_{p.err}").data[s1["jl"]]))
                masks.append((p.index, getattr(self, f"{p.name}_{p.mask}").data[s1["jl"]] if p.mask else Const(1, 1)))
                continue
            stage = conv1[p.index]
            if p.kind in ("F", "G"):  # the scalar: one element of the input row, 0 in the padding
                element = getattr(self, f"{p.name}_{p.vec}").data[stage["lane"]]
                errors.append((p.index, Mux(stage["real"], element, 0)))
                masks.append((p.index, Const(1, 1)))
            if p.kind in ("B", "G"):  # the vector: δ_pre's row, each lane's error where its mask bit is set
                err, mask = getattr(self, f"{p.name}_{p.err}").data, getattr(self, f"{p.name}_{p.mask}").data
                delta = Signal(self.weight_row, name=f"s1_{p.name}_delta")
                real = stage["real"] if p.kind == "B" else 1
                # average pooling shares the error among the window: e / p², rounded as sim/conv.mask_error does
                m.d.comb += [delta[k].eq(Mux(real & mask[k].bit_select(stage["bit"], 1),
                                             round_shift(err[k], p.error_shift), 0))
                             for k in range(self.lanes)]
                vectors.append((p.index, delta))
        if vectors:
            m.d.comb += vdata.eq(select(vectors))
        if errors:
            m.d.comb += eword.eq(select(errors))
        m.d.comb += mbit.eq(select(masks))

        def conv_or(key, fc_value):
            """The conv task's registered ``key`` where a conv task issues, else the fc value."""
            if not conv1:
                return fc_value
            return Mux(conv_here1, select((index, stage[key]) for index, stage in conv1.items()), fc_value)

        m.d.comb += [
            mac.valid.eq(s1["valid"]),
            mac.op.eq(Mux(f1, MacOp.F, Mux(b1, MacOp.B, MacOp.G))),
            mac.weights.eq(wdata),
            mac.first.eq(conv_or("first", first1)),
            mac.last.eq(conv_or("last", last1)),
            mac.tag.task.eq(s1["task"]), mac.tag.lin.eq(conv_or("row", s1["lin"])), mac.tag.je.eq(s1["je"]),
            mac.tag.jl.eq(conv_or("col", s1["jl"])),
        ]
        if hasattr(mac, "vector"):
            m.d.comb += mac.vector.eq(vdata)
        if hasattr(mac, "scalar"):
            m.d.comb += mac.scalar.eq(Mux(mbit, eword, 0))  # δ = e ⊙ σ'(z): the mask selects
        if hasattr(mac, "chunk"):
            m.d.comb += mac.chunk.eq(Mux(conv_here1, 0, s1["c"]) if conv1 else s1["c"])
        if hasattr(mac, "relu"):
            m.d.comb += mac.relu.eq(relu1)
        if hasattr(mac, "accumulate"):
            m.d.comb += mac.accumulate.eq(any_of(here1[p.index] for p in plans if p.conv and p.kind == "G"))
        if hasattr(mac, "bias_run"):
            m.d.comb += mac.bias_run.eq(any_of(here1[p.index] & conv1[p.index]["bias_run"] for p in plans
                                               if p.kind == "G" and p.bias_rows and p.conv))
        return s1, here1, wdata, conv1

    def _stash_writes(self, m, s1, here1, wdata, conv1) -> None:
        """F under ``stash`` copies the weight chunk it reads: the version B of the same sample reads.

        A conv F reads each weight row once per pooled position; it copies them at the first one
        (the nest's ``stash`` window)."""
        all_lanes = (1 << self.lanes) - 1
        for p in self.plans:
            if p.stash and p.kind == "F":
                port = getattr(self, f"{p.name}_stash")
                here, row = here1[p.index], s1["lin"]
                if p.conv:
                    here, row = here & conv1[p.index]["stash"], conv1[p.index]["weight"]
                m.d.comb += [port.chunk.eq(row), port.data.eq(wdata), port.en.eq(Mux(here, all_lanes, 0)),
                             port.advance.eq(here1[p.index] & s1["last_c"] & s1["last_row"])]

    def _write_back(self, m, mac, s1, here1) -> None:
        """MAC results to the delay lines (F, B), the bank (G) and the result port (F_L)."""
        lanes = self.lanes
        all_lanes = (1 << lanes) - 1
        lane_one = Const(1, lanes)
        for p in self.plans:
            if p.conv and p.kind != "G":
                self._conv_write_back(m, mac, p)
            elif p.kind == "F":
                here = mac.dot_valid & (mac.dot_tag.task == p.index)
                last_row = (mac.dot_tag.je == (p.rows - 1) // lanes) & (mac.dot_tag.jl == (p.rows - 1) % lanes)
                if p.result:
                    delta = self._result(m, mac, p, s1, here1, here)
                    outputs = [(getattr(self, f"{p.out_word}_wr"), delta)]
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
                if p.bias_rows and p.conv:  # a bias run's weight row is its bias row: tap (0, 0, 0), row oc
                    port = getattr(self, f"{p.name}_bwr")
                    m.d.comb += [port.addr.eq(mac.upd_tag.lin), port.data.eq(mac.upd_bias),
                                 port.en.eq(mac.upd_bias_valid & (mac.upd_tag.task == p.index))]
                elif p.bias_rows:  # an fc row's bias, stepped with its first chunk (as it was read)
                    latency = mac.latency[MacOp.G]
                    row, first_c = delayed(m, s1["j"], "g_bias_row", latency), delayed(m, s1["first_c"], "g_bias_first",
                                                                                      latency)
                    port = getattr(self, f"{p.name}_bwr")
                    m.d.comb += [port.addr.eq(row), port.data.eq(mac.upd_bias[0]),
                                 port.en.eq(mac.upd_valid & (mac.upd_tag.task == p.index) & first_c)]

    def _conv_write_back(self, m, mac, p: TaskPlan) -> None:
        """A conv F's rows through ReLU and pooling into a_l and mask_l; a conv B's words into e_{l−1}.

        Both are written in the cycle the MAC delivers them (the pooling is combinational on the
        running maximum), at the addresses the tag carries; the item's write side moves on with
        the nest's last write (the address of its last issue)."""
        last_point = {loop.name: loop.count - 1 for loop in p.nest.loops}
        last_row = p.nest.address("out_row", last_point)
        if p.kind == "F":
            here = mac.col_valid & (mac.col_tag.task == p.index)
            pool = PoolWriteBack(self.fmt, self.lanes, p.pool, p.pool_mode)
            m.submodules[f"pool_{p.name}"] = pool
            m.d.comb += [pool.valid.eq(here), pool.z.eq(mac.col_data), pool.position.eq(mac.col_tag.jl)]
            for port, value in ((getattr(self, f"{p.out_word}_wr"), pool.act),
                                (getattr(self, f"{p.out_mask}_wr"), pool.mask)):
                m.d.comb += [port.chunk.eq(mac.col_tag.lin), port.data.eq(value),
                             port.en.eq(Mux(pool.write, (1 << self.lanes) - 1, 0)),
                             port.advance.eq(pool.write & (mac.col_tag.lin == last_row))]
            return
        here = mac.dot_valid & (mac.dot_tag.task == p.index)
        last_lane = p.nest.address("out_lane", last_point)
        port = getattr(self, f"{p.out_chunk}_wr")
        m.d.comb += [port.chunk.eq(mac.dot_tag.lin), port.en.eq(Mux(here, Const(1, self.lanes) << mac.dot_tag.jl, 0)),
                     port.advance.eq(here & (mac.dot_tag.lin == last_row) & (mac.dot_tag.jl == last_lane))]
        m.d.comb += [port.data[k].eq(mac.dot_z) for k in range(self.lanes)]

    def _result(self, m, mac, p, s1, here1, here):
        """F_L's output word and δ_L = sat(z − t) to the result port; returns δ_L (err_L's word)."""
        bits = self.fmt.data_bits
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
                     self.result.index.eq(mac.dot_tag.je * self.lanes + mac.dot_tag.jl),
                     self.result.value.eq(mac.dot_z), self.result.diff.eq(diff)]
        return delta
