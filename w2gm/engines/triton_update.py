"""GPU fast path: the max-margin update of :mod:`w2gm.engines.reference` as one fused Triton kernel.

The reference path batches pairs, lets autograd differentiate the loss and hands summed
row gradients to :class:`~w2gm.optim.RowAdagrad`.  Here one kernel launch trains on a
whole array of (word, context, negatives) pairs: each program takes ``block`` consecutive
pairs, gathers their rows, evaluates the hinges of Section 3.3, differentiates them by
hand and applies Adagrad to the rows straight away, in the trainer's own tensors.
Programs run concurrently and update the shared tables without locks (Hogwild, Recht et
al. 2011, as word2vec and the paper's "asynchronous gradient descent" do), each from the
parameters it read; the updates are atomic additions, so none is lost when pairs in
flight share a row (:func:`_adagrad`).  A launch with one pair is exactly the reference
path's ``Trainer.step`` on that pair.

The gradients are :mod:`w2gm.engines.triton_energy`'s.

A row a pair uses twice (a negative that is the context, or, with one shared table, the
word itself) gets one Adagrad step with its summed gradient, as in the reference.  Every
slot of a pair that holds a row R sees the same log E(w, R), so that sum is one gradient
of log E(w, R) scaled by the sum of the slots' loss coefficients: -(number of active
hinges) for the context, 1 for a negative whose hinge is active, else 0; under "nll",
d L / d log E: -sigma(-s(w, c)) for the context and sigma(s(w, c'_n)) for a negative.

:meth:`TritonUpdater.train_span` draws a span's pairs and negatives on the GPU with the
trainer's :class:`~w2gm.sampling.PairSampler` (subsampling, dynamic window, shuffle and
P_n exactly as the reference draws them, in vectorised torch) and trains on them in one
launch.

Tensors must be on a CUDA device, or on the CPU with ``TRITON_INTERPRET=1`` set before
this module is imported (Triton's interpreter, for tests without a GPU).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping

import torch
import triton
import triton.language as tl
from torch import Tensor

from ..energy import VARIANCE_EPSILON
from ..errors import W2GMError
from ..mixture import PARAMETER_NAMES, MixtureTable
from ..objective import nll_offset
from ..occurrence import training_log_weights
from ..optim import RowAdagrad, RowOptimizer
from ..sampling import PairSampler
from . import TrainerParts
from .triton_energy import (
    CONTEXT,
    WORD,
    approx_divide,
    load_mixture,
    log_energy,
    log_energy_gradients,
    row_offsets,
    sense_energy,
    sigmoid,
    softplus,
)

#: Pairs per program, chosen on an H100 (K = 2, D = 50, spherical) with
#: ``benchmarks/gpu_throughput.py --sweep``: with one pair, the one warp that holds it keeps
#: all its tiles in registers (64 per thread, no shared memory), so many pairs are in flight
#: on each SM.  Two pairs on two warps were as fast in training there (338M against 353M
#: pairs/s); larger blocks were slower.  On an H200, with the approximate maths of
#: triton_energy.py, one pair on one warp is well ahead (kernel 656M pairs/s; 2 pairs on
#: 2 warps 540M, 4 on 4 567M, 2 on 1 444M).
DEFAULT_BLOCK = 1


#: Warps per program.  One warp per pair was the fastest at every shape timed on an H100
#: (kernel pairs/s, 1 / 2 / 4 / 8 warps): K=2 D=50 382M / 179M / 116M / 8M; K=2 D=100
#: 266M / 122M / 90M / 49M; K=2 D=300 72M / 58M / 70M / 28M; K=4 D=50 66M / 64M / 50M / 24M.
DEFAULT_WARPS = 1


#: Registers a thread may use, for the shapes where that was measured to pay: K = 2, D = 50,
#: spherical, on an H200 (benchmarks/results/gpu_kernel_variants_h200_dec01.log).  The
#: kernel waits on memory more than it computes when several negatives are in flight: at
#: the small preset (nll, five negatives) ptxas gives it 96 registers, so 21 warps fit on an
#: SM; capped at 64, 32 fit and it trains 230M pairs/s against 189M (train_span 213M against
#: 178M), with a few spills (40 bytes a thread).  At the paper's one negative the kernel
#: needs 64 anyway.  The rest of the family takes the cap unmeasured (ptxas for sm_90): K = 2
#: with the paper's objective and five negatives goes from 96 registers to 64 and 88 bytes
#: of spills, K = 1 with five negatives from 70-80 to 64 and 16-32 bytes, nll with one
#: negative from 72 to 64 and none.  Wider tiles (D > 64, more components, diagonal
#: covariances) would spill far more and keep ptxas's choice.
REGISTER_CAP = 64

#: Tokens per piece of a span under one sense per occurrence (TritonUpdater.train_span): the
#: occurrences' weights are taken before each piece, so they are at most this stale.
OCCURRENCE_PIECE = 1 << 21


@triton.jit
def _adagrad(parameter_ptr, sums_ptr, offsets, mask, gradient, lr, adagrad_eps):
    """RowAdagrad on one tile, element by element: G += g^2; theta -= lr g / (sqrt(G) + eps).

    Both are written as atomic additions of the pair's increments, not as stores of the new
    values.  Thousands of pairs are in flight on a GPU, and with stores a row that several
    of them touched kept only the last writer's step: on a launch of 200,000 pairs over
    2,000 Zipf-distributed words (K = 3, D = 50, five negatives) the loss per pair after
    four passes was 1.37 against 0.96 for the same pairs taken one at a time (1.10 against
    0.98 at K = 2), and models with K > 2 trained far worse than numba's (text8 prefix,
    K = 3: similarity sum 277 against 432).  With additions it is 0.98 (K = 2: 1.00), and
    K = 3 scores 419 ± 3.  An atomic also writes a tile element once, where a store wrote
    it from every warp holding a copy and one warp could step from another's result (with
    four warps, 1e-2 off the reference on rows no two pairs shared; benchmarks/contention.py
    and tests/test_triton_update.py).  The additions cost about 3 % of the kernel's pairs/s
    (K = 2, D = 50, H200)."""
    sums = tl.load(sums_ptr + offsets, mask=mask) + gradient * gradient
    tl.atomic_add(sums_ptr + offsets, gradient * gradient, mask=mask, sem="relaxed")
    step = approx_divide(-lr * gradient, tl.sqrt(sums) + adagrad_eps)
    tl.atomic_add(parameter_ptr + offsets, step, mask=mask, sem="relaxed")


@triton.jit
def _adagrad_rows(
    means_ptr, log_variances_ptr, logits_ptr, means_sums, log_variances_sums, logits_sums, rows, AXIS: tl.constexpr,
    write, means_grad, log_variances_grad, logits_grad, lr, adagrad_eps,
    K: tl.constexpr, D: tl.constexpr, C: tl.constexpr, KP: tl.constexpr, DP: tl.constexpr, CP: tl.constexpr,
):
    """Adagrad on the three parameters of ``rows`` (components along AXIS) where ``write`` holds."""
    offsets, mask = row_offsets(rows, K, D, KP, DP, AXIS)
    _adagrad(means_ptr, means_sums, offsets, mask & write, means_grad, lr, adagrad_eps)
    offsets, mask = row_offsets(rows, K, C, KP, CP, AXIS)
    _adagrad(log_variances_ptr, log_variances_sums, offsets, mask & write, log_variances_grad, lr, adagrad_eps)
    offsets, mask = row_offsets(rows, K, 1, KP, 1, AXIS)
    _adagrad(logits_ptr, logits_sums, offsets, mask & write, logits_grad, lr, adagrad_eps)


@triton.jit
def _slot_rows(contexts_ptr, negatives_ptr, pairs, valid, slot: tl.constexpr, NEGATIVES: tl.constexpr):
    """The output rows of slot ``slot`` of each pair: 0 the context, 1 + n negative n.
    Pairs past the end read row 0 (and write nothing)."""
    if slot == 0:
        rows = tl.load(contexts_ptr + pairs, mask=valid, other=0)
    else:
        rows = tl.load(negatives_ptr + pairs * NEGATIVES + (slot - 1), mask=valid, other=0)
    return rows


# Triton would otherwise compile a variant per divisibility class of the pair count (and
# of the rates), so that a span of another length could stop a run for seconds to compile
@triton.jit(do_not_specialize=["count", "lr_start", "lr_slope"])
def _train_pairs(
    in_means, in_log_variances, in_logits, in_means_sums, in_log_variances_sums, in_logits_sums,
    out_means, out_log_variances, out_logits, out_means_sums, out_log_variances_sums, out_logits_sums,
    centres_ptr, contexts_ptr, negatives_ptr, count, losses_ptr, occurrence_ptr,
    lr_start, lr_slope, margin, offset, epsilon, adagrad_eps,
    K: tl.constexpr, D: tl.constexpr, C: tl.constexpr, NEGATIVES: tl.constexpr, SHARED: tl.constexpr,
    SENSE: tl.constexpr, NLL: tl.constexpr, OCCURRENCE: tl.constexpr, BLOCK: tl.constexpr, KP: tl.constexpr,
    DP: tl.constexpr, CP: tl.constexpr,
):
    """Hinges (with NLL the likelihood terms, s = log E + ``offset``), gradients and Adagrad
    steps of pairs ``[pid * BLOCK, (pid + 1) * BLOCK)``; writes their summed loss to
    ``losses_ptr[pid]``.  Pair p trains at rate ``lr_start + lr_slope * (p + 1)``.  With
    OCCURRENCE pair p's word takes the log weights ``occurrence_ptr[p]`` ([count, K], its
    occurrence's, w2gm.occurrence) in place of its own, whose logits then get no gradient."""
    # [B, 1, 1, 1], 64-bit so that pairs * NEGATIVES cannot overflow on a long span
    pairs = (tl.program_id(0).to(tl.int64) * BLOCK + tl.arange(0, BLOCK))[:, None, None, None]
    valid = pairs < count
    lr = lr_start + lr_slope * (pairs + 1).to(tl.float32)
    words = tl.load(centres_ptr + pairs, mask=valid, other=0)
    word_means, word_variances, word_log_weights = load_mixture(
        in_means, in_log_variances, in_logits, words, WORD, K, D, C, KP, DP, CP)
    if OCCURRENCE:
        offsets, mask = row_offsets(pairs, K, 1, KP, 1, WORD)
        # padded components -inf, as load_mixture's; pairs past the end 0 (finite, written nowhere)
        word_log_weights = tl.where(mask, tl.load(occurrence_ptr + offsets, mask=mask & valid, other=0.0),
                                    -float("inf"))
    contexts = _slot_rows(contexts_ptr, negatives_ptr, pairs, valid, 0, NEGATIVES)
    means, variances, log_weights = load_mixture(
        out_means, out_log_variances, out_logits, contexts, CONTEXT, K, D, C, KP, DP, CP)
    positive, positive_r, positive_difference, positive_inverse_sum, positive_squared, positive_x = log_energy(
        word_means, word_variances, word_log_weights, means, variances, log_weights, epsilon, D, C, CP)
    share = tl.sum(positive_r, axis=CONTEXT, keep_dims=True)  # rho_i of the "sense" objective

    # Every hinge first (3.3), at the parameters before the pair: whether each is active
    # (bit n of ``active``) decides every slot's loss coefficient.  Under NLL a slot's loss
    # and coefficient depend on its own energy only, so its terms are taken in the one pass
    # below, and each negative's energy is computed once instead of twice.
    loss = tl.zeros((BLOCK, 1, 1, 1), dtype=tl.float32)
    active = tl.zeros((BLOCK, 1, 1, 1), dtype=tl.int32)
    active_count = tl.zeros((BLOCK, 1, 1, 1), dtype=tl.float32)
    if not NLL:
        for n in tl.static_range(NEGATIVES):
            rows = _slot_rows(contexts_ptr, negatives_ptr, pairs, valid, 1 + n, NEGATIVES)
            means, variances, log_weights = load_mixture(
                out_means, out_log_variances, out_logits, rows, CONTEXT, K, D, C, KP, DP, CP)
            negative, _, _, _, _, x = log_energy(
                word_means, word_variances, word_log_weights, means, variances, log_weights, epsilon, D, C, CP)
            if SENSE:
                negative, _ = sense_energy(x, share, word_log_weights)
            hinge = margin - positive + negative
            on = valid & (hinge > 0.0)
            loss += tl.where(on, hinge, 0.0)
            active |= on.to(tl.int32) << n
            active_count += on.to(tl.float32)

    # Then each output row once: the first slot that holds it (its owner) takes the gradient
    # of log E(w, row) scaled by the summed coefficients of all slots holding it.  Under the
    # sense objective a negative's energy is another function of the row than the context's,
    # so the negatives' coefficients are summed apart, in ``sense_coefficient``.  Under NLL
    # a slot's loss and coefficient depend on its energy, which is the same in every slot
    # holding the row: the owner's, computed at the parameters before the pair as no slot
    # before it holds the row (and the word's own row is written last).
    word_means_grad = tl.zeros((BLOCK, KP, 1, DP), dtype=tl.float32)
    word_log_variances_grad = tl.zeros((BLOCK, KP, 1, CP), dtype=tl.float32)
    word_logits_grad = tl.zeros((BLOCK, KP, 1, 1), dtype=tl.float32)
    for slot in tl.static_range(NEGATIVES + 1):
        rows = _slot_rows(contexts_ptr, negatives_ptr, pairs, valid, slot, NEGATIVES)
        means, variances, log_weights = load_mixture(
            out_means, out_log_variances, out_logits, rows, CONTEXT, K, D, C, KP, DP, CP)
        if slot == 0:  # the context's energy is the positive one, kept from above
            energy, r, difference, inverse_sum, squared, x = (
                positive, positive_r, positive_difference, positive_inverse_sum, positive_squared, positive_x)
        else:
            energy, r, difference, inverse_sum, squared, x = log_energy(
                word_means, word_variances, word_log_weights, means, variances, log_weights, epsilon, D, C, CP)
        owner = valid
        coefficient = tl.zeros((BLOCK, 1, 1, 1), dtype=tl.float32)
        sense_coefficient = tl.zeros((BLOCK, 1, 1, 1), dtype=tl.float32)
        slot_loss = tl.zeros((BLOCK, 1, 1, 1), dtype=tl.float32)
        if NLL:  # -log sigma(s) for the context, -log sigma(-s) for a negative, and their d/d log E
            s = energy + offset
            context_loss, context_coefficient = softplus(-s), -sigmoid(-s)
            negative_loss, negative_coefficient = softplus(s), sigmoid(s)
        for other in tl.static_range(NEGATIVES + 1):
            same = _slot_rows(contexts_ptr, negatives_ptr, pairs, valid, other, NEGATIVES) == rows
            if other < slot:
                owner = owner & ~same
            elif NLL:
                if other == 0:
                    slot_loss += tl.where(same, context_loss, 0.0)
                    coefficient += tl.where(same, context_coefficient, 0.0)
                else:
                    slot_loss += tl.where(same, negative_loss, 0.0)
                    coefficient += tl.where(same, negative_coefficient, 0.0)
            elif other == 0:  # the context: -log E(w, c) in every active hinge
                coefficient -= tl.where(same, active_count, 0.0)
            else:  # negative other - 1: +log E(w, c') when its hinge is active
                on = tl.where(same & (((active >> (other - 1)) & 1) == 1), 1.0, 0.0)
                if SENSE:
                    sense_coefficient += on
                else:
                    coefficient += on
        coefficient = tl.where(owner, coefficient, 0.0)
        sense_coefficient = tl.where(owner, sense_coefficient, 0.0)
        loss += tl.where(owner, slot_loss, 0.0)
        sense_r = r
        if SENSE:
            _, sense_r = sense_energy(x, share, word_log_weights)
        grad_means_f, grad_log_variances_f, grad_logits_f, grad_means_g, grad_log_variances_g, grad_logits_g = (
            log_energy_gradients(coefficient, r, sense_coefficient, sense_r, difference, inverse_sum, squared,
                                  word_variances, word_log_weights, variances, log_weights, D, C, SENSE))
        word_means_grad += grad_means_f
        word_log_variances_grad += grad_log_variances_f
        if not OCCURRENCE:  # an occurrence's weights are not the word's: its logits follow usage
            word_logits_grad += grad_logits_f
        write = owner & ((coefficient != 0.0) | (sense_coefficient != 0.0))
        if SHARED:  # the word's own row: its gradient joins the word's single step below
            merged = rows == words
            # a context-side tile [B, 1, KP, W] moved to the word's side [B, KP, 1, W]
            word_means_grad += tl.where(merged, tl.permute(grad_means_g, (0, 2, 1, 3)), 0.0)
            word_log_variances_grad += tl.where(merged, tl.permute(grad_log_variances_g, (0, 2, 1, 3)), 0.0)
            word_logits_grad += tl.where(merged, tl.permute(grad_logits_g, (0, 2, 1, 3)), 0.0)
            write = write & ~merged
        _adagrad_rows(
            out_means, out_log_variances, out_logits, out_means_sums, out_log_variances_sums, out_logits_sums, rows,
            CONTEXT, write, grad_means_g, grad_log_variances_g, grad_logits_g, lr, adagrad_eps, K, D, C, KP, DP, CP)
    tl.store(losses_ptr + tl.program_id(0), tl.sum(loss))
    word_write = valid  # every nll pair has a gradient for its word
    if not NLL:
        word_write = valid & (active_count > 0.0)
    _adagrad_rows(
        in_means, in_log_variances, in_logits, in_means_sums, in_log_variances_sums, in_logits_sums, words, WORD,
        word_write, word_means_grad, word_log_variances_grad, word_logits_grad, lr, adagrad_eps,
        K, D, C, KP, DP, CP)


