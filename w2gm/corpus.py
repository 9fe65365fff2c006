"""Streaming raw text of any size into a compact, memory-mapped array of word ids.

Text is read in fixed-size blocks (so a 100 MB file that is a single line costs no more
memory than any other), decompressed on the fly when it is gzip, bzip2 or xz (recognised
by content, not by name), decoded as UTF-8 and split on whitespace.  One pass assigns
every token a provisional id in order of first appearance; counting those ids then gives
the vocabulary, and a remapping pass writes the final ids (dropping words under the
minimum count, as word2vec does) to ``ids.npy``, which each epoch memory-maps.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import W2GMError, os_reason
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

SAMPLE_CORPUS = "sample_text8.txt.xz"


def sample_corpus_path() -> Path:
    """The small Wikipedia sample shipped with the package (see data/PROVENANCE.md)."""
    return Path(str(resources.files("w2gm") / "data" / SAMPLE_CORPUS))


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, directories replaced by their files (recursively, sorted, hidden skipped)."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
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


def _open_binary(path: Path) -> BinaryIO:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, which closes it
    except OSError as error:
        raise W2GMError(f"{path}: cannot open: {os_reason(error)}") from None
    head = raw.read(6)
    raw.seek(0)
    for magic, opener in _MAGIC.items():
        if head.startswith(magic):
            return opener(raw)  # type: ignore[return-value]
    return raw


def _blocks(handle: BinaryIO, path: Path) -> Iterator[bytes]:
    """The (decompressed) bytes of ``handle`` a block at a time, then one empty block."""
    while True:
        try:
            data = handle.read(BLOCK_BYTES)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as error:
            raise W2GMError(f"{path}: corrupt or truncated compressed data ({error})") from None
        yield data
        if not data:
            return


def _check_not_binary(first_text: str, path: Path) -> None:
    """Binary data with no NUL byte still shows itself by its control characters."""
    controls = len(_CONTROL.findall(first_text))
    if controls > MAX_CONTROL_SHARE * len(first_text):
        raise W2GMError(
            f"{path}: looks like a binary file ({controls} control characters in its first "
            f"{len(first_text)}), not text"
        )


def _long_token(path: Path, line: int) -> W2GMError:
    return W2GMError(f"{path}:{line}: a token longer than {MAX_TOKEN_CHARS} characters; is this a text file?")


@dataclass
class ReadStats:
    """What reading saw, for the training summary."""

    tokens: int = 0
    replaced_bytes: int = 0


class _CountingReplace:
    """A codecs error handler that replaces undecodable bytes with U+FFFD and counts them."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, error: UnicodeDecodeError) -> tuple[str, int]:
        self.count += error.end - error.start
        return "\ufffd", error.end


_replace_counter = _CountingReplace()
codecs.register_error("w2gm-count-replace", _replace_counter)


