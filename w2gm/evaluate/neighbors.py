"""Senses and uncertainty (paper 4.2, 4.5, Table 1): what each component means, how sure it is.

For each component ``word:i`` we list its weight p_i, its variance, and its nearest
components ``other:j`` by cosine of the means (Table 1).  The paper's loader can re-sort
those neighbours by variance, lowest first, to bring out the specific words among them;
``by_variance`` does that.

"Variance" is the mean per-dimension variance of a component: the single sigma^2 of a
spherical component, the mean of the diagonal otherwise (4.5 compares e.g. ``rock``'s
e^-1.8 in w2g with e^-2.5 per component in w2gm).

Inactive components (:mod:`w2gm.usage`) are left out, as queries and as neighbours, unless
``include_inactive``; then they are listed, marked ``(inactive)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from ..vocab import lookup_ids
from .report import Row, Table

if TYPE_CHECKING:
    from ..keyed import KeyedMixtures

#: The words of the paper's Table 1 (lowercase, as in text8).
TABLE1_WORDS = ("rock", "bank", "apple", "star", "cell", "left")


@dataclass(frozen=True)
class Neighbour:
    key: str
    cosine: float
    variance: float


@dataclass(frozen=True)
class ComponentReport:
    """One component ``word:component`` with its weight, variance and neighbours."""

    word: str
    component: int
    weight: float
    variance: float
    neighbours: list[Neighbour]
    active: bool = True


def mark(key: str, active: bool) -> str:
    """A component's name as lists show it: inactive ones say so."""
    return key if active else f"{key} (inactive)"


def mean_variances(model: KeyedMixtures) -> np.ndarray:
    """Mean per-dimension variance of every component, ``[V, K]``."""
    return model.input.variances().mean(-1).numpy()


def component_reports(
    model: KeyedMixtures, key: str, topn: int, by_variance: bool = False, include_inactive: bool = False
) -> list[ComponentReport]:
    """Table 1 rows for ``key``: every (active) component of a word, or the one named ``word:i``."""
    word_id, chosen = model.parse_component(key)
    word = model.vocab.words[word_id]
    variances = mean_variances(model)
    weights = model.input.weights()[word_id].numpy()
    active = model.active().numpy()
    shown = [k for k in range(model.components_per_word) if include_inactive or active[word_id, k]]
    reports = []
    for k in shown if chosen is None else [chosen]:
        neighbours = []
        for name, cosine in model.most_similar(f"{word}:{k}", topn=topn, include_inactive=include_inactive):
            other, j = model.parse_component(name)
            neighbours.append(Neighbour(mark(name, active[other, j]), cosine, float(variances[other, j])))
        if by_variance:
            neighbours.sort(key=lambda n: n.variance)
        reports.append(ComponentReport(
            word, k, float(weights[k]), float(variances[word_id, k]), neighbours, bool(active[word_id, k])
        ))
    return reports


def neighbours_table(reports: Sequence[ComponentReport], by_variance: bool) -> Table:
    order = "lowest variance first" if by_variance else "highest cosine first"
    table = Table(
        title=f"Nearest neighbours by cosine of the component means (paper Table 1), {order}",
        label="Word",
        columns=["Co.", "weight", "variance", "Nearest neighbours"],
        digits=3,
    )
    for r in reports:
        label = mark(r.word, r.active)
        table.rows.append(Row(label, [r.component, r.weight, r.variance, [n.key for n in r.neighbours]]))
    return table


@dataclass(frozen=True)
class VarianceRow:
    word: str
    component: int
    weight: float
    variance: float


def variance_rows(model: KeyedMixtures, words: Sequence[str]) -> tuple[list[VarianceRow], list[str]]:
    """Per-component weight and mean per-dimension variance of the known ``words``, and
    the words the model does not know."""
    variances = mean_variances(model)
    weights = model.input.weights().numpy()
    rows, unknown = [], []
    for word, i in zip(words, lookup_ids(model.vocab, words), strict=True):
        if i < 0:
            unknown.append(word)
            continue
        rows.extend(
            VarianceRow(word, k, float(weights[i, k]), float(variances[i, k]))
            for k in range(model.components_per_word)
        )
    return rows, unknown


def variance_table(rows: Sequence[VarianceRow], unknown: Sequence[str]) -> Table:
    table = Table(
        title="Mean per-dimension variance of chosen words' components (paper 4.5)",
        label="Component",
        columns=["weight", "variance", "log variance"],
        digits=3,
    )
    for r in rows:
        table.rows.append(Row(f"{r.word}:{r.component}", [r.weight, r.variance, float(np.log(r.variance))]))
    if unknown:
        table.notes.append(f"not in the vocabulary: {', '.join(unknown)}")
    return table
