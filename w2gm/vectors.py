"""gensim's ``KeyedVectors`` conventions on a mixture model, so that code written for
gensim works on w2gm models.

The vectors are the component means: one row per component, keyed ``word:k`` (and keyed
``word`` alone when K = 1, where a w2gm model is a set of word vectors like gensim's, and
every method here gives what gensim gives on the same vectors).  Where K > 1:

* ``model["rock"]`` is the word's ``[K, D]`` means, ``model["rock:1"]`` one component's;
* in ``positive``/``negative`` lists and ``doesnt_match``, a plain word stands for the
  weight-averaged direction of its components, ``sum_k p_k mu_k / |mu_k|``; a ``word:k``
  key for that component alone;
* vector arithmetic (``most_similar`` with lists, ``most_similar_cosmul``,
  ``similar_by_vector``) ranks components, leaving out every component of the words the
  query names, and ``evaluate_word_analogies`` takes the word
  of the best component as the answer.

``most_similar("rock")`` with a single word keeps w2gm's own meaning (words ranked by their
closest component pair), which for K = 1 is gensim's cosine ranking.
"""

from __future__ import annotations

import gzip
import itertools
import os
from collections.abc import Callable, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .errors import W2GMError
from .mixture import MixtureTable
from .vocab import Vocabulary

Key = str | np.ndarray


def analogy_path() -> Path:
    """The Google analogy set bundled with the package (see data/eval/PROVENANCE.md)."""
    return Path(str(resources.files("w2gm") / "data" / "eval" / "analogy" / "questions-words.txt.gz"))
Section = dict[str, Any]


def _as_list(items: Key | Sequence[Key] | None) -> list[Key]:
    if items is None:
        return []
    if isinstance(items, (str, np.ndarray)):
        return [items]
    return list(items)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 0 else vector


