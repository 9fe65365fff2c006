"""The fused Triton update against the reference path (autograd + RowAdagrad), on a CUDA
device when there is one, else in Triton's interpreter on the CPU.

As in test_hogwild.py, agreeing with the reference update on every parameter and every
Adagrad sum checks the hand-derived gradients (the reference loss is gradchecked in
test_train.py).
"""

import importlib.util
import itertools
import os

import numpy as np
import pytest
import torch
from scipy.stats import binomtest, chisquare

if importlib.util.find_spec("triton") is None:
    pytest.skip("triton is not installed", allow_module_level=True)
DEVICE = torch.device("cuda" if torch.cuda.is_available() else "cpu")
if DEVICE.type == "cpu" and os.environ.get("TRITON_INTERPRET") != "1":  # conftest.py sets it without a GPU
    pytest.skip("no GPU, and TRITON_INTERPRET=1 is not set", allow_module_level=True)

from test_hogwild import CENTRES, CONTEXTS, NEGATIVES, state, trainer  # noqa: E402

from w2gm.config import TrainConfig  # noqa: E402
from w2gm.engines.triton_update import TritonUpdater  # noqa: E402
from w2gm.errors import W2GMError  # noqa: E402
from w2gm.objective import nll_offset  # noqa: E402
from w2gm.occurrence import training_log_weights  # noqa: E402
from w2gm.sampling import PairSampler  # noqa: E402
from w2gm.trainer import Trainer  # noqa: E402
from w2gm.vocab import Vocabulary  # noqa: E402


def on_device(reference: Trainer) -> Trainer:
    """A trainer on DEVICE holding a copy of ``reference``'s parameters and Adagrad sums."""
    fast = Trainer(reference.vocab, reference.config, DEVICE)
    for key, value in state(reference).items():
        state(fast)[key].copy_(value)
    return fast


def assert_same_state(fast: Trainer, reference: Trainer, what: str) -> None:
    for key, value in state(reference).items():
        torch.testing.assert_close(state(fast)[key].cpu(), value, rtol=1e-4, atol=1e-6, msg=f"{what}: {key}")


def pairs_tensors(sl: slice) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.tensor(CENTRES[sl]), torch.tensor(CONTEXTS[sl]), torch.tensor(NEGATIVES[sl])


@pytest.mark.parametrize("covariance", ["spherical", "diagonal"])
@pytest.mark.parametrize("components", [2, 3])  # 3: padded to 4 in the kernel
@pytest.mark.parametrize(("separate_output", "objective"), [(True, "paper"), (False, "paper"), (True, "sense")])
def test_one_pair_at_a_time_matches_the_reference_step(covariance, components, separate_output, objective):
    # the pairs repeat rows within a pair (negative = context, word = its own context or
    # negative) and across pairs, and have active and inactive hinges (test_hogwild.py)
    assert_pairs_match_the_reference(TrainConfig(components=components, dim=6, covariance=covariance,
                                                 separate_output=separate_output, seed=7, objective=objective))


#: The nll cases: on a GPU every combination of the test above; in the interpreter (about 4 s
#: a case) two that still cover separate and shared tables, padded components, both covariances.
NLL_CASES = (list(itertools.product((True, False), (2, 3), ("spherical", "diagonal"))) if DEVICE.type == "cuda"
             else [(True, 2, "spherical"), (False, 3, "diagonal")])


@pytest.mark.parametrize(("separate_output", "components", "covariance"), NLL_CASES)
def test_nll_one_pair_at_a_time_matches_the_reference_step(separate_output, components, covariance):
    # a slot's coefficient is -sigmoid(-s) or sigmoid(s) of its own energy, summed over the
    # slots holding its row
    assert_pairs_match_the_reference(TrainConfig(components=components, dim=6, covariance=covariance,
                                                 separate_output=separate_output, seed=7, objective="nll"))


#: On a GPU exp, log and reciprocals are the hardware's approximations (relative error about
#: 2^-22, triton_energy.py): on log energies of magnitude ~10 they leave ~1e-6 in a loss that
#: can be near 0.  The interpreter computes them exactly.
LOSS_ABS = 1e-5 if DEVICE.type == "cuda" else 1e-12


