"""How training time grows with the corpus, K and D (issue 4, item 4).

    python benchmarks/scaling.py                                   # numba engine on the CPU
    python benchmarks/scaling.py --base-tokens 100000 --runs 1     # quicker, noisier
    python benchmarks/scaling.py --device cuda --backend triton --base-tokens 4000000

Every setting is one epoch of ``Trainer.fit`` with the paper's defaults (spherical, window
10, t = 1e-5, one negative, Adagrad) but for what it varies:

* the corpus: the first ``--base-tokens`` tokens of text8_prefix repeated 1, 4 and 16
  times (K = 2, D = 50);
* K = 1, 2, 4 and D = 50, 100, 300, on the base repeated 4 times (D = 50, K = 2).

Repeating the text keeps the vocabulary, its frequencies and so the work per token fixed:
only the length grows.  The table gives each setting's median time per epoch and its time
per raw token relative to its base: corpus x1 for the corpus settings, corpus x4 (K = 2,
D = 50, the same text) for the K and D settings; then that ratio over K / 2 and D / 50.  A
cost linear in the corpus, K and D keeps the last column at 1.  A pair
computes K x K partial energies, each over D dimensions, and updates 3 rows of K (D + 2)
numbers, so its cost grows as K^2 D at most.

Settings run in ``--runs`` interleaved rounds (the machine may be shared), each in a fresh
Trainer; compiling the engine for a new K and D is done before the timed runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from throughput import CORPUS, write_text

from w2gm.config import TrainConfig, make_config
from w2gm.reading import corpus
from w2gm.trainer import Trainer

REPEATS = (1, 4, 16)
COMPONENTS = (1, 2, 4)
DIMS = (50, 100, 300)
#: the corpus repeats of the K and D settings
SWEEP_REPEATS = 4


@dataclass(frozen=True)
class Setting:
    name: str
    repeats: int
    components: int
    dim: int

    @property
    def size(self) -> float:
        """K / 2 or D / 50 for the settings that vary them, 1 for the corpus settings (the
        work per token does not change with the length)."""
        return self.components / 2 * self.dim / 50


def settings() -> list[Setting]:
    by_corpus = [Setting(f"corpus x{r}", r, 2, 50) for r in REPEATS]
    by_components = [Setting(f"K = {k}", SWEEP_REPEATS, k, 50) for k in COMPONENTS if k != 2]
    by_dim = [Setting(f"D = {d}", SWEEP_REPEATS, 2, d) for d in DIMS if d != 50]
    return by_corpus + by_components + by_dim


def config_for(setting: Setting, args: argparse.Namespace) -> TrainConfig:
    return make_config("paper", components=setting.components, dim=setting.dim, epochs=1, threads=args.threads,
                       backend=args.backend, device=args.device, seed=args.seed)


def epoch_seconds(setting: Setting, encoded: corpus.EncodedCorpus, args: argparse.Namespace) -> float:
    """One epoch over the setting's corpus in a fresh Trainer; its training time."""
    trainer = Trainer(encoded.vocab, config_for(setting, args), torch.device(args.device))
    summary = trainer.fit(np.tile(np.asarray(encoded.ids), setting.repeats), progress=False)
    return summary["seconds"]


def compile_engine(setting: Setting, encoded: corpus.EncodedCorpus, args: argparse.Namespace) -> None:
    """Run the engine once on a spare Trainer, so that the timed runs find it compiled."""
    config = config_for(setting, args)
    spare = Trainer(encoded.vocab, config, torch.device(args.device))
    sample = torch.from_numpy(np.asarray(encoded.ids[:2000], dtype=np.int64)).to(args.device)
    spare.updater.train_span(sample, config.lr, config.lr, 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="text whose start is the base corpus")
    parser.add_argument("--base-tokens", type=int, default=250_000, help="raw tokens of the base corpus")
    parser.add_argument("--runs", type=int, default=3, help="interleaved rounds; medians are reported")
    parser.add_argument("--backend", default="numba", help="update engine (numba, triton or torch)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads of the numba engine")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    # numba's threads do the parallel work; a pool of spinning OpenMP threads would compete with them
    torch.set_num_threads(1 if args.backend == "numba" else args.threads)
    with tempfile.TemporaryDirectory(prefix="w2gm-scaling-") as workdir:
        text = Path(workdir) / "base.txt"
        write_text(args.corpus, args.base_tokens, text)
        encoded = corpus.encode([text], workdir, make_config("paper").min_count)
        runs = settings()
        for setting in {(s.components, s.dim): s for s in runs}.values():
            compile_engine(setting, encoded, args)
        seconds: dict[Setting, list[float]] = {s: [] for s in runs}
        for round_ in range(args.runs):
            for setting in runs[round_ % len(runs):] + runs[: round_ % len(runs)]:
                seconds[setting].append(epoch_seconds(setting, encoded, args))
                print(f"  round {round_ + 1} {setting.name:11s} {seconds[setting][-1]:8.3f} s", file=sys.stderr)

    def per_token(setting: Setting) -> float:
        return statistics.median(seconds[setting]) / (encoded.raw_tokens * setting.repeats)

    def base(setting: Setting) -> Setting:
        return runs[0] if setting.size == 1 else Setting(f"corpus x{SWEEP_REPEATS}", SWEEP_REPEATS, 2, 50)
    print(f"\n{args.backend} on {args.device}, {args.threads} threads; base: {encoded.raw_tokens:,} raw tokens "
          f"of {args.corpus.name}, {len(encoded.vocab):,} words; medians of {args.runs} interleaved rounds")
    print(f"{'setting':11s} {'raw tokens':>11s} {'s / epoch':>10s} {'ns / token':>11s} {'x base':>7s} "
          f"{'/ (K/2 D/50)':>14s}")
    for setting in runs:
        relative = per_token(setting) / per_token(base(setting))
        print(f"{setting.name:11s} {encoded.raw_tokens * setting.repeats:>11,} "
              f"{statistics.median(seconds[setting]):>10.3f} {per_token(setting) * 1e9:>11.1f} {relative:>7.2f} "
              f"{relative / setting.size:>14.2f}")


if __name__ == "__main__":
    main()