class VectorQueries:
    """The KeyedVectors methods; mixed into :class:`w2gm.keyed.KeyedMixtures`, which gives
    them the members annotated here."""

    vocab: Vocabulary
    input: MixtureTable
    components_per_word: int
    dim: int
    parse_component: Callable[[str], tuple[int, int | None]]
    unit_means: Callable[[], torch.Tensor]
    similarity: Callable[..., float]
    most_similar: Callable[..., list[tuple[str, float]]]

    # ------------------------------------------------------------ the table
    @property
    def index_to_key(self) -> list[str]:
        """The key of each row of :attr:`vectors`: ``word`` (K = 1) or ``word:k``."""
        if self.components_per_word == 1:
            return list(self.vocab.words)
        return [f"{word}:{k}" for word in self.vocab.words for k in range(self.components_per_word)]

    @property
    def key_to_index(self) -> dict[str, int]:
        return {key: row for row, key in enumerate(self.index_to_key)}

    @property
    def vector_size(self) -> int:
        return self.dim

    @property
    def vectors(self) -> np.ndarray:
        """Every component mean, ``[V * K, D]``, row ``word_id * K + k``."""
        return self.input.means.reshape(-1, self.dim).numpy()

    def get_index(self, key: str) -> int:
        """The row of a ``word:k`` key (or of a word, when K = 1)."""
        word_id, component = self.parse_component(key)
        if component is None:
            if self.components_per_word != 1:
                raise W2GMError(f"{key!r} has K={self.components_per_word} rows; name one as {key}:k")
            component = 0
        return word_id * self.components_per_word + component

    def get_vector(self, key: str, norm: bool = False) -> np.ndarray:
        """``model[key]``, scaled to unit length (each row) with ``norm``."""
        vector = self[key]
        if norm:
            vector = vector / np.maximum(np.linalg.norm(vector, axis=-1, keepdims=True), 1e-30)
        return vector

    def __getitem__(self, key: str | Sequence[str]) -> np.ndarray:
        """A word's means ``[K, D]`` (``[D]`` when K = 1, as gensim), a component's ``[D]``,
        or a list of keys stacked."""
        if not isinstance(key, str):
            return np.stack([self[k] for k in key])
        word_id, component = self.parse_component(key)
        means = self.input.means[word_id].numpy()
        if component is not None:
            return means[component].copy()
        return means[0].copy() if self.components_per_word == 1 else means.copy()

    # ------------------------------------------------------ vector queries
    def _direction(self, key: Key) -> np.ndarray:
        """The unit vector a key stands for in vector arithmetic (see the module docstring)."""
        if isinstance(key, np.ndarray):
            return key
        word_id, component = self.parse_component(key)
        units = self.unit_means()[word_id * self.components_per_word : (word_id + 1) * self.components_per_word]
        if component is not None:
            return units[component].numpy()
        return _unit((self._weights(word_id)[:, None] * units).sum(0).numpy())

    def _weights(self, word_id: int) -> torch.Tensor:
        """One word's mixture weights (not the whole table's, which ``input.weights()`` gives)."""
        return torch.softmax(self.input.logits[word_id], -1)

    def _input_rows(self, keys: list[Key]) -> set[int]:
        """The rows of the words a query names (all their components), which its answers
        leave out."""
        k = self.components_per_word
        rows: set[int] = set()
        for key in keys:
            if isinstance(key, str):
                word_id, _ = self.parse_component(key)
                rows.update(range(word_id * k, (word_id + 1) * k))
        return rows

    def _ranked(self, scores: np.ndarray, exclude: set[int], topn: int | None) -> list[tuple[str, float]] | np.ndarray:
        if topn is None:
            return scores
        if topn < 1:
            return []
        count = min(topn + len(exclude), len(scores))
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best], kind="stable")]
        keys = self.index_to_key
        return [(keys[row], float(scores[row])) for row in best if row not in exclude][:topn]

    def _row_units(self, restrict_vocab: int | None) -> np.ndarray:
        rows = None if restrict_vocab is None else restrict_vocab * self.components_per_word
        return self.unit_means()[:rows].numpy()

    def most_similar_vectors(
        self,
        positive: Key | Sequence[Key] | None = None,
        negative: Key | Sequence[Key] | None = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]] | np.ndarray:
        """gensim's ``most_similar`` (3CosAdd): rows by cosine with the normalised mean of
        the positive keys' unit vectors minus the negative ones'; the keys themselves are
        left out; ``topn=None`` gives every row's score."""
        positive, negative = _as_list(positive), _as_list(negative)
        keys = positive + negative
        if not keys:
            raise W2GMError("most_similar: give at least one positive or negative key")
        mean = _unit(sum(sign * self._direction(key) for sign, key in zip(
            [1.0] * len(positive) + [-1.0] * len(negative), keys, strict=True)))
        scores = self._row_units(restrict_vocab) @ mean.astype(np.float32)
        return self._ranked(scores, self._input_rows(keys), topn)

    def most_similar_cosmul(
        self,
        positive: Key | Sequence[Key] | None = None,
        negative: Key | Sequence[Key] | None = None,
        topn: int | None = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]] | np.ndarray:
        """3CosMul (Levy and Goldberg 2014, Eq. 4): the product of the positive keys'
        cosines over the product of the negative ones', each cosine shifted to [0, 1]."""
        positive, negative = _as_list(positive), _as_list(negative)
        if not positive:
            raise W2GMError("most_similar_cosmul: give at least one positive key")
        units = self._row_units(restrict_vocab)

        def shifted(key: Key) -> np.ndarray:
            return (1 + units @ _unit(self._direction(key)).astype(np.float32)) / 2

        numerator = np.prod([shifted(key) for key in positive], axis=0)
        denominator = np.prod([shifted(key) for key in negative], axis=0) if negative else 1.0
        return self._ranked(numerator / (denominator + 1e-6), self._input_rows(positive + negative), topn)

    def similar_by_vector(
        self, vector: np.ndarray, topn: int | None = 10, restrict_vocab: int | None = None
    ) -> list[tuple[str, float]] | np.ndarray:
        """Rows by cosine with ``vector``."""
        vector = np.asarray(vector, dtype=np.float32)
        if vector.shape != (self.dim,):
            raise W2GMError(f"similar_by_vector: need a vector of {self.dim} numbers, got shape {vector.shape}")
        return self._ranked(self._row_units(restrict_vocab) @ _unit(vector), set(), topn)

    def similar_by_word(self, word: str, topn: int = 10) -> list[tuple[str, float]]:
        return self.most_similar(word, topn=topn)

    def doesnt_match(self, words: Sequence[str]) -> str:
        """The word farthest (by cosine) from the normalised mean of the words' unit
        vectors; unknown words are ignored, as gensim does."""
        used = [word for word in words if word in self]
        if not used:
            raise W2GMError("doesnt_match: none of the words is in the model's vocabulary")
        directions = np.stack([self._direction(word) for word in used])
        scores = directions @ _unit(directions.mean(0))
        return sorted(zip(scores.tolist(), used, strict=True), reverse=True)[-1][1]

    def n_similarity(self, first: Sequence[str], second: Sequence[str]) -> float:
        """Cosine between the means of two sets of keys' vectors (not normalised first, as
        gensim; for K > 1, a plain word's vector is its weighted mean of component means)."""
        if not (len(first) and len(second)):
            raise W2GMError("n_similarity: both lists need at least one word")

        def mean(keys: Sequence[str]) -> np.ndarray:
            return np.mean([self._mean_vector(key) for key in keys], axis=0)

        return float(_unit(mean(first)) @ _unit(mean(second)))

    def _mean_vector(self, key: str) -> np.ndarray:
        vector = self[key]
        if vector.ndim == 2:  # a word of a K > 1 model: its expected mean
            vector = self._weights(self.vocab.id(key)).numpy() @ vector
        return vector

    def distance(self, first: str, second: str) -> float:
        """1 - similarity (the cosine of the means for K = 1; max cosine otherwise)."""
        return 1.0 - self.similarity(first, second)

    # ------------------------------------------------------------- analogy
    def evaluate_word_analogies(
        self,
        analogies: str | os.PathLike | None = None,
        restrict_vocab: int = 300_000,
        case_insensitive: bool = True,
        dummy4unknown: bool = False,
    ) -> tuple[float, list[Section]]:
        """gensim's analogy test (word2vec's ``compute-accuracy``): for each ``a b c d`` line,
        is ``d`` the best answer to ``b - a + c`` among the ``restrict_vocab`` most frequent
        words, ``a``, ``b`` and ``c`` excluded?  Returns the total accuracy and one
        ``{"section", "correct", "incorrect"}`` dict per ``: section`` plus a last one,
        ``"Total accuracy"``.  ``analogies`` defaults to the bundled Google set (a ``.gz``
        file is read decompressed).
        Lines with a word outside those words are skipped (or counted
        wrong with ``dummy4unknown``).  With ``case_insensitive`` (the default) words are
        compared in upper case, the most frequent case variant standing for all."""
        fold = str.upper if case_insensitive else str
        allowed = self.vocab.words[:restrict_vocab]
        known = {fold(word): word for word in reversed(allowed)}  # the most frequent variant wins
        sections: list[Section] = []
        analogies = analogy_path() if analogies is None else Path(analogies)
        opener: Any = gzip.open if analogies.suffix == ".gz" else open
        try:
            handle = opener(analogies, "rt", encoding="utf-8", errors="replace")
        except OSError as error:
            raise W2GMError(f"{analogies}: cannot open: {error.strerror or error}") from None
        with handle as lines:
            for number, line in enumerate(lines, 1):
                if line.startswith(": "):
                    sections.append({"section": line.lstrip(": ").strip(), "correct": [], "incorrect": []})
                    continue
                fields = [fold(word) for word in line.split()]
                if len(fields) != 4:
                    continue
                if not sections:
                    raise W2GMError(f"{analogies}:{number}: an analogy before the first ': section' line")
                if any(word not in known for word in fields):
                    if dummy4unknown:
                        sections[-1]["incorrect"].append(tuple(fields))
                    continue
                a, b, c, expected = fields
                answers = self.most_similar_vectors(
                    [known[b], known[c]], [known[a]], topn=5 * self.components_per_word,
                    restrict_vocab=restrict_vocab,
                )
                predicted = None
                for key, _ in answers:  # type: ignore[misc]
                    predicted = fold(key if self.components_per_word == 1 else key.rpartition(":")[0])
                    if predicted in known and predicted not in (a, b, c):
                        break
                sections[-1]["correct" if predicted == expected else "incorrect"].append(tuple(fields))
        total = {
            "section": "Total accuracy",
            "correct": list(itertools.chain.from_iterable(s["correct"] for s in sections)),
            "incorrect": list(itertools.chain.from_iterable(s["incorrect"] for s in sections)),
        }
        sections.append(total)
        answered = len(total["correct"]) + len(total["incorrect"])
        return (len(total["correct"]) / answered if answered else 0.0), sections

    # --------------------------------------------------------------- gensim
    def to_keyedvectors(self) -> Any:
        """The component means as a ``gensim.models.KeyedVectors`` (gensim must be
        installed: ``pip install gensim``), keys as :attr:`index_to_key`, with each word's
        count."""
        try:
            from gensim.models import KeyedVectors
        except ImportError:
            raise W2GMError("to_keyedvectors needs gensim: pip install gensim") from None
        keyed = KeyedVectors(vector_size=self.dim, count=0)
        keyed.add_vectors(self.index_to_key, self.vectors.copy())
        # add_vectors(extras=...) fails in gensim 4.4 (it iterates the dict as pairs)
        keyed.allocate_vecattrs(["count"], [np.int64])
        keyed.expandos["count"][:] = np.repeat(self.vocab.counts, self.components_per_word)
        return keyed

