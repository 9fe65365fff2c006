"""Energies and distances between Gaussian mixtures.

Shapes follow one convention everywhere in w2gm: a batch of mixtures is

* ``means``          ``[..., K, D]``
* ``log_variances``  ``[..., K, C]`` with ``C = 1`` (spherical) or ``C = D`` (diagonal)
* ``log_weights``    ``[..., K]``  (log mixture probabilities, already normalised)

so spherical and diagonal covariances share one code path: a spherical variance is a
diagonal one whose single column broadcasts over the ``D`` dimensions.  Wherever a
sum over dimensions of a variance term appears, the spherical case must count it
``D`` times (``D / C``); forgetting that factor is the classic bug that makes
spherical log-determinants, and so every ELK score, wrong.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

#: Added to every variance sum before its log and its inverse (paper, A.2).
VARIANCE_EPSILON = 1e-4


def _per_dimension_count(means: Tensor, variances: Tensor) -> int:
    """How many of the ``D`` dimensions each variance column stands for (``D`` or 1)."""
    return means.shape[-1] // variances.shape[-1]


def partial_log_energies(
    means_f: Tensor,
    log_variances_f: Tensor,
    means_g: Tensor,
    log_variances_g: Tensor,
    epsilon: float = VARIANCE_EPSILON,
) -> Tensor:
    """The ``K_f x K_g`` partial log energies xi_ij of Eq. (3), shape ``[..., K_f, K_g]``.

    xi_ij = log N(0; mu_fi - mu_gj, Sigma_fi + Sigma_gj)
          = -1/2 log det(S) - D/2 log(2 pi) - 1/2 (mu_fi - mu_gj)^T S^-1 (mu_fi - mu_gj),
    with S = Sigma_fi + Sigma_gj + epsilon I (A.2).
    """
    dim = means_f.shape[-1]
    variance_sum = (
        log_variances_f.exp().unsqueeze(-2) + log_variances_g.exp().unsqueeze(-3) + epsilon
    )  # [..., K_f, K_g, C]
    log_det = variance_sum.log().sum(-1) * _per_dimension_count(means_f, log_variances_f)
    # the difference itself, not |mu_f|^2 + |mu_g|^2 - 2 mu_f.mu_g, which cancels badly when
    # two means are close (as a word's components are at the start of training)
    difference = means_f.unsqueeze(-2) - means_g.unsqueeze(-3)  # [..., K_f, K_g, D]
    mahalanobis = (difference.square() / variance_sum).sum(-1)
    return -0.5 * (log_det + dim * math.log(2 * math.pi) + mahalanobis)


def log_expected_likelihood(
    means_f: Tensor,
    log_variances_f: Tensor,
    log_weights_f: Tensor,
    means_g: Tensor,
    log_variances_g: Tensor,
    log_weights_g: Tensor,
    epsilon: float = VARIANCE_EPSILON,
) -> Tensor:
    """log E(f, g) of Eq. (2), the log expected likelihood kernel, shape ``[...]``.

    Computed as logsumexp_ij(log p_i + log q_j + xi_ij), which is the max-shifted form
    of A.2 and stays finite however far apart the partial energies are.
    """
    joint = _joint_log_terms(means_f, log_variances_f, log_weights_f, means_g, log_variances_g, log_weights_g, epsilon)
    return torch.logsumexp(joint.flatten(-2), dim=-1)


def _joint_log_terms(
    means_f: Tensor, log_variances_f: Tensor, log_weights_f: Tensor,
    means_g: Tensor, log_variances_g: Tensor, log_weights_g: Tensor, epsilon: float,
) -> Tensor:
    """log p_i + log q_j + xi_ij, ``[..., K_f, K_g]``: the terms whose logsumexp is log E."""
    xi = partial_log_energies(means_f, log_variances_f, means_g, log_variances_g, epsilon)
    return xi + log_weights_f.unsqueeze(-1) + log_weights_g.unsqueeze(-2)


def log_energy_and_shares(
    means_f: Tensor,
    log_variances_f: Tensor,
    log_weights_f: Tensor,
    means_g: Tensor,
    log_variances_g: Tensor,
    log_weights_g: Tensor,
    epsilon: float = VARIANCE_EPSILON,
) -> tuple[Tensor, Tensor]:
    """log E(f, g) ``[...]`` and each component of f's share of it, rho_i = sum_j r_ij with
    r_ij = exp(log p_i + log q_j + xi_ij - log E) (the posterior of f's component i given g),
    shape ``[..., K_f]``."""
    joint = _joint_log_terms(means_f, log_variances_f, log_weights_f, means_g, log_variances_g, log_weights_g, epsilon)
    log_energy = torch.logsumexp(joint.flatten(-2), dim=-1)
    return log_energy, (joint - log_energy[..., None, None]).exp().sum(-1)


def gaussian_kl(
    means_f: Tensor,
    log_variances_f: Tensor,
    means_g: Tensor,
    log_variances_g: Tensor,
) -> Tensor:
    """KL(N_fi || N_gj) for every component pair, shape ``[..., K_f, K_g]``.

    For diagonal Gaussians,
    KL = 1/2 [ sum_r v_fr / v_gr + sum_r (mu_gr - mu_fr)^2 / v_gr - D + sum_r log v_gr - sum_r log v_fr ].
    KL(f || g) is small when g is broad enough to cover f: a specific word f entails a
    general word g when KL(f || g) is low.
    """
    dim = means_f.shape[-1]
    count = _per_dimension_count(means_f, log_variances_f)
    log_var_f = log_variances_f.unsqueeze(-2)  # [..., K_f, 1, C]
    log_var_g = log_variances_g.unsqueeze(-3)  # [..., 1, K_g, C]
    variance_ratio = (log_var_f - log_var_g).exp().sum(-1) * count
    difference = means_f.unsqueeze(-2) - means_g.unsqueeze(-3)
    mahalanobis = (difference.square() / log_var_g.exp()).sum(-1)
    log_det_ratio = (log_var_g - log_var_f).sum(-1) * count
    return 0.5 * (variance_ratio + mahalanobis - dim + log_det_ratio)


def pairwise_cosine(means_f: Tensor, means_g: Tensor) -> Tensor:
    """Cosine similarity of every component pair's means, shape ``[..., K_f, K_g]``."""
    unit_f = torch.nn.functional.normalize(means_f, dim=-1)
    unit_g = torch.nn.functional.normalize(means_g, dim=-1)
    return unit_f @ unit_g.transpose(-1, -2)


def pairwise_euclidean(means_f: Tensor, means_g: Tensor) -> Tensor:
    """Euclidean distance between every component pair's means, shape ``[..., K_f, K_g]``."""
    return (means_f.unsqueeze(-2) - means_g.unsqueeze(-3)).norm(dim=-1)
