"""Word similarity on models with planted answers, the OOV policy, and the gensim-shaped API."""

import numpy as np
import pytest
import torch
from scipy import stats
from test_evaluate_models import build_model, random_model

from w2gm.errors import W2GMError
from w2gm.evaluate.datasets import WordPairs, read_word_pairs
from w2gm.evaluate.similarity import evaluate_word_pairs
from w2gm.usage import Usage

MEASURES = ["max_cosine", "elk", "min_euclidean", "mean_cosine", "centroid_cosine"]


def planted_model_and_pairs(n: int = 12):
    """Word ``q{i}`` sits at angle theta_i from the common anchor ``p{i}`` = e1 (radius 1,
    equal variances), with theta_i growing as the human score falls: every measure, being
    monotone in the angle here, must rank the pairs exactly as the humans did."""
    words, means, first, second = [], [], [], []
    scores = np.linspace(10, 0, n)
    for i, score in enumerate(scores):
        theta = (10 - score) / 10 * np.pi * 0.9
        words += [f"p{i}", f"q{i}"]
        means += [[[1.0, 0.0]], [[np.cos(theta), np.sin(theta)]]]
        first.append(f"p{i}")
        second.append(f"q{i}")
    model = build_model(words, np.array(means))
    return model, WordPairs("planted", "planted.txt", first, second, scores)


@pytest.mark.parametrize("measure", MEASURES)
def test_planted_ranking_gives_perfect_spearman(measure):
    model, data = planted_model_and_pairs()
    result = evaluate_word_pairs(model, data, [measure])
    assert result.spearman[measure] == pytest.approx(1.0)
    reversed_gold = WordPairs("reversed", "r.txt", data.first, data.second, -data.scores)
    assert evaluate_word_pairs(model, reversed_gold, [measure]).spearman[measure] == pytest.approx(-1.0)


def test_oov_pairs_are_skipped_and_counted_by_default():
    model, data = planted_model_and_pairs()
    with_oov = WordPairs(
        "with-oov",
        "x.txt",
        [*data.first, "unicorn", "p0"],
        [*data.second, "q1", "dragon"],
        np.concatenate([data.scores, [10.0, 9.0]]),  # OOV pairs rated highest: skipping keeps rho = 1
    )
    result = evaluate_word_pairs(model, with_oov, MEASURES)
    assert (result.pairs, result.used, result.oov) == (14, 12, 2)
    assert all(result.spearman[m] == pytest.approx(1.0) for m in MEASURES)
    # kept as "no similarity", they are ranked last although the humans rated them first
    kept = evaluate_word_pairs(model, with_oov, MEASURES, oov="zero")
    assert (kept.used, kept.oov) == (14, 2)
    assert all(kept.spearman[m] < 0.9 for m in MEASURES)
    with pytest.raises(W2GMError, match="unknown OOV policy"):
        evaluate_word_pairs(model, with_oov, MEASURES, oov="mean")


def test_capitalised_dataset_words_find_lowercase_model_words():
    model, data = planted_model_and_pairs()
    shouting = WordPairs("caps", "c.txt", [w.upper() for w in data.first], data.second, data.scores)
    result = evaluate_word_pairs(model, shouting, ["max_cosine"])
    assert result.oov == 0 and result.spearman["max_cosine"] == pytest.approx(1.0)


def test_evaluate_word_pairs_has_gensims_shape_and_agrees_with_scipy(tmp_path):
    words = [f"w{i}" for i in range(40)]
    model = random_model(words, k=2, d=5, seed=3)
    rng = np.random.default_rng(0)
    rows = [(f"w{rng.integers(40)}", f"w{rng.integers(40)}", float(rng.uniform(0, 10))) for _ in range(60)]
    rows += [("w1", "missing", 5.0), ("nothing", "w2", 1.0)]
    path = tmp_path / "mine.csv"
    path.write_text("first,second,score\n" + "".join(f"{a},{b},{s}\n" for a, b, s in rows))
    for measure in MEASURES:
        (r, r_p), (rho, rho_p), oov_ratio = model.evaluate_word_pairs(path, measure=measure)
        known = rows[:60]
        scores = [model.similarity(a, b, measure) for a, b, _ in known]
        gold = [s for _, _, s in known]
        assert r == pytest.approx(stats.pearsonr(scores, gold)[0])
        assert rho == pytest.approx(stats.spearmanr(scores, gold)[0])
        assert 0 <= r_p <= 1 and 0 <= rho_p <= 1
        assert oov_ratio == pytest.approx(100 * 2 / 62)


def test_every_bundled_dataset_evaluates_on_a_model_that_knows_some_words():
    from w2gm.evaluate import catalogue
    from w2gm.evaluate.datasets import find_file

    root = catalogue.bundled_data_dir()
    sets = [read_word_pairs(find_file(root / rel), name) for name, rel in catalogue.SIMILARITY.items()]
    vocabulary = sorted({w.lower() for d in sets for w in d.first + d.second})[::2]
    model = random_model(vocabulary, k=2, d=8, seed=0)
    for data in sets:
        result = evaluate_word_pairs(model, data, MEASURES)
        assert result.pairs == len(data) and 0 < result.used < result.pairs
        assert result.used + result.oov == result.pairs
        assert all(-1 <= result.spearman[m] <= 1 for m in MEASURES)


def test_centroid_cosine_is_the_cosine_of_the_weighted_means():
    """a's components point along e1 and e2 with weights 3/4 and 1/4, so its mixture's mean
    is (3/4, 1/4); b's are both e1.  Equal weights would give cos 45 degrees, max cosine 1."""
    model = build_model(["a", "b"], np.array([[[1.0, 0.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]]),
                        logits=np.log([[0.75, 0.25], [0.5, 0.5]]))
    assert model.similarity("a", "b", "centroid_cosine") == pytest.approx(0.75 / np.hypot(0.75, 0.25))
    assert model.similarity("a", "b", "max_cosine") == pytest.approx(1.0)
    # an inactive component has no weight: a's mean is then e1 alone
    model.usage = Usage(torch.tensor([[9, 0], [5, 4]]), torch.tensor([[True, False], [True, True]]))
    assert model.similarity("a", "b", "centroid_cosine") == pytest.approx(1.0)
