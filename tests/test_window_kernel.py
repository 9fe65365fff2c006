"""Windows whose pairs share their negatives (``--negative-sharing window``): the compiled
update against the reference step, the sampling inside the kernel, and the reference
engine's draws."""

import numpy as np
import pytest
import torch
from scipy.stats import chisquare
from test_hogwild import DIM, SAMPLING_COUNTS, fused, state, trainer

from w2gm import optim
from w2gm.config import TrainConfig
from w2gm.engines import kernel_sampling, negative_sharing, reference
from w2gm.engines.hogwild import CENTRES_PER_ROUND, HogwildUpdater
from w2gm.errors import W2GMError
from w2gm.objective import nll_offset
from w2gm.trainer import Trainer
from w2gm.vocab import Vocabulary

# Windows with rows used more than once: a context twice (3 in the first), a negative that
# is a context (3), the word its own context (0: with a shared table the same row), one
# negative drawn twice (6), and word 0 and context 3 again in a later window.
CENTRES = np.array([0, 3, 5, 0])
CONTEXTS = [[3, 4, 3, 0], [1, 2], [11, 6, 7], [3, 8, 9]]
NEGATIVES = np.array([[3, 9], [5, 1], [6, 6], [10, 2]])


@pytest.mark.parametrize(("components", "covariance", "separate_output", "objective"), [
    (2, "spherical", True, "nll"), (2, "spherical", False, "nll"), (2, "spherical", True, "paper"),
    (1, "diagonal", False, "paper"),
])
def test_windows_in_order_match_the_reference_step_with_one_window_a_batch(components, covariance,
                                                                           separate_output, objective):
    config = TrainConfig(components=components, dim=DIM, covariance=covariance, separate_output=separate_output,
                         seed=7, objective=objective)
    fast, slow = trainer(config, warm=True), trainer(config, warm=True)
    updater = HogwildUpdater(fast.tables, fast.optimizers, config.margin, threads=1, objective=objective,
                             offset=nll_offset(config))
    starts = np.cumsum([0] + [len(c) for c in CONTEXTS])
    lr_start, lr_end = 0.05, 0.02
    loss = updater.update_windows(CENTRES, starts, np.concatenate(CONTEXTS), NEGATIVES, lr_start, lr_end)
    expected = 0.0
    for o, contexts in enumerate(CONTEXTS):
        m = len(contexts)
        lr = lr_start + (lr_end - lr_start) * (o + 1) / len(CENTRES)
        expected += float(slow.step(torch.full((m,), int(CENTRES[o])), torch.tensor(contexts),
                                    torch.from_numpy(NEGATIVES[o]).repeat(m, 1), lr, mean_steps=True))
    assert loss == pytest.approx(expected, rel=1e-5)
    for key, value in state(slow).items():
        torch.testing.assert_close(state(fast)[key], value, rtol=1e-4, atol=1e-6, msg=key)


def test_mean_steps_grow_the_sums_by_the_square_over_the_uses():
    # a row used u times takes u steps of the mean gradient at once: G += u (g / u)^2
    params = {"x": torch.zeros(3, 2)}
    adagrad = optim.RowAdagrad(params, initial_accumulator=0.5)
    grad = torch.tensor([[2.0, -4.0], [3.0, 1.0]])
    adagrad.step("x", torch.tensor([0, 2]), grad.clone(), 0.1, torch.tensor([4, 1]))
    sums = torch.tensor([[0.5 + 1.0, 0.5 + 4.0], [0.5, 0.5], [0.5 + 9.0, 0.5 + 1.0]])
    torch.testing.assert_close(adagrad.sum_squares["x"], sums)
    torch.testing.assert_close(params["x"][[0, 2]], -0.1 * grad / (sums[[0, 2]].sqrt() + adagrad.eps))
    assert params["x"][1].eq(0).all()


def window_draws(updater: HogwildUpdater, tokens: np.ndarray, seed: int, block: int = 0):
    """The windows one block draws from ``tokens``, as the kernel does before its shuffle."""
    state_ = kernel_sampling.stream(seed, block)
    kept = np.empty(len(tokens), dtype=np.int64)
    kept_positions = np.empty(len(tokens), dtype=np.int64)
    count = kernel_sampling.subsample(tokens, 0, len(tokens), updater.keep_probability, state_, kept, kept_positions)
    centres, positions = np.empty(count, dtype=np.int64), np.empty(count, dtype=np.int64)
    starts = np.empty(count + 1, dtype=np.int64)
    contexts = np.empty(2 * updater.window * count, dtype=np.int64)
    negatives = np.empty((count, updater.negatives), dtype=np.int64)
    made = kernel_sampling.sample_windows(kept, kept_positions, count, 0, count, updater.window,
                                          updater.negative_keep, updater.negative_alias, state_, centres, starts,
                                          contexts, negatives, positions)
    return centres[:made], starts[:made + 1], contexts[:starts[made]], negatives[:made], positions[:made]


