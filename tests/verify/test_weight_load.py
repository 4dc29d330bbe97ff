"""The weight load port: one build trains any weights, and the bench reports what it reads back."""

import numpy as np
import pytest

from layerpipe.core.costs import CostModel
from layerpipe.hw.conv_layout import weight_shape
from layerpipe.hw.plan import hardware_plan
from layerpipe.sched.scheduler import schedule
from layerpipe.sched.zoo import zoo_network
from layerpipe.verify.flow import verify_table
from tests.helpers.problems import FMT, random_biases

SAMPLES = 16


@pytest.mark.parametrize("network", ["mlp-digits-bias", "cnn-digits-bias"])
def test_two_weight_sets_train_bit_exact_on_one_build(tmp_path, verilator_cache, network):
    """fc banks and conv stores (conv2's double-buffered at P = 2: the load writes the current half, conv1's
    single) and their biases."""
    table = schedule(zoo_network(network), 2, "layerpipe", CostModel())
    conv_banks = hardware_plan(table, FMT, "stash").conv_banks
    assert bool(conv_banks) == network.startswith("cnn")
    assert {bank.double_buffered for bank in conv_banks.values()} == ({False, True} if conv_banks else set())
    rng = np.random.default_rng(11)
    sets = [[FMT.quantize(rng.uniform(-0.4, 0.4, size=weight_shape(layer))) for layer in table.network.layers]
            for _ in range(2)]
    biases = [random_biases(table.network, FMT, seed) for seed in (1, 2)]
    verdicts = [verify_table(table, SAMPLES, tmp_path / f"set{k}", fmt=FMT, cache_dir=verilator_cache,
                             load=(sets[k], biases[k])) for k in range(2)]
    for verdict in verdicts:
        assert verdict.bit_exact and verdict.cycle_exact
    assert verdicts[1].build_cached  # the same Verilog: the second set went in through wwrite_*
    rtl = [np.concatenate([w.ravel() for w in verdict.rtl_weights]) for verdict in verdicts]
    assert not np.array_equal(rtl[0], rtl[1])  # two different trainings, each the golden model's
    # the read-back is what the bench compared: different starting weights give different final weights
    assert all(b is not None for verdict in verdicts for b in verdict.rtl_biases)
    assert not np.array_equal(verdicts[0].rtl_biases[0], verdicts[1].rtl_biases[0])
