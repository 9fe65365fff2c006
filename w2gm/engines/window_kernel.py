"""The compiled update of one centre's window whose pairs share their negatives, for
:mod:`w2gm.engines.hogwild` (``--negative-sharing window``).

A centre w at one place of the text pairs with the m contexts c_1..c_m of its window, and
all m pairs share one draw of negatives c'_1..c'_N (pWord2Vec, Ji et al. 2016).  The loss
of the window is the sum of its pairs' losses (3.3, or nll), in which each negative term
then occurs m times:

* nll:   L = sum_c -log sigma(s(w, c)) + m sum_n -log sigma(-s(w, c'_n));
* paper: L = sum_c sum_n max(0, m - log E(w, c) + log E(w, c'_n)).

The window is one update, the reference engine's step on a batch of its m pairs with
``mean_steps`` (:func:`w2gm.engines.reference.reference_step`): the gradients at the
parameters before it, summed over each row's uses, then one Adagrad step per row, in which
a row that u pairs use takes the u steps of their mean gradient g / u at once: G += g^2 / u,
theta -= lr g / sqrt(G).  Without that rule the word, which all m pairs use, took one step
where its pairs one by one take m; on the bundled sample the similarity sum fell from 439 to
349 (one seed), and with it 425.

So a window needs m + N energies (Eq. 2) and m + N + 1 row updates, where its m pairs one by
one need m (N + 1) and m (N + 2): at window 10 (m = 11 on average) and five negatives, 16
and 17 against 66 and 77.  The energies, their gradients and the Adagrad step are
:mod:`w2gm.engines.pair_kernel`'s; slot 0 is the word, slots 1..m the contexts, m + 1.. the
negatives.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numba import njit

from .pair_kernel import (
    _PAIR_LOOP,
    Array,
    Scratch,
    Shape,
    Table,
    _adagrad_row,
    _add_log_energy_gradient,
    _fold_slot,
    _log_energy,
    _mixture,
    _prefetch_rows,
    _sizes,
)


class Windows(NamedTuple):
    """A block's buffers for its windows, made by numpy (numba would compile an allocation
    of each type and shape): the kept tokens of the block and their places, then a round's
    windows as :func:`w2gm.engines.kernel_sampling.sample_windows` writes them, their order,
    and with one sense per occurrence each kept token's log weights."""

    kept: Array  # [tokens]
    kept_positions: Array  # [tokens]
    centres: Array  # [windows]
    context_starts: Array  # [windows + 1]
    contexts: Array  # [windows * 2 window]
    negatives: Array  # [windows, N]
    positions: Array  # [windows]
    order: Array  # [windows]
    word_log_weights: Array  # [tokens, K] with one sense per occurrence, else [0, K]


def window_buffers(tokens: int, windows: int, window: int, negatives: int, components: int,
                   per_occurrence: bool) -> Windows:
    """Buffers for a block of ``tokens`` trained ``windows`` centres at a time."""
    return Windows(
        np.empty(tokens, dtype=np.int64), np.empty(tokens, dtype=np.int64), np.empty(windows, dtype=np.int64),
        np.empty(windows + 1, dtype=np.int64), np.empty(2 * window * windows, dtype=np.int64),
        np.empty((windows, negatives), dtype=np.int64), np.empty(windows, dtype=np.int64),
        np.empty(windows, dtype=np.int64),
        np.empty((tokens if per_occurrence else 0, components), dtype=np.float32),
    )


@njit(**_PAIR_LOOP, inline="always")
def _window_scales(contexts: int, slots: int, nll: bool, margin: float, offset: float, scratch: Scratch) -> float:
    """The window's loss from its log energies, and its derivative in each of them into
    ``scale`` (slots 1..``contexts`` the contexts, the rest the negatives)."""
    loss = 0.0
    sharing = np.float32(contexts)  # the pairs that share each negative
    if nll:
        for s in range(1, slots):
            positive = s <= contexts
            sign = np.float32(-1.0) if positive else np.float32(1.0)
            weight = np.float32(1.0) if positive else sharing
            z = sign * (scratch.log_energy[s] + offset)
            loss += weight * (max(z, np.float32(0.0)) + math.log1p(math.exp(-abs(z))))
            scratch.scale[s] = weight * sign / (np.float32(1.0) + math.exp(-z))
        return loss
    for s in range(1, slots):
        scratch.scale[s] = 0.0
    for c in range(1, contexts + 1):
        for n in range(contexts + 1, slots):
            hinge = margin - scratch.log_energy[c] + scratch.log_energy[n]
            if hinge > 0.0:  # an active hinge adds d log E(w, c'_n) and subtracts d log E(w, c)
                loss += hinge
                scratch.scale[n] += np.float32(1.0)
                scratch.scale[c] -= np.float32(1.0)
    return loss


