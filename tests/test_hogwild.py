"""The compiled Hogwild update against the reference path (autograd + RowAdagrad).

The reference loss is gradchecked in test_train.py, so agreeing with the reference update
on every parameter and every Adagrad sum checks the hand-derived gradients as well.
"""

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, chisquare

from w2gm.config import TrainConfig
from w2gm.energy import log_expected_likelihood
from w2gm.engines import hogwild, kernel_sampling
from w2gm.engines.hogwild import HogwildUpdater
from w2gm.errors import W2GMError
from w2gm.mixture import PARAMETER_NAMES
from w2gm.objective import max_margin_loss, nll_offset
from w2gm.trainer import Trainer
from w2gm.vocab import Vocabulary

#: Every test but the parametrised one trains K = 2 spherical components of this many
#: dimensions, so that numba compiles the kernels for few shapes (seconds each).
DIM = 6

VOCAB = Vocabulary([f"w{i}" for i in range(12)], np.arange(12, 0, -1) * 10)

# Rows that repeat within a pair (the negative is the context, the word is its own context
# or negative: with a shared table these are the same row) and across pairs (word 0 and
# context 3 come back, so later pairs see Adagrad sums that earlier pairs left).
CENTRES = np.array([0, 1, 2, 0, 5, 6, 0])
CONTEXTS = np.array([3, 4, 2, 3, 7, 3, 8])
NEGATIVES = np.array([[3, 9], [5, 1], [6, 10], [11, 4], [2, 2], [8, 11], [0, 9]])
#: A word whose means sit far from every other word's: as a negative its hinge is inactive.
FAR = 11


def trainer(config: TrainConfig, warm: bool = False) -> Trainer:
    """A trainer whose variances and weights differ between words and components (so a
    gradient sent to the wrong one shows), with word FAR moved away from the others.

    ``warm`` gives every Adagrad sum a different positive value, as a trainer part way
    through a run has.  From zero sums the first step is lr * g / |g|, which turns a
    gradient that ought to be zero but is 1e-9 in float32 (the word of a pair whose only
    active negative is its context) into a full step of either sign; warm sums keep such
    steps negligibly small.
    """
    t = Trainer(VOCAB, config, torch.device("cpu"))
    generator = torch.Generator().manual_seed(11)
    for table in t.tables.values():
        table.log_variances.uniform_(-2.5, -1.0, generator=generator)
        table.logits.normal_(generator=generator)
        table.means[FAR] = 4.0
    if warm:
        for optimizer in t.optimizers.values():
            for sums in optimizer.sum_squares.values():
                sums.uniform_(0.5, 1.5, generator=generator)
    return t


def state(t: Trainer) -> dict[str, torch.Tensor]:
    values = {}
    for name, table in t.tables.items():
        for p in PARAMETER_NAMES:
            values[f"{name}.{p}"] = table.parameters()[p]
            values[f"{name}.sum_squares.{p}"] = t.optimizers[name].sum_squares[p]
    return values


def hinges(t: Trainer, p: int) -> torch.Tensor:
    """The reference hinges of pair p at the trainer's current parameters."""
    output = t.tables.get("output", t.tables["input"])

    def mixture(table, ids):
        return table.means[ids], table.log_variances[ids], torch.log_softmax(table.logits[ids], -1)

    negative = tuple(x.unsqueeze(0) for x in mixture(output, torch.from_numpy(NEGATIVES[p])))
    word = mixture(t.tables["input"], torch.tensor([CENTRES[p]]))
    context = mixture(output, torch.tensor([CONTEXTS[p]]))
    return max_margin_loss(word, context, negative, t.config.margin)[0]


# Each (K, covariance) is a shape numba compiles for, some 15 s on a CI machine: four of the
# six cover K = 1, 2, 3 and both covariances, each covariance with one K and another.
@pytest.mark.parametrize(("components", "covariance"),
                         [(1, "diagonal"), (2, "spherical"), (2, "diagonal"), (3, "spherical")])
@pytest.mark.parametrize(("separate_output", "objective"),
                         [(True, "paper"), (False, "paper"), (True, "sense"), (True, "nll"), (False, "nll")])
