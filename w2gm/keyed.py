"""The trained model as users query it, in the shape of gensim's KeyedVectors.

Words are Gaussian mixtures; ``"rock:1"`` names component 1 of ``rock`` (the paper's
Table 1 notation).  Everything here reads the input (word) distributions.

Components the usage pass found almost never in use (:mod:`w2gm.usage_pass`,
:mod:`w2gm.usage`) are *inactive*: the similarity measures, ``mixtures``, the table of keys
and ``most_similar`` leave them out (the remaining weights renormalised) unless
``include_inactive=True``.

gensim's methods (:mod:`w2gm.vectors`) read one vector per key: a word's mixture mean, a
component's mean.  ``measure=`` in :meth:`KeyedMixtures.similarity`,
:meth:`~KeyedMixtures.most_similar` and :meth:`~KeyedMixtures.evaluate_word_pairs` reads
the mixtures instead, by a measure of :mod:`w2gm.measures` (the paper's ``max_cosine``...).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import torch
from torch import Tensor

from . import measures, modelfile, senses
from .errors import QueryError, UnknownKeyError, W2GMError, os_reason
from .keytable import KEY_KINDS
from .mixture import MixtureTable
from .spelling import did_you_mean
from .tokenize import model_tokenizer, query_normalizer
from .usage import Usage
from .vectors import Key, VectorQueries, as_list, older_topn
from .vocab import Vocabulary
from .word2vec_format import write_word2vec

#: Words scored per batch when ranking by a mixture measure: bounds the ``[chunk, K, K, D]``
#: differences some measures build.
RANK_CHUNK = 8192


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

    def __repr__(self) -> str:
        return (
            f"KeyedMixtures({len(self.vocab)} words, K={self.components_per_word}, D={self.dim}, "
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
    def similarity(self, w1: Key, w2: Key, measure: str = "cosine", include_inactive: bool = False) -> float:
        """gensim's cosine of the two keys' vectors (``measure="cosine"``), or the similarity
        of two words' mixtures by a measure of :mod:`w2gm.measures` (the paper's
        ``max_cosine``, ``elk``, ...)."""
        if measure == "cosine":
            return super().similarity(w1, w2, include_inactive=include_inactive)
        score = measures.get(measure)
        ids = [self.vocab.id(w1)], [self.vocab.id(w2)]  # type: ignore[arg-type]
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
        include_inactive: bool = False, rule: str = senses.QUERY_RULE,
        temperature: float = senses.QUERY_TEMPERATURE,
    ) -> np.ndarray:
        """:meth:`disambiguate` for many contexts at once, ``[N, K]`` (rows sum to 1), scored
        in one batch, the window's words combined by ``rule`` (:mod:`w2gm.occurrence`)."""
        size = window if window is not None else self.training_window
        ids = senses.context_windows(self.vocab, word, contexts, size)  # checks the arguments
        return self.posteriors(np.full(len(ids), self.vocab.id(word)), ids, include_inactive, rule,
                               temperature).numpy()

    def posteriors(
        self, word_ids: Tensor | np.ndarray, context_ids: Tensor | np.ndarray, include_inactive: bool = False,
        rule: str = senses.QUERY_RULE, temperature: float = senses.QUERY_TEMPERATURE,
    ) -> Tensor:
        """Posterior over the components of each word ``word_ids[n]`` given its context words
        ``context_ids[n]`` (``-1`` where there is none), ``[N, K]`` on the CPU
        (:func:`w2gm.senses.context_posteriors`, context words read with
        :attr:`context_table`, combined by ``rule``).  Inactive components get posterior 0
        unless ``include_inactive``."""
        return senses.context_posteriors(
            self.input, self.context_table, word_ids, context_ids, self.log_weights(include_inactive),
            rule=rule, temperature=temperature, context_weights=self.keep_probabilities(),
        )

    def keep_probabilities(self) -> Tensor:
        """Each word's subsampling keep probability in the model's training (A.2; 1 for all
        when the model does not record its threshold): how often training's windows held it."""
        threshold = float(self.config.get("subsample", 0.0) or 0.0)
        return torch.as_tensor(self.vocab.keep_probabilities(threshold), dtype=torch.float32)

    def parse_component(self, key: str) -> tuple[int, int | None]:
        """``"rock:1"`` -> (id of rock, 1); ``"rock"`` -> (id of rock, None).  A word that
        itself contains ``:`` and is in the vocabulary is taken as a word."""
        if key in self.vocab:
            return self.vocab.id(key), None
        word, sep, component = key.rpartition(":")
        if sep and component.isdigit() and word in self.vocab:
            k = int(component)
            if k >= self.components_per_word:
                raise UnknownKeyError(
                    f"component {k} of {word!r} does not exist: the model has K={self.components_per_word}"
                )
            return self.vocab.id(word), k
        hint = did_you_mean(self.key_suggestions(key, limit=3))
        raise UnknownKeyError(f"unknown word {key!r}: not in the model's vocabulary{hint}")

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
        self, positive: Any = None, negative: Any = None, topn: int | None = 10, clip_start: int = 0,
        clip_end: int | None = None, restrict_vocab: int | None = None, indexer: Any = None, *,
        measure: str = "cosine", kind: str | None = None, include_inactive: bool = False,
    ) -> list[tuple[str, float]] | np.ndarray:
        """gensim's ``most_similar`` on the keys' vectors (``measure="cosine"``, see
        :meth:`w2gm.vectors.VectorQueries.most_similar`): ``most_similar("rock")`` ranks words
        by the cosine of their mixture means, ``most_similar("rock:1")`` the components of
        other words (the paper's Table 1).  With a measure of :mod:`w2gm.measures`,
        ``most_similar("rock", measure="max_cosine")`` ranks words by that measure of their
        mixtures (max cosine: their closest pair of components).  Inactive components are left
        out unless ``include_inactive``."""
        if measure == "cosine":
            return super().most_similar(positive, negative, topn, clip_start, clip_end, restrict_vocab, indexer,
                                        kind=kind, include_inactive=include_inactive)
        negative, topn = older_topn(negative, topn)
        words = as_list(positive)
        if negative is not None or len(words) != 1 or not isinstance(words[0], str):
            raise QueryError(f"measure={measure!r} ranks words by their mixtures: give one word, no negative")
        return self.rank_words(words[0], measure, topn, restrict_vocab, include_inactive)

    def rank_words(
        self, word: str, measure: str, topn: int | None = 10, restrict_vocab: int | None = None,
        include_inactive: bool = False,
    ) -> list[tuple[str, float]] | np.ndarray:
        """Words by a measure of :mod:`w2gm.measures` between their mixtures and ``word``'s
        (the word itself left out); ``topn=None`` gives every word's score."""
        score = measures.get(measure)
        word_id = self.vocab.id(word)
        count = min(restrict_vocab or len(self.vocab), len(self.vocab))
        if measure == "max_cosine":  # the explorer asks often: one product with the cached unit means
            scores = self._max_cosines(word_id, count, include_inactive)
        else:
            scores = self._scores(score, word_id, count, include_inactive)
        if topn is None:
            return scores.numpy()
        if topn < 1:
            return []
        if word_id < count:
            scores[word_id] = -torch.inf
        best = torch.topk(scores, max(0, min(topn, count - int(word_id < count))))
        return [(self.vocab.words[i], float(s)) for s, i in zip(best.values.tolist(), best.indices.tolist(),
                                                               strict=True)]

    def _max_cosines(self, word_id: int, count: int, include_inactive: bool) -> Tensor:
        """:func:`w2gm.measures.max_cosine` of ``word_id`` with each of the first ``count`` words."""
        k, active = self.components_per_word, self.active(include_inactive)
        units = self.unit_means()
        own = units[word_id * k : (word_id + 1) * k][active[word_id]]
        pairs = (units[: count * k] @ own.T).masked_fill(~active[:count].reshape(-1, 1), -torch.inf)
        return pairs.reshape(count, -1).amax(-1)

    def _scores(self, score: measures.Measure, word_id: int, count: int, include_inactive: bool) -> Tensor:
        """``score`` of ``word_id``'s mixture with each of the first ``count`` words', in chunks."""
        table = (self.input.means, self.input.log_variances, self.log_weights(include_inactive))
        query = tuple(t[word_id : word_id + 1] for t in table)
        scores = torch.empty(count)
        with torch.no_grad():
            for start in range(0, count, RANK_CHUNK):
                others = tuple(t[start : min(start + RANK_CHUNK, count)] for t in table)  # views, not copies
                scores[start : start + len(others[0])] = score(
                    tuple(t.expand(len(others[0]), *t.shape[1:]) for t in query), others)  # type: ignore[arg-type]
        return scores

    # ---------------------------------------------------------- evaluation
    def evaluate_word_pairs(
        self, pairs: str | os.PathLike, delimiter: str = "\t", encoding: str = "utf8", restrict_vocab: int = 300_000,
        case_insensitive: bool = True, dummy4unknown: bool = False, *, measure: str = "cosine",
    ) -> tuple[tuple[float, float], tuple[float, float], float]:
        """gensim's ``evaluate_word_pairs``: ``(pearson, spearman, oov_ratio)`` between a
        measure and the human scores of a ``word1 word2 score`` file, each correlation a
        ``(statistic, pvalue)`` pair and ``oov_ratio`` the percentage of pairs with a word
        outside the first ``restrict_vocab``, which are left out (kept as least similar with
        ``dummy4unknown``; see :mod:`w2gm.evaluate.pairs`).  The measure is gensim's cosine of
        the words' vectors by default, any of :mod:`w2gm.measures` with ``measure=``.  The
        file's delimiter (tab, comma or spaces) and a header line are found by the reader, so
        ``delimiter`` may be any of those; the text must be UTF-8."""
        from .evaluate.similarity import evaluate_pairs_file

        if delimiter not in ("\t", ",", " "):
            raise W2GMError(f"delimiter {delimiter!r}: w2gm reads files separated by tabs, commas or spaces")
        if encoding.lower().replace("-", "") not in ("utf8", "utf8sig", "ascii"):
            raise W2GMError(f"encoding {encoding!r}: w2gm reads UTF-8 files")
        return evaluate_pairs_file(  # type: ignore[return-value]
            self, pairs, "centroid_cosine" if measure == "cosine" else measure,  # type: ignore[arg-type]
            "zero" if dummy4unknown else "skip", restrict_vocab, case_insensitive)

    def save_word2vec_format(
        self, fname: str | os.PathLike, fvocab: str | os.PathLike | None = None, binary: bool = False,
        total_vec: int | None = None, write_header: bool = True, prefix: str = "", append: bool = False,
        sort_attr: str = "count", *, keys: str = "both",
    ) -> None:
        """gensim's ``save_word2vec_format``: the table (or its ``keys="words"`` or
        ``"components"``) in the word2vec tool's format, in the table's order (words by
        decreasing count, then components), and with ``fvocab`` a ``key count`` file beside
        it.  A file is replaced as gensim replaces it, but atomically: a failure leaves the
        old file whole (``append=True`` adds to it in place)."""
        if sort_attr != "count":
            raise W2GMError(f"sort_attr {sort_attr!r}: a w2gm model has only the 'count' attribute")
        table = self.key_table()
        if keys not in KEY_KINDS:
            raise W2GMError(f"keys must be one of {', '.join(KEY_KINDS)}, got {keys!r}")
        rows = list(table.rows(keys))
        names = [table.index_to_key[row] for row in rows]
        outputs: list[tuple[str | os.PathLike, Callable[[BinaryIO], None]]] = [(fname, lambda handle: write_word2vec(
            names, table.vectors[rows], handle, binary, write_header, prefix, total_vec))]
        if fvocab is not None:
            counts = self.vocab.counts[table.row_words[rows]]
            outputs.append((fvocab, lambda handle: handle.write("".join(
                f"{prefix}{name} {count}\n" for name, count in zip(names, counts.tolist(), strict=True)).encode())))
        for path, write in outputs:
            if append:
                try:
                    with open(path, "ab") as handle:
                        write(handle)
                except OSError as error:
                    raise W2GMError(f"cannot write {path}: {os_reason(error)}") from None
            else:
                with modelfile.atomic_writer(path) as handle:
                    write(handle)

    def entailment_score(self, a: str, b: str, measure: str = "kl") -> float:
        """How strongly ``a`` entails ``b`` (every a is a b).  The default is minus the
        smallest KL(a_i || b_j): near 0 when a component of the general word ``b`` covers a
        component of the specific word ``a``.  Any measure of :mod:`w2gm.measures` works."""
        return self.similarity(a, b, measure=measure)


def load(path: str | os.PathLike) -> KeyedMixtures:
    """Load a model saved by ``w2gm train`` or :meth:`KeyedMixtures.save`."""
    return KeyedMixtures.load(path)
