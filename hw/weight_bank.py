"""Weight bank: one layer's weights in a two-port memory, one row chunk per memory word.

Layout: word ``i·C + c`` (C = ceil(N_in / lanes)) holds the row chunk W[i, c·lanes : c·lanes
+ lanes]; lane k is ``data_bits`` wide at bits ``[k·data_bits, (k+1)·data_bits)`` (an
``ArrayLayout(signed(data_bits), lanes)``), the last chunk of a row padded with zeros.
This is the order a processing element streams the weights in (core/costs.py);
:func:`weights_to_words` / :func:`words_to_weights` convert for a testbench or a weight
read-back.

Ports. Amaranth 0.5's :class:`~amaranth.lib.memory.Memory` has separate read and write
ports (any number of each) but no read/write port. FPGA block RAM is true dual-port:
two ports, each with *one* address that reads or writes. A bank port here is therefore
a read port and (optionally) a write port of the same Memory driven by the *same
address signal*. Yosys' ``memory_libmap`` pairs such a read and write port into one
physical port of a true-dual-port block only when a same-cycle read/write collision is
a don't-care: Amaranth's memory semantics (a read never sees a write of the same cycle
on a non-transparent port, on either port) cannot be emulated on a true-dual-port
block, and Yosys then falls back to flip-flops (two write ports) or to one copy of the
memory per read port (one write port). The bank therefore marks its memory
``no_rw_check`` by default (``exact_collisions=False``). Checked with YoWASP Yosys 0.70
for a 32×64 layer, lanes 8 (256 words of 128 bits):

==============  ==========================  =======================================
family          writable ports a and b      writable port b only
==============  ==========================  =======================================
ECP5            8 DP16KD (1024×18, TDP)     8 DP16KD (TDP, port a read-only)
Xilinx 7        4 RAMB36E1 (= 8 RAMB18)     —
iCE40           flip-flops (no TDP block)   16 SB_RAM40_4K (one 256×16 copy per read port)
==============  ==========================  =======================================

The contract that buys this: **no word is read in the same cycle as it is written**
(by either port), and a port does not read while it writes — the data such a read
returns is undefined on the FPGA (Amaranth's simulator returns the old word). A
statically scheduled task never reads what it writes in the same cycle (G reads word q
on one port and writes it ``latency`` cycles later on the other). ``exact_collisions=True``
keeps Amaranth's read-first semantics in synthesis at the price of the mapping above.

Timing (both ports alike): ``addr`` with ``read_en`` in cycle t gives ``read_data`` in
cycle t + 1 (synchronous read, the data register holds while ``read_en`` is low);
``write_en`` in cycle t writes ``write_data`` at the end of cycle t, so a read issued
in cycle t + 1 or later sees it. Both ports writing the same word in one cycle is not
defined on block RAM either; the schedule never does it (a layer has one G task).
"""

from __future__ import annotations

import math

import numpy as np
from amaranth.hdl import Module, signed
from amaranth.lib import data, memory, wiring
from amaranth.lib.wiring import In
from amaranth.utils import ceil_log2

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw import estimate as est
from layerpipe.hw.checked import CheckedFirst
from layerpipe.hw.lanes import pack_lanes, pad_lanes
from layerpipe.hw.signatures import BankPortSignature

__all__ = ["chunk_layout", "bank_depth", "weights_to_chunks", "chunks_to_weights", "pack_chunk",
           "unpack_chunk", "weights_to_words", "words_to_weights", "BankPortSignature", "WeightBank",
           "bank_resources"]


# -- chunk words ------------------------------------------------------------------------------


def chunk_layout(fmt: FixedFormat, lanes: int) -> data.ArrayLayout:
    """One row chunk: ``lanes`` signed data words."""
    return data.ArrayLayout(signed(fmt.data_bits), lanes)


def bank_depth(out_size: int, in_size: int, lanes: int) -> int:
    """Words of a layer's bank: N_out · ceil(N_in / lanes)."""
    return out_size * math.ceil(in_size / lanes)


def weights_to_chunks(weights, lanes: int) -> np.ndarray:
    """(N_out, N_in) integers → (N_out·C, lanes) row chunks, the last chunk of each row zero-padded."""
    weights = np.asarray(weights, dtype=np.int64)
    if weights.ndim != 2:
        raise ValueError(f"weights must be a 2-d (N_out, N_in) array, not shape {weights.shape}")
    return pad_lanes(weights, lanes).reshape(-1, lanes)


def chunks_to_weights(chunks, out_size: int, in_size: int) -> np.ndarray:
    """Inverse of :func:`weights_to_chunks` (the padding lanes are dropped)."""
    chunks = np.asarray(chunks, dtype=np.int64)
    lanes = chunks.shape[1]
    per_row = math.ceil(in_size / lanes)
    return chunks[:out_size * per_row].reshape(out_size, per_row * lanes)[:, :in_size].copy()


def pack_chunk(values, fmt: FixedFormat) -> int:
    """Lane values (saturated data words) → one packed unsigned memory word, lane 0 in the low bits."""
    values = [int(value) for value in values]
    for value in values:
        if not fmt.data_min <= value <= fmt.data_max:
            raise ValueError(f"{value} is not a {fmt.data_bits}-bit data word")
    return pack_lanes(values, fmt.data_bits)


