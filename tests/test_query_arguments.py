"""Queries on what a user or an attacker may pass (issue 30, classes 4 and 9).

A context with no known word other than the word itself (empty, the word alone, in any
case or spacing, unknown words) answers the prior and says so, in Python, in ``w2gm senses``
and in the explorer's API; arguments of the wrong type are one W2GMError naming the
argument; ``most_similar`` follows one rule for ``topn`` (gensim 4's) for a word and a list.
"""

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_explorer import MONEY, WATER, planted_model

from w2gm.errors import W2GMError
from w2gm.explorer.app import create_app
from w2gm.senses_command import senses_table

PROPERTY = settings(max_examples=200, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])
#: The word itself however written, and words the model does not know.
OWN = ["bank", "BANK", "Bank", "bAnK"]
UNKNOWN = ["zzz", "banks", "日本", "qu'est-ce", "--", "bank:0", "ba nk"]
SPACES = [" ", "  ", "\t", "\n", "\u3000", "\r\n"]
KNOWN_OTHERS = sorted(WATER | MONEY)


@pytest.fixture(scope="module")
def model():
    return planted_model()


@pytest.fixture(scope="module")
def client(model):
    with TestClient(create_app(model)) as test_client:
        yield test_client


def joined(tokens: list[str], spaces: list[str], lead: str, trail: str) -> str:
    return lead + "".join(t + s for t, s in zip(tokens, spaces, strict=False)) + "".join(tokens[len(spaces):]) + trail


no_known_context = st.builds(
    joined,
    st.lists(st.sampled_from(OWN + UNKNOWN), max_size=6),
    st.lists(st.sampled_from(SPACES), max_size=6),
    st.sampled_from(["", " ", "\n"]),
    st.sampled_from(["", " ", "\t"]),
)


@PROPERTY
@given(context=no_known_context)
def test_a_context_with_no_known_word_but_the_word_answers_the_prior_and_says_so(model, client, context):
    prior = model.log_weights()[model.vocab.id("bank")].exp().numpy()
    np.testing.assert_allclose(model.disambiguate("bank", context), prior, rtol=1e-6)
    np.testing.assert_allclose(model.disambiguate("bank", context.split()), prior, rtol=1e-6)
    table = senses_table(model, "bank", 3, context, None, False)
    assert any(note.startswith("no known context word in") for note in table.notes)
    if context:  # the API asks for a context of at least one character
        answer = client.get("/api/sense", params={"word": "bank", "context": context})
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["prior_only"] is True and body["context_words"] == []
        np.testing.assert_allclose(body["posterior"], prior, rtol=1e-6)


@PROPERTY
@given(context=no_known_context, other=st.sampled_from(KNOWN_OTHERS), at=st.integers(0, 6))
def test_a_known_word_next_to_the_word_is_read(model, client, context, other, at):
    tokens = context.split()
    tokens.insert(min(at, len(tokens)), other)
    # next to the word's first occurrence, so that it lies within any window
    first = next((i for i, t in enumerate(tokens) if t.lower() == "bank"), None)
    if first is not None:
        tokens.remove(other)
        tokens.insert(first + 1, other)
    context = " ".join(tokens)
    table = senses_table(model, "bank", 3, context, None, False)
    assert not any(note.startswith("no known context word") for note in table.notes)
    body = client.get("/api/sense", params={"word": "bank", "context": context}).json()
    assert body["prior_only"] is False and body["context_words"] == [other]
    # the component on the context word's axis wins: water is component 0, money 1
    assert body["chosen"] == (0 if other in WATER else 1)


def test_the_issues_contexts(model, client):
    prior = model.log_weights()[model.vocab.id("bank")].exp().numpy()
    for context in ["bank", "bank ", "BANK", "", " ", []]:
        np.testing.assert_allclose(model.disambiguate("bank", context), prior, rtol=1e-6)
    assert model.disambiguate_many("bank", []).shape == (0, 2)
    assert model.posteriors(torch.tensor([0]), torch.zeros(1, 0, dtype=torch.long)).shape == (1, 2)


@pytest.mark.parametrize("call, argument", [
    (lambda m: m.disambiguate(123, "x"), "word must be a string, got int 123"),
    (lambda m: m.disambiguate(None, "x"), "word must be a string, got NoneType"),
    (lambda m: m.disambiguate("bank", None), "context must be a string or a list of words, got NoneType"),
    (lambda m: m.disambiguate("bank", 5), "context must be a string or a list of words, got int"),
    (lambda m: m.disambiguate("bank", [1, 2]), "context must be a string or a list of words, got list"),
    (lambda m: m.disambiguate("bank", b"river"), "context must be a string or a list of words, got bytes"),
    (lambda m: m.disambiguate("bank", "river", window=0), "window must be a whole number of at least 1"),
    (lambda m: m.disambiguate("bank", "river", window=1.5), "window must be a whole number of at least 1"),
    (lambda m: m.disambiguate("bank", "river", window=True), "window must be a whole number of at least 1"),
    (lambda m: m.disambiguate_many("bank", "river"), "contexts must be a list of contexts"),
    (lambda m: m.disambiguate("bnak", "river"), "unknown word 'bnak'"),
    (lambda m: m.similarity(1, "bank", "max_cosine"), "a word must be a string, got int 1"),
    (lambda m: m.similarity(1.5, "bank"), "a key must be a word, a word:k key or a row number, got float 1.5"),
    (lambda m: m.most_similar("bank", topn=2.5), "topn must be a whole number or None, got 2.5"),
    (lambda m: m.most_similar(["bank"], topn="3"), "topn must be a whole number or None, got '3'"),
    (lambda m: m.most_similar("bank", topn=True), "topn must be a whole number or None, got True"),
])
def test_an_argument_of_the_wrong_kind_is_one_error_naming_it(model, call, argument):
    with pytest.raises(W2GMError) as error:
        call(model)
    assert argument in str(error.value)


@pytest.mark.parametrize("key", ["bank", "bank:0", ["bank"], ["bank", "river"], ["bank:1"]])
def test_topn_is_one_rule_for_a_word_and_a_list(model, key):
    rows = len(model)  # every row of the table, words then components, as gensim on the same table
    for topn in (0, -1, -100):
        assert model.most_similar(key, topn=topn) == []
    every = model.most_similar(key, topn=None)
    assert isinstance(every, np.ndarray) and every.shape == (rows,)
    best = model.most_similar(key, topn=3)
    assert len(best) == 3 and all(isinstance(k, str) and isinstance(s, float) for k, s in best)
    assert model.most_similar(key, 0) == []  # the older positional topn


def test_topn_follows_gensim(model):
    """On K = 1, where w2gm's keys are gensim's: the same answers for topn 0, -1, None."""
    pytest.importorskip("gensim.models", reason="gensim is an optional peer for this comparison")
    from w2gm.keyed import KeyedMixtures
    from w2gm.mixture import MixtureTable

    single = KeyedMixtures(model.vocab, MixtureTable(model.input.means[:, :1], model.input.log_variances[:, :1],
                                                     model.input.logits[:, :1]))
    gensim_vectors = single.to_keyedvectors()
    for key in ("bank", ["bank", "river"]):
        for topn in (0, -1):
            assert single.most_similar(key, topn=topn) == gensim_vectors.most_similar(key, topn=topn) == []
        ours, theirs = single.most_similar(key, topn=None), gensim_vectors.most_similar(key, topn=None)
        np.testing.assert_allclose(ours, theirs, atol=1e-6)
