"""Sampler statistics against the distributions they should follow."""

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, chisquare

from w2gm.sampling import PairSampler
from w2gm.vocab import Vocabulary

COUNTS = np.array([50_000, 20_000, 5_000, 1_000, 200, 50, 10, 5])


def make_sampler(window=5, subsample=0.0, power=0.75, seed=0, counts=COUNTS):
    vocab = Vocabulary([f"w{i}" for i in range(len(counts))], counts)
    generator = torch.Generator().manual_seed(seed)
    return vocab, PairSampler(vocab, window, subsample, power, generator)


def test_kept_fraction_per_word_matches_sqrt_t_over_f():
    t = 1e-3
    vocab, sampler = make_sampler(subsample=t)
    corpus = torch.repeat_interleave(torch.arange(len(COUNTS)), torch.as_tensor(COUNTS))
    kept = torch.bincount(sampler.subsample(corpus), minlength=len(COUNTS)).numpy()
    expected = np.minimum(1.0, np.sqrt(t / (COUNTS / COUNTS.sum())))
    assert expected[0] < 0.1 and expected[-1] == 1.0
    for word, (k, n, p) in enumerate(zip(kept, COUNTS, expected, strict=True)):
        if p < 1:
            assert binomtest(int(k), int(n), p).pvalue > 1e-4, f"word {word}: kept {k}/{n}, expected p={p:.4f}"
        else:
            assert k == n


def test_negatives_follow_unigram_to_the_three_quarters():
    _, sampler = make_sampler()
    drawn = sampler.negatives(200_000, 3)
    assert drawn.shape == (200_000, 3)
    observed = torch.bincount(drawn.flatten(), minlength=len(COUNTS)).numpy()
    expected = COUNTS**0.75 / (COUNTS**0.75).sum() * drawn.numel()
    assert chisquare(observed, expected).pvalue > 1e-4
    # and clearly not the plain unigram distribution
    plain = COUNTS / COUNTS.sum() * drawn.numel()
    assert chisquare(observed, plain).pvalue < 1e-12


def test_window_sizes_are_uniform_from_one_to_window():
    _, sampler = make_sampler(window=10)
    sizes = sampler.window_sizes(100_000).numpy()
    assert sizes.min() == 1 and sizes.max() == 10
    observed = np.bincount(sizes, minlength=11)[1:]
    assert chisquare(observed).pvalue > 1e-4


def test_pair_offsets_follow_the_dynamic_window():
    """With b uniform in 1..W, offset o is used with probability (W - o + 1) / W per side."""
    window, n = 6, 50_000
    counts = np.ones(n, dtype=np.int64)
    _, sampler = make_sampler(window=window, counts=counts)
    centre, context = sampler.pairs(torch.arange(n))
    offsets = (context - centre).numpy()
    assert set(np.unique(offsets)) == set(range(-window, 0)) | set(range(1, window + 1))
    sides = [o for o in range(1, window + 1)] + [-o for o in range(1, window + 1)]
    observed = np.array([(offsets == o).sum() for o in sides])
    probability = np.array([(window - o + 1) / window for o in range(1, window + 1)] * 2)
    assert chisquare(observed, probability / probability.sum() * observed.sum()).pvalue > 1e-4
    assert len(offsets) == pytest.approx(n * 2 * (window + 1) / 2, rel=0.02)


def test_sampling_is_reproducible_with_a_seed():
    _, a = make_sampler(subsample=1e-3, seed=5)
    _, b = make_sampler(subsample=1e-3, seed=5)
    ids = torch.randint(0, len(COUNTS), (5_000,), generator=torch.Generator().manual_seed(0))
    for x, y in zip(a.pairs(ids), b.pairs(ids), strict=True):
        assert torch.equal(x, y)
    assert torch.equal(a.negatives(100, 2), b.negatives(100, 2))


@pytest.mark.parametrize("length", [0, 1, 2, 3, 40])
def test_pairs_in_order_are_the_plain_loop_over_offsets_sides_and_centres(length):
    """Unshuffled, the pairs come offset by offset, right contexts then left ones, centres
    in text order: what resumed runs and the engines' shuffles rely on."""
    _, sampler = make_sampler(window=4, seed=length)
    ids = (torch.arange(length) * 7) % len(COUNTS)  # every token kept: subsample 0
    centre, context = sampler.pairs(ids, shuffle=False)
    sampler.generator.manual_seed(length)
    sizes = sampler.window_sizes(sampler.subsample(ids).numel()).tolist()
    expected = [(ids[p], ids[p + side * o]) for o in range(1, 5) for side in (1, -1) for p in range(length)
                if sizes[p] >= o and 0 <= p + side * o < length]
    assert list(zip(centre.tolist(), context.tolist(), strict=True)) == [(int(a), int(b)) for a, b in expected]
