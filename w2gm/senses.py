"""Which sense a word has in a context: the posterior over its components given the words
around it.

The model's own energy says how.  The training energy of word w and a context word c is
E(f_w, g_c) = sum_i p_i E(N_wi, g_c) (Eq. 2), so the share of it that flows through
component i,

    r_i(c) = p_i E(N_wi, g_c) / E(f_w, g_c),

is the posterior of component i given that c occurred next to w.  Context words are read
with the distributions they had as contexts in training (the output mixtures g, when the
model kept them; else the input ones), every component of them, so E(N_wi, g_c) =
sum_j q_j exp(xi_ij).  A query combines a window's words by Bayes' rule, the product of
their energies E(N_wi, g_c) as likelihoods, each word's evidence weighted by its
subsampling keep probability and the sum divided by a temperature (QUERY_TEMPERATURE, 5:
the window's words are not independent evidence), so that a posterior of 0.9 is right about
90 % of the time; the earlier soft vote (r(c) averaged over the known context words) is
``rule="average"`` (:mod:`w2gm.occurrence`).  With no known context word the posterior is
the prior, the weights p (:func:`known_context` says which words were read, so that callers can
say when none was).

Everything is batched: :func:`context_posteriors` scores ``[N]`` words against ``[N, L]``
context windows (``-1`` pads) in chunks, one tensor expression per chunk, on the device the
tables live on.  The model's ``posteriors`` and ``disambiguate`` (:mod:`w2gm.keyed`), and
through them the SCWS contextual scores and the ``w2gm senses`` command, and the usage
pass of :mod:`w2gm.usage_pass` all use it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from . import energy, occurrence
from .errors import W2GMError
from .mixture import MixtureTable
from .vocab import Vocabulary, lookup_ids

#: Words scored per chunk: bounds the ``[chunk, L, K, K, D]`` differences of the energies.
CHUNK = 4096
#: Context words each side of the target when a model does not record its training window.
DEFAULT_WINDOW = 5
#: How a window's words combine into one posterior (:mod:`w2gm.occurrence`): the usage pass
#: counts winners with the average (its compiled loop computes that one).
DEFAULT_RULE = "average"
#: What a query (``disambiguate_many``, ``posteriors``: SCWS's contextual scores, the WSI
#: benchmark) uses: Bayes' rule over the window, its summed evidence divided by 5.  Chosen for
#: calibration on held-out pseudoword occurrences (docs/senses.md; K=2, text8 prefix, 2 seeds):
#: the expected calibration error was 0.037-0.060 at 5, 0.079-0.086 at 3, 0.17 undivided and
#: 0.13 for the average, whose posteriors sit at 0.5-0.7 whatever the window says.
QUERY_RULE = "product"
QUERY_TEMPERATURE = 5.0


def partial_log_energies(
    means: Tensor, log_variances: Tensor, context_means: Tensor, context_log_variances: Tensor
) -> Tensor:
    """xi ``[n, L, K, K_c]`` of ``n`` words ``[n, K, ...]`` with ``L`` context words each
    ``[n, L, K_c, ...]`` (:func:`w2gm.energy.partial_log_energies`).

    With spherical covariances the squared distance is expanded as
    |mu|^2 + |nu|^2 - 2 mu.nu, one batched matrix product, instead of the
    ``[n, L, K, K_c, D]`` differences: ten times faster, which the usage pass over a whole
    corpus needs.  The expansion loses digits when two means nearly coincide, which moves a
    posterior by far less than its last shown digit."""
    if log_variances.shape[-1] != 1 or context_log_variances.shape[-1] != 1:
        return energy.partial_log_energies(
            means.unsqueeze(1), log_variances.unsqueeze(1), context_means, context_log_variances
        )
    dim = means.shape[-1]
    variance_sum = (
        log_variances.exp()[:, None, :, None, 0] + context_log_variances.exp()[:, :, None, :, 0]
        + energy.VARIANCE_EPSILON
    )  # [n, L, K, K_c]
    n, length, k_c = context_means.shape[:3]
    dots = torch.bmm(means, context_means.reshape(n, length * k_c, dim).transpose(1, 2))  # [n, K, L K_c]
    dots = dots.reshape(n, -1, length, k_c).transpose(1, 2)  # [n, L, K, K_c]
    squared = (
        means.square().sum(-1)[:, None, :, None] + context_means.square().sum(-1)[:, :, None, :] - 2 * dots
    ).clamp(min=0)
    return -0.5 * (dim * variance_sum.log() + dim * math.log(2 * math.pi) + squared / variance_sum)


def context_posteriors(
    words: MixtureTable,
    contexts: MixtureTable,
    word_ids: Tensor | np.ndarray,
    context_ids: Tensor | np.ndarray,
    word_log_weights: Tensor | None = None,
    chunk: int = CHUNK,
    rule: str = DEFAULT_RULE,
    temperature: float = 1.0,
    context_weights: Tensor | None = None,
) -> Tensor:
    """Posterior over the components of ``words[word_ids[n]]`` given the context words
    ``context_ids[n]`` (``-1`` where there is none), ``[N, K]`` on the tables' device,
    combined by ``rule`` (:mod:`w2gm.occurrence`: ``average`` or ``product``, the latter
    tempered by ``temperature`` and each context word's evidence scaled by its
    ``context_weights [V]``, when given).

    ``word_log_weights [V, K]`` replaces the words' own log weights (with ``-inf`` for
    components left out, whose posterior is then 0)."""
    device = words.means.device
    word_ids = torch.as_tensor(word_ids, dtype=torch.long, device=device)
    context_ids = torch.as_tensor(context_ids, dtype=torch.long, device=device)
    if context_ids.ndim != 2 or len(context_ids) != len(word_ids):
        raise ValueError(f"context ids must be [{len(word_ids)}, L], got {tuple(context_ids.shape)}")
    if context_ids.shape[1] == 0:  # no context word anywhere: one unknown each, which gives the prior
        context_ids = torch.full((len(word_ids), 1), -1, dtype=torch.long, device=device)
    log_weights = words.log_weights() if word_log_weights is None else word_log_weights.to(device)
    context_log_weights = contexts.log_weights()
    rows = []
    with torch.no_grad():
        for start in range(0, len(word_ids), chunk):
            ids = word_ids[start : start + chunk]
            around = context_ids[start : start + chunk]
            safe = around.clamp(min=0)
            prior = log_weights[ids]  # [n, K]
            # xi[n, l, i, j]: partial energy of component i of word n and component j of its
            # l-th context word; log E(N_wi, g_c) sums the context's components out
            xi = partial_log_energies(
                words.means[ids], words.log_variances[ids], contexts.means[safe], contexts.log_variances[safe]
            )
            log_component_energy = torch.logsumexp(xi + context_log_weights[safe].unsqueeze(-2), dim=-1)
            scale = None if context_weights is None else context_weights.to(device)[safe]
            rows.append(occurrence.combine(prior, log_component_energy, around >= 0, rule, temperature, scale))
    return torch.cat(rows) if rows else torch.empty(0, words.components, device=device)


def window_ids(vocab: Vocabulary, tokens: Sequence[str], position: int | None, window: int) -> np.ndarray:
    """Ids of the ``window`` tokens each side of ``tokens[position]`` (of all the tokens
    when ``position`` is None), looked up as written, then lowercased; -1 where unknown."""
    if position is None:
        return lookup_ids(vocab, list(tokens))
    before, after = tokens[max(0, position - window) : position], tokens[position + 1 : position + 1 + window]
    return lookup_ids(vocab, [*before, *after])


def context_windows(
    vocab: Vocabulary, word: str, contexts: Sequence[str | Sequence[str]], window: int
) -> np.ndarray:
    """``[N, L]`` context ids for ``word`` in each context (a string is split on white
    space), -1 padded.

    Where the word itself occurs in a context, the ``window`` words each side of its first
    occurrence are its context, as in SCWS; where it does not, every word of the context is.
    The word itself is never its own context (however written: ``ROCK``, ``rock,`` where
    the model's tokenizer reads that as rock), and unknown words are skipped: a context with
    no other known word (empty, or only the word itself) is a row of -1, whose posterior is
    the prior.  The one check of what callers pass: the word a string, each context a
    string or a sequence of strings."""
    if not isinstance(word, str):
        raise W2GMError(f"word must be a string, got {type(word).__name__} {word!r}")
    if isinstance(contexts, str):
        raise W2GMError("contexts must be a list of contexts (each a string or a list of words), not one string")
    if isinstance(window, bool) or not isinstance(window, int | np.integer) or window < 1:
        raise W2GMError(f"window must be a whole number of at least 1, got {window!r}")
    forms = {word, word.lower()}
    word_id = int(lookup_ids(vocab, [word])[0])
    rows = []
    for context in contexts:
        tokens = context.split() if isinstance(context, str) else _tokens(context)
        ids = lookup_ids(vocab, tokens)
        own = np.array([t in forms or t.lower() in forms for t in tokens], dtype=bool) | (ids == word_id) & (
            word_id >= 0)
        read = np.ones(len(tokens), dtype=bool)
        if own.any():
            position = int(own.argmax())
            read[:] = False
            read[max(0, position - window) : position + 1 + window] = True
        rows.append(ids[read & ~own])
    width = max((len(r) for r in rows), default=0)
    ids = np.full((len(rows), max(width, 1)), -1, dtype=np.int64)
    for n, row in enumerate(rows):
        ids[n, : len(row)] = row
    return ids


def _tokens(context: object) -> list[str]:
    if isinstance(context, bytes) or not isinstance(context, Sequence) or \
            not all(isinstance(token, str) for token in context):
        raise W2GMError(f"context must be a string or a list of words, got {type(context).__name__} {context!r:.80}")
    return list(context)


def known_context(vocab: Vocabulary, ids: np.ndarray) -> list[str]:
    """The words of one row of :func:`context_windows` that the posterior reads (the known
    ones); empty when it is the prior."""
    return [vocab.words[i] for i in ids.tolist() if i >= 0]
