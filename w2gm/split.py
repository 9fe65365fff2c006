"""Growing senses: every word trains as one Gaussian first, then its K components split.

Trained from the start as K separate Gaussians (the paper's A.2), a word's components
compete for its contexts with nearly hard responsibilities (variances of 0.05 make the
partial energies of Eq. 3 differ by tens of nats): the component that first moves towards
the contexts wins all of them, and the others are pushed only by negative samples, to
places with no meaning (on Gutenberg, 68-87 % of frequent words kept such a junk
component).  GMM training avoids this by splitting: fit fewer components, then duplicate
each with a small perturbation, so that both copies start where the data are and divide
them between themselves.

Here the K components of every word (input and output tables) start identical, so the
mixture is exactly one Gaussian: log E of Eq. (2) with p_i = q_j = 1/K and equal partial
energies is the K = 1 energy, every component receives the same gradient (half of it each
for K = 2) and the components stay identical, in every engine.  Once the run reaches the
share ``split_at`` of its tokens, the copies are moved apart, and from then on the
responsibilities differ.  Words seen fewer than ``split_min_count`` times are not moved:
their components stay one Gaussian, as too few contexts cannot support two senses.

Which way to move them (``split_direction``):

* ``principal`` (the default): along the principal axis of the word's contexts, as a GMM
  is split along its data's largest eigenvector.  For a sample of the word's occurrences,
  the mean of the context words' (output) means is one point; the top eigenvector v of
  their covariance is the direction in which the contexts differ most, which for a word of
  two senses separates them.  Each context word counts as often as training pairs it with
  the word: with its subsampling keep probability (A.2), times the share of the dynamic
  windows that reach it, (W - d + 1) / W at distance d.  Unweighted, the frequent words
  that subsampling drops make up most of each window, and the axis can follow them.
  Components 0 and 1 move to mu + a v and mu - a v (components 2 and 3 along the second
  eigenvector, and so on), a = ``split_noise`` sqrt(D), the norm the random noise has on
  average.  On the planted two-sense corpus this separated the
  senses on 6 seeds of 6, the random split on none (the copies, started on either side of
  the ambiguous word at random, stayed at cosine 0.95).
* ``random``: each component mean gets its own Gaussian noise of standard deviation
  ``split_noise`` per dimension.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .config import TrainConfig
from .mixture import MixtureTable

#: Tokens scanned for the axes (a random stretch of a longer corpus): a few million already
#: give each frequent word its sample of contexts.
SCAN_TOKENS = 1 << 26
#: Occurrences of a word whose contexts give its principal axes.
OCCURRENCES = 128
#: Words whose axes are found at once: bounds their ``[words, OCCURRENCES, D]`` points.
BLOCK_WORDS = 4096
#: Subspace iterations for the leading axes, each with the eighth power of the covariance:
#: the component along an axis whose eigenvalue is 0.98 of the leading one shrinks to
#: 0.98^240 ~ 0.008.  Then a few with the covariance itself, for the axes after the first:
#: where their eigenvalues are under a seventh of the first's, the eighth power leaves them
#: below float32's rounding of it.
ITERATIONS = 30
REFINEMENTS = 10


def tie_components(table: MixtureTable) -> None:
    """Make every component of every word a copy of its first (same mean, variance, weight)."""
    for tensor in table.parameters().values():
        tensor.copy_(tensor[:, :1].expand_as(tensor))


def retie(tensors: list[torch.Tensor], rows: Tensor | None = None) -> None:
    """Set every component of every word (of the ``rows`` a boolean ``[V]`` mask picks) to
    the mean of its components, in place: tensors shaped ``[V, K, ...]`` (parameters and
    optimiser sums).  Tied components get identical updates in exact arithmetic, but
    lock-free engines race: two updates of one row in flight may each write part of it, and
    the copies drift apart.  Under an objective for which the tied state is unstable
    (``--objective sense``: a copy ahead on some contexts takes them, and their negatives,
    from its sibling) a drift of one rounding error grew within one GPU span into copies at
    cosine -0.5 (benchmarks/sense_trajectories.py), a split long before ``split_at``.  Under
    nll the tied state is unstable too, if more slowly (a copy nearer the contexts takes more
    of their gradient), so words that ``split_min_count`` keeps tied could split at random
    after the others split.  The trainer re-ties every word after every span of the tied
    phase, and those words after every span of the rest."""
    for tensor in tensors:
        if rows is None:
            tensor.copy_(tensor.mean(dim=1, keepdim=True).expand_as(tensor))
        else:
            chosen = tensor[rows]
            tensor[rows] = chosen.mean(dim=1, keepdim=True).expand_as(chosen)


def split_components(
    table: MixtureTable, noise: float, seed: int, eligible: np.ndarray | None = None
) -> None:
    """Perturb each component mean of the ``eligible`` words (a boolean mask over the
    vocabulary; all words when None) by independent N(0, noise^2) per dimension."""
    generator = torch.Generator(device=table.means.device)
    generator.manual_seed(seed)
    perturbation = torch.randn(table.means.shape, generator=generator, device=table.means.device)
    table.means.add_(_only(perturbation, eligible), alpha=noise)


def split_along(table: MixtureTable, axes: Tensor, distance: float, eligible: np.ndarray | None = None) -> None:
    """Move component k of each ``eligible`` word by ``distance`` along ``(-1)^k axes[:, k // 2]``
    (``axes [V, A, D]``, unit vectors, A >= ceil(K / 2))."""
    components = table.components
    index = torch.arange(components, device=table.means.device)
    signs = 1.0 - 2.0 * (index % 2).to(table.means.dtype)  # +1, -1, +1, ...
    offsets = axes.to(table.means)[:, index // 2] * signs[None, :, None]
    table.means.add_(_only(offsets, eligible), alpha=distance)


def _only(offsets: Tensor, eligible: np.ndarray | None) -> Tensor:
    if eligible is None:
        return offsets
    return offsets * torch.as_tensor(eligible, device=offsets.device).to(offsets.dtype)[:, None, None]


def principal_axes(data: np.ndarray | Tensor, context_means: Tensor, config: TrainConfig,
                   generator: torch.Generator, keep: Tensor | None = None) -> Tensor:
    """The axes ``[V, ceil(K / 2), D]`` the tied components split along, found in ``data``
    (the corpus ids, or a random stretch of SCAN_TOKENS of them) with the training window
    and the words' keep probabilities ``keep [V]`` (all 1 when None)."""
    start = 0
    if len(data) > SCAN_TOKENS:
        start = int(torch.randint(len(data) - SCAN_TOKENS, (1,), generator=generator, device=generator.device))
    stretch = data[start : start + SCAN_TOKENS]
    if not isinstance(stretch, Tensor):
        stretch = torch.from_numpy(np.asarray(stretch, dtype=np.int64))
    return context_axes(stretch, context_means, config.window, (config.components + 1) // 2, generator, keep)


def context_axes(
    ids: Tensor, context_means: Tensor, window: int, axes: int, generator: torch.Generator,
    keep: Tensor | None = None, occurrences: int = OCCURRENCES, block: int = BLOCK_WORDS,
) -> Tensor:
    """The ``axes`` leading eigenvectors ``[V, axes, D]`` of the covariance of each word's
    contexts in ``ids`` (on the device of ``context_means [V, D]``).

    Up to ``occurrences`` occurrences of each word, drawn at random, each give one point:
    the mean of ``context_means`` over the ``window`` words each side, each weighted by its
    keep probability ``keep [V]`` (1 when None) and its dynamic windows' share (module
    docstring).  A word seen fewer than twice has no covariance; it gets random unit vectors."""
    device = context_means.device
    vocab_size, dim = context_means.shape
    ids = ids.to(device=device, dtype=torch.long)
    keep = torch.ones(vocab_size, device=device) if keep is None else keep.to(device)
    # positions grouped by word, in random order within each word; the first ``occurrences``
    order = torch.randperm(len(ids), generator=generator, device=device)
    order = order[torch.sort(ids[order], stable=True).indices]
    counts = torch.bincount(ids, minlength=vocab_size)
    starts = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(ids), device=device) - starts[ids[order]]
    order, rank = order[rank < occurrences], rank[rank < occurrences]  # still grouped by word
    kept = counts.clamp(max=occurrences)
    first = (torch.cumsum(kept, 0) - kept).tolist()
    result = torch.randn(vocab_size, axes, dim, generator=generator, device=device)
    result = result / result.norm(dim=-1, keepdim=True)
    for low in range(0, vocab_size, block):
        high = min(vocab_size, low + block)
        chosen = slice(first[low], first[high - 1] + int(kept[high - 1]))
        positions = order[chosen]
        # the words' points side by side, zero-padded: [words, occurrences, D]
        points = torch.zeros(high - low, occurrences, dim, device=device, dtype=context_means.dtype)
        points[ids[positions] - low, rank[chosen]] = _window_means(ids, positions, context_means, window, keep)
        n = kept[low:high].to(points.dtype).clamp(min=1)[:, None, None]
        mean = points.sum(1, keepdim=True) / n
        covariance = points.transpose(1, 2) @ points / n - mean.transpose(1, 2) @ mean
        known = kept[low:high] >= 2
        result[low:high][known] = _leading_eigenvectors(covariance[known], result[low:high][known])
    return result


def _window_means(ids: Tensor, positions: Tensor, context_means: Tensor, window: int, keep: Tensor) -> Tensor:
    """``[n, D]``: the weighted mean of ``context_means`` over the words within ``window`` of
    each position, a word at distance d weighted by ``keep`` times (window - d + 1) / window."""
    steps = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)]).to(positions.device)
    reach = (window + 1 - steps.abs()).to(context_means.dtype) / window
    around = positions[:, None] + steps
    inside = (around >= 0) & (around < len(ids))
    words = ids[around.clamp(0, len(ids) - 1)]  # [n, 2 window]; places past the text's ends weigh 0
    weights = torch.where(inside, reach * keep[words].to(context_means.dtype), 0.0)
    sums = torch.nn.functional.embedding_bag(words, context_means, mode="sum", per_sample_weights=weights)
    return sums / weights.sum(1, keepdim=True).clamp(min=torch.finfo(weights.dtype).tiny)


