"""Training: the objective of :mod:`w2gm.objective` on the expected likelihood kernel, the learning-rate
schedule and the loop over the corpus, with checkpoints and several ranks.

The corpus is trained span by span (``--span-tokens`` ids at a time).  A span goes to an
update engine: the reference written here in plain torch (autograd on the rows a batch
gathers, an optimiser that updates only those rows), or one of the compiled engines with
the same loss, sampling and schedule, :mod:`w2gm.hogwild` (numba, CPU) and
:mod:`w2gm.triton_update` (Triton, CUDA).  Between spans the loop reports progress,
merges the ranks' models (:mod:`w2gm.distributed`), checks for divergence and writes
checkpoints (:mod:`w2gm.checkpoint`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor
from tqdm.auto import tqdm

from . import autopreset, distributed, limits, optim, usage
from . import corpus as corpus_module
from .averaging import ModelAverager
from .checkpoint import CheckpointDir, CheckpointSchedule, Position
from .chunks import SpanChunks
from .config import EXECUTION_FIELDS, PRESETS, TrainConfig, make_config
from .engine import SpanUpdater
from .errors import W2GMError
from .keyed import KeyedMixtures
from .mixture import PARAMETER_NAMES, MixtureTable
from .objective import batch_loss
from .objective import max_margin_loss as max_margin_loss  # re-exported: tests and scripts import it from here
from .outputs import check_output, remove_leftovers
from .runlock import RunLock, output_lock
from .sampling import PairSampler
from .split import retie, split_components, split_tokens, tie_components
from .stopping import sigterm_raises
from .vocab import Vocabulary

CorpusArg = str | os.PathLike | Iterable[str | os.PathLike] | None

#: With several ranks and no --span-tokens, spans are at most this fraction of a shard.
MERGES_PER_EPOCH = 10

#: Options a resumed run can never change: they shape the tables or the corpus.
FIXED_ON_RESUME = ("components", "dim", "covariance", "separate_output", "min_count", "max_vocab", "lowercase",
                   "tokenizer", "encoding_errors", "optimizer")


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


class ReferenceUpdater:
    """The torch engine: a span's pairs in shuffled batches of ``batch_size``, each one
    :meth:`Trainer.step`, the rate falling linearly from batch to batch."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer
        self.chunks = SpanChunks()  # the batches of a span are its chunks (w2gm.chunks)

    @property
    def chunking(self) -> str:
        return f"torch, batches of {self.trainer.config.batch_size}"

    def train_span(self, ids: Tensor, lr_start: float, lr_end: float, seed: int) -> tuple[float, int]:
        trainer, config, chunks = self.trainer, self.trainer.config, self.chunks
        trainer.generator.manual_seed(seed)
        centres, contexts = trainer.sampler.pairs(ids.to(trainer.device, torch.long))
        batches = math.ceil(len(centres) / config.batch_size)
        loss = torch.zeros((), device=trainer.device)
        pairs = 0
        for b in range(batches):
            lr = lr_start + (lr_end - lr_start) * (b + 1) / batches
            batch = slice(b * config.batch_size, (b + 1) * config.batch_size)
            # drawn for a batch trained before a resume too, so that later batches draw as they did
            negatives = trainer.sampler.negatives(len(centres[batch]), config.negatives)
            if not chunks.starts(b):
                if chunks.stopped:
                    break
                continue
            loss += trainer.step(centres[batch], contexts[batch], negatives, lr)
            pairs += len(negatives)
            chunks.finished(b)
        return float(loss), pairs


def resolve_backend(config: TrainConfig, device: torch.device) -> str:
    """The engine ``--backend`` names, or for ``auto`` the fastest one that can run here."""
    compiled = {"numba": "cpu", "triton": "cuda"}
    if config.backend == "auto":
        if config.optimizer != "adagrad":
            return "torch"
        if device.type == "cpu":
            return "numba"
        has_triton = all(importlib.util.find_spec(m) for m in ("triton", "w2gm.triton_update"))
        return "triton" if has_triton else "torch"
    if config.backend in compiled:
        if device.type != compiled[config.backend]:
            raise W2GMError(f"--backend {config.backend} runs on {compiled[config.backend]}, not on {device}")
        if config.optimizer != "adagrad":
            raise W2GMError(f"--backend {config.backend} implements Adagrad only: use --optimizer adagrad")
    return config.backend


