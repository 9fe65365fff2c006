"""The ``w2gm`` command.  Each subcommand lives with its concept and registers itself here.

A command module offers ``register(subparsers)``, adding its parser with
``set_defaults(run=function)``; ``function(args)`` returns the exit code.  User errors
are raised as :class:`W2GMError` and printed as one line, exit code 2; Ctrl-C and SIGTERM
print what they left (exit 130, 143); a closed pipe on standard output ends the command
quietly, as it ends ``cat`` (exit 141), whichever command was writing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from argparse import SUPPRESS
from collections.abc import Sequence

from . import __version__, autopreset
from .argparser import Parser
from .config import FIELDS, PRESETS
from .errors import W2GMError


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, with the field's help and default (for the options
    ``--preset auto`` sets, how it sets them).  Flags left out stay out of the namespace,
    so that a preset can supply them."""
    for name, spec in FIELDS.items():
        flag = "--" + name.replace("_", "-")
        default = autopreset.default_help(name) or spec.default
        help_text = f"{spec.metadata['help']} (default: {default})".replace("%", "%%")
        if isinstance(spec.default, bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=SUPPRESS, help=help_text)
            continue
        choices = spec.metadata.get("choices")
        kind = str if choices or name == "device" else float if isinstance(spec.default, float) else int
        parser.add_argument(
            flag, type=kind, default=SUPPRESS, choices=choices,
            metavar=None if choices else name.upper(), help=help_text,
        )


def _run_train(args: argparse.Namespace) -> int:
    from .stopping import TrainingInterrupted
    from .train import train

    options = {name: getattr(args, name) for name in FIELDS if hasattr(args, name)}
    output = args.output if args.output is not None else (None if args.resume else "model.w2gm")
    try:
        model = train(
            args.corpus or None, output=output,
            progress=not args.quiet, preset=args.preset,
            checkpoint_dir=args.checkpoint_dir, checkpoint_every=args.checkpoint_every, resume=args.resume,
            allow_config_change=args.allow_config_change, overwrite=args.overwrite, **options,
        )
    except TrainingInterrupted as stopped:
        print(f"w2gm: {stopped}", file=sys.stderr)
        return 130
    if os.environ.get("RANK", "0") != "0":
        return 0
    t = model.training
    replaced = f"; {t['replaced_bytes']} undecodable bytes replaced" if t["replaced_bytes"] else ""
    # w2gm.training_progress: why this share and not the training loss
    fit = "" if t["ranked"] is None else f", true contexts above random words {100 * t['ranked']:.1f}%"
    print(
        f"w2gm: trained {len(model.vocab)} words x K={model.components_per_word} on {t['tokens']:,} tokens "
        f"({t['raw_tokens']:,} in the text per epoch) in {t['seconds']:.1f} s, "
        f"{t['tokens_per_second']:,.0f} tokens/s{fit}{replaced}; "
        f"preset {model.config.get('preset')}; saved {t['output']}"
    )
    return 0


def register_train(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "train",
        help="learn a model from text",
        description="Learn Gaussian-mixture word distributions from raw text (words as --tokenizer says). "
        "Words seen fewer than --min-count times are removed from the text before windows are formed, "
        "as in word2vec. With no CORPUS, trains on the bundled sample of Wikipedia text.",
    )
    parser.add_argument(
        "corpus", nargs="*", metavar="CORPUS",
        help="text files or directories, or - for standard input; plain, .gz, .bz2 or .xz "
        "(default: the bundled sample)",
    )
    parser.add_argument(
        "-o", "--output", default=None,
        help="model file to write (default: model.w2gm, or the resumed run's own)",
    )
    parser.add_argument(
        "--overwrite", "--force", action="store_true",
        help="let the model replace an existing file that is not a w2gm model (an earlier model is "
        "always replaced; a corpus file, directory, device or symbolic link never is)",
    )
    parser.add_argument(
        "-q", "--quiet", action="store_true",
        help="no progress (otherwise a bar on a terminal; in a log, a line at the end of each epoch and "
        "at least once a minute)",
    )
    parser.add_argument(
        "--checkpoint-dir", metavar="DIR", default=None,
        help="where the run keeps its corpus ids and checkpoints until the model is saved "
        "(default: OUTPUT.checkpoint)",
    )
    parser.add_argument(
        "--checkpoint-every", metavar="EVERY", default="10min",
        help="save the training state this often: a time (30s, 10min, 2h) or a number of steps "
        "(500steps; a step is a span of --span-tokens tokens); Ctrl-C and SIGTERM also save one "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--resume", metavar="DIR", default=None,
        help="continue the run whose checkpoint directory is DIR, on its corpus and options",
    )
    parser.add_argument(
        "--allow-config-change", action="store_true",
        help="with --resume: go on with the options given now where they differ from the run's",
    )
    parser.add_argument(
        "--preset", choices=tuple(PRESETS), default=None,
        help="option set under your flags: 'auto' sets the options whose default says so once it knows "
        "the corpus's size, and the summary line says what it chose; 'paper' is A.2 as published "
        "(for billions of tokens); "
        + "'small' sets " + ", ".join(f"--{k.replace('_', '-')} {v}" for k, v in PRESETS["small"].items())
        + " for corpora of a few million tokens (default: auto)",
    )
    _add_config_options(parser)
    parser.set_defaults(run=_run_train)


def build_parser() -> argparse.ArgumentParser:
    from . import export, senses_command
    from .evaluate import commands as evaluate_commands
    from .explorer import commands as explorer_commands

    parser = Parser(
        prog="w2gm",
        description="Multimodal word distributions: learn, evaluate and explore Gaussian-mixture word embeddings.",
    )
    parser.add_argument("--version", action="version", version=f"w2gm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_train(subparsers)
    for module in (evaluate_commands, explorer_commands, senses_command, export):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _run(argv)
    except BrokenPipeError:
        return _reader_gone()


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code = int(args.run(args) or 0)
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return code
    except W2GMError as error:
        print(f"w2gm: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as stopped:
        # SIGTERM arrives as Stopped (w2gm.stopping); what was half-written is removed by now
        print(f"w2gm: {str(stopped) or 'interrupted'}", file=sys.stderr)
        return getattr(stopped, "exit_code", 128 + signal.SIGINT)


def _reader_gone() -> int:
    """Standard output is a pipe whose reader has gone (``w2gm neighbours m rock | head -1``):
    stop quietly with the status a process killed by SIGPIPE has, as ``cat`` does.  Python
    ignores SIGPIPE, so the write raised instead; what is still buffered for the pipe is
    dropped rather than written (and failing again) at exit."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 128 + signal.SIGPIPE


if __name__ == "__main__":
    sys.exit(main())
