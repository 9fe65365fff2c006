"""The training objective, the update and the schedule, and planted senses end to end."""

import math

import numpy as np
import pytest
import torch
from planted import AMBIGUOUS, PLANTED, write_two_sense_corpus

import w2gm
from w2gm.config import TrainConfig
from w2gm.mixture import MixtureTable
from w2gm.objective import max_margin_loss
from w2gm.trainer import Trainer, learning_rate
from w2gm.vocab import Vocabulary


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
def test_loss_gradients_match_finite_differences(covariance):
    torch.manual_seed(0)
    b, n, k, d = 3, 2, 2, 4
    columns = 1 if covariance == "spherical" else d

    def params(*batch):
        return (
            torch.randn(*batch, k, d, dtype=torch.float64, requires_grad=True),
            (torch.randn(*batch, k, columns, dtype=torch.float64) * 0.3 - 1).requires_grad_(),
            torch.randn(*batch, k, dtype=torch.float64, requires_grad=True),
        )

    word, context, negative = params(b), params(b), params(b, n)

    def loss(*flat):
        mix = [(flat[i], flat[i + 1], torch.log_softmax(flat[i + 2], -1)) for i in (0, 3, 6)]
        # a margin this large keeps every hinge active, so the loss is smooth at the test point
        return max_margin_loss(*mix, margin=50.0).sum()

    assert torch.autograd.gradcheck(loss, (*word, *context, *negative), eps=1e-6, atol=1e-5)


def test_hinge_is_zero_when_the_positive_wins_by_the_margin():
    k, d = 1, 3
    zero = torch.zeros(1, k, d)
    log_var = torch.full((1, k, 1), math.log(0.05))
    log_w = torch.zeros(1, k)
    far = torch.full((1, 1, k, d), 5.0)
    here = (zero, log_var, log_w)
    loss = max_margin_loss(here, here, (far, log_var[None], log_w[None]), 1.0)
    assert loss.item() == 0.0
    same = max_margin_loss(here, here, (zero[None], log_var[None], log_w[None]), 1.0)
    assert same.item() == pytest.approx(1.0)


@pytest.mark.parametrize("separate_output", [True, False])
def test_step_applies_adagrad_to_the_summed_gradient_of_repeated_rows(separate_output):
    vocab = Vocabulary([f"w{i}" for i in range(6)], np.arange(6, 0, -1) * 10)
    config = TrainConfig(components=2, dim=3, separate_output=separate_output, margin=5.0)
    trainer = Trainer(vocab, config, torch.device("cpu"))
    before = {
        name: {p: t.clone() for p, t in table.parameters().items()} for name, table in trainer.tables.items()
    }
    centres = torch.tensor([0, 0, 1, 2])  # word 0 twice: its gradients must add up
    contexts = torch.tensor([1, 3, 3, 0])
    negatives = torch.tensor([[4], [5], [4], [4]])

    # reference: the same loss on whole tables, dense autograd
    dense = {name: {p: t.clone().requires_grad_() for p, t in params.items()} for name, params in before.items()}
    out = dense["output"] if separate_output else dense["input"]

    def mix(table, ids):
        return table["means"][ids], table["log_variances"][ids], torch.log_softmax(table["logits"][ids], -1)

    negative = tuple(t.unflatten(0, (4, 1)) for t in mix(out, negatives.flatten()))
    loss = max_margin_loss(mix(dense["input"], centres), mix(out, contexts), negative, config.margin).sum()
    loss.backward()
    lr = 0.05
    trainer.step(centres, contexts, negatives, lr)
    for name, params in dense.items():
        for p, leaf in params.items():
            g = leaf.grad
            expected = before[name][p] - lr * g / ((0.1 + g.square()).sqrt() + 1e-10)  # first step: G = 0.1 + g^2
            torch.testing.assert_close(trainer.tables[name].parameters()[p], expected, rtol=1e-5, atol=1e-6)
    untouched = 5 if separate_output else None
    if untouched is not None:  # word 5 only appears as a negative: its input rows stay as they were
        torch.testing.assert_close(trainer.tables["input"].means[untouched], before["input"]["means"][untouched])


def test_learning_rate_decays_linearly_to_the_floor():
    config = TrainConfig(lr=0.05, lr_min=1e-5)
    assert learning_rate(config, 0.0) == 0.05
    assert learning_rate(config, 0.5) == pytest.approx((0.05 + 1e-5) / 2)
    assert learning_rate(config, 1.0) == 1e-5


