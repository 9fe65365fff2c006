"""CPU fast path: the max-margin update of :mod:`w2gm.reference_engine` as a compiled Hogwild loop.

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
  (or, under the "nll" objective, L = -log sigma(s(w, c)) - sum_n log sigma(-s(w, c'_n)),
  s = log E + b, w2gm.objective)

The backward pass uses, with r_ij = exp(x_ij - log E) the responsibilities (they sum to 1):

* d log E / d xi_ij = r_ij
* d log E / d s_i = sum_j r_ij - p_i, as d x_kj / d s_i = [k = i] - p_i for log p = log softmax(s)
* d xi_ij / d mu_id = -(mu_id - nu_jd) / S_ijc(d) = -d xi_ij / d nu_jd
* d xi_ij / d log a_ic = a_ic d xi_ij / d S_ijc
                       = a_ic / 2 [ sum_{d in c} (mu_id - nu_jd)^2 / S_ijc^2 - (D/C) / S_ijc ],
  and the same with b_jc for log b_jc, since d S_ijc / d log a_ic = a_ic
* an active hinge adds d log E(w, c'_n) and subtracts d log E(w, c); an inactive one adds nothing.
  Under "nll" the context's d log E is scaled by -sigma(-s(w, c)) and each negative's by
  sigma(s(w, c'_n)) instead (d/dz -log sigma(z) = -sigma(-z)); nothing else changes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

import numpy as np
import torch
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .chunks import SpanChunks
from .energy import VARIANCE_EPSILON
from .engine import TrainerParts
from .errors import W2GMError
from .mixture import PARAMETER_NAMES, MixtureTable
from .objective import nll_offset
from .optim import RowAdagrad, RowOptimizer
from .sampling import PairSampler

#: Contraction and reassociation let LLVM vectorise the loops over dimensions; without
#: "nnan" and "ninf" a diverging run still shows as inf or nan in the loss.
FASTMATH = {"contract", "reassoc", "nsz", "arcp"}

Array = np.ndarray
#: (0, ..., K-1), (0, ..., C-1) and (0, ..., D-1): see :func:`_static_length_overload`.
Shape = tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]


class Table(NamedTuple):
    """A table as the kernels see it: numpy views of its parameters and their Adagrad sums
    (logits [V, K] viewed as [V, K, 1], so that one Adagrad loop serves all three)."""

    means: Array  # [V, K, D]
    log_variances: Array  # [V, K, C]
    logits: Array  # [V, K, 1]
    means_sums: Array
    log_variances_sums: Array
    logits_sums: Array


class Scratch(NamedTuple):
    """One thread's buffers for the pair it is training, a row per slot of the pair: slot 0
    the word, 1 the context, 2... the negatives.  Slot s >= 1 of the [slots, K, K, ...]
    buffers holds the terms of log E(word, slot s)."""

    variances: Array  # [slots, K, C]: a = exp(log a)
    weights: Array  # [slots, K]: p = softmax(s)
    log_weights: Array  # [slots, K]: log p
    responsibility: Array  # [slots, K, K]: r_ij
    inverse_sum: Array  # [slots, K, K, C]: 1 / S_ijc
    squared: Array  # [slots, K, K, C]: sum_{d in c} (mu_id - nu_jd)^2
    log_energy: Array  # [slots]: log E less its constant term (see _log_energy)
    scale: Array  # [slots]: the derivative of the pair's loss in log E(word, slot s)
    means_grad: Array  # [slots, K, D]
    log_variances_grad: Array  # [slots, K, C]
    logits_grad: Array  # [slots, K, 1]
    owner: Array  # [slots]: the slot that collects a repeated row's gradient


#: Blocks of a span per thread in :meth:`HogwildUpdater.train_span`.
BLOCKS_PER_THREAD = 8

#: Centres whose pairs a thread draws, shuffles and trains at a time.  Shuffling matters:
#: in text order a word's pairs follow one another, and one pass over text8_prefix then
#: gave a WS-353 Spearman of 0.046 against 0.097 for the reference (3 seeds each); pairs
#: shuffled within rounds of this size gave 0.102.  The round keeps the buffer small.
CENTRES_PER_ROUND = 1024

#: The rows of pair p + PREFETCH_DISTANCE are prefetched while pair p trains.  Rows are
#: spread over tables of tens of megabytes, and without it a pair waits on about ten cache
#: misses (a quarter of the loop's time on text8_prefix); 1 to 8 pairs ahead time the same.
PREFETCH_DISTANCE = 4

# How the pair loop is compiled, each point worth a large share of its time:
#
# * error_model="numpy": a float division by zero gives inf instead of raising, so LLVM
#   may vectorise loops that divide (Adagrad's above all); no divisor here can be zero.
# * Every helper is inlined (inline="always") into _train_pairs, which is compiled without
#   numba's reference counting (_nrt=False; it allocates nothing).  With it, each array an
#   inlined helper is handed gets an atomic increment and decrement of its reference count
#   per pair wherever the helper branches, about 30 pairs of them, a sixth of the time.
# * Arithmetic is float32 throughout, as the reference's: a float64 operand (a Python
#   float, an integer times a float32) would turn what it meets into float64, which LLVM
#   vectorises half as wide and whose exp and log are the slower libm ones.  Only the loss
#   is summed in float64.
# * A pair is passed as (pairs, p), not as the view pairs[p], which would be a new array.
_PAIR_LOOP = {"fastmath": FASTMATH, "error_model": "numpy", "cache": True}


def _static_length(values: tuple) -> int:
    """len(values); compiled code uses the overload below."""
    return len(values)


@overload(_static_length)  # inline="always" here miscompiled stores of callers that inline others (numba 0.68)
def _static_length_overload(values):  # unannotated: numba compares its signature with the lambda's
    """len() of a tuple as a compile-time constant.

    The kernels receive K, C and D as the tuples (0, ..., K-1), (0, ..., C-1) and
    (0, ..., D-1), whose lengths are part of their types, so numba compiles them once per
    (K, C, D) with all three known to LLVM, which then unrolls the K x K loops over
    component pairs and the loop over the one variance column of spherical covariances,
    and vectorises the loops over the D dimensions for their exact length."""
    length = len(values)
    return lambda values: length


@njit(cache=True, inline="always")
def _sizes(shape: Shape) -> tuple[int, int, int]:
    """K, C and D as compile-time constants (see :func:`_static_length_overload`)."""
    component_ids, column_ids, dimension_ids = shape
    return _static_length(component_ids), _static_length(column_ids), _static_length(dimension_ids)


@intrinsic
def _prefetch(typingctx, array, index):  # unannotated: numba passes types, not values
    """Ask the CPU to bring the cache line of ``array.flat[index]`` into its caches, without
    waiting for it: LLVM's prefetch of data for reading, to be kept in every level."""

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        address = builder.gep(data, [args[1]])
        int32 = ir.IntType(32)
        function_type = ir.FunctionType(ir.VoidType(), [address.type, int32, int32, int32])
        prefetch = cgutils.get_or_insert_function(builder.module, function_type, "llvm.prefetch.p0")
        builder.call(prefetch, [address, int32(0), int32(3), int32(1)])  # read, keep in all levels, data
        return context.get_dummy_value()

    return types.void(array, index), codegen


