"""The corpus as files, and each file as blocks of bytes.

Paths name files, directories (their files, recursively) or ``-`` for standard input.  A
file is opened as its decompressed bytes when it is gzip, bzip2 or xz (recognised by
content, not by name) and read in fixed-size blocks, so that a 100 MB file that is a single
line costs no more memory than any other.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import W2GMError, os_reason

BLOCK_BYTES = 1 << 22
_MAGIC = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}

#: The corpus argument that names standard input.
STDIN = Path("-")
STDIN_NAME = "<stdin>"

SAMPLE_CORPUS = "sample_text8.txt.xz"

#: Told the number of bytes read since it was last told.
Advance = Callable[[int], object]


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


def open_binary(path: Path) -> tuple[BinaryIO, BinaryIO]:
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


def read_blocks(handle: BinaryIO, name: str) -> Iterator[bytes]:
    """The (decompressed) bytes of ``handle`` a block at a time, then one empty block."""
    while True:
        try:
            data = handle.read(BLOCK_BYTES)
        except (OSError, EOFError, ValueError, lzma.LZMAError, zlib.error) as error:
            raise W2GMError(f"{name}: corrupt or truncated compressed data ({error})") from None
        yield data
        if not data:
            return


def advancing(blocks: Iterator[bytes], advance: Advance, raw: BinaryIO, is_stdin: bool) -> Iterator[bytes]:
    """``blocks``, telling ``advance`` how far into the stored file (compressed or not) each one reaches."""
    position = 0
    for data in blocks:
        now = position + len(data) if is_stdin else raw.tell()
        advance(now - position)
        position = now
        yield data
