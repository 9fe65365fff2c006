"""What the explorer shows, computed from a trained model.

Each view is a dataclass that the web API returns as JSON (FastAPI derives the OpenAPI
schema from these same classes).  Components are named ``word:i`` as in the paper's
Table 1, but views also carry the word and the index separately, so that clients never
have to split a key and guess whether a ``:`` belongs to the word.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch

from .. import energy, measures
from ..errors import W2GMError
from ..keyed import KeyedMixtures
from ..senses import context_windows, known_context
from ..spelling import without_hint
from .examples import worth_exploring
from .projection import project


class NotFound(W2GMError):
    """A word or component the model lacks, with what the user may have meant."""

    def __init__(self, message: str, suggestions: list[str]) -> None:
        super().__init__(message)
        self.suggestions = suggestions


@dataclass(frozen=True)
class Neighbour:
    key: str
    word: str
    #: ``None`` where whole words are ranked.
    component: int | None
    #: Cosine of the means (the best component pair for whole words).
    similarity: float


@dataclass(frozen=True)
class ComponentView:
    key: str
    index: int
    weight: float
    #: Variance per dimension; the mean over dimensions for diagonal covariances.
    variance: float
    std: float
    neighbours: list[Neighbour]
    #: Share of the word's tokens in training where this component won (None: unknown).
    usage: float | None = None
    #: False for a component that almost never wins (see ``w2gm.usage``).
    active: bool = True


@dataclass(frozen=True)
class MapPoint:
    key: str
    word: str
    component: int
    x: float
    y: float
    radius: float
    #: The component of the looked-up word this point is, or is a neighbour of.
    group: int
    #: Whether this is a component of the looked-up word itself.
    query: bool
    active: bool = True


@dataclass(frozen=True)
class WordView:
    word: str
    count: int
    #: The component asked for with ``word:i``, if any.
    focus: int | None
    components: list[ComponentView]
    map: list[MapPoint]


@dataclass(frozen=True)
class SenseView:
    """Which component a word has in a context: the posterior of ``w2gm.senses``."""

    word: str
    #: The context words that were read (those the model knows, within the window).
    context_words: list[str]
    posterior: list[float]
    chosen: int
    #: No known context word was found (the word itself does not count): the posterior is
    #: the prior, the mixture weights.
    prior_only: bool


@dataclass(frozen=True)
class NeighboursView:
    query: str
    word: str
    component: int | None
    neighbours: list[Neighbour]


@dataclass(frozen=True)
class Entailment:
    #: The word whose distribution the other covers more closely entails it (paper 4.6).
    direction: Literal["a_entails_b", "b_entails_a", "neither"]
    min_kl_a_b: float
    min_kl_b_a: float


@dataclass(frozen=True)
class PairView:
    a: str
    b: str
    weights_a: list[float]
    weights_b: list[float]
    #: Every measure of :mod:`w2gm.measures`, larger meaning more similar.
    measures: dict[str, float]
    #: ``partial_energy[i][j]`` is xi_ij of Eq. (3) between ``a:i`` and ``b:j``.
    partial_energy: list[list[float]]
    kl_a_b: list[list[float]]
    kl_b_a: list[list[float]]
    entailment: Entailment


@dataclass(frozen=True)
class ModelInfo:
    words: int
    components: int
    dim: int
    covariance: str
    #: Words to start exploring from (:mod:`w2gm.explorer.examples`), and how they were chosen.
    examples: list[str]
    examples_note: str
    #: What each similarity measure of :class:`PairView` is, by name.
    measures: dict[str, str]


class Explorer:
    """Answers the explorer's questions about one model; safe to share between threads."""

    def __init__(self, model: KeyedMixtures) -> None:
        self.model = model
        self.lookup = model.vocab.lookup
        # Built now rather than by the first requests, which would each build their own.
        model.unit_means()
        self.examples = worth_exploring(model)

    def info(self) -> ModelInfo:
        model = self.model
        # The measures' own docstrings, so that a new measure is explained where it is defined.
        notes = {name: " ".join((score.__doc__ or "").split()) for name, score in measures.MEASURES.items()}
        return ModelInfo(len(model.vocab), model.components_per_word, model.dim, model.covariance, *self.examples,
                         notes)

    # ---------------------------------------------------------------- names
    def word_id(self, word: str) -> int:
        if word in self.model.vocab:
            return self.model.vocab.id(word)
        raise NotFound(f"unknown word {word!r}", self.lookup.close_matches(word))

    def resolve(self, key: str) -> tuple[int, int | None]:
        """``"rock"`` -> (id, None), ``"rock:1"`` -> (id, 1); :class:`NotFound` with
        suggestions for a word or component the model lacks."""
        try:
            return self.model.parse_component(key)
        except W2GMError as error:
            # the page lists the suggestions as links, not in the message
            raise NotFound(without_hint(str(error)), self.model.key_suggestions(key)) from None

    def suggest(self, prefix: str, limit: int) -> list[str]:
        return self.lookup.complete(prefix, limit)

    # ----------------------------------------------------------- neighbours
    def _row_name(self, row: int) -> tuple[str, str, int]:
        """``(key, word, component)`` of a row of the ``[V * K, D]`` component table."""
        word, component = divmod(row, self.model.components_per_word)
        word = self.model.vocab.words[word]
        return f"{word}:{component}", word, component

    def _nearest(
        self, word_id: int, components: list[int], k: int, include_inactive: bool = False
    ) -> list[list[Neighbour]]:
        """The ``k`` components nearest to each of ``word_id``'s given components, by cosine.

        One matrix product of the pre-normalised means against all query components at
        once; the word's own components, and inactive ones, are left out, as in ``most_similar``.
        """
        per_word = self.model.components_per_word
        units = self.model.unit_means()
        active = self.model.active(include_inactive)
        scores = units @ units[[word_id * per_word + c for c in components]].T  # [V*K, len(components)]
        scores = scores.masked_fill(~active.flatten().unsqueeze(-1), -math.inf)
        scores[word_id * per_word : (word_id + 1) * per_word] = -math.inf
        candidates = int(active.sum()) - int(active[word_id].sum())
        best = torch.topk(scores, max(0, min(k, candidates)), dim=0)
        return [
            [Neighbour(*self._row_name(row), score) for score, row in zip(values, rows, strict=True)]
            for values, rows in zip(best.values.T.tolist(), best.indices.T.tolist(), strict=True)
        ]

    def neighbours(self, key: str, k: int, include_inactive: bool = False) -> NeighboursView:
        """Nearest components of ``word:i``, or nearest whole words of ``word``."""
        word_id, component = self.resolve(key)
        word = self.model.vocab.words[word_id]
        if component is not None:
            found = self._nearest(word_id, [component], k, include_inactive)[0]
        else:
            ranked = self.model.most_similar(word, topn=k, measure="max_cosine", include_inactive=include_inactive)
            found = [Neighbour(other, other, None, score) for other, score in ranked]
        return NeighboursView(key, word, component, found)

    # ----------------------------------------------------------------- word
    def word(self, key: str, k: int, include_inactive: bool = False) -> WordView:
        """Every component of a word with its weight, spread, usage and ``k`` neighbours, and
        the map of them all.  Inactive components are listed, marked, with their weight as
        trained; the neighbours are active components unless ``include_inactive``."""
        word_id, focus = self.resolve(key)
        model = self.model
        word = model.vocab.words[word_id]
        per_word = model.components_per_word
        variances = model.input.variances()[word_id].mean(-1).tolist()
        weights = model.input.weights()[word_id].tolist()
        shares = model.usage_shares()
        usage = [None] * per_word if shares is None or shares[word_id].isnan().any() else shares[word_id].tolist()
        active = model.active()[word_id].tolist()
        nearest = self._nearest(word_id, list(range(per_word)), k, include_inactive)
        components = [
            ComponentView(
                f"{word}:{i}", i, weights[i], variances[i], math.sqrt(variances[i]), nearest[i], usage[i], active[i]
            )
            for i in range(per_word)
        ]
        count = int(model.vocab.counts[word_id])
        return WordView(word, count, focus, components, self._map(word_id, nearest))

    def sense(self, word: str, context: str) -> SenseView:
        """The posterior over ``word``'s components given a sentence (see ``w2gm.senses``)."""
        self.word_id(word)  # a NotFound with suggestions for an unknown word
        ids = context_windows(self.model.vocab, word, [context], self.model.training_window)[0]
        posterior = self.model.disambiguate(word, context)
        read = known_context(self.model.vocab, ids)
        return SenseView(word, read, posterior.tolist(), int(posterior.argmax()), not read)

    def _map(self, word_id: int, nearest: list[list[Neighbour]]) -> list[MapPoint]:
        """The word's components and their neighbours in the PCA plane of their means."""
        model = self.model
        per_word = model.components_per_word
        # Row of each point in the V*K table -> (group, is a query component); a neighbour
        # of several components is drawn once, in the first one's colour.
        points = {word_id * per_word + i: (i, True) for i in range(per_word)}
        for group, neighbours in enumerate(nearest):
            for n in neighbours:
                points.setdefault(model.vocab.index[n.word] * per_word + n.component, (group, False))
        rows = list(points)
        means = model.input.means.reshape(-1, model.dim)[rows]
        variances = model.input.log_variances.reshape(-1, model.input.log_variances.shape[-1])[rows].exp()
        drawn = project(means, variances)
        active = model.active().flatten()[rows].tolist()
        placed = zip(rows, drawn.coordinates.tolist(), drawn.radii.tolist(), active, strict=True)
        return [
            MapPoint(*self._row_name(row), x, y, radius, *points[row], on) for row, (x, y), radius, on in placed
        ]

    # ----------------------------------------------------------------- pair
    def pair(self, a: str, b: str) -> PairView:
        """How two words relate: every similarity measure, the K x K partial energies and
        the component KL divergences both ways."""
        f = self.model.mixtures([self.word_id(a)])
        g = self.model.mixtures([self.word_id(b)])
        scores = {name: float(measure(f, g)[0]) for name, measure in measures.MEASURES.items()}
        xi = energy.partial_log_energies(f[0], f[1], g[0], g[1])[0]
        kl_a_b = energy.gaussian_kl(f[0], f[1], g[0], g[1])[0]
        kl_b_a = energy.gaussian_kl(g[0], g[1], f[0], f[1])[0]
        return PairView(
            a,
            b,
            f[2][0].exp().tolist(),
            g[2][0].exp().tolist(),
            scores,
            xi.tolist(),
            kl_a_b.tolist(),
            kl_b_a.tolist(),
            _entailment(float(kl_a_b.min()), float(kl_b_a.min())),
        )


def _entailment(min_kl_a_b: float, min_kl_b_a: float) -> Entailment:
    """Paper 4.6: the specific word f entails the general g when some component of g covers
    one of f, so min KL(f || g) is the smaller of the two directions."""
    if math.isclose(min_kl_a_b, min_kl_b_a, rel_tol=1e-6, abs_tol=1e-9):
        direction = "neither"
    elif min_kl_a_b < min_kl_b_a:
        direction = "a_entails_b"
    else:
        direction = "b_entails_a"
    return Entailment(direction, min_kl_a_b, min_kl_b_a)
