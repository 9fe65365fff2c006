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
share ``split_at`` of its tokens, each component's mean gets its own Gaussian noise of
standard deviation ``split_noise`` per dimension; from then on the responsibilities differ
and the copies separate along the directions in which the word's contexts differ.  Words
seen fewer than ``split_min_count`` times are not perturbed: their components stay one
Gaussian, as too few contexts cannot support two senses.
"""

from __future__ import annotations

import numpy as np
import torch

from .mixture import MixtureTable


def tie_components(table: MixtureTable) -> None:
    """Make every component of every word a copy of its first (same mean, variance, weight)."""
    for tensor in table.parameters().values():
        tensor.copy_(tensor[:, :1].expand_as(tensor))


def retie(tensors: list[torch.Tensor]) -> None:
    """Set every component of every word to the mean of its components, in place: tensors
    shaped ``[V, K, ...]`` (parameters and optimiser sums).  Tied components get identical
    updates in exact arithmetic, but lock-free engines race: two updates of one row in flight
    may each write part of it, and the copies drift apart.  Under an objective for which
    the tied state is unstable (``--objective sense``: a copy ahead on some contexts takes
    them, and their negatives, from its sibling) a drift of one rounding error grew within
    one GPU span into copies at cosine -0.5 (benchmarks/sense_trajectories.py), a split long
    before ``split_at``.  The trainer re-ties after every span of the tied phase."""
    for tensor in tensors:
        tensor.copy_(tensor.mean(dim=1, keepdim=True).expand_as(tensor))


def split_components(
    table: MixtureTable, noise: float, seed: int, eligible: np.ndarray | None = None
) -> None:
    """Perturb each component mean of the ``eligible`` words (a boolean mask over the
    vocabulary; all words when None) by independent N(0, noise^2) per dimension."""
    generator = torch.Generator(device=table.means.device)
    generator.manual_seed(seed)
    perturbation = torch.randn(table.means.shape, generator=generator, device=table.means.device)
    if eligible is not None:
        perturbation *= torch.as_tensor(eligible, device=table.means.device).to(perturbation.dtype)[:, None, None]
    table.means.add_(perturbation, alpha=noise)


def split_tokens(total_tokens: int, split_at: float) -> int:
    """The run's token count after which components split (see the module docstring)."""
    return int(round(split_at * total_tokens))
