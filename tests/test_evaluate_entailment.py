"""Entailment metrics against brute-force references, held-out thresholds, and the KL
direction on a model with planted hypernyms."""

import numpy as np
import pytest
from test_evaluate_models import build_model

from w2gm.errors import W2GMError
from w2gm.evaluate.datasets import LabelledPairs
from w2gm.evaluate.entailment import (
    average_precision,
    best_threshold,
    cross_validate,
    evaluate_entailment,
    stratified_folds,
)


def random_case(seed: int, n: int = 120, ties: bool = False):
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.4
    scores = rng.normal(size=n) + 0.8 * labels
    if ties:
        scores = np.round(scores, 1)  # many equal scores
    return scores, labels


def brute_force_average_precision(scores, labels):
    """sum over distinct thresholds t, highest first, of (R(t) - R(previous)) P(t), with
    precision and recall of {score >= t} counted from scratch."""
    total, previous_recall = 0.0, 0.0
    for t in sorted(set(scores.tolist()), reverse=True):
        chosen = scores >= t
        precision = labels[chosen].mean()
        recall = labels[chosen].sum() / labels.sum()
        total += (recall - previous_recall) * precision
        previous_recall = recall
    return total


def brute_force_best(scores, labels, criterion):
    """Try every rule "score >= t" for t a score, plus "nothing is positive"."""
    best = 0.0
    for t in [*scores.tolist(), np.inf]:
        predicted = scores >= t
        tp = np.sum(predicted & labels)
        fp = np.sum(predicted & ~labels)
        fn = np.sum(~predicted & labels)
        tn = np.sum(~predicted & ~labels)
        value = (
            (tp + tn) / len(labels)
            if criterion == "accuracy"
            else (2 * tp / (2 * tp + fp + fn) if tp else 0.0)
        )
        best = max(best, value)
    return best


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_average_precision_matches_brute_force(seed, ties):
    scores, labels = random_case(seed, ties=ties)
    assert average_precision(scores, labels) == pytest.approx(brute_force_average_precision(scores, labels))


def test_average_precision_without_ties_is_mean_precision_at_each_positive():
    scores, labels = random_case(11)
    ranked = labels[np.argsort(-scores)]
    at_positives = np.cumsum(ranked)[ranked] / (np.flatnonzero(ranked) + 1)
    assert average_precision(scores, labels) == pytest.approx(at_positives.mean())


@pytest.mark.parametrize("criterion", ["accuracy", "f1"])
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", range(5))
def test_best_threshold_matches_brute_force_and_reproduces_its_value(seed, ties, criterion):
    scores, labels = random_case(seed, ties=ties)
    value, threshold = best_threshold(scores, labels, criterion)
    assert value == pytest.approx(brute_force_best(scores, labels, criterion))
    predicted = scores > threshold
    tp = np.sum(predicted & labels)
    again = (
        np.mean(predicted == labels) if criterion == "accuracy" else 2 * tp / (predicted.sum() + labels.sum())
    )
    assert again == pytest.approx(value)


def test_folds_are_a_stratified_partition():
    labels = np.random.default_rng(0).random(203) < 0.3
    assignment = stratified_folds(labels, 10, seed=4)
    assert sorted(set(assignment.tolist())) == list(range(10))
    for fold in range(10):
        positives = labels[assignment == fold].sum()
        assert abs(positives - labels.sum() / 10) <= 1
    with pytest.raises(W2GMError, match="at least 10 pairs of each label"):
        stratified_folds(np.array([True] * 5 + [False] * 50), 10, seed=0)


@pytest.mark.parametrize("criterion", ["accuracy", "f1"])
def test_cross_validated_threshold_never_sees_its_test_fold(criterion):
    scores, labels = random_case(3, n=300)
    result = cross_validate(scores, labels, criterion, folds=5, seed=1)
    for fold in range(5):
        train = result.assignment != fold
        assert result.thresholds[fold] == best_threshold(scores[train], labels[train], criterion)[1]
        # anything may happen to the held-out scores: that fold's threshold stays the same
        scrambled = scores.copy()
        scrambled[~train] = np.random.default_rng(fold).normal(size=(~train).sum()) * 100
        again = cross_validate(scrambled, labels, criterion, folds=5, seed=1)
        assert again.thresholds[fold] == result.thresholds[fold]
    # and the reported value is the held-out decisions' value
    predicted = scores > result.thresholds[result.assignment]
    expected = brute_force_value(predicted, labels, criterion)
    assert result.value == pytest.approx(expected)