@njit(cache=True, inline="always")
def _prefetch_row(array: Array, row: int, width: int) -> None:
    """Prefetch every cache line of ``array[row]``, ``width`` float32s in a C-contiguous
    array: 16 a line, and the last one too, as a row need not start on a line."""
    for offset in range(0, width, 16):
        _prefetch(array, row * width + offset)
    _prefetch(array, row * width + width - 1)


@njit(cache=True, inline="always")
def _prefetch_rows(shape: Shape, table: Table, row: int) -> None:
    """Prefetch a table's row: its parameters and their Adagrad sums."""
    components, columns, dim = _sizes(shape)
    _prefetch_row(table.means, row, components * dim)
    _prefetch_row(table.means_sums, row, components * dim)
    _prefetch_row(table.log_variances, row, components * columns)
    _prefetch_row(table.log_variances_sums, row, components * columns)
    _prefetch_row(table.logits, row, components)
    _prefetch_row(table.logits_sums, row, components)


@njit(cache=True)
def _scratch(shape: Shape, slots: int) -> Scratch:
    """Buffers for pairs of ``slots`` rows (2 + negatives)."""
    components, columns, dim = _sizes(shape)
    return Scratch(
        np.empty((slots, components, columns), dtype=np.float32),
        np.empty((slots, components), dtype=np.float32),
        np.empty((slots, components), dtype=np.float32),
        np.empty((slots, components, components), dtype=np.float32),
        np.empty((slots, components, components, columns), dtype=np.float32),
        np.empty((slots, components, components, columns), dtype=np.float32),
        np.empty(slots, dtype=np.float32),
        np.empty(slots, dtype=np.float32),
        np.empty((slots, components, dim), dtype=np.float32),
        np.empty((slots, components, columns), dtype=np.float32),
        np.empty((slots, components, 1), dtype=np.float32),
        np.empty(slots, dtype=np.int64),
    )


