"""Throughput of several ranks training one model (issues 7 and 8), through torchrun.

    python benchmarks/distributed.py --ranks 1 2                           # CPU, gloo
    python benchmarks/distributed.py --device cuda --ranks 1 2 4 8         # GPUs, NCCL

Each row is one ``torchrun --standalone --nproc-per-node N -m w2gm train`` of the same
options on the same corpus; it prints corpus tokens/s and pairs/s over the training time
(reading the text excluded), the share of that time spent merging the ranks' models, the
scaling efficiency and the WS-353 Spearman of the model.

    efficiency(N) = rate(N) / (N * rate(1))

with rate the pairs trained per second by all ranks together: 1.0 is perfect linear
scaling.  With ``--runs R`` every setting runs R times, interleaved, and medians are shown.
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

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "text8_prefix.gz"
WS353 = Path(w2gm.__file__).resolve().parent / "data" / "eval" / "similarity" / "EN-WS-353-ALL.txt"


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
    _, (spearman, _), _ = model.evaluate_word_pairs(WS353)
    seconds = t["session_seconds"]
    return {"ranks": ranks, "tokens_per_s": t["tokens"] / seconds, "pairs_per_s": t["pairs"] / seconds,
            "merge_share": t["merge_seconds"] / seconds, "seconds": seconds, "ws353": 100 * spearman,
            "backend": t["backend"], "device": t["device"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--ranks", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args, options = parser.parse_known_args()
    rows: dict[int, list[dict]] = {n: [] for n in args.ranks}
    with tempfile.TemporaryDirectory() as folder:
        for r in range(args.runs):
            for n in args.ranks[r % len(args.ranks):] + args.ranks[: r % len(args.ranks)]:
                rows[n].append(run(n, args.corpus, Path(folder), options))
                print(json.dumps(rows[n][-1]), flush=True)
    medians = {n: {k: statistics.median(row[k] for row in rs) for k in rs[0] if isinstance(rs[0][k], float)}
               for n, rs in rows.items()}
    base = medians[args.ranks[0]]["pairs_per_s"] / args.ranks[0]
    first = rows[args.ranks[0]][0]
    print(f"\ncorpus {args.corpus.name}; options {' '.join(options) or '(defaults)'}; backend {first['backend']}, "
          f"device {first['device']}; medians of {args.runs} run(s)")
    print(f"{'ranks':>5} {'tokens/s':>12} {'pairs/s':>12} {'efficiency':>10} {'merge %':>8} {'train s':>8} "
          f"{'WS-353':>7}")
    for n, m in medians.items():
        print(f"{n:>5} {m['tokens_per_s']:>12,.0f} {m['pairs_per_s']:>12,.0f} {m['pairs_per_s'] / (n * base):>10.2f} "
              f"{100 * m['merge_share']:>8.1f} {m['seconds']:>8.1f} {m['ws353']:>7.1f}")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
