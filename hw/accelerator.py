"""The training accelerator: processing elements, weight banks, delay lines, links, streams.

Built from a hardware plan (:mod:`layerpipe.hw.plan`: a ScheduleTable lowered for a FixedFormat
and a weight policy) and the initial weights.

Architecture
------------
* One :class:`~layerpipe.hw.pe.PE` per processor that has tasks, each with its own
  sequencer (task ROM + period counter) and :class:`~layerpipe.hw.mac.VectorMAC`.
* One **weight bank** per layer (:class:`~layerpipe.hw.weight_bank.WeightBank`): a true
  dual-port memory of ``N_out · ceil(N_in/lanes)`` rows of ``lanes`` words (row j·C + c
  holds W[j, c·lanes : (c+1)·lanes], zero padded).
  Its two ports are statically multiplexed to the tasks of the layer as the table's
  ``bank_ports`` access groups say (:func:`~layerpipe.hw.plan.bank_port_plan`): tasks of one lockstep group
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

from dataclasses import dataclass

import numpy as np
from amaranth.hdl import Cat, Const, EnableInserter, Module, Mux, ResetInserter, Signal, signed, unsigned
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out
from amaranth.utils import ceil_log2

from layerpipe.core.errors import LayerPipeError
from layerpipe.hw import estimate as est
from layerpipe.hw.conv_bank import ConvWeightStore
from layerpipe.hw.conv_layout import bias_store_rows, bias_store_shape, conv_bank_rows, fc_bank_columns, weight_shape
from layerpipe.hw.delay_line import DelayLine
from layerpipe.hw.link import Link
from layerpipe.hw.logic import any_of
from layerpipe.hw.pe import PE
from layerpipe.hw.plan import (
    CYCLE_BITS,
    INPUT_ITEMS,
    PORT_NAMES,
    HardwarePlan,
    error_bits,
    index_shape,
    memory_depth,
    result_layout,
    sample_layout,
)
from layerpipe.hw.plan_estimate import design_resources
from layerpipe.hw.receiver import Receiver
from layerpipe.hw.sequencer import SAMPLE_BITS
from layerpipe.hw.weight_bank import WeightBank

__all__ = ["CYCLE_BITS", "Accelerator", "sample_layout", "result_layout", "error_bits",
           "check_initial_weights", "check_initial_biases"]

RESULT_STAGES = 3  # result collector: F_L's output registered, squared, then offered on result_out


def _shared_address(requests):
    """The address of whichever of ``requests`` reads (they never read in one cycle with different
    addresses); the last one's stands when none does, so one PE's requests need no multiplexer."""
    addr = requests[-1].addr
    for request in requests[:-1]:
        addr = Mux(request.en, request.addr, addr)
    return addr


def _data_words(value, shape: tuple[int, ...], fmt, what: str) -> np.ndarray:
    """``value`` as an integer array of ``shape`` in ``fmt``'s data range, or a one-line LayerPipeError."""
    value = np.asarray(value, dtype=np.int64)
    if value.shape != shape:
        raise LayerPipeError(f"{what} have shape {value.shape}; expected {shape}")
    if value.min(initial=0) < fmt.data_min or value.max(initial=0) > fmt.data_max:
        raise LayerPipeError(f"{what} do not fit {fmt.data_bits}-bit words")
    return value


def check_initial_weights(plan: HardwarePlan, initial_weights) -> list[np.ndarray]:
    """The initial weights as integer arrays of data words (zeros for None), or a LayerPipeError:
    (N_out, N_in) per fc layer, (O, C, K, K) per conv layer (hw/conv_layout.py ``weight_shape``)."""
    network, fmt = plan.table.network, plan.fmt
    if initial_weights is None:
        initial_weights = [np.zeros(weight_shape(layer), dtype=np.int64) for layer in network.layers]
    if len(initial_weights) != network.depth:
        raise LayerPipeError(f"initial weights: {len(initial_weights)} matrices for {network.depth} layers")
    return [_data_words(w, weight_shape(layer), fmt, f"initial weights of layer {layer.index}")
            for layer, w in zip(network.layers, initial_weights)]


