"""``w2gm export``: a model's component means in formats other tools read.

* ``word2vec`` / ``word2vec-binary``: the format of the word2vec tool, which gensim's
  ``KeyedVectors.load_word2vec_format`` (and most embedding tools) load: a ``ROWS DIM``
  line, then one row per component keyed ``word:k`` (plain ``word`` when K = 1), its
  numbers as text or as little-endian float32.
* ``projector``: the TensorBoard Embedding Projector's two files in a directory,
  ``tensors.tsv`` (one mean per line) and ``metadata.tsv`` (word, component, weight and mean
  per-dimension variance, with a header), which is how the paper's authors looked at
  their model (load them at https://projector.tensorflow.org).

Outputs follow :mod:`w2gm.outputs`'s rules, as ``train``'s model does: every file is
written through a temporary file and renamed into place, so a failure (an unwritable
directory, a full disk, Ctrl-C, SIGTERM) leaves no partial file; the projector's two files
are written into a new directory and moved into place together.  An existing file is only
replaced with ``--force``, and never the model being exported, a symbolic link, a device or
a FIFO; a second export to the same path while one runs stops at once.  Inactive
components (:mod:`w2gm.usage`) are left out unless ``--all-components``; the projector's
metadata then marks them.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import W2GMError
from .keyed import KeyedMixtures
from .outputs import OutputRule, write_files

FORMATS = ("word2vec", "word2vec-binary", "projector")
PROJECTOR_FILES = ("tensors.tsv", "metadata.tsv")
#: The OUT argument that names standard output (word2vec formats).
STANDARD_OUTPUT = "-"
#: An export replaces a file only with --force, and never the model it reads.
EXPORT_OUTPUT = OutputRule("", "--force", "the model being exported; the export would replace it")
#: Rows formatted per write, bounding the memory of a text export.
CHUNK_ROWS = 4096


def exported_rows(model: KeyedMixtures, include_inactive: bool = False) -> np.ndarray:
    """The rows of ``model.vectors`` (word * K + k) to export: the active components, or all."""
    return np.flatnonzero(model.active(include_inactive).reshape(-1).numpy())


def _rows(model: KeyedMixtures, rows: np.ndarray) -> Iterator[tuple[list[str], np.ndarray]]:
    keys, vectors = model.index_to_key, model.vectors
    for start in range(0, len(rows), CHUNK_ROWS):
        chunk = rows[start : start + CHUNK_ROWS]
        yield [keys[i] for i in chunk], vectors[chunk]


def write_word2vec(model: KeyedMixtures, rows: np.ndarray, handle: BinaryIO, binary: bool) -> None:
    handle.write(f"{len(rows)} {model.vector_size}\n".encode())
    for keys, vectors in _rows(model, rows):
        if binary:
            # word2vec.c writes "key " + the raw floats + a newline, which every reader skips
            little = vectors.astype("<f4")
            handle.write(b"".join(f"{key} ".encode() + row.tobytes() + b"\n" for key, row in zip(keys, little,
                                                                                                   strict=True)))
        else:
            # 9 significant digits restore a float32 exactly
            lines = (key + " " + " ".join(f"{x:.9g}" for x in row) for key, row in zip(keys, vectors.tolist(),
                                                                                        strict=True))
            handle.write(("\n".join(lines) + "\n").encode())


def write_projector_tensors(model: KeyedMixtures, rows: np.ndarray, handle: BinaryIO) -> None:
    for _, vectors in _rows(model, rows):
        handle.write(("\n".join("\t".join(f"{x:.9g}" for x in row) for row in vectors.tolist()) + "\n").encode())


def write_projector_metadata(model: KeyedMixtures, rows: np.ndarray, handle: BinaryIO) -> None:
    k = model.components_per_word
    weights = model.input.weights().reshape(-1).numpy()
    variances = model.input.variances().mean(-1).reshape(-1).numpy()
    active = model.active().reshape(-1).numpy()
    handle.write(b"word\tcomponent\tweight\tvariance\tactive\n")
    for start in range(0, len(rows), CHUNK_ROWS):
        handle.write("".join(
            f"{model.vocab.words[row // k]}\t{row % k}\t{weights[row]:.6g}\t{variances[row]:.6g}\t"
            f"{'yes' if active[row] else 'no'}\n" for row in rows[start : start + CHUNK_ROWS]
        ).encode())


def export(model: KeyedMixtures, output: str | os.PathLike, fmt: str, force: bool = False,
           include_inactive: bool = False, model_path: str | os.PathLike | None = None) -> list[Path]:
    """Write ``model`` to ``output`` (a file; a directory for ``projector``; the string
    ``-`` for standard output) in ``fmt``; returns the files written.  ``output`` is held to
    :mod:`w2gm.outputs`'s rules, and may never be ``model_path``, the file the model came from."""
    if fmt not in FORMATS:
        raise W2GMError(f"unknown export format {fmt!r}; choose from {', '.join(FORMATS)}")
    rows = exported_rows(model, include_inactive)
    if fmt == "projector":
        names: list[str] | None = list(PROJECTOR_FILES)
        writers = [
            lambda h: write_projector_tensors(model, rows, h),
            lambda h: write_projector_metadata(model, rows, h),
        ]
    else:
        names, binary = None, fmt == "word2vec-binary"
        writers = [lambda h: write_word2vec(model, rows, h, binary)]
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
        description="Write the component means of MODEL: word2vec text or binary (one row per component, keyed "
        "word:k, or word when K=1; gensim's KeyedVectors.load_word2vec_format reads both), or the TensorBoard "
        "Embedding Projector's tensors.tsv and metadata.tsv (word, component, weight, variance) into the "
        "directory OUT.",
    )
    parser.add_argument("model", help="model file written by w2gm train")
    parser.add_argument("out", metavar="OUT",
                        help="file to write (a directory for --format projector; - for standard output)")
    parser.add_argument("--format", choices=FORMATS, default="word2vec", help="(default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="replace files that exist (never the model itself, a symbolic link, device or FIFO)")
    parser.add_argument("--all-components", action="store_true",
                        help="export inactive components too (the projector's metadata marks them)")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    model = KeyedMixtures.load(args.model)
    written = export(model, args.out, args.format, args.force, args.all_components, model_path=args.model)
    rows = len(exported_rows(model, args.all_components))
    print(f"w2gm: wrote {rows:,} vectors of dimension {model.vector_size} ({args.format}) to "
          f"{', '.join(map(str, written)) or 'standard output'}", file=sys.stderr if not written else sys.stdout)
    return 0