def test_pairs_in_order_match_the_reference_step_with_batches_of_one(covariance, components, separate_output,
                                                                      objective):
    config = TrainConfig(components=components, dim=DIM, covariance=covariance, separate_output=separate_output,
                         seed=7, objective=objective)
    fast, reference = trainer(config, warm=True), trainer(config, warm=True)
    lr_start, lr_end = 0.05, 0.02
    updater = HogwildUpdater(fast.tables, fast.optimizers, config.margin, threads=1, objective=objective,
                             offset=nll_offset(config))

    first_loss = updater.update(CENTRES[:1], CONTEXTS[:1], NEGATIVES[:1], lr_start, lr_start)
    expected_first = reference.step(
        torch.tensor(CENTRES[:1]), torch.tensor(CONTEXTS[:1]), torch.tensor(NEGATIVES[:1]), lr_start
    )
    assert first_loss == pytest.approx(float(expected_first), rel=1e-5)
    for key, value in state(reference).items():
        torch.testing.assert_close(state(fast)[key], value, rtol=1e-5, atol=1e-6, msg=f"one pair: {key}")

    fast_loss = updater.update(CENTRES[1:], CONTEXTS[1:], NEGATIVES[1:], lr_start, lr_end)
    reference_loss = 0.0
    seen = []
    count = len(CENTRES) - 1
    for p in range(1, len(CENTRES)):
        seen.append(hinges(reference, p))
        lr = lr_start + (lr_end - lr_start) * p / count  # reaches lr_end at the last pair
        sl = slice(p, p + 1)
        reference_loss += float(reference.step(
            torch.tensor(CENTRES[sl]), torch.tensor(CONTEXTS[sl]), torch.tensor(NEGATIVES[sl]), lr
        ))
    seen = torch.cat(seen)
    assert (seen > 0).any() and (seen == 0).any(), "the pairs should exercise active and inactive hinges"
    assert fast_loss == pytest.approx(reference_loss, rel=1e-5)
    for key, value in state(reference).items():
        torch.testing.assert_close(state(fast)[key], value, rtol=1e-4, atol=1e-6, msg=f"pairs: {key}")


def test_threads_take_contiguous_blocks_on_one_learning_rate_schedule():
    # two halves on disjoint rows: Hogwild threads cannot interfere, so two threads must give
    # exactly what one thread gives, whichever order they run in
    config = TrainConfig(components=2, dim=DIM, seed=3)
    rng = np.random.default_rng(0)
    halves = [rng.integers(low, low + 6, size=(40, 3)) for low in (0, 6)]
    pairs = np.concatenate(halves)
    results = []
    for threads in (1, 2):
        t = trainer(config)
        loss = HogwildUpdater(t.tables, t.optimizers, config.margin, threads).update(
            pairs[:, 0], pairs[:, 1], pairs[:, 2:], 0.05, 0.01
        )
        results.append((loss, state(t)))
    (loss_one, one), (loss_two, two) = results
    assert loss_two == pytest.approx(loss_one, rel=1e-12)
    for key in one:
        torch.testing.assert_close(two[key], one[key], rtol=0, atol=0)


def test_two_hogwild_threads_learn_which_context_belongs_to_each_word():
    # words 0-5 each have one true context (the word + 6) and random wrong ones among 6-11:
    # two threads sharing the tables must learn to rank every true context above the rest
    config = TrainConfig(components=2, dim=DIM, seed=5)
    t = trainer(config)
    rng = np.random.default_rng(1)
    centres = rng.integers(0, 6, size=2000)
    contexts = centres + 6
    negatives = (6 + (centres + rng.integers(1, 6, size=2000)) % 6)[:, None]
    updater = HogwildUpdater(t.tables, t.optimizers, config.margin, threads=2)
    losses = [updater.update(centres, contexts, negatives, 0.05, 0.05) / len(centres) for _ in range(3)]
    assert losses[0] > 0.5
    assert losses[-1] < 0.01 * losses[0]


def test_only_adagrad_is_implemented():
    t = trainer(TrainConfig(components=2, dim=DIM, optimizer="adam"))
    with pytest.raises(W2GMError, match="Adagrad"):
        HogwildUpdater(t.tables, t.optimizers, 1.0)


