"""Cutting a corpus into pieces that can be encoded apart and give, in order, the serial
reader's tokens.

The text is cut at whitespace, in order: byte ranges of a large plain file (which the
workers read themselves), blocks of a compressed file or of standard input (decompressed
here and handed over, since a compressed stream can only be read from its start), and small
files whole.

Why a cut keeps the words: ``str.split`` of ``a + b``, where ``a`` ends with a whitespace
character, is ``a.split() + b.split()``; and just after a complete UTF-8 character the
decoder holds nothing, so ``a`` and ``b`` decode to the characters that ``a + b`` gives
(undecodable bytes included).  A cut is made just after whitespace, found in the bytes:
ASCII whitespace, or the UTF-8 bytes of another Unicode space.
"""

from __future__ import annotations

import functools
import os
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import W2GMError, os_reason
from .files import STDIN, Advance, Identity, Source, check_unchanged, display_name, open_source

#: The smallest piece worth a task (the first piece of a file is at least a block, where
#: the serial reader looks for binary data); plain files smaller than this in all are read
#: by one process.
MIN_PIECE_BYTES = 1 << 20
#: The largest piece: bounds the memory each piece in flight holds.
MAX_PIECE_BYTES = 32 << 20
#: Pieces per worker, when the input's size is known: enough that the workers finish together.
PIECES_PER_WORKER = 4
#: How far past a planned cut to look for whitespace.  A longer run with none is a token
#: far over the length limit (which the worker reading it reports), so the cut is dropped.
CUT_WINDOW = 1 << 20


@functools.cache
def _space_bytes() -> re.Pattern[bytes]:
    """The UTF-8 bytes of any character ``str.split`` breaks on.  None of them begins with
    a continuation byte, so a match never starts inside a character."""
    spaces = sorted(chr(code) for code in range(0x3001) if chr(code).isspace())
    return re.compile(b"|".join(re.escape(space.encode()) for space in spaces))


@dataclass(frozen=True)
class Piece:
    """A run of a file's (decompressed) text that starts at byte ``start`` and ends just
    after whitespace or at the end of the file: the bytes ``start:stop`` of the file itself
    (``stop`` None: to its end), or ``data`` handed over.  ``error``: the file could not be
    read this far, to be reported when the pieces before it have been."""

    path: Source
    file: int  # its place in the list of files (a file may be given twice)
    start: int
    stop: int | None = None
    data: bytes | None = None
    error: W2GMError | None = None
    #: The file as this process opened it, which a worker reading ``start:stop`` by name must find.
    identity: Identity | None = None


def piece_blocks(piece: Piece, block_bytes: int) -> Iterator[bytes]:
    """The piece's bytes a block at a time, then one empty block.  A piece read by name here
    must find the file as it was first opened, before its first byte and after its last."""
    if piece.data is not None:
        yield from (piece.data[at : at + block_bytes] for at in range(0, len(piece.data), block_bytes))
        yield b""
        return
    with _open_piece(piece) as handle:
        handle.seek(piece.start)
        left = -1 if piece.stop is None else piece.stop - piece.start
        while True:
            data = handle.read(block_bytes if left < 0 else min(block_bytes, left))
            left -= len(data) if left >= 0 else 0
            if not data:
                check_unchanged(handle, piece.identity, display_name(piece.path))
            yield data
            if not data:
                return


def check_piece_file(piece: Piece) -> None:
    """Refuse the piece's file if it is no longer as first opened (a fault found in a piece
    read by name is then put down to the change)."""
    if piece.data is None and piece.identity is not None:
        with _open_piece(piece):
            pass


def _open_piece(piece: Piece) -> BinaryIO:
    """The piece's file opened by name, checked to be the file first opened."""
    assert isinstance(piece.path, Path)
    name = display_name(piece.path)
    try:
        handle = open(piece.path, "rb")  # noqa: SIM115 - returned to the caller, which closes it
    except OSError as error:
        raise W2GMError(f"{name}: changed while it was being read (cannot open it again: {os_reason(error)})") \
            from None
    try:
        check_unchanged(handle, piece.identity, name)
    except W2GMError:
        handle.close()
        raise
    return handle


def file_pieces(
    path: Source, file: int, piece_bytes: int, block_bytes: int, advance: Advance | None
) -> Iterator[Piece]:
    """The pieces of one file, in order."""
    try:
        source = open_source(path)
    except W2GMError as error:
        yield Piece(path, file, 0, error=error)
        return
    if source.is_plain_file:
        with source:
            starts = range_starts(source.raw, source.raw.seek(0, os.SEEK_END), piece_bytes, block_bytes)
        for start, stop in zip(starts, [*starts[1:], None], strict=True):
            yield Piece(path, file, start, stop, identity=source.identity)
        return
    with source:
        yield from _stream_pieces(path, file, source.blocks(advance), piece_bytes, block_bytes)


def range_starts(handle: BinaryIO, size: int, piece_bytes: int, first_bytes: int = 0) -> list[int]:
    """Where the byte ranges of a plain file start: about every ``piece_bytes`` (the first
    range at least ``first_bytes`` long), each just after the first whitespace at or past
    that point."""
    starts = [0]
    for planned in range(max(piece_bytes, first_bytes), size, piece_bytes):
        if planned <= starts[-1]:
            continue  # the last cut was found beyond this point
        handle.seek(planned)
        found = _space_bytes().search(handle.read(CUT_WINDOW))
        if found is not None and planned + found.end() < size:
            starts.append(planned + found.end())
    return starts


def _stream_pieces(
    path: Source, file: int, blocks: Iterator[bytes], piece_bytes: int, block_bytes: int
) -> Iterator[Piece]:
    """Pieces of a stream's bytes, each cut just after its last whitespace (and at least a
    block long, so that the first block, where binary data is looked for, is the serial
    reader's).  A read error becomes a piece that raises it, in its place."""
    buffer, start = bytearray(), 0
    searched = 0  # the buffer holds no whitespace past its first block before this
    try:
        for data in blocks:
            buffer += data
            if data and len(buffer) < piece_bytes:
                continue
            cut = len(buffer) if not data else _after_last_space(buffer, max(searched - 3, block_bytes))
            searched = len(buffer)
            if cut < block_bytes and data:
                if len(buffer) < block_bytes + CUT_WINDOW:
                    continue
                # no whitespace in the last CUT_WINDOW bytes or more: a token far over the
                # length limit, which the worker reports
                cut = len(buffer)
            if cut or start == 0:
                yield Piece(path, file, start, data=bytes(buffer[:cut]))
            start += cut
            del buffer[:cut]
            searched = len(buffer)
    except W2GMError as error:
        yield Piece(path, file, start, error=error)


def _after_last_space(buffer: bytearray, begin: int) -> int:
    """Just after the last whitespace character that starts at or after ``begin``; 0 if none."""
    cut = max(buffer.rfind(b" ", begin), buffer.rfind(b"\n", begin))
    if cut >= 0:
        return cut + 1
    last = deque(_space_bytes().finditer(buffer, begin), maxlen=1)
    return last[0].end() if last else 0


def piece_size(files: list[Source], workers: int) -> int:
    """Bytes per piece: several pieces per worker when the input's size is known, within bounds."""
    if STDIN in files:
        return MAX_PIECE_BYTES
    total = sum(path.stat().st_size for path in files if isinstance(path, Path))
    return int(np.clip(total // (PIECES_PER_WORKER * workers), MIN_PIECE_BYTES, MAX_PIECE_BYTES))