@njit(**_PAIR_LOOP, inline="always")
def _mixture(shape: Shape, table: Table, row: int, slot: int, scratch: Scratch) -> None:
    """A row's variances a = exp(log a), weights p = softmax(s) and log p, into ``slot``."""
    components, columns, _ = _sizes(shape)
    for k in range(components):
        for c in range(columns):
            scratch.variances[slot, k, c] = math.exp(table.log_variances[row, k, c])
    top = table.logits[row, 0, 0]
    for k in range(1, components):
        top = max(top, table.logits[row, k, 0])
    normaliser = np.float32(0.0)
    for k in range(components):
        scratch.weights[slot, k] = math.exp(table.logits[row, k, 0] - top)
        normaliser += scratch.weights[slot, k]
    log_normaliser = math.log(normaliser)
    for k in range(components):
        scratch.weights[slot, k] /= normaliser
        scratch.log_weights[slot, k] = table.logits[row, k, 0] - top - log_normaliser


@njit(**_PAIR_LOOP, inline="always")
def _log_energy(
    shape: Shape, word_means: Array, means: Array, word: int, row: int, slot: int, epsilon: float, sense: bool,
    scratch: Scratch,
) -> None:
    """log E(word, row) of Eq. (2), the row in scratch slot ``slot``, less -D/2 log 2 pi (a
    constant that cancels in every hinge and in every r_ij); leaves r_ij, 1 / S_ijc and the
    squared distances per column in the slot's buffers for the backward pass.  With
    ``sense`` (a negative under the "sense" objective) it is instead
    sum_i rho_i log E(N_wi, row), rho_i = sum_j r_ij of the positive in slot 1, and r_ij
    becomes rho_i times the responsibilities of the row's components given component i:
    the derivative of that sum in xi_ij."""
    components, columns, dim = _sizes(shape)
    per_column = dim // columns
    responsibility = scratch.responsibility
    # the squared distances first, and the logs after them: a call to libm's log between
    # vector loops would make them spill their registers
    for i in range(components):
        for j in range(components):
            for c in range(columns):
                distance = np.float32(0.0)
                for e in range(per_column):
                    d = c * per_column + e
                    difference = word_means[word, i, d] - means[row, j, d]
                    distance += difference * difference
                scratch.squared[slot, i, j, c] = distance
    top = np.float32(-np.inf)
    for i in range(components):
        for j in range(components):
            log_det = np.float32(0.0)
            mahalanobis = np.float32(0.0)
            for c in range(columns):
                variance_sum = scratch.variances[0, i, c] + scratch.variances[slot, j, c] + epsilon
                inverse = np.float32(1.0) / variance_sum
                scratch.inverse_sum[slot, i, j, c] = inverse
                log_det += math.log(variance_sum)
                mahalanobis += scratch.squared[slot, i, j, c] * inverse
            # x_ij = log p_i + log q_j + xi_ij, xi_ij of Eq. (3) without its -D/2 log 2 pi
            x = (scratch.log_weights[0, i] + scratch.log_weights[slot, j]
                 - np.float32(0.5) * (np.float32(per_column) * log_det + mahalanobis))
            responsibility[slot, i, j] = x
            top = max(top, x)
    if sense:
        _sense_log_energy(components, slot, scratch)
        return
    # logsumexp shifted by its largest term (A.2), then r_ij = exp(x_ij - log E)
    total = np.float32(0.0)
    for i in range(components):
        for j in range(components):
            responsibility[slot, i, j] = math.exp(responsibility[slot, i, j] - top)
            total += responsibility[slot, i, j]
    normaliser = np.float32(1.0) / total
    for i in range(components):
        for j in range(components):
            responsibility[slot, i, j] *= normaliser
    scratch.log_energy[slot] = top + math.log(total)