def assert_pairs_match_the_reference(config: TrainConfig) -> None:
    reference = trainer(config, warm=True)
    fast = on_device(reference)
    updater = TritonUpdater(fast.tables, fast.optimizers, config.margin, objective=config.objective,
                            offset=nll_offset(config))
    for p in range(len(CENTRES)):
        lr = 0.05 - 0.005 * p
        centres, contexts, negatives = pairs_tensors(slice(p, p + 1))
        fast_loss = updater.update(centres.to(DEVICE), contexts.to(DEVICE), negatives.to(DEVICE), lr, lr)
        reference_loss = float(reference.step(centres, contexts, negatives, lr))
        assert fast_loss == pytest.approx(reference_loss, rel=1e-5, abs=LOSS_ABS)
        assert_same_state(fast, reference, f"pair {p}")


@pytest.mark.parametrize(("mode", "objective", "separate_output", "components"),
                         [("hard", "nll", True, 2), ("soft", "paper", False, 3)])
def test_pairs_through_their_occurrences_weights_match_the_reference_step(mode, objective, separate_output,
                                                                         components):
    # one sense per occurrence: each pair's word takes given log weights (0 and -inf when
    # hard; 3 components are padded to 4 in the kernel), and its logits get no gradient
    config = TrainConfig(components=components, dim=6, separate_output=separate_output, seed=7, objective=objective)
    reference = trainer(config, warm=True)
    fast = on_device(reference)
    updater = TritonUpdater(fast.tables, fast.optimizers, config.margin, objective=objective,
                            offset=nll_offset(config))
    output = reference.tables.get("output", reference.tables["input"])
    windows = torch.from_numpy(np.stack([CONTEXTS, NEGATIVES[:, 0]], 1))
    for p in range(len(CENTRES)):
        lr = 0.05 - 0.005 * p
        centres, contexts, negatives = pairs_tensors(slice(p, p + 1))
        weights = training_log_weights(reference.tables["input"], output, centres, windows[p : p + 1], mode)
        fast_loss = updater.update(centres.to(DEVICE), contexts.to(DEVICE), negatives.to(DEVICE), lr, lr,
                                   weights.to(DEVICE))
        reference_loss = float(reference.step(centres, contexts, negatives, lr, weights))
        assert fast_loss == pytest.approx(reference_loss, rel=1e-5, abs=LOSS_ABS)
        assert_same_state(fast, reference, f"pair {p}")


def test_train_span_under_one_sense_per_occurrence_counts_every_pairs_weights():
    config = TrainConfig(components=2, dim=5, negatives=1, seed=3, window=2, subsample=0.0)
    vocab = Vocabulary([f"w{i}" for i in range(12)], np.arange(12, 0, -1) * 10)
    t = Trainer(vocab, config, DEVICE)
    updater = TritonUpdater.from_trainer(t)
    updater.occurrence_sense = "hard"
    ids = torch.from_numpy(np.random.default_rng(0).integers(0, 12, 60)).to(DEVICE)
    loss, pairs = updater.train_span(ids, 0.05, 0.01, seed=5)
    assert 0 < loss < np.inf and pairs > 0
    # hard weights are one-hot: every trained pair adds exactly 1 to its word's sums
    assert float(t.sense_sums.sum()) == pytest.approx(pairs)
    assert set(torch.unique(t.sense_sums.sum(-1)).tolist()) <= set(range(pairs + 1))


