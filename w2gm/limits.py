"""What option values the engines can run: types, finite ranges and memory.

:func:`check_values` is called by :class:`~w2gm.config.TrainConfig` on every config made
(flags, the Python API, a checkpoint's or a model file's record), so that a value which is
not a number, not finite, or beyond what an engine supports is one clear error before
anything is read or allocated.  :func:`check_memory` follows once the vocabulary size is
known: an absurd but legal size (K = 1000 components, a window of a million) is refused
with an estimate of what it would need, instead of a MemoryError or hours of swapping.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import TYPE_CHECKING, Any

from .errors import W2GMError

if TYPE_CHECKING:
    from .config import TrainConfig

#: numba compiles the pair loop with D, K and C as the lengths of tuples (0, ..., n-1); it
#: fails on tuples of more than 1000 elements, so D is bounded by that for the numba engine.
MAX_COMPILED_DIM = 1000
#: The numba engine unrolls its K x K loops over component pairs, so compiling grows fast
#: with K: a first run at K = 8, D = 10 took 7 minutes on 2 busy cores, nearly all of it
#: compiling (the result is cached for later runs); more components need the torch engine.
MAX_COMPILED_COMPONENTS = 8
#: numpy's SeedSequence takes non-negative integers, torch's manual_seed 64-bit ones.
MAX_SEED = 2**64 - 1
#: More threads than this is a typo: each holds buffers and an OS thread's stack.
MAX_THREADS = 1024
#: Unigram counts (at most 2**63) raised to this power stay far inside float64's range.
MAX_NEGATIVE_POWER = 10.0
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_type(name: str, value: Any, default: Any) -> None:
    """Values from JSON or the Python API have the type of the field's default; a number
    in a field with no default type must still be finite."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not math.isfinite(value):
        raise W2GMError(f"{_flag(name)} must be a finite number, got {value}")
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int) or name == "max_vocab":
        ok = number and isinstance(value, int) or (default is None and value is None)
    elif isinstance(default, float):
        ok = number
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        ok = True  # None or a factory: the config's own checks know the field
    if not ok:
        raise W2GMError(f"{_flag(name)}: {value!r} is not a valid value")


def _in_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise W2GMError(f"{_flag(name)} must be between {low} and {high}, got {value}")


def check_values(config: TrainConfig) -> None:
    """Types, finiteness and the engines' ranges; the config's own checks follow."""
    for spec in dataclasses.fields(config):
        _check_type(spec.name, getattr(config, spec.name), spec.default)
    if config.backend == "numba":
        check_engine(config, "numba")
    if config.margin < 0:
        raise W2GMError(f"--margin must be >= 0, got {config.margin}")
    _in_range("negative_power", config.negative_power, 0, MAX_NEGATIVE_POWER)
    _in_range("seed", config.seed, 0, MAX_SEED)
    _in_range("threads", config.threads, 0, MAX_THREADS)
    _in_range("read_workers", config.read_workers, 0, MAX_THREADS)
    if not _DEVICE.match(config.device):
        raise W2GMError(f"--device {config.device!r}: use auto, cpu, cuda or cuda:N")


def check_engine(config: TrainConfig, backend: str) -> None:
    """What the engine a run resolved to can compile (a model trained elsewhere, on a GPU
    say, may have more dimensions: loading it is no concern of this)."""
    if backend != "numba":
        return
    engine = "the numba engine" + ("" if config.backend == "numba" else ", which --backend auto picks on the CPU")
    if config.dim > MAX_COMPILED_DIM:
        raise W2GMError(f"--dim {config.dim}: at most {MAX_COMPILED_DIM} with {engine}; use --backend torch for more")
    if config.components > MAX_COMPILED_COMPONENTS:
        raise W2GMError(f"--components {config.components}: at most {MAX_COMPILED_COMPONENTS} with {engine}; "
                        "use --backend torch for more")


# ------------------------------------------------------------------ memory

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
