"""Lexical entailment (paper 4.6, Table 5): does w1 entail w2 (is every w1 a w2)?

Each pair gets a score, larger meaning "more likely w1 entails w2": max cosine, minus the
minimum KL divergence ``-min_ij KL(w1_i || w2_j)``, or log ELK.  KL(f || g) is small when
g spreads over wherever f has mass, so w1 (the specific word) is the *first* argument and
w2 (the general word, whose broad distribution covers it) the second.

Scores become decisions with a threshold: a pair is called positive when its score is
above it.  We report

* AP, the average precision of the ranking, which needs no threshold;
* best accuracy and best F1 over all thresholds, tuned on the very pairs they are
  scored on, as the paper does (its released code computes, under the name "best AP",
  the best *accuracy* over a threshold grid; we search every distinct score exactly);
* the same two with the threshold chosen by stratified k-fold cross-validation: each
  fold is classified with a threshold tuned on the other folds only, so the number is a
  held-out one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from ..errors import W2GMError
from .datasets import LabelledPairs
from .pairs import OOVPolicy, describe_policy, score_pairs
from .report import Row, Table

if TYPE_CHECKING:
    from ..keyed import KeyedMixtures

Criterion = Literal["accuracy", "f1"]
DEFAULT_MEASURES = ("max_cosine", "kl", "elk")
KL_DIRECTION = (
    "kl = -min_ij KL(w1_i || w2_j) with w1 the specific word and w2 the general one: "
    "high when a component of w2 covers a component of w1"
)


@dataclass(frozen=True)
class Sweep:
    """Every distinct decision a threshold can make on some scores, from "nothing is
    positive" down to "everything is positive": ``thresholds[t]`` and the true and false
    positives of the rule ``score > thresholds[t]``."""

    thresholds: np.ndarray
    true_positives: np.ndarray
    false_positives: np.ndarray
    positives: int
    negatives: int

    def accuracy(self) -> np.ndarray:
        true_negatives = self.negatives - self.false_positives
        return (self.true_positives + true_negatives) / (self.positives + self.negatives)

    def f1(self) -> np.ndarray:
        # F1 = 2 TP / (2 TP + FP + FN) = 2 TP / (TP + FP + P); 0 when nothing is found
        denominator = self.true_positives + self.false_positives + self.positives
        return np.divide(
            2.0 * self.true_positives, denominator, out=np.zeros(len(denominator)), where=denominator > 0
        )

    def values(self, criterion: Criterion) -> np.ndarray:
        return self.accuracy() if criterion == "accuracy" else self.f1()


def sweep(scores: np.ndarray, labels: np.ndarray) -> Sweep:
    """Sort once, then each cut between two distinct scores is one decision rule; the
    threshold placed halfway between them classifies unseen scores sensibly too."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    order = np.argsort(-scores, kind="stable")
    ranked, hits = scores[order], labels[order]
    # the last index of each run of equal scores: a threshold cannot split a tie
    ends = np.flatnonzero(np.append(ranked[1:] != ranked[:-1], True))
    below = np.append(ranked[ends[1:]], -np.inf)  # the next lower distinct score
    thresholds = np.where(np.isfinite(below), (ranked[ends] + below) / 2, -np.inf)
    true_positives = np.cumsum(hits)[ends]
    false_positives = (ends + 1) - true_positives
    return Sweep(
        thresholds=np.concatenate([[np.inf], thresholds]),
        true_positives=np.concatenate([[0], true_positives]),
        false_positives=np.concatenate([[0], false_positives]),
        positives=int(labels.sum()),
        negatives=int((~labels).sum()),
    )


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """AP = sum_k (R_k - R_{k-1}) P_k over the distinct thresholds, highest first (tied
    scores enter together), as scikit-learn computes it; NaN without positives."""
    s = sweep(scores, labels)
    if s.positives == 0:
        return float("nan")
    recall = s.true_positives / s.positives
    found = s.true_positives[1:] + s.false_positives[1:]
    precision = s.true_positives[1:] / found
    return float(np.sum(np.diff(recall) * precision))


def best_threshold(scores: np.ndarray, labels: np.ndarray, criterion: Criterion) -> tuple[float, float]:
    """(best value of the criterion over all thresholds, that threshold); the highest
    threshold wins ties."""
    s = sweep(scores, labels)
    values = s.values(criterion)
    best = int(np.argmax(values))
    return float(values[best]), float(s.thresholds[best])


def criterion_value(predicted: np.ndarray, labels: np.ndarray, criterion: Criterion) -> float:
    labels = np.asarray(labels, dtype=bool)
    if criterion == "accuracy":
        return float(np.mean(predicted == labels))
    true_positives = int(np.sum(predicted & labels))
    denominator = int(predicted.sum()) + int(labels.sum())
    return 2.0 * true_positives / denominator if denominator else 0.0


