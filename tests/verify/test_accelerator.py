"""Generated accelerators on Verilator: bit-exact against the golden model, cycle-exact against the table.

Each parameter set builds once (one build folder per set, shared by the tests that use it).
"""

import pytest

from layerpipe.sched.costs import CostModel
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.verify.flow import verify_table

SAMPLES = 64
# (processors, policy, weights): every policy at P = 4 (the comparison below), plus P = 1 and 2,
# and `latest` weights where the staleness of B differs from F's.
CASES = [(1, "sequential", "stash"), (2, "pipedream", "stash"), (2, "layerpipe", "latest"),
         (4, "sequential", "stash"), (4, "pipedream", "stash"), (4, "layerpipe", "stash"),
         (4, "layerpipe", "latest")]

_verdicts = {}


def run(build_root, processors, policy, weights, **kwargs):
    key = (processors, policy, weights, tuple(sorted(kwargs.items())))
    if key not in _verdicts:
        table = schedule(zoo_network("mlp-digits"), processors, policy, CostModel())
        build = build_root / f"P{processors}-{policy}-{weights}"
        _verdicts[key] = verify_table(table, SAMPLES, build, weights=weights, idle=0.2, backpressure=0.2, **kwargs)
    return _verdicts[key]


@pytest.fixture(scope="session")
def build_root(tmp_path_factory):
    return tmp_path_factory.mktemp("rtl")


@pytest.mark.parametrize("processors, policy, weights", CASES, ids=lambda v: str(v))
def test_accelerator_bit_and_cycle_exact(build_root, processors, policy, weights):
    verdict = run(build_root, processors, policy, weights)
    assert verdict.result_mismatches == []
    assert verdict.weight_mismatches == []
    assert verdict.rtl_cycles == verdict.simulated_cycles == verdict.predicted_cycles


def test_a_corrupted_golden_bit_fails_the_bench(build_root):
    verdict = run(build_root, 4, "layerpipe", "stash", corrupt_golden_bit=True)
    assert len(verdict.result_mismatches) == 1
    assert "result of sample 32" in verdict.result_mismatches[0]


def test_measured_cycles_order_policies(build_root, record_property):
    verdicts = {policy: run(build_root, 4, policy, "stash") for policy in ("sequential", "pipedream", "layerpipe")}
    lines = [f"{'policy':>10} {'period':>7} {'predicted':>10} {'simulated':>10} {'rtl':>8} {'bit_exact':>9}"]
    for policy, v in verdicts.items():
        lines.append(f"{policy:>10} {v.period_cycles:>7} {v.predicted_cycles:>10} {v.simulated_cycles:>10} "
                     f"{v.rtl_cycles:>8} {str(v.bit_exact):>9}")
        record_property(f"rtl_cycles_{policy}", v.rtl_cycles)
    print(f"\nmlp-digits, P = 4, {SAMPLES} samples\n" + "\n".join(lines))
    assert verdicts["layerpipe"].rtl_cycles < verdicts["pipedream"].rtl_cycles < verdicts["sequential"].rtl_cycles
