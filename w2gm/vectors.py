"""gensim's ``KeyedVectors`` methods on a mixture model, so that code written for gensim runs
unchanged on w2gm models (the conventions, method by method: docs/gensim.md).

The keys and vectors are those of :class:`w2gm.keytable.KeyTable`: each word (its mixture's
mean), then each active component (``word:k``, its mean).  Every method answers as gensim
answers on that table, with one difference: a query's answers are keys of the kind it names
— words for words (or vectors alone), components for ``word:k`` keys (``kind=`` chooses) —
and never a key of a word the query names (so ``rock:1`` does not answer with ``rock:0``).
A word query therefore answers as gensim does on the file ``w2gm export`` writes by default
(word keys), a component query as gensim on ``--keys components``, less the query word's
other components.  Queries also accept inactive components by name (``rock:1`` when it is
inactive), which are not keys of the table; ``include_inactive=True`` makes them answers
too, and counts them in the words' means.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import torch

from .analogies import Section, evaluate_word_analogies
from .errors import QueryError, UnknownKeyError, W2GMError
from .keytable import KEY_TYPES, Key, TableAccess, unit

KINDS = ("words", "components")


def as_list(items: Any) -> list:
    """gensim's ``_ensure_list``: one key or vector as a list of one."""
    if items is None:
        return []
    if isinstance(items, KEY_TYPES) or (isinstance(items, np.ndarray) and items.ndim == 1):
        return [items]
    return list(items)


def older_topn(negative: Any, topn: Any) -> tuple[Any, int | None]:
    """w2gm's older ``most_similar(key, 5)`` (an int as ``negative`` is the topn, where gensim
    would read a row number), and gensim 4's one rule for ``topn``: a whole number (below 1
    asks for nothing) or None (every score)."""
    if isinstance(negative, Integral) and not isinstance(negative, bool):
        negative, topn = None, int(negative)
    check_topn(topn)
    return negative, topn


def check_topn(topn: Any) -> None:
    if topn is not None and (isinstance(topn, bool) or not isinstance(topn, Integral)):
        raise W2GMError(f"topn must be a whole number or None, got {topn!r}")


@dataclass(frozen=True)
class _Space:
    """The keys a query may answer with: their cosines with a vector, their words, which
    of them may be answers at all, and their names."""

    cosines: Callable[[np.ndarray], np.ndarray]
    word_ids: np.ndarray
    allowed: np.ndarray
    name: Callable[[int], str]


@dataclass(frozen=True)
class _Resolved:
    """A key of a query: its vector, its word (-1 for a vector), whether it is a component,
    and its place among the words (the word id) or the components (``word * K + k``)."""

    vector: np.ndarray
    word: int
    component: bool
    index: int


