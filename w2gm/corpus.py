"""Streaming raw text of any size into a compact, memory-mapped array of word ids.

Text is read in fixed-size blocks (so a 100 MB file that is a single line costs no more
memory than any other), decompressed on the fly when it is gzip, bzip2 or xz (recognised
by content, not by name), decoded as UTF-8, split on whitespace and turned into words by
the tokenizer (:mod:`w2gm.tokenize`); ``-`` names standard input, read the same way.
One pass assigns every word a provisional id in order of first appearance; counting those
ids then gives the vocabulary, and a remapping pass writes the final ids (dropping words
under the minimum count, as word2vec does) to ``ids.npy``, which each epoch memory-maps.
Both passes can be shared out among processes (:mod:`w2gm.parallel_reading`), with the
same ids.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import os
import re
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from tqdm.auto import tqdm

from .errors import TextError, W2GMError, os_reason
from .tokenize import TokenIds, token_splitter
from .vocab import Vocabulary

BLOCK_BYTES = 1 << 22
#: Ids per step when counting and remapping the provisional id file.
ID_CHUNK = 1 << 22
#: A run of this many characters with no whitespace is not text (a binary or base64 blob).
MAX_TOKEN_CHARS = 100_000
#: C0 control characters that are not whitespace to str.split(), and DEL: text holds next to
#: none, arbitrary binary data about one byte in eleven.
_CONTROL = re.compile("[\x01-\x08\x0e-\x1b\x7f]")
#: A file whose first block has a larger share of control characters is binary, not text.
MAX_CONTROL_SHARE = 0.01
_MAGIC = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}
#: Whitespace other than the common four (str.split() breaks on all of it): where to cut a
#: block that holds none of the common ones, such as text spaced with U+3000 only.
_SPACE = re.compile(r"\s")
BYTE_ORDER_MARK = "\ufeff"

#: The corpus argument that names standard input.
STDIN = Path("-")
STDIN_NAME = "<stdin>"

SAMPLE_CORPUS = "sample_text8.txt.xz"


def sample_corpus_path() -> Path:
    """The small Wikipedia sample shipped with the package (see data/PROVENANCE.md)."""
    return Path(str(resources.files("w2gm") / "data" / SAMPLE_CORPUS))


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, directories replaced by their files (recursively, sorted, hidden skipped)."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path == STDIN and str(given) == "-":
            if STDIN in files:
                raise W2GMError("standard input (-) can be read only once")
            files.append(STDIN)
        elif path.is_dir():
            found = _files_under(path)
            if not found:
                raise W2GMError(f"{path}: directory holds no files")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            raise W2GMError(f"{path}: not a regular file or directory")
        else:
            raise W2GMError(f"{path}: no such file or directory")
    if not files:
        raise W2GMError("no corpus files given")
    return files


def _files_under(directory: Path) -> list[Path]:
    """The files under ``directory``, sorted, hidden ones skipped.  Symbolic links to
    subdirectories are followed as links to files are, each directory once (by its real
    path), so that a link back to an ancestor cannot loop."""
    seen = {os.path.realpath(directory)}
    found = []
    for root, subdirectories, names in os.walk(directory, followlinks=True):
        kept = []
        for name in sorted(subdirectories):
            real = os.path.realpath(os.path.join(root, name))
            if not name.startswith(".") and real not in seen:
                seen.add(real)
                kept.append(name)
        subdirectories[:] = kept  # os.walk descends only into these
        found += [Path(root, name) for name in names if not name.startswith(".") and Path(root, name).is_file()]
    return sorted(found)


def display_name(path: Path) -> str:
    return STDIN_NAME if path == STDIN else str(path)


def _open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """The file's (decompressed) bytes and the raw file under them, whose position says
    how far reading has come."""
    if path == STDIN:
        raw: Any = sys.stdin.buffer
        head = raw.peek(6)[:6]  # a pipe cannot seek back
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, which closes it
        except OSError as error:
            raise W2GMError(f"{path}: cannot open: {os_reason(error)}") from None
        head = raw.read(6)
        raw.seek(0)
    for magic, opener in _MAGIC.items():
        if head.startswith(magic):
            return opener(raw), raw
    return raw, raw


def _blocks(handle: BinaryIO, name: str) -> Iterator[bytes]:
    """The (decompressed) bytes of ``handle`` a block at a time, then one empty block."""
    while True:
        try:
            data = handle.read(BLOCK_BYTES)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as error:
            raise W2GMError(f"{name}: corrupt or truncated compressed data ({error})") from None
        yield data
        if not data:
            return


def _check_not_binary(first_text: str, name: str) -> None:
    """Binary data with no NUL byte still shows itself by its control characters."""
    controls = len(_CONTROL.findall(first_text))
    if controls > MAX_CONTROL_SHARE * len(first_text):
        raise W2GMError(
            f"{name}: looks like a binary file ({controls} control characters in its first "
            f"{len(first_text)}), not text"
        )


def _long_token(name: str, line: int) -> TextError:
    return TextError(name, line, f"a token longer than {MAX_TOKEN_CHARS} characters; is this a text file?")


def _last_space(text: str) -> int:
    """Where the last whitespace of ``text`` is, -1 if none."""
    cut = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"), text.rfind("\r"))
    if cut < 0:
        # the first whitespace of the reversed text (a lookahead to the end would be quadratic)
        rare = _SPACE.search(text[::-1])
        cut = len(text) - 1 - rare.start() if rare else -1
    return cut


class _CountingReplace:
    """A codecs error handler that replaces undecodable bytes with U+FFFD and counts them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, error: UnicodeDecodeError) -> tuple[str, int]:
        self.count += error.end - error.start
        return "\ufffd", error.end


