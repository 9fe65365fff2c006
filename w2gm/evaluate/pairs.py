"""Scoring many word pairs at once, and the out-of-vocabulary policy every task shares.

Words are looked up as written, then lowercased (WordSim-353 writes ``Jerusalem``, SCWS
``Brazil``; a model trained on lowercased text knows only ``jerusalem``).  A pair with
an unknown word is out of vocabulary (OOV); scoring gathers all known pairs' mixtures
with one index operation per chunk and evaluates a measure of :mod:`w2gm.measures` on
the whole batch, never one Python call per pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal

import numpy as np
import torch

from .. import measures
from ..errors import W2GMError
from ..vocab import Vocabulary

if TYPE_CHECKING:
    from ..keyed import KeyedMixtures

OOVPolicy = Literal["skip", "zero"]
OOV_POLICIES = ("skip", "zero")

#: Pairs scored per batch: bounds the ``[chunk, K, K, D]`` differences some measures build.
CHUNK = 8192


def lookup_ids(vocab: Vocabulary, words: Sequence[str]) -> np.ndarray:
    """Vocabulary ids of ``words`` (as written, else lowercased), -1 where unknown."""
    index = vocab.index
    return np.fromiter(
        (index.get(word, index.get(word.lower(), -1)) for word in words), dtype=np.int64, count=len(words)
    )


def score_ids(model: KeyedMixtures, first: np.ndarray, second: np.ndarray, measure: str) -> np.ndarray:
    """``measure(first[n], second[n])`` for every n (all ids known), as float64."""
    score = measures.get(measure)
    out = np.empty(len(first), dtype=np.float64)
    with torch.no_grad():
        for start in range(0, len(first), CHUNK):
            stop = start + CHUNK
            values = score(model.mixtures(first[start:stop]), model.mixtures(second[start:stop]))
            out[start:stop] = values.double().numpy()
    return out


def check_policy(oov: str) -> None:
    if oov not in OOV_POLICIES:
        raise W2GMError(f"unknown OOV policy {oov!r}; choose from {', '.join(OOV_POLICIES)}")


def apply_oov(known_scores: np.ndarray, known: np.ndarray, oov: OOVPolicy) -> tuple[np.ndarray, np.ndarray]:
    """Scores for the pairs an evaluation uses, and which pairs those are.

    ``skip`` (gensim's default) drops OOV pairs.  ``zero`` keeps them as having no
    similarity at all: they tie strictly below every scored pair, which for cosine
    scores is what gensim's ``dummy4unknown`` 0.0 does whenever no cosine is negative,
    and which means the same for measures on other scales (log ELK, minus a distance or
    a divergence), where a literal 0.0 would rank OOV pairs *first*.
    """
    check_policy(oov)
    if oov == "skip":
        return known_scores, known.copy()
    scores = np.empty(len(known), dtype=np.float64)
    scores[known] = known_scores
    floor = known_scores.min() if len(known_scores) else 0.0
    scores[~known] = floor - max(1.0, abs(floor))
    return scores, np.ones(len(known), dtype=bool)


def score_pairs(
    model: KeyedMixtures, first: Sequence[str], second: Sequence[str], measure: str, oov: OOVPolicy = "skip"
) -> tuple[np.ndarray, np.ndarray, int]:
    """Scores of the pairs ``(first[n], second[n])`` that the OOV policy keeps, the mask
    of which pairs those are (to select their gold values), and the number of OOV pairs."""
    first_ids, second_ids = lookup_ids(model.vocab, first), lookup_ids(model.vocab, second)
    known = (first_ids >= 0) & (second_ids >= 0)
    scores, used = apply_oov(score_ids(model, first_ids[known], second_ids[known], measure), known, oov)
    return scores, used, int((~known).sum())
