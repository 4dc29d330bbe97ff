"""Vector MAC unit: ``lanes`` signed multipliers and the three PE operations on one row chunk per cycle.

A processing element streams a layer's weights one row chunk W[i, c:c+lanes] per cycle,
row by row (core/costs.py). Every operation multiplies lane by lane in one shared
multiplier array (``lanes`` plain ``*`` on signed data words, so synthesis maps each to a
DSP block) and then differs only in what it does with the products:

=====  ============================================  ===========================================
op     multiplier lane k                             after the products register
=====  ============================================  ===========================================
``F``  W[i, c+k] · a[c+k]                            adder tree, one row accumulator (acc_bits);
                                                     at the row's last chunk z_i = to_data(acc),
                                                     activation = ReLU(z_i) (hidden) or z_i,
                                                     mask = z_i > 0
``B``  W[i, c+k] · δ_i                               ``lanes`` column accumulators per chunk c in
                                                     an accumulator memory (read-modify-write
                                                     every cycle); at the last row
                                                     e[c+k] = to_data(acc[c][k])
``G``  δ_i · a[c+k]                                  W'[i, c+k] = saturate(W[i, c+k] −
                                                     weight_step(δ_i · a[c+k])); with
                                                     ``accumulate`` (conv G), the products of a
                                                     run ``first`` … ``last`` summed per lane
                                                     (acc_bits), one update at ``last``:
                                                     saturate(W − weight_step(Σ))
=====  ============================================  ===========================================

Arithmetic is :class:`~layerpipe.core.numerics.FixedFormat`'s, bit for bit: products and
sums exact in ``acc_bits``, round half up, saturation to the data range.

Timing (static, no handshake). Operands are presented with ``valid`` in cycle t (the
"operand cycle": in a PE, the cycle after the issue). Every output is valid for one cycle:

* ``dot_*`` (F) in cycle t + ``latency[F]`` after the row's *last* chunk (3, or 4 with
  ``tree_register``): operand registers, products register, [tree register], row
  accumulator (``dot_z``, its unsaturated ``dot_wide``, ``dot_act`` and ``dot_mask`` are
  decoded from it);
* ``col_*`` (B) in cycle t + ``latency[B]`` = t + 3 after each chunk of the *last* row:
  operand registers, products register, accumulator read-modify-write + output register;
* ``upd_*`` (G) in cycle t + ``latency[G]`` = t + 2 after each chunk (accumulating G: after
  the *last* issue of a run only): operand registers, products register; the update is
  combinational from the products register (straight into the bank's write port), so that
  G's last write lands two cycles before its task ends and a bank read requested a cycle
  ahead of its issue (hw/pe.py) never meets it.

Accumulating G (``accumulate_g=True``, the conv layers' G: core/conv_dataflow.py). An
issue with ``op = G`` and ``accumulate`` high subtracts its products from a per-lane
remainder ``g_rest`` = (W << s | 2**(s−1) − 1) − Σ products so far (``first`` starts it
from its own ``weights`` operand W, the run's weight row), in the products cycle t + 2; the
issue with ``last`` high writes saturate(remainder >> s) = W − weight_step(Σ): a select and
the same one subtractor as the per-issue update, no adder in front of it.
Only accumulating G issues touch ``g_rest``, so non-accumulating G issues (fc tasks on the
same PE), F, B and idle cycles may come anywhere, also inside a run; with ``accumulate``
low, G is exactly the per-issue update above (``first``/``last`` ignored).

Biases (``biases=True``, a PE with F or G of a layer with a bias). A bias is a weight whose
input is 1.0 (sim/bias.py), so it takes no multiplier, and no cycle: the input ``bias`` (a row of
``lanes`` bias words, sampled in the operand cycle like the weights; 0 from a PE task without a bias)
starts a sum at b·1.0 + the rounding constant (the bits of b above ``frac_bits`` zeros and the
constant: a concatenation, no adder) where ``first`` restarts it: B's column sums (a conv layer's F)
one bias per lane, F's row accumulator (an fc layer's F) the bias in lane 0. G offers ``upd_bias``
beside ``upd_weights``, in the same cycle. Per issue (an fc G), lane 0 is b − weight_step(δ·1.0),
δ the ``scalar`` and b ``bias`` lane 0: the PE writes it with a row's first chunk. An accumulating G
issue with ``bias_run`` high keeps a per-lane bias remainder (b << s | 2**(s−1) − 1) − Σ δ·1.0 (δ:
the issue's ``vector`` lane, b: ``bias`` at the run's ``first`` issue) beside ``g_rest``, and at the
run's ``last`` issue ``upd_bias_valid`` offers ``upd_bias`` = saturate(remainder >> s) =
b − weight_step(Σ δ·1.0), with ``upd_tag``, in the cycle of the run's weight update.

A task whose last operand read is issued in cycle s sees its last result in cycle
s + 1 + latency and can write it to a memory in that cycle, so the cost model's
``task_overhead_cycles`` must be at least :meth:`VectorMAC.min_task_overhead` (4 by
default: one memory read cycle + F's 3).

The column accumulators live in a memory of ``max_chunks`` rows of ``lanes`` accumulators
(one row per chunk; LUT RAM when small, block RAM when deep): its synchronous read is issued in the operand cycle
(address = ``chunk``), its write one cycle later, and the read port is transparent to
the write port, so a chunk may be accumulated in consecutive cycles (a layer with one
chunk per row). ``first`` restarts an accumulator without reading it.
"""

