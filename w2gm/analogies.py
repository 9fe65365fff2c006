"""gensim's analogy test (word2vec's ``compute-accuracy``) on a table of keys and vectors,
every question of a batch answered by one matrix product.

For each ``a b c d`` line the answer is the key whose vector is closest by cosine to
``b - a + c`` (3CosAdd: the normalised mean of the unit vectors of ``b`` and ``c`` and
minus that of ``a``), among the first ``restrict_vocab`` keys, ``a``, ``b`` and ``c`` left
out; the line is right when that key is ``d``.  This gives what gensim's
``KeyedVectors.evaluate_word_analogies`` gives on the same vectors, question for question:
the same sections, the same skipped lines, the same case folding (the first, most frequent
case variant standing for all), and gensim's reading of its top five candidates (the first
whose folded key is not an input word), but a batch of questions costs one ``[B, D] x
[D, N]`` product and a top-5 rather than B passes of Python over the vocabulary.
"""

from __future__ import annotations

import gzip
import itertools
import os
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import W2GMError

Section = dict[str, Any]
#: gensim keeps the five best candidates (after the input keys) and answers with the first
#: that is not an input word under case folding.
CANDIDATES = 5
#: Scores held at once, ``[batch, N]`` float32: bounds the memory of a batch to 64 MB.
BATCH_SCORES = 1 << 24
METHODS = ("most_similar", "most_similar_cosmul")


def analogy_path() -> Path:
    """The Google analogy set bundled with the package (see data/eval/PROVENANCE.md)."""
    return Path(str(resources.files("w2gm") / "data" / "eval" / "analogy" / "questions-words.txt.gz"))


def _read(path: Path, fold: Any, known: dict[str, int], dummy4unknown: bool) -> tuple[list[Section], list[list]]:
    """The sections of an analogy file, each with its ``lines`` in file order (a question's
    number among those to answer, or the words of a line counted wrong as unknown), and
    the questions to answer, each as its folded words and their rows."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    try:
        handle = opener(path, "rt", encoding="utf-8", errors="replace")
    except OSError as error:
        raise W2GMError(f"{path}: cannot open: {error.strerror or error}") from None
    sections: list[Section] = []
    questions: list[list] = []
    with handle as lines:
        for number, line in enumerate(lines, 1):
            if line.startswith(": "):
                sections.append({"section": line.lstrip(": ").strip(), "lines": []})
                continue
            words = tuple(fold(word) for word in line.split())
            if len(words) != 4:
                continue
            if not sections:
                raise W2GMError(f"{path}:{number}: an analogy before the first ': section' line")
            if all(word in known for word in words):
                sections[-1]["lines"].append(len(questions))
                questions.append([words, [known[word] for word in words]])
            elif dummy4unknown:
                sections[-1]["lines"].append(words)
    return sections, questions


def _answers(units: torch.Tensor, rows: np.ndarray, fold_rows: np.ndarray, method: str) -> np.ndarray:
    """For each question ``rows[n] = (a, b, c, d)``: the row (of its fold's first variant)
    gensim would answer, or -1 where it has no candidate."""
    count = len(units)
    batch = max(1, BATCH_SCORES // max(count, 1))
    take = min(CANDIDATES, count)
    answers = np.full(len(rows), -1, dtype=np.int64)
    for start in range(0, len(rows), batch):
        a, b, c = (torch.from_numpy(rows[start : start + batch, i]) for i in range(3))
        if method == "most_similar":
            query = torch.nn.functional.normalize(units[b] + units[c] - units[a], dim=-1)
            scores = query @ units.T
        else:  # 3CosMul (Levy and Goldberg 2014, Eq. 4), cosines shifted to [0, 1]
            def shifted(side: torch.Tensor) -> torch.Tensor:
                return (1 + units[side] @ units.T) / 2

            scores = shifted(b) * shifted(c) / (shifted(a) + 1e-6)
        inputs = torch.stack([a, b, c], 1)
        scores.scatter_(1, inputs, -torch.inf)  # gensim leaves the input keys' rows out
        best = torch.topk(scores, take, dim=1)
        present = best.values.isfinite().numpy()
        candidates = fold_rows[best.indices.numpy()]
        asked = fold_rows[inputs.numpy()]
        fresh = present & (candidates[:, :, None] != asked[:, None, :]).all(-1)
        # the first fresh candidate; where none is, the last present one (gensim's loop ends there)
        first = np.where(fresh.any(1), fresh.argmax(1), present.sum(1) - 1)
        chosen = candidates[np.arange(len(candidates)), np.maximum(first, 0)]
        answers[start : start + len(chosen)] = np.where(first >= 0, chosen, -1)
    return answers


def evaluate_word_analogies(
    keys: list[str],
    vectors: np.ndarray,
    analogies: str | os.PathLike | None = None,
    restrict_vocab: int = 300_000,
    case_insensitive: bool = True,
    dummy4unknown: bool = False,
    similarity_function: str = "most_similar",
) -> tuple[float, list[Section]]:
    """gensim's ``evaluate_word_analogies`` on ``keys`` and their ``vectors`` (rows in
    decreasing frequency): the total accuracy, and one ``{"section", "correct",
    "incorrect"}`` dict per ``: section`` of the file plus a last one, ``"Total accuracy"``.
    ``analogies`` defaults to the bundled Google set (a ``.gz`` file is read decompressed).
    A question with a key outside the first ``restrict_vocab`` is skipped (counted wrong
    with ``dummy4unknown``); ``similarity_function="most_similar_cosmul"`` answers by
    3CosMul (gensim 4.4 takes the argument but always uses 3CosAdd)."""
    if similarity_function not in METHODS:
        raise W2GMError(f"unknown similarity_function {similarity_function!r}; choose from {', '.join(METHODS)}")
    fold = str.upper if case_insensitive else str
    allowed = keys[:restrict_vocab]
    known = {fold(key): row for row, key in reversed(list(enumerate(allowed)))}
    fold_rows = np.fromiter((known[fold(key)] for key in allowed), dtype=np.int64, count=len(allowed))
    path = analogy_path() if analogies is None else Path(analogies)
    sections, questions = _read(path, fold, known, dummy4unknown)
    right = np.zeros(len(questions), dtype=bool)
    if questions:
        table = torch.from_numpy(np.array(vectors[: len(allowed)], dtype=np.float32))  # a writable copy
        units = torch.nn.functional.normalize(table, dim=-1)
        rows = np.array([question[1] for question in questions], dtype=np.int64)
        right = _answers(units, rows, fold_rows, similarity_function) == rows[:, 3]
    for section in sections:
        lines = section.pop("lines")
        section["correct"] = [questions[n][0] for n in lines if isinstance(n, int) and right[n]]
        section["incorrect"] = [n if isinstance(n, tuple) else questions[n][0] for n in lines
                                if not isinstance(n, int) or not right[n]]
    total = {
        "section": "Total accuracy",
        "correct": list(itertools.chain.from_iterable(s["correct"] for s in sections)),
        "incorrect": list(itertools.chain.from_iterable(s["incorrect"] for s in sections)),
    }
    sections.append(total)
    answered = len(total["correct"]) + len(total["incorrect"])
    return (len(total["correct"]) / answered if answered else 0.0), sections
