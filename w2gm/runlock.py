"""Exclusive locks that keep two runs off the same checkpoint directory, model file or export.

A lock is a small file holding the owner's process id, locked with ``flock``: the kernel
drops the lock when its owner exits, however it exits (SIGKILL included), so a lock file
left behind by a killed run never blocks the next one.  The file is removed on release;
a run that opened it just before the removal notices that the path no longer names the
inode it locked and tries again, so two runs can never both hold a lock on one path.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from .errors import W2GMError, os_reason


class RunLock:
    """``flock`` on ``path``, taken by :meth:`acquire` without waiting; ``what`` names the
    thing it protects in the error a second run gets ("--checkpoint-dir d")."""

    def __init__(self, path: str | os.PathLike, what: str) -> None:
        self.path = Path(path)
        self.what = what
        self.fd: int | None = None

    def acquire(self) -> None:
        for _ in range(100):  # each retry means another run released between our open and lock
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as error:
                raise W2GMError(f"{self.what}: cannot create the lock file {self.path}: {os_reason(error)}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                owner = _read_pid(fd)
                os.close(fd)
                who = f"another w2gm run (pid {owner})" if owner else "another w2gm run"
                raise W2GMError(f"{self.what}: in use by {who}; wait for it to finish or choose another path") \
                    from None
            if _same_file(fd, self.path):
                os.ftruncate(fd, 0)
                os.pwrite(fd, str(os.getpid()).encode(), 0)
                self.fd = fd
                return
            os.close(fd)  # the file we locked was removed by its releasing owner
        raise W2GMError(f"{self.what}: could not take the lock {self.path}")

    def release(self) -> None:
        """Remove the lock file, then unlock (in this order, see the module's docstring)."""
        if self.fd is None:
            return
        with contextlib.suppress(OSError):
            if _same_file(self.fd, self.path):
                self.path.unlink()
        os.close(self.fd)
        self.fd = None

    @property
    def held(self) -> bool:
        return self.fd is not None


def _same_file(fd: int, path: Path) -> bool:
    try:
        named = path.stat()
    except OSError:
        return False
    opened = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None


def output_lock(output: str | os.PathLike, what: str | None = None) -> RunLock:
    """The lock of an output (a model file, an export): a hidden file beside it, so that it
    works before the output exists and never touches the output itself.  ``what`` names it
    in errors (default ``--output PATH``)."""
    target = Path(output)
    return RunLock(target.with_name(f".{target.name}.w2gm-lock"), what or f"--output {target}")