def make_updater(trainer: Trainer, backend: str) -> SpanUpdater:
    if backend == "numba":
        from .hogwild import HogwildUpdater

        return HogwildUpdater.from_trainer(trainer)
    if backend == "triton":
        from .triton_update import TritonUpdater

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


class TrainingInterrupted(W2GMError):
    """Ctrl-C or SIGTERM: a checkpoint was saved and the run can be resumed."""


class _StopRequest:
    """Turns the first SIGINT or SIGTERM into a request to stop at the end of the span;
    a second SIGINT interrupts at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.requested = False
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        if self.enabled and threading.current_thread() is threading.main_thread():
            for number in self.SIGNALS:
                self.previous[number] = signal.signal(number, self._handle)
        return self

    def _handle(self, number: int, frame: Any) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc: object) -> None:
        for number, handler in self.previous.items():
            signal.signal(number, handler)


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

    @property
    def splits(self) -> bool:
        """Whether the run trains tied components first and splits them (:mod:`w2gm.split`)."""
        return self.config.split_at > 0 and self.config.components > 1

    def split(self) -> None:
        """Split every eligible word's tied components (the same noise on every rank)."""
        eligible = self.vocab.counts >= self.config.split_min_count
        for offset, table in enumerate(self.tables.values()):
            seed = span_seed(self.config.seed, (1 << 30) + offset, 0, 0)
            split_components(table, self.config.split_noise, seed, eligible)

    def after_span(self, tokens: int, total: int) -> None:
        """What happens to the tables between spans, once ``tokens`` of the run's ``total``
        are trained (the same on every rank): the split of tied components, unless the run
        is over, and before it the re-tying of copies that lock-free updates made drift
        (:func:`w2gm.split.retie`)."""
        if self._split_after is None:
            return
        if total > tokens >= self._split_after:
            self.split()
            self._split_after = None
        else:
            retie([tensor for name, table in self.tables.items()
                   for tensor in (*table.parameters().values(), *self.optimizers[name].state_dict().values())
                   if tensor.dim() >= 2])

    @property
    def updater(self) -> SpanUpdater:
        if self._updater is None:  # built on first use: a compiled engine takes seconds to load
            self._updater = make_updater(self, self.backend)
        return self._updater

    def step(self, centres: Tensor, contexts: Tensor, negatives: Tensor, lr: float) -> Tensor:
        """One reference update on a batch of pairs; returns the summed loss (0-d)."""
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
        loss = batch_loss(word, context, negative, self.config)
        loss.backward()
        with torch.no_grad():
            for name, part in gathered.items():
                rows, gradients = part.row_gradients()
                for p, gradient in gradients.items():
                    self.optimizers[name].step(p, rows, gradient, lr)
        return loss.detach()

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

    def _averager(self) -> ModelAverager:
        parameters = [t for table in self.tables.values() for t in table.parameters().values()]
        accumulators = [
            t for opt in self.optimizers.values() for k, t in opt.state_dict().items() if k.startswith("sum_squares")
        ]
        if self.group.active and self.config.optimizer != "adagrad":
            raise W2GMError("training on several ranks supports --optimizer adagrad only")
        return ModelAverager(self.group, parameters, accumulators)

    # ---------------------------------------------------------------- the loop

    @staticmethod
    def _resume_offsets(position: Position, sizes: list[int], length: int) -> list[int]:
        """Where each rank's shard starts this epoch: as saved when the world size is the
        same, else the saved share of the epoch, applied to every new shard."""
        if len(position.offsets) == len(sizes):
            return list(position.offsets)
        return [sum(position.offsets) * size // length for size in sizes]

    def save_checkpoint(self, checkpointing: Checkpointing | None, position: Position) -> None:
        if checkpointing is not None and self.group.is_main:
            checkpointing.directory.save(self.state(), self.config.to_dict(), position, checkpointing.output)

    def _divergence_message(self, loss: float, position: Position, epoch: int,
                            checkpointing: Checkpointing | None) -> str:
        what = f"the loss became {loss}" if not math.isfinite(loss) else "a parameter became NaN or infinite"
        message = (f"training diverged: {what} in epoch {epoch + 1}, after {position.tokens:,} tokens; "
                   "lower --lr")
        if checkpointing is not None and checkpointing.directory.has_state():
            where = checkpointing.directory.path
            message += (f"; the last good checkpoint is kept in {where}: "
                        f"w2gm train --resume {where} --lr RATE --allow-config-change")
        return message

    @staticmethod
    def _interrupt_message(position: Position, total: int, checkpointing: Checkpointing) -> str:
        where = checkpointing.directory.path
        partial = position.partial
        mid_span = "" if partial is None else (
            f" and {len(partial['done'])} chunks of the next span ({partial['chunking']})")
        return (f"interrupted after {position.tokens:,} of {total:,} tokens ({100 * position.tokens / total:.1f}%)"
                f"{mid_span}; checkpoint saved in {where}; continue with: w2gm train --resume {where}")

    def _chunks(self, position: Position, span: tuple[int, int], stop: _StopRequest) -> SpanChunks:
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

    def _stop_mid_span(self, position: Position, chunks: SpanChunks, span: tuple[int, int], loss: float,
                       pairs: int, total: int, checkpointing: Checkpointing, seconds: float, bar: tqdm) -> None:
        """Save what the span's trained chunks did, with their list, and stop."""
        position.loss += loss
        position.pairs += pairs
        position.partial = chunks.record(span, getattr(self.updater, "chunking", type(self.updater).__name__))
        position.seconds = seconds
        self.save_checkpoint(checkpointing, position)
        bar.close()
        raise TrainingInterrupted(self._interrupt_message(position, total, checkpointing))

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
        offsets = self._resume_offsets(position, sizes, length)
        total = length * config.epochs
        data = self._corpus_on_device(ids[slice(*shards[group.rank])])  # this rank's shard only
        averager = self._averager()
        bar = tqdm(total=total, initial=position.tokens, unit="tok", unit_scale=True,
                   disable=not (progress and group.is_main), dynamic_ncols=True)
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
        with _StopRequest(enabled=checkpointing is not None) as stop:
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
                    averager.merge()
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
                        raise W2GMError(self._divergence_message(loss, position, epoch, checkpointing))
                    self.after_span(position.tokens, total)
                    bar.set_postfix(loss=f"{loss / max(pairs * config.negatives, 1):.4f}", lr=f"{lr:.2e}",
                                    epoch=epoch + 1, refresh=False)
                    bar.update(trained)  # after the postfix, so that the bar shows this span's figures
                    if stops or due:
                        position.seconds = earlier_seconds + time.monotonic() - session_start
                        self.save_checkpoint(checkpointing, position)
                        last_checkpoint, spans_since = time.monotonic(), 0
                    if stops:
                        bar.close()
                        assert checkpointing is not None  # signals are only caught when checkpointing
                        raise TrainingInterrupted(self._interrupt_message(position, total, checkpointing))
                position.epoch = epoch + 1
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
            "final_lr": lr,
            "backend": self.backend,
            "world_size": group.world_size,
            "merge_seconds": merge_seconds,
            # where the time went (benchmarks/distributed.py): the engine's spans, the merges,
            # within them the wait for the slowest rank, and the share of the rows they sent
            "train_seconds": train_seconds,
            "first_span_seconds": first_span_seconds or 0.0,
            "compile_seconds": compile_seconds,
            "merge_wait_seconds": averager.stats.wait_seconds,
            "merges": averager.stats.merges,
            "merged_rows": averager.stats.rows / max(1, averager.stats.merges * len(self.vocab)),
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


def _corpus_paths(corpus: CorpusArg) -> list[str | os.PathLike]:
    if corpus is None:
        return [corpus_module.sample_corpus_path()]
    if isinstance(corpus, str | os.PathLike):
        return [corpus]
    paths = list(corpus)
    return paths or [corpus_module.sample_corpus_path()]


def resumed_config(saved: dict[str, Any], preset: str | None, options: dict[str, Any],
                   allow_change: bool) -> TrainConfig:
    """The saved config with the options given now; changes other than how the run
    executes need ``allow_change``, and the shape of the model and corpus never changes."""
    base = TrainConfig.from_dict(saved)
    requested = {**(PRESETS[preset] if preset else {}), **options}
    make_config(preset or "paper", **options)  # the same checks as a new run
    changed = {k: v for k, v in requested.items() if getattr(base, k) != v and k not in EXECUTION_FIELDS}
    described = ", ".join(f"--{k.replace('_', '-')} {getattr(base, k)} -> {v}" for k, v in changed.items())
    fixed = [k for k in changed if k in FIXED_ON_RESUME]
    if fixed:
        raise W2GMError(f"--resume: {described}: a resumed run cannot change "
                        f"{', '.join('--' + k.replace('_', '-') for k in fixed)}; start a new run instead")
    if changed and not allow_change:
        raise W2GMError(f"--resume: the run was started with other options ({described}); "
                        "give --allow-config-change to go on with the new ones")
    return dataclasses.replace(base, **requested)


def _prepare_corpus(
    group: distributed.Group, directory: CheckpointDir, corpus: CorpusArg, config: TrainConfig, progress: bool
) -> corpus_module.EncodedCorpus:
    """Rank 0 reads the text into the checkpoint directory; the other ranks wait and then
    map the same ids (several hosts need the directory on a shared filesystem)."""
    failure: str | None = None
    encoded = None
    if group.is_main:
        try:
            directory.prepare()
            encoded = corpus_module.encode(
                _corpus_paths(corpus), directory.path, config.min_count, config.max_vocab,
                config.lowercase, config.encoding_errors, config.tokenizer, progress, config.read_workers,
            )
            directory.write_corpus(encoded)
        except W2GMError as error:
            failure = str(error)
    failure = group.share(failure)  # type: ignore[assignment]
    if failure is not None:
        raise W2GMError(failure)
    return encoded if encoded is not None else directory.read_corpus()


def train(
    corpus: CorpusArg = None,
    *,
    output: str | os.PathLike | None = None,
    progress: bool = False,
    preset: str | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: str | None = "10min",
    resume: str | os.PathLike | None = None,
    allow_config_change: bool = False,
    overwrite: bool = False,
    **options: Any,
) -> KeyedMixtures:
    """Train a model on text files (a path, a directory, or a list of them; ``None`` takes the
    bundled sample) with a preset (see :data:`w2gm.config.PRESETS`; the default, "auto", picks
    settings for the corpus's size by the rules of :mod:`w2gm.autopreset`) and any
    :class:`TrainConfig` option over it; optionally save it to ``output``.

    The run keeps its corpus ids and checkpoints in ``checkpoint_dir`` (default
    ``OUTPUT.checkpoint``; a temporary directory without ``output``), saving one every
    ``checkpoint_every`` (``"30s"``, ``"10min"``, ``"500steps"``, None: only on Ctrl-C or
    SIGTERM) and deleting the directory once the model is saved.  ``resume`` continues the
    run whose checkpoint directory it names.  Under torchrun every rank calls this; rank 0
    reads the corpus and writes the checkpoints and the model.

    ``output`` replaces an earlier model but no other file unless ``overwrite`` is given
    (:mod:`w2gm.outputs`); the output and the checkpoint directory are locked against
    other runs for as long as this one lasts (:mod:`w2gm.runlock`).
    """
    with sigterm_raises():
        locks: list[RunLock] = []
        try:
            return _train(corpus, output, progress, preset, checkpoint_dir, checkpoint_every, resume,
                          allow_config_change, overwrite, options, locks)
        finally:
            for lock in locks:
                lock.release()


def _train(corpus: CorpusArg, output: str | os.PathLike | None, progress: bool, preset: str | None,
           checkpoint_dir: str | os.PathLike | None, checkpoint_every: str | None,
           resume: str | os.PathLike | None, allow_config_change: bool, overwrite: bool,
           options: dict[str, Any], locks: list[RunLock]) -> KeyedMixtures:
    saved = None
    if resume is not None:
        if corpus is not None and _corpus_paths(corpus) != [corpus_module.sample_corpus_path()]:
            raise W2GMError("--resume continues on the corpus saved with the checkpoint; give no CORPUS")
        directory = CheckpointDir(resume)
        saved = directory.load()
        config = resumed_config(saved.config, preset, options, allow_config_change)
        output = output if output is not None else saved.output
    else:
        preset = preset or autopreset.AUTO
        config = make_config(preset, **options)
    schedule = CheckpointSchedule.parse(checkpoint_every) if checkpoint_every else CheckpointSchedule()
    group, device_name = distributed.init(config.device)
    device = resolve_device(device_name)
    limits.check_engine(config, resolve_backend(config, device))  # before the text is read
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    temporary = None
    if saved is None:
        if checkpoint_dir is None and output is None:
            temporary = tempfile.TemporaryDirectory(prefix="w2gm-")
            checkpoint_dir = group.share(temporary.name if group.is_main else None)  # type: ignore[assignment]
        directory = CheckpointDir(checkpoint_dir if checkpoint_dir is not None else f"{output}.checkpoint")
    if output is not None and group.is_main:
        inputs = [] if saved is not None else corpus_module.expand_paths(_corpus_paths(corpus))
        directory.refuse_as_output(check_output(output, inputs, overwrite))
        locks.append(output_lock(output))
        locks[-1].acquire()
        remove_leftovers(output)
    if saved is not None and group.is_main:
        directory.claim()
    locks.append(directory.lock)  # released last, after the directory's own cleanup
    try:
        # what the model records as its preset: resumed runs go on with the settings they had
        preset_label = "resumed" if saved is not None else preset
        read_started = time.perf_counter()
        if saved is None:
            encoded = _prepare_corpus(group, directory, corpus, config, progress)
            if preset == autopreset.AUTO:
                rule = autopreset.choose(len(encoded.ids))
                preset_label = autopreset.describe(rule, len(encoded.ids), options)
                config = dataclasses.replace(config, **{k: v for k, v in rule.settings.items() if k not in options})
        else:
            encoded = directory.read_corpus()
        read_seconds = time.perf_counter() - read_started
        trainer = Trainer(encoded.vocab, config, device, group)
        position = Position()
        if saved is not None:
            directory.check_position(saved, config.epochs, len(encoded.ids))
            try:
                trainer.load_state({k: v.to(device) for k, v in saved.tensors.items()})
            except W2GMError as error:
                raise W2GMError(f"--resume {directory.path}: {directory.state_path.name} is damaged ({error})") \
                    from None
            position = saved.position
        checkpointing = Checkpointing(directory, schedule, None if output is None else str(output))
        summary = trainer.fit(encoded.ids, progress=progress, position=position,
                              checkpointing=None if temporary is not None else checkpointing)
    except TrainingInterrupted:
        raise
    except (W2GMError, KeyboardInterrupt) as error:
        # nothing half-made is left behind, but a checkpoint is the user's work: keep it
        if group.is_main and not directory.has_state():
            directory.remove()
        elif isinstance(error, KeyboardInterrupt) and temporary is None:
            raise TrainingInterrupted(f"interrupted; the last checkpoint is kept in {directory.path}: "
                                      f"w2gm train --resume {directory.path}") from None
        raise
    finally:
        distributed.finish(group)
    summary |= {"raw_tokens": encoded.raw_tokens, "replaced_bytes": encoded.replaced_bytes,
                "read_seconds": read_seconds, "vocab_size": len(encoded.vocab), "device": str(device),
                "output": None if output is None else str(output)}
    model = trainer.model(summary)
    model.config["preset"] = preset_label
    if group.is_main:  # which component wins in context, counted on the training device
        started = time.perf_counter()
        model.usage = usage.Usage.from_counts(usage.count_winners(
            trainer.tables["input"], trainer.tables.get("output", trainer.tables["input"]),
            encoded.ids, config.window, device, threads=config.threads))
        model.training["usage_seconds"] = time.perf_counter() - started
        if output is not None:
            _save_or_keep(model, output, trainer, checkpointing, position)
        directory.remove()
    if temporary is not None:
        temporary.cleanup()
    return model


def _save_or_keep(model: KeyedMixtures, output: str | os.PathLike, trainer: Trainer, checkpointing: Checkpointing,
                  position: Position) -> None:
    """Save the model; when that fails (a full disk) or is interrupted, keep the trained
    state in the checkpoint directory if it fits, so that --resume only has to save it."""
    directory = checkpointing.directory
    try:
        model.save(output)
    except (W2GMError, KeyboardInterrupt) as error:
        try:
            trainer.save_checkpoint(checkpointing, position)
        except W2GMError:
            directory.remove()
            raise error from None
        if isinstance(error, KeyboardInterrupt):
            raise TrainingInterrupted(f"interrupted while saving {output}; the trained model is kept in "
                                      f"{directory.path}: w2gm train --resume {directory.path}") from None
        raise W2GMError(f"{error}; the trained model is kept in {directory.path}: make room, then "
                        f"w2gm train --resume {directory.path}") from None


