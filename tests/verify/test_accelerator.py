"""Generated accelerators on Verilator: bit-exact against the golden model, cycle-exact against the table.

The whole matrix of the digits MLP: P = 1, 2, 4 × every policy × stash and latest weights; and of
the digits CNN (``cnn-digits``: two conv layers with max-pooling, then fc) at P = 1, 2, 4 ×
pipedream, layerpipe, optimal × stash and latest, 32 samples each; and of the digits MLP with a bias
in every layer (``mlp-digits-bias``: each row's sum starts at its bias, no cycle added) at P = 1,
2, 4 × pipedream, layerpipe, optimal, and ``cnn-digits-bias`` (conv biases: their own stores) at two
points, 32 samples each; and ``cnn-digits-avg`` (average pooling: the pool write-back's running sum,
the error shared by the window) at two points, 32 samples each.
Each case generates its own Verilog from its own table; cases whose Verilog comes out
identical (sequential at any P; stash and latest where no layer keeps a stale weight
version; tables that two policies agree on) share one Verilator build through the
session's build cache, and cases that execute the same table with the same weight semantics
(every policy at P = 1; stash and latest without stale weights) share one run.

``rtl_cycles`` is the bench's observation from outside the design (the banks' last writes
and the results it timestamps with its own clock), ``rtl_counter_cycles`` the design's own
counter; both must equal the cycle simulator and the table.

The same matrix runs on Icarus Verilog as cocotb runs it by default (``iverilog -g2012``),
with 16 samples instead of 64 (Icarus simulates about 600 cycles/s here, Verilator's build
amortised, about 7,000), where Icarus is installed; one case checks that both simulators
see every event of a run in the same cycle.
"""

import functools
import itertools
import json

import pytest

from layerpipe.core.costs import CostModel
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.verify.flow import verify_table
from layerpipe.verify.runner import simulator_available

SAMPLES = {"verilator": 64, "icarus": 16}
CNN_SAMPLES = 32
ICARUS_MISSING = simulator_available("icarus")
SIMULATORS = ["verilator", pytest.param("icarus", marks=pytest.mark.skipif(ICARUS_MISSING is not None,
                                                                           reason=ICARUS_MISSING or ""))]
POLICIES = ("sequential", "pipedream", "layerpipe", "optimal")
CASES = list(itertools.product((1, 2, 4), POLICIES, ("stash", "latest")))
CNN_CASES = list(itertools.product((1, 2, 4), POLICIES[1:], ("stash", "latest")))
BIAS_CASES = [("mlp-digits-bias", *case) for case in itertools.product((1, 2, 4), POLICIES[1:])]
BIAS_CASES += [("cnn-digits-bias", 2, "pipedream"), ("cnn-digits-bias", 4, "layerpipe")]
AVERAGE_CASES = [(2, "pipedream"), (4, "layerpipe")]

_verdicts = {}


@functools.cache
def _table(network, processors, policy):
    return schedule(zoo_network(network), processors, policy, CostModel())


def _executed(table, weights):
    """What a run depends on besides its samples: the table as the RTL executes it (not the name of the
    policy that made it, nor the solver's report), and the weight policy where it matters, i.e. where a
    layer keeps a stale version. At P = 1 every policy makes the same table and stash trains as latest."""
    executed = {key: value for key, value in table.data.items() if key not in ("policy", "optimal")}
    stale = any(table.data["weight_versions"]["stash"]["versions"])
    return json.dumps(executed, sort_keys=True), weights if stale else "no stale weights"


def run(build_root, cache, processors, policy, weights, simulator="verilator", samples=None,
        network="mlp-digits", **kwargs):
    samples = samples or SAMPLES[simulator]
    table = _table(network, processors, policy)
    # cases that execute the same table share one run, as identical designs share one build
    key = (*_executed(table, weights), simulator, samples, tuple(sorted(kwargs.items())))
    if key not in _verdicts:
        name = (network, processors, policy, weights, simulator, samples)
        build = build_root / ("-".join(str(part) for part in name) + ("-corrupt" if kwargs else ""))
        _verdicts[key] = verify_table(table, samples, build, weights=weights, idle=0.2, backpressure=0.2,
                                      cache_dir=cache, simulator=simulator, **kwargs)
    return _verdicts[key]


@pytest.fixture(scope="session")
def build_root(tmp_path_factory):
    return tmp_path_factory.mktemp("rtl")


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("processors, policy, weights", CASES, ids=lambda v: str(v))
def test_accelerator_bit_and_cycle_exact(build_root, verilator_cache, record_property, processors, policy, weights,
                                         simulator):
    check_verdict(run(build_root, verilator_cache, processors, policy, weights, simulator), simulator,
                  record_property)


@pytest.mark.parametrize("processors, policy, weights", CNN_CASES, ids=lambda v: str(v))
def test_cnn_digits_bit_and_cycle_exact(build_root, verilator_cache, record_property, processors, policy, weights):
    verdict = run(build_root, verilator_cache, processors, policy, weights, samples=CNN_SAMPLES,
                  network="cnn-digits")
    check_verdict(verdict, "verilator", record_property)
    assert verdict.network == "cnn-digits" and verdict.samples == CNN_SAMPLES


