"""CPU training throughput of w2gm's engines against gensim's skip-gram on the same text
(issue 4: items 1, 2 and the CPU half of 5).

    python benchmarks/throughput.py                        # 2M tokens of text8_prefix, 3 rounds
    python benchmarks/throughput.py --runs 5 --methods gensim numba
    python benchmarks/throughput.py --quality              # WS-353 Spearman, one pass, 3 seeds
    python benchmarks/throughput.py --quality --preset small --epochs 10
    python benchmarks/throughput.py --end-to-end --corpus ../shared/data/corpus/gutenberg.txt.xz --runs 2

Methods, all at the paper's defaults (K = 2, D = 50, spherical, window 10, t = 1e-5, one
negative, Adagrad from 0.05 to 1e-5 over one pass):

* ``numba``   ``Trainer.fit`` with the numba engine (:mod:`w2gm.engines.hogwild`: sampling and
  training compiled together, Hogwild threads);
* ``torch``   ``Trainer.fit`` with the reference engine (autograd, batches of 4096 pairs);
* ``gensim``  Word2Vec skip-gram, dim 50, window 10, sample 1e-5, negative 1.

Raw tokens are the whitespace tokens of the text, before min-count and subsampling (what
gensim reports as raw words): every method reads the same ones, so the ratio of their
rates is the ratio of their training times.  Pairs are (word, context) pairs trained; for
gensim, which does not count them, the expectation (window + 1) per word left after
subsampling.  Only training is timed: reading and encoding the text, building gensim's
vocabulary and compiling the numba kernels (on a spare trainer) are not.

``--end-to-end`` times instead the whole way from the corpus file to a saved model, in a
fresh process each (interpreter start, imports, reading, gensim's vocabulary scan, numba's
compiling, training and saving all included): ``w2gm train`` at the paper's settings for
one epoch, with --threads and as many reading processes, against gensim's Word2Vec on a
LineSentence of the same file (which reads it twice: the vocabulary scan and the
training) with as many workers, saved with ``save``.  numba compiles afresh into an empty
cache unless --warm-numba, since a first run is what a user meets.

Every run is a fresh process, so its peak resident memory (interpreter and libraries
included) is its own.  The machine may be shared, so runs are interleaved: round r runs
each method once, in an order rotated by r, and medians over rounds are reported.  gensim
is imported from this interpreter when it has it, otherwise installed once with pip into
a virtual environment of its own under ~/.cache/w2gm-benchmark.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import venv
from pathlib import Path
from typing import Any

import numpy as np

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "corpus" / "text8_prefix.gz"
METHODS = ("gensim", "numba", "torch")
#: gensim's longest sentence; the text is written in lines of this many tokens so that
#: its sentence ends (where windows stop) are as rare as they can be
LINE_TOKENS = 10_000
GENSIM_VENV = Path.home() / ".cache" / "w2gm-benchmark" / "gensim-venv"
WS353 = "similarity/EN-WS-353-ALL.txt"


# ------------------------------------------------------------------ workers (one per process)


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def run_gensim(text: Path, threads: int, seed: int) -> dict[str, Any]:
    from gensim.models.word2vec import LineSentence, Word2Vec

    sentences = list(LineSentence(str(text), max_sentence_length=LINE_TOKENS))
    model = Word2Vec(
        vector_size=50, window=10, sample=1e-5, negative=1, hs=0, sg=1, min_count=5, workers=threads,
        epochs=1, seed=seed,
    )
    model.build_vocab(sentences)
    start = time.perf_counter()
    effective, raw = model.train(sentences, total_examples=len(sentences), epochs=1)
    seconds = time.perf_counter() - start
    # each kept word has on average 2 E[b] = window + 1 contexts, b uniform on 1..window
    return {"seconds": seconds, "raw_tokens": raw, "pairs": effective * (model.window + 1), "loss": None}


def run_gensim_file(corpus: Path, threads: int, seed: int, output: Path) -> None:
    """gensim from the corpus file to a saved model, vocabulary scan included."""
    from gensim.models.word2vec import LineSentence, Word2Vec

    model = Word2Vec(
        LineSentence(str(corpus)), vector_size=50, window=10, sample=1e-5, negative=1, hs=0, sg=1, min_count=5,
        workers=threads, epochs=1, seed=seed,
    )
    model.save(str(output))


def run_w2gm(args: argparse.Namespace) -> tuple[dict[str, Any], Any]:
    """Train with the worker's engine; returns the figures and the trained Trainer (w2gm is
    imported here: gensim's interpreter need not have it)."""
    import torch

    from w2gm.config import make_config
    from w2gm.reading import corpus
    from w2gm.trainer import Trainer

    config = make_config(args.preset, epochs=args.epochs, threads=args.threads, seed=args.seed, backend=args.worker)
    # numba's threads do the parallel work, and a pool of spinning OpenMP threads would
    # compete with them for the cores; the reference uses torch's threads, as ``w2gm train``
    torch.set_num_threads(1 if args.worker == "numba" else config.threads)
    with tempfile.TemporaryDirectory(prefix="w2gm-bench-") as workdir:
        encoded = corpus.encode([args.text], workdir, config.min_count)
        ids = np.asarray(encoded.ids)
        # compile the kernels (or load them from numba's cache) on a spare trainer, untimed
        spare = Trainer(encoded.vocab, config, torch.device("cpu"))
        spare.updater.train_span(torch.from_numpy(ids[:1000].astype(np.int64)), config.lr, config.lr, 0)
        trainer = Trainer(encoded.vocab, config, torch.device("cpu"))
        summary = trainer.fit(ids, progress=False)
    figures = {"seconds": summary["seconds"], "raw_tokens": encoded.raw_tokens * config.epochs,
               "pairs": summary["pairs"], "loss": summary["mean_loss"]}
    return figures, (trainer, summary)


