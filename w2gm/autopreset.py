"""``--preset auto`` (the default): subsampling, learning rate and epochs from the size of the
corpus, which is known only once the text has been read.

A.2's settings (subsampling 1e-5, rate 0.05, 5 epochs) are made for billions of tokens:
on a few million they discard most of the frequent words and stop before the rare ones
have moved, and the vectors are noise (WS-353 17 on the bundled sample, 22.5 on the
2.1M-token text8 prefix).  Smaller corpora need more of their frequent words kept, a
faster rate and more passes.  Each rule covers corpora up to a number of tokens (the
vocabulary's tokens per epoch, after --min-count); options given on the command line
always win over the rule's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .config import FIELDS, PRESETS

AUTO = "auto"


@dataclass(frozen=True)
class Rule:
    name: str
    up_to_tokens: float
    settings: dict[str, Any]
    why: str


#: Measured (K=2, 2 threads; WS-353 Spearman x100 / sum over the 8 bundled similarity sets):
#: the bundled sample (0.94M tokens) 49.0 / 325 with "small", 48.3 / 385 with 20 epochs,
#: 17.0 with A.2's settings; the text8 prefix (2.1M) 52.2 with "small", 22.5 with A.2's; a
#: 4.9M-token slice of the Gutenberg books 32.5 / 216 with "small", 20.2 / 97 with A.2's;
#: all 20M tokens of Gutenberg 360 (sum) with "small", 226 with A.2's.  The "medium" rule
#: is interpolated between the measured ends, not measured: no corpus of that size is at hand.
RULES: tuple[Rule, ...] = (
    Rule("tiny", 1.5e6, {**PRESETS["small"], "epochs": 20},
         "up to 1.5M tokens: the small-corpus settings with twice the passes"),
    Rule("small", 50e6, PRESETS["small"],
         "up to 50M tokens: keep more frequent words, a faster rate, more passes"),
    Rule("medium", 500e6, {"subsample": 3e-5, "lr": 0.07, "epochs": 7, "objective": "nll", "negatives": 3},
         "50M to 500M tokens: between the small-corpus settings and A.2"),
    Rule("paper", math.inf, PRESETS["paper"], "over 500M tokens: A.2 as published"),
)


def choose(tokens: int) -> Rule:
    """The rule for a corpus of ``tokens`` tokens per epoch."""
    return next(rule for rule in RULES if tokens <= rule.up_to_tokens)


def describe(rule: Rule, tokens: int, given: Iterable[str] = ()) -> str:
    """What auto chose, for the summary line and the model's config; ``given`` names the
    options the user set, which the rule left alone."""
    def flag(name: str) -> str:
        return "--" + name.replace("_", "-")

    given = set(given)
    applied = [f"{flag(k)} {v}" for k, v in rule.settings.items() if k not in given]
    kept = [flag(k) for k in rule.settings if k in given]
    parts = [", ".join(applied)] if applied else ([] if kept else ["A.2's settings"])
    if kept:
        parts.append(f"{', '.join(kept)} as given")
    return f"auto: {rule.name} for {tokens:,} tokens ({'; '.join(parts)})"


def _tokens(count: float) -> str:
    return f"{count / 1e6:g}M"


def default_help(name: str) -> str | None:
    """What ``--help`` gives as the default of an option that the rules set, e.g. for
    ``epochs``: "set by --preset auto from the corpus size: 20 up to 1.5M tokens, 15 up
    to 50M, 7 up to 500M, 5 beyond; --preset paper: 5"; None for other options."""
    if not any(name in rule.settings for rule in RULES):
        return None
    paper = FIELDS[name].default
    tiers: list[tuple[Any, float]] = []  # (value, up to tokens), neighbouring rules with one value merged
    for rule in RULES:
        value = rule.settings.get(name, paper)
        if tiers and tiers[-1][0] == value:
            tiers[-1] = (value, rule.up_to_tokens)
        else:
            tiers.append((value, rule.up_to_tokens))
    parts = [f"{value} up to {_tokens(limit)}" + (" tokens" if i == 0 else "")
             for i, (value, limit) in enumerate(tiers[:-1])]
    parts.append(f"{tiers[-1][0]} beyond")
    return f"set by --preset auto from the corpus size: {', '.join(parts)}; --preset paper: {paper}"
