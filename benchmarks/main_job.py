"""The README's main job, ``w2gm train -o sample.w2gm``, against gensim at the same settings,
on this machine, with where w2gm's time goes (issue 33).

    python benchmarks/main_job.py                       # K=2 and K=1, cold and warm cache, 3 rounds
    python benchmarks/main_job.py --runs 3 --variants K=2 --caches warm
    python benchmarks/main_job.py --w2gm-option negative_sharing=pair   # an option for every w2gm run

Each run is a process of its own, timed from its start to its exit (the wall a user waits):

* w2gm: ``w2gm train -o OUT`` at the defaults (``--preset auto``: on the bundled sample the
  tiny rule, K=2, D=50, window 10, 20 epochs, 5 negatives, subsampling 1e-4, min count 5,
  every core), as the command line runs it (``w2gm.cli.main``), with ``--components 1``
  for K=1.  "cold" gives numba an empty cache (``NUMBA_CACHE_DIR``), what a first run on a
  fresh install meets; "warm" one that an earlier run of this script filled.
* gensim: Word2Vec skip-gram with the same dimension, window, epochs, negatives,
  subsampling and min count, two workers (one run a round, against which K=1 and K=2
  are both measured: gensim has one vector a word), on the same tokens (the sample as w2gm's
  tokenizer splits it, written once beforehand in lines of 10,000 tokens): reading with
  its vocabulary scan, training and saving.

Rounds are interleaved (each round runs every variant once, in an order rotated by the
round) and medians over rounds are reported, with the load average before each run: the
machine may be shared.  w2gm's runs also report where the time went, from the run's own
clocks (``model.training``) and the worker's: start-up (interpreter and imports), reading,
building the tables and the probe, numba (loading or compiling the kernels), the training
spans, the progress probe (4,096 pairs scored each epoch, ``w2gm.training_progress``), the
split and re-tying between spans, the usage pass and saving.  WS-353 (Spearman x100, max
cosine) of every saved model is computed afterwards, untimed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

#: gensim's longest sentence; lines of this many tokens keep sentence ends rare.
LINE_TOKENS = 10_000
WS353 = "similarity/EN-WS-353-ALL.txt"
#: The tiny rule of w2gm.autopreset, which the bundled sample gets: what gensim is given.
SAME = {"dim": 50, "window": 10, "epochs": 20, "negatives": 5, "subsample": 1e-4, "min_count": 5}
PHASES = ("start-up", "reading", "tables and probe", "numba", "training spans", "probe", "split and re-tying",
          "usage pass", "saving", "other")


# ------------------------------------------------------------------ workers (one per process)


def w2gm_worker(argv: list[str], report: Path, tree: Path | None) -> None:
    """``w2gm`` with ``argv`` as the command line runs it (from ``tree``, another checkout,
    when given), timing imports and saving."""
    started = time.perf_counter()
    if tree is not None:
        sys.path.insert(0, str(tree))
    from w2gm import cli
    from w2gm.keyed import KeyedMixtures

    imported = time.perf_counter()
    timings: dict[str, float] = {}
    save = KeyedMixtures.save

    def timed_save(self: KeyedMixtures, *args: Any, **kwargs: Any) -> None:
        begun = time.perf_counter()
        save(self, *args, **kwargs)
        timings["saving"] = time.perf_counter() - begun

    KeyedMixtures.save = timed_save  # type: ignore[method-assign]
    code = cli.main(argv)
    finished = time.perf_counter()
    report.write_text(json.dumps({"code": code, "imports": imported - started, "command": finished - imported,
                                  "worker": finished - started, **timings}))


def gensim_worker(text: Path, output: Path, seed: int, threads: int) -> None:
    from gensim.models.word2vec import LineSentence, Word2Vec

    model = Word2Vec(LineSentence(str(text), max_sentence_length=LINE_TOKENS), vector_size=SAME["dim"],
                     window=SAME["window"], sample=SAME["subsample"], negative=SAME["negatives"], hs=0, sg=1,
                     min_count=SAME["min_count"], workers=threads, epochs=SAME["epochs"], seed=seed)
    model.save(str(output))


# ------------------------------------------------------------------ the driver


def tokenized_sample(path: Path) -> int:
    """The bundled sample as w2gm's default tokenizer splits it, in lines of LINE_TOKENS."""
    from w2gm.reading.files import sample_corpus_path
    from w2gm.reading.tokens import iter_token_blocks
    from w2gm.tokenize import token_splitter

    tokenize = token_splitter("words")
    tokens = [word for block in iter_token_blocks(sample_corpus_path()) for token in block
              for word in tokenize(token)]
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, len(tokens), LINE_TOKENS):
            out.write(" ".join(tokens[start:start + LINE_TOKENS]) + "\n")
    return len(tokens)


