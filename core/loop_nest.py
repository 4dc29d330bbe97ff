"""Loop nests: the issue order of a task, and every address it needs, defined once.

A task of a processing element issues one operand per cycle; for a convolution the order
is a nest of counted loops (``Loop``), outermost first, and every address the task needs
(a weight row, an activation element, an output row, a mask bit) is a sum of
:class:`Term`: ``scale · f(base + Σ stride·index)``, where ``f`` is the identity, a floor
division by a power of two (``shift``) or the remainder modulo one (``low_bits``). A
:class:`Window` is a range test on an affine value: zero padding is an address outside
the input, produced by the address generator, never stored.

The same object is iterated here (the scheduler's cycle counts, the reference models) and
elaborated into counters by the RTL (hw/loop_nest.py), so the two cannot disagree.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

__all__ = ["Loop", "Term", "Expression", "Window", "LoopNest", "affine"]


@dataclass(frozen=True)
class Loop:
    name: str
    count: int


@dataclass(frozen=True)
class Term:
    """``scale · f(base + Σ stride · index)``; f is ``>> shift``, or ``mod 2**low_bits`` if that is set."""

    strides: tuple[tuple[str, int], ...] = ()
    base: int = 0
    scale: int = 1
    shift: int = 0
    low_bits: int | None = None

    def __post_init__(self):
        if self.shift < 0 or (self.low_bits is not None and (self.low_bits < 0 or self.shift)):
            raise ValueError(f"term {self}: shift and low_bits are non-negative, and not both set")

    def inner(self, index: Mapping[str, int]) -> int:
        return self.base + sum(stride * index[name] for name, stride in self.strides)

    def __call__(self, index: Mapping[str, int]) -> int:
        value = self.inner(index)
        value = value & ((1 << self.low_bits) - 1) if self.low_bits is not None else value >> self.shift
        return self.scale * value

    def loops(self) -> set[str]:
        return {name for name, stride in self.strides if stride}


def affine(base: int = 0, **strides: int) -> Term:
    """The affine term ``base + Σ stride · index`` (loops with a zero stride left out)."""
    return Term(tuple((name, stride) for name, stride in strides.items() if stride), base)


@dataclass(frozen=True)
class Expression:
    """A sum of terms: an address or an index."""

    terms: tuple[Term, ...]

    @classmethod
    def of(cls, *terms: Term) -> Expression:
        return cls(tuple(terms))

    def __call__(self, index: Mapping[str, int]) -> int:
        return sum(term(index) for term in self.terms)


@dataclass(frozen=True)
class Window:
    """``low ≤ term(index) < high``: the index addresses a real element (not padding)."""

    term: Term
    low: int
    high: int

    def __post_init__(self):
        if (self.term.scale, self.term.shift, self.term.low_bits) != (1, 0, None):
            raise ValueError(f"window {self}: its term must be affine (no scale, shift or low bits)")

    def __call__(self, index: Mapping[str, int]) -> bool:
        return self.low <= self.term.inner(index) < self.high


@dataclass(frozen=True)
class LoopNest:
    """A task's issue order (``loops``, outermost first) and its named addresses and windows."""

    loops: tuple[Loop, ...]
    addresses: Mapping[str, Expression] = field(default_factory=dict)
    windows: Mapping[str, tuple[Window, ...]] = field(default_factory=dict)

    def __post_init__(self):
        names = [loop.name for loop in self.loops]
        if len(set(names)) != len(names) or any(loop.count < 1 for loop in self.loops):
            raise ValueError(f"loop nest {names}: loop names must be unique and counts positive")
        terms = [term for expression in self.addresses.values() for term in expression.terms]
        terms += [window.term for group in self.windows.values() for window in group]
        for term in terms:
            if not term.loops() <= set(names):
                raise ValueError(f"loop nest {names}: term uses unknown loops {term.loops() - set(names)}")

    @property
    def issues(self) -> int:
        return math.prod(loop.count for loop in self.loops)

    @property
    def names(self) -> list[str]:
        return [loop.name for loop in self.loops]

    def count(self, name: str) -> int:
        return next(loop.count for loop in self.loops if loop.name == name)

    def inner(self, name: str) -> list[Loop]:
        """The loops from ``name`` inwards."""
        return list(self.loops[self.names.index(name):])

    def points(self) -> Iterator[dict[str, int]]:
        """Every issue's loop indices, in issue order."""
        for values in itertools.product(*(range(loop.count) for loop in self.loops)):
            yield dict(zip(self.names, values))

    def first(self, name: str, index: Mapping[str, int]) -> bool:
        """The issue starts a run of the loops from ``name`` inwards (all at 0)."""
        return all(index[loop.name] == 0 for loop in self.inner(name))

    def last(self, name: str, index: Mapping[str, int]) -> bool:
        """The issue ends a run of the loops from ``name`` inwards (all at their last value)."""
        return all(index[loop.name] == loop.count - 1 for loop in self.inner(name))

    def address(self, name: str, index: Mapping[str, int]) -> int:
        return self.addresses[name](index)

    def inside(self, name: str, index: Mapping[str, int]) -> bool:
        """Every window of ``name`` holds: the element is real, not padding."""
        return all(window(index) for window in self.windows[name])
