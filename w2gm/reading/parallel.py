"""Reading and encoding a corpus with several processes, giving exactly the serial reader's ids.

The serial reader (:mod:`w2gm.reading.ids`, which :func:`w2gm.reading.corpus.encode` takes
with one worker) numbers the words in order of first appearance, then renumbers them by
frequency.  Here the text is cut into pieces at whitespace (:mod:`w2gm.reading.pieces`), which
a pool of workers encodes in two passes:

1. A worker encodes its piece with a numbering of its own, in order of first appearance
   within the piece, writes those local ids to a file of the piece's own, and returns the
   local words and their counts.  Taking the pieces in text order, this process gives each
   local word the global id it already has, or else the next one: the words new to the text
   are numbered in order of their first appearance in the whole text, which is the serial
   numbering.  Only words and counts cross between processes.
2. With every count known, the vocabulary is built as the serial reader builds it.  A
   piece's local ids then map straight to final ids (``remap[mapping]``, -1 for a word
   dropped), and the number of tokens it keeps, hence where they go in ``ids.npy``, follows
   from its counts; the workers write the pieces' final ids in place, all at once.

Errors raised in a worker count lines and bytes from the start of its piece; the pieces are
taken in order, so the line breaks and bytes before a piece are known here and the error is
moved to its place in the file (:meth:`w2gm.errors.TextError.shifted`).  At most two
pieces per worker are in flight, so memory stays bounded whatever the size of the text.

Workers are forked, so that they start in milliseconds with every module already imported
(a spawned one would import torch again); where fork is not available, reading is serial.
Input that makes a single piece is encoded in this process, without a pool.
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import os
import shutil
import signal
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np

from ..errors import TextError, W2GMError
from ..progress import Progress
from ..stopping import signals_held
from ..tokenize import TokenIds
from ..vocab import Vocabulary
from . import files as corpus_files
from . import pieces
from .files import STDIN, Source, display_name
from .ids import Provisional, no_words, show_words, vocabulary
from .pieces import Piece
from .tokens import replaced_bytes, token_blocks

T = TypeVar("T")

#: The folder, beside ``ids.npy``, that holds each piece's ids between the two passes.
SPOOL = ".w2gm-pieces"
#: prctl's option that sends a process a signal when its parent ends (linux/prctl.h).
PR_SET_PDEATHSIG = 1


def worker_count(requested: int, files: list[Source]) -> int:
    """How many processes read ``files``: ``requested``, 0 meaning one per CPU this process
    may use; one for plain files too small to cut, or where processes cannot be forked."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if STDIN not in files and sum(path.stat().st_size for path in files if isinstance(path, Path)) \
            < pieces.MIN_PIECE_BYTES:
        return 1
    if requested > 0:
        return requested
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass
class _Settings:
    split: Callable[[str], list[str]]
    encoding_errors: str
    block_bytes: int


@dataclass
class Encoded:
    """A piece as words numbered in order of first appearance within it; the local ids
    themselves are in the piece's file."""

    words: list[str]
    counts: np.ndarray
    newlines: int
    replaced: int
    had_tokens: bool
    size: int  # bytes of text


@dataclass
class _Spooled:
    """A piece read: the file of its local ids, the global provisional id of each local word
    and how often the piece holds it."""

    path: Path
    mapping: np.ndarray
    counts: np.ndarray


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



def encode_piece(piece: Piece, ids_path: Path) -> Encoded:
    """Encode one piece with the worker's settings (as :func:`_start_worker` made them),
    writing its local ids (uint32) to ``ids_path``."""
    if piece.error is not None:
        raise piece.error
    assert _settings is not None and _token_ids is not None
    replaced_before = replaced_bytes()
    newlines = size = 0
    chunks = []

    def counted(blocks: Iterator[bytes]) -> Iterator[bytes]:
        nonlocal newlines, size
        for data in blocks:
            newlines += data.count(b"\n")
            size += len(data)
            yield data

    blocks = counted(pieces.piece_blocks(piece, _settings.block_bytes))
    try:
        for tokens in token_blocks(blocks, display_name(piece.path), _settings.encoding_errors, piece.start == 0):
            chunks.append(_token_ids.encode(tokens))
    except W2GMError:
        pieces.check_piece_file(piece)
        raise
    # the words first met in this piece: the newest keys of the index (which keeps their order)
    _words.extend(reversed(list(itertools.islice(reversed(_token_ids.index), len(_token_ids.index) - len(_words)))))
    ids, words = _renumber(np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64), _words)
    ids.tofile(ids_path)
    return Encoded(words, np.bincount(ids, minlength=len(words)), newlines,
                   replaced_bytes() - replaced_before, bool(chunks), size)

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



def _write_final(piece: _Spooled, final: np.ndarray, ids_path: Path, offset: int) -> None:
    """Write the piece's final ids (``final[local id]``, the -1 of dropped words left out)
    into ``ids_path`` from ``offset`` on, and remove the piece's file."""
    mapped = final[np.fromfile(piece.path, dtype=np.uint32)]
    mapped = mapped[mapped >= 0]
    ids = np.load(ids_path, mmap_mode="r+")
    ids[offset : offset + len(mapped)] = mapped
    ids.flush()
    del ids
    piece.path.unlink()


# ------------------------------------------------------------------ the pool and the merge


