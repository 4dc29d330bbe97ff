"""Figures the commands and benchmarks share: speedup vs P, learning curves; atomic saving.

matplotlib runs headless (Agg) so plots work on CI machines and over SSH.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["pyplot", "save_figure", "plot_speedup", "plot_learning_curves"]


def pyplot():
    """matplotlib.pyplot on the headless Agg backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(figure, path: str | Path) -> None:
    """Save atomically (temporary file, then rename), in the format the suffix names, and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        figure.savefig(tmp, dpi=120, bbox_inches="tight")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        pyplot().close(figure)


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