def test_kernel_windows_follow_the_dynamic_window():
    # every word distinct and nothing subsampled: ids are positions
    window, n = 6, 30_000
    updater = fused(np.ones(n, dtype=np.int64), window=window, sharing="window")
    centres, starts, contexts, negatives, positions = window_draws(updater, np.arange(n), seed=2)
    assert np.array_equal(centres, positions) and len(centres) == n
    reach = np.zeros(n, dtype=np.int64)
    for o in range(window, n - window):
        found = contexts[starts[o]:starts[o + 1]] - centres[o]
        reach[o] = found.max()
        assert np.array_equal(found, np.r_[np.arange(-reach[o], 0), np.arange(1, reach[o] + 1)])
    assert chisquare(np.bincount(reach[window:n - window], minlength=window + 1)[1:]).pvalue > 1e-4
    assert starts[-1] == pytest.approx(n * (window + 1), rel=0.02)
    assert negatives.shape == (n, 1)


def test_kernel_window_negatives_follow_unigram_to_the_three_quarters():
    updater = fused(SAMPLING_COUNTS, sharing="window")
    tokens = np.random.default_rng(0).integers(0, len(SAMPLING_COUNTS), 40_000)
    _, _, _, negatives, _ = window_draws(updater, tokens, seed=3)
    observed = np.bincount(negatives[:, 0], minlength=len(SAMPLING_COUNTS))
    expected = SAMPLING_COUNTS**0.75 / (SAMPLING_COUNTS**0.75).sum() * len(negatives)
    assert chisquare(observed, expected).pvalue > 1e-4


@pytest.mark.parametrize("threads", [1, 2])
def test_train_span_trains_the_windows_of_each_block(threads):
    updater = fused(SAMPLING_COUNTS, subsample=1e-3, threads=threads, sharing="window")
    tokens = np.random.default_rng(4).integers(0, len(SAMPLING_COUNTS), 1_601)
    loss, pairs = updater.train_span(tokens, 0.05, 0.01, seed=9)
    expected = 0
    blocks = updater.span_blocks
    for block in range(blocks):
        part = tokens[block * len(tokens) // blocks : (block + 1) * len(tokens) // blocks]
        centres, starts, _, _, _ = window_draws(updater, part, 9, block)
        assert len(centres) <= CENTRES_PER_ROUND  # one round: its draws all come before its shuffle
        expected += starts[-1]
    assert pairs == expected
    assert 0 < loss < np.inf


def test_a_permutation_puts_every_window_anywhere():
    order = np.full(10, -1)
    kernel_sampling.permutation(order, 8, kernel_sampling.stream(1, 0))
    assert sorted(order[:8]) == list(range(8)) and (order[8:] == -1).all()
    places = []
    for seed in range(2000):
        kernel_sampling.permutation(order, 8, kernel_sampling.stream(seed, 0))
        places.append(int(np.flatnonzero(order[:8] == 0)[0]))
    assert chisquare(np.bincount(places, minlength=8)).pvalue > 1e-4


def test_the_reference_engine_gives_a_centres_pairs_one_draw_of_negatives(monkeypatch):
    # every token a distinct word and nothing subsampled, so that a centre's id is its place
    n = 400
    vocab = Vocabulary([f"w{i}" for i in range(n)], np.full(n, 10))
    config = TrainConfig(components=2, dim=DIM, subsample=0.0, negatives=3, batch_size=64,
                         negative_sharing="window", backend="torch")
    t = Trainer(vocab, config, torch.device("cpu"))
    seen = []

    def record(parts, centres, contexts, negatives, lr, weights=None, mean_steps=False):
        seen.append((centres, negatives, mean_steps))
        return torch.zeros(())

    monkeypatch.setattr(reference, "reference_step", record)
    t.updater.train_span(torch.arange(n), 0.05, 0.01, seed=1)
    centres = torch.cat([c for c, _, _ in seen])
    negatives = torch.cat([n for _, n, _ in seen])
    assert all(steps for _, _, steps in seen) and len(centres) > 2 * n
    draws = {}
    for centre, drawn in zip(centres.tolist(), negatives.tolist(), strict=True):
        assert draws.setdefault(centre, drawn) == drawn
    assert len({tuple(d) for d in draws.values()}) > 0.9 * n  # one draw per centre, not one for all


@pytest.mark.parametrize(("backend", "objective", "chosen"), [
    ("numba", "nll", "window"), ("numba", "paper", "window"), ("numba", "sense", "pair"), ("torch", "nll", "pair"),
    ("triton", "nll", "pair"),
])
def test_auto_shares_negatives_on_the_numba_engine_only(backend, objective, chosen):
    assert negative_sharing(TrainConfig(objective=objective), backend) == chosen
    assert negative_sharing(TrainConfig(objective="nll", negative_sharing="pair"), backend) == "pair"


def test_what_cannot_share_negatives_says_so():
    with pytest.raises(W2GMError, match="sense objective"):
        TrainConfig(objective="sense", negative_sharing="window")
    from w2gm.config import check_engine
    with pytest.raises(W2GMError, match="Triton engine"):
        check_engine(TrainConfig(negative_sharing="window"), "triton")
    # models and checkpoints from before the option trained pairs
    assert TrainConfig.from_dict({"components": 2}).negative_sharing == "pair"
