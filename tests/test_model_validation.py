"""A model file is checked in one place when it is read (issue 30, class 7).

Each kind of damage a file can carry (a parameter out of any model's range or not finite, a
negative count, a version that is no version of the format, recorded options that
contradict the tables, an output table of another shape) is drawn at random and applied to
a good model: the file is either refused with one line naming it and the fault, or it is a
model on which every query answers finitely.  Which of the two is stated here on its own,
from the rules, and must be what happens.
"""

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz import answers_finitely
from test_modelfile import model_parts, random_model, write_parts

from w2gm.cli import main
from w2gm.errors import ModelFileError
from w2gm.filechecks import PARAMETER_BOUNDS
from w2gm.keyed import KeyedMixtures

PROPERTY = settings(max_examples=150, deadline=None, database=None)
#: random_model's shape: 6 words, K=2, D=4, spherical, with an output table.
WORDS, K, D = 6, 2, 4
TABLE_TENSORS = [f"{table}.{name}" for table in ("input", "output") for name in PARAMETER_BOUNDS]
VALUES = [0.0, 1.5, -3.0, 19.9, -19.9, 20.5, -20.5, 88.8, 999.0, -999.0, 1000.5, 1e4, -1e19, 3e38, math.nan,
          math.inf, -math.inf]
#: Words to put in the vocabulary: one token each is a word, anything else is not.
NEW_WORDS = ["granite", "x:1", "été", "", "two words", "tab\t", "line\n", "\u3000wide", "stone"]
VERSIONS = ["1", "2", "0", "-5", "02", " 2", "2 ", "2.0", "+2", "3", "99", "", "two", "\u00b2", "1e0"]


@st.composite
def damages(draw):
    """(kind, details): one damage to random_model's file."""
    kind = draw(st.sampled_from(["value", "count", "version", "config", "output shape", "word"]))
    if kind == "value":
        name = draw(st.sampled_from(TABLE_TENSORS))
        return kind, (name, draw(st.sampled_from(VALUES)), draw(st.booleans()))
    if kind == "count":
        return kind, (draw(st.integers(0, WORDS - 1)), draw(st.sampled_from([-1, -7, -(2**62), 0, 1, 2**62])))
    if kind == "version":
        return kind, draw(st.sampled_from(VERSIONS))
    if kind == "word":
        return kind, (draw(st.integers(0, WORDS - 1)), draw(st.sampled_from(NEW_WORDS)))
    if kind == "config":
        key = draw(st.sampled_from(["components", "dim", "covariance", "separate_output"]))
        value = draw({"components": st.integers(1, 4), "dim": st.integers(1, 6),
                      "covariance": st.sampled_from(["spherical", "diagonal"]),
                      "separate_output": st.booleans()}[key])
        return kind, (key, value)
    return kind, draw(st.sampled_from(["dim", "components", "covariance"]))


