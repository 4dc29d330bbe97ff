"""Random stimulus and the numpy models that predict what each component answers, for the cocotb benches.

Nothing here looks at the RTL's logic: the arithmetic is :mod:`layerpipe.sim.fixed`'s (the
golden model's kernels on int64 numpy arrays), the delay line is a list of samples, and the
timing is the latency the component declares (``VectorMAC.latency``, the contract the PE
and the cost model's task overhead are built on). Every value driven or
expected is an unsigned bit pattern of its port's width (:mod:`layerpipe.hw.lanes` for lane arrays).
"""

from __future__ import annotations

import numpy as np

from layerpipe.core.numerics import FixedFormat
from layerpipe.hw.conv_layout import bias_store_rows, layer_bank_depth, layer_bank_words
from layerpipe.hw.lanes import pack_lanes, pad_lanes
from layerpipe.hw.mac import MacOp, mac_latency
from layerpipe.hw.weight_bank import weights_to_words
from layerpipe.sim import fixed, golden

MAC_MONITORS = {"dot": ("dot_valid", ["dot_z", "dot_act", "dot_mask", "dot_tag"]),
                "col": ("col_valid", ["col_chunk", "col_data", "col_tag"]),
                "upd": ("upd_valid", ["upd_weights", "upd_tag"])}
MAC_INPUTS = ("valid", "op", "weights", "vector", "scalar", "first", "last", "relu", "chunk", "tag")


def _u(value, bits: int) -> int:
    return int(value) & ((1 << bits) - 1)


def random_mac_tasks(fmt: FixedFormat, lanes: int, max_chunks: int, count: int, rng) -> list[dict]:
    """``count`` F, B and G tasks of random shapes; every other one spans the whole data range (saturation)."""
    tasks = []
    for n in range(count):
        rows, cols = int(rng.integers(1, 6)), int(rng.integers(1, max_chunks * lanes + 1))
        low, high = (fmt.data_min, fmt.data_max) if n % 2 else (-3000, 3000)

        def words(*shape, low=low, high=high):
            return rng.integers(low, high + 1, shape)

        op = "FBG"[n % 3]
        task = {"op": op, "W": words(rows, cols)}
        if op in "FG":
            task["a"] = words(cols)
        if op in "BG":
            task["delta"] = words(rows)
        if op == "F":
            task["relu"] = bool(rng.integers(0, 2))
        tasks.append(task)
    return tasks


