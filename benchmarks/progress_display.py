"""What the training display's figures mean: each epoch's training loss against the fixed
probe (w2gm.training_progress) and the word-similarity sum, on one run.

    python benchmarks/progress_display.py [CORPUS] [--seed 1] [--json OUT] [--option name=value ...]

Trains the default run (``--preset auto``; the bundled sample without CORPUS) and at the
end of every epoch records: the mean training loss per pair of the epoch (the figure the
bar showed before issue 31, the engines' sum over the epoch's pairs), the probe's share of
(pair, negative) ranked right (what the bar shows now) and its loss per pair, and the sum of Spearman x 100 over
the eight similarity sets under max cosine (all components active: usage is counted only
once a run ends).  Whether a figure follows the model's quality is then in the table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import w2gm  # noqa: E402
from w2gm import trainer as trainer_module  # noqa: E402
from w2gm.config import TrainConfig  # noqa: E402
from w2gm.evaluate import catalogue  # noqa: E402
from w2gm.evaluate.suite import SuiteOptions, run_suite  # noqa: E402
from w2gm.keyed import KeyedMixtures  # noqa: E402
from w2gm.mixture import MixtureTable  # noqa: E402
from w2gm.objective import batch_loss  # noqa: E402
from w2gm.trainer import Trainer  # noqa: E402
from w2gm.training_progress import PairProbe, TrainingProgress  # noqa: E402


def similarity_sum(model: KeyedMixtures) -> tuple[float, float]:
    """(sum over the eight sets, WS-353) of Spearman x 100 under max cosine."""
    options = SuiteOptions(datasets=list(catalogue.SIMILARITY), measures=["max_cosine"], variance_words=[])
    results = run_suite(model, options).similarity
    by_name = {r.dataset: 100 * r.spearman["max_cosine"] for r in results}
    return sum(by_name.values()), by_name.get("WS", float("nan"))


@torch.no_grad()
def probe_loss(probe: PairProbe, words: MixtureTable, contexts: MixtureTable, config: TrainConfig) -> float:
    """The objective's loss per pair (all its negatives) on the probe's fixed sample."""
    def mixtures(table: MixtureTable, ids: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return table.means[ids], table.log_variances[ids], table.log_weights()[ids]

    loss = batch_loss(mixtures(words, probe.centres), mixtures(contexts, probe.contexts),
                      mixtures(contexts, probe.negatives), config)
    return float(loss) / len(probe)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", nargs="?", default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--option", action="append", default=[], metavar="NAME=VALUE",
                        help="a training option (numbers as numbers)")
    args = parser.parse_args()
    options: dict[str, Any] = {"seed": args.seed}
    for item in args.option:
        name, _, value = item.partition("=")
        try:
            options[name] = json.loads(value)
        except json.JSONDecodeError:
            options[name] = value

    rows: list[dict[str, Any]] = []
    trainers: list[Trainer] = []
    epoch_loss = {"loss": 0.0, "pairs": 0}
    init, make_updater, after_epoch = Trainer.__init__, trainer_module.make_updater, TrainingProgress.after_epoch

    def keep_trainer(self: Trainer, *a: Any, **k: Any) -> None:
        init(self, *a, **k)
        trainers.append(self)

    def counting_updater(trainer: Trainer, backend: str) -> Any:
        """The engine, with the loss it sums over each span's pairs kept for the epoch."""
        updater = make_updater(trainer, backend)
        train_span = updater.train_span

        def counted(*a: Any) -> tuple[float, int]:
            loss, pairs = train_span(*a)
            epoch_loss["loss"] += loss
            epoch_loss["pairs"] += pairs
            return loss, pairs

        updater.train_span = counted
        return updater

    def measure(self: TrainingProgress, epoch: int, lr: float, words: MixtureTable, contexts: MixtureTable) -> None:
        after_epoch(self, epoch, lr, words, contexts)
        trainer = trainers[-1]
        model = trainer.model({})
        total, ws = similarity_sum(model)
        assert self.ranked is not None and self.probe is not None
        # per pair and negative, as the bar showed it before issue 31 and the summary's mean_loss is
        train_loss = epoch_loss["loss"] / max(epoch_loss["pairs"] * trainer.config.negatives, 1)
        rows.append({"epoch": epoch + 1, "lr": lr, "train_loss": train_loss, "ranked": self.ranked,
                     "probe_loss": probe_loss(self.probe, words, contexts, trainer.config), "similarity_sum": total,
                     "ws": ws, "seconds": time.monotonic() - started})
        epoch_loss.update(loss=0.0, pairs=0)
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in rows[-1].items()),
              flush=True)

    Trainer.__init__ = keep_trainer  # type: ignore[method-assign]
    trainer_module.make_updater = counting_updater
    TrainingProgress.after_epoch = measure  # type: ignore[method-assign]
    started = time.monotonic()
    model = w2gm.train(args.corpus, **options)
    print(f"preset: {model.config['preset']}; final similarity sum with usage: {similarity_sum(model)[0]:.1f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"options": options, "preset": model.config["preset"], "rows": rows},
                                              indent=1))


if __name__ == "__main__":
    main()