from __future__ import annotations

import math

from amaranth.hdl import Cat, Const, Module, Mux, Shape, Signal, signed
from amaranth.lib import data, enum, memory, wiring
from amaranth.lib.wiring import In, Out

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw import estimate as est
from layerpipe.hw.checked import CheckedFirst
from layerpipe.hw.weight_bank import chunk_layout

__all__ = ["MacOp", "VectorMAC", "mac_latency", "mac_resources", "round_shift", "overflows", "saturate", "delayed",
           "to_data", "weight_step"]


class MacOp(enum.Enum, shape=2):
    F = 0  # forward: row chunk · activation chunk into one row accumulator
    B = 1  # activation gradient: row chunk · δ_i into the chunk's column accumulators
    G = 2  # weight gradient and update: W − weight_step(δ_i · activation chunk)


# -- FixedFormat's rules as Amaranth expressions ----------------------------------------------


def round_shift(value, shift: int):
    """``(value + 2**(shift-1)) >> shift``: round half up, arithmetic shift (value signed)."""
    if shift == 0:
        return value
    return (value + (1 << (shift - 1))) >> shift


def overflows(value, bits: int):
    """1 when a signed ``value`` wider than ``bits`` does not fit in ``bits`` bits.

    Detected on the upper bits (they must all equal the sign), which maps to a shallow LUT
    tree rather than two comparator carry chains.
    """
    upper = value[bits - 1:value.shape().width - 1]
    return Mux(value[-1], ~upper.all(), upper.any())


def saturate(value, bits: int):
    """Clamp a signed value to ``bits`` bits; the result is ``signed(bits)`` (:func:`overflows`)."""
    low, high = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    if value.shape().width <= bits:
        return value.as_signed() if value.shape().signed else value
    if not value.shape().signed:
        return Mux(value[bits - 1:].any(), Const(high, signed(bits)), value[:bits].as_signed())
    return Mux(overflows(value, bits), Mux(value[-1], Const(low, signed(bits)), Const(high, signed(bits))),
               value[:bits].as_signed())


def delayed(m, value, name: str, stages: int = 1):
    """``value`` through ``stages`` registers of ``m``'s sync domain, named ``<name>_d1``, ``<name>_d2``, …"""
    for stage in range(stages):
        reg = Signal.like(value, name=f"{name}_d{stage + 1}")
        m.d.sync += reg.eq(value)
        value = reg
    return value


def to_data(fmt: FixedFormat, acc):
    """:meth:`FixedFormat.to_data`: an accumulator (binary point 2·frac_bits) to a data word."""
    return saturate(round_shift(acc, fmt.frac_bits), fmt.data_bits)


