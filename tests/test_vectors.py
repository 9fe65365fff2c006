"""gensim's KeyedVectors conventions: on a K=1 model every method gives what gensim gives on
the same vectors; on K=2 the keys are components.  The vectors plant analogies (capitals
and family words differ from their partners by a shared offset) so that the analogy test
has right and wrong answers to agree on."""

import gzip

import numpy as np
import pytest
import torch

from w2gm.errors import W2GMError
from w2gm.keyed import KeyedMixtures
from w2gm.mixture import MixtureTable
from w2gm.vectors import analogy_path
from w2gm.vocab import Vocabulary

gensim_models = pytest.importorskip("gensim.models", reason="gensim is an optional peer for these comparisons")

SECTIONS = ("capital-common-countries", "family")
DIM = 16


def _planted_words():
    """Words of two analogy sections, a partner = word + the section's offset + noise,
    plus unrelated filler words."""
    rng = np.random.default_rng(3)
    pairs: dict[str, str] = {}
    section = None
    with gzip.open(analogy_path(), "rt") as lines:
        for line in lines:
            if line.startswith(": "):
                section = line[2:].strip()
            elif section in SECTIONS:
                a, b, c, d = line.lower().split()
                pairs.setdefault(a, b)
                pairs.setdefault(c, d)
    vectors: dict[str, np.ndarray] = {}
    offset = rng.normal(size=DIM) * 0.7
    for first, second in pairs.items():
        vectors.setdefault(first, rng.normal(size=DIM))
        vectors.setdefault(second, vectors[first] + offset + 0.1 * rng.normal(size=DIM))
    for i in range(40):
        vectors[f"filler{i}"] = rng.normal(size=DIM)
    return list(vectors), np.stack(list(vectors.values())).astype(np.float32)


@pytest.fixture(scope="module")
def pair():
    words, means = _planted_words()
    table = MixtureTable(torch.from_numpy(means)[:, None, :], torch.zeros(len(words), 1, 1),
                         torch.zeros(len(words), 1))
    model = KeyedMixtures(Vocabulary(words, np.arange(len(words), 0, -1)), table, config={"tokenizer": "words"})
    reference = gensim_models.KeyedVectors(vector_size=DIM)
    reference.add_vectors(words, means)
    return model, reference


def _same_ranking(ours, theirs):
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], abs=1e-5)


def test_table_attributes_match_gensim(pair):
    model, reference = pair
    assert model.index_to_key == reference.index_to_key
    assert model.key_to_index == reference.key_to_index
    assert model.vector_size == reference.vector_size
    np.testing.assert_array_equal(model.vectors, reference.vectors)
    np.testing.assert_array_equal(model["athens"], reference["athens"])
    np.testing.assert_array_equal(model[["athens", "greece"]], reference[["athens", "greece"]])
    np.testing.assert_allclose(model.get_vector("paris", norm=True), reference.get_vector("paris", norm=True),
                               rtol=1e-6)
    assert model.get_index("paris") == reference.get_index("paris")


def test_queries_match_gensim(pair):
    model, reference = pair
    _same_ranking(model.most_similar("athens", topn=6), reference.most_similar("athens", topn=6))
    query = {"positive": ["greece", "paris"], "negative": ["athens"], "topn": 5}
    _same_ranking(model.most_similar(**query), reference.most_similar(**query))
    assert model.most_similar(**query)[0][0] == "france"  # the planted analogy
    _same_ranking(model.most_similar(**query, restrict_vocab=30),
                  reference.most_similar(**query, restrict_vocab=30))
    _same_ranking(model.most_similar_cosmul(**query), reference.most_similar_cosmul(**query))
    vector = model["rome"] - model["italy"]
    _same_ranking(model.similar_by_vector(vector, topn=4), reference.similar_by_vector(vector, topn=4))
    group = ["athens", "greece", "filler3"]  # a word and its partner are close
    assert model.doesnt_match(group) == reference.doesnt_match(group) == "filler3"
    assert model.n_similarity(["athens", "rome"], ["greece", "italy"]) == pytest.approx(
        reference.n_similarity(["athens", "rome"], ["greece", "italy"]), abs=1e-6)
    assert model.distance("paris", "france") == pytest.approx(reference.distance("paris", "france"), abs=1e-6)
    np.testing.assert_allclose(model.most_similar(**{**query, "topn": None}),
                               reference.most_similar(**{**query, "topn": None}), atol=1e-6)


def test_queries_normalise_words_as_the_model_does(pair):
    model, _ = pair
    assert model.most_similar(positive=["Greece", "PARIS"], negative=["Athens,"], topn=1)[0][0] == "france"


def _analogy_sample(tmp_path):
    """Every 8th question of the bundled set (all sections, most of them out of vocabulary)."""
    with gzip.open(analogy_path(), "rt") as lines:
        kept = [line for n, line in enumerate(lines) if line.startswith(": ") or n % 8 == 0]
    path = tmp_path / "questions.txt"
    path.write_text("".join(kept))
    return str(path)


def test_analogies_match_gensim_section_by_section(pair, tmp_path):
    model, reference = pair
    sample = _analogy_sample(tmp_path)
    for options in ({}, {"restrict_vocab": 60, "dummy4unknown": True}, {"case_insensitive": False}):
        ours, theirs = model.evaluate_word_analogies(sample, **options), reference.evaluate_word_analogies(
            sample, **options)
        assert ours[0] == pytest.approx(theirs[0])
        assert [s["section"] for s in ours[1]] == [s["section"] for s in theirs[1]]
        for mine, gensims in zip(ours[1], theirs[1], strict=True):
            assert mine["correct"] == gensims["correct"] and mine["incorrect"] == gensims["incorrect"]
    assert model.evaluate_word_analogies(sample)[0] > 0.5  # the planted offsets are found


def test_analogies_default_to_the_bundled_google_set(pair):
    model, reference = pair
    score, sections = model.evaluate_word_analogies(restrict_vocab=1, dummy4unknown=True)
    assert score == 0 and len(sections) == 15 and sum(len(s["incorrect"]) for s in sections[:-1]) == 19544


def test_to_keyedvectors_holds_the_same_vectors_and_counts(pair):
    model, reference = pair
    converted = model.to_keyedvectors()
    assert converted.index_to_key == reference.index_to_key
    np.testing.assert_array_equal(converted.vectors, reference.vectors)
    assert converted.get_vecattr("athens", "count") == model.vocab.counts[model.vocab.id("athens")]


def test_mixture_keys_are_components():
    words = ["rock", "stone", "jazz", "music"]
    means = torch.randn(4, 2, 5, generator=torch.Generator().manual_seed(0))
    model = KeyedMixtures(Vocabulary(words, np.array([4, 3, 2, 1])),
                          MixtureTable(means, torch.zeros(4, 2, 1), torch.zeros(4, 2)))
    assert model.index_to_key[:3] == ["rock:0", "rock:1", "stone:0"] and model.vectors.shape == (8, 5)
    assert model["rock"].shape == (2, 5) and np.array_equal(model["rock:1"], means[0, 1].numpy())
    answers = model.most_similar(positive=["rock:1"], topn=8)
    assert all(not key.startswith("rock:") for key, _ in answers) and len(answers) == 6  # the word is left out
    best = max(range(8), key=lambda row: -1 if row // 2 == 0 else float(
        torch.nn.functional.cosine_similarity(means[0, 1], means.reshape(8, 5)[row], dim=0)))
    assert answers[0][0] == model.index_to_key[best]
    with pytest.raises(W2GMError, match="name one as rock:k"):
        model.get_index("rock")
