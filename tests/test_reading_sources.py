"""What the reader reads (issue 30, classes 2 and 3): standard input only for the argument
``-`` itself, and a corpus file only as it was when first opened.

A file named ``-`` is a file however it is spelled (``./-``, ``Path("-")``, an absolute
path); a file replaced, truncated or written to while the corpus is read, by one process or
several, is refused with one line naming it, never read as a mix of the old and new text.
"""

import gzip
import io
import os
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_parallel_reading import text

from w2gm.errors import W2GMError
from w2gm.reading import corpus, files, pieces
from w2gm.reading import parallel as parallel_reading

FILE_TEXT = "rock stone rock stone jazz jazz\n" * 20
STDIN_TEXT = "river bank river bank money money\n" * 20


def stdin_holding(monkeypatch: pytest.MonkeyPatch, data: str) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(io.BytesIO(data.encode()))))


# ------------------------------------------------------------------ class 2: "-"
@pytest.fixture
def dash_file(tmp_path, monkeypatch) -> Path:
    """A file named ``-`` in the working directory, and a subdirectory beside it."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    (tmp_path / "-").write_text(FILE_TEXT)
    return tmp_path / "-"


@pytest.mark.usefixtures("dash_file")
@settings(max_examples=30, deadline=None, database=None)
@given(prefixes=st.lists(st.sampled_from(["./", "sub/../", ".//", "CWD"]), min_size=1, max_size=3),
       as_path=st.booleans())
def test_a_file_named_dash_is_a_file_however_it_is_spelled(prefixes, as_path):
    """Any spelling but the bare string "-" names the file; only "-" is standard input."""
    spelling = "".join(p for p in prefixes if p != "CWD") + "-"
    if "CWD" in prefixes:
        spelling = f"{Path.cwd()}/{spelling}"
    [found] = files.expand_paths([Path(spelling) if as_path else spelling])
    assert found is not files.STDIN and isinstance(found, Path) and found.samefile("-")
    assert files.expand_paths(["-"]) == [files.STDIN]
    assert Path("-") != files.STDIN and files.STDIN not in [Path("-"), Path("./-")]


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("argument", ["./-", Path("-"), Path("./-")], ids=["./-", "Path(-)", "Path(./-)"])
def test_training_on_dot_slash_dash_reads_the_file_not_standard_input(dash_file, monkeypatch, workers, argument):
    stdin_holding(monkeypatch, STDIN_TEXT)
    encoded = corpus.encode([argument], dash_file.parent / "work", min_count=1, read_workers=workers)
    assert sorted(encoded.vocab.words) == ["jazz", "rock", "stone"]
    stdin_holding(monkeypatch, STDIN_TEXT)
    encoded = corpus.encode(["-"], dash_file.parent / "work2", min_count=1, read_workers=workers)
    assert sorted(encoded.vocab.words) == ["bank", "money", "river"]


def test_a_file_named_dash_and_standard_input_together(dash_file, monkeypatch):
    stdin_holding(monkeypatch, STDIN_TEXT)
    encoded = corpus.encode(["./-", "-"], dash_file.parent / "work", min_count=1, read_workers=1)
    assert sorted(encoded.vocab.words) == ["bank", "jazz", "money", "river", "rock", "stone"]


# ------------------------------------------------------- class 3: changed files
def rename_over(path: Path) -> None:
    replacement = path.with_name("replacement")
    replacement.write_text(text(99))
    os.replace(replacement, path)


def rewrite_same_size(path: Path) -> None:
    data = path.read_bytes()
    with open(path, "r+b") as handle:
        handle.write(data[::-1].replace(b"\x00", b" "))
    os.utime(path, ns=(os.stat(path).st_atime_ns, os.stat(path).st_mtime_ns + 1_000_000))


def append(path: Path) -> None:
    with open(path, "ab") as handle:
        handle.write(b" more words at the end\n")


def truncate(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 3)


def delete(path: Path) -> None:
    path.unlink()


CHANGES = {"rename over": rename_over, "rewrite in place": rewrite_same_size, "append": append,
           "truncate": truncate, "delete": delete}


def changing_after(monkeypatch, path: Path, change, after_pieces: int) -> None:
    """Have the parallel reader's parent make ``change`` to ``path`` once it has handed
    ``after_pieces`` pieces of it to the workers."""
    original = pieces.file_pieces

    def file_pieces(source, *args, **kwargs):
        for number, piece in enumerate(original(source, *args, **kwargs)):
            if number == after_pieces and source == path:
                change(path)
            yield piece

    monkeypatch.setattr(pieces, "file_pieces", file_pieces)


@pytest.mark.parametrize("change", list(CHANGES), ids=list(CHANGES))
@pytest.mark.parametrize("after_pieces", [1, 3])
def test_a_file_changed_while_several_processes_read_it_is_refused(tmp_path, monkeypatch, change, after_pieces):
    path = tmp_path / "c.txt"
    path.write_text(text(1))
    changing_after(monkeypatch, path, CHANGES[change], after_pieces)
    with pytest.raises(W2GMError) as error:
        parallel_reading.encode([path], tmp_path / "ids.npy", str.split, "replace", None, workers=2, min_count=1,
                                max_vocab=None, piece_bytes=500, block_bytes=100)
    assert str(error.value).startswith(f"{path}: changed while it was being read")
    assert "\n" not in str(error.value)


def test_an_unchanged_file_read_in_pieces_is_not_refused(tmp_path, monkeypatch):
    """The check itself: the same file and reader with nothing changed reads through."""
    path = tmp_path / "c.txt"
    path.write_text(text(1))
    changing_after(monkeypatch, path, lambda path: None, 1)
    vocab, found = parallel_reading.encode([path], tmp_path / "ids.npy", str.split, "replace", None, workers=2,
                                           min_count=1, max_vocab=None, piece_bytes=500, block_bytes=100)
    assert found.tokens == 3000


@pytest.mark.parametrize("change", ["rewrite in place", "append", "truncate"])
@pytest.mark.parametrize("packing", ["plain", "gzip"])
def test_a_file_written_to_while_one_process_reads_it_is_refused(tmp_path, monkeypatch, change, packing):
    """The serial reader holds one handle, so a file renamed over is read whole as it was;
    one written to in place is found changed at its end."""
    path = tmp_path / "c.txt"
    data = text(2).encode()
    path.write_bytes(gzip.compress(data) if packing == "gzip" else data)
    original = files.read_blocks

    def read_blocks(handle, name):
        for number, block in enumerate(original(handle, name)):
            if number == 1:
                CHANGES[change](path)
            yield block

    monkeypatch.setattr(files, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(files, "read_blocks", read_blocks)
    with pytest.raises(W2GMError) as error:
        corpus.encode([path], tmp_path / "work", min_count=1, read_workers=1)
    assert str(error.value).startswith(f"{path}: ")
    if packing == "plain" or change != "truncate":  # a truncated gzip stream may fail first as such
        assert "changed while it was being read" in str(error.value)
    assert list((tmp_path / "work").iterdir()) == []


def test_a_file_renamed_over_while_one_process_reads_it_is_read_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "c.txt"
    path.write_text(FILE_TEXT * 20)
    original = files.read_blocks

    def read_blocks(handle, name):
        for number, block in enumerate(original(handle, name)):
            if number == 1:
                rename_over(path)
            yield block

    monkeypatch.setattr(files, "BLOCK_BYTES", 1000)
    monkeypatch.setattr(files, "read_blocks", read_blocks)
    encoded = corpus.encode([path], tmp_path / "work", min_count=1, read_workers=1)
    assert sorted(encoded.vocab.words) == ["jazz", "rock", "stone"] and encoded.raw_tokens == 6 * 20 * 20


def test_standard_input_redirected_from_the_output_is_a_corpus_file(tmp_path):
    """``w2gm train - -o text.txt --overwrite < text.txt``: standard input is that file, which
    the model may not replace, however the flags ask."""
    import subprocess

    corpus = tmp_path / "text.txt"
    corpus.write_text(FILE_TEXT)
    with open(corpus, "rb") as stdin:
        result = subprocess.run([sys.executable, "-m", "w2gm", "train", "-", "-o", str(corpus), "--overwrite", "-q",
                                 "--min-count", "1", "--dim", "4", "--backend", "torch"], stdin=stdin,
                                capture_output=True, text=True)
    assert result.returncode == 2 and "is one of the corpus files" in result.stderr
    assert corpus.read_text() == FILE_TEXT and sorted(p.name for p in tmp_path.iterdir()) == ["text.txt"]
