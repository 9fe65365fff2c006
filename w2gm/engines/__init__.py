"""The update engines, and what an engine is to the training loop.

One concept, three implementations of the same update (the loss of :mod:`w2gm.objective`,
the sampling of :mod:`w2gm.sampling`, Adagrad of :mod:`w2gm.optim`):

* :mod:`~w2gm.engines.reference`: plain torch and autograd, the specification; the
  others are tested against it pair by pair.
* :mod:`~w2gm.engines.hogwild`: numba on the CPU, lock-free threads; the update of a
  window whose pairs share their negatives is :mod:`~w2gm.engines.window_kernel`'s (the
  default here, :func:`negative_sharing`), that of one pair :mod:`~w2gm.engines.pair_kernel`'s,
  and the sampling inside the loop :mod:`~w2gm.engines.kernel_sampling`'s.
* :mod:`~w2gm.engines.triton_update`: one fused Triton kernel on a GPU.

The loop in :mod:`w2gm.trainer` drives any :class:`SpanUpdater`; every engine is built from
a trainer's :class:`TrainerParts` without importing the trainer, so that data flows one way:
trainer -> engines.  :func:`resolve_device` and :func:`resolve_backend` say which engine
runs here.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Protocol

import torch
from torch import Tensor

from ..config import TrainConfig
from ..errors import W2GMError
from ..mixture import MixtureTable
from ..optim import RowOptimizer
from ..sampling import PairSampler
from ..vocab import Vocabulary


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
    #: one sense per occurrence now ("off", "hard" or "soft"), and where the engines add
    #: each trained pair's word weights ([V, K], float64)
    occurrence_mode: str
    sense_sums: Tensor
    #: "pair" or "window" (:func:`negative_sharing`)
    negative_sharing: str


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise W2GMError(f"--device: unknown device {name!r} (use auto, cpu, cuda or cuda:N)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise W2GMError("--device cuda: no CUDA GPU is available to PyTorch here")
    return device


def resolve_backend(config: TrainConfig, device: torch.device) -> str:
    """The engine ``--backend`` names, or for ``auto`` the fastest one that can run here."""
    compiled = {"numba": "cpu", "triton": "cuda"}
    if config.backend == "auto":
        if config.optimizer != "adagrad":
            return "torch"
        if device.type == "cpu":
            return "numba"
        has_triton = all(importlib.util.find_spec(m) for m in ("triton", "w2gm.engines.triton_update"))
        return "triton" if has_triton else "torch"
    if config.backend in compiled:
        if device.type != compiled[config.backend]:
            raise W2GMError(f"--backend {config.backend} runs on {compiled[config.backend]}, not on {device}")
        if config.optimizer != "adagrad":
            raise W2GMError(f"--backend {config.backend} implements Adagrad only: use --optimizer adagrad")
    return config.backend


def negative_sharing(config: TrainConfig, backend: str) -> str:
    """"pair" or "window": ``--negative-sharing``, or for ``auto`` window on the numba engine
    (where it makes training 3-5 times faster) unless the objective is "sense", and pair
    on the others (the Triton engine trains pairs only)."""
    if config.negative_sharing != "auto":
        return config.negative_sharing
    return "window" if backend == "numba" and config.objective != "sense" else "pair"
