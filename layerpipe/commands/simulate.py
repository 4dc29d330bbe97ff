"""``layerpipe simulate``: execute a ScheduleTable cycle by cycle and compare it with its predictions."""

from __future__ import annotations

import json
import sys

from layerpipe import options
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.layer_kinds import require_layer_kinds
from layerpipe.core.table import ScheduleTable, load_table
from layerpipe.core.text import format_rows
from layerpipe.sched.scheduler import schedule
from layerpipe.sim.cyclesim import SimResult, prediction_mismatches, simulate


def register(subparsers) -> None:
    parser = subparsers.add_parser("simulate", help="run a schedule in the cycle simulator",
                                   description="Schedule a network (or load a table) and execute it sample by "
                                               "sample: cycles, utilisation, transfers, delay lines, weight "
                                               "banks; with --functional also the fixed-point training. "
                                               "Exit status 1 if the execution disagrees with the table's "
                                               "predictions, 2 if the table breaks a rule (named in one line).",
                                   formatter_class=options.HELP_FORMATTER)
    options.add_schedule(parser)
    parser.add_argument("--table", metavar="table.json",
                        help="simulate this ScheduleTable instead of scheduling --network (default: schedule)")
    parser.add_argument("--samples", type=int, default=100, help="training samples N to run")
    parser.add_argument("--functional", action="store_true",
                        help="also compute the fixed-point numerics (stride-1 convolutions and fully connected layers)")
    options.add_weights(parser, "functional", "in functional mode")
    parser.add_argument("--seed", type=int, default=0, help="initial weights in functional mode")
    options.add_data(parser)
    parser.add_argument("--trace", metavar="out.json",
                        help="write a Chrome/Perfetto trace of every task run (default: none)")
    parser.add_argument("--vcd", metavar="out.vcd",
                        help="write per-processor activity as a VCD waveform (default: none)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.samples < 1:
        raise LayerPipeError(f"--samples is {args.samples}; give at least 1")
    if args.table:
        table = load_table(args.table)
    else:
        table = schedule(options.network(args), args.processors, args.policy, options.cost_model(args))
    record = bool(args.trace or args.vcd)
    dataset = None
    if args.functional:
        result, dataset = _run_functional(table, args, record)
    else:
        result = simulate(table, args.samples, record_runs=record)
    if args.trace:
        from layerpipe.sim.trace import write_chrome_trace

        write_chrome_trace(result, args.trace, title=f"{table.network.name} {table.policy} P={table.processors}")
    if args.vcd:
        from layerpipe.sim.trace import write_vcd

        write_vcd(result, args.vcd)
    mismatches = prediction_mismatches(result, table)
    if args.json:
        print(json.dumps(_as_json(result, table, mismatches), indent=1))
    else:
        print(describe(result, table, mismatches, dataset))
        for path, what in ((args.trace, "trace"), (args.vcd, "VCD")):
            if path:
                print(f"{what} written to {path}")
    return 1 if mismatches else 0


def _run_functional(table: ScheduleTable, args, record: bool):
    """The functional run on ``--data`` and the data set."""
    require_layer_kinds(table.network, "functional")  # drop --functional to simulate its timing
    policy = options.weights(args, "functional")
    from layerpipe.sim.functional import run_functional, training_setup

    dataset = options.data(args, table.network, args.seed)
    inputs, targets, weights, fmt = training_setup(table.network, args.samples, args.seed, dataset=dataset)
    print(dataset.describe(), file=sys.stderr)
    return run_functional(table, inputs, targets, weights, fmt, policy, record_runs=record), dataset


def _verdict(predicted, simulated) -> str:
    return "equal" if predicted == simulated else "DIFFERENT"


def describe(result: SimResult, table: ScheduleTable, mismatches: list[str], dataset=None) -> str:
    n = result.samples
    mode = "functional" if result.functional is not None else "timing"
    lines = [f"network {table.network.name}  policy {table.policy}  processors {table.processors}  "
             f"memory {table.memory_model}  samples {n}  mode {mode}",
             f"{result.tasks_run:,} task runs executed; every dependency, processor, delay line and weight bank "
             "rule held", ""]
    interval = "-" if result.sample_interval_cycles is None else f"{result.sample_interval_cycles:,.1f}"
    lines.append(format_rows(["cycles", "predicted", "simulated", ""], [
        ["total", f"{table.total_cycles(n):,}", f"{result.total_cycles:,}",
         _verdict(table.total_cycles(n), result.total_cycles)],
        ["first-sample latency", f"{table.latency_cycles:,}", f"{result.first_sample_latency:,}",
         _verdict(table.latency_cycles, result.first_sample_latency)],
        ["period / sample interval", f"{table.period_cycles:,}", interval, ""]]))
    lines.append("")
    if result.steady_window is None:
        lines.append(f"steady state: none (N = {n} does not reach the last lag); utilisation over the whole run")
    else:
        first, end = result.steady_window
        lines.append(f"steady state: cycles [{first:,}, {end:,}), every task running each period")
    rows = []
    for p in range(result.processors):
        steady = "-" if result.utilisation is None else result.utilisation[p]
        rows.append([p, table.processor_utilisation[p], steady, result.utilisation_overall[p],
                     f"{result.busy_cycles[p]:,}"])
    mean = "-" if result.utilisation_mean is None else result.utilisation_mean
    rows.append(["mean", table.utilisation, mean, sum(result.busy_cycles) / (result.processors * result.total_cycles),
                 f"{sum(result.busy_cycles):,}"])
    lines.append(format_rows(["proc", "table util", "steady util", "overall util", "busy cycles"], rows))
    lines.append("")
    if result.link_words:
        lines.append(format_rows(["link", "words", "words/sample", "streaming cycles", "most streams at once"],
                                 [[f"{a}->{b}", f"{w:,}", w / n, f"{result.link_busy_cycles[(a, b)]:,}",
                                   result.link_peak_streams[(a, b)]]
                                  for (a, b), w in sorted(result.link_words.items())]))
    else:
        lines.append("links: none (no data crosses processors)")
    lines.append(f"transfers: table {table.transfer_words_per_sample:,} words/sample, simulated "
                 f"{result.transfer_words:,} words for {n} samples")
    lines.append("")
    lines.append(format_rows(["delay line", "words", "table depth", "simulated peak"],
                             [[d.item, d.words, d.depth, result.delay_line_peak[d.item]]
                              for d in table.delay_lines]))
    lines.append("")
    stale = table.staleness
    lines.append(format_rows(
        ["layer", "bank peak ports", "staleness F table/sim", "staleness B latest table/sim"],
        [[layer, result.bank_peak_ports[layer],
          f"{stale['forward'][layer]}/{_dash(result.staleness['forward'].get(layer))}",
          "-" if layer == 1 else f"{stale['backward_latest'].get(layer)}/"
                                 f"{_dash(result.staleness['backward_latest'].get(layer))}"]
         for layer in range(1, table.network.depth + 1)]))
    if result.functional is not None:
        lines += ["", _describe_training(result.functional, table.network, dataset)]
    lines.append("")
    if mismatches:
        lines += ["DISAGREES WITH THE TABLE:"] + [f"  {m}" for m in mismatches]
    else:
        lines.append("simulation agrees with the table's predictions")
    return "\n".join(lines)


def _describe_training(functional, network, dataset) -> str:
    from layerpipe.sim import golden

    one = functional.fmt.one
    errors = [int(e) / (one * one) for e in functional.squared_errors]  # back to real units
    window = min(len(errors), 100)
    text = (f"training: squared error {sum(errors[:window]) / window:.4f} over the first {window} samples, "
            f"{sum(errors[-window:]) / window:.4f} over the last {window}")
    test = dataset.test
    if test.labels is None:  # no classes (synthetic): the squared error says it all
        return text
    accuracy = golden.accuracy(functional.weights, test.inputs("fixed", functional.fmt, network), test.labels,
                               "fixed", functional.fmt, network, functional.biases)
    return f"{text}; {dataset.name} test accuracy {accuracy:.3f} ({len(test)} samples)"


def _dash(value) -> str:
    return "-" if value is None else str(value)


def _as_json(result: SimResult, table: ScheduleTable, mismatches: list[str]) -> dict:
    out = {
        "network": table.network.name, "policy": table.policy, "processors": table.processors,
        "memory_model": table.memory_model, "samples": result.samples,
        "period_cycles": table.period_cycles,
        "predicted": {"total_cycles": table.total_cycles(result.samples), "latency_cycles": table.latency_cycles,
                      "utilisation": table.processor_utilisation},
        "simulated": {
            "tasks_run": result.tasks_run, "total_cycles": result.total_cycles,
            "first_sample_latency": result.first_sample_latency,
            "sample_interval_cycles": result.sample_interval_cycles,
            "busy_cycles": result.busy_cycles, "utilisation": result.utilisation,
            "utilisation_mean": result.utilisation_mean, "utilisation_overall": result.utilisation_overall,
            "steady_window": result.steady_window,
            "links": [{"from": a, "to": b, "words": w, "streaming_cycles": result.link_busy_cycles[(a, b)],
                       "most_streams_at_once": result.link_peak_streams[(a, b)]}
                      for (a, b), w in sorted(result.link_words.items())],
            "delay_line_peak": result.delay_line_peak,
            "bank_peak_ports": result.bank_peak_ports, "staleness": result.staleness},
        "mismatches": mismatches,
    }
    if result.functional is not None:
        out["functional"] = {"squared_errors": [int(e) for e in result.functional.squared_errors],
                             "outputs": result.functional.outputs.tolist()}
    return out
