"""gensim's KeyedVectors conventions: every method gives what gensim gives on the same vectors,
for K=1 (the words are the components) and for K=2 (one key per word, its mixture's mean,
then one per active component).  The references are gensim KeyedVectors built here from
the model's parameters, the mixture means computed independently of the code under test.
The vectors plant analogies (capitals and family words differ from their partners by a
shared offset) so that the analogy test has right and wrong answers to agree on."""

import gzip

import numpy as np
import pytest
import torch

from w2gm.analogies import analogy_path
from w2gm.errors import NotApplicableError, QueryError, UnknownKeyError, W2GMError
from w2gm.keyed import KeyedMixtures
from w2gm.mixture import MixtureTable
from w2gm.usage import Usage
from w2gm.vocab import Vocabulary

gensim_models = pytest.importorskip("gensim.models", reason="gensim is an optional peer for these comparisons")
# gensim warns about its own deprecated names (init_sims, words_closer_than), which it calls too
pytestmark = pytest.mark.filterwarnings("ignore:Call to deprecated:DeprecationWarning")

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


def _keyed(words, vectors):
    keyed = gensim_models.KeyedVectors(vector_size=DIM)
    keyed.add_vectors(list(words), np.asarray(vectors, dtype=np.float32))
    return keyed


class Pair:
    """A model and gensim references: its words (one vector each), its active components,
    and the whole table (words, then components)."""

    def __init__(self, k):
        words, planted = _planted_words()
        rng = np.random.default_rng(k)
        v = len(words)
        if k == 1:
            means, logits, active = planted[:, None, :], np.zeros((v, 1)), np.ones((v, 1), dtype=bool)
        else:  # the planted vector, and a small second component that some words never use
            means = np.stack([planted, 0.3 * rng.normal(size=(v, DIM))], 1).astype(np.float32)
            logits = rng.normal(size=(v, 2)).astype(np.float32)
            active = np.ones((v, 2), dtype=bool)
            active[::3, 1] = False
        table = MixtureTable(torch.from_numpy(means), torch.zeros(v, k, 1), torch.from_numpy(logits))
        self.model = KeyedMixtures(Vocabulary(words, np.arange(v, 0, -1)), table, config={"tokenizer": "words"})
        self.model.usage = Usage.from_counts(torch.from_numpy(np.where(active, 50, 0)))
        # the mixture's mean over the active components, weights renormalised
        weights = np.where(active, np.exp(logits), 0)
        weights /= weights.sum(1, keepdims=True)
        self.word_vectors = (weights[..., None] * means).sum(1).astype(np.float32)
        self.words = _keyed(words, self.word_vectors)
        component_keys = [f"{w}:{i}" for n, w in enumerate(words) for i in range(k) if k > 1 and active[n, i]]
        component_vectors = means[active] if k > 1 else np.zeros((0, DIM))
        self.components = _keyed(component_keys, component_vectors) if k > 1 else None
        self.table = _keyed(words + component_keys, np.vstack([self.word_vectors, component_vectors]))


@pytest.fixture(scope="module", params=[1, 2], ids=["K1", "K2"])
def pair(request):
    return Pair(request.param)


def _same_ranking(ours, theirs):
    assert [k for k, _ in ours] == [k for k, _ in theirs]
    assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], abs=1e-5)


