"""Word similarity in context (paper 4.4, Table 4), on SCWS.

Without context, as in the paper: MaxSim is the largest cosine between the two words'
component means, AvgSim the cosines averaged with weights p_i q_j.

With context, each word's components are weighted by their posterior given the known
words within ``window`` tokens of it, r = ``KeyedMixtures.posteriors`` (the share of the
training energy with each context word that flows through each component, averaged over
the context words; the prior weights p when no context word is known).  Then

* MaxSimC = cos(mu_w,i*, mu_w',j*) for the most probable components i*, j*;
* AvgSimC = sum_ij r_i r'_j cos(mu_w,i, mu_w',j),

Huang et al.'s (2012) two contextual scores with our posteriors.  For K = 1 all four
scores coincide.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from typing import TYPE_CHECKING

import numpy as np
import torch

from .. import energy, measures
from ..senses import window_ids
from ..vocab import lookup_ids
from .datasets import ContextPair, WordInContext
from .pairs import OOVPolicy, apply_oov, describe_policy, used_pairs
from .report import Row, Table
from .similarity import correlations

if TYPE_CHECKING:
    from ..keyed import KeyedMixtures

METHODS = ("MaxSim", "AvgSim", "MaxSimC", "AvgSimC")


@dataclass(frozen=True)
class SCWSResult:
    pairs: int
    used: int
    oov: int
    window: int
    context_table: str
    spearman: dict[str, float] = field(default_factory=dict)
    pearson: dict[str, float] = field(default_factory=dict)


def context_ids(model: KeyedMixtures, words: Sequence[WordInContext], window: int) -> np.ndarray:
    """Ids of the ``window`` tokens each side of every word, ``[N, 2 window]``, -1 for
    unknown tokens and for the padding of short contexts."""
    ids = np.full((len(words), 2 * window), -1, dtype=np.int64)
    for row, item in enumerate(words):
        around = window_ids(model.vocab, item.context, item.position, window)
        ids[row, : len(around)] = around
    return ids


def scws_scores(
    model: KeyedMixtures, items: Sequence[ContextPair], window: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The four scores of every in-vocabulary item, and the mask of those items."""
    sides = [item.first for item in items], [item.second for item in items]
    ids = [lookup_ids(model.vocab, [w.word for w in side]) for side in sides]
    known = (ids[0] >= 0) & (ids[1] >= 0)
    first, second = ids[0][known], ids[1][known]
    posterior_first, posterior_second = (
        model.posteriors(side_ids[known], context_ids(model, list(compress(side, known)), window))
        for side, side_ids in zip(sides, ids, strict=True)
    )
    with torch.no_grad():
        f, g = model.mixtures(first), model.mixtures(second)
        cosines = energy.pairwise_cosine(f[0], g[0])  # [N, K, K]
        contextual = posterior_first.unsqueeze(-1) * posterior_second.unsqueeze(-2)
        rows = torch.arange(len(first))
        best = cosines[rows, posterior_first.argmax(-1), posterior_second.argmax(-1)]
        scores = {
            "MaxSim": measures.max_cosine(f, g),
            "AvgSim": measures.mean_cosine(f, g),
            "MaxSimC": best,
            "AvgSimC": (cosines * contextual).flatten(-2).sum(-1),
        }
    return {name: value.double().numpy() for name, value in scores.items()}, known


def evaluate_scws(
    model: KeyedMixtures, items: Sequence[ContextPair], window: int, oov: OOVPolicy = "skip"
) -> SCWSResult:
    scores, known = scws_scores(model, items, window)
    gold = np.array([item.score for item in items])
    used = used_pairs(known, oov)
    spearman: dict[str, float] = {}
    pearson: dict[str, float] = {}
    for name in METHODS:
        r, rho = correlations(apply_oov(scores[name], known, oov), gold[used])
        pearson[name], spearman[name] = r.statistic, rho.statistic
    context_table = "input" if model.output is None else "output"
    return SCWSResult(
        len(items), int(used.sum()), int((~known).sum()), window, context_table, spearman, pearson
    )


def scws_table(result: SCWSResult, oov: OOVPolicy) -> Table:
    """One row, Table 4's scores as columns, the best marked."""
    table = Table(
        title=f"Word similarity in context, SCWS (paper Table 4): Spearman rho x 100; {describe_policy(oov)}",
        label="Dataset",
        columns=["pairs", "OOV", *METHODS],
        best_columns=list(range(2, 2 + len(METHODS))),
        notes=[
            "MaxSim/AvgSim: max and p_i q_j-weighted mean cosine of the components, no context.",
            "MaxSimC/AvgSimC: components weighted by their share of the energy with the known words "
            f"within {result.window} tokens each side (context words read as {result.context_table} "
            "distributions).",
        ],
    )
    table.rows.append(Row("SCWS", [result.pairs, result.oov, *(100 * result.spearman[m] for m in METHODS)]))
    return table