def test_initialisation_follows_a2():
    table = MixtureTable.initialise(2000, 2, 50, "spherical", 0.05, torch.Generator().manual_seed(0))
    bound = math.sqrt(3 / 50)
    assert table.means.abs().max() <= bound
    assert float(table.means.square().sum(-1).mean()) == pytest.approx(1.0, rel=0.02)
    assert torch.allclose(table.variances(), torch.tensor(0.05))
    assert torch.allclose(table.weights(), torch.tensor(0.5))
    diagonal = MixtureTable.initialise(3, 2, 5, "diagonal", 0.05, torch.Generator())
    assert diagonal.log_variances.shape == (3, 2, 5)


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_training_ends_at_the_learning_rate_floor_and_counts_every_token(tmp_path, backend):
    corpus = write_two_sense_corpus(tmp_path / "c.txt", sentences=300)
    # spans of 500 tokens: the schedule crosses many spans and epochs
    model = w2gm.train(corpus, epochs=3, min_count=1, subsample=0, batch_size=64, lr_min=1e-4,
                       span_tokens=500, backend=backend, threads=1, dim=PLANTED["dim"])  # numba: the planted shape
    tokens = len(corpus.read_text().split())
    assert model.training["tokens"] == 3 * tokens
    assert model.training["final_lr"] == pytest.approx(1e-4)


@pytest.fixture(scope="module")
def planted_corpus(tmp_path_factory):
    return write_two_sense_corpus(tmp_path_factory.mktemp("planted") / "two_senses.txt")


@pytest.fixture(scope="module", params=["torch", "numba"])
def planted_mixture(planted_corpus, request):
    """Both engines must recover the planted senses: the reference and the compiled one."""
    model = w2gm.train(planted_corpus, components=2, backend=request.param, **PLANTED)
    assert model.training["backend"] == request.param
    return model


def sense_of(model, key, topn=5):
    """The topic most of a component's nearest neighbours belong to, and how many do."""
    topics = [name.split(":")[0].rstrip("0123456789") for name, _ in model.most_similar(key, topn=topn)]
    best = max(set(topics), key=topics.count)
    return best, topics.count(best)


def test_planted_senses_are_separated_by_two_components(planted_mixture):
    senses = [sense_of(planted_mixture, f"{AMBIGUOUS}:{k}") for k in range(2)]
    assert sorted(topic for topic, _ in senses) == ["money", "river"], senses
    assert all(agreeing >= 4 for _, agreeing in senses), senses


def test_a_single_gaussian_cannot_sit_near_both_senses(planted_corpus):
    """Paper 4.2: a unimodal embedding's neighbours are predominantly one meaning, where the
    mixture gives each meaning a component of its own (the test above).  A claim about the
    model, not the engine: the compiled one trains it."""
    single = w2gm.train(planted_corpus, components=1, backend="numba", **PLANTED)
    neighbours = [name.rstrip("0123456789") for name, _ in single.most_similar(AMBIGUOUS, topn=10)]
    per_sense = sorted(neighbours.count(sense) for sense in ("river", "money"))
    assert per_sense[0] <= 3, neighbours


def test_the_sense_objective_pushes_only_the_component_the_positive_chose():
    """Word components at +e0 and -e0; the context sits at +e0, the negative near -e0.  The
    paper's hinge pushes component 1 away from the negative (it explains it best); under
    the sense objective the positive chose component 0, so component 1 gets no gradient.
    With K = 1 both objectives are the same loss."""
    e0 = torch.tensor([1.0, 0.0, 0.0])
    log_var, log_w = torch.full((1, 2, 1), math.log(0.05)), torch.log(torch.full((1, 2), 0.5))
    gradients = {}
    for objective in ("paper", "sense"):
        means = torch.stack([e0, -e0]).unsqueeze(0).requires_grad_()
        context = (torch.stack([e0, e0]).unsqueeze(0), log_var, log_w)
        negative = (torch.stack([-0.8 * e0, -0.8 * e0])[None, None], log_var[None], log_w[None])
        max_margin_loss((means, log_var, log_w), context, negative, 50.0, objective).sum().backward()
        gradients[objective] = means.grad[0].norm(dim=-1)
    assert gradients["paper"][1] > 0.1
    assert gradients["sense"][1] < 1e-6 < gradients["sense"][0]
    single = [torch.randn(4, 1, 3), torch.randn(4, 1, 1) * 0.2, torch.zeros(4, 1)]
    negative = [torch.randn(4, 2, 1, 3), torch.randn(4, 2, 1, 1) * 0.2, torch.zeros(4, 2, 1)]
    torch.testing.assert_close(max_margin_loss(single, single, negative, 1.0, "sense"),
                               max_margin_loss(single, single, negative, 1.0, "paper"))