def test_the_table_is_the_words_then_the_active_components(pair):
    model, reference = pair.model, pair.table
    assert model.index_to_key == reference.index_to_key and model.key_to_index == reference.key_to_index
    assert len(model) == len(reference) == len(model.vectors) == len(model.index_to_key)
    np.testing.assert_allclose(model.vectors, reference.vectors, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.norms, np.linalg.norm(reference.vectors, axis=1), rtol=1e-5)
    np.testing.assert_allclose(model.get_normed_vectors(), reference.get_normed_vectors(), rtol=1e-5, atol=1e-6)
    assert model.vector_size == reference.vector_size
    for key in ["athens", model.index_to_key[-1], 3]:
        assert model.get_index(key) == reference.get_index(key) and key in model
        np.testing.assert_allclose(model[key], reference[key], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(model.get_vector(key, norm=True), reference.get_vector(key, norm=True), rtol=1e-5)
    np.testing.assert_allclose(model[["athens", "greece"]], reference[["athens", "greece"]], rtol=1e-5, atol=1e-6)
    assert model.get_index("nowhere", -1) == -1 and "nowhere" not in model and not model.has_index_for("nowhere")
    for unknown in ("nowhere", "athens:7", len(model)):
        with pytest.raises(UnknownKeyError) as error:
            model[unknown]
        assert isinstance(error.value, KeyError) and isinstance(error.value, W2GMError)
    assert model.get_vecattr("athens:0" if model.components_per_word > 1 else "athens", "count") == \
        model.vocab.counts[model.vocab.id("athens")]


def test_inactive_components_are_no_keys_but_queries_accept_them():
    pair = Pair(2)
    model = pair.model
    inactive = f"{model.vocab.words[0]}:1"
    assert inactive not in model and f"{model.vocab.words[1]}:1" in model
    with pytest.raises(KeyError, match="inactive component"):
        model.get_vector(inactive)
    answers = model.most_similar(inactive, topn=3)
    vector = model.input.means[0, 1].numpy()
    _same_ranking(answers, pair.components.similar_by_vector(vector, topn=3))


WORD_QUERIES = [
    {"positive": "athens", "topn": 6},
    {"positive": ["greece", "paris"], "negative": ["athens"], "topn": 5},
    {"positive": ["greece", "paris"], "negative": ["athens"], "topn": 5, "restrict_vocab": 30},
    {"positive": [("greece", 2.0), "paris"], "negative": [("athens", -0.5)], "topn": 4},
    {"positive": ["paris"], "negative": "filler2", "topn": 3, "clip_start": 5, "clip_end": 40},
]


@pytest.mark.parametrize("query", WORD_QUERIES)
def test_word_queries_answer_as_gensim_on_the_words(pair, query):
    model, words = pair.model, pair.words
    _same_ranking(model.most_similar(**query), words.most_similar(**query))


def test_the_planted_analogy_is_found(pair):
    assert pair.model.most_similar(positive=["greece", "paris"], negative=["athens"], topn=1)[0][0] == "france"


def test_vector_queries_and_cosmul_answer_as_gensim(pair):
    model, words = pair.model, pair.words
    query = {"positive": ["greece", "paris"], "negative": ["athens"], "topn": 5}
    _same_ranking(model.most_similar_cosmul(**query), words.most_similar_cosmul(**query))
    vector = model["rome"] - model["italy"]
    _same_ranking(model.similar_by_vector(vector, topn=4), words.similar_by_vector(vector, topn=4))
    _same_ranking(model.most_similar(positive=[vector, "paris"], topn=4),
                  words.most_similar(positive=[vector, "paris"], topn=4))
    _same_ranking(model.similar_by_word("paris", topn=3), words.similar_by_word("paris", topn=3))
    _same_ranking(model.similar_by_key("paris", topn=3), words.similar_by_key("paris", topn=3))
    assert model.most_similar("paris", topn=0) == words.most_similar("paris", topn=0) == []


def test_every_row_scored_is_gensim_on_the_whole_table(pair):
    model, table = pair.model, pair.table
    query = {"positive": ["greece", "paris"], "negative": ["athens"], "topn": None}
    np.testing.assert_allclose(model.most_similar(**query), table.most_similar(**query), atol=1e-5)
    np.testing.assert_allclose(model.most_similar_cosmul(**query), table.most_similar_cosmul(**query), atol=1e-5)
    np.testing.assert_allclose(model.distances("paris"), table.distances("paris"), atol=1e-5)
    others = ["france", model.index_to_key[-1]]
    np.testing.assert_allclose(model.distances("paris", others), table.distances("paris", others), atol=1e-5)


def test_pairs_and_sets_answer_as_gensim(pair):
    model, words = pair.model, pair.words
    assert model.similarity("paris", "france") == pytest.approx(words.similarity("paris", "france"), abs=1e-6)
    assert model.distance("paris", "rome") == pytest.approx(words.distance("paris", "rome"), abs=1e-6)
    assert model.n_similarity(["athens", "rome"], ["greece", "italy"]) == pytest.approx(
        words.n_similarity(["athens", "rome"], ["greece", "italy"]), abs=1e-6)
    group = ["athens", "greece", "filler3", "unknownword"]  # a word and its partner are close
    assert model.doesnt_match(group) == words.doesnt_match(group) == "filler3"
    ours, theirs = model.rank_by_centrality(group), words.rank_by_centrality(group)
    assert [w for _, w in ours] == [w for _, w in theirs]
    assert [s for s, _ in ours] == pytest.approx([s for s, _ in theirs], abs=1e-6)
    assert model.closer_than("paris", "rome") == words.closer_than("paris", "rome")
    assert model.words_closer_than("paris", "filler7") == words.words_closer_than("paris", "filler7")
    assert model.rank("paris", "france") == words.rank("paris", "france")
    farthest = words.index_to_key[int(np.argmin(words.most_similar("paris", topn=None)))]
    assert model.rank("paris", farthest) == words.rank("paris", farthest) == len(model.vocab) - 1
    assert model.most_similar_to_given("paris", ["rome", "france", "filler1"]) == words.most_similar_to_given(
        "paris", ["rome", "france", "filler1"])
    assert model.relative_cosine_similarity("paris", "france") == pytest.approx(
        words.relative_cosine_similarity("paris", "france"), abs=1e-5)
    for options in ({}, {"pre_normalize": False, "post_normalize": True}, {"weights": [1.0, -2.0, 0.5]}):
        keys = ["paris", "rome", "nowhere"]
        np.testing.assert_allclose(model.get_mean_vector(keys, **options), words.get_mean_vector(keys, **options),
                                   atol=1e-6)
    with pytest.raises(KeyError):
        model.get_mean_vector(["paris", "nowhere"], ignore_missing=False)


def test_empty_queries_raise_what_gensim_raises(pair):
    model = pair.model
    with pytest.raises(ZeroDivisionError):
        model.n_similarity([], ["paris"])
    for call in (lambda: model.doesnt_match(["nowhere"]), lambda: model.get_mean_vector([]),
                 lambda: model.most_similar(positive=[]), lambda: model.most_similar_cosmul(negative=["paris"])):
        with pytest.raises(ValueError) as error:
            call()
        assert isinstance(error.value, QueryError)


def test_component_queries_answer_as_gensim_on_the_components_less_the_siblings():
    pair = Pair(2)
    model, components = pair.model, pair.components
    key = "paris:0"
    theirs = [(k, s) for k, s in components.most_similar(key, topn=8) if not k.startswith("paris:")][:6]
    _same_ranking(model.most_similar(key, topn=6), theirs)
    query = {"positive": ["greece:0", "paris:0"], "negative": ["athens:0"]}
    theirs = [(k, s) for k, s in components.most_similar(**query, topn=10)
              if k.rpartition(":")[0] not in ("greece", "paris", "athens")][:4]
    _same_ranking(model.most_similar(**query, topn=4), theirs)
    vector = model["rome:0"]
    _same_ranking(model.most_similar(positive=[vector], topn=4, kind="components"),
                  components.similar_by_vector(vector, topn=4))
    closer = [k for k in components.closer_than(key, "france:0") if not k.startswith("paris:")]
    assert model.closer_than(key, "france:0") == closer and model.rank(key, "france:0") == len(closer) + 1
    assert model.similarity("paris:0", "france") == pytest.approx(pair.table.similarity("paris:0", "france"),
                                                                  abs=1e-6)


def _analogy_sample(tmp_path):
    """Every 8th question of the bundled set (all sections, most of them out of vocabulary)."""
    with gzip.open(analogy_path(), "rt") as lines:
        kept = [line for n, line in enumerate(lines) if line.startswith(": ") or n % 8 == 0]
    path = tmp_path / "questions.txt"
    path.write_text("".join(kept))
    return str(path)


def test_analogies_match_gensim_section_by_section(pair, tmp_path):
    model, words = pair.model, pair.words
    sample = _analogy_sample(tmp_path)
    for options in ({}, {"restrict_vocab": 60, "dummy4unknown": True}, {"case_insensitive": False}):
        ours, theirs = model.evaluate_word_analogies(sample, **options), words.evaluate_word_analogies(
            sample, **options)
        assert ours[0] == pytest.approx(theirs[0])
        assert [s["section"] for s in ours[1]] == [s["section"] for s in theirs[1]]
        for mine, gensims in zip(ours[1], theirs[1], strict=True):
            assert mine["correct"] == gensims["correct"] and mine["incorrect"] == gensims["incorrect"]
    assert model.evaluate_word_analogies(sample)[0] > 0.5  # the planted offsets are found


def test_analogies_default_to_the_bundled_google_set(pair):
    score, sections = pair.model.evaluate_word_analogies(restrict_vocab=1, dummy4unknown=True)
    assert score == 0 and len(sections) == 15 and sum(len(s["incorrect"]) for s in sections[:-1]) == 19544


def test_word_pairs_correlate_as_gensim(pair, tmp_path):
    model, words = pair.model, pair.words
    rng = np.random.default_rng(0)
    rows = [(a, b, rng.uniform(0, 10)) for a, b in zip(rng.choice(words.index_to_key, 60),
                                                        rng.choice(words.index_to_key, 60), strict=True)]
    rows += [("paris", "nowhere", 3.0), ("Athens", "Greece", 9.0)]
    path = tmp_path / "pairs.tsv"
    path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in rows))
    for options in ({}, {"restrict_vocab": 50}):
        (r, _), (rho, _), oov = model.evaluate_word_pairs(path, **options)
        (gr, _), (grho, _), goov = words.evaluate_word_pairs(str(path), **options)
        assert (r, rho, oov) == pytest.approx((gr, grho, goov), abs=1e-6)
    (_, (rho, _), _) = model.evaluate_word_pairs(path, measure="max_cosine")
    assert -1 <= rho <= 1
    path.write_text("nowhere\tnever\t1.0\n")
    with pytest.raises(ValueError, match="no valid similarity judgements"):
        model.evaluate_word_pairs(path)


