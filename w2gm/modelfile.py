"""The model file: one safetensors file holding parameters, vocabulary and JSON metadata.

Layout (format version 2)::

    input.means, input.log_variances, input.logits      the word distributions (A.2's q_I)
    output.means, output.log_variances, output.logits   context distributions (q_O), if trained
    vocab.counts                                        int64 [V]
    vocab.utf8, vocab.offsets                           words as one UTF-8 blob + [V+1] offsets
    usage.counts, usage.active                          int64 and bool [V, K], if measured
                                                        (:mod:`w2gm.usage`; new in version 2)
    __metadata__: format="w2gm", format_version, config (JSON), training (JSON)

A version 1 file has no usage: it loads with usage unknown, every component active.

Writes are atomic (:func:`atomic_writer`), so a crash or a full disk leaves any previous
file intact.  Reading checks the header before the tensors, and every tensor's type, shape
and values before the model is built (:mod:`w2gm.filechecks`: the version, the sizes, the
counts, the parameters' ranges, the tables against each other and against the recorded
options): a damaged or foreign file is a :class:`ModelFileError` naming the file and the
fault, never another exception and never a silently wrong model.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from .errors import ModelFileError, W2GMError, os_reason
from .filechecks import (
    check_config,
    check_counts,
    check_parameters,
    check_shapes_agree,
    check_sizes,
    check_usage_counts,
    check_version,
    check_words,
)
from .mixture import PARAMETER_NAMES, MixtureTable
from .usage import Usage
from .vocab import Vocabulary

FORMAT_NAME = "w2gm"
FORMAT_VERSION = 2
#: safetensors refuses longer headers; a file announcing one is not a model.
MAX_HEADER_BYTES = 100_000_000
#: Random bytes in the name of an atomic write's temporary file.
_TOKEN_BYTES = 6


@dataclass
class ModelContents:
    vocab: Vocabulary
    input: MixtureTable
    output: MixtureTable | None
    config: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)
    usage: Usage | None = None


@contextmanager
def atomic_writer(path: str | os.PathLike, before_replace: Callable[[], None] | None = None) -> Iterator[BinaryIO]:
    """A binary file to write ``path`` through: what is written replaces ``path`` (fsynced,
    then renamed over it) only when the ``with`` block ends without error, so readers see
    either the old file or the whole new one.  A failed write (a full disk, say) removes the
    temporary file and raises :class:`W2GMError` naming ``path`` and the reason.
    ``before_replace`` is called just before the rename, and may refuse it by raising
    (:meth:`w2gm.outputs.Claim.verify`)."""
    path = Path(path)
    if not path.name:
        raise W2GMError(f"cannot write {path}: not a file name")
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(_TOKEN_BYTES)}.tmp")
    try:  # created as open() would create it: mode 0o666 less the umask
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as error:
        raise W2GMError(f"cannot write {path}: {os_reason(error)}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        if before_replace is not None:
            before_replace()
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise W2GMError(f"cannot write {path}: {os_reason(error)}") from None
        raise
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def temporaries_of(path: str | os.PathLike) -> list[Path]:
    """The temporary files :func:`atomic_writer` makes for ``path``: only a process killed
    while writing leaves one behind, for the next run that writes ``path`` to remove."""
    path = Path(path)
    pattern = re.compile(rf"\.{re.escape(path.name)}\.[0-9a-f]{{{2 * _TOKEN_BYTES}}}\.tmp")
    try:
        return sorted(p for p in path.parent.iterdir() if pattern.fullmatch(p.name))
    except OSError:
        return []


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    with atomic_writer(path) as handle:
        handle.write(data)


def _encode_words(words: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    encoded = [word.encode("utf-8") for word in words]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    return torch.from_numpy(blob), torch.from_numpy(offsets)


def to_bytes(contents: ModelContents) -> bytes:
    tensors: dict[str, torch.Tensor] = {}
    tables = {"input": contents.input, "output": contents.output}
    for prefix, table in tables.items():
        if table is None:
            continue
        for name, value in table.parameters().items():
            tensors[f"{prefix}.{name}"] = value.detach().to("cpu", torch.float32).contiguous()
    blob, offsets = _encode_words(contents.vocab.words)
    tensors["vocab.utf8"] = blob
    tensors["vocab.offsets"] = offsets
    tensors["vocab.counts"] = torch.from_numpy(contents.vocab.counts.astype(np.int64))
    if contents.usage is not None:
        tensors["usage.counts"] = contents.usage.counts.to("cpu", torch.int64).contiguous()
        tensors["usage.active"] = contents.usage.active.to("cpu", torch.bool).contiguous()
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(contents.config),
        "training": json.dumps(contents.training),
    }
    return safetensors_save(tensors, metadata=metadata)


def save(path: str | os.PathLike, contents: ModelContents, before_replace: Callable[[], None] | None = None) -> None:
    """Write the model atomically (``before_replace``: see :func:`atomic_writer`)."""
    with atomic_writer(path, before_replace) as handle:
        handle.write(to_bytes(contents))


def _corrupt(path: str, detail: str) -> ModelFileError:
    return ModelFileError(f"{path}: corrupt model file ({detail})")


def _read_metadata(handle: BinaryIO, size: int, path: str) -> dict[str, str]:
    """The header's metadata, checked to be a w2gm model of a version this code reads before
    any tensor data is read, so a foreign file of any size is refused at once."""
    if size < 8:
        raise ModelFileError(f"{path}: not a w2gm model file (only {size} bytes)")
    header_size = int.from_bytes(handle.read(8), "little")
    if not 0 < header_size <= min(size - 8, MAX_HEADER_BYTES):
        raise ModelFileError(f"{path}: not a w2gm model file, or truncated (bad header length)")
    try:
        header = json.loads(handle.read(header_size))
    except (ValueError, RecursionError):  # not UTF-8, not JSON, or absurdly nested
        raise ModelFileError(f"{path}: not a w2gm model file (unreadable header)") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a w2gm model file (a safetensors file of another kind)")
    check_version(metadata.get("format_version"), FORMAT_VERSION, path)
    return metadata


def _tensor(tensors: dict[str, torch.Tensor], name: str, dtypes: tuple[torch.dtype, ...], ndim: int,
            path: str) -> torch.Tensor:
    if name not in tensors:
        raise _corrupt(path, f"no tensor {name}")
    tensor = tensors[name]
    if tensor.dtype not in dtypes or tensor.ndim != ndim:
        raise _corrupt(path, f"{name} is {tensor.dtype} of {tensor.ndim} dimension(s)")
    return tensor


def _read_vocab(tensors: dict[str, torch.Tensor], path: str) -> Vocabulary:
    blob = _tensor(tensors, "vocab.utf8", (torch.uint8,), 1, path).numpy().tobytes()
    offsets = _tensor(tensors, "vocab.offsets", (torch.int64,), 1, path).numpy()
    counts = _tensor(tensors, "vocab.counts", (torch.int64,), 1, path).numpy()
    if len(offsets) != len(counts) + 1 or offsets[0] != 0 or offsets[-1] != len(blob) or (np.diff(offsets) < 0).any():
        raise _corrupt(path, "vocabulary offsets do not cut the word list into as many words as there are counts")
    try:
        bounds = offsets.tolist()
        words = [blob[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    except UnicodeDecodeError:
        raise _corrupt(path, "a word is not UTF-8") from None
    check_words(words, path)
    check_counts(counts, path)
    vocab = Vocabulary(words, counts)
    if len(vocab.index) != len(vocab):
        raise _corrupt(path, "a word occurs twice in the vocabulary")
    return vocab


def _read_table(tensors: dict[str, torch.Tensor], prefix: str, size: int, path: str) -> MixtureTable:
    floating = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
    means, log_variances, logits = (
        _tensor(tensors, f"{prefix}.{name}", floating, ndim, path).float()
        for name, ndim in zip(PARAMETER_NAMES, (3, 3, 2), strict=True)
    )
    words, components, dim = means.shape
    if not (
        words == size
        and components >= 1
        and dim >= 1
        and log_variances.shape[:2] == means.shape[:2]
        and log_variances.shape[2] in (1, dim)
        and logits.shape == means.shape[:2]
    ):
        raise _corrupt(path, f"{prefix} parameter shapes do not match a {size}-word vocabulary")
    table = MixtureTable(means, log_variances, logits)
    check_parameters(prefix, table.parameters(), path)
    return table


def _read_usage(tensors: dict[str, torch.Tensor], shape: torch.Size, path: str) -> Usage | None:
    """The usage counts and active flags, or None where the file has none (version 1, or
    never measured).  Each must be ``[V, K]``, counts non-negative, and every word must keep
    an active component."""
    present = [name for name in ("usage.counts", "usage.active") if name in tensors]
    if not present:
        return None
    counts = _tensor(tensors, "usage.counts", (torch.int64,), 2, path)
    active = _tensor(tensors, "usage.active", (torch.bool,), 2, path)
    if counts.shape != shape or active.shape != shape:
        raise _corrupt(path, f"usage is {list(counts.shape)} and {list(active.shape)}, not [{shape[0]}, {shape[1]}]")
    if (counts < 0).any():
        raise _corrupt(path, "usage.counts holds negative counts")
    if not active.any(-1).all():
        word = int((~active.any(-1)).nonzero()[0])
        raise _corrupt(path, f"usage.active leaves word {word} with no active component")
    return Usage(counts, active)


def _read_json_object(metadata: dict[str, str], key: str, path: str) -> dict[str, Any]:
    try:
        value = json.loads(metadata.get(key, "{}"))
    except (ValueError, TypeError, RecursionError):
        value = None
    if not isinstance(value, dict):
        raise _corrupt(path, f"the {key} record is not a JSON object")
    return value


def is_model_file(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a w2gm model, by its header alone (an output may replace one)."""
    try:
        with open(path, "rb") as handle:
            _read_metadata(handle, os.fstat(handle.fileno()).st_size, str(path))
    except (OSError, ModelFileError):
        return False
    return True


