"""Word-sense induction on real sentences: SemEval-2010 Task 14 (Manandhar et al., 2010).

Each test context of a target word is given to the model, which picks the component that
best explains the words around the target (:meth:`w2gm.keyed.KeyedMixtures.posteriors`, the posterior
SCWS's contextual scores and ``model.disambiguate`` use; inactive components are never
chosen).  A word's components are then its induced senses, scored against the gold key in
the task's two ways:

* unsupervised: V-measure (Rosenberg & Hirschberg, 2007: the harmonic mean of homogeneity
  and completeness of the clusters against the gold classes) and the paired F-score (F1
  over the pairs of contexts put in one cluster against the pairs sharing a gold sense),
  each averaged over words.  One cluster per word (any K=1 model) scores V = 0 and a high
  paired F-score; one cluster per context scores a high V-measure; read them together.
* supervised: on a random 80 % of each word's contexts every component is mapped to the
  gold sense it co-occurs with most, and the other 20 % are labelled through the mapping;
  the accuracy is compared with the most frequent sense of the 80 % (MFS).  A K=1 model
  reproduces MFS exactly, so the gain over MFS is what the components know about senses.
  Averaged over ``splits`` random splits, macro over words with at least ``min_test``
  held-out contexts.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..errors import W2GMError
from ..vocab import lookup_ids
from .datasets import numbered_lines

if TYPE_CHECKING:
    from ..keyed import KeyedMixtures
    from ..vocab import Vocabulary


@dataclass
class SenseTask:
    """One target word: its lemma, its contexts (words left and right of the target, the
    target left out) and each context's gold senses."""

    name: str  # e.g. "access.n"
    lemma: str
    left: list[list[str]] = field(default_factory=list)
    right: list[list[str]] = field(default_factory=list)
    gold: list[str] = field(default_factory=list)


def read_semeval2010(directory: str | os.PathLike) -> list[SenseTask]:
    """The targets of ``dataset.txt`` with the first gold sense of each context from ``key.txt``."""
    directory = Path(directory)
    dataset, key = directory / "dataset.txt", directory / "key.txt"
    keyed: dict[str, str] = {}
    for number, line in numbered_lines(key):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 3:
            raise W2GMError(f"{key}, line {number}: expected 'word.pos instance sense', got {line.strip()!r}")
        keyed[fields[1]] = fields[2]
    tasks: list[SenseTask] = []
    remaining = 0
    for number, line in numbered_lines(dataset):
        line = line.rstrip("\n")
        if remaining == 0:
            if not line.strip():
                continue
            fields = line.split()
            if len(fields) != 2 or not fields[1].isdigit():
                raise W2GMError(f"{dataset}, line {number}: expected 'word.pos COUNT', got {line.strip()!r}")
            tasks.append(SenseTask(fields[0], fields[0].rsplit(".", 1)[0]))
            remaining = int(fields[1])
            continue
        task = tasks[-1]
        left, tab, right = line.partition("\t")
        if not tab:
            raise W2GMError(f"{dataset}, line {number}: expected a context 'LEFT<TAB>RIGHT' of {task.name} "
                            f"({remaining} still to come), got {line.strip()[:60]!r}")
        instance = f"{task.name}.{len(task.gold) + 1}"
        if instance not in keyed:
            raise W2GMError(f"{dataset}, line {number}: {instance} has no sense in {key}")
        task.left.append(left.split())
        task.right.append(right.split())
        task.gold.append(keyed[instance])
        remaining -= 1
    if remaining:
        raise W2GMError(f"{dataset}: ends {remaining} contexts short of the count its last header announced")
    return tasks


def context_ids(vocab: Vocabulary, task: SenseTask, window: int) -> np.ndarray:
    """``[contexts, 2 window]`` ids of the words each side of the target (-1: unknown or none)."""
    contexts = np.full((len(task.gold), 2 * window), -1, dtype=np.int64)
    for row, (left, right) in enumerate(zip(task.left, task.right, strict=True)):
        around = left[-window:] + right[:window]
        contexts[row, : len(around)] = lookup_ids(vocab, around)
    return contexts