def _leading_eigenvectors(covariance: Tensor, start: Tensor, iterations: int = ITERATIONS) -> Tensor:
    """The leading eigenvectors ``[n, a, D]`` of symmetric ``covariance [n, D, D]``, by
    subspace iteration from ``start [n, a, D]`` with the covariance's eighth power, and a
    Rayleigh-Ritz rotation (a batched ``eigh`` of the [D, D] matrices costs seconds on a
    CPU for a vocabulary; a batched QR costs as much on a GPU, Gram-Schmidt over a few
    columns nothing)."""
    trace = covariance.diagonal(dim1=1, dim2=2).sum(-1)[:, None, None]
    power = covariance / trace.clamp(min=torch.finfo(covariance.dtype).tiny)  # eigenvalues in [0, 1]
    for _ in range(3):
        power = power @ power
    basis = _orthonormal(start.transpose(1, 2))  # [n, D, a]
    for _ in range(iterations):
        basis = _orthonormal(power @ basis)
    for _ in range(REFINEMENTS if basis.shape[-1] > 1 else 0):
        basis = _orthonormal(covariance @ basis)
    _, rotation = torch.linalg.eigh(basis.transpose(1, 2) @ covariance @ basis)  # [n, a, a], ascending
    return (basis @ rotation.flip(-1)).transpose(1, 2)


def _orthonormal(basis: Tensor) -> Tensor:
    """The columns of ``basis [n, D, a]`` made orthonormal in order: Gram-Schmidt, each
    projection made twice, as one loses orthogonality when a column lies almost in the
    span of those before it."""
    columns: list[Tensor] = []
    for j in range(basis.shape[-1]):
        column = basis[..., j]
        for _ in range(2 if columns else 0):
            for done in columns:
                column = column - (done * column).sum(-1, keepdim=True) * done
        columns.append(column / column.norm(dim=-1, keepdim=True).clamp(min=torch.finfo(column.dtype).tiny))
    return torch.stack(columns, -1)


def split_tokens(total_tokens: int, split_at: float) -> int:
    """The run's token count after which components split (see the module docstring)."""
    return int(round(split_at * total_tokens))
