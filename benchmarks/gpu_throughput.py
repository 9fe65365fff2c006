"""GPU training throughput of the fused Triton path, against the HBM bandwidth bound and
the torch reference path (issue 4: item 3 and the GPU part of item 5).

    python benchmarks/gpu_throughput.py                     # text8_prefix repeated to ~2^24 tokens, 3 runs
    python benchmarks/gpu_throughput.py --settings small    # the same at the small preset's objective and negatives
    python benchmarks/gpu_throughput.py --sweep             # first time the kernel's block and warps choices
    python benchmarks/gpu_throughput.py --quality --preset small --seeds 3
    python benchmarks/gpu_throughput.py --scaling           # epoch time as corpus, K and D grow

Throughput runs use the paper's defaults (K = 2, D = 50, spherical, window 10, t = 1e-5,
one negative, Adagrad; ``--settings`` another preset's) on one GPU, with the corpus ids
resident there.  A run is one ``TritonUpdater.train_span`` over the whole (repeated)
corpus, timed in its two parts: drawing the pairs and negatives (PairSampler's torch ops on
the GPU) and the fused kernel.  Successive runs continue one pass's learning-rate schedule.  Raw tokens are the
text's whitespace tokens before min-count and subsampling, as in benchmarks/throughput.py.

The bandwidth bound: a pair must at least read and write the rows it uses (word, context
and negatives), each with its parameters (K D means, K C log variances, K logits, float32)
and their Adagrad sums, so

    bytes per pair = (2 + negatives) rows x (K D + K C + K) x 4 B x 2 (parameter, sum) x 2 (read, write)

(4,992 B at the defaults; the pair's ids are not counted).  The copy bandwidth is that of
a 1 GiB device-to-device ``copy_`` in the same run, counting the bytes read and written.
The fraction is bytes per pair x pairs/s / copy bandwidth.  Frequent rows are served from
L2, so a kernel can in principle exceed 1.

The torch reference path is ``Trainer.fit`` with ``backend="torch"`` (autograd, batches of
4096 pairs) on the first ``--reference-tokens`` ids of the corpus, interleaved with the
Triton runs.

``--quality`` trains each seed with ``Trainer.fit`` and each backend, triton and torch, on
the whole corpus (a process each, all at once: the reference path leaves the GPU mostly
idle) and prints WS-353 Spearman (max cosine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from throughput import CORPUS, print_scores, ws353_spearman

from w2gm.config import TrainConfig, make_config
from w2gm.engines.triton_update import DEFAULT_BLOCK, TritonUpdater
from w2gm.reading import corpus
from w2gm.trainer import Trainer, learning_rate

DEVICE = torch.device("cuda")
#: (pairs per program, warps per program) tried by --sweep
SWEEP = ((1, 1), (1, 2), (2, 1), (2, 2), (4, 2), (4, 4), (8, 4), (8, 8))


def timed(function: Any, *args: Any) -> tuple[Any, float]:
    """``function(*args)`` and its wall time, the GPU synchronised before and after."""
    torch.cuda.synchronize()
    start = time.perf_counter()
    result = function(*args)
    torch.cuda.synchronize()
    return result, time.perf_counter() - start


def copy_bandwidth(repeats: int = 10) -> float:
    """Bytes read plus bytes written per second by a 1 GiB device-to-device copy (median)."""
    source = torch.ones(1 << 28, device=DEVICE)
    target = torch.empty_like(source)
    target.copy_(source)
    seconds = [timed(target.copy_, source)[1] for _ in range(repeats)]
    return 2 * source.nbytes / statistics.median(seconds)


def bytes_per_pair(config: TrainConfig) -> int:
    columns = 1 if config.covariance == "spherical" else config.dim
    row = config.components * (config.dim + columns + 1) * 4
    return (2 + config.negatives) * row * 2 * 2


def encode(path: Path, workdir: str, config: TrainConfig) -> corpus.EncodedCorpus:
    return corpus.encode([path], workdir, config.min_count)


def sweep(trainer: Trainer, span: torch.Tensor) -> None:
    """pairs/s of the kernel alone for each SWEEP choice, on the same pairs and, with a rate
    of 0, the same parameters (every hinge of a fresh model is active: the most work).  The
    Adagrad sums still grow: ``trainer`` is spent."""
    pairs = TritonUpdater.from_trainer(trainer).draw(span, seed=0)
    print(f"kernel alone on {len(pairs[0]):,} pairs, rate 0 (medians of 3):")
    for block, warps in SWEEP:
        updater = TritonUpdater.from_trainer(trainer, block=block, warps=warps)
        updater.update(*(p[:100_000] for p in pairs), 0.0, 0.0)  # compile
        seconds = statistics.median(timed(updater.update, *pairs, 0.0, 0.0)[1] for _ in range(3))
        print(f"  block {block:3d} warps {warps}: {len(pairs[0]) / seconds:>14,.0f} pairs/s")


def throughput(args: argparse.Namespace) -> None:
    config = make_config(args.settings, device=DEVICE.type, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="w2gm-gpu-") as workdir:
        encoded = encode(args.corpus, workdir, config)
        ids = np.array(encoded.ids)
        repeats = max(1, round(args.tokens / len(ids)))
        span = torch.from_numpy(ids).to(DEVICE).repeat(repeats)
        raw_tokens = encoded.raw_tokens * repeats
        if args.sweep:
            sweep(Trainer(encoded.vocab, config, DEVICE), span)
        trainer = Trainer(encoded.vocab, config, DEVICE)
        bandwidth = copy_bandwidth()
        per_pair = bytes_per_pair(config)
        updater = TritonUpdater.from_trainer(trainer, args.block, args.warps)
        updater.train_span(span[:100_000], 0.0, 0.0, seed=0)  # compile
        reference_config = make_config(args.settings, backend="torch", device=DEVICE.type, seed=args.seed)
        reference_ids = ids[: args.reference_tokens]
        reference_raw = encoded.raw_tokens * len(reference_ids) / len(ids)
        triton_runs, reference_runs = [], []
        for run in range(args.runs):
            lr_start, lr_end = (learning_rate(config, (run + s) / args.runs) for s in (0, 1))
            (centres, contexts, negatives), draw_seconds = timed(updater.draw, span, run + 1)
            loss, kernel_seconds = timed(updater.update, centres, contexts, negatives, lr_start, lr_end)
            seconds = draw_seconds + kernel_seconds
            triton_runs.append({"tokens_per_s": raw_tokens / seconds, "pairs_per_s": len(centres) / seconds,
                                "kernel_pairs_per_s": len(centres) / kernel_seconds, "seconds": seconds,
                                "draw_seconds": draw_seconds, "loss": loss / len(centres)})
            del centres, contexts, negatives
            summary = Trainer(encoded.vocab, reference_config, DEVICE).fit(reference_ids, progress=False)
            reference_runs.append({"tokens_per_s": reference_raw / summary["seconds"],
                                   "pairs_per_s": summary["pairs"] / summary["seconds"]})
            print(f"  run {run + 1}: triton {triton_runs[-1]['pairs_per_s']:,.0f} pairs/s "
                  f"(kernel {triton_runs[-1]['kernel_pairs_per_s']:,.0f}, draw {draw_seconds:.3f} s of "
                  f"{seconds:.3f} s), reference {reference_runs[-1]['pairs_per_s']:,.0f} pairs/s", file=sys.stderr)

    def median(runs: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    triton_pairs = median(triton_runs, "pairs_per_s")
    kernel_pairs = median(triton_runs, "kernel_pairs_per_s")
    print(f"\n{torch.cuda.get_device_name()}: {raw_tokens:,} raw tokens ({repeats} x {args.corpus.name}), "
          f"preset {args.settings} (objective {config.objective}, {config.negatives} negatives), "
          f"medians of {args.runs} runs; kernel block {updater.block}, warps {updater.warps}")
    print(f"device-to-device copy: {bandwidth / 1e9:,.0f} GB/s (read + write); "
          f"bound {per_pair:,} B per pair -> {bandwidth / per_pair:,.0f} pairs/s")
    print(f"{'path':22s} {'raw tokens/s':>14s} {'pairs/s':>14s} {'of bound':>9s} {'x torch':>8s}")
    reference_pairs = median(reference_runs, "pairs_per_s")
    rows = [("triton train_span", median(triton_runs, "tokens_per_s"), triton_pairs),
            ("  of which the kernel", None, kernel_pairs),
            ("torch reference", median(reference_runs, "tokens_per_s"), reference_pairs)]
    for name, tokens, pairs in rows:
        tokens_text = "" if tokens is None else f"{tokens:,.0f}"
        print(f"{name:22s} {tokens_text:>14s} {pairs:>14,.0f} {pairs * per_pair / bandwidth:>9.1%} "
              f"{pairs / reference_pairs:>8.1f}")
    losses = ", ".join(f"{r['loss']:.4f}" for r in triton_runs)
    print(f"mean loss per pair, each run: {losses}")


# ------------------------------------------------------------------ scaling (issue 4, item 4)

#: (corpus repeats, K, D): the corpus grows at K=2, D=50, then K, then D
SCALING = ((1, 2, 50), (4, 2, 50), (16, 2, 50), (1, 1, 50), (1, 4, 50), (1, 2, 100), (1, 2, 300))


def scaling(args: argparse.Namespace) -> None:
    """One epoch of ``Trainer.fit`` (paper defaults, triton) per setting, timed after a warm-up
    epoch that compiles the kernel for its K and D; the cost per raw token and per parameter
    read show whether time grows linearly with the corpus and with K x D."""
    print(f"{'repeats':>7} {'K':>2} {'D':>4} {'raw tokens':>12} {'s/epoch':>8} {'ns/token':>9} "
          f"{'ns/token/(K*D)':>14} {'pairs/s':>14}")
    with tempfile.TemporaryDirectory(prefix="w2gm-gpu-") as workdir:
        encoded = encode(args.corpus, workdir, make_config("paper"))
        ids = np.array(encoded.ids)
        for repeats, components, dim in SCALING:
            config = make_config("paper", device=DEVICE.type, components=components, dim=dim, epochs=1)
            corpus_ids = np.tile(ids, repeats)
            Trainer(encoded.vocab, config, DEVICE).fit(ids[: 1 << 20], progress=False)  # compile
            runs = [Trainer(encoded.vocab, config, DEVICE).fit(corpus_ids, progress=False) for _ in range(args.runs)]
            seconds = statistics.median(r["session_seconds"] for r in runs)
            pairs = statistics.median(r["pairs"] for r in runs)
            per_token = seconds / (encoded.raw_tokens * repeats) * 1e9
            print(f"{repeats:>7} {components:>2} {dim:>4} {encoded.raw_tokens * repeats:>12,} {seconds:>8.3f} "
                  f"{per_token:>9.2f} {per_token / (components * dim):>14.4f} {pairs / seconds:>14,.0f}", flush=True)


# ------------------------------------------------------------------ quality: one process per (path, seed)


def worker(args: argparse.Namespace) -> None:
    torch.set_num_threads(2)
    config = make_config(args.preset, backend=args.worker, device=DEVICE.type, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="w2gm-gpu-") as workdir:
        encoded = encode(args.corpus, workdir, config)
        trainer = Trainer(encoded.vocab, config, DEVICE)
        summary = trainer.fit(np.asarray(encoded.ids), progress=False)
    print(json.dumps({"ws353": ws353_spearman(trainer, summary), "seconds": summary["seconds"]}))


def quality(args: argparse.Namespace) -> None:
    jobs = {
        (method, seed): subprocess.Popen(
            [sys.executable, __file__, "--worker", method, "--seed", str(seed), "--preset", args.preset,
             "--corpus", str(args.corpus)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for seed in range(1, args.seeds + 1)
        for method in ("triton", "torch")
    }
    scores: dict[str, list[float]] = {"triton": [], "torch": []}
    for (method, seed), job in jobs.items():
        out, err = job.communicate()
        if job.returncode != 0:
            raise SystemExit(f"{method} seed {seed} failed:\n{err[-4000:]}")
        figures = json.loads(out.strip().splitlines()[-1])
        scores[method].append(figures["ws353"])
        print(f"  seed {seed} {method:7s} WS-353 Spearman {figures['ws353']:.4f}  ({figures['seconds']:.1f} s)",
              file=sys.stderr)
    print_scores(f"WS-353 Spearman (max cosine), preset {args.preset}, {args.corpus.name}, {args.seeds} seeds",
                 scores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="text to train on (plain, gz, bz2 or xz)")
    parser.add_argument("--tokens", type=int, default=1 << 24, help="repeat the corpus to about this many tokens")
    parser.add_argument("--runs", type=int, default=3, help="timed runs; medians are reported")
    parser.add_argument("--reference-tokens", type=int, default=300_000, help="ids the torch reference trains on")
    parser.add_argument("--block", type=int, default=DEFAULT_BLOCK, help="pairs per kernel program (a power of 2)")
    parser.add_argument("--warps", type=int, help="warps per kernel program (default: by K and D)")
    parser.add_argument("--sweep", action="store_true", help="first time each block and warps choice")
    parser.add_argument("--quality", action="store_true", help="instead: WS-353 of both paths, --seeds seeds")
    parser.add_argument("--seeds", type=int, default=3, help="seeds with --quality")
    parser.add_argument("--preset", default="small", help="training preset with --quality")
    parser.add_argument("--seed", type=int, default=1, help="seed of the throughput runs")
    parser.add_argument("--settings", default="paper", help="preset of the throughput runs (paper: A.2's)")
    parser.add_argument("--worker", choices=("triton", "torch"), help=argparse.SUPPRESS)
    parser.add_argument("--scaling", action="store_true", help="instead: epoch time as the corpus, K and D grow")
    args = parser.parse_args()
    if args.worker:
        worker(args)
    elif args.scaling:
        scaling(args)
    elif args.quality:
        quality(args)
    else:
        throughput(args)


if __name__ == "__main__":
    main()
