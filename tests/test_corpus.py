"""Reading and encoding corpora: compression, huge lines, directories, hostile files."""

import bz2
import gzip
import lzma
import subprocess
import sys

import numpy as np
import pytest

from w2gm.errors import W2GMError
from w2gm.reading import corpus, files
from w2gm.reading.tokens import iter_token_blocks

TEXT = "the cat sat on the mat\nthe dog sat on the log\n" * 50 + "a rare word\n"


def encode(paths, tmp_path, **kwargs):
    """The whitespace tokenizer: these tests are about reading; tests/test_tokenize.py has the words."""
    kwargs.setdefault("tokenizer", "whitespace")
    return corpus.encode(paths if isinstance(paths, list) else [paths], tmp_path / "work", **kwargs)


def words_of(encoded):
    return [encoded.vocab.words[i] for i in encoded.ids]


def test_compressed_files_encode_like_plain_text(tmp_path):
    plain = tmp_path / "c.txt"
    plain.write_text(TEXT)
    expected = words_of(encode(plain, tmp_path, min_count=5))
    assert expected == [w for w in TEXT.split() if TEXT.split().count(w) >= 5]
    for opener, suffix in ((gzip.open, ".gz"), (bz2.open, ".bz2"), (lzma.open, ".xz")):
        path = tmp_path / f"c{suffix}"
        with opener(path, "wt") as handle:
            handle.write(TEXT)
        assert words_of(encode(path, tmp_path, min_count=5)) == expected
    # recognised by content, not by name
    disguised = tmp_path / "disguised.txt"
    disguised.write_bytes(gzip.compress(TEXT.encode()))
    assert words_of(encode(disguised, tmp_path, min_count=5)) == expected


def test_vocabulary_is_frequency_sorted_with_counts_and_min_count_drops_tokens(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text(TEXT)
    encoded = encode(path, tmp_path, min_count=50)
    assert encoded.vocab.words[:2] == ["the", "sat"] or encoded.vocab.words[0] == "the"
    assert list(encoded.vocab.counts) == sorted(encoded.vocab.counts, reverse=True)
    assert encoded.vocab.counts[encoded.vocab.index["the"]] == 200
    assert "rare" not in encoded.vocab and "cat" in encoded.vocab
    assert len(encoded.ids) == encoded.vocab.total == sum(encoded.vocab.counts)
    assert encoded.raw_tokens == len(TEXT.split())
    capped = encode(path, tmp_path, min_count=1, max_vocab=3)
    assert len(capped.vocab) == 3 and capped.vocab.words[0] == "the"


def test_lowercase_merges_case_variants(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("Rock rock ROCK stone " * 3)
    assert encode(path, tmp_path, min_count=1, lowercase=True).vocab.counts[0] == 9
    assert len(encode(path, tmp_path, min_count=1).vocab) == 4


def test_a_single_line_longer_than_many_blocks_is_read_in_bounded_pieces(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in rng.integers(0, 500, size=20_000)]
    path = tmp_path / "one_line.txt"
    path.write_text(" ".join(words))  # no newline anywhere
    monkeypatch.setattr(files, "BLOCK_BYTES", 97)  # tokens straddle block edges constantly
    sizes = []
    blocks = iter_token_blocks(path)
    tokens = [t for block in blocks for t in block if not sizes.append(len(block))]
    assert tokens == words
    assert max(sizes) <= 97


def test_a_24_mb_single_line_encodes_in_bounded_memory(tmp_path):
    """text8's shape: one line, no newline.  Peak heap memory (Python objects and numpy
    arrays; memory-mapped pages are the page cache's) stays far below the file size: the
    reader grew by 2 MB on 32 MB of such text, where reading the line whole and splitting
    it grew by 282 MB."""
    path = tmp_path / "huge.txt"
    word_list = np.array([f"word{i}" for i in range(1000)])
    with open(path, "w") as handle:
        rng = np.random.default_rng(1)
        while handle.tell() < 24_000_000:
            handle.write(" ".join(word_list[rng.integers(0, 1000, 100_000)]) + " ")
    script = (
        "import tracemalloc; from w2gm.reading import corpus; tracemalloc.start();"
        f"e = corpus.encode([{str(path)!r}], {str(tmp_path / 'w')!r}, min_count=1);"
        "print(len(e.ids), tracemalloc.get_traced_memory()[1] >> 20)"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout.split()
    tokens, grown_mb = int(out[0]), int(out[1])
    assert tokens > 3_000_000
    assert grown_mb < 12, f"reading a 24 MB line took {grown_mb} MB of heap"


def test_directories_are_read_recursively_in_order_skipping_hidden_files(tmp_path):
    root = tmp_path / "corpus"
    (root / "b").mkdir(parents=True)
    (root / "a.txt").write_text("one two " * 5)
    (root / "b" / "c.txt").write_text("three four " * 5)
    (root / ".hidden").write_text("secret " * 50)
    encoded = encode(root, tmp_path, min_count=1)
    assert words_of(encoded)[:2] == ["one", "two"] and words_of(encoded)[-1] == "four"
    assert "secret" not in encoded.vocab


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "no words in this file (empty)"),
        (b"  \n\t\n   ", "no words in this file (whitespace only)"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00binary", "looks like a binary file"),
    ],
)
def test_hostile_files_give_a_one_line_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(W2GMError) as error:
        encode(path, tmp_path)
    assert message in str(error.value) and str(path) in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_paths_and_tiny_vocabularies_are_reported(tmp_path):
    with pytest.raises(W2GMError, match="no such file or directory"):
        encode(tmp_path / "nope.txt", tmp_path)
    path = tmp_path / "c.txt"
    path.write_text("alpha beta gamma")
    with pytest.raises(W2GMError, match="lower --min-count"):
        encode(path, tmp_path, min_count=5)


def test_invalid_utf8_is_replaced_and_counted_or_rejected(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("café naïve ".encode("latin-1") * 3)
    encoded = encode(path, tmp_path, min_count=1)
    assert encoded.replaced_bytes == 6
    with pytest.raises(W2GMError, match="invalid UTF-8 at byte 3"):
        encode(path, tmp_path, min_count=1, encoding_errors="strict")


def test_cli_reports_a_bad_corpus_on_one_line_with_exit_code_2(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = subprocess.run(
        [sys.executable, "-m", "w2gm", "train", str(empty), "-o", str(tmp_path / "m.w2gm")],
        capture_output=True, text=True,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "empty" in result.stderr
    assert not (tmp_path / "m.w2gm").exists()