def ws353_spearman(trainer: Any, summary: dict[str, Any]) -> float:
    """WS-353 Spearman (max cosine) of a trained Trainer's model."""
    from w2gm.evaluate.catalogue import bundled_data_dir

    model = trainer.model(summary)
    _, spearman, _ = model.evaluate_word_pairs(bundled_data_dir() / WS353, measure="max_cosine")
    return float(spearman[0])


def worker(args: argparse.Namespace) -> None:
    if args.end_to_end:
        run_gensim_file(args.text, args.threads, args.seed, args.output)
        return
    if args.worker == "gensim":
        figures = run_gensim(args.text, args.threads, args.seed)
    else:
        figures, (trainer, summary) = run_w2gm(args)
        if args.quality:
            figures["ws353"] = ws353_spearman(trainer, summary)
    print(json.dumps(figures | {"method": args.worker, "peak_rss_mib": peak_rss_mib()}))


# ------------------------------------------------------------------ the driver


def gensim_python() -> str:
    """An interpreter that has gensim: this one, or a virtual environment made for it."""
    probe = subprocess.run([sys.executable, "-c", "import gensim"], capture_output=True)
    if probe.returncode == 0:
        return sys.executable
    python = GENSIM_VENV / "bin" / "python"
    if not python.exists():
        print(f"gensim is not installed here; installing it into {GENSIM_VENV}", file=sys.stderr)
        venv.create(GENSIM_VENV, with_pip=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "gensim"], check=True)
    return str(python)


def write_text(corpus: Path, tokens: int | None, path: Path) -> int:
    """The first ``tokens`` tokens of ``corpus`` (all when None) as plain text; returns their count."""
    from w2gm.reading.tokens import iter_token_blocks

    written = 0
    with open(path, "w", encoding="utf-8") as out:
        pending: list[str] = []
        for block in iter_token_blocks(corpus):
            pending.extend(block[: None if tokens is None else tokens - written - len(pending)])
            while len(pending) >= LINE_TOKENS:
                out.write(" ".join(pending[:LINE_TOKENS]) + "\n")
                written += LINE_TOKENS
                pending = pending[LINE_TOKENS:]
            if tokens is not None and written + len(pending) >= tokens:
                break
        if pending:
            out.write(" ".join(pending) + "\n")
            written += len(pending)
    return written


def run_one(
    method: str, text: Path, threads: int, seed: int, quality: bool, preset: str = "paper", epochs: int = 1
) -> dict[str, Any]:
    python = gensim_python() if method == "gensim" else sys.executable
    command = [python, __file__, "--worker", method, "--text", str(text), "--threads", str(threads),
               "--seed", str(seed), "--preset", preset, "--epochs", str(epochs)] + (["--quality"] if quality else [])
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{method} run failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def median(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def throughput(args: argparse.Namespace, text: Path) -> None:
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in args.methods}
    for round_ in range(args.runs):
        order = args.methods[round_ % len(args.methods):] + args.methods[: round_ % len(args.methods)]
        for method in order:
            figures = run_one(method, text, args.threads, round_ + 1, quality=False)
            figures["tokens_per_s"] = figures["raw_tokens"] / figures["seconds"]
            figures["pairs_per_s"] = figures["pairs"] / figures["seconds"]
            results[method].append(figures)
            print(f"  round {round_ + 1} {method:12s} {figures['tokens_per_s']:>12,.0f} tokens/s "
                  f"{figures['pairs_per_s']:>12,.0f} pairs/s  {figures['seconds']:7.2f} s", file=sys.stderr)
    gensim_rate = median(results["gensim"], "tokens_per_s") if "gensim" in results else None
    print(f"\n{results[args.methods[0]][0]['raw_tokens']:,} raw tokens of {args.corpus.name}, "
          f"{args.threads} threads, medians of {args.runs} interleaved runs")
    print(f"{'method':12s} {'raw tokens/s':>14s} {'pairs/s':>14s} {'peak MiB':>9s} {'mean loss':>10s} "
          f"{'x gensim':>9s}")
    for method, runs in results.items():
        rate = median(runs, "tokens_per_s")
        loss = "" if runs[0]["loss"] is None else f"{median(runs, 'loss'):.4f}"
        ratio = "" if gensim_rate is None else f"{rate / gensim_rate:.3f}"
        pairs = median(runs, "pairs_per_s")
        estimated = "~" if method == "gensim" else " "
        print(f"{method:12s} {rate:>14,.0f} {estimated}{pairs:>13,.0f} {median(runs, 'peak_rss_mib'):>9.0f} "
              f"{loss:>10s} {ratio:>9s}")