def unpack_chunk(word: int, fmt: FixedFormat, lanes: int) -> list[int]:
    """One packed memory word → ``lanes`` signed data words."""
    bits, mask = fmt.data_bits, (1 << fmt.data_bits) - 1
    values = []
    for k in range(lanes):
        value = (int(word) >> (k * bits)) & mask
        values.append(value - (1 << bits) if value >> (bits - 1) else value)
    return values


def weights_to_words(weights, fmt: FixedFormat, lanes: int) -> list[int]:
    """(N_out, N_in) → packed words in bank order (for a Verilog/cocotb testbench or a read-back)."""
    return [pack_chunk(row, fmt) for row in weights_to_chunks(weights, lanes)]


def words_to_weights(words, fmt: FixedFormat, lanes: int, out_size: int, in_size: int) -> np.ndarray:
    chunks = np.array([unpack_chunk(word, fmt, lanes) for word in words], dtype=np.int64).reshape(-1, lanes)
    return chunks_to_weights(chunks, out_size, in_size)


# -- the bank ----------------------------------------------------------------------------------


class WeightBank(CheckedFirst, wiring.Component):
    """A layer's ``out_size × in_size`` weights on a two-port Memory (module docstring).

    ``init``: initial weights as an integer (N_out, N_in) array of data words (default
    zeros). ``writable``: the ports ("a", "b") that have a write port. ``exact_collisions``:
    keep read-first semantics for same-cycle read/write of one word in synthesis (module
    docstring; costs the block RAM mapping). Members: ``a``,
    ``b`` (:class:`BankPortSignature`, flipped: the bank is driven). ``depth`` is the
    number of words used; the memory has at least 2 rows so that the address is at least
    one bit wide.
    """

    @staticmethod
    def check(fmt: FixedFormat, lanes: int, out_size: int, in_size: int, init=None, writable=("a", "b"),
              exact_collisions: bool = False) -> None:
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
        if out_size < 1 or in_size < 1:
            raise ValueError(f"a layer needs at least one row and one column, not {out_size}×{in_size}")
        unknown = set(writable) - {"a", "b"}
        if unknown:
            raise ValueError(f"writable ports are 'a' and 'b', not {sorted(unknown)}")
        if init is not None:
            init = np.asarray(init, dtype=np.int64)
            if init.shape != (out_size, in_size):
                raise ValueError(f"initial weights have shape {init.shape}, the bank is {(out_size, in_size)}")
            if init.size and (init.min() < fmt.data_min or init.max() > fmt.data_max):
                raise ValueError(f"initial weights exceed the {fmt.data_bits}-bit data range")

    def __init__(self, fmt: FixedFormat, lanes: int, out_size: int, in_size: int, init=None,
                 writable=("a", "b"), exact_collisions: bool = False):
        self.fmt, self.lanes, self.out_size, self.in_size = fmt, lanes, out_size, in_size
        self.chunks = math.ceil(in_size / lanes)
        self.depth = bank_depth(out_size, in_size, lanes)
        self.writable = tuple(port for port in ("a", "b") if port in writable)
        if init is None:
            init = np.zeros((out_size, in_size), dtype=np.int64)
        self.init = np.asarray(init, dtype=np.int64)
        self.exact_collisions = bool(exact_collisions)
        self.word = chunk_layout(fmt, lanes)
        self.addr_bits = ceil_log2(max(2, self.depth))
        super().__init__({port: In(BankPortSignature(self.addr_bits, self.word, port in self.writable))
                          for port in ("a", "b")})

    def elaborate(self, platform):
        m = Module()
        rows = weights_to_chunks(self.init, self.lanes).tolist()
        attrs = {} if self.exact_collisions else {"no_rw_check": 1}  # see the module docstring
        m.submodules.memory = mem = memory.Memory(shape=self.word, depth=max(2, self.depth), init=rows, attrs=attrs)
        for name in ("a", "b"):
            port = getattr(self, name)
            if name in self.writable:
                write = mem.write_port()
                m.d.comb += [write.addr.eq(port.addr), write.data.eq(port.write_data), write.en.eq(port.write_en)]
            read = mem.read_port()
            m.d.comb += [read.addr.eq(port.addr), read.en.eq(port.read_en), port.read_data.eq(read.data)]
        return m

    def estimate(self, family: est.Family | str = est.ECP5) -> est.Resources:
        return bank_resources(self.fmt, self.lanes, self.depth, len(self.writable), self.exact_collisions, family)


def bank_resources(fmt: FixedFormat, lanes: int, depth: int, writable: int, exact_collisions: bool = False,
                   family: est.Family | str = est.ECP5) -> est.Resources:
    """A bank of ``depth`` words with ``writable`` write ports: block RAM, or flip-flops where Yosys cannot
    use block RAM (module docstring's table)."""
    fam = est.get_family(family)
    depth, width = max(2, depth), lanes * fmt.data_bits
    if fam.true_dual_port and not exact_collisions:
        return est.memory(depth, width, fam, two_ports=True)
    if writable == 2:
        return est.flipflop_memory(depth, width, 2, fam)
    return est.memory(depth, width, fam) * 2  # one simple-dual-port copy per read port
