"""The whole of the paper's Section 4 on one model: what ``w2gm eval`` runs.

:func:`run_suite` reads the chosen datasets, evaluates every task on them and returns the
results; :func:`suite_tables` lays them out as the paper's tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import measures
from ..errors import W2GMError
from . import catalogue
from .datasets import find_file, read_entailment, read_scws, read_word_pairs
from .entailment import DEFAULT_MEASURES as ENTAILMENT_MEASURES
from .entailment import EntailmentResult, check_folds, entailment_table, evaluate_entailment
from .neighbors import TABLE1_WORDS, VarianceRow, variance_rows, variance_table
from .pairs import OOVPolicy, check_policy
from .report import Table
from .scws import SCWSResult, evaluate_scws, scws_table
from .similarity import DEFAULT_MEASURES as SIMILARITY_MEASURES
from .similarity import SimilarityResult, evaluate_word_pairs, similarity_table

if TYPE_CHECKING:
    from ..keyed import KeyedMixtures

#: SCWS context half-width when the model does not record its training window (A.2's 10).
DEFAULT_WINDOW = 10


@dataclass
class SuiteOptions:
    """What to evaluate.  ``datasets`` None means every catalogue dataset, unless
    ``similarity_files`` are given, in which case only those."""

    data_dir: str | None = None
    datasets: list[str] | None = None
    similarity_files: list[str] = field(default_factory=list)
    measures: list[str] = field(default_factory=lambda: list(SIMILARITY_MEASURES))
    entailment_measures: list[str] = field(default_factory=lambda: list(ENTAILMENT_MEASURES))
    oov: OOVPolicy = "skip"
    window: int | None = None
    folds: int = 10
    seed: int = 0
    variance_words: list[str] = field(default_factory=lambda: list(TABLE1_WORDS))


@dataclass
class SuiteResults:
    options: SuiteOptions
    similarity: list[SimilarityResult] = field(default_factory=list)
    scws: SCWSResult | None = None
    entailment: list[EntailmentResult] = field(default_factory=list)
    entailment_name: str = catalogue.ENTAILMENT_NAME
    variance: list[VarianceRow] = field(default_factory=list)
    unknown_variance_words: list[str] = field(default_factory=list)


def _check(options: SuiteOptions) -> list[str]:
    """Validate everything before reading any data; return the chosen dataset names."""
    for name in [*options.measures, *options.entailment_measures]:
        measures.get(name)
    check_policy(options.oov)
    check_folds(options.folds)
    if options.window is not None and options.window < 1:
        raise W2GMError(f"the SCWS context window must be at least 1, got {options.window}")
    if options.datasets is not None:
        return catalogue.canonical_names(options.datasets)
    return [] if options.similarity_files else list(catalogue.ALL_NAMES)


def run_suite(model: KeyedMixtures, options: SuiteOptions) -> SuiteResults:
    names = _check(options)
    root = catalogue.data_dir(options.data_dir)
    results = SuiteResults(options)
    pair_sets = [
        read_word_pairs(find_file(root / catalogue.SIMILARITY[name]), name)
        for name in names
        if name in catalogue.SIMILARITY
    ]
    pair_sets += [read_word_pairs(path, Path(path).name) for path in options.similarity_files]
    results.similarity = [evaluate_word_pairs(model, d, options.measures, options.oov) for d in pair_sets]
    if catalogue.SCWS_NAME in names:
        window = options.window or int(model.config.get("window", DEFAULT_WINDOW))
        items = read_scws(find_file(root / catalogue.SCWS))
        results.scws = evaluate_scws(model, items, window, options.oov)
    if catalogue.ENTAILMENT_NAME in names:
        data = read_entailment(root / catalogue.ENTAILMENT, catalogue.ENTAILMENT_NAME)
        results.entailment = [
            evaluate_entailment(model, data, measure, options.oov, options.folds, options.seed)
            for measure in options.entailment_measures
        ]
    results.variance, results.unknown_variance_words = variance_rows(model, options.variance_words)
    return results


def suite_tables(results: SuiteResults) -> list[Table]:
    options = results.options
    tables = []
    if results.similarity and options.measures:
        tables.append(similarity_table(results.similarity, options.measures, options.oov))
    if results.scws is not None:
        tables.append(scws_table(results.scws, options.oov))
    if results.entailment:
        tables.append(entailment_table(results.entailment, results.entailment_name, options.oov))
    if results.variance or results.unknown_variance_words:
        tables.append(variance_table(results.variance, results.unknown_variance_words))
    return tables


def model_header(model: KeyedMixtures, path: str) -> dict[str, Any]:
    """The lines that say which model the tables describe."""
    return {
        "model": path,
        "vocabulary": len(model.vocab),
        "components": model.components_per_word,
        "dim": model.dim,
        "covariance": model.covariance,
    }
