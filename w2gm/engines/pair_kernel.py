"""The compiled update of one (word, context, negatives) pair, for :mod:`w2gm.engines.hogwild`.

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
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from ..compile_cache import CACHE

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
    rows: Array  # [slots]: the table row of each slot (a window's update, w2gm.engines.window_kernel)
    uses: Array  # [slots]: how many of a window's pairs use the slot's row


#: The rows of pair p + PREFETCH_DISTANCE are prefetched while pair p trains.  Rows are
#: spread over tables of tens of megabytes, and without it a pair waits on about ten cache
#: misses (a quarter of the loop's time on text8_prefix); 1 to 8 pairs ahead time the same.
PREFETCH_DISTANCE = 4

# How the pair loop is compiled, each point worth a large share of its time:
#
# * error_model="numpy": a float division by zero gives inf instead of raising, so LLVM
#   may vectorise loops that divide (Adagrad's above all); no divisor here can be zero.
# * Every helper is inlined (inline="always") into train_pairs, which is compiled without
#   numba's reference counting (_nrt=False; it allocates nothing).  With it, each array an
#   inlined helper is handed gets an atomic increment and decrement of its reference count
#   per pair wherever the helper branches, about 30 pairs of them, a sixth of the time.
# * Arithmetic is float32 throughout, as the reference's: a float64 operand (a Python
#   float, an integer times a float32) would turn what it meets into float64, which LLVM
#   vectorises half as wide and whose exp and log are the slower libm ones.  Only the loss
#   is summed in float64.
# * A pair is passed as (pairs, p), not as the view pairs[p], which would be a new array.
_PAIR_LOOP = {"fastmath": FASTMATH, "error_model": "numpy", "cache": CACHE}


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


@njit(cache=CACHE, inline="always")
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


@njit(cache=CACHE, inline="always")
def _prefetch_row(array: Array, row: int, width: int) -> None:
    """Prefetch every cache line of ``array[row]``, ``width`` float32s in a C-contiguous
    array: 16 a line, and the last one too, as a row need not start on a line."""
    for offset in range(0, width, 16):
        _prefetch(array, row * width + offset)
    _prefetch(array, row * width + width - 1)


@njit(cache=CACHE, inline="always")
def _prefetch_rows(shape: Shape, table: Table, row: int) -> None:
    """Prefetch a table's row: its parameters and their Adagrad sums."""
    components, columns, dim = _sizes(shape)
    _prefetch_row(table.means, row, components * dim)
    _prefetch_row(table.means_sums, row, components * dim)
    _prefetch_row(table.log_variances, row, components * columns)
    _prefetch_row(table.log_variances_sums, row, components * columns)
    _prefetch_row(table.logits, row, components)
    _prefetch_row(table.logits_sums, row, components)


def scratch_buffers(shape: Shape, slots: int) -> Scratch:
    """Buffers for updates of ``slots`` rows (2 + negatives for a pair), made by numpy: numba
    would compile an allocation of each type and shape (a second of a first run)."""
    components, columns, dim = (len(ids) for ids in shape)
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
        np.empty(slots, dtype=np.int64),
        np.empty(slots, dtype=np.float32),
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
    lr: float, eps: float, share: float,
) -> None:
    """RowAdagrad on one parameter's row, element by element: G += share g^2; theta -= lr g / (sqrt(G) + eps)
    (``share`` 1 but where a window's pairs share the row, :mod:`w2gm.engines.window_kernel`)."""
    for k in range(components):
        for e in range(width):
            g = gradient[slot, k, e]
            accumulated = sum_squares[row, k, e] + share * g * g
            sum_squares[row, k, e] = accumulated
            parameter[row, k, e] -= lr * g / (math.sqrt(accumulated) + eps)


@njit(**_PAIR_LOOP, inline="always")
def _fold_slot(scratch: Scratch, a: int, b: int, components: int, dim: int, columns: int) -> None:
    """Slot b's gradient added to slot a's, where both slots are one row."""
    for k in range(components):
        for d in range(dim):
            scratch.means_grad[a, k, d] += scratch.means_grad[b, k, d]
        for c in range(columns):
            scratch.log_variances_grad[a, k, c] += scratch.log_variances_grad[b, k, c]
        scratch.logits_grad[a, k, 0] += scratch.logits_grad[b, k, 0]


