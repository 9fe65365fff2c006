"""Sense in context on a model trained from the planted two-sense corpus, and the batched
call against the single one."""

import numpy as np
import pytest
import torch
from planted import AMBIGUOUS, PLANTED, SENSES, topic_contexts, topic_words, write_two_sense_corpus
from test_evaluate_models import random_model

import w2gm
from w2gm import energy, senses
from w2gm.errors import W2GMError


@pytest.fixture(scope="module")
def planted_model(tmp_path_factory):
    corpus = write_two_sense_corpus(tmp_path_factory.mktemp("senses") / "two_senses.txt")
    return w2gm.train(corpus, components=2, **PLANTED)


def test_contexts_of_each_topic_choose_their_own_component(planted_model):
    rng = np.random.default_rng(7)
    chosen = {
        topic: planted_model.disambiguate_many(AMBIGUOUS, topic_contexts(topic, 200, rng)).argmax(-1)
        for topic in SENSES
    }
    river, money = (np.bincount(chosen[t], minlength=2) for t in SENSES)
    # each topic's majority component, and the two differ; chance would be 50% each way
    assert river.argmax() != money.argmax(), (river, money)
    accuracy = (river.max() + money.max()) / 400
    assert accuracy > 0.9, (river, money)
    # both senses are in use in the training text, so neither component is inactive
    shares = planted_model.usage_shares()[planted_model.vocab.id(AMBIGUOUS)]
    assert planted_model.active()[planted_model.vocab.id(AMBIGUOUS)].all()
    assert float(shares.min()) > 0.2 and float(shares.sum()) == pytest.approx(1.0)


def test_a_sentence_window_and_unknown_words(planted_model):
    """Where the word occurs, only its window counts: money words far away do not."""
    rng = np.random.default_rng(3)
    left, right = (" ".join(rng.choice(topic_words("river"), size=3)) for _ in range(2))
    money = " ".join(rng.choice(topic_words("money"), size=12))
    near_river = planted_model.disambiguate(AMBIGUOUS, f"{money} {left} {AMBIGUOUS} {right} {money}", window=3)
    only_river = planted_model.disambiguate(AMBIGUOUS, f"{left} {right}")
    np.testing.assert_allclose(near_river, only_river, rtol=1e-6)
    assert planted_model.disambiguate(AMBIGUOUS, money).argmax() != only_river.argmax()
    prior = planted_model.input.weights()[planted_model.vocab.id(AMBIGUOUS)].numpy()
    np.testing.assert_allclose(planted_model.disambiguate(AMBIGUOUS, "zzz qqq"), prior, rtol=1e-6)
    with pytest.raises(W2GMError, match="unknown word 'banc'"):
        planted_model.disambiguate("banc", left)


def test_batched_and_single_calls_agree():
    words = [f"w{i}" for i in range(30)]
    model = random_model(words, k=3, d=5, covariance="diagonal", seed=9)
    rng = np.random.default_rng(0)
    contexts = [list(rng.choice(words + ["oov"], size=rng.integers(0, 9))) for _ in range(300)]
    contexts += ["w1 w2 w3", "W4 w5"]  # strings, one capitalised
    batched = model.disambiguate_many("w7", contexts)
    single = np.array([model.disambiguate("w7", c) for c in contexts])
    np.testing.assert_allclose(batched, single, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(batched.sum(-1), 1.0, rtol=1e-6)
    assert len(np.unique(batched.argmax(-1))) > 1  # the contexts do move the choice


def test_spherical_shortcut_is_the_energy_modules_partial_energy():
    """The usage pass's expanded squared distance against w2gm.energy's direct form, on
    components both far apart and nearly coinciding (where the expansion loses digits)."""
    rng = np.random.default_rng(4)
    means = torch.tensor(rng.normal(size=(40, 2, 16)), dtype=torch.float32)
    context_means = torch.tensor(rng.normal(size=(40, 6, 3, 16)), dtype=torch.float32)
    context_means[:, 0, 0] = means[:, 0] + 1e-3  # nearly the same mean
    log_variances = torch.tensor(rng.uniform(-3, 0, size=(40, 2, 1)), dtype=torch.float32)
    context_log_variances = torch.tensor(rng.uniform(-3, 0, size=(40, 6, 3, 1)), dtype=torch.float32)
    fast = senses.partial_log_energies(means, log_variances, context_means, context_log_variances)
    direct = energy.partial_log_energies(
        means.unsqueeze(1), log_variances.unsqueeze(1), context_means, context_log_variances
    )
    assert fast.shape == direct.shape == (40, 6, 2, 3)
    torch.testing.assert_close(fast, direct, rtol=1e-5, atol=2e-4)
