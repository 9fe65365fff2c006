"""Tied components train as one Gaussian, then split apart (w2gm/split.py)."""

import numpy as np
import pytest
import torch
from planted import AMBIGUOUS, PLANTED, write_two_sense_corpus

import w2gm
from w2gm.config import make_config
from w2gm.energy import log_expected_likelihood
from w2gm.mixture import MixtureTable
from w2gm.split import split_components, tie_components
from w2gm.trainer import Trainer
from w2gm.vocab import Vocabulary


def random_table(vocab: int, k: int, dim: int, seed: int) -> MixtureTable:
    generator = torch.Generator().manual_seed(seed)
    table = MixtureTable.initialise(vocab, k, dim, "diagonal", 0.3, generator)
    table.log_variances.add_(torch.rand(table.log_variances.shape, generator=generator) - 0.5)
    table.logits.add_(torch.randn(table.logits.shape, generator=generator))
    return table


def mixture(table: MixtureTable, ids):
    ids = torch.as_tensor(ids)
    return table.means[ids], table.log_variances[ids], table.log_weights()[ids]


def test_tied_components_have_the_energy_of_one_gaussian():
    """Eq. (2) with K identical components is the K = 1 energy, whatever their weights."""
    tied = random_table(6, 3, 5, seed=0)
    tie_components(tied)
    first = MixtureTable(*(t[:, :1].clone() for t in (tied.means, tied.log_variances, tied.logits)))
    words, contexts = [0, 1, 2], [3, 4, 5]
    k3 = log_expected_likelihood(*mixture(tied, words), *mixture(tied, contexts))
    k1 = log_expected_likelihood(*mixture(first, words), *mixture(first, contexts))
    torch.testing.assert_close(k3, k1)
    assert not torch.equal(tied.means[0], tied.means[1])  # words keep their own means


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_tied_components_stay_identical_until_the_split_and_then_separate(tmp_path, backend):
    corpus = write_two_sense_corpus(tmp_path / "c.txt", sentences=1500)
    # split_at 0.999 never splits within this run: only the tied training is seen
    tied = w2gm.train(corpus, components=2, split_at=0.999, backend=backend, **{**PLANTED, "epochs": 1})
    means = tied.input.means
    assert torch.equal(means[:, 0], means[:, 1])
    assert torch.equal(tied.input.logits[:, 0], tied.input.logits[:, 1])
    split = w2gm.train(corpus, components=2, split_at=0.5, backend=backend, **{**PLANTED, "epochs": 2})
    gap = (split.input.means[:, 0] - split.input.means[:, 1]).norm(dim=-1)
    assert (gap > 0).all()


def test_split_noise_has_the_asked_spread_and_spares_rare_words():
    table = MixtureTable(torch.zeros(400, 2, 50), torch.zeros(400, 2, 1), torch.zeros(400, 2))
    eligible = np.arange(400) < 300
    split_components(table, 0.05, seed=4, eligible=eligible)
    moved = table.means[:300]
    assert abs(float(moved.std()) - 0.05) < 0.002  # 30,000 draws: sd of the sd ~ 0.0002
    assert abs(float(moved.mean())) < 0.002
    assert torch.equal(table.means[300:], torch.zeros(100, 2, 50))


def test_split_happens_once_at_its_share_of_the_run():
    vocab = Vocabulary([f"w{i}" for i in range(10)], np.arange(10, 0, -1))
    trainer = Trainer(vocab, make_config(components=2, dim=4, split_at=0.5, split_min_count=5), torch.device("cpu"))
    trainer._split_after = 50
    before = trainer.tables["input"].means.clone()
    trainer.after_span(49, 100)
    assert torch.equal(trainer.tables["input"].means, before)
    trainer.after_span(50, 100)
    after = trainer.tables["input"].means.clone()
    changed = (after != before).flatten(1).any(1)
    assert changed.tolist() == [True] * 6 + [False] * 4  # counts 10..5 split, 4..1 stay tied
    trainer.after_span(60, 100)
    assert torch.equal(trainer.tables["input"].means, after)


def test_drifted_copies_are_retied_to_their_mean_until_the_split():
    """Lock-free engines let tied copies drift; between spans of the tied phase the trainer
    sets both copies (parameters and Adagrad sums) to their mean, and after the split it
    leaves them apart."""
    vocab = Vocabulary([f"w{i}" for i in range(10)], np.arange(10, 0, -1))
    trainer = Trainer(vocab, make_config(components=2, dim=4, split_at=0.5), torch.device("cpu"))
    trainer._split_after = 50
    table, sums = trainer.tables["input"], trainer.optimizers["input"].state_dict()["sum_squares.means"]
    expected = table.means.mean(dim=1, keepdim=True) + torch.tensor([0.5, 0.0, 0.0, 0.0])
    table.means[:, 0, 0] += 1.0  # a drift of copy 0 alone
    sums[:, 1] += 2.0
    trainer.after_span(40, 100)
    torch.testing.assert_close(table.means, expected.expand_as(table.means))
    torch.testing.assert_close(sums, torch.full_like(sums, 1.1))  # 0.1 initial, +2 on one copy
    trainer.after_span(50, 100)  # the split
    split = table.means.clone()
    assert not torch.equal(split[:, 0], split[:, 1])
    trainer.after_span(60, 100)
    assert torch.equal(table.means, split)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sense_mode_separates_the_planted_senses_on_every_seed(tmp_path_factory, seed):
    """Sense-assigned negatives after a split (the README's sense mode) gave each planted
    sense a component on 6 of 6 seeds, the paper's objective on 3 of 6 (README)."""
    corpus = tmp_path_factory.getbasetemp() / "planted_split.txt"
    if not corpus.exists():
        write_two_sense_corpus(corpus)
    model = w2gm.train(corpus, components=2, split_at=0.4, **{**PLANTED, "seed": seed, "objective": "sense"})
    senses = []
    for k in range(2):
        topics = [n.split(":")[0].rstrip("0123456789") for n, _ in model.most_similar(f"{AMBIGUOUS}:{k}", topn=5)]
        senses.append(max(set(topics), key=topics.count))
    assert sorted(senses) == ["money", "river"], senses
