"""``w2gm senses MODEL WORD [WORD ...] [--context "a sentence"]``: what each component of a
word is, how often it is the sense in use, and which one a sentence means."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .errors import W2GMError
from .evaluate.neighbors import component_reports, mark
from .evaluate.report import Format, Row, Table, render
from .evaluate.suite import model_header
from .keyed import KeyedMixtures
from .senses import context_windows, known_context
from .usage import describe


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "senses",
        help="each component of a word: usage, weight, variance, neighbours; the sense meant in a sentence",
        description=(
            "For each component word:i print its usage share (how often it won for its word in context "
            "over the training text), weight, mean per-dimension variance, whether it is active, and its "
            "nearest components.  With --context, also the posterior over the components given the "
            "sentence, and the chosen one."
        ),
    )
    parser.add_argument("model", metavar="MODEL", help="model file written by w2gm train")
    parser.add_argument("words", nargs="+", metavar="WORD", help="words to describe")
    parser.add_argument(
        "--context", metavar="SENTENCE",
        help="a sentence to disambiguate each word in (split on white space; where the word occurs in "
        "it, the training window around it is used, else every word)",
    )
    parser.add_argument("--window", type=int, default=None, help="context words each side (default: training window)")
    parser.add_argument("--topn", type=int, default=8, help="neighbours per component (default: 8)")
    parser.add_argument(
        "--all-components", action="store_true",
        help="show inactive components and inactive neighbours too, marked (default: left out)",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", dest="format", action="store_const", const="json", help="print JSON")
    group.add_argument("--markdown", dest="format", action="store_const", const="markdown", help="Markdown tables")
    parser.set_defaults(format="text", run=run)


def senses_table(
    model: KeyedMixtures, word: str, topn: int, context: str | None, window: int | None, include_inactive: bool
) -> Table:
    """One row per component of ``word``; the posterior column and the choice with a context."""
    word_id = model.vocab.id(word)
    shares = model.usage_shares()
    posterior = model.disambiguate(word, context, window, include_inactive) if context is not None else None
    reports = component_reports(model, word, topn, include_inactive=include_inactive)
    columns = ["usage", "weight", "variance", "active"] + (["posterior"] if posterior is not None else [])
    seen = 0 if model.usage is None else int(model.usage.counts[word_id].sum())
    counted = "usage unknown" if model.usage is None else f"usage from {seen:,} of its tokens"
    table = Table(
        title=f"{word}: {int(model.vocab.counts[word_id]):,} occurrences in training, {counted}",
        label="Component",
        columns=[*columns, "Nearest neighbours"],
        digits=3,
    )
    for r in reports:
        share = None if shares is None or seen == 0 else float(shares[word_id, r.component])
        cells: list[Any] = [share, r.weight, r.variance, "yes" if r.active else "no"]
        if posterior is not None:
            cells.append(float(posterior[r.component]))
        table.rows.append(Row(mark(f"{word}:{r.component}", r.active), [*cells, [n.key for n in r.neighbours]]))
    if posterior is not None:
        chosen = int(posterior.argmax())
        table.notes.append(f"context: {context!r}; chosen: {word}:{chosen} (posterior {posterior[chosen]:.3f})")
        ids = context_windows(model.vocab, word, [context], window or model.training_window)[0]
        if not known_context(model.vocab, ids):
            table.notes.append(f"no known context word in {context!r} (the word itself does not count): "
                               "the posterior is the prior, the mixture weights")
    if model.usage is not None:
        table.notes.append(f"inactive: {describe()}")
    return table


def run(args: argparse.Namespace) -> int:
    if args.topn < 1:
        raise W2GMError(f"--topn must be at least 1, got {args.topn}")
    if args.window is not None and args.window < 1:
        raise W2GMError(f"--window must be at least 1, got {args.window}")
    if args.context is not None and not args.context.split():
        raise W2GMError("--context is empty")
    model = KeyedMixtures.load(args.model)
    tables = [
        senses_table(model, word, args.topn, args.context, args.window, args.all_components) for word in args.words
    ]
    fmt: Format = args.format
    sys.stdout.write(render(tables, fmt, model_header(model, args.model)))
    return 0