@njit(**_PAIR_LOOP, inline="always")
def _adagrad_row(shape: Shape, table: Table, row: int, slot: int, scratch: Scratch, lr: float, eps: float,
                 share: float = np.float32(1.0)) -> None:
    """Adagrad on the three parameters of one row, from the gradients in scratch slot ``slot``."""
    components, columns, dim = _sizes(shape)
    _adagrad(table.means, table.means_sums, scratch.means_grad, row, slot, components, dim, lr, eps, share)
    _adagrad(table.log_variances, table.log_variances_sums, scratch.log_variances_grad, row, slot, components,
             columns, lr, eps, share)
    _adagrad(table.logits, table.logits_sums, scratch.logits_grad, row, slot, components, 1, lr, eps, share)


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
    word_log_weights: Array, row: int,
) -> float:
    """Hinges (or with ``nll`` the likelihood terms, ``offset`` being b less the -D/2 log 2 pi
    that the energies here leave out), gradients and Adagrad steps of pair ``pairs[p]``: the
    word (input table), its context and its negatives (output table).  With ``row`` >= 0 the
    word's log weights are ``word_log_weights[row]`` (its occurrence's, w2gm.occurrence), and
    its own logits get no gradient.  Returns the pair's summed loss."""
    components, columns, dim = _sizes(shape)
    slots = pairs.shape[1]
    word = pairs[p, 0]
    _mixture(shape, input_table, word, 0, scratch)
    if row >= 0:
        for k in range(components):
            scratch.log_weights[0, k] = word_log_weights[row, k]
            scratch.weights[0, k] = math.exp(word_log_weights[row, k])
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
    if row >= 0:  # the occurrence's weights are not the word's: its logits follow usage instead
        for k in range(components):
            scratch.logits_grad[0, k, 0] = 0.0
    # A row the pair uses twice (a negative that is the context, or with a shared table the
    # word itself) gets one Adagrad step with the summed gradient, as the reference does.
    owner = scratch.owner
    for b in range(slots):
        owner[b] = b
        for a in range(b):
            if owner[a] == a and pairs[p, a] == pairs[p, b] and (shared or a > 0):
                owner[b] = a
                _fold_slot(scratch, a, b, components, dim, columns)
                break
    if owner[0] == 0:
        _adagrad_row(shape, input_table, word, 0, scratch, lr, adagrad_eps)
    for s in range(1, slots):
        if owner[s] == s:
            _adagrad_row(shape, output_table, pairs[p, s], s, scratch, lr, adagrad_eps)
    return loss


@njit(**_PAIR_LOOP, nogil=True, _nrt=False)
def train_pairs(
    shape: Shape, input_table: Table, output_table: Table, shared: bool, pairs: Array, positions: Array,
    count: int, total: int, lr_start: float, lr_end: float, margin: float, sense: bool, nll: bool, offset: float,
    epsilon: float, adagrad_eps: float, scratch: Scratch, per_occurrence: bool, word_log_weights: Array, base: int,
    sense_sums: Array,
) -> float:
    """Train pairs ``:count`` in order; returns their summed loss.  The rate falls linearly
    with a pair's place ``positions[p]`` among ``total``, from ``lr_start`` to reach
    ``lr_end`` at the last place.  With ``per_occurrence`` pair p's word takes the log
    weights ``word_log_weights[positions[p] - base]`` (its centre's, one sense per
    occurrence) and adds their exponentials to its row of ``sense_sums`` ``[V, K]``."""
    components = _sizes(shape)[0]
    loss = 0.0
    for p in range(count):
        if p + PREFETCH_DISTANCE < count:
            _prefetch_rows(shape, input_table, pairs[p + PREFETCH_DISTANCE, 0])
            for s in range(1, pairs.shape[1]):
                _prefetch_rows(shape, output_table, pairs[p + PREFETCH_DISTANCE, s])
        lr = lr_start + (lr_end - lr_start) * (positions[p] + 1) / total
        row = positions[p] - base if per_occurrence else -1
        if per_occurrence:
            for k in range(components):
                sense_sums[pairs[p, 0], k] += math.exp(word_log_weights[row, k])
        loss += _train_pair(shape, input_table, output_table, shared, pairs, p, np.float32(lr), np.float32(margin),
                            sense, nll, np.float32(offset), np.float32(epsilon), np.float32(adagrad_eps), scratch,
                            word_log_weights, row)
    return loss
