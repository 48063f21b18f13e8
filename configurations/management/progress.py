"""A progress bar for long commands, shown only on a terminal."""

from __future__ import annotations

import time


class ProgressBar:
    """Call with (stage, done, total). Draws on a TTY at most ten times a second; silent otherwise."""

    WIDTH = 30

    def __init__(self, stream) -> None:
        self.stream = stream
        self.enabled = hasattr(stream, "isatty") and stream.isatty()
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or (time.monotonic() - self._last < 0.1 and done < total):
            return
        self._last = time.monotonic()
        filled = self.WIDTH * done // max(total, 1)
        self.stream.write(f"\r{stage:<18} [{'#' * filled}{'.' * (self.WIDTH - filled)}] {done}/{total}")
        if done >= total:
            self.stream.write("\n")
        self.stream.flush()
