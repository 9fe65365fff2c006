"""The trained model as users query it, in the shape of gensim's KeyedVectors.

Words are Gaussian mixtures; ``"rock:1"`` names component 1 of ``rock`` (the paper's
Table 1 notation).  Everything here reads the input (word) distributions.

Components the usage pass found almost never in use (:mod:`w2gm.usage_pass`,
:mod:`w2gm.usage`) are *inactive*: the similarity measures, ``mixtures`` and
``most_similar`` leave them out (the remaining weights renormalised) unless
``include_inactive=True``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import measures, modelfile, senses
from .errors import W2GMError
from .mixture import MixtureTable
from .spelling import did_you_mean
from .tokenize import model_tokenizer, query_normalizer
from .usage import Usage
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
        usage: Usage | None = None,
    ) -> None:
        self.vocab = vocab
        self.input = input.to("cpu")
        self.output = output.to("cpu") if output is not None else None
        self.config = dict(config or {})
        self.training = dict(training or {})
        #: Winning counts and active flags of the components; None: unknown, all active.
        self.usage = usage
        # queries are normalised as the training text was: "Bank" finds "bank"
        self.vocab.normalize = query_normalizer(*model_tokenizer(self.config))
        self._unit_means: Tensor | None = None

    # ----------------------------------------------------------------- files
    @classmethod
    def load(cls, path: str | os.PathLike) -> KeyedMixtures:
        c = modelfile.load(path)
        return cls(c.vocab, c.input, c.output, c.config, c.training, c.usage)

    def save(self, path: str | os.PathLike, before_replace: Callable[[], None] | None = None) -> None:
        """Write the model file atomically; ``before_replace`` may refuse the final rename
        (:meth:`w2gm.outputs.Claim.verify`)."""
        contents = modelfile.ModelContents(
            self.vocab, self.input, self.output, self.config, self.training, self.usage
        )
        modelfile.save(path, contents, before_replace)

    def all_components(self) -> KeyedMixtures:
        """The same model with every component active (usage forgotten), for measuring what
        leaving inactive components out changes."""
        return KeyedMixtures(self.vocab, self.input, self.output, self.config, self.training)

    # ----------------------------------------------------------------- usage
    def active(self, include_inactive: bool = False) -> Tensor:
        """``[V, K]`` bool: which components count (all, without usage or with ``include_inactive``)."""
        if self.usage is None or include_inactive:
            return torch.ones(self.input.logits.shape, dtype=torch.bool)
        return self.usage.active

    def usage_shares(self) -> Tensor | None:
        """``[V, K]`` share of each word's tokens in which each component won (NaN rows for
        words the usage pass did not see), or None when the model has no usage."""
        return None if self.usage is None else self.usage.shares()

    def log_weights(self, include_inactive: bool = False) -> Tensor:
        """``[V, K]`` log mixture weights, renormalised over the active components
        (inactive ones -inf)."""
        logits = self.input.logits
        if self.usage is not None and not include_inactive:
            logits = logits.masked_fill(~self.usage.active, -torch.inf)
        return torch.log_softmax(logits, -1)

    # ------------------------------------------------------------ structure
    @property
    def context_table(self) -> MixtureTable:
        """The distributions context words are read with: the output ones if trained, else
        the input ones."""
        return self.output if self.output is not None else self.input

    @property
    def training_window(self) -> int:
        """The context window of training (as recorded; :data:`w2gm.senses.DEFAULT_WINDOW`
        for a model that does not record it): a word's context in :meth:`disambiguate`."""
        return int(self.config.get("window", senses.DEFAULT_WINDOW))

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

    def mixtures(self, ids: Tensor | np.ndarray | list[int], include_inactive: bool = False) -> measures.Mixtures:
        """The ``(means, log_variances, log_weights)`` of the given word ids, batched; inactive
        components have log weight -inf, which every measure reads as absent."""
        ids = torch.as_tensor(ids, dtype=torch.long)
        return (self.input.means[ids], self.input.log_variances[ids], self.log_weights(include_inactive)[ids])

    # ------------------------------------------------------------- queries
    def similarity(self, a: str, b: str, measure: str = "max_cosine", include_inactive: bool = False) -> float:
        """Similarity of two words by a measure of :mod:`w2gm.measures` (max cosine by default)."""
        score = measures.get(measure)
        ids = [self.vocab.id(a)], [self.vocab.id(b)]
        return float(score(self.mixtures(ids[0], include_inactive), self.mixtures(ids[1], include_inactive))[0])

    def disambiguate(
        self, word: str, context: str | list[str], window: int | None = None, include_inactive: bool = False
    ) -> np.ndarray:
        """Posterior ``[K]`` over ``word``'s components given a context (a string, split on
        white space, or a list of words): see :mod:`w2gm.senses`.  Where ``word`` occurs in
        the context, the ``window`` words each side of it (the training window by default)
        are used, else all the context's words."""
        return self.disambiguate_many(word, [context], window, include_inactive)[0]

    def disambiguate_many(
        self, word: str, contexts: list[str] | list[list[str]], window: int | None = None,
        include_inactive: bool = False,
    ) -> np.ndarray:
        """:meth:`disambiguate` for many contexts at once, ``[N, K]`` (rows sum to 1), scored
        in one batch."""
        size = window if window is not None else self.training_window
        ids = senses.context_windows(self.vocab, word, contexts, size)  # checks the arguments
        return self.posteriors(np.full(len(ids), self.vocab.id(word)), ids, include_inactive).numpy()

    def posteriors(
        self, word_ids: Tensor | np.ndarray, context_ids: Tensor | np.ndarray, include_inactive: bool = False
    ) -> Tensor:
        """Posterior over the components of each word ``word_ids[n]`` given its context words
        ``context_ids[n]`` (``-1`` where there is none), ``[N, K]`` on the CPU
        (:func:`w2gm.senses.context_posteriors`, context words read with
        :attr:`context_table`).  Inactive components get posterior 0 unless
        ``include_inactive``."""
        return senses.context_posteriors(
            self.input, self.context_table, word_ids, context_ids, self.log_weights(include_inactive)
        )

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
        hint = did_you_mean(self.key_suggestions(key, limit=3))
        raise W2GMError(f"unknown word {key!r}: not in the model's vocabulary{hint}")

    def key_suggestions(self, key: str, limit: int = 5) -> list[str]:
        """What an unknown ``key`` may have meant: the components of its word when only the
        component is wrong (``rock:7``), else words spelled like it, with its ``:i`` kept."""
        word, sep, component = key.rpartition(":")
        if not (sep and component.isdigit()):
            word, component = key, None
        elif word in self.vocab:
            return [f"{word}:{i}" for i in range(self.components_per_word)]
        suffix = "" if component is None else f":{component}"
        return [guess + suffix for guess in self.vocab.lookup.close_matches(word, limit)]

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
        include_inactive: bool = False,
    ) -> list[tuple[str, float]]:
        """Nearest neighbours by cosine of the means.

        ``most_similar("rock:1")`` ranks every other word's components (``"stone:0"``, ...);
        ``most_similar("rock")`` ranks whole words by their best component pair (max cosine).
        The query word itself is left out, and so are inactive components (of the query word
        too, when a whole word is asked for) unless ``include_inactive``.  Lists of keys
        (``positive=["king", "woman"], negative=["man"]``) or a vector do gensim's vector
        arithmetic (:meth:`~w2gm.vectors.VectorQueries.most_similar_vectors`).

        ``topn`` follows gensim 4 for a word and a list alike: below 1 gives ``[]``, None
        every score (an array over the rows ranked: words, or components).
        """
        if isinstance(negative, int) and not isinstance(negative, bool):  # most_similar(key, n): the older topn
            topn, negative = negative, None
        if topn is not None and (isinstance(topn, bool) or not isinstance(topn, int | np.integer)):
            raise W2GMError(f"topn must be a whole number or None, got {topn!r}")
        if topn is not None and topn < 1:
            return []
        if not isinstance(positive, str) or negative or restrict_vocab is not None:
            return self.most_similar_vectors(positive, negative, topn, restrict_vocab)  # type: ignore[return-value]
        key = positive
        word_id, component = self.parse_component(key)
        k = self.components_per_word
        units = self.unit_means()
        active = self.active(include_inactive)
        if component is not None:
            scores = (units @ units[word_id * k + component]).masked_fill(~active.flatten(), -np.inf)
            scores[word_id * k : (word_id + 1) * k] = -np.inf
            if topn is None:
                return scores.numpy()  # type: ignore[return-value]
            best = torch.topk(scores, min(topn, int(active.sum()) - int(active[word_id].sum())))
            return [
                (f"{self.vocab.words[i // k]}:{i % k}", float(s))
                for s, i in zip(best.values.tolist(), best.indices.tolist(), strict=True)
            ]
        own = active[word_id].nonzero().flatten() + word_id * k
        scores = (units @ units[own].T).masked_fill(~active.flatten().unsqueeze(-1), -np.inf)
        scores = scores.reshape(len(self), -1).amax(-1)
        scores[word_id] = -np.inf
        if topn is None:
            return scores.numpy()  # type: ignore[return-value]
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
