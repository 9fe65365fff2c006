"""The ``w2gm`` command.  Each subcommand lives with its concept and registers itself here.

A command module offers ``register(subparsers)``, adding its parser with
``set_defaults(run=function)``; ``function(args)`` returns the exit code.  User errors
are raised as :class:`W2GMError` and printed as one line, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import __version__
from .errors import W2GMError


def build_parser() -> argparse.ArgumentParser:
    from .evaluate import commands as evaluate_commands
    from .explorer import commands as explorer_commands

    parser = argparse.ArgumentParser(
        prog="w2gm",
        description="Multimodal word distributions: learn, evaluate and explore Gaussian-mixture word embeddings.",
    )
    parser.add_argument("--version", action="version", version=f"w2gm {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_train(subparsers)
    for module in (evaluate_commands, explorer_commands):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except W2GMError as error:
        print(f"w2gm: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("w2gm: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
