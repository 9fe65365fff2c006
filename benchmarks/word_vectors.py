"""Which vector should stand for a word of a mixture model in gensim's API?  Each candidate
becomes a gensim ``KeyedVectors`` (one key per word) and is scored by gensim's own
``evaluate_word_pairs`` on the similarity sets and ``evaluate_word_analogies`` on the bundled
Google questions; the paper's max cosine over component pairs is shown beside them.

    python benchmarks/word_vectors.py MODEL.w2gm [MODEL.w2gm ...] [--json OUT]

Candidates (over the active components, weights renormalised, unless said otherwise):

* ``most_used``: the mean of the component that wins most of the word's tokens (usage
  counts; the heaviest component where the word has no usage)
* ``heaviest``: the mean of the component with the largest mixture weight p_k
* ``weighted_mean``: sum_k p_k mu_k, the mean of the mixture density
* ``weighted_direction``: sum_k p_k mu_k / |mu_k|
* ``usage_mean``: sum_k s_k mu_k, s_k the usage shares (the weights where unknown)
* ``weighted_mean_all``: sum_k p_k mu_k over every component, inactive ones too
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import w2gm  # noqa: E402
from w2gm.analogies import analogy_path  # noqa: E402
from w2gm.evaluate.catalogue import SIMILARITY, bundled_data_dir  # noqa: E402
from w2gm.evaluate.datasets import read_word_pairs  # noqa: E402


def candidates(model: w2gm.KeyedMixtures) -> dict[str, np.ndarray]:
    means = model.input.means.numpy()  # [V, K, D]
    active = model.active().numpy()
    weights = model.log_weights().exp().numpy()  # renormalised over the active components
    all_weights = model.input.weights().numpy()
    shares = model.usage_shares()
    shares = weights if shares is None else np.where(np.isnan(shares.numpy()), weights, shares.numpy())
    shares = np.where(active, shares, 0)
    counts = model.usage.counts.numpy() if model.usage is not None else np.zeros_like(weights)
    # most wins; among equal wins (unseen words: all zero) the heaviest
    most_used = np.lexsort((np.where(active, weights, -1), np.where(active, counts, -1)), axis=-1)[:, -1]
    heaviest = np.where(active, weights, -1).argmax(-1)
    rows = np.arange(len(means))
    units = means / np.linalg.norm(means, axis=-1, keepdims=True)
    return {
        "most_used": means[rows, most_used],
        "heaviest": means[rows, heaviest],
        "weighted_mean": (weights[..., None] * means).sum(1),
        "weighted_direction": (weights[..., None] * units).sum(1),
        "usage_mean": (shares[..., None] * means).sum(1) / shares.sum(1, keepdims=True),
        "weighted_mean_all": (all_weights[..., None] * means).sum(1),
    }


def tab_files(directory: Path) -> dict[str, Path]:
    """The similarity sets rewritten as ``word1<TAB>word2<TAB>score`` for gensim's reader."""
    files = {}
    for name, relative in SIMILARITY.items():
        pairs = read_word_pairs(bundled_data_dir() / relative)
        path = directory / f"{name}.tsv"
        path.write_text("".join(f"{a}\t{b}\t{s}\n" for a, b, s in zip(pairs.first, pairs.second, pairs.scores,
                                                                         strict=True)))
        files[name] = path
    return files


def gensim_scores(words: list[str], vectors: np.ndarray, sets: dict[str, Path], questions: Path) -> dict:
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vector_size=vectors.shape[1])
    keyed.add_vectors(words, vectors.astype(np.float32))
    result = {name: 100 * keyed.evaluate_word_pairs(str(path))[1][0] for name, path in sets.items()}
    result["similarity_sum"] = sum(result[name] for name in sets)
    result["analogy"] = 100 * keyed.evaluate_word_analogies(str(questions))[0]
    return result


def paper_scores(model: w2gm.KeyedMixtures, sets: dict[str, Path]) -> dict:
    result = {name: 100 * model.evaluate_word_pairs(path, measure="max_cosine")[1][0] for name, path in sets.items()}
    result["similarity_sum"] = sum(result[name] for name in sets)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="+")
    parser.add_argument("--json", help="write the figures here too")
    args = parser.parse_args()
    torch.set_grad_enabled(False)
    report = {}
    with tempfile.TemporaryDirectory() as scratch:
        sets = tab_files(Path(scratch))
        questions = Path(scratch) / "questions-words.txt"
        import gzip

        questions.write_bytes(gzip.decompress(analogy_path().read_bytes()))
        for path in args.models:
            model = w2gm.load(path)
            two = (model.active().sum(-1) > 1).float().mean().item()
            print(f"\n{path}: {len(model.vocab):,} words, K={model.components_per_word}, "
                  f"{100 * two:.1f}% of words with more than one active component")
            rows = {"max_cosine (paper)": paper_scores(model, sets)}
            for name, vectors in candidates(model).items():
                rows[name] = gensim_scores(model.vocab.words, vectors, sets, questions)
            header = ["candidate", *sets, "sum", "analogy %"]
            print(" | ".join(header))
            for name, row in rows.items():
                cells = [f"{row[s]:.1f}" for s in sets] + [f"{row['similarity_sum']:.1f}"]
                cells.append(f"{row['analogy']:.2f}" if "analogy" in row else "-")
                print(" | ".join([name, *cells]))
            report[path] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