def check_initial_biases(plan: HardwarePlan, initial_biases) -> list[np.ndarray | None]:
    """The initial biases as integer arrays of data words, one per layer with a bias (zeros for None) and
    None for a layer without one, or a LayerPipeError."""
    network, fmt = plan.table.network, plan.fmt
    if initial_biases is None:
        initial_biases = [np.zeros(layer.biases, dtype=np.int64) if layer.bias else None for layer in network.layers]
    if len(initial_biases) != network.depth:
        raise LayerPipeError(f"initial biases: {len(initial_biases)} entries for {network.depth} layers "
                             "(None for a layer without a bias)")
    checked = []
    for layer, b in zip(network.layers, initial_biases):
        if not layer.bias and b is not None:
            raise LayerPipeError(f"initial biases: layer {layer.index} has no bias; give None for it")
        checked.append(None if not layer.bias
                       else _data_words(b, (layer.biases,), fmt, f"initial biases of layer {layer.index}"))
    return checked


@dataclass
class _Control:
    """The run's control state, as the parts of :meth:`Accelerator.elaborate` share it."""

    go: Signal  # start taken: latch N, reset the schedule (the PEs' prime cycle)
    running: Signal  # the schedule has cycles left
    samples: Signal  # N of this run
    run: Signal  # the schedule's enable, a flip-flop
    running_next: Signal
    pending: Signal  # a result waits on result_out
    pending_next: Signal
    core: Module  # the schedule: PEs, delay lines, links, stash (reset by go, enabled by run)


