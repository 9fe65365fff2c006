"""The tokenizers: the documented word rules, streaming equal to tokenizing the whole text,
Unicode spaces and byte-order marks, and queries normalised as the training text was."""

import re
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from w2gm.errors import W2GMError
from w2gm.keyed import KeyedMixtures
from w2gm.mixture import MixtureTable
from w2gm.reading import corpus, files, tokens
from w2gm.tokenize import TokenIds, query_normalizer, split_words, token_splitter
from w2gm.vocab import Vocabulary


@pytest.mark.parametrize(("token", "words"), [
    ("Bank,", ["bank"]),
    ("bank.\u201d", ["bank"]),
    ("\u201cBANK?", ["bank"]),
    ("abdomen,:1", ["abdomen", "1"]),
    ("Don\u2019t", ["don't"]),
    ("o'clock", ["o'clock"]),
    ("'tis", ["tis"]),
    ("dogs'", ["dogs"]),
    ("well-known", ["well", "known"]),
    ("word--word", ["word", "word"]),
    ("_italics_", ["italics"]),
    ("\u2014", []),
    ("3.14", ["3.14"]),
    ("1,000,", ["1,000"]),
    ("1984.", ["1984"]),
    ("Stra\u00dfe", ["strasse"]),
    ("nai\u0308ve", ["na\u00efve"]),  # a combining accent becomes the precomposed letter
    ("\u0939\u093f\u0928\u094d\u0926\u0940,", ["\u0939\u093f\u0928\u094d\u0926\u0940"]),  # marks are word characters
    ("\u6771\u4eac\u3002", ["\u6771\u4eac"]),
    ("\x1b[31mred\x1b[0m", ["31mred", "0m"]),  # escape characters never reach a word
])
def test_words_follow_the_documented_rules(token, words):
    assert split_words(token) == words


def test_whitespace_tokenizer_keeps_tokens_as_written():
    assert token_splitter("whitespace")("Bank,") == ["Bank,"]
    assert token_splitter("whitespace", lowercase=True)("Bank,") == ["bank,"]


def test_token_ids_expand_tokens_of_zero_or_several_words_in_order():
    ids = TokenIds(split_words)
    encoded = ids.encode(["Rock,", "\u2014", "rock-stone", "stone!", "...", "ROCK"])
    assert [ids.words[i] for i in encoded] == ["rock", "rock", "stone", "stone", "rock"]
    assert ids.words == ["rock", "stone"]  # ids in order of first appearance


@settings(max_examples=60, deadline=None)
@given(
    words=st.lists(st.sampled_from(["Rock", "rock,", "\u201cbank\u201d", "well-known", "--", "x", "3.14",
                                    "na\u00efve", "\ufeff", "d\u2019or", "\u3000", "\u00a0", "\u2028", " ", "\n"]),
                   min_size=1, max_size=40),
    block_bytes=st.integers(1, 30),
)
def test_streamed_words_equal_the_words_of_the_whole_text(words, block_bytes):
    """Blocks cut tokens and characters anywhere; the words come out as if the whole text
    had been split at once (after a leading byte-order mark is dropped)."""
    text = "".join(w if w.isspace() else w + " " for w in words)
    reference = [w for token in text.removeprefix("\ufeff").split() for w in split_words(token)]
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "c.txt"
        path.write_text(text, encoding="utf-8")
        with mock.patch.object(files, "BLOCK_BYTES", block_bytes):
            try:
                encoded = corpus.encode([path], Path(directory) / "w", min_count=1, tokenizer="words")
            except W2GMError as error:
                assert len(set(reference)) < 2, error
                return
            got = [encoded.vocab.words[i] for i in encoded.ids]
            del encoded
    assert got == reference


@pytest.mark.parametrize("tokenizer", ["words", "whitespace"])
def test_a_byte_order_mark_does_not_stick_to_the_first_word(tmp_path, tokenizer):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffrock stone rock stone".encode())
    encoded = corpus.encode([path], tmp_path / "w", min_count=1, tokenizer=tokenizer)
    assert encoded.vocab.words == ["rock", "stone"]


