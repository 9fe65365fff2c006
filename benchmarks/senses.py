"""Senses on real text: K=1 and K=2 w2gm models beside gensim's skip-gram, on one corpus.

    python benchmarks/senses.py CORPUS [--seeds 1 2 3] [--device cuda] [--preset small]
                                [--variants K=1 "K=2 split"] [--gensim] [--json OUT]

The corpus is read once (``--normalise`` first lowercases it and keeps only a-z words,
as the issue's measurements did); every variant is trained from the same ids with each
seed, through the project's Trainer, and evaluated with the same code:

* sim sum: Spearman x100 (max cosine, OOV pairs skipped) summed over the 8 bundled
  similarity sets (SL, WS, WS-S, WS-R, MEN, MC, RG, RW); sim centroid: the same with the
  cosine of the mixtures' means (``centroid_cosine``), the same as max cosine at K=1; sim
  elk: with the expected likelihood kernel (Eq. 2), the paper's other measure;
* SCWS: MaxSim, AvgSim, MaxSimC, AvgSimC (``w2gm.evaluate.scws``);
* junk: share of the words ranked 100-2100 with a component whose neighbours are
  incoherent, weights: mean largest weight, sib: mean cosine of a word's components
  (``w2gm.evaluate.coherence``);
* SemEval-2010 WSI (``w2gm.evaluate.wsi``; needs ``--wsi DIR``, by default the shared
  data's): V-measure, paired F-score, supervised mapping accuracy minus the most frequent
  sense (macro over words with >= 20 held-out contexts).

gensim's skip-gram (dim 50, window 10, 5 negatives, 5 epochs, sample 1e-4, min_count 5)
trains on the same normalised text, in a virtual environment of its own when this one has
no gensim (as benchmarks/throughput.py does); its vectors are scored as a K=1 model.  Where
gensim can be neither imported nor installed (no network), the row is left out, and the
output says so.  Each figure is printed as mean +- sd over seeds.

Ablation variants that are not training options live here as Trainer subclasses
(``anneal``: a variance floor that starts at 1 and shrinks to 0 over the first half of the
run; ``split+reset``: the split also restarts the means' Adagrad sums).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from throughput import gensim_python  # noqa: E402
from wsi_references import reference_rows  # noqa: E402

from w2gm.config import make_config  # noqa: E402
from w2gm.engines import resolve_device  # noqa: E402
from w2gm.evaluate import catalogue  # noqa: E402
from w2gm.evaluate.coherence import component_report  # noqa: E402
from w2gm.evaluate.datasets import find_file, read_scws, read_word_pairs  # noqa: E402
from w2gm.evaluate.scws import evaluate_scws  # noqa: E402
from w2gm.evaluate.similarity import evaluate_word_pairs  # noqa: E402
from w2gm.evaluate.wsi import evaluate_wsi, read_semeval2010  # noqa: E402
from w2gm.keyed import KeyedMixtures  # noqa: E402
from w2gm.mixture import MixtureTable  # noqa: E402
from w2gm.reading import corpus as corpus_module  # noqa: E402
from w2gm.reading.files import open_source  # noqa: E402
from w2gm.split import retie  # noqa: E402
from w2gm.trainer import Trainer  # noqa: E402
from w2gm.usage import Usage  # noqa: E402
from w2gm.usage_pass import count_winners  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
WORD = re.compile(r"[a-z]+")


class AnnealTrainer(Trainer):
    """Deterministic annealing by a variance floor: 1 at the start, 0 at half the run."""

    def after_span(self, tokens: int, total: int, data: Any) -> None:
        super().after_span(tokens, total, data)
        floor = max(0.0, 1.0 - 2.0 * tokens / total)
        if floor > 0:
            for table in self.tables.values():
                table.log_variances.clamp_(min=float(np.log(floor)))


class ResetTrainer(Trainer):
    """The split also restarts the means' Adagrad sums, so that the copies move apart at
    the step sizes of a new run."""

    def split(self, data: Any) -> None:
        super().split(data)
        for optimizer in self.optimizers.values():
            optimizer.sum_squares["means"].fill_(0.1)  # RowAdagrad's initial accumulator


class ReviveTrainer(Trainer):
    """Dead components revived: at a quarter, half and three quarters of the run, a usage
    pass over 8M tokens finds the input components that win under 2 % of their word's tokens
    (words seen at least 50 times in it), and each restarts as its word's most used component
    plus N(0, 0.05^2) noise per dimension, with that component's variance, logit and Adagrad
    sums: the split of split.py, only for the words whose other component died."""

    MOMENTS = (0.25, 0.5, 0.75)
    NOISE = 0.05

    def fit(self, ids: np.ndarray, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.corpus_ids, self.moments = ids, list(self.MOMENTS)
        return super().fit(ids, *args, **kwargs)

    def after_span(self, tokens: int, total: int, data: Any) -> None:
        super().after_span(tokens, total, data)
        if self.moments and tokens >= self.moments[0] * total and tokens < total:
            while self.moments and tokens >= self.moments[0] * total:
                self.moments.pop(0)
            self.revive(tokens)

    def revive(self, tokens: int) -> None:
        words = self.tables["input"]
        counts = count_winners(words, self.tables.get("output", words), self.corpus_ids, self.config.window,
                               self.device, max_tokens=1 << 23)
        dead = ~Usage.from_counts(counts, min_evidence=50).active
        rows, components = (t.to(self.device) for t in dead.nonzero(as_tuple=True))
        live = counts.argmax(-1).to(self.device)[rows]
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.config.seed * 1000 + tokens % 1000)
        state = self.optimizers["input"].sum_squares
        for name, tensor in words.parameters().items():
            for target in (tensor, state[name]):
                target[rows, components] = target[rows, live]
        noise = torch.randn(words.means[rows, components].shape, generator=generator, device=self.device)
        words.means[rows, components] += self.NOISE * noise
        print(f"    revived {len(rows):,} components at {tokens / 1e6:.0f}M tokens", flush=True)


class UnweightedSplitTrainer(Trainer):
    """The principal split with every context word counted alike (before the keep
    probabilities weighted them)."""

    def context_weights(self) -> torch.Tensor:
        return torch.ones_like(super().context_weights())


class SmallAccumulatorTrainer(Trainer):
    """Adagrad's sums start at 0.025 instead of 0.1.  In the tied phase each of two copies
    gets half the gradient, so at 0.025 its first steps are those of a K=1 model's at 0.1."""

    START = 0.025

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for optimizer in self.optimizers.values():
            for sums in optimizer.sum_squares.values():
                sums.fill_(self.START)


