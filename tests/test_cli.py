"""The command line: documented options, the preset, the main job end to end."""

import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from planted import write_two_sense_corpus

import w2gm
from w2gm import autopreset
from w2gm.cli import build_parser, main
from w2gm.config import FIELDS, PRESETS, make_config
from w2gm.errors import W2GMError
from w2gm.keyed import KeyedMixtures
from w2gm.mixture import MixtureTable
from w2gm.vocab import Vocabulary


def train_help(capsys, monkeypatch) -> str:
    """``w2gm train --help`` with every option's help on one line."""
    monkeypatch.setenv("COLUMNS", "10000")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    return capsys.readouterr().out


def option_help(text: str, name: str) -> str:
    """The entry of ``--name`` in the help, on one line: an entry starts at a line indented by
    two spaces, and goes on over the lines indented further."""
    entries = re.split(r"\n(?=  \S)", text)
    flag = "--" + name.replace("_", "-")
    return next(" ".join(entry.split()) for entry in entries if re.match(rf"\s*{flag}[ ,]", entry))


def test_train_help_documents_every_option_with_its_default(capsys, monkeypatch):
    text = train_help(capsys, monkeypatch)
    chosen_by_auto = {name for rule in autopreset.RULES for name in rule.settings}
    for name, spec in FIELDS.items():
        if name not in chosen_by_auto:
            assert option_help(text, name).endswith(f"(default: {spec.default})"), name
    assert "--min-count" in text and "removed from the text" in text
    for command in ("train", "eval", "neighbors", "serve"):
        assert command in build_parser().format_help()


TIER = re.compile(r"(\S+) (?:up to ([\d.]+)M(?: tokens)?|beyond)")


@pytest.mark.parametrize("name", sorted({name for rule in autopreset.RULES for name in rule.settings}))
def test_train_help_gives_the_defaults_auto_picks(capsys, monkeypatch, name):
    """The help of an option --preset auto sets says what auto will pick at every corpus size
    (read back from the help and checked against the rules), and the paper preset's value."""
    help_text = option_help(train_help(capsys, monkeypatch), name)
    stated = help_text.partition("set by --preset auto from the corpus size: ")[2].rstrip(")")
    tiers, _, paper = stated.partition("; --preset paper: ")
    assert paper == str(make_config("paper").to_dict()[name])
    limits, low = [], 0.0
    for value, up_to in TIER.findall(tiers):
        high = float(up_to) * 1e6 if up_to else 1e12
        for tokens in (low + 1, (low + high) / 2, high):  # each end of the range and its middle
            rule = autopreset.choose(int(tokens))
            assert str(rule.settings.get(name, FIELDS[name].default)) == value, (name, tokens)
        limits.append(high)
        low = high
    assert len(limits) >= 2 and limits[-1] == 1e12


def test_a_mistyped_option_gets_one_line_with_the_option_meant(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["train", "--dimm", "50"])
    error = capsys.readouterr().err
    assert stopped.value.code == 2
    assert error.splitlines() == ["w2gm train: error: unrecognized arguments: --dimm; did you mean --dim?"]


@pytest.mark.parametrize(("argv", "meant"), [
    (["trian"], "'train'"),
    (["neighbors", "m.w2gm", "rock", "--topm", "3"], "--topn"),
    (["train", "--objective", "nl"], "'nll'"),
    (["train", "--preset=smal"], "'small'"),
    (["train", "--epochs=5", "--split-at=0.2", "--lr-mni=0.01"], "--lr-min"),
])
def test_mistyped_commands_choices_and_options_suggest_what_was_meant(capsys, argv, meant):
    with pytest.raises(SystemExit):
        main(argv)
    error = capsys.readouterr().err
    assert len(error.splitlines()) == 1 and "usage:" not in error
    assert error.rstrip().endswith(f"did you mean {meant}?")


def test_an_unrelated_word_gets_the_list_or_the_help_instead(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--objective", "zzzz"])
    assert "(choose from paper, sense, nll)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["train", "--zzzz"])
    assert capsys.readouterr().err.rstrip().endswith("see w2gm train --help")


def test_an_unknown_word_of_a_model_suggests_the_close_ones(tmp_path, capsys):
    words = ["rock", "stone", "music", "jazz", "band", "river"]
    table = MixtureTable.initialise(len(words), 2, 4, "spherical", 0.05, torch.Generator().manual_seed(0))
    path = tmp_path / "m.w2gm"
    KeyedMixtures(Vocabulary(words, np.arange(len(words), 0, -1)), table).save(path)
    assert main(["neighbours", str(path), "rokc"]) == 2
    error = capsys.readouterr().err
    assert error.splitlines() == [
        "w2gm: error: unknown word 'rokc': not in the model's vocabulary; did you mean 'rock'?"]
    assert main(["neighbours", str(path), "jaz:1"]) == 2
    assert "did you mean 'jazz:1'?" in capsys.readouterr().err
    assert main(["senses", str(path), "stome"]) == 2
    assert "did you mean 'stone'?" in capsys.readouterr().err


def test_preset_fills_options_the_user_did_not_give():
    small = make_config("small")
    assert all(getattr(small, k) == v for k, v in PRESETS["small"].items())
    assert make_config("small", lr=0.02).lr == 0.02
    with pytest.raises(W2GMError, match="unknown preset"):
        make_config("huge")
    with pytest.raises(W2GMError, match="unknown training option"):
        make_config(learning_rate=0.1)
    with pytest.raises(W2GMError, match="--component-spread"):
        make_config(component_spread=2.0)


def test_train_command_writes_a_loadable_model(tmp_path, capsys):
    corpus = write_two_sense_corpus(tmp_path / "c.txt", sentences=400)
    out = tmp_path / "model.w2gm"
    code = main(["train", str(corpus), "-o", str(out), "-q", "--epochs", "1", "--min-count", "1",
                 "--subsample", "0", "--dim", "8", "--components", "3", "--covariance", "diagonal",
                 "--backend", "torch"])  # a numba shape of its own would cost 45 s of compiling
    assert code == 0
    summary = capsys.readouterr().out
    assert "tokens/s" in summary and str(out) in summary
    model = w2gm.load(out)
    assert model.components_per_word == 3 and model.dim == 8 and model.covariance == "diagonal"
    assert model.config["epochs"] == 1 and model.training["tokens"] > 0


def test_unwritable_output_fails_before_training(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "w2gm", "train", "-o", str(tmp_path / "missing" / "m.w2gm")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2 and "does not exist" in result.stderr
    assert result.stderr.count("\n") == 1