def iter_token_blocks(
    path: Path, lowercase: bool = False, encoding_errors: str = "replace", stats: ReadStats | None = None
) -> Iterator[list[str]]:
    """Yield the whitespace tokens of ``path`` in order, a block at a time.  Errors name the
    file and the line (counted in the decompressed text)."""
    errors = "w2gm-count-replace" if encoding_errors == "replace" else "strict"
    decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
    before = _replace_counter.count
    carry = ""  # the last, perhaps unfinished, token of the text so far: never holds a line break
    offset = 0  # bytes read so far
    lines = 0  # line breaks before ``carry``
    with _open_binary(path) as handle:
        for data in _blocks(handle, path):
            if b"\x00" in data:
                at = data.index(0)
                line = lines + data.count(b"\n", 0, at) + 1
                raise W2GMError(f"{path}:{line}: looks like a binary file (NUL byte at byte {offset + at}), not text")
            pending = len(decoder.getstate()[0])  # bytes of a character cut by the last block
            try:
                text = carry + decoder.decode(data, final=not data)
            except UnicodeDecodeError as error:
                line = lines + error.object.count(b"\n", 0, error.start) + 1
                raise W2GMError(
                    f"{path}:{line}: invalid UTF-8 at byte {offset - pending + error.start} "
                    "(use --encoding-errors replace to substitute U+FFFD)"
                ) from None
            if offset == 0 and text:
                _check_not_binary(text, path)
            offset += len(data)
            if data:
                cut = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"), text.rfind("\r"))
                if cut < 0 and len(text) > MAX_TOKEN_CHARS:
                    raise _long_token(path, lines + 1)
                # split() also breaks on rarer whitespace; keep the tail after the last common
                # separator for the next block, so no token is cut in two
                text, carry = (text[: cut + 1], text[cut + 1 :]) if cut >= 0 else ("", text)
            if lowercase:
                text = text.lower()
            tokens = text.split()
            too_long = next((t for t in tokens if len(t) > MAX_TOKEN_CHARS), None)
            if too_long is not None:
                raise _long_token(path, lines + text.count("\n", 0, text.find(too_long)) + 1)
            lines += text.count("\n")
            if tokens:
                if stats is not None:
                    stats.tokens += len(tokens)
                yield tokens
    if stats is not None:
        stats.replaced_bytes += _replace_counter.count - before


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
) -> EncodedCorpus:
    """Read the text files (or directories) into ``workdir/ids.npy``.  On any failure the
    files this wrote are removed, and a failure to write them (a full disk) is a W2GMError."""
    files = expand_paths(paths)
    workdir = Path(workdir)
    provisional_path, ids_path = workdir / "provisional_ids.bin", workdir / "ids.npy"
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        words, stats = _write_provisional_ids(files, provisional_path, lowercase, encoding_errors)
        vocab = _write_ids(words, provisional_path, ids_path, stats.tokens, min_count, max_vocab)
        provisional_path.unlink()
    except BaseException as error:
        provisional_path.unlink(missing_ok=True)
        ids_path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise W2GMError(f"cannot write the encoded corpus to {workdir}: {os_reason(error)}") from None
        raise
    return EncodedCorpus(vocab, np.load(ids_path, mmap_mode="r"), stats.tokens, stats.replaced_bytes)


def _write_provisional_ids(
    files: list[Path], provisional_path: Path, lowercase: bool, encoding_errors: str
) -> tuple[list[str], ReadStats]:
    """Give every word an id in order of first appearance and write the text as those ids;
    return the words in id order."""
    index: dict[str, int] = {}
    stats = ReadStats()
    with open(provisional_path, "wb") as out:
        for path in files:
            before = stats.tokens
            for tokens in iter_token_blocks(path, lowercase, encoding_errors, stats):
                # setdefault with len(index) gives each new word the next dense id
                ids = [index.setdefault(t, len(index)) for t in tokens]
                out.write(np.asarray(ids, dtype=np.uint32).tobytes())
            if stats.tokens == before:
                what = "empty" if path.stat().st_size == 0 else "whitespace only"
                raise W2GMError(f"{path}: no words in this file ({what})")
    return list(index), stats


def _write_ids(
    words: list[str], provisional_path: Path, ids_path: Path, tokens: int, min_count: int,
    max_vocab: int | None,
) -> Vocabulary:
    """Count the provisional ids, build the vocabulary and write the text's final ids."""
    provisional = np.memmap(provisional_path, dtype=np.uint32, mode="r")
    counts = np.zeros(len(words), dtype=np.int64)
    for start in range(0, len(provisional), ID_CHUNK):
        counts += np.bincount(provisional[start : start + ID_CHUNK], minlength=len(words))
    vocab, remap = Vocabulary.from_counts(words, counts, min_count, max_vocab)
    if len(vocab) < 2:
        raise W2GMError(
            f"only {len(vocab)} distinct word(s) occur at least --min-count={min_count} times "
            f"in {tokens} tokens; lower --min-count or give more text"
        )
    ids = np.lib.format.open_memmap(ids_path, mode="w+", dtype=np.int32, shape=(vocab.total,))
    written = 0
    for start in range(0, len(provisional), ID_CHUNK):
        mapped = remap[provisional[start : start + ID_CHUNK]]
        mapped = mapped[mapped >= 0]
        ids[written : written + len(mapped)] = mapped
        written += len(mapped)
    ids.flush()
    return vocab
