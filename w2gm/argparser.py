"""The command line's parser: argparse with errors in one line and a suggestion for what
was mistyped (an option, a subcommand, a choice), found as every w2gm suggestion is
(:mod:`w2gm.spelling`).

argparse prints the whole usage before an error, which buries the one line that matters;
``w2gm train --dimm 50`` says instead::

    w2gm train: error: unrecognized arguments: --dimm 50; did you mean --dim?

Python 3.14's ``suggest_on_error`` covers choices and subcommands but not options, and
3.10 to 3.13 have none, so the suggestions are made here, the same on every version.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any, NoReturn

from .spelling import close_matches, did_you_mean


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line; its subcommands' parsers are of this
    class too (``add_subparsers`` makes them of the parent's class)."""

    def error(self, message: str) -> NoReturn:
        if not any(hint in message for hint in ("did you mean", "choose from")):
            message += f"; see {self.prog} --help"
        self.exit(2, f"{self.prog}: error: {message}\n")

    def parse_args(self, args: Sequence[str] | None = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        parsed, extras = self.parse_known_args(args, namespace)
        if extras:
            # argparse passes a subcommand's leftovers up to the main parser: the subcommand's
            # own parser knows the options they were meant to be
            parser = self._chosen_subparser(parsed)
            options = [s for s in parser._option_string_actions if s.startswith("--")]
            typed = next((e.partition("=")[0] for e in extras if e.startswith("--")), None)
            hint = did_you_mean(close_matches(typed, options, 1), quote=False) if typed else ""
            parser.error(f"unrecognized arguments: {' '.join(extras)}{hint}")
        return parsed

    def _chosen_subparser(self, parsed: argparse.Namespace) -> argparse.ArgumentParser:
        for action in self._actions:
            if isinstance(action, argparse._SubParsersAction):
                name = getattr(parsed, action.dest, None)
                if name in action.choices:
                    return action.choices[name]
        return self

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        """A value outside an option's choices, or an unknown subcommand: the closest
        choice, or the list of them when none is close."""
        if action.choices is None or value in action.choices:
            return
        names = [str(choice) for choice in action.choices]
        hint = did_you_mean(close_matches(str(value), names, 1)) or f" (choose from {', '.join(names)})"
        raise argparse.ArgumentError(action, f"invalid choice: {value!r}{hint}")