_replace_counter = _CountingReplace()
codecs.register_error("w2gm-count-replace", _replace_counter)

#: Told the number of bytes read since it was last told.
Advance = Callable[[int], object]


def iter_token_blocks(
    path: Path, encoding_errors: str = "replace", advance: Advance | None = None
) -> Iterator[list[str]]:
    """Yield the whitespace tokens of ``path`` (``-``: standard input) in order, a block
    at a time.  Errors name the file and the line (counted in the decompressed text)."""
    name = display_name(path)
    handle, raw = _open_binary(path)
    with handle:
        blocks = _blocks(handle, name)
        if advance is not None:
            blocks = _advancing(blocks, advance, raw, path == STDIN)
        yield from token_blocks(blocks, name, encoding_errors)


def _advancing(blocks: Iterator[bytes], advance: Advance, raw: BinaryIO, is_stdin: bool) -> Iterator[bytes]:
    """``blocks``, telling ``advance`` how far into the stored file (compressed or not) each one reaches."""
    position = 0
    for data in blocks:
        now = position + len(data) if is_stdin else raw.tell()
        advance(now - position)
        position = now
        yield data


def token_blocks(
    blocks: Iterable[bytes], name: str, encoding_errors: str = "replace", at_start: bool = True
) -> Iterator[list[str]]:
    """The whitespace tokens of a text given as blocks of bytes ending with an empty one.
    ``at_start``: the blocks begin the file, so its first block is checked for binary data
    and a byte-order mark is dropped; otherwise they begin just after a whitespace
    character, and lines and bytes in errors count from there."""
    errors = "w2gm-count-replace" if encoding_errors == "replace" else "strict"
    decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
    carry = ""  # the last, perhaps unfinished, token of the text so far: never holds a line break
    offset = 0  # bytes read so far
    lines = 0  # line breaks before ``carry``
    for data in blocks:
        if b"\x00" in data:
            at = data.index(0)
            line = lines + data.count(b"\n", 0, at) + 1
            raise TextError(name, line, "looks like a binary file (NUL byte at byte {byte}), not text", offset + at)
        pending = len(decoder.getstate()[0])  # bytes of a character cut by the last block
        try:
            text = carry + decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            line = lines + error.object.count(b"\n", 0, error.start) + 1
            raise TextError(
                name, line, "invalid UTF-8 at byte {byte} (use --encoding-errors replace to substitute U+FFFD)",
                offset - pending + error.start,
            ) from None
        if offset == 0 and text and at_start:
            _check_not_binary(text, name)
            # a byte-order mark says "UTF-8"; it is not part of the first word
            text = text.removeprefix(BYTE_ORDER_MARK)
        offset += len(data)
        if data:
            cut = _last_space(text)
            if cut < 0 and len(text) > MAX_TOKEN_CHARS:
                raise _long_token(name, lines + 1)
            # keep the tail after the last whitespace for the next block, so that no
            # token is cut in two
            text, carry = (text[: cut + 1], text[cut + 1 :]) if cut >= 0 else ("", text)
        tokens = text.split()
        if tokens and max(map(len, tokens)) > MAX_TOKEN_CHARS:
            too_long = next(t for t in tokens if len(t) > MAX_TOKEN_CHARS)
            raise _long_token(name, lines + text.count("\n", 0, text.find(too_long)) + 1)
        lines += text.count("\n")
        if tokens:
            yield tokens
        if not data:
            return


