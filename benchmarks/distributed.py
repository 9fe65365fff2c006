"""Throughput and quality of several ranks training one model (issues 7, 8 and 16), through torchrun.

    python benchmarks/distributed.py --ranks 1 2                                    # CPU, gloo
    python benchmarks/distributed.py --device cuda --ranks 1 2 --runs 3 --preset small \\
        --corpus /data/big.txt --json big.json                                    # GPUs, NCCL

Options this script does not know go to ``w2gm train``.  Each row is one ``torchrun
--standalone --nproc-per-node N -m w2gm train`` of the same options on the same corpus (a
text file or directory, ``.gz``/``.xz`` read as the CLI reads them); it prints, over the
training time of rank 0 (reading the text and compiling excluded):

* tokens/s and pairs/s of all ranks together, and the scaling efficiency
  ``rate(N) / (N * rate(1))`` with rate the pairs trained per second (1.0 is linear);
* where the time went: the share in the engine's spans, in merges (and, within them, the
  wait for the slowest rank), the rest (the per-span bookkeeping); the first span's seconds
  (a JIT engine compiles there) and the share of the vocabulary's rows the merges sent;
* quality: WS-353 and the sim sum, Spearman x100 (max cosine, OOV pairs skipped) summed
  over the 8 bundled similarity sets, as benchmarks/senses.py computes it.

With ``--runs R`` every setting runs R times, interleaved; rates and shares are medians,
quality is shown as median and [min, max] over the runs.  ``--json`` writes every run and
the summary.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import w2gm
from w2gm.evaluate import catalogue
from w2gm.evaluate.datasets import find_file, read_word_pairs
from w2gm.evaluate.similarity import evaluate_word_pairs

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "text8_prefix.gz"
QUALITY = ("ws353", "sim_sum")


def quality(model: w2gm.KeyedMixtures) -> dict[str, float]:
    root = catalogue.bundled_data_dir()
    scores = {name: 100 * evaluate_word_pairs(model, read_word_pairs(find_file(root / relative), name),
                                              ["max_cosine"]).spearman["max_cosine"]
              for name, relative in catalogue.SIMILARITY.items()}
    return {"ws353": scores["WS"], "sim_sum": sum(scores.values())}


def run(ranks: int, corpus: Path, folder: Path, options: list[str]) -> dict:
    output = folder / f"ranks{ranks}.w2gm"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}",
               "-m", "w2gm", "train", str(corpus), "-o", str(output), "-q", *options]
    env = {**os.environ, "NCCL_NVLS_ENABLE": "0"}  # the device notes: leave NVLink multicast off
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"ranks={ranks} failed:\n{done.stderr[-4000:]}")
    model = w2gm.load(output)
    t = model.training
    seconds = t["session_seconds"]
    rest = seconds - t["train_seconds"] - t["merge_seconds"]
    return {"ranks": ranks, "tokens_per_s": t["tokens"] / seconds, "pairs_per_s": t["pairs"] / seconds,
            "train_share": t["train_seconds"] / seconds, "merge_share": t["merge_seconds"] / seconds,
            "wait_share": t["merge_wait_seconds"] / seconds, "rest_share": rest / seconds,
            "first_span_s": t["first_span_seconds"], "merged_rows": t["merged_rows"], "merges": t["merges"],
            "seconds": seconds, **quality(model), "backend": t["backend"], "device": t["device"]}


def summarise(rows: dict[int, list[dict]]) -> dict[int, dict]:
    """Medians of every figure; for quality also the [min, max] over the runs."""
    summary = {}
    for n, runs in rows.items():
        figures = {k: statistics.median(r[k] for r in runs) for k, v in runs[0].items() if isinstance(v, float)}
        figures |= {f"{k}_range": [min(r[k] for r in runs), max(r[k] for r in runs)] for k in QUALITY}
        summary[n] = figures
    first = min(summary)
    for n, figures in summary.items():
        figures["efficiency"] = figures["pairs_per_s"] / (n * summary[first]["pairs_per_s"] / first)
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="text file or directory (default: %(default)s)")
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write every run and the summary here")
    args, options = parser.parse_known_args()
    if not args.corpus.exists():
        parser.error(f"--corpus {args.corpus}: no such file or directory")
    rows: dict[int, list[dict]] = {n: [] for n in args.ranks}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.runs):
            for n in args.ranks[r % len(args.ranks):] + args.ranks[: r % len(args.ranks)]:
                rows[n].append(run(n, args.corpus, Path(folder), options))
                print(json.dumps(rows[n][-1]), flush=True)
    summary = summarise(rows)
    first = rows[args.ranks[0]][0]
    print(f"\ncorpus {args.corpus}; options {' '.join(options) or '(defaults)'}; backend {first['backend']}, "
          f"device {first['device']}; medians of {args.runs} run(s), quality [min, max]")
    print(f"{'ranks':>5} {'tokens/s':>12} {'pairs/s':>12} {'eff.':>5} {'train %':>7} {'merge %':>7} {'wait %':>6} "
          f"{'rest %':>6} {'1st s':>5} {'rows %':>6} {'train s':>7} {'WS-353':>17} {'sim sum':>20}")
    for n, m in summary.items():
        ws, sim = m["ws353_range"], m["sim_sum_range"]
        print(f"{n:>5} {m['tokens_per_s']:>12,.0f} {m['pairs_per_s']:>12,.0f} {m['efficiency']:>5.2f} "
              f"{100 * m['train_share']:>7.1f} {100 * m['merge_share']:>7.1f} {100 * m['wait_share']:>6.1f} "
              f"{100 * m['rest_share']:>6.1f} {m['first_span_s']:>5.2f} {100 * m['merged_rows']:>6.1f} "
              f"{m['seconds']:>7.1f} {m['ws353']:>5.1f} [{ws[0]:.1f}, {ws[1]:.1f}] "
              f"{m['sim_sum']:>6.1f} [{sim[0]:.1f}, {sim[1]:.1f}]")
    if args.json:
        args.json.write_text(json.dumps({"corpus": str(args.corpus), "options": options, "runs": rows,
                                         "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
