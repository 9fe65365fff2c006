"""Finding vocabulary words from what a user typed: prefix suggestions and close matches.

Both must stay cheap on a 100k-word vocabulary, because they answer every keystroke and
every mistyped word: prefixes are a binary search in a case-folded sorted copy of the
vocabulary, and close matches compare against a bounded pool of candidates rather than
all words (difflib over the whole vocabulary costs about a second a request).
"""

from __future__ import annotations

import bisect
import difflib

import numpy as np

from ..vocab import Vocabulary

#: How many frequent words, and how many words sharing the first letter, a close match
#: is sought among.
CLOSE_MATCH_POOL = 3000
CLOSE_MATCH_CUTOFF = 0.6

#: Sorts after every character, so ``prefix + _END`` bounds the words starting with ``prefix``.
_END = "\U0010ffff"


class WordLookup:
    """Prefix search and spelling suggestions over a vocabulary (ids are frequency ranks)."""

    def __init__(self, vocab: Vocabulary) -> None:
        self._words = vocab.words
        folded = [word.casefold() for word in vocab.words]
        order = sorted(range(len(folded)), key=folded.__getitem__)
        self._folded = [folded[i] for i in order]
        self._ids = np.asarray(order, dtype=np.int64)

    def _prefix_ids(self, prefix: str, limit: int) -> list[int]:
        """Ids of the ``limit`` most frequent words starting with ``prefix`` (any case)."""
        folded = prefix.casefold()
        low = bisect.bisect_left(self._folded, folded)
        high = bisect.bisect_left(self._folded, folded + _END, lo=low)
        ids = self._ids[low:high]
        if len(ids) > limit:
            # Frequency order is id order, so the most frequent are the smallest ids.
            ids = np.partition(ids, limit - 1)[:limit]
        return np.sort(ids).tolist()

    def complete(self, prefix: str, limit: int) -> list[str]:
        """The most frequent words starting with ``prefix``, ignoring case, most frequent first."""
        return [self._words[i] for i in self._prefix_ids(prefix, limit)]

    def close_matches(self, word: str, limit: int = 5) -> list[str]:
        """Vocabulary words spelled like ``word``, best first: the frequent words and
        those sharing its first letter are the candidates."""
        if not word:
            return []
        pool = set(self._words[:CLOSE_MATCH_POOL])
        pool.update(self._words[i] for i in self._prefix_ids(word[0], CLOSE_MATCH_POOL))
        # Sorted so that equally close candidates come out in a reproducible order.
        return difflib.get_close_matches(word, sorted(pool), n=limit, cutoff=CLOSE_MATCH_CUTOFF)