@pytest.mark.parametrize("separate_output", [True, False])
def test_a_launch_trains_its_pairs_on_one_falling_learning_rate(separate_output):
    # three pairs on nine distinct rows, so their order cannot matter; blocks of two
    # pairs leave the second program's block half empty
    config = TrainConfig(components=2, dim=5, separate_output=separate_output, negatives=1, seed=3)
    reference = trainer(config, warm=True)
    fast = on_device(reference)
    rows = torch.randperm(12, generator=torch.Generator().manual_seed(0))[:9].reshape(3, 3)
    lr_start, lr_end = 0.08, 0.02
    loss = TritonUpdater(fast.tables, fast.optimizers, config.margin, block=2).update(
        rows[:, 0].to(DEVICE), rows[:, 1].to(DEVICE), rows[:, 2:].to(DEVICE), lr_start, lr_end
    )
    expected = 0.0
    for p in range(3):
        lr = lr_start + (lr_end - lr_start) * (p + 1) / 3  # reaches lr_end at the last pair
        expected += float(reference.step(rows[p, :1], rows[p, 1:2], rows[p, None, 2:], lr))
    assert expected > 0
    assert loss == pytest.approx(expected, rel=1e-5)
    assert_same_state(fast, reference, "launch")


def test_train_span_trains_on_the_pair_samplers_draws():
    # the kernel's arithmetic is checked above; here, that a span's pairs are PairSampler's
    # draws from the seed, on the span's device, handed to update with the span's rates
    vocab = Vocabulary([f"w{i}" for i in range(20)], np.arange(20, 0, -1) * 100)
    config = TrainConfig(components=2, dim=4, window=3, subsample=1e-2, negatives=2, seed=4)
    updater = TritonUpdater.from_trainer(Trainer(vocab, config, DEVICE))
    calls = []
    updater.update = lambda *args: calls.append(args) or 1.5  # type: ignore[method-assign]
    ids = torch.randint(0, 20, (60,), generator=torch.Generator().manual_seed(1)).to(DEVICE, torch.int32)
    assert updater.train_span(ids, 0.05, 0.01, seed=9) == (1.5, len(calls[0][0]))
    generator = torch.Generator(device=DEVICE).manual_seed(9)
    sampler = PairSampler(vocab, config.window, config.subsample, config.negative_power, generator, DEVICE)
    centres, contexts = sampler.pairs(ids.long())
    negatives = sampler.negatives(len(centres), config.negatives)
    (trained_centres, trained_contexts, trained_negatives, lr_start, lr_end), = calls
    assert len(centres) > 0 and (lr_start, lr_end) == (0.05, 0.01)
    for trained, drawn in ((trained_centres, centres), (trained_contexts, contexts), (trained_negatives, negatives)):
        assert torch.equal(trained, drawn)


def test_draws_on_the_device_follow_their_distributions():
    # subsampling keeps word w with probability min(1, sqrt(t / f_w)); a kept centre pairs
    # with every word within its window size b ~ U{1..window}, 2 E[b] = window + 1 of them;
    # negatives follow unigram^0.75
    counts = np.array([50_000, 20_000, 5_000, 1_000, 200, 50, 10, 5])
    vocab = Vocabulary([f"w{i}" for i in range(len(counts))], counts)
    t, window = 1e-3, 4
    updater = TritonUpdater.from_trainer(Trainer(vocab, TrainConfig(dim=2, window=window, subsample=t), DEVICE))
    tokens = torch.repeat_interleave(torch.arange(len(counts)), torch.as_tensor(counts))
    tokens = tokens[torch.randperm(len(tokens), generator=torch.Generator().manual_seed(2))].to(DEVICE)
    centres, contexts, negatives = (x.cpu().numpy() for x in updater.draw(tokens, seed=5))
    keep = np.minimum(1.0, np.sqrt(t / (counts / counts.sum())))
    kept = len(tokens) * counts / counts.sum() @ keep
    assert len(centres) == pytest.approx(kept * (window + 1), rel=0.02)
    # a centre's pairs number 2 b whatever its word, so its word's share of the centres is kept_w / kept
    observed = np.bincount(centres, minlength=len(counts)) / (window + 1)
    for word in range(len(counts)):
        if keep[word] < 1:
            assert binomtest(round(observed[word]), int(counts[word]), keep[word]).pvalue > 1e-4, word
    expected = counts**0.75 / (counts**0.75).sum() * len(negatives)
    assert chisquare(np.bincount(negatives[:, 0], minlength=len(counts)), expected).pvalue > 1e-4
    assert not np.array_equal(centres[:100], np.sort(centres[:100]))  # shuffled, not in text order


