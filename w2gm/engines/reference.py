"""The reference engine, which defines what training computes: the loss of
:mod:`w2gm.objective` on a batch of pairs, differentiated by autograd on the rows the batch
gathers, and an optimiser step on those rows only (:mod:`w2gm.optim`).  It runs on any
device with any optimiser; the compiled engines (:mod:`w2gm.engines.hogwild`, :mod:`w2gm.engines.triton_update`)
are tested against :func:`reference_step` pair by pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from ..chunks import SpanChunks
from ..mixture import PARAMETER_NAMES, MixtureTable
from ..objective import batch_loss
from ..occurrence import training_log_weights
from . import TrainerParts


@dataclass
class Gathered:
    """The parameters of one table at a list of word ids (repeats allowed), as autograd leaves."""

    ids: Tensor
    leaves: dict[str, Tensor]

    @classmethod
    def take(cls, table: MixtureTable, ids: Tensor) -> Gathered:
        return cls(ids, {p: t.index_select(0, ids).requires_grad_() for p, t in table.parameters().items()})

    def mixtures(self, start: int, stop: int) -> tuple[Tensor, Tensor, Tensor]:
        means, log_variances, logits = (self.leaves[p][start:stop] for p in PARAMETER_NAMES)
        return means, log_variances, torch.log_softmax(logits, dim=-1)

    def row_gradients(self) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
        """Unique rows, how often each was gathered, and for each parameter its gradient
        summed over repeats of a row (0 for a parameter the loss did not use: the words'
        logits under one sense per occurrence)."""
        rows, inverse, uses = torch.unique(self.ids, return_inverse=True, return_counts=True)
        summed = {
            p: leaf.new_zeros((len(rows), *leaf.shape[1:])).index_add_(
                0, inverse, leaf.grad if leaf.grad is not None else torch.zeros_like(leaf))
            for p, leaf in self.leaves.items()
        }
        return rows, uses, summed


def reference_step(parts: TrainerParts, centres: Tensor, contexts: Tensor, negatives: Tensor, lr: float,
                   word_log_weights: Tensor | None = None, mean_steps: bool = False) -> Tensor:
    """One update of ``parts``' tables on a batch of pairs (``negatives`` ``[batch, n]``);
    returns the summed loss (0-d).  ``word_log_weights [batch, K]``, when given, replace the
    words' own log weights in every pair (one sense per occurrence, :mod:`w2gm.occurrence`):
    the words' logits then get no gradient.  With ``mean_steps`` a row the batch's pairs
    use u times takes u Adagrad steps of their mean gradient in one (``--negative-sharing
    window``, :meth:`w2gm.optim.RowAdagrad.step`); without, one step of their sum."""
    batch, per_pair = negatives.shape
    output_ids = torch.cat([contexts, negatives.flatten()])
    if parts.config.separate_output:
        words = Gathered.take(parts.tables["input"], centres)
        outputs = Gathered.take(parts.tables["output"], output_ids)
        gathered = {"input": words, "output": outputs}
    else:
        words = outputs = Gathered.take(parts.tables["input"], torch.cat([centres, output_ids]))
        gathered = {"input": words}
    offset = 0 if parts.config.separate_output else batch
    word = words.mixtures(0, batch)
    if word_log_weights is not None:
        word = (word[0], word[1], word_log_weights)
    context = outputs.mixtures(offset, offset + batch)
    negative = tuple(
        t.unflatten(0, (batch, per_pair)) for t in outputs.mixtures(offset + batch, len(outputs.ids))
    )
    loss = batch_loss(word, context, negative, parts.config)
    loss.backward()
    with torch.no_grad():
        for name, part in gathered.items():
            rows, uses, gradients = part.row_gradients()
            for p, gradient in gradients.items():
                parts.optimizers[name].step(p, rows, gradient, lr, uses if mean_steps else None)
    return loss.detach()


class ReferenceUpdater:
    """The torch engine: a span's pairs in shuffled batches of ``batch_size``, each one
    :func:`reference_step`, the rate falling linearly from batch to batch."""

    def __init__(self, trainer: TrainerParts) -> None:
        self.trainer = trainer
        self.chunks = SpanChunks()  # the batches of a span are its chunks (w2gm.chunks)

    @property
    def chunking(self) -> str:
        return f"torch, batches of {self.trainer.config.batch_size}"

    def train_span(self, ids: Tensor, lr_start: float, lr_end: float, seed: int) -> tuple[float, int]:
        """With ``--negative-sharing window`` each kept centre draws its negatives once, and
        every pair of its window takes them; pairs still come in shuffled batches."""
        trainer, config, chunks = self.trainer, self.trainer.config, self.chunks
        trainer.generator.manual_seed(seed)
        centres, contexts, places, kept = trainer.sampler.occurrence_pairs(ids.to(trainer.device, torch.long))
        window = trainer.negative_sharing == "window"
        shared = trainer.sampler.negatives(len(kept), config.negatives) if window else None
        mode = trainer.occurrence_mode
        batches = math.ceil(len(centres) / config.batch_size)
        loss = torch.zeros((), device=trainer.device)
        pairs = 0
        for b in range(batches):
            lr = lr_start + (lr_end - lr_start) * (b + 1) / batches
            batch = slice(b * config.batch_size, (b + 1) * config.batch_size)
            # drawn for a batch trained before a resume too, so that later batches draw as they did
            negatives = shared[places[batch]] if shared is not None else trainer.sampler.negatives(
                len(centres[batch]), config.negatives)
            if not chunks.starts(b):
                if chunks.stopped:
                    break
                continue
            weights = None
            if mode != "off":
                # each pair's occurrence's weights, from its whole window at the parameters before the batch
                words = trainer.tables["input"]
                weights = training_log_weights(
                    words, trainer.tables.get("output", words), centres[batch],
                    trainer.sampler.windows(kept, places[batch]), mode, config.occurrence_temperature)
                trainer.sense_sums.index_add_(0, centres[batch], weights.exp().to(trainer.sense_sums.dtype))
            loss += reference_step(trainer, centres[batch], contexts[batch], negatives, lr, weights, window)
            pairs += len(negatives)
            chunks.finished(b)
        return float(loss), pairs
