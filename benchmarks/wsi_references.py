"""Reference points for the SemEval-2010 word-sense-induction scores of `senses.py`.

A K=2 model induces at most two senses per word, so its supervised gain over the most
frequent sense is bounded, and its meaning depends on what two clusters of these contexts
can do at all.  Three clusterings of the same contexts, scored by the same code
(:func:`w2gm.evaluate.wsi.score_clusterings`):

* **two gold senses**: each word's most frequent gold sense against all its others, the
  ceiling of any two-cluster assignment (the mapping can name at most two senses);
* **2-means of contexts**: the standard context-clustering baseline of word-sense induction,
  k-means (k = 2, k-means++ starts) over each context's mean of unit skip-gram vectors of the
  words around the target (the same window the models read), with a skip-gram model trained
  on the same text;
* **random halves**: each context in one of two clusters at random, the noise floor.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.cluster.vq import kmeans2

from w2gm.evaluate.wsi import SenseTask, WSIResult, context_ids, score_clusterings
from w2gm.keyed import KeyedMixtures
from w2gm.vocab import lookup_ids


def two_gold_senses(tasks: list[SenseTask]) -> list[np.ndarray]:
    """Cluster 0: each word's most frequent gold sense; cluster 1: the rest."""
    clusterings = []
    for task in tasks:
        top = Counter(task.gold).most_common(1)[0][0]
        clusterings.append(np.array([0 if sense == top else 1 for sense in task.gold]))
    return clusterings


def context_kmeans(model: KeyedMixtures, tasks: list[SenseTask], k: int, window: int, seed: int) -> list:
    """k-means of each context's mean unit vector (component 0 of a K=1 model); None for
    targets the model does not know, as :func:`w2gm.evaluate.wsi.assign_components` gives."""
    vectors = model.input.means[:, 0].double().numpy()
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    rng = np.random.default_rng(seed)
    clusterings: list[np.ndarray | None] = []
    for task in tasks:
        if lookup_ids(model.vocab, [task.lemma])[0] < 0:
            clusterings.append(None)
            continue
        ids = context_ids(model.vocab, task, window)
        known = ids >= 0
        points = (vectors[np.where(known, ids, 0)] * known[..., None]).sum(1)
        points /= np.maximum(known.sum(1, keepdims=True), 1)
        _, labels = kmeans2(points, k, minit="++", seed=rng)
        clusterings.append(labels)
    return clusterings


def random_halves(tasks: list[SenseTask], seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 2, len(task.gold)) for task in tasks]


def figures(result: WSIResult) -> dict[str, float]:
    return {"V": 100 * result.v_measure, "pF": 100 * result.paired_f,
            "sup-MFS": 100 * (result.supervised - result.mfs), "comps": result.components_used}


def reference_rows(skipgram: KeyedMixtures, tasks: list[SenseTask], window: int, seed: int) -> dict[str, dict]:
    """The three clusterings' WSI figures, under the names senses.py prints them with."""
    return {
        "two gold senses (ceiling of K=2)": figures(score_clusterings(tasks, two_gold_senses(tasks))),
        "gensim, 2-means of contexts": figures(score_clusterings(
            tasks, context_kmeans(skipgram, tasks, 2, window, seed))),
        "random halves": figures(score_clusterings(tasks, random_halves(tasks, seed))),
    }