@pytest.mark.parametrize("space", ["\u3000", "\u00a0", "\u2028"])
@pytest.mark.parametrize("tokenizer", ["words", "whitespace"])
def test_words_separated_only_by_unicode_spaces_are_not_one_long_token(tmp_path, space, tokenizer):
    """More text than the longest allowed token, with no ASCII whitespace at all."""
    path = tmp_path / "spaced.txt"
    path.write_text(space.join(["rock", "stone"] * 30), encoding="utf-8")
    with mock.patch.object(tokens, "MAX_TOKEN_CHARS", 50), mock.patch.object(files, "BLOCK_BYTES", 64):
        encoded = corpus.encode([path], tmp_path / "w", min_count=1, tokenizer=tokenizer)
    assert encoded.vocab.words == ["rock", "stone"] and len(encoded.ids) == 60


def test_raw_text_of_case_and_punctuation_variants_gives_one_word_each(tmp_path):
    path = tmp_path / "book.txt"
    path.write_text("The bank, said he. \u201cBank?\u201d The BANK\u2019s door -- the bank.\n" * 3)
    words = corpus.encode([path], tmp_path / "w", min_count=1).vocab.words
    assert sorted(words) == ["bank", "bank's", "door", "he", "said", "the"]
    assert not [w for w in words if re.search(r"[^\w']", w)]


def _model(words, config):
    table = MixtureTable(torch.randn(len(words), 2, 3), torch.zeros(len(words), 2, 1), torch.zeros(len(words), 2))
    return KeyedMixtures(Vocabulary(words, np.arange(len(words), 0, -1)), table, config=config)


def test_queries_are_normalised_by_the_models_tokenizer():
    model = _model(["bank", "rock", "don't", "stone"], {"tokenizer": "words"})
    assert "Bank" in model and "BANK," in model and "Don\u2019t" in model
    assert model.similarity("Bank", "rock") == model.similarity("bank", "rock")
    assert [w for w, _ in model.most_similar("ROCK", topn=3)] == [w for w, _ in model.most_similar("rock", topn=3)]
    assert model.parse_component("Rock:1") == (1, 1)
    with pytest.raises(W2GMError, match="unknown word 'bank rock'"):
        model.vocab.id("bank rock")


def test_models_without_a_recorded_tokenizer_look_words_up_as_written():
    """Older models were trained on whitespace tokens: "Bank," may be a word of its own."""
    model = _model(["Bank,", "bank", "rock"], {})
    assert model.vocab.id("Bank,") == 0 and "Rock" not in model
    lowered = _model(["bank,", "rock"], {"tokenizer": "whitespace", "lowercase": True})
    assert lowered.vocab.id("Bank,") == 0 and "Rock" in lowered


def test_evaluation_files_find_words_through_the_tokenizer(tmp_path):
    model = _model(["bank", "rock", "stone", "river"], {"tokenizer": "words"})
    pairs = tmp_path / "pairs.txt"
    pairs.write_text("Bank River 9\nROCK stone 8\nbank rock 2\n")
    (pearson, spearman, oov) = model.evaluate_word_pairs(pairs)
    assert oov == 0


def test_query_normalizer_casefolds_what_is_not_one_word():
    normalize = query_normalizer("words")
    assert normalize("\u201cRock!\u201d") == "rock" and normalize("New York") == "new york"


def test_neighbours_print_terminal_escapes_as_text(tmp_path):
    """A whitespace-tokenised model can hold words with ESC or a bidi override; printing
    them must not let them act on the terminal."""
    import subprocess
    import sys

    hostile = ["rock", "\x1b[2J\x1b[31mred", "stone\u202e", "jazz"]
    path = tmp_path / "m.w2gm"
    _model(hostile, {"tokenizer": "whitespace"}).save(path)
    for fmt in ([], ["--markdown"]):
        result = subprocess.run([sys.executable, "-m", "w2gm", "neighbors", str(path), "rock", *fmt],
                                capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        assert "\x1b" not in result.stdout and "\u202e" not in result.stdout
        assert "\\x1b[2J\\x1b[31mred" in result.stdout and "stone\\u202e" in result.stdout


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("aZ9_'.,-\u2019\u201c\u201d\u2014\u00e9e\u0301\u0939\u093f \u00df")),
               max_size=12))
def test_the_fast_path_finds_the_words_the_pattern_finds(token):
    from w2gm.tokenize import _split_by_pattern

    assert split_words(token) == _split_by_pattern(token)


def test_the_explorers_search_finds_words_as_the_model_normalises_them():
    from w2gm.explorer.views import Explorer

    explorer = Explorer(_model(["bank", "rock", "river"], {"tokenizer": "words"}))
    assert explorer.word_id("Bank") == 0 and explorer.resolve("ROCK:1") == (1, 1)
