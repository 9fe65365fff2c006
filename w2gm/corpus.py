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
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import W2GMError
from .vocab import Vocabulary

BLOCK_BYTES = 1 << 22
#: Ids per step when counting and remapping the provisional id file.
ID_CHUNK = 1 << 22
#: A run of this many characters with no whitespace is not text (a binary or base64 blob).
MAX_TOKEN_CHARS = 100_000
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
            found = sorted(
                p for p in path.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
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


def _open_binary(path: Path) -> BinaryIO:
    try:
        raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, which closes it
    except OSError as error:
        raise W2GMError(f"{path}: cannot open: {error.strerror or error}") from None
    head = raw.read(6)
    raw.seek(0)
    for magic, opener in _MAGIC.items():
        if head.startswith(magic):
            return opener(raw)  # type: ignore[return-value]
    return raw


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
    """Yield the whitespace tokens of ``path`` in order, a block at a time."""
    errors = "w2gm-count-replace" if encoding_errors == "replace" else "strict"
    decoder = codecs.getincrementaldecoder("utf-8")(errors=errors)
    before = _replace_counter.count
    carry = ""
    offset = 0
    with _open_binary(path) as handle:
        while True:
            try:
                data = handle.read(BLOCK_BYTES)
            except (OSError, EOFError, lzma.LZMAError, ValueError) as error:
                raise W2GMError(f"{path}: corrupt or truncated compressed data ({error})") from None
            if b"\x00" in data:
                raise W2GMError(
                    f"{path}: looks like a binary file (NUL byte at offset {offset + data.index(0)}), not text"
                )
            try:
                text = carry + decoder.decode(data, final=not data)
            except UnicodeDecodeError as error:
                raise W2GMError(
                    f"{path}: invalid UTF-8 at byte {offset + error.start} "
                    "(use --encoding-errors replace to substitute U+FFFD)"
                ) from None
            offset += len(data)
            if data:
                cut = max(text.rfind(" "), text.rfind("\n"), text.rfind("\t"), text.rfind("\r"))
                if cut < 0 and len(text) > MAX_TOKEN_CHARS:
                    raise W2GMError(
                        f"{path}: a token longer than {MAX_TOKEN_CHARS} characters ends near byte {offset}; "
                        "is this a text file?"
                    )
                # split() also breaks on rarer whitespace; keep the tail after the last common
                # separator for the next block, so no token is cut in two
                text, carry = (text[: cut + 1], text[cut + 1 :]) if cut >= 0 else ("", text)
            if lowercase:
                text = text.lower()
            tokens = text.split()
            if any(len(t) > MAX_TOKEN_CHARS for t in tokens):
                raise W2GMError(f"{path}: a token longer than {MAX_TOKEN_CHARS} characters; is this a text file?")
            if tokens:
                if stats is not None:
                    stats.tokens += len(tokens)
                yield tokens
            if not data:
                break
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
    files = expand_paths(paths)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    provisional_path = workdir / "provisional_ids.bin"
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
    provisional = np.memmap(provisional_path, dtype=np.uint32, mode="r") if stats.tokens else None
    if provisional is None:
        raise W2GMError("corpus holds no words")
    counts = np.zeros(len(index), dtype=np.int64)
    for start in range(0, len(provisional), ID_CHUNK):
        counts += np.bincount(provisional[start : start + ID_CHUNK], minlength=len(index))
    vocab, remap = Vocabulary.from_counts(list(index), counts, min_count, max_vocab)
    del index
    if len(vocab) < 2:
        raise W2GMError(
            f"only {len(vocab)} distinct word(s) occur at least --min-count={min_count} times "
            f"in {stats.tokens} tokens; lower --min-count or give more text"
        )
    ids_path = workdir / "ids.npy"
    ids = np.lib.format.open_memmap(ids_path, mode="w+", dtype=np.int32, shape=(vocab.total,))
    written = 0
    for start in range(0, len(provisional), ID_CHUNK):
        mapped = remap[provisional[start : start + ID_CHUNK]]
        mapped = mapped[mapped >= 0]
        ids[written : written + len(mapped)] = mapped
        written += len(mapped)
    ids.flush()
    del provisional, ids
    provisional_path.unlink()
    return EncodedCorpus(vocab, np.load(ids_path, mmap_mode="r"), stats.tokens, stats.replaced_bytes)
