"""The corpus as files, and each file as blocks of bytes.

Paths name files, directories (their files, recursively) or, as the argument ``-`` exactly,
standard input: that is decided on the argument as given, so that ``./-`` or ``Path("-")``
names a file called ``-``, and :data:`STDIN` is an object no path equals.  A file is opened
as its decompressed bytes when it is gzip, bzip2 or xz (recognised by content, not by name)
and read in fixed-size blocks, so that a 100 MB file that is a single line costs no more
memory than any other.

A file is opened once by name; its :class:`Identity` then (device, inode, size,
modification time) is what every later read of it must still find (a worker reading a
piece by name, the end of a serial read): a file renamed over, truncated or written to
while the corpus is read is refused, never read as a mix of old and new text.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, BinaryIO

from ..errors import W2GMError, os_reason

BLOCK_BYTES = 1 << 22
_MAGIC = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}

#: The corpus argument that names standard input, compared with the argument as given.
STDIN_ARGUMENT = "-"
STDIN_NAME = "<stdin>"


class StandardInput:
    """Standard input as a corpus source: not a path, so that no path (``./-``, ``Path("-")``)
    is taken for it."""

    def __repr__(self) -> str:
        return "STDIN"

    def __str__(self) -> str:
        return STDIN_NAME


STDIN = StandardInput()
#: A file of the corpus, or standard input.
Source = Path | StandardInput

SAMPLE_CORPUS = "sample_text8.txt.xz"

#: Told the number of bytes read since it was last told.
Advance = Callable[[int], object]


def sample_corpus_path() -> Path:
    """The small Wikipedia sample shipped with the package (see data/PROVENANCE.md)."""
    return Path(str(resources.files("w2gm") / "data" / SAMPLE_CORPUS))


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Source]:
    """Files as given, directories replaced by their files (recursively, sorted, hidden
    skipped), the string ``-`` by :data:`STDIN`."""
    files: list[Source] = []
    for given in paths:
        if isinstance(given, str) and given == STDIN_ARGUMENT:
            if STDIN in files:
                raise W2GMError("standard input (-) can be read only once")
            files.append(STDIN)
            continue
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


def display_name(path: Source) -> str:
    return str(path)


@dataclass(frozen=True)
class Identity:
    """What makes a file the one that was first opened, unchanged: its device and inode (a
    file renamed over it has others), its size and modification time (a file written to in
    place has others)."""

    device: int
    inode: int
    size: int
    modified_ns: int

    @classmethod
    def of(cls, handle: BinaryIO) -> Identity:
        info = os.fstat(handle.fileno())
        return cls(info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def check_unchanged(handle: BinaryIO, expected: Identity | None, name: str) -> None:
    """Refuse a file whose open ``handle`` is no longer the file first opened (None: standard
    input, which nothing can replace)."""
    if expected is not None and Identity.of(handle) != expected:
        raise W2GMError(f"{name}: changed while it was being read (replaced, truncated or written to); "
                        "train on a copy that nothing writes to")


@dataclass
class OpenSource:
    """A corpus source opened once: its (decompressed) bytes, the raw file under them (whose
    position says how far reading has come) and its identity when opened."""

    source: Source
    text: BinaryIO
    raw: BinaryIO
    identity: Identity | None

    @property
    def name(self) -> str:
        return display_name(self.source)

    @property
    def is_plain_file(self) -> bool:
        """Uncompressed and seekable: can be cut into byte ranges that others read by name."""
        return self.text is self.raw and self.source is not STDIN

    def blocks(self, advance: Advance | None = None) -> Iterator[bytes]:
        """The (decompressed) bytes a block at a time, then one empty block once the file is
        known to be unchanged since it was opened."""
        blocks = read_blocks(self.text, self.name)
        if advance is not None:
            blocks = advancing(blocks, advance, self.raw, self.source is STDIN)
        for data in blocks:
            if not data:
                check_unchanged(self.raw, self.identity, self.name)
            yield data

    def __enter__(self) -> OpenSource:
        return self

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        """Close; a reading error (corrupt data, a binary byte) in a file that has changed
        since it was opened is reported as the change, its likely cause."""
        try:
            if isinstance(error, W2GMError):
                check_unchanged(self.raw, self.identity, self.name)
        finally:
            if self.text is not self.raw:
                self.text.close()
            if self.source is not STDIN:
                self.raw.close()


def open_source(path: Source) -> OpenSource:
    """Open a file (or standard input) as its decompressed bytes."""
    identity = None
    if path is STDIN:
        raw: Any = sys.stdin.buffer
        head = raw.peek(6)[:6]  # a pipe cannot seek back
    else:
        try:
            raw = open(path, "rb")  # noqa: SIM115 - closed by OpenSource
        except OSError as error:
            raise W2GMError(f"{path}: cannot open: {os_reason(error)}") from None
        identity = Identity.of(raw)
        head = raw.read(6)
        raw.seek(0)
    for magic, opener in _MAGIC.items():
        if head.startswith(magic):
            return OpenSource(path, opener(raw), raw, identity)
    return OpenSource(path, raw, raw, identity)


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
