"""The checkpoint directory of a training run: everything needed to continue it.

Layout::

    ids.npy            the corpus as vocabulary ids (written once, before training)
    corpus.json        the vocabulary (words, counts) and what reading the text reported
    state.safetensors  the latest checkpoint: tables, optimiser state and, in its metadata,
                       the config, the position in the run and the output path

The state file is replaced atomically (temporary file, fsync, rename), so a crash while
saving leaves the previous checkpoint whole.  Randomness needs no saving: every span draws
from a seed derived from (seed, rank, epoch, span start), so a resumed run draws what the
uninterrupted run would have drawn.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from .corpus import EncodedCorpus
from .errors import W2GMError
from .modelfile import atomic_write_bytes
from .vocab import Vocabulary

FORMAT_NAME = "w2gm-checkpoint"
FORMAT_VERSION = 1
IDS = "ids.npy"
CORPUS = "corpus.json"
STATE = "state.safetensors"
PROVISIONAL_IDS = "provisional_ids.bin"  # corpus.encode's scratch file, if reading stopped half-way


@dataclass
class Position:
    """How far a run has got: the current epoch, where each rank has got to in its shard
    of it (their sum is the share of the epoch trained), and the work of the whole run so
    far, counted over all ranks."""

    epoch: int = 0
    offsets: list[int] = field(default_factory=list)
    tokens: int = 0
    pairs: int = 0
    loss: float = 0.0
    seconds: float = 0.0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Position:
        return cls(**values)


@dataclass
class Saved:
    config: dict[str, Any]
    position: Position
    output: str | None
    tensors: dict[str, torch.Tensor]


class CheckpointDir:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

    @property
    def ids_path(self) -> Path:
        return self.path / IDS

    @property
    def state_path(self) -> Path:
        return self.path / STATE

    def has_state(self) -> bool:
        return self.state_path.is_file()

    def prepare(self) -> None:
        """Make the directory for a new run; refuse one holding another run's checkpoint."""
        if self.path.exists() and not self.path.is_dir():
            raise W2GMError(f"--checkpoint-dir {self.path}: exists and is not a directory")
        if self.has_state():
            raise W2GMError(
                f"--checkpoint-dir {self.path}: holds the checkpoint of an earlier run; "
                f"continue it with --resume {self.path}, or remove the directory"
            )
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise W2GMError(f"--checkpoint-dir {self.path}: {error.strerror or error}") from None
        if not os.access(self.path, os.W_OK):
            raise W2GMError(f"--checkpoint-dir {self.path}: directory is not writable")

    def write_corpus(self, encoded: EncodedCorpus) -> None:
        record = {
            "words": encoded.vocab.words,
            "counts": encoded.vocab.counts.tolist(),
            "raw_tokens": encoded.raw_tokens,
            "replaced_bytes": encoded.replaced_bytes,
        }
        atomic_write_bytes(self.path / CORPUS, json.dumps(record).encode("utf-8"))

    def read_corpus(self) -> EncodedCorpus:
        corpus_path = self.path / CORPUS
        try:
            record = json.loads(corpus_path.read_text(encoding="utf-8"))
            vocab = Vocabulary(record["words"], np.asarray(record["counts"], dtype=np.int64))
            ids = np.load(self.ids_path, mmap_mode="r")
        except FileNotFoundError as error:
            raise W2GMError(f"--resume {self.path}: missing {Path(error.filename).name}; not a checkpoint directory") \
                from None
        except (ValueError, KeyError, TypeError, OSError) as error:
            raise W2GMError(f"--resume {self.path}: corpus files are damaged ({error})") from None
        if len(ids) != vocab.total:
            raise W2GMError(f"--resume {self.path}: {IDS} holds {len(ids)} ids but the vocabulary counts {vocab.total}")
        return EncodedCorpus(vocab, ids, record["raw_tokens"], record["replaced_bytes"])

    def save(self, tensors: dict[str, torch.Tensor], config: dict[str, Any], position: Position,
             output: str | None) -> None:
        metadata = {
            "format": FORMAT_NAME,
            "format_version": str(FORMAT_VERSION),
            "config": json.dumps(config),
            "position": json.dumps(asdict(position)),
            "output": json.dumps(output),
        }
        cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
        atomic_write_bytes(self.state_path, safetensors_save(cpu, metadata=metadata))

    def load(self) -> Saved:
        if not self.path.is_dir():
            raise W2GMError(f"--resume {self.path}: no such directory")
        if not self.has_state():
            raise W2GMError(f"--resume {self.path}: no checkpoint in this directory (the run stopped before its first)")
        data = self.state_path.read_bytes()
        try:
            tensors = safetensors_load(data)
            metadata = read_metadata(data)
            if metadata.get("format") != FORMAT_NAME:
                raise ValueError("not a w2gm checkpoint")
            version = int(metadata["format_version"])
            if version > FORMAT_VERSION:
                raise W2GMError(
                    f"--resume {self.path}: checkpoint format version {version} is newer than this w2gm "
                    f"reads ({FORMAT_VERSION}); upgrade w2gm"
                )
            config = json.loads(metadata["config"])
            position = Position.from_dict(json.loads(metadata["position"]))
            output = json.loads(metadata["output"])
        except (SafetensorError, ValueError, KeyError, TypeError) as error:
            raise W2GMError(f"--resume {self.path}: {STATE} is damaged ({error})") from None
        return Saved(config, position, output, tensors)

    def remove(self) -> None:
        """Delete the files a run wrote, then the directory if nothing else is in it."""
        for name in (STATE, CORPUS, IDS, PROVISIONAL_IDS):
            (self.path / name).unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            self.path.rmdir()


def read_metadata(data: bytes) -> dict[str, str]:
    """The ``__metadata__`` of a state file's safetensors header."""
    header_size = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + header_size])["__metadata__"]


_EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|h|steps?)\s*$")
_SECONDS = {"s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0}


@dataclass
class CheckpointSchedule:
    """When to checkpoint: every ``seconds`` of training or every ``steps`` spans."""

    seconds: float | None = None
    steps: int | None = None

    @classmethod
    def parse(cls, text: str) -> CheckpointSchedule:
        match = _EVERY.match(text)
        if not match or float(match.group(1)) <= 0:
            raise W2GMError(
                f"--checkpoint-every {text!r}: give a time (30s, 10min, 2h) or a number of steps "
                "(500steps; a step is a span of --span-tokens tokens)"
            )
        amount, unit = float(match.group(1)), match.group(2)
        if unit.startswith("step"):
            return cls(steps=max(1, int(amount)))
        return cls(seconds=amount * _SECONDS[unit])

    def due(self, last_time: float, steps_since: int) -> bool:
        if self.steps is not None:
            return steps_since >= self.steps
        return self.seconds is not None and time.monotonic() - last_time >= self.seconds
