"""One sense per occurrence: the window posterior (w2gm.occurrence) and training through it,
the compiled engine against the reference."""

import math

import numpy as np
import pytest
import torch
from planted import AMBIGUOUS, PLANTED, assert_components_follow_the_senses, write_two_sense_corpus
from test_hogwild import CENTRES, CONTEXTS, DIM, NEGATIVES, VOCAB, state, trainer

import w2gm
from w2gm.config import PRESETS, TrainConfig
from w2gm.energy import log_expected_likelihood
from w2gm.engines.hogwild import HogwildUpdater
from w2gm.engines.occurrence_kernel import occurrence_log_weights
from w2gm.objective import nll_offset
from w2gm.occurrence import combine, training_log_weights
from w2gm.trainer import Trainer


def test_the_product_rule_is_bayes_rule_over_independent_context_words():
    # ten context words, each of whose own posterior is 0.6 for component 0 under a flat prior
    lean = torch.log(torch.tensor([0.6, 0.4]))
    energies = lean.expand(1, 10, 2)
    known = torch.ones(1, 10, dtype=torch.bool)
    flat = torch.log(torch.tensor([[0.5, 0.5]]))
    product = combine(flat, energies, known, "product")
    assert float(product[0, 0]) == pytest.approx(0.6**10 / (0.6**10 + 0.4**10), rel=1e-5)
    assert float(combine(flat, energies, known, "average")[0, 0]) == pytest.approx(0.6, rel=1e-5)
    # tempered by 10, ten words count as one
    assert float(combine(flat, energies, known, "product", temperature=10.0)[0, 0]) == pytest.approx(0.6, rel=1e-5)
    # the prior counts once, however many words; unknown slots count for nothing
    skewed = torch.log(torch.tensor([[0.2, 0.8]]))
    half = known.clone()
    half[0, 5:] = False
    expected = 0.2 * 0.6**5 / (0.2 * 0.6**5 + 0.8 * 0.4**5)
    assert float(combine(skewed, energies, half, "product")[0, 0]) == pytest.approx(expected, rel=1e-5)
    # a word kept by subsampling half the time counts half
    halved = combine(flat, energies, known, "product", context_weights=torch.full((1, 10), 0.5))
    torch.testing.assert_close(halved, combine(flat, energies, known, "product", temperature=2.0))
    nothing = torch.zeros(1, 10, dtype=torch.bool)
    torch.testing.assert_close(combine(skewed, energies, nothing, "product"), skewed.exp())


def test_the_window_posterior_uses_each_components_own_energy_with_every_context_word():
    t = trainer(TrainConfig(components=2, dim=DIM, seed=3))
    words, contexts = t.tables["input"], t.tables["output"]
    word_ids = torch.tensor([0, 1, 2])
    context_ids = torch.tensor([[3, 4, -1], [5, -1, -1], [6, 7, 8]])
    soft = training_log_weights(words, contexts, word_ids, context_ids, "soft", temperature=2.0).exp()
    for n, word in enumerate(word_ids.tolist()):
        # log E(N_wi, g_c) as Eq. (2) with the word reduced to component i
        scores = torch.log_softmax(words.logits[word], -1).clone()
        for c in context_ids[n][context_ids[n] >= 0].tolist():
            for i in range(2):
                scores[i] += 0.5 * log_expected_likelihood(
                    words.means[word, i : i + 1], words.log_variances[word, i : i + 1], torch.zeros(1),
                    contexts.means[c], contexts.log_variances[c], contexts.log_weights()[c])
        torch.testing.assert_close(soft[n], torch.softmax(scores, -1))
    hard = training_log_weights(words, contexts, word_ids, context_ids, "hard", temperature=2.0).exp()
    assert torch.equal(hard.argmax(-1), soft.argmax(-1)) and set(hard.flatten().tolist()) == {0.0, 1.0}