@njit(**_PAIR_LOOP, inline="always")
def _sense_log_energy(components: int, slot: int, scratch: Scratch) -> None:
    """The "sense" objective's negative energy from x_ij in the slot's responsibilities:
    log E(N_wi, g) = logsumexp_j x_ij - log p_i, weighted by rho_i (train.max_margin_loss)."""
    responsibility = scratch.responsibility
    energy = np.float32(0.0)
    for i in range(components):
        share = np.float32(0.0)
        top = np.float32(-np.inf)
        for j in range(components):
            share += responsibility[1, i, j]
            top = max(top, responsibility[slot, i, j])
        total = np.float32(0.0)
        for j in range(components):
            responsibility[slot, i, j] = math.exp(responsibility[slot, i, j] - top)
            total += responsibility[slot, i, j]
        scale = share / total
        for j in range(components):
            responsibility[slot, i, j] *= scale
        energy += share * (top + math.log(total) - scratch.log_weights[0, i])
    scratch.log_energy[slot] = energy


@njit(**_PAIR_LOOP, inline="always")
def _add_log_energy_gradient(
    shape: Shape, word_means: Array, means: Array, word: int, row: int, slot: int, sense: bool, scratch: Scratch
) -> None:
    """Add scale[slot] times the gradient of log E(word, row) (module docstring) to the
    gradient buffers of slot 0 and ``slot``, from the terms :func:`_log_energy` left.  A
    ``sense`` energy does not depend on the word's weights: they get no gradient from it."""
    components, columns, dim = _sizes(shape)
    per_column = dim // columns
    responsibility = scratch.responsibility
    factor = scratch.scale[slot]
    # d log E / d s_i = sum_j r_ij - p_i, and for the row's logits the column sums of r
    for i in range(components):
        row_sum = np.float32(0.0)
        column_sum = np.float32(0.0)
        for j in range(components):
            row_sum += responsibility[slot, i, j]
            column_sum += responsibility[slot, j, i]
        if not sense:
            scratch.logits_grad[0, i, 0] += factor * (row_sum - scratch.weights[0, i])
        scratch.logits_grad[slot, i, 0] += factor * (column_sum - scratch.weights[slot, i])
    for i in range(components):
        for j in range(components):
            weight = factor * responsibility[slot, i, j]  # d(scale log E) / d xi_ij
            for c in range(columns):
                inverse = scratch.inverse_sum[slot, i, j, c]
                step = weight * inverse
                for e in range(per_column):
                    d = c * per_column + e
                    difference = word_means[word, i, d] - means[row, j, d]
                    scratch.means_grad[0, i, d] -= step * difference
                    scratch.means_grad[slot, j, d] += step * difference
                # d xi_ij / d S_ijc; times a_ic (or b_jc) it is the log-variance gradient
                excess = scratch.squared[slot, i, j, c] * inverse - np.float32(per_column)
                d_xi_d_sum = np.float32(0.5) * excess * inverse
                scratch.log_variances_grad[0, i, c] += weight * d_xi_d_sum * scratch.variances[0, i, c]
                scratch.log_variances_grad[slot, j, c] += weight * d_xi_d_sum * scratch.variances[slot, j, c]


@njit(**_PAIR_LOOP, inline="always")
def _adagrad(
    parameter: Array, sum_squares: Array, gradient: Array, row: int, slot: int, components: int, width: int,
    lr: float, eps: float,
) -> None:
    """RowAdagrad on one parameter's row, element by element: G += g^2; theta -= lr g / (sqrt(G) + eps)."""
    for k in range(components):
        for e in range(width):
            g = gradient[slot, k, e]
            accumulated = sum_squares[row, k, e] + g * g
            sum_squares[row, k, e] = accumulated
            parameter[row, k, e] -= lr * g / (math.sqrt(accumulated) + eps)


