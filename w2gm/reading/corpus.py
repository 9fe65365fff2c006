"""Streaming raw text of any size into a compact, memory-mapped array of word ids.

Text is read in fixed-size blocks (so a 100 MB file that is a single line costs no more
memory than any other), decompressed on the fly when it is gzip, bzip2 or xz (recognised
by content, not by name; :mod:`.files`), decoded as UTF-8, split on whitespace
(:mod:`.tokens`) and turned into words by the tokenizer (:mod:`w2gm.tokenize`); ``-``
names standard input, read the same way.  One pass assigns every word a provisional id in
order of first appearance; counting those ids then gives the vocabulary, and a remapping
pass writes the final ids (dropping words under the minimum count, as word2vec does) to
``ids.npy``, which each epoch memory-maps (:mod:`.ids`).  Both passes can be shared out
among processes (:mod:`.parallel`), with the same ids.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import W2GMError, os_reason
from ..progress import Progress
from ..tokenize import TokenIds, token_splitter
from ..vocab import Vocabulary
from . import parallel
from .files import STDIN, Source, expand_paths
from .ids import write_ids, write_provisional_ids


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
    :mod:`w2gm.reading.parallel`, which gives the same ids).  On any failure the files this
    wrote are removed, and a failure to write them (a full disk) is a W2GMError."""
    files = expand_paths(paths)
    workdir = Path(workdir)
    provisional_path, ids_path = workdir / "provisional_ids.bin", workdir / "ids.npy"
    bar = _reading_bar(files) if progress else None
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        split = token_splitter(tokenizer, lowercase)
        workers = parallel.worker_count(read_workers, files)
        if workers > 1:
            vocab, found = parallel.encode(
                files, ids_path, split, encoding_errors, bar, workers, min_count, max_vocab
            )
        else:
            found = write_provisional_ids(files, provisional_path, TokenIds(split), encoding_errors, bar)
            vocab = write_ids(found, provisional_path, ids_path, min_count, max_vocab)
            provisional_path.unlink()
        if bar is not None:
            bar.milestone()
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


def _reading_bar(files: list[Source]) -> Progress:
    """Bytes read (of the files as stored, compressed or not) and words found so far."""
    sizes = [path.stat().st_size if isinstance(path, Path) else 0 for path in files]
    total = None if STDIN in files else sum(sizes)
    # leave=False: the training bar takes its place
    return Progress("reading", total, "B", binary=True, leave=False)
