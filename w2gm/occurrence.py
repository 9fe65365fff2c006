"""The sense of one occurrence: the posterior over a word's components given its window.

For word w with weights p_i and a window of context words c, each read with its context
(output) distribution g_c, the energy of component i alone with c is
E(N_wi, g_c) = sum_j q_j exp(xi_ij) (Eq. 2 with the word reduced to its component i).  Two
rules combine the window's words into one posterior:

* ``average``: the mean over the window of the per-word posteriors
  r_i(c) = p_i E(N_wi, g_c) / sum_k p_k E(N_wk, g_c), a soft vote: one odd word cannot
  overturn the others, but neither can ten words agreeing make it sure.  A window whose
  words each lean 0.6 to one component gives 0.6.
* ``product``: the window's words as independent evidence, Bayes' rule with E(N_wi, g_c)
  as the likelihood of c under sense i (up to a factor common to every i: under the
  skip-gram objective the score log E + b estimates the pointwise mutual information of
  the word and c, Levy & Goldberg 2014, so exp(log E) is p(c | sense i) / p(c) up to a
  constant):

      log gamma_i = log p_i + tau sum_c log E(N_wi, g_c) - log Z,

  tau (``temperature`` is 1 / tau) flattening it where the words are not independent.
  Ten words leaning 0.6 each give 0.98 at tau = 1.

With no known context word both rules give the prior p.  :func:`combine` is the rule on
precomputed energies (torch); the query side (:mod:`w2gm.senses`) and training (the
engines, for one sense per occurrence) both call it or compute the same sums.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from .energy import partial_log_energies
from .mixture import MixtureTable

RULES = ("average", "product")


def combine(log_weights: Tensor, log_component_energy: Tensor, known: Tensor, rule: str = "average",
            temperature: float = 1.0, context_weights: Tensor | None = None) -> Tensor:
    """The posterior ``[n, K]`` from the word's log weights ``[n, K]`` (``-inf`` for a
    component left out), log E(N_wi, g_c) ``[n, L, K]`` and which of the ``L`` context slots
    hold a word (``known [n, L]``, bool).  Under ``product``, ``context_weights [n, L]``
    (default 1) scale each word's evidence: a query's raw window weighted by the words'
    subsampling keep probabilities counts each word as often as training's windows hold it."""
    if rule not in RULES:
        raise ValueError(f"unknown posterior rule {rule!r}; choose from {', '.join(RULES)}")
    mask = known.unsqueeze(-1).to(log_component_energy.dtype)
    count = mask.sum(1)
    if rule == "average":
        shares = torch.softmax(log_weights.unsqueeze(1) + log_component_energy, dim=-1)  # r_i(c), [n, L, K]
        combined = (shares * mask).sum(1) / count.clamp(min=1)
    else:
        # masked slots contribute 0, not -inf * 0
        scaled = log_component_energy if context_weights is None else log_component_energy * context_weights[..., None]
        evidence = torch.where(known.unsqueeze(-1), scaled, 0.0).sum(1)
        combined = torch.softmax(log_weights + evidence / temperature, dim=-1)
    return torch.where(count > 0, combined, log_weights.exp())


def training_log_weights(words: MixtureTable, contexts: MixtureTable, word_ids: Tensor, context_ids: Tensor,
                         mode: str, temperature: float = 1.0) -> Tensor:
    """The log weights ``[n, K]`` through which one sense per occurrence trains the pairs of
    occurrences of ``word_ids [n]`` with windows ``context_ids [n, L]`` (-1 pads): the
    ``product`` posterior at the tables' current values, one-hot (0 and -inf) for ``hard``,
    itself for ``soft``.  An occurrence's pairs are then trained with these in place of the
    word's own log weights in Eq. (2), so that log E(w, c) is log E(N_wz, g_c) for the
    hard choice z, and the word's weights get no gradient (the trainer sets them from the
    components' shares of the occurrences instead)."""
    with torch.no_grad():
        safe = context_ids.clamp(min=0)
        xi = partial_log_energies(words.means[word_ids].unsqueeze(1), words.log_variances[word_ids].unsqueeze(1),
                                  contexts.means[safe], contexts.log_variances[safe])  # [n, L, K, K_c]
        log_component_energy = torch.logsumexp(xi + contexts.log_weights()[safe].unsqueeze(-2), dim=-1)
        posterior = combine(words.log_weights()[word_ids], log_component_energy, context_ids >= 0, "product",
                            temperature)
        if mode == "hard":
            chosen = posterior.argmax(-1, keepdim=True)
            return torch.full_like(posterior, -math.inf).scatter_(-1, chosen, 0.0)
        return posterior.log()