class LargeAccumulatorTrainer(SmallAccumulatorTrainer):
    """Adagrad's sums start at 0.4: a K=1 model then takes exactly the steps of K=2's tied
    copies at 0.1, (g/2) / sqrt(0.1 + sum (g/2)^2) = g / sqrt(0.4 + sum g^2)."""

    START = 0.4


class TiedContextTrainer(Trainer):
    """Only the word (input) side splits: each word's context (output) components stay tied
    for the whole run, one Gaussian per context word, as AdaGram keeps one output vector per
    word.  Every context word's distribution is then learnt from all its occurrences."""

    def after_span(self, tokens: int, total: int, data: Any) -> bool:
        super().after_span(tokens, total, data)  # the split, when it is due, comes first
        retie(self.component_tensors(("output",)))
        return True


class TiedTrainer(Trainer):
    """K=2's components tied for the whole run (never split, re-tied after every span): one
    Gaussian per word, as K=1 is, but trained through K=2's tables, offset and step sizes.
    Where this scores below K=1, the machinery costs the difference; where it matches K=1,
    whatever K=2 gains or loses comes from the split."""

    def split(self, data: Any) -> None:
        pass

    def after_span(self, tokens: int, total: int, data: Any) -> bool:
        super().after_span(tokens, total, data)
        retie(self.component_tensors())
        return True


