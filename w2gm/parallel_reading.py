"""Reading and encoding a corpus with several processes, giving exactly the serial reader's ids.

The serial reader (:func:`w2gm.corpus.encode` with one worker) numbers the words in order
of first appearance.  Here the text is cut at whitespace into pieces, in order: byte ranges
of a large plain file (which the workers read themselves), blocks of a compressed file or
of standard input (decompressed here and handed over, since a compressed stream can only be
read from its start), and small files whole.  A worker encodes its piece with a numbering of
its own, in order of first appearance within the piece, and returns those local ids, the
local words and their counts.  Taking the pieces in text order, this process gives each
local word the global id it already has, or else the next one: the words new to the text
are numbered in order of their first appearance in the whole text, which is the serial
numbering, and the piece's ids are ``mapping[local ids]``.

Why a cut keeps the words: ``str.split`` of ``a + b``, where ``a`` ends with a whitespace
character, is ``a.split() + b.split()``; and just after a complete UTF-8 character the
decoder holds nothing, so ``a`` and ``b`` decode to the characters that ``a + b`` gives
(undecodable bytes included).  A cut is made just after whitespace, found in the bytes:
ASCII whitespace, or the UTF-8 bytes of another Unicode space.

Errors raised in a worker count lines and bytes from the start of its piece; the pieces are
taken in order, so the line breaks and bytes before a piece are known here and the error is
moved to its place in the file (:meth:`w2gm.corpus.TextError.shifted`).  At most two
pieces per worker are in flight, so memory stays bounded whatever the size of the text.

Workers are forked, so that they start in milliseconds with every module already imported
(a spawned one would import torch again); where fork is not available, reading is serial.
Input that makes a single piece is encoded in this process, without a pool.
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import multiprocessing
import os
import re
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import corpus
from .corpus import STDIN, Provisional, display_name
from .errors import TextError, W2GMError
from .tokenize import TokenIds

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
#: prctl's option that sends a process a signal when its parent ends (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def worker_count(requested: int, files: list[Path]) -> int:
    """How many processes read ``files``: ``requested``, 0 meaning one per CPU this process
    may use; one for plain files too small to cut, or where processes cannot be forked."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if STDIN not in files and sum(path.stat().st_size for path in files) < MIN_PIECE_BYTES:
        return 1
    if requested > 0:
        return requested
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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

    path: Path
    file: int  # its place in the list of files (a file may be given twice)
    start: int
    stop: int | None = None
    data: bytes | None = None
    error: W2GMError | None = None


@dataclass
class _Settings:
    split: Callable[[str], list[str]]
    encoding_errors: str
    block_bytes: int


@dataclass
class Encoded:
    """A piece as words numbered in order of first appearance within it."""

    ids: np.ndarray  # uint32 local ids
    words: list[str]
    counts: np.ndarray
    newlines: int
    replaced: int
    had_tokens: bool
    size: int  # bytes of text


_settings: _Settings | None = None
#: The worker's own numbering of the words it has met, kept from piece to piece so that each
#: distinct token is split once per worker, not once per piece; and those words in id order.
_token_ids: TokenIds | None = None
_words: list[str] = []


def _start_worker(settings: _Settings | None, in_pool: bool = True) -> None:
    """Make the worker's settings (None: forget them)."""
    global _settings, _token_ids, _words
    _settings, _token_ids, _words = settings, None if settings is None else TokenIds(settings.split), []
    if in_pool:
        # Ctrl-C reaches the whole process group: the parent stops the pool and cleans up
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        _end_with_parent()


def _end_with_parent() -> None:
    """Have Linux end this worker when the process that forked it ends, even killed
    outright (PR_SET_PDEATHSIG), rather than leave it to finish a piece nobody will take."""
    with suppress(AttributeError, OSError):  # not Linux
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _piece_blocks(piece: Piece, block_bytes: int) -> Iterator[bytes]:
    """The piece's bytes a block at a time, then one empty block."""
    if piece.data is not None:
        yield from (piece.data[at : at + block_bytes] for at in range(0, len(piece.data), block_bytes))
        yield b""
        return
    with open(piece.path, "rb") as handle:
        handle.seek(piece.start)
        left = -1 if piece.stop is None else piece.stop - piece.start
        while True:
            data = handle.read(block_bytes if left < 0 else min(block_bytes, left))
            left -= len(data) if left >= 0 else 0
            yield data
            if not data:
                return


