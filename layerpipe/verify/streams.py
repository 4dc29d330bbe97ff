"""cocotb 2.x stream pieces for Amaranth ``valid/ready/payload`` ports.

Amaranth names a stream member ``<name>__valid``, ``<name>__ready`` and
``<name>__payload`` in Verilog. The driver inserts random idle cycles and the monitor
random back-pressure, so the design under test is shown to honour the handshake; a
transfer happens on a rising edge where valid and ready are both high.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from cocotb.triggers import RisingEdge

__all__ = ["StreamDriver", "StreamMonitor", "InOrderScoreboard"]


def _port(dut, stream: str, member: str):
    return getattr(dut, f"{stream}__{member}")


class StreamDriver:
    """Drives payloads into a stream sink of the DUT, with random idle cycles between them."""

    def __init__(self, dut, stream: str, clock, idle_probability: float = 0.0, seed: int = 0):
        self.valid, self.ready, self.payload = (_port(dut, stream, m) for m in ("valid", "ready", "payload"))
        self.clock = clock
        self.idle_probability = idle_probability
        self.random = random.Random(seed)
        self.valid.value = 0

    async def send(self, payloads: Iterable[int]) -> None:
        for payload in payloads:
            while self.random.random() < self.idle_probability:
                self.valid.value = 0
                await RisingEdge(self.clock)
            self.valid.value = 1
            self.payload.value = payload
            while True:
                await RisingEdge(self.clock)
                if int(self.ready.value):
                    break
        self.valid.value = 0


class StreamMonitor:
    """Accepts every transfer from a stream source of the DUT, applying random back-pressure."""

    def __init__(self, dut, stream: str, clock, callback: Callable[[int], None],
                 backpressure_probability: float = 0.0, seed: int = 1):
        self.valid, self.ready, self.payload = (_port(dut, stream, m) for m in ("valid", "ready", "payload"))
        self.clock = clock
        self.callback = callback
        self.backpressure_probability = backpressure_probability
        self.random = random.Random(seed)
        self.ready.value = 0

    async def run(self) -> None:
        while True:
            self.ready.value = int(self.random.random() >= self.backpressure_probability)
            await RisingEdge(self.clock)
            if int(self.valid.value) and int(self.ready.value):
                self.callback(int(self.payload.value))


class InOrderScoreboard:
    """Compares observed items with the model's expected sequence, in order."""

    def __init__(self, expected: Iterable, describe: Callable[[int, object], str] = lambda i, item: f"#{i}"):
        self.expected = list(expected)
        self.observed: list = []
        self.mismatches: list[str] = []
        self.describe = describe

    def __call__(self, item) -> None:
        index = len(self.observed)
        self.observed.append(item)
        if index >= len(self.expected):
            self.mismatches.append(f"unexpected extra item {self.describe(index, item)}")
        elif item != self.expected[index]:
            self.mismatches.append(f"item {self.describe(index, item)} differs from the model's "
                                   f"{self.describe(index, self.expected[index])}")

    @property
    def complete(self) -> bool:
        return len(self.observed) >= len(self.expected)

    def verdict(self) -> list[str]:
        missing = len(self.expected) - len(self.observed)
        return self.mismatches + ([f"{missing} expected items never came"] if missing > 0 else [])
