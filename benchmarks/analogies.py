"""The analogy test, w2gm against gensim on the same vectors: the bundled Google questions
(19,544) answered by ``model.evaluate_word_analogies`` and by gensim's
``KeyedVectors.evaluate_word_analogies`` on a KeyedVectors holding the model's word vectors
(what ``w2gm export`` writes), each timed ``--repeats`` times in this process.

    python benchmarks/analogies.py MODEL.w2gm [MODEL.w2gm ...] [--repeats 3] [--restrict-vocab 300000]
        [--gensim-corpus TEXT --seeds 1 2 3]

Prints the median and spread of the seconds of each, their ratio, and both accuracies (which
must agree: the two answer the same questions from the same vectors).  With
``--gensim-corpus``, also the accuracy of gensim's skip-gram trained on that text with the
first model's settings (dim, window, negatives, subsampling, min count, epochs), one run per
seed: the peer for the models' accuracy.
"""

from __future__ import annotations

import argparse
import gzip
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import w2gm  # noqa: E402
from w2gm.analogies import analogy_path  # noqa: E402


def timed(call, repeats: int) -> tuple[list[float], tuple]:
    seconds, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        seconds.append(time.perf_counter() - start)
    return seconds, result


def answered(sections: list[dict]) -> int:
    return len(sections[-1]["correct"]) + len(sections[-1]["incorrect"])


def compare(path: str, questions: Path, repeats: int, restrict_vocab: int) -> w2gm.KeyedMixtures:
    """Time both on one model's word vectors and print the figures."""
    model = w2gm.load(path)
    keyed = model.to_keyedvectors("words")
    ours, (our_score, our_sections) = timed(
        lambda: model.evaluate_word_analogies(questions, restrict_vocab=restrict_vocab), repeats)
    theirs, (their_score, their_sections) = timed(
        lambda: keyed.evaluate_word_analogies(str(questions), restrict_vocab=restrict_vocab), repeats)
    same = all(a["correct"] == b["correct"] and a["incorrect"] == b["incorrect"]
               for a, b in zip(our_sections, their_sections, strict=True))
    print(f"{path}: {len(model.vocab):,} words, K={model.components_per_word}, D={model.dim}; "
          f"{answered(our_sections):,} of 19,544 questions in the vocabulary")
    for name, seconds, score in (("w2gm", ours, our_score), ("gensim", theirs, their_score)):
        print(f"  {name:7s} median {statistics.median(seconds):7.2f} s  (runs: "
              f"{', '.join(f'{s:.2f}' for s in seconds)})  accuracy {100 * score:.2f} %")
    print(f"  w2gm / gensim time: {statistics.median(ours) / statistics.median(theirs):.2f}; "
          f"same answers question by question: {same}")
    return model


def gensim_peer(corpus: str, config: dict, seeds: list[int], questions: Path) -> None:
    """gensim's skip-gram on ``corpus`` with the model's settings, its accuracy per seed."""
    from gensim.models import Word2Vec
    from gensim.models.word2vec import LineSentence

    scores = []
    for seed in seeds:
        w2v = Word2Vec(LineSentence(corpus, max_sentence_length=10_000), sg=1, vector_size=config["dim"],
                       window=config["window"], negative=config["negatives"], sample=config["subsample"],
                       min_count=config["min_count"], epochs=config["epochs"], workers=2, seed=seed)
        scores.append(100 * w2v.wv.evaluate_word_analogies(str(questions))[0])
        print(f"  gensim skip-gram, seed {seed}: {len(w2v.wv):,} words, accuracy {scores[-1]:.2f} %", flush=True)
    if len(scores) > 1:
        print(f"  gensim skip-gram: {statistics.mean(scores):.2f} ± {statistics.stdev(scores):.2f} %")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--restrict-vocab", type=int, default=300_000)
    parser.add_argument("--gensim-corpus", help="plain text (one or more lines) to train gensim's peer on")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)  # gensim logs every section
    with tempfile.TemporaryDirectory() as scratch:
        questions = Path(scratch) / "questions-words.txt"
        questions.write_bytes(gzip.decompress(analogy_path().read_bytes()))
        models = [compare(path, questions, args.repeats, args.restrict_vocab) for path in args.models]
        if len(models) > 1:
            scores = [100 * model.evaluate_word_analogies(questions)[0] for model in models]
            print(f"w2gm over {len(models)} models: {statistics.mean(scores):.2f} ± {statistics.stdev(scores):.2f} %")
        if args.gensim_corpus:
            gensim_peer(args.gensim_corpus, models[0].config, args.seeds, questions)


if __name__ == "__main__":
    main()