def encode_piece(piece: Piece) -> Encoded:
    """Encode one piece with the worker's settings (as :func:`_start_worker` made them)."""
    if piece.error is not None:
        raise piece.error
    assert _settings is not None and _token_ids is not None
    replaced_before = corpus._replace_counter.count
    newlines = size = 0
    chunks = []

    def counted(blocks: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal newlines, size
        for data in blocks:
            newlines += data.count(b"\n")
            size += len(data)
            yield data

    blocks = counted(_piece_blocks(piece, _settings.block_bytes))
    for tokens in corpus.token_blocks(blocks, display_name(piece.path), _settings.encoding_errors, piece.start == 0):
        chunks.append(_token_ids.encode(tokens))
    # the words first met in this piece: the newest keys of the index (which keeps their order)
    _words.extend(reversed(list(itertools.islice(reversed(_token_ids.index), len(_token_ids.index) - len(_words)))))
    ids, words = _renumber(np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64), _words)
    return Encoded(ids, words, np.bincount(ids, minlength=len(words)), newlines,
                   corpus._replace_counter.count - replaced_before, bool(chunks), size)


def _renumber(ids: np.ndarray, words: list[str]) -> tuple[np.ndarray, list[str]]:
    """The piece's ids in the worker's numbering, renumbered in order of first appearance
    within the piece, and its words in that order."""
    first = np.full(len(words), len(ids), dtype=np.int64)
    np.minimum.at(first, ids, np.arange(len(ids)))
    present = np.flatnonzero(first < len(ids))
    order = present[np.argsort(first[present])]
    local = np.zeros(len(words), dtype=np.uint32)
    local[order] = np.arange(len(order), dtype=np.uint32)
    return local[ids], [words[i] for i in order.tolist()]


# ------------------------------------------------------------------ cutting the text into pieces


def _file_pieces(
    path: Path, file: int, piece_bytes: int, block_bytes: int, advance: corpus.Advance | None
) -> Iterator[Piece]:
    """The pieces of one file, in order."""
    try:
        handle, raw = corpus._open_binary(path)
    except W2GMError as error:
        yield Piece(path, file, 0, error=error)
        return
    if handle is raw and path != STDIN:
        with handle:
            starts = _range_starts(handle, handle.seek(0, os.SEEK_END), piece_bytes, block_bytes)
        for start, stop in zip(starts, [*starts[1:], None], strict=True):
            yield Piece(path, file, start, stop)
        return
    with handle:
        blocks = corpus._blocks(handle, display_name(path))
        if advance is not None:
            blocks = corpus._advancing(blocks, advance, raw, path == STDIN)
        yield from _stream_pieces(path, file, blocks, piece_bytes, block_bytes)


def _range_starts(handle: corpus.BinaryIO, size: int, piece_bytes: int, first_bytes: int = 0) -> list[int]:
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
    path: Path, file: int, blocks: Iterator[bytes], piece_bytes: int, block_bytes: int
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


