"""SCWS scores: a brute-force reference, planted senses picked out by their context, and
the real file end to end."""

import math

import numpy as np
import pytest
import torch
from test_evaluate_models import build_model, random_model

from w2gm.energy import VARIANCE_EPSILON
from w2gm.evaluate import catalogue
from w2gm.evaluate.datasets import ContextPair, WordInContext, find_file, read_scws
from w2gm.evaluate.scws import METHODS, evaluate_scws, scws_scores
from w2gm.mixture import MixtureTable
from w2gm.senses import QUERY_TEMPERATURE


def in_context(word: str, left: list[str], right: list[str]) -> WordInContext:
    return WordInContext(word, tuple(left + [word] + right), len(left))


def reference_scores(model, item: ContextPair, window: int) -> dict[str, float]:
    """The module docstring's formulas, one item at a time with explicit Gaussian densities:
    the query posterior of w2gm.senses, log p_i + sum_c keep_c log E(N_wi, g_c) / T
    normalised over i (Bayes' rule over the known context words, T its temperature)."""
    table = model.output if model.output is not None else model.input
    context_means, context_variances = table.means.numpy(), table.variances().numpy()
    context_weights = table.weights().numpy()
    keep = model.keep_probabilities().numpy()

    def lookup(token):
        for form in (token, token.lower()):
            if form in model.vocab:
                return model.vocab.index[form]
        return None

    def posterior(side: WordInContext):
        w = lookup(side.word)
        means, variances = model.input.means[w].numpy(), model.input.variances()[w].numpy()
        p = model.input.weights()[w].numpy()
        lo = max(0, side.position - window)
        around = (
            side.context[lo : side.position] + side.context[side.position + 1 : side.position + 1 + window]
        )
        evidence = np.zeros(len(p))
        known = 0
        for token in around:
            c = lookup(token)
            if c is None:
                continue
            known += 1
            q = context_weights[c]
            energies = np.zeros(len(p))
            for i in range(len(p)):
                for j in range(len(q)):
                    var = np.broadcast_to(
                        variances[i] + context_variances[c, j] + VARIANCE_EPSILON, means.shape[1:]
                    )
                    diff = means[i] - context_means[c, j]
                    density = np.exp(-0.5 * np.sum(diff**2 / var)) / np.sqrt(np.prod(2 * np.pi * var))
                    energies[i] += q[j] * density
            evidence += keep[c] * np.log(energies)
        if not known:
            return p, means, p
        scores = np.log(p) + evidence / QUERY_TEMPERATURE
        shares = np.exp(scores - scores.max())
        return shares / shares.sum(), means, p

    r1, m1, p1 = posterior(item.first)
    r2, m2, p2 = posterior(item.second)
    unit1 = m1 / np.linalg.norm(m1, axis=1, keepdims=True)
    unit2 = m2 / np.linalg.norm(m2, axis=1, keepdims=True)
    cos = unit1 @ unit2.T
    return {
        "MaxSim": cos.max(),
        "AvgSim": float(p1 @ cos @ p2),
        "MaxSimC": cos[np.argmax(r1), np.argmax(r2)],
        "AvgSimC": float(r1 @ cos @ r2),
    }


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
def test_batched_scores_match_the_one_item_reference(covariance):
    words = [f"w{i}" for i in range(25)]
    model = random_model(words, k=3, d=3, covariance=covariance, seed=4)
    rng = np.random.default_rng(1)
    pool = words + ["W3", "unknown", ",", "the"]  # a capitalised known word and unknown tokens
    items = []
    for _ in range(40):
        sides = []
        for _ in range(2):
            left = list(rng.choice(pool, size=rng.integers(0, 8)))
            right = list(rng.choice(pool, size=rng.integers(0, 8)))
            sides.append(in_context(str(rng.choice(words)), left, right))
        items.append(ContextPair(sides[0], sides[1], float(rng.uniform(0, 10))))
    scores, known = scws_scores(model, items, window=4)
    assert known.all()
    for n, item in enumerate(items):
        expected = reference_scores(model, item, window=4)
        for name in METHODS:
            assert scores[name][n] == pytest.approx(expected[name], rel=1e-7, abs=1e-9), name


