"""Readers for the evaluation files, in the formats they are really distributed in.

* word-pair similarity sets (paper 4.3): ``word1 word2 score`` rows separated by tabs,
  commas or spaces, with or without a header line.  The first row is a header when its
  third field is not a number; a header may name the score column (SimLex-999's
  ``SimLex999``, WordSim-353's ``Human (mean)``), otherwise the score is the third field,
  so Stanford RW's ``rw.txt`` (average, then the ten ratings) reads too.
* SCWS (4.4): Huang et al.'s ``ratings.txt``, each pair with both words in a sentence.
* Baroni et al. 2012 entailment (4.6): ``positive-`` / ``negative-examples.txtinput``.

Part-of-speech tags (MEN's lemma form ``sun-n``, Baroni's ``aircraft-n``) are stripped
when *every* word of a file carries one, so a hyphenated word in an untagged file keeps
its hyphen.  Files may be gzip-compressed (``.gz``).  Any row that does not parse raises
a one-line :class:`W2GMError` naming the file and line.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import W2GMError, os_reason

#: A tag ``-n`` (noun), ``-v`` (verb), ``-j``/``-a`` (adjective) or ``-r`` (adverb).
POS_TAG = re.compile(r"^(.+)-[nvjar]$")

#: Header names of a score column, best first (compared case-insensitively).
SCORE_COLUMNS = ("simlex999", "human (mean)", "score", "similarity", "relatedness", "mean")


@dataclass(frozen=True)
class WordPairs:
    """Word pairs with a human similarity score each."""

    name: str
    path: str
    first: list[str]
    second: list[str]
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.first)


@dataclass(frozen=True)
class LabelledPairs:
    """Word pairs ``(w1, w2)`` labelled True when w1 entails w2 (w1 is a kind of w2)."""

    name: str
    first: list[str]
    second: list[str]
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.first)


@dataclass(frozen=True)
class WordInContext:
    """A word and the sentence it occurs in (markers removed), the word at ``position``."""

    word: str
    context: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class ContextPair:
    """One SCWS item: two words in context and their average human rating."""

    first: WordInContext
    second: WordInContext
    score: float


# ------------------------------------------------------------------ lines
def numbered_lines(path: str | os.PathLike) -> Iterator[tuple[int, str]]:
    """``(line number, text)`` for each line, CR/LF stripped; ``.gz`` files are decompressed."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except FileNotFoundError:
        raise W2GMError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise W2GMError(f"{path}: is a directory, not a data file") from None
    except (OSError, EOFError, zlib.error) as error:
        raise W2GMError(f"{path}: cannot read: {os_reason(error)}") from None
    for number, line in enumerate(raw.split(b"\n"), start=1):
        if b"\x00" in line:
            raise W2GMError(f"{path}:{number}: NUL byte: a binary file, not text")
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError as error:
            reason = f"{error.reason} at byte {error.start}"
            raise W2GMError(f"{path}:{number}: not UTF-8 text ({reason})") from None
        yield number, text.rstrip("\r")


def _fields(path: str | os.PathLike) -> Iterator[tuple[int, list[str]]]:
    """Split data rows on the file's delimiter, decided by its first data row: a tab if it
    has one, else a comma if it has one, else runs of spaces.  Blank lines and ``#``
    comments are skipped."""
    delimiter: str | None = None
    decided = False
    for number, line in numbered_lines(path):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if not decided:
            delimiter = "\t" if "\t" in line else "," if "," in line else None
            decided = True
        parts = line.split(delimiter) if delimiter else line.split()
        yield number, [part.strip() for part in parts]


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if np.isfinite(value) else None


def _score_column(header: list[str]) -> int:
    """The column a header names as the score's; the first two columns are the words."""
    names = [name.lower() for name in header[2:]]
    for wanted in SCORE_COLUMNS:
        if wanted in names:
            return 2 + names.index(wanted)
    return 2


def _strip_tags(first: list[str], second: list[str]) -> tuple[list[str], list[str]]:
    """Drop the POS tags of both columns if every word of the file has one; otherwise
    return the words unchanged."""
    matches = [POS_TAG.match(word) for word in first + second]
    if not all(matches):
        return first, second
    words = [match.group(1) for match in matches]  # type: ignore[union-attr]
    return words[: len(first)], words[len(first) :]