@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_the_compiled_window_posterior_is_the_reference_one(mode):
    t = trainer(TrainConfig(components=2, dim=DIM, seed=4))
    updater = HogwildUpdater(t.tables, t.optimizers, 1.0, threads=1)
    rng = np.random.default_rng(0)
    kept = rng.integers(0, len(VOCAB), 40).astype(np.int64)
    kept_positions = np.sort(rng.choice(100, 40, replace=False)).astype(np.int64)
    window, base = 3, 5
    out = np.full((100, 2), np.nan, dtype=np.float32)
    occurrence_log_weights(updater.shape, updater.input, updater.output, kept, kept_positions, 40, 2, 38, window,
                           mode == "hard", 1 / 1.5, 1e-4, base, out)
    places = torch.arange(2, 38)
    steps = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)])
    around = places[:, None] + steps
    windows = torch.where((around >= 0) & (around < 40), torch.from_numpy(kept)[around.clamp(0, 39)], -1)
    expected = training_log_weights(t.tables["input"], t.tables["output"], torch.from_numpy(kept[2:38]), windows,
                                    mode, temperature=1.5)
    compiled = torch.from_numpy(out[kept_positions[2:38] - base])
    torch.testing.assert_close(compiled.exp(), expected.exp(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("objective", ["nll", "paper"])
@pytest.mark.parametrize("mode", ["hard", "soft"])
def test_pairs_through_their_occurrences_weights_match_the_reference_step(objective, mode):
    config = TrainConfig(components=2, dim=DIM, seed=7, objective=objective)
    fast, reference = trainer(config, warm=True), trainer(config, warm=True)
    weights = training_log_weights(reference.tables["input"], reference.tables["output"], torch.from_numpy(CENTRES),
                                   torch.from_numpy(np.stack([CONTEXTS, NEGATIVES[:, 0]], 1)), mode)
    updater = HogwildUpdater(fast.tables, fast.optimizers, config.margin, threads=1, objective=objective,
                             offset=nll_offset(config))
    count = len(CENTRES)
    lr_start, lr_end = 0.05, 0.02
    fast_loss = updater.update(CENTRES, CONTEXTS, NEGATIVES, lr_start, lr_end, weights.numpy())
    reference_loss = 0.0
    for p in range(count):
        lr = lr_start + (lr_end - lr_start) * (p + 1) / count
        sl = slice(p, p + 1)
        reference_loss += float(reference.step(torch.tensor(CENTRES[sl]), torch.tensor(CONTEXTS[sl]),
                                               torch.tensor(NEGATIVES[sl]), lr, weights[sl]))
    assert fast_loss == pytest.approx(reference_loss, rel=1e-5)
    for key, value in state(reference).items():
        torch.testing.assert_close(state(fast)[key], value, rtol=1e-4, atol=1e-6, msg=key)
    # the words' logits (the input table's) have no gradient from their pairs; the sums count
    # each pair's weights
    assert torch.equal(fast.tables["input"].logits, trainer(config, warm=True).tables["input"].logits)
    expected_sums = np.zeros_like(updater.sense_sums)
    np.add.at(expected_sums, CENTRES, weights.exp().numpy())
    np.testing.assert_allclose(updater.sense_sums, expected_sums, rtol=1e-6)


def test_mixture_weights_follow_the_shares_of_the_occurrences():
    t = Trainer(VOCAB, TrainConfig(components=2, dim=DIM, occurrence_sense="hard"), torch.device("cpu"))
    before = t.tables["input"].logits.clone()
    t.sense_sums[3] = torch.tensor([30.0, 10.0])
    t.set_usage_weights()
    assert torch.allclose(t.tables["input"].weights()[3], torch.tensor([31 / 42, 11 / 42]))
    unseen = torch.arange(len(VOCAB)) != 3
    assert torch.equal(t.tables["input"].logits[unseen], before[unseen])
    assert math.isclose(float(t.tables["input"].weights()[3].sum()), 1.0, rel_tol=1e-6)


@pytest.mark.parametrize("seed", [1, 2])  # 6 of 6 seeds measured
def test_one_sense_per_occurrence_separates_the_planted_senses_and_keeps_one_for_the_other_words(
        tmp_path_factory, seed):
    """Hard occurrences at the defaults' objective and split: the ambiguous word's two senses
    take a component each, and the words of one topic (one meaning each) end with one
    active component: their occurrences all take the component whose weight is larger, so
    the other falls out of use.  Measured on seeds 1-6: separated on 6 of 6, words with two
    active components 5-16 % (26 % allowed here), against 92-100 % with --occurrence-sense off."""
    corpus = tmp_path_factory.getbasetemp() / "planted_half.txt"
    if not corpus.exists():
        write_two_sense_corpus(corpus, sentences=6000)
    defaults = {**PLANTED, **{key: PRESETS["small"][key] for key in ("objective", "negatives", "split_at")}}
    model = w2gm.train(corpus, components=2, occurrence_sense="hard", **{**defaults, "seed": seed})
    assert_components_follow_the_senses(model)
    ambiguous = model.vocab.id(AMBIGUOUS)
    assert model.active()[ambiguous].all() and float(model.usage_shares()[ambiguous].min()) > 0.3
    others = torch.arange(len(model.vocab)) != ambiguous
    assert float((model.active()[others].sum(-1) >= 2).float().mean()) < 0.26