class Accelerator(wiring.Component):
    """Top level of the generated training accelerator (see the module docstring).

    ``plan``: :func:`~layerpipe.hw.plan.hardware_plan` of the table, format and weight policy;
    ``initial_weights``: one integer array of data words per layer, (N_out, N_in) or (O, C, K, K)
    (zeros for None); ``initial_biases``: one per layer, (N_out,) or None for a layer without a bias
    (zeros for None). A layer's bias is its bias store's (hw/conv_layout.py).

    Members: ``start`` In(1), ``n_samples`` In(SAMPLE_BITS), ``busy``/``done`` Out(1),
    ``cycles``/``stall_cycles`` Out(CYCLE_BITS), ``sample_in`` (stream sink of
    :func:`sample_layout`), ``result_out`` (stream source of :func:`result_layout`),
    ``wread_layer``/``wread_addr`` In and ``wread_data`` Out (weight read-back while idle,
    two cycles latency: bank row ``wread_addr`` of layer ``wread_layer`` (1-based)),
    ``wwrite_layer``/``wwrite_addr``/``wwrite_data``/``wwrite_en`` In (weight load while idle, the
    read-back's rows and addressing: the row is written at the end of the cycle ``wwrite_en`` is
    high, so one bitstream can start training from any weights).
    """

    def __init__(self, plan: HardwarePlan, initial_weights=None, initial_biases=None):
        self.initial_weights = check_initial_weights(plan, initial_weights)
        self.initial_biases = check_initial_biases(plan, initial_biases)
        self.plan = plan
        self.table, self.fmt, self.weights, self.lanes = plan.table, plan.fmt, plan.weights, plan.lanes
        self.sizes = plan.sizes
        self.buffers, self.ports, self.stash, self.bank_rows = plan.buffers, plan.ports, plan.stash, plan.bank_rows
        self.pes = {p: PE(plan, p) for p in plan.pes}
        table, fmt = plan.table, plan.fmt
        super().__init__({
            "start": In(1),
            "n_samples": In(SAMPLE_BITS),
            "busy": Out(1),
            "done": Out(1),
            "cycles": Out(CYCLE_BITS),
            "stall_cycles": Out(CYCLE_BITS),
            "sample_in": In(stream.Signature(sample_layout(table, fmt))),
            "result_out": Out(stream.Signature(result_layout(table, fmt))),
            "wread_layer": In(range(table.network.depth + 1)),
            "wread_addr": In(ceil_log2(memory_depth(max(plan.readback_rows.values())))),
            "wread_data": Out(self.lanes * fmt.data_bits),
            "wwrite_layer": In(range(table.network.depth + 1)),
            "wwrite_addr": In(ceil_log2(memory_depth(max(plan.readback_rows.values())))),
            "wwrite_data": In(self.lanes * fmt.data_bits),
            "wwrite_en": In(1),
        })

    def _task_pe(self, name: str) -> PE:
        return self.pes[self.plan.task_pe(name)[0]]

    # -- observation from outside ------------------------------------------------------------
    @staticmethod
    def bank_write_enable(layer: int, port: int | None) -> str:
        """Name of the write enable of port ``port`` of layer ``layer``'s bank in the Verilog top module
        (``None``: a conv layer's store, whose one write goes to every replica)."""
        return f"bank{layer}_{PORT_NAMES[port] if port is not None else 'w'}_wen"

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
        for layer in self.table.network.layers:
            l = layer.index
            if l in self.ports:
                (writer,) = [u for u in self.ports[l] if u.write is not None]
                port = writer.write
            else:
                port = None
            pe = self.plan.pes[self.plan.task_pe(f"G{l}")[0]]
            writes.append({"layer": l, "signal": self.bank_write_enable(l, port),
                           "cycles_to_task_end": to_end - pe.last_write_after_issue("G")})
        fl_pe = self.plan.pes[self.plan.task_pe(f"F{self.table.network.depth}")[0]]
        return {
            "schedule_cycle": "schedule cycle k runs in clock cycle g + 1 + k + stalled cycles before it; "
                              "g: the clock cycle in which start is taken",
            "bank_writes": writes,
            "last_result": {"cycles_to_task_end": to_end - fl_pe.last_write_after_issue("F") - RESULT_STAGES},
            "end": "the latest of (schedule cycle of a bank's last write + its cycles_to_task_end) and "
                   "(schedule cycle of the last result's offer + its cycles_to_task_end)",
        }


    # -- resources ------------------------------------------------------------------------
    def estimate(self, family: est.Family | str = est.ECP5) -> dict[str, est.Resources]:
        """Expected LUT/FF/DSP/BRAM per processing element, plus the shared top-level logic
        (:func:`~layerpipe.hw.plan_estimate.design_resources`)."""
        return design_resources(self.plan, family)

    # -- elaboration ----------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        control = self._control(m)
        self._banks(m, control)
        self._stashes(m, control)
        self._delay_lines_and_links(m, control)
        self._input(m, control)
        self._collector(m, control)
        m.submodules.core = ResetInserter(control.go)(EnableInserter(control.run)(control.core))
        return m

    def _control(self, m) -> _Control:
        """Start, the end of the run (every sequencer through), the cycle and stall counters.

        ``run`` (the schedule's enable, fanned out to every register and memory port of the
        schedule) is a flip-flop: every state bit it depends on is computed one cycle ahead
        (``*_next``) and ``run`` is registered from them (see the stall decision in :meth:`_input`).
        """
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
        return _Control(go, running, samples, run, running_next, pending, pending_next, core)

    def _loading(self, control: _Control, layer: int):
        """A weight load of ``layer``'s read-back rows in this cycle (only while idle)."""
        return ~self.busy & ~control.go & self.wwrite_en & (self.wwrite_layer == layer)

    def _banks(self, m, control: _Control) -> None:
        """One weight bank per layer, its two ports shared by the tasks as the port plan says; weight read-back
        and load."""
        run, go = control.run, control.go
        readback = {}
        for layer in self.table.network.layers:
            l = layer.index
            if l in self.plan.conv_banks:
                readback[l] = self._conv_store(m, control, layer)
                continue
            uses = self.ports[l]
            columns = fc_bank_columns(self.initial_weights[l - 1], layer, self.lanes)  # after a conv layer its order
            bank = WeightBank(self.fmt, self.lanes, layer.out_size, columns.shape[1], init=columns,
                              writable=self.plan.writable_ports(l))
            m.submodules[f"bank{l}"] = bank
            for port_index, port_name in enumerate(PORT_NAMES):
                port = getattr(bank, port_name)
                readers = [getattr(self._task_pe(u.task), f"{u.task}_w") for u in uses if u.read == port_index]
                writers = [getattr(self._task_pe(u.task), f"{u.task}_wr") for u in uses if u.write == port_index]
                raddr = Signal(len(port.addr), name=f"bank{l}_{port_name}_raddr")
                ren = Signal(name=f"bank{l}_{port_name}_ren")
                # lockstep readers drive the same address; the last reader's address stands when none
                # reads, so readers of one PE (one address signal) need no multiplexer at all
                addr = _shared_address(readers) if readers else Const(0, 1)
                m.d.comb += [request.data.eq(port.read_data) for request in readers]
                m.d.comb += [raddr.eq(addr), ren.eq(any_of(r.en for r in readers))]
                if port_index == 0:  # weight read-back while idle (go: the PEs' first weight reads)
                    with m.If(~self.busy & ~go):
                        m.d.comb += [raddr.eq(self.wread_addr), ren.eq(self.wread_layer == l)]
                    readback[l] = port.read_data
                m.d.comb += port.read_en.eq(Mux(self.busy, run & ren, ren))
                if writers:  # one G per layer: the write owns the port's address while it writes; a load, while idle
                    (request,) = writers
                    wen = Signal(name=self.bank_write_enable(l, port_index))
                    load = self._loading(control, l) & (self.wwrite_addr < self.bank_rows[l])  # past: the bias's
                    m.d.comb += [wen.eq(run & request.en[0]), port.write_en.eq(wen | load),
                                 port.write_data.eq(Mux(load, self.wwrite_data, request.data)),
                                 port.addr.eq(Mux(load, self.wwrite_addr, Mux(wen, request.addr, raddr)))]
                else:
                    m.d.comb += port.addr.eq(raddr)
            if layer.bias:
                readback[l] = self._bias_store(m, control, layer, self.bank_rows[l], readback[l])
        # read-back data registered per bank: block RAM's clock-to-out ends at a flip-flop
        layer_r = [Signal.like(self.wread_layer, name=f"wread_layer_d{stage + 1}") for stage in range(2)]
        m.d.sync += [layer_r[0].eq(self.wread_layer), layer_r[1].eq(layer_r[0])]
        for l, read_data in readback.items():
            arrived = Signal.like(self.wread_data, name=f"wread_bank{l}")
            m.d.sync += arrived.eq(read_data)
            with m.If(layer_r[1] == l):
                m.d.comb += self.wread_data.eq(arrived)

    def _conv_store(self, m, control: _Control, layer):
        """A conv layer's weight store: one replica per reading processor (its tasks never overlap, so
        they share its read port), G's write into every replica; returns the read-back data."""
        run, go, l = control.run, control.go, layer.index
        plan = self.plan.conv_banks[l]
        rows = self.bank_rows[l]
        store = ConvWeightStore(self.fmt, self.lanes, rows, len(plan.readers), plan.double_buffered,
                                init=conv_bank_rows(self.initial_weights[l - 1], self.lanes))
        m.submodules[f"bank{l}"] = store
        # gated by the schedule's enable, except in the go cycle (not yet busy): the prime read
        enable = Mux(self.busy, run, 1)
        begins = {}
        for replica, processor in enumerate(plan.readers):
            pe = self.pes[processor]
            tasks = [p for p in self.plan.pes[processor].tasks if p.layer == l and p.reads_bank]
            begins[processor] = begin = enable & any_of(getattr(pe, f"{p.name}_w_begin") for p in tasks)
            self._store_reads(m, getattr(store, f"r{replica}"), [getattr(pe, f"{p.name}_w") for p in tasks], enable)
            m.d.comb += getattr(store, f"r{replica}_begin").eq(begin)
        g_pe = self._task_pe(f"G{l}")
        write = getattr(g_pe, f"G{l}_wr")
        wen = Signal(name=self.bank_write_enable(l, None))
        swap = wen & (write.addr == rows - 1)  # G's last write: both stores' new version from the next cycle
        m.d.comb += [wen.eq(run & write.en[0]), store.w.addr.eq(write.addr), store.w.data.eq(write.data),
                     store.w.en.eq(wen), store.swap.eq(swap)]
        readback = ~self.busy & ~go & (self.wread_layer == l)
        m.d.comb += [store.readback.addr.eq(self.wread_addr), store.readback.en.eq(readback & (self.wread_addr < rows))]
        load = self._loading(control, l)  # the read-back's rows: the weights', then the bias's
        m.d.comb += [store.load.addr.eq(self.wwrite_addr), store.load.data.eq(self.wwrite_data),
                     store.load.en.eq(load & (self.wwrite_addr < rows))]
        if not layer.bias:
            return store.readback.data
        return self._bias_store(m, control, layer, rows, store.readback.data, begins, swap)

    def _bias_store(self, m, control: _Control, layer, rows: int, weights_readback, begins=None, swap=0):
        """A layer's bias store (hw/conv_layout.py): one replica per processor reading it (F, G), G's steps
        written into every replica; a conv layer's switched to a new version with its weights' (``begins`` per
        processor, ``swap``), an fc layer's written in place as its bank is. Its rows follow the weights' in
        the read-back and the load; returns the read-back data of both."""
        run, go, l = control.run, control.go, layer.index
        plan = self.plan.bias_stores[l]
        bias = ConvWeightStore(self.fmt, bias_store_shape(layer, self.lanes)[1], self.plan.readback_rows[l] - rows,
                               len(plan.readers), plan.double_buffered,
                               init=bias_store_rows(layer, self.initial_biases[l - 1], self.lanes))
        m.submodules[f"bias{l}"] = bias
        enable = Mux(self.busy, run, 1)
        for replica, processor in enumerate(plan.readers):
            pe = self.pes[processor]
            tasks = [p for p in self.plan.pes[processor].tasks if p.layer == l and p.bias_rows]
            self._store_reads(m, getattr(bias, f"r{replica}"), [getattr(pe, f"{p.name}_b") for p in tasks], enable)
            m.d.comb += getattr(bias, f"r{replica}_begin").eq(begins[processor] if begins else 0)
        load = self._loading(control, l)
        m.d.comb += [bias.load.addr.eq(self.wwrite_addr - rows), bias.load.data.eq(self.wwrite_data),
                     bias.load.en.eq(load & (self.wwrite_addr >= rows))]
        bias_write = getattr(self._task_pe(f"G{l}"), f"G{l}_bwr")
        m.d.comb += [bias.w.addr.eq(bias_write.addr), bias.w.data.eq(bias_write.data),
                     bias.w.en.eq(run & bias_write.en[0]), bias.swap.eq(swap)]
        # read-back rows past the weights' are the bias rows; the data follows the address a cycle later
        readback = ~self.busy & ~go & (self.wread_layer == l)
        of_bias = Signal(name=f"wread_bias{l}")
        m.d.comb += [bias.readback.addr.eq(self.wread_addr - rows),
                     bias.readback.en.eq(readback & (self.wread_addr >= rows))]
        m.d.sync += of_bias.eq(self.wread_addr >= rows)
        return Mux(of_bias, bias.readback.data, weights_readback)

    def _store_reads(self, m, port, requests, enable) -> None:
        """A conv store replica's read port shared by a processor's ``requests`` (its tasks never overlap)."""
        if not requests:
            m.d.comb += port.en.eq(0)
            return
        addr = _shared_address(requests)
        m.d.comb += [port.addr.eq(addr), port.en.eq(enable & any_of(r.en for r in requests))]
        m.d.comb += [request.data.eq(port.data) for request in requests]

    def _stashes(self, m, control: _Control) -> None:
        """Under ``stash``: a delay line of V weight versions per layer, written by F_l, read by B_l."""
        for l, versions in self.stash.items():
            writer = self._task_pe(f"F{l}")
            reader = self._task_pe(f"B{l}")
            stash = DelayLine(self.fmt, self.lanes, self.bank_rows[l], versions, delays=(0,))
            control.core.submodules[f"stash{l}"] = stash
            wiring.connect(m, getattr(writer, f"F{l}_stash"), stash.w)
            wiring.connect(m, getattr(reader, f"B{l}_stash"), stash.r0)

    def _delay_lines_and_links(self, m, control: _Control) -> None:
        """One delay-line copy per consuming processor, one read side per consuming task; the producer
        writes its own processor's copy and sends the others theirs over a link."""
        fmt, core = self.fmt, control.core
        link_latency = self.table.cost.link_latency_cycles
        for item, geom in self.buffers.items():
            if item in INPUT_ITEMS:
                continue  # written by the input stream (_input)
            producer = self.plan.producer(item)
            source = getattr(self.pes[producer], f"{item}_wr")
            links = {link.consumer: link for link in self.plan.links(item)}
            for q in self.plan.consumers(item):
                sides = self.pes[q].readers(item)
                line = DelayLine(fmt, geom.lanes, geom.entries, geom.slots, delays=(0,) * len(sides),
                                 element=geom.element)
                core.submodules[f"{item}_p{q}"] = line
                for side, port in zip(sides, line.read_ports):
                    wiring.connect(m, getattr(self.pes[q], side), port)
                if q == producer:
                    wiring.connect(m, source, line.w)
                    continue
                plan = links[q]
                link = Link(fmt, plan.width, link_latency, geom.element)
                receiver = Receiver(geom, fmt, plan.chunks_per_beat, plan.row_lanes)
                core.submodules[f"link_{item}_{producer}to{q}"] = link
                core.submodules[f"receive_{item}_{producer}to{q}"] = receiver
                # the link carries the producer's data only: its beats are the writes it makes
                m.d.comb += link.i.valid.eq(source.en.any())
                m.d.comb += [link.i.payload[k].eq(source.data[k]) for k in range(plan.width)]
                wiring.connect(m, link.o, receiver.i)
                wiring.connect(m, receiver.w, line.w)

    def _input(self, m, control: _Control) -> None:
        """The stall decision, the loader and the input delay lines."""
        go, run, running, samples = control.go, control.run, control.running, control.samples
        depth = self.table.network.depth
        f1_p, f1_plan = self.plan.task_pe("F1")
        fl_p, fl_plan = self.plan.task_pe(f"F{depth}")
        f1_pe, fl_pe = self.pes[f1_p], self.pes[fl_p]
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
        m.d.sync += run.eq(control.running_next & ~((f1_next & ~staged_next) | (fl_next & control.pending_next)))

        payload = self.sample_in.payload
        inputs = {"a0": payload.x.as_value(), "target": payload.target.as_value()}
        loader_entries = max(self.buffers[item].entries for item in INPUT_ITEMS)
        load_c = Signal(index_shape(loader_entries))
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
            sides = [(self.pes[p], side) for p, side in self.plan.input_readers(item)]
            line = DelayLine(self.fmt, geom.lanes, geom.entries, geom.slots, delays=(0,) * len(sides),
                             element=geom.element)
            # outside the schedule's enable: the loader runs while the schedule stalls
            m.submodules[f"{item}_in"] = ResetInserter(go)(line)
            width = geom.row(self.fmt).size
            padded = Cat(inputs[item], Const(0, geom.entries * width - len(inputs[item])))
            m.d.comb += [line.w.chunk.eq(load_c), line.w.data.eq(padded.word_select(load_c, width)),
                         line.w.en.eq(Mux(can_load & (load_c < geom.entries), (1 << self.lanes) - 1, 0)),
                         line.w.advance.eq(can_load & last_entry)]
            for (pe, side), port in zip(sides, line.read_ports):
                request = getattr(pe, side)
                m.d.comb += [port.chunk.eq(request.chunk), port.en.eq(run & request.en),
                             port.advance.eq(run & request.advance), request.data.eq(port.data)]

    def _collector(self, m, control: _Control) -> None:
        """F_L's outputs into the sample's result (outputs and squared error), offered on ``result_out``.

        Pipelined: the PE's result (r1), its square (r2, a registered multiplier), then the
        accumulation. ``pending`` is set as the last output leaves F_L, exactly as the stall
        rule needs; the result is offered once the two stages have drained.
        """
        go, run, pending = control.go, control.run, control.pending
        bits = self.fmt.data_bits
        outputs = self.sizes[-1]
        result = self._task_pe(f"F{self.table.network.depth}").result
        y = [Signal(signed(bits), name=f"y{j}") for j in range(outputs)]
        error = Signal(unsigned(error_bits(self.table, self.fmt)))
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
        m.d.comb += control.pending_next.eq(~go & ((pending & ~taken) | (run & result.last)))
        m.d.sync += pending.eq(control.pending_next)
        m.d.comb += [self.result_out.valid.eq(pending & ~r1["valid"] & ~r2["valid"]),
                     self.result_out.payload.error.eq(error)]
        for j in range(outputs):
            m.d.comb += self.result_out.payload.y[j].eq(y[j])
