"""CPU fast path: the max-margin update of :mod:`w2gm.train` as a compiled Hogwild loop.

The reference path batches pairs, lets autograd differentiate the loss and hands summed
row gradients to :class:`~w2gm.optim.RowAdagrad`.  Here numba compiles a loop that, for
each (word, context) pair in turn, evaluates the hinges of Section 3.3, differentiates
them by hand and applies Adagrad to the rows the pair touched, straight away.  The pairs
are cut into contiguous blocks spread over threads, which update the shared tables
without locks (Hogwild, Recht et al. 2011, as word2vec does and as the paper's
"asynchronous gradient descent" does): two threads rarely touch the same row at the same
moment, and when they do, part of one small update may be lost.

With one thread the result is the reference path run with batches of one pair: the
gradients at the parameters before the pair, summed over the pair's repeated rows, then
one Adagrad step per row.  Tables and Adagrad sums are updated in place through numpy
views of the trainer's tensors, so both paths share them.

Maths for one pair, with f the word's mixture (means mu_i, variances a_i = exp(log a_i),
logits s_i, weights p = softmax(s)) and g a context's (nu_j, b_j, t_j, q), C variance
columns each standing for D / C dimensions, and S_ijc = a_ic + b_jc + epsilon (A.2):

* Eq. (3): xi_ij = -1/2 [ (D/C) sum_c log S_ijc + D log 2 pi + sum_d (mu_id - nu_jd)^2 / S_ijc(d) ]
* Eq. (2): log E = logsumexp_ij x_ij,  x_ij = log p_i + log q_j + xi_ij
* 3.3:     L = sum_n max(0, m - log E(w, c) + log E(w, c'_n))

The backward pass uses, with r_ij = exp(x_ij - log E) the responsibilities (they sum to 1):

* d log E / d xi_ij = r_ij
* d log E / d s_i = sum_j r_ij - p_i, as d x_kj / d s_i = [k = i] - p_i for log p = log softmax(s)
* d xi_ij / d mu_id = -(mu_id - nu_jd) / S_ijc(d) = -d xi_ij / d nu_jd
* d xi_ij / d log a_ic = a_ic d xi_ij / d S_ijc
                       = a_ic / 2 [ sum_{d in c} (mu_id - nu_jd)^2 / S_ijc^2 - (D/C) / S_ijc ],
  and the same with b_jc for log b_jc, since d S_ijc / d log a_ic = a_ic
* an active hinge adds d log E(w, c'_n) and subtracts d log E(w, c); an inactive one adds nothing.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from numba import njit
from numba.extending import overload

from .energy import VARIANCE_EPSILON
from .errors import W2GMError
from .mixture import PARAMETER_NAMES, MixtureTable
from .optim import RowAdagrad, RowOptimizer
from .sampling import PairSampler

if TYPE_CHECKING:
    from .train import Trainer

LOG_2PI = math.log(2.0 * math.pi)

#: Contraction and reassociation let LLVM vectorise the loops over dimensions; without
#: "nnan" and "ninf" a diverging run still shows as inf or nan in the loss.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

Array = np.ndarray
#: A table as the kernels see it: numpy views of means [V,K,D], log_variances [V,K,C],
#: logits [V,K,1] and of their three Adagrad sums, in this order.
Table = tuple[Array, Array, Array, Array, Array, Array]

#: Blocks of a span per thread in :meth:`HogwildUpdater.train_span`.
BLOCKS_PER_THREAD = 8

#: Centres whose pairs a thread draws, shuffles and trains at a time.  Shuffling matters:
#: in text order a word's pairs follow one another, and one pass over text8_prefix then
#: gave a WS-353 Spearman of 0.046 against 0.097 for the reference (3 seeds each); pairs
#: shuffled within rounds of this size gave 0.102.  The round keeps the buffer small.
CENTRES_PER_ROUND = 1024

# Every helper is inlined into the two block functions (inline="always"): a call to a
# compiled function that is not inlined takes a reference to each array it is passed, an
# atomic write to the array's header, on every call: per pair, a dozen for the tables.


def _static_length(values: tuple) -> int:
    """len(values); compiled code uses the overload below."""
    return len(values)


@overload(_static_length, inline="always")
def _static_length_overload(values):  # unannotated: numba compares its signature with the lambda's
    """len() of a tuple as a compile-time constant.

    The kernels receive K and C as the tuples (0, ..., K-1) and (0, ..., C-1), whose
    lengths are part of their types, so numba compiles them once per (K, C) with both known
    to LLVM, which then unrolls the K x K loops over component pairs and, for spherical
    covariances, the loops over the one variance column.  A K = 2 spherical update is
    about 30% faster for K and another 15% for C (thread CPU time on text8_prefix)."""
    length = len(values)
    return lambda values: length


@njit(fastmath=FASTMATH, cache=True, inline="always")
def _gather(
    components: int, columns: int, table: Table, row: int, slot: int, means: Array, variances: Array, weights: Array,
    log_weights: Array,
) -> None:
    """Copy one row into the pair's scratch: its means, variances a = exp(log a), weights
    p = softmax(s) and their logs."""
    table_means, table_log_variances, table_logits, _, _, _ = table
    for k in range(components):
        for d in range(means.shape[2]):
            means[slot, k, d] = table_means[row, k, d]
        for c in range(columns):
            variances[slot, k, c] = math.exp(table_log_variances[row, k, c])
    top = -np.inf
    for k in range(components):
        top = max(top, table_logits[row, k, 0])
    normaliser = 0.0
    for k in range(components):
        weights[slot, k] = math.exp(table_logits[row, k, 0] - top)
        normaliser += weights[slot, k]
    log_normaliser = math.log(normaliser)
    for k in range(components):
        weights[slot, k] /= normaliser
        log_weights[slot, k] = table_logits[row, k, 0] - top - log_normaliser


@njit(fastmath=FASTMATH, cache=True, inline="always")
def _log_energy(
    components: int, columns: int, f: int, g: int, means: Array, variances: Array, log_weights: Array, epsilon: float,
    responsibility: Array,
) -> float:
    """log E(f, g) of Eq. (2) between the mixtures in scratch slots f and g; leaves the
    responsibilities r_ij in ``responsibility``."""
    dim = means.shape[2]
    per_column = dim // columns
    top = -np.inf
    for i in range(components):
        for j in range(components):
            log_det = 0.0
            mahalanobis = 0.0
            for c in range(columns):
                variance_sum = variances[f, i, c] + variances[g, j, c] + epsilon
                squared = np.float32(0.0)
                for e in range(per_column):
                    d = c * per_column + e
                    difference = means[f, i, d] - means[g, j, d]
                    squared += difference * difference
                log_det += math.log(variance_sum)
                mahalanobis += squared / variance_sum
            xi = -0.5 * (per_column * log_det + dim * LOG_2PI + mahalanobis)  # Eq. (3)
            x = log_weights[f, i] + log_weights[g, j] + xi
            responsibility[i, j] = x
            top = max(top, x)
    # logsumexp shifted by its largest term (A.2), then r_ij = exp(x_ij - log E)
    total = 0.0
    for i in range(components):
        for j in range(components):
            responsibility[i, j] = math.exp(responsibility[i, j] - top)
            total += responsibility[i, j]
    for i in range(components):
        for j in range(components):
            responsibility[i, j] /= total
    return top + math.log(total)


@njit(fastmath=FASTMATH, cache=True, inline="always")
def _add_log_energy_gradient(
    components: int, columns: int, scale: float, responsibility: Array, f: int, g: int, means: Array, variances: Array,
    weights: Array, epsilon: float, means_grad: Array, log_variances_grad: Array, logits_grad: Array,
) -> None:
    """Add ``scale`` times the gradient of log E(f, g) (module docstring) to the gradient
    buffers of slots f and g, given r_ij from :func:`_log_energy`."""
    per_column = means.shape[2] // columns
    # d log E / d s_i = sum_j r_ij - p_i, and for g's logits the column sums of r
    for i in range(components):
        row = 0.0
        column = 0.0
        for j in range(components):
            row += responsibility[i, j]
            column += responsibility[j, i]
        logits_grad[f, i, 0] += scale * (row - weights[f, i])
        logits_grad[g, i, 0] += scale * (column - weights[g, i])
    for i in range(components):
        for j in range(components):
            weight = scale * responsibility[i, j]  # d(scale log E) / d xi_ij
            for c in range(columns):
                variance_sum = variances[f, i, c] + variances[g, j, c] + epsilon
                step = np.float32(weight / variance_sum)
                squared = np.float32(0.0)
                for e in range(per_column):
                    d = c * per_column + e
                    difference = means[f, i, d] - means[g, j, d]
                    squared += difference * difference
                    means_grad[f, i, d] -= step * difference
                    means_grad[g, j, d] += step * difference
                # d xi_ij / d S_ijc; times a_ic (or b_jc) it is the log-variance gradient
                d_xi_d_sum = 0.5 * (squared / variance_sum - per_column) / variance_sum
                log_variances_grad[f, i, c] += weight * d_xi_d_sum * variances[f, i, c]
                log_variances_grad[g, j, c] += weight * d_xi_d_sum * variances[g, j, c]


@njit(fastmath=FASTMATH, cache=True, inline="always")
def _adagrad(
    parameter: Array, sum_squares: Array, gradient: Array, row: int, slot: int, components: int, width: int,
    lr: float, eps: float,
) -> None:
    """RowAdagrad on one parameter's row, element by element: G += g^2; theta -= lr g / (sqrt(G) + eps)."""
    lr32 = np.float32(lr)
    eps32 = np.float32(eps)
    for k in range(components):
        for e in range(width):
            g = gradient[slot, k, e]
            accumulated = sum_squares[row, k, e] + g * g
            sum_squares[row, k, e] = accumulated
            parameter[row, k, e] -= lr32 * g / (math.sqrt(accumulated) + eps32)