@contextmanager
def _pool(workers: int, settings: _Settings | None, tasks: int) -> Iterator[ProcessPoolExecutor | None]:
    """A pool of ``workers`` forked processes with ``settings``, or None (work in this
    process) for fewer than two tasks; shut down, queued tasks cancelled, on leaving."""
    if tasks < 2:
        _start_worker(settings, in_pool=False)
        try:
            yield None
        finally:
            _start_worker(None, in_pool=False)
        return
    context = multiprocessing.get_context("fork")
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(settings,))
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _submit(pool: ProcessPoolExecutor | None, function: Callable, *args: object) -> Future:
    """``function(*args)`` in the pool, or here (None), as a future."""
    if pool is not None:
        # the first task forks every worker: forking runs Python hooks (logging's among
        # them) in which the exception a signal handler raises (w2gm.stopping's for SIGTERM)
        # would be printed and dropped, and the run would go on
        with signals_held():
            return pool.submit(function, *args)
    done: Future = Future()
    try:
        done.set_result(function(*args))
    except Exception as error:  # noqa: BLE001 - raised again by done.result()
        done.set_exception(error)
    return done


def _in_order(
    parts: Iterator[Piece], workers: int, settings: _Settings, spool: Path
) -> Iterator[tuple[Piece, Path, Future]]:
    """Each piece with the file of its ids and its encoding to come, in order, at most two
    per worker in flight."""
    head = list(itertools.islice(parts, 2))
    numbered = ((piece, spool / f"{number:08d}.ids") for number, piece in enumerate(itertools.chain(head, parts)))
    with _pool(workers, settings, len(head)) as pool:
        pending: deque[tuple[Piece, Path, Future]] = deque()
        for piece, path in numbered:
            pending.append((piece, path, _submit(pool, encode_piece, piece, path)))
            while len(pending) >= 2 * workers or (pending and pending[0][2].done()):
                yield pending.popleft()
        while pending:
            yield pending.popleft()

def encode(
    files: list[Source], ids_path: Path, split: Callable[[str], list[str]], encoding_errors: str, bar: Progress | None,
    workers: int, min_count: int, max_vocab: int | None, piece_bytes: int | None = None,
    block_bytes: int | None = None,
) -> tuple[Vocabulary, Provisional]:
    """As :mod:`w2gm.reading.ids`'s serial passes, with ``workers`` processes: the same
    ids written to ``ids_path``, the same vocabulary, words and errors."""
    spool = ids_path.parent / SPOOL
    shutil.rmtree(spool, ignore_errors=True)  # left by a run killed while reading
    spool.mkdir()
    try:
        found, spooled = _read_pieces(files, spool, split, encoding_errors, bar, workers, piece_bytes, block_bytes)
        vocab, remap = vocabulary(found, min_count, max_vocab)
        _write_ids(spooled, remap, ids_path, vocab.total, workers)
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return vocab, found


def _read_pieces(
    files: list[Source], spool: Path, split: Callable[[str], list[str]], encoding_errors: str, bar: Progress | None,
    workers: int, piece_bytes: int | None, block_bytes: int | None,
) -> tuple[Provisional, list[_Spooled]]:
    """The first pass: every piece's local ids in a file of ``spool``, the words numbered in
    order of first appearance in the text, and their counts."""
    block_bytes = block_bytes or corpus_files.BLOCK_BYTES
    piece_bytes = piece_bytes or pieces.piece_size(files, workers)
    advance = bar.update if bar is not None else None
    parts = (piece for file, path in enumerate(files)
             for piece in pieces.file_pieces(path, file, piece_bytes, block_bytes, advance))
    index: dict[str, int] = {}
    counts = np.zeros(1 << 16, dtype=np.int64)
    spooled: list[_Spooled] = []
    tokens = replaced = 0
    current, lines, had_tokens, before = None, 0, False, 0
    with closing(_in_order(parts, workers, _Settings(split, encoding_errors, block_bytes), spool)) as results:
        for piece, path, future in results:
            if piece.file != current:
                if current is not None and tokens == before:
                    raise no_words(files[current], had_tokens)
                current, lines, had_tokens, before = piece.file, 0, False, tokens
            encoded = _result(future, lines, piece.start)
            # words new to the text take the next ids, in their order of first appearance
            mapping = np.fromiter((index.setdefault(w, len(index)) for w in encoded.words), dtype=np.int64,
                                  count=len(encoded.words))
            if len(index) > len(counts):
                counts = np.concatenate([counts, np.zeros(len(index) + len(counts), dtype=np.int64)])
            counts[mapping] += encoded.counts
            spooled.append(_Spooled(path, mapping, encoded.counts))
            lines += encoded.newlines
            had_tokens |= encoded.had_tokens
            tokens += int(encoded.counts.sum())
            replaced += encoded.replaced
            if advance is not None and piece.data is None:
                advance(encoded.size)
            show_words(bar, tokens)
    if current is not None and tokens == before:
        raise no_words(files[current], had_tokens)
    return Provisional(list(index), counts[: len(index)], tokens, replaced), spooled


def _write_ids(spooled: list[_Spooled], remap: np.ndarray, ids_path: Path, total: int, workers: int) -> None:
    """The second pass: each piece's final ids written in place, by the pool."""
    ids = np.lib.format.open_memmap(ids_path, mode="w+", dtype=np.int32, shape=(total,))
    del ids  # the header is written; the workers map the file themselves
    offset = 0
    with _pool(workers, None, len(spooled)) as pool:
        futures = []
        for piece in spooled:
            final = remap[piece.mapping].astype(np.int32)
            futures.append(_submit(pool, _write_final, piece, final, ids_path, offset))
            offset += int(piece.counts[final >= 0].sum())
        for future in futures:
            _result(future, 0, 0)
    assert offset == total, (offset, total)


def _result(future: Future[T], lines: int, start: int) -> T:
    """The task's result; an error found in it is moved to its place in the file, after
    the ``lines`` line breaks of the file's earlier pieces and the ``start`` bytes before it."""
    try:
        return future.result()
    except TextError as error:
        raise error.shifted(lines, start) from None
    except BrokenProcessPool:
        raise W2GMError("a reading process ended unexpectedly (out of memory?); try --read-workers 1") from None