def mac_stimulus(fmt: FixedFormat, lanes: int, latency: dict, tasks: list[dict], rng, bubble: float = 0.2,
                 tag_bits: int = 8, drain: int = 8) -> tuple[dict, list[dict]]:
    """Drive columns for the VectorMAC's inputs (tasks back to back, random idle cycles with random
    operands) and the expected ``[cycle, …]`` items of its ``dot``/``col``/``upd`` outputs, each
    ``latency[op]`` cycles after its operand cycle (``op`` "F", "B" or "G")."""
    bits = fmt.data_bits
    columns = {port: [] for port in MAC_INPUTS}
    expected = {name: [] for name in MAC_MONITORS}

    def issue(valid, op, weights, vector, scalar, first, last, relu, chunk, tag):
        values = (valid, op, pack_lanes(weights, bits), pack_lanes(vector, bits), _u(scalar, bits), first, last,
                  relu, chunk, tag)
        for port, value in zip(MAC_INPUTS, values, strict=True):
            columns[port].append(int(value))
        return len(columns["valid"]) - 1

    def idle():
        while rng.random() < bubble:  # valid low: whatever the other inputs say must be ignored
            junk = rng.integers(fmt.data_min, fmt.data_max + 1, 2 * lanes + 1)
            issue(0, int(rng.integers(0, 3)), junk[:lanes], junk[lanes:2 * lanes], junk[-1], *rng.integers(0, 2, 3),
                  0, int(rng.integers(0, 1 << tag_bits)))

    tag = 0
    for task in tasks:
        op, W = task["op"], pad_lanes(task["W"], lanes)
        rows, chunks = W.shape[0], W.shape[1] // lanes
        a = pad_lanes(task["a"], lanes) if "a" in task else np.zeros(W.shape[1], dtype=np.int64)
        delta = np.asarray(task.get("delta", np.zeros(rows)), dtype=np.int64)
        if op == "F":
            z = fixed.forward(W, a, fmt, hidden=False)[0]
            act = fixed.forward(W, a, fmt, hidden=task["relu"])[0]
        elif op == "B":
            e = fixed.backward(W, delta, fmt)
        else:
            new = fixed.update(W, delta, a, fmt)
        for i in range(rows):
            for c in range(chunks):
                idle()
                cut = slice(c * lanes, (c + 1) * lanes)
                first, last = (c == 0, c == chunks - 1) if op == "F" else (i == 0, i == rows - 1)
                cycle = issue(1, MacOp[op].value, W[i, cut], a[cut], delta[i], first, last, task.get("relu", 0), c,
                              tag)
                done = cycle + latency[op]
                if op == "F" and last:
                    expected["dot"].append([done, _u(z[i], bits), _u(act[i], bits), int(z[i] > 0), tag])
                elif op == "B" and last:
                    expected["col"].append([done, c, pack_lanes(e[cut], bits), tag])
                elif op == "G":
                    expected["upd"].append([done, pack_lanes(new[i, cut], bits), tag])
                tag = (tag + 1) % (1 << tag_bits)
    for port in MAC_INPUTS:
        columns[port] += [0] * drain
    monitors = [{"name": name, "valid": valid, "fields": fields, "delay": 0, "expected": expected[name]}
                for name, (valid, fields) in MAC_MONITORS.items()]
    return columns, monitors


def delay_line_stimulus(line, samples: np.ndarray, period: int, write_at: int, read_at: list[int],
                        wordwise: bool = False, model_delays=None) -> tuple[dict, list[dict]]:
    """Sample n is written in period n from cycle ``write_at`` (a chunk per cycle, or a word per cycle
    with lane enables); read side i reads every chunk of its sample from cycle ``read_at[i]`` and
    advances with its last one. The model: side i with delay k reads what was written k samples ago
    (``model_delays`` replaces the delays, to show a wrong model is caught)."""
    lanes, chunks, count = line.lanes, line.chunks, len(samples)
    bits = line.row.elem_shape.width
    padded = pad_lanes(samples, lanes)
    write_len = padded.shape[1] if wordwise else chunks
    if write_at + write_len > period or any(r + chunks > period for r in read_at):
        raise ValueError("the accesses do not fit in the period")
    cycles = count * period + 2
    ports = ["w__en", "w__chunk", "w__data", "w__advance"]
    ports += [f"r{i}__{m}" for i in range(len(read_at)) for m in ("en", "chunk", "advance")]
    columns = {port: [0] * cycles for port in ports}
    expected = [[] for _ in read_at]
    delays = model_delays or line.delays
    for n in range(count):
        base = n * period
        for step in range(write_len):
            t = base + write_at + step
            if wordwise:
                c, k = divmod(step, lanes)
                row, enable = [0] * lanes, 1 << k
                row[k] = padded[n, step]
            else:
                c, row, enable = step, padded[n, step * lanes:(step + 1) * lanes], (1 << lanes) - 1
            columns["w__en"][t], columns["w__chunk"][t], columns["w__data"][t] = enable, c, pack_lanes(row, bits)
            columns["w__advance"][t] = int(step == write_len - 1)
        for i, (start, k) in enumerate(zip(read_at, line.delays, strict=True)):
            for c in range(chunks):
                t = base + start + c
                columns[f"r{i}__advance"][t] = int(c == chunks - 1)
                if n < k:
                    continue  # nothing was written k samples before: the side only moves on
                columns[f"r{i}__en"][t], columns[f"r{i}__chunk"][t] = 1, c
                source = n - delays[i]
                row = padded[source, c * lanes:(c + 1) * lanes] if source >= 0 else np.zeros(lanes)
                expected[i].append([t + 1, pack_lanes(row, bits)])
    monitors = [{"name": f"r{i}", "valid": f"r{i}__en", "fields": [f"r{i}__data"], "delay": 1,
                 "expected": expected[i]} for i in range(len(read_at))]
    return columns, monitors