@njit(fastmath=FASTMATH, cache=True, inline="always")
def _adagrad_slot(
    components: int, columns: int, table: Table, row: int, slot: int, means_grad: Array, log_variances_grad: Array,
    logits_grad: Array, lr: float, eps: float,
) -> None:
    """Adagrad on the three parameters of one row, from the gradients in scratch slot ``slot``."""
    means, log_variances, logits, means_sums, log_variances_sums, logits_sums = table
    _adagrad(means, means_sums, means_grad, row, slot, components, means.shape[2], lr, eps)
    _adagrad(log_variances, log_variances_sums, log_variances_grad, row, slot, components, columns, lr, eps)
    _adagrad(logits, logits_sums, logits_grad, row, slot, components, 1, lr, eps)


@njit(cache=True, inline="always")
def _scratch(slots: int, components: int, dim: int, columns: int) -> tuple[Array, ...]:
    """One thread's buffers for :func:`_update_pair`, a row per slot of the pair."""
    return (
        np.empty((slots, components, dim), dtype=np.float32),  # means
        np.empty((slots, components, columns), dtype=np.float32),  # variances
        np.empty((slots, components)),  # weights p
        np.empty((slots, components)),  # log p
        np.empty((components, components)),  # responsibilities r_ij of the positive
        np.empty((components, components)),  # ... of a negative
        np.empty((slots, components, dim), dtype=np.float32),  # gradients of the means,
        np.empty((slots, components, columns), dtype=np.float32),  # of the log variances,
        np.empty((slots, components, 1), dtype=np.float32),  # of the logits
        np.empty(slots, dtype=np.int64),  # the slot that collects a repeated row's gradient
    )