def piece_size(files: list[Path], workers: int) -> int:
    """Bytes per piece: several pieces per worker when the input's size is known, within bounds."""
    if STDIN in files:
        return MAX_PIECE_BYTES
    total = sum(path.stat().st_size for path in files)
    return int(np.clip(total // (PIECES_PER_WORKER * workers), MIN_PIECE_BYTES, MAX_PIECE_BYTES))


# ------------------------------------------------------------------ the pool and the merge


def _in_order(pieces: Iterator[Piece], workers: int, settings: _Settings) -> Iterator[tuple[Piece, Future]]:
    """Each piece with its encoding to come, in order, at most two per worker in flight.
    A single piece is encoded here, with no pool to start."""
    head = list(itertools.islice(pieces, 2))
    if len(head) < 2:
        _start_worker(settings, in_pool=False)
        for piece in head:
            done: Future = Future()
            try:
                done.set_result(encode_piece(piece))
            except Exception as error:  # noqa: BLE001 - raised again by done.result()
                done.set_exception(error)
            finally:
                _start_worker(None, in_pool=False)
            yield piece, done
        return
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(settings,))
    pending: deque[tuple[Piece, Future]] = deque()
    try:
        with _signals_held():  # the first task forks every worker
            pending.append((head[0], pool.submit(encode_piece, head[0])))
        for piece in itertools.chain(head[1:], pieces):
            pending.append((piece, pool.submit(encode_piece, piece)))
            while len(pending) >= 2 * workers or (pending and pending[0][1].done()):
                yield pending.popleft()
        while pending:
            yield pending.popleft()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM held back, then raised again.  Forking runs Python hooks (logging's
    among them) in which the exception a handler raises (w2gm.stopping's for SIGTERM) would
    be printed and dropped, and the run would go on."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    numbers = (signal.SIGINT, signal.SIGTERM)
    previous = {number: signal.getsignal(number) for number in numbers}
    for number in numbers:
        if previous[number] is not None:  # None: a handler not set from Python, left alone
            signal.signal(number, lambda received, frame: held.append(received))
    try:
        yield
    finally:
        for number, handler in previous.items():
            if handler is not None:
                signal.signal(number, handler)
        for number in held:
            signal.raise_signal(number)


def write_provisional_ids(
    files: list[Path], provisional_path: Path, split: Callable[[str], list[str]], encoding_errors: str,
    bar: tqdm | None, workers: int, piece_bytes: int | None = None, block_bytes: int | None = None,
) -> Provisional:
    """As :func:`w2gm.corpus._write_provisional_ids`, with ``workers`` processes: the same
    ids, words and errors, and the words' counts."""
    block_bytes = block_bytes or corpus.BLOCK_BYTES
    piece_bytes = piece_bytes or piece_size(files, workers)
    advance = bar.update if bar is not None else None
    pieces = (piece for file, path in enumerate(files)
              for piece in _file_pieces(path, file, piece_bytes, block_bytes, advance))
    index: dict[str, int] = {}
    counts = np.zeros(1 << 16, dtype=np.int64)
    tokens = replaced = 0
    current, lines, had_tokens, before = None, 0, False, 0
    with open(provisional_path, "wb") as out, closing(
        _in_order(pieces, workers, _Settings(split, encoding_errors, block_bytes))
    ) as results:
        for piece, future in results:
            if piece.file != current:
                if current is not None and tokens == before:
                    raise corpus.no_words(files[current], had_tokens)
                current, lines, had_tokens, before = piece.file, 0, False, tokens
            encoded = _result(future, lines, piece.start)
            # words new to the text take the next ids, in their order of first appearance
            mapping = np.fromiter((index.setdefault(w, len(index)) for w in encoded.words), dtype=np.uint32,
                                  count=len(encoded.words))
            if len(index) > len(counts):
                counts = np.concatenate([counts, np.zeros(len(index) + len(counts), dtype=np.int64)])
            counts[mapping] += encoded.counts
            out.write(mapping[encoded.ids])
            lines += encoded.newlines
            had_tokens |= encoded.had_tokens
            tokens += len(encoded.ids)
            replaced += encoded.replaced
            if advance is not None and piece.data is None:
                advance(encoded.size)
            corpus.show_words(bar, tokens)
    if current is not None and tokens == before:
        raise corpus.no_words(files[current], had_tokens)
    return Provisional(list(index), counts[: len(index)], tokens, replaced)


def _result(future: Future, lines: int, start: int) -> Encoded:
    """The piece's encoding; an error found in it is moved to its place in the file, after
    the ``lines`` line breaks of the file's earlier pieces and the ``start`` bytes before it."""
    try:
        return future.result()
    except TextError as error:
        raise error.shifted(lines, start) from None
    except BrokenProcessPool:
        raise W2GMError("a reading process ended unexpectedly (out of memory?); try --read-workers 1") from None
