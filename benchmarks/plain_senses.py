"""Confident disambiguation: plain sentences whose sense is clear, through ``disambiguate_many``.

    python benchmarks/plain_senses.py MODEL [MODEL ...] [--rules product product:1 average]
                                      [--window 10] [--json OUT]

``benchmarks/data/plain_senses.tsv`` holds four plain sentences for each of two senses of
twelve ambiguous words (bank, rock, cell, bass, club, spring, plant, star, crane, mouse, seal,
organ).  For each model and posterior rule (:mod:`w2gm.occurrence`; ``RULE:TEMPERATURE``,
the product's temperature by default the queries' 5) every sentence is scored, and reported are: the chosen component's
posterior (mean, and the share of sentences where it is >= 0.9), and whether it is the right
one: the component most sentences of its sense take, where the word's two senses take
different components (a word whose senses share one component is never right: it does not
tell them apart).  *sure and right* is the share of sentences with both.  Models are usually several seeds of one
variant: each figure is printed as mean +- sd over them, and the first model's per-word
posteriors are printed too.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from pseudowords import posterior_options  # noqa: E402

SENTENCES = ROOT / "benchmarks" / "data" / "plain_senses.tsv"


def read_sentences(path: Path = SENTENCES) -> dict[str, list[tuple[str, str]]]:
    """word -> [(sense, sentence)], in file order."""
    items: dict[str, list[tuple[str, str]]] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            word, sense, sentence = line.split("\t")
            items.setdefault(word, []).append((sense, sentence))
    return items


def right_components(chosen: np.ndarray, senses: list[str]) -> np.ndarray:
    """Whether each sentence takes the component most sentences of its sense take, where the
    word's senses take different components (a word whose senses share one is never right)."""
    usual = {sense: Counter(c for c, s in zip(chosen, senses, strict=True) if s == sense).most_common(1)[0][0]
             for sense in set(senses)}
    if len(set(usual.values())) < len(usual):
        return np.zeros(len(chosen), dtype=bool)
    return np.array([c == usual[s] for c, s in zip(chosen, senses, strict=True)])


def score(model, items: dict[str, list[tuple[str, str]]], rule: str, window: int) -> dict[str, Any]:
    sure, right, posterior, words = [], [], [], {}
    for word, sentences in items.items():
        if word not in model:
            continue
        senses = [s for s, _ in sentences]
        shares = model.disambiguate_many(word, [t for _, t in sentences], window=window,
                                   **posterior_options(rule))
        chosen = shares.argmax(1)
        ok = right_components(chosen, senses)
        top = shares.max(1)
        sure.append(top >= 0.9)
        right.append(ok)
        posterior.append(top)
        words[word] = {"components": chosen.tolist(), "posterior": np.round(top, 2).tolist(), "right": ok.tolist()}
    sure_all, right_all = np.concatenate(sure), np.concatenate(right)
    return {"mean posterior": float(np.concatenate(posterior).mean()), "sure %": 100 * float(sure_all.mean()),
            "right %": 100 * float(right_all.mean()), "sure and right %": 100 * float((sure_all & right_all).mean()),
            "words": words}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--rules", nargs="+", default=["product", "product:1", "average"])
    parser.add_argument("--window", type=int, default=10, help="context words each side of the target")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import w2gm

    items = read_sentences()
    models = [w2gm.load(path) for path in args.models]
    results: dict[str, list[dict[str, Any]]] = {}
    for rule in args.rules:
        results[rule] = [score(model, items, rule, args.window) for model in models]
    columns = ["mean posterior", "sure %", "right %", "sure and right %"]
    print(f"\n{len(models)} model(s): {', '.join(p.name for p in args.models)}")
    print("| rule | " + " | ".join(columns) + " |")
    print("|---|" + "---:|" * len(columns))
    for rule, runs in results.items():
        cells = [f"{np.mean([r[c] for r in runs]):.2f} ± {np.std([r[c] for r in runs]):.2f}" for c in columns]
        print(f"| {rule} | " + " | ".join(cells) + " |")
    for rule, runs in results.items():
        print(f"\n{rule}, {args.models[0].name}:")
        for word, row in runs[0]["words"].items():
            marks = " ".join(f"{c}:{p:.2f}{'' if ok else '!'}" for c, p, ok in
                             zip(row["components"], row["posterior"], row["right"], strict=True))
            print(f"  {word:7s} {marks}")
    if args.json:
        args.json.write_text(json.dumps({"models": [str(p) for p in args.models], "results": results}, indent=1))


if __name__ == "__main__":
    main()