#: Variants that are not training options: the Trainer subclass they train with, and
#: whether the weights are set from usage after training.
TRAINERS = {"K=2 anneal": AnnealTrainer, "K=2 split+reset": ResetTrainer, "K=2 nll revive": ReviveTrainer,
            "K=2 split unweighted": UnweightedSplitTrainer, "K=2 split acc.025": SmallAccumulatorTrainer,
            "K=1 acc.025": SmallAccumulatorTrainer, "K=2 split ctx1": TiedContextTrainer,
            "K=2 tied": TiedTrainer, "K=1 acc.4": LargeAccumulatorTrainer}
USAGE_WEIGHTS = {"K=2 split+usage", "K=2 sense+usage"}

VARIANTS: dict[str, dict[str, Any]] = {
    "K=1": {"components": 1},
    "K=2 A.2 init": {"components": 2, "component_spread": 1.0},
    "K=2 spread": {"components": 2},
    "K=2 split": {"components": 2, "split_at": 0.4},
    "K=2 split unweighted": {"components": 2, "split_at": 0.4},
    "K=2 split lr.05": {"components": 2, "split_at": 0.4, "lr": 0.05},
    "K=2 split 15ep": {"components": 2, "split_at": 0.4, "epochs": 15},
    "K=2 split 20ep": {"components": 2, "split_at": 0.4, "epochs": 20},
    "K=3 split": {"components": 3, "split_at": 0.4},
    "K=4 split": {"components": 4, "split_at": 0.4},
    "K=3 nosplit": {"components": 3, "split_at": 0.0},
    "K=3 split random": {"components": 3, "split_at": 0.4, "split_direction": "random"},
    "K=1 15ep": {"components": 1, "epochs": 15},
    "K=2 split random": {"components": 2, "split_at": 0.4, "split_direction": "random"},
    "K=2 split d.1": {"components": 2, "split_at": 0.4, "split_noise": 0.1},
    "K=2 split d.025": {"components": 2, "split_at": 0.4, "split_noise": 0.025},
    "K=2 split d.0125": {"components": 2, "split_at": 0.4, "split_noise": 0.0125},
    "K=2 split .2": {"components": 2, "split_at": 0.2},
    "K=2 split .6": {"components": 2, "split_at": 0.6},
    "K=2 split+reset": {"components": 2, "split_at": 0.4},
    "K=2 anneal": {"components": 2},
    "K=2 split+usage": {"components": 2, "split_at": 0.4},
    "K=2 split mc100": {"components": 2, "split_at": 0.4, "split_min_count": 100},
    "K=2 split mc1000": {"components": 2, "split_at": 0.4, "split_min_count": 1000},
    "K=2 split acc.025": {"components": 2, "split_at": 0.4},
    "K=2 split ctx1": {"components": 2, "split_at": 0.4},
    "K=2 tied": {"components": 2, "split_at": 0.4},
    "K=1 acc.025": {"components": 1},
    "K=1 acc.4": {"components": 1},
    "K=2 sense": {"components": 2, "objective": "sense"},
    "K=2 sense A.2 init": {"components": 2, "objective": "sense", "component_spread": 1.0},
    "K=2 sense split": {"components": 2, "objective": "sense", "split_at": 0.4},
    "K=2 sense split .2": {"components": 2, "objective": "sense", "split_at": 0.2},
    "K=2 sense+usage": {"components": 2, "objective": "sense"},
    "K=2 sense lr.05": {"components": 2, "objective": "sense", "lr": 0.05},
    "K=2 sense split .7": {"components": 2, "objective": "sense", "split_at": 0.7},
    "K=2 sense split .85": {"components": 2, "objective": "sense", "split_at": 0.85},
    "K=2 sense split lr.05": {"components": 2, "objective": "sense", "split_at": 0.4, "lr": 0.05},
    "K=2 sense split mc1000": {"components": 2, "objective": "sense", "split_at": 0.4, "split_min_count": 1000},
    "K=2 split .7": {"components": 2, "split_at": 0.7},
    "K=1 lr.05": {"components": 1, "lr": 0.05},
    "K=2 sense split n.005": {"components": 2, "objective": "sense", "split_at": 0.4, "split_noise": 0.005},
    "K=2 sense split n.001": {"components": 2, "objective": "sense", "split_at": 0.7, "split_noise": 0.001},
    "K=2 split mc100 n.005": {"components": 2, "split_at": 0.4, "split_min_count": 100, "split_noise": 0.005},
    # the likelihood objective, in which the mixture weights get a gradient (w2gm/objective.py)
    "K=2 nll": {"components": 2, "objective": "nll"},
    "K=2 nll split": {"components": 2, "objective": "nll", "split_at": 0.4},
    "K=1 nll": {"components": 1, "objective": "nll"},
    # the small preset before it took five negatives
    "K=2 nll neg1": {"components": 2, "objective": "nll", "negatives": 1},
    "K=1 nll neg1": {"components": 1, "objective": "nll", "negatives": 1},
    "K=2 nll revive": {"components": 2, "objective": "nll"},
}