def test_no_pairs_changes_nothing():
    t = trainer(TrainConfig(components=2, dim=DIM))
    before = {k: v.clone() for k, v in state(t).items()}
    empty = np.zeros(0, dtype=np.int64)
    assert HogwildUpdater(t.tables, t.optimizers, 1.0).update(empty, empty, empty.reshape(0, 1), 0.05, 0.01) == 0.0
    for key, value in state(t).items():
        assert torch.equal(value, before[key])


# ------------------------------------------------------------------ sampling inside the kernel

SAMPLING_COUNTS = np.array([50_000, 20_000, 5_000, 1_000, 200, 50, 10, 5])


def fused_trainer(counts: np.ndarray, window: int = 5, subsample: float = 0.0, threads: int = 1,
                  sharing: str = "pair"):
    vocab = Vocabulary([f"w{i}" for i in range(len(counts))], counts)
    config = TrainConfig(components=2, dim=DIM, window=window, subsample=subsample, threads=threads,
                         negative_sharing=sharing)
    t = Trainer(vocab, config, torch.device("cpu"))
    return t, HogwildUpdater.from_trainer(t)


def fused(counts: np.ndarray, window: int = 5, subsample: float = 0.0, threads: int = 1,
          sharing: str = "pair") -> HogwildUpdater:
    return fused_trainer(counts, window, subsample, threads, sharing)[1]


def kernel_pairs(updater: HogwildUpdater, tokens: np.ndarray, seed: int, block: int = 0):
    """The kept tokens and the (pairs, centre positions) one block draws from ``tokens``."""
    state = kernel_sampling.stream(seed, block)
    kept = np.empty(len(tokens), dtype=np.int64)
    kept_positions = np.empty(len(tokens), dtype=np.int64)
    count = kernel_sampling.subsample(tokens, 0, len(tokens), updater.keep_probability, state, kept, kept_positions)
    pairs = np.empty((2 * updater.window * count, updater.negatives + 2), dtype=np.int64)
    positions = np.empty(len(pairs), dtype=np.int64)
    made = kernel_sampling.sample_pairs(kept, kept_positions, count, 0, count, updater.window, updater.negative_keep,
                                 updater.negative_alias, state, pairs, positions)
    return kept[:count], pairs[:made], positions[:made]


def test_kernel_keeps_each_word_with_its_subsampling_probability():
    t = 1e-3
    updater = fused(SAMPLING_COUNTS, subsample=t)
    tokens = np.repeat(np.arange(len(SAMPLING_COUNTS)), SAMPLING_COUNTS)
    kept, _, _ = kernel_pairs(updater, tokens, seed=1)
    expected = np.minimum(1.0, np.sqrt(t / (SAMPLING_COUNTS / SAMPLING_COUNTS.sum())))
    observed = np.bincount(kept, minlength=len(SAMPLING_COUNTS))
    for word, (k, n, p) in enumerate(zip(observed, SAMPLING_COUNTS, expected, strict=True)):
        if p < 1:
            assert binomtest(int(k), int(n), p).pvalue > 1e-4, f"word {word}: kept {k}/{n}, expected {p:.4f}"
        else:
            assert k == n


def test_kernel_pairs_follow_the_dynamic_window():
    # every word distinct and nothing subsampled: a pair's ids are its positions
    window, n = 6, 30_000
    updater = fused(np.ones(n, dtype=np.int64), window=window)
    _, pairs, positions = kernel_pairs(updater, np.arange(n), seed=2)
    assert np.array_equal(pairs[:, 0], positions)
    offsets = pairs[:, 1] - pairs[:, 0]
    assert set(np.unique(offsets)) == set(range(-window, 0)) | set(range(1, window + 1))
    # each centre takes every offset up to its own window size b, on both sides
    interior = (positions >= window) & (positions < n - window)
    per_centre = np.bincount(positions[interior])[window:]
    reach = np.zeros(n, dtype=np.int64)
    np.maximum.at(reach, positions, np.abs(offsets))
    assert np.array_equal(per_centre, 2 * reach[window : window + len(per_centre)])
    sizes = np.bincount(reach[window : n - window], minlength=window + 1)[1:]
    assert chisquare(sizes).pvalue > 1e-4  # b uniform on 1..window
    assert len(pairs) == pytest.approx(n * (window + 1), rel=0.02)


