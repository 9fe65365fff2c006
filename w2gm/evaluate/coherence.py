"""Does each component of a word carry a meaning?  Neighbour coherence, junk share and
the spread of mixture weights.

A component that stands for a sense of its word has nearest neighbours that belong
together (``bank:0`` -> loan, discount, bankers; ``bank:1`` -> river, pond, stream); a
component that no context ever claimed drifts where the negative samples push it, and its
neighbours are unrelated rare words (``rock:0`` -> spits, cymbals, beetling).  So the
*coherence* of a component is the mean pairwise cosine of the mean vectors of its
``neighbours`` nearest ``word:k`` entries (the query word's own components left out), and
a component is *junk* when its coherence is below ``ratio`` times the best coherence among
the word's other components.  The junk share is the share of words with a junk component
among the words ranked ``ranks[0]`` to ``ranks[1]`` by frequency: frequent enough that
their components were trained, past the function words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    from ..keyed import KeyedMixtures

CHUNK = 128


@dataclass(frozen=True)
class ComponentReport:
    words: int  # words examined
    junk_share: float  # share of them with a junk component
    active_junk_share: float  # ... with a junk component that is active (w2gm.usage), among active entries
    several_active: float  # share of them with more than one active component
    coherence: float  # mean coherence of their components
    max_weight: float  # mean of each word's largest mixture weight
    max_weight_sd: float
    sibling_cosine: float  # mean cosine between a word's own components (K >= 2)


def component_coherence(
    model: KeyedMixtures, word_ids: np.ndarray, neighbours: int = 10, active: torch.Tensor | None = None
) -> np.ndarray:
    """``[N, K]``: the mean pairwise cosine among the ``neighbours`` nearest entries of
    each component of each word (cosine of means, over every other word's components, or
    over the ``active`` ones of a ``[V, K]`` mask)."""
    units = model.unit_means()  # [V * K, D]
    k = model.components_per_word
    result = np.empty((len(word_ids), k))
    pairs = neighbours * (neighbours - 1)
    with torch.no_grad():
        for start in range(0, len(word_ids), CHUNK):
            ids = torch.as_tensor(word_ids[start : start + CHUNK], dtype=torch.long)
            rows = (ids[:, None] * k + torch.arange(k)).reshape(-1)  # [n * K]
            scores = units[rows] @ units.T
            own = (torch.arange(units.shape[0]) // k)[None, :] == ids.repeat_interleave(k)[:, None]
            scores.masked_fill_(own, -np.inf)
            if active is not None:
                scores.masked_fill_(~active.reshape(1, -1), -np.inf)
            nearest = units[scores.topk(neighbours, dim=-1).indices]  # [n * K, n, D]
            gram = nearest @ nearest.transpose(1, 2)
            off_diagonal = (gram.sum((1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(-1)) / pairs
            result[start : start + len(ids)] = off_diagonal.reshape(len(ids), k).numpy()
    return result


def junk_components(coherence: np.ndarray, ratio: float = 0.6) -> np.ndarray:
    """``[N, K]`` booleans: the components whose coherence is below ``ratio`` times the
    best coherence of their word's other components."""
    k = coherence.shape[1]
    if k < 2:
        return np.zeros_like(coherence, dtype=bool)
    others = np.stack([np.delete(coherence, i, axis=1).max(1) for i in range(k)], axis=1)
    return coherence < ratio * others


def component_report(
    model: KeyedMixtures, ranks: tuple[int, int] = (100, 2100), neighbours: int = 10, ratio: float = 0.6
) -> ComponentReport:
    """Junk share, coherence, weight spread and sibling similarity over the words ranked
    ``ranks`` by frequency (the vocabulary is in decreasing frequency order)."""
    ids = np.arange(min(ranks[0], len(model.vocab)), min(ranks[1], len(model.vocab)))
    coherence = component_coherence(model, ids, neighbours)
    active = model.active()
    # without usage every component is active: the same neighbours, no second pass
    active_coherence = coherence if model.usage is None else component_coherence(model, ids, neighbours, active)
    # an inactive sibling does not count against an active component
    active_coherence = np.where(active[ids].numpy(), active_coherence, -np.inf)
    active_junk = junk_components(active_coherence, ratio) & active[ids].numpy()
    weights = model.input.weights()[ids].numpy()
    k = model.components_per_word
    sibling = float("nan")
    if k >= 2:
        units = model.unit_means().reshape(len(model.vocab), k, -1)[ids]
        gram = units @ units.transpose(1, 2)
        sibling = float(((gram.sum((1, 2)) - gram.diagonal(dim1=1, dim2=2).sum(-1)) / (k * (k - 1))).mean())
    largest = weights.max(1)
    return ComponentReport(
        words=len(ids),
        junk_share=float(junk_components(coherence, ratio).any(1).mean()) if len(ids) else float("nan"),
        active_junk_share=float(active_junk.any(1).mean()) if len(ids) else float("nan"),
        several_active=float((active[ids].sum(1) > 1).float().mean()) if len(ids) else float("nan"),
        coherence=float(coherence.mean()),
        max_weight=float(largest.mean()),
        max_weight_sd=float(largest.std()),
        sibling_cosine=sibling,
    )
