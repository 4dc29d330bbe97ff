"""Command-line options shared by the commands and the benchmarks, so each is spelled and defaulted once."""

from __future__ import annotations

import argparse

from layerpipe.core.costs import MEMORY_MODELS, CostModel
from layerpipe.core.errors import LayerPipeError
from layerpipe.core.network import Network
from layerpipe.core.weight_policies import WEIGHT_POLICIES
from layerpipe.sched.scheduler import POLICIES
from layerpipe.sched.zoo import DEFAULT_NETWORK, load_network

DEFAULTS = CostModel()


class HELP_FORMATTER(argparse.ArgumentDefaultsHelpFormatter):  # noqa: N801 (the name every command passes)
    """Appends "(default: X)" to an option's help, except where the help says its default itself
    ("(default: a temporary folder)") or there is none to show: "(default: None)" tells a user nothing."""

    def _get_help_string(self, action):
        if action.default is None or "(default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def add_network(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--network", default=DEFAULT_NETWORK, metavar="NAME|FILE",
                        help="zoo name, a .toml/.yaml/.json network file or an .onnx model (its initializers "
                             "are the initial weights and biases; docs/networks.md)")


def add_policy(parser: argparse.ArgumentParser, default: str = "layerpipe") -> None:
    parser.add_argument("--policy", default=default, help=f"scheduling policy: {', '.join(POLICIES)}")


def add_schedule(parser: argparse.ArgumentParser, table: bool = False) -> None:
    """What one schedule is made of: the network, the processor count, the policy and the cost model
    (and, with ``table``, ``--table`` to load one instead)."""
    add_network(parser)
    parser.add_argument("--processors", type=int, default=4, help="number of processing elements")
    add_policy(parser)
    add_cost_model(parser)
    if table:
        add_table(parser)


def add_weights(parser: argparse.ArgumentParser, model: str | None, what: str) -> None:
    """``--weights``: the weight policy (core/weight_policies.py) ``model`` runs (None: any model);
    ``what`` says where it applies."""
    names = WEIGHT_POLICIES.names(model)
    parser.add_argument("--weights", default="stash", help=f"weight policy {what}: {', '.join(names)} "
                                                           "(docs/semantics.md)")


def weights(args: argparse.Namespace, model: str) -> str:
    """``--weights``, checked against what ``model`` supports (a one-line error naming the choices)."""
    return WEIGHT_POLICIES.supported(args.weights, model, "--weights").name


def add_data(parser: argparse.ArgumentParser, what: str | None = None) -> None:
    """``--data``: what the network trains on (sim/datasets.py); ``what`` says more of its use."""
    from layerpipe.sim.datasets import DATASETS, DEFAULT_DATA

    parser.add_argument("--data", default=DEFAULT_DATA, metavar="NAME|FILE",
                        help=f"data set: {', '.join(DATASETS)}, or a .npz (x, y) or .csv (label last) file "
                             f"(sim/datasets.py){'; ' + what if what else ''}")


def data(args: argparse.Namespace, network: Network, seed: int = 0):
    """``--data`` loaded and checked against ``network`` (one-line errors); print ``describe()`` once the
    command's other checks have passed too."""
    from layerpipe.sim.datasets import load_data

    return load_data(args.data, network, seed)


def add_cost_model(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cost model")
    group.add_argument("--memory", default=DEFAULTS.memory, help=f"memory model: {', '.join(MEMORY_MODELS)}")
    group.add_argument("--lanes", type=int, default=DEFAULTS.lanes, help="multipliers per processing element")
    group.add_argument("--overhead", type=int, default=DEFAULTS.task_overhead_cycles,
                       help="fixed cycles per task (pipeline fill)")
    group.add_argument("--link-latency", type=int, default=DEFAULTS.link_latency_cycles,
                       help="cycles from the end of a task to its data arriving on another processor")
    group.add_argument("--link-width", type=int, default=DEFAULTS.link_width_words, help="link words per cycle")


def cost_model(args: argparse.Namespace) -> CostModel:
    return CostModel(lanes=args.lanes, task_overhead_cycles=args.overhead,
                     link_latency_cycles=args.link_latency, link_width_words=args.link_width,
                     memory=args.memory)


def add_table(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--table", metavar="table.json", help="use this ScheduleTable instead of scheduling "
                                                               "(--network, --processors, --policy and the cost "
                                                               "model options are then ignored; default: "
                                                               "schedule)")


def table(args: argparse.Namespace, word_bits: int | None = None):
    """The ScheduleTable of ``--table``, else the schedule of the network options (links and masks
    counting ``word_bits``-bit words, when given)."""
    import dataclasses

    from layerpipe.core.table import load_table
    from layerpipe.sched.scheduler import schedule

    if args.table:
        return load_table(args.table)
    if args.processors < 1:
        raise LayerPipeError(f"--processors {args.processors}: use at least 1")
    cost = cost_model(args)
    if word_bits is not None:
        cost = dataclasses.replace(cost, word_bits=word_bits)
    return schedule(network(args), args.processors, args.policy, cost)


def network(args: argparse.Namespace) -> Network:
    """``--network`` loaded; what an ONNX import dropped or ignored, and initial parameters outside the
    fixed-point range, are printed on stderr (one line each)."""
    import sys

    from layerpipe.core.onnx_model import messages

    loaded = load_network(args.network)
    for line in messages(loaded):
        print(line, file=sys.stderr)
    return loaded


def parse_processors(text: str) -> list[int]:
    """``4``, ``2-9`` or ``1,2,4``, in order, without repeats."""
    values = []
    for part in str(text).split(","):
        try:
            low, high = (int(v) for v in part.split("-", 1)) if "-" in part else (int(part),) * 2
        except ValueError:
            raise LayerPipeError(f"--processors '{text}' is not a count, a range like 2-9 or a list like "
                                 "1,2,4") from None
        if low > high:
            raise LayerPipeError(f"--processors '{text}': range {part} runs backwards; write it as {high}-{low}")
        values.extend(range(low, high + 1))
    if not values or min(values) < 1:
        raise LayerPipeError(f"--processors '{text}': every processor count must be at least 1")
    return list(dict.fromkeys(values))
