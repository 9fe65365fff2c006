"""What a training run shows of its progress: the tokens trained, the epoch and rate, and how
well the model tells a word's true contexts from random words, measured on the same sample
all run long.

Why not the training loss: the engines sum each pair's loss just before that pair's update,
when the word's other pairs of the same window have been trained moments before.  At a high
rate that head start makes the figure optimistic; as the rate falls the head start shrinks
and the figure rises towards the true loss, though the model keeps improving.  On the
bundled sample the default run's loss per pair rose from 0.396 to 0.416 over epochs 9 to 20,
which reads as divergence, while the loss of a fixed sample of pairs fell throughout
(docs/progress.md has the run).

The probe draws once, from the seed, a fixed sample of training pairs (stretches of text
spread over the corpus, subsampled and windowed as training does) with fixed negatives, and
at the end of each epoch scores them with the tables as they are: the share of (pair,
negative) in which the true context has the higher log E (Eq. 2) than the random word.  That
is what every objective asks for (0.5 at random, 1 for a perfect ranking); it is measured on
the same pairs each time, so it compares from one epoch to the next.  It measures the fit
to the text, not the benchmarks.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from torch import Tensor

from .config import TrainConfig
from .energy import log_expected_likelihood
from .mixture import MixtureTable
from .progress import Progress
from .sampling import PairSampler
from .vocab import Vocabulary

#: Pairs in the sample: the share has a standard error under 0.8 points (sqrt(1/4 / 4096)),
#: and its change from one epoch to the next, on the same pairs, far less.
PROBE_PAIRS = 4096
#: The text is read in this many stretches of this many tokens, spread over the corpus.
STRETCHES = 64
STRETCH_TOKENS = 1000


def _mixtures(table: MixtureTable, ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    return table.means[ids], table.log_variances[ids], table.log_weights()[ids]


class PairProbe:
    """A fixed sample of (word, context, negatives) from ``ids``, drawn from ``config.seed``."""

    def __init__(self, ids: np.ndarray, vocab: Vocabulary, config: TrainConfig, device: torch.device,
                 pairs: int = PROBE_PAIRS) -> None:
        self.config = config
        generator = torch.Generator(device=device)
        generator.manual_seed(int(np.random.SeedSequence([config.seed, 0x9E0BE]).generate_state(1)[0]))
        sampler = PairSampler(vocab, config.window, config.subsample, config.negative_power, generator, device)
        starts = np.linspace(0, max(len(ids) - STRETCH_TOKENS, 0), STRETCHES).astype(np.int64)
        text = np.concatenate([ids[s:s + STRETCH_TOKENS] for s in np.unique(starts)])
        centres, contexts = sampler.pairs(torch.from_numpy(text.astype(np.int64)).to(device))
        self.centres, self.contexts = centres[:pairs], contexts[:pairs]
        self.negatives = sampler.negatives(len(self.centres), config.negatives)

    def __len__(self) -> int:
        return len(self.centres)

    @torch.no_grad()
    def ranked(self, words: MixtureTable, contexts: MixtureTable) -> float | None:
        """The share of (pair, negative) in which the true context has the higher log E, with
        these tables (input and output; the same table twice without separate output
        distributions); None for a text too short to give pairs."""
        if len(self) == 0:
            return None
        word = _mixtures(words, self.centres)
        positive = log_expected_likelihood(*word, *_mixtures(contexts, self.contexts))
        against = log_expected_likelihood(*(t.unsqueeze(1) for t in word), *_mixtures(contexts, self.negatives))
        return float((positive.unsqueeze(1) > against).float().mean())


class TrainingProgress:
    """What a run shows while it trains (:mod:`w2gm.progress`: a bar on a terminal, lines in a
    log): tokens trained, the epoch and rate, and from the end of the first epoch on the
    probe's share of true contexts ranked above random words."""

    def __init__(self, probe: PairProbe | None, total: int, initial: int, epochs: int, enabled: bool) -> None:
        self.probe, self.epochs = probe, epochs
        self.bar = Progress("training", total, "tok", initial=initial, enabled=enabled)
        #: The probe's last share (None until the end of an epoch), and the time spent on it.
        self.ranked: float | None = None
        self.seconds = 0.0

    def after_span(self, tokens: int, epoch: int, lr: float) -> None:
        self.bar.describe(self._figures(epoch, lr))
        self.bar.update(tokens)  # after the figures, so that the bar shows this span's

    def after_epoch(self, epoch: int, lr: float, words: MixtureTable, contexts: MixtureTable) -> None:
        if self.probe is not None:
            started = time.perf_counter()
            self.ranked = self.probe.ranked(words, contexts)
            self.seconds += time.perf_counter() - started
        self.bar.describe(self._figures(epoch, lr))
        self.bar.milestone()

    def _figures(self, epoch: int, lr: float) -> str:
        figures = [f"epoch {epoch + 1}/{self.epochs}", f"lr {lr:.2e}"]
        if self.ranked is not None:
            figures.append(f"true contexts above random words {100 * self.ranked:.1f}%")
        return ", ".join(figures)

    def close(self) -> None:
        self.bar.close()