def assign_components(model: KeyedMixtures, task: SenseTask, window: int) -> np.ndarray | None:
    """The most probable component of the target in each context, or None when the model
    does not know the target."""
    word = lookup_ids(model.vocab, [task.lemma])[0]
    if word < 0:
        return None
    contexts = context_ids(model.vocab, task, window)
    return model.posteriors(np.full(len(task.gold), word), contexts).argmax(-1).numpy()


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def v_measure(clusters: np.ndarray, classes: np.ndarray) -> float:
    """Harmonic mean of homogeneity 1 - H(C|K)/H(C) and completeness 1 - H(K|C)/H(K)."""
    _, k = np.unique(clusters, return_inverse=True)
    _, c = np.unique(classes, return_inverse=True)
    table = np.zeros((k.max() + 1, c.max() + 1))
    np.add.at(table, (k, c), 1)
    joint = _entropy(table.ravel())
    h_class, h_cluster = _entropy(table.sum(0)), _entropy(table.sum(1))
    homogeneity = 1.0 if h_class == 0 else 1 - (joint - h_cluster) / h_class
    completeness = 1.0 if h_cluster == 0 else 1 - (joint - h_class) / h_cluster
    total = homogeneity + completeness
    return 0.0 if total == 0 else 2 * homogeneity * completeness / total


def paired_f_score(clusters: np.ndarray, classes: np.ndarray) -> float:
    """F1 of the context pairs a clustering joins against the pairs that share a gold sense."""

    def joined(labels: np.ndarray) -> np.ndarray:
        return labels[:, None] == labels[None, :]

    upper = np.triu(np.ones((len(clusters), len(clusters)), dtype=bool), 1)
    predicted, gold = joined(clusters) & upper, joined(classes) & upper
    both = (predicted & gold).sum()
    if predicted.sum() == 0 or gold.sum() == 0:
        return float(predicted.sum() == gold.sum())
    precision, recall = both / predicted.sum(), both / gold.sum()
    return 0.0 if both == 0 else float(2 * precision * recall / (precision + recall))


def mapped_accuracy(clusters: np.ndarray, classes: np.ndarray, train: np.ndarray) -> tuple[float, float]:
    """Accuracy on the contexts outside ``train`` of the cluster -> most frequent training
    sense mapping (a cluster unseen in training gets the most frequent sense), and that of
    the most frequent sense alone."""
    most_frequent = Counter(classes[train]).most_common(1)[0][0]
    mapping = {
        cluster: Counter(classes[train & (clusters == cluster)]).most_common(1)[0][0]
        for cluster in np.unique(clusters[train])
    }
    test = ~train
    predicted = np.array([mapping.get(cluster, most_frequent) for cluster in clusters[test]])
    return float((predicted == classes[test]).mean()), float((classes[test] == most_frequent).mean())


@dataclass
class WSIResult:
    words: int  # targets in the dataset
    known: int  # targets in the model's vocabulary
    contexts: int
    v_measure: float  # means over the known targets
    paired_f: float
    supervised: float  # mapped accuracy, macro over the known targets with >= min_test held-out contexts
    mfs: float
    supervised_words: int
    components_used: float  # mean number of distinct components chosen per known target


def evaluate_wsi(
    model: KeyedMixtures, tasks: list[SenseTask], window: int = 10, splits: int = 5, test_share: float = 0.2,
    min_test: int = 20, seed: int = 0,
) -> WSIResult:
    """The model's components as the induced senses (:func:`assign_components`)."""
    clusterings = [assign_components(model, task, window) for task in tasks]
    return score_clusterings(tasks, clusterings, splits, test_share, min_test, seed)


def score_clusterings(
    tasks: list[SenseTask], clusterings: Sequence[np.ndarray | None], splits: int = 5, test_share: float = 0.2,
    min_test: int = 20, seed: int = 0,
) -> WSIResult:
    """Any induced senses, one cluster label per context of each task (None: target unknown),
    scored as the module docstring says."""
    v_scores, f_scores, used, gains = [], [], [], []
    for index, (task, clusters) in enumerate(zip(tasks, clusterings, strict=True)):
        if clusters is None:
            continue
        classes = np.array(task.gold)
        v_scores.append(v_measure(clusters, classes))
        f_scores.append(paired_f_score(clusters, classes))
        used.append(len(np.unique(clusters)))
        n_test = round(test_share * len(classes))
        if n_test < min_test:
            continue
        rng = np.random.default_rng([seed, index])  # the same splits for every model
        runs = []
        for _ in range(splits):
            train = np.ones(len(classes), dtype=bool)
            train[rng.choice(len(classes), n_test, replace=False)] = False
            runs.append(mapped_accuracy(clusters, classes, train))
        gains.append(np.mean(runs, axis=0))
    gain = np.array(gains).reshape(-1, 2)
    return WSIResult(
        words=len(tasks), known=len(v_scores), contexts=sum(len(t.gold) for t in tasks),
        v_measure=float(np.mean(v_scores)) if v_scores else float("nan"),
        paired_f=float(np.mean(f_scores)) if f_scores else float("nan"),
        supervised=float(gain[:, 0].mean()) if len(gain) else float("nan"),
        mfs=float(gain[:, 1].mean()) if len(gain) else float("nan"),
        supervised_words=len(gain),
        components_used=float(np.mean(used)) if used else float("nan"),
    )