@pytest.mark.parametrize("network, processors, policy", BIAS_CASES, ids=lambda v: str(v))
def test_biases_bit_and_cycle_exact(build_root, verilator_cache, record_property, network, processors, policy):
    verdict = run(build_root, verilator_cache, processors, policy, "stash", samples=CNN_SAMPLES, network=network)
    check_verdict(verdict, "verilator", record_property)
    assert verdict.network == network
    # every sum starts at its bias, so a bias costs no cycle: 64, 32 and 16 inputs (and conv2's 16 channels)
    # fill whole chunks of 8 lanes, where a bias streamed as one more weight would take a chunk per row
    unbiased = schedule(zoo_network(network.removesuffix("-bias")), processors, policy, CostModel())
    assert verdict.rtl_cycles == unbiased.total_cycles(CNN_SAMPLES)


@pytest.mark.parametrize("processors, policy", AVERAGE_CASES, ids=lambda v: str(v))
def test_average_pooling_bit_and_cycle_exact(build_root, verilator_cache, record_property, processors, policy):
    verdict = run(build_root, verilator_cache, processors, policy, "stash", samples=CNN_SAMPLES,
                  network="cnn-digits-avg")
    check_verdict(verdict, "verilator", record_property)
    assert verdict.network == "cnn-digits-avg"
    # pooling by the mean costs no cycle: the same table period and length as max-pooling
    max_pooled = schedule(zoo_network("cnn-digits"), processors, policy, CostModel())
    assert verdict.predicted_cycles == max_pooled.total_cycles(CNN_SAMPLES)


def check_verdict(verdict, simulator, record_property):
    assert verdict.simulator == simulator
    for name in ("rtl_cycles", "build_seconds", "build_cached", "sim_seconds", "sim_clock_cycles"):
        record_property(name, getattr(verdict, name))  # where the time goes, in the junit report
    assert verdict.result_mismatches == []
    assert verdict.weight_mismatches == []
    assert verdict.rtl_cycles == verdict.rtl_counter_cycles == verdict.simulated_cycles == verdict.predicted_cycles
    # from simulation time: the clock edges from the start pulse to done are the start cycle, every
    # executed and every stalled schedule cycle, and done's register
    assert verdict.rtl_edges_start_to_done == 1 + verdict.predicted_cycles + verdict.rtl_stall_cycles + 1


@pytest.mark.skipif(ICARUS_MISSING is not None, reason=ICARUS_MISSING or "")
def test_icarus_and_verilator_see_every_event_in_the_same_cycle(build_root, verilator_cache):
    verdicts = [run(build_root, verilator_cache, 4, "layerpipe", "stash", simulator, samples=SAMPLES["icarus"])
                for simulator in ("verilator", "icarus")]
    events = [v.rtl_events for v in verdicts]
    assert len(events[0]["result_handshakes"]) == SAMPLES["icarus"]
    assert events[0] == events[1]
    assert [v.rtl_stall_cycles for v in verdicts] == [verdicts[0].rtl_stall_cycles] * 2


def test_a_corrupted_golden_bit_fails_the_bench(build_root, verilator_cache):
    verdict = run(build_root, verilator_cache, 4, "layerpipe", "stash", corrupt_golden_bit=True)
    assert len(verdict.result_mismatches) == 1
    assert "result of sample 32" in verdict.result_mismatches[0]


@pytest.mark.parametrize("network,samples", [("mlp-digits", SAMPLES["verilator"]), ("cnn-digits", CNN_SAMPLES)])
def test_measured_cycles_order_policies(build_root, verilator_cache, record_property, network, samples):
    verdicts = {policy: run(build_root, verilator_cache, 4, policy, "stash", samples=samples, network=network)
                for policy in POLICIES}
    lines = [f"{'policy':>10} {'period':>7} {'predicted':>10} {'simulated':>10} {'rtl':>8} {'bit_exact':>9}"]
    for policy, v in verdicts.items():
        lines.append(f"{policy:>10} {v.period_cycles:>7} {v.predicted_cycles:>10} {v.simulated_cycles:>10} "
                     f"{v.rtl_cycles:>8} {str(v.bit_exact):>9}")
        record_property(f"rtl_cycles_{policy}", v.rtl_cycles)
        assert v.bit_exact and v.cycle_exact
    print(f"\n{network}, P = 4, {samples} samples\n" + "\n".join(lines))
    assert verdicts["optimal"].rtl_cycles <= verdicts["layerpipe"].rtl_cycles <= verdicts["pipedream"].rtl_cycles \
        < verdicts["sequential"].rtl_cycles
    if network == "mlp-digits":  # the MLP's LayerPipe schedule is strictly shorter than PipeDream's
        assert verdicts["layerpipe"].rtl_cycles < verdicts["pipedream"].rtl_cycles
