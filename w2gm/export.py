"""``w2gm export``: a model's vectors in formats other tools read.

What is written is rows of the model's table of keys (:mod:`w2gm.keytable`): ``--keys
words`` (the default for word2vec files) one row per word, its mixture's mean, so that
gensim's ``most_similar``, ``evaluate_word_pairs`` and ``evaluate_word_analogies`` work on
the file as on any word2vec model; ``components`` one row per active component keyed
``word:k`` (the default for the projector); ``both`` the words then the components, the
whole table in the model's order (``model.index_to_key``).  A model with K = 1 has no
component rows: its words are its components.

* ``word2vec`` / ``word2vec-binary``: the format of the word2vec tool
  (:mod:`w2gm.word2vec_format`), which gensim's ``KeyedVectors.load_word2vec_format`` loads.
* ``projector``: the TensorBoard Embedding Projector's two files in a directory,
  ``tensors.tsv`` (one vector per line) and ``metadata.tsv`` (key, word, component, weight
  and mean per-dimension variance, with a header; a word's row leaves the last three
  empty), which is how the paper's authors looked at their model (load them at
  https://projector.tensorflow.org).

Outputs follow :mod:`w2gm.outputs`'s rules, as ``train``'s model does: every file is
written through a temporary file and renamed into place, so a failure (an unwritable
directory, a full disk, Ctrl-C, SIGTERM) leaves no partial file; the projector's two files
are written into a new directory and moved into place together.  An existing file is only
replaced with ``--force``, and never the model being exported, a symbolic link, a device or
a FIFO; a second export to the same path while one runs stops at once.  Inactive
components (:mod:`w2gm.usage`) are left out, and do not count in the words' means, unless
``--all-components``; the projector's metadata then marks them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import W2GMError
from .keyed import KeyedMixtures
from .keytable import KEY_KINDS, KeyTable
from .outputs import OutputRule, write_files
from .word2vec_format import CHUNK_ROWS, write_word2vec

FORMATS = ("word2vec", "word2vec-binary", "projector")
PROJECTOR_FILES = ("tensors.tsv", "metadata.tsv")
#: The OUT argument that names standard output (word2vec formats).
STANDARD_OUTPUT = "-"
#: An export replaces a file only with --force, and never the model it reads.
EXPORT_OUTPUT = OutputRule("", "--force", "the model being exported; the export would replace it")


def default_keys(fmt: str, components_per_word: int) -> str:
    """Words for word2vec files (what gensim code expects), components for the projector
    (whose metadata describes them) unless K = 1."""
    return "components" if fmt == "projector" and components_per_word > 1 else "words"


def exported_rows(model: KeyedMixtures, keys: str = "words", include_inactive: bool = False) -> np.ndarray:
    """The rows of the model's table (every component a key with ``include_inactive``) to export."""
    if keys not in KEY_KINDS:
        raise W2GMError(f"unknown --keys {keys!r}; choose from {', '.join(KEY_KINDS)}")
    if keys == "components" and model.components_per_word == 1:
        raise W2GMError("--keys components: a K=1 model's words are its components; export --keys words")
    return np.array(model.key_table(include_inactive).rows(keys), dtype=np.int64)


def write_projector_tensors(table: KeyTable, rows: np.ndarray, handle: BinaryIO) -> None:
    for start in range(0, len(rows), CHUNK_ROWS):
        vectors = table.vectors[rows[start : start + CHUNK_ROWS]]
        handle.write(("\n".join("\t".join(f"{x:.9g}" for x in row) for row in vectors.tolist()) + "\n").encode())