def weight_step(fmt: FixedFormat, product):
    """:meth:`FixedFormat.weight_step`: η·δ·a as a weight-word step."""
    return round_shift(product, fmt.frac_bits + fmt.lr_shift)


def _tree(values):
    """Balanced adder tree (each ``+`` widens by one bit, so it is exact)."""
    values = list(values)
    while len(values) > 1:
        pairs = [values[i] + values[i + 1] for i in range(0, len(values) - 1, 2)]
        values = pairs + ([values[-1]] if len(values) % 2 else [])
    return values[0]


def _tree_bits(bits: int, count: int) -> int:
    return bits + max(0, math.ceil(math.log2(count)))


def _ops(ops) -> frozenset[MacOp]:
    return frozenset(MacOp[op] if isinstance(op, str) else MacOp(op) for op in ops)


def mac_latency(ops=("F", "B", "G"), tree_register: bool = False) -> dict[MacOp, int]:
    """Cycles from the operand cycle to each built operation's output (module docstring's timing)."""
    ops = _ops(ops)
    latency = {}
    if MacOp.F in ops:
        latency[MacOp.F] = 3 + int(tree_register)
    if MacOp.B in ops:
        latency[MacOp.B] = 3
    if MacOp.G in ops:
        latency[MacOp.G] = 2
    return latency


