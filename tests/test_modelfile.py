"""The model file: exact round trip, atomic writes, and clear errors on bad files."""

import json

import numpy as np
import pytest
import torch

import w2gm
from w2gm import modelfile
from w2gm.errors import ModelFileError, W2GMError
from w2gm.keyed import KeyedMixtures
from w2gm.mixture import MixtureTable
from w2gm.vocab import Vocabulary


def random_model(covariance="spherical", with_output=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    words = ["rock", "stone", "jazz", "naïve", "日本", "a:b"]
    vocab = Vocabulary(words, np.arange(len(words), 0, -1) * 7)

    def table():
        columns = 1 if covariance == "spherical" else 4
        return MixtureTable(torch.randn(6, 2, 4, generator=g), torch.randn(6, 2, columns, generator=g),
                            torch.randn(6, 2, generator=g))

    return KeyedMixtures(vocab, table(), table() if with_output else None, {"dim": 4}, {"tokens": 12})


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
@pytest.mark.parametrize("with_output", [True, False])
def test_round_trip_is_exact(tmp_path, covariance, with_output):
    model = random_model(covariance, with_output)
    path = tmp_path / "m.w2gm"
    model.save(path)
    loaded = w2gm.load(path)
    assert loaded.vocab.words == model.vocab.words
    assert np.array_equal(loaded.vocab.counts, model.vocab.counts)
    for name in ("input", "output"):
        a, b = getattr(model, name), getattr(loaded, name)
        assert (a is None) == (b is None)
        if a is not None:
            for key, value in a.parameters().items():
                assert torch.equal(value, b.parameters()[key])
    assert loaded.config == model.config and loaded.training == model.training
    assert loaded.most_similar("rock:0") == model.most_similar("rock:0")


def test_truncated_files_are_rejected_at_every_length(tmp_path):
    path = tmp_path / "m.w2gm"
    random_model().save(path)
    data = path.read_bytes()
    for cut in (0, 4, 8, 20, len(data) // 2, len(data) - 1):
        bad = tmp_path / f"cut{cut}.w2gm"
        bad.write_bytes(data[:cut])
        with pytest.raises(ModelFileError) as error:
            w2gm.load(bad)
        assert str(bad) in str(error.value) and "\n" not in str(error.value)


def test_foreign_and_newer_files_are_rejected(tmp_path):
    from safetensors.torch import save_file

    foreign = tmp_path / "foreign.safetensors"
    save_file({"x": torch.zeros(3)}, foreign)
    with pytest.raises(ModelFileError, match="another kind"):
        w2gm.load(foreign)
    text = tmp_path / "notes.txt"
    text.write_text("hello, I am not a model at all")
    with pytest.raises(ModelFileError, match="not a w2gm model"):
        w2gm.load(text)
    path = tmp_path / "m.w2gm"
    random_model().save(path)
    data = bytearray(path.read_bytes())
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8 : 8 + size])
    header["__metadata__"]["format_version"] = str(modelfile.FORMAT_VERSION + 1)
    encoded = json.dumps(header, separators=(",", ":")).encode().ljust(size)
    assert len(encoded) == size
    newer = tmp_path / "newer.w2gm"
    newer.write_bytes(bytes(data[:8]) + encoded + bytes(data[8 + size :]))
    with pytest.raises(ModelFileError, match="newer than this w2gm reads"):
        w2gm.load(newer)
    with pytest.raises(ModelFileError, match="no such model file"):
        w2gm.load(tmp_path / "absent.w2gm")


def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "m.w2gm"
    random_model(seed=1).save(path)
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(modelfile.os, "fsync", full_disk)
    with pytest.raises(W2GMError, match="No space left on device"):
        random_model(seed=2).save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.w2gm"]  # no temporary file left behind


def test_keyed_queries(tmp_path):
    model = random_model()
    assert model.components("stone").means.shape == (2, 4)
    assert model.components("stone").variances.shape == (2,)
    assert model.components("stone").weights.sum() == pytest.approx(1.0)
    neighbours = model.most_similar("rock:1", topn=3)
    assert len(neighbours) == 3 and all(not key.startswith("rock:") for key, _ in neighbours)
    scores = [score for _, score in neighbours]
    assert scores == sorted(scores, reverse=True)
    # word-level query ranks words by their best component pair, i.e. max cosine similarity
    ranked = model.most_similar("rock", topn=5)
    assert [w for w, _ in ranked] == sorted((w for w in model.vocab.words if w != "rock"),
                                          key=lambda w: -model.similarity("rock", w))
    assert model.parse_component("a:b") == (5, None)  # a word containing ':' stays a word
    with pytest.raises(W2GMError, match="unknown word"):
        model.most_similar("granite:0")
    with pytest.raises(W2GMError, match="does not exist"):
        model.most_similar("rock:2")
