"""The training accelerator: processing elements, weight banks, delay lines, links, streams.

Built from a ScheduleTable and a FixedFormat only (plus the initial weights).

Architecture
------------
* One :class:`~layerpipe.hw.pe.PE` per processor that has tasks, each with its own
  sequencer (task ROM + period counter) and :class:`~layerpipe.hw.mac.VectorMAC`.
* One **weight bank** per layer (:class:`~layerpipe.hw.weight_bank.WeightBank`): a true
  dual-port memory of ``N_out · ceil(N_in/lanes)`` rows of ``lanes`` words (row j·C + c
  holds W[j, c·lanes : (c+1)·lanes], zero padded).
  Its two ports are statically multiplexed to the tasks of the layer as the table's
  ``bank_ports`` access groups say (:func:`bank_port_plan`): tasks of one lockstep group
  drive the same addresses and all receive the one read; G's write-back takes a port of
  its own. Port 0 doubles as the weight read-back port while the accelerator is idle.
* Under ``weights="stash"`` a layer whose table ``weight_versions["stash"]`` count V is
  positive gets a **stash**: a :class:`~layerpipe.hw.delay_line.DelayLine` of V weight
  versions. F_l copies each weight row chunk it reads into it; B_l of the same sample
  reads it back from there.
* One **delay line** (:class:`~layerpipe.hw.delay_line.DelayLine`) per data item and
  consuming processor, ``depth`` = the table's ``delay_lines`` depth, one read side per
  consuming task (sample n in slot n mod depth). The producer writes its own
  processor's copy directly and every other copy through a **link**
  (:class:`~layerpipe.hw.link.Link`, ``link_latency_cycles``) that carries its output in
  production order, data only (one word per row from F, one row chunk per cycle from B);
  a receiver at the far end counts the beats into the delay line. Data streams through
  the link as it is produced, so it always arrives within the table's transfer time.
  The input items (a0, target) have one delay line each, written by the input stream,
  with one extra (staging) slot and a read side per consuming task.
* The **input stream** ``sample_in`` carries one sample per transfer (its input vector and
  target); the loader copies it, one row of ``lanes`` words per cycle, into the staging
  slot, at most one sample ahead of F_1. The **result stream** ``result_out`` carries, per
  sample, the output vector a_L and its squared error.

Timing and stalls
-----------------
``start`` (while idle) latches ``n_samples`` = N, resets the schedule and starts it at
cycle 0 of period 0. The schedule runs in an enable domain: in every cycle where
``run`` is high it executes one schedule cycle, exactly the table's; ``cycles`` counts
them until the schedule cycle in which every PE's sequencer has finished its last task
run (sample N − 1, at the task's lag): nothing in the design computes the run's length
from the table's period and latency, so ``cycles`` is what the hardware executed and
equals ``table.total_cycles(N)`` only when the table's prediction is right. The whole
schedule stalls (``run`` low, every register and memory port of the schedule frozen) in a
cycle where F_1 of sample n must
start but sample n has not fully arrived on ``sample_in``, or where F_L must start while
the previous result still waits on ``result_out`` (not ready); ``stall_cycles`` counts
those cycles separately. A stall never changes what is computed, only when.
``busy`` is high from ``start`` until the schedule has ended and the last result has
been taken; ``done`` then stays high until the next ``start``. Weights persist across
runs (a new run continues training).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Const, EnableInserter, Module, Mux, ResetInserter, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from layerpipe.errors import LayerPipeError
from layerpipe.hw import estimate as est
from layerpipe.hw.delay_line import DelayLine
from layerpipe.hw.link import Link, link_signature
from layerpipe.hw.pe import (
    INPUT_ITEMS,
    PE,
    BufferGeometry,
    any_of,
    buffer_geometry,
    check_supported,
    memory_depth,
    stash_versions,
)
from layerpipe.hw.sequencer import SAMPLE_BITS
from layerpipe.hw.weight_bank import WeightBank, bank_depth
from layerpipe.sim.numerics import FixedFormat

__all__ = ["CYCLE_BITS", "WEIGHT_POLICIES", "Accelerator", "bank_port_plan", "sample_layout", "result_layout",
           "error_bits"]

CYCLE_BITS = 48
RESULT_STAGES = 3  # result collector: F_L's output registered, squared, then offered on result_out
WEIGHT_POLICIES = ("stash", "latest")
_PORT_NAMES = ("a", "b")  # bank port 0, 1


def sample_layout(table, fmt: FixedFormat) -> data.StructLayout:
    sizes = table.network.sizes
    return data.StructLayout({"x": data.ArrayLayout(signed(fmt.data_bits), sizes[0]),
                              "target": data.ArrayLayout(signed(fmt.data_bits), sizes[-1])})


def error_bits(table, fmt: FixedFormat) -> int:
    """Width of a sample's squared error Σ_j (y_j − t_j)², exact (sim/fixed.py squared_error)."""
    return 2 * fmt.data_bits + max(0, math.ceil(math.log2(table.network.sizes[-1])))


