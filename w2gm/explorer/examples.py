"""Words worth exploring first: frequent words whose two most used components are both in
use and lie far apart.

The most frequent words (the, of, and, one, in) are the worst place to start: their
contexts are the whole text, and what their components hold is no sense of theirs.  Their
two components do point different ways (on the bundled sample the cosine of the two means
of "the" is -0.37), but both lie near the origin with the widest variances of the model,
so as Gaussians they overlap.  The separation used here measures that overlap: the
distance between the two means in units of their combined spread,

    |mu_a - mu_b| / sqrt(sigma_a^2 + sigma_b^2)      (sigma^2: mean variance per dimension)

which on the default model of the bundled sample is 1.4-1.6 for the, of, and, in, 2.9 for
bank and rock, and highest among frequent words for wing (politics, aircraft), sin (faith,
sine), russell (Bertrand, others), formula (racing, mathematics), rice (food, Anne Rice),
isaac (Asimov, Genesis), ai and ajax (a ship, the hero).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..keyed import KeyedMixtures
from ..usage import MIN_EVIDENCE

#: Each of the two components must win at least this share of its word's uses (or hold
#: this much weight, for a model without usage): a sense in use, not a rare one.
MIN_SHARE = 0.2
#: The examples come from this many most frequent words that qualify.
POOL = 2000
#: Over this share of the text (word2vec's default subsampling threshold) a word is too
#: frequent to stand for anything: without two senses to show, the examples are the most
#: frequent words below it.
MAX_FREQUENCY = 1e-3


def separations(model: KeyedMixtures) -> tuple[Tensor, Tensor]:
    """Per word: the separation of its two most used active components (above), and whether
    both are in use: each wins at least :data:`MIN_SHARE` of the word's uses and
    :data:`~w2gm.usage.MIN_EVIDENCE` of them (a share of few uses is chance)."""
    usage = model.usage
    uses = model.input.weights() if usage is None else usage.counts.double()
    uses = uses.masked_fill(~model.active(), 0.0)
    top = uses.topk(2, dim=-1)
    second = top.values[:, 1]
    in_use = second >= MIN_SHARE * uses.sum(-1)
    if usage is not None:
        in_use &= second >= MIN_EVIDENCE
    rows = torch.arange(len(model.vocab)).unsqueeze(1)
    means = model.input.means[rows, top.indices]  # [V, 2, D]
    variances = model.input.variances().mean(-1)[rows, top.indices]  # [V, 2]
    separation = (means[:, 0] - means[:, 1]).norm(dim=-1) / variances.sum(-1).sqrt()
    return separation, in_use


def worth_exploring(model: KeyedMixtures, count: int = 8) -> tuple[list[str], str]:
    """Up to ``count`` words, best first, and how they were chosen: of the :data:`POOL` most
    frequent words with two components in use, those whose components lie farthest apart;
    for K = 1, or where no word has two components in use, the most frequent words under
    :data:`MAX_FREQUENCY` (in a vocabulary too small to have any, the most frequent)."""
    words = model.vocab.words
    if model.components_per_word > 1:
        separation, in_use = separations(model)
        pool = torch.nonzero(in_use).flatten()[:POOL]  # ids are frequency ranks
        best = pool[separation[pool].argsort(descending=True, stable=True)][:count]
        if len(best):
            return [words[i] for i in best.tolist()], "frequent words whose two senses lie far apart"
    frequency = model.vocab.counts / max(model.vocab.total, 1)
    frequent = [word for word, f in zip(words, frequency, strict=True) if f <= MAX_FREQUENCY][:count]
    return frequent or words[:count], "frequent words"
