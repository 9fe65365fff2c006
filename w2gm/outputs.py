"""Where a command may write: never over the user's own files.

Every file a command writes for the user (``train``'s model, ``export``'s files) is claimed
here first (:func:`claim_output`, :func:`claim_directory`), by one set of rules:

* what is there now is replaced only if the command recognises it as its own kind (train:
  an earlier w2gm model) or is told to (``--overwrite``, ``--force``);
* never, even when told: a file the command reads (a corpus file, the model being
  exported; compared by inode, so a hard link or another spelling of the path counts), a
  directory, a device, FIFO or socket, or a symbolic link (an atomic rename would replace
  the link, not the file it names);
* the path is locked (:mod:`w2gm.runlock`) so that a second command on it stops at once,
  and the temporary files an earlier, killed write of it left are removed under the lock;
* writability is probed with a real file beside the target, before any work;
* just before the new file is renamed into place, the path must still name what was
  checked (:meth:`Claim.verify`): nothing put there meanwhile is replaced.

A directory output (the projector's two files) is written into a new directory beside it
and moved into place whole (:func:`claim_directory`): both files or neither.
:func:`write_files` does all of it for a command that has writers for its files.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from .errors import W2GMError, os_reason
from .modelfile import atomic_writer, is_model_file, temporaries_of
from .reading.files import STDIN, Source
from .runlock import RunLock, output_lock
from .stopping import explained, signals_held, sigterm_raises

#: What a file's identity is here: its device and inode, or None where there is none.
FileId = tuple[int, int] | None


def _nothing(path: Path) -> bool:
    return False


@dataclass(frozen=True)
class OutputRule:
    """How a command may write its output."""

    #: How errors name the output: ``"--output"`` gives ``--output m.w2gm: ...``; empty, the path alone.
    option: str
    #: The flag that lets it replace a regular file it does not recognise.
    force_flag: str
    #: What the files it reads are to it, in the error that refuses to replace one.
    inputs_are: str
    #: What it replaces without being told, and how an existing file it may not is described.
    replaceable: Callable[[Path], bool] = _nothing
    unrecognised: str = "exists"

    def label(self, target: Path) -> str:
        return f"{self.option} {target}" if self.option else str(target)


MODEL_OUTPUT = OutputRule("--output", "--overwrite", "one of the corpus files; the model would replace the text",
                          is_model_file, "exists and is not a w2gm model")


def _file_id(source: Source | Path) -> FileId:
    try:
        info = os.fstat(sys.stdin.fileno()) if source is STDIN else os.stat(source)  # type: ignore[arg-type]
    except (OSError, ValueError, AttributeError):  # gone, or no standard input to speak of
        return None
    return info.st_dev, info.st_ino


def _inspect(target: Path, inputs: Sequence[Source | Path], overwrite: bool, rule: OutputRule) -> FileId:
    """Refuse what may not be replaced at ``target``; the identity of what is there, if anything."""
    what = rule.label(target)
    try:
        info = target.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None  # the directory checks say what is missing
    except OSError as error:
        raise W2GMError(f"{what}: {os_reason(error)}") from None
    if stat.S_ISLNK(info.st_mode):
        raise W2GMError(f"{what}: is a symbolic link (to {os.readlink(target)}); give the path of the "
                        "file itself, or another name")
    if stat.S_ISDIR(info.st_mode):
        raise W2GMError(f"{what}: is a directory")
    if not stat.S_ISREG(info.st_mode):
        raise W2GMError(f"{what}: is a device or other special file, not a regular file")
    found = (info.st_dev, info.st_ino)
    if any(_file_id(source) == found for source in inputs):
        raise W2GMError(f"{what}: is {rule.inputs_are}")
    if not overwrite and not rule.replaceable(target):
        raise W2GMError(f"{what}: {rule.unrecognised}; give {rule.force_flag} to replace it, or another name")
    return found


def _checked_name(output: str | os.PathLike, rule: OutputRule) -> Path:
    if not str(output).strip():
        raise W2GMError(f"{rule.option or 'output'}: empty file name")
    target = Path(output)
    if not target.name or target.name in (".", ".."):
        raise W2GMError(f"{rule.label(target)}: not a file name")
    return target


def _check(output: str | os.PathLike, inputs: Sequence[Source | Path], overwrite: bool,
           rule: OutputRule) -> tuple[Path, FileId]:
    """Refuse an output path that would destroy something; the path, and what is there."""
    target = _checked_name(output, rule)
    found = _inspect(target, inputs, overwrite, rule)
    _probe_directory(target, rule)
    return target, found


def _probe_directory(target: Path, rule: OutputRule) -> None:
    """Create and remove a file beside ``target`` (permission bits alone mislead for root
    and some mounts)."""
    parent = target.parent if str(target.parent) else Path(".")
    what = rule.label(target)
    if parent.exists() and not parent.is_dir():
        raise W2GMError(f"{what}: {parent} is not a directory")
    if not parent.is_dir():
        raise W2GMError(f"{what}: directory {parent} does not exist")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".probe", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as error:
        raise W2GMError(f"{what}: directory {parent} is not writable ({os_reason(error)})") from None


@dataclass
class Claim:
    """An output checked and locked for one command: what was found there (``found``, per
    path) is what :meth:`verify` expects just before the rename."""

    path: Path
    rule: OutputRule
    lock: RunLock
    found: dict[Path, FileId]

    def verify(self) -> None:
        """Refuse to replace anything but what was checked (a file or link put there since)."""
        for path, expected in self.found.items():
            try:
                info = path.lstat()
                now: FileId = (info.st_dev, info.st_ino)
            except (FileNotFoundError, NotADirectoryError):
                now = None
            except OSError as error:
                raise W2GMError(f"{self.rule.label(path)}: {os_reason(error)}") from None
            if now != expected:
                raise W2GMError(f"{self.rule.label(path)}: changed while w2gm was writing it (something else "
                                "created or replaced it); nothing was replaced")

    def release(self) -> None:
        self.lock.release()

    def __enter__(self) -> Claim:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_output(output: str | os.PathLike, inputs: Iterable[Source | Path] = (), overwrite: bool = False,
                 rule: OutputRule = MODEL_OUTPUT) -> Claim:
    """Check ``output`` by ``rule``, lock it against other w2gm commands and remove what an
    earlier, killed write of it left; the caller releases the claim."""
    target, found = _check(output, list(inputs), overwrite, rule)
    claim = _locked(target, rule, {target: found})
    remove_leftovers(target)
    return claim


def _locked(target: Path, rule: OutputRule, found: dict[Path, FileId]) -> Claim:
    """The claim on ``target``, once locked; what the checks found must still be there."""
    lock = output_lock(target, rule.label(target))
    lock.acquire()
    claim = Claim(target, rule, lock, found)
    try:
        claim.verify()
    except BaseException:
        lock.release()
        raise
    return claim


def remove_leftovers(output: str | os.PathLike, staged: Sequence[str] = ()) -> None:
    """Remove the temporary files of an earlier write of ``output`` that was killed
    half-way (called with the output's lock held, so no command is writing them now), and
    the staging directories of a directory output holding only its ``staged`` files."""
    for leftover in temporaries_of(output):
        if leftover.is_dir() and not leftover.is_symlink():
            for name in staged:
                (leftover / name).unlink(missing_ok=True)
            try:
                leftover.rmdir()
            except OSError:
                continue  # not only ours: left alone
        else:
            leftover.unlink(missing_ok=True)


# ------------------------------------------------------------- directory outputs


@contextmanager
def claim_directory(output: str | os.PathLike, names: Sequence[str], inputs: Iterable[Source | Path] = (),
                    overwrite: bool = False, rule: OutputRule = MODEL_OUTPUT) -> Iterator[Path]:
    """A new directory in which to write the files ``names`` of the directory ``output``;
    when the block ends without error they take their places in ``output`` together (the
    new directory is renamed to ``output`` when there is none; else its files are moved in,
    with Ctrl-C and SIGTERM held between the moves).  On any error or interruption nothing
    in ``output`` has changed and the new directory is removed."""
    directory = _checked_name(output, rule)
    found = {directory: _inspect_directory(directory, rule)}
    for name in names:
        found[directory / name] = _inspect(directory / name, list(inputs), overwrite, rule)
    _probe_directory(directory, rule)
    with _locked(directory, rule, found) as claim:
        remove_leftovers(directory, names)
        staging = directory.with_name(f".{directory.name}.{secrets.token_hex(6)}.tmp")
        try:
            staging.mkdir(0o777)  # the umask applies, as to a directory made by mkdir(1)
        except OSError as error:
            raise W2GMError(f"cannot write {directory}: {os_reason(error)}") from None
        try:
            yield staging
            _sync(staging)
            claim.verify()
            _move_into_place(staging, directory, names, found[directory] is None)
        except BaseException as error:
            shutil.rmtree(staging, ignore_errors=True)
            if isinstance(error, OSError):
                raise W2GMError(f"cannot write {directory}: {os_reason(error)}") from None
            raise


def _inspect_directory(directory: Path, rule: OutputRule) -> FileId:
    what = rule.label(directory)
    try:
        info = directory.lstat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise W2GMError(f"{what}: {os_reason(error)}") from None
    if stat.S_ISLNK(info.st_mode):
        raise W2GMError(f"{what}: is a symbolic link (to {os.readlink(directory)}); give the path of the "
                        "directory itself")
    if not stat.S_ISDIR(info.st_mode):
        raise W2GMError(f"{what}: exists and is not a directory")
    return info.st_dev, info.st_ino


def _move_into_place(staging: Path, directory: Path, names: Sequence[str], new: bool) -> None:
    with signals_held():
        if new:
            os.rename(staging, directory)  # one step: both files or neither
        else:
            for name in names:
                os.replace(staging / name, directory / name)
            staging.rmdir()
    _sync(directory.parent if new else directory)


def _sync(directory: Path) -> None:
    """Make the files in ``directory`` and their names durable."""
    for entry in directory.iterdir():
        if entry.is_file():
            with open(entry, "rb") as handle:
                os.fsync(handle.fileno())
    try:
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


# ------------------------------------------------------------------ writing


def write_files(output: str | os.PathLike, writers: Sequence[Callable[[BinaryIO], None]],
                names: Sequence[str] | None = None, inputs: Iterable[Source | Path] = (), overwrite: bool = False,
                rule: OutputRule = MODEL_OUTPUT) -> list[Path]:
    """Write a command's output by ``rule``: the file ``output`` (one writer), or the files
    ``names`` of the directory ``output`` (one writer each), all claimed and written as this
    module says.  Ctrl-C or SIGTERM on the way removes what was half-written and says so."""
    with sigterm_raises():
        try:
            if names is None:
                with claim_output(output, inputs, overwrite, rule) as claim, \
                        atomic_writer(claim.path, claim.verify) as handle:
                    writers[0](handle)
                return [claim.path]
            with claim_directory(output, names, inputs, overwrite, rule) as staging:
                for name, write in zip(names, writers, strict=True):
                    with open(staging / name, "xb") as handle:
                        write(handle)
            return [Path(output) / name for name in names]
        except KeyboardInterrupt as stop:
            raise explained(stop, f"nothing was written to {output} (the partial files are removed)") from None