@njit(**_PAIR_LOOP, inline="always")
def _adagrad_row(shape: Shape, table: Table, row: int, slot: int, scratch: Scratch, lr: float, eps: float) -> None:
    """Adagrad on the three parameters of one row, from the gradients in scratch slot ``slot``."""
    components, columns, dim = _sizes(shape)
    _adagrad(table.means, table.means_sums, scratch.means_grad, row, slot, components, dim, lr, eps)
    _adagrad(table.log_variances, table.log_variances_sums, scratch.log_variances_grad, row, slot, components,
             columns, lr, eps)
    _adagrad(table.logits, table.logits_sums, scratch.logits_grad, row, slot, components, 1, lr, eps)


@njit(**_PAIR_LOOP, inline="always")
def _likelihood_scales(slots: int, offset: float, scratch: Scratch) -> float:
    """The "nll" loss of a pair from its log energies, and its derivative in each of them
    into ``scale``.  With s = log E + ``offset`` and z = -s for the context, z = s for a
    negative, the slot's loss is softplus(z) = -log sigma(-z), written max(z, 0) +
    log1p(exp(-|z|)) so that exp cannot overflow, and d softplus(z) / d s = sign sigma(z)."""
    loss = 0.0
    for s in range(1, slots):
        sign = np.float32(-1.0) if s == 1 else np.float32(1.0)
        z = sign * (scratch.log_energy[s] + offset)
        loss += max(z, np.float32(0.0)) + math.log1p(math.exp(-abs(z)))
        scratch.scale[s] = sign / (np.float32(1.0) + math.exp(-z))
    return loss


@njit(**_PAIR_LOOP, inline="always")
def _train_pair(
    shape: Shape, input_table: Table, output_table: Table, shared: bool, pairs: Array, p: int, lr: float,
    margin: float, sense: bool, nll: bool, offset: float, epsilon: float, adagrad_eps: float, scratch: Scratch,
) -> float:
    """Hinges (or with ``nll`` the likelihood terms, ``offset`` being b less the -D/2 log 2 pi
    that the energies here leave out), gradients and Adagrad steps of pair ``pairs[p]``: the
    word (input table), its context and its negatives (output table).  Returns the pair's
    summed loss."""
    components, columns, dim = _sizes(shape)
    slots = pairs.shape[1]
    word = pairs[p, 0]
    _mixture(shape, input_table, word, 0, scratch)
    for s in range(1, slots):
        _mixture(shape, output_table, pairs[p, s], s, scratch)
        _log_energy(shape, input_table.means, output_table.means, word, pairs[p, s], s, epsilon, sense and s > 1,
                    scratch)
    if nll:
        loss = _likelihood_scales(slots, offset, scratch)
    else:
        loss = 0.0
        active = 0
        for s in range(2, slots):
            hinge = margin - scratch.log_energy[1] + scratch.log_energy[s]
            scratch.scale[s] = hinge > 0.0  # an active hinge adds d log E(w, c'_n)
            if hinge > 0.0:
                loss += hinge
                active += 1
        if active == 0:
            return loss
        scratch.scale[1] = -active  # ... and each subtracts d log E(w, c)
    scratch.means_grad[:] = 0.0
    scratch.log_variances_grad[:] = 0.0
    scratch.logits_grad[:] = 0.0
    for s in range(1, slots):
        if scratch.scale[s] != 0.0:
            _add_log_energy_gradient(shape, input_table.means, output_table.means, word, pairs[p, s], s,
                                     sense and s > 1, scratch)
    # A row the pair uses twice (a negative that is the context, or with a shared table the
    # word itself) gets one Adagrad step with the summed gradient, as the reference does.
    owner = scratch.owner
    for b in range(slots):
        owner[b] = b
        for a in range(b):
            if owner[a] == a and pairs[p, a] == pairs[p, b] and (shared or a > 0):
                owner[b] = a
                for k in range(components):
                    for d in range(dim):
                        scratch.means_grad[a, k, d] += scratch.means_grad[b, k, d]
                    for c in range(columns):
                        scratch.log_variances_grad[a, k, c] += scratch.log_variances_grad[b, k, c]
                    scratch.logits_grad[a, k, 0] += scratch.logits_grad[b, k, 0]
                break
    if owner[0] == 0:
        _adagrad_row(shape, input_table, word, 0, scratch, lr, adagrad_eps)
    for s in range(1, slots):
        if owner[s] == s:
            _adagrad_row(shape, output_table, pairs[p, s], s, scratch, lr, adagrad_eps)
    return loss


