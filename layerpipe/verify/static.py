"""cocotb 2.x pieces for ports with static timing (no handshake): the MAC unit, delay lines.

Such a component is told what to do in every cycle and answers a fixed number of cycles
later. :class:`CycleDriver` applies one value per port and cycle from columns computed in
advance; :class:`DelayedMonitor` reports ``[cycle, field, …]`` whenever its ``valid`` port
was high ``delay`` cycles earlier (0 for an output's own valid, 1 for a synchronous
memory read whose enable is an input). Values are read right after the rising edge that
ends the cycle, i.e. as the design sampled them; all values are unsigned bit patterns (``int()`` of a cocotb value).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

__all__ = ["CycleDriver", "DelayedMonitor"]


class CycleDriver:
    """Drives ``columns[port][cycle]`` into each input port; writes only the values that change."""

    def __init__(self, dut, columns: dict[str, list[int]]):
        lengths = {len(values) for values in columns.values()}
        if len(lengths) != 1:
            raise ValueError(f"drive columns have different lengths: {sorted(lengths)}")
        self.length = lengths.pop()
        self.columns = columns
        self.handles = {port: getattr(dut, port) for port in columns}
        self.last: dict[str, int] = {}

    def idle(self) -> None:
        """Every driven port 0 (e.g. during reset: memory writes are not reset)."""
        for port, handle in self.handles.items():
            handle.value = 0
            self.last[port] = 0

    def apply(self, cycle: int) -> None:
        for port, handle in self.handles.items():
            value = self.columns[port][cycle]
            if self.last.get(port) != value:
                handle.value = value
                self.last[port] = value


class DelayedMonitor:
    """Reports ``[cycle, *fields]`` when ``valid`` was high ``delay`` cycles before ``cycle``."""

    def __init__(self, dut, valid: str, fields: list[str], callback: Callable[[list[int]], None], delay: int = 0):
        if delay < 0:
            raise ValueError(f"monitor delay is {delay}; give 0 or more cycles")
        self.valid = getattr(dut, valid)
        self.fields = [getattr(dut, field) for field in fields]
        self.callback = callback
        self.history = deque([0] * delay, maxlen=delay + 1)

    def sample(self, cycle: int) -> None:
        self.history.append(int(self.valid.value))
        if self.history[0]:
            self.callback([cycle, *(int(field.value) for field in self.fields)])
