"""Word-sense induction scoring (w2gm/evaluate/wsi.py) and component coherence
(w2gm/evaluate/coherence.py)."""

from itertools import combinations
from pathlib import Path

import numpy as np
import pytest
import torch
from test_evaluate_models import build_model
from test_evaluate_scws import two_sense_model

from w2gm.errors import W2GMError
from w2gm.evaluate.coherence import component_report, junk_components
from w2gm.evaluate.wsi import (
    SenseTask,
    assign_components,
    evaluate_wsi,
    mapped_accuracy,
    paired_f_score,
    read_semeval2010,
    v_measure,
)
from w2gm.usage import Usage

SEMEVAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "wsd" / "semeval2010"


@pytest.mark.parametrize("seed", range(5))
def test_v_measure_agrees_with_scikit_learn(seed):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    clusters, classes = rng.integers(0, 3, 40), rng.integers(0, 4, 40)
    assert v_measure(clusters, classes) == pytest.approx(metrics.v_measure_score(classes, clusters))
    assert v_measure(classes, classes) == pytest.approx(1.0)


@pytest.mark.parametrize("seed", range(5))
def test_paired_f_score_counts_pairs(seed):
    rng = np.random.default_rng(seed)
    clusters, classes = rng.integers(0, 3, 25), rng.integers(0, 3, 25)
    joined = {(a, b) for a, b in combinations(range(25), 2) if clusters[a] == clusters[b]}
    gold = {(a, b) for a, b in combinations(range(25), 2) if classes[a] == classes[b]}
    precision, recall = len(joined & gold) / len(joined), len(joined & gold) / len(gold)
    assert paired_f_score(clusters, classes) == pytest.approx(2 * precision * recall / (precision + recall))


def test_mapping_learns_on_training_contexts_and_scores_the_rest():
    classes = np.array(["a"] * 6 + ["b"] * 4)
    clusters = np.array([0] * 6 + [1] * 4)
    train = np.array([True, True, True, True, False, False, True, True, False, False])
    accuracy, mfs = mapped_accuracy(clusters, classes, train)
    assert accuracy == 1.0 and mfs == 0.5  # held out: a, a, b, b; MFS of the training part is a
    one_cluster, _ = mapped_accuracy(np.zeros(10, dtype=int), classes, train)
    assert one_cluster == mfs  # a single component reproduces the most frequent sense


def test_contexts_choose_the_component_of_their_sense():
    model = two_sense_model()  # bank: 0 river, 1 money; water, shore: river; cash, finance: money
    task = SenseTask("bank.n", "bank")
    for sense, words in [("river", ["water", "shore"]), ("money", ["cash", "finance"])] * 30:
        task.left.append([words[0], "unknown"])
        task.right.append([words[1]])
        task.gold.append(sense)
    chosen = assign_components(model, task, window=2)
    assert (chosen == np.where(np.array(task.gold) == "river", 0, 1)).all()
    result = evaluate_wsi(model, [task, SenseTask("absent.n", "absent", [[]], [[]], ["x"])], window=2, min_test=5)
    assert (result.words, result.known) == (2, 1)
    assert result.v_measure == pytest.approx(1.0) and result.paired_f == pytest.approx(1.0)
    assert result.supervised == 1.0 and result.mfs < 0.75


def test_semeval_reader_names_the_bad_line(tmp_path):
    (tmp_path / "dataset.txt").write_text("bank.n 2\nthe\triver\n")
    (tmp_path / "key.txt").write_text("bank.n bank.n.1 bank.n.s1\nbank.n bank.n.2 bank.n.s2\n")
    with pytest.raises(W2GMError, match="line 3: expected a context"):
        read_semeval2010(tmp_path)
    (tmp_path / "dataset.txt").write_text("bank.n two\n")
    with pytest.raises(W2GMError, match="line 1"):
        read_semeval2010(tmp_path)


def test_the_real_semeval_files_have_their_published_size():
    if not SEMEVAL.is_dir():
        pytest.skip("needs the project's shared data folder (../shared/data/wsd/semeval2010)")
    tasks = read_semeval2010(SEMEVAL)
    assert len(tasks) == 100 and sum(len(t.gold) for t in tasks) == 8915
    assert sum(t.name.endswith(".n") for t in tasks) == 50


def test_a_component_in_an_empty_region_is_junk_and_a_sense_is_not():
    """Four tight topics among 300 words pointing anywhere: a component inside a topic has
    neighbours that agree with one another, one pointing elsewhere has neighbours that don't."""
    rng = np.random.default_rng(0)
    dim = 16
    centres = np.eye(dim)[:4] * 3.0
    words, means = [], []
    for c, centre in enumerate(centres):
        for i in range(30):
            point = centre + 0.1 * rng.standard_normal(dim)
            words.append(f"t{c}w{i}")
            means.append([point, point])
    for i in range(300):
        point = rng.standard_normal(dim)
        words.append(f"r{i}")
        means.append([point, point])
    words += ["bank", "odd"]  # bank: topics 0 and 1 (two senses); odd: topic 2 and nowhere
    means += [[centres[0], centres[1]], [centres[2], 3.0 * rng.standard_normal(dim)]]
    model = build_model(words, np.array(means))
    report = component_report(model, ranks=(420, 422), neighbours=5)
    assert report.words == 2 and report.junk_share == pytest.approx(0.5)  # odd, not bank
    assert report.active_junk_share == pytest.approx(0.5) and report.several_active == 1.0  # no usage: all active
    counts = torch.full((len(words), 2), 50)
    counts[-1, 1] = 0  # odd's empty-region component never wins: inactive
    model.usage = Usage.from_counts(counts)
    marked = component_report(model, ranks=(420, 422), neighbours=5)
    assert marked.junk_share == pytest.approx(0.5)  # counted over every component
    assert marked.active_junk_share == 0.0 and marked.several_active == pytest.approx(0.5)
    junk = junk_components(np.array([[0.9, 0.8], [0.9, 0.3], [0.2, 0.2]]))
    assert junk.tolist() == [[False, False], [False, True], [False, False]]
    assert junk_components(np.ones((3, 1))).sum() == 0  # K = 1 has no junk by definition