def normalised_copy(path: Path, directory: Path) -> Path:
    """The text lowercased, a-z words only, one line per input line."""
    target = directory / "normalised.txt"
    with open_source(path) as opened, open(target, "w") as out:  # gzip, bzip2 and xz recognised by content
        source = io.TextIOWrapper(opened.text, encoding="utf-8", errors="replace")
        for line in source:
            words = WORD.findall(line.lower())
            if words:
                out.write(" ".join(words) + "\n")
    return target


def weights_from_usage(model: KeyedMixtures) -> None:
    """Mixture weights from usage (AdaGram's sense probabilities): each component's share
    of its word's tokens in the usage pass, with one pseudo-count per component."""
    counts = model.usage.counts.double() + 1.0
    model.input.logits.copy_((counts / counts.sum(-1, keepdim=True)).log().float())


def evaluate(model: KeyedMixtures, scws_items: list, wsi_tasks: list | None) -> dict[str, float]:
    root = catalogue.bundled_data_dir()
    figures: dict[str, float] = {}
    sets = [read_word_pairs(find_file(root / relative), name) for name, relative in catalogue.SIMILARITY.items()]
    for data in sets:
        spearman = evaluate_word_pairs(model, data, ["max_cosine", "centroid_cosine", "elk"]).spearman
        figures[data.name] = 100 * spearman["max_cosine"]
        figures[f"{data.name} centroid"] = 100 * spearman["centroid_cosine"]
        figures[f"{data.name} elk"] = 100 * spearman["elk"]
    figures["sim sum"] = sum(figures[data.name] for data in sets)
    figures["sim centroid"] = sum(figures[f"{data.name} centroid"] for data in sets)
    figures["sim elk"] = sum(figures[f"{data.name} elk"] for data in sets)
    everything = model.all_components()
    figures["sim all"] = sum(
        100 * evaluate_word_pairs(everything, data, ["max_cosine"]).spearman["max_cosine"] for data in sets)
    scws = evaluate_scws(model, scws_items, window=10)
    figures |= {name: 100 * value for name, value in scws.spearman.items()}
    frequent = slice(100, 2100)
    figures["mean norm"] = float(model.input.means[frequent].norm(dim=-1).mean())
    figures["var"] = float(model.input.log_variances[frequent].exp().mean())
    if model.components_per_word > 1:
        report = component_report(model)
        figures |= {"junk %": 100 * report.junk_share, "junk act %": 100 * report.active_junk_share,
                    "2 act %": 100 * report.several_active, "max w": report.max_weight,
                    "sib cos": report.sibling_cosine}
    if wsi_tasks is not None:
        wsi = evaluate_wsi(model, wsi_tasks, window=10)
        figures |= {"V": 100 * wsi.v_measure, "pF": 100 * wsi.paired_f,
                    "sup-MFS": 100 * (wsi.supervised - wsi.mfs), "comps": wsi.components_used}
    return figures


