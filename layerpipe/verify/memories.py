"""Python models of the memories around a processing element, for a cocotb bench of the PE alone.

The accelerator owns the weight banks and the delay lines; a PE has request ports only
(hw/pe.py). These models answer those requests as the accelerator's memories do: a
synchronous read in cycle t returns data in cycle t + 1, reads see the memory before
the cycle's writes, and a delay line's ``advance`` moves its side on after the cycle.
Rows are unsigned words of ``lanes`` elements (element k at bits k·bits …).
"""

from __future__ import annotations

__all__ = ["BankModel", "RingModel"]


class BankModel:
    """A weight bank: ``rows`` words, written whole."""

    def __init__(self, rows: list[int]):
        self.rows = list(rows)

    def read(self, addr: int) -> int:
        return self.rows[addr]

    def write(self, addr: int, value: int) -> None:
        self.rows[addr] = value


class RingModel:
    """A delay line: ``slots`` samples of ``entries`` rows; every side (writer, readers) has its own
    sample pointer, starting at slot 0, so a reader's n-th sample is the writer's n-th."""

    def __init__(self, slots: int, entries: int, lanes: int, element_bits: int):
        self.slots, self.entries, self.lanes, self.bits = slots, entries, lanes, element_bits
        self.rows = [0] * (slots * entries)
        self.pointer: dict[str, int] = {}

    def _row(self, side: str, chunk: int) -> int:
        if not 0 <= chunk < self.entries:
            raise IndexError(f"row {chunk} of a sample with {self.entries} rows (side {side})")
        return (self.pointer.get(side, 0) % self.slots) * self.entries + chunk

    def read(self, side: str, chunk: int) -> int:
        return self.rows[self._row(side, chunk)]

    def write(self, side: str, chunk: int, value: int, lane_enable: int) -> None:
        address = self._row(side, chunk)
        word = self.rows[address]
        field = (1 << self.bits) - 1
        for k in range(self.lanes):
            if lane_enable >> k & 1:
                shift = k * self.bits
                word = (word & ~(field << shift)) | (value & (field << shift))
        self.rows[address] = word

    def advance(self, side: str) -> None:
        self.pointer[side] = self.pointer.get(side, 0) + 1

    def fill(self, side: str, rows: list[int]) -> None:
        """Write a whole sample at ``side``'s pointer and move it on (what the input stream does)."""
        for chunk, row in enumerate(rows):
            self.write(side, chunk, row, (1 << self.lanes) - 1)
        self.advance(side)
