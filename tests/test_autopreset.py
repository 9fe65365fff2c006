"""``--preset auto``: the rule for a corpus's size, options given on the command line over
it, A.2 unchanged for billions of tokens and for ``--preset paper``."""

import dataclasses

import pytest

from w2gm import autopreset, train
from w2gm.config import PRESETS, TrainConfig, make_config


@pytest.mark.parametrize(("tokens", "name"), [
    (10_000, "tiny"), (938_112, "tiny"), (1_500_001, "small"), (2_139_748, "small"), (20_010_840, "small"),
    (50_000_000, "small"),
    (50_000_001, "medium"), (500_000_000, "medium"), (500_000_001, "paper"), (6_000_000_000, "paper"),
])
def test_rules_follow_the_token_count(tokens, name):
    assert autopreset.choose(tokens).name == name


def test_the_description_says_what_was_applied():
    paper = autopreset.choose(10**10)
    assert autopreset.describe(paper, 10**10) == "auto: paper for 10,000,000,000 tokens (A.2's settings)"


def test_billions_of_tokens_and_preset_paper_get_a2_exactly():
    a2 = TrainConfig()
    assert (a2.subsample, a2.lr, a2.epochs, a2.negatives, a2.window) == (1e-5, 0.05, 5, 1, 10)
    assert dataclasses.replace(a2, **autopreset.choose(3_000_000_000).settings) == a2
    assert make_config("paper") == a2 and PRESETS["paper"] == {}


def test_rules_move_monotonically_from_small_corpus_settings_to_a2():
    """More tokens: less of the frequent words kept, a slower rate, fewer passes and negatives."""
    settings = [{**TrainConfig().to_dict(), **rule.settings} for rule in autopreset.RULES]
    for key in ("subsample", "lr", "epochs", "negatives"):
        values = [s[key] for s in settings]
        assert values == sorted(values, reverse=True), key


def test_training_applies_the_rule_under_the_users_options(tmp_path):
    corpus = tmp_path / "c.txt"
    corpus.write_text("the cat sat on the mat and the dog sat on the log\n" * 40)
    # the torch engine: a numba shape of its own would cost half a minute of compiling
    model = train(corpus, dim=4, epochs=1, min_count=1, window=2, threads=1, backend="torch")
    assert model.config["preset"] == (
        "auto: tiny for 520 tokens (--subsample 0.0001, --lr 0.1, --objective nll, --negatives 5, --split-at 0.4; "
        "--epochs as given)")
    assert model.config["lr"] == 0.1 and model.config["subsample"] == 1e-4  # the rule's
    assert model.config["epochs"] == 1  # the user's
    paper = train(corpus, preset="paper", dim=4, epochs=1, min_count=1, window=2, threads=1, backend="torch")
    assert paper.config["preset"] == "paper" and paper.config["lr"] == 0.05
