"""The user cache folder: what layerpipe keeps between runs to avoid recomputing it, outside any report folder.

Where: ``$LAYERPIPE_CACHE_DIR`` if set, else ``$XDG_CACHE_HOME/layerpipe``, else
``~/.cache/layerpipe`` (the XDG base directory rules), or the folder a command's
``--cache-dir`` names. One subfolder per use (:data:`USES`). The Verilator builds go to
``$LAYERPIPE_VERILATOR_CACHE`` instead when that is set (CI keeps it between runs).

Everything in it is recomputed when missing, so removing it costs time, never results:
``layerpipe cache`` shows each folder's size, ``layerpipe cache --clear`` removes them.
The size is reported rather than bounded: an entry is only useful whole (a Verilator build,
a demo result), and which ones a user still needs is theirs to decide.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from layerpipe.core.errors import LayerPipeError

__all__ = ["CACHE_ENV", "VERILATOR_CACHE_ENV", "USES", "cache_root", "cache_dir", "Usage", "usage", "clear",
           "folder_size", "format_size"]

CACHE_ENV = "LAYERPIPE_CACHE_DIR"
VERILATOR_CACHE_ENV = "LAYERPIPE_VERILATOR_CACHE"
USES = {
    "verilator": "simulator builds (Verilator, Icarus) of verify and demo, one per distinct design",
    "demo": "demo results: learning curves and RTL verdicts",
}


def _env_path(name: str) -> Path | None:
    value = os.environ.get(name, "")
    return Path(value).expanduser() if value else None


def cache_root(override: str | Path | None = None) -> Path:
    """``override`` (a command's ``--cache-dir``), else the environment's choice, else ``~/.cache/layerpipe``."""
    if override:
        return Path(override).expanduser()
    if (chosen := _env_path(CACHE_ENV)) is not None:
        return chosen
    xdg = _env_path("XDG_CACHE_HOME")
    # the XDG rules: a relative XDG_CACHE_HOME is invalid and is ignored
    return (xdg if xdg is not None and xdg.is_absolute() else Path.home() / ".cache") / "layerpipe"


def cache_dir(use: str, root: str | Path | None = None) -> Path:
    """The folder of one use (a key of :data:`USES`) under :func:`cache_root`; not created here."""
    if use not in USES:
        raise ValueError(f"cache use {use!r} is not one of {', '.join(USES)}")
    if use == "verilator" and not root and (shared := _env_path(VERILATOR_CACHE_ENV)) is not None:
        return shared
    return cache_root(root) / use


def folder_size(path: Path) -> int:
    """Bytes of the files under ``path`` (0 if it does not exist); files removed meanwhile are skipped."""
    total = 0
    for folder, _, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:  # a build or a clear running at the same time
                continue
    return total


@dataclass(frozen=True)
class Usage:
    use: str
    path: Path
    bytes: int


def usage(root: str | Path | None = None) -> list[Usage]:
    return [Usage(use, path := cache_dir(use, root), folder_size(path)) for use in USES]


def clear(root: str | Path | None = None) -> list[Usage]:
    """Remove every use's folder (and the root, if that leaves it empty); returns what was removed.

    Only the folders of :data:`USES`: a ``--cache-dir`` naming a folder that holds other things
    loses nothing else.
    """
    removed = [entry for entry in usage(root) if entry.path.exists()]
    for entry in removed:
        try:
            shutil.rmtree(entry.path)
        except OSError as error:  # a build writing into it meanwhile, or no permission
            raise LayerPipeError(f"could not remove {entry.path}: {error.strerror or error}; if a verify or demo "
                                 "is running, clear the cache when it has finished") from None
    folder = cache_root(root)
    if folder.is_dir() and not any(folder.iterdir()):
        folder.rmdir()
    return removed


def format_size(size: int) -> str:
    for unit in ("B", "kB", "MB"):
        if size < 1000:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"