@njit(fastmath=FASTMATH, cache=True, inline="always")
def _update_pair(
    components: int, columns: int, input_table: Table, output_table: Table, shared: bool, ids: Array, lr: float,
    margin: float, epsilon: float, adagrad_eps: float, scratch: tuple[Array, ...],
) -> float:
    """Hinges, gradients and Adagrad steps of one pair; returns its summed hinge loss.

    Slot 0 of ``ids`` is the word (input table), slot 1 the context and the rest the
    negatives (output table).
    """
    (means, variances, weights, log_weights, positive_responsibility, responsibility, means_grad,
     log_variances_grad, logits_grad, owner) = scratch
    slots = ids.shape[0]
    _gather(components, columns, input_table, ids[0], 0, means, variances, weights, log_weights)
    for s in range(1, slots):
        _gather(components, columns, output_table, ids[s], s, means, variances, weights, log_weights)
    means_grad[:] = 0.0
    log_variances_grad[:] = 0.0
    logits_grad[:] = 0.0

    positive = _log_energy(components, columns, 0, 1, means, variances, log_weights, epsilon, positive_responsibility)
    loss = 0.0
    active = 0
    for s in range(2, slots):
        negative = _log_energy(components, columns, 0, s, means, variances, log_weights, epsilon, responsibility)
        hinge = margin - positive + negative
        if hinge > 0.0:
            loss += hinge
            active += 1
            _add_log_energy_gradient(
                components, columns, 1.0, responsibility, 0, s, means, variances, weights, epsilon, means_grad,
                log_variances_grad, logits_grad,
            )
    if active == 0:
        return loss
    # every active hinge subtracts log E(w, c): one backward pass scaled by their number
    _add_log_energy_gradient(
        components, columns, -float(active), positive_responsibility, 0, 1, means, variances, weights, epsilon,
        means_grad, log_variances_grad, logits_grad,
    )
    # A row the pair uses twice (a negative that is the context, or with a shared table the
    # word itself) gets one Adagrad step with the summed gradient, as the reference does.
    for b in range(slots):
        owner[b] = b
        for a in range(b):
            if owner[a] == a and ids[a] == ids[b] and (shared or a > 0):
                owner[b] = a
                for k in range(components):
                    for d in range(means_grad.shape[2]):
                        means_grad[a, k, d] += means_grad[b, k, d]
                    for c in range(columns):
                        log_variances_grad[a, k, c] += log_variances_grad[b, k, c]
                    logits_grad[a, k, 0] += logits_grad[b, k, 0]
                break
    if owner[0] == 0:
        _adagrad_slot(
            components, columns, input_table, ids[0], 0, means_grad, log_variances_grad, logits_grad, lr, adagrad_eps
        )
    for s in range(1, slots):
        if owner[s] == s:
            _adagrad_slot(
                components, columns, output_table, ids[s], s, means_grad, log_variances_grad, logits_grad, lr,
                adagrad_eps,
            )
    return loss


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def _update_block(
    component_ids: tuple[int, ...], column_ids: tuple[int, ...], input_table: Table, output_table: Table,
    shared: bool, centres: Array,
    contexts: Array, negatives: Array, start: int, stop: int, lr_start: float, lr_end: float, margin: float,
    epsilon: float, adagrad_eps: float,
) -> float:
    """Train pairs ``start:stop`` in order; returns their summed loss."""
    components = _static_length(component_ids)
    columns = _static_length(column_ids)
    count = centres.shape[0]
    per_pair = negatives.shape[1]
    scratch = _scratch(per_pair + 2, components, input_table[0].shape[2], columns)
    ids = np.empty(per_pair + 2, dtype=np.int64)
    loss = 0.0
    for p in range(start, stop):
        ids[0] = centres[p]
        ids[1] = contexts[p]
        for n in range(per_pair):
            ids[2 + n] = negatives[p, n]
        # the rate falls linearly over all the pairs and reaches lr_end at the last one,
        # as Trainer.fit's rate does at the end of its last batch
        lr = lr_start + (lr_end - lr_start) * (p + 1) / count
        loss += _update_pair(
            components, columns, input_table, output_table, shared, ids, lr, margin, epsilon, adagrad_eps, scratch
        )
    return loss