def load(path: str | os.PathLike) -> ModelContents:
    path_str = str(path)
    try:
        with open(path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            metadata = _read_metadata(handle, size, path_str)
            check_sizes(handle, size, path_str)
            handle.seek(0)
            data = handle.read()
    except FileNotFoundError:
        raise ModelFileError(f"{path_str}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path_str}: is a directory, not a model file") from None
    except OSError as error:
        raise ModelFileError(f"{path_str}: cannot read: {os_reason(error)}") from None
    try:
        tensors = safetensors_load(data)
    except SafetensorError as error:
        raise ModelFileError(f"{path_str}: truncated or corrupt model file ({error})") from None
    vocab = _read_vocab(tensors, path_str)
    tables = {
        prefix: _read_table(tensors, prefix, len(vocab), path_str)
        for prefix in ("input", "output")
        if prefix == "input" or f"{prefix}.means" in tensors
    }
    config = _read_json_object(metadata, "config", path_str)
    training = _read_json_object(metadata, "training", path_str)
    check_shapes_agree(tables["input"], tables.get("output"), check_config(config, path_str), config, path_str)
    usage = _read_usage(tensors, tables["input"].logits.shape, path_str)
    if usage is not None:
        check_usage_counts(usage.counts, path_str)
    return ModelContents(vocab, tables["input"], tables.get("output"), config, training, usage)
