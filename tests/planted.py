"""A synthetic corpus with planted structure: disjoint topics and one word used in two of them.

The ambiguous word must be informative: if its contexts were spread like the negative
samples (e.g. only two topics in the whole corpus) its pointwise mutual information with
every word would be zero and no objective could place it.  With six topics, its contexts
are enriched in exactly two.
"""

from pathlib import Path

import numpy as np

TOPIC_SIZE = 20
AMBIGUOUS = "bank"


def topic_words(topic: str) -> list[str]:
    return [f"{topic}{i}" for i in range(TOPIC_SIZE)]


TOPICS = ("river", "money", "music", "food", "sport", "space")
SENSES = ("river", "money")


def write_two_sense_corpus(path: Path, sentences: int = 12_000, length: int = 10, seed: int = 0,
                           stopwords: tuple[str, ...] = ()) -> Path:
    """Each sentence draws words from one of six topics; ``bank`` appears in half the
    "river" and half the "money" sentences, so its contexts come from two disjoint groups.
    Each of ``stopwords`` appears once in every sentence, whatever its topic."""
    rng = np.random.default_rng(seed)
    lines = []
    for _ in range(sentences):
        topic = TOPICS[rng.integers(len(TOPICS))]
        words = list(rng.choice(topic_words(topic), size=length))
        if topic in SENSES and rng.random() < 0.5:
            words.insert(int(rng.integers(length + 1)), AMBIGUOUS)
        for word in stopwords:
            words.insert(int(rng.integers(len(words) + 1)), word)
        lines.append(" ".join(words))
    path.write_text("\n".join(lines) + "\n")
    return path


def topic_contexts(topic: str, count: int, rng: np.random.Generator) -> list[str]:
    """Sentences like the corpus's own: ten words of one topic with the ambiguous word inside."""
    sentences = []
    for _ in range(count):
        words = list(rng.choice(topic_words(topic), size=10))
        words.insert(int(rng.integers(11)), AMBIGUOUS)
        sentences.append(" ".join(words))
    return sentences


def assert_components_follow_the_senses(model) -> None:
    """Each component of the ambiguous word has one sense's topic among its nearest words,
    and more than 90 % of that sense's fresh sentences take it."""
    senses = []
    for k in range(2):
        topics = [n.split(":")[0].rstrip("0123456789") for n, _ in model.most_similar(f"{AMBIGUOUS}:{k}", topn=5)]
        senses.append(max(set(topics), key=topics.count))
    assert sorted(senses) == ["money", "river"], senses
    rng = np.random.default_rng(7)
    for k, sense in enumerate(senses):
        chosen = model.disambiguate_many(AMBIGUOUS, topic_contexts(sense, 100, rng)).argmax(-1)
        assert (chosen == k).mean() > 0.9, (sense, np.bincount(chosen, minlength=2))


#: Training options under which the planted senses are recovered in seconds.  One thread:
#: the same floating-point order, so the same model, on every machine.
#: The paper's objective (3.3) with A.2's one negative: these tests check that the paper's
#: method recovers planted senses (4.2).  The default presets train with nll, which separated them on as many seeds
#: (4 of 6, numba) but not on seed 1 (README, "Senses").
PLANTED = dict(epochs=4, min_count=1, subsample=0, window=5, dim=20, batch_size=1024, lr=0.05, seed=1, threads=1,
               objective="paper", negatives=1)
