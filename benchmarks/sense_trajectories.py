"""How a word's components evolve in training (issue 12: diagnose before treating).

    python benchmarks/sense_trajectories.py CORPUS [--normalise] [--device cuda]
        [--option objective=sense --option split_at=0.4] [--spans 20] [--json OUT]

Trains one K=2 model (``--preset``, default small) and after every span measures, on a
fixed probe set of (word, context, negative) triples drawn once from the text for the
words ranked 100-2100 by frequency, the quantities the issue suspects:

* ``hinge``: share of probes whose hinge is active (m - log E(w,c) + log E(w,c') > 0);
* ``hard``: share of positives whose responsibility rho_i (the posterior of the word's
  component i given the context, Eq. 2's partial energies with the log weights, summed
  over the context's components) is above 0.99;
* ``same``: share of active probes where one component of w has rho > 0.99 for both the
  context and the negative.  Then d hinge / d log p_i = rho_i(c') - rho_i(c) vanishes: the
  weights get no gradient from that probe (the issue's suspicion);
* ``|dlogp|``: mean over active probes of sum_i |rho_i(c) - rho_i(c')| / 2, the size of
  the weight gradient relative to its largest possible value (1);
* ``top``: mean over words of the share of its probe contexts that its most used
  component wins (1.0: one component wins every context, "rich get richer");
* ``wmax``: mean largest mixture weight; ``sib``: mean cosine of a word's two means;
* ``var win/lose``, ``|mu| win/lose``: mean variance and mean norm of each word's most and
  least used component.

The rows show whether the responsibilities harden before the components differ, and
whether the second component then stops learning (its |mu| and variance stay at their
initial values) — the junk component of the issue.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from senses import normalised_copy  # noqa: E402

from w2gm.config import make_config  # noqa: E402
from w2gm.energy import log_energy_and_shares  # noqa: E402
from w2gm.engines import resolve_device  # noqa: E402
from w2gm.mixture import MixtureTable  # noqa: E402
from w2gm.reading import corpus as corpus_module  # noqa: E402
from w2gm.trainer import Trainer  # noqa: E402

COLUMNS = ("progress", "hinge", "hard", "same", "|dlogp|", "top", "wmax", "sib", "var win", "var lose",
           "|mu| win", "|mu| lose")


def draw_probes(trainer: Trainer, ids: np.ndarray, probes: int, ranks: tuple[int, int]) -> dict[str, torch.Tensor]:
    """(word, context, negative) triples for the words of frequency rank in ``ranks``,
    drawn with the trainer's own sampler from the first few million ids."""
    device = trainer.device
    centres, contexts = trainer.sampler.pairs(torch.as_tensor(np.asarray(ids[: 1 << 22]), device=device))
    lo, hi = ranks  # the vocabulary is sorted by frequency: the id is the rank
    chosen = torch.nonzero((centres >= lo) & (centres < hi)).flatten()[:probes]
    negatives = trainer.sampler.negatives(len(chosen), 1).flatten()
    return {"word": centres[chosen], "context": contexts[chosen], "negative": negatives}


def responsibilities(word: MixtureTable, output: MixtureTable, w: torch.Tensor, c: torch.Tensor) -> tuple:
    """rho_i (the posterior of the word's component i, summed over the context's
    components) and log E for each (w, c)."""
    log_energy, rho = log_energy_and_shares(word.means[w], word.log_variances[w], word.log_weights()[w],
                                            output.means[c], output.log_variances[c], output.log_weights()[c])
    return rho, log_energy


