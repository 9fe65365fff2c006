"""Hand-built models whose answers are known, and the measures the evaluation uses on them.

The builders here are shared by the other ``test_evaluate_*`` files.
"""

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal

from w2gm.energy import VARIANCE_EPSILON
from w2gm.evaluate.pairs import score_ids, score_pairs
from w2gm.keyed import KeyedMixtures
from w2gm.measures import MEASURES
from w2gm.mixture import MixtureTable
from w2gm.vocab import Vocabulary, lookup_ids


def build_model(
    words: list[str],
    means: np.ndarray,
    log_variances: np.ndarray | None = None,
    logits: np.ndarray | None = None,
    output: MixtureTable | None = None,
    config: dict | None = None,
) -> KeyedMixtures:
    """A model from explicit parameters (``means [V, K, D]``; spherical variance 0.05 and
    equal weights unless given)."""
    means = np.asarray(means, dtype=np.float64)
    v, k, _ = means.shape
    if log_variances is None:
        log_variances = np.full((v, k, 1), math.log(0.05))
    if logits is None:
        logits = np.zeros((v, k))
    table = MixtureTable(
        torch.tensor(means, dtype=torch.float64),
        torch.tensor(np.asarray(log_variances), dtype=torch.float64),
        torch.tensor(np.asarray(logits), dtype=torch.float64),
    )
    return KeyedMixtures(Vocabulary(list(words), np.arange(len(words), 0, -1)), table, output, config)


def random_table(v: int, k: int, d: int, covariance: str, rng: np.random.Generator) -> MixtureTable:
    columns = 1 if covariance == "spherical" else d
    return MixtureTable(
        torch.tensor(rng.normal(size=(v, k, d))),
        torch.tensor(rng.uniform(-1.5, 0.0, size=(v, k, columns))),
        torch.tensor(rng.normal(size=(v, k))),
    )


def random_model(
    words: list[str], k: int, d: int, covariance: str = "spherical", seed: int = 0
) -> KeyedMixtures:
    rng = np.random.default_rng(seed)
    table = random_table(len(words), k, d, covariance, rng)
    output = random_table(len(words), k, d, covariance, rng)
    vocab = Vocabulary(list(words), np.arange(len(words), 0, -1))
    return KeyedMixtures(vocab, table, output, {"window": 5})


def shared_component_model() -> KeyedMixtures:
    """``a`` and ``b`` share one component exactly (b:1 == a:0); ``c`` is elsewhere.

    a = {x, y}, b = {z, x}, c = {-x, w}: every measure must rank (a, b) above (a, c) and
    (b, c), and the shared component fixes the max cosine (1), the min distance (0) and
    the min KL (0) of (a, b) exactly."""
    x, y, z = np.eye(4)[:3] * 2.0
    w = np.array([0.0, -1.0, 0.5, 1.5])
    means = np.stack([[x, y], [z, x], [-x, w]])
    log_variances = np.log([[[0.3], [0.6]], [[0.4], [0.3]], [[0.5], [0.2]]])
    return build_model(
        ["a", "b", "c"], means, log_variances, logits=np.array([[0.3, -0.3], [0.0, 0.5], [1.0, 0.0]])
    )


@pytest.mark.parametrize("measure", list(MEASURES))
def test_shared_component_ranks_first_under_every_measure(measure):
    model = shared_component_model()
    ab, ac, bc = (model.similarity(p, q, measure) for p, q in (("a", "b"), ("a", "c"), ("b", "c")))
    assert ab > ac and ab > bc


def test_shared_component_gives_the_exact_extremes():
    model = shared_component_model()
    assert model.similarity("a", "b", "max_cosine") == pytest.approx(1.0)
    assert model.similarity("a", "b", "min_euclidean") == pytest.approx(0.0, abs=1e-12)
    # KL(a_0 || b_1) = 0 for identical Gaussians, and KL >= 0 for every other pair
    assert model.entailment_score("a", "b", "kl") == pytest.approx(0.0, abs=1e-12)
    assert model.entailment_score("b", "a", "kl") == pytest.approx(0.0, abs=1e-12)


