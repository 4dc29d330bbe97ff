"""A self-checking board top: the accelerator trains at start-up and an LED says whether it got it right.

The samples and targets of ``N`` training steps (the first ``N`` of a data set's training
split, :func:`board_problem`) sit in an on-chip ROM (one row per sample, the ``sample_in``
payload as is). After reset the top starts the accelerator
on ``N`` samples, streams the ROM into ``sample_in`` (``result_out`` always ready),
waits for ``done``, then reads every weight back through the read-back port
(layer by layer, bank row by bank row) and folds the rows into a 32-bit checksum. The
checksum the golden model's final weights give (:func:`weights_checksum`, computed
at build time from :func:`layerpipe.sim.golden.train` with the table's staleness) is a
constant of the design: equal → the pass LED, different → the fail LED.

Checksum of bank rows ``w_0, w_1, …`` (each ``lanes × data_bits`` wide): each row is
folded to 32 bits by XOR of its 32-bit chunks (zero-extended), then
``c ← rotl32(c, 1) + fold(w) mod 2**32`` from ``c = 0``. The rotation makes the sum
depend on the order, so a swapped pair of rows does not cancel.

:class:`BoardTop` is an Elaboratable: on a platform it drives the target's two status
LEDs; under simulation (no platform) read ``passed``, ``failed`` and ``finished``.
"""

from __future__ import annotations

import numpy as np
from amaranth import Cat, Const, Elaboratable, Module, Signal
from amaranth.lib import io, memory

from layerpipe.core.errors import LayerPipeError
from layerpipe.hw.checked import CheckedFirst

__all__ = ["BoardTop", "weights_checksum", "golden_checksum", "bank_rows", "fold32", "board_problem",
           "board_data"]

MASK32 = (1 << 32) - 1


def fold32(word: int, width: int) -> int:
    """XOR of the 32-bit chunks of a ``width``-bit word."""
    out = 0
    for base in range(0, width, 32):
        out ^= (word >> base) & MASK32
    return out


def weights_checksum(rows: list[int], width: int) -> int:
    c = 0
    for word in rows:
        c = ((((c << 1) | (c >> 31)) & MASK32) + fold32(word, width)) & MASK32
    return c


def bank_rows(network, weights, fmt, lanes: int, biases=None) -> list[int]:
    """Every layer's read-back rows (layer 1 first): its weight rows as the banks pack them, then its bias
    store's rows (hw/conv_layout.py)."""
    from layerpipe.hw.conv_layout import layer_bank_words

    rows = []
    for layer, w, b in zip(network.layers, weights, biases or [None] * network.depth, strict=True):
        rows.extend(layer_bank_words(layer, w, fmt, lanes, b))
    return rows


def golden_checksum(table, fmt, inputs, targets, initial, policy: str = "stash", biases=None) -> int:
    """The checksum of the final weights and biases of the golden fixed-point model trained as the table
    schedules it (``biases``: the initial ones, default 0)."""
    from layerpipe.sim import golden

    result = golden.train(table.network, inputs, targets, staleness=table, weights=policy, numerics="fixed",
                          fmt=fmt, init=initial, biases=biases)
    lanes = table.cost.lanes
    return weights_checksum(bank_rows(table.network, result.weights, fmt, lanes, result.biases),
                            lanes * fmt.data_bits)


def board_problem(table, samples: int, fmt=None, seed: int = 0, data=None):
    """``(inputs, targets, initial weights, fmt)`` in data words: the first ``samples`` of the
    training split of ``data`` in the order training takes them (repeated epoch after epoch when
    there are more), as :func:`layerpipe.sim.functional.training_setup` gives them, with the
    golden model's initial weights for ``seed``. ``data``: a name or file for
    :func:`layerpipe.sim.datasets.load_data` (default digits; ``synthetic``: seeded random data
    of any network's shape) or a loaded DataSet. A network that does not fit it is a one-line
    LayerPipeError."""
    from layerpipe.core.numerics import FixedFormat
    from layerpipe.sim.functional import training_setup

    dataset = board_data(data, table.network, seed)
    return training_setup(table.network, samples, seed, fmt or FixedFormat(), dataset=dataset)


def board_data(data, network, seed: int = 0):
    """The DataSet ``data`` names (None: the default, digits), or ``data`` itself when it is one,
    checked against ``network`` (a one-line LayerPipeError naming both shapes)."""
    from layerpipe.sim.datasets import DEFAULT_DATA, load_data

    if data is None or isinstance(data, str):
        return load_data(data or DEFAULT_DATA, network, seed)
    data.check(network)  # loaded for another network, perhaps
    return data


