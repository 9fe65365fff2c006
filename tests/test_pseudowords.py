"""The pseudoword benchmark's data handling and scores (benchmarks/pseudowords.py) on a
planted text where the truth is known."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import pseudowords as pw  # noqa: E402


def planted_lines(seed: int = 0) -> list[list[str]]:
    """Lines of filler words f0..f49 (Zipf-like), some holding "apple" or "stone"."""
    rng = np.random.default_rng(seed)
    fillers = [f"f{i}" for i in range(50)]
    weights = 1 / np.arange(1, 51)
    lines = []
    for n in range(400):
        line = list(rng.choice(fillers, size=12, p=weights / weights.sum()))
        if n % 3 == 0:
            line[5] = "apple"
        elif n % 3 == 1:
            line[2], line[9] = "stone", "stone"
        lines.append(line)
    return lines


def test_pairs_come_from_the_rank_range_within_the_frequency_ratio_and_share_no_word():
    lines = planted_lines()
    pairs = pw.choose_pairs(lines, 10, seed=3, ranks=(2, 40), ratio=3.0, min_heldout=1, every=33)
    counts = {}
    for line in lines:
        for w in line:
            counts[w] = counts.get(w, 0) + 1
    ranked = sorted(counts, key=counts.get, reverse=True)
    words = [w for p in pairs for w in (p.first, p.second)]
    assert len(pairs) == 10 and len(set(words)) == 20
    for p in pairs:
        assert 2 <= ranked.index(p.first) < 40 and 2 <= ranked.index(p.second) < 40
        assert max(counts[p.first], counts[p.second]) <= 3 * min(counts[p.first], counts[p.second])


def test_merging_hides_both_words_and_holds_out_every_33rd_line_with_its_truth():
    lines = planted_lines()
    pair = pw.Pair("apple", "stone")
    training, tests, trains = pw.merge(lines, [pair], every=33, window=8, context_window=2)
    held = [n for n in range(len(lines)) if pw.held_out(n, 33)]
    assert len(training) == len(lines) - len(held)
    assert not any(w in ("apple", "stone") for line in training for w in line)
    expected = [0 if w == "apple" else 1 for n in held for w in lines[n] if w in ("apple", "stone")]
    assert tests[0].truth == expected
    assert len(trains[0].truth) + len(expected) == sum(w in ("apple", "stone") for line in lines for w in line)
    # the scored occurrence is the first of the pseudoword in its window (disambiguate_many
    # reads the window around the first): "stone" twice in a line, 7 apart, so the second
    # occurrence's window has the first masked out, 7 places before it
    second = [w for w, truth in zip(tests[0].windows, expected, strict=True) if truth == 1][1::2]
    assert second and all(w[w.index(pair.token) - 7] == pw.OTHER for w in second)
    assert all(w.index(pair.token) <= 8 for w in tests[0].windows)


@pytest.mark.parametrize("mapping", ["train", "halves"])
def test_a_gain_is_measured_against_the_majority_word_and_separation_needs_half_of_what_is_possible(mapping):
    truth = np.array([0, 0, 1, 1, 1, 1, 1, 1] * 5)  # majority share 0.75 in each half: at most 0.25 to gain
    fit = (truth, truth) if mapping == "train" else ()
    perfect = pw.pair_score(truth.copy(), truth, *fit)
    assert perfect["gain"] == pytest.approx(0.25) and perfect["separated"] == 1.0
    constant = pw.pair_score(np.zeros_like(truth), truth, *((np.zeros_like(truth), truth) if fit else ()))
    assert constant["gain"] == pytest.approx(0.0) and constant["separated"] == 0.0
    # components swapped relative to the words: the mapping learns that
    swapped = pw.pair_score(1 - truth, truth, *((1 - truth, truth) if fit else ()))
    assert swapped["gain"] == pytest.approx(0.25)
    # one minority occurrence in three recognised: a third of what is possible, not separated
    labels = truth.copy()
    labels[np.flatnonzero(truth == 0)[: 2 * (truth == 0).sum() // 3]] = 1
    partial = pw.pair_score(labels, truth, *((labels, truth) if fit else ()))
    assert 0 < partial["gain"] < 0.125 and partial["separated"] == 0.0
