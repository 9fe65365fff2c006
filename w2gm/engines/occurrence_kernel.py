"""One sense per occurrence in the compiled CPU engine (:mod:`w2gm.engines.hogwild`): the
posterior over each centre's components given its whole window, as
:func:`w2gm.occurrence.training_log_weights` computes it on the reference path.

For the kept (subsampled) centre i of word w, with the kept words within ``window`` places
of it as context words c (read with their output mixtures g_c, weights q):

    log gamma_k = log p_k + (1 / T) sum_c logsumexp_j (log q_cj + xi_kj(c)) - log Z,

xi of Eq. (3) less its -D/2 log 2 pi, which is the same for every k and cancels in Z.  The
pair loop then trains the centre's pairs with log gamma (``soft``) or its one-hot argmax
(``hard``: 0 and -inf) in place of log p (:mod:`w2gm.engines.pair_kernel`).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..compile_cache import CACHE
from .pair_kernel import FASTMATH, Array, Shape, Table, _sizes


@njit(fastmath=FASTMATH, error_model="numpy", cache=CACHE, nogil=True)
def occurrence_log_weights(
    shape: Shape, input_table: Table, output_table: Table, kept: Array, kept_positions: Array, count: int,
    first: int, last: int, window: int, hard: bool, inverse_temperature: float, epsilon: float, base: int,
    out: Array,
) -> None:
    """For each kept centre i in ``first:last``, its log weights into ``out[kept_positions[i] - base]``
    (``[rows, K]`` float32), from the kept words ``kept[i - window : i + window + 1]`` within ``:count``."""
    components, columns, dim = _sizes(shape)
    per_column = dim // columns
    evidence = np.empty(components, dtype=np.float32)
    terms = np.empty(components, dtype=np.float32)
    for i in range(first, last):
        word = kept[i]
        evidence[:] = 0.0
        for u in range(max(0, i - window), min(count, i + window + 1)):
            if u == i:
                continue
            context = kept[u]
            # log q_j of the context word
            top_logit = output_table.logits[context, 0, 0]
            for j in range(1, components):
                top_logit = max(top_logit, output_table.logits[context, j, 0])
            normaliser = np.float32(0.0)
            for j in range(components):
                normaliser += math.exp(output_table.logits[context, j, 0] - top_logit)
            log_normaliser = top_logit + math.log(normaliser)
            for k in range(components):
                top = np.float32(-np.inf)
                for j in range(components):
                    log_det = np.float32(0.0)
                    mahalanobis = np.float32(0.0)
                    for c in range(columns):
                        variance_sum = (math.exp(input_table.log_variances[word, k, c])
                                        + math.exp(output_table.log_variances[context, j, c]) + epsilon)
                        distance = np.float32(0.0)
                        for e in range(per_column):
                            d = c * per_column + e
                            difference = input_table.means[word, k, d] - output_table.means[context, j, d]
                            distance += difference * difference
                        log_det += math.log(variance_sum)
                        mahalanobis += distance / variance_sum
                    x = (output_table.logits[context, j, 0] - log_normaliser
                         - np.float32(0.5) * (np.float32(per_column) * log_det + mahalanobis))
                    terms[j] = x
                    top = max(top, x)
                total = np.float32(0.0)
                for j in range(components):
                    total += math.exp(terms[j] - top)
                evidence[k] += top + math.log(total)
        # log p_k + evidence / T, normalised
        top_logit = input_table.logits[word, 0, 0]
        for k in range(1, components):
            top_logit = max(top_logit, input_table.logits[word, k, 0])
        best = 0
        for k in range(components):
            evidence[k] = input_table.logits[word, k, 0] - top_logit + np.float32(inverse_temperature) * evidence[k]
            if evidence[k] > evidence[best]:
                best = k
        row = kept_positions[i] - base
        if hard:
            for k in range(components):
                out[row, k] = np.float32(0.0) if k == best else np.float32(-np.inf)
            continue
        total = np.float32(0.0)
        for k in range(components):
            total += math.exp(evidence[k] - evidence[best])
        log_total = evidence[best] + math.log(total)
        for k in range(components):
            out[row, k] = evidence[k] - log_total
