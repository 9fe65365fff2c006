"""CPU fast path: the max-margin update of :mod:`w2gm.engines.reference` as a compiled Hogwild loop.

The reference path batches pairs, lets autograd differentiate the loss and hands summed
row gradients to :class:`~w2gm.optim.RowAdagrad`.  Here numba compiles a loop that, for
each (word, context) pair in turn, evaluates the hinges of Section 3.3, differentiates
them by hand and applies Adagrad to the rows the pair touched, straight away.  The pairs
are cut into contiguous blocks spread over threads, which update the shared tables
without locks (Hogwild, Recht et al. 2011, as word2vec does and as the paper's
"asynchronous gradient descent" does): two threads rarely touch the same row at the same
moment, and when they do, part of one small update may be lost.

With one thread the result is the reference path run with batches of one pair: the
gradients at the parameters before the pair, summed over the pair's repeated rows, then
one Adagrad step per row.  Tables and Adagrad sums are updated in place through numpy
views of the trainer's tensors, so both paths share them.

The pair update and its maths are :mod:`w2gm.engines.pair_kernel`'s; the sampling inside the loop
is :mod:`w2gm.engines.kernel_sampling`'s.  With ``--negative-sharing window`` (the default
here) the unit is instead a centre's window, whose pairs share one draw of negatives and
train as one update (:mod:`w2gm.engines.window_kernel`); with one thread that is the
reference path run with one window's pairs a batch, with mean steps.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import torch
from numba import njit

from ..chunks import SpanChunks
from ..compile_cache import CACHE
from ..energy import VARIANCE_EPSILON
from ..errors import W2GMError
from ..mixture import PARAMETER_NAMES, MixtureTable
from ..objective import nll_offset
from ..optim import RowAdagrad, RowOptimizer
from ..sampling import PairSampler
from . import TrainerParts
from .kernel_sampling import alias_table, permutation, sample_pairs, sample_windows, shuffle, stream, subsample
from .occurrence_kernel import occurrence_log_weights
from .pair_kernel import Array, Scratch, Shape, Table, scratch_buffers, train_pairs
from .window_kernel import Windows, train_windows, window_buffers

#: Blocks of a span per thread in :meth:`HogwildUpdater.train_span`.
BLOCKS_PER_THREAD = 8

#: Centres whose pairs a thread draws, shuffles and trains at a time.  Shuffling matters:
#: in text order a word's pairs follow one another, and one pass over text8_prefix then
#: gave a WS-353 Spearman of 0.046 against 0.097 for the reference (3 seeds each); pairs
#: shuffled within rounds of this size gave 0.102.  The round keeps the buffer small.
CENTRES_PER_ROUND = 1024


@njit(cache=CACHE, nogil=True)
def _train_block(
    shape: Shape, input_table: Table, output_table: Table, shared: bool, tokens: Array, start: int, stop: int,
    keep_probability: Array, negative_keep: Array, negative_alias: Array, window: int, per_pair: int,
    lr_start: float, lr_end: float, margin: float, sense: bool, nll: bool, offset: float, epsilon: float,
    adagrad_eps: float, seed: int, block: int, per_occurrence: bool, hard: bool, inverse_temperature: float,
    sense_sums: Array, scratch: Scratch,
) -> tuple[float, int]:
    """Subsample ``tokens[start:stop]``, then a round of centres at a time draw their pairs and
    negatives, shuffle them and train on them; returns the summed loss and the number of pairs.
    With ``per_occurrence`` each centre's log weights come first, from its window at the
    parameters before the round (:mod:`w2gm.engines.occurrence_kernel`)."""
    state = stream(seed, block)
    kept = np.empty(stop - start, dtype=np.int64)
    kept_positions = np.empty(stop - start, dtype=np.int64)
    count = subsample(tokens, start, stop, keep_probability, state, kept, kept_positions)
    pairs = np.empty((2 * window * CENTRES_PER_ROUND, per_pair + 2), dtype=np.int64)
    positions = np.empty(2 * window * CENTRES_PER_ROUND, dtype=np.int64)
    # a row per token of the block, indexed by span position - start
    word_log_weights = np.empty((stop - start if per_occurrence else 0, len(shape[0])), dtype=np.float32)
    loss = 0.0
    trained = 0
    for first in range(0, count, CENTRES_PER_ROUND):
        last = min(first + CENTRES_PER_ROUND, count)
        if per_occurrence:
            occurrence_log_weights(shape, input_table, output_table, kept, kept_positions, count, first, last,
                                   window, hard, inverse_temperature, epsilon, start, word_log_weights)
        made = sample_pairs(
            kept, kept_positions, count, first, last, window, negative_keep, negative_alias, state, pairs, positions,
        )
        shuffle(pairs, positions, made, state)
        # the rate falls linearly with the centre's place in the span, the unit in which
        # Trainer.fit counts progress
        loss += train_pairs(shape, input_table, output_table, shared, pairs, positions, made, tokens.shape[0],
                             lr_start, lr_end, margin, sense, nll, offset, epsilon, adagrad_eps, scratch,
                             per_occurrence, word_log_weights, start, sense_sums)
        trained += made
    return loss, trained


@njit(cache=CACHE, nogil=True)
def _train_block_windows(
    shape: Shape, input_table: Table, output_table: Table, shared: bool, tokens: Array, start: int, stop: int,
    keep_probability: Array, negative_keep: Array, negative_alias: Array, window: int, lr_start: float,
    lr_end: float, margin: float, nll: bool, offset: float, epsilon: float, adagrad_eps: float, seed: int,
    block: int, occurrence: tuple[bool, float] | None, sense_sums: Array, buffers: Windows, scratch: Scratch,
) -> tuple[float, int]:
    """:func:`_train_block` with each centre's pairs sharing one draw of negatives and trained
    as one update (:mod:`w2gm.engines.window_kernel`), in ``buffers`` (:func:`window_buffers`);
    a round's windows are shuffled.  One sense per occurrence takes ``occurrence`` (hard,
    1 / temperature), None without: numba then leaves its branches out, and does not compile
    its kernel."""
    state = stream(seed, block)
    kept, kept_positions = buffers.kept, buffers.kept_positions
    count = subsample(tokens, start, stop, keep_probability, state, kept, kept_positions)
    loss = 0.0
    trained = 0
    for first in range(0, count, CENTRES_PER_ROUND):
        last = min(first + CENTRES_PER_ROUND, count)
        if occurrence is not None:
            occurrence_log_weights(shape, input_table, output_table, kept, kept_positions, count, first, last,
                                   window, occurrence[0], occurrence[1], epsilon, start, buffers.word_log_weights)
        made = sample_windows(kept, kept_positions, count, first, last, window, negative_keep, negative_alias,
                              state, buffers.centres, buffers.context_starts, buffers.contexts, buffers.negatives,
                              buffers.positions)
        permutation(buffers.order, made, state)
        loss += train_windows(shape, input_table, output_table, shared, buffers.centres, buffers.context_starts,
                              buffers.contexts, buffers.negatives, buffers.positions, buffers.order, made,
                              tokens.shape[0], lr_start, lr_end, margin, nll, offset, epsilon, adagrad_eps, scratch,
                              occurrence is not None, buffers.word_log_weights, start, sense_sums)
        trained += buffers.context_starts[made]
    return loss, trained


# ------------------------------------------------------------------ the Python side


def _views(table: MixtureTable, optimizer: RowOptimizer) -> Table:
    """numpy views sharing memory with the table's tensors and the optimiser's sums."""
    if not isinstance(optimizer, RowAdagrad):
        raise W2GMError("the numba backend implements Adagrad only: use --optimizer adagrad or the torch backend")
    tensors = [*table.parameters().values(), *(optimizer.sum_squares[p] for p in PARAMETER_NAMES)]
    for tensor in tensors:
        if tensor.device.type != "cpu" or tensor.dtype != torch.float32 or not tensor.is_contiguous():
            raise W2GMError("the numba backend needs contiguous float32 tables on the CPU")
    # logits [V, K] are viewed as [V, K, 1] so that all three parameters share one Adagrad loop
    return Table(*(t.numpy().reshape(*t.shape[:2], -1) for t in tensors))


class HogwildUpdater:
    """Trains a trainer's tables and Adagrad state in place, on ``threads`` CPU threads.

    ``tables`` and ``optimizers`` are :class:`~w2gm.trainer.Trainer`'s: ``"input"`` and, with
    separate output distributions, ``"output"``; without it contexts use the input table.
    ``threads`` 0 takes every core.  :meth:`update` trains on given pairs;
    :meth:`train_span` draws the pairs of a span of corpus ids itself, as ``sampler`` does.
    ``objective`` is paper, sense or nll; ``offset`` is nll's b (:func:`w2gm.objective.nll_offset`).
    """

    def __init__(
        self,
        tables: Mapping[str, MixtureTable],
        optimizers: Mapping[str, RowOptimizer],
        margin: float,
        threads: int = 0,
        sampler: PairSampler | None = None,
        negatives: int = 1,
        epsilon: float = VARIANCE_EPSILON,
        objective: str = "paper",
        offset: float = 0.0,
        occurrence_sense: str = "off",
        occurrence_temperature: float = 1.0,
        negative_sharing: str = "pair",
    ) -> None:
        self.input = _views(tables["input"], optimizers["input"])
        self.shared = "output" not in tables
        self.output = self.input if self.shared else _views(tables["output"], optimizers["output"])
        self.adagrad_eps = float(optimizers["input"].eps)  # type: ignore[attr-defined]
        means, log_variances, _ = tables["input"].parameters().values()
        self.shape = tuple(tuple(range(size)) for size in (means.shape[1], log_variances.shape[2], means.shape[2]))
        self.margin = margin
        self.sense = objective == "sense"
        self.nll = objective == "nll"
        # the energies here leave out log E's -D/2 log 2 pi (_log_energy), so b takes it out too
        self.offset = offset - 0.5 * means.shape[2] * math.log(2.0 * math.pi)
        self.epsilon = epsilon
        #: "pair": each pair draws its negatives and trains alone; "window": a centre's pairs
        #: share one draw and train as one update (w2gm.engines.window_kernel).
        self.negative_sharing = negative_sharing
        #: One sense per occurrence (w2gm.occurrence): "off", "hard" or "soft"; the trainer
        #: turns it on at the split.  ``sense_sums`` [V, K] float64 collects the occurrences'
        #: weights, from which the trainer sets the words' mixture weights.
        self.occurrence_sense = occurrence_sense
        self.occurrence_temperature = occurrence_temperature
        self.sense_sums = np.zeros((means.shape[0], means.shape[1]), dtype=np.float64)
        self.threads = threads if threads > 0 else os.cpu_count() or 1
        self.span_blocks = BLOCKS_PER_THREAD * self.threads
        self.chunks = SpanChunks()  # the blocks of a span are its chunks (w2gm.chunks)
        self.negatives = negatives
        self.sampler = sampler
        if sampler is not None:
            self.window = sampler.window
            self.keep_probability = sampler.keep_probability.cpu().numpy()
            # P_n exactly as PairSampler draws it: the steps of its float32 cumulative distribution
            steps = np.diff(sampler.negative_cdf.cpu().numpy().astype(np.float64), prepend=0.0)
            self.negative_keep, self.negative_alias = alias_table(steps)

    @classmethod
    def from_trainer(cls, trainer: TrainerParts) -> HogwildUpdater:
        """The updater of a Trainer's tables, with its objective, threads, sampler and negatives."""
        config = trainer.config
        updater = cls(trainer.tables, trainer.optimizers, config.margin, config.threads, trainer.sampler,
                      config.negatives, objective=config.objective, offset=nll_offset(config),
                      occurrence_temperature=config.occurrence_temperature,
                      negative_sharing=trainer.negative_sharing)
        updater.sense_sums = trainer.sense_sums.numpy()  # shared with the trainer
        return updater

    def _blocks(self, length: int, blocks: int, run: Callable[[int, int, int], Any]) -> list[Any]:
        """``run(block, start, stop)`` for ``blocks`` contiguous blocks of ``range(length)``, in
        order, each taken by the next free one of ``self.threads`` threads (the kernels
        release the GIL)."""
        bounds = [(b, b * length // blocks, (b + 1) * length // blocks) for b in range(blocks)]
        if self.threads == 1:
            return [run(*bound) for bound in bounds]
        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(lambda bound: run(*bound), bounds))

    def update(
        self, centres: np.ndarray, contexts: np.ndarray, negatives: np.ndarray, lr_start: float, lr_end: float,
        word_log_weights: np.ndarray | None = None,
    ) -> float:
        """Train on ``centres[p], contexts[p]`` with negatives ``negatives[p]`` (``[n, N]``)
        for every p, in order within each thread's block; the rate falls linearly from
        ``lr_start`` to reach ``lr_end`` at the last pair.  ``word_log_weights [n, K]``, when
        given, replace each pair's word's log weights (one sense per occurrence).  Returns the
        summed loss.

        With one thread this is Trainer.step on one pair at a time."""
        pairs = np.column_stack([centres, contexts, negatives]).astype(np.int64)
        # the rate falls linearly over all the pairs and reaches lr_end at the last one, as
        # Trainer.fit's rate does at the end of its last batch
        positions = np.arange(len(pairs))
        per_occurrence = word_log_weights is not None
        weights = np.ascontiguousarray(word_log_weights if per_occurrence else np.empty((0, len(self.shape[0]))),
                                       dtype=np.float32)
        losses = self._blocks(len(pairs), self.threads, lambda block, start, stop: train_pairs(
            self.shape, self.input, self.output, self.shared, pairs[start:stop], positions[start:stop], stop - start,
            len(pairs), lr_start, lr_end, self.margin, self.sense, self.nll, self.offset, self.epsilon,
            self.adagrad_eps, scratch_buffers(self.shape, pairs.shape[1]), per_occurrence, weights, 0,
            self.sense_sums,
        ))
        return float(sum(losses))

    def update_windows(
        self, centres: np.ndarray, context_starts: np.ndarray, contexts: np.ndarray, negatives: np.ndarray,
        lr_start: float, lr_end: float,
    ) -> float:
        """Train on windows in order, each one update whose pairs share their negatives
        (:mod:`w2gm.engines.window_kernel`): window o is ``centres[o]`` with the contexts
        ``contexts[context_starts[o]:context_starts[o + 1]]`` and the negatives
        ``negatives[o]`` (``[n, N]``); the rate falls linearly from ``lr_start`` to reach
        ``lr_end`` at the last window.  Returns the summed loss.

        With one thread this is Trainer.step on one window's pairs at a time, with mean steps."""
        count = len(centres)
        starts = np.ascontiguousarray(context_starts, dtype=np.int64)
        widest = int(np.diff(starts).max(initial=0))
        windows = (np.ascontiguousarray(centres, dtype=np.int64), np.ascontiguousarray(contexts, dtype=np.int64),
                   np.ascontiguousarray(negatives, dtype=np.int64))

        def run(block: int, start: int, stop: int) -> float:
            order = np.arange(start, stop)
            return train_windows(
                self.shape, self.input, self.output, self.shared, windows[0], starts, windows[1], windows[2],
                np.arange(count), order, stop - start, count, lr_start, lr_end, self.margin, self.nll, self.offset,
                self.epsilon, self.adagrad_eps, scratch_buffers(self.shape, 1 + widest + negatives.shape[1]), False,
                np.empty((0, len(self.shape[0])), dtype=np.float32), 0, self.sense_sums,
            )

        return float(sum(self._blocks(count, self.threads, run)))

    def train_span(
        self, ids: np.ndarray | torch.Tensor, lr_start: float, lr_end: float, seed: int
    ) -> tuple[float, int]:
        """Subsample a span of corpus ids, draw its pairs and negatives and train on them,
        with draws from ``seed``; the rate falls linearly with the centre's place in the
        span, from ``lr_start`` to ``lr_end`` at its last token.  Returns the summed
        loss and the pair count.

        The span is cut into ``span_blocks`` contiguous blocks, more than there are threads,
        each taken by the next free thread: on a machine shared with other work, a thread
        that gets less time takes fewer blocks instead of keeping the others waiting at the
        end of the span.  The draws follow PairSampler's distributions; PairSampler shuffles
        the pairs of a whole span, a block here those of each round of CENTRES_PER_ROUND
        centres."""
        if self.sampler is None:
            raise W2GMError("train_span needs the trainer's PairSampler")
        tokens = np.ascontiguousarray(ids, dtype=np.int64)
        chunks = self.chunks

        def run(block: int, start: int, stop: int) -> tuple[float, int]:
            if not chunks.starts(block):
                return 0.0, 0
            result = self._train_block(tokens, start, stop, lr_start, lr_end, seed, block)
            chunks.finished(block)
            return result

        results = self._blocks(len(tokens), self.span_blocks, run)
        return float(sum(loss for loss, _ in results)), int(sum(pairs for _, pairs in results))

    @property
    def chunking(self) -> str:
        return f"numba, {self.span_blocks} blocks"

    def _train_block(self, tokens: Array, start: int, stop: int, lr_start: float, lr_end: float, seed: int,
                     block: int) -> tuple[float, int]:
        if self.negative_sharing == "window":
            occurrence = None if self.occurrence_sense == "off" else (
                self.occurrence_sense == "hard", 1.0 / self.occurrence_temperature)
            buffers = window_buffers(stop - start, CENTRES_PER_ROUND, self.window, self.negatives,
                                     len(self.shape[0]), occurrence is not None)
            return _train_block_windows(
                self.shape, self.input, self.output, self.shared, tokens, start, stop, self.keep_probability,
                self.negative_keep, self.negative_alias, self.window, lr_start, lr_end, self.margin, self.nll,
                self.offset, self.epsilon, self.adagrad_eps, seed, block, occurrence, self.sense_sums, buffers,
                scratch_buffers(self.shape, 1 + 2 * self.window + self.negatives),
            )
        return _train_block(
            self.shape, self.input, self.output, self.shared, tokens, start, stop, self.keep_probability,
            self.negative_keep, self.negative_alias, self.window, self.negatives, lr_start, lr_end, self.margin,
            self.sense, self.nll, self.offset, self.epsilon, self.adagrad_eps, seed, block,
            self.occurrence_sense != "off", self.occurrence_sense == "hard", 1.0 / self.occurrence_temperature,
            self.sense_sums, scratch_buffers(self.shape, self.negatives + 2),
        )

    def compile(self) -> None:
        """Compile the span kernel for this shape now, in the calling thread, where Ctrl-C and
        SIGTERM can interrupt it (a first run at K = 8 compiles for minutes; in a worker
        thread during a span, no signal would be seen until it ends)."""
        if self.sampler is not None:
            self._train_block(np.zeros(1, dtype=np.int64), 0, 0, 0.0, 0.0, 0, 0)
