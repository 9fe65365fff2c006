"""The trainer: a model's tables and optimiser state, the learning-rate schedule and the loop
over the corpus, with checkpoints and several ranks.

The corpus is trained span by span (``--span-tokens`` ids at a time).  A span goes to an
update engine: the reference (:mod:`w2gm.engines.reference`, plain torch), or one of the
compiled engines with the same loss, sampling and schedule, :mod:`w2gm.engines.hogwild` (numba,
CPU) and :mod:`w2gm.engines.triton_update` (Triton, CUDA).  Between spans the loop reports
progress, merges the ranks' models (:mod:`w2gm.merging`), checks for divergence and
writes checkpoints (:mod:`w2gm.checkpoint`).  Reading the corpus and saving the model are
:func:`w2gm.train.train`'s.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from . import distributed, limits, optim
from .checkpoint import CheckpointDir, CheckpointSchedule, Position
from .chunks import SpanChunks
from .config import TrainConfig
from .engines import SpanUpdater, resolve_backend
from .engines.reference import ReferenceUpdater, reference_step
from .errors import W2GMError
from .keyed import KeyedMixtures
from .merging import ModelMerger
from .mixture import MixtureTable
from .sampling import PairSampler
from .split import principal_axes, retie, split_along, split_components, split_tokens, tie_components
from .stopping import StopRequest, TrainingInterrupted
from .training_progress import PairProbe, TrainingProgress
from .vocab import Vocabulary

#: With several ranks and no --span-tokens, spans are at most this fraction of a shard.
MERGES_PER_EPOCH = 10


def learning_rate(config: TrainConfig, progress: float) -> float:
    """Linear decay from ``lr`` at progress 0 to ``lr_min`` at progress 1 (A.2)."""
    progress = min(max(progress, 0.0), 1.0)
    return config.lr * (1.0 - progress) + config.lr_min * progress


def make_updater(trainer: Trainer, backend: str) -> SpanUpdater:
    if backend == "numba":
        from .engines.hogwild import HogwildUpdater

        return HogwildUpdater.from_trainer(trainer)
    if backend == "triton":
        from .engines.triton_update import TritonUpdater

        return TritonUpdater.from_trainer(trainer)
    return ReferenceUpdater(trainer)


def span_seed(seed: int, rank: int, epoch: int, start: int) -> int:
    """The seed of the span starting at ``start`` of this rank's shard: a pure function of
    the run's place, so that a resumed run draws what an uninterrupted one would."""
    return int(np.random.SeedSequence([seed, rank, epoch, start]).generate_state(2, np.uint32).view(np.uint64)[0]
               >> np.uint64(1))


@dataclass
class Checkpointing:
    directory: CheckpointDir
    schedule: CheckpointSchedule
    output: str | None


