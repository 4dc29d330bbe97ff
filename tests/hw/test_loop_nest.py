"""LoopNestCounter presents LoopNest's issues in order, one per cycle, bit for bit: every conv nest of
cnn-digits and seeded random nests (negative and zero strides, negative bases, shift and low-bits
terms, scales, windows); back-to-back runs, restarts and idle gaps against a cycle model of
``start``; exact widths, no multiplier, refused nests and lint."""

from __future__ import annotations

import random

import pytest
from amaranth.back import rtlil

from layerpipe.core.conv_dataflow import conv_task_nest, input_layout
from layerpipe.core.loop_nest import Expression, Loop, LoopNest, Term, Window
from layerpipe.hw.loop_nest import LoopNestCounter, value_shape
from layerpipe.sched.zoo import zoo_network
from tests.helpers.lint import elaborated, lint_wall
from tests.helpers.simulation import run_clocked


def conv_nests():
    """(id, nest) for tasks F, B and G of every conv layer of cnn-digits, lanes 8 and 4."""
    network = zoo_network("cnn-digits")
    nests, previous = [], None
    for number, layer in enumerate(network.layers):
        if layer.kind == "conv":
            for kind in "FBG":
                for lanes in (8, 4):
                    source = input_layout(layer, lanes, previous)
                    nests.append((f"layer{number}-{kind}-lanes{lanes}", conv_task_nest(layer, kind, lanes, source)))
        previous = layer
    return nests


CONV_NESTS = conv_nests()


def random_term(rng, names):
    """Most loops with a stride (negative, zero or positive), now and then one loop twice."""
    strides = [(name, rng.randint(-6, 6)) for name in names if rng.random() < 0.7]
    if names and rng.random() < 0.2:
        strides.append((rng.choice(names), rng.randint(-3, 3)))
    kind = rng.choice(("identity", "shift", "low_bits"))
    return Term(tuple(strides), rng.randint(-40, 40), scale=rng.choice((1, 1, -1, 2, 3, -5, 7, 12, 0)),
                shift=rng.randint(1, 4) if kind == "shift" else 0,
                low_bits=rng.randint(0, 4) if kind == "low_bits" else None)


