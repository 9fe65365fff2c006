"""Tokens to word ids, in one process: the two passes and the vocabulary between them.

The first pass gives every word a provisional id in order of first appearance and writes the
text as those ids; counting them gives the vocabulary (words under the minimum count
dropped, as word2vec does, the rest numbered by frequency), and the second pass writes the
text's final ids to ``ids.npy``.  :mod:`w2gm.reading.parallel` makes the same ids with
several processes, through the same :func:`vocabulary`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import W2GMError
from ..progress import Progress
from ..tokenize import TokenIds
from ..vocab import Vocabulary
from .files import STDIN, Source, display_name
from .tokens import iter_token_blocks, replaced_bytes

#: Ids per step when counting and remapping the provisional id file.
ID_CHUNK = 1 << 22


@dataclass
class Provisional:
    """What a first pass over the text found: its words in order of first appearance (the
    provisional ids), how often each occurs when the pass counted them, the number of word
    tokens and of undecodable bytes replaced."""

    words: list[str]
    counts: np.ndarray | None
    tokens: int
    replaced: int


def write_provisional_ids(
    files: list[Source], provisional_path: Path, token_ids: TokenIds, encoding_errors: str, bar: Progress | None
) -> Provisional:
    """Write the text as word ids in order of each word's first appearance (``token_ids``
    keeps the words)."""
    words = 0
    replaced_before = replaced_bytes()
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
    return Provisional(token_ids.words, None, words, replaced_bytes() - replaced_before)


def show_words(bar: Progress | None, words: int) -> None:
    if bar is not None:
        bar.describe(f"{words:,} words")


def no_words(path: Source, had_tokens: bool) -> W2GMError:
    return W2GMError(f"{display_name(path)}: no words in this {_emptiness(path, had_tokens)}")


def _emptiness(path: Source, had_tokens: bool) -> str:
    """Why a file gave no words."""
    what = "input" if path is STDIN else "file"
    if had_tokens:
        return f"{what} (punctuation only)"
    if isinstance(path, Path) and path.stat().st_size == 0:
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


def write_ids(
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
