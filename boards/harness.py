"""Put a bare component on a board without losing its logic to the optimiser.

A component's ports (over a thousand bits for the accelerator's sample stream) do not fit
a board's pins, and logic whose outputs reach no pin is deleted by synthesis. The harness
drives every input bit from its own flip-flop of a shift register fed by one input pin
(a button), so no two inputs are the same signal and none is constant, and folds every
output bit into one output pin (an LED) through a registered XOR tree (four bits per
LUT, a register after each level), so every output is observable. No harness path is
deeper than one LUT: the harness neither sets the Fmax nor hides the component's.

It costs ``in_bits + 1`` flip-flops and, for the outputs, about ``out_bits / 3`` LUT +
flip-flop pairs (:attr:`PinHarness.cost`), recorded in the build report; on the iCE40
each is a logic cell, which matters for a design with a wide stream port.
"""

from __future__ import annotations

from amaranth import Cat, Elaboratable, Module, Signal, Value
from amaranth.lib import io, wiring

__all__ = ["PinHarness", "port_bits"]


def port_bits(component) -> tuple[int, int]:
    """(input bits, output bits) of a ``wiring.Component``."""
    ins = outs = 0
    for _path, member, value in component.signature.flatten(component):
        if member.flow == wiring.In:
            ins += len(Value.cast(value))
        else:
            outs += len(Value.cast(value))
    return ins, outs


class PinHarness(Elaboratable):
    def __init__(self, component, pin_in=("button", 0), pin_out=("led", 0, None)):
        self.component = component
        self.pin_in, self.pin_out = pin_in, pin_out
        self.in_bits, self.out_bits = port_bits(component)

    @property
    def cost(self) -> dict:
        """Cells the harness adds: flip-flops, and LUTs (XOR tree)."""
        nodes, n = 0, self.out_bits
        while n > 1:
            n = -(-n // 4)
            nodes += n
        return {"in_bits": self.in_bits, "out_bits": self.out_bits, "flip_flops": max(1, self.in_bits) + nodes,
                "luts": nodes}

    def elaborate(self, platform):
        m = Module()
        m.submodules.dut = dut = self.component
        ins, outs = [], []
        for _path, member, value in dut.signature.flatten(dut):
            (ins if member.flow == wiring.In else outs).append(Value.cast(value))

        m.submodules.pin_in = pin_in = io.Buffer("i", platform.request(*self.pin_in, dir="-"))
        name, number, sub = self.pin_out
        port = platform.request(name, number, dir="-")
        m.submodules.pin_out = pin_out = io.Buffer("o", getattr(port, sub) if sub else port)

        shift_in = Signal(max(1, self.in_bits))
        m.d.sync += shift_in.eq(Cat(pin_in.i, shift_in[:-1]))
        if ins:
            m.d.comb += Cat(*ins).eq(shift_in)

        # Registered XOR tree, four bits per LUT per level, down to the pin.
        level = list(Cat(*outs)) if outs else [shift_in[0]]
        depth = 0
        while len(level) > 1:
            folded = []
            for i in range(0, len(level), 4):
                bit = Signal(name=f"fold{depth}_{i // 4}")
                group = level[i:i + 4]
                m.d.sync += bit.eq(group[0] if len(group) == 1 else _xor(group))
                folded.append(bit)
            level, depth = folded, depth + 1
        m.d.comb += pin_out.o.eq(level[0])
        return m


def _xor(bits):
    out = bits[0]
    for bit in bits[1:]:
        out = out ^ bit
    return out