def random_nest(rng):
    """A small nest: 1–4 loops of 1–5 iterations, 1–3 addresses of 1–3 terms, 0–2 window groups of
    0–2 windows (bounds mostly inside the value's range, so that a window holds for some issues only)."""
    loops = tuple(Loop(f"l{k}", rng.randint(1, 5)) for k in range(rng.randint(1, 4)))
    names = [loop.name for loop in loops]
    addresses = {f"a{k}": Expression(tuple(random_term(rng, names) for _ in range(rng.randint(1, 3))))
                 for k in range(rng.randint(1, 3))}
    windows = {}
    for k in range(rng.randint(0, 2)):
        group = []
        for _ in range(rng.randint(0, 2)):
            term = random_term(rng, names)
            term = Term(term.strides, term.base)  # a window tests an affine value
            values = sorted(term.inner(point) for point in LoopNest(loops).points())
            low = rng.choice((values[0] - 1, *values[:len(values) // 2 + 1]))
            group.append(Window(term, low, rng.choice((values[-1] + 1, low, *values[len(values) // 2:]))))
        windows[f"w{k}"] = tuple(group)
    return LoopNest(loops, addresses, windows)


def expected_issue(nest, number, point):
    return {"index": dict(point),
            "address": {name: nest.address(name, point) for name in nest.addresses},
            "inside": {name: int(nest.inside(name, point)) for name in nest.windows},
            "first": {name: int(nest.first(name, point)) for name in nest.names},
            "last": {name: int(nest.last(name, point)) for name in nest.names},
            "end": int(number == nest.issues - 1)}


def expected_timeline(nest, starts, cycles, running_at_reset=False):
    """Per cycle, the issue LoopNest says it presents (None: idle): a start in cycle t makes cycle
    t + 1 present issue 0; a run then goes on one issue per cycle to its last. ``running_at_reset``:
    cycle 0 presents issue 0."""
    issues = [expected_issue(nest, number, point) for number, point in enumerate(nest.points())]
    assert len(issues) == nest.issues
    timeline, current = [], 0 if running_at_reset else None
    for cycle in range(cycles):
        timeline.append(None if current is None else issues[current])
        if cycle in starts:
            current = 0
        elif current is not None:
            current = current + 1 if current + 1 < nest.issues else None
    return timeline


def simulate(nest, starts, cycles, running_at_reset=False, ahead=None):
    """Run ``cycles`` cycles with ``start`` high in the cycles of ``starts``; per cycle the
    presented issue, or None where ``valid`` is low. ``ahead``, a list, gets each cycle's ``ahead``."""
    counter = LoopNestCounter(nest, running_at_reset=running_at_reset)
    groups = [(member, names) for member, names in (("index", nest.names), ("address", list(nest.addresses)),
                                                    ("inside", list(nest.windows)), ("first", nest.names),
                                                    ("last", nest.names))]
    observed = []

    async def bench(ctx):
        for cycle in range(cycles):
            ctx.set(counter.start, int(cycle in starts))
            if ctx.get(counter.valid):
                issue = {"end": ctx.get(counter.end)}
                for member, names in groups:
                    value = ctx.get(getattr(counter, member)) if names else None
                    issue[member] = {name: value[name] for name in names}
                observed.append(issue)
            else:
                observed.append(None)
            if ahead is not None:
                value = ctx.get(counter.ahead)
                ahead.append({name: value[name] for name in nest.addresses})
            await ctx.tick()

    run_clocked(counter, bench, 1e-8)
    return observed


def assert_same_timeline(observed, expected):
    """Cycle by cycle: idle where expected, else the same issue; names the first difference."""
    assert len(observed) == len(expected), f"{len(observed)} cycles observed, {len(expected)} expected"
    for cycle, (got, want) in enumerate(zip(observed, expected)):
        if (got is None) != (want is None):
            raise AssertionError(f"cycle {cycle}: valid is {int(got is not None)}, expected {int(want is not None)}")
        if got != want:
            fields = [key for key in want if got[key] != want[key]]
            raise AssertionError(f"cycle {cycle} (index {want['index']}): " +
                                 "; ".join(f"{key} {got[key]} != {want[key]}" for key in fields))


def check(nest, starts, cycles):
    assert_same_timeline(simulate(nest, starts, cycles), expected_timeline(nest, starts, cycles))


@pytest.mark.parametrize("nest", [nest for _, nest in CONV_NESTS], ids=[name for name, _ in CONV_NESTS])
def test_conv_nest_issues_in_order(nest):
    observed = simulate(nest, {0}, nest.issues + 3)
    assert observed[0] is None and observed[-2:] == [None, None]
    assert sum(issue is not None for issue in observed) == nest.issues
    assert_same_timeline(observed, expected_timeline(nest, {0}, nest.issues + 3))


@pytest.mark.parametrize("seed", range(16))
def test_random_nests(seed):
    """Random starts: back-to-back, mid-run restarts and gaps, on a random nest."""
    rng = random.Random(seed)
    nest = random_nest(rng)
    cycles = 3 * nest.issues + 12
    starts = {0} | {cycle for cycle in range(cycles - 2) if rng.random() < 1.5 / nest.issues}
    check(nest, starts, cycles)


# signed and unsigned addresses, a count-1 loop, a shift and a low-bits term, two window groups
SMALL = LoopNest((Loop("y", 3), Loop("one", 1), Loop("x", 4)),
                 {"row": Expression.of(Term((("y", -5), ("x", 2)), -3, scale=3, shift=1), Term((("x", 1),), 0)),
                  "lane": Expression.of(Term((("y", 4), ("x", -3)), 1, low_bits=2))},
                 {"pad": (Window(Term((("x", 1), ("y", 1)), -1), 0, 4),), "edge": (Window(Term((("x", -1),)), -2, 1),)})


def test_back_to_back_runs():
    issues = SMALL.issues
    check(SMALL, {0, issues, 2 * issues}, 3 * issues + 3)  # each start in the previous run's last issue


def test_restart_in_the_middle_of_a_run():
    check(SMALL, {0, 5, 6, 14}, 30)


def test_idle_gaps_between_runs():
    issues = SMALL.issues
    check(SMALL, {2, issues + 5, 2 * issues + 6}, 3 * issues + 12)


@pytest.mark.parametrize("nest", [LoopNest((), {"k": Expression.of(Term((), -7))}),
                                  LoopNest((Loop("a", 1), Loop("b", 1)), {"k": Expression.of(Term((("a", 3),), 2))})],
                         ids=["no-loops", "one-issue"])
def test_one_issue_runs(nest):
    """A one-issue run ends where it starts: ``start`` held high gives an issue every cycle."""
    check(nest, {0, 1, 2, 3, 6, 8, 9}, 14)


def test_the_comparison_detects_a_wrong_sequence():
    starts, cycles = {0, 9}, 30
    observed = simulate(SMALL, starts, cycles)
    expected = expected_timeline(SMALL, starts, cycles)
    assert_same_timeline(observed, expected)
    wrong_address = [dict(issue) if issue else None for issue in expected]
    wrong_address[4]["address"] = {**wrong_address[4]["address"], "row": wrong_address[4]["address"]["row"] + 1}
    wrong_end = [dict(issue) if issue else None for issue in expected]
    wrong_end[9]["end"] ^= 1
    late = [None] + expected[:-1]  # the same issues, one cycle late
    for wrong in (wrong_address, wrong_end, late, expected[:-1]):
        with pytest.raises(AssertionError):
            assert_same_timeline(observed, wrong)


def test_address_widths_are_the_value_ranges():
    """The conv nests' addresses take every value of their shape's range at its ends (no bit to spare)."""
    for name, nest in CONV_NESTS:
        layout = elaborated(LoopNestCounter(nest)).address.shape()
        for address in nest.addresses:
            values = [nest.address(address, point) for point in nest.points()]
            assert layout[address].shape == value_shape(min(values), max(values)), (name, address)


def test_no_multiplier():
    for nest in [CONV_NESTS[3][1], random_nest(random.Random(3)), SMALL]:
        assert "$mul" not in rtlil.convert(LoopNestCounter(nest))


def test_refuses_bad_nests():
    with pytest.raises(ValueError, match="unknown loops"):
        LoopNestCounter(LoopNest((Loop("a", 2),), {}, {"w": (Window(Term((("b", 1),)), 0, 1),)}))
    with pytest.raises(ValueError, match="shift"):
        LoopNestCounter(LoopNest((Loop("a", 2),), {"k": Expression.of(Term((("a", 1),), shift=-1))}))
    with pytest.raises(TypeError):
        LoopNestCounter("a nest")


def test_members():
    counter = elaborated(LoopNestCounter(SMALL))
    assert set(counter.signature.members) == {"start", "valid", "end", "index", "first", "last", "address", "ahead",
                                              "inside"}
    assert [name for name, _ in counter.index.shape()] == ["y", "one", "x"]
    assert counter.address.shape()["row"].shape.signed and not counter.address.shape()["lane"].shape.signed
    bare = elaborated(LoopNestCounter(LoopNest(())))
    assert set(bare.signature.members) == {"start", "valid", "end"}  # no zero-width ports


@pytest.mark.parametrize("nest", [CONV_NESTS[3][1], SMALL], ids=["conv-B", "small"])
def test_verilog_lints(tmp_path, nest):
    lint_wall(LoopNestCounter(nest), "loop_nest_counter", tmp_path)


@pytest.mark.parametrize("nest", [CONV_NESTS[0][1], CONV_NESTS[5][1], SMALL], ids=["conv0", "conv5", "small"])
def test_ahead_is_the_next_cycles_address(nest):
    """What a PE requests a cycle before the issue (a weight row from block RAM) is that issue's address."""
    starts = {0, nest.issues + 3}
    ahead = []
    observed = simulate(nest, starts, 2 * nest.issues + 8, ahead=ahead)
    compared = 0
    for cycle in range(len(observed) - 1):
        if observed[cycle + 1] is not None:
            assert ahead[cycle] == observed[cycle + 1]["address"], f"cycle {cycle}"
            compared += 1
    assert compared == 2 * nest.issues


@pytest.mark.parametrize("nest", [CONV_NESTS[0][1], SMALL], ids=["conv0", "small"])
def test_running_at_reset_presents_issue_0_in_cycle_0(nest):
    """A task that starts in the first cycle after reset has no cycle before it for ``start``."""
    cycles = nest.issues + 6
    check_observed = simulate(nest, {nest.issues + 1}, cycles, running_at_reset=True)
    assert_same_timeline(check_observed, expected_timeline(nest, {nest.issues + 1}, cycles, running_at_reset=True))
    assert check_observed[0] is not None and simulate(nest, set(), 3)[0] is None