def brute_force_value(predicted, labels, criterion):
    if criterion == "accuracy":
        return np.mean(predicted == labels)
    tp = np.sum(predicted & labels)
    return 2 * tp / (predicted.sum() + labels.sum())


def test_tuning_on_noise_looks_better_than_holding_out():
    """Scores unrelated to the labels: over many draws the tuned accuracy sits clearly above
    chance and the held-out one does not; this optimism is why both are reported."""
    tuned, held_out = [], []
    for seed in range(20):
        labels = np.arange(200) % 2 == 0
        scores = np.random.default_rng(seed).normal(size=200)
        tuned.append(best_threshold(scores, labels, "accuracy")[0])
        held_out.append(cross_validate(scores, labels, "accuracy", folds=10, seed=seed).value)
    assert np.mean(tuned) > 0.52 and abs(np.mean(held_out) - 0.5) < 0.02


def hypernym_model():
    """Planted hypernymy in D=4: each general word is broad (variance 1) at a direction,
    its specific words narrow (variance 0.02) close to it; the pairs (specific, general)
    entail, pairs across directions do not."""
    rng = np.random.default_rng(0)
    words, means, log_variances = [], [], []
    for g in range(4):
        centre = np.eye(4)[g] * 3.0
        words.append(f"general{g}")
        means.append([centre])
        log_variances.append([[np.log(1.0)]])
        for s in range(5):
            words.append(f"specific{g}_{s}")
            means.append([centre + rng.normal(scale=0.5, size=4)])
            log_variances.append([[np.log(0.02)]])
    return build_model(words, np.array(means), np.array(log_variances))


def hypernym_pairs():
    """Each (specific, its general) pair is positive and the same pair reversed negative,
    so only a directional score can separate them."""
    first, second, labels = [], [], []
    for g in range(4):
        for s in range(5):
            first += [f"specific{g}_{s}", f"general{g}"]
            second += [f"general{g}", f"specific{g}_{s}"]
            labels += [True, False]
    return LabelledPairs("planted", first, second, np.array(labels))


def test_kl_direction_specific_first_finds_the_planted_hypernyms():
    model, data = hypernym_model(), hypernym_pairs()
    kl = evaluate_entailment(model, data, "kl", folds=5)
    assert (
        kl.average_precision == 1.0 and kl.best_accuracy == 1.0 and kl.cv_accuracy == 1.0 and kl.cv_f1 == 1.0
    )
    assert model.entailment_score("specific0_0", "general0") > model.entailment_score(
        "general0", "specific0_0"
    )
    # a symmetric score gives a pair and its reverse the same value: no better than chance
    cosine = evaluate_entailment(model, data, "max_cosine", folds=5)
    assert cosine.best_accuracy == 0.5 and cosine.cv_accuracy <= 0.5


def test_oov_pairs_are_counted_and_skipped():
    model, data = hypernym_model(), hypernym_pairs()
    extended = LabelledPairs(
        "with-oov",
        [*data.first, "unicorn", "dragon"],
        [*data.second, "general0", "general1"],
        np.concatenate([data.labels, [True, False]]),
    )
    result = evaluate_entailment(model, extended, "kl", folds=5)
    assert (result.pairs, result.used, result.oov) == (42, 40, 2)
    kept = evaluate_entailment(model, extended, "kl", oov="zero", folds=5)
    assert kept.used == 42 and kept.oov == 2


def test_too_few_known_pairs_give_missing_figures_not_an_error():
    model, data = hypernym_model(), hypernym_pairs()
    few = LabelledPairs("few", data.first[:6], data.second[:6], data.labels[:6])  # 3 of each label
    result = evaluate_entailment(model, few, "kl", folds=5)
    assert result.average_precision == 1.0 and np.isnan(result.cv_accuracy) and np.isnan(result.cv_f1)
    positives = LabelledPairs("positives", data.first[::2], data.second[::2], data.labels[::2])
    assert np.isnan(evaluate_entailment(model, positives, "kl", folds=5).best_f1)
    with pytest.raises(W2GMError, match="at least 2 folds"):
        evaluate_entailment(model, data, "kl", folds=1)
