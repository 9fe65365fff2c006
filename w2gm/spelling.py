"""Finding words from what a user typed: prefix completion and "did you mean".

One rule for every suggestion w2gm makes, on the command line (a mistyped option,
subcommand or choice; an unknown word of a model) and in the explorer: difflib's ratio
against a set of candidates, at least :data:`CLOSE_MATCH_CUTOFF`.

Over a vocabulary both must stay cheap on 100k words, because the explorer answers every
keystroke and every mistyped word: prefixes are a binary search in a case-folded sorted
copy of the vocabulary, and close matches compare against a bounded pool of candidates
rather than all words (difflib over the whole vocabulary costs about a second a request).
"""

from __future__ import annotations

import bisect
import difflib
from collections.abc import Iterable, Sequence

import numpy as np

#: How many frequent words, and how many words sharing the first letter, a close match
#: is sought among.
CLOSE_MATCH_POOL = 3000
CLOSE_MATCH_CUTOFF = 0.6

#: Sorts after every character, so ``prefix + _END`` bounds the words starting with ``prefix``.
_END = "\U0010ffff"


def close_matches(typed: str, candidates: Iterable[str], limit: int = 5) -> list[str]:
    """The candidates spelled most like ``typed``, best first (equally close ones in sorted
    order, so that the answer is reproducible)."""
    if not typed:
        return []
    return difflib.get_close_matches(typed, sorted(set(candidates)), n=limit, cutoff=CLOSE_MATCH_CUTOFF)


_HINT = "; did you mean "


def did_you_mean(suggestions: Sequence[str], quote: bool = True) -> str:
    """``"; did you mean 'rock'?"`` (or ``'rock' or 'rocks'``) to end a message; empty
    when there is nothing to suggest."""
    if not suggestions:
        return ""
    shown = [repr(s) if quote else s for s in suggestions]
    listed = shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"
    return f"{_HINT}{listed}?"


def without_hint(message: str) -> str:
    """A message without the :func:`did_you_mean` it ends with, for a caller that shows
    the suggestions its own way."""
    return message.partition(_HINT)[0]


class WordLookup:
    """Prefix search and spelling suggestions over a vocabulary's words, most frequent
    first (an id is a frequency rank)."""

    def __init__(self, words: Sequence[str]) -> None:
        self._words = words
        folded = [word.casefold() for word in words]
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
        return close_matches(word, pool, limit)