def run(command: list[str], environment: dict[str, str]) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds of the process and its children, load average before)."""
    load = os.getloadavg()[0]
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=environment)
    wall = time.perf_counter() - start
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stderr[-4000:]}")
    cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    return wall, cpu, load


def phases(wall: float, worker: dict[str, float], training: dict[str, Any]) -> dict[str, float]:
    """Where a w2gm run's wall time went."""
    session = training["session_seconds"]
    fit = training.get("fit_seconds", session + training["compile_seconds"])  # runs from before it was kept
    spans, probe = training["train_seconds"], training.get("probe_seconds", 0.0)  # no probe before issue 31
    numba = training["compile_seconds"]
    known = {
        "start-up": wall - worker["worker"] + worker["imports"],
        "reading": training["read_seconds"],
        "tables and probe": fit - session - numba,
        "numba": numba,
        "training spans": spans,
        "probe": probe,
        "split and re-tying": session - spans - probe,
        "usage pass": training["usage_seconds"],
        "saving": worker["saving"],
    }
    known["other"] = wall - sum(known.values())
    return known


def ws353_w2gm(path: Path) -> float:
    import w2gm
    from w2gm.evaluate.catalogue import bundled_data_dir

    return 100 * float(w2gm.load(path).evaluate_word_pairs(bundled_data_dir() / WS353)[1][0])