# ----------------------------------------------------------- similarity
def read_word_pairs(path: str | os.PathLike, name: str | None = None) -> WordPairs:
    """Read a word-similarity file (see the module docstring for the formats)."""
    first: list[str] = []
    second: list[str] = []
    scores: list[float] = []
    column = 2
    header_allowed = True
    for number, fields in _fields(path):
        if header_allowed and len(fields) > 2 and _number(fields[2]) is None:
            column = _score_column(fields)  # the first row is a header: it may name the score column
            header_allowed = False
            continue
        header_allowed = False
        if len(fields) <= column:
            raise W2GMError(f"{path}:{number}: expected two words and a score, got {len(fields)} field(s)")
        score = _number(fields[column])
        if score is None:
            raise W2GMError(f"{path}:{number}: score {fields[column]!r} is not a finite number")
        if not fields[0] or not fields[1]:
            raise W2GMError(f"{path}:{number}: empty word")
        first.append(fields[0])
        second.append(fields[1])
        scores.append(score)
    if not scores:
        raise W2GMError(f"{path}: no word pairs found")
    first, second = _strip_tags(first, second)
    return WordPairs(
        name=name or Path(path).name.removesuffix(".gz"),
        path=str(path),
        first=first,
        second=second,
        scores=np.asarray(scores, dtype=np.float64),
    )


# ------------------------------------------------------------ entailment
def read_labelled_pairs(path: str | os.PathLike, label: bool) -> LabelledPairs:
    """Read ``w1 w2`` rows (tags stripped), all given the same entailment label."""
    first: list[str] = []
    second: list[str] = []
    for number, fields in _fields(path):
        if len(fields) != 2 or not all(fields):
            raise W2GMError(f"{path}:{number}: expected two words, got {len(fields)} field(s)")
        first.append(fields[0])
        second.append(fields[1])
    if not first:
        raise W2GMError(f"{path}: no word pairs found")
    first, second = _strip_tags(first, second)
    return LabelledPairs(name=Path(path).name, first=first, second=second, labels=np.full(len(first), label))


def read_entailment(directory: str | os.PathLike, name: str = "Baroni2012") -> LabelledPairs:
    """Baroni et al. 2012: ``positive-examples.txtinput`` (w1 entails w2) followed by
    ``negative-examples.txtinput``, each optionally gzip-compressed."""
    parts = [
        read_labelled_pairs(find_file(Path(directory) / f"{kind}-examples.txtinput"), kind == "positive")
        for kind in ("positive", "negative")
    ]
    return LabelledPairs(
        name=name,
        first=parts[0].first + parts[1].first,
        second=parts[0].second + parts[1].second,
        labels=np.concatenate([parts[0].labels, parts[1].labels]),
    )


# ------------------------------------------------------------------ SCWS
#: id, word1, POS1, word2, POS2, context1, context2, average, then the ten ratings.
SCWS_FIELDS = 8


def _in_context(word: str, context: str, path: str | os.PathLike, number: int) -> WordInContext:
    """``word`` in ``context``, whose ``<b> word </b>`` markers give its position."""
    tokens = context.split()
    if tokens.count("<b>") != 1 or tokens.count("</b>") != 1:
        raise W2GMError(f"{path}:{number}: a context must mark its word once as '<b> word </b>'")
    start = tokens.index("<b>")
    if tokens.index("</b>") != start + 2:
        raise W2GMError(f"{path}:{number}: '<b> ... </b>' must enclose exactly one word")
    return WordInContext(word, tuple(tokens[:start] + [tokens[start + 1]] + tokens[start + 3 :]), start)


def read_scws(path: str | os.PathLike) -> list[ContextPair]:
    """Read SCWS ``ratings.txt`` (tab-separated; the score is the average rating)."""
    items = []
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        fields = line.split("\t")
        if len(fields) < SCWS_FIELDS:
            raise W2GMError(
                f"{path}:{number}: expected at least {SCWS_FIELDS} tab-separated fields "
                f"(id, word1, POS1, word2, POS2, context1, context2, average), got {len(fields)}"
            )
        score = _number(fields[7])
        if score is None:
            raise W2GMError(f"{path}:{number}: average rating {fields[7]!r} is not a finite number")
        first = _in_context(fields[1], fields[5], path, number)
        second = _in_context(fields[3], fields[6], path, number)
        items.append(ContextPair(first, second, score))
    if not items:
        raise W2GMError(f"{path}: no SCWS items found")
    return items


def find_file(path: str | os.PathLike) -> Path:
    """``path`` itself, or its gzip-compressed twin ``path.gz``."""
    path = Path(path)
    for candidate in (path, path.with_name(path.name + ".gz")):
        if candidate.is_file():
            return candidate
    raise W2GMError(f"{path}: no such file (nor {path.name}.gz)")