@njit(**_PAIR_LOOP, nogil=True, _nrt=False)
def _train_pairs(
    shape: Shape, input_table: Table, output_table: Table, shared: bool, pairs: Array, positions: Array,
    count: int, total: int, lr_start: float, lr_end: float, margin: float, sense: bool, nll: bool, offset: float,
    epsilon: float, adagrad_eps: float, scratch: Scratch,
) -> float:
    """Train pairs ``:count`` in order; returns their summed loss.  The rate falls linearly
    with a pair's place ``positions[p]`` among ``total``, from ``lr_start`` to reach
    ``lr_end`` at the last place."""
    loss = 0.0
    for p in range(count):
        if p + PREFETCH_DISTANCE < count:
            _prefetch_rows(shape, input_table, pairs[p + PREFETCH_DISTANCE, 0])
            for s in range(1, pairs.shape[1]):
                _prefetch_rows(shape, output_table, pairs[p + PREFETCH_DISTANCE, s])
        lr = lr_start + (lr_end - lr_start) * (positions[p] + 1) / total
        loss += _train_pair(shape, input_table, output_table, shared, pairs, p, np.float32(lr), np.float32(margin),
                            sense, nll, np.float32(offset), np.float32(epsilon), np.float32(adagrad_eps), scratch)
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


@njit(cache=True, nogil=True)
def _train_block(
    shape: Shape, input_table: Table, output_table: Table, shared: bool, tokens: Array, start: int, stop: int,
    keep_probability: Array, negative_keep: Array, negative_alias: Array, window: int, per_pair: int,
    lr_start: float, lr_end: float, margin: float, sense: bool, nll: bool, offset: float, epsilon: float,
    adagrad_eps: float, seed: int, block: int,
) -> tuple[float, int]:
    """Subsample ``tokens[start:stop]``, then a round of centres at a time draw their pairs and
    negatives, shuffle them and train on them; returns the summed loss and the number of pairs."""
    state = _stream(seed, block)
    kept = np.empty(stop - start, dtype=np.int64)
    kept_positions = np.empty(stop - start, dtype=np.int64)
    count = _subsample(tokens, start, stop, keep_probability, state, kept, kept_positions)
    pairs = np.empty((2 * window * CENTRES_PER_ROUND, per_pair + 2), dtype=np.int64)
    positions = np.empty(2 * window * CENTRES_PER_ROUND, dtype=np.int64)
    scratch = _scratch(shape, per_pair + 2)
    loss = 0.0
    trained = 0
    for first in range(0, count, CENTRES_PER_ROUND):
        made = _sample_pairs(
            kept, kept_positions, count, first, min(first + CENTRES_PER_ROUND, count), window, negative_keep,
            negative_alias, state, pairs, positions,
        )
        _shuffle(pairs, positions, made, state)
        # the rate falls linearly with the centre's place in the span, the unit in which
        # Trainer.fit counts progress
        loss += _train_pairs(shape, input_table, output_table, shared, pairs, positions, made, tokens.shape[0],
                             lr_start, lr_end, margin, sense, nll, offset, epsilon, adagrad_eps, scratch)
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
    return Table(*(t.numpy().reshape(*t.shape[:2], -1) for t in tensors))


