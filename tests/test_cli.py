"""The command line: documented options, the preset, the main job end to end."""

import subprocess
import sys

import pytest
from planted import write_two_sense_corpus

import w2gm
from w2gm.cli import build_parser, main
from w2gm.config import FIELDS, PRESETS, make_config
from w2gm.errors import W2GMError


def test_train_help_documents_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name, spec in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        assert flag in text, flag
        assert f"(default: {spec.default})" in text, name
    assert "--min-count" in text and "removed from the text" in text
    for command in ("train", "eval", "neighbors", "serve"):
        assert command in build_parser().format_help()


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