@dataclass
class EncodedCorpus:
    """The corpus as word ids (vocabulary words only, in text order) and its vocabulary."""

    vocab: Vocabulary
    ids: np.ndarray  # int32, memory-mapped
    raw_tokens: int
    replaced_bytes: int

    def __len__(self) -> int:
        return len(self.ids)


def encode(
    paths: Iterable[str | os.PathLike],
    workdir: str | os.PathLike,
    min_count: int = 5,
    max_vocab: int | None = None,
    lowercase: bool = False,
    encoding_errors: str = "replace",
    tokenizer: str = "words",
    progress: bool = False,
    read_workers: int = 0,
) -> EncodedCorpus:
    """Read the text files (or directories, or ``-`` for standard input) into
    ``workdir/ids.npy``, as words of ``tokenizer`` (see :mod:`w2gm.tokenize`; ``lowercase``
    applies to the whitespace tokenizer, the words tokenizer always casefolds), with
    ``read_workers`` processes (0: one per usable CPU; 1: this process alone; see
    :mod:`w2gm.parallel_reading`, which gives the same ids).  On any failure the files this
    wrote are removed, and a failure to write them (a full disk) is a W2GMError."""
    # imported here: parallel_reading builds on this module's readers
    from . import parallel_reading

    files = expand_paths(paths)
    workdir = Path(workdir)
    provisional_path, ids_path = workdir / "provisional_ids.bin", workdir / "ids.npy"
    bar = _reading_bar(files) if progress else None
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        split = token_splitter(tokenizer, lowercase)
        workers = parallel_reading.worker_count(read_workers, files)
        if workers > 1:
            vocab, found = parallel_reading.encode(
                files, ids_path, split, encoding_errors, bar, workers, min_count, max_vocab
            )
        else:
            found = _write_provisional_ids(files, provisional_path, TokenIds(split), encoding_errors, bar)
            vocab = _write_ids(found, provisional_path, ids_path, min_count, max_vocab)
            provisional_path.unlink()
    except BaseException as error:
        provisional_path.unlink(missing_ok=True)
        ids_path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise W2GMError(f"cannot write the encoded corpus to {workdir}: {os_reason(error)}") from None
        raise
    finally:
        if bar is not None:
            bar.close()
    return EncodedCorpus(vocab, np.load(ids_path, mmap_mode="r"), found.tokens, found.replaced)


@dataclass
class Provisional:
    """What a first pass over the text found: its words in order of first appearance (the
    provisional ids), how often each occurs when the pass counted them, the number of word
    tokens and of undecodable bytes replaced."""

    words: list[str]
    counts: np.ndarray | None
    tokens: int
    replaced: int


