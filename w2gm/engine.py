"""What an update engine is, for the training loop and for the engines themselves.

The loop in :mod:`w2gm.trainer` drives any :class:`SpanUpdater`.  The reference engine
(:mod:`w2gm.reference_engine`) defines the semantics, and the compiled ones
(:mod:`w2gm.hogwild`, :mod:`w2gm.triton_update`) follow it; all are built from a trainer's
:class:`TrainerParts` without importing the trainer, so that data flows one way:
trainer -> engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

import torch
from torch import Tensor

from .config import TrainConfig
from .mixture import MixtureTable
from .optim import RowOptimizer
from .sampling import PairSampler
from .vocab import Vocabulary


class SpanUpdater(Protocol):
    def train_span(self, ids: Tensor, lr_start: float, lr_end: float, seed: int) -> tuple[float, int]:
        """Subsample the span, draw its pairs and negatives from ``seed`` and train on them,
        the rate falling linearly from ``lr_start`` to ``lr_end``; returns (summed loss, pairs)."""
        ...


class TrainerParts(Protocol):
    """What an engine reads from a :class:`~w2gm.trainer.Trainer`: the tables it updates in
    place with their optimiser state, and the options, vocabulary and sampler they follow."""

    vocab: Vocabulary
    config: TrainConfig
    device: torch.device
    tables: Mapping[str, MixtureTable]
    optimizers: Mapping[str, RowOptimizer]
    sampler: PairSampler
    generator: torch.Generator  # the sampler's: the reference engine seeds it per span
