"""``layerpipe gantt``: draw a table's steady-state schedule."""

from __future__ import annotations

from layerpipe import options
from layerpipe.core.table import load_table
from layerpipe.plots import draw_gantt, figure_format


def register(subparsers) -> None:
    parser = subparsers.add_parser("gantt", help="draw a schedule table as a Gantt chart",
                                   description="Draw the steady-state period of a ScheduleTable.",
                                   formatter_class=options.HELP_FORMATTER)
    parser.add_argument("table", help="ScheduleTable JSON (from `layerpipe schedule -o`)")
    parser.add_argument("-o", "--output", default="gantt.png", help="image file (.png, .svg, .pdf)")
    parser.set_defaults(func=run)


def run(args) -> int:
    figure_format(args.output, "-o")
    draw_gantt(load_table(args.table), args.output)
    print(f"Gantt chart written to {args.output}")
    return 0
