"""Pairs in flight that share rows: the Triton kernel's launches against sequential steps.

    python benchmarks/contention.py                       # K = 2, 3, 4; warps 1, 2, 4 (needs a CUDA GPU)
    python benchmarks/contention.py --components 3 --warps 1

On a GPU one launch trains thousands of pairs at once, each from the parameters it read.
How much that costs shows on a launch where most pairs share rows: ``--pairs`` pairs over
``--words`` words drawn from a Zipf law, each word's contexts mostly from a small planted
set (so there is something to learn), negatives from the unigram^0.75 law, nll objective,
D = 50.  The same pairs are trained ``--passes`` times from the same start by numba with one
thread, which is the reference engine's sequential steps, and by the Triton kernel with each
``--warps`` count; printed is the loss per pair of each pass, and the distance of the final
means from the sequential ones.  A kernel that lost the updates of pairs in flight on one
row ends each pass with a higher loss than sequential steps do.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from w2gm.config import TrainConfig
from w2gm.engines.hogwild import HogwildUpdater
from w2gm.objective import nll_offset
from w2gm.trainer import Trainer
from w2gm.vocab import Vocabulary


def draw_pairs(words: int, pairs: int, negatives: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centres from Zipf's law; 80 % of contexts from ten planted partners of the centre,
    the rest from Zipf's law; negatives from Zipf^0.75."""
    rng = np.random.default_rng(seed)
    zipf = 1.0 / np.arange(1, words + 1)
    zipf /= zipf.sum()
    centres = rng.choice(words, pairs, p=zipf)
    planted = (centres * 7 + rng.integers(0, 10, pairs)) % words
    contexts = np.where(rng.random(pairs) < 0.8, planted, rng.choice(words, pairs, p=zipf))
    noise = zipf**0.75 / (zipf**0.75).sum()
    return centres, contexts, rng.choice(words, (pairs, negatives), p=noise)


def copy_of(trainer: Trainer, device: torch.device) -> Trainer:
    copy = Trainer(trainer.vocab, trainer.config, device)
    copy.load_state(trainer.state())
    return copy


def relative_distance(trainer: Trainer, reference: Trainer) -> float:
    return max(float((trainer.tables[name].means.cpu() - table.means).norm() / table.means.norm())
               for name, table in reference.tables.items())


def compare(components: int, warps_choices: list[int], args: argparse.Namespace) -> None:
    from w2gm.engines.triton_update import TritonUpdater

    config = TrainConfig(components=components, dim=50, negatives=args.negatives, objective="nll", seed=1)
    vocab = Vocabulary([f"w{i}" for i in range(args.words)], np.arange(args.words, 0, -1) * 10)
    start = Trainer(vocab, config, torch.device("cpu"))
    pairs = draw_pairs(args.words, args.pairs, args.negatives, seed=0)
    sequential = copy_of(start, torch.device("cpu"))
    updater = HogwildUpdater(sequential.tables, sequential.optimizers, config.margin, threads=1,
                             negatives=args.negatives, objective="nll", offset=nll_offset(config))
    losses = [updater.update(*pairs, args.lr, args.lr) / args.pairs for _ in range(args.passes)]
    print(f"K={components} sequential (numba, 1 thread): " + " ".join(f"{x:.4f}" for x in losses), flush=True)
    gpu = torch.device("cuda")
    on_gpu = [torch.as_tensor(a).to(gpu) for a in pairs]
    for warps in warps_choices:
        trainer = copy_of(start, gpu)
        kernel = TritonUpdater(trainer.tables, trainer.optimizers, config.margin, negatives=args.negatives,
                               objective="nll", offset=nll_offset(config), warps=warps)
        losses = [kernel.update(*on_gpu, args.lr, args.lr) / args.pairs for _ in range(args.passes)]
        print(f"K={components} triton, {warps} warp(s): " + " ".join(f"{x:.4f}" for x in losses)
              + f"; final means {relative_distance(trainer, sequential):.3f} from sequential (relative)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--components", type=int, nargs="+", default=[2, 3, 4])
    parser.add_argument("--warps", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--words", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=200_000)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.1)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("contention.py: the Triton kernel needs a CUDA GPU, and PyTorch sees none here")
    for components in args.components:
        compare(components, args.warps, args)


if __name__ == "__main__":
    main()
