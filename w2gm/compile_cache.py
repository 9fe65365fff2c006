"""Where numba keeps w2gm's compiled kernels, so that only a first run compiles them.

Two faults of numba's own choice (``cache=True`` alone) are mended here:

* numba caches a function in the first place it can write: ``NUMBA_CACHE_DIR``, the
  ``__pycache__`` folder beside its source, a per-user folder (``~/.cache/numba``).  With
  none writable, decorating the function raises ``RuntimeError: cannot cache function``,
  and importing w2gm failed for a user who can write neither the installed package nor a
  home directory (a service account, a container's user with a read-only home).
* numba checks only the source file of the function it loads, not those of the functions
  it calls, which are compiled into it: after an upgrade that changed the pair update but
  not the span loop that calls it, the span loop's cached code would still run the old one.

So every kernel is cached in one folder named for a hash of all the kernels' sources
(:data:`KERNEL_SOURCES`), under the first of these that can be written: ``NUMBA_CACHE_DIR``
when set, the package's ``__pycache__``, numba's per-user folder, and a folder of this
user's own under the temporary directory (made private, and used only if it is this
user's and no one else may write it: numba's cache holds machine code that it runs).
When none can be written, :data:`CACHE` is False and the kernels are compiled in memory,
afresh in each process.
"""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from numba.core import config
from numba.misc.appdirs import AppDirs

PACKAGE = Path(__file__).parent
#: Every module with compiled code, or constants compiled into it.
KERNEL_SOURCES = (
    "compile_cache.py", "energy.py", "usage_pass.py", "engines/hogwild.py", "engines/kernel_sampling.py",
    "engines/occurrence_kernel.py", "engines/pair_kernel.py", "engines/window_kernel.py",
)


def writable(folder: str | os.PathLike) -> bool:
    """Whether numba could keep a cache in ``folder``: its own test (make the folder, then a
    temporary file in it)."""
    try:
        os.makedirs(folder, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError:
        return False
    return True


def private_folder(folder: Path) -> bool:
    """Make ``folder`` readable and writable by this user only, or check that it is (it may
    be left from an earlier run): a folder owned by this user, which no one else may write."""
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = folder.lstat()
    except OSError:
        return False
    mine = stat.S_ISDIR(info.st_mode) and (not hasattr(os, "getuid") or info.st_uid == os.getuid())
    return mine and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and writable(folder)


def sources_hash(sources: Iterable[str] = KERNEL_SOURCES) -> str:
    digest = hashlib.sha256()
    for name in sources:
        digest.update(name.encode() + b"\0" + (PACKAGE / name).read_bytes())
    return digest.hexdigest()[:16]


def candidates() -> list[tuple[Path, bool]]:
    """The folders to keep the cache under, in order, each with whether it must be private."""
    user = os.getuid() if hasattr(os, "getuid") else "user"
    user_wide = Path(AppDirs(appname="numba", appauthor=False).user_cache_dir)
    folders = [(PACKAGE / "__pycache__", False), (user_wide, False),
               (Path(tempfile.gettempdir()) / f"w2gm-numba-cache-{user}", True)]
    if config.CACHE_DIR:
        folders.insert(0, (Path(config.CACHE_DIR), False))
    return folders


def choose(folders: Iterable[tuple[Path, bool]] | None = None, name: str | None = None) -> bool:
    """Point numba's cache at ``name`` (``w2gm-`` and the sources' hash) under the first of
    ``folders`` (:func:`candidates`) that can be written; False when none can, and the
    kernels must be compiled without a cache."""
    name = name if name is not None else f"w2gm-{sources_hash()}"
    for folder, private in folders if folders is not None else candidates():
        if private and not private_folder(folder):
            continue
        if writable(folder / name):
            config.CACHE_DIR = str(folder / name)
            return True
    return False


#: ``cache=`` for every kernel's ``njit``.
CACHE = choose()
