"""The trained model as users query it, in the shape of gensim's KeyedVectors.

Words are Gaussian mixtures; ``"rock:1"`` names component 1 of ``rock`` (the paper's
Table 1 notation).  Everything here reads the input (word) distributions.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import measures, modelfile
from .errors import W2GMError
from .mixture import MixtureTable
from .tokenize import model_tokenizer, query_normalizer
from .vectors import Key, VectorQueries
from .vocab import Vocabulary


@dataclass(frozen=True)
class Components:
    """One word's mixture: ``means [K, D]``, ``variances [K]`` (spherical) or ``[K, D]``
    (diagonal), ``weights [K]``."""

    means: np.ndarray
    variances: np.ndarray
    weights: np.ndarray


class KeyedMixtures(VectorQueries):
    """A trained w2gm model: vocabulary, word mixtures and the options they were trained with.
    gensim's KeyedVectors methods come from :class:`w2gm.vectors.VectorQueries`."""

    def __init__(
        self,
        vocab: Vocabulary,
        input: MixtureTable,
        output: MixtureTable | None = None,
        config: dict[str, Any] | None = None,
        training: dict[str, Any] | None = None,
    ) -> None:
        self.vocab = vocab
        self.input = input.to("cpu")
        self.output = output.to("cpu") if output is not None else None
        self.config = dict(config or {})
        self.training = dict(training or {})
        # queries are normalised as the training text was: "Bank" finds "bank"
        self.vocab.normalize = query_normalizer(*model_tokenizer(self.config))
        self._unit_means: Tensor | None = None

    # ----------------------------------------------------------------- files
    @classmethod
    def load(cls, path: str | os.PathLike) -> KeyedMixtures:
        c = modelfile.load(path)
        return cls(c.vocab, c.input, c.output, c.config, c.training)

    def save(self, path: str | os.PathLike) -> None:
        contents = modelfile.ModelContents(self.vocab, self.input, self.output, self.config, self.training)
        modelfile.save(path, contents)

    # ------------------------------------------------------------ structure
    @property
    def components_per_word(self) -> int:
        return self.input.components

    @property
    def dim(self) -> int:
        return self.input.dim

    @property
    def covariance(self) -> str:
        return self.input.covariance

    def __len__(self) -> int:
        return len(self.vocab)

    def __contains__(self, word: object) -> bool:
        return word in self.vocab

    def __repr__(self) -> str:
        return (
            f"KeyedMixtures({len(self)} words, K={self.components_per_word}, D={self.dim}, "
            f"{self.covariance})"
        )

    def components(self, word: str) -> Components:
        i = self.vocab.id(word)
        variances = self.input.variances()[i].numpy()
        if self.covariance == "spherical":
            variances = variances[:, 0]
        return Components(
            means=self.input.means[i].numpy().copy(),
            variances=variances.copy(),
            weights=self.input.weights()[i].numpy(),
        )

    def mixtures(self, ids: Tensor | np.ndarray | list[int]) -> measures.Mixtures:
        """The ``(means, log_variances, log_weights)`` of the given word ids, batched."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        return (self.input.means[ids], self.input.log_variances[ids], torch.log_softmax(self.input.logits[ids], -1))

    # ------------------------------------------------------------- queries
    def similarity(self, a: str, b: str, measure: str = "max_cosine") -> float:
        """Similarity of two words by a measure of :mod:`w2gm.measures` (max cosine by default)."""
        score = measures.get(measure)
        ids = [self.vocab.id(a)], [self.vocab.id(b)]
        return float(score(self.mixtures(ids[0]), self.mixtures(ids[1]))[0])

    def parse_component(self, key: str) -> tuple[int, int | None]:
        """``"rock:1"`` -> (id of rock, 1); ``"rock"`` -> (id of rock, None).  A word that
        itself contains ``:`` and is in the vocabulary is taken as a word."""
        if key in self.vocab:
            return self.vocab.id(key), None
        word, sep, component = key.rpartition(":")
        if sep and component.isdigit() and word in self.vocab:
            k = int(component)
            if k >= self.components_per_word:
                raise W2GMError(
                    f"component {k} of {word!r} does not exist: the model has K={self.components_per_word}"
                )
            return self.vocab.id(word), k
        raise W2GMError(f"unknown word {key!r}: not in the model's vocabulary")

    def unit_means(self) -> Tensor:
        """All component means normalised to unit length, ``[V * K, D]`` (row = word * K + k)."""
        if self._unit_means is None:
            means = self.input.means.reshape(-1, self.dim)
            self._unit_means = torch.nn.functional.normalize(means, dim=-1)
        return self._unit_means

    def most_similar(
        self,
        positive: Key | list[Key] | None = None,
        negative: Key | list[Key] | int | None = None,
        topn: int = 10,
        restrict_vocab: int | None = None,
    ) -> list[tuple[str, float]]:
        """Nearest neighbours by cosine of the means.

        ``most_similar("rock:1")`` ranks every other word's components (``"stone:0"``, ...);
        ``most_similar("rock")`` ranks whole words by their best component pair (max cosine).
        The query word itself is left out.  Lists of keys (``positive=["king", "woman"],
        negative=["man"]``) or a vector do gensim's vector arithmetic
        (:meth:`~w2gm.vectors.VectorQueries.most_similar_vectors`).
        """
        if isinstance(negative, int):  # most_similar(key, n): the older positional topn
            topn, negative = negative, None
        if not isinstance(positive, str) or negative or restrict_vocab is not None:
            return self.most_similar_vectors(positive, negative, topn, restrict_vocab)  # type: ignore[return-value]
        key = positive
        if topn < 1:
            raise W2GMError(f"topn must be at least 1, got {topn}")
        word_id, component = self.parse_component(key)
        k = self.components_per_word
        units = self.unit_means()
        if component is not None:
            scores = units @ units[word_id * k + component]
            scores[word_id * k : (word_id + 1) * k] = -np.inf
            best = torch.topk(scores, min(topn, scores.numel() - k))
            return [
                (f"{self.vocab.words[i // k]}:{i % k}", float(s))
                for s, i in zip(best.values.tolist(), best.indices.tolist(), strict=True)
            ]
        scores = (units @ units[word_id * k : (word_id + 1) * k].T).reshape(len(self), -1).amax(-1)
        scores[word_id] = -np.inf
        best = torch.topk(scores, min(topn, len(self) - 1))
        ranked = zip(best.values.tolist(), best.indices.tolist(), strict=True)
        return [(self.vocab.words[i], float(s)) for s, i in ranked]

    # ---------------------------------------------------------- evaluation
    def evaluate_word_pairs(
        self, path: str | os.PathLike, measure: str = "max_cosine", oov: str = "skip"
    ) -> tuple[tuple[float, float], tuple[float, float], float]:
        """Correlate a measure with the human scores of a ``word1 word2 score`` file, as
        gensim's method does: returns ``(pearson, spearman, oov_ratio)``, each correlation a
        ``(statistic, pvalue)`` pair and ``oov_ratio`` the percentage of pairs with an
        unknown word, which ``oov="skip"`` leaves out and ``oov="zero"`` keeps as having no
        similarity (see :mod:`w2gm.evaluate.pairs`)."""
        from .evaluate.similarity import evaluate_pairs_file

        return evaluate_pairs_file(self, path, measure, oov)  # type: ignore[arg-type]

    def entailment_score(self, a: str, b: str, measure: str = "kl") -> float:
        """How strongly ``a`` entails ``b`` (every a is a b).  The default is minus the
        smallest KL(a_i || b_j): near 0 when a component of the general word ``b`` covers a
        component of the specific word ``a``.  Any measure of :mod:`w2gm.measures` works."""
        return self.similarity(a, b, measure=measure)


def load(path: str | os.PathLike) -> KeyedMixtures:
    """Load a model saved by ``w2gm train`` or :meth:`KeyedMixtures.save`."""
    return KeyedMixtures.load(path)