class Trainer:
    """Parameters, optimiser state and the update engine; the corpus loop is :meth:`fit`."""

    def __init__(self, vocab: Vocabulary, config: TrainConfig, device: torch.device,
                 group: distributed.Group | None = None) -> None:
        self.vocab = vocab
        self.config = config
        self.device = device
        self.group = group or distributed.Group()
        self.backend = resolve_backend(config, device)
        self.span_tokens = config.span_tokens or (
            1 << 24 if device.type == "cuda" else 1 << 18 if self.backend == "torch" else 1 << 20
        )
        limits.check_memory(config, len(vocab), vocab.total, self.backend, self.span_tokens,
                            config.threads or os.cpu_count() or 1,
                            limits.available_memory() if device.type == "cpu" else None)
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
        if self.splits:
            for table in self.tables.values():
                tie_components(table)
        self.optimizers = {
            name: optim.make(config.optimizer, table.parameters()) for name, table in self.tables.items()
        }
        self.sampler = PairSampler(
            vocab, config.window, config.subsample, config.negative_power, self.generator, device
        )
        self._updater: SpanUpdater | None = None
        self._split_after: int | None = None
        #: Words whose components stay tied after the split (seen under split_min_count times);
        #: None when there are none.
        rare = vocab.counts < config.split_min_count
        self._kept_tied = torch.as_tensor(rare, device=device) if self.splits and rare.any() else None

    @property
    def splits(self) -> bool:
        """Whether the run trains tied components first and splits them (:mod:`w2gm.split`)."""
        return self.config.split_at > 0 and self.config.components > 1

    def split(self, data: np.ndarray | Tensor) -> None:
        """Split every eligible word's tied components, the same way on every rank: along
        the principal axes of its contexts in ``data`` (the corpus ids, read by rank 0), or
        by random noise."""
        config = self.config
        eligible = self.vocab.counts >= config.split_min_count
        if config.split_direction == "random":
            for offset, table in enumerate(self.tables.values()):
                seed = span_seed(config.seed, (1 << 30) + offset, 0, 0)
                split_components(table, config.split_noise, seed, eligible)
            return
        axes = None
        if self.group.is_main:
            generator = torch.Generator(device=self.device)
            generator.manual_seed(span_seed(config.seed, 1 << 30, 0, 0))
            contexts = self.tables.get("output", self.tables["input"])
            axes = principal_axes(data, contexts.means.mean(1), config, generator, self.context_weights()).cpu()
        axes = self.group.share(axes)
        assert isinstance(axes, Tensor)
        for table in self.tables.values():
            split_along(table, axes, config.split_noise * math.sqrt(config.dim), eligible)

    def context_weights(self) -> Tensor:
        """How much each word counts in the contexts the split reads: its keep probability."""
        return self.sampler.keep_probability

    def component_tensors(self, names: tuple[str, ...] | None = None) -> list[Tensor]:
        """Every per-component tensor ``[V, K, ...]`` of the tables (all, or those ``names``),
        parameters and optimiser sums: what re-tying sets to the components' mean."""
        return [tensor for name, table in self.tables.items() if names is None or name in names
                for tensor in (*table.parameters().values(), *self.optimizers[name].state_dict().values())
                if tensor.dim() >= 2]

    def after_span(self, tokens: int, total: int, data: np.ndarray | Tensor) -> bool:
        """What happens to the tables between spans, once ``tokens`` of the run's ``total``
        are trained (the same on every rank): the split of tied components, unless the run
        is over, and before it the re-tying of copies that lock-free updates made drift
        (:func:`w2gm.split.retie`), and after it that of the words kept tied.  Whether it
        changed the tables."""
        if self._split_after is None:
            if self._kept_tied is None:
                return False
            retie(self.component_tensors(), self._kept_tied)
        elif total > tokens >= self._split_after:
            self.split(data)
            self._split_after = None
        else:
            retie(self.component_tensors())
        return True

    @property
    def updater(self) -> SpanUpdater:
        if self._updater is None:  # built on first use: a compiled engine takes seconds to load
            self._updater = make_updater(self, self.backend)
        return self._updater

    def step(self, centres: Tensor, contexts: Tensor, negatives: Tensor, lr: float) -> Tensor:
        """One reference update on a batch of pairs; returns the summed loss (0-d)."""
        return reference_step(self, centres, contexts, negatives, lr)

    # ---------------------------------------------------------------- state

    def state(self) -> dict[str, Tensor]:
        """Every tensor a checkpoint holds: parameters and optimiser state of each table."""
        state: dict[str, Tensor] = {}
        for name, table in self.tables.items():
            state |= {f"{name}.{p}": t for p, t in table.parameters().items()}
            state |= {f"{name}.optimizer.{k}": t for k, t in self.optimizers[name].state_dict().items()}
        return state

    def load_state(self, state: dict[str, Tensor]) -> None:
        expected = self.state()
        if set(state) != set(expected) or any(state[k].shape != t.shape for k, t in expected.items()):
            raise W2GMError("checkpoint tensors do not match this model's shapes")
        for name, table in self.tables.items():
            for p, t in table.parameters().items():
                t.copy_(state[f"{name}.{p}"])
            prefix = f"{name}.optimizer."
            self.optimizers[name].load_state_dict(
                {k[len(prefix):]: v.to(self.device) for k, v in state.items() if k.startswith(prefix)}
            )

    def _finite(self) -> bool:
        sums = [t.sum() for table in self.tables.values() for t in table.parameters().values()]
        return bool(torch.stack(sums).isfinite().all())

    def _merger(self) -> ModelMerger:
        if not self.group.active:
            return ModelMerger(self.group, [], [])
        if self.config.optimizer != "adagrad":
            raise W2GMError("training on several ranks supports --optimizer adagrad only")
        pairs = [(parameter, self.optimizers[name].state_dict()[f"sum_squares.{p}"])
                 for name, table in self.tables.items() for p, parameter in table.parameters().items()]
        return ModelMerger(self.group, [p for p, _ in pairs], [g for _, g in pairs])

    # ---------------------------------------------------------------- the loop

    def save_checkpoint(self, checkpointing: Checkpointing | None, position: Position) -> None:
        if checkpointing is not None and self.group.is_main:
            checkpointing.directory.save(self.state(), self.config.to_dict(), position, checkpointing.output)

    def _chunks(self, position: Position, span: tuple[int, int], stop: StopRequest) -> SpanChunks:
        """The chunks of the next span for the engine: it stops between them when asked,
        except on several ranks, which must end each span together; a span stopped
        part-way before a resume is finished, not started again."""
        should_stop = (lambda: stop.requested) if not self.group.active else (lambda: False)
        chunking = getattr(self.updater, "chunking", type(self.updater).__name__)
        if position.partial is not None:
            chunks = SpanChunks.resumed(position.partial, span, chunking, should_stop)
        else:
            chunks = SpanChunks(should_stop)
        self.updater.chunks = chunks  # type: ignore[attr-defined]
        return chunks

    def _stop_mid_span(self, position: Position, chunks: SpanChunks, span: tuple[int, int], loss: float, pairs: int,
                       total: int, checkpointing: Checkpointing, seconds: float, bar: TrainingProgress) -> None:
        """Save what the span's trained chunks did, with their list, and stop."""
        position.loss += loss
        position.pairs += pairs
        position.partial = chunks.record(span, getattr(self.updater, "chunking", type(self.updater).__name__))
        position.seconds = seconds
        self.save_checkpoint(checkpointing, position)
        bar.close()
        raise TrainingInterrupted(position.interrupted(total, checkpointing.directory))

    def _corpus_on_device(self, ids: np.ndarray) -> np.ndarray | Tensor:
        """On a GPU the shard's ids are copied there once; on the CPU spans are read from the
        memory map as they come."""
        if self.device.type == "cuda":
            return torch.from_numpy(np.ascontiguousarray(ids)).to(self.device)
        return ids

    def _span(self, data: np.ndarray | Tensor, start: int, stop: int) -> Tensor:
        if isinstance(data, Tensor):
            return data[start:stop]
        return torch.from_numpy(np.array(data[start:stop], dtype=np.int64))

    def fit(
        self,
        ids: np.ndarray,
        progress: bool = True,
        position: Position | None = None,
        checkpointing: Checkpointing | None = None,
    ) -> dict[str, Any]:
        """Train for ``config.epochs`` passes over ``ids`` (each rank its shard), from
        ``position`` if given; returns a summary of the run."""
        config, group = self.config, self.group
        length = len(ids)
        shards = [group.shard(length, r) for r in range(group.world_size)]
        sizes = [stop - start for start, stop in shards]
        span = self.span_tokens
        if group.active and not config.span_tokens:
            # ranks drift apart between merges: with two merges an epoch on the text8 prefix,
            # two ranks lost 8 WS-353 points; with about ten they matched one rank (README)
            span = min(span, -(-max(sizes) // MERGES_PER_EPOCH))
        position = position or Position()
        offsets = position.shard_offsets(sizes, length)
        total = length * config.epochs
        data = self._corpus_on_device(ids[slice(*shards[group.rank])])  # this rank's shard only
        # the split's axes come from the whole text, not from rank 0's shard: shards are
        # contiguous slices (whole books, for Gutenberg) and a fraction of each word's contexts
        corpus = data if group.world_size == 1 else ids
        merger = self._merger()
        probe = PairProbe(ids, self.vocab, config, self.device) if group.is_main else None
        bar = TrainingProgress(probe, total, position.tokens, config.epochs, progress and group.is_main)
        compile_start = time.monotonic()
        if self.backend in ("numba", "triton"):
            self.updater.compile()  # type: ignore[attr-defined]  # before signals only set a flag
        compile_seconds = time.monotonic() - compile_start
        # the ranks start the clock together: rank 0 would otherwise time, in its first merge,
        # the others still mapping the corpus it wrote and building their tables
        group.sum([0.0])
        session_tokens, session_start, earlier_seconds = 0, time.monotonic(), position.seconds
        merge_seconds = train_seconds = 0.0
        first_span_seconds: float | None = None
        last_checkpoint, spans_since = time.monotonic(), 0
        lr = learning_rate(config, position.tokens / total)
        # a resumed run whose checkpoint was saved after the split has split already
        self._split_after = split_tokens(total, config.split_at) if self.splits else None
        if self._split_after is not None and position.tokens >= self._split_after:
            self._split_after = None
        with StopRequest(enabled=checkpointing is not None) as stop:
            for epoch in range(position.epoch, config.epochs):
                spans = max(math.ceil((size - off) / span) for size, off in zip(sizes, offsets, strict=True))
                for j in range(spans):
                    bounds = [
                        (min(size, off + j * span), min(size, off + (j + 1) * span))
                        for size, off in zip(sizes, offsets, strict=True)
                    ]
                    begin, end = bounds[group.rank]
                    size = sizes[group.rank]
                    lr = learning_rate(config, (epoch * size + end) / (size * config.epochs))
                    loss, pairs = 0.0, 0
                    if end > begin:
                        lr_start = learning_rate(config, (epoch * size + begin) / (size * config.epochs))
                        chunks = self._chunks(position, (begin, end), stop)
                        span_start = time.monotonic()
                        loss, pairs = self.updater.train_span(
                            self._span(data, begin, end), lr_start, lr,
                            span_seed(config.seed, group.rank, epoch, begin),
                        )
                        span_seconds = time.monotonic() - span_start
                        train_seconds += span_seconds
                        if first_span_seconds is None:  # far above the others: a warm-up left in the clock
                            first_span_seconds = span_seconds
                        position.partial = None
                        if chunks.stopped:
                            assert checkpointing is not None  # signals are only caught when checkpointing
                            self._stop_mid_span(position, chunks, (begin, end), loss, pairs, total, checkpointing,
                                                earlier_seconds + time.monotonic() - session_start, bar)
                    merge_start = time.monotonic()
                    merger.merge()
                    merge_seconds += time.monotonic() - merge_start
                    due = group.is_main and checkpointing is not None and checkpointing.schedule.due(
                        last_checkpoint, spans_since + 1)
                    loss, pairs, stops, due = group.sum([loss, pairs, float(stop.requested), float(due)])
                    trained = sum(b - a for a, b in bounds)
                    position.tokens += trained
                    position.pairs += int(pairs)
                    position.loss += loss
                    position.offsets = [b for _, b in bounds]
                    session_tokens += trained
                    spans_since += 1
                    if not (math.isfinite(loss) and self._finite()):
                        directory = None if checkpointing is None else checkpointing.directory
                        raise W2GMError(position.diverged(loss, epoch, directory))
                    if self.after_span(position.tokens, total, corpus):
                        merger.rebase()  # the same change on every rank, not one to merge
                    bar.after_span(trained, epoch, lr)
                    if stops or due:
                        position.seconds = earlier_seconds + time.monotonic() - session_start
                        self.save_checkpoint(checkpointing, position)
                        last_checkpoint, spans_since = time.monotonic(), 0
                    if stops:
                        bar.close()
                        assert checkpointing is not None  # signals are only caught when checkpointing
                        raise TrainingInterrupted(position.interrupted(total, checkpointing.directory))
                position.epoch = epoch + 1
                bar.after_epoch(epoch, lr, self.tables["input"], self.tables.get("output", self.tables["input"]))
                offsets = [0] * group.world_size
                position.offsets = list(offsets)
        bar.close()
        session_seconds = time.monotonic() - session_start
        position.seconds = earlier_seconds + session_seconds
        seconds = position.seconds
        return {
            "tokens": int(position.tokens),
            "pairs": int(position.pairs),
            "seconds": seconds,
            "tokens_per_second": session_tokens / max(session_seconds, 1e-9),
            "mean_loss": position.loss / max(position.pairs * config.negatives, 1),
            # the probe's last share of true contexts ranked above random words, and its cost
            # (w2gm.training_progress); None on ranks other than 0
            "ranked": bar.ranked,
            "probe_seconds": bar.seconds,
            "final_lr": lr,
            "backend": self.backend,
            "world_size": group.world_size,
            "merge_seconds": merge_seconds,
            # where the time went (benchmarks/distributed.py): the engine's spans, the merges,
            # within them the wait for the slowest rank, and the share of the rows they sent
            "train_seconds": train_seconds,
            "first_span_seconds": first_span_seconds or 0.0,
            "compile_seconds": compile_seconds,
            "merge_wait_seconds": merger.stats.wait_seconds,
            "merges": merger.stats.merges,
            "merged_rows": merger.stats.rows / max(1, merger.stats.merges * len(self.vocab)),
            "session_seconds": session_seconds,
        }

    def model(self, training: dict[str, Any]) -> KeyedMixtures:
        return KeyedMixtures(
            self.vocab,
            self.tables["input"],
            self.tables.get("output"),
            config=self.config.to_dict(),
            training=training,
        )
