"""The nll objective (w2gm/objective.py): its gradients, the centring of its score at the
start, and the gradient the mixture weights get under it and not under the hinge.

The compiled engines' nll updates are checked against this reference pair by pair in
test_hogwild.py and test_triton_update.py.
"""

import math

import pytest
import torch

from w2gm.config import TrainConfig
from w2gm.energy import log_expected_likelihood
from w2gm.mixture import MixtureTable
from w2gm.objective import batch_loss, max_margin_loss, nll_loss, nll_offset
from w2gm.split import tie_components


def random_mixtures(*batch, k=2, d=4, columns=1):
    return (
        torch.randn(*batch, k, d, dtype=torch.float64, requires_grad=True),
        (torch.randn(*batch, k, columns, dtype=torch.float64) * 0.3 - 1).requires_grad_(),
        torch.randn(*batch, k, dtype=torch.float64, requires_grad=True),
    )


def scores(word, context, negative, offset):
    """s = log E + offset of each pair's context ``[B]`` and of its negatives ``[B, N]``."""
    with torch.no_grad():
        positive = log_expected_likelihood(*word, *context) + offset
        return positive, log_expected_likelihood(*(t.unsqueeze(1) for t in word), *negative) + offset


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
def test_nll_gradients_match_finite_differences(covariance):
    torch.manual_seed(0)
    b, n, d = 3, 2, 4
    columns = 1 if covariance == "spherical" else d
    flat = [t for batch in ((b,), (b,), (b, n)) for t in random_mixtures(*batch, d=d, columns=columns)]

    def mixtures(*flat):
        return [(flat[i], flat[i + 1], torch.log_softmax(flat[i + 2], -1)) for i in (0, 3, 6)]

    # an offset that puts the scores where the sigmoids bend, not where they are flat
    offset = -float(scores(*mixtures(*flat), 0.0)[0].mean())
    positive, negatives = scores(*mixtures(*flat), offset)
    assert (positive.abs() < 6).any() and (negatives.abs() < 6).any()
    # fast mode: the gradient against finite differences along random directions, in seconds
    assert torch.autograd.gradcheck(lambda *flat: nll_loss(*mixtures(*flat), offset).sum(), flat,
                                    eps=1e-6, atol=1e-5, fast_mode=True)


def test_nll_is_small_when_the_context_is_near_and_the_negative_far_and_large_the_other_way():
    config = TrainConfig(components=1, dim=3)
    here = torch.zeros(1, 1, 3)
    far = torch.full((1, 1, 1, 3), 3.0)
    log_var, log_w = torch.full((1, 1, 1), math.log(0.05)), torch.zeros(1, 1)
    word = (here, log_var, log_w)
    near, away = (here, log_var, log_w), (far[0], log_var, log_w)
    offset = nll_offset(config)
    good = nll_loss(word, near, tuple(t[None] for t in away), offset)
    bad = nll_loss(word, away, tuple(t[None] for t in near), offset)
    # coincident means: s = 1/S (about 10) above the centre; 27 apart: s far below it
    assert float(good) < 1e-3
    assert float(bad) > 10


@pytest.mark.parametrize(("components", "split_at"), [(1, 0.0), (2, 0.0), (2, 0.4), (4, 0.0)])
def test_nll_score_starts_centred_on_a2_tables(components, split_at):
    """s = log E + b has mean about 0 and sd about 1 over random pairs of freshly initialised
    words (D = 50), tied or not; b without its distance term would put it near -1/S = -8..-10."""
    config = TrainConfig(components=components, dim=50, split_at=split_at)
    generator = torch.Generator().manual_seed(0)
    tables = [MixtureTable.initialise(2000, components, 50, "spherical", config.initial_variance, generator,
                                      component_spread=config.component_spread) for _ in range(2)]
    if split_at:
        for table in tables:
            tie_components(table)
    f, g = tables
    scores = log_expected_likelihood(f.means, f.log_variances, f.log_weights(),
                                     g.means, g.log_variances, g.log_weights()) + nll_offset(config)
    assert abs(float(scores.mean())) < 0.3, float(scores.mean())
    assert 0.3 < float(scores.std()) < 2.5, float(scores.std())


def test_weights_get_a_gradient_under_nll_when_one_component_explains_both_energies():
    """Component 0 of the word sits by both the context and the negative, component 1 far
    away: the responsibilities put everything on component 0 in both energies, so the
    hinge's -d log E(w,c) + d log E(w,c') cancels on the logits, while under nll
    d loss / d s_0 = (sigma(s(w,c')) - sigma(-s(w,c))) (1 - p_0) (objective.py)."""
    e0, e1 = torch.eye(3)[0], torch.eye(3)[1]
    log_var = torch.full((1, 2, 1), math.log(0.05))
    config = TrainConfig(components=2, dim=3, objective="nll", margin=50.0)
    gradients = {}
    for objective in ("paper", "nll"):
        logits = torch.tensor([[0.3, -0.2]], requires_grad=True)
        word = (torch.stack([0 * e0, 10 * e1]).unsqueeze(0), log_var, torch.log_softmax(logits, -1))
        context = (torch.stack([0.1 * e0, 0.1 * e0]).unsqueeze(0), log_var, torch.log(torch.full((1, 2), 0.5)))
        negative = tuple(t.unsqueeze(1) for t in (torch.stack([-0.3 * e0, -0.3 * e0]).unsqueeze(0), *context[1:]))
        batch_loss(word, context, negative, TrainConfig(**{**config.to_dict(), "objective": objective})).backward()
        gradients[objective] = logits.grad[0]
    assert gradients["paper"].abs().max() < 1e-6  # the hinge is active (margin 50) yet the weights do not move
    positive, negatives = scores(word, context, negative, nll_offset(config))
    p0 = torch.softmax(logits.detach(), -1)[0, 0]
    expected = (torch.sigmoid(negatives[0, 0]) - torch.sigmoid(-positive[0])) * (1 - p0)
    assert abs(float(expected)) > 0.05
    torch.testing.assert_close(gradients["nll"], torch.stack([expected, -expected]), rtol=1e-4, atol=1e-7)


def test_paper_objective_ignores_the_nll_offset_and_nll_ignores_the_margin():
    torch.manual_seed(1)
    mixtures = [random_mixtures(*batch) for batch in ((4,), (4,), (4, 3))]
    mixtures = [(m, v, torch.log_softmax(s, -1)) for m, v, s in mixtures]
    paper = batch_loss(*mixtures, TrainConfig(margin=2.0))
    torch.testing.assert_close(paper, max_margin_loss(*mixtures, 2.0).sum())
    nll = [batch_loss(*mixtures, TrainConfig(objective="nll", margin=m)) for m in (0.5, 2.0)]
    torch.testing.assert_close(nll[0], nll[1])
    torch.testing.assert_close(nll[0], nll_loss(*mixtures, nll_offset(TrainConfig())).sum())
