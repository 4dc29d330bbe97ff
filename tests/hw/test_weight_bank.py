"""WeightBank: numpy ↔ chunk-word helpers, initial weights, random two-port traffic against a Python
model (synchronous read, read data held, writes visible from the next cycle), estimates, lint."""

from __future__ import annotations

import numpy as np
import pytest

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.estimate import ECP5, ICE40, XILINX7
from layerpipe.hw.weight_bank import (
    WeightBank,
    bank_depth,
    chunks_to_weights,
    pack_chunk,
    unpack_chunk,
    weights_to_chunks,
    weights_to_words,
    words_to_weights,
)
from tests.helpers.lint import elaborated, lint_wall
from tests.helpers.simulation import run_clocked

FMT = FixedFormat()


def random_weights(rng, out_size, in_size, fmt=FMT):
    return rng.integers(fmt.data_min, fmt.data_max + 1, (out_size, in_size))


@pytest.mark.parametrize("lanes,out_size,in_size", [(8, 3, 8), (8, 4, 13), (3, 5, 1), (1, 2, 3), (4, 1, 4)])
def test_chunk_helpers_round_trip(lanes, out_size, in_size):
    rng = np.random.default_rng(lanes * 100 + in_size)
    W = random_weights(rng, out_size, in_size)
    chunks = weights_to_chunks(W, lanes)
    assert chunks.shape == (bank_depth(out_size, in_size, lanes), lanes)
    per_row = -(-in_size // lanes)
    for i in range(out_size):
        for c in range(per_row):
            for k in range(lanes):
                j = c * lanes + k
                assert chunks[i * per_row + c, k] == (W[i, j] if j < in_size else 0)
    np.testing.assert_array_equal(chunks_to_weights(chunks, out_size, in_size), W)
    words = weights_to_words(W, FMT, lanes)
    assert all(0 <= w < 1 << (lanes * FMT.data_bits) for w in words)
    np.testing.assert_array_equal(words_to_weights(words, FMT, lanes, out_size, in_size), W)


def test_word_layout():
    """Row i·C + c, lane k = W[i, c·lanes + k] at bits [k·data_bits, (k+1)·data_bits), two's complement."""
    W = np.array([[1, -1, 2], [-32768, 32767, 0]])
    assert weights_to_words(W, FMT, 2) == [0xFFFF_0001, 0x0000_0002, 0x7FFF_8000, 0x0000_0000]


def test_pack_chunk_refuses_out_of_range():
    assert unpack_chunk(pack_chunk([FMT.data_min, -1, 0, FMT.data_max], FMT), FMT, 4) == \
        [FMT.data_min, -1, 0, FMT.data_max]
    with pytest.raises(ValueError):
        pack_chunk([FMT.data_max + 1], FMT)


def run_bank(bank, steps, drain=2):
    """``steps``: per cycle, {port: dict(addr=…, read_en=…, write_en=…, write_data=…)}; returns the
    read data of both ports in every cycle."""
    seen = []

    async def bench(ctx):
        for step in list(steps) + [{}] * drain:
            for name in ("a", "b"):
                port = getattr(bank, name)
                values = step.get(name, {})
                ctx.set(port.read_en, values.get("read_en", 0))
                if name in bank.writable:
                    ctx.set(port.write_en, values.get("write_en", 0))
                    if "write_data" in values:
                        ctx.set(port.write_data, values["write_data"])
                if "addr" in values:
                    ctx.set(port.addr, values["addr"])
            seen.append({name: list(ctx.get(getattr(bank, name).read_data)) for name in ("a", "b")})
            await ctx.tick()

    run_clocked(bank, bench, 1e-6)
    return seen


@pytest.mark.parametrize("lanes,out_size,in_size", [(8, 4, 20), (4, 3, 4), (2, 1, 1)])
def test_initial_weights_read_on_both_ports(lanes, out_size, in_size):
    rng = np.random.default_rng(11 + lanes)
    W = random_weights(rng, out_size, in_size)
    bank = WeightBank(FMT, lanes, out_size, in_size, init=W)
    depth = bank.depth
    steps = [{"a": dict(addr=q, read_en=1), "b": dict(addr=depth - 1 - q, read_en=1)} for q in range(depth)]
    seen = run_bank(bank, steps)
    chunks = weights_to_chunks(W, lanes).tolist()
    for q in range(depth):  # synchronous read: data the cycle after the address
        assert seen[q + 1]["a"] == chunks[q]
        assert seen[q + 1]["b"] == chunks[depth - 1 - q]
    got = [seen[q + 1]["a"] for q in range(depth)]
    np.testing.assert_array_equal(chunks_to_weights(got, out_size, in_size), W)


@pytest.mark.parametrize("writable", [("a", "b"), ("b",), ("a",)])
def test_random_two_port_traffic(writable):
    """Random reads/writes on both ports against a model; no word is read or written by both
    ports in a cycle where one of them writes it (the bank's contract)."""
    rng = np.random.default_rng(sum(map(ord, "".join(writable))))
    lanes, out_size, in_size = 4, 5, 7
    W = random_weights(rng, out_size, in_size)
    bank = WeightBank(FMT, lanes, out_size, in_size, init=W, writable=writable)
    model = weights_to_chunks(W, lanes).tolist()
    depth = bank.depth
    steps, expected = [], []
    held = {"a": [0] * lanes, "b": [0] * lanes}
    for _ in range(400):
        step, reads = {}, {}
        used = set()
        writes = []
        for name in ("a", "b"):
            addr = int(rng.integers(0, depth))
            while addr in used:
                addr = int(rng.integers(0, depth))
            used.add(addr)
            write = name in writable and rng.random() < 0.4
            read = not write and rng.random() < 0.7
            values = dict(addr=addr, read_en=int(read))
            if write:
                data = [int(v) for v in rng.integers(FMT.data_min, FMT.data_max + 1, lanes)]
                values.update(write_en=1, write_data=data)
                writes.append((addr, data))
            if read:
                reads[name] = list(model[addr])
            step[name] = values
        for addr, data in writes:  # visible from the next cycle on
            model[addr] = data
        steps.append(step)
        for name in ("a", "b"):
            held[name] = reads.get(name, held[name])
        expected.append(dict(held))
    seen = run_bank(bank, steps)
    for cycle, want in enumerate(expected):
        assert seen[cycle + 1] == want, f"cycle {cycle}"
    final = run_bank(bank, [{"a": dict(addr=q, read_en=1)} for q in range(depth)])
    assert final[1]["a"] == weights_to_chunks(W, lanes).tolist()[0]  # a fresh simulation starts from init


def test_a_write_is_read_back_the_next_cycle_on_the_other_port():
    bank = WeightBank(FMT, 2, 2, 2, init=np.array([[1, 2], [3, 4]]))
    seen = run_bank(bank, [{"b": dict(addr=1, write_en=1, write_data=[-5, 6])},
                           {"a": dict(addr=1, read_en=1)}, {"a": dict(addr=0, read_en=0)}])
    assert seen[2]["a"] == [-5, 6] and seen[3]["a"] == [-5, 6]  # held while read_en is low


def test_refusals():
    with pytest.raises(ValueError):
        WeightBank(FMT, 4, 2, 3, init=np.zeros((3, 2)))
    with pytest.raises(ValueError):
        WeightBank(FMT, 4, 2, 3, init=np.full((2, 3), FMT.data_max + 1))
    with pytest.raises(ValueError):
        WeightBank(FMT, 4, 2, 3, writable=("c",))


def test_estimate():
    bank = elaborated(WeightBank(FMT, 8, 32, 64))  # 256 words of 128 bits
    assert bank.estimate(ECP5).bram == 8  # 1024×18 true-dual-port, 8 blocks side by side
    assert bank.estimate(XILINX7).bram == 8  # RAMB18 (Yosys packs them into 4 RAMB36)
    assert bank.estimate(ECP5).lut == bank.estimate(ECP5).ff == bank.estimate(ECP5).dsp == 0
    one = elaborated(WeightBank(FMT, 8, 32, 64, writable=("b",)))
    assert one.estimate(ICE40).bram == 16  # 2 copies × 8 × 256×16
    two = bank.estimate(ICE40)
    assert two.bram == 0 and two.ff == 256 * 128  # no true dual-port on iCE40: flip-flops
    exact = elaborated(WeightBank(FMT, 8, 32, 64, writable=("b",), exact_collisions=True))
    assert exact.estimate(ECP5).bram == 2 * 4  # one 512×36 simple-dual-port copy per read port
    big = elaborated(WeightBank(FMT, 8, 32, 784))  # 32 × 98 = 3136 words
    assert big.estimate(ECP5).bram == 2 * 15  # 2048×9 beats 1024×18 (4 × 8)


@pytest.mark.parametrize("writable", [("a", "b"), ("b",)])
def test_verilog_lints(tmp_path, writable):
    rng = np.random.default_rng(3)
    lint_wall(WeightBank(FMT, 8, 4, 13, init=random_weights(rng, 4, 13), writable=writable), "weight_bank", tmp_path)


def test_verilog_marks_collisions_dont_care():
    from amaranth.back import verilog

    text = verilog.convert(WeightBank(FMT, 2, 2, 2), name="bank")
    assert "no_rw_check" in text
    assert "no_rw_check" not in verilog.convert(WeightBank(FMT, 2, 2, 2, exact_collisions=True), name="bank")
