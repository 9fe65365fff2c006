"""Checks of what w2gm reads back from disk, done before it is trusted or even read whole.

A model file's header announces every tensor's type, shape and byte range: they must add
up to the file's size before the tensors are read (so that a header with gigabytes of
trailing data is refused from its first bytes), and the whole must fit in memory.  The
config recorded in a model or a checkpoint is checked as the command line's options are
(:class:`~w2gm.config.TrainConfig`), so that ``window = "ten"`` or ``1e9`` in a damaged
file is an error naming the file, not a crash or a 9 TiB allocation later.  A model's
version must be one this code knows, its counts non-negative, its parameters finite and
within :data:`PARAMETER_BOUNDS`, its output table of its input table's shape, and its
recorded options must say what its tables are.  A checkpoint's
corpus (``ids.npy``, ``corpus.json``) is checked id by id before any training.
"""

from __future__ import annotations

import json
import math
from typing import Any, BinaryIO

import numpy as np
import torch

from .config import TrainConfig
from .errors import ModelFileError, W2GMError
from .limits import available_memory, human_size
from .mixture import MixtureTable

_ITEM_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
               "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
#: Reading a file of n bytes holds the bytes and the tensors made from them.
_LOAD_COPIES = 2
_IDS_CHUNK = 1 << 22


def _corrupt(path: str, detail: str) -> ModelFileError:
    return ModelFileError(f"{path}: corrupt model file ({detail})")


def check_sizes(handle: BinaryIO, size: int, path: str) -> None:
    """The header's tensors must tile the rest of the file exactly, and the file must fit in memory."""
    handle.seek(0)
    header_size = int.from_bytes(handle.read(8), "little")
    header = json.loads(handle.read(header_size))
    end = 0
    ranges = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            start, stop = entry["data_offsets"]
            count = math.prod(entry["shape"])
            item = _ITEM_BYTES[entry["dtype"]]
            valid = all(isinstance(v, int) and v >= 0 for v in (start, stop, *entry["shape"]))
        except (KeyError, TypeError, ValueError):
            raise _corrupt(path, f"unreadable header entry for {name}") from None
        if not valid or stop - start != count * item:
            raise _corrupt(path, f"header entry for {name} gives {stop - start} bytes for its shape")
        ranges.append((start, stop))
    for start, stop in sorted(ranges):
        if start != end:
            raise _corrupt(path, "tensor data overlaps or leaves gaps")
        end = stop
    data_bytes = size - 8 - header_size
    if end != data_bytes:
        what = "truncated" if end > data_bytes else f"{data_bytes - end:,} bytes of unexplained data after the tensors"
        raise _corrupt(path, what)
    available = available_memory()
    if available is not None and _LOAD_COPIES * size > available:
        raise ModelFileError(f"{path}: loading this {human_size(size)} model needs about "
                             f"{human_size(_LOAD_COPIES * size)} of memory, {human_size(available)} is available")


def check_version(text: object, newest: int, path: str) -> int:
    """The format version: the decimal digits of a version this code knows (1 to ``newest``),
    exactly as w2gm writes them ("0", "-5", "02", " 2" are no version of it)."""
    if isinstance(text, str) and text.isascii() and text.isdigit() and int(text) > newest and text[0] != "0":
        raise ModelFileError(f"{path}: model format version {text} is newer than this w2gm reads ({newest}); "
                             "upgrade w2gm")
    if text not in {str(version) for version in range(1, newest + 1)}:
        raise ModelFileError(f"{path}: unreadable format version {text!r} (this w2gm reads 1 to {newest})")
    return int(text)  # type: ignore[arg-type]


def check_config(config: dict[str, Any], path: str) -> TrainConfig:
    """A model's recorded options, checked as the command line's are."""
    try:
        return TrainConfig.from_dict(config)
    except W2GMError as error:
        raise _corrupt(path, f"the config record: {error}") from None


