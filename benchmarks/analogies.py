"""The analogy test, w2gm against gensim on the same vectors: the bundled Google questions
(19,544) answered by ``model.evaluate_word_analogies`` and by gensim's
``KeyedVectors.evaluate_word_analogies`` on a KeyedVectors holding the model's word vectors
(what ``w2gm export`` writes), each timed ``--repeats`` times in this process.

    python benchmarks/analogies.py MODEL.w2gm [--repeats 3] [--restrict-vocab 300000]

Prints the median and spread of the seconds of each, their ratio, and both accuracies (which
must agree: the two answer the same questions from the same vectors).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--restrict-vocab", type=int, default=300_000)
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)  # gensim logs every section
    model = w2gm.load(args.model)
    keyed = model.to_keyedvectors("words")
    with tempfile.TemporaryDirectory() as scratch:
        questions = Path(scratch) / "questions-words.txt"
        questions.write_bytes(gzip.decompress(analogy_path().read_bytes()))
        ours, (our_score, our_sections) = timed(
            lambda: model.evaluate_word_analogies(questions, restrict_vocab=args.restrict_vocab), args.repeats)
        theirs, (their_score, their_sections) = timed(
            lambda: keyed.evaluate_word_analogies(str(questions), restrict_vocab=args.restrict_vocab), args.repeats)
    same = all(a["correct"] == b["correct"] and a["incorrect"] == b["incorrect"]
               for a, b in zip(our_sections, their_sections, strict=True))
    print(f"{args.model}: {len(model.vocab):,} words, K={model.components_per_word}, D={model.dim}; "
          f"{answered(our_sections):,} of 19,544 questions in the vocabulary")
    for name, seconds, score in (("w2gm", ours, our_score), ("gensim", theirs, their_score)):
        print(f"  {name:7s} median {statistics.median(seconds):7.2f} s  (runs: "
              f"{', '.join(f'{s:.2f}' for s in seconds)})  accuracy {100 * score:.2f} %")
    print(f"  w2gm / gensim time: {statistics.median(ours) / statistics.median(theirs):.2f}; "
          f"same answers question by question: {same}")


if __name__ == "__main__":
    main()