def similarity_figures(model: KeyedMixtures) -> dict[str, float]:
    """The similarity sum (max cosine, Spearman x100 summed over the bundled sets) and SCWS's
    four scores with the difference AvgSimC - AvgSim, for benchmarks that need only these."""
    root = catalogue.bundled_data_dir()
    figures = {"sim sum": sum(
        100 * evaluate_word_pairs(model, read_word_pairs(find_file(root / relative), name), ["max_cosine"])
        .spearman["max_cosine"] for name, relative in catalogue.SIMILARITY.items())}
    scws = evaluate_scws(model, read_scws(find_file(root / catalogue.SCWS)), window=10)
    figures |= {name: 100 * value for name, value in scws.spearman.items()}
    if "AvgSimC" in figures:
        figures["AvgSimC-AvgSim"] = figures["AvgSimC"] - figures["AvgSim"]
    return figures


def show_neighbours(model: KeyedMixtures, variant: str, words: list[str]) -> None:
    shares = model.usage_shares() if model.usage is not None else None
    for word in (w for w in words if w in model):
        i = model.vocab.id(word)
        for k in range(model.components_per_word):
            key = f"{word}:{k}"
            state = "" if model.usage is None or model.usage.active[i, k] else " (inactive)"
            share = "" if shares is None else f" usage {float(shares[i, k]):.2f}"
            near = ", ".join(n for n, _ in model.all_components().most_similar(key, topn=8))
            print(f"  [{variant}] {key}{share}{state}: {near}", flush=True)


def train_w2gm(encoded, variant: str, preset: str, seed: int, device: torch.device, extra: dict) -> KeyedMixtures:
    options = {**VARIANTS[variant], **extra, "seed": seed, "device": str(device)}
    config = make_config(preset, **options)
    trainer_class = TRAINERS.get(variant, Trainer)
    trainer = trainer_class(encoded.vocab, config, device)
    summary = trainer.fit(encoded.ids, progress=False)
    model = trainer.model(summary)
    model.usage = Usage.from_counts(count_winners(
        trainer.tables["input"], trainer.tables.get("output", trainer.tables["input"]), encoded.ids, config.window,
        device))
    if variant in USAGE_WEIGHTS:
        weights_from_usage(model)
    return model


#: gensim's run, in whichever interpreter has gensim (throughput.gensim_python): the vectors,
#: words and counts come back in an .npz file.
GENSIM_SCRIPT = """
import sys, numpy as np
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence
text, seed, workers, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
w2v = Word2Vec(LineSentence(text), sg=1, vector_size=50, window=10, negative=5, epochs=5, sample=1e-4,
               min_count=5, workers=workers, seed=seed)
words = list(w2v.wv.index_to_key)
np.savez(out, vectors=w2v.wv.vectors, words=np.array(words),
         counts=np.array([w2v.wv.get_vecattr(w, "count") for w in words]))
"""


def train_gensim(text: Path, seed: int, workers: int) -> KeyedMixtures | None:
    """gensim's skip-gram on ``text`` as a K=1 model; None, with a line saying why, when
    gensim is neither installed nor installable here (no network)."""
    from w2gm.vocab import Vocabulary

    try:
        python = gensim_python()
        with tempfile.TemporaryDirectory() as scratch:
            out = Path(scratch) / "vectors.npz"
            subprocess.run([python, "-c", GENSIM_SCRIPT, str(text), str(seed), str(workers), str(out)], check=True)
            saved = np.load(out)
            words, counts, vectors = list(saved["words"]), saved["counts"], saved["vectors"]
    except (OSError, subprocess.CalledProcessError) as error:
        print(f"gensim's skip-gram left out: gensim could not be run or installed here ({error})", flush=True)
        return None
    vocab = Vocabulary([str(w) for w in words], counts)
    means = torch.as_tensor(vectors, dtype=torch.float32).unsqueeze(1)
    table = MixtureTable(means, torch.zeros(len(words), 1, 1), torch.zeros(len(words), 1))
    return KeyedMixtures(vocab, table)