#: The largest magnitude a model file's parameters may have.  Training stays far inside them
#: (means within about 1, log variances near log 0.05 = -3, logits within a few units).
#: Beyond them float32 overflows: the exp of a log variance over 88, or the square of a mean
#: difference over 2e19, is inf, and every energy between two such words -inf; within them
#: every measure and its gradient is finite (the energy property test of tests/test_fuzz.py
#: draws its parameters from these ranges).
PARAMETER_BOUNDS = {"means": 1e3, "log_variances": 20.0, "logits": 1e3}


def check_parameters(prefix: str, parameters: dict[str, torch.Tensor], path: str) -> None:
    """Every parameter finite and within :data:`PARAMETER_BOUNDS`."""
    for name, value in parameters.items():
        if not torch.isfinite(value).all():
            raise _corrupt(path, f"{prefix}.{name} holds values that are not finite")
        largest = float(value.abs().max()) if value.numel() else 0.0
        if largest > PARAMETER_BOUNDS[name]:
            raise _corrupt(path, f"{prefix}.{name} holds {largest:.3g}, beyond the {PARAMETER_BOUNDS[name]:g} "
                                 "any model's parameters stay within")


def check_words(words: list[str], path: str) -> None:
    """Each word one token, as training makes them: not empty, no white space (an exported
    word2vec file would read such a word as several fields)."""
    for number, word in enumerate(words):
        if word.split() != [word]:
            raise _corrupt(path, f"word {number} ({word!r:.40}) is empty or holds white space")


def check_counts(counts: np.ndarray, path: str) -> None:
    """Non-negative counts, whose total an int64 holds (as the corpus they came from did)."""
    if (counts < 0).any():
        word = int(np.argmax(counts < 0))
        raise _corrupt(path, f"vocab.counts gives word {word} a negative count ({int(counts[word])})")
    if counts.sum(dtype=np.float64) >= 2.0**63:
        raise _corrupt(path, "vocab.counts add up to more tokens than any corpus holds")


def check_usage_counts(usage: torch.Tensor, path: str) -> None:
    """Each word's usage counts add up to a number of tokens an int64 holds (else its shares
    would be computed from an overflowed sum)."""
    seen = usage.double().sum(-1)
    if (seen >= 2.0**63).any():
        raise _corrupt(path, f"usage.counts of word {int(seen.argmax())} add up to more tokens than any corpus holds")


def check_shapes_agree(input: MixtureTable, output: MixtureTable | None, config: TrainConfig,
                       recorded: dict[str, Any], path: str) -> None:
    """The output table has the input table's K, D and covariance, and the options the file
    records (``recorded``: those it holds, not the defaults filled in) say what the tables are."""
    shape = _describe(input)
    if output is not None and _describe(output) != shape:
        raise _corrupt(path, f"the output table is {_describe(output)}, the input table {shape}")
    says = {
        "components": config.components == input.components,
        "dim": config.dim == input.dim,
        "covariance": (1 if config.covariance == "spherical" else input.dim) == input.log_variances.shape[-1],
        "separate_output": config.separate_output == (output is not None),
    }
    for name, agrees in says.items():
        if name in recorded and not agrees:
            table = "" if name != "separate_output" else (" with" if output is not None else " without") + \
                " an output table"
            raise _corrupt(path, f"the config records {name} = {recorded[name]!r}, but the tables are {shape}{table}")


def _describe(table: MixtureTable) -> str:
    return f"K={table.components}, D={table.dim}, {table.covariance}"


# ------------------------------------------------------------------ checkpoints


def check_corpus_record(record: Any, where: str) -> None:
    """corpus.json: unique words, one positive integer count each, non-negative totals."""
    if not isinstance(record, dict):
        raise W2GMError(f"{where}: not a JSON object")
    words, counts = record.get("words"), record.get("counts")
    if not isinstance(words, list) or not all(isinstance(w, str) and w for w in words):
        raise W2GMError(f"{where}: 'words' is not a list of words")
    if len(set(words)) != len(words):
        repeated = next(w for i, w in enumerate(words) if w in words[:i])
        raise W2GMError(f"{where}: the word {repeated!r} is listed twice")
    if not isinstance(counts, list) or len(counts) != len(words) or not all(
        isinstance(c, int) and not isinstance(c, bool) and 0 < c < 2**63 for c in counts
    ):
        raise W2GMError(f"{where}: 'counts' is not one positive integer per word")
    for key in ("raw_tokens", "replaced_bytes"):
        value = record.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise W2GMError(f"{where}: {key!r} is not a non-negative integer")


