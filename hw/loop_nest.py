"""Loop-nest counter: the RTL address generator of a task's :class:`~layerpipe.core.loop_nest.LoopNest`.

A processing element issues one operand per cycle in the order of its task's loop nest
(core/loop_nest.py, built for convolutions by core/conv_dataflow.py); this component presents
one issue per cycle: the loop indices, every named address, the padding windows and the
first/last flags of every loop, exactly as ``LoopNest.points()``, ``address()``, ``inside()``,
``first()`` and ``last()`` define them, so the scheduler's model and the hardware cannot
disagree.

No multiplier touches a loop counter. Every distinct affine value ``base + Σ stride·index``
(the inner value of a :class:`~layerpipe.core.loop_nest.Term` or a
:class:`~layerpipe.core.loop_nest.Window`) is a register of its own, moved on incrementally:
when loop ``s`` steps and the loops inside it wrap to 0, the value changes by the constant
``stride[s] − Σ_{j inside s} stride[j]·(count[j] − 1)``, so each value needs one adder and a
one-hot selection of its per-level constants. A term is then a shift (floor division by a
power of two) or a slice (the remainder modulo one) of its value, times a constant scale as
shifted additions (canonical signed digits); an address is the sum of its terms. Identical
affine values (``in_row`` and ``in_lane`` share theirs) are one register.

Every output is a register loaded from the *next* state (the counters' next values and the
affine values after their adder), so a consumer sees no logic behind the counters. Which loop
steps is decoded from the registered ``last`` flags themselves (loop ``s`` steps when every
loop inside it is at its last value and ``s`` is not).

Widths come from value ranges over the whole nest: an affine value's range is exact (each
loop's extreme is reachable independently); an address's range is the sum of its terms'
ranges, a bound that holds every value, so every output is exact.
"""

from __future__ import annotations

from collections.abc import Iterable

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.core.loop_nest import LoopNest, Term
from layerpipe.hw import estimate as est
from layerpipe.hw.checked import CheckedFirst

__all__ = ["LoopNestCounter", "value_shape", "loop_nest_resources"]


def value_shape(low: int, high: int) -> Shape:
    """The narrowest shape holding every integer of ``low … high`` (at least one bit: Verilog has no empty vector)."""
    shape = Shape.cast(range(low, high + 1))
    return shape if shape.width else unsigned(1)


def _signed_digits(value: int) -> list[tuple[int, int]]:
    """``value`` as ``Σ digit · 2**k`` with digits ±1 and no two adjacent (canonical signed digits):
    the fewest additions for a constant scale."""
    digits, k = [], 0
    while value:
        if value & 1:
            digit = 2 - (value & 3)  # ...01 → +1, ...11 → −1 (then the carry clears the run of ones)
            value -= digit
            digits.append((k, digit))
        value >>= 1
        k += 1
    return digits


def _scaled(value, scale: int):
    """``scale · value`` with shifts and adders only."""
    total = None
    for k, digit in _signed_digits(scale):
        part = value << k
        if total is None:
            total = part if digit > 0 else -part
        else:
            total = total + part if digit > 0 else total - part
    return Const(0) if total is None else total


class _Affine:
    """``base + Σ stride·index`` over the loops that move it (count > 1, stride ≠ 0), with its range."""

    def __init__(self, term: Term, counts: dict[str, int], name: str):
        self.name = name  # after its first user, for readable Verilog
        strides: dict[str, int] = {}
        for name, stride in term.strides:
            if stride and counts[name] > 1:  # a loop of one iteration is always at 0
                strides[name] = strides.get(name, 0) + int(stride)
        order = list(counts)
        self.strides = tuple(sorted(((n, s) for n, s in strides.items() if s), key=lambda item: order.index(item[0])))
        self.base = int(term.base)
        spans = [stride * (counts[name] - 1) for name, stride in self.strides]
        self.low = self.base + sum(min(0, span) for span in spans)
        self.high = self.base + sum(max(0, span) for span in spans)

    @property
    def key(self):
        return self.strides, self.base

    def delta(self, level: str, counts: dict[str, int], inside: Iterable[str]) -> int:
        """The change when loop ``level`` steps and the loops ``inside`` it wrap from their last value to 0."""
        strides = dict(self.strides)
        return strides.get(level, 0) - sum(strides.get(name, 0) * (counts[name] - 1) for name in inside)


