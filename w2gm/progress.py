"""Progress of a long step (reading the text, training), shown one way for both: a bar
where someone watches, plain lines where the output is kept.

A bar redraws itself with carriage returns, which a terminal or a notebook turns into one
moving line and a log file keeps as hundreds of frames.  So the bar is drawn only when
standard error is a terminal (or in a notebook, where ``tqdm.auto`` draws a widget);
anywhere else a line is written every :data:`LINE_EVERY` seconds and at each milestone the
step marks (the end of an epoch, the end of the text), and nothing in between.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from tqdm import autonotebook, std
from tqdm.auto import tqdm

#: Seconds between two plain lines, where no milestone comes sooner.
LINE_EVERY = 60.0
#: How a line names a bar's unit.
_UNIT_WORDS = {"tok": " tokens"}


def draws_bars(stream: TextIO | None = None) -> bool:
    """Whether progress is drawn as a bar on ``stream`` (standard error by default)."""
    stream = stream or sys.stderr
    notebook = autonotebook.tqdm is not std.tqdm  # running in a notebook, which draws a widget
    return notebook or bool(getattr(stream, "isatty", lambda: False)())


class Progress:
    """Progress towards ``total`` (None: unknown) ``unit``s, shown as :func:`draws_bars` says,
    or not at all unless ``enabled``."""

    def __init__(self, what: str, total: float | None, unit: str, *, initial: float = 0, enabled: bool = True,
                 binary: bool = False, leave: bool = True, stream: TextIO | None = None,
                 every: float = LINE_EVERY) -> None:
        self.what, self.total, self.unit, self.done = what, total, unit, initial
        self.divisor = 1024 if binary else 1000
        self.stream = stream or sys.stderr
        self.enabled, self.every = enabled, every
        self.figures = ""
        self.bar: tqdm | None = None
        if enabled and draws_bars(self.stream):
            self.bar = tqdm(total=total, initial=initial, unit=unit, unit_scale=True, unit_divisor=self.divisor,
                            desc=what, dynamic_ncols=True, leave=leave, file=self.stream)
        self.started = self.last_line = time.monotonic()
        self.start_count = initial

    def describe(self, figures: str) -> None:
        """What to show after the count (words found, the epoch and rate, ...)."""
        self.figures = figures
        if self.bar is not None:
            self.bar.set_postfix_str(figures, refresh=False)

    def update(self, count: float) -> None:
        self.done += count
        if self.bar is not None:
            self.bar.update(count)
        elif self.enabled and (now := time.monotonic()) - self.last_line >= self.every:
            self.line(now)

    def milestone(self) -> None:
        """A point worth a line in a log; a bar shows it already."""
        if self.bar is None and self.enabled:
            self.line()

    def line(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        elapsed = now - self.started
        def size(n: float) -> str:
            return std.tqdm.format_sizeof(n, "", self.divisor)

        unit = _UNIT_WORDS.get(self.unit, self.unit)
        count = f"{size(self.done)}{unit}"
        if self.total:
            count = f"{size(self.done)} of {size(self.total)}{unit} ({100 * self.done / self.total:.0f}%)"
        timing = std.tqdm.format_interval(elapsed)
        rate = (self.done - self.start_count) / elapsed if elapsed > 0 else 0
        if self.total and rate > 0 and self.done < self.total:
            timing += f", {std.tqdm.format_interval((self.total - self.done) / rate)} left"
        figures = f"; {self.figures}" if self.figures else ""
        print(f"w2gm: {self.what} {count} in {timing}{figures}", file=self.stream, flush=True)
        self.last_line = now

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
