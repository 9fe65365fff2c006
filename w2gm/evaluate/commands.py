"""``w2gm eval`` (every quantitative result of the paper's Section 4) and ``w2gm neighbors``
(Table 1), registered on the main parser by :func:`register`."""

from __future__ import annotations

import argparse
import sys

from ..errors import W2GMError
from ..keyed import KeyedMixtures
from ..measures import MEASURES
from . import catalogue
from .entailment import DEFAULT_MEASURES as ENTAILMENT_MEASURES
from .neighbors import TABLE1_WORDS, component_reports, neighbours_table
from .pairs import OOV_POLICIES
from .report import Format, render
from .similarity import DEFAULT_MEASURES as SIMILARITY_MEASURES
from .suite import SuiteOptions, model_header, run_suite, suite_tables


def _add_format_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", dest="format", action="store_const", const="json", help="print JSON")
    group.add_argument(
        "--markdown", dest="format", action="store_const", const="markdown", help="print Markdown tables"
    )
    parser.set_defaults(format="text")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``eval`` and ``neighbors`` subcommands."""
    names = ", ".join(catalogue.ALL_NAMES)
    measures = ", ".join(MEASURES)
    evaluate = subparsers.add_parser(
        "eval",
        help="reproduce the paper's word similarity, SCWS and entailment tables on a model",
        description=(
            "Evaluate a trained model on the paper's benchmarks (Section 4): word similarity "
            "(Table 2), SCWS with and without context (Table 4), Baroni 2012 entailment "
            "(Table 5) and the variance of chosen words (4.5).  The evaluation files are "
            "bundled; --data-dir reads another copy with the same layout."
        ),
    )
    evaluate.add_argument("model", help="model file written by w2gm train")
    evaluate.add_argument("--data-dir", help="evaluation data directory (default: the bundled copies)")
    evaluate.add_argument(
        "--datasets",
        nargs="+",
        metavar="NAME",
        help=f"datasets to evaluate, among {names} (default: all, or none when --similarity is given)",
    )
    evaluate.add_argument(
        "--similarity",
        nargs="+",
        default=[],
        metavar="FILE",
        help="your own 'word1 word2 score' files (tab, comma or space separated, header optional)",
    )
    evaluate.add_argument(
        "--measures",
        nargs="+",
        default=list(SIMILARITY_MEASURES),
        metavar="MEASURE",
        help=f"similarity measures, among {measures} (default: {' '.join(SIMILARITY_MEASURES)})",
    )
    evaluate.add_argument(
        "--entailment-measures",
        nargs="+",
        default=list(ENTAILMENT_MEASURES),
        metavar="MEASURE",
        help=f"entailment scores, among {measures} (default: {' '.join(ENTAILMENT_MEASURES)})",
    )
    evaluate.add_argument(
        "--oov",
        choices=OOV_POLICIES,
        default="skip",
        help="pairs with an unknown word: skip them (default), or keep them ranked below every scored pair",
    )
    evaluate.add_argument(
        "--window",
        type=int,
        help="SCWS context words each side of the target (default: the model's training window)",
    )
    evaluate.add_argument(
        "--folds", type=int, default=10, help="cross-validation folds for entailment (default: 10)"
    )
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the entailment folds (default: 0)")
    evaluate.add_argument(
        "--variance-words",
        nargs="*",
        default=list(TABLE1_WORDS),
        metavar="WORD",
        help=f"words whose component variances to report (default: {' '.join(TABLE1_WORDS)}; "
        "the flag alone reports none)",
    )
    add_all_components_option(evaluate)
    _add_format_options(evaluate)
    evaluate.set_defaults(run=run_eval)

    neighbors = subparsers.add_parser(
        "neighbors", aliases=["neighbours"],
        help="nearest neighbours of each component of a word (paper Table 1; also: w2gm neighbours)",
        description=(
            "For each component word:i, print its weight, its mean per-dimension variance and its "
            "nearest components other:j by cosine of the means, as in the paper's Table 1."
        ),
    )
    neighbors.add_argument("model", help="model file written by w2gm train")
    neighbors.add_argument("words", nargs="+", metavar="WORD", help="a word, or word:i for one component")
    neighbors.add_argument("--topn", type=int, default=9, help="neighbours per component (default: 9)")
    neighbors.add_argument(
        "--by-variance",
        action="store_true",
        help="re-sort each component's neighbours by variance, lowest first, as the paper's loader does",
    )
    add_all_components_option(neighbors)
    _add_format_options(neighbors)
    neighbors.set_defaults(run=run_neighbors)


def add_all_components_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--all-components", action="store_true",
        help="include the components the model's usage marks inactive (they are left out by default)",
    )


def run_eval(args: argparse.Namespace) -> int:
    model = KeyedMixtures.load(args.model)
    if args.all_components:
        model = model.all_components()
    options = SuiteOptions(
        data_dir=args.data_dir,
        datasets=args.datasets,
        similarity_files=args.similarity,
        measures=args.measures,
        entailment_measures=args.entailment_measures,
        oov=args.oov,
        window=args.window,
        folds=args.folds,
        seed=args.seed,
        variance_words=args.variance_words,
    )
    results = run_suite(model, options)
    fmt: Format = args.format
    sys.stdout.write(render(suite_tables(results), fmt, model_header(model, args.model)))
    return 0


def run_neighbors(args: argparse.Namespace) -> int:
    if args.topn < 1:
        raise W2GMError(f"--topn must be at least 1, got {args.topn}")
    model = KeyedMixtures.load(args.model)
    reports = [
        r for word in args.words
        for r in component_reports(model, word, args.topn, args.by_variance, args.all_components)
    ]
    fmt: Format = args.format
    table = neighbours_table(reports, args.by_variance)
    sys.stdout.write(render([table], fmt, model_header(model, args.model)))
    return 0