def result_layout(table, fmt: FixedFormat) -> data.StructLayout:
    return data.StructLayout({"y": data.ArrayLayout(signed(fmt.data_bits), table.network.sizes[-1]),
                              "error": unsigned(error_bits(table, fmt))})


@dataclass(frozen=True)
class PortUse:
    """Which bank port a task uses for reading (and G for writing)."""

    task: str
    read: int | None
    write: int | None


def bank_port_plan(table, weights: str = "stash") -> dict[int, list[PortUse]]:
    """Static assignment of each layer's two bank ports to its access groups (table ``bank_ports``).

    Groups are taken in start order; each takes the free ports it needs (a G group: read on
    one, write on the other). Tasks of one lockstep group share the read port.
    """
    versions = stash_versions(table, weights)
    plan = {}
    for entry in table.data.get("bank_ports", []):
        layer = entry["layer"]
        taken = []  # (start, end, ports)
        uses = []
        for group in sorted(entry["accesses"], key=lambda g: (g["start"], g["end"])):
            busy = set()
            for start, end, ports in taken:
                if start < group["end"] and group["start"] < end:
                    busy |= ports
            free = [p for p in (0, 1) if p not in busy]
            names = group["tasks"]
            writes = any(name.startswith("G") for name in names)
            readers = [name for name in names if not (name.startswith("B") and versions[layer])]
            need = int(bool(readers)) + int(writes)
            if len(free) < need:
                raise LayerPipeError(f"schedule table: the weight bank of layer {layer} needs more than two "
                                     f"ports at cycle {group['start']} of the period; it is not a dual-port table")
            read_port = free[0] if readers else None
            write_port = free[-1] if writes else None
            taken.append((group["start"], group["end"], {p for p in (read_port, write_port) if p is not None}))
            for name in names:
                uses.append(PortUse(name, read_port if name in readers else None,
                                    write_port if name.startswith("G") else None))
        plan[layer] = uses
    return plan


