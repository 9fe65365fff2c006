"""Reading with several processes gives exactly the serial reader's ids, vocabulary and errors.

Pieces and blocks are made tiny (tens of bytes), so that words, multi-byte characters and
lines cross the planned cuts and the block edges everywhere."""

import bz2
import gzip
import io
import lzma
import sys

import numpy as np
import pytest

from w2gm.errors import W2GMError
from w2gm.reading import corpus, files, pieces
from w2gm.reading import parallel as parallel_reading

WORDS = ["the", "The", "bank,", "“river”", "naïve", "nai\u0308ve", "東京", "well-known", "don't", "rock's", "3.14",
         "1,000", "_italics_", "—", "...", "Straße", "o'clock", "हिन्दी", "word--word", "¿qué?", "BANK", "a"]
SPACES = [" ", " ", " ", "\n", "\t", "\r\n", "\u3000", "\u00a0", "  "]


def text(seed: int, tokens: int = 3000) -> str:
    """Words drawn with a skew (so that some are rare and counts tie), spaced by every kind of whitespace."""
    rng = np.random.default_rng(seed)
    words = [WORDS[i % len(WORDS)] + ("" if i < len(WORDS) else str(i)) for i in rng.zipf(1.6, tokens) % 400]
    spaces = rng.choice(SPACES, size=tokens)
    return "\ufeff" + "".join(w + s for w, s in zip(words, spaces, strict=True))


@pytest.fixture
def tiny_pieces(monkeypatch):
    """Pieces of about 100 bytes read in blocks of 16, and two workers however small the input."""
    monkeypatch.setattr(pieces, "MIN_PIECE_BYTES", 1)
    monkeypatch.setattr(pieces, "MAX_PIECE_BYTES", 100)
    monkeypatch.setattr(files, "BLOCK_BYTES", 16)


def both(paths, tmp_path, **options):
    """The corpus read by one process and by two."""
    options.setdefault("min_count", 2)
    serial = corpus.encode(paths, tmp_path / "serial", read_workers=1, **options)
    parallel = corpus.encode(paths, tmp_path / "parallel", read_workers=2, **options)
    return serial, parallel


def assert_same(serial, parallel):
    assert np.array_equal(serial.ids, parallel.ids)
    assert serial.vocab.words == parallel.vocab.words
    assert np.array_equal(serial.vocab.counts, parallel.vocab.counts)
    assert (serial.raw_tokens, serial.replaced_bytes) == (parallel.raw_tokens, parallel.replaced_bytes)


@pytest.mark.parametrize("tokenizer, lowercase", [("words", False), ("whitespace", True)])
def test_a_plain_file_cut_into_byte_ranges_encodes_as_the_serial_reader_does(tmp_path, tiny_pieces, tokenizer,
                                                                              lowercase):
    path = tmp_path / "c.txt"
    # undecodable bytes too, replaced (and counted) as the serial reader does
    data = text(1).encode()
    path.write_bytes(data.replace(b" ", b"\xff\xfe ", 40))
    files = [path]
    assert pieces.piece_size(files, 2) == 100
    serial, parallel = both(files, tmp_path, tokenizer=tokenizer, lowercase=lowercase)
    assert_same(serial, parallel)
    assert serial.replaced_bytes == 80 and data.count(b" ") > 40 and len(serial.vocab) > 50
    if tokenizer == "words":
        assert {"well", "known", "東京", "naïve"} <= set(serial.vocab.words)


def test_compressed_files_a_directory_and_standard_input_encode_as_the_serial_reader_does(
    tmp_path, tiny_pieces, monkeypatch
):
    root = tmp_path / "corpus"
    (root / "deeper").mkdir(parents=True)
    (root / "a.txt").write_text(text(2))
    (root / "small.txt").write_text("one lone line\n")  # a file smaller than a piece
    for seed, (opener, name) in enumerate([(gzip.open, "b.gz"), (bz2.open, "deeper/c.bz2"), (lzma.open, "d.xz")]):
        with opener(root / name, "wt", encoding="utf-8") as handle:
            handle.write(text(3 + seed))
    serial, parallel = both([root], tmp_path)
    assert_same(serial, parallel)
    assert serial.raw_tokens > 4 * 3000

    data = lzma.compress(text(7).encode())
    read = {}
    for workers in (1, 2):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data))))
        read[workers] = corpus.encode(["-"], tmp_path / f"stdin{workers}", min_count=2, read_workers=workers)
    assert_same(read[1], read[2])