class BoardTop(CheckedFirst, Elaboratable):
    """ROM → accelerator → weight read-back → checksum → pass/fail LEDs.

    ``expected``: the checksum to compare with; default: :func:`golden_checksum` of the same
    data (pass it explicitly to check a design whose ROM was altered). ``leds``: the
    platform resources ``(pass, fail)`` as ``(name, number, subsignal or None)``.
    """

    @staticmethod
    def check(table, inputs, targets, *args, **kwargs) -> None:
        from layerpipe.hw.sequencer import SAMPLE_BITS

        if len(inputs) != len(targets) or len(inputs) < 1:
            raise LayerPipeError(f"board top: {len(inputs)} inputs and {len(targets)} targets; give the same "
                                 "number, at least one")
        if len(inputs) >= 1 << SAMPLE_BITS:
            raise LayerPipeError(f"board top: {len(inputs)} samples do not fit the {SAMPLE_BITS}-bit sample count")

    def __init__(self, table, inputs, targets, initial, fmt=None, policy: str = "stash", expected: int | None = None,
                 leds=(("led_g", 0, None), ("led_r", 0, None))):
        from layerpipe.core.numerics import FixedFormat
        from layerpipe.hw.accelerator import Accelerator, sample_layout
        from layerpipe.hw.generate import initial_biases
        from layerpipe.hw.plan import hardware_plan

        self.fmt = fmt or FixedFormat()
        self.table, self.policy, self.leds = table, policy, leds
        inputs, targets = np.asarray(inputs), np.asarray(targets)
        self.samples = len(inputs)
        layout = sample_layout(table, self.fmt)
        self.rom_init = [layout.const({"x": [int(v) for v in x], "target": [int(v) for v in t]}).as_bits()
                         for x, t in zip(inputs, targets)]
        self.rom_width = layout.size
        biases = initial_biases(table.network, self.fmt)  # the network file's, else 0
        self.accelerator = Accelerator(hardware_plan(table, self.fmt, policy), initial, biases)
        if expected is None:
            expected = golden_checksum(table, self.fmt, inputs, targets, initial, policy, biases)
        self.expected = expected
        self.passed = Signal()
        self.failed = Signal()
        self.finished = Signal()
        self.checksum = Signal(32)

    board_top = True  # requests its own pins: built without the pin harness

    def ports(self) -> list:
        """Top-level ports for a Verilog-only build."""
        return [self.passed, self.failed, self.finished, self.checksum]

    def elaborate(self, platform):
        m = Module()
        m.submodules.accelerator = acc = self.accelerator
        lanes, bits = acc.lanes, self.fmt.data_bits
        width = lanes * bits

        m.submodules.rom = rom = memory.Memory(shape=self.rom_width, depth=self.samples, init=self.rom_init)
        rd = rom.read_port()
        index = Signal(range(self.samples + 1))
        have = Signal()  # the ROM's read data is the row of ``index``
        m.d.comb += [rd.addr.eq(index), rd.en.eq(1), acc.sample_in.payload.eq(rd.data),
                     acc.result_out.ready.eq(1), acc.n_samples.eq(self.samples)]

        layers = [layer.index for layer in self.table.network.layers]
        rows = acc.plan.readback_rows
        layer = Signal(range(max(layers) + 1))
        row = Signal(range(max(rows.values()) + 1))
        issued = Signal()  # a row was asked for in the previous cycle
        pending = Signal()  # wread_data holds the row asked for two cycles ago (the read-back latency)
        last_issued = Signal()
        m.d.comb += [acc.wread_layer.eq(layer), acc.wread_addr.eq(row)]

        def rotl1(value):
            return Cat(value[31], value[:31])

        folded = Const(0, 32)
        for base in range(0, width, 32):
            folded = folded ^ acc.wread_data[base:min(base + 32, width)]
        m.d.sync += pending.eq(issued)
        with m.If(pending):
            m.d.sync += self.checksum.eq(rotl1(self.checksum) + folded)

        with m.FSM():
            with m.State("START"):
                m.d.comb += acc.start.eq(1)
                m.d.sync += [index.eq(0), have.eq(0), self.checksum.eq(0)]
                m.next = "FEED"
            with m.State("FEED"):
                m.d.comb += acc.sample_in.valid.eq(have & (index < self.samples))
                with m.If(acc.sample_in.valid & acc.sample_in.ready):
                    m.d.sync += [index.eq(index + 1), have.eq(0)]
                with m.Else():
                    m.d.sync += have.eq(1)
                with m.If(acc.done):
                    m.d.sync += [layer.eq(layers[0]), row.eq(0), issued.eq(0), last_issued.eq(0)]
                    m.next = "READ"
            with m.State("READ"):
                # Issue one row per cycle; its data arrives (and is folded in) two cycles later.
                m.d.sync += issued.eq(~last_issued)
                with m.If(~last_issued):
                    for i, number in enumerate(layers):
                        with m.If((layer == number) & (row == rows[number] - 1)):
                            if i + 1 < len(layers):
                                m.d.sync += [layer.eq(layers[i + 1]), row.eq(0)]
                            else:
                                m.d.sync += last_issued.eq(1)
                        with m.Elif(layer == number):
                            m.d.sync += row.eq(row + 1)
                with m.Elif(~issued & ~pending):
                    m.next = "CHECK"
            with m.State("CHECK"):
                m.d.sync += [self.passed.eq(self.checksum == self.expected),
                             self.failed.eq(self.checksum != self.expected), self.finished.eq(1)]
                m.next = "DONE"
            with m.State("DONE"):
                pass

        if platform is not None:
            for (name, number, sub), value in zip(self.leds, (self.passed, self.failed)):
                port = platform.request(name, number, dir="-")
                m.submodules[f"led_{name}_{number}_{sub or ''}"] = buf = io.Buffer("o", getattr(port, sub) if sub
                                                                                else port)
                m.d.comb += buf.o.eq(value)
        return m
