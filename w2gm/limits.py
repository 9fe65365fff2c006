"""What a run needs of the machine: memory.

:func:`check_memory` follows once the vocabulary size is known: an absurd but legal size
(K = 1000 components, a window of a million) is refused with an estimate of what it would
need, instead of a MemoryError or hours of swapping.  (The option values themselves, their
types, finite ranges and what the engines can compile, are checked by
:mod:`w2gm.config` on every config made.)
"""

from __future__ import annotations

from .config import TrainConfig
from .errors import W2GMError


def human_size(count: int) -> str:
    return f"{count / (1 << 30):.1f} GiB" if count >= 1 << 30 else f"{count / (1 << 20):.0f} MiB"


def available_memory() -> int | None:
    """Bytes this process may still allocate: MemAvailable, or the cgroup's remaining
    limit when that is lower; None where neither can be read."""
    found: list[int] = []
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as limit, open("/sys/fs/cgroup/memory.current") as current:
            text = limit.read().strip()
            if text != "max":
                found.append(int(text) - int(current.read().strip()))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def training_memory(config: TrainConfig, vocab_size: int, corpus_tokens: int, backend: str,
                    span_tokens: int, threads: int) -> dict[str, int]:
    """Estimated bytes of the largest allocations of a run, by what holds them."""
    columns = 1 if config.covariance == "spherical" else config.dim
    row = config.components * (config.dim + columns + 1) * 4  # means, log-variances, logits in float32
    states = 2 if config.optimizer == "adagrad" else 3  # the parameters and their optimiser state
    # and a copy of all of it while a checkpoint or the model is serialised
    tables = (2 if config.separate_output else 1) * vocab_size * row * (states + 1)
    span = min(span_tokens, corpus_tokens)
    slots = config.negatives + 2
    if backend == "numba":
        # per thread: a round's pairs with their negatives and positions, the pair's scratch rows
        per_thread = 2 * config.window * 1024 * (slots + 1) * 8 + slots * row * 4 * config.components
        engine = threads * per_thread + span * 8 * 3
    else:
        # a span's pairs (about window per centre, at most the span's length; several int64
        # copies while drawn), and one batch's gathered rows for every slot, with gradients
        engine = span * min(config.window, span) * 8 * 6 + config.batch_size * slots * row * 8
    return {"tables": tables, "engine": engine}


def check_memory(config: TrainConfig, vocab_size: int, corpus_tokens: int, backend: str, span_tokens: int,
                 threads: int, available: int | None) -> None:
    """Refuse a run whose estimate exceeds the memory available (None: not known, no check)."""
    if available is None:
        return
    parts = training_memory(config, vocab_size, corpus_tokens, backend, span_tokens, threads)
    need = sum(parts.values())
    if need <= available:
        return
    detail = (f"{human_size(parts['tables'])} for {vocab_size:,} words x K={config.components} x D={config.dim} "
              f"with optimiser state, {human_size(parts['engine'])} for the {backend} engine's pairs and buffers")
    raise W2GMError(
        f"these options need about {human_size(need)} of memory ({detail}) but {human_size(available)} is "
        "available; lower --components, --dim, --window, --negatives, --batch-size or --span-tokens"
    )
