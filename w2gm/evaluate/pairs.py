"""Scoring many word pairs at once, and the out-of-vocabulary policy every task shares.

Words are looked up as written, then lowercased (WordSim-353 writes ``Jerusalem``, SCWS
``Brazil``; a model trained on lowercased text knows only ``jerusalem``;
:func:`w2gm.vocab.lookup_ids`).  A pair with
an unknown word is out of vocabulary (OOV); scoring gathers all known pairs' mixtures
with one index operation per chunk and evaluates a measure of :mod:`w2gm.measures` on
the whole batch, never one Python call per pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

import numpy as np
import torch

from .. import measures
from ..errors import W2GMError
from ..vocab import Vocabulary, lookup_ids

OOVPolicy = Literal["skip", "zero"]
OOV_POLICIES = ("skip", "zero")

#: Pairs scored per batch: bounds the ``[chunk, K, K, D]`` differences some measures build.
CHUNK = 8192


class ScoredModel(Protocol):
    """What scoring pairs reads of a model (:class:`w2gm.keyed.KeyedMixtures` has it): its
    vocabulary, and the batched mixtures of word ids that the measures take."""

    vocab: Vocabulary

    def mixtures(self, ids: np.ndarray) -> measures.Mixtures: ...


def score_ids(
    model: ScoredModel, first: np.ndarray, second: np.ndarray, measure_names: Sequence[str]
) -> dict[str, np.ndarray]:
    """``measure(first[n], second[n])`` for every n (all ids known) and every measure, as
    float64.  Each chunk's mixtures are gathered once, with one index operation for both
    sides, and shared by all the measures."""
    scorers = {name: measures.get(name) for name in measure_names}
    out = {name: np.empty(len(first), dtype=np.float64) for name in scorers}
    with torch.no_grad():
        for start in range(0, len(first), CHUNK):
            chunk = len(first[start : start + CHUNK])
            both = model.mixtures(
                np.concatenate([first[start : start + CHUNK], second[start : start + CHUNK]])
            )
            f = tuple(t[:chunk] for t in both)
            g = tuple(t[chunk:] for t in both)
            for name, score in scorers.items():
                out[name][start : start + chunk] = score(f, g).double().numpy()
    return out


def check_policy(oov: str) -> None:
    if oov not in OOV_POLICIES:
        raise W2GMError(f"unknown OOV policy {oov!r}; choose from {', '.join(OOV_POLICIES)}")


def describe_policy(oov: OOVPolicy) -> str:
    """How a table title says what happened to the OOV pairs."""
    return "OOV pairs skipped" if oov == "skip" else "OOV pairs kept, ranked below every scored pair"


def used_pairs(known: np.ndarray, oov: OOVPolicy) -> np.ndarray:
    """Which pairs an evaluation uses: the known ones (``skip``) or all (``zero``)."""
    check_policy(oov)
    return known.copy() if oov == "skip" else np.ones(len(known), dtype=bool)


def apply_oov(known_scores: np.ndarray, known: np.ndarray, oov: OOVPolicy) -> np.ndarray:
    """Scores of the pairs :func:`used_pairs` keeps, given the scores of the known ones.

    ``skip`` (gensim's default) drops OOV pairs.  ``zero`` keeps them as having no
    similarity at all: they tie strictly below every scored pair, which for cosine
    scores is what gensim's ``dummy4unknown`` 0.0 does whenever no cosine is negative,
    and which means the same for measures on other scales (log ELK, minus a distance or
    a divergence), where a literal 0.0 would rank OOV pairs *first*.
    """
    check_policy(oov)
    if oov == "skip":
        return known_scores
    scores = np.empty(len(known), dtype=np.float64)
    scores[known] = known_scores
    floor = known_scores.min() if len(known_scores) else 0.0
    scores[~known] = floor - max(1.0, abs(floor))
    return scores


def score_pairs(
    model: ScoredModel,
    first: Sequence[str],
    second: Sequence[str],
    measure_names: Sequence[str],
    oov: OOVPolicy = "skip",
    restrict_vocab: int | None = None,
    case_insensitive: bool = True,
) -> tuple[dict[str, np.ndarray], np.ndarray, int]:
    """Each measure's scores of the pairs ``(first[n], second[n])`` that the OOV policy
    keeps, the mask of which pairs those are (to select their gold values), and the number
    of OOV pairs.  A word outside the first ``restrict_vocab`` is OOV; so is one not in the
    vocabulary exactly as written, unless ``case_insensitive`` (see :func:`lookup_ids`)."""
    if case_insensitive:
        first_ids, second_ids = lookup_ids(model.vocab, first), lookup_ids(model.vocab, second)
    else:
        first_ids, second_ids = (np.array([model.vocab.index.get(w, -1) for w in side], dtype=np.int64)
                                 for side in (first, second))
    if restrict_vocab is not None:
        first_ids[first_ids >= restrict_vocab] = -1
        second_ids[second_ids >= restrict_vocab] = -1
    known = (first_ids >= 0) & (second_ids >= 0)
    scored = score_ids(model, first_ids[known], second_ids[known], measure_names)
    kept = {name: apply_oov(values, known, oov) for name, values in scored.items()}
    return kept, used_pairs(known, oov), int((~known).sum())