def test_kernel_negatives_follow_unigram_to_the_three_quarters():
    updater = fused(SAMPLING_COUNTS)
    tokens = np.random.default_rng(0).integers(0, len(SAMPLING_COUNTS), 40_000)
    _, pairs, _ = kernel_pairs(updater, tokens, seed=3)
    observed = np.bincount(pairs[:, 2], minlength=len(SAMPLING_COUNTS))
    expected = SAMPLING_COUNTS**0.75 / (SAMPLING_COUNTS**0.75).sum() * len(pairs)
    assert chisquare(observed, expected).pvalue > 1e-4
    plain = SAMPLING_COUNTS / SAMPLING_COUNTS.sum() * len(pairs)
    assert chisquare(observed, plain).pvalue < 1e-12


@pytest.mark.parametrize("threads", [1, 2])
def test_train_span_trains_on_the_pairs_of_each_block(threads):
    updater = fused(SAMPLING_COUNTS, subsample=1e-3, threads=threads)
    tokens = np.random.default_rng(4).integers(0, len(SAMPLING_COUNTS), 1_601)
    loss, pairs = updater.train_span(tokens, 0.05, 0.01, seed=9)
    expected = 0
    blocks = updater.span_blocks
    for block in range(blocks):
        part = tokens[block * len(tokens) // blocks : (block + 1) * len(tokens) // blocks]
        kept, drawn, _ = kernel_pairs(updater, part, 9, block)
        assert len(kept) <= hogwild.CENTRES_PER_ROUND  # one round: its draws all come before its shuffle
        expected += len(drawn)
    assert pairs == expected
    assert 0 < loss < np.inf


def test_a_round_of_pairs_is_shuffled_with_each_centre_kept_with_its_row():
    pairs = np.arange(3000).reshape(1000, 3)
    positions = pairs[:, 0] // 3
    original = pairs.copy()
    kernel_sampling.shuffle(pairs, positions, 900, kernel_sampling.stream(1, 0))
    assert np.array_equal(pairs[900:], original[900:])  # rows past the count stay put
    assert not np.array_equal(pairs[:900], original[:900])
    assert sorted(map(tuple, pairs[:900])) == sorted(map(tuple, original[:900]))
    assert np.array_equal(positions, pairs[:, 0] // 3)
    # every row can land anywhere: over many shuffles, row 0's place is uniform
    places = []
    for seed in range(2000):
        rows = np.arange(8).reshape(8, 1)
        kernel_sampling.shuffle(rows, np.zeros(8, dtype=np.int64), 8, kernel_sampling.stream(seed, 0))
        places.append(int(np.flatnonzero(rows[:, 0] == 0)[0]))
    assert chisquare(np.bincount(places, minlength=8)).pvalue > 1e-4


@pytest.mark.parametrize("sharing", ["pair", "window"])
def test_train_span_learns_which_words_share_a_topic(sharing):
    # text in runs of 20 words of one of two topics (words 0-9 or 10-19): every word's
    # contexts share its topic, so after a pass its energy with its own topic's contexts
    # should beat that with the other topic's by about the margin
    rng = np.random.default_rng(5)
    topics = rng.integers(0, 2, 2_000)
    tokens = (np.repeat(topics * 10, 20) + rng.integers(0, 10, 40_000)).astype(np.int64)
    t, updater = fused_trainer(np.full(20, 2_000), sharing=sharing)
    updater.train_span(tokens, 0.05, 0.05, seed=1)
    word, context = t.tables["input"], t.tables["output"]
    energy = log_expected_likelihood(  # [word, context]
        word.means[:, None], word.log_variances[:, None], word.log_weights()[:, None],
        context.means[None], context.log_variances[None], context.log_weights()[None],
    )
    same = torch.from_numpy(np.equal.outer(np.arange(20) // 10, np.arange(20) // 10))
    gap = (energy * same).sum(1) / same.sum(1) - (energy * ~same).sum(1) / (~same).sum(1)
    assert (gap > 0.5 * updater.margin).all(), gap
