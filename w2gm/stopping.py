"""SIGTERM as an exception, so that a run stopped outside the training loop cleans up.

Python turns SIGINT into KeyboardInterrupt, which unwinds the stack through every
``finally`` and ``except`` that removes a half-written file; SIGTERM's default action ends
the process on the spot, leaving them behind (a quarter of a gigabyte of provisional ids
when it arrived while the text was being read).  Inside :func:`sigterm_raises`, SIGTERM
raises :class:`Stopped`, a KeyboardInterrupt, and so takes the same way out.  The
training loop installs its own handlers over these (stop at the next chance, with a
checkpoint) and restores them after.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Stopped(KeyboardInterrupt):
    """A SIGTERM received outside the training loop."""

    exit_code = 128 + signal.SIGTERM


def _raise_stopped(number: int, frame: Any) -> None:
    raise Stopped(f"stopped by {signal.Signals(number).name}")


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block SIGTERM raises :class:`Stopped` (only the main thread can catch
    signals; elsewhere this does nothing)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