def summarise(rows: dict[str, list[dict[str, float]]]) -> None:
    columns = ["sim sum", "sim all", "sim centroid", "sim elk", "WS", "RW", "RW centroid", "mean norm", "MaxSim",
               "AvgSim", "MaxSimC", "AvgSimC", "junk %", "junk act %", "2 act %", "max w", "sib cos", "V", "pF",
               "sup-MFS", "comps"]
    print("\n| run | seeds | " + " | ".join(columns) + " |")
    print("|---|---:|" + "---:|" * len(columns))
    for name, runs in rows.items():
        cells = []
        for column in columns:
            values = [r[column] for r in runs if column in r]
            cells.append(f"{np.mean(values):.1f} ± {np.std(values):.1f}" if values else "–")
        print(f"| {name} | {len(runs)} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--normalise", action="store_true", help="lowercase and keep a-z words first")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--variants", nargs="+", default=["K=1", "K=2 spread", "K=2 split"], choices=list(VARIANTS))
    parser.add_argument("--preset", default="small")
    parser.add_argument("--set", nargs="*", default=[], metavar="OPTION=VALUE", help="training options for all")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--gensim", action="store_true", help="train gensim's skip-gram too")
    parser.add_argument("--workers", type=int, default=2, help="gensim's worker threads")
    parser.add_argument("--wsi", type=Path, default=SHARED / "wsd" / "semeval2010")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--show", nargs="*", default=["rock", "bank", "spring", "light", "bass", "club"],
                        help="words whose components' neighbours are printed for the first seed")
    args = parser.parse_args()
    extra = {}
    for item in args.set:
        key, _, value = item.partition("=")
        extra[key] = json.loads(value)
    device = resolve_device(args.device)
    scws_items = read_scws(find_file(catalogue.bundled_data_dir() / catalogue.SCWS))
    wsi_tasks = read_semeval2010(args.wsi) if args.wsi.is_dir() else None
    rows: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        text = normalised_copy(args.corpus, Path(scratch)) if args.normalise else args.corpus
        start = time.perf_counter()
        encoded = corpus_module.encode([text], scratch, min_count=5)
        print(f"corpus: {encoded.raw_tokens:,} tokens, {len(encoded.vocab):,} words, read in "
              f"{time.perf_counter() - start:.1f} s", flush=True)
        for seed in args.seeds:
            for variant in args.variants:
                start = time.perf_counter()
                model = train_w2gm(encoded, variant, args.preset, seed, device, extra)
                seconds = time.perf_counter() - start
                figures = evaluate(model, scws_items, wsi_tasks) | {"train s": seconds}
                if seed == args.seeds[0]:
                    show_neighbours(model, variant, args.show)
                rows.setdefault(variant, []).append(figures)
                print(f"{variant} seed {seed}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()), flush=True)
            if args.gensim:
                start = time.perf_counter()
                model = train_gensim(text, seed, args.workers)
                if model is not None:
                    figures = evaluate(model, scws_items, wsi_tasks) | {"train s": time.perf_counter() - start}
                    rows.setdefault("gensim skip-gram", []).append(figures)
                    if wsi_tasks is not None:
                        for name, reference in reference_rows(model, wsi_tasks, 10, seed).items():
                            rows.setdefault(name, []).append(reference)
                    print(f"gensim seed {seed}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()),
                          flush=True)
    summarise(rows)
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": rows}, indent=1))


if __name__ == "__main__":
    main()
