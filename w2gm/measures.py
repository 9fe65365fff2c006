"""Similarity and entailment scores between two words' mixtures (paper 4.1 and 4.6).

Every measure takes two batches of mixtures, each a ``(means, log_variances, log_weights)``
triple shaped as in :mod:`w2gm.energy`, and returns one score per pair, larger meaning
more similar (distances and divergences are negated), so that rank correlations and
thresholds read the same way for all of them.

A component whose log weight is -inf is absent (an inactive component, see
:mod:`w2gm.usage`): the weighted measures give it no weight, and the best-pair measures
(max cosine, min distance, min KL) never pick it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from . import energy
from .errors import W2GMError

Mixtures = tuple[Tensor, Tensor, Tensor]
Measure = Callable[[Mixtures, Mixtures], Tensor]


def _best(pairwise: Tensor, f: Mixtures, g: Mixtures) -> Tensor:
    """The largest of ``pairwise [..., K_f, K_g]`` over the pairs of present components."""
    present = f[2].isfinite().unsqueeze(-1) & g[2].isfinite().unsqueeze(-2)
    return pairwise.masked_fill(~present, -torch.inf).flatten(-2).amax(-1)


def expected_likelihood(f: Mixtures, g: Mixtures) -> Tensor:
    """log ELK, the training energy of Eq. (2) with all its constants (4.1.1)."""
    return energy.log_expected_likelihood(*f, *g)


def max_cosine(f: Mixtures, g: Mixtures) -> Tensor:
    """Largest cosine between any component means (4.1.2)."""
    return _best(energy.pairwise_cosine(f[0], g[0]), f, g)


def min_euclidean(f: Mixtures, g: Mixtures) -> Tensor:
    """Minus the smallest distance between any component means (4.1.3)."""
    return _best(-energy.pairwise_euclidean(f[0], g[0]), f, g)


def mean_cosine(f: Mixtures, g: Mixtures) -> Tensor:
    """Cosine of every component pair weighted by p_i q_j."""
    weights = f[2].exp().unsqueeze(-1) * g[2].exp().unsqueeze(-2)
    return (energy.pairwise_cosine(f[0], g[0]) * weights).flatten(-2).sum(-1)


def centroid_cosine(f: Mixtures, g: Mixtures) -> Tensor:
    """Cosine between the two mixtures' means, sum_i p_i mu_i (the mean of the mixture
    density): one vector per word, as a unimodal model has.  A word whose components split
    its occurrences between them (a rare word's two halves, each seen half as often) is
    judged from all of its training rather than from its best half."""

    def centre(mixture: Mixtures) -> Tensor:
        return (mixture[2].exp().unsqueeze(-1) * mixture[0]).sum(-2)

    return torch.nn.functional.cosine_similarity(centre(f), centre(g), dim=-1)


def min_kl(f: Mixtures, g: Mixtures) -> Tensor:
    """Minus the smallest KL(f_i || g_j): high when some component of g covers one of f,
    i.e. when the specific word f entails the general word g (4.6)."""
    return _best(-energy.gaussian_kl(f[0], f[1], g[0], g[1]), f, g)


MEASURES: dict[str, Measure] = {
    "elk": expected_likelihood,
    "max_cosine": max_cosine,
    "min_euclidean": min_euclidean,
    "mean_cosine": mean_cosine,
    "centroid_cosine": centroid_cosine,
    "kl": min_kl,
}


def get(name: str) -> Measure:
    try:
        return MEASURES[name]
    except KeyError:
        raise W2GMError(f"unknown measure {name!r}; choose from {', '.join(MEASURES)}") from None