@pytest.mark.parametrize("binary", [False, True])
def test_saved_word2vec_files_load_in_gensim(pair, tmp_path, binary):
    model = pair.model
    path, vocab = tmp_path / "v.bin", tmp_path / "vocab.txt"
    model.save_word2vec_format(path, fvocab=vocab, binary=binary)
    loaded = gensim_models.KeyedVectors.load_word2vec_format(str(path), fvocab=str(vocab), binary=binary)
    assert loaded.index_to_key == model.index_to_key
    np.testing.assert_array_equal(loaded.vectors, model.vectors)
    assert loaded.get_vecattr("athens", "count") == model.vocab.counts[model.vocab.id("athens")]
    model.save_word2vec_format(path, binary=binary, keys="words")  # replaced, as gensim replaces it
    loaded = gensim_models.KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert loaded.index_to_key == model.vocab.words


def test_to_keyedvectors_holds_the_table_and_the_counts(pair):
    model = pair.model
    converted = model.to_keyedvectors()
    assert converted.index_to_key == model.index_to_key
    np.testing.assert_array_equal(converted.vectors, model.vectors)
    assert converted.get_vecattr("athens", "count") == model.vocab.counts[model.vocab.id("athens")]
    assert model.to_keyedvectors("words").index_to_key == model.vocab.words
    chosen = model.vectors_for_all(["paris", "nowhere", "paris", "rome"])
    assert chosen.index_to_key == ["paris", "rome"]


