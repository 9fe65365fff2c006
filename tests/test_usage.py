"""Component usage: the counting pass against a per-token reference, the inactive flag, what
inactive components are left out of, and the model file's usage field."""

import json
import math

import numpy as np
import pytest
import torch
from test_evaluate_models import build_model, random_model
from test_modelfile import model_parts, write_parts

import w2gm
from w2gm import usage, usage_pass
from w2gm.cli import main
from w2gm.errors import ModelFileError
from w2gm.senses import context_posteriors


def reference_counts(model, ids: np.ndarray, window: int, positions) -> np.ndarray:
    """Each token's window cut from the text on its own, its posterior's argmax counted."""
    rows = np.full((len(positions), 2 * window), -1)
    for n, t in enumerate(positions):
        around = [ids[u] for u in range(t - window, t + window + 1) if u != t and 0 <= u < len(ids)]
        rows[n, : len(around)] = around
    winners = context_posteriors(model.input, model.context_table, ids[positions], rows).argmax(-1)
    counts = np.zeros((len(model.vocab), model.components_per_word), dtype=np.int64)
    np.add.at(counts, (ids[positions], winners.numpy()), 1)
    return counts


@pytest.mark.parametrize(("max_tokens", "engine", "covariance"), [
    (1000, "torch", "spherical"), (300, "torch", "spherical"), (1000, "numba", "spherical"),
    (300, "numba", "spherical"), (300, "numba", "diagonal"), (300, "torch", "diagonal"),
])
def test_counting_pass_matches_the_one_token_reference(max_tokens, engine, covariance):
    """Whole text, then a sample of blocks: chunk, piece and block edges must not change a
    window, and the compiled CPU loop must pick the winners the batched posteriors pick."""
    model = random_model([f"w{i}" for i in range(12)], k=3, d=4, covariance=covariance, seed=2)
    ids = np.random.default_rng(0).integers(0, 12, size=600)
    block, window = 128, 3
    starts = usage_pass.sample_positions(len(ids), max_tokens, block)
    positions = [t for s in starts for t in range(s, min(len(ids), s + block))]
    counts = usage_pass.count_winners(model.input, model.output, ids, window, max_tokens=max_tokens, chunk=50,
                                      block=block, engine=engine, threads=3)
    expected = reference_counts(model, ids, window, positions)
    assert counts.sum() == len(positions) == (len(ids) if max_tokens > len(ids) else len(starts) * block)
    np.testing.assert_array_equal(counts.numpy(), expected)



@pytest.mark.parametrize("engine", ["torch", "numba"])
def test_a_thinned_pass_scores_the_kept_tokens_as_the_whole_pass_does(engine):
    """With keep probabilities, each engine scores exactly the tokens :func:`kept` names,
    each with its whole window (so as the one-token reference does), and a word kept with
    probability p has about p of its tokens scored (a binomial count, 5 sd)."""
    model = random_model([f"w{i}" for i in range(12)], k=3, d=4, seed=2)
    ids = np.random.default_rng(0).integers(0, 12, size=3000)
    keep = np.linspace(0.1, 1.0, 12)
    counts = usage_pass.count_winners(model.input, model.output, ids, 3, max_tokens=1000, chunk=50, block=128,
                                      engine=engine, threads=3, keep=keep)
    starts = usage_pass.sample_positions(len(ids), 1000, 128)
    sampled = np.array([t for s in starts for t in range(s, min(len(ids), s + 128))])
    scored = sampled[usage_pass.kept(sampled.astype(np.float64), keep[ids[sampled]])]
    np.testing.assert_array_equal(counts.numpy(), reference_counts(model, ids, 3, scored))
    occurrences = np.bincount(ids[sampled], minlength=12)
    expected = keep * occurrences
    assert np.all(np.abs(counts.sum(-1).numpy() - expected) <= 5 * np.sqrt(expected * (1 - keep)) + 1)

