"""A small HiGHS model builder: columns and rows collected in Python, solved deterministically.

One thread and one seed, so with the time limit out of reach a model gives the same
search whatever the machine's load; node limits are the budgets that decide a result
(:attr:`MilpResult.stopped_by` says which limit cut a solve). Shared by the dual-port
placement (:mod:`.placement_milp`) and the ``optimal`` policy.
"""

from __future__ import annotations

import math
import os
import sys
from collections import defaultdict
from dataclasses import dataclass

import highspy
import numpy as np

__all__ = ["Milp", "MilpResult", "STOPS", "combined_stop"]

STDERR = 2  # the file descriptor, not sys.stderr (which a test harness may replace)

STOPS = (None, "work", "time")  # what can cut a search short, each outranking the one before


def combined_stop(*stops: str | None) -> str | None:
    """What cut a search made of parts: the time limit if it cut any part, else a work limit if one did."""
    return max(stops, key=STOPS.index)


@dataclass
class MilpResult:
    status: str
    values: list[float] | None
    objective: float | None
    bound: float | None
    optimal: bool
    nodes: int = 0
    timed_out: bool = False

    @property
    def stopped_by(self) -> str | None:
        """"time" when the time limit cut the solve, "work" when a node limit did, else None."""
        if self.timed_out:
            return "time"
        return None if self.optimal or self.status == "Infeasible" else "work"


class Milp:
    """Columns and rows collected in Python, passed to HiGHS in one go (fast and deterministic)."""

    def __init__(self):
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.cost: list[float] = []
        self.integer: list[bool] = []
        self.rows: list[tuple[float, float, list[int], list[float]]] = []

    @property
    def size(self) -> int:
        return len(self.lower)

    def var(self, lower: float = 0.0, upper: float = math.inf, cost: float = 0.0, integer: bool = False) -> int:
        self.lower.append(float(lower))
        self.upper.append(float(upper))
        self.cost.append(float(cost))
        self.integer.append(integer)
        return len(self.lower) - 1

    def binary(self, cost: float = 0.0) -> int:
        return self.var(0.0, 1.0, cost, integer=True)

    def row(self, terms: dict[int, float] | list[tuple[int, float]], lower: float = -math.inf,
            upper: float = math.inf) -> None:
        merged: dict[int, float] = defaultdict(float)
        for column, value in (terms.items() if isinstance(terms, dict) else terms):
            merged[column] += value
        columns = [c for c, v in merged.items() if v != 0.0]
        self.rows.append((float(lower), float(upper), columns, [merged[c] for c in columns]))

    def solve(self, *, time_limit: float, start: list[float] | None = None, verbose: bool = False,
              node_limit: int | None = None, absolute_gap: float = 0.0, tolerance: float | None = None,
              options: dict | None = None) -> MilpResult:
        highs = _new_highs(verbose)
        lp = highspy.HighsLp()
        lp.num_col_, lp.num_row_ = self.size, len(self.rows)
        lp.col_cost_ = np.array(self.cost)
        lp.col_lower_ = np.array(self.lower)
        lp.col_upper_ = np.array(self.upper)
        lp.row_lower_ = np.array([r[0] for r in self.rows])
        lp.row_upper_ = np.array([r[1] for r in self.rows])
        starts, index, value = [0], [], []
        for _, _, columns, values in self.rows:
            index += columns
            value += values
            starts.append(len(index))
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(index, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(value, dtype=float)
        lp.integrality_ = [highspy.HighsVarType.kInteger if i else highspy.HighsVarType.kContinuous
                           for i in self.integer]
        highs.passModel(lp)
        # One thread and one seed: with the time limit out of reach, the same model gives the
        # same search, whatever the machine's load.
        options = {"time_limit": max(0.05, float(time_limit)), "mip_rel_gap": 0.0, "mip_abs_gap": absolute_gap,
                   "random_seed": 0, "threads": 1, **(options or {})}
        if node_limit is not None:
            options["mip_max_nodes"] = int(node_limit)
        if tolerance is not None:
            options["mip_feasibility_tolerance"] = tolerance
            options["primal_feasibility_tolerance"] = tolerance
        for name, option in options.items():
            if highs.setOptionValue(name, option) != highspy.HighsStatus.kOk:
                raise AssertionError(f"HiGHS rejects option {name}={option}")
        if start is not None:
            solution = highspy.HighsSolution()
            solution.col_value = [float(v) for v in start]
            solution.value_valid = True
            highs.setSolution(solution)
        with _stdout_to(STDERR if verbose else None):
            highs.run()
        model_status = highs.getModelStatus()
        status = highs.modelStatusToString(model_status)
        info = highs.getInfo()
        has_solution = info.primal_solution_status == 2  # kSolutionStatusFeasible
        values = list(highs.getSolution().col_value) if has_solution else None
        return MilpResult(status, values, info.objective_function_value if has_solution else None,
                          info.mip_dual_bound, status == "Optimal", int(info.mip_node_count),
                          model_status == highspy.HighsModelStatus.kTimeLimit)


class _stdout_to:
    """Point file descriptor 1 elsewhere (or to /dev/null) while HiGHS's C++ code runs.

    HiGHS prints a banner on first construction and its log to the C stdout; the CLI's
    ``--json`` output is on stdout, so solver text goes to stderr (verbose) or nowhere.
    """

    def __init__(self, target_fd: int | None):
        self.target_fd = target_fd

    def __enter__(self):
        sys.stdout.flush()
        self.saved = os.dup(1)
        self.devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(self.target_fd if self.target_fd is not None else self.devnull, 1)

    def __exit__(self, *exc):
        os.dup2(self.saved, 1)
        os.close(self.saved)
        os.close(self.devnull)
        return False


def _new_highs(verbose: bool) -> highspy.Highs:
    with _stdout_to(STDERR if verbose else None):
        highs = highspy.Highs()
    highs.setOptionValue("output_flag", verbose)
    return highs
