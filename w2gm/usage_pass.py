"""The usage pass: how often each component is the sense a word has in its contexts.

One pass over the training ids (or evenly spread blocks of them, at most ``max_tokens``
tokens, by default 2M on a CPU and 64M on a GPU) scores every token against the ``window`` words each side of it with
:func:`w2gm.senses.context_posteriors` and counts, for each word, how often each of its
components has the highest posterior.  On a GPU the pass runs that function on chunks of
tokens; on a CPU a compiled loop (:func:`_winners`) computes the same posterior token by
token, without the ``[tokens, window, K, K, D]`` gathers that made the torch pass cost
three quarters of a one-epoch training on Gutenberg.  The counts make the
:class:`~w2gm.usage.Usage` record, which says which components are inactive.  Each token's
context is the whole window as the text has it (no subsampling): the context
``model.disambiguate`` would be given.  The tokens scored may be thinned as training thins
them (``keep``, a word's subsampling keep probability): a frequent word's shares are then
estimated from fewer of its thousands of occurrences, unbiased (which occurrences are kept
depends on the position alone, not on the context), and a word rarer than the threshold keeps
every occurrence.  On the bundled sample (threshold 1e-4) it scores 438k of the 938k tokens.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Literal

import numpy as np
import torch
from numba import njit
from torch import Tensor

from .compile_cache import CACHE
from .energy import VARIANCE_EPSILON
from .mixture import MixtureTable
from .senses import context_posteriors
from .usage import Usage

#: Tokens scored per chunk of the pass.
TOKEN_CHUNK = 1 << 14
#: Contiguous tokens per block when the pass samples a long text.
SAMPLE_BLOCK = 1 << 16
#: Token t is scored when frac(t x this) < its word's keep probability: positions spread
#: evenly over [0, 1) (the golden-ratio sequence), the same on every engine and run.
GOLDEN = 0.6180339887498949


def kept(positions: np.ndarray | Tensor, probabilities: np.ndarray | Tensor) -> np.ndarray | Tensor:
    """Which tokens at ``positions`` (text offsets) the pass scores, their words' keep
    probabilities given."""
    return (positions * GOLDEN) % 1.0 < probabilities


def default_max_tokens(device: torch.device) -> int:
    """How much of the text the pass reads by default: 2M tokens on a CPU (the whole text8
    prefix; about 10 s on two cores, a third of one epoch of Gutenberg's training), 64M on a GPU."""
    return 1 << 26 if device.type == "cuda" else 1 << 21


def sample_positions(length: int, max_tokens: int, block: int = SAMPLE_BLOCK) -> np.ndarray:
    """Starts of the blocks of ``block`` tokens the pass reads: all of the text when it is
    at most ``max_tokens`` long, else ``max_tokens / block`` blocks spread evenly over it."""
    if length <= max_tokens:
        return np.arange(0, length, block)
    blocks = max(1, max_tokens // block)
    return np.linspace(0, length - block, blocks).astype(np.int64)


def count_winners(
    words: MixtureTable,
    contexts: MixtureTable,
    ids: np.ndarray | Tensor,
    window: int,
    device: torch.device | str | None = None,
    max_tokens: int | None = None,
    chunk: int = TOKEN_CHUNK,
    block: int = SAMPLE_BLOCK,
    engine: Literal["auto", "torch", "numba"] = "auto",
    threads: int = 0,
    keep: np.ndarray | None = None,
) -> Tensor:
    """``[V, K]`` int64: for each word, how many of its tokens in ``ids`` (word ids in text
    order) each component wins given the ``window`` tokens each side.  Runs on ``device``
    (default: the tables'); the tables are used as they are, every component included.
    ``engine`` "auto" takes the compiled loop on a CPU (``threads`` of them, 0: every core)
    and chunks of :func:`~w2gm.senses.context_posteriors` on a GPU.  ``keep`` ``[V]``: each
    word's probability that one of its tokens is scored (:func:`kept`); None scores all."""
    device = torch.device(device) if device is not None else words.means.device
    keep = np.ones(words.means.shape[0]) if keep is None else np.asarray(keep, dtype=np.float64)
    max_tokens = max_tokens if max_tokens is not None else default_max_tokens(device)
    starts = sample_positions(len(ids), max_tokens, block)
    if engine == "numba" or (engine == "auto" and device.type == "cpu"):
        text = ids.cpu().numpy() if isinstance(ids, Tensor) else np.asarray(ids)
        return _count_compiled(words, contexts, text, window, starts, block, threads, keep)
    words, contexts = words.to(device), contexts.to(device)
    vocab_size, k = words.means.shape[:2]
    counts = torch.zeros(vocab_size * k, dtype=torch.int64, device=device)
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)]).to(device)
    keep_on_device = torch.from_numpy(keep).to(device)
    length = len(ids)
    for block_start in starts.tolist():
        block_stop = min(length, block_start + block)
        # the block with `window` tokens of text either side, so its edge tokens see theirs
        lo, hi = max(0, block_start - window), min(length, block_stop + window)
        text = ids[lo:hi] if isinstance(ids, Tensor) else torch.from_numpy(np.array(ids[lo:hi]))
        text = text.to(device, torch.long)
        for start in range(block_start - lo, block_stop - lo, chunk):
            positions = torch.arange(start, min(start + chunk, block_stop - lo), device=device)
            positions = positions[kept((positions + lo).double(), keep_on_device[text[positions]])]
            if len(positions) == 0:
                continue
            around = positions.unsqueeze(1) + offsets  # [n, 2 window]
            inside = (around >= 0) & (around < len(text))
            context_ids = torch.where(inside, text[around.clamp(0, len(text) - 1)], -1)
            centre = text[positions]
            winner = context_posteriors(words, contexts, centre, context_ids).argmax(-1)
            counts.index_add_(0, centre * k + winner, torch.ones_like(centre))
    return counts.reshape(vocab_size, k).cpu()


