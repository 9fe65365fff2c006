"""How often each component is the sense a word has in its contexts, and which components
are inactive: the record a model file keeps.

``counts [V, K]`` is how often each component of each word won (had the highest posterior)
over a pass of the training text (:mod:`w2gm.usage_pass`); divided by the row sums they are
the usage shares.  A component whose share is below :data:`INACTIVE_SHARE` (2%), in a word
seen at least :data:`MIN_EVIDENCE` (10) times in the pass, is *inactive*: it almost never is
the sense in use, so neighbour lists and similarity measures leave it out by default.  A
word seen fewer times, or not at all, keeps every component active: its usage is unknown,
not zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

#: Below this share of its word's tokens a component is inactive.  Measured on a K=2 model
#: of the text8 prefix (``--preset small``, NOTES-h13.md): the minority component's share is
#: under 0.1% for 90% of the words seen 50 times or more, and spread evenly from 1% to 50%
#: for the rest; any threshold from 0.1% to 5% cuts the same spike, and the summed
#: similarity figures move by less than 1 point across that range.
INACTIVE_SHARE = 0.02
#: Tokens a word needs in the pass before any of its components is judged inactive; with
#: fewer its usage counts as unknown.  On the same model the max-cosine sum over the eight
#: similarity sets is 311.0 with every component, and with components under 2% left out
#: 347.7 (words seen >= 5 times), 351.9 (>= 10), 325.8 (>= 20), 321.0 (>= 50): rare words'
#: unused components hurt as much as frequent words' do.
MIN_EVIDENCE = 10


@dataclass
class Usage:
    """Winning counts ``[V, K]`` (int64) and the active flags ``[V, K]`` (bool)."""

    counts: Tensor
    active: Tensor

    @classmethod
    def from_counts(
        cls, counts: Tensor, threshold: float = INACTIVE_SHARE, min_evidence: int = MIN_EVIDENCE
    ) -> Usage:
        counts = counts.to("cpu", torch.int64)
        total = counts.sum(-1, keepdim=True)
        # below the threshold, but never a word's most used component (with K > 1 / threshold
        # every share may be under it)
        rare = (counts < threshold * total) & (counts < counts.amax(-1, keepdim=True))
        return cls(counts, ~(rare & (total >= min_evidence)))

    def shares(self) -> Tensor:
        """``counts`` over the row sums; NaN rows for words the pass never saw."""
        counts = self.counts.double()
        return (counts / counts.sum(-1, keepdim=True)).float()


def describe(threshold: float = INACTIVE_SHARE, min_evidence: int = MIN_EVIDENCE) -> str:
    return f"share < {threshold:g} of the word's tokens, in words seen >= {min_evidence} times"
