"""RTL generation: ScheduleTable + FixedFormat + initial weights → Verilog and a sidecar JSON.

:func:`generate` writes ``DIR/<top>.v`` (one top module, from :mod:`layerpipe.hw.verilog_writer`)
and ``DIR/<top>.json``, the sidecar a testbench needs: port names and widths, the
stream payload layouts, the numeric format, the weight-bank layout and the initial
weights, the schedule (period, latency, predicted cycles) and the memories built. Both
files are written atomically (a temporary file in the same folder, then a rename).

:func:`accelerator_for_table` is the entry point of the board flow
(:mod:`layerpipe.boards.build`): the Amaranth component for a table, with the default
format and weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from amaranth.hdl import Value
from amaranth.lib import wiring

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.files import write_text_atomic
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.table import SAMPLE_COUNTS, ScheduleTable
from layerpipe.hw.accelerator import Accelerator
from layerpipe.hw.conv_layout import bias_store_shape
from layerpipe.hw.plan import (
    CYCLE_BITS,
    INPUT_ITEMS,
    HardwarePlan,
    error_bits,
    hardware_plan,
    pipeline_cycles,
    result_layout,
    sample_layout,
)
from layerpipe.hw.sequencer import SAMPLE_BITS
from layerpipe.hw.verilog_writer import convert
from layerpipe.sim import golden

__all__ = ["SIDECAR_SCHEMA", "SIDECAR_VERSION", "DEFAULT_TOP", "Generated", "initial_weights", "initial_biases",
           "accelerator_for_table", "component_ports", "generate", "sidecar"]

SIDECAR_SCHEMA = "layerpipe-rtl-sidecar"
SIDECAR_VERSION = 1
DEFAULT_TOP = "layerpipe_top"


def initial_weights(network, fmt: FixedFormat, seed: int = 0) -> list[np.ndarray]:
    """The golden model's initial weights of ``seed`` (Glorot uniform, or the network file's), quantised to
    data words."""
    return [fmt.quantize(w) for w in golden.initial_weights(network, seed)]


def initial_biases(network, fmt: FixedFormat) -> list | None:
    """The golden model's initial biases (the network file's, else None: all 0), quantised to data words."""
    biases = golden.initial_biases(network)
    return None if biases is None else [None if b is None else fmt.quantize(b) for b in biases]


def _as_table(table) -> ScheduleTable:
    if isinstance(table, ScheduleTable):
        return table
    if isinstance(table, dict):
        return ScheduleTable(table)  # schema validation: one-line LayerPipeError
    raise LayerPipeError(f"expected a ScheduleTable, got {type(table).__name__}")


def accelerator_for_table(table, fmt: FixedFormat | None = None, weights: str | None = None,
                          initial=None, seed: int = 0, biases=None) -> Accelerator:
    """The accelerator component for ``table`` (default format, seeded initial weights, biases 0
    unless ``biases`` gives them).

    ``table``: a ScheduleTable (or its JSON dictionary), validated and lowered here for ``fmt``
    and ``weights`` (default ``stash``); or a :class:`~layerpipe.hw.plan.HardwarePlan` made already, which
    carries its own format and weight policy (``fmt`` and ``weights`` must then be left out).
    """
    if isinstance(table, HardwarePlan):
        if fmt is not None or weights is not None:
            raise LayerPipeError("a HardwarePlan carries its format and weight policy; pass neither fmt nor weights")
        plan = table
    else:
        plan = hardware_plan(_as_table(table), fmt or FixedFormat(), weights or "stash")
    fmt = plan.fmt
    if initial is None:
        initial = initial_weights(plan.table.network, fmt, seed)
    if biases is None:
        biases = initial_biases(plan.table.network, fmt)
    return Accelerator(plan, initial, biases)


def component_ports(component) -> list[dict]:
    """Verilog ports of ``component`` as the sidecar lists them: ``clk``, ``rst``, then member ``a.b`` as ``a__b``."""
    ports = [{"name": "clk", "direction": "in", "width": 1}, {"name": "rst", "direction": "in", "width": 1}]
    for path, member, value in component.signature.flatten(component):
        ports.append({"name": "__".join(str(part) for part in path),
                      "direction": "in" if member.flow == wiring.In else "out",
                      "width": len(Value.cast(value))})
    return ports


def _fields(layout, fmt: FixedFormat) -> list[dict]:
    fields = []
    for name, field in layout:
        shape = field.shape
        entry = {"name": name, "offset": field.offset, "width": field.width}
        if hasattr(shape, "length"):  # ArrayLayout of data words
            entry.update(elements=shape.length, element_bits=fmt.data_bits, signed=True)
        else:
            entry.update(signed=False)
        fields.append(entry)
    return fields


def sidecar(acc: Accelerator, top: str = DEFAULT_TOP, verilog_file: str | None = None) -> dict:
    """Everything a testbench needs besides the Verilog (JSON-ready)."""
    plan = acc.plan
    table, fmt, lanes = plan.table, plan.fmt, plan.lanes
    stall_note = ("the schedule stalls (all of it) while F_1 of sample n waits for sample n on sample_in, or "
                  "F_L waits for result_out to take the previous result; cycles counts executed schedule "
                  "cycles only, stall_cycles the stalled ones")
    memories = []
    bank_rows = plan.bank_rows
    for layer in table.network.layers:
        conv = plan.conv_banks.get(layer.index)
        if conv is None:
            memories.append({"name": f"bank{layer.index}", "kind": "weight bank", "rows": bank_rows[layer.index],
                             "width": lanes * fmt.data_bits, "ports": 2})
        else:  # hw/conv_bank.py
            memories.append({"name": f"bank{layer.index}", "kind": "conv weight store",
                             "rows": bank_rows[layer.index], "width": lanes * fmt.data_bits,
                             "replicas": len(conv.readers), "halves": 2 if conv.double_buffered else 1})
        if layer.bias:  # hw/conv_layout.py bias_store_shape
            store = plan.bias_stores[layer.index]
            rows, words = bias_store_shape(layer, lanes)
            memories.append({"name": f"bias{layer.index}", "kind": "bias store", "rows": rows,
                             "width": words * fmt.data_bits, "replicas": len(store.readers),
                             "halves": 2 if store.double_buffered else 1})
    for layer, versions in plan.stash.items():
        memories.append({"name": f"stash{layer}", "kind": "stash", "rows": versions * bank_rows[layer],
                         "width": lanes * fmt.data_bits, "versions": versions})
    for item, geom in plan.buffers.items():
        consumers = plan.consumers(item)
        readers = [side for p in consumers for side in plan.pes[p].readers(item)]
        copies = 1 if item in INPUT_ITEMS else len(consumers)
        memories.append({"name": item, "kind": "delay line", "slots": geom.slots, "rows": geom.depth,
                         "width": geom.row(fmt).size, "copies": copies, "consumers": consumers,
                         "read_sides": readers})
    return {
        "schema": SIDECAR_SCHEMA,
        "schema_version": SIDECAR_VERSION,
        "top": top,
        "verilog": verilog_file,
        "network": table.network.to_dict(),
        "sizes": table.network.sizes,
        "policy": table.policy,
        "processors": table.processors,
        "processing_elements": sorted(plan.pes),
        "weights_policy": plan.weights,
        "format": fmt.to_dict(),
        "cost_model": table.cost.to_dict(),
        "lanes": lanes,
        "pipeline_cycles": pipeline_cycles(),
        "clock": {"name": "clk", "reset": "rst", "reset_active": "high", "reset_synchronous": True},
        "ports": component_ports(acc),
        "streams": {
            "sample_in": {"payload": "sample_in__payload", "valid": "sample_in__valid", "ready": "sample_in__ready",
                          "fields": _fields(sample_layout(table, fmt), fmt)},
            "result_out": {"payload": "result_out__payload", "valid": "result_out__valid",
                           "ready": "result_out__ready", "fields": _fields(result_layout(table, fmt), fmt),
                           "error": "sum over the outputs of (y_j - target_j)**2, exact and unsaturated "
                                    f"(sim/fixed.py squared_error): an unsigned {error_bits(table, fmt)}-bit "
                                    f"integer with binary point {2 * fmt.frac_bits}"},
        },
        "control": {"start": "pulse while idle: latch n_samples, reset the schedule, run",
                    "busy": "from start until the schedule ended and the last result was taken",
                    "done": "high after a run until the next start",
                    "cycles": f"{CYCLE_BITS}-bit count of executed schedule cycles, from start until every "
                              "sequencer has finished its last task run (sample N - 1 at the task's lag)",
                    "stall_cycles": f"{CYCLE_BITS}-bit count of stalled cycles", "stalls": stall_note,
                    "n_samples_bits": SAMPLE_BITS},
        "weight_readback": {"layer": "wread_layer (1-based)", "addr": "wread_addr (bank row)",
                            "data": "wread_data, two cycles later, only while idle",
                            "layout": "fc: bank row j*C + c, lane k holds W[j, c*lanes + k] (zero beyond N_in), "
                                      "C = ceil(N_in / lanes), after a conv layer the columns in its "
                                      "channel-chunked order; conv: row ((c*K + ky)*K + kx)*O_c + oc, lane k "
                                      "holds W[oc*lanes + k, c, ky, kx] (docs/semantics.md); a bias follows "
                                      "its layer's weights (bank rows R, docs/hardware.md): fc row R + j, "
                                      "lane 0 holds b[j]; conv row R + oc, lane k holds b[oc*lanes + k]; "
                                      "lane k at bits [k*data_bits, (k+1)*data_bits)",
                            "rows": {str(layer): rows for layer, rows in plan.readback_rows.items()},
                            "bank_rows": {str(layer): rows for layer, rows in plan.bank_rows.items()}},
        "weight_load": {"layer": "wwrite_layer (1-based)", "addr": "wwrite_addr (the read-back's row)",
                        "data": "wwrite_data (the read-back's layout)",
                        "en": "wwrite_en: the row is written at the end of the cycle, only while idle (not busy)"},
        "initial_weights": [w.tolist() for w in acc.initial_weights],
        "initial_biases": [None if b is None else b.tolist() for b in acc.initial_biases],
        "bank_ports": {str(layer): [{"task": u.task, "read_port": u.read, "write_port": u.write} for u in uses]
                       for layer, uses in plan.ports.items()},
        "memories": memories,
        "observe": acc.observation(),
        "schedule": {
            "period_cycles": table.period_cycles,
            "latency_cycles": table.latency_cycles,
            "total_cycles_formula": "(samples - 1) * period_cycles + latency_cycles",
            "total_cycles": {str(n): table.total_cycles(n) for n in SAMPLE_COUNTS},
            "staleness": table.staleness,
            "processor_tasks": table.data["processor_tasks"],
        },
    }


@dataclass(frozen=True)
class Generated:
    verilog: Path
    sidecar: Path
    top: str
    accelerator: Accelerator
    info: dict


def generate(table, out_dir, fmt: FixedFormat | None = None, weights: str | None = None, initial=None,
             seed: int = 0, top: str = DEFAULT_TOP, biases=None) -> Generated:
    """Write ``out_dir/<top>.v`` and ``out_dir/<top>.json`` for ``table`` (a table or a plan: see
    :func:`accelerator_for_table`)."""
    acc = accelerator_for_table(table, fmt, weights, initial, seed, biases)
    out_dir = Path(out_dir)
    v_path, j_path = out_dir / f"{top}.v", out_dir / f"{top}.json"
    text = convert(acc, top)
    info = sidecar(acc, top, v_path.name)
    write_text_atomic(v_path, text)
    write_text_atomic(j_path, json.dumps(info, indent=1) + "\n")
    return Generated(v_path, j_path, top, acc, info)
