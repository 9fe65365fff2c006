"""The checkpoint directory of a training run: everything needed to continue it.

Layout::

    ids.npy            the corpus as vocabulary ids (written once, before training)
    corpus.json        the vocabulary (words, counts) and what reading the text reported
    state.safetensors  the latest checkpoint: tables, optimiser state and, in its metadata,
                       the config, the position in the run and the output path
    .w2gm-checkpoint   marks the directory as a run's: only then are files in it ever removed
    .w2gm-lock         held (flock) by the run using the directory, see :mod:`w2gm.runlock`

A new run takes only a new or empty directory, or one an earlier run marked as its own;
it never removes a file it did not write, nor a directory it did not create.

The state file is replaced atomically (temporary file, fsync, rename), so a crash while
saving leaves the previous checkpoint whole.  Randomness needs no saving: every span draws
from a seed derived from (seed, rank, epoch, span start), so a resumed run draws what the
uninterrupted run would have drawn.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from tokenize import TokenError
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from .config import TrainConfig
from .errors import W2GMError
from .filechecks import check_corpus_record, check_ids, check_position, check_state_tensors
from .modelfile import atomic_write_bytes, temporaries_of
from .reading import parallel
from .reading.corpus import EncodedCorpus
from .runlock import RunLock
from .vocab import Vocabulary

FORMAT_NAME = "w2gm-checkpoint"
FORMAT_VERSION = 1
IDS = "ids.npy"
CORPUS = "corpus.json"
STATE = "state.safetensors"
PROVISIONAL_IDS = "provisional_ids.bin"  # the serial reader's scratch file, if reading stopped half-way
PIECES = parallel.SPOOL  # the parallel reader's scratch folder, likewise
MARKER = ".w2gm-checkpoint"
LOCK = ".w2gm-lock"
#: Every file a run writes in its directory; atomic writes add ".NAME.RANDOM.tmp" beside them.
OWN_FILES = (STATE, CORPUS, IDS, PROVISIONAL_IDS)


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
    #: a span stopped part-way: its bounds, how it was cut and the chunks trained (w2gm.chunks)
    partial: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Position:
        return cls(**values)

    def shard_offsets(self, sizes: list[int], length: int) -> list[int]:
        """Where each rank's shard (``sizes`` of a corpus of ``length``) starts this epoch: as
        saved when the world size is the same, else the saved share of the epoch, applied to
        every new shard."""
        if len(self.offsets) == len(sizes):
            return list(self.offsets)
        return [sum(self.offsets) * size // length for size in sizes]

    def interrupted(self, total: int, directory: CheckpointDir) -> str:
        """What a run stopped here, with its checkpoint in ``directory``, tells the user."""
        mid_span = "" if self.partial is None else (
            f" and {len(self.partial['done'])} chunks of the next span ({self.partial['chunking']})")
        return (f"interrupted after {self.tokens:,} of {total:,} tokens ({100 * self.tokens / total:.1f}%)"
                f"{mid_span}; checkpoint saved in {directory.path}; continue with: w2gm train --resume "
                f"{directory.path}")

    def diverged(self, loss: float, epoch: int, directory: CheckpointDir | None) -> str:
        """What a run that diverged here tells the user, with its last good checkpoint, if any."""
        what = f"the loss became {loss}" if not math.isfinite(loss) else "a parameter became NaN or infinite"
        message = f"training diverged: {what} in epoch {epoch + 1}, after {self.tokens:,} tokens; lower --lr"
        if directory is not None and directory.has_state():
            message += (f"; the last good checkpoint is kept in {directory.path}: "
                        f"w2gm train --resume {directory.path} --lr RATE --allow-config-change")
        return message


@dataclass
class Saved:
    config: dict[str, Any]
    position: Position
    output: str | None
    tensors: dict[str, torch.Tensor]


class CheckpointDir:
    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.lock = RunLock(self.path / LOCK, f"--checkpoint-dir {self.path}")
        self.created = False  # whether this run made the directory (then it may remove it)

    @property
    def ids_path(self) -> Path:
        return self.path / IDS

    @property
    def state_path(self) -> Path:
        return self.path / STATE

    def has_state(self) -> bool:
        return self.state_path.is_file()

    def prepare(self) -> None:
        """Make the directory for a new run and lock it; refuse one holding another run's
        checkpoint or files w2gm did not write."""
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_dir()):
            raise W2GMError(f"--checkpoint-dir {self.path}: exists and is not a directory")
        self.created = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise W2GMError(f"--checkpoint-dir {self.path}: {error.strerror or error}") from None
        if not os.access(self.path, os.W_OK):
            raise W2GMError(f"--checkpoint-dir {self.path}: directory is not writable")
        self.lock.acquire()
        try:
            if self.has_state():
                raise W2GMError(
                    f"--checkpoint-dir {self.path}: holds the checkpoint of an earlier run; "
                    f"continue it with --resume {self.path}, or remove the directory"
                )
            marked = (self.path / MARKER).is_file()
            foreign = sorted(p.name for p in self.path.iterdir() if p.name not in (MARKER, LOCK))
            if foreign and not marked:
                shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
                raise W2GMError(f"--checkpoint-dir {self.path}: holds files w2gm did not write ({shown}); "
                                "give a new or empty directory")
            if marked:
                self.created = self._read_marker()
                self._remove_own_files()  # what an earlier run left when it was killed
            atomic_write_bytes(self.path / MARKER, json.dumps({"created_directory": self.created}).encode())
        except BaseException:
            self.release()
            raise

    def _read_marker(self) -> bool:
        """Whether the run that marked the directory created it (a directory an earlier
        version of w2gm used, with no marker, counts as created)."""
        try:
            return bool(json.loads((self.path / MARKER).read_text()).get("created_directory", True))
        except (OSError, ValueError, AttributeError):
            return True

    def claim(self) -> None:
        """Lock the directory of a run to resume, and clear the temporary files a run
        killed while saving left behind."""
        self.lock.acquire()
        self.created = self._read_marker()
        for leftover in self._temporary_files():
            leftover.unlink(missing_ok=True)

    def release(self) -> None:
        """Unlock; the directory and what it holds stay (see :meth:`remove`)."""
        self.lock.release()
        if self.created:
            with contextlib.suppress(OSError):
                self.path.rmdir()  # only if empty: a failure before anything was written

    def _temporary_files(self) -> list[Path]:
        return [p for name in OWN_FILES for p in temporaries_of(self.path / name)]

    def _remove_own_files(self) -> None:
        for name in OWN_FILES:
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / PIECES, ignore_errors=True)
        for leftover in self._temporary_files():
            leftover.unlink(missing_ok=True)

    def write_corpus(self, encoded: EncodedCorpus) -> None:
        record = {
            "words": encoded.vocab.words,
            "counts": encoded.vocab.counts.tolist(),
            "raw_tokens": encoded.raw_tokens,
            "replaced_bytes": encoded.replaced_bytes,
        }
        atomic_write_bytes(self.path / CORPUS, json.dumps(record).encode("utf-8"))

    def read_corpus(self) -> EncodedCorpus:
        """The run's vocabulary and ids, checked word by word and id by id (a damaged id
        would index outside the tables in a compiled engine)."""
        corpus_path = self.path / CORPUS
        where = f"--resume {self.path}: {CORPUS}"
        try:
            record = json.loads(corpus_path.read_text(encoding="utf-8"))
            check_corpus_record(record, where)
            vocab = Vocabulary(record["words"], np.asarray(record["counts"], dtype=np.int64))
            ids = np.load(self.ids_path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError as error:
            raise W2GMError(f"--resume {self.path}: missing {Path(error.filename).name}; not a checkpoint directory") \
                from None
        except (ValueError, KeyError, TypeError, OSError, RecursionError, TokenError) as error:
            # numpy reads a damaged .npy header with Python's tokenizer, which raises TokenError
            raise W2GMError(f"--resume {self.path}: corpus files are damaged ({error})") from None
        check_ids(ids, vocab.counts, f"--resume {self.path}: {IDS}")
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
        where = f"--resume {self.path}: {STATE} is damaged"
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
            position_record = json.loads(metadata["position"])
            output = json.loads(metadata["output"])
            if not isinstance(config, dict) or not isinstance(position_record, dict):
                raise ValueError("config and position must be JSON objects")
            if not (output is None or isinstance(output, str) and output):
                raise ValueError(f"output {output!r} is not a file name")
            position = Position.from_dict(position_record)
        except (SafetensorError, ValueError, KeyError, TypeError, RecursionError) as error:
            raise W2GMError(f"{where} ({error})") from None
        try:
            TrainConfig.from_dict(config)  # the options' checks, before any option is used
        except W2GMError as error:
            raise W2GMError(f"{where} (the config record: {error})") from None
        check_state_tensors(tensors, where)
        return Saved(config, position, output, tensors)

    def check_position(self, saved: Saved, epochs: int, length: int) -> None:
        """The saved position must lie within the run on this corpus."""
        check_position(asdict(saved.position), epochs, length, f"--resume {self.path}: {STATE} is damaged")

    def refuse_as_output(self, output: Path) -> None:
        """The model may not be written where the run keeps, and at the end removes, its files."""
        here = self.path.resolve()
        if output.resolve() == here or (output.parent.resolve() == here and output.name in (*OWN_FILES, MARKER, LOCK)):
            raise W2GMError(f"--output {output}: is the checkpoint directory or one of its files; choose another name")

    def remove(self) -> None:
        """Delete the files the run wrote and its marker, unlock, then remove the directory
        if the run created it and nothing else is in it.  Without the lock (another run
        holds it, or the directory was never ours) nothing is touched."""
        if not self.lock.held:
            return
        self._remove_own_files()
        (self.path / MARKER).unlink(missing_ok=True)
        self.release()


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
