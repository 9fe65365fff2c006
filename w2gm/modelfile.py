"""The model file: one safetensors file holding parameters, vocabulary and JSON metadata.

Layout (format version 1)::

    input.means, input.log_variances, input.logits      the word distributions (A.2's q_I)
    output.means, output.log_variances, output.logits   context distributions (q_O), if trained
    vocab.counts                                        int64 [V]
    vocab.utf8, vocab.offsets                           words as one UTF-8 blob + [V+1] offsets
    __metadata__: format="w2gm", format_version, config (JSON), training (JSON)

Writes are atomic: a temporary file in the same directory is written, fsynced and renamed
over the target, so a crash or a full disk leaves any previous file intact.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from .errors import ModelFileError, W2GMError
from .mixture import PARAMETER_NAMES, MixtureTable
from .vocab import Vocabulary

FORMAT_NAME = "w2gm"
FORMAT_VERSION = 1


@dataclass
class ModelContents:
    vocab: Vocabulary
    input: MixtureTable
    output: MixtureTable | None
    config: dict[str, Any]
    training: dict[str, Any] = field(default_factory=dict)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see either the old file or the whole new one."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    except OSError as error:
        raise W2GMError(f"cannot write {path}: {error.strerror or error}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except OSError as error:
        Path(tmp_name).unlink(missing_ok=True)
        raise W2GMError(f"cannot write {path}: {error.strerror or error}") from None
    try:  # make the rename itself durable
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass


def _encode_words(words: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    encoded = [word.encode("utf-8") for word in words]
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum([len(e) for e in encoded], out=offsets[1:])
    blob = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
    return torch.from_numpy(blob), torch.from_numpy(offsets)


def _decode_words(blob: torch.Tensor, offsets: torch.Tensor) -> list[str]:
    data = blob.numpy().tobytes()
    bounds = offsets.tolist()
    return [data[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


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
    metadata = {
        "format": FORMAT_NAME,
        "format_version": str(FORMAT_VERSION),
        "config": json.dumps(contents.config),
        "training": json.dumps(contents.training),
    }
    return safetensors_save(tensors, metadata=metadata)


def save(path: str | os.PathLike, contents: ModelContents) -> None:
    atomic_write_bytes(path, to_bytes(contents))


def _read_metadata(data: bytes, path: str) -> dict[str, str]:
    """Parse the safetensors header ourselves to check the format before loading tensors."""
    if len(data) < 8:
        raise ModelFileError(f"{path}: not a w2gm model file (only {len(data)} bytes)")
    header_size = int.from_bytes(data[:8], "little")
    if header_size <= 0 or header_size > len(data) - 8:
        raise ModelFileError(f"{path}: not a w2gm model file, or truncated (bad header length)")
    try:
        header = json.loads(data[8 : 8 + header_size])
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelFileError(f"{path}: not a w2gm model file (unreadable header)") from None
    metadata = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a w2gm model file (a safetensors file of another kind)")
    try:
        version = int(metadata.get("format_version", ""))
    except ValueError:
        raise ModelFileError(f"{path}: unreadable format version {metadata.get('format_version')!r}") from None
    if version > FORMAT_VERSION:
        raise ModelFileError(
            f"{path}: model format version {version} is newer than this w2gm reads "
            f"({FORMAT_VERSION}); upgrade w2gm"
        )
    return metadata


def load(path: str | os.PathLike) -> ModelContents:
    path_str = str(path)
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise ModelFileError(f"{path_str}: no such model file") from None
    except IsADirectoryError:
        raise ModelFileError(f"{path_str}: is a directory, not a model file") from None
    except OSError as error:
        raise ModelFileError(f"{path_str}: cannot read: {error.strerror or error}") from None
    metadata = _read_metadata(data, path_str)
    try:
        tensors = safetensors_load(data)
    except SafetensorError as error:
        raise ModelFileError(f"{path_str}: truncated or corrupt model file ({error})") from None
    try:
        words = _decode_words(tensors["vocab.utf8"], tensors["vocab.offsets"])
        vocab = Vocabulary(words, tensors["vocab.counts"].numpy())
        tables = {
            prefix: MixtureTable(*(tensors[f"{prefix}.{name}"] for name in PARAMETER_NAMES))
            for prefix in ("input", "output")
            if f"{prefix}.means" in tensors
        }
        config = json.loads(metadata["config"])
        training = json.loads(metadata.get("training", "{}"))
        contents = ModelContents(vocab, tables["input"], tables.get("output"), config, training)
    except (KeyError, ValueError, UnicodeDecodeError) as error:
        raise ModelFileError(f"{path_str}: corrupt model file ({error})") from None
    _check_shapes(contents, path_str)
    return contents


def _check_shapes(contents: ModelContents, path: str) -> None:
    size = len(contents.vocab)
    for table in filter(None, (contents.input, contents.output)):
        means, log_variances, logits = table.means, table.log_variances, table.logits
        ok = (
            means.ndim == 3
            and means.shape[0] == size
            and log_variances.shape[:2] == means.shape[:2]
            and log_variances.shape[2] in (1, means.shape[2])
            and tuple(logits.shape) == tuple(means.shape[:2])
        )
        if not ok:
            raise ModelFileError(f"{path}: corrupt model file (parameter shapes do not match a {size}-word vocabulary)")