def _term_range(term: Term, low: int, high: int) -> tuple[int, int]:
    """A range holding ``term`` for every inner value in ``low … high``."""
    if term.low_bits is not None:
        mask = (1 << term.low_bits) - 1
        low, high = (low & mask, high & mask) if low >> term.low_bits == high >> term.low_bits else (0, mask)
    else:
        low, high = low >> term.shift, high >> term.shift
    ends = (term.scale * low, term.scale * high)
    return min(ends), max(ends)


def _low_bits(value, bits: int):
    """``value mod 2**bits`` (the two's complement low bits; a narrower signed value is sign-extended first)."""
    width = len(value)
    if bits <= width:
        return value[:bits]
    if value.shape().signed:
        return Cat(value, value[-1].replicate(bits - width))
    return value


class _Analysis:
    """The distinct affine values of a nest, each address's terms and each window's bounds, with shapes."""

    def __init__(self, nest: LoopNest):
        counts = {loop.name: loop.count for loop in nest.loops}
        self.affines: dict[tuple, _Affine] = {}

        def affine(term: Term, user: str) -> _Affine:
            value = _Affine(term, counts, user)
            return self.affines.setdefault(value.key, value)

        # per address: its terms with their affine values; per group: (affine, low, high) tests
        self.terms = {name: [(term, affine(term, f"{name}_t{k}")) for k, term in enumerate(expression.terms)]
                      for name, expression in nest.addresses.items()}
        self.windows = {name: [(affine(window.term, f"{name}_w{k}"), window.low, window.high)
                               for k, window in enumerate(windows)]
                        for name, windows in nest.windows.items()}
        self.address_shapes = {}
        for name, terms in self.terms.items():
            ranges = [_term_range(term, value.low, value.high) for term, value in terms]
            self.address_shapes[name] = value_shape(sum(low for low, _ in ranges), sum(high for _, high in ranges))


