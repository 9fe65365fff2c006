"""Skip-gram training pairs and negative samples (paper 3.3 and A.2), vectorised in torch
so they are drawn on the device where the model lives.

For a span of corpus ids: frequent words are subsampled, each remaining centre word
draws a window size b uniformly from 1..window, and every word within b positions of
it (in the subsampled text, as word2vec does) becomes a positive context.  Negatives
come from the unigram distribution raised to ``negative_power``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .vocab import Vocabulary


class PairSampler:
    def __init__(
        self,
        vocab: Vocabulary,
        window: int,
        subsample: float,
        negative_power: float,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
    ) -> None:
        self.window = window
        self.generator = generator
        self.device = torch.device(device)
        self.keep_probability = torch.as_tensor(
            vocab.keep_probabilities(subsample), dtype=torch.float32, device=self.device
        )
        cdf = torch.as_tensor(vocab.negative_distribution(negative_power), dtype=torch.float64).cumsum(0)
        # float64 cumsum then float32: rare words keep distinct bins at every realistic vocabulary size
        self.negative_cdf = (cdf / cdf[-1]).to(torch.float32).to(self.device)

    def _uniform(self, *shape: int) -> Tensor:
        return torch.rand(*shape, generator=self.generator, device=self.device)

    def subsample(self, ids: Tensor) -> Tensor:
        """Keep each token with its word's keep probability."""
        return ids[self._uniform(len(ids)) < self.keep_probability[ids]]

    def window_sizes(self, count: int) -> Tensor:
        return torch.randint(1, self.window + 1, (count,), generator=self.generator, device=self.device)

    def pairs(self, ids: Tensor, shuffle: bool = True) -> tuple[Tensor, Tensor]:
        """(centre, context) id pairs of the span ``ids``, optionally in random order
        (:meth:`occurrence_pairs` without the occurrences)."""
        centre, context, _, _ = self.occurrence_pairs(ids, shuffle)
        return centre, context

    def occurrence_pairs(self, ids: Tensor, shuffle: bool = True) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """(centre, context) id pairs of the span ``ids``, optionally in random order, with
        each pair's centre as a place among the kept (subsampled) tokens, and those tokens:
        the centre's window, for one sense per occurrence, is around that place.

        Centre i pairs with i + o and i - o for every offset o <= its window size b_i.  The
        pairs come in the order (offset, right then left, centre position), found by one
        ``nonzero`` over a ``[window, 2, kept]`` mask: one host sync per span, where a
        boolean index per offset and side made 2 x window of them (on a GPU each stalls
        the queue of kernels).
        """
        kept = self.subsample(ids)
        count = len(kept)
        widest = min(self.window, count - 1)
        sizes = self.window_sizes(count)
        if widest < 1:
            empty = ids.new_empty(0)
            return empty, empty, empty, kept
        offsets = torch.arange(1, widest + 1, device=self.device).unsqueeze(1)  # [W, 1]
        positions = torch.arange(count, device=self.device)
        inside = sizes >= offsets  # [W, kept]
        mask = torch.stack([inside & (positions < count - offsets), inside & (positions >= offsets)], dim=1)
        found = mask.flatten().nonzero().squeeze(1)
        del inside, mask
        centre_at = found % count
        found //= count  # 2 (o - 1) + side, side 0 the right context, 1 the left one
        # context position: centre + o on the right, centre - o on the left
        context_at = centre_at + (found // 2 + 1) * (1 - 2 * (found % 2))
        del found
        centre, context = kept[centre_at], kept[context_at]
        if shuffle:
            order = torch.randperm(len(centre), generator=self.generator, device=self.device)
            centre, context, centre_at = centre[order], context[order], centre_at[order]
        return centre, context, centre_at, kept

    def windows(self, kept: Tensor, places: Tensor) -> Tensor:
        """``[n, 2 window]`` the kept tokens within ``window`` places of each of ``places``
        (-1 past either end of the span)."""
        steps = torch.cat([torch.arange(-self.window, 0), torch.arange(1, self.window + 1)]).to(self.device)
        around = places.unsqueeze(1) + steps
        inside = (around >= 0) & (around < len(kept))
        return torch.where(inside, kept[around.clamp(0, max(len(kept) - 1, 0))], -1)

    def negatives(self, count: int, per_pair: int) -> Tensor:
        """``[count, per_pair]`` word ids drawn from the negative distribution."""
        uniform = self._uniform(count, per_pair)
        drawn = torch.searchsorted(self.negative_cdf, uniform, right=True)
        return drawn.clamp_(max=len(self.negative_cdf) - 1)