def apply(damage, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    kind, details = damage
    if kind == "value":
        name, value, whole_word = details
        index = (0,) if whole_word else (0,) + (0,) * (tensors[name].ndim - 1)
        tensors[name][index] = value
    elif kind == "count":
        word, count = details
        tensors["vocab.counts"][word] = count
    elif kind == "version":
        metadata["format_version"] = details
    elif kind == "word":
        number, word = details
        words = random_model().vocab.words
        words[number] = word
        encoded = [w.encode() for w in words]
        tensors["vocab.utf8"] = torch.tensor(list(b"".join(encoded)), dtype=torch.uint8)
        tensors["vocab.offsets"] = torch.tensor(np.cumsum([0] + [len(e) for e in encoded]))
    elif kind == "config":
        key, value = details
        metadata["config"] = json.dumps(json.loads(metadata["config"]) | {key: value})
    else:
        for name in ("output.means", "output.log_variances", "output.logits"):
            tensor = tensors[name]
            if details == "components":
                tensors[name] = torch.cat([tensor, tensor[:, :1]], 1)
            elif details == "dim" and name == "output.means":
                tensors[name] = torch.cat([tensor, tensor[..., :1]], -1)
            elif details == "covariance" and name == "output.log_variances":
                tensors[name] = tensor.expand(-1, -1, D).contiguous()


def is_acceptable(damage) -> bool:
    """The rules, stated on their own."""
    kind, details = damage
    if kind == "value":
        name, value, _ = details
        return math.isfinite(value) and abs(value) <= PARAMETER_BOUNDS[name.split(".")[1]]
    if kind == "count":
        return details[1] >= 0
    if kind == "version":
        return details in ("1", "2")
    if kind == "word":
        number, word = details
        others = [w for i, w in enumerate(random_model().vocab.words) if i != number]
        return word.split() == [word] and word not in others
    if kind == "config":
        key, value = details
        return value == {"components": K, "dim": D, "covariance": "spherical", "separate_output": True}[key]
    return False


@pytest.fixture(scope="module")
def good_parts(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "m.w2gm"
    random_model().save(path)
    return model_parts(path)


@PROPERTY
@given(damage=damages())
def test_a_damaged_model_is_refused_naming_the_fault_or_answers_finitely(good_parts, damage):
    tensors = {name: tensor.clone() for name, tensor in good_parts[0].items()}
    metadata = dict(good_parts[1])
    apply(damage, tensors, metadata)
    with tempfile.TemporaryDirectory() as directory:
        path = write_parts(Path(directory) / "m.w2gm", tensors, metadata)
        try:
            model = KeyedMixtures.load(path)
        except ModelFileError as error:
            message = str(error)
            assert message.startswith(f"{path}: ") and "\n" not in message
            assert not is_acceptable(damage), message
            return
    assert is_acceptable(damage), f"{damage} was accepted"
    answers_finitely(model)


@pytest.mark.parametrize("damage, message", [
    (("output shape", "dim"), "the output table is K=2, D=5, spherical, the input table K=2, D=4, spherical"),
    (("output shape", "components"), "the output table is K=3, D=4"),
    (("output shape", "covariance"), "the output table is K=2, D=4, diagonal"),
    (("count", (2, -7)), "vocab.counts gives word 2 a negative count (-7)"),
    (("config", ("components", 3)), "the config records components = 3, but the tables are K=2, D=4, spherical"),
    (("config", ("dim", 50)), "the config records dim = 50"),
    (("config", ("covariance", "diagonal")), "the config records covariance = 'diagonal'"),
    (("config", ("separate_output", False)), "separate_output = False, but the tables are K=2, D=4, spherical "
                                             "with an output table"),
    (("version", "0"), "unreadable format version '0' (this w2gm reads 1 to 2)"),
    (("word", (1, "two words")), "word 1 ('two words') is empty or holds white space"),
    (("version", "-5"), "unreadable format version '-5'"),
    (("version", "3"), "model format version 3 is newer than this w2gm reads (2); upgrade w2gm"),
    (("value", ("input.log_variances", 100.0, True)), "input.log_variances holds 100, beyond the 20"),
    (("value", ("output.means", 1e19, False)), "output.means holds 1e+19, beyond the 1000"),
])
def test_the_issues_damages_name_the_file_and_the_fault(tmp_path, capsys, good_parts, damage, message):
    tensors = {name: tensor.clone() for name, tensor in good_parts[0].items()}
    metadata = dict(good_parts[1])
    apply(damage, tensors, metadata)
    path = write_parts(tmp_path / "m.w2gm", tensors, metadata)
    with pytest.raises(ModelFileError) as error:
        KeyedMixtures.load(path)
    assert str(error.value).startswith(f"{path}: ") and message in str(error.value)
    for command in (["senses", str(path), "rock"], ["eval", str(path), "--datasets", "RG"],
                    ["export", str(path), str(tmp_path / "out.txt")]):
        assert main(command) == 2
        assert capsys.readouterr().err == f"w2gm: error: {error.value}\n"


def test_a_trained_model_lies_well_inside_the_bounds(tmp_path):
    """The bounds refuse no model training makes: a planted-sense run at a high rate loads,
    its parameters within half of each bound."""
    from planted import write_two_sense_corpus

    import w2gm

    corpus = write_two_sense_corpus(tmp_path / "c.txt", sentences=300)
    model = w2gm.train(str(corpus), output=tmp_path / "m.w2gm", epochs=2, min_count=1, dim=8, backend="torch",
                       threads=1, lr=0.5)
    loaded = KeyedMixtures.load(tmp_path / "m.w2gm")
    for table in (loaded.input, loaded.output):
        for name, value in table.parameters().items():
            assert float(value.abs().max()) < PARAMETER_BOUNDS[name] / 2, name
    assert np.array_equal(loaded.vocab.counts, model.vocab.counts)


@pytest.mark.parametrize("counts, usage, message", [
    ([10, 10, 10], [[6, 4], [2**62, 2**62], [1, 1]], "usage.counts of word 1 add up to more tokens than any corpus"),
    ([2**62, 2**62, 1], [[1, 0], [1, 0], [1, 0]], "vocab.counts add up to more tokens than any corpus holds"),
])
def test_counts_no_corpus_could_give_are_refused(tmp_path, counts, usage, message):
    from w2gm.mixture import MixtureTable
    from w2gm.usage import Usage
    from w2gm.vocab import Vocabulary

    table = MixtureTable(torch.zeros(3, 2, 4), torch.zeros(3, 2, 1), torch.zeros(3, 2))
    model = KeyedMixtures(Vocabulary(["a", "b", "c"], np.array(counts)), table,
                          usage=Usage.from_counts(torch.tensor(usage)))
    model.save(tmp_path / "m.w2gm")
    with pytest.raises(ModelFileError, match=message.replace("(", r"\(")):
        KeyedMixtures.load(tmp_path / "m.w2gm")