class HogwildUpdater:
    """Trains a trainer's tables and Adagrad state in place, on ``threads`` CPU threads.

    ``tables`` and ``optimizers`` are :class:`~w2gm.trainer.Trainer`'s: ``"input"`` and, with
    separate output distributions, ``"output"``; without it contexts use the input table.
    ``threads`` 0 takes every core.  :meth:`update` trains on given pairs;
    :meth:`train_span` draws the pairs of a span of corpus ids itself, as ``sampler`` does.
    ``objective`` is paper, sense or nll; ``offset`` is nll's b (:func:`w2gm.objective.nll_offset`).
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
        objective: str = "paper",
        offset: float = 0.0,
    ) -> None:
        self.input = _views(tables["input"], optimizers["input"])
        self.shared = "output" not in tables
        self.output = self.input if self.shared else _views(tables["output"], optimizers["output"])
        self.adagrad_eps = float(optimizers["input"].eps)  # type: ignore[attr-defined]
        means, log_variances, _ = tables["input"].parameters().values()
        self.shape = tuple(tuple(range(size)) for size in (means.shape[1], log_variances.shape[2], means.shape[2]))
        self.margin = margin
        self.sense = objective == "sense"
        self.nll = objective == "nll"
        # the energies here leave out log E's -D/2 log 2 pi (_log_energy), so b takes it out too
        self.offset = offset - 0.5 * means.shape[2] * math.log(2.0 * math.pi)
        self.epsilon = epsilon
        self.threads = threads if threads > 0 else os.cpu_count() or 1
        self.span_blocks = BLOCKS_PER_THREAD * self.threads
        self.chunks = SpanChunks()  # the blocks of a span are its chunks (w2gm.chunks)
        self.negatives = negatives
        self.sampler = sampler
        if sampler is not None:
            self.window = sampler.window
            self.keep_probability = sampler.keep_probability.cpu().numpy()
            # P_n exactly as PairSampler draws it: the steps of its float32 cumulative distribution
            steps = np.diff(sampler.negative_cdf.cpu().numpy().astype(np.float64), prepend=0.0)
            self.negative_keep, self.negative_alias = _alias_table(steps)

    @classmethod
    def from_trainer(cls, trainer: TrainerParts) -> HogwildUpdater:
        """The updater of a Trainer's tables, with its objective, threads, sampler and negatives."""
        config = trainer.config
        return cls(trainer.tables, trainer.optimizers, config.margin, config.threads, trainer.sampler,
                   config.negatives, objective=config.objective, offset=nll_offset(config))

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
        ``lr_start`` to reach ``lr_end`` at the last pair.  Returns the summed loss.

        With one thread this is Trainer.step on one pair at a time."""
        pairs = np.column_stack([centres, contexts, negatives]).astype(np.int64)
        # the rate falls linearly over all the pairs and reaches lr_end at the last one, as
        # Trainer.fit's rate does at the end of its last batch
        positions = np.arange(len(pairs))
        losses = self._blocks(len(pairs), self.threads, lambda block, start, stop: _train_pairs(
            self.shape, self.input, self.output, self.shared, pairs[start:stop], positions[start:stop], stop - start,
            len(pairs), lr_start, lr_end, self.margin, self.sense, self.nll, self.offset, self.epsilon,
            self.adagrad_eps, _scratch(self.shape, pairs.shape[1]),
        ))
        return float(sum(losses))

    def train_span(
        self, ids: np.ndarray | torch.Tensor, lr_start: float, lr_end: float, seed: int
    ) -> tuple[float, int]:
        """Subsample a span of corpus ids, draw its pairs and negatives and train on them,
        with draws from ``seed``; the rate falls linearly with the centre's place in the
        span, from ``lr_start`` to ``lr_end`` at its last token.  Returns the summed
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
        chunks = self.chunks

        def run(block: int, start: int, stop: int) -> tuple[float, int]:
            if not chunks.starts(block):
                return 0.0, 0
            result = self._train_block(tokens, start, stop, lr_start, lr_end, seed, block)
            chunks.finished(block)
            return result

        results = self._blocks(len(tokens), self.span_blocks, run)
        return float(sum(loss for loss, _ in results)), int(sum(pairs for _, pairs in results))

    @property
    def chunking(self) -> str:
        return f"numba, {self.span_blocks} blocks"

    def _train_block(self, tokens: Array, start: int, stop: int, lr_start: float, lr_end: float, seed: int,
                     block: int) -> tuple[float, int]:
        return _train_block(
            self.shape, self.input, self.output, self.shared, tokens, start, stop, self.keep_probability,
            self.negative_keep, self.negative_alias, self.window, self.negatives, lr_start, lr_end, self.margin,
            self.sense, self.nll, self.offset, self.epsilon, self.adagrad_eps, seed, block,
        )

    def compile(self) -> None:
        """Compile the span kernel for this shape now, in the calling thread, where Ctrl-C and
        SIGTERM can interrupt it (a first run at K = 8 compiles for minutes; in a worker
        thread during a span, no signal would be seen until it ends)."""
        if self.sampler is not None:
            self._train_block(np.zeros(1, dtype=np.int64), 0, 0, 0.0, 0.0, 0, 0)