def test_shares_sum_to_one_and_unseen_words_are_unknown():
    model = random_model([f"w{i}" for i in range(8)], k=2, d=3, seed=5)
    ids = np.random.default_rng(1).integers(0, 6, size=600)  # w6, w7 never occur
    shares = usage_pass.component_usage(model.input, model.output, ids, window=2)
    np.testing.assert_allclose(shares[:6].sum(-1).numpy(), 1.0, rtol=1e-6)
    assert torch.isnan(shares[6:]).all()
    found = usage.Usage.from_counts(usage_pass.count_winners(model.input, model.output, ids, 2))
    assert found.active[6:].all()  # unknown usage is not zero usage
    # 60 components sharing 980 tokens: every share is under 2%, the most used stay active
    spread = usage.Usage.from_counts(torch.tensor([[18] * 10 + [16] * 50]))
    assert spread.active[0].tolist() == [True] * 10 + [False] * 50


def dead_component_model():
    """``bank:1`` sits far from every context, so it never wins; ``bank:0`` and ``shore:0``
    sit with the contexts.  ``bank:1`` is the exact twin of ``vault:0``, so most_similar of
    ``vault`` ranks ``bank`` first through the dead component alone."""
    d = 4
    means = np.zeros((4, 2, d))
    means[0, 0] = [1.0, 0, 0, 0]   # bank:0, with the contexts
    means[0, 1] = [0, 0, 0, 9.0]   # bank:1, far away
    means[1] = [[1.0, 0.1, 0, 0], [1.0, 0, 0.1, 0]]   # shore
    means[2] = [[1.0, 0, 0, 0.1], [1.1, 0, 0, 0]]     # water
    means[3] = [[0, 0, 0, 9.0], [0, 0, 0.5, 9.0]]     # vault: near bank:1 only
    return build_model(["bank", "shore", "water", "vault"], means, config={"window": 2})


def test_a_dead_component_is_inactive_and_left_out():
    model = dead_component_model()
    ids = np.tile([1, 0, 2, 2, 0, 1], 30)  # bank only among shore and water
    model.usage = usage.Usage.from_counts(usage_pass.count_winners(model.input, model.input, ids, 2))
    assert model.usage.counts[0].tolist() == [60, 0]
    assert model.active()[0].tolist() == [True, False]
    assert model.active().any(-1).all()  # every word keeps the component that wins its tokens
    assert "bank:1" not in [key for key, _ in model.most_similar("vault:0", topn=7)]
    assert "bank:1" in [key for key, _ in model.most_similar("vault:0", topn=7, include_inactive=True)]
    # whole words by max cosine: vault meets bank only through bank:1
    assert model.most_similar("vault", topn=1, measure="max_cosine", include_inactive=True)[0][0] == "bank"
    assert model.most_similar("vault", topn=1, measure="max_cosine")[0][0] != "bank"
    assert model.similarity("bank", "vault", "max_cosine", include_inactive=True) == pytest.approx(1.0)
    assert model.similarity("bank", "vault", "max_cosine") < 0.1
    # the weighted measures renormalise over the active components: bank is bank:0 alone
    assert model.similarity("bank", "bank", "mean_cosine") == pytest.approx(1.0)
    assert model.all_components().similarity("bank", "vault", "max_cosine") == pytest.approx(1.0)
    # and so does the table of keys: bank's vector is bank:0's mean, bank:1 is no key
    np.testing.assert_allclose(model["bank"], model["bank:0"])
    assert "bank:0" in model and "bank:1" not in model and len(model) == 4 + int(model.active().sum())
    with pytest.raises(KeyError, match="inactive component"):
        model["bank:1"]
    assert "bank:1" in model.all_components() and len(model.all_components()) == 4 + 8
    # with include_inactive, bank's vector counts bank:1 too, which brings it next to vault
    assert model.most_similar("vault", topn=1, include_inactive=True)[0][0] == "bank"
    assert model.most_similar("vault", topn=1)[0][0] != "bank"


