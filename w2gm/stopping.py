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

from .errors import W2GMError


class Stopped(KeyboardInterrupt):
    """A SIGTERM received outside the training loop, or any stop with the words that say
    what it left behind (:func:`explained`)."""

    def __init__(self, message: str, exit_code: int = 128 + signal.SIGTERM) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def _raise_stopped(number: int, frame: Any) -> None:
    raise Stopped(f"stopped by {signal.Signals(number).name}")


def explained(stop: KeyboardInterrupt, what: str) -> Stopped:
    """``stop`` (Ctrl-C or SIGTERM, its exit code kept) with ``what`` it left as it was."""
    return Stopped(f"{str(stop) or 'interrupted'}; {what}", getattr(stop, "exit_code", 128 + signal.SIGINT))


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back for the block, then raised again: for steps that must
    not be cut apart (forking a pool, moving two files into place)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    numbers = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.getsignal(number) for number in numbers}
    for number in numbers:
        if previous[number] is not None:  # None: a handler not set from Python, left alone
            signal.signal(number, lambda received, frame: held.append(received))
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)
        for number in held:
            signal.raise_signal(number)


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


class TrainingInterrupted(W2GMError):
    """Ctrl-C or SIGTERM: a checkpoint was saved and the run can be resumed."""


class StopRequest:
    """Inside the training loop: turns the first SIGINT or SIGTERM into a request to stop at
    the end of the span (with a checkpoint); a second SIGINT interrupts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.requested = False
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> StopRequest:
        if self.enabled and threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self.previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc: object) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)
