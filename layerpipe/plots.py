"""Figures the commands and benchmarks share: a table's Gantt chart, speedup vs P, learning curves; atomic saving.

matplotlib runs headless (Agg) so plots work on CI machines and over SSH.
"""

from __future__ import annotations

from pathlib import Path

from layerpipe.core.errors import LayerPipeError
from layerpipe.core.files import open_atomic

__all__ = ["pyplot", "figure_format", "save_figure", "draw_gantt", "plot_speedup", "plot_learning_curves"]


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def figure_format(path: str | Path, option: str = "image file") -> str:
    """The format ``path``'s suffix names (``png``), checked before any work; ``option`` names it in the error."""
    from matplotlib.backend_bases import FigureCanvasBase

    # pgf needs a LaTeX installation, which nothing else here does
    formats = sorted(f for f in FigureCanvasBase.get_supported_filetypes() if f != "pgf")
    suffix = Path(path).suffix.lower()
    if suffix[1:] in formats:
        return suffix[1:]
    problem = f"unknown image suffix '{suffix}'" if suffix else "no suffix to name the image format"
    raise LayerPipeError(f"{option} '{path}': {problem}; use one of {', '.join('.' + f for f in formats)}")


def save_figure(figure, path: str | Path) -> None:
    """Save atomically, in the format the suffix names, and close it."""
    try:
        fmt = figure_format(path)
        with open_atomic(path, binary=True) as f:
            figure.savefig(f, format=fmt, dpi=120, bbox_inches="tight")
    finally:
        pyplot().close(figure)


_KIND_COLOURS = {"F": "#4c78a8", "B": "#f58518", "G": "#54a24b"}


def draw_gantt(table, path: str | Path) -> None:
    """Steady-state period of ``table`` (a ScheduleTable): one row per processor, one bar per task."""
    plt = pyplot()
    period = table.period_cycles
    figure, axes = plt.subplots(figsize=(10, 0.5 + 0.45 * table.processors))
    for tasks in table.processor_tasks:
        for t in tasks:
            axes.barh(t.processor, t.cycles, left=t.start, color=_KIND_COLOURS[t.kind], edgecolor="black",
                      linewidth=0.5, hatch="//" if t.lockstep is not None else None)
            axes.text(t.start + t.cycles / 2, t.processor, f"{t.name}\nlag {t.lag}", ha="center",
                      va="center", fontsize=7, color="white")
    axes.set_xlim(0, period)
    axes.set_yticks(range(table.processors), [f"PE{p}" for p in range(table.processors)])
    axes.invert_yaxis()
    axes.set_xlabel(f"cycle within the period (T = {period:,} cycles)")
    axes.set_title(f"{table.network.name}: {table.policy}, {table.processors} processors, {table.memory_model} "
                   f"(hatched: lockstep)")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in _KIND_COLOURS.values()]
    axes.legend(handles, ["F forward", "B activation gradient", "G weight update"], loc="upper center",
                bbox_to_anchor=(0.5, -0.25), ncol=3, fontsize=8)
    save_figure(figure, path)


def plot_speedup(points: dict[str, list[tuple[int, float]]], title: str, path: str | Path,
                 ylabel: str = "speedup over sequential (period)") -> None:
    """One line per policy: ``points[policy] = [(P, speedup), ...]``, with the linear-speedup line."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    counts = set()
    for policy, series in points.items():
        series = sorted(series)
        counts.update(p for p, _ in series)
        axes.plot([p for p, _ in series], [s for _, s in series], marker="o", label=policy)
    counts = sorted(counts)
    axes.plot(counts, counts, linestyle=":", color="grey", label="linear")
    axes.set_xlabel("processors P")
    axes.set_ylabel(ylabel)
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    save_figure(figure, path)


def plot_learning_curves(curves: dict[str, list[tuple[int, float]]], title: str, path: str | Path) -> None:
    """Test accuracy per epoch, one line per label: ``curves[label] = [(epoch, accuracy), ...]``."""
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    for label, series in curves.items():
        axes.plot([e for e, _ in series], [100 * a for _, a in series], marker=".", label=label)
    axes.xaxis.get_major_locator().set_params(integer=True)
    axes.set_xlabel("epoch")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title(title)
    axes.legend()
    axes.grid(alpha=0.3)
    save_figure(figure, path)
