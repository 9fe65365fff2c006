"""Result tables and their three renderings: terminal text, Markdown and JSON.

Every task turns its results into :class:`Table` objects; the renderers below are the
only formatting code, so the text, Markdown and JSON outputs carry the same numbers by
construction (JSON unrounded, the others to ``digits`` places).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Cell = float | int | str | list[str] | None

#: Characters a terminal would obey rather than show: C0 and C1 controls (escape sequences
#: start with ESC, U+001B, or CSI, U+009B) and the bidirectional overrides that reorder a line.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with every character a terminal would act on written as an escape
    (``\\x1b``, ``\\u202e``): a word of a model trained on hostile text cannot recolour or
    rewrite the terminal.  Line breaks and tabs are kept."""
    return _UNPRINTABLE.sub(lambda m: ascii(m.group())[1:-1], text)
Format = Literal["text", "markdown", "json"]


@dataclass
class Row:
    label: str
    cells: list[Cell]


@dataclass
class Table:
    """A titled table: a label column, then ``columns``.  In each row the largest of the
    cells in ``best_columns`` (indices into ``columns``) is marked as the best, and so is
    every cell tied with it as shown (to ``digits`` places)."""

    title: str
    label: str
    columns: list[str]
    rows: list[Row] = field(default_factory=list)
    best_columns: list[int] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    digits: int = 2

    def best(self, row: Row) -> list[int]:
        """Indices of the row's best cells among ``best_columns`` (none if all are missing)."""
        shown = {i: round(row.cells[i], self.digits) for i in self.best_columns if _is_number(row.cells[i])}
        top = max(shown.values(), default=None)
        return [i for i, value in shown.items() if value == top]


def _is_number(cell: Cell) -> bool:
    return isinstance(cell, (int, float)) and not isinstance(cell, bool) and math.isfinite(cell)


def _format(cell: Cell, digits: int) -> str:
    if cell is None or (isinstance(cell, float) and not math.isfinite(cell)):
        return "-"
    if isinstance(cell, list):
        return ", ".join(cell)
    if isinstance(cell, float):
        return f"{cell:.{digits}f}"
    return str(cell)


def _cells(table: Table, row: Row, markdown: bool) -> list[str]:
    """Formatted cells; the best ones in bold (Markdown) or followed by ``*`` (text, where
    the other competing cells get a space so the digits stay aligned)."""
    best = table.best(row)
    texts = []
    for i, cell in enumerate(row.cells):
        text = _format(cell, table.digits)
        if markdown and i in best:
            text = f"**{text}**"
        elif not markdown and i in table.best_columns:
            text += "*" if i in best else " "
        texts.append(text)
    return texts


def _numeric_columns(table: Table) -> list[bool]:
    """Columns holding only numbers (missing ones included), to be right-aligned."""
    if not table.rows:
        return [False] * len(table.columns)
    return [
        all(
            cell is None or (isinstance(cell, (int, float)) and not isinstance(cell, bool)) for cell in column
        )
        for column in zip(*(row.cells for row in table.rows), strict=True)
    ]


def to_text(tables: Sequence[Table]) -> str:
    """Aligned plain-text tables: numbers right-aligned, words left; the best cells of a
    row carry a ``*``."""
    blocks = []
    for table in tables:
        header = [printable(text) for text in (table.label, *table.columns)]
        body = [[printable(text) for text in (row.label, *_cells(table, row, markdown=False))] for row in table.rows]
        right = [False, *_numeric_columns(table)]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
        lines = [table.title]
        for line in [header, *body]:
            parts = [
                text.rjust(width) if align else text.ljust(width)
                for text, width, align in zip(line, widths, right, strict=True)
            ]
            lines.append("  ".join(parts).rstrip())
        lines.extend(table.notes)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def to_markdown(tables: Sequence[Table]) -> str:
    """GitHub-flavoured Markdown tables, the best cells of a row in bold."""
    blocks = []
    for table in tables:
        numeric = _numeric_columns(table)
        lines = [f"**{table.title}**", ""]
        lines.append("| " + " | ".join(_escape(c) for c in [table.label, *table.columns]) + " |")
        lines.append("|---|" + "".join("---:|" if n else "---|" for n in numeric))
        for row in table.rows:
            cells = [row.label, *_cells(table, row, markdown=True)]
            lines.append("| " + " | ".join(_escape(c) for c in cells) + " |")
        if table.notes:
            lines.append("")
            lines.extend(f"- {_escape(note)}" for note in table.notes)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _escape(text: str) -> str:
    return text.replace("|", "\\|")


def _json_value(cell: Cell) -> Any:
    if isinstance(cell, float) and not math.isfinite(cell):
        return None
    return cell


def to_json(tables: Sequence[Table], header: dict[str, Any] | None = None) -> str:
    """One JSON document: ``header`` (e.g. the model's description) and every table with
    its rows as ``{label, values: {column: value}, best: [column, ...]}``; missing values
    are null."""
    document: dict[str, Any] = dict(header or {})
    document["tables"] = [
        {
            "title": table.title,
            "label": table.label,
            "columns": table.columns,
            "rows": [
                {
                    "label": row.label,
                    "values": {c: _json_value(v) for c, v in zip(table.columns, row.cells, strict=True)},
                    "best": [table.columns[i] for i in table.best(row)],
                }
                for row in table.rows
            ],
            "notes": table.notes,
        }
        for table in tables
    ]
    return json.dumps(document, indent=2) + "\n"


def render(tables: Sequence[Table], fmt: Format, header: dict[str, Any] | None = None) -> str:
    """``tables`` in the chosen format; ``header`` leads the text and Markdown forms as one
    ``key: value; ...`` line."""
    if fmt == "json":
        return to_json(tables, header)
    lead = "; ".join(f"{key}: {value}" for key, value in (header or {}).items())
    body = to_markdown(tables) if fmt == "markdown" else to_text(tables)
    # to_text escaped its cells before aligning them; this catches titles, notes and the rest
    return printable((lead + "\n\n" if lead else "") + body)