class LoopNestCounter(CheckedFirst, wiring.Component):
    """One issue per cycle of a :class:`~layerpipe.core.loop_nest.LoopNest`, with its addresses.

    A run presents the nest's ``issues`` issues in ``points()`` order in consecutive cycles.
    ``start`` high in cycle t makes cycle t + 1 present issue 0 of a new run, also while a run is
    going (it restarts); a ``start`` in the cycle of a run's last issue (``end``) gives
    back-to-back runs without a gap.

    Parameters
    ----------
    nest : LoopNest
        Loops outermost first, named addresses and window groups. Every loop, address and window
        group is one field of the members below, named as in the nest (access fields by
        subscript, ``counter.address["in_row"]``: a name need not be a Python identifier).

    Attributes
    ----------
    start : Signal(1), in
        Begin a run in the next cycle.
    valid : Signal(1), out
        This cycle presents an issue. Low when no run is going (every other output is then
        meaningless).
    index : StructLayout, out
        The issue's loop indices, one field per loop, shape ``range(count)`` (one bit for a loop
        of one iteration, whose index is always 0).
    address : StructLayout, out
        ``nest.address(name, index)``, one field per address, exact: signed if the address takes
        a negative value anywhere in the nest, as wide as its value range needs.
    inside : StructLayout, out
        ``nest.inside(name, index)``, one bit per window group: all windows of the group hold
        (the element is real, not padding).
    first, last : StructLayout, out
        ``nest.first(name, index)`` / ``nest.last(name, index)``, one bit per loop: every loop from
        ``name`` inwards is at 0 / at its last value.
    end : Signal(1), out
        This is the run's last issue (``last`` of the outermost loop).
    ahead : StructLayout, out
        The addresses of the next cycle's issue, combinational (what ``address`` loads): for a
        memory read requested a cycle ahead of its issue.

    ``running_at_reset``: the initial values present issue 0 of a run, for a task that starts
    in the first cycle after reset (no cycle before it to raise ``start`` in).

    Every output is a register (``end`` is the outermost loop's ``last``). ``index``, ``first``
    and ``last`` exist only for a nest with loops, ``address`` with addresses, ``inside`` with
    window groups (an empty layout would be a zero-width port).
    """

    @staticmethod
    def check(nest: LoopNest, running_at_reset: bool = False) -> None:
        if not isinstance(nest, LoopNest):
            raise TypeError(f"a loop-nest counter needs a LoopNest, not {nest!r}")
        names = set(nest.names)
        terms = [(f"address {name!r}", term) for name, expression in nest.addresses.items()
                 for term in expression.terms]
        terms += [(f"window group {name!r}", window.term) for name, windows in nest.windows.items()
                  for window in windows]
        for where, term in terms:
            # LoopNest checks the loops of its addresses only; a window's are checked here
            if not term.loops() <= names:
                raise ValueError(f"loop nest {nest.names}: {where} uses unknown loops {sorted(term.loops() - names)}")
            if not isinstance(term.shift, int) or term.shift < 0:
                raise ValueError(f"loop nest {nest.names}: {where} has shift {term.shift!r}; it must be ≥ 0")
            if term.low_bits is not None and (not isinstance(term.low_bits, int) or term.low_bits < 0):
                raise ValueError(f"loop nest {nest.names}: {where} has low_bits {term.low_bits!r}; it must be ≥ 0")

    def __init__(self, nest: LoopNest, running_at_reset: bool = False):
        self.nest = nest
        self.running_at_reset = bool(running_at_reset)
        analysis = _Analysis(nest)
        self._affines, self._terms, self._windows = analysis.affines, analysis.terms, analysis.windows
        address_shapes = analysis.address_shapes

        # ``running_at_reset``: the registers' initial values present issue 0 of a run
        origin = dict.fromkeys(nest.names, 0)
        running = self.running_at_reset
        members = {"start": In(1), "valid": Out(1, init=int(running)), "end": Out(1)}
        if nest.loops:
            flags = data.StructLayout({name: 1 for name in nest.names})
            first = {name: int(running) for name in nest.names}
            last = {name: int(running and all(loop.count == 1 for loop in nest.loops[level:]))
                    for level, name in enumerate(nest.names)}
            members["index"] = Out(data.StructLayout({loop.name: range(max(2, loop.count)) for loop in nest.loops}))
            members["first"] = Out(flags, init=first)
            members["last"] = Out(flags, init=last)
        if address_shapes:
            layout = data.StructLayout(address_shapes)
            members["address"] = Out(layout, init={name: nest.address(name, origin) if running else 0
                                                   for name in nest.addresses})
            members["ahead"] = Out(layout)  # the next cycle's addresses (combinational), for reads a cycle early
        if nest.windows:
            members["inside"] = Out(data.StructLayout({name: 1 for name in nest.windows}),
                                    init={name: int(running and nest.inside(name, origin)) for name in nest.windows})
        super().__init__(members)

    def elaborate(self, platform):
        m = Module()
        loops = self.nest.loops
        names = self.nest.names
        counts = {loop.name: loop.count for loop in loops}
        start = self.start

        # ``last`` of the loops from level j inwards (level len(loops): no loop, always true)
        last = [self.last[name] for name in names] + [Const(1)]
        advance = self.valid & ~last[0]  # the run goes on to its next issue
        m.d.sync += self.valid.eq(start | advance)
        m.d.comb += self.end.eq(last[0])

        # the loop counters; ``at_last`` is each one's own last-value flag, registered with it
        steps: dict[str, Signal] = {}  # loop → it steps in this cycle (one-hot, or none)
        last_next = Const(1)
        for level in reversed(range(len(loops))):
            name, count = names[level], counts[names[level]]
            index, first = self.index[name], self.first[name]
            wrap = advance & last[level]  # a loop further out steps: this one returns to 0
            # after a step the loops from here inwards are all at 0 exactly when they wrapped
            m.d.sync += first.eq(start | Mux(advance, last[level], first))
            if count == 1:
                m.d.sync += index.eq(0)
                at_last_next = Const(1)
            else:
                at_last = Signal(name=f"{name}_at_last")
                step = steps[name] = Signal(name=f"{name}_step")
                m.d.comb += step.eq(self.valid & ~at_last & last[level + 1])
                at_last_next = Signal(name=f"{name}_at_last_next")
                with m.If(start | wrap):
                    m.d.comb += at_last_next.eq(0)
                    m.d.sync += index.eq(0)
                with m.Elif(step):
                    m.d.comb += at_last_next.eq(index == count - 2)
                    m.d.sync += index.eq(index + 1)
                with m.Else():
                    m.d.comb += at_last_next.eq(at_last)
                m.d.sync += at_last.eq(at_last_next)
            last_next = at_last_next & last_next
            m.d.sync += self.last[name].eq(last_next)

        # the affine values: their next value feeds the address and window registers, so that
        # those are registers of the same issue as the counters
        following = {name: names[level + 1:] for level, name in enumerate(names)}
        next_values = {}
        for value in self._affines.values():
            if not value.strides:
                next_values[value.key] = Const(value.base, value_shape(value.base, value.base))
                continue
            shape = value_shape(value.low, value.high)
            register = Signal(shape, name=f"{value.name}_inner", init=value.base)
            deltas = {name: value.delta(name, counts, following[name]) for name in steps}
            deltas = {name: delta for name, delta in deltas.items() if delta}
            delta_shape = value_shape(min(deltas.values(), default=0), max(deltas.values(), default=0))
            delta = Const(0, delta_shape)
            for name, amount in deltas.items():  # ``steps`` is one-hot: an OR selects
                delta = delta | Mux(steps[name], Const(amount, delta_shape), Const(0, delta_shape))
            upcoming = Signal(shape, name=f"{value.name}_inner_next")
            m.d.comb += upcoming.eq(Mux(start, value.base, register + delta))
            m.d.sync += register.eq(upcoming)
            next_values[value.key] = upcoming

        for name, terms in self._terms.items():
            total = Const(0)
            for term, value in terms:
                inner = next_values[value.key]
                if term.low_bits is not None:
                    part = _low_bits(inner, term.low_bits)
                else:
                    part = inner >> term.shift
                total = total + _scaled(part, term.scale)
            m.d.sync += self.address[name].eq(total)
            m.d.comb += self.ahead[name].eq(total)

        for name, windows in self._windows.items():
            holds = Const(1)
            for value, low, high in windows:
                inner = next_values[value.key]
                if low > value.high or high <= value.low or high <= low:
                    holds = Const(0)
                    continue
                # a bound the value never crosses needs no comparator
                if low > value.low:
                    holds = holds & (inner >= low)
                if high <= value.high:
                    holds = holds & (inner < high)
            m.d.sync += self.inside[name].eq(holds)
        return m


