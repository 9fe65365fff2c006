"""The model file: exact round trip, atomic writes, and clear errors on bad files."""

import errno
import io
import json
import os
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

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


def model_parts(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The tensors and the metadata of a model file, to write back changed."""
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    return safetensors_load(data), json.loads(data[8 : 8 + size])["__metadata__"]


def write_parts(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    path.write_bytes(safetensors_save(tensors, metadata=metadata))
    return path


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
    tensors, metadata = model_parts(path)
    newer_version = {"format_version": str(modelfile.FORMAT_VERSION + 1)}
    newer = write_parts(tmp_path / "newer.w2gm", tensors, metadata | newer_version)
    with pytest.raises(ModelFileError, match="newer than this w2gm reads"):
        w2gm.load(newer)
    with pytest.raises(ModelFileError, match="no such model file"):
        w2gm.load(tmp_path / "absent.w2gm")


def _set(name: str, index: tuple[int, ...], value: float):
    def damage(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
        tensors[name][index] = value

    return damage


def _replace(name: str, value: torch.Tensor | str | None):
    def damage(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
        target = metadata if isinstance(value, str) else tensors
        if value is None:
            del target[name]
        else:
            target[name] = value

    return damage


def _repeat_first_word(tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    words = ["rock", "rock", "jazz", "naïve", "日本", "a:b"]
    tensors["vocab.utf8"] = torch.tensor(list("".join(words).encode()), dtype=torch.uint8)
    tensors["vocab.offsets"] = torch.tensor(np.cumsum([0] + [len(w.encode()) for w in words]))


@pytest.mark.parametrize(
    "damage, message",
    [
        (_set("input.means", (0, 0, 0), float("nan")), "input.means holds values that are not finite"),
        (_set("output.log_variances", (5, 1, 0), float("inf")), "output.log_variances holds values that are not"),
        (_set("vocab.offsets", (-1,), 10_000), "vocabulary offsets do not cut the word list"),
        (_set("vocab.utf8", (0,), 0xFF), "a word is not UTF-8"),
        (_repeat_first_word, "a word occurs twice"),
        (_replace("vocab.offsets", torch.arange(7.0)), "vocab.offsets is torch.float32 of 1 dimension"),
        (_replace("input.logits", None), "no tensor input.logits"),
        (_replace("input.log_variances", torch.zeros(6, 2)), "input.log_variances is torch.float32 of 2 dimension"),
        (_replace("input.means", torch.zeros(5, 2, 4)), "input parameter shapes do not match a 6-word vocabulary"),
        (_replace("output.logits", torch.zeros(6, 3)), "output parameter shapes do not match"),
        (_replace("config", "[1, 2]"), "the config record is not a JSON object"),
        (_replace("format_version", "one"), "unreadable format version 'one'"),
    ],
)
def test_damaged_contents_are_model_file_errors_naming_the_damage(tmp_path, damage, message):
    path = tmp_path / "m.w2gm"
    random_model().save(path)
    tensors, metadata = model_parts(path)
    damage(tensors, metadata)
    write_parts(path, tensors, metadata)
    with pytest.raises(ModelFileError, match=message) as error:
        w2gm.load(path)
    assert str(error.value).startswith(f"{path}: ")


def test_a_foreign_file_is_refused_from_its_header_without_reading_the_rest(tmp_path):
    """A corpus given where a model belongs may be gigabytes: it is refused from its first bytes."""
    corpus = tmp_path / "corpus.txt"
    with open(corpus, "wb") as handle:
        handle.write(b"the cat sat on the mat ")
        handle.truncate(64 << 20)  # sparse: 64 MB on paper, no disk used
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError, match="not a w2gm model file"):
            w2gm.load(corpus)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20


class _FullDiskWriter(io.BufferedWriter):
    """Writes the first kilobyte, then fails as a full disk does."""

    def write(self, data) -> int:
        super().write(bytes(data)[:1024])
        self.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _fail(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize(
    "function, replacement",
    [
        ("fdopen", lambda fd, mode: _FullDiskWriter(io.FileIO(fd, "wb"))),
        ("fsync", _fail),
        ("replace", _fail),
    ],
    ids=["write", "fsync", "rename"],
)
def test_a_failed_save_leaves_the_previous_file_intact(tmp_path, monkeypatch, function, replacement):
    path = tmp_path / "m.w2gm"
    random_model(seed=1).save(path)
    before = path.read_bytes()
    monkeypatch.setattr(modelfile.os, function, replacement)
    with pytest.raises(W2GMError) as error:
        random_model(seed=2).save(path)
    assert str(error.value) == f"cannot write {path}: No space left on device"
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.w2gm"]  # no temporary file left behind


def test_an_interrupted_save_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "m.w2gm"
    with pytest.raises(KeyboardInterrupt), modelfile.atomic_writer(path) as handle:
        handle.write(b"half a model")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_saved_files_get_the_usual_permissions(tmp_path):
    previous = os.umask(0o022)
    try:
        random_model().save(tmp_path / "m.w2gm")
    finally:
        os.umask(previous)
    assert (tmp_path / "m.w2gm").stat().st_mode & 0o777 == 0o644


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