def test_word_movers_distance_is_the_cheapest_matching(pair):
    """Two bags of n distinct words each with mass 1/n: the optimal transport is a
    permutation (Birkhoff), so the distance is the cheapest one-to-one matching's mean cost."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    model = pair.model
    first, second = ["paris", "rome", "athens"], ["france", "italy", "filler4"]
    cost = cdist(*(np.stack([model.get_vector(w, norm=True) for w in side]) for side in (first, second)))
    rows, cols = linear_sum_assignment(cost)
    assert model.wmdistance(first, second) == pytest.approx(cost[rows, cols].mean(), abs=1e-6)
    assert model.wmdistance(["paris", "paris"], ["paris"]) == 0.0
    assert model.wmdistance(["nowhere"], ["paris"]) == float("inf")


def test_editing_methods_are_not_applicable(pair):
    with pytest.raises(NotImplementedError, match="to_keyedvectors") as error:
        pair.model.add_vector("new", np.zeros(DIM))
    assert isinstance(error.value, NotApplicableError)


def test_queries_normalise_words_as_the_model_does(pair):
    model = pair.model
    assert model.most_similar(positive=["Greece", "PARIS"], negative=["Athens,"], topn=1)[0][0] == "france"
    assert "Paris" in model and model.get_index("Paris") == model.get_index("paris")


def test_a_mixture_measure_ranks_words_as_similarity_scores_them():
    model = Pair(2).model
    for measure in ("max_cosine", "elk"):
        scores = {w: model.similarity("paris", w, measure) for w in model.vocab.words if w != "paris"}
        expected = sorted(scores.items(), key=lambda item: -item[1])[:5]
        _same_ranking(model.most_similar("paris", topn=5, measure=measure), expected)
    # gensim's cosine of two words is the cosine of their mixtures' means
    assert model.similarity("paris", "rome") == pytest.approx(model.similarity("paris", "rome", "centroid_cosine"),
                                                              abs=1e-6)
    with pytest.raises(ValueError, match="give one word"):
        model.most_similar(positive=["paris", "rome"], measure="max_cosine")
