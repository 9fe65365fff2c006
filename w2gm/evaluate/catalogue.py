"""Where the paper's evaluation sets live: names, paths, and the data directory.

The bundled copies (``w2gm/data/eval``, see its PROVENANCE.md) and any ``--data-dir``
share one layout, that of the project's shared data folder, so ``--data-dir`` may point
at a full copy of it.  Each file may also be stored gzip-compressed as ``NAME.gz``.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import W2GMError

#: The word-similarity sets of Table 2 that are available, in the paper's row order,
#: with the files the paper's code read.  (YP-130 and MTurk-287/771 are not distributed.)
SIMILARITY = {
    "SL": "similarity/SimLex-999/SimLex-999.txt",
    "WS": "similarity/EN-WS-353-ALL.txt",
    "WS-S": "similarity/EN-WS-353-SIM.txt",
    "WS-R": "similarity/EN-WS-353-REL.txt",
    "MEN": "similarity/EN-MEN-TR-3k.txt",
    "MC": "similarity/EN-MC-30.txt",
    "RG": "similarity/EN-RG-65.txt",
    "RW": "similarity/EN-RW-STANFORD.txt",
}
SCWS_NAME = "SCWS"
SCWS = "scws/ratings.txt"
ENTAILMENT_NAME = "Baroni2012"
ENTAILMENT = "entailment/baroni2012"

#: Every name ``--datasets`` accepts.
ALL_NAMES = (*SIMILARITY, SCWS_NAME, ENTAILMENT_NAME)


def bundled_data_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "data" / "eval"


def data_dir(path: str | os.PathLike | None) -> Path:
    """The data directory to read: ``path`` if given (it must exist), else the bundle."""
    if path is None:
        return bundled_data_dir()
    directory = Path(path)
    if not directory.is_dir():
        raise W2GMError(f"{directory}: data directory does not exist")
    return directory


def canonical_names(names: list[str]) -> list[str]:
    """Dataset names as the catalogue spells them (matching is case-insensitive), in the
    order given; unknown names are an error that lists the known ones."""
    known = {name.lower(): name for name in ALL_NAMES}
    chosen = []
    for name in names:
        if name.lower() not in known:
            raise W2GMError(f"unknown dataset {name!r}; choose from {', '.join(ALL_NAMES)}")
        if known[name.lower()] not in chosen:
            chosen.append(known[name.lower()])
    return chosen