@torch.no_grad()
def measure(trainer: Trainer, probes: dict[str, torch.Tensor], progress: float) -> dict[str, float]:
    word_table = trainer.tables["input"]
    output_table = trainer.tables.get("output", word_table)
    w = probes["word"]
    rho_c, energy_c = responsibilities(word_table, output_table, w, probes["context"])
    rho_n, energy_n = responsibilities(word_table, output_table, w, probes["negative"])
    active = (trainer.config.margin - energy_c + energy_n) > 0
    hard_c, hard_n = rho_c.max(-1).values > 0.99, rho_n.max(-1).values > 0.99
    same = hard_c & hard_n & (rho_c.argmax(-1) == rho_n.argmax(-1))
    weight_gradient = (rho_c - rho_n).abs().sum(-1) / 2
    # per word: how many of its probe contexts each component wins
    words, inverse = torch.unique(w, return_inverse=True)
    wins = torch.zeros(len(words), word_table.components, device=w.device)
    wins.index_put_((inverse, rho_c.argmax(-1)), torch.ones_like(inverse, dtype=wins.dtype), accumulate=True)
    top = (wins.max(-1).values / wins.sum(-1)).mean()
    winner = wins.argmax(-1)
    loser = 1 - winner if word_table.components == 2 else wins.argmin(-1)
    rows = torch.arange(len(words), device=w.device)
    variance = word_table.log_variances[words].exp().mean(-1)  # [n, K]
    norms = word_table.means[words].norm(dim=-1)
    means = torch.nn.functional.normalize(word_table.means[words], dim=-1)
    sibling = (means[:, 0] * means[:, 1]).sum(-1).mean() if word_table.components > 1 else torch.tensor(1.0)
    return {
        "progress": progress,
        "hinge": active.float().mean().item(),
        "hard": hard_c.float().mean().item(),
        "same": (same & active).float().sum().item() / max(active.sum().item(), 1),
        "|dlogp|": weight_gradient[active].mean().item() if active.any() else 0.0,
        "top": top.item(),
        "wmax": word_table.weights()[words].max(-1).values.mean().item(),
        "sib": sibling.item(),
        "var win": variance[rows, winner].mean().item(),
        "var lose": variance[rows, loser].mean().item(),
        "|mu| win": norms[rows, winner].mean().item(),
        "|mu| lose": norms[rows, loser].mean().item(),
    }


class RecordingTrainer(Trainer):
    """Measures the probes before training and after every span."""

    probes: dict[str, torch.Tensor]
    rows: list[dict[str, float]]

    def after_span(self, tokens: int, total: int, data: Any) -> None:
        # measured first: what the span did, before the trainer re-ties or splits
        self.rows.append(measure(self, self.probes, tokens / total))
        print_row(self.rows[-1])
        super().after_span(tokens, total, data)


def print_row(row: dict[str, float]) -> None:
    print(" ".join(f"{row[name]:>9.3f}" for name in COLUMNS), flush=True)


def parse_option(text: str) -> tuple[str, Any]:
    name, _, value = text.partition("=")
    for kind in (int, float):
        try:
            return name, kind(value)
        except ValueError:
            pass
    return name, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("corpus", type=Path)
    parser.add_argument("--normalise", action="store_true", help="lowercase and keep only a-z words first")
    parser.add_argument("--preset", default="small")
    parser.add_argument("--option", action="append", default=[], help="NAME=VALUE of the training config")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--spans", type=int, default=20, help="measurements over the run")
    parser.add_argument("--probes", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--equal-norms", action="store_true",
                        help="start every component of a word at the norm of its first (a diagnostic)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory(prefix="w2gm-trajectories-") as workdir:
        text = normalised_copy(args.corpus, Path(workdir)) if args.normalise else args.corpus
        encoded = corpus_module.encode([text], Path(workdir) / "ids", min_count=5)
        ids = np.asarray(encoded.ids)
        options = dict(parse_option(o) for o in args.option)
        config = make_config(args.preset, components=2, device=device.type, seed=args.seed, **options)
        span = -(-len(ids) * config.epochs // args.spans)
        config = dataclasses.replace(config, span_tokens=span)
        trainer = RecordingTrainer(encoded.vocab, config, device)
        if args.equal_norms:
            for table in trainer.tables.values():
                norms = table.means.norm(dim=-1, keepdim=True)
                table.means.mul_(norms[:, :1] / norms)
        trainer.probes = draw_probes(trainer, ids, args.probes, (100, 2100))
        trainer.rows = []
        print(f"{len(ids):,} tokens, V={len(encoded.vocab):,}, {len(trainer.probes['word']):,} probes; "
              f"{config.epochs} epochs in spans of {span:,} ids; options {options}")
        print(" ".join(f"{name:>9s}" for name in COLUMNS))
        trainer.rows.append(measure(trainer, trainer.probes, 0.0))
        print_row(trainer.rows[-1])
        trainer.fit(ids, progress=False)
    if args.json:
        args.json.write_text(json.dumps({"options": options, "rows": trainer.rows}, indent=1))


if __name__ == "__main__":
    main()