def loop_nest_resources(nest: LoopNest, family: est.Family | str = est.ECP5) -> est.Resources:
    """Expected LUT/FF of a LoopNestCounter (hw/estimate.py's assumptions): per loop a counter, its
    last flag and a compare; per distinct affine value a register, an adder and the one-hot select of
    its deltas; per address its register and the adders of its terms; per window bound a comparator."""
    fam = est.get_family(family)
    analysis = _Analysis(nest)
    total = est.register(2) + est.logic(len(nest.loops) + 1, 1, fam)  # valid, end
    for loop in nest.loops:
        bits = max(1, (loop.count - 1).bit_length())
        total += est.register(bits + 3) + est.adder(bits) + est.logic(bits, 1, fam)  # index, first/last flags
    for value in analysis.affines.values():
        if value.strides:
            bits = value_shape(value.low, value.high).width
            total += est.register(bits) + est.adder(bits) + est.mux(bits, len(value.strides) + 1, fam)
    for name, terms in analysis.terms.items():
        bits = analysis.address_shapes[name].width
        total += est.register(bits) + est.adder(bits) * max(0, len(terms) - 1)
    for windows in analysis.windows.values():
        for value, _low, _high in windows:
            total += est.adder(value_shape(value.low, value.high).width) * 2
        total += est.register(1)
    return total