# ------------------------------------------------------------------ sampling inside the kernel


@njit(cache=True, inline="always")
def _next_random(state: Array) -> np.uint64:
    """splitmix64 (Steele, Lea and Flood, 2014): 64 random bits from the stream whose
    position is ``state[0]``."""
    state[0] += np.uint64(0x9E3779B97F4A7C15)
    z = state[0]
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _uniform(state: Array) -> float:
    """A float uniform on [0, 1): the top 53 random bits over 2^53."""
    return (_next_random(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def _stream(seed: int, block: int) -> Array:
    """The random stream of one block, started at a hash of (seed, block): consecutive
    positions of one splitmix stream would make neighbouring blocks' streams overlap."""
    state = np.empty(1, dtype=np.uint64)
    state[0] = np.uint64(seed) + np.uint64(block)
    state[0] = _next_random(state)
    return state


@njit(cache=True)
def _alias_table(probabilities: Array) -> tuple[Array, Array]:
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


@njit(cache=True, inline="always")
def _negative(keep: Array, alias: Array, state: Array) -> int:
    """A word drawn from P_n (A.2) with the alias table: a uniform column, then the column's
    own word or its alias."""
    u = _uniform(state) * keep.shape[0]
    column = min(int(u), keep.shape[0] - 1)
    return column if u - column < keep[column] else alias[column]


@njit(cache=True, inline="always")
def _subsample(
    tokens: Array, start: int, stop: int, keep_probability: Array, state: Array, kept: Array, kept_positions: Array
) -> int:
    """Keep each of ``tokens[start:stop]`` with its word's probability (A.2, as
    PairSampler.subsample); returns how many were kept, written with their span positions."""
    count = 0
    for t in range(start, stop):
        word = tokens[t]
        if _uniform(state) < keep_probability[word]:
            kept[count] = word
            kept_positions[count] = t
            count += 1
    return count


@njit(cache=True, inline="always")
def _sample_pairs(
    kept: Array, kept_positions: Array, count: int, first: int, last: int, window: int, keep: Array, alias: Array,
    state: Array, pairs: Array, positions: Array,
) -> int:
    """Skip-gram pairs of the kept centres ``first:last`` (3.3, A.2, as PairSampler.pairs):
    centre i draws a window size b from 1..window and pairs with every kept word within b
    places of it.  Row p of ``pairs`` is (centre, context, negatives...) and
    ``positions[p]`` the centre's place in the span; returns the number of rows written."""
    per_pair = pairs.shape[1] - 2
    made = 0
    for i in range(first, last):
        size = 1 + int(_uniform(state) * window)
        for j in range(max(0, i - size), min(count, i + size + 1)):
            if j == i:
                continue
            pairs[made, 0] = kept[i]
            pairs[made, 1] = kept[j]
            for n in range(per_pair):
                pairs[made, 2 + n] = _negative(keep, alias, state)
            positions[made] = kept_positions[i]
            made += 1
    return made


@njit(cache=True, inline="always")
def _shuffle(pairs: Array, positions: Array, count: int, state: Array) -> None:
    """Put rows ``:count`` of ``pairs`` and ``positions`` in a uniformly random order (Fisher-Yates)."""
    for p in range(count - 1, 0, -1):
        q = min(int(_uniform(state) * (p + 1)), p)
        for column in range(pairs.shape[1]):
            pairs[p, column], pairs[q, column] = pairs[q, column], pairs[p, column]
        positions[p], positions[q] = positions[q], positions[p]


@njit(fastmath=FASTMATH, cache=True, nogil=True)
def _train_block(
    component_ids: tuple[int, ...], column_ids: tuple[int, ...], input_table: Table, output_table: Table,
    shared: bool, tokens: Array, start: int,
    stop: int, keep_probability: Array, negative_keep: Array, negative_alias: Array, window: int, per_pair: int,
    lr_start: float, lr_end: float, margin: float, epsilon: float, adagrad_eps: float, seed: int, block: int,
) -> tuple[float, int]:
    """Subsample ``tokens[start:stop]``, then a round of centres at a time draw their pairs and
    negatives, shuffle them and train on them; returns the summed loss and the number of pairs."""
    components = _static_length(component_ids)
    columns = _static_length(column_ids)
    state = _stream(seed, block)
    kept = np.empty(stop - start, dtype=np.int64)
    kept_positions = np.empty(stop - start, dtype=np.int64)
    count = _subsample(tokens, start, stop, keep_probability, state, kept, kept_positions)
    pairs = np.empty((2 * window * CENTRES_PER_ROUND, per_pair + 2), dtype=np.int64)
    positions = np.empty(2 * window * CENTRES_PER_ROUND, dtype=np.int64)
    scratch = _scratch(per_pair + 2, components, input_table[0].shape[2], columns)
    loss = 0.0
    trained = 0
    for first in range(0, count, CENTRES_PER_ROUND):
        made = _sample_pairs(
            kept, kept_positions, count, first, min(first + CENTRES_PER_ROUND, count), window, negative_keep,
            negative_alias, state, pairs, positions,
        )
        _shuffle(pairs, positions, made, state)
        for p in range(made):
            # the rate falls linearly with the centre's place in the span, the unit in
            # which Trainer.fit counts progress
            lr = lr_start + (lr_end - lr_start) * (positions[p] + 1) / tokens.shape[0]
            loss += _update_pair(components, columns, input_table, output_table, shared, pairs[p], lr, margin, epsilon,
                                 adagrad_eps, scratch)
        trained += made
    return loss, trained


# ------------------------------------------------------------------ the Python side


def _views(table: MixtureTable, optimizer: RowOptimizer) -> Table:
    """numpy views sharing memory with the table's tensors and the optimiser's sums."""
    if not isinstance(optimizer, RowAdagrad):
        raise W2GMError("the numba backend implements Adagrad only: use --optimizer adagrad or the torch backend")
    tensors = [*table.parameters().values(), *(optimizer.sum_squares[p] for p in PARAMETER_NAMES)]
    for tensor in tensors:
        if tensor.device.type != "cpu" or tensor.dtype != torch.float32 or not tensor.is_contiguous():
            raise W2GMError("the numba backend needs contiguous float32 tables on the CPU")
    # logits [V, K] are viewed as [V, K, 1] so that all three parameters share one Adagrad loop
    return tuple(t.numpy().reshape(*t.shape[:2], -1) for t in tensors)  # type: ignore[return-value]


class HogwildUpdater:
    """Trains a trainer's tables and Adagrad state in place, on ``threads`` CPU threads.

    ``tables`` and ``optimizers`` are :class:`~w2gm.train.Trainer`'s: ``"input"`` and, with
    separate output distributions, ``"output"``; without it contexts use the input table.
    ``threads`` 0 takes every core.  :meth:`update` trains on given pairs;
    :meth:`train_span` draws the pairs of a span of corpus ids itself, as ``sampler`` does.
    """

    def __init__(
        self,
        tables: Mapping[str, MixtureTable],
        optimizers: Mapping[str, RowOptimizer],
        margin: float,
        threads: int = 0,
        sampler: PairSampler | None = None,
        negatives: int = 1,
        epsilon: float = VARIANCE_EPSILON,
    ) -> None:
        self.input = _views(tables["input"], optimizers["input"])
        self.shared = "output" not in tables
        self.output = self.input if self.shared else _views(tables["output"], optimizers["output"])
        self.adagrad_eps = float(optimizers["input"].eps)  # type: ignore[attr-defined]
        self.component_ids = tuple(range(tables["input"].components))
        self.column_ids = tuple(range(tables["input"].log_variances.shape[-1]))
        self.margin = margin
        self.epsilon = epsilon
        self.threads = threads if threads > 0 else os.cpu_count() or 1
        self.span_blocks = BLOCKS_PER_THREAD * self.threads
        self.negatives = negatives
        self.sampler = sampler
        if sampler is not None:
            self.window = sampler.window
            self.keep_probability = sampler.keep_probability.cpu().numpy()
            # P_n exactly as PairSampler draws it: the steps of its float32 cumulative distribution
            steps = np.diff(sampler.negative_cdf.cpu().numpy().astype(np.float64), prepend=0.0)
            self.negative_keep, self.negative_alias = _alias_table(steps)

    @classmethod
    def from_trainer(cls, trainer: Trainer) -> HogwildUpdater:
        """The updater of a Trainer's tables, with its margin, threads, sampler and negatives."""
        config = trainer.config
        return cls(trainer.tables, trainer.optimizers, config.margin, config.threads, trainer.sampler,
                   config.negatives)

    def _blocks(self, length: int, blocks: int, run: Callable[[int, int, int], Any]) -> list[Any]:
        """``run(block, start, stop)`` for ``blocks`` contiguous blocks of ``range(length)``, in
        order, each taken by the next free one of ``self.threads`` threads (the kernels
        release the GIL)."""
        bounds = [(b, b * length // blocks, (b + 1) * length // blocks) for b in range(blocks)]
        if self.threads == 1:
            return [run(*bound) for bound in bounds]
        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(lambda bound: run(*bound), bounds))

    def update(
        self, centres: np.ndarray, contexts: np.ndarray, negatives: np.ndarray, lr_start: float, lr_end: float
    ) -> float:
        """Train on ``centres[p], contexts[p]`` with negatives ``negatives[p]`` (``[n, N]``)
        for every p, in order within each thread's block; the rate falls linearly from
        ``lr_start`` to reach ``lr_end`` at the last pair.  Returns the summed hinge loss.

        With one thread this is Trainer.step on one pair at a time."""
        centres, contexts, negatives = (
            np.ascontiguousarray(a, dtype=np.int64) for a in (centres, contexts, negatives)
        )
        losses = self._blocks(len(centres), self.threads, lambda block, start, stop: _update_block(
            self.component_ids, self.column_ids, self.input, self.output, self.shared, centres, contexts, negatives,
            start, stop, lr_start, lr_end, self.margin, self.epsilon, self.adagrad_eps,
        ))
        return float(sum(losses))

    def train_span(self, ids: np.ndarray, lr_start: float, lr_end: float, seed: int) -> tuple[float, int]:
        """Subsample a span of corpus ids, draw its pairs and negatives and train on them,
        with draws from ``seed``; the rate falls linearly with the centre's place in the
        span, from ``lr_start`` to ``lr_end`` at its last token.  Returns the summed hinge
        loss and the pair count.

        The span is cut into ``span_blocks`` contiguous blocks, more than there are threads,
        each taken by the next free thread: on a machine shared with other work, a thread
        that gets less time takes fewer blocks instead of keeping the others waiting at the
        end of the span.  The draws follow PairSampler's distributions; PairSampler shuffles
        the pairs of a whole span, a block here those of each round of CENTRES_PER_ROUND
        centres."""
        if self.sampler is None:
            raise W2GMError("train_span needs the trainer's PairSampler")
        tokens = np.ascontiguousarray(ids, dtype=np.int64)
        results = self._blocks(len(tokens), self.span_blocks, lambda block, start, stop: _train_block(
            self.component_ids, self.column_ids, self.input, self.output, self.shared, tokens, start, stop,
            self.keep_probability, self.negative_keep, self.negative_alias, self.window, self.negatives, lr_start,
            lr_end, self.margin, self.epsilon, self.adagrad_eps, seed, block,
        ))
        return float(sum(loss for loss, _ in results)), int(sum(pairs for _, pairs in results))