def ws353_gensim(path: Path) -> float:
    from gensim.models import Word2Vec

    from w2gm.evaluate.catalogue import bundled_data_dir

    return 100 * float(Word2Vec.load(str(path)).wv.evaluate_word_pairs(str(bundled_data_dir() / WS353))[1][0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--variants", nargs="+", default=["K=2", "K=1"], choices=["K=2", "K=1"])
    parser.add_argument("--caches", nargs="+", default=["cold", "warm"], choices=["cold", "warm"])
    parser.add_argument("--threads", type=int, default=2, help="gensim's workers (w2gm takes every core)")
    parser.add_argument("--w2gm-option", nargs="*", default=[], metavar="NAME=VALUE",
                        help="extra w2gm train options for every w2gm run, e.g. negative_sharing=pair")
    parser.add_argument("--json", type=Path, help="write every run's figures here")
    parser.add_argument("--w2gm-tree", type=Path, help="run w2gm from this checkout (e.g. an earlier commit's)")
    parser.add_argument("--worker", choices=["w2gm", "gensim"], help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--text", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--output", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=1, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args()
    if args.worker == "w2gm":
        w2gm_worker(rest, args.report, args.w2gm_tree)
        return
    if args.worker == "gensim":
        gensim_worker(args.text, args.output, args.seed, args.threads)
        return
    extra = [part for option in args.w2gm_option for part in
             ("--" + option.split("=", 1)[0].replace("_", "-"), option.split("=", 1)[1])]
    # gensim has no K: its one run a round is what both variants are measured against
    jobs = [("gensim", "K=1", "-")] + [("w2gm", variant, cache) for variant in args.variants for cache in args.caches]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="w2gm-main-job-") as tmp:
        text = Path(tmp) / "sample.txt"
        tokens = tokenized_sample(text)
        print(f"the bundled sample: {tokens:,} tokens written for gensim", file=sys.stderr)
        warm_cache = Path(tmp) / "numba-warm"
        for job in (j for j in jobs if j[2] == "warm"):  # fill the warm cache once, untimed
            environment = dict(os.environ, NUMBA_CACHE_DIR=str(warm_cache))
            run(w2gm_command(job[1], Path(tmp) / "fill.w2gm", Path(tmp) / "fill.json", extra, 1, args.w2gm_tree),
                environment)
        for round_ in range(args.runs):
            shift = round_ % len(jobs)
            for method, variant, cache in jobs[shift:] + jobs[:shift]:
                seed = round_ + 1
                output = Path(tmp) / f"{method}-{variant}-{cache}-{round_}"
                environment = dict(os.environ)
                if method == "gensim":
                    command = [sys.executable, __file__, "--worker", "gensim", "--text", str(text), "--output",
                               str(output), "--seed", str(seed), "--threads", str(args.threads)]
                else:
                    cold = Path(tmp) / f"numba-cold-{round_}-{variant}"
                    environment["NUMBA_CACHE_DIR"] = str(cold if cache == "cold" else warm_cache)
                    command = w2gm_command(variant, output, output.with_suffix(".json"), extra, seed, args.w2gm_tree)
                wall, cpu, load = run(command, environment)
                figures: dict[str, Any] = {"method": method, "variant": variant, "cache": cache, "round": round_,
                                           "wall": wall, "cpu": cpu, "load": load}
                if method == "w2gm":
                    import w2gm

                    training = w2gm.load(output).training
                    worker = json.loads(output.with_suffix(".json").read_text())
                    figures |= {"phases": phases(wall, worker, training), "ws353": ws353_w2gm(output),
                                "tokens_per_second": training["tokens_per_second"]}
                else:
                    figures["ws353"] = ws353_gensim(output)
                results.append(figures)
                print(f"  round {round_ + 1} {method:6s} {variant} {cache:4s} {wall:7.1f} s wall "
                      f"{cpu:7.1f} s CPU  load {load:5.2f}  WS-353 {figures['ws353']:.1f}", file=sys.stderr)
    report(results, args)


def w2gm_command(variant: str, output: Path, report_path: Path, extra: list[str], seed: int,
                 tree: Path | None) -> list[str]:
    components = ["--components", "1"] if variant == "K=1" else []
    checkout = ["--w2gm-tree", str(tree)] if tree is not None else []
    return [sys.executable, __file__, "--worker", "w2gm", "--report", str(report_path), *checkout, "train", "-o",
            str(output), "-q", "--seed", str(seed), *components, *extra]


def report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    def median(rows: list[dict[str, Any]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    loads = [r["load"] for r in results]
    print(f"\nThe main job on the bundled sample, medians of {args.runs} interleaved rounds; load average "
          f"{min(loads):.2f}-{max(loads):.2f} before the runs")
    print(f"{'run':24s} {'wall s':>8s} {'CPU s':>8s} {'WS-353':>7s} {'gensim / w2gm':>14s}")
    gensim = [r for r in results if r["method"] == "gensim"]
    print(f"{'gensim skip-gram':24s} {median(gensim, 'wall'):8.1f} {median(gensim, 'cpu'):8.1f} "
          f"{median(gensim, 'ws353'):7.1f}")
    for variant in args.variants:
        for cache in args.caches:
            rows = [r for r in results if r["method"] == "w2gm" and r["variant"] == variant and r["cache"] == cache]
            ratio = median(gensim, "wall") / median(rows, "wall")
            print(f"{'w2gm ' + variant + ', ' + cache + ' cache':24s} {median(rows, 'wall'):8.1f} "
                  f"{median(rows, 'cpu'):8.1f} {median(rows, 'ws353'):7.1f} {ratio:14.2f}")
    print("\nWhere w2gm's wall time went (seconds, medians)")
    columns = [(variant, cache) for variant in args.variants for cache in args.caches]
    print(f"{'phase':20s}" + "".join(f"{v + ' ' + c:>12s}" for v, c in columns))
    for phase in PHASES:
        cells = [statistics.median(r["phases"][phase] for r in results
                                   if r["method"] == "w2gm" and r["variant"] == v and r["cache"] == c)
                 for v, c in columns]
        print(f"{phase:20s}" + "".join(f"{cell:12.1f}" for cell in cells))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
