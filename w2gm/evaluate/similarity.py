"""Word similarity (paper 4.3, Table 2): rank correlation between a measure and human scores.

For each dataset and measure we report Spearman's rho (the paper's figure, x100 in the
tables) and Pearson's r, on the pairs the OOV policy keeps, with the counts of pairs
read, used and out of vocabulary, so a number is never shown without its coverage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from ..errors import QueryError
from .datasets import WordPairs, read_word_pairs
from .pairs import OOVPolicy, ScoredModel, describe_policy, score_pairs
from .report import Row, Table

#: The similarity measures of Table 2 (mc, el, me) and the weighted mean cosine.
DEFAULT_MEASURES = ("max_cosine", "elk", "min_euclidean", "mean_cosine", "centroid_cosine")


class Correlation(NamedTuple):
    """A correlation coefficient and its two-sided p-value (gensim returns these as tuples)."""

    statistic: float
    pvalue: float


@dataclass(frozen=True)
class SimilarityResult:
    """One dataset's correlations, per measure."""

    dataset: str
    path: str
    pairs: int
    used: int
    oov: int
    spearman: dict[str, float] = field(default_factory=dict)
    pearson: dict[str, float] = field(default_factory=dict)


def correlations(scores: np.ndarray, gold: np.ndarray) -> tuple[Correlation, Correlation]:
    """(Pearson, Spearman) between model scores and gold scores; NaN where undefined or
    empty of meaning (fewer than three pairs, whose correlation can only be +-1, or a
    constant side)."""
    from scipy import stats  # 1.4 s to import: only the commands that correlate pay it

    if len(scores) < 3 or np.ptp(scores) == 0 or np.ptp(gold) == 0:
        nan = Correlation(float("nan"), float("nan"))
        return nan, nan
    pearson = stats.pearsonr(scores, gold)
    spearman = stats.spearmanr(scores, gold)
    return (
        Correlation(float(pearson.statistic), float(pearson.pvalue)),
        Correlation(float(spearman.statistic), float(spearman.pvalue)),
    )


def evaluate_word_pairs(
    model: ScoredModel,
    data: WordPairs,
    measure_names: tuple[str, ...] | list[str] = DEFAULT_MEASURES,
    oov: OOVPolicy = "skip",
) -> SimilarityResult:
    """Spearman and Pearson correlations of every measure on one dataset."""
    scores, used, missing = score_pairs(model, data.first, data.second, measure_names, oov)
    spearman: dict[str, float] = {}
    pearson: dict[str, float] = {}
    for measure, values in scores.items():
        r, rho = correlations(values, data.scores[used])
        pearson[measure], spearman[measure] = r.statistic, rho.statistic
    return SimilarityResult(data.name, data.path, len(data), int(used.sum()), missing, spearman, pearson)


def evaluate_pairs_file(
    model: ScoredModel, path: str | os.PathLike, measure: str = "max_cosine", oov: OOVPolicy = "skip",
    restrict_vocab: int | None = None, case_insensitive: bool = True,
) -> tuple[Correlation, Correlation, float]:
    """gensim's ``evaluate_word_pairs`` shape: ``(pearson, spearman, oov_ratio)``, the two
    correlations as ``(statistic, pvalue)`` and the OOV ratio in percent of all pairs;
    :class:`QueryError` (a ValueError, as gensim raises) when no pair is in the vocabulary."""
    data = read_word_pairs(path)
    scores, used, missing = score_pairs(model, data.first, data.second, [measure], oov, restrict_vocab,
                                        case_insensitive)
    if missing == len(data):
        raise QueryError(f"{path}: no valid similarity judgements: every pair has a word the model does not know")
    pearson, spearman = correlations(scores[measure], data.scores[used])
    return pearson, spearman, 100.0 * missing / len(data)


def similarity_table(results: list[SimilarityResult], measure_names: list[str], oov: OOVPolicy) -> Table:
    """Table 2's layout: datasets as rows, measures as columns, the best measure marked."""
    table = Table(
        title=f"Word similarity (paper Table 2): Spearman rho x 100; {describe_policy(oov)}",
        label="Dataset",
        columns=["pairs", "OOV", *measure_names],
        best_columns=list(range(2, 2 + len(measure_names))),
    )
    for r in results:
        table.rows.append(Row(r.dataset, [r.pairs, r.oov, *(100 * r.spearman[m] for m in measure_names)]))
    return table
