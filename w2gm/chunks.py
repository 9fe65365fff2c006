"""Stopping in the middle of a span, and taking up there again.

A span can take a minute or more (K = 4, D = 300, a million tokens), longer than the grace
a container gets between SIGTERM and SIGKILL.  So an engine trains a span as a sequence
of chunks it already has (the numba engine's blocks, each drawing from its own random
stream; the torch engine's batches), asks before each one whether to stop, and records
which it trained.  A checkpoint taken mid-span keeps that list; the resumed run trains
the same span again, skipping those chunks but drawing every random number the
uninterrupted run drew, so that it ends where the uninterrupted run does.  Nothing
changes for a run that is not stopped: the same chunks run in the same order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import W2GMError


def _never() -> bool:
    return False


@dataclass
class SpanChunks:
    """The chunks of the span an engine is training; see the module's docstring."""

    should_stop: Callable[[], bool] = _never
    skip: frozenset[int] = frozenset()
    done: list[int] = field(default_factory=list)
    stopped: bool = False

    def starts(self, chunk: int) -> bool:
        """Whether to train ``chunk`` now (not when trained before a resume, or stopping)."""
        if chunk in self.skip:
            return False
        if self.stopped or self.should_stop():
            self.stopped = True
            return False
        return True

    def finished(self, chunk: int) -> None:
        self.done.append(chunk)  # list.append is atomic: engine threads may call this at once

    def record(self, span: tuple[int, int], chunking: str) -> dict[str, Any]:
        """What a mid-span checkpoint keeps: the span, how it was cut, the chunks trained."""
        return {"span": list(span), "chunking": chunking, "done": sorted(self.skip | set(self.done))}

    @classmethod
    def resumed(cls, record: dict[str, Any], span: tuple[int, int], chunking: str,
                should_stop: Callable[[], bool]) -> SpanChunks:
        """The chunks of a span stopped part-way, to finish; the span must be cut as it was."""
        if record["span"] != list(span) or record["chunking"] != chunking:
            raise W2GMError(
                f"--resume: the run stopped part-way through the span {record['span']} cut as "
                f"{record['chunking']}; resume with the --span-tokens, --backend and --threads it ran with "
                f"(now {list(span)} cut as {chunking})"
            )
        return cls(should_stop, frozenset(record["done"]))