# ------------------------------------------------------------------ the Python side


def _table_tensors(table: MixtureTable, optimizer: RowOptimizer) -> list[Tensor]:
    """The table's three parameters and their three Adagrad sums, checked for the kernel."""
    if not isinstance(optimizer, RowAdagrad):
        raise W2GMError("the triton backend implements Adagrad only: use --optimizer adagrad or the torch backend")
    tensors = [*table.parameters().values(), *(optimizer.sum_squares[p] for p in PARAMETER_NAMES)]
    interpreted = os.environ.get("TRITON_INTERPRET") == "1"
    for tensor in tensors:
        on_device = tensor.device.type == "cuda" or (interpreted and tensor.device.type == "cpu")
        if not on_device or tensor.dtype != torch.float32 or not tensor.is_contiguous():
            raise W2GMError("the triton backend needs contiguous float32 tables on a CUDA device")
    return tensors


class TritonUpdater:
    """Trains a trainer's tables and Adagrad state in place on the GPU.

    ``tables`` and ``optimizers`` are :class:`~w2gm.trainer.Trainer`'s: ``"input"`` and, with
    separate output distributions, ``"output"``; without it contexts use the input table.
    :meth:`update` trains on given pairs; :meth:`train_span` draws the pairs of a span of
    corpus ids with ``sampler``, whose generator :meth:`train_span` seeds.  ``block`` pairs
    (a power of two) go to each program of ``warps`` warps (by default :data:`DEFAULT_WARPS`).
    ``objective`` is paper, sense or nll; ``offset`` is nll's b (:func:`w2gm.objective.nll_offset`).
    """

    def __init__(
        self,
        tables: Mapping[str, MixtureTable],
        optimizers: Mapping[str, RowOptimizer],
        margin: float,
        sampler: PairSampler | None = None,
        negatives: int = 1,
        epsilon: float = VARIANCE_EPSILON,
        block: int = DEFAULT_BLOCK,
        warps: int | None = None,
        objective: str = "paper",
        offset: float = 0.0,
        occurrence_temperature: float = 1.0,
    ) -> None:
        self.input = _table_tensors(tables["input"], optimizers["input"])
        self.tables = tables
        #: One sense per occurrence (w2gm.occurrence): "off", "hard" or "soft"; the trainer
        #: turns it on at the split.  ``sense_sums`` [V, K] float64 collects the occurrences'
        #: weights, from which the trainer sets the words' mixture weights.
        self.occurrence_sense = "off"
        self.occurrence_temperature = occurrence_temperature
        self.sense_sums = torch.zeros(tables["input"].means.shape[:2], dtype=torch.float64,
                                      device=tables["input"].means.device)
        self.shared = "output" not in tables
        self.output = self.input if self.shared else _table_tensors(tables["output"], optimizers["output"])
        self.device = self.input[0].device
        self.adagrad_eps = float(optimizers["input"].eps)  # type: ignore[attr-defined]
        table = tables["input"]
        self.components, self.dim, self.columns = table.components, table.dim, table.log_variances.shape[-1]
        self.margin = margin
        self.sense = objective == "sense"
        self.nll = objective == "nll"
        self.offset = offset
        self.epsilon = epsilon
        self.sampler = sampler
        self.negatives = negatives
        if block < 1 or block & (block - 1):
            raise W2GMError(f"the triton kernel's block must be a power of two, got {block}")
        self.block = block
        self.warps = warps or DEFAULT_WARPS
        capped = self.block == 1 and self.columns == 1 and self.components <= 2 and self.dim <= 64
        self.launch_options = {"maxnreg": REGISTER_CAP} if capped else {}

    @classmethod
    def from_trainer(cls, trainer: TrainerParts, block: int = DEFAULT_BLOCK, warps: int | None = None) -> TritonUpdater:
        """The updater of a Trainer's tables, with its margin and negatives, and a sampler
        like the trainer's but with a generator of its own, seeded by each :meth:`train_span`."""
        config = trainer.config
        generator = torch.Generator(device=trainer.device)
        sampler = PairSampler(
            trainer.vocab, config.window, config.subsample, config.negative_power, generator, trainer.device
        )
        updater = cls(trainer.tables, trainer.optimizers, config.margin, sampler, config.negatives, block=block,
                      warps=warps, objective=config.objective, offset=nll_offset(config),
                      occurrence_temperature=config.occurrence_temperature)
        updater.sense_sums = trainer.sense_sums  # shared with the trainer
        return updater

    def update(self, centres: Tensor, contexts: Tensor, negatives: Tensor, lr_start: float, lr_end: float,
               word_log_weights: Tensor | None = None) -> float:
        """Train on ``centres[p], contexts[p]`` with negatives ``negatives[p]`` (``[n, N]``), all
        integer tensors on the tables' device, pairs in flight concurrently in this order; the
        rate falls linearly from ``lr_start`` to reach ``lr_end`` at the last pair.
        ``word_log_weights [n, K]``, when given, replace each pair's word's log weights (one
        sense per occurrence).  Returns the summed loss.  With one pair this is Trainer.step on it."""
        count = len(centres)
        if count == 0:
            return 0.0
        centres, contexts, negatives = (t.to(self.device).contiguous() for t in (centres, contexts, negatives))
        occurrence = word_log_weights is not None
        weights = (word_log_weights.to(self.device, torch.float32).contiguous() if occurrence
                   else torch.empty(0, device=self.device))
        programs = triton.cdiv(count, self.block)
        losses = torch.empty(programs, dtype=torch.float32, device=self.device)
        columns_padded = 1 if self.columns == 1 else triton.next_power_of_2(self.columns)
        _train_pairs[(programs,)](
            *self.input, *self.output, centres, contexts, negatives, count, losses, weights,
            lr_start, (lr_end - lr_start) / count, self.margin, self.offset, self.epsilon, self.adagrad_eps,
            K=self.components, D=self.dim, C=self.columns, NEGATIVES=negatives.shape[1], SHARED=self.shared,
            SENSE=self.sense, NLL=self.nll, OCCURRENCE=occurrence,
            BLOCK=self.block, KP=triton.next_power_of_2(self.components), DP=triton.next_power_of_2(self.dim),
            CP=columns_padded, num_warps=self.warps, **self.launch_options,
        )
        return float(losses.sum(dtype=torch.float64))

    def compile(self) -> None:
        """Compile the kernel now, before Trainer.fit starts its clock, rather than in the first
        span: one update of 16 and one of 17 pairs (Triton specialises the pair count on
        divisibility by 16) on scratch copies of the tables' first row, which are thrown away."""
        scratch = copy.copy(self)
        scratch.input = [t[:1].clone() for t in self.input]
        scratch.output = scratch.input if self.shared else [t[:1].clone() for t in self.output]
        for count in (16, 17):
            ids = torch.zeros(count, dtype=torch.int64, device=self.device)
            scratch.update(ids, ids, ids.new_zeros(count, self.negatives), 0.0, 0.0)

    def draw(self, ids: Tensor, seed: int) -> tuple[Tensor, Tensor, Tensor]:
        """The shuffled (centres, contexts, negatives) that :meth:`train_span` trains on."""
        if self.sampler is None:
            raise W2GMError("train_span needs a PairSampler: build the updater with TritonUpdater.from_trainer")
        self.sampler.generator.manual_seed(seed)
        centres, contexts = self.sampler.pairs(ids.to(self.device, torch.int64))
        return centres, contexts, self.sampler.negatives(len(centres), self.negatives)

    def train_span(self, ids: Tensor, lr_start: float, lr_end: float, seed: int) -> tuple[float, int]:
        """Subsample a span of corpus ids (a CUDA tensor, int32 or int64), draw its pairs and
        negatives on the GPU from ``seed`` and train on them in one shuffled order, the rate
        falling linearly from ``lr_start`` to ``lr_end`` at the last pair, as Trainer.fit's
        does over a span's batches.  Returns the summed loss and the pair count.

        With one sense per occurrence the span is trained in pieces of OCCURRENCE_PIECE
        tokens, each drawn and shuffled on its own, so that the occurrences' weights, taken at
        the parameters before their piece, are at most a piece old."""
        if self.occurrence_sense == "off":
            centres, contexts, negatives = self.draw(ids, seed)
            return self.update(centres, contexts, negatives, lr_start, lr_end), len(centres)
        loss, trained = 0.0, 0
        for start in range(0, len(ids), OCCURRENCE_PIECE):
            stop = min(len(ids), start + OCCURRENCE_PIECE)
            lr = [lr_start + (lr_end - lr_start) * at / len(ids) for at in (start, stop)]
            piece_loss, piece_pairs = self._train_occurrences(ids[start:stop], *lr, seed + start)
            loss, trained = loss + piece_loss, trained + piece_pairs
        return loss, trained

    def _train_occurrences(self, ids: Tensor, lr_start: float, lr_end: float, seed: int) -> tuple[float, int]:
        """One piece of a span under one sense per occurrence: each kept token's log weights
        from its window (:func:`w2gm.occurrence.training_log_weights`), then its pairs trained
        through them."""
        if self.sampler is None:
            raise W2GMError("train_span needs a PairSampler: build the updater with TritonUpdater.from_trainer")
        self.sampler.generator.manual_seed(seed)
        centres, contexts, places, kept = self.sampler.occurrence_pairs(ids.to(self.device, torch.int64))
        negatives = self.sampler.negatives(len(centres), self.negatives)
        words = self.tables["input"]
        context_table = self.tables.get("output", words)
        # occurrences a chunk: bounds the [chunk, 2 window, K, K, D] differences to 2^26 floats
        chunk = max(1, (1 << 26) // (2 * self.sampler.window * self.components**2 * self.dim))
        weights = torch.cat([
            training_log_weights(words, context_table, kept[start : start + chunk],
                                 self.sampler.windows(kept, torch.arange(start, min(start + chunk, len(kept)),
                                                                         device=self.device)),
                                 self.occurrence_sense, self.occurrence_temperature)
            for start in range(0, len(kept), chunk)
        ]) if len(kept) else torch.empty(0, self.components, device=self.device)
        pair_weights = weights[places]
        self.sense_sums.index_add_(0, centres, pair_weights.exp().to(self.sense_sums.dtype))
        return self.update(centres, contexts, negatives, lr_start, lr_end, pair_weights), len(centres)