def _reading_bar(files: list[Path]) -> tqdm:
    """Bytes read (of the files as stored, compressed or not) and words found so far."""
    sizes = [0 if path == STDIN else path.stat().st_size for path in files]
    total = None if STDIN in files else sum(sizes)
    # disable=None: no bar when stderr is not a terminal (a log, a pipe); leave=False: the
    # training bar takes its place
    return tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024, desc="reading", dynamic_ncols=True,
                disable=None, leave=False)


def _write_provisional_ids(
    files: list[Path], provisional_path: Path, token_ids: TokenIds, encoding_errors: str, bar: tqdm | None
) -> Provisional:
    """Write the text as word ids in order of each word's first appearance (``token_ids``
    keeps the words)."""
    words = 0
    replaced_before = _replace_counter.count
    advance = bar.update if bar is not None else None
    with open(provisional_path, "wb") as out:
        for path in files:
            before, had_tokens = words, False
            for tokens in iter_token_blocks(path, encoding_errors, advance):
                had_tokens = True
                ids = token_ids.encode(tokens)
                out.write(ids.astype(np.uint32).tobytes())
                words += len(ids)
                show_words(bar, words)
            if words == before:
                raise no_words(path, had_tokens)
    return Provisional(token_ids.words, None, words, _replace_counter.count - replaced_before)


def show_words(bar: tqdm | None, words: int) -> None:
    if bar is not None:
        bar.set_postfix_str(f"{words:,} words", refresh=False)


def no_words(path: Path, had_tokens: bool) -> W2GMError:
    return W2GMError(f"{display_name(path)}: no words in this {_emptiness(path, had_tokens)}")


def _emptiness(path: Path, had_tokens: bool) -> str:
    """Why a file gave no words."""
    what = "input" if path == STDIN else "file"
    if had_tokens:
        return f"{what} (punctuation only)"
    if path != STDIN and path.stat().st_size == 0:
        return f"{what} (empty)"
    return f"{what} (whitespace only)"


def vocabulary(found: Provisional, min_count: int, max_vocab: int | None) -> tuple[Vocabulary, np.ndarray]:
    """The vocabulary of the counted words, and the map from provisional to final ids (-1:
    dropped); an error when it would hold fewer than two words."""
    assert found.counts is not None
    vocab, remap = Vocabulary.from_counts(found.words, found.counts, min_count, max_vocab)
    if len(vocab) < 2:
        raise W2GMError(
            f"only {len(vocab)} distinct word(s) occur at least --min-count={min_count} times "
            f"in {found.tokens} tokens; lower --min-count or give more text"
        )
    return vocab, remap


def _write_ids(
    found: Provisional, provisional_path: Path, ids_path: Path, min_count: int, max_vocab: int | None
) -> Vocabulary:
    """Count the provisional ids (unless the first pass did), build the vocabulary and
    write the text's final ids."""
    words = found.words
    provisional = np.memmap(provisional_path, dtype=np.uint32, mode="r")
    counts = found.counts
    if counts is None:
        counts = np.zeros(len(words), dtype=np.int64)
        for start in range(0, len(provisional), ID_CHUNK):
            counts += np.bincount(provisional[start : start + ID_CHUNK], minlength=len(words))
    vocab, remap = vocabulary(Provisional(words, counts, found.tokens, found.replaced), min_count, max_vocab)
    ids = np.lib.format.open_memmap(ids_path, mode="w+", dtype=np.int32, shape=(vocab.total,))
    written = 0
    for start in range(0, len(provisional), ID_CHUNK):
        mapped = remap[provisional[start : start + ID_CHUNK]]
        mapped = mapped[mapped >= 0]
        ids[written : written + len(mapped)] = mapped
        written += len(mapped)
    ids.flush()
    return vocab