class _Receiver(wiring.Component):
    """The far end of a link: writes the producer's output stream into a delay line.

    A producer emits one sample's item in a fixed order: F one word per row (``words``
    beats of one word), B one row chunk per cycle of its last row (``entries`` beats of
    ``lanes`` words). The receiver counts the beats, so the link carries data only, and
    moves the delay line on to the next sample with the sample's last beat.
    """

    def __init__(self, geom, fmt: FixedFormat, chunks_per_beat: bool):
        self.geom, self.chunks_per_beat = geom, chunks_per_beat
        width = geom.lanes if chunks_per_beat else 1
        super().__init__({"i": In(link_signature(fmt, width, geom.element)),
                          "w": Out(geom.write_signature(fmt))})

    def elaborate(self, platform):
        m = Module()
        geom, lanes = self.geom, self.geom.lanes
        chunk = Signal(range(max(2, geom.entries)))
        lane = Signal(range(max(2, lanes)))
        if self.chunks_per_beat:
            last = chunk == geom.entries - 1
            m.d.comb += [self.w.data.eq(self.i.payload), self.w.en.eq(Mux(self.i.valid, (1 << lanes) - 1, 0))]
        else:
            last = (chunk == (geom.words - 1) // lanes) & (lane == (geom.words - 1) % lanes)
            m.d.comb += [self.w.en.eq(Mux(self.i.valid, Const(1, lanes) << lane, 0))]
            m.d.comb += [self.w.data[k].eq(self.i.payload[0]) for k in range(lanes)]
        m.d.comb += [self.w.chunk.eq(chunk), self.w.advance.eq(self.i.valid & last)]
        with m.If(self.i.valid):
            with m.If(last):
                m.d.sync += [chunk.eq(0), lane.eq(0)]
            with m.Else():
                if self.chunks_per_beat:
                    m.d.sync += chunk.eq(chunk + 1)
                else:
                    with m.If(lane == lanes - 1):
                        m.d.sync += [lane.eq(0), chunk.eq(chunk + 1)]
                    with m.Else():
                        m.d.sync += lane.eq(lane + 1)
        return m


def _drive(m, sink, source) -> None:
    """Connect two views of one interface: ``source``'s outgoing members drive ``sink``'s, its
    incoming members are driven by ``sink``'s (like ``wiring.connect``, but also between
    interfaces whose ports are not both component members)."""
    for path, member, value in source.signature.flatten(source):
        target = sink
        for part in path:
            target = getattr(target, part)
        if member.flow == Out:
            m.d.comb += target.eq(value)
        else:
            m.d.comb += value.eq(target)


class Accelerator(wiring.Component):
    """Top level of the generated training accelerator (see the module docstring).

    Members: ``start`` In(1), ``n_samples`` In(SAMPLE_BITS), ``busy``/``done`` Out(1),
    ``cycles``/``stall_cycles`` Out(CYCLE_BITS), ``sample_in`` (stream sink of
    :func:`sample_layout`), ``result_out`` (stream source of :func:`result_layout`),
    ``wread_layer``/``wread_addr`` In and ``wread_data`` Out (weight read-back while idle,
    two cycles latency: bank row ``wread_addr`` of layer ``wread_layer`` (1-based)).
    """

    def __init__(self, table, fmt: FixedFormat, weights: str = "stash", initial_weights=None):
        self._MustUse__silence = True  # a refused design is not an unused one
        check_supported(table, fmt)
        if weights not in WEIGHT_POLICIES:
            raise LayerPipeError(f"weight policy '{weights}' is not built in RTL; use one of "
                                 f"{', '.join(WEIGHT_POLICIES)}")
        self.table, self.fmt, self.weights = table, fmt, weights
        network = table.network
        self.lanes = table.cost.lanes
        self.sizes = network.sizes
        self.pes = {p: PE(table, p, fmt, weights) for p, tasks in enumerate(table.processor_tasks) if tasks}
        self.buffers: dict[str, BufferGeometry] = buffer_geometry(table, fmt)
        self.ports = bank_port_plan(table, weights)
        self.stash = {layer: v for layer, v in stash_versions(table, weights).items() if v}
        if initial_weights is None:
            initial_weights = [np.zeros((layer.out_size, layer.in_size), dtype=np.int64) for layer in network.layers]
        if len(initial_weights) != network.depth:
            raise LayerPipeError(f"initial weights: {len(initial_weights)} matrices for {network.depth} layers")
        self.initial_weights = []
        for layer, w in zip(network.layers, initial_weights):
            w = np.asarray(w, dtype=np.int64)
            if w.shape != (layer.out_size, layer.in_size):
                raise LayerPipeError(f"initial weights of layer {layer.index} have shape {w.shape}; "
                                     f"expected {(layer.out_size, layer.in_size)}")
            if w.min(initial=0) < fmt.data_min or w.max(initial=0) > fmt.data_max:
                raise LayerPipeError(f"initial weights of layer {layer.index} do not fit {fmt.data_bits}-bit words")
            self.initial_weights.append(w)
        self.bank_rows = {layer.index: bank_depth(layer.out_size, layer.in_size, self.lanes)
                          for layer in network.layers}
        for layer in network.layers:
            if layer.index not in self.ports:
                raise LayerPipeError(f"schedule table: bank_ports has no entry for layer {layer.index}")
        super().__init__({
            "start": In(1),
            "n_samples": In(SAMPLE_BITS),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(CYCLE_BITS),
            "stall_cycles": Out(CYCLE_BITS),
            "sample_in": In(stream.Signature(sample_layout(table, fmt))),
            "result_out": Out(stream.Signature(result_layout(table, fmt))),
            "wread_layer": In(range(network.depth + 1)),
            "wread_addr": In(ceil_log2(memory_depth(max(self.bank_rows.values())))),
            "wread_data": Out(self.lanes * fmt.data_bits),
        })
        self._MustUse__silence = False

    # -- where things are ---------------------------------------------------------------
    def _task_pe(self, name: str):
        for pe in self.pes.values():
            for plan in pe.plans:
                if plan.name == name:
                    return pe, plan
        raise LayerPipeError(f"schedule table: task {name} is not on any processor")

    # -- observation from outside ------------------------------------------------------------
    @staticmethod
    def bank_write_enable(layer: int, port: int) -> str:
        """Name of the write enable of port ``port`` of layer ``layer``'s bank in the Verilog top module."""
        return f"bank{layer}_{_PORT_NAMES[port]}_wen"

    def observation(self) -> dict:
        """How a bench sees the end of a run from outside the design (the sidecar's ``observe``).

        Clock cycle g is the one in which ``start`` is taken (high while not ``busy``); schedule
        cycle k runs in clock cycle g + 1 + k + (stalled cycles before it), which ``stall_cycles``
        counts. A run ends with its last G task (every other task feeds some G of its sample), so
        the end is the last write of each bank (``bank_writes``: the write enable, gated by
        ``run``, so every cycle it is high is a schedule cycle) plus the cycles from that write to
        the end of its task. ``last_result`` gives the same for the offer of the last result on
        ``result_out`` (valid rising), which the result collector makes 3 clock cycles after F_L's
        last output word; since F_L precedes every G of its sample this end is never the later.
        """
        overhead = self.table.cost.task_overhead_cycles
        to_end = overhead + 1  # from a task's last issue to the end of its run
        writes = []
        for layer, uses in sorted(self.ports.items()):
            (writer,) = [u for u in uses if u.write is not None]
            pe, _ = self._task_pe(writer.task)
            writes.append({"layer": layer, "signal": self.bank_write_enable(layer, writer.write),
                           "cycles_to_task_end": to_end - pe.last_write_after_issue("G")})
        fl_pe, _ = self._task_pe(f"F{self.table.network.depth}")
        return {
            "schedule_cycle": "schedule cycle k runs in clock cycle g + 1 + k + stalled cycles before it; "
                              "g: the clock cycle in which start is taken",
            "bank_writes": writes,
            "last_result": {"cycles_to_task_end": to_end - fl_pe.last_write_after_issue("F") - RESULT_STAGES},
            "end": "the latest of (schedule cycle of a bank's last write + its cycles_to_task_end) and "
                   "(schedule cycle of the last result's offer + its cycles_to_task_end)",
        }

    # -- resources ------------------------------------------------------------------------
    def consumers(self, item: str) -> list[int]:
        return sorted(p for p, pe in self.pes.items() if item in pe.read_items)

    def estimate(self, family: est.Family | str = est.ECP5) -> dict[str, est.Resources]:
        """Expected LUT/FF/DSP/BRAM per processing element, plus the shared top-level logic.

        A PE is charged its own logic (:meth:`PE.estimate`), the delay-line copies it reads
        and the links that feed them, the weight bank of each layer whose G it runs and the
        stash of each layer whose B it runs. ``shared`` holds the input delay lines, the
        loader, the result collector and the control counters.
        """
        fam = est.get_family(family)
        fmt, table, lanes, bits = self.fmt, self.table, self.lanes, self.fmt.data_bits
        rows = {f"PE{p}": pe.estimate(fam) for p, pe in self.pes.items()}
        parts = []  # components made only to be estimated

        def part(component):
            component._MustUse__silence = True
            parts.append(component)
            return component.estimate(fam)

        for p, pe in self.pes.items():
            for plan in pe.plans:
                layer = table.network.layer(plan.layer)
                if plan.kind == "G":
                    writable = tuple(_PORT_NAMES[u.write] for u in self.ports[plan.layer] if u.write is not None)
                    rows[f"PE{p}"] += part(WeightBank(fmt, lanes, layer.out_size, layer.in_size, writable=writable))
                if plan.kind == "B" and plan.layer in self.stash:
                    rows[f"PE{p}"] += part(DelayLine(fmt, lanes, self.bank_rows[plan.layer], self.stash[plan.layer]))
        shared = est.Resources()
        for item, geom in self.buffers.items():
            if item in INPUT_ITEMS:
                readers = sum(len(pe.readers(item)) for pe in self.pes.values())
                shared += part(geom.delay_line(fmt, readers))
                continue
            (producer,) = [p for p, pe in self.pes.items() if item in pe.write_items]
            chunks_per_beat = item.startswith("err") and item != f"err{table.network.depth}"
            for q in self.consumers(item):
                rows[f"PE{q}"] += part(geom.delay_line(fmt, len(self.pes[q].readers(item))))
                if q != producer:
                    width = lanes if chunks_per_beat else 1
                    rows[f"PE{q}"] += part(Link(fmt, width, table.cost.link_latency_cycles, geom.element))
                    rows[f"PE{q}"] += est.register(2 * ceil_log2(max(2, geom.entries))) + est.adder(8)
        outputs = self.sizes[-1]
        shared += est.register(SAMPLE_BITS * 3 + 8) + est.adder(SAMPLE_BITS) * 4 + est.mux(lanes * bits, 8, fam)
        shared += est.register(outputs * bits + error_bits(table, fmt) + 1) + est.multiplier(bits + 1, bits + 1, fam)
        shared += est.adder(error_bits(table, fmt))
        shared += est.register(2 * CYCLE_BITS + SAMPLE_BITS + 4) + est.adder(CYCLE_BITS) * 2
        rows["shared"] = shared
        return rows

    def elaborate(self, platform):
        m = Module()
        fmt, table, lanes, bits = self.fmt, self.table, self.lanes, self.fmt.data_bits
        depth = table.network.depth

        # -- control -------------------------------------------------------------------------
        # ``run`` (the schedule's enable, fanned out to every register and memory port of the
        # schedule) is a flip-flop: every state bit it depends on is computed one cycle ahead
        # (``*_next``) and ``run`` is registered from them (see the stall decision below).
        go = Signal()
        running = Signal()  # the schedule has cycles left
        ran = Signal()
        samples = Signal(SAMPLE_BITS)
        run = Signal(name="run_r")
        pending = Signal()  # a result waits on result_out
        last = Signal()  # the current schedule cycle is the run's last
        running_next, pending_next = Signal(), Signal()
        m.d.comb += [go.eq(self.start & ~self.busy),
                     self.busy.eq(running | pending), self.done.eq(ran & ~running & ~pending)]

        core = Module()
        for p, pe in self.pes.items():
            core.submodules[f"pe{p}"] = pe
            m.d.comb += [pe.samples.eq(samples), pe.prime.eq(go)]  # go resets the core: the PE's prime cycle

        # the run ends with the schedule cycle in which every PE's sequencer is through with its
        # last task run (sample N − 1 at each task's lag): an event of the executed schedule
        m.d.comb += last.eq(Cat(pe.finished for pe in self.pes.values()).all())
        m.d.comb += running_next.eq(Mux(go, self.n_samples != 0, running & ~(run & last)))
        m.d.sync += running.eq(running_next)
        with m.If(go):
            m.d.sync += [samples.eq(self.n_samples), ran.eq(1), self.cycles.eq(0), self.stall_cycles.eq(0)]
        with m.Elif(running):
            with m.If(run):
                m.d.sync += self.cycles.eq(self.cycles + 1)
            with m.Else():
                m.d.sync += self.stall_cycles.eq(self.stall_cycles + 1)

        # -- weight banks -------------------------------------------------------------------
        readback = {}
        for layer in table.network.layers:
            l = layer.index
            uses = self.ports[l]
            bank = WeightBank(fmt, lanes, layer.out_size, layer.in_size, init=self.initial_weights[l - 1],
                              writable=tuple(_PORT_NAMES[u.write] for u in uses if u.write is not None))
            m.submodules[f"bank{l}"] = bank
            for port_index, port_name in enumerate(_PORT_NAMES):
                port = getattr(bank, port_name)
                readers = [getattr(self._task_pe(u.task)[0], f"{u.task}_w") for u in uses if u.read == port_index]
                writers = [getattr(self._task_pe(u.task)[0], f"{u.task}_wr") for u in uses if u.write == port_index]
                raddr = Signal(len(port.addr), name=f"bank{l}_{port_name}_raddr")
                ren = Signal(name=f"bank{l}_{port_name}_ren")
                # lockstep readers drive the same address; the last reader's address stands when none
                # reads, so readers of one PE (one address signal) need no multiplexer at all
                addr = readers[-1].addr if readers else Const(0, 1)
                for request in readers[:-1]:
                    addr = Mux(request.en, request.addr, addr)
                m.d.comb += [request.data.eq(port.read_data) for request in readers]
                m.d.comb += [raddr.eq(addr), ren.eq(any_of(r.en for r in readers))]
                if port_index == 0:  # weight read-back while idle (go: the PEs' first weight reads)
                    with m.If(~self.busy & ~go):
                        m.d.comb += [raddr.eq(self.wread_addr), ren.eq(self.wread_layer == l)]
                    readback[l] = port.read_data
                m.d.comb += port.read_en.eq(Mux(self.busy, run & ren, ren))
                if writers:  # one G per layer: the write owns the port's address while it writes
                    (request,) = writers
                    wen = Signal(name=self.bank_write_enable(l, port_index))
                    m.d.comb += [wen.eq(run & request.en[0]), port.write_en.eq(wen), port.write_data.eq(request.data),
                                 port.addr.eq(Mux(wen, request.addr, raddr))]
                else:
                    m.d.comb += port.addr.eq(raddr)
        # read-back data registered per bank: block RAM's clock-to-out ends at a flip-flop
        layer_r = [Signal.like(self.wread_layer, name=f"wread_layer_d{stage + 1}") for stage in range(2)]
        m.d.sync += [layer_r[0].eq(self.wread_layer), layer_r[1].eq(layer_r[0])]
        for l, read_data in readback.items():
            arrived = Signal.like(self.wread_data, name=f"wread_bank{l}")
            m.d.sync += arrived.eq(read_data)
            with m.If(layer_r[1] == l):
                m.d.comb += self.wread_data.eq(arrived)

        # -- stash memories: a delay line of V weight versions per layer ---------------------
        for l, versions in self.stash.items():
            writer, _ = self._task_pe(f"F{l}")
            reader, _ = self._task_pe(f"B{l}")
            rows = self.bank_rows[l]
            stash = DelayLine(fmt, lanes, rows, versions, delays=(0,))
            core.submodules[f"stash{l}"] = stash
            _drive(m, stash.w, getattr(writer, f"F{l}_stash"))
            _drive(m, getattr(reader, f"B{l}_stash"), stash.r0)

        # -- delay lines and links ----------------------------------------------------------------
        # one copy per consuming processor, one read side per consuming task; the producer
        # writes its own processor's copy and sends the others theirs over a link
        link_latency = table.cost.link_latency_cycles
        for item, geom in self.buffers.items():
            if item in INPUT_ITEMS:
                continue  # written by the input stream, below
            (producer,) = [p for p, pe in self.pes.items() if item in pe.write_items]
            source = getattr(self.pes[producer], f"{item}_wr")
            chunks_per_beat = item.startswith("err") and item != f"err{depth}"  # B's output
            for q in self.consumers(item):
                sides = self.pes[q].readers(item)
                line = geom.delay_line(fmt, len(sides))
                core.submodules[f"{item}_p{q}"] = line
                for side, port in zip(sides, line.read_ports):
                    _drive(m, getattr(self.pes[q], side), port)
                if q == producer:
                    _drive(m, line.w, source)
                    continue
                width = lanes if chunks_per_beat else 1
                link = Link(fmt, width, link_latency, geom.element)
                receiver = _Receiver(geom, fmt, chunks_per_beat)
                core.submodules[f"link_{item}_{producer}to{q}"] = link
                core.submodules[f"receive_{item}_{producer}to{q}"] = receiver
                m.d.comb += [link.i.valid.eq(source.en.any()), receiver.i.valid.eq(link.o.valid),
                             receiver.i.payload.eq(link.o.payload)]
                m.d.comb += [link.i.payload[k].eq(source.data[k]) for k in range(width)]
                _drive(m, line.w, receiver.w)

        # -- input: loader and input delay lines ---------------------------------------------------
        f1_pe, f1_plan = self._task_pe("F1")
        fl_pe, fl_plan = self._task_pe(f"F{depth}")
        # Registered stall decision: ``f1_due``/``fl_due`` say that F_1/F_L starts in the current
        # schedule cycle (from the sequencers' next-cycle launch, held while stalled; reset to
        # cycle 0's launch), ``staged`` that the next sample (number = F_1 launches so far) is in
        # its staging slot. F_1 launches sample n only when it is staged, and the loader stages
        # sample n + 1 only after that launch, so loaded − launched is 0 or 1: ``staged`` is that
        # difference. ``run`` of the next cycle is registered from the next values of all of them.
        def due(pe, plan):
            flag = Signal(name=f"{plan.name}_due", init=int(plan.start == 0 and plan.lag == 0))
            flag_next = Signal(name=f"{plan.name}_due_next")
            m.d.comb += flag_next.eq(Mux(go, flag.init, Mux(run, pe.next_launches[plan.index], flag)))
            m.d.sync += flag.eq(flag_next)
            return flag, flag_next

        (f1_launch, f1_next), (_, fl_next) = due(f1_pe, f1_plan), due(fl_pe, fl_plan)
        loaded = Signal(SAMPLE_BITS)  # samples fully in their staging slot
        staged = Signal()  # sample number `F_1 launches so far` is in its staging slot
        staged_next = Signal()
        load_done = Signal()
        m.d.comb += staged_next.eq(Mux(go, 0, Mux(load_done, 1, Mux(run & f1_launch, 0, staged))))
        m.d.sync += staged.eq(staged_next)
        with m.If(go):
            m.d.sync += loaded.eq(0)
        # stall(t) = running & ((F_1 due & not staged) | (F_L due & result pending)); run = running & ~stall
        m.d.sync += run.eq(running_next & ~((f1_next & ~staged_next) | (fl_next & pending_next)))

        payload = self.sample_in.payload
        inputs = {"a0": payload.x.as_value(), "target": payload.target.as_value()}
        loader_entries = max(self.buffers[item].entries for item in INPUT_ITEMS)
        load_c = Signal(range(max(2, loader_entries)))
        can_load = Signal()
        # sample n may enter its slot once F_1 of sample n − 1 has started (the slot is free)
        more = Signal()  # loaded < samples, registered
        with m.If(go):
            m.d.sync += more.eq(self.n_samples != 0)
        with m.Elif(load_done):
            m.d.sync += more.eq(loaded + 1 < samples)
        m.d.comb += can_load.eq(running & self.sample_in.valid & more & ~staged)
        last_entry = load_c == loader_entries - 1
        m.d.comb += [self.sample_in.ready.eq(can_load & last_entry), load_done.eq(can_load & last_entry)]
        with m.If(go):
            m.d.sync += load_c.eq(0)
        with m.Elif(can_load):
            with m.If(last_entry):
                m.d.sync += [load_c.eq(0), loaded.eq(loaded + 1)]
            with m.Else():
                m.d.sync += load_c.eq(load_c + 1)
        for item in INPUT_ITEMS:
            geom = self.buffers[item]
            sides = [(pe, side) for pe in self.pes.values() for side in pe.readers(item)]
            line = geom.delay_line(fmt, len(sides))
            # outside the schedule's enable: the loader runs while the schedule stalls
            m.submodules[f"{item}_in"] = ResetInserter(go)(line)
            width = geom.row(fmt).size
            padded = Cat(inputs[item], Const(0, geom.entries * width - len(inputs[item])))
            m.d.comb += [line.w.chunk.eq(load_c), line.w.data.eq(padded.word_select(load_c, width)),
                         line.w.en.eq(Mux(can_load & (load_c < geom.entries), (1 << lanes) - 1, 0)),
                         line.w.advance.eq(can_load & last_entry)]
            for (pe, side), port in zip(sides, line.read_ports):
                request = getattr(pe, side)
                m.d.comb += [port.chunk.eq(request.chunk), port.en.eq(run & request.en),
                             port.advance.eq(run & request.advance), request.data.eq(port.data)]

        # -- results ----------------------------------------------------------------------------
        outputs = self.sizes[-1]
        result = fl_pe.result
        y = [Signal(signed(bits), name=f"y{j}") for j in range(outputs)]
        error = Signal(unsigned(error_bits(table, fmt)))
        # Pipelined collector: the PE's result (r1), its square (r2, a registered multiplier),
        # then the accumulation. ``pending`` is set as the last output leaves F_L, exactly as
        # the stall rule needs; the result is offered once the two stages have drained.
        r1 = {"valid": Signal(name="res1_valid"), "index": Signal.like(result.index, name="res1_index"),
              "value": Signal.like(result.value, name="res1_value"), "diff": Signal.like(result.diff, name="res1_diff")}
        r2 = {"valid": Signal(name="res2_valid"), "index": Signal.like(result.index, name="res2_index"),
              "square": Signal(unsigned(2 * bits), name="res2_square")}  # (y − t)² < 2**(2·bits)
        m.d.sync += [r1["valid"].eq(run & result.valid & ~go), r1["index"].eq(result.index),
                     r1["value"].eq(result.value), r1["diff"].eq(result.diff),
                     r2["valid"].eq(r1["valid"]), r2["index"].eq(r1["index"]),
                     r2["square"].eq(r1["diff"] * r1["diff"])]
        with m.If(r1["valid"]):
            for j in range(outputs):
                with m.If(r1["index"] == j):
                    m.d.sync += y[j].eq(r1["value"])
        with m.If(r2["valid"]):
            m.d.sync += error.eq(Mux(r2["index"] == 0, 0, error) + r2["square"])
        taken = self.result_out.valid & self.result_out.ready
        m.d.comb += pending_next.eq(~go & ((pending & ~taken) | (run & result.last)))
        m.d.sync += pending.eq(pending_next)
        m.d.comb += [self.result_out.valid.eq(pending & ~r1["valid"] & ~r2["valid"]),
                     self.result_out.payload.error.eq(error)]
        for j in range(outputs):
            m.d.comb += self.result_out.payload.y[j].eq(y[j])

        m.submodules.core = ResetInserter(go)(EnableInserter(run)(core))
        return m
