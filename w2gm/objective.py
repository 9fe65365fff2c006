"""Training objectives on the log expected likelihood kernel log E (Eq. 2, :mod:`w2gm.energy`).

``--objective`` chooses one; every engine (the torch reference in :mod:`w2gm.engines.reference`,
:mod:`w2gm.engines.hogwild`, :mod:`w2gm.engines.triton_update`) implements all three, and this module is
what the compiled ones are tested against.

* ``paper``: 3.3's hinge max(0, m - log E(w,c) + log E(w,c')) per negative.
* ``sense``: the same hinge, with each negative scored against the word's components as
  the positive context chose them (:func:`max_margin_loss`).
* ``nll``: the negative-sampling likelihood of skip-gram with log E as the score,
  -log sigma(s(w,c)) - sum_n log sigma(-s(w,c'_n)) with s = log E + b (:func:`nll_loss`).

Why ``nll``: under the hinge, when one component i of w explains both the context and the
negative (r_ij ~ 0 for the other components, the usual case on real text), the weight
gradient d log E / d s_k = sum_j r_kj - p_k is the same for both energies, so the hinge's
-d log E(w,c) + d log E(w,c') cancels and the mixture weights never move.  Under ``nll``
the two derivatives are multiplied by different factors, -sigma(-s(w,c)) and
+sigma(s(w,c')), so they cancel only when the model is exactly as sure of the positive as
of the negative.  In every engine the change is that one scalar factor per energy, where
the hinge has its indicator (-1 per active hinge for the context, 1 for an active
negative): the gradient of log E itself is shared.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .config import TrainConfig
from .energy import VARIANCE_EPSILON, log_energy_and_shares, log_expected_likelihood, partial_log_energies

Mixtures = tuple[Tensor, Tensor, Tensor]


def _energies(word: Mixtures, context: Mixtures, negative: Mixtures) -> tuple[Tensor, Tensor]:
    """log E(w, c) ``[B]`` and log E(w, c'_n) ``[B, N]``."""
    positive = log_expected_likelihood(*word, *context)
    word_per_negative = tuple(t.unsqueeze(1) for t in word)
    return positive, log_expected_likelihood(*word_per_negative, *negative)


def max_margin_loss(
    word: Mixtures,
    context: Mixtures,
    negative: Mixtures,
    margin: float,
    objective: str = "paper",
) -> Tensor:
    """Hinge of Section 3.3 for every (pair, negative): max(0, m - log E(w,c) + log E(w,c')).

    ``word`` and ``context`` are ``[B, K, ...]`` mixtures, ``negative`` is ``[B, N, K, ...]``;
    the result is ``[B, N]``.  With ``objective="sense"`` the negative is scored against the
    word's components as the positive context chose them: log E(w,c') becomes
    sum_i rho_i log E(N_wi, g_c'), where rho_i = sum_j r_ij is component i's share of the
    positive energy (held constant, as an E-step would) and E(N_wi, g_c') is the energy of
    component i alone with the negative's mixture.  A component is then pushed away from
    negatives only as often as it wins positives, as in multi-sense skip-gram, instead of
    whenever it happens to lie nearest a random word; with K = 1 the two objectives agree.
    """
    means, log_variances, log_weights = word
    if objective == "sense":
        positive_energy, share = log_energy_and_shares(*word, *context)
        share = share.detach()  # rho, held constant
        xi = partial_log_energies(means.unsqueeze(1), log_variances.unsqueeze(1), negative[0], negative[1])
        per_component = torch.logsumexp(xi + negative[2].unsqueeze(-2), dim=-1)  # [B, N, K]
        negative_energy = (share.unsqueeze(1) * per_component).sum(-1)
    else:
        positive_energy, negative_energy = _energies(word, context, negative)
    return torch.relu(margin - positive_energy.unsqueeze(1) + negative_energy)


def nll_offset(config: TrainConfig, epsilon: float = VARIANCE_EPSILON) -> float:
    """b of the ``nll`` score s = log E + b: minus log E of two words as A.2 initialises
    them (in expectation of their squared distances), so that s starts near 0 and sigma(s)
    is not saturated on either positives or negatives.

    At the start every variance is v0 = ``initial_variance``, so S = 2 v0 + epsilon in every
    dimension and xi_ij = -D/2 log(2 pi S) - |mu_i - nu_j|^2 / (2 S) (Eq. 3).  A.2 draws each
    mean coordinate uniform in +-sqrt(3/D), variance 1/D; a component k > 0 is
    mu_0 + t (u_k - mu_0) with t = ``component_spread``, variance ((1-t)^2 + t^2)/D per
    coordinate (``MixtureTable.initialise``), or a copy of mu_0 while tied (``split_at`` > 0).
    With c_k = D E[mu_k,d^2] (1 for k = 0), two different words have E|mu_i - nu_j|^2 =
    c_i + c_j, and with the equal starting weights

        b = D/2 log(2 pi S) - log( 1/K^2 sum_ij exp(-(c_i + c_j) / (2 S)) ).

    Without the second term s would start near -1/S = -10 for every pair and the negatives'
    factor sigma(s) would be ~5e-5.  The slope stays 1: log E is already in nats, and
    s(w,c) - s(w,c') is then the hinge's log E(w,c) - log E(w,c'), so the sigmoid's unit
    scale is the paper's margin of 1.  Measured on A.2 tables (2000 random pairs, K = 2,
    spread 0.3), s has mean 0.06 and sd 1.05 at D = 50, mean 0.01 and sd 0.43 at D = 300;
    the logsumexp over component pairs, which this expectation leaves out, lifts the mean
    where the K^2 distances differ most (0.74 at D = 50 from independent draws, spread 1).
    """
    variance_sum = 2.0 * config.initial_variance + epsilon
    spread = 0.0 if config.split_at > 0 else config.component_spread
    scale = [1.0] + [(1.0 - spread) ** 2 + spread**2] * (config.components - 1)
    terms = [-(ci + cj) / (2.0 * variance_sum) for ci in scale for cj in scale]
    top = max(terms)
    mean_energy = top + math.log(sum(math.exp(t - top) for t in terms) / len(terms))
    return 0.5 * config.dim * math.log(2.0 * math.pi * variance_sum) - mean_energy


def nll_loss(word: Mixtures, context: Mixtures, negative: Mixtures, offset: float) -> Tensor:
    """-log sigma(s(w,c)) - sum_n log sigma(-s(w,c'_n)), s = log E + ``offset``, per pair ``[B]``.

    d loss / d log E(w,c) = -sigma(-s(w,c)) and d loss / d log E(w,c'_n) = sigma(s(w,c'_n)):
    the factors the compiled engines put where the hinge has its indicators."""
    positive, negatives = _energies(word, context, negative)
    logsigmoid = torch.nn.functional.logsigmoid
    return -logsigmoid(positive + offset) - logsigmoid(-(negatives + offset)).sum(-1)


def batch_loss(word: Mixtures, context: Mixtures, negative: Mixtures, config: TrainConfig) -> Tensor:
    """The summed loss of a batch under ``config.objective`` (0-d)."""
    if config.objective == "nll":
        return nll_loss(word, context, negative, nll_offset(config)).sum()
    return max_margin_loss(word, context, negative, config.margin, config.objective).sum()
