"""How text becomes words, for training and for every query of a trained model.

Two tokenizers, chosen with ``--tokenizer`` and recorded in the model file:

``words`` (the default), for raw text such as books or web pages.  The text is split at
whitespace (any Unicode space, as ``str.split`` does), each piece is casefolded (``Bank``,
``BANK`` -> ``bank``; ``Straße`` -> ``strasse``) and its words are kept:

* a word is a run of letters, digits and combining marks of any script (``naïve``,
  ``東京``, ``हिन्दी``, ``1984``), the text being NFC-normalised first (so a letter typed
  with a combining accent is the same word as the precomposed one);
* an apostrophe (``'``, or the typographic ``’`` and ``ʼ``, which count as ``'``) between
  two word characters stays inside the word: ``don't``, ``o'clock``, ``rock's``; at either
  end it is dropped (``'tis`` -> ``tis``, ``dogs'`` -> ``dogs``);
* a number keeps a ``.`` or ``,`` between digits: ``3.14``, ``1,000``, ``2.0.1``;
* everything else separates words and is dropped: punctuation, quotes, dashes and
  hyphens (``well-known`` -> ``well``, ``known``; ``word--word`` -> ``word``, ``word``),
  underscores (Gutenberg's ``_italics_``), symbols and control characters.

``whitespace`` keeps every whitespace-separated token as it is (``--lowercase`` lowercases
it), for text that is already tokenised, such as text8 or the Brown corpus.

Speed: a large text repeats a small set of distinct whitespace tokens, and the words of a
token depend on nothing else, so :class:`TokenIds` tokenizes each distinct token once and
remembers its word ids; the per-token work is then one dictionary lookup, less than the
``lower()`` and ``setdefault`` per token that a plain split needed.
"""

from __future__ import annotations

import functools
import re
import string
import unicodedata
from collections.abc import Callable
from typing import Any

import numpy as np

TOKENIZERS = ("words", "whitespace")

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u02bc": "'"})
#: Punctuation often found around a word: never part of one (so "_" and "'" belong here).
_EDGE_PUNCTUATION = string.punctuation + "“”‘’«»„‚‹›—–…¡¿"
#: Unicode assigns combining marks only in the first two planes and in plane 14.
_MARK_PLANES = (*range(0x20000), *range(0xE0000, 0xE1000))


@functools.cache
def _word_pattern() -> re.Pattern[str]:
    """A number with inner separators, else a run of word characters with inner
    apostrophes; numbers come first so that "3.14" is not cut at its dot.  Word characters
    are letters and digits (``\\w`` but "_") and combining marks, which ``\\w`` leaves out
    but which are part of words in Indic scripts, for instance.  Built on first use: it
    scans the planes where Unicode has marks (a few hundredths of a second)."""
    ranges: list[list[int]] = []
    for code in _MARK_PLANES:
        if unicodedata.category(chr(code)).startswith("M"):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    marks = "".join(f"\\U{first:08x}-\\U{last:08x}" for first, last in ranges)
    char = f"[\\w{marks}]"  # with "_", which split_words has turned into a space
    return re.compile(rf"\d+(?:[.,]\d+)+|{char}+(?:'{char}+)*")
#: Distinct tokens remembered before the cache starts afresh (bounds its memory on text
#: with an unbounded number of distinct tokens; each entry costs about 100 bytes).
CACHE_LIMIT = 4_000_000


def split_words(token: str) -> list[str]:
    """The words of one whitespace-separated token under the ``words`` tokenizer."""
    # Most tokens are one word, perhaps with punctuation around it ("bank," "“rock”"):
    # stripping that is much cheaper than the pattern, and :func:`_split_by_pattern` would
    # find the same word.
    core = token.strip(_EDGE_PUNCTUATION)
    if core.isascii() and core.isalnum():
        return [core.lower()]
    return _split_by_pattern(token)


def _split_by_pattern(token: str) -> list[str]:
    if not token.isascii():
        # one code point for a letter and its accent, when Unicode has one (NFC)
        token = unicodedata.normalize("NFC", token).translate(_APOSTROPHES)
    return _word_pattern().findall(token.casefold().replace("_", " "))


def token_splitter(tokenizer: str, lowercase: bool = False) -> Callable[[str], list[str]]:
    """The function giving a whitespace token's words under ``tokenizer``."""
    if tokenizer == "words":
        return split_words
    if tokenizer == "whitespace":
        return (lambda token: [token.lower()]) if lowercase else (lambda token: [token])
    raise ValueError(f"unknown tokenizer {tokenizer!r}")


def model_tokenizer(config: dict[str, Any]) -> tuple[str, bool]:
    """The tokenizer and lowercase flag a model was trained with.  Models written before
    the tokenizer was recorded were all trained on whitespace tokens."""
    tokenizer = config.get("tokenizer", "whitespace")
    return (tokenizer if tokenizer in TOKENIZERS else "whitespace"), bool(config.get("lowercase", False))


def query_normalizer(tokenizer: str, lowercase: bool = False) -> Callable[[str], str]:
    """How a word typed by a user (a query, a word of an evaluation file) becomes the form
    the model's vocabulary holds: ``"Bank"`` and ``"bank,"`` -> ``"bank"`` under ``words``.
    A query that is not exactly one word is only casefolded (and will not be found)."""
    split = token_splitter(tokenizer, lowercase)

    def normalize(word: str) -> str:
        words = split(word)
        if len(words) == 1:
            return words[0]
        return word.casefold() if tokenizer == "words" else word

    return normalize


class TokenIds(dict):
    """Whitespace token -> its word ids, filled on first sight: an id ``>= 0`` when the
    token is exactly one word (nearly always), else ``-(j + 1)`` where ``expansions[j]``
    holds its ids (none for pure punctuation, several for ``well-known``).

    ``index`` gives each new word the next id, in order of first appearance."""

    def __init__(self, split: Callable[[str], list[str]]) -> None:
        super().__init__()
        self.split = split
        self.index: dict[str, int] = {}
        self.expansions: list[np.ndarray] = []

    def __missing__(self, token: str) -> int:
        index = self.index
        words = self.split(token)
        if len(words) == 1:
            value = index.setdefault(words[0], len(index))
        else:
            self.expansions.append(np.asarray([index.setdefault(w, len(index)) for w in words], dtype=np.int64))
            value = -len(self.expansions)
        self[token] = value
        return value

    def encode(self, tokens: list[str]) -> np.ndarray:
        """The word ids of a list of whitespace tokens, in order."""
        if len(self) > CACHE_LIMIT:
            self.clear()
            self.expansions.clear()
        ids = np.fromiter(map(self.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        special = np.flatnonzero(ids < 0)
        if len(special) == 0:
            return ids
        pieces, previous = [], 0
        for at in special.tolist():
            pieces += (ids[previous:at], self.expansions[-ids[at] - 1])
            previous = at + 1
        pieces.append(ids[previous:])
        return np.concatenate(pieces)

    @property
    def words(self) -> list[str]:
        """Every word seen, in id order."""
        return list(self.index)