def test_only_adagrad_on_float32_device_tables():
    t = trainer(TrainConfig(components=2, dim=4, optimizer="adam"))
    with pytest.raises(W2GMError, match="Adagrad"):
        TritonUpdater(t.tables, t.optimizers, 1.0)
    if DEVICE.type == "cuda":
        t = trainer(TrainConfig(components=2, dim=4))
        with pytest.raises(W2GMError, match="CUDA"):
            TritonUpdater(t.tables, t.optimizers, 1.0)


def test_no_pairs_changes_nothing():
    t = on_device(trainer(TrainConfig(components=2, dim=4)))
    before = {k: v.clone() for k, v in state(t).items()}
    empty = torch.zeros(0, dtype=torch.int64, device=DEVICE)
    assert TritonUpdater(t.tables, t.optimizers, 1.0).update(empty, empty, empty.reshape(0, 1), 0.05, 0.01) == 0.0
    for key, value in state(t).items():
        assert torch.equal(value, before[key])


def test_compiling_ahead_leaves_the_tables_as_they_were():
    t = on_device(trainer(TrainConfig(components=2, dim=4, separate_output=True)))
    before = {k: v.clone() for k, v in state(t).items()}
    TritonUpdater.from_trainer(t).compile()
    for key, value in state(t).items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize("warps", [1, 4])
def test_pairs_in_flight_on_one_row_all_count(warps):
    # Copies of one pair in one launch: on a GPU hundreds are in flight together (the
    # interpreter runs them one after another, so there only the arithmetic is checked, on
    # fewer copies).  Writing new values instead of adding increments kept only the last of
    # the writers in flight; several warps holding one tile element each applied its step.
    config = TrainConfig(components=3, dim=8, negatives=2, objective="nll", seed=5)
    copies = 2048 if DEVICE.type == "cuda" else 32
    reference = trainer(config, warm=True)

    def launch(count: int, lr: float) -> dict[str, torch.Tensor]:
        t = on_device(reference)
        TritonUpdater(t.tables, t.optimizers, config.margin, objective="nll", offset=nll_offset(config),
                      warps=warps).update(*(x.repeat(count, *[1] * (x.dim() - 1)).to(DEVICE)
                                            for x in pairs_tensors(slice(1, 2))), lr, lr)
        return {key: value.cpu() - state(reference)[key] for key, value in state(t).items()}

    # At rate 0 every copy has the same gradient g, so each Adagrad sum grows by copies * g^2.
    squared, grown = launch(1, 0.0), launch(copies, 0.0)
    # At a small rate each parameter moves by between the sequential steps' sum_p lr g /
    # sqrt(G + p g^2) (each copy sees the sums the earlier ones left) and copies times the
    # first step (each sees the sums before the launch); g drifts a little as they move.
    lr = 1e-5
    step, moved = launch(1, lr), launch(copies, lr)
    for name in reference.tables:
        for p in ("means", "log_variances", "logits"):
            sums = f"{name}.sum_squares.{p}"
            g2 = squared[sums]
            assert (g2 > 0).any(), sums
            torch.testing.assert_close(grown[sums], copies * g2, rtol=1e-3, atol=1e-7, msg=sums)
            start, first = state(reference)[f"{name}.{p}"], step[f"{name}.{p}"]
            clear = (g2 > 1e-10) & (first.abs() > 1e-5 * start.abs())  # steps well above float32 rounding
            assert clear.any() or p != "means", name  # the log variances' steps may all be below it
            sequential = sum(lr * g2.sqrt() / (state(reference)[sums] + k * g2).sqrt() for k in range(1, copies + 1))
            displacement, first, sequential = moved[f"{name}.{p}"][clear], first[clear], sequential[clear]
            assert torch.all(torch.sign(displacement) == torch.sign(first)), (name, p)
            assert torch.all(displacement.abs() >= 0.8 * sequential), (name, p, displacement, sequential)
            assert torch.all(displacement.abs() <= 1.25 * copies * first.abs()), (name, p)