def check_folds(folds: int) -> None:
    if folds < 2:
        raise W2GMError(f"cross-validation needs at least 2 folds, got {folds}")


def stratified_folds(labels: np.ndarray, folds: int, seed: int) -> np.ndarray:
    """Fold index of every item: each class is shuffled and dealt round-robin, so every
    fold holds the same share of positives (to within one)."""
    labels = np.asarray(labels, dtype=bool)
    check_folds(folds)
    if min(labels.sum(), (~labels).sum()) < folds:
        raise W2GMError(f"{folds}-fold cross-validation needs at least {folds} pairs of each label")
    rng = np.random.default_rng(seed)
    assignment = np.empty(len(labels), dtype=np.int64)
    for value in (True, False):
        members = rng.permutation(np.flatnonzero(labels == value))
        assignment[members] = np.arange(len(members)) % folds
    return assignment


@dataclass(frozen=True)
class CrossValidated:
    """Held-out value of a criterion, with each fold's threshold (tuned without it)."""

    value: float
    thresholds: np.ndarray
    assignment: np.ndarray


def cross_validate(
    scores: np.ndarray, labels: np.ndarray, criterion: Criterion, folds: int = 10, seed: int = 0
) -> CrossValidated:
    """Classify each fold with the threshold that is best on the other folds, then score
    all those held-out decisions together."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels, dtype=bool)
    assignment = stratified_folds(labels, folds, seed)
    predicted = np.zeros(len(labels), dtype=bool)
    thresholds = np.empty(folds)
    for fold in range(folds):
        test = assignment == fold
        _, thresholds[fold] = best_threshold(scores[~test], labels[~test], criterion)
        predicted[test] = scores[test] > thresholds[fold]
    return CrossValidated(criterion_value(predicted, labels, criterion), thresholds, assignment)


@dataclass(frozen=True)
class EntailmentResult:
    """One measure's entailment figures (fractions, not percentages)."""

    measure: str
    pairs: int
    used: int
    oov: int
    average_precision: float
    best_accuracy: float
    best_f1: float
    cv_accuracy: float
    cv_f1: float
    folds: int


def evaluate_entailment(
    model: KeyedMixtures,
    data: LabelledPairs,
    measure: str,
    oov: OOVPolicy = "skip",
    folds: int = 10,
    seed: int = 0,
) -> EntailmentResult:
    """All five figures of one measure; those that the pairs left after OOV cannot support
    are NaN (tuned ones without both labels, held-out ones with fewer pairs of a label
    than folds), so a small model still gets its other tables."""
    check_folds(folds)
    scored, used, missing = score_pairs(model, data.first, data.second, [measure], oov)
    scores, labels = scored[measure], data.labels[used]
    rarest = min(int(labels.sum()), int((~labels).sum()))
    nan = float("nan")
    tuned = rarest > 0
    held_out = rarest >= folds
    return EntailmentResult(
        measure=measure,
        pairs=len(data),
        used=len(scores),
        oov=missing,
        average_precision=average_precision(scores, labels) if tuned else nan,
        best_accuracy=best_threshold(scores, labels, "accuracy")[0] if tuned else nan,
        best_f1=best_threshold(scores, labels, "f1")[0] if tuned else nan,
        cv_accuracy=cross_validate(scores, labels, "accuracy", folds, seed).value if held_out else nan,
        cv_f1=cross_validate(scores, labels, "f1", folds, seed).value if held_out else nan,
        folds=folds,
    )


def entailment_table(results: list[EntailmentResult], name: str, oov: OOVPolicy) -> Table:
    """Table 5's layout (scores as rows), with the held-out columns beside the tuned ones."""
    first = results[0]
    return Table(
        title=f"Entailment, {name} (paper Table 5): x 100; {first.pairs} pairs, {first.oov} OOV; "
        + describe_policy(oov),
        label="Score",
        columns=["AP", "best acc", "best F1", "CV acc", "CV F1"],
        rows=[
            Row(
                r.measure,
                [100 * v for v in (r.average_precision, r.best_accuracy, r.best_f1, r.cv_accuracy, r.cv_f1)],
            )
            for r in results
        ],
        notes=[
            KL_DIRECTION + ".",
            "AP: average precision of the ranking (no threshold).  best acc / best F1: threshold tuned "
            "on these same pairs, as in the paper, whose released code reports the best accuracy "
            "under the name 'best AP'.",
            f"CV acc / CV F1: stratified {first.folds}-fold cross-validation; each fold is classified "
            "with the threshold best on the other folds, so these are held-out figures.",
        ],
    )
