"""A terminal progress bar for management commands (no dependency, quiet when not a TTY)."""

import sys
import time


class Progress:
    def __init__(self, total: int, label: str = "", stream=None, width: int = 30) -> None:
        self.total, self.label, self.width = max(total, 0), label, width
        self.stream = stream or sys.stdout
        self.done = 0
        self.started = time.monotonic()
        self._last = 0.0
        self.tty = getattr(self.stream, "isatty", lambda: False)()

    def advance(self, n: int = 1, **extra) -> None:
        self.done += n
        now = time.monotonic()
        if self.tty and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            self._draw(extra)

    def _draw(self, extra: dict) -> None:
        frac = self.done / self.total if self.total else 1.0
        bar = "█" * int(frac * self.width) + "·" * (self.width - int(frac * self.width))
        rate = self.done / max(time.monotonic() - self.started, 1e-9)
        tail = " ".join(f"{k}={v}" for k, v in extra.items())
        self.stream.write(f"\r{self.label} |{bar}| {self.done}/{self.total} ({rate:,.0f}/s) {tail}   ")
        self.stream.flush()

    def finish(self, message: str = "") -> None:
        elapsed = time.monotonic() - self.started
        if self.tty:
            self.stream.write("\n")
        self.stream.write(f"{self.label}: {self.done} in {elapsed:.1f}s. {message}\n")
        self.stream.flush()