def _count_compiled(
    words: MixtureTable, contexts: MixtureTable, text: np.ndarray, window: int, starts: np.ndarray, block: int,
    threads: int, keep: np.ndarray,
) -> Tensor:
    """:func:`count_winners` on the CPU: the blocks at ``starts`` cut into pieces that
    ``threads`` threads score with :func:`_winners`, then one bincount."""
    def table(mixture: MixtureTable) -> tuple[np.ndarray, ...]:
        return tuple(t.detach().cpu().double().numpy() for t in (mixture.means, mixture.variances(), mixture.weights()))

    word_table, context_table = table(words), table(contexts)
    vocab_size, k = words.means.shape[:2]
    length = len(text)
    step = max(1, block // 4)  # pieces smaller than blocks: a short text still feeds every thread
    pieces = [(lo, min(lo + step, start + block, length))
              for start in starts.tolist() for lo in range(start, min(start + block, length), step)]
    winners = [np.empty(stop - lo, dtype=np.int64) for lo, stop in pieces]

    def score(n: int) -> None:
        _winners(text, *pieces[n], window, *word_table, *context_table, keep, winners[n])

    with ThreadPoolExecutor(threads if threads > 0 else os.cpu_count() or 1) as pool:
        list(pool.map(score, range(len(pieces))))
    centres = np.concatenate([text[lo:stop] for lo, stop in pieces]).astype(np.int64) if pieces else np.empty(0, int)
    chosen = np.concatenate(winners) if winners else np.empty(0, int)
    scored = chosen >= 0
    counts = np.bincount(centres[scored] * k + chosen[scored], minlength=vocab_size * k)
    return torch.from_numpy(counts.reshape(vocab_size, k))


@njit(cache=CACHE, nogil=True, fastmath={"contract", "reassoc", "nsz", "arcp"}, error_model="numpy")
def _winners(
    text: np.ndarray, start: int, stop: int, window: int,
    means: np.ndarray, variances: np.ndarray, weights: np.ndarray,
    context_means: np.ndarray, context_variances: np.ndarray, context_weights: np.ndarray,
    keep: np.ndarray, out: np.ndarray,
) -> None:
    """For each token t in ``text[start:stop]``, the component of its word with the highest
    posterior given the ``window`` words each side (:mod:`w2gm.senses`): r_i(c) = p_i E_i /
    sum_k p_k E_k with E_i = sum_j q_j exp(xi_ij), xi of Eq. (3), averaged over the known
    context words; with none, the largest weight p_i.  The energies are taken in linear
    space after subtracting the largest xi of the context word, in float64: eight
    transcendentals per context word instead of the fifteen of nested logsumexps, which
    dominate the time.  The squared distances are summed over contiguous rows in any order
    (fastmath's reassociation), which lets LLVM vectorise them: the pass took half the time
    (1.82 s -> 0.91 s on 300k tokens of the bundled sample, one thread), every winner the same.
    A token that :func:`kept` leaves out gets -1."""
    k, dim = means.shape[1], means.shape[2]
    k_c, columns = context_means.shape[1], variances.shape[2]
    per_column = dim // columns
    votes = np.empty(k)
    energies = np.empty(k)
    partial = np.empty((k, k_c))
    for t in range(start, stop):
        word = text[t]
        if (t * GOLDEN) % 1.0 >= keep[word]:
            out[t - start] = -1
            continue
        votes[:] = 0.0
        known = 0
        for u in range(max(0, t - window), min(len(text), t + window + 1)):
            context = text[u]
            if u == t or context < 0:
                continue
            known += 1
            top = -np.inf
            for i in range(k):
                word_mean = means[word, i]
                for j in range(k_c):
                    context_mean = context_means[context, j]
                    log_det, squared = 0.0, 0.0
                    for c in range(columns):
                        total = variances[word, i, c] + context_variances[context, j, c] + VARIANCE_EPSILON
                        log_det += per_column * math.log(total)
                        distance = 0.0
                        for e in range(per_column):
                            difference = word_mean[c * per_column + e] - context_mean[c * per_column + e]
                            distance += difference * difference
                        squared += distance / total
                    partial[i, j] = -0.5 * (log_det + squared)  # xi without the 2 pi term, common to all
                    top = max(top, partial[i, j])
            evidence = 0.0
            for i in range(k):
                energies[i] = 0.0
                for j in range(k_c):
                    energies[i] += context_weights[context, j] * math.exp(partial[i, j] - top)
                energies[i] *= weights[word, i]
                evidence += energies[i]
            for i in range(k):
                votes[i] += energies[i] / evidence if evidence > 0 else 0.0
        out[t - start] = np.argmax(votes) if known else np.argmax(weights[word])


def component_usage(
    words: MixtureTable,
    contexts: MixtureTable | None,
    ids: np.ndarray | Tensor,
    window: int,
    device: torch.device | str | None = None,
    max_tokens: int | None = None,
) -> Tensor:
    """Usage shares ``[V, K]`` (rows sum to 1; NaN for words absent from the pass) of the
    components of ``words`` in the text ``ids``; ``contexts`` are the output distributions
    (None: the input ones, as for a model trained without them)."""
    counts = count_winners(words, contexts if contexts is not None else words, ids, window, device, max_tokens)
    return Usage.from_counts(counts).shares()
