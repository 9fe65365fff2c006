"""The word2vec tool's vector files, which gensim's ``KeyedVectors.load_word2vec_format`` (and
most embedding tools) read: a ``ROWS DIM`` header line, then one row per key, its numbers as
text or as little-endian float32."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import numpy as np

#: Rows formatted per write, bounding the memory of a text file.
CHUNK_ROWS = 4096


def write_word2vec(
    keys: Sequence[str], vectors: np.ndarray, handle: BinaryIO, binary: bool,
    header: bool = True, prefix: str = "", total: int | None = None,
) -> None:
    """Write ``keys`` and their ``vectors`` (``[len(keys), D]``); ``total`` is the row count
    the header states (``len(keys)`` unless given)."""
    if header:
        handle.write(f"{len(keys) if total is None else total} {vectors.shape[1]}\n".encode())
    for start in range(0, len(keys), CHUNK_ROWS):
        chunk_keys, chunk = keys[start : start + CHUNK_ROWS], vectors[start : start + CHUNK_ROWS]
        if binary:
            # word2vec.c writes "key " + the raw floats + a newline, which every reader skips
            little = chunk.astype("<f4")
            handle.write(b"".join(f"{prefix}{key} ".encode() + row.tobytes() + b"\n"
                                  for key, row in zip(chunk_keys, little, strict=True)))
        else:
            # 9 significant digits restore a float32 exactly
            lines = (prefix + key + " " + " ".join(f"{x:.9g}" for x in row)
                     for key, row in zip(chunk_keys, chunk.tolist(), strict=True))
            handle.write(("\n".join(lines) + "\n").encode())
