"""Pseudowords: do a word's components follow meanings we know are there?

    python benchmarks/pseudowords.py CORPUS [--tokens N] [--pairs 60] [--pair-seed 1]
        [--seeds 1 2 3] [--variants K=2 K=1] [--references] [--set OPTION=VALUE ...] [--json OUT]

The classic test with exact ground truth (Schuetze 1992; Gale, Church & Yarowsky 1992):

1. The corpus is lowercased and cut to a-z words, one line per input line; lines longer
   than ``--line-tokens`` (the text8 prefix is one line) are cut into pseudo-lines of that
   many tokens.  ``--tokens N`` keeps the first N tokens, for quick iterations.
2. ``--pairs`` pairs of unrelated words are drawn (``--pair-seed``) among the words ranked
   ``--ranks`` by frequency, no word in two pairs, frequency ratio at most ``--ratio``, and
   at least ``--min-heldout`` held-out occurrences per pair (so that a pair's score is not
   one or two coin flips).  Every occurrence of either word becomes one token,
   ``centuryqbreast`` for century and breast.
3. One line in ``--holdout`` (33) is held out, spread evenly through the text; the model is
   trained on the rest with :func:`w2gm.train` (the default preset, ``auto``, and default
   options, unless the variant or ``--set`` says otherwise).
4. Every held-out occurrence of a pseudoword is scored through
   :meth:`w2gm.KeyedMixtures.disambiguate_many`, as a user would ask it: the text around the
   occurrence (the model's window each side), the component with the highest posterior.

Scores per pair.  Each component is mapped to the original word most of the pair's
occurrences that take it are, on up to 400 occurrences of the pair in the training text
(``--mapping train``, the default), and the mapping is scored on the held-out occurrences.
``--mapping halves`` is the issue's protocol instead: the held-out occurrences cut in two
halves (alternate occurrences in text order), the mapping learnt on each and scored on the
other; where the minority word has a handful of held-out occurrences, a half often has
none of them, and a pair whose components follow the two words exactly scores no gain.
*gain* is that accuracy minus the accuracy of always answering the pair's more frequent
word (learnt the same way); what is possible is 1 minus the majority share.  A pair is
*separated* when its gain is at least half of what is possible.  Reported: the share of
pairs separated, the macro gain (points), the components' usage (the minority
component's share of the held-out occurrences, and the share of pseudowords with two
active components by the model's usage pass), calibration (how often the chosen
component's word is right, by its posterior), and the similarity sum and SCWS of the
model (:func:`senses.similarity_figures`; pseudoword models lose their merged words from the
similarity sets, the same for every variant).

References on the same data (``--references``): gensim's skip-gram on the same training
text (benchmarks/senses.py's settings); each occurrence is the mean of its context words'
vectors within ``--context-window`` (5) each side.  *2-means* clusters a pair's held-out
occurrences into two (the classic unsupervised baseline); *supervised* is a logistic
regression on up to 4,000 training occurrences of the pair with their true words, scored
on the held-out ones (how much the windows say about the two words).  Both are scored
like the model's components.  Each figure is printed as mean +- sd over seeds.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import lzma
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

WORD = re.compile(r"[a-z]+")
#: Placeholder for another occurrence of the pseudoword before the scored one in its
#: window: ``disambiguate_many`` reads the window around a word's first occurrence.
OTHER = "#"
#: Training occurrences of a pair on which its components are mapped to the two words.
FIT_OCCURRENCES = 400
#: Posterior bins of the calibration table.
BINS = (0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001)

#: Variants: training options over the defaults.
VARIANTS: dict[str, dict[str, Any]] = {
    "K=1": {"components": 1},
    "K=2": {},
    "K=3": {"components": 3},
    "K=4": {"components": 4},
    "K=2 paper": {"objective": "paper"},
    "K=2 nosplit": {"split_at": 0.0},
    # one sense per occurrence (w2gm/occurrence.py)
    "K=2 hard": {"occurrence_sense": "hard"},
    "K=2 soft": {"occurrence_sense": "soft"},
    "K=2 soft T3": {"occurrence_sense": "soft", "occurrence_temperature": 3.0},
    "K=2 hard nosplit": {"occurrence_sense": "hard", "split_at": 0.0},
    "K=2 hard split.2": {"occurrence_sense": "hard", "split_at": 0.2},
    "K=2 soft split.2": {"occurrence_sense": "soft", "split_at": 0.2},
    "K=3 hard": {"components": 3, "occurrence_sense": "hard"},
}


# ------------------------------------------------------------------ the data


def open_text(path: Path):
    """A text handle on ``path``, gzip, xz or bzip2 recognised by their magic bytes."""
    with open(path, "rb") as probe:
        magic = probe.read(6)
    opener = gzip.open if magic[:2] == b"\x1f\x8b" else lzma.open if magic == b"\xfd7zXZ\x00" else \
        bz2.open if magic[:3] == b"BZh" else open
    return opener(path, "rt", encoding="utf-8", errors="replace")


def read_lines(path: Path, tokens: int | None, line_tokens: int) -> list[list[str]]:
    """The corpus lowercased, a-z words, one list per line, lines cut into pieces of at most
    ``line_tokens``; the first ``tokens`` tokens only when given."""
    lines: list[list[str]] = []
    total = 0
    with open_text(path) as text:
        for line in text:
            words = WORD.findall(line.lower())
            for start in range(0, len(words), line_tokens):
                piece = words[start : start + line_tokens]
                if tokens is not None:
                    piece = piece[: tokens - total]
                if piece:
                    lines.append(piece)
                    total += len(piece)
            if tokens is not None and total >= tokens:
                break
    return lines


def held_out(line: int, every: int) -> bool:
    """Line ``line`` is held out: one in ``every``, the middle one of each run of ``every``."""
    return line % every == every // 2


@dataclass
class Pair:
    first: str
    second: str

    @property
    def token(self) -> str:
        return f"{self.first}q{self.second}"


def choose_pairs(lines: list[list[str]], count: int, seed: int, ranks: tuple[int, int], ratio: float,
                 min_heldout: int, every: int) -> list[Pair]:
    """``count`` pairs of words ranked ``ranks`` by frequency: drawn in a random order, each
    word paired with the next unpaired one whose frequency is within ``ratio`` of its own
    and with which it has ``min_heldout`` held-out occurrences; no word in two pairs."""
    counts: Counter[str] = Counter()
    heldout: Counter[str] = Counter()
    for n, line in enumerate(lines):
        counts.update(line)
        if held_out(n, every):
            heldout.update(line)
    ranked = [w for w, _ in counts.most_common()]
    candidates = ranked[ranks[0] : ranks[1]]
    rng = np.random.default_rng(seed)
    order = [candidates[i] for i in rng.permutation(len(candidates))]
    used: set[str] = set()
    pairs: list[Pair] = []
    for a in order:
        if a in used:
            continue
        for b in order:
            if b == a or b in used:
                continue
            fa, fb = counts[a], counts[b]
            if max(fa, fb) > ratio * min(fa, fb) or heldout[a] + heldout[b] < min_heldout:
                continue
            pair = Pair(a, b)
            if pair.token in counts:
                continue
            pairs.append(pair)
            used |= {a, b}
            break
        if len(pairs) == count:
            break
    return pairs


@dataclass
class Occurrences:
    """The held-out occurrences of one pseudoword: their windows (the scored occurrence the
    first of the pseudoword in each) and which original word each was (0: first, 1: second)."""

    windows: list[list[str]] = field(default_factory=list)
    truth: list[int] = field(default_factory=list)
    #: Context words of each occurrence within the reference's window (for the references).
    contexts: list[list[str]] = field(default_factory=list)


def merge(lines: list[list[str]], pairs: list[Pair], every: int, window: int, context_window: int
          ) -> tuple[list[list[str]], list[Occurrences], list[Occurrences]]:
    """The training lines with every occurrence of a paired word replaced by its pseudoword,
    and for each pair its held-out and its training occurrences (with their truth)."""
    into = {p.first: (i, 0) for i, p in enumerate(pairs)} | {p.second: (i, 1) for i, p in enumerate(pairs)}
    training: list[list[str]] = []
    tests = [Occurrences() for _ in pairs]
    trains = [Occurrences() for _ in pairs]
    for n, line in enumerate(lines):
        hits = [(t, *into[w]) for t, w in enumerate(line) if w in into]
        merged = list(line)
        for t, i, _ in hits:
            merged[t] = pairs[i].token
        target = tests if held_out(n, every) else trains
        if not held_out(n, every):
            training.append(merged)
        for t, i, which in hits:
            occurrences = target[i]
            occurrences.truth.append(which)
            around = merged[max(0, t - context_window) : t] + merged[t + 1 : t + 1 + context_window]
            occurrences.contexts.append(around)
            before = [OTHER if w == pairs[i].token else w for w in merged[max(0, t - window) : t]]
            occurrences.windows.append(before + merged[t : t + 1 + window])
    return training, tests, trains


# ------------------------------------------------------------------ the scores


def halves(n: int) -> tuple[np.ndarray, np.ndarray]:
    index = np.arange(n)
    return index[index % 2 == 0], index[index % 2 == 1]


def mapped(labels: np.ndarray, fit_labels: np.ndarray, fit_truth: np.ndarray) -> tuple[np.ndarray, int]:
    """Each of ``labels`` mapped to the word most ``fit_truth`` occurrences with that label
    are (the majority word where none has it), and that majority word."""
    majority = int(np.bincount(fit_truth, minlength=2).argmax())
    mapping = {}
    for label in np.unique(labels):
        chosen = fit_truth[fit_labels == label]
        mapping[int(label)] = int(np.bincount(chosen, minlength=2).argmax()) if len(chosen) else majority
    return np.array([mapping[int(x)] for x in labels], dtype=int), majority


def pair_score(labels: np.ndarray, truth: np.ndarray, fit_labels: np.ndarray | None = None,
               fit_truth: np.ndarray | None = None) -> dict[str, float]:
    """Accuracy of mapping ``labels`` (components, clusters) to the two words, the majority
    baseline, the gain and whether the pair is separated; ``correct`` per occurrence.  The
    mapping and the majority word are learnt on ``fit_labels`` and ``fit_truth`` (other
    occurrences of the pair, the training text's) when given, else cross-fitted on halves
    of the scored occurrences (the issue's protocol: with few occurrences of the minority
    word in a half, the mapping is often wrong)."""
    if fit_labels is not None and fit_truth is not None and len(fit_truth):
        predicted, majority = mapped(labels, fit_labels, fit_truth)
        correct, majority_right = predicted == truth, truth == majority
    else:
        correct = np.zeros(len(truth), dtype=bool)
        majority_right = np.zeros(len(truth), dtype=bool)
        for fit, test in (halves(len(truth)), halves(len(truth))[::-1]):
            predicted, majority = mapped(labels[test], labels[fit], truth[fit])
            correct[test] = predicted == truth[test]
            majority_right[test] = truth[test] == majority
    accuracy, baseline = float(correct.mean()), float(majority_right.mean())
    gain = accuracy - baseline
    possible = 1.0 - max(float(truth.mean()), 1.0 - float(truth.mean()))
    return {"n": len(truth), "accuracy": accuracy, "baseline": baseline, "gain": gain,
            "separated": float(possible > 0 and gain >= 0.5 * possible), "correct": correct}


def summary(scores: list[dict[str, Any]]) -> dict[str, float]:
    return {"separated %": 100 * float(np.mean([s["separated"] for s in scores])),
            "macro gain": 100 * float(np.mean([s["gain"] for s in scores])),
            "pairs": len(scores), "occurrences": int(sum(s["n"] for s in scores))}


def calibration(confidence: np.ndarray, correct: np.ndarray) -> dict[str, Any]:
    """Accuracy by the chosen component's posterior, and the expected calibration error."""
    rows = []
    error = 0.0
    for low, high in zip(BINS, BINS[1:], strict=False):
        inside = (confidence >= low) & (confidence < high)
        if inside.any():
            rows.append({"bin": f"{low:.2f}-{min(high, 1):.2f}", "n": int(inside.sum()),
                         "posterior": float(confidence[inside].mean()), "right": float(correct[inside].mean())})
            error += inside.sum() * abs(confidence[inside].mean() - correct[inside].mean())
    return {"bins": rows, "ece": float(error / max(len(correct), 1)),
            "mean posterior": float(confidence.mean()) if len(confidence) else float("nan"),
            "share >= 0.9": float((confidence >= 0.9).mean()) if len(confidence) else float("nan")}


def fitting_sample(occurrences: Occurrences, size: int) -> tuple[list[list[str]], np.ndarray]:
    """Up to ``size`` of a pair's training occurrences, evenly spread: windows and truth."""
    chosen = np.unique(np.linspace(0, len(occurrences.truth) - 1, min(size, len(occurrences.truth))).astype(int))
    return [occurrences.windows[i] for i in chosen], np.array(occurrences.truth)[chosen].astype(int)


def score_model(model, pairs: list[Pair], tests: list[Occurrences], trains: list[Occurrences] | None,
                **posterior: Any) -> dict[str, Any]:
    """The model's components on every held-out occurrence, through ``disambiguate_many``,
    mapped to the words on training occurrences (``trains``; None: on halves of the held-out)."""
    scores, confidences, rights, minority = [], [], [], []
    active = []
    for n, (pair, occurrences) in enumerate(zip(pairs, tests, strict=True)):
        truth = np.array(occurrences.truth)
        if pair.token not in model:
            continue
        shares = model.disambiguate_many(pair.token, occurrences.windows, **posterior)
        labels = shares.argmax(1)
        fit_labels = fit_truth = None
        if trains is not None:
            windows, fit_truth = fitting_sample(trains[n], FIT_OCCURRENCES)
            fit_labels = model.disambiguate_many(pair.token, windows, **posterior).argmax(1)
        score = pair_score(labels, truth, fit_labels, fit_truth)
        scores.append(score)
        confidences.append(shares.max(1))
        rights.append(score["correct"])
        used = np.sort(np.bincount(labels, minlength=shares.shape[1]) / len(labels))[::-1]
        minority.append(float(used[1]) if len(used) > 1 else 0.0)
        if model.usage is not None:
            active.append(int(model.usage.active[model.vocab.id(pair.token)].sum()))
    figures = summary(scores) | {"minority %": 100 * float(np.mean(minority))}
    if active:
        figures["2+ active %"] = 100 * float(np.mean(np.array(active) >= 2))
    if model.usage is not None and model.components_per_word > 1:
        seen = model.usage.counts.sum(-1) >= 50
        figures["words 2+ active %"] = 100 * float((model.usage.active[seen].sum(-1) >= 2).float().mean())
    figures["calibration"] = calibration(np.concatenate(confidences), np.concatenate(rights))
    figures["per pair"] = [{"pair": p.token, **{k: v for k, v in s.items() if k != "correct"}}
                           for p, s in zip(pairs, scores, strict=False)]
    return figures


def context_vectors(vectors: dict[str, np.ndarray], contexts: list[list[str]], dim: int) -> np.ndarray:
    out = np.zeros((len(contexts), dim), dtype=np.float32)
    for n, words in enumerate(contexts):
        known = [vectors[w] for w in words if w in vectors]
        if known:
            out[n] = np.mean(known, axis=0)
    return out


def score_references(gensim_model, tests: list[Occurrences], trains: list[Occurrences], seed: int,
                     mapping: str = "train", max_train: int = 4000) -> dict[str, dict[str, Any]]:
    """2-means and the supervised logistic regression on mean context vectors (module docstring)."""
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LogisticRegression

    words = gensim_model.vocab.words
    means = gensim_model.input.means[:, 0].numpy()
    vectors = {w: means[i] for i, w in enumerate(words)}
    dim = means.shape[1]
    rng = np.random.default_rng(seed)
    clustered, supervised = [], []
    for test, train in zip(tests, trains, strict=True):
        truth = np.array(test.truth)
        x = context_vectors(vectors, test.contexts, dim)
        chosen = rng.permutation(len(train.truth))[:max_train]
        train_x = context_vectors(vectors, [train.contexts[i] for i in chosen], dim)
        train_y = np.array(train.truth)[chosen]
        clusters = KMeans(2, n_init=10, random_state=seed).fit(x)
        fit = (clusters.predict(train_x[:FIT_OCCURRENCES]), train_y[:FIT_OCCURRENCES]) if mapping == "train" else ()
        clustered.append(pair_score(clusters.labels_, truth, *fit))
        if len(np.unique(train_y)) < 2:
            predicted = np.full(len(truth), train_y[0] if len(train_y) else 0)
        else:
            predicted = LogisticRegression(max_iter=2000).fit(train_x, train_y).predict(x)
        # its labels are the words: mapped onto themselves, against the training majority
        fit = (train_y, train_y) if mapping == "train" else ()
        supervised.append(pair_score(predicted, truth, *fit))
    return {"2-means (skip-gram contexts)": summary(clustered), "supervised (skip-gram contexts)": summary(supervised)}


# ------------------------------------------------------------------ the runs


def model_figures(model, pairs, tests, trains, posterior_rules: list[str]) -> dict[str, Any]:
    from senses import similarity_figures

    figures = similarity_figures(model)
    first = None
    for rule in posterior_rules:
        options = {} if rule == "default" else posterior_options(rule)
        scored = score_model(model, pairs, tests, trains, **options)
        if first is None:
            first = scored
            figures |= scored
        else:
            figures[f"calibration {rule}"] = scored["calibration"]
            figures[f"separated % {rule}"] = scored["separated %"]
            figures[f"macro gain {rule}"] = scored["macro gain"]
    return figures


def posterior_options(rule: str) -> dict[str, Any]:
    """``disambiguate_many``'s options for ``RULE[:TEMPERATURE]``; the product's temperature
    defaults to the queries' own (:data:`w2gm.senses.QUERY_TEMPERATURE`)."""
    from w2gm.senses import QUERY_TEMPERATURE

    name, _, temperature = rule.partition(":")
    return {"rule": name, "temperature": float(temperature) if temperature else QUERY_TEMPERATURE}


def print_table(rows: dict[str, list[dict[str, Any]]]) -> None:
    columns = ["separated %", "macro gain", "minority %", "2+ active %", "words 2+ active %", "sim sum", "AvgSim",
               "AvgSimC", "AvgSimC-AvgSim", "mean posterior", "ece", "train s"]
    print("\n| run | seeds | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    for name, runs in rows.items():
        cells = []
        for column in columns:
            values = [r.get(column, r.get("calibration", {}).get(column)) for r in runs]
            values = [v for v in values if v is not None]
            digits = 2 if column in ("mean posterior", "ece") else 1
            cells.append(f"{np.mean(values):.{digits}f} ± {np.std(values):.{digits}f}" if values else "–")
        print(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")


def print_calibration(name: str, figures: dict[str, Any]) -> None:
    table = figures.get("calibration")
    if table:
        cells = ", ".join(f"{b['bin']}: n {b['n']} right {b['right']:.2f}" for b in table["bins"])
        print(f"  [{name}] calibration (ECE {table['ece']:.3f}): {cells}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--tokens", type=int, help="use only the first N tokens")
    parser.add_argument("--line-tokens", type=int, default=100, help="cut longer lines into pieces of this many")
    parser.add_argument("--pairs", type=int, default=60)
    parser.add_argument("--pair-seed", type=int, default=1)
    parser.add_argument("--ranks", type=int, nargs=2, default=[300, 4000])
    parser.add_argument("--ratio", type=float, default=3.0, help="largest frequency ratio within a pair")
    parser.add_argument("--min-heldout", type=int, default=20, help="held-out occurrences a pair needs")
    parser.add_argument("--holdout", type=int, default=33, help="hold out one line in this many")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", nargs="*", default=["K=2", "K=1"], help=f"from {', '.join(VARIANTS)}")
    parser.add_argument("--set", nargs="*", default=[], metavar="OPTION=VALUE", help="training options for all")
    parser.add_argument("--posterior", nargs="+", default=["default"],
                        help="posterior rules of disambiguate_many to score, RULE[:TEMPERATURE] (the "
                        "product's temperature defaults to the queries' 5) or default (the first sets the table)")
    parser.add_argument("--mapping", choices=("train", "halves"), default="train",
                        help="map components to words on up to 400 training occurrences of the pair, or on halves "
                        "of the held-out ones (cross-fitted)")
    parser.add_argument("--references", action="store_true", help="gensim 2-means and supervised references")
    parser.add_argument("--context-window", type=int, default=5, help="the references' context words each side")
    parser.add_argument("--workers", type=int, default=2, help="gensim's worker threads")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--models", type=Path, help="save each trained model here, or load it if already there "
                        "(same corpus, pairs and options: the file name records only variant and seed)")
    args = parser.parse_args()
    for variant in args.variants:
        if variant not in VARIANTS:
            parser.error(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    if args.models is not None:
        args.models.mkdir(parents=True, exist_ok=True)
    extra = {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key] = json.loads(value)

    from senses import train_gensim

    import w2gm

    start = time.perf_counter()
    lines = read_lines(args.corpus, args.tokens, args.line_tokens)
    pairs = choose_pairs(lines, args.pairs, args.pair_seed, tuple(args.ranks), args.ratio, args.min_heldout,
                         args.holdout)
    training, tests, trains = merge(lines, pairs, args.holdout, 10, args.context_window)
    print(f"corpus: {sum(map(len, lines)):,} tokens in {len(lines):,} lines; {len(pairs)} pairs, "
          f"{sum(len(t.truth) for t in tests):,} held-out occurrences "
          f"(median {int(np.median([len(t.truth) for t in tests]))} a pair), read in "
          f"{time.perf_counter() - start:.1f} s", flush=True)
    print("pairs: " + ", ".join(p.token for p in pairs[:12]) + (", ..." if len(pairs) > 12 else ""), flush=True)
    rows: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        text = Path(scratch) / "training.txt"
        text.write_text("".join(" ".join(line) + "\n" for line in training))
        for seed in args.seeds:
            for variant in args.variants:
                options = {**VARIANTS[variant], **extra, "seed": seed, "device": args.device}
                saved = None if args.models is None else args.models / f"{variant}_seed{seed}.w2gm".replace(" ", "_")
                started = time.perf_counter()
                if saved is not None and saved.exists():
                    model = w2gm.load(saved)
                    seconds = float(model.training.get("seconds", 0.0))
                else:
                    model = w2gm.train(str(text), progress=False, output=saved, **options)
                    seconds = time.perf_counter() - started
                figures = model_figures(model, pairs, tests, trains if args.mapping == "train" else None,
                                        args.posterior) | {"train s": seconds}
                rows.setdefault(variant, []).append(figures)
                print(f"{variant} seed {seed}: " + ", ".join(
                    f"{k} {v:.1f}" for k, v in figures.items() if isinstance(v, float | int)), flush=True)
                print_calibration(variant, figures)
            if args.references:
                started = time.perf_counter()
                model = train_gensim(text, seed, args.workers)
                if model is not None:
                    gensim_seconds = time.perf_counter() - started
                    rows.setdefault("gensim skip-gram", []).append(
                        similarity_only(model) | {"train s": gensim_seconds})
                    for name, figures in score_references(model, tests, trains, seed, args.mapping).items():
                        rows.setdefault(name, []).append(figures)
                        print(f"{name} seed {seed}: separated {figures['separated %']:.1f} %, "
                              f"macro gain {figures['macro gain']:.1f}", flush=True)
    print_table(rows)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()},
                                         "pairs": [p.token for p in pairs], "runs": rows}, indent=1))


def similarity_only(model) -> dict[str, float]:
    from senses import similarity_figures

    return similarity_figures(model)


if __name__ == "__main__":
    main()
