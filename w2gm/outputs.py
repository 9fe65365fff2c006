"""Where a run may write its model: never over the user's own files.

A model is only ever written over an earlier w2gm model (checked by its header) or over
nothing; anything else at the output path needs ``overwrite``, and some things are refused
even then: one of the run's own corpus files, a directory, a device or other special file,
and a symbolic link (an atomic rename would replace the link, not the file it names).
Writability is probed with a real file beside the target, before training, not after.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from .errors import W2GMError, os_reason
from .modelfile import is_model_file, temporaries_of


def check_output(output: str | os.PathLike, inputs: Iterable[Path] = (), overwrite: bool = False) -> Path:
    """Refuse an output path that would destroy something; returns it as a Path."""
    if not str(output).strip():
        raise W2GMError("--output: empty file name")
    target = Path(output)
    what = f"--output {target}"
    if not target.name or target.name in (".", ".."):
        raise W2GMError(f"{what}: not a file name")
    try:
        info = target.lstat()
    except (FileNotFoundError, NotADirectoryError):
        info = None  # the directory checks below say what is missing
    except OSError as error:
        raise W2GMError(f"{what}: {os_reason(error)}") from None
    if info is not None:
        if stat.S_ISLNK(info.st_mode):
            raise W2GMError(f"{what}: is a symbolic link (to {os.readlink(target)}); give the path of the "
                            "file itself, or another name")
        if stat.S_ISDIR(info.st_mode):
            raise W2GMError(f"{what}: is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise W2GMError(f"{what}: is a device or other special file, not a regular file")
        for source in inputs:
            try:
                if os.path.samefile(source, target):
                    raise W2GMError(f"{what}: is one of the corpus files; the model would replace the text")
            except OSError:
                continue
        if not overwrite and not is_model_file(target):
            raise W2GMError(f"{what}: exists and is not a w2gm model; give --overwrite to replace it, "
                            "or another name")
    _probe_directory(target)
    return target


def _probe_directory(target: Path) -> None:
    """Create and remove a file beside ``target`` (permission bits alone mislead for root
    and some mounts)."""
    parent = target.parent if str(target.parent) else Path(".")
    if parent.exists() and not parent.is_dir():
        raise W2GMError(f"--output {target}: {parent} is not a directory")
    if not parent.is_dir():
        raise W2GMError(f"--output {target}: directory {parent} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise W2GMError(f"--output {target}: directory {parent} is not writable ({os_reason(error)})") from None


def remove_leftovers(output: str | os.PathLike) -> None:
    """Remove the temporary files of an earlier save of ``output`` that was killed half-way
    (called with the output's lock held, so no run is writing them now)."""
    for leftover in temporaries_of(output):
        leftover.unlink(missing_ok=True)
