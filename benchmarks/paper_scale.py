"""A paper-scale run on one GPU, end to end (issue 16, item 2).

    python benchmarks/paper_scale_corpus.py gutenberg_az.txt.xz /data/big   # 3.5B tokens, ~1M types
    python benchmarks/paper_scale.py /data/big --device cuda [--epochs 5] [--json OUT]

Trains with ``w2gm.train`` as ``w2gm train`` does (``--preset auto``, which above 500M
tokens is A.2 exactly: the paper's objective, 5 epochs, t = 1e-5, one negative), then saves
the model, and prints where the time went and what it used:

* reading: the text to word ids (``--read-workers``: every CPU), raw tokens per second;
* training: tokens and pairs per second, and the pairs per second against the HBM bound of
  ``benchmarks/gpu_throughput.py`` (each pair reads and writes its rows and their Adagrad
  sums; the bandwidth is a device-to-device copy's, measured here);
* the usage pass and saving the model file;
* memory: the peak resident memory of this process and of the largest reading worker, and
  the GPU's peak allocated memory (torch's allocator);
* quality: WS-353 and the sum over the 8 bundled similarity sets, as the other benchmarks.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import w2gm  # noqa: E402
from w2gm.config import make_config  # noqa: E402
from w2gm.evaluate import catalogue  # noqa: E402
from w2gm.evaluate.datasets import find_file, read_word_pairs  # noqa: E402
from w2gm.evaluate.similarity import evaluate_word_pairs  # noqa: E402


def similarity(model: w2gm.KeyedMixtures) -> tuple[float, float]:
    """WS-353 and the sum over the bundled similarity sets, Spearman x100 (max cosine)."""
    root = catalogue.bundled_data_dir()
    scores = {name: 100 * evaluate_word_pairs(model, read_word_pairs(find_file(root / relative), name),
                                              ["max_cosine"]).spearman["max_cosine"]
              for name, relative in catalogue.SIMILARITY.items()}
    return scores["WS"], sum(scores.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path, help="a text file or directory (paper_scale_corpus.py's output)")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, help="passes (default: the preset's)")
    parser.add_argument("--preset", default="auto")
    parser.add_argument("--output", type=Path, help="where to save the model (default: a temporary folder)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    options = {"device": args.device} | ({"epochs": args.epochs} if args.epochs else {})
    from gpu_throughput import bytes_per_pair, copy_bandwidth

    bandwidth = copy_bandwidth() if args.device.startswith("cuda") else float("nan")
    torch.cuda.reset_peak_memory_stats() if torch.cuda.is_available() else None
    started = time.perf_counter()
    model = w2gm.train(args.corpus, preset=args.preset, **options)
    trained = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="w2gm-paper-scale-") as folder:
        output = args.output or Path(folder) / "model.w2gm"
        model.save(output)
        saved = time.perf_counter()
        size = output.stat().st_size
    t = model.training
    config = make_config(**{k: v for k, v in model.config.items() if k in make_config().to_dict()})
    per_pair = bytes_per_pair(config)
    figures = {
        "raw_tokens_per_epoch": t["raw_tokens"], "vocabulary": t["vocab_size"], "epochs": model.config["epochs"],
        "preset": model.config.get("preset"), "read_s": t["read_seconds"],
        "read_tokens_per_s": t["raw_tokens"] / t["read_seconds"], "train_s": t["session_seconds"],
        "train_raw_tokens_per_s": t["raw_tokens"] * model.config["epochs"] / t["session_seconds"],
        "pairs": t["pairs"], "pairs_per_s": t["pairs"] / t["session_seconds"],
        "of_bound": t["pairs"] / t["session_seconds"] * per_pair / bandwidth, "copy_gb_per_s": bandwidth / 1e9,
        "usage_s": t["usage_seconds"], "save_s": saved - trained, "model_gb": size / 1e9,
        "total_s": saved - started,
        "host_peak_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "worker_peak_gib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20,
        "gpu_peak_gib": torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else 0.0,
    }
    figures["ws353"], figures["sim_sum"] = similarity(model)
    width = max(map(len, figures))
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:,.3f}" if isinstance(value, float) else f"{name:<{width}}  {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