def test_the_pieces_tile_the_file_and_cut_only_after_whitespace(tmp_path):
    path = tmp_path / "c.txt"
    data = text(3).encode()
    path.write_bytes(data)
    with open(path, "rb") as handle:
        starts = pieces.range_starts(handle, len(data), 97)
    assert len(starts) > 50 and starts == sorted(set(starts))
    with open(path, "rb") as handle:  # the first piece holds the first block, checked for binary data
        assert 500 < pieces.range_starts(handle, len(data), 97, first_bytes=500)[1] < 600
    # each piece ends with a whitespace character, so no word or character is cut in two
    texts = [data[a:b].decode() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    assert all(piece[-1].isspace() for piece in texts[:-1])
    assert "".join(texts).split() == data.decode().split()


@pytest.mark.parametrize("fault, message", [
    (b"\x00", "looks like a binary file (NUL byte at byte {byte}), not text"),
    (b"\xff", "invalid UTF-8 at byte {byte} (use --encoding-errors replace to substitute U+FFFD)"),
    (b"x" * 100_001, "a token longer than 100000 characters; is this a text file?"),
], ids=["NUL", "UTF-8", "long token"])
def test_an_error_found_by_a_worker_names_the_file_line_and_byte_as_the_serial_reader_does(
    tmp_path, tiny_pieces, monkeypatch, fault, message
):
    monkeypatch.setattr(files, "BLOCK_BYTES", 1024)  # pieces of a block: 7 for the 400 lines
    lines = [f"line {i} of words\n".encode() for i in range(400)]
    lines[300] = b"words before " + fault + b" and after\n"
    for name, opener in (("plain.txt", open), ("packed.gz", gzip.open)):
        path = tmp_path / name
        with opener(path, "wb") as handle:
            handle.write(b"".join(lines))
        errors = []
        for workers in (1, 2):
            with pytest.raises(W2GMError) as error:
                corpus.encode([path], tmp_path / f"w{workers}", encoding_errors="strict", read_workers=workers)
            errors.append(str(error.value))
        byte = sum(map(len, lines[:300])) + len(b"words before ")
        assert errors[0] == errors[1] == f"{path}:301: " + message.format(byte=byte)
        assert not list((tmp_path / "w2").iterdir())  # nothing left behind


def test_a_file_with_no_words_among_others_is_named(tmp_path, tiny_pieces):
    (tmp_path / "a.txt").write_text(text(4))
    (tmp_path / "b.txt").write_text("... -- !!!\n" * 20)
    (tmp_path / "c.txt").write_text(text(5))
    for workers in (1, 2):
        with pytest.raises(W2GMError, match=r"b\.txt: no words in this file \(punctuation only\)$"):
            corpus.encode([tmp_path], tmp_path / "w", read_workers=workers)


class Bar:
    """What the progress bar is told."""

    def __init__(self):
        self.bytes, self.words = 0, ""

    def update(self, count):
        self.bytes += count

    def describe(self, words):
        self.words = words


def test_the_reading_bar_advances_to_the_stored_size_and_counts_the_words(tmp_path):
    plain, packed = tmp_path / "a.txt", tmp_path / "b.xz"
    plain.write_text(text(6))
    packed.write_bytes(lzma.compress(text(7).encode()))
    bar = Bar()
    vocab, found = parallel_reading.encode(
        [plain, packed], tmp_path / "ids.npy", str.split, "replace", bar, workers=2, min_count=1, max_vocab=None,
        piece_bytes=200, block_bytes=50,
    )
    assert vocab.total == found.tokens and sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.xz", "ids.npy"]
    assert bar.bytes == plain.stat().st_size + packed.stat().st_size
    assert bar.words == f"{found.tokens:,} words" and found.tokens == 6000


def test_small_input_is_read_without_a_pool(tmp_path, monkeypatch):
    path = tmp_path / "c.txt"
    path.write_text(text(8))
    assert parallel_reading.worker_count(0, [path]) == 1  # a plain file under MIN_PIECE_BYTES
    assert parallel_reading.worker_count(3, [files.STDIN]) == 3  # standard input: not known to be small

    def no_pool(*args, **kwargs):
        raise AssertionError("a pool was started for one piece")

    monkeypatch.setattr(parallel_reading, "ProcessPoolExecutor", no_pool)
    read = {}
    for workers in (1, 2):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(path.read_bytes()))))
        read[workers] = corpus.encode(["-"], tmp_path / f"stdin{workers}", min_count=2, read_workers=workers)
    assert_same(read[1], read[2])  # one piece, encoded in this process
