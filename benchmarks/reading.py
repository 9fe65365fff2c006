"""Reading rate of the serial and the parallel reader (issue 16, item 1).

    python benchmarks/reading.py                       # Gutenberg, xz and a plain copy, 1 and all CPUs
    python benchmarks/reading.py --workers 1 4 16 --runs 5
    python benchmarks/reading.py --corpus big.txt --no-plain-copy
    python benchmarks/reading.py --corpus /tmp/big --workers 16 --runs 1   # a folder (paper_scale_corpus.py)

Times :func:`w2gm.reading.corpus.encode` (text file to ``ids.npy``, vocabulary included, at
--min-count 5 and the default ``words`` tokenizer) with each --workers count, in rounds
whose order rotates, and prints the median tokens/s (word tokens, as the model counts them)
and the ratio to one worker.  A compressed corpus is decompressed by one process however
many read it, so the benchmark also times decompression alone (the same reader, no
encoding): when the parallel rate comes near that rate, decompression is the bottleneck,
and the plain copy (made in a temporary directory unless --no-plain-copy) shows the rate
without it.  Every run's ids are checked against the first run's.  The load average is
printed before and after: on a shared machine other work slows every figure.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from w2gm.reading import corpus, files
from w2gm.reading import parallel as parallel_reading

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "corpus" / "gutenberg.txt.xz"


def decompression_seconds(path: Path) -> float:
    """Seconds to read the file's (decompressed) bytes, nothing more."""
    start = time.perf_counter()
    with files.open_source(path) as opened:
        for _ in files.read_blocks(opened.text, str(path)):
            pass
    return time.perf_counter() - start


def measure(path: Path, workers: list[int], runs: int, scratch: Path) -> None:
    compressed = False
    if path.is_file():
        with files.open_source(path) as opened:
            compressed = opened.text is not opened.raw
    rates: dict[int, list[float]] = {count: [] for count in workers}
    reference = None
    tokens = 0
    for round_ in range(runs):
        shift = round_ % len(workers)
        for count in workers[shift:] + workers[:shift]:
            start = time.perf_counter()
            encoded = corpus.encode([path], scratch / f"w{count}", min_count=5, read_workers=count)
            seconds = time.perf_counter() - start
            tokens = encoded.raw_tokens
            ids = np.asarray(encoded.ids)
            if reference is None:
                reference = ids.copy()
            elif not np.array_equal(ids, reference):
                raise SystemExit(f"{count} workers gave other ids than the first run")
            rates[count].append(tokens / seconds)
            print(f"  round {round_ + 1}: {count:3d} workers {seconds:7.2f} s {tokens / seconds:>14,.0f} tokens/s")
    serial = statistics.median(rates[workers[0]])
    inputs = files.expand_paths([path])
    size = sum(file.stat().st_size for file in inputs) / 2**20
    print(f"\n{path} ({size:,.0f} MiB{', compressed' if compressed else ''}), {tokens:,} tokens, "
          f"medians of {runs} rounds")
    print(f"{'workers':>8s} {'tokens/s':>14s} {'x ' + str(workers[0]):>8s}")
    for count in workers:
        rate = statistics.median(rates[count])
        print(f"{count:8d} {rate:>14,.0f} {rate / serial:8.2f}")
    if compressed:
        seconds = statistics.median(decompression_seconds(path) for _ in range(runs))
        print(f"{'inflate':>8s} {tokens / seconds:>14,.0f}   (decompression alone, one process: the ceiling "
              "for this file)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="text file (plain, gz, bz2 or xz)")
    parser.add_argument("--workers", type=int, nargs="+", default=None,
                        help="reading processes to compare, the first the baseline (default: 1 and every usable CPU)")
    parser.add_argument("--runs", type=int, default=3, help="rounds; medians are reported")
    parser.add_argument("--no-plain-copy", action="store_true",
                        help="do not also measure a decompressed copy of a compressed corpus")
    args = parser.parse_args()
    workers = args.workers or sorted({1, parallel_reading.worker_count(0, [files.STDIN])})
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}, "
          f"{len(os.sched_getaffinity(0))} usable CPUs")
    with tempfile.TemporaryDirectory(prefix="w2gm-reading-") as tmp:
        scratch = Path(tmp)
        measure(args.corpus, workers, args.runs, scratch)
        if args.corpus.is_file() and not args.no_plain_copy:
            with files.open_source(args.corpus) as opened:
                compressed = opened.text is not opened.raw
                if compressed:  # measure a plain copy too
                    plain = scratch / "plain.txt"
                    with open(plain, "wb") as out:
                        for data in files.read_blocks(opened.text, str(args.corpus)):
                            out.write(data)
            if compressed:
                print()
                measure(plain, workers, args.runs, scratch)
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