def write_projector_metadata(model: KeyedMixtures, table: KeyTable, rows: np.ndarray, handle: BinaryIO) -> None:
    k = model.components_per_word
    weights = model.input.weights().reshape(-1).numpy()
    variances = model.input.variances().mean(-1).reshape(-1).numpy()
    active = model.active().reshape(-1).numpy()
    flat = np.full(len(table), -1, dtype=np.int64)  # each component row's word * K + k
    flat[table.component_rows[table.component_rows >= 0]] = np.flatnonzero(table.component_rows >= 0)

    def line(row: int) -> str:
        key, word = table.index_to_key[row], model.vocab.words[table.row_words[row]]
        if flat[row] < 0:
            return f"{key}\t{word}\t\t\t\tyes\n"
        i = flat[row]
        return f"{key}\t{word}\t{i % k}\t{weights[i]:.6g}\t{variances[i]:.6g}\t{'yes' if active[i] else 'no'}\n"

    handle.write(b"key\tword\tcomponent\tweight\tvariance\tactive\n")
    for start in range(0, len(rows), CHUNK_ROWS):
        handle.write("".join(line(int(row)) for row in rows[start : start + CHUNK_ROWS]).encode())


def export(model: KeyedMixtures, output: str | os.PathLike, fmt: str, force: bool = False,
           include_inactive: bool = False, model_path: str | os.PathLike | None = None,
           keys: str | None = None) -> list[Path]:
    """Write the ``keys`` rows of ``model`` (:func:`default_keys` if None) to ``output`` (a
    file; a directory for ``projector``; the string ``-`` for standard output) in ``fmt``;
    returns the files written.  ``output`` is held to :mod:`w2gm.outputs`'s rules, and may
    never be ``model_path``, the file the model came from."""
    if fmt not in FORMATS:
        raise W2GMError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    table = model.key_table(include_inactive)
    rows = exported_rows(model, keys or default_keys(fmt, model.components_per_word), include_inactive)
    if fmt == "projector":
        names: list[str] | None = list(PROJECTOR_FILES)
        writers = [
            lambda h: write_projector_tensors(table, rows, h),
            lambda h: write_projector_metadata(model, table, rows, h),
        ]
    else:
        names, binary = None, fmt == "word2vec-binary"
        writers = [lambda h: write_word2vec([table.index_to_key[row] for row in rows], table.vectors[rows], h,
                                            binary)]
    if isinstance(output, str) and output == STANDARD_OUTPUT:  # the argument "-" itself: ./- is a file
        if names is not None:
            raise W2GMError("the projector's two files cannot go to standard output; give a directory")
        writers[0](sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return []
    inputs = [] if model_path is None else [Path(model_path)]
    return write_files(output, writers, names, inputs, force, EXPORT_OUTPUT)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a model's vectors for gensim, word2vec tools or TensorBoard's projector",
        description="Write the vectors of MODEL: word2vec text or binary (gensim's "
        "KeyedVectors.load_word2vec_format reads both), or the TensorBoard Embedding Projector's tensors.tsv and "
        "metadata.tsv (key, word, component, weight, variance) into the directory OUT.  A word's vector is "
        "the mean of its mixture; a component's, keyed word:k, its mean.",
    )
    parser.add_argument("model", help="model file written by w2gm train")
    parser.add_argument("out", metavar="OUT",
                        help="file to write (a directory for --format projector; - for standard output)")
    parser.add_argument("--format", choices=FORMATS, default="word2vec", help="(default: %(default)s)")
    parser.add_argument("--keys", choices=KEY_KINDS,
                        help="one row per word, per active component (word:k), or both, words first (default: "
                        "words; components for --format projector)")
    parser.add_argument("--force", action="store_true",
                        help="replace files that exist (never the model itself, a symbolic link, device or FIFO)")
    parser.add_argument("--all-components", action="store_true",
                        help="export inactive components too, and count them in the words' means (the "
                        "projector's metadata marks them)")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    model = KeyedMixtures.load(args.model)
    keys = args.keys or default_keys(args.format, model.components_per_word)
    written = export(model, args.out, args.format, args.force, args.all_components, model_path=args.model, keys=keys)
    rows = len(exported_rows(model, keys, args.all_components))
    print(f"w2gm: wrote {rows:,} vectors of dimension {model.vector_size} ({args.format}, keys: {keys}) to "
          f"{', '.join(map(str, written)) or 'standard output'}", file=sys.stderr if not written else sys.stdout)
    return 0
