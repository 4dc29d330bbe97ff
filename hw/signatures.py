"""The interfaces between the PE and the memories the accelerator owns, from the user's side.

Each signature compares equal to another of the same class and parameters and prints as
its constructor call, as :class:`amaranth.lib.stream.Signature` does.
"""

from __future__ import annotations

from amaranth.hdl import signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from layerpipe.core.numerics import FixedFormat

__all__ = ["ELEMENTS", "element_shape", "mask_element", "ReadRequest", "WriteRequest", "DelayWriteSignature",
           "DelayReadSignature", "BankPortSignature", "ResultSignature"]

ELEMENTS = ("data", "mask")


def mask_element(bits: int) -> str:
    """The element of a mask of ``bits`` bits per element: ``mask`` (a ReLU mask), ``mask4`` (a 2×2 pooling window)."""
    return "mask" if bits == 1 else f"mask{bits}"


def element_shape(fmt: FixedFormat, element: str):
    """``data``: a signed data word; ``mask``: one ReLU-mask bit; ``mask<k>``: a k-bit mask (one bit per
    position of a conv layer's pooling window)."""
    if element == "data":
        return signed(fmt.data_bits)
    if element == "mask":
        return unsigned(1)
    if element.startswith("mask") and element[4:].isdigit() and int(element[4:]) > 1:
        return unsigned(int(element[4:]))
    raise ValueError(f"delay-line element is 'data', 'mask' or 'mask<bits>', not {element!r}")


class _Parametrized(wiring.Signature):
    """A signature defined by its constructor's arguments: equal when they are, printed as the call."""

    def __init__(self, members, *params):
        self._params = params
        super().__init__(members)

    def __eq__(self, other):
        other = other.flip() if type(other) is wiring.FlippedSignature else other
        return type(other) is type(self) and other._params == self._params

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(map(repr, self._params))})"


class ReadRequest(_Parametrized):
    """A synchronous memory read: data arrives the cycle after ``addr``/``en``."""

    def __init__(self, addr_bits: int, data_bits: int):
        super().__init__({"addr": Out(addr_bits), "en": Out(1), "data": In(data_bits)}, addr_bits, data_bits)


class WriteRequest(_Parametrized):
    """A memory write with one enable bit per lane."""

    def __init__(self, addr_bits: int, data_bits: int, lanes: int):
        super().__init__({"addr": Out(addr_bits), "data": Out(data_bits), "en": Out(lanes)},
                         addr_bits, data_bits, lanes)


class DelayWriteSignature(_Parametrized):
    """A delay line's write side, from the writer's view (hw/delay_line.py)."""

    def __init__(self, row, lanes: int, chunks: int):
        super().__init__({"en": Out(lanes), "chunk": Out(range(max(2, chunks))), "data": Out(row),
                          "advance": Out(1)}, row, lanes, chunks)


class DelayReadSignature(_Parametrized):
    """A delay line's read side, from the reader's view (hw/delay_line.py)."""

    def __init__(self, row, chunks: int):
        super().__init__({"en": Out(1), "chunk": Out(range(max(2, chunks))), "data": In(row), "advance": Out(1)},
                         row, chunks)


class BankPortSignature(_Parametrized):
    """One weight-bank port, from the user's side: one address, read enable/data, write enable/data."""

    def __init__(self, addr_bits: int, word, writable: bool = True):
        members = {"addr": Out(addr_bits), "read_en": Out(1), "read_data": In(word)}
        if writable:
            members.update(write_en=Out(1), write_data=Out(word))
        super().__init__(members, addr_bits, word, writable)


class ResultSignature(_Parametrized):
    """One output neuron of F_L per valid cycle: its value y_j = z_j and y_j − target_j (exact, unsaturated);
    ``last`` (a register) marks the sample's last output."""

    def __init__(self, outputs: int, data_bits: int):
        super().__init__({"valid": Out(1), "index": Out(range(max(2, outputs))), "value": Out(signed(data_bits)),
                          "diff": Out(signed(data_bits + 1)), "last": Out(1)}, outputs, data_bits)