def pe_bench_config(pe, weights, inputs, targets, biases=None) -> dict:
    """Memories, arrivals and the golden model's results and final weights (every layer's bank, then the bias
    stores of the layers with a bias) for the PE of a one-processor table."""
    table, fmt = pe.table, pe.fmt
    if table.processors != 1:
        raise ValueError(f"the PE bench models a one-processor table's memories; this table has "
                         f"{table.processors} processors")
    if any(plan.stash for plan in pe.plans):
        raise ValueError("the PE bench does not model stash memories; schedule a table without weight staleness")
    lanes, bits, samples = table.cost.lanes, fmt.data_bits, len(inputs)
    layers = table.network.layers
    biases = biases or [None] * len(layers)

    def memories(layer_weights, layer_biases):
        """Each layer's bank rows, then each bias store's (hw/conv_layout.py), as packed words."""
        banks = [layer_bank_words(layer, w, fmt, lanes)[:layer_bank_depth(layer, lanes)]
                 for layer, w in zip(layers, layer_weights, strict=True)]
        stores = [[pack_lanes(row, bits) for row in bias_store_rows(layer, b, lanes)]
                  for layer, b in zip(layers, layer_biases, strict=True) if layer.bias]
        return banks + stores

    ports = [([f"{p.name}_w" for p in pe.plans if p.reads_bank and p.layer == layer.index],
              [f"{p.name}_wr" for p in pe.plans if p.kind == "G" and p.layer == layer.index]) for layer in layers]
    ports += [([f"{p.name}_b" for p in pe.plans if p.bias_rows and p.layer == layer.index],
               [f"{p.name}_bwr" for p in pe.plans if p.kind == "G" and p.bias_rows and p.layer == layer.index])
              for layer in layers if layer.bias]
    banks = [{"rows": rows, "reads": reads, "writes": writes}
             for rows, (reads, writes) in zip(memories(weights, biases), ports, strict=True)]
    rings = [{"name": item, "slots": geom.slots, "entries": geom.entries, "lanes": lanes,
              "element_bits": geom.row(fmt).size // lanes,
              "writer": f"{item}_wr" if item in pe.write_items else None, "readers": pe.readers(item)}
             for item, geom in pe.buffers.items()]
    period = table.period_cycles
    f1 = next(p for p in pe.plans if p.name == "F1")
    arrivals = []
    for n in range(samples):  # the input stream's job: sample n in its slot the cycle before F_1(n) starts
        cycle = max(0, (n + f1.lag) * period + f1.start - 1)
        arrivals += [[cycle, "a0", weights_to_words(inputs[n][None, :], fmt, lanes)],
                     [cycle, "target", weights_to_words(targets[n][None, :], fmt, lanes)]]
    reference = golden.train(table.network, inputs, targets, staleness=table, weights="stash", numerics="fixed",
                             fmt=fmt, init=weights, biases=biases)
    f_last = next(p for p in pe.plans if p.result)
    # hw/pe.py: z_j reaches the result port one read cycle + F's MAC latency after the row's last issue
    after_issue = 1 + mac_latency(("F",))[MacOp.F]
    results = []
    for n in range(samples):
        start = (n + f_last.lag) * period + f_last.start
        for j, (y, t) in enumerate(zip(reference.outputs[n], targets[n], strict=True)):
            results.append([start + (j + 1) * f_last.chunks - 1 + after_issue, j, _u(y, bits), _u(y - t, bits + 1)])
    return {"samples": samples, "cycles": table.total_cycles(samples) + 8, "banks": banks, "rings": rings,
            "arrivals": arrivals, "expected_results": results,
            "expected_banks": memories(reference.weights, reference.biases)}