def check_ids(ids: np.ndarray, counts: np.ndarray, where: str) -> None:
    """ids.npy: int32, one dimension, every id a word of the vocabulary, and each word as
    often as corpus.json counts it (read a chunk at a time from the memory map)."""
    if ids.dtype != np.int32 or ids.ndim != 1:
        raise W2GMError(f"{where}: holds {ids.dtype} of {ids.ndim} dimension(s), not int32 ids")
    if len(ids) != int(counts.sum()):
        raise W2GMError(f"{where}: holds {len(ids)} ids but the vocabulary counts {int(counts.sum())}")
    seen = np.zeros(len(counts), dtype=np.int64)
    for start in range(0, len(ids), _IDS_CHUNK):
        chunk = np.asarray(ids[start : start + _IDS_CHUNK])
        low, high = int(chunk.min()), int(chunk.max())
        if low < 0 or high >= len(counts):
            bad = low if low < 0 else high
            at = start + int(np.argmax(chunk == bad))
            raise W2GMError(f"{where}: id {bad} at position {at} is not in the {len(counts)}-word vocabulary")
        seen += np.bincount(chunk, minlength=len(counts))
    if not np.array_equal(seen, counts):
        word = int(np.argmax(seen != counts))
        raise W2GMError(f"{where}: word {word} occurs {seen[word]} times, corpus.json counts {counts[word]}")


def check_position(position: dict[str, Any], epochs: int, length: int, where: str) -> None:
    """The position record: non-negative integers within the run, finite figures."""
    ints = ("epoch", "tokens", "pairs")
    if not all(isinstance(position.get(k), int) and position[k] >= 0 for k in ints):
        raise W2GMError(f"{where}: position {position} has a count that is not a non-negative integer")
    offsets = position.get("offsets", [])
    if not isinstance(offsets, list) or not all(isinstance(o, int) and 0 <= o <= length for o in offsets):
        raise W2GMError(f"{where}: position offsets {offsets} lie outside the corpus of {length} ids")
    if position["epoch"] > epochs or position["tokens"] > epochs * length * max(len(offsets), 1):
        raise W2GMError(f"{where}: position {position['epoch']} epochs, {position['tokens']} tokens is beyond the run")
    partial = position.get("partial")
    if partial is not None and not (
        isinstance(partial, dict)
        and isinstance(partial.get("chunking"), str)
        and isinstance(partial.get("span"), list) and len(partial["span"]) == 2
        and all(isinstance(b, int) and 0 <= b <= length for b in partial["span"])
        and isinstance(partial.get("done"), list) and all(isinstance(c, int) and c >= 0 for c in partial["done"])
    ):
        raise W2GMError(f"{where}: the record of the span stopped part-way is not readable")
    for key in ("loss", "seconds"):
        value = position.get(key, 0.0)
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise W2GMError(f"{where}: position {key} {value!r} is not a finite non-negative number")


def check_state_tensors(tensors: dict[str, torch.Tensor], where: str) -> None:
    """Parameters and optimiser state: float32 and finite; accumulated squares non-negative.
    Their shapes are the trainer's to compare (Trainer.load_state)."""
    for name, tensor in tensors.items():
        if ".steps." in name:
            continue  # Adam's step counters
        if tensor.dtype != torch.float32:
            raise W2GMError(f"{where}: tensor {name} is {tensor.dtype}, not float32")
        if not torch.isfinite(tensor).all():
            raise W2GMError(f"{where}: tensor {name} holds values that are not finite")
        if ("sum_squares" in name or ".second." in name) and (tensor < 0).any():
            raise W2GMError(f"{where}: tensor {name} holds negative accumulated squares")

