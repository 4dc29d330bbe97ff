"""Plain-text tables, one format for every command, benchmark and report.

A column of numbers (``1,234``, ``0.750``, ``10.0 %``, ``98.2 MHz``, ``4.5 s``; empty cells
aside) is right-aligned, header included, so figures line up on their last digit; every
other column is left-aligned, so names read from the left. A dashed rule separates the
header. Floats show three decimals; None is an empty cell.
"""

from __future__ import annotations

import re

__all__ = ["format_rows"]

_NUMBER = re.compile(r"[-+]?[\d.,]+( ?%| MHz| s)?")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def format_rows(header: list[str], rows: list[list]) -> str:
    cells = [[str(c) for c in header]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    numeric = [all(_NUMBER.fullmatch(row[i]) for row in cells[1:] if row[i]) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if right else c.ljust(w)
                         for c, w, right in zip(row, widths, numeric, strict=True)).rstrip()

    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths)] + [line(row) for row in cells[1:]])