class VectorMAC(CheckedFirst, wiring.Component):
    """``lanes`` multipliers running F, B or G on one row chunk per cycle (module docstring).

    Parameters: ``fmt`` (every width), ``lanes``, ``max_chunks`` (rows of the column
    accumulator memory: the largest ceil(N_in / lanes) of a B task), ``ops`` (the
    operations to build: a PE without B tasks needs no accumulator memory),
    ``tree_register`` (one more F stage, between adder tree and accumulator, for Fmax),
    ``tag_shape`` (optional: a value carried from the operand cycle to the output it
    produces, e.g. the write address; F outputs the tag of the row's last chunk),
    ``accumulate_g`` (G also sums runs of products before one update: input ``accumulate``),
    ``biases`` (input ``bias``; with G output ``upd_bias``, with ``accumulate_g`` input ``bias_run``
    and output ``upd_bias_valid``: module docstring).

    Inputs, sampled in the operand cycle: ``valid``, ``op``, ``weights`` (chunk),
    ``vector`` (chunk, F and G), ``scalar`` (δ_i, B and G), ``first``/``last`` (F: first /
    last chunk of a row; B: first / last row; accumulating G: first / last issue of a run),
    ``chunk`` (B: accumulator row), ``relu`` (F: apply ReLU), ``accumulate`` (G: this issue
    belongs to a run summed before one update; only with ``accumulate_g``), ``tag``.
    Outputs: ``dot_valid``, ``dot_z``, ``dot_wide`` (z before saturation), ``dot_act``,
    ``dot_mask``, ``col_valid``, ``col_chunk``, ``col_data``, ``upd_valid`` (accumulating G:
    only at a run's last issue), ``upd_weights`` (+ ``*_tag``), only for the operations built.
    """

    @staticmethod
    def check(fmt: FixedFormat, lanes: int, *, max_chunks: int = 1, ops=("F", "B", "G"), tree_register: bool = False,
              tag_shape=None, accumulate_g: bool = False, biases: bool = False) -> None:
        if not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes must be a positive integer, not {lanes!r}")
        if not isinstance(max_chunks, int) or max_chunks < 1:
            raise ValueError(f"max_chunks must be a positive integer, not {max_chunks!r}")
        if not _ops(ops):
            raise ValueError("a VectorMAC needs at least one of the operations F, B, G")

    def __init__(self, fmt: FixedFormat, lanes: int, *, max_chunks: int = 1, ops=("F", "B", "G"),
                 tree_register: bool = False, tag_shape=None, accumulate_g: bool = False, biases: bool = False):
        self.fmt, self.lanes, self.max_chunks = fmt, lanes, max_chunks
        self.ops = _ops(ops)
        self.tree_register = bool(tree_register)
        self.accumulate_g = bool(accumulate_g) and MacOp.G in self.ops
        self.tag_shape = tag_shape
        self.biases = bool(biases)
        self.latency = mac_latency(self.ops, self.tree_register)

        chunk, word = chunk_layout(fmt, lanes), signed(fmt.data_bits)
        members = {"valid": In(1), "op": In(MacOp), "weights": In(chunk), "first": In(1), "last": In(1)}
        if self.ops & {MacOp.F, MacOp.G}:
            members["vector"] = In(chunk)
        if self.ops & {MacOp.B, MacOp.G}:
            members["scalar"] = In(word)
        if MacOp.F in self.ops:
            members["relu"] = In(1)
            members.update(dot_valid=Out(1), dot_z=Out(word), dot_wide=Out(signed(fmt.acc_bits - fmt.frac_bits)),
                           dot_act=Out(word), dot_mask=Out(1))
        if MacOp.B in self.ops:
            chunk_index = range(max(2, max_chunks))  # at least one bit: Verilog has no 0-bit vectors
            members["chunk"] = In(chunk_index)
            members.update(col_valid=Out(1), col_chunk=Out(chunk_index), col_data=Out(chunk))
        if self.biases:
            members["bias"] = In(chunk)
        if MacOp.G in self.ops:
            if self.accumulate_g:
                members["accumulate"] = In(1)
                if self.biases:
                    members.update(bias_run=In(1), upd_bias_valid=Out(1))
            members.update(upd_valid=Out(1), upd_weights=Out(chunk))
            if self.biases:
                members["upd_bias"] = Out(chunk)
        if tag_shape is not None:
            members["tag"] = In(tag_shape)
            for prefix, op in (("dot", MacOp.F), ("col", MacOp.B), ("upd", MacOp.G)):
                if op in self.ops:
                    members[f"{prefix}_tag"] = Out(tag_shape)
        super().__init__(members)

    def min_task_overhead(self, read_cycles: int = 1) -> int:
        """Smallest ``task_overhead_cycles``: operand read latency + the slowest operation built."""
        return read_cycles + max(self.latency.values())

    # -- elaboration -----------------------------------------------------------------------
    def elaborate(self, platform):
        m = Module()
        fmt, lanes, bits = self.fmt, self.lanes, self.fmt.data_bits
        has_f, has_b, has_g = (op in self.ops for op in (MacOp.F, MacOp.B, MacOp.G))

        # stage 0 (operand cycle t): operand select into the multiplier's input registers;
        # stage 1 (t + 1): multiply into the products register
        zero = Const(0, signed(bits))
        products = Signal(data.ArrayLayout(signed(2 * bits), lanes), name="products")
        is_f, is_b, is_g = (self.op == MacOp.F), (self.op == MacOp.B), (self.op == MacOp.G)
        xs, ys = [], []
        for k in range(lanes):
            w = self.weights[k]
            v = self.vector[k] if (has_f or has_g) else zero
            s = self.scalar if (has_b or has_g) else zero
            x = Signal(signed(bits), name=f"x{k}")
            y = Signal(signed(bits), name=f"y{k}")
            m.d.sync += [x.eq(Mux(is_g, v, w) if has_g else w),
                         y.eq(Mux(is_f, v, s) if has_f and (has_b or has_g) else (v if has_f else s))]
            m.d.sync += products[k].eq(x * y)
            xs.append(x)
            ys.append(y)
        # the bias row, in the products cycle: b·1.0 + the rounding constant is b over frac_bits bits of it
        bias2 = delayed(m, self.bias, "bias", 2) if self.biases else None

        tag = self.tag if self.tag_shape is not None else None
        half = 1 << (fmt.frac_bits - 1) if fmt.frac_bits else 0  # round half up: added up front

        def start(bias):
            """A sum's first value: the rounding constant, and b·1.0 with a bias (a concatenation)."""
            return Cat(Const(half, fmt.frac_bits), bias).as_signed() if self.biases else half

        def to_word(acc):
            """to_data of an accumulator that already holds the rounding constant: shift, saturate."""
            return saturate(acc >> fmt.frac_bits, bits)

        if has_f:
            valid2 = delayed(m, self.valid & is_f, "f_valid", 2)
            first2, last2 = delayed(m, self.first, "f_first", 2), delayed(m, self.last, "f_last", 2)
            relu2 = delayed(m, self.relu, "f_relu", 2)
            tag2 = delayed(m, tag, "f_tag", 2) if tag is not None else None
            tree = _tree(products[k] for k in range(lanes))
            if self.tree_register:
                tree_reg = Signal(signed(_tree_bits(2 * bits, lanes)), name="tree")
                m.d.sync += tree_reg.eq(tree)
                tree = tree_reg
                valid2, first2, last2 = (delayed(m, valid2, "f_valid_t"), delayed(m, first2, "f_first_t"),
                                         delayed(m, last2, "f_last_t"))
                relu2 = delayed(m, relu2, "f_relu_t")
                tag2 = delayed(m, tag2, "f_tag_t") if tag2 is not None else None
            # the row accumulator starts at the rounding constant, so z needs no adder:
            # (Σ + 2**(k−1)) >> k, then saturation, straight from the register
            acc = Signal(signed(fmt.acc_bits), name="row_acc")
            row_bias = None
            if self.biases:  # an fc row's bias, lane 0 of the bias row, at the accumulator stage
                row_bias = bias2[0] if not self.tree_register else delayed(m, bias2[0], "f_bias_t")
            with m.If(valid2):
                m.d.sync += acc.eq(Mux(first2, start(row_bias), acc) + tree)
            relu3 = delayed(m, relu2, "f_relu3")
            z = Signal(signed(bits), name="z")
            shifted = acc >> fmt.frac_bits
            m.d.comb += [z.eq(to_word(acc)), self.dot_z.eq(z), self.dot_wide.eq(shifted),
                         self.dot_act.eq(Mux(relu3 & shifted[-1], 0, z)),
                         self.dot_mask.eq(~shifted[-1] & shifted.any())]
            m.d.sync += self.dot_valid.eq(valid2 & last2)
            if tag is not None:
                m.d.sync += self.dot_tag.eq(tag2)

        if has_b:
            acc_layout = data.ArrayLayout(signed(fmt.acc_bits), lanes)
            m.submodules.column_acc = acc_mem = memory.Memory(shape=acc_layout, depth=max(2, self.max_chunks),
                                                              init=[])
            write = acc_mem.write_port()
            read = acc_mem.read_port(transparent_for=(write,))
            valid1 = delayed(m, self.valid & is_b, "b_valid")
            first1, last1 = delayed(m, self.first, "b_first"), delayed(m, self.last, "b_last")
            chunk1 = delayed(m, self.chunk, "b_chunk")
            valid2, first2 = delayed(m, valid1, "b_valid2"), delayed(m, first1, "b_first2")
            last2 = delayed(m, last1, "b_last2")
            chunk2 = delayed(m, chunk1, "b_chunk2")
            m.d.comb += [read.addr.eq(chunk1), read.en.eq(valid1 & ~first1)]
            sums = Signal(acc_layout, name="column_sums")
            for k in range(lanes):
                m.d.comb += sums[k].eq(Mux(first2, start(bias2[k] if self.biases else None), read.data[k])
                                       + products[k])
            m.d.comb += [write.addr.eq(chunk2), write.data.eq(sums), write.en.eq(valid2)]
            m.d.sync += [self.col_valid.eq(valid2 & last2), self.col_chunk.eq(chunk2)]
            m.d.sync += [self.col_data[k].eq(to_word(sums[k])) for k in range(lanes)]
            if tag is not None:
                m.d.sync += self.col_tag.eq(delayed(m, tag, "b_tag", 2))

        if has_g:
            valid2 = delayed(m, self.valid & is_g, "g_valid", 2)
            old = delayed(m, self.weights, "g_weights", 2)
            shift = fmt.frac_bits + fmt.lr_shift

            def scale(word):
                """W − ((p + 2**(s−1)) >> s) = ((W << s | 2**(s−1) − 1) − p) >> s: the minuend of one subtractor."""
                return Cat(Const((1 << (shift - 1)) - 1, shift), word).as_signed() if shift else word

            def unit(delta):
                """δ·1.0 as a product (binary point 2·frac_bits): a bias's product, no multiplier."""
                return Cat(Const(0, fmt.frac_bits), delta).as_signed() if fmt.frac_bits else delta

            scaled = [scale(old[k]) for k in range(lanes)]
            first2 = delayed(m, self.first, "g_first", 2)
            accumulate2 = delayed(m, self.accumulate, "g_accumulate", 2) if self.accumulate_g else Const(0)
            if self.accumulate_g:
                # accumulating G keeps the minuend itself, g_rest = (W << s | 2**(s−1) − 1) − Σ products
                # so far (W: the run's weight row, read at every issue), so that its update is one
                # subtractor too: first ? scaled : g_rest, minus the products, then the shift
                last2 = delayed(m, self.last, "g_last", 2)
                rest_shape = signed(max(bits + shift, fmt.acc_bits) + 1)
                g_rest = Signal(data.ArrayLayout(rest_shape, lanes), name="g_rest")
                remainders = Signal(data.ArrayLayout(rest_shape, lanes), name="g_remainders")
                for k in range(lanes):
                    m.d.comb += remainders[k].eq(Mux(accumulate2 & ~first2, g_rest[k], scaled[k]) - products[k])
                with m.If(valid2 & accumulate2):
                    m.d.sync += g_rest.eq(remainders)
                m.d.comb += self.upd_valid.eq(valid2 & (~accumulate2 | last2))
                news = [remainders[k] >> shift for k in range(lanes)]
            else:
                m.d.comb += self.upd_valid.eq(valid2)
                news = [(scaled[k] - products[k]) >> shift for k in range(lanes)]
            if self.biases:
                # the bias's step, as the weights' with δ·1.0 for the product: per issue the fc G's δ (the
                # scalar, lane 0); over a run (accumulating G) each lane's δ (the vector), kept in b_rest
                fc_delta = delayed(m, ys[0], "g_scalar")
                rest_shape = signed(max(bits + shift, fmt.acc_bits) + 1)
                b_rest = Signal(data.ArrayLayout(rest_shape, lanes), name="b_rest")
                b_remainders = Signal(data.ArrayLayout(rest_shape, lanes), name="b_remainders")
                for k in range(lanes if self.accumulate_g else 1):
                    step, minuend = unit(fc_delta) if k == 0 else 0, scale(bias2[k])
                    if self.accumulate_g:
                        step = Mux(accumulate2, unit(delayed(m, xs[k], f"g_delta{k}")), step)
                        minuend = Mux(accumulate2 & ~first2, b_rest[k], minuend)
                    m.d.comb += b_remainders[k].eq(minuend - step)
                    m.d.comb += self.upd_bias[k].eq(saturate(b_remainders[k] >> shift, bits))
                if self.accumulate_g:
                    bias_run2 = delayed(m, self.bias_run, "g_bias_run", 2)
                    with m.If(valid2 & accumulate2 & bias_run2):
                        m.d.sync += b_rest.eq(b_remainders)
                    m.d.comb += self.upd_bias_valid.eq(valid2 & accumulate2 & bias_run2 & last2)
            for k in range(lanes):
                m.d.comb += self.upd_weights[k].eq(saturate(news[k], bits))
            if tag is not None:
                m.d.comb += self.upd_tag.eq(delayed(m, tag, "g_tag", 2))
        return m

    # -- resources -------------------------------------------------------------------------
    def estimate(self, family: est.Family | str = est.ECP5) -> est.Resources:
        return mac_resources(self.fmt, self.lanes, max_chunks=self.max_chunks, ops=self.ops,
                             tree_register=self.tree_register, tag_shape=self.tag_shape,
                             accumulate_g=self.accumulate_g, biases=self.biases, family=family)