def quality(args: argparse.Namespace, text: Path) -> None:
    methods = [m for m in args.methods if m != "gensim"]
    scores: dict[str, list[float]] = {m: [] for m in methods}
    for seed in range(1, args.seeds + 1):
        for method in methods:
            # the reference's result does not depend on its thread count, and one thread keeps
            # its OpenMP pool from spinning against other work on a shared machine
            threads = 1 if method == "torch" else args.threads
            figures = run_one(method, text, threads, seed, True, args.preset, args.epochs)
            scores[method].append(figures["ws353"])
            print(f"  seed {seed} {method:12s} WS-353 Spearman {figures['ws353']:.4f}", file=sys.stderr)
    print_scores(f"WS-353 Spearman (max cosine), preset {args.preset}, {args.epochs} epoch(s) over "
                 f"{args.corpus.name}, {args.seeds} seeds", scores)


def end_to_end(args: argparse.Namespace) -> None:
    """Wall seconds from the corpus file to a saved model, w2gm against gensim, interleaved rounds."""
    seconds: dict[str, list[float]] = {"gensim": [], "w2gm": []}
    for round_ in range(args.runs):
        for method in ("gensim", "w2gm") if round_ % 2 == 0 else ("w2gm", "gensim"):
            with tempfile.TemporaryDirectory(prefix="w2gm-end-to-end-") as tmp:
                environment = dict(os.environ)
                if not args.warm_numba:
                    environment["NUMBA_CACHE_DIR"] = str(Path(tmp) / "numba")
                if method == "gensim":
                    command = [gensim_python(), __file__, "--end-to-end", "--worker", "gensim", "--text",
                               str(args.corpus), "--threads", str(args.threads), "--seed", str(round_ + 1),
                               "--output", str(Path(tmp) / "model.gensim")]
                else:
                    command = [sys.executable, "-m", "w2gm", "train", str(args.corpus), "-o", str(Path(tmp) / "m.w2gm"),
                               "--preset", "paper", "--epochs", "1", "--threads", str(args.threads),
                               "--read-workers", str(args.threads), "--backend", "numba", "--seed", str(round_ + 1),
                               "-q"]
                start = time.perf_counter()
                done = subprocess.run(command, capture_output=True, text=True, env=environment)
                seconds[method].append(time.perf_counter() - start)
            if done.returncode != 0:
                raise SystemExit(f"{method} run failed:\n{done.stderr[-4000:]}")
            print(f"  round {round_ + 1} {method:7s} {seconds[method][-1]:7.1f} s  {done.stdout.strip()}",
                  file=sys.stderr)
    gensim, w2gm = statistics.median(seconds["gensim"]), statistics.median(seconds["w2gm"])
    numba = "numba's cache kept between runs" if args.warm_numba else "numba compiling afresh"
    print(f"\n{args.corpus.name} to a saved model, one epoch, {args.threads} threads, {numba}; "
          f"medians of {args.runs} interleaved runs; load average now {os.getloadavg()[0]:.2f}")
    print(f"gensim {gensim:7.1f} s\nw2gm   {w2gm:7.1f} s\nratio  {gensim / w2gm:7.3f}  (gensim's time / w2gm's)")


def print_scores(heading: str, scores: dict[str, list[float]]) -> None:
    """Each method's mean, standard deviation and scores over seeds, under ``heading``."""
    print(f"\n{heading}")
    for method, values in scores.items():
        spread = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{method:12s} mean {statistics.mean(values):.4f}  sd {spread:.4f}  "
              f"({', '.join(f'{v:.4f}' for v in values)})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="text to train on (plain, gz, bz2 or xz)")
    parser.add_argument("--tokens", type=int, default=2_000_000, help="raw token budget (throughput runs)")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--threads", type=int, default=2, help="threads (gensim workers) per method")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--quality", action="store_true",
                        help="instead: WS-353 Spearman of the w2gm methods on the whole corpus")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per method with --quality")
    parser.add_argument("--preset", default="paper", help="training preset with --quality (paper or small)")
    parser.add_argument("--epochs", type=int, default=1, help="passes over the corpus with --quality")
    parser.add_argument("--end-to-end", action="store_true",
                        help="instead: wall time from --corpus to a saved model, w2gm train against gensim")
    parser.add_argument("--warm-numba", action="store_true",
                        help="with --end-to-end: keep numba's compiled cache between runs")
    parser.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--text", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    if args.end_to_end:
        end_to_end(args)
        return
    with tempfile.TemporaryDirectory(prefix="w2gm-throughput-") as tmp:
        text = Path(tmp) / "text.txt"
        count = write_text(args.corpus, None if args.quality else args.tokens, text)
        print(f"{count:,} tokens of {args.corpus} in {text}", file=sys.stderr)
        (quality if args.quality else throughput)(args, text)


if __name__ == "__main__":
    main()
