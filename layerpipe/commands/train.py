"""``layerpipe train``: train the golden model on a data set with the staleness a schedule implies."""

from __future__ import annotations

import dataclasses
import json
import sys

from layerpipe import options
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.numerics import FixedFormat
from layerpipe.core.onnx_model import check_export_path, write_onnx
from layerpipe.sched.scheduler import schedule
from layerpipe.sim.golden import NUMERICS, staleness_from_table
from layerpipe.sim.learning import learning_curve

DEFAULT_EPOCHS = 15


def register(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train on a data set with the schedule's delayed gradients",
                                   description="Schedule a network, then train the golden model (per-sample "
                                               "SGD) on a data set (--data, default scikit-learn's digits) "
                                               "with the per-layer staleness the schedule implies; prints "
                                               "accuracy per epoch.",
                                   formatter_class=options.HELP_FORMATTER)
    options.add_network(parser)
    options.add_data(parser)
    parser.add_argument("--processors", type=int, default=4, help="number of processing elements")
    options.add_policy(parser)
    options.add_weights(parser, None, "of B (ema: float numerics only)")
    parser.add_argument("--numerics", default="fixed", choices=NUMERICS,
                        help="fixed: bit-exact RTL reference (docs/numerics.md); float: float64")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="passes over the training split")
    parser.add_argument("--lr-shift", type=int, default=FixedFormat().lr_shift,
                        help="learning rate 2**-lr_shift (float and fixed)")
    parser.add_argument("--seed", type=int, default=0, help="initial weights and sample order")
    parser.add_argument("--json", action="store_true", help="print the run as JSON on stdout")
    parser.add_argument("--export", metavar="FILE.onnx", default=None,
                        help="write the trained weights and biases as a standard ONNX model (floats; fixed-point "
                             "values as the reals they stand for; default: none written)")
    options.add_cost_model(parser)
    parser.set_defaults(func=run)


def run(args) -> int:
    if args.epochs < 0:
        raise LayerPipeError(f"--epochs is {args.epochs}; give 0 or more")
    options.weights(args, args.numerics)
    if args.export:
        check_export_path(args.export)  # before training: the cheaper mistake to report first
    network = options.network(args)
    dataset = options.data(args, network, args.seed)  # before scheduling: the cheaper mistake to report first
    fmt = FixedFormat(lr_shift=args.lr_shift)
    table = schedule(network, args.processors, args.policy, options.cost_model(args))
    staleness = staleness_from_table(table)
    print(dataset.describe(), file=sys.stderr)

    def progress(result) -> None:
        if result.epoch:
            measure = (f"test accuracy {100 * result.test_accuracy:.1f} %" if result.test_accuracy is not None
                       else f"mean squared error {result.mean_squared_error:.4f}")
            print(f"epoch {result.epoch}/{args.epochs}: {measure}", file=sys.stderr, flush=True)

    curve = learning_curve(network, staleness, args.weights, args.numerics, fmt, args.epochs, args.seed,
                           dataset=dataset, progress=progress)
    summary = {
        "network": network.name, "data": dataset.name,
        "shapes": [list(network.input_shape)] + [list(layer.out_shape) for layer in network.layers],
        "policy": args.policy, "processors": table.processors,
        "period_cycles": table.period_cycles, "weights": args.weights, "numerics": args.numerics,
        "format": fmt.to_dict(), "lr": 2.0 ** -fmt.lr_shift, "seed": args.seed, "epochs": args.epochs,
        "staleness": {"forward": staleness.forward, "backward_latest": staleness.backward_latest},
        "weight_versions": dataclasses.asdict(table.weight_versions[args.weights]),
        "history": [{"epoch": r.epoch, "train_accuracy": r.train_accuracy, "test_accuracy": r.test_accuracy,
                     "mean_squared_error": r.mean_squared_error} for r in curve.epochs],
    }
    if args.export:
        real = (lambda x: x) if args.numerics == "float" else fmt.to_real
        write_onnx(args.export, network, [real(w) for w in curve.weights],
                   [None if b is None else real(b) for b in curve.biases])
        summary["export"] = args.export
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(_describe(summary))
        if args.export:
            print(f"trained model written to {args.export} (ONNX)")
    return 0


def _describe(summary: dict) -> str:
    stale = summary["staleness"]
    layers = []
    for layer, forward in sorted(stale["forward"].items()):
        backward = stale["backward_latest"].get(layer)
        layers.append(f"{layer}: F {forward}" + ("" if backward is None else f", B {backward}"))
    fmt = summary["format"]
    numerics = ("float64" if summary["numerics"] == "float" else
                f"fixed {fmt['data_bits']}-bit, {fmt['frac_bits']} fractional bits")
    versions = summary["weight_versions"]
    lines = [
        f"network {summary['network']} ({'-'.join('x'.join(map(str, shape)) for shape in summary['shapes'])}) "
        f"on {summary['data']}, "
        f"policy {summary['policy']} "
        f"on {summary['processors']} processors, period {summary['period_cycles']} cycles",
        f"staleness in samples (B: backward_latest, used by latest and ema): {'; '.join(layers)}",
        f"weights {summary['weights']}"
        + f" ({versions['memory_words']} words of extra weight versions)"
        + f", numerics {numerics}, lr 2^-{fmt['lr_shift']}, seed {summary['seed']}",
        "epoch  train acc %  test acc %  mean sq error",
    ]
    def percent(value):
        return "-" if value is None else f"{100 * value:.1f}"

    for row in summary["history"]:
        error = "" if row["mean_squared_error"] is None else f"{row['mean_squared_error']:.4f}"
        lines.append(f"{row['epoch']:>5}  {percent(row['train_accuracy']):>11}  {percent(row['test_accuracy']):>10}"
                     f"  {error:>13}")
    return "\n".join(lines)
