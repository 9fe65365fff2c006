"""Where numba keeps the compiled kernels (w2gm.compile_cache): a writable place, or none."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from numba.core import config

from w2gm import compile_cache


@pytest.fixture
def numba_cache_dir():
    saved = config.CACHE_DIR
    yield
    config.CACHE_DIR = saved


def test_the_cache_goes_to_the_first_folder_that_can_be_written(tmp_path, numba_cache_dir):
    blocked = tmp_path / "a file"
    blocked.write_text("")
    assert compile_cache.choose([(blocked / "cache", False), (tmp_path / "second", False)], "w2gm-x")
    assert str(tmp_path / "second" / "w2gm-x") == config.CACHE_DIR
    assert (tmp_path / "second" / "w2gm-x").is_dir()


def test_a_private_folder_others_may_write_is_refused(tmp_path, numba_cache_dir):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o777)
    shared.chmod(0o777)  # past the umask
    config.CACHE_DIR = "before"
    assert not compile_cache.choose([(shared, True)], "w2gm-x")  # nothing else: compile in memory
    assert config.CACHE_DIR == "before"
    mine = tmp_path / "mine"
    assert compile_cache.choose([(mine, True)], "w2gm-x")
    assert mine.stat().st_mode & 0o777 == 0o700


def test_every_module_with_compiled_code_is_in_the_hash():
    # numba checks only a function's own source: one left out here would let an old
    # compiled copy of it run after it changed
    package = Path(compile_cache.__file__).parent
    compiled = {path.relative_to(package).as_posix() for path in package.rglob("*.py")
                if re.search(r"@(njit|intrinsic|overload)\b", path.read_text())}
    assert compiled <= set(compile_cache.KERNEL_SOURCES), compiled - set(compile_cache.KERNEL_SOURCES)


def test_the_kernels_compile_in_memory_where_no_cache_can_be_written(tmp_path):
    # what a user who can write neither the package nor a home meets when even the
    # temporary directory is closed: training works, and nothing is written
    script = f"""
import numpy as np, torch
from numba.core import config
from w2gm import compile_cache
compile_cache.CACHE = False
config.CACHE_DIR = {str(tmp_path / "unused")!r}
from w2gm.mixture import MixtureTable
from w2gm.usage_pass import count_winners
table = MixtureTable.initialise(6, 2, 4, "spherical", 0.05, torch.Generator().manual_seed(1), "cpu", 0.5)
counts = count_winners(table, table, np.arange(60) % 6, 2, "cpu", threads=1)
assert counts.sum() == 60, counts
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr and not (tmp_path / "unused").exists()