def test_elk_measure_is_the_closed_form_energy_with_its_constants():
    """log E(a, b) = log sum_ij p_i q_j N(0; mu_ai - mu_bj, (s_ai + s_bj + eps) I), every term
    computed by scipy's Gaussian density (D/2 log 2 pi and the log-determinant included)."""
    model = shared_component_model()
    a, b = model.components("a"), model.components("b")
    total = 0.0
    for i in range(2):
        for j in range(2):
            cov = (a.variances[i] + b.variances[j] + VARIANCE_EPSILON) * np.eye(4)
            total += (
                a.weights[i]
                * b.weights[j]
                * multivariate_normal(np.zeros(4), cov).pdf(a.means[i] - b.means[j])
            )
    assert model.similarity("a", "b", "elk") == pytest.approx(math.log(total), rel=1e-10)


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
def test_elk_measure_is_the_training_energy(covariance):
    """With a margin too large for the hinge to clip, the training loss of (w, c, c') is
    m - log E(w, c) + log E(w, c'): the ELK measure must give the same energy differences."""
    from w2gm.objective import max_margin_loss

    words = [f"w{i}" for i in range(20)]
    model = random_model(words, k=2, d=5, covariance=covariance, seed=8)
    rng = np.random.default_rng(0)
    word, context, negative = (rng.integers(20, size=64) for _ in range(3))
    margin = 1e4
    with torch.no_grad():
        loss = max_margin_loss(
            model.mixtures(word),
            model.mixtures(context),
            tuple(t.unsqueeze(1) for t in model.mixtures(negative)),
            margin,
        )[:, 0]
    measured = (
        score_ids(model, word, context, ["elk"])["elk"] - score_ids(model, word, negative, ["elk"])["elk"]
    )
    np.testing.assert_allclose(margin - loss.numpy(), measured, rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
def test_min_kl_measure_matches_monte_carlo(covariance):
    """-min_ij KL(a_i || b_j), each KL estimated as E_{x ~ a_i}[log a_i(x) - log b_j(x)]."""
    model = random_model(["a", "b"], k=2, d=3, covariance=covariance, seed=5)
    a, b = model.components("a"), model.components("b")
    rng = np.random.default_rng(1)
    estimates, errors = [], []
    for i in range(2):
        var_a = np.broadcast_to(a.variances[i], (3,))
        x = a.means[i] + rng.normal(size=(200_000, 3)) * np.sqrt(var_a)
        for j in range(2):
            var_b = np.broadcast_to(b.variances[j], (3,))
            ratio = multivariate_normal(a.means[i], np.diag(var_a)).logpdf(x)
            ratio -= multivariate_normal(b.means[j], np.diag(var_b)).logpdf(x)
            estimates.append(ratio.mean())
            errors.append(ratio.std() / math.sqrt(len(x)))
    best = int(np.argmin(estimates))
    closed = -model.entailment_score("a", "b", "kl")
    assert abs(closed - estimates[best]) < 5 * errors[best]
    # the direction matters: KL(a || b) is not KL(b || a)
    assert model.entailment_score("b", "a", "kl") != pytest.approx(-closed, rel=1e-3)


def test_kl_says_a_narrow_word_entails_the_broad_word_around_it():
    """A specific word (small variance) inside a general one (large variance, same place):
    KL(specific || general) is small, KL(general || specific) large."""
    means = np.array([[[1.0, 0.0, 0.0]], [[1.1, 0.1, 0.0]]])
    log_variances = np.log([[[2.0]], [[0.05]]])
    model = build_model(["animal", "dog"], means, log_variances)
    assert model.entailment_score("dog", "animal") > model.entailment_score("animal", "dog")


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
@pytest.mark.parametrize("measure", list(MEASURES))
def test_batched_scores_equal_one_pair_at_a_time(measure, covariance):
    words = [f"w{i}" for i in range(30)]
    model = random_model(words, k=3, d=6, covariance=covariance, seed=2)
    rng = np.random.default_rng(0)
    first, second = rng.integers(30, size=50), rng.integers(30, size=50)
    batched = score_ids(model, first, second, [measure])[measure]
    single = [model.similarity(words[i], words[j], measure) for i, j in zip(first, second, strict=True)]
    np.testing.assert_allclose(batched, single, rtol=1e-9, atol=1e-12)


def test_lookup_falls_back_to_lowercase_and_marks_unknown_words():
    model = build_model(["jerusalem", "Apple", "apple"], np.ones((3, 1, 2)))
    np.testing.assert_array_equal(
        lookup_ids(model.vocab, ["Jerusalem", "Apple", "apple", "APPLE", "nowhere"]), [0, 1, 2, 2, -1]
    )


def test_oov_pairs_are_skipped_or_ranked_below_everything():
    model = shared_component_model()
    first, second = ["a", "a", "zz", "b"], ["b", "c", "a", "yy"]
    scores, used, missing = score_pairs(model, first, second, ["max_cosine", "elk"], "skip")
    assert missing == 2 and used.tolist() == [True, True, False, False] and len(scores["elk"]) == 2
    kept, used, _ = score_pairs(model, first, second, ["max_cosine", "elk"], "zero")
    assert used.all() and kept["max_cosine"][2] == kept["max_cosine"][3]
    assert kept["max_cosine"][2] < scores["max_cosine"].min()
    # on a measure whose scores are all negative a literal 0.0 would put OOV pairs first
    assert kept["elk"][2] < kept["elk"][:2].min() < 0
