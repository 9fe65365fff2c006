"""A mixture model as gensim's table of keys and vectors: one row per word, then one row per
active component.

* Rows ``0 .. V-1`` are the words, in the vocabulary's order (most frequent first), each
  the mean of its mixture, ``sum_k p_k mu_k`` over its active components (weights
  renormalised): the expected value of the word's distribution, and of the vectors a
  word could stand for, the one that scored best on the similarity sets and the analogies
  (docs/gensim.md, *Which vector stands for a word*).
* Rows ``V ..`` are the active components, keyed ``word:k``, in word order then k: the
  component means, the vectors of the paper's Table 1.  A model with K = 1 has no component
  rows: its words are its components, so its table is gensim's own.

Inactive components (:mod:`w2gm.usage`) are not keys, as ``w2gm export`` leaves them out;
:meth:`w2gm.keyed.KeyedMixtures.all_components` gives a model whose table has them all.

:class:`KeyTable` is the table; :class:`TableAccess` gives a model gensim's attributes and
lookups on it (``index_to_key``, ``vectors``, ``len``, ``in``, ``model[key]``, ...), and
refuses gensim's methods that would edit it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .errors import NotApplicableError, QueryError, UnknownKeyError, W2GMError
from .mixture import MixtureTable
from .usage import Usage
from .vocab import Vocabulary

Key = str | int | np.ndarray
#: gensim's kinds of key: a string or a row number; an array stands for itself.
KEY_TYPES = (str, int, np.integer)

#: What ``keys=`` may ask for: the rows of words, of components, or the whole table.
KEY_KINDS = ("words", "components", "both")


def unit(vector: np.ndarray) -> np.ndarray:
    """``vector`` scaled to length 1 (a zero vector as it is), float32."""
    norm = np.linalg.norm(vector)
    return (vector / norm if norm > 0 else vector).astype(np.float32)


def mixture_means(means: Tensor, log_weights: Tensor) -> Tensor:
    """``sum_k p_k mu_k`` for each word, ``[V, D]``; components with log weight -inf (inactive)
    count for nothing."""
    return (log_weights.exp().unsqueeze(-1) * means).sum(-2)


@dataclass(frozen=True)
class KeyTable:
    """Keys, their rows and vectors.  ``component_rows[word * K + k]`` is the row of that
    component, -1 where it is not a key (inactive, or K = 1)."""

    vocab: Vocabulary
    components: int
    index_to_key: list[str]
    vectors: np.ndarray
    component_rows: np.ndarray
    key_to_index: dict[str, int] = field(init=False, repr=False)
    norms: np.ndarray = field(init=False, repr=False)
    #: The word id of each row: a word's own, a component's word.
    row_words: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "key_to_index", {key: row for row, key in enumerate(self.index_to_key)})
        components = np.flatnonzero(self.component_rows >= 0) // self.components
        object.__setattr__(self, "row_words", np.concatenate([np.arange(len(self.vocab)), components]))
        # float64 sums, as gensim's np.linalg.norm of float32 rows gives float32
        object.__setattr__(self, "norms", np.linalg.norm(self.vectors, axis=1))
        self.vectors.flags.writeable = False
        self.norms.flags.writeable = False

    @classmethod
    def build(cls, vocab: Vocabulary, table: MixtureTable, log_weights: Tensor) -> KeyTable:
        """The table of a model whose active components have finite ``log_weights [V, K]``."""
        words, k = len(vocab), table.components
        with torch.no_grad():
            word_vectors = mixture_means(table.means, log_weights)
        keyed = log_weights.isfinite().reshape(-1).numpy() if k > 1 else np.zeros(words, dtype=bool)
        flat = np.flatnonzero(keyed)
        component_rows = np.full(words * k, -1, dtype=np.int64)
        component_rows[flat] = words + np.arange(len(flat))
        keys = list(vocab.words) + [f"{vocab.words[i // k]}:{i % k}" for i in flat.tolist()]
        means = table.means.reshape(-1, table.dim)
        vectors = torch.cat([word_vectors, means[torch.from_numpy(flat)]]).numpy().astype(np.float32)
        return cls(vocab, k, keys, vectors, component_rows)

    @property
    def words(self) -> int:
        """How many rows are words (the first ones)."""
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.index_to_key)

    def find(self, key: object) -> int:
        """The row of ``key``, -1 if it has none.  A key is found as written, else as the
        model's tokenizer normalises it (``"Rock:1"`` finds ``rock:1``); an int is a row
        number, as in gensim."""
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return int(key) if 0 <= key < len(self) else -1
        if not isinstance(key, str):
            return -1
        row = self.key_to_index.get(key, -1)
        if row >= 0:
            return row
        word = self.vocab.find(key)
        if word >= 0:
            return word
        stem, sep, component = key.rpartition(":")
        if sep and component.isdigit() and int(component) < self.components:
            word = self.vocab.find(stem)
            if word >= 0:
                return int(self.component_rows[word * self.components + int(component)])
        return -1

    def rows(self, kind: str) -> range:
        """The rows of ``words``, ``components`` or ``both``."""
        return {"words": range(self.words), "components": range(self.words, len(self)),
                "both": range(len(self))}[kind]


class TableAccess:
    """gensim's table attributes and lookups on :meth:`key_table`; mixed into
    :class:`w2gm.keyed.KeyedMixtures` (through :class:`w2gm.vectors.VectorQueries`), which
    gives them the members annotated here."""

    vocab: Vocabulary
    input: MixtureTable
    usage: Usage | None
    components_per_word: int
    dim: int
    log_weights: Callable[..., Tensor]

    # ------------------------------------------------------------ the table
    def key_table(self, include_inactive: bool = False) -> KeyTable:
        """The table of keys and vectors (every component a key with ``include_inactive``),
        built once per usage record."""
        cache: dict[bool, tuple[Usage | None, KeyTable]] = self.__dict__.setdefault("_key_tables", {})
        if include_inactive not in cache or cache[include_inactive][0] is not self.usage:
            built = KeyTable.build(self.vocab, self.input, self.log_weights(include_inactive))
            cache[include_inactive] = (self.usage, built)
        return cache[include_inactive][1]

    @property
    def index_to_key(self) -> list[str]:
        """Each row's key: the words (most frequent first), then ``word:k`` of each active component."""
        return self.key_table().index_to_key

    @property
    def key_to_index(self) -> dict[str, int]:
        return self.key_table().key_to_index

    @property
    def vectors(self) -> np.ndarray:
        """``[len(self), D]`` float32, read-only: the words' mixture means, then the active
        components' means."""
        return self.key_table().vectors

    @property
    def norms(self) -> np.ndarray:
        return self.key_table().norms

    @property
    def vector_size(self) -> int:
        return self.dim

    def __len__(self) -> int:
        return len(self.key_table())

    def __contains__(self, key: object) -> bool:
        return self.has_index_for(key)

    def has_index_for(self, key: object) -> bool:
        return self.key_table().find(key) >= 0

    def get_index(self, key: Key, default: int | None = None) -> int:
        """The row of ``key`` (found as written, else as the model's tokenizer normalises
        it; an int is a row number), else ``default``, else :class:`UnknownKeyError`."""
        row = self.key_table().find(key)
        if row >= 0:
            return row
        if default is not None:
            return default
        raise UnknownKeyError(self._unknown(key))

    def _unknown(self, key: object) -> str:
        """Why ``key`` is not a key, in words."""
        if not isinstance(key, KEY_TYPES) or isinstance(key, bool):
            return f"a key must be a word, a word:k key or a row number, got {type(key).__name__} {key!r}"
        if not isinstance(key, str):
            return f"row {key} is not in the table of {len(self.key_table())} keys"
        stem, sep, component = key.rpartition(":") if isinstance(key, str) else ("", "", "")
        if sep and component.isdigit() and stem in self.vocab:
            k = self.components_per_word
            if int(component) >= k:
                return f"{key!r}: the model has K={k} components per word, {stem}:0 to {stem}:{k - 1}"
            if k == 1:
                return f"{key!r}: a K=1 model's words are its components; the key is {stem!r}"
            return f"{key!r} is an inactive component, not a key (model.components({stem!r}) has it)"
        return f"unknown key {key!r}: not in the model's vocabulary{self.vocab.did_you_mean(key)}"

    def get_vector(self, key: Key, norm: bool = False) -> np.ndarray:
        """The vector of ``key`` (read-only), scaled to unit length with ``norm``."""
        table = self.key_table()
        row = self.get_index(key)
        return table.vectors[row] / table.norms[row] if norm else table.vectors[row]

    def __getitem__(self, key_or_keys: Key | Iterable[Key]) -> np.ndarray:
        """``[D]`` for a key, ``[n, D]`` for a list of keys."""
        if isinstance(key_or_keys, KEY_TYPES):
            return self.get_vector(key_or_keys)
        return np.vstack([self.get_vector(key) for key in key_or_keys])  # type: ignore[union-attr]

    def word_vec(self, key: Key, norm: bool = False) -> np.ndarray:
        """gensim 3's name of :meth:`get_vector`."""
        return self.get_vector(key, norm)

    def get_normed_vectors(self) -> np.ndarray:
        return self.vectors / self.norms[:, None]

    def fill_norms(self, force: bool = False) -> None:
        """Nothing to do: the norms are computed with the table."""

    def init_sims(self, replace: bool = False) -> None:
        """gensim 3's :meth:`fill_norms`; ``replace=True`` (unit vectors in place) cannot be done."""
        if replace:
            raise NotApplicableError("init_sims(replace=True): a mixture model's vectors cannot be replaced; "
                                     "use get_normed_vectors()")

    def get_vecattr(self, key: Key, attr: str) -> int:
        """``count``, the only attribute: the word's count in the training text (a
        component's, its word's)."""
        if attr != "count":
            raise UnknownKeyError(f"get_vecattr: a w2gm model has only the 'count' attribute, not {attr!r}")
        return int(self.vocab.counts[self.key_table().row_words[self.get_index(key)]])

    @staticmethod
    def cosine_similarities(vector_1: np.ndarray, vectors_all: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(vectors_all, axis=1) * np.linalg.norm(vector_1)
        return (vectors_all @ vector_1) / norms

    def get_mean_vector(
        self, keys: Sequence[Key], weights: Sequence[float] | np.ndarray | None = None,
        pre_normalize: bool = True, post_normalize: bool = False, ignore_missing: bool = True,
    ) -> np.ndarray:
        """gensim's weighted mean of the keys' vectors (arrays taken as they are), over the
        sum of the absolute weights; unknown keys are skipped unless not ``ignore_missing``."""
        if len(keys) == 0:
            raise QueryError("cannot compute mean with no input")
        weights = np.ones(len(keys)) if weights is None else np.asarray(weights, dtype=np.float64)
        if len(weights) != len(keys):
            raise QueryError("keys and weights array must have same number of elements")
        total, mean = 0.0, np.zeros(self.dim, dtype=np.float32)
        for key, weight in zip(keys, weights, strict=True):
            if isinstance(key, np.ndarray):
                vector = key
            elif key in self:
                vector = self.get_vector(key, norm=pre_normalize)
            elif not ignore_missing:
                raise UnknownKeyError(self._unknown(key))
            else:
                continue
            mean += (weight * vector).astype(np.float32)
            total += abs(weight)
        if total > 0:
            mean = mean / np.float32(total)
        return unit(mean) if post_normalize else mean

    # --------------------------------------------------------------- gensim
    def to_keyedvectors(self, keys: str = "both") -> Any:
        """The table's ``words``, ``components`` or ``both`` as a ``gensim.models.KeyedVectors``
        (gensim must be installed), each key with its word's count."""
        if keys not in KEY_KINDS:
            raise W2GMError(f"keys must be one of {', '.join(KEY_KINDS)}, got {keys!r}")
        return self._gensim_copy(list(self.key_table().rows(keys)), counts=True)

    def vectors_for_all(self, keys: Iterable[Key], allow_inference: bool = True,
                        copy_vecattrs: bool = False) -> Any:
        """A gensim ``KeyedVectors`` of the given keys that the table has (each once, in
        the order given), with their counts if ``copy_vecattrs``."""
        table = self.key_table()
        return self._gensim_copy(list(dict.fromkeys(row for row in map(table.find, keys) if row >= 0)),
                                 copy_vecattrs)

    @staticmethod
    def load_word2vec_format(*args: Any, **kwargs: Any) -> Any:
        """Not for mixtures: a word2vec file holds vectors, not Gaussians."""
        raise NotApplicableError("load_word2vec_format: a word2vec file has no mixtures to make a w2gm model of; "
                                 "load it with gensim.models.KeyedVectors.load_word2vec_format")

    def _gensim_copy(self, rows: list[int], counts: bool) -> Any:
        try:
            from gensim.models import KeyedVectors
        except ImportError:
            raise W2GMError("this needs gensim: pip install gensim") from None
        table = self.key_table()
        keyed = KeyedVectors(vector_size=self.dim, count=0)
        keyed.add_vectors([table.index_to_key[row] for row in rows], table.vectors[rows].copy())
        if counts:  # add_vectors(extras=...) fails in gensim 4.4 (it iterates the dict as pairs)
            keyed.allocate_vecattrs(["count"], [np.int64])
            keyed.expandos["count"][:] = self.vocab.counts[table.row_words[rows]]
        return keyed


def _not_applicable(name: str) -> Callable[..., Any]:
    def method(*args: Any, **kwargs: Any) -> Any:
        raise NotApplicableError(
            f"{name}: a mixture model's vectors come from its Gaussians and cannot be edited; "
            "edit a copy made with model.to_keyedvectors()")

    method.__name__ = method.__qualname__ = name
    return method


#: gensim's methods that change the vectors or the keys.
EDITING_METHODS = ("add_vector", "add_vectors", "__setitem__", "set_vecattr", "allocate_vecattrs",
                   "resize_vectors", "sort_by_descending_frequency", "unit_normalize_all",
                   "intersect_word2vec_format")
for _name in EDITING_METHODS:
    setattr(TableAccess, _name, _not_applicable(_name))
