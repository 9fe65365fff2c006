"""The explorer's API on a model trained from text (the planted two-sense corpus)."""

import pytest
from fastapi.testclient import TestClient
from planted import AMBIGUOUS, PLANTED, write_two_sense_corpus

import w2gm
from w2gm.explorer.app import create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    corpus = write_two_sense_corpus(tmp_path_factory.mktemp("explorer") / "two_senses.txt")
    model = w2gm.train(corpus, components=2, **PLANTED)
    with TestClient(create_app(model)) as test_client:
        yield test_client


def topic(key: str) -> str:
    return key.split(":")[0].rstrip("0123456789")


def test_trained_ambiguous_word_shows_one_card_per_sense(client):
    response = client.get(f"/api/word/{AMBIGUOUS}", params={"k": 5})
    assert response.status_code == 200
    cards = response.json()["components"]
    assert len(cards) == 2
    senses = []
    for card in cards:
        topics = [topic(n["key"]) for n in card["neighbours"]]
        senses.append(max(set(topics), key=topics.count))
    assert sorted(senses) == ["money", "river"]


def test_trained_model_pair_and_errors(client):
    pair = client.get("/api/pair", params={"a": AMBIGUOUS, "b": "river3"})
    assert pair.status_code == 200
    missing = client.get("/api/word/banc")
    assert missing.status_code == 404 and AMBIGUOUS in str(missing.json())


STOPWORDS = ("the", "of", "and")


def test_first_page_suggests_the_two_sense_word_and_no_stopword(tmp_path):
    """Stopwords in every sentence are the most frequent words, with two components in use
    and pointing apart; the first page must still suggest the word with two senses first
    and none of them (trained as the default preset trains: nll, five negatives, split)."""
    corpus = write_two_sense_corpus(tmp_path / "stopwords.txt", sentences=6000, stopwords=STOPWORDS)
    model = w2gm.train(corpus, **{**PLANTED, "objective": "nll", "negatives": 5, "split_at": 0.4, "epochs": 6})
    assert set(model.vocab.words[:3]) == set(STOPWORDS)  # the most frequent words
    with TestClient(create_app(model)) as client:
        info = client.get("/api/info").json()
    assert info["examples"][0] == AMBIGUOUS
    assert not set(STOPWORDS) & set(info["examples"]) and "senses" in info["examples_note"]
