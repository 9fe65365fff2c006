"""Training: the max-margin loss on the expected likelihood kernel, the learning-rate
schedule and the loop over the corpus.

This is the reference path: the loss is written in plain torch and differentiated by
autograd on the rows a batch gathers, and the optimiser updates only those rows.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from . import corpus as corpus_module
from . import optim
from .config import TrainConfig, make_config
from .energy import log_expected_likelihood
from .errors import W2GMError
from .keyed import KeyedMixtures
from .mixture import PARAMETER_NAMES, MixtureTable
from .sampling import PairSampler
from .vocab import Vocabulary

CorpusArg = str | os.PathLike | Iterable[str | os.PathLike] | None


def max_margin_loss(
    word: tuple[Tensor, Tensor, Tensor],
    context: tuple[Tensor, Tensor, Tensor],
    negative: tuple[Tensor, Tensor, Tensor],
    margin: float,
) -> Tensor:
    """Hinge of Section 3.3 for every (pair, negative): max(0, m - log E(w,c) + log E(w,c')).

    ``word`` and ``context`` are ``[B, K, ...]`` mixtures, ``negative`` is ``[B, N, K, ...]``;
    the result is ``[B, N]``.
    """
    positive_energy = log_expected_likelihood(*word, *context)  # [B]
    word_per_negative = tuple(t.unsqueeze(1) for t in word)
    negative_energy = log_expected_likelihood(*word_per_negative, *negative)  # [B, N]
    return torch.relu(margin - positive_energy.unsqueeze(1) + negative_energy)


def learning_rate(config: TrainConfig, progress: float) -> float:
    """Linear decay from ``lr`` at progress 0 to ``lr_min`` at progress 1 (A.2)."""
    progress = min(max(progress, 0.0), 1.0)
    return config.lr * (1.0 - progress) + config.lr_min * progress


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

    def row_gradients(self) -> tuple[Tensor, dict[str, Tensor]]:
        """Unique rows and, for each parameter, its gradient summed over repeats of a row."""
        rows, inverse = torch.unique(self.ids, return_inverse=True)
        summed = {
            p: leaf.grad.new_zeros((len(rows), *leaf.shape[1:])).index_add_(0, inverse, leaf.grad)
            for p, leaf in self.leaves.items()
        }
        return rows, summed


class Trainer:
    """Parameters, optimiser state and the update step; the corpus loop is :meth:`fit`."""

    def __init__(self, vocab: Vocabulary, config: TrainConfig, device: torch.device) -> None:
        self.vocab = vocab
        self.config = config
        self.device = device
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(config.seed)
        init_generator = torch.Generator(device=device)
        init_generator.manual_seed(config.seed)

        def new_table() -> MixtureTable:
            return MixtureTable.initialise(
                len(vocab), config.components, config.dim, config.covariance,
                config.initial_variance, init_generator, device, config.component_spread,
            )

        self.tables = {"input": new_table()}
        if config.separate_output:
            self.tables["output"] = new_table()
        self.optimizers = {
            name: optim.make(config.optimizer, table.parameters()) for name, table in self.tables.items()
        }
        self.sampler = PairSampler(
            vocab, config.window, config.subsample, config.negative_power, self.generator, device
        )

    def step(self, centres: Tensor, contexts: Tensor, negatives: Tensor, lr: float) -> Tensor:
        """One update on a batch of pairs; returns the summed hinge loss (a 0-d tensor)."""
        batch, per_pair = negatives.shape
        output_ids = torch.cat([contexts, negatives.flatten()])
        if self.config.separate_output:
            words = Gathered.take(self.tables["input"], centres)
            outputs = Gathered.take(self.tables["output"], output_ids)
            gathered = {"input": words, "output": outputs}
        else:
            words = outputs = Gathered.take(self.tables["input"], torch.cat([centres, output_ids]))
            gathered = {"input": words}
        offset = 0 if self.config.separate_output else batch
        word = words.mixtures(0, batch)
        context = outputs.mixtures(offset, offset + batch)
        negative = tuple(
            t.unflatten(0, (batch, per_pair)) for t in outputs.mixtures(offset + batch, len(outputs.ids))
        )
        loss = max_margin_loss(word, context, negative, self.config.margin).sum()
        loss.backward()
        with torch.no_grad():
            for name, part in gathered.items():
                rows, gradients = part.row_gradients()
                for p, gradient in gradients.items():
                    self.optimizers[name].step(p, rows, gradient, lr)
        return loss.detach()

    def spans(self, ids: np.ndarray) -> Iterator[Tensor]:
        """The corpus in spans of int64 ids on the device.  On a GPU the whole id array is
        copied there once; on the CPU each span is read from the memory map."""
        chunk = 1 << 24 if self.device.type == "cuda" else 1 << 20
        if self.device.type == "cuda":
            resident = torch.from_numpy(np.ascontiguousarray(ids)).to(self.device)
            for start in range(0, len(ids), chunk):
                yield resident[start : start + chunk].long()
        else:
            for start in range(0, len(ids), chunk):
                yield torch.from_numpy(ids[start : start + chunk].astype(np.int64))

    def fit(self, ids: np.ndarray, progress: bool = True) -> dict[str, Any]:
        """Train for ``config.epochs`` passes over ``ids``; returns a summary of the run."""
        config = self.config
        total = len(ids) * config.epochs
        done = 0.0
        steps = pairs = 0
        loss_sum = torch.zeros((), device=self.device)
        recent_loss, recent_pairs = 0.0, 0
        lr = config.lr
        bar = tqdm(total=total, unit="tok", unit_scale=True, disable=not progress, dynamic_ncols=True)
        start_time = last_report = time.monotonic()
        for epoch in range(config.epochs):
            for span in self.spans(ids):
                centres, contexts = self.sampler.pairs(span)
                batches = max(1, math.ceil(len(centres) / config.batch_size))
                for b in range(batches):
                    # progress counts corpus tokens, the same unit as ``total``, so the last
                    # step of the run uses exactly lr_min
                    progress_after = done + len(span) * (b + 1) / batches
                    lr = learning_rate(config, progress_after / total)
                    sl = slice(b * config.batch_size, (b + 1) * config.batch_size)
                    if sl.start < len(centres):
                        count = len(centres[sl])
                        negatives = self.sampler.negatives(count, config.negatives)
                        loss_sum += self.step(centres[sl], contexts[sl], negatives, lr)
                        steps += 1
                        pairs += count
                        recent_pairs += count
                    bar.update(round(progress_after) - round(done + len(span) * b / batches))
                    now = time.monotonic()
                    if now - last_report > 0.5:
                        last_report = now
                        value = float(loss_sum)
                        self._check_finite(value, steps, epoch)
                        loss_now = (value - recent_loss) / max(recent_pairs * config.negatives, 1)
                        recent_loss, recent_pairs = value, 0
                        bar.set_postfix(loss=f"{loss_now:.4f}", lr=f"{lr:.2e}", epoch=epoch + 1, refresh=False)
                done += len(span)
        final_loss = float(loss_sum)
        self._check_finite(final_loss, steps, config.epochs - 1)
        bar.close()
        seconds = time.monotonic() - start_time
        return {
            "tokens": int(total),
            "pairs": int(pairs),
            "steps": int(steps),
            "seconds": seconds,
            "tokens_per_second": total / max(seconds, 1e-9),
            "mean_loss": final_loss / max(pairs * config.negatives, 1),
            "final_lr": lr,
        }

    @staticmethod
    def _check_finite(loss: float, steps: int, epoch: int) -> None:
        if not math.isfinite(loss):
            raise W2GMError(
                f"training diverged: the loss became {loss} by step {steps} (epoch {epoch + 1}); "
                "try a lower --lr"
            )

    def model(self, training: dict[str, Any]) -> KeyedMixtures:
        return KeyedMixtures(
            self.vocab,
            self.tables["input"],
            self.tables.get("output"),
            config=self.config.to_dict(),
            training=training,
        )


def _corpus_paths(corpus: CorpusArg) -> list[str | os.PathLike]:
    if corpus is None:
        return [corpus_module.sample_corpus_path()]
    if isinstance(corpus, str | os.PathLike):
        return [corpus]
    paths = list(corpus)
    return paths or [corpus_module.sample_corpus_path()]


def train(
    corpus: CorpusArg = None,
    *,
    output: str | os.PathLike | None = None,
    progress: bool = False,
    preset: str = "paper",
    **options: Any,
) -> KeyedMixtures:
    """Train a model on text files (a path, a directory, or a list of them; ``None`` takes the
    bundled sample) with a preset (see :data:`w2gm.config.PRESETS`) and any
    :class:`TrainConfig` option over it; optionally save it to ``output``."""
    config = make_config(preset, **options)
    device = resolve_device(config.device)
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    if output is not None:
        check_writable(output)
    with tempfile.TemporaryDirectory(prefix="w2gm-") as workdir:
        encoded = corpus_module.encode(
            _corpus_paths(corpus), workdir, config.min_count, config.max_vocab,
            config.lowercase, config.encoding_errors,
        )
        trainer = Trainer(encoded.vocab, config, device)
        summary = trainer.fit(encoded.ids, progress=progress)
    summary |= {"raw_tokens": encoded.raw_tokens, "replaced_bytes": encoded.replaced_bytes,
                "vocab_size": len(encoded.vocab), "device": str(device)}
    model = trainer.model(summary)
    if output is not None:
        model.save(output)
    return model


def check_writable(path: str | os.PathLike) -> None:
    """Fail before training, not after, when the model could not be saved."""
    target = Path(path)
    parent = target.parent if str(target.parent) else Path(".")
    if target.is_dir():
        raise W2GMError(f"--output {target}: is a directory")
    if not parent.is_dir():
        raise W2GMError(f"--output {target}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise W2GMError(f"--output {target}: directory {parent} is not writable")
