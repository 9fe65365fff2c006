"""Sampling inside the compiled CPU engine (:mod:`w2gm.engines.hogwild`), as :class:`w2gm.sampling.PairSampler`
draws it on the reference path: subsampling (A.2), a window of random size per centre,
unigram^0.75 negatives from Walker's alias table, and the pairs of a round shuffled.  Each
block of a span draws from its own splitmix64 stream, seeded by the span's seed and the
block's number, so that a run is reproducible with one thread and resumable.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..compile_cache import CACHE

Array = np.ndarray


@njit(cache=CACHE, inline="always")
def next_random(state: Array) -> np.uint64:
    """splitmix64 (Steele, Lea and Flood, 2014): 64 random bits from the stream whose
    position is ``state[0]``."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=CACHE, inline="always")
def uniform(state: Array) -> float:
    """A float uniform on [0, 1): the top 53 random bits over 2^53."""
    return (next_random(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=CACHE, inline="always")
def stream(seed: int, block: int) -> Array:
    """The random stream of one block, started at a hash of (seed, block): consecutive
    positions of one splitmix stream would make neighbouring blocks' streams overlap."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed) + np.uint64(block)
    state[0] = next_random(state)
    return state


@njit(cache=CACHE)
def alias_table(probabilities: Array) -> tuple[Array, Array]:
    """Walker's alias table, built as Vose does, to draw from ``probabilities`` in O(1):
    column i gives word i with probability ``keep[i]`` and ``alias[i]`` otherwise.

    Columns start with mass V p_i; each under-full column (mass < 1) is topped up from an
    over-full one, which then moves to the under-full stack if it has dropped below 1.
    Columns left on either stack at the end are full up to rounding."""
    size = probabilities.shape[0]
    mass = probabilities * (size / probabilities.sum())
    keep = np.ones(size)
    alias = np.arange(size)
    under = np.empty(size, dtype=np.int64)
    over = np.empty(size, dtype=np.int64)
    n_under = n_over = 0
    for i in range(size):
        if mass[i] < 1.0:
            under[n_under] = i
            n_under += 1
        else:
            over[n_over] = i
            n_over += 1
    while n_under > 0 and n_over > 0:
        n_under -= 1
        small = under[n_under]
        large = over[n_over - 1]
        keep[small] = mass[small]
        alias[small] = large
        mass[large] -= 1.0 - mass[small]
        if mass[large] < 1.0:
            n_over -= 1
            under[n_under] = large
            n_under += 1
    return keep, alias


@njit(cache=CACHE, inline="always")
def negative(keep: Array, alias: Array, state: Array) -> int:
    """A word drawn from P_n (A.2) with the alias table: a uniform column, then the column's
    own word or its alias."""
    u = uniform(state) * keep.shape[0]
    column = min(int(u), keep.shape[0] - 1)
    return column if u - column < keep[column] else alias[column]


@njit(cache=CACHE, inline="always")
def subsample(
    tokens: Array, start: int, stop: int, keep_probability: Array, state: Array, kept: Array, kept_positions: Array
) -> int:
    """Keep each of ``tokens[start:stop]`` with its word's probability (A.2, as
    PairSampler.subsample); returns how many were kept, written with their span positions."""
    count = 0
    for t in range(start, stop):
        word = tokens[t]
        if uniform(state) < keep_probability[word]:
            kept[count] = word
            kept_positions[count] = t
            count += 1
    return count


@njit(cache=CACHE, inline="always")
def sample_pairs(
    kept: Array, kept_positions: Array, count: int, first: int, last: int, window: int, keep: Array, alias: Array,
    state: Array, pairs: Array, positions: Array,
) -> int:
    """Skip-gram pairs of the kept centres ``first:last`` (3.3, A.2, as PairSampler.pairs):
    centre i draws a window size b from 1..window and pairs with every kept word within b
    places of it.  Row p of ``pairs`` is (centre, context, negatives...) and
    ``positions[p]`` the centre's place in the span; returns the number of rows written."""
    per_pair = pairs.shape[1] - 2
    made = np.int64(0)  # not the literal 0: a caller would compile its callees once for Literal[int](0) too
    for i in range(first, last):
        size = 1 + int(uniform(state) * window)
        for j in range(max(0, i - size), min(count, i + size + 1)):
            if j == i:
                continue
            pairs[made, 0] = kept[i]
            pairs[made, 1] = kept[j]
            for n in range(per_pair):
                pairs[made, 2 + n] = negative(keep, alias, state)
            positions[made] = kept_positions[i]
            made += 1
    return made


@njit(cache=CACHE, inline="always")
def shuffle(pairs: Array, positions: Array, count: int, state: Array) -> None:
    """Put rows ``:count`` of ``pairs`` and ``positions`` in a uniformly random order (Fisher-Yates)."""
    for p in range(count - 1, 0, -1):
        q = min(int(uniform(state) * (p + 1)), p)
        for column in range(pairs.shape[1]):
            pairs[p, column], pairs[q, column] = pairs[q, column], pairs[p, column]
        positions[p], positions[q] = positions[q], positions[p]


@njit(cache=CACHE, inline="always")
def sample_windows(
    kept: Array, kept_positions: Array, count: int, first: int, last: int, window: int, keep: Array, alias: Array,
    state: Array, centres: Array, context_starts: Array, contexts: Array, negatives: Array, positions: Array,
) -> int:
    """The windows of the kept centres ``first:last``, as :func:`sample_pairs` draws their
    pairs, but with one draw of negatives per centre, which all its pairs share: occurrence o
    is the centre ``centres[o]`` at span place ``positions[o]``, its contexts
    ``contexts[context_starts[o]:context_starts[o + 1]]`` and its negatives ``negatives[o]``.
    Centres without a context (a span of one kept token) are left out; returns the number of
    occurrences written."""
    made = np.int64(0)
    written = np.int64(0)
    context_starts[0] = 0
    for i in range(first, last):
        size = 1 + int(uniform(state) * window)
        for j in range(max(0, i - size), min(count, i + size + 1)):
            if j != i:
                contexts[written] = kept[j]
                written += 1
        if written == context_starts[made]:
            continue
        for n in range(negatives.shape[1]):
            negatives[made, n] = negative(keep, alias, state)
        centres[made] = kept[i]
        positions[made] = kept_positions[i]
        made += 1
        context_starts[made] = written
    return made


@njit(cache=CACHE, inline="always")
def permutation(order: Array, count: int, state: Array) -> None:
    """``order[:count]`` a uniformly random order of ``0..count-1`` (Fisher-Yates)."""
    for p in range(count):
        order[p] = p
    for p in range(count - 1, 0, -1):
        q = min(int(uniform(state) * (p + 1)), p)
        order[p], order[q] = order[q], order[p]
