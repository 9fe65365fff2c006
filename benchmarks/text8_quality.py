"""Quality and speed on the text8 prefix: w2gm (paper and small presets) beside gensim's
skip-gram, trained in the same run on the same corpus, each in its own process.

    python benchmarks/text8_quality.py [--corpus PATH] [--threads 2] [--device cpu]

Prints, per run: corpus tokens/s, wall time, peak resident memory and WS-353 Spearman x100
(max cosine for w2gm, cosine for gensim; OOV pairs skipped), then ratios to gensim.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "text8_prefix.gz"
WS353 = Path(__file__).resolve().parents[1] / "w2gm" / "data" / "eval" / "similarity" / "EN-WS-353-ALL.txt"


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_w2gm(corpus: str, preset: str, components: int, threads: int, device: str) -> dict:
    import w2gm

    start = time.perf_counter()
    model = w2gm.train(corpus, preset=preset, components=components, threads=threads, device=device)
    wall = time.perf_counter() - start
    _, (spearman, _), oov = model.evaluate_word_pairs(WS353, measure="max_cosine")
    return {
        "tokens_per_s": model.training["tokens"] / model.training["seconds"],
        "wall_s": wall,
        "ws353": 100 * spearman,
        "oov_percent": oov,
        "epochs": model.config["epochs"],
    }


def run_gensim(corpus: str, threads: int) -> dict:
    import gzip
    import tempfile

    from gensim.models import Word2Vec
    from gensim.models.word2vec import Text8Corpus
    from scipy.stats import spearmanr

    with tempfile.NamedTemporaryFile("wb", suffix=".txt") as plain:
        with gzip.open(corpus, "rb") as source:
            plain.write(source.read())
        plain.flush()
        sentences = list(Text8Corpus(plain.name))
    tokens = sum(len(s) for s in sentences)
    start = time.perf_counter()
    model = Word2Vec(
        sentences, vector_size=50, window=10, negative=5, sg=1, epochs=5, min_count=5,
        sample=1e-5, workers=threads, seed=1,
    )
    wall = time.perf_counter() - start
    gold, scores = [], []
    for line in WS353.read_text().splitlines():
        a, b, score = line.split("\t")
        if a in model.wv and b in model.wv:
            gold.append(float(score))
            scores.append(model.wv.similarity(a, b))
    return {"tokens_per_s": tokens * 5 / wall, "wall_s": wall, "ws353": 100 * spearmanr(gold, scores).statistic,
            "oov_percent": 100 * (1 - len(gold) / 353), "epochs": 5}


def child(job: dict) -> None:
    if job["kind"] == "gensim":
        result = run_gensim(job["corpus"], job["threads"])
    else:
        result = run_w2gm(job["corpus"], job["preset"], job["components"], job["threads"], job["device"])
    result["peak_mb"] = peak_mb()
    print(json.dumps(result))


def ensure_gensim() -> None:
    if importlib.util.find_spec("gensim") is None:
        print("installing gensim for the comparison ...", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", "gensim"], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", default=str(DEFAULT_CORPUS))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.job:
        child(json.loads(args.job))
        return
    ensure_gensim()
    jobs = {
        "gensim skip-gram (5 neg, 5 ep)": {"kind": "gensim"},
        "w2gm K=2 preset paper": {"kind": "w2gm", "preset": "paper", "components": 2},
        "w2gm K=2 preset small": {"kind": "w2gm", "preset": "small", "components": 2},
        "w2gm K=1 preset small": {"kind": "w2gm", "preset": "small", "components": 1},
    }
    results = {}
    print(f"corpus {args.corpus}, threads {args.threads}, device {args.device}")
    print(f"{'run':34} {'epochs':>6} {'tokens/s':>10} {'wall s':>8} {'peak MB':>8} {'WS-353':>7} {'OOV %':>6}")
    for name, job in jobs.items():
        job |= {"corpus": args.corpus, "threads": args.threads, "device": args.device}
        out = subprocess.run([sys.executable, __file__, "--job", json.dumps(job)], capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"{name} failed:\n{out.stderr}")
        r = results[name] = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"{name:34} {r['epochs']:>6} {r['tokens_per_s']:>10,.0f} {r['wall_s']:>8.1f} {r['peak_mb']:>8.0f} "
              f"{r['ws353']:>7.1f} {r['oov_percent']:>6.1f}", flush=True)
    base = results["gensim skip-gram (5 neg, 5 ep)"]
    for name, r in results.items():
        if name.startswith("w2gm"):
            print(f"{name}: speed {r['tokens_per_s'] / base['tokens_per_s']:.3f}x gensim, "
                  f"WS-353 {r['ws353'] - base['ws353']:+.1f} points")


if __name__ == "__main__":
    main()