@njit(**_PAIR_LOOP, inline="always")
def _train_window(
    shape: Shape, input_table: Table, output_table: Table, shared: bool, contexts: int, slots: int, lr: float,
    margin: float, nll: bool, offset: float, epsilon: float, adagrad_eps: float, scratch: Scratch,
    word_log_weights: Array, row: int,
) -> float:
    """Energies, gradients and Adagrad steps of the window whose rows are ``scratch.rows[:slots]``;
    ``word_log_weights[row]`` (``row`` >= 0) replaces the word's log weights as in
    :func:`w2gm.engines.pair_kernel._train_pair`.  Returns the window's summed loss."""
    components, columns, dim = _sizes(shape)
    rows = scratch.rows
    word = rows[0]
    # one call of each helper, with the table chosen per slot: numba inlines every call
    # site, and its compile time grows with their number
    for s in range(slots):
        _mixture(shape, input_table if s == 0 else output_table, rows[s], s, scratch)
    if row >= 0:
        for k in range(components):
            scratch.log_weights[0, k] = word_log_weights[row, k]
            scratch.weights[0, k] = math.exp(word_log_weights[row, k])
    for s in range(1, slots):
        _log_energy(shape, input_table.means, output_table.means, word, rows[s], s, epsilon, False, scratch)
    loss = _window_scales(contexts, slots, nll, margin, offset, scratch)
    active = False
    for s in range(1, slots):
        active = active or scratch.scale[s] != 0.0
    if not active:
        return loss
    scratch.means_grad[:slots] = 0.0
    scratch.log_variances_grad[:slots] = 0.0
    scratch.logits_grad[:slots] = 0.0
    for s in range(1, slots):
        if scratch.scale[s] != 0.0:
            _add_log_energy_gradient(shape, input_table.means, output_table.means, word, rows[s], s, False, scratch)
    if row >= 0:
        for k in range(components):
            scratch.logits_grad[0, k, 0] = 0.0
    # a row the window uses more than once (a context twice, a negative that is a context,
    # with a shared table the word itself) gets one Adagrad step with the summed gradient
    owner = scratch.owner
    uses = scratch.uses
    uses[0] = np.float32(contexts)
    for s in range(1, slots):
        uses[s] = np.float32(1.0) if s <= contexts else np.float32(contexts)
    for b in range(slots):
        owner[b] = b
        for a in range(b):
            if owner[a] == a and rows[a] == rows[b] and (shared or a > 0):
                owner[b] = a
                uses[a] += uses[b]
                _fold_slot(scratch, a, b, components, dim, columns)
                break
    for s in range(slots):
        if owner[s] == s:
            _adagrad_row(shape, input_table if s == 0 else output_table, rows[s], s, scratch, lr, adagrad_eps,
                         np.float32(1.0) / uses[s])
    return loss


@njit(**_PAIR_LOOP, nogil=True, _nrt=False)
def train_windows(
    shape: Shape, input_table: Table, output_table: Table, shared: bool, centres: Array, context_starts: Array,
    contexts: Array, negatives: Array, positions: Array, order: Array, count: int, total: int, lr_start: float,
    lr_end: float, margin: float, nll: bool, offset: float, epsilon: float, adagrad_eps: float, scratch: Scratch,
    per_occurrence: bool, word_log_weights: Array, base: int, sense_sums: Array,
) -> float:
    """Train the windows ``order[:count]`` in that order (window o: the centre ``centres[o]``,
    its contexts ``contexts[context_starts[o]:context_starts[o + 1]]``, its negatives
    ``negatives[o]``); returns their summed loss.  The rate falls linearly with a window's
    place ``positions[o]`` among ``total``, from ``lr_start`` to reach ``lr_end`` at the last
    place.  ``per_occurrence``, ``word_log_weights``, ``base`` and ``sense_sums`` are
    :func:`w2gm.engines.pair_kernel.train_pairs`'s, each pair of a window counted."""
    components = _sizes(shape)[0]
    per_window = negatives.shape[1]
    rows = scratch.rows
    loss = 0.0
    for q in range(count):
        if q + 1 < count:  # the next window's rows, while this one trains
            ahead = order[q + 1]
            first = context_starts[ahead]
            pairs = context_starts[ahead + 1] - first
            for s in range(1 + pairs + per_window):
                ahead_row = centres[ahead] if s == 0 else contexts[first + s - 1] if s <= pairs else \
                    negatives[ahead, s - 1 - pairs]
                _prefetch_rows(shape, input_table if s == 0 else output_table, ahead_row)
        o = order[q]
        first, last = context_starts[o], context_starts[o + 1]
        pairs = last - first
        rows[0] = centres[o]
        for c in range(pairs):
            rows[1 + c] = contexts[first + c]
        for n in range(per_window):
            rows[1 + pairs + n] = negatives[o, n]
        lr = lr_start + (lr_end - lr_start) * (positions[o] + 1) / total
        row = positions[o] - base if per_occurrence else -1
        if per_occurrence:
            for k in range(components):
                sense_sums[centres[o], k] += pairs * math.exp(word_log_weights[row, k])
        loss += _train_window(shape, input_table, output_table, shared, pairs, 1 + pairs + per_window,
                              np.float32(lr), np.float32(margin), nll, np.float32(offset), np.float32(epsilon),
                              np.float32(adagrad_eps), scratch, word_log_weights, row)
    return loss
