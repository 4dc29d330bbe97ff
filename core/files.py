"""Writing outputs so that nothing is ever half-written: a temporary file beside the target, then a rename.

Every output file of layerpipe (tables, Verilog, reports, plots, traces) goes through
:func:`open_atomic`. The temporary file is created with ``os.open(..., 0o666)`` rather than
``tempfile.mkstemp``: mkstemp's mode 0600 suits a secret in a shared /tmp, but here the
temporary file *becomes* the output, which should get the mode any other program's output
gets, ``0o666 & ~umask``. Letting the kernel apply the umask at creation avoids reading it,
which only ``os.umask`` can do portably, by setting it: process-wide, so a thread creating
a file meanwhile would get the wrong mode.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["open_atomic", "write_text_atomic"]


def _create_beside(path: Path) -> tuple[int, Path]:
    # 64 random bits: a name taken by another writer of the same target is retried, not an error
    for _ in range(16):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            return os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name beside {path}")


@contextmanager
def open_atomic(path: str | Path, binary: bool = False) -> Iterator[IO]:
    """A file object for ``path``, which appears (whole) when the block ends and not at all if it raises.

    Text is written as given, without newline translation, so outputs are the same bytes on every platform.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = _create_beside(path)
    try:
        with os.fdopen(fd, "wb") if binary else os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> None:
    with open_atomic(path) as f:
        f.write(text)
