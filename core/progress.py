"""Progress of a long job (a demo, a verification, a board build, a sweep) for the person waiting on it.

Every line is flushed when it is written, so a log file or a CI console shows it as it
happens. A stream of None makes every call a no-op (``--quiet``, a worker's build), so
callers never test for it themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TextIO

__all__ = ["Progress"]

_CLEAR_LINE = "\r\033[K"  # back to the line's start, erase it: the bar is redrawn in place on a terminal
_TERMINAL_WIDTH = 160  # a redrawn line must not wrap, or \r would only clear its last part


class Progress:
    """Progress lines on ``stream`` (stderr, a log, a test's StringIO; None for none).

    * :meth:`say`: a line as given;
    * :meth:`step`: ``[k/n] `` and ``step_format`` filled in, for the k-th of the job's ``steps``;
    * :meth:`heartbeat`: while a blocking call runs, a line every so many seconds;
    * :meth:`advance`: one of ``total`` items done. On a terminal a bar redrawn in place; on a
      log (not a tty) a bar line per tenth of the job, so a long job's log stays short. Each
      error is a line of its own in both.
    """

    def __init__(self, stream: TextIO | None, *, steps: Sequence[str] = (), step_format: str = "{step}: {text}",
                 total: int = 0, title: str = "", bar_width: int = 28):
        self.stream, self.steps, self.step_format = stream, tuple(steps), step_format
        self.total, self.title, self.bar_width = total, title, bar_width
        self.done = self.errors = 0
        self.started = time.monotonic()
        self.tty = stream is not None and getattr(stream, "isatty", lambda: False)()
        self._bar_drawn = False  # a terminal line holding the bar, to be cleared before the next line
        self._tenth_shown = -1

    def say(self, text: str) -> None:
        if self.stream is None:
            return
        self.stream.write((_CLEAR_LINE if self._bar_drawn else "") + text + "\n")
        self.stream.flush()
        self._bar_drawn = False

    def step(self, step: str, text: str) -> None:
        self.say(f"[{self.steps.index(step) + 1}/{len(self.steps)}] " + self.step_format.format(step=step, text=text))

    @contextmanager
    def heartbeat(self, interval: float, line: Callable[[], str]) -> Iterator[None]:
        """While the body runs, say ``line()`` every ``interval`` seconds. From a thread, because the body
        blocks (in a tool's subprocess, in Amaranth) and a silent log looks like a hung job."""
        if self.stream is None:
            yield
            return
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(interval):
                self.say(line())

        thread = threading.Thread(target=beat, name="progress heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def advance(self, label: str, error: str | None = None) -> None:
        """One more of ``total`` done: ``label`` names it, ``error`` says why it failed (None: it did not)."""
        self.done += 1
        if error:
            self.errors += 1
        if self.stream is None:
            return
        if error:
            self.say(f"error: {label}: {error}")
        elapsed = time.monotonic() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        filled = round(self.bar_width * self.done / self.total)
        line = (f"{self.title} [{'#' * filled}{'.' * (self.bar_width - filled)}] {self.done}/{self.total} "
                f"{elapsed:6.1f} s  eta {eta:5.0f} s" + (f"  {self.errors} errors" if self.errors else "")
                + f"  {label}")
        if self.tty:
            self.stream.write(_CLEAR_LINE + line[:_TERMINAL_WIDTH])
            self.stream.flush()
            self._bar_drawn = True
            return
        tenth = 10 * self.done // self.total
        if tenth != self._tenth_shown or self.done == self.total:
            self._tenth_shown = tenth
            self.say(line)

    def close(self) -> None:
        """End the job's output: the terminal's cursor leaves the bar's line."""
        if self._bar_drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._bar_drawn = False
