"""The vocabulary: words sorted by frequency with their counts, and the two word
distributions sampling needs (subsampling keep probabilities and the negative table)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .errors import UnknownKeyError, W2GMError
from .spelling import WordLookup, did_you_mean


@dataclass
class Vocabulary:
    """Words in decreasing frequency order; ``counts[i]`` is how often ``words[i]`` occurs."""

    words: list[str]
    counts: np.ndarray
    index: dict[str, int] = field(init=False, repr=False)
    #: Maps a word as a user writes it to the vocabulary's form (the model's tokenizer,
    #: :func:`w2gm.tokenize.query_normalizer`); None: words are looked up as written.
    normalize: Callable[[str], str] | None = field(default=None, repr=False, compare=False)
    _lookup: WordLookup | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.counts = np.asarray(self.counts, dtype=np.int64)
        if len(self.words) != len(self.counts):
            raise ValueError("words and counts differ in length")
        self.index = {word: i for i, word in enumerate(self.words)}

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: object) -> bool:
        return isinstance(word, str) and self.find(word) >= 0

    @property
    def total(self) -> int:
        """Tokens in the corpus that belong to the vocabulary."""
        return int(self.counts.sum())

    def find(self, word: str) -> int:
        """The id of ``word`` as written, else of its normalised form; -1 if neither is known."""
        found = self.index.get(word, -1)
        if found < 0 and self.normalize is not None:
            found = self.index.get(self.normalize(word), -1)
        return found

    def id(self, word: str) -> int:
        if not isinstance(word, str):
            raise W2GMError(f"a word must be a string, got {type(word).__name__} {word!r}")
        found = self.find(word)
        if found < 0:
            raise UnknownKeyError(f"unknown word {word!r}: not in the model's vocabulary{self.did_you_mean(word)}")
        return found

    @property
    def lookup(self) -> WordLookup:
        """Prefix completion and close matches over these words (built on first use)."""
        if self._lookup is None:
            self._lookup = WordLookup(self.words)
        return self._lookup

    def did_you_mean(self, word: str) -> str:
        """``"; did you mean 'rock'?"`` for an unknown ``word``, or nothing."""
        return did_you_mean(self.lookup.close_matches(word, limit=3))

    @classmethod
    def from_counts(
        cls,
        words: list[str],
        counts: np.ndarray,
        min_count: int,
        max_vocab: int | None = None,
    ) -> tuple[Vocabulary, np.ndarray]:
        """Keep words seen at least ``min_count`` times (at most ``max_vocab``, most frequent
        first; ties keep first-seen order) and return the vocabulary with the map from the
        given word positions to new ids, -1 for dropped words."""
        counts = np.asarray(counts, dtype=np.int64)
        order = np.argsort(-counts, kind="stable")
        order = order[counts[order] >= min_count]
        if max_vocab is not None:
            order = order[:max_vocab]
        remap = np.full(len(words), -1, dtype=np.int64)
        remap[order] = np.arange(len(order))
        return cls([words[i] for i in order], counts[order]), remap

    def keep_probabilities(self, threshold: float) -> np.ndarray:
        """Subsampling (A.2): word w is discarded with probability 1 - sqrt(t / f(w)),
        f the word's relative frequency; threshold 0 keeps everything."""
        if threshold <= 0:
            return np.ones(len(self), dtype=np.float64)
        frequency = self.counts / self.total
        return np.minimum(1.0, np.sqrt(threshold / frequency))

    def negative_distribution(self, power: float) -> np.ndarray:
        """P_n(w) proportional to U(w)^power (A.2 uses 3/4)."""
        weights = self.counts.astype(np.float64) ** power
        return weights / weights.sum()


def lookup_ids(vocab: Vocabulary, words: Sequence[str]) -> np.ndarray:
    """Vocabulary ids of ``words`` (as written, else normalised by the model's tokenizer,
    else lowercased), -1 where unknown."""
    found = (vocab.find(word) for word in words)
    return np.fromiter(
        (i if i >= 0 else vocab.find(word.lower()) for i, word in zip(found, words, strict=True)),
        dtype=np.int64, count=len(words),
    )