def two_sense_model(output: bool = False):
    """``bank`` has a river component (0) and a money component (1); context words sit at
    one sense each.  With ``output`` the context (output) distributions swap the senses of
    ``water`` and ``cash``, to show that contexts are read from the output table."""
    river, money = np.array([2.0, 0, 0, 0]), np.array([0, 2.0, 0, 0])
    words = ["bank", "water", "cash", "shore", "finance"]
    means = np.array(
        [
            [river, money],
            [river, river + 0.1],
            [money, money + 0.1],
            [river + [0, 0.2, 0.3, 0], river + [0, 0.2, 0.3, 0]],
            [money + [0, 0, 0.6, 0], money + [0, 0, 0.6, 0]],
        ]
    )
    table = None
    if output:
        swapped = means.copy()
        swapped[[1, 2]] = means[[2, 1]]
        table = MixtureTable(
            torch.tensor(swapped),
            torch.full((5, 2, 1), math.log(0.05), dtype=torch.float64),
            torch.zeros(5, 2),
        )
    return build_model(words, means, output=table)


def test_context_picks_the_sense_it_is_about():
    model = two_sense_model()
    ids = np.array([0, 0, 0])
    contexts = np.array([[1, 1, -1], [2, -1, -1], [-1, -1, -1]])  # water; cash; nothing known
    posterior = model.posteriors(ids, contexts).numpy()
    assert posterior[0, 0] > 0.99 and posterior[1, 1] > 0.99
    np.testing.assert_allclose(posterior[2], [0.5, 0.5])  # no known context: the prior weights
    np.testing.assert_allclose(posterior.sum(1), 1.0)
    flipped = two_sense_model(output=True).posteriors(ids, contexts).numpy()
    assert flipped[0, 1] > 0.99 and flipped[1, 0] > 0.99


def test_contextual_scores_follow_the_planted_senses():
    """bank-by-the-water vs shore is similar, bank-by-the-cash vs shore is not, and the
    reverse for finance: only the contextual scores see the difference."""
    model = two_sense_model()
    river_bank = in_context("bank", ["the", "water"], ["water"])
    money_bank = in_context("Bank", ["cash"], ["cash", "."])
    shore = in_context("shore", ["water"], [])
    finance = in_context("finance", [], ["cash"])
    items = [
        ContextPair(river_bank, shore, 9.0),
        ContextPair(money_bank, shore, 1.5),
        ContextPair(money_bank, finance, 8.5),
        ContextPair(river_bank, finance, 1.0),
    ]
    result = evaluate_scws(model, items, window=3)
    assert result.spearman["MaxSimC"] == pytest.approx(1.0)
    assert result.spearman["AvgSimC"] == pytest.approx(1.0)
    scores, _ = scws_scores(model, items, window=3)
    # without context bank is equally close to shore and to finance in both sentences
    assert scores["MaxSim"][0] == pytest.approx(scores["MaxSim"][1])
    assert scores["MaxSim"][2] == pytest.approx(scores["MaxSim"][3])


def test_only_the_window_counts():
    model = two_sense_model()
    near = in_context("bank", ["cash"] * 5 + ["the", "x"], ["water", "x"])
    far = in_context("bank", ["water"] * 5 + ["the", "x"], ["water", "x"])
    shore = in_context("shore", [], [])
    base = scws_scores(model, [ContextPair(near, shore, 0.0)], window=2)[0]
    same = scws_scores(model, [ContextPair(far, shore, 0.0)], window=2)[0]
    assert all(base[m] == pytest.approx(same[m]) for m in METHODS)
    wider = scws_scores(model, [ContextPair(near, shore, 0.0)], window=6)[0]
    assert wider["MaxSimC"] < base["MaxSimC"]


def test_one_component_makes_all_four_scores_equal():
    words = [f"w{i}" for i in range(10)]
    model = random_model(words, k=1, d=4, seed=0)
    items = [
        ContextPair(in_context(f"w{i}", ["w1", "w2"], ["w3"]), in_context(f"w{9 - i}", ["w4"], []), float(i))
        for i in range(8)
    ]
    scores, _ = scws_scores(model, items, window=3)
    for name in METHODS[1:]:
        np.testing.assert_allclose(scores[name], scores["MaxSim"], rtol=1e-12)


def test_real_scws_file_end_to_end():
    items = read_scws(find_file(catalogue.bundled_data_dir() / catalogue.SCWS))
    vocabulary = sorted({w.lower() for item in items for w in (item.first.word, item.second.word)})
    vocabulary += ["the", "of", "and", "in", "a"]
    model = random_model(vocabulary[::2] + vocabulary[-5:], k=2, d=8, seed=1)
    result = evaluate_scws(model, items, window=5)
    assert result.pairs == 2003 and result.used + result.oov == 2003 and 0 < result.used < 2003
    assert all(-1 <= result.spearman[m] <= 1 for m in METHODS)