class VectorQueries(TableAccess):
    """The KeyedVectors queries; mixed into :class:`w2gm.keyed.KeyedMixtures`, which gives
    them the members annotated here (and those of :class:`TableAccess`)."""

    active: Callable[..., torch.Tensor]
    parse_component: Callable[[str], tuple[int, int | None]]
    unit_means: Callable[[], torch.Tensor]

    # ------------------------------------------------------------- queries
    def _resolve(self, key: Key, include_inactive: bool = False) -> _Resolved:
        """A query key: a table row, an inactive component or K = 1's ``word:0`` named, or a vector."""
        if isinstance(key, np.ndarray):
            if key.shape != (self.dim,):
                raise QueryError(f"a query vector needs {self.dim} numbers, got shape {key.shape}")
            return _Resolved(key.astype(np.float32), -1, False, -1)
        table = self.key_table(include_inactive)
        row = table.find(key)
        if row >= table.words:
            index = int(np.flatnonzero(table.component_rows == row)[0])
            return _Resolved(table.vectors[row], int(table.row_words[row]), True, index)
        if row >= 0:
            return _Resolved(table.vectors[row], row, False, row)
        if isinstance(key, str):
            word, component = self.parse_component(key)
            if component is not None:
                index = word * self.components_per_word + component
                return _Resolved(self.input.means[word, component].numpy(), word, True, index)
        raise UnknownKeyError(self._unknown(key))

    def _space(self, kind: str, include_inactive: bool, restrict_vocab: int | None,
               clip: tuple[int, int | None] = (0, None)) -> _Space:
        """The words (rows ``clip`` of the table, or the first ``restrict_vocab``) or the
        components (of the first ``restrict_vocab`` words) a query may answer with."""
        if kind not in KINDS:
            raise W2GMError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
        words = len(self.vocab)
        if kind == "words":
            table = self.key_table(include_inactive)
            start, end = (0, restrict_vocab) if restrict_vocab else (clip[0], clip[1] or words)
            end = min(end, words)
            vectors, norms = table.vectors[start:end], table.norms[start:end]
            keys = table.index_to_key
            return _Space(lambda v: (vectors @ v) / (norms * np.linalg.norm(v)),
                          np.arange(start, end), np.ones(end - start, dtype=bool), lambda i: keys[start + i])
        if clip != (0, None):
            raise W2GMError("clip_start and clip_end select rows of word answers; use restrict_vocab for components")
        k, limit = self.components_per_word, min(restrict_vocab or words, words)
        units = self.unit_means()[: limit * k].numpy()
        allowed = self.active(include_inactive)[:limit].reshape(-1).numpy()
        names = self.vocab.words
        return _Space(lambda v: units @ unit(v), np.arange(limit * k) // k, allowed,
                      lambda i: f"{names[i // k]}:{i % k}")

    def _best(self, space: _Space, scores: np.ndarray, named: set[int], topn: int) -> list[tuple[str, float]]:
        """The ``topn`` best allowed keys of ``space``, none of a word in ``named``."""
        scores = np.where(space.allowed & ~np.isin(space.word_ids, list(named)), scores, -np.inf)
        count = min(topn, int(np.isfinite(scores).sum()))
        if count < 1:
            return []
        best = np.argpartition(-scores, count - 1)[:count]
        best = best[np.argsort(-scores[best], kind="stable")]
        return [(space.name(int(i)), float(scores[i])) for i in best]

    def _query_keys(self, positive: Any, negative: Any) -> tuple[list[Key], np.ndarray]:
        """Keys and weights of gensim's ``positive``/``negative`` (``(key, weight)`` pairs allowed)."""
        positive, negative = as_list(positive), as_list(negative)
        keys, weights = [], np.concatenate([np.ones(len(positive)), -np.ones(len(negative))])
        for i, item in enumerate(positive + negative):
            if isinstance(item, (*KEY_TYPES, np.ndarray)):
                keys.append(item)
            else:
                keys.append(item[0])
                weights[i] = item[1]
        return keys, weights

    def _table_scores(self, direction: np.ndarray, clip_start: int, clip_end: int | None,
                      restrict_vocab: int | None, include_inactive: bool) -> np.ndarray:
        """``topn=None``: the cosine of every row of the table (``clip``-ped), as gensim."""
        table = self.key_table(include_inactive)
        start, end = (0, restrict_vocab) if restrict_vocab else (clip_start, clip_end or len(table))
        return (table.vectors[start:end] @ direction) / table.norms[start:end]

    def most_similar(
        self, positive: Any = None, negative: Any = None, topn: int | None = 10, clip_start: int = 0,
        clip_end: int | None = None, restrict_vocab: int | None = None, indexer: Any = None, *,
        kind: str | None = None, include_inactive: bool = False,
    ) -> list[tuple[str, float]] | np.ndarray:
        """gensim's ``most_similar`` (3CosAdd): keys by cosine with the normalised weighted
        mean of the query keys' unit vectors; ``topn=None`` gives every row's cosine.  The
        answers are words, or components where the query names one (or ``kind`` says)."""
        negative, topn = older_topn(negative, topn)
        if topn is not None and topn < 1:
            return []
        keys, weights = self._query_keys(positive, negative)
        if not keys:
            raise QueryError("cannot compute mean with no input")
        resolved = [self._resolve(key, include_inactive) for key in keys]
        mean = np.zeros(self.dim, dtype=np.float32)
        for weight, key in zip(weights, resolved, strict=True):
            mean += (weight * unit(key.vector)).astype(np.float32) if key.word >= 0 else weight * key.vector
        mean = unit(mean / np.abs(weights).sum())
        if indexer is not None and isinstance(topn, int):
            return indexer.most_similar(mean, topn)
        if not topn:
            return self._table_scores(mean, clip_start, clip_end, restrict_vocab, include_inactive)
        kind = kind or ("components" if any(key.component for key in resolved) else "words")
        space = self._space(kind, include_inactive, restrict_vocab, (clip_start, clip_end))
        return self._best(space, space.cosines(mean), {key.word for key in resolved}, topn)

    def most_similar_cosmul(
        self, positive: Any = None, negative: Any = None, topn: int | None = 10,
        restrict_vocab: int | None = None, *, kind: str | None = None, include_inactive: bool = False,
    ) -> list[tuple[str, float]] | np.ndarray:
        """3CosMul (Levy and Goldberg 2014, Eq. 4): the product of the positive keys'
        cosines over the product of the negative ones', each cosine shifted to [0, 1]."""
        check_topn(topn)
        if topn is not None and topn < 1:
            return []
        plus = [self._resolve(key, include_inactive) for key in as_list(positive)]
        minus = [self._resolve(key, include_inactive) for key in as_list(negative)]
        if not plus:
            raise QueryError("cannot compute similarity with no input")

        def term(key: _Resolved) -> np.ndarray:  # gensim takes a vector as it is
            return unit(key.vector) if key.word >= 0 else key.vector

        if not topn:
            table = self.key_table(include_inactive)
            rows = table.vectors[:restrict_vocab] if restrict_vocab else table.vectors
            norms = table.norms[: len(rows)]

            def cosines(vector: np.ndarray) -> np.ndarray:
                return (rows @ vector) / norms
        else:
            kind = kind or ("components" if any(key.component for key in plus + minus) else "words")
            space = self._space(kind, include_inactive, restrict_vocab)

            def cosines(vector: np.ndarray) -> np.ndarray:
                return space.cosines(vector) * np.linalg.norm(vector)

        shifted = [[(1 + cosines(term(key))) / 2 for key in side] for side in (plus, minus)]
        scores = np.prod(shifted[0], axis=0) / (np.prod(shifted[1], axis=0) + 1e-6)
        if not topn:
            return scores
        return self._best(space, scores, {key.word for key in plus + minus}, topn)

    def similar_by_key(self, key: Key, topn: int | None = 10, restrict_vocab: int | None = None
                       ) -> list[tuple[str, float]] | np.ndarray:
        return self.most_similar(positive=[key], topn=topn, restrict_vocab=restrict_vocab)

    def similar_by_word(self, word: Key, topn: int | None = 10, restrict_vocab: int | None = None
                        ) -> list[tuple[str, float]] | np.ndarray:
        return self.similar_by_key(word, topn, restrict_vocab)

    def similar_by_vector(self, vector: np.ndarray, topn: int | None = 10, restrict_vocab: int | None = None
                          ) -> list[tuple[str, float]] | np.ndarray:
        """Words (``kind="components"`` in :meth:`most_similar` for components) by cosine with ``vector``."""
        return self.most_similar(positive=[np.asarray(vector, dtype=np.float32)], topn=topn,
                                 restrict_vocab=restrict_vocab)

    # ------------------------------------------------------- pairs and sets
    def similarity(self, w1: Key, w2: Key, include_inactive: bool = False) -> float:
        """Cosine of the two keys' vectors."""
        first, second = (self._resolve(w, include_inactive).vector for w in (w1, w2))
        return float(unit(first) @ unit(second))

    def distance(self, w1: Key, w2: Key) -> float:
        return 1.0 - self.similarity(w1, w2)

    def distances(self, word_or_vector: Key, other_words: Sequence[Key] = ()) -> np.ndarray:
        """1 - cosine from a key or vector to ``other_words``, or to every row of the table."""
        vector = word_or_vector if isinstance(word_or_vector, np.ndarray) else self._resolve(word_or_vector).vector
        others = self.vectors if not len(other_words) else self.vectors[[self.get_index(k) for k in other_words]]
        return 1 - self.cosine_similarities(vector, others)

    def closer_than(self, key1: Key, key2: Key) -> list[str]:
        """The keys closer to ``key1`` than ``key2`` is, in table order, among the keys of
        ``key1``'s kind (words, or the components of other words)."""
        first, second = self._resolve(key1), self._resolve(key2)
        space = self._space("components" if first.component else "words", False, None)
        cosines = space.cosines(first.vector)
        if second.component == first.component and 0 <= second.index < len(cosines):
            threshold = cosines[second.index]  # as gensim: key2 compared with itself, exactly
        else:
            threshold = unit(first.vector) @ unit(second.vector)
        closer = np.flatnonzero(space.allowed & (space.word_ids != first.word) & (cosines > threshold))
        return [space.name(int(row)) for row in closer]

    def words_closer_than(self, word1: Key, word2: Key) -> list[str]:
        return self.closer_than(word1, word2)

    def rank(self, key1: Key, key2: Key) -> int:
        """Where ``key2`` stands among ``key1``'s nearest keys (1 = nearest)."""
        return len(self.closer_than(key1, key2)) + 1

    def most_similar_to_given(self, key1: Key, keys_list: Sequence[Key]) -> Key:
        return keys_list[int(np.argmax([self.similarity(key1, key) for key in keys_list]))]

    def n_similarity(self, ws1: Sequence[Key], ws2: Sequence[Key]) -> float:
        """Cosine between the plain means of two sets of keys' vectors (gensim's)."""
        if not (len(ws1) and len(ws2)):
            raise QueryError("At least one of the passed list is empty.")
        mean1 = self.get_mean_vector(ws1, pre_normalize=False)
        mean2 = self.get_mean_vector(ws2, pre_normalize=False)
        return float(unit(mean1) @ unit(mean2))

    def rank_by_centrality(self, words: Sequence[Key], use_norm: bool = True) -> list[tuple[float, Key]]:
        """``(cosine, key)`` by cosine with the normalised mean of the keys' (unit) vectors,
        nearest first; unknown keys are left out."""
        used = [word for word in words if word in self]
        if not used:
            raise QueryError("cannot select a word from an empty list")
        vectors = np.vstack([self.get_vector(word, norm=use_norm) for word in used]).astype(np.float32)
        scores = vectors @ unit(vectors.mean(0))
        return sorted(zip(scores.tolist(), used, strict=True), reverse=True)

    def doesnt_match(self, words: Sequence[Key]) -> Key:
        return self.rank_by_centrality(words)[-1][1]

    def relative_cosine_similarity(self, wa: Key, wb: Key, topn: int = 10) -> float:
        """Leeuwenberg et al.'s relative cosine: ``similarity(wa, wb)`` over the sum of
        ``wa``'s ``topn`` best cosines."""
        sims = self.similar_by_word(wa, topn)
        if not len(sims):
            raise QueryError("Cannot calculate relative cosine similarity without any similar words.")
        return self.similarity(wa, wb) / sum(score for _, score in sims)  # type: ignore[misc]

    def wmdistance(self, document1: Sequence[str], document2: Sequence[str], norm: bool = True) -> float:
        """Word Mover's Distance (Kusner et al. 2015): the least cost of moving one
        document's bag of keys onto the other's, the cost of a unit the Euclidean distance
        between (unit, with ``norm``) vectors; solved as a transport problem with scipy.
        Unknown keys are left out; ``inf`` where a document has none left."""
        from scipy import sparse
        from scipy.optimize import linprog
        from scipy.spatial.distance import cdist

        first, second = [w for w in document1 if w in self], [w for w in document2 if w in self]
        if not first or not second:
            return float("inf")
        if set(first) | set(second) == {first[0]}:
            return 0.0
        bags = []
        for document in (first, second):
            keys, counts = np.unique(document, return_counts=True)
            bags.append((list(keys), counts / counts.sum()))
        (keys1, mass1), (keys2, mass2) = bags
        cost = cdist(*(np.stack([self.get_vector(k, norm=norm) for k in keys]).astype(np.float64)
                       for keys in (keys1, keys2)))
        n, m = cost.shape
        sends = sparse.kron(sparse.eye(n), np.ones((1, m)))  # each first-document key sends its mass
        receives = sparse.kron(np.ones((1, n)), sparse.eye(m))  # each second-document key receives its mass
        plan = linprog(cost.reshape(-1), A_eq=sparse.vstack([sends, receives]).tocsr(),
                       b_eq=np.concatenate([mass1, mass2]), bounds=(0, None), method="highs")
        return float(plan.fun)

    # ------------------------------------------------------------ analogies
    def evaluate_word_analogies(
        self, analogies: str | os.PathLike | None = None, restrict_vocab: int = 300_000,
        case_insensitive: bool = True, dummy4unknown: bool = False, similarity_function: str = "most_similar",
    ) -> tuple[float, list[Section]]:
        """gensim's analogy test on the word keys (:func:`w2gm.analogies.evaluate_word_analogies`);
        ``analogies`` defaults to the bundled Google set."""
        table = self.key_table()
        return evaluate_word_analogies(
            table.index_to_key[: table.words], table.vectors[: table.words], analogies, restrict_vocab,
            case_insensitive, dummy4unknown, similarity_function)