def test_usage_survives_the_model_file_and_old_files_load(tmp_path):
    model = dead_component_model()
    counts = torch.tensor([[60, 0], [60, 1], [40, 20], [0, 0]])
    model.usage = usage.Usage.from_counts(counts)
    path = tmp_path / "m.w2gm"
    model.save(path)
    loaded = w2gm.load(path)
    assert torch.equal(loaded.usage.counts, counts) and torch.equal(loaded.usage.active, model.usage.active)
    assert loaded.active().tolist() == [[True, False], [True, False], [True, True], [True, True]]
    # a version 1 file: no usage tensors, older version number; every component is active
    tensors, metadata = model_parts(path)
    del tensors["usage.counts"], tensors["usage.active"]
    old = write_parts(tmp_path / "old.w2gm", tensors, metadata | {"format_version": "1"})
    loaded = w2gm.load(old)
    assert loaded.usage is None and loaded.active().all() and loaded.usage_shares() is None
    assert loaded.most_similar("vault", topn=1, measure="max_cosine")[0][0] == "bank"


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("usage.counts", torch.zeros(4, 3, dtype=torch.int64), r"usage is \[4, 3\] and \[4, 2\], not \[4, 2\]"),
        ("usage.counts", torch.full((4, 2), -1), "usage.counts holds negative counts"),
        ("usage.counts", torch.zeros(4, 2), "usage.counts is torch.float32 of 2 dimension"),
        ("usage.active", None, "no tensor usage.active"),
        ("usage.active", torch.tensor([[True, True], [False, False], [True, True], [True, True]]),
         "usage.active leaves word 1 with no active component"),
    ],
)
def test_a_damaged_usage_field_is_the_loaders_one_line_error(tmp_path, capsys, name, value, message):
    model = dead_component_model()
    model.usage = usage.Usage.from_counts(torch.tensor([[60, 0], [60, 1], [40, 20], [0, 0]]))
    path = tmp_path / "m.w2gm"
    model.save(path)
    tensors, metadata = model_parts(path)
    if value is None:
        del tensors[name]
    else:
        tensors[name] = value
    write_parts(path, tensors, metadata)
    with pytest.raises(ModelFileError, match=message):
        w2gm.load(path)
    assert main(["senses", str(path), "bank"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"w2gm: error: {path}: corrupt model file") and err.count("\n") == 1


def test_senses_command_marks_and_hides_inactive_components(tmp_path, capsys):
    model = dead_component_model()
    model.usage = usage.Usage.from_counts(torch.tensor([[60, 0], [60, 1], [40, 20], [0, 0]]))
    path = tmp_path / "m.w2gm"
    model.save(path)
    assert main(["senses", str(path), "bank", "--json", "--topn", "2"]) == 0
    table = json.loads(capsys.readouterr().out)["tables"][0]
    assert [row["label"] for row in table["rows"]] == ["bank:0"]
    assert main(["senses", str(path), "bank", "--json", "--all-components", "--context", "water shore"]) == 0
    table = json.loads(capsys.readouterr().out)["tables"][0]
    rows = {row["label"]: row["values"] for row in table["rows"]}
    assert set(rows) == {"bank:0", "bank:1 (inactive)"}
    assert rows["bank:0"]["usage"] == 1.0 and rows["bank:1 (inactive)"]["active"] == "no"
    assert math.isclose(rows["bank:0"]["posterior"] + rows["bank:1 (inactive)"]["posterior"], 1.0, rel_tol=1e-6)
    assert "chosen: bank:0" in " ".join(table["notes"])
    assert main(["neighbors", str(path), "vault", "--topn", "7"]) == 0
    assert "bank:1" not in capsys.readouterr().out
    assert main(["neighbors", str(path), "vault", "--topn", "7", "--all-components"]) == 0
    assert "bank:1 (inactive)" in capsys.readouterr().out
