"""The MAC unit, the delay line and the processing element on Verilator and Icarus (cocotb),
random stimulus against numpy models (tests/helpers/component_models.py): every output value and
the cycle it appears in, the same Verilog in both simulators. Each bench also gets a deliberately
wrong model once, to show that it notices."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
from amaranth.lib import data

from layerpipe.core.costs import CostModel
from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.delay_line import DelayLine
from layerpipe.hw.mac import VectorMAC
from layerpipe.hw.pe import PE
from layerpipe.hw.plan import hardware_plan
from layerpipe.hw.signatures import element_shape
from layerpipe.sched.scheduler import schedule
from layerpipe.verify.convert import component_verilog
from layerpipe.verify.runner import run_bench
from tests.helpers.component_models import delay_line_stimulus, mac_stimulus, pe_bench_config, random_mac_tasks
from tests.helpers.problems import FMT as PE_FMT
from tests.helpers.problems import random_biases, random_problem, tiny_network

FMT = FixedFormat()
LANES, MAX_CHUNKS = 4, 3


def static_bench(design, run_dir, cache, columns, monitors, simulator="verilator"):
    results = run_bench(design.verilog, design.top, "static_timing", run_dir, {"drive": columns, "monitors": monitors},
                        public_ports=design.port_names, cache_dir=cache, simulator=simulator)
    assert results["runner"]["simulator"] == simulator
    return results["monitors"]


# -- VectorMAC ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mac(tmp_path_factory):
    component = VectorMAC(FMT, LANES, max_chunks=MAX_CHUNKS, tag_shape=8)
    latency = {op.name: cycles for op, cycles in component.latency.items()}
    return component_verilog(component, tmp_path_factory.mktemp("mac"), "vector_mac"), latency


def mac_plan(latency, seed):
    rng = np.random.default_rng(seed)
    return mac_stimulus(FMT, LANES, latency, random_mac_tasks(FMT, LANES, MAX_CHUNKS, 36, rng), rng, bubble=0.25)


def test_mac_random_tasks_are_bit_and_cycle_exact(mac, tmp_path, verilator_cache, simulator):
    design, latency = mac
    columns, monitors = mac_plan(latency, seed=11)
    verdict = static_bench(design, tmp_path, verilator_cache, columns, monitors, simulator)
    for spec in monitors:
        assert len(spec["expected"]) > 10, spec["name"]  # every operation is exercised
        assert verdict[spec["name"]] == {"mismatches": [], "observed": len(spec["expected"])}
    dot = next(spec for spec in monitors if spec["name"] == "dot")
    limits = {FMT.data_max, FMT.data_min & ((1 << FMT.data_bits) - 1)}
    assert limits <= {z for _, z, *_ in dot["expected"]}  # F saturated both ways


def test_mac_bench_catches_a_wrong_value_and_a_wrong_cycle(mac, tmp_path, verilator_cache):
    design, latency = mac
    columns, monitors = mac_plan(latency, seed=11)
    by_name = {spec["name"]: spec for spec in monitors}
    by_name["dot"]["expected"][4][1] ^= 1  # one bit of one z
    by_name["upd"]["expected"][7][0] += 1  # one update a cycle later than the model says
    verdict = static_bench(design, tmp_path, verilator_cache, columns, monitors)
    assert [m.split(" [")[0] for m in verdict["dot"]["mismatches"]] == ["item dot #4"]
    assert [m.split(" [")[0] for m in verdict["upd"]["mismatches"]] == ["item upd #7"]
    assert verdict["col"]["mismatches"] == []


# -- DelayLine ---------------------------------------------------------------------------------

# (element, lanes, words, depth, delays, write_at, read_at, period, word-by-word writes)
DELAY_LINES = {
    "data": ("data", 4, 10, 3, (0, 1, 2), 0, (3, 0, 5), 9, False),
    "mask-wordwise": ("mask", 3, 7, 4, (3, 0), 0, (1, 8), 11, True),  # delay 0 reads after the last word
}


@pytest.fixture(scope="module")
def delay_lines(tmp_path_factory):
    folder = tmp_path_factory.mktemp("delay_line")
    return {key: component_verilog(DelayLine.for_words(FMT, lanes, words, depth, delays, element), folder / key,
                                   "delay_line")
            for key, (element, lanes, words, depth, delays, *_) in DELAY_LINES.items()}


def delay_line_plan(key, seed, model_delays=None):
    element, lanes, words, depth, delays, write_at, read_at, period, wordwise = DELAY_LINES[key]
    rng = np.random.default_rng(seed)
    low, high = (0, 1) if element == "mask" else (FMT.data_min, FMT.data_max)
    samples = rng.integers(low, high + 1, (3 * depth + 4, words))
    # its geometry only (the bench runs the converted copy): no component built to be asked
    line = SimpleNamespace(lanes=lanes, chunks=math.ceil(words / lanes), delays=tuple(delays),
                           row=data.ArrayLayout(element_shape(FMT, element), lanes))
    return delay_line_stimulus(line, samples, period, write_at, list(read_at), wordwise, model_delays)


@pytest.mark.parametrize("key", DELAY_LINES)
def test_delay_line_returns_the_sample_written_delay_samples_ago(delay_lines, key, tmp_path, verilator_cache,
                                                                 simulator):
    columns, monitors = delay_line_plan(key, seed=5)
    verdict = static_bench(delay_lines[key], tmp_path, verilator_cache, columns, monitors, simulator)
    for spec in monitors:
        assert spec["expected"], spec["name"]
        assert verdict[spec["name"]] == {"mismatches": [], "observed": len(spec["expected"])}


def test_delay_line_bench_catches_a_wrong_delay(delay_lines, tmp_path, verilator_cache):
    columns, monitors = delay_line_plan("data", seed=5, model_delays=(0, 2, 2))  # side 1 modelled one too deep
    verdict = static_bench(delay_lines["data"], tmp_path, verilator_cache, columns, monitors)
    assert verdict["r0"]["mismatches"] == [] and verdict["r2"]["mismatches"] == []
    assert len(verdict["r1"]["mismatches"]) == len(monitors[1]["expected"])


# -- PE ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pe_case(tmp_path_factory):
    table = schedule(tiny_network(), 1, "sequential", CostModel(lanes=4))
    pe = PE(hardware_plan(table, PE_FMT, "stash"), 0)
    weights, inputs, targets = random_problem(table.network, PE_FMT, samples=6, seed=3)
    config = pe_bench_config(pe, weights, inputs, targets, random_biases(table.network, PE_FMT, seed=3))
    return component_verilog(pe, tmp_path_factory.mktemp("pe"), "pe"), config


def test_pe_trains_bit_and_cycle_exact_against_the_golden_model(pe_case, tmp_path, verilator_cache, simulator):
    design, config = pe_case
    results = run_bench(design.verilog, design.top, "pe", tmp_path, config, public_ports=design.port_names,
                        cache_dir=verilator_cache, simulator=simulator)
    assert results["result_mismatches"] == [] and results["bank_mismatches"] == []
    assert results["results"] == 6 * 3  # every output neuron of every sample


def test_pe_bench_catches_a_wrong_final_weight(pe_case, tmp_path, verilator_cache):
    design, config = pe_case
    wrong = {**config, "expected_banks": [list(rows) for rows in config["expected_banks"]]}
    wrong["expected_banks"][1][2] ^= 1 << 20  # lane 1 of layer 2's bank row 2, one bit
    results = run_bench(design.verilog, design.top, "pe", tmp_path, wrong, public_ports=design.port_names,
                        cache_dir=verilator_cache)
    assert results["result_mismatches"] == []
    assert [m.split(":")[0] for m in results["bank_mismatches"]] == ["bank 1 row 2"]