def mac_resources(fmt: FixedFormat, lanes: int, *, max_chunks: int = 1, ops=("F", "B", "G"),
                  tree_register: bool = False, tag_shape=None, accumulate_g: bool = False, biases: bool = False,
                  family: est.Family | str = est.ECP5) -> est.Resources:
    """Expected LUT/FF/DSP/BRAM of a VectorMAC of these parameters (hw/estimate.py's assumptions)."""
    fam = est.get_family(family)
    ops = _ops(ops)
    bits, acc_bits = fmt.data_bits, fmt.acc_bits
    has_f, has_b, has_g = (op in ops for op in (MacOp.F, MacOp.B, MacOp.G))
    tag_bits = 0 if tag_shape is None else Shape.cast(tag_shape).width
    chunk_bits = math.ceil(math.log2(max(2, max_chunks)))
    total = est.multiplier(bits, bits, fam) * lanes + est.register(2 * bits * lanes)
    total += est.register(2 * bits * lanes + 4 + tag_bits)  # operand registers, op/valid/tag one stage
    x_inputs, y_inputs = 1 + int(has_g), int(has_f) + int(has_b or has_g)
    total += (est.mux(bits, x_inputs, fam) + est.mux(bits, y_inputs, fam)) * lanes
    total += est.logic(2, 3, fam)  # op decode
    round_bits = acc_bits - fmt.frac_bits + 1  # the bits the rounding adder carries into
    to_data_cost = est.adder(round_bits) + est.saturator(acc_bits + 1 - fmt.frac_bits, bits, fam)
    if has_f:
        widths = []
        count, width = lanes, 2 * bits
        while count > 1:
            widths += [width + 1] * (count // 2)
            count, width = count - count // 2, width + 1
        total += sum((est.adder(w) for w in widths), est.Resources())
        control = 4 + tag_bits  # valid, first, last, relu (+ tag) delayed into the accumulator stage
        if tree_register:
            total += est.register(_tree_bits(2 * bits, lanes) + control)
        total += est.adder(acc_bits) + est.logic(2, acc_bits, fam) + est.register(acc_bits + control)
        total += to_data_cost + est.logic(2, bits, fam) + est.logic(bits, 1, fam)  # ReLU, mask
        total += est.register(2 * bits + 2 + 2 + 2 * tag_bits)  # z, act, mask, valid (+ done, relu, tags)
    if has_b:
        total += est.memory(max(2, max_chunks), lanes * acc_bits, fam, transparent=True)
        total += (est.adder(acc_bits) + est.logic(2, acc_bits, fam) + to_data_cost) * lanes
        total += est.register(3 + chunk_bits + tag_bits)  # valid, first, last, chunk (+ tag) delayed
        total += est.register(lanes * bits + 1 + chunk_bits + tag_bits)  # outputs
    if has_g:
        shift = fmt.frac_bits + fmt.lr_shift
        # the one subtractor: of the 2·data_bits product, or (accumulating G) of the run's remainder
        sub_bits = max(bits + shift, acc_bits) + 1 if accumulate_g else 2 * bits
        step_bits = max(1, sub_bits + 1 - shift)
        total += (est.adder(max(0, sub_bits + 1 - max(0, shift - 1))) + est.adder(max(bits, step_bits) + 1)
                  + est.saturator(max(bits, step_bits) + 1, bits, fam)) * lanes
        total += est.register(2 * (lanes * bits + 1 + tag_bits))  # old weights, valid (+ tag), two stages
        if accumulate_g:
            # per lane the remainder register g_rest and the select in front of the subtractor;
            # accumulate, first, last delayed two stages
            total += (est.register(sub_bits) + est.logic(3, sub_bits, fam)) * lanes
            total += est.register(2 * 3)
            if biases:  # the bias remainder: its register, select and subtractor, δ and bias_run delayed
                total += (est.register(sub_bits + bits) + est.logic(3, sub_bits, fam) + est.adder(sub_bits)
                          + est.saturator(sub_bits + 1 - shift, bits, fam)) * lanes + est.register(2)
        elif biases:  # an fc G's bias step: lane 0's subtractor and saturation, δ delayed
            total += est.adder(sub_bits) + est.saturator(sub_bits + 1 - shift, bits, fam) + est.register(bits)
    if biases:
        total += est.register(2 * lanes * bits)  # the bias row, two stages
    return total
