"""A progress bar for long commands, shown only on a terminal."""

from __future__ import annotations

import functools
import time

from django.core.management.base import OutputWrapper


class ProgressBar:
    """Call with (stage, done, total). Draws on a TTY at most ten times a second; silent otherwise."""

    WIDTH = 30

    def __init__(self, stream) -> None:
        self.stream = stream
        # A command's OutputWrapper would end every write with a newline; a bar redraws one line.
        self._write = functools.partial(stream.write, ending="") if isinstance(stream, OutputWrapper) else stream.write
        self.enabled = hasattr(stream, "isatty") and stream.isatty()
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or (time.monotonic() - self._last < 0.1 and done < total):
            return
        self._last = time.monotonic()
        filled = self.WIDTH * done // max(total, 1)
        self._write(f"\r{stage:<18} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total}")
        if done >= total:
            self._write("\n")
        self.stream.flush()
