"""Nothing the user owns is lost (issue 15, classes 1-3 and 9): outputs, checkpoint
directories, two runs on the same paths, and what a killed run leaves behind.

Through :func:`w2gm.cli.main` as ``tests/test_hostile_inputs.py`` does, with its failure
contract (exit 2, one ``w2gm: error:`` line, nothing new in the output directory), plus:
every file that was there before is there after, byte for byte.
"""

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_hostile_inputs import GOOD_TEXT, fails_cleanly, scratch  # noqa: F401 - scratch is a fixture

import w2gm
from w2gm.checkpoint import LOCK, MARKER, CheckpointDir
from w2gm.cli import main
from w2gm.engines.reference import ReferenceUpdater
from w2gm.reading.files import expand_paths
from w2gm.runlock import RunLock, output_lock

FAST = ["-q", "--epochs", "1", "--min-count", "1", "--dim", "4", "--backend", "torch", "--threads", "1"]


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file under ``directory`` (links as their target's name) with its bytes."""
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_symlink():
            files[str(path.relative_to(directory))] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            files[str(path.relative_to(directory))] = path.read_bytes()
    return files


def make_device_or_socket(path: Path) -> None:
    """A special file of the workspace's own: a null device where this user may make one
    (root), else a socket.  Never /dev/null itself: a broken export run as root would
    replace the machine's."""
    try:
        os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    except PermissionError:
        with socket.socket(socket.AF_UNIX) as listener:
            listener.bind(str(path))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A directory holding the user's things: a corpus directory, notes, a link, a model."""
    home = tmp_path / "home"
    (home / "in").mkdir(parents=True)
    (home / "in" / "essay.txt").write_text(GOOD_TEXT)
    (home / "notes.txt").write_text("my notes\n")
    (home / "link.w2gm").symlink_to("notes.txt")
    (home / "sub").mkdir()
    make_device_or_socket(home / "device")
    return home


@pytest.mark.parametrize("output, flags, expected", [
    ("in/essay.txt", [], "is one of the corpus files; the model would replace the text"),
    ("in/essay.txt", ["--overwrite"], "is one of the corpus files"),
    ("notes.txt", [], "exists and is not a w2gm model; give --overwrite to replace it"),
    ("link.w2gm", ["--force"], "is a symbolic link (to notes.txt)"),
    ("device", ["--overwrite"], "is a device or other special file"),
    ("", [], "--output: empty file name"),
    ("sub", [], "is a directory"),
    (".", [], "not a file name"),
])
def test_an_output_that_would_destroy_a_file_is_refused(workspace, capsys, scratch, monkeypatch,  # noqa: F811
                                                        output, flags, expected):
    monkeypatch.chdir(workspace)
    before = snapshot(workspace)
    line = fails_cleanly(["train", "in", "-o", output, *FAST, *flags], capsys, workspace / "sub", scratch)
    assert expected in line
    assert snapshot(workspace) == before


def test_overwrite_replaces_a_file_that_is_not_a_model_and_a_model_needs_no_flag(workspace, capsys):
    notes = workspace / "notes.txt"
    assert main(["train", str(workspace / "in"), "-o", str(notes), "--overwrite", *FAST]) == 0
    assert len(w2gm.load(notes).vocab) > 2
    before = notes.read_bytes()
    assert main(["train", str(workspace / "in"), "-o", str(notes), *FAST, "--seed", "2"]) == 0  # a model now
    assert notes.read_bytes() != before
    assert (workspace / "link.w2gm").is_symlink()


def test_a_checkpoint_directory_with_the_users_files_is_refused_and_kept(workspace, capsys, scratch):  # noqa: F811
    mine = workspace / "sub"
    (mine / "corpus.json").write_text('{"mine": true}')
    (mine / "ids.npy").write_text("my ids")
    before = snapshot(workspace)
    for corpus in ("in", "nowhere.txt"):  # a good run, and one that fails at once
        line = fails_cleanly(["train", str(workspace / corpus), "-o", str(workspace / "m.w2gm"),
                              "--checkpoint-dir", str(mine), *FAST], capsys, workspace, scratch)
        assert ("holds files w2gm did not write (corpus.json, ids.npy)" in line
                or "nowhere.txt: no such file" in line)
        assert snapshot(workspace) == before


def test_an_empty_directory_of_the_users_is_used_and_left_in_place(workspace, capsys):
    mine = workspace / "sub"
    assert main(["train", str(workspace / "in"), "-o", str(workspace / "m.w2gm"), "--checkpoint-dir", str(mine),
                 *FAST]) == 0
    assert mine.is_dir() and list(mine.iterdir()) == []


def test_the_output_may_not_be_one_of_the_checkpoints_own_files(workspace, capsys, scratch):  # noqa: F811
    line = fails_cleanly(["train", str(workspace / "in"), "-o", str(workspace / "sub" / "ids.npy"),
                          "--checkpoint-dir", str(workspace / "sub"), *FAST], capsys, workspace / "sub", scratch)
    assert "is the checkpoint directory or one of its files" in line


def test_what_a_killed_run_left_is_cleared_by_the_next(workspace, capsys):
    """A directory a run marked as its own (ids written, then SIGKILL) is reused, and every
    file in it, temporary ones included, is removed once the model is saved."""
    directory = workspace / "m.w2gm.checkpoint"
    directory.mkdir()
    (directory / MARKER).write_text(json.dumps({"created_directory": True}))
    for name in ("ids.npy", "provisional_ids.bin", ".state.safetensors.0123456789ab.tmp"):
        (directory / name).write_bytes(b"left by a killed run")
    (directory / ".w2gm-pieces").mkdir()  # the parallel reader's pieces
    (directory / ".w2gm-pieces" / "00000003.ids").write_bytes(b"left by a killed run")
    assert main(["train", str(workspace / "in"), "-o", str(workspace / "m.w2gm"), *FAST]) == 0
    assert not directory.exists()


def interrupted_run(corpus: Path, output: Path, **options) -> Path:
    """Train with a checkpoint after every span of 50 tokens and Ctrl-C in the third span;
    returns the checkpoint directory."""
    original, calls = ReferenceUpdater.train_span, []

    def third_raises(self, *args):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, *args)

    ReferenceUpdater.train_span = third_raises
    try:
        with pytest.raises(w2gm.errors.W2GMError, match="the last checkpoint is kept in"):
            w2gm.train(corpus, output=output, checkpoint_every="1steps", span_tokens=50, min_count=1, dim=4,
                       backend="torch", threads=1, **options)
    finally:
        ReferenceUpdater.train_span = original
    return Path(f"{output}.checkpoint")


@pytest.fixture
def interrupted(workspace):
    output = workspace / "m.w2gm"
    return output, interrupted_run(workspace / "in", output, epochs=1)


def test_a_temporary_file_left_by_a_kill_during_a_save_is_removed_on_resume(interrupted):
    output, directory = interrupted
    assert CheckpointDir(directory).has_state()
    (directory / ".state.safetensors.0123456789ab.tmp").write_bytes(b"half a checkpoint")
    (output.parent / ".m.w2gm.ba9876543210.tmp").write_bytes(b"half a model")
    (output.parent / ".m.w2gm.notes.tmp").write_bytes(b"not a name w2gm makes: kept")
    assert w2gm.train(resume=directory).training["tokens"] > 0
    assert output.is_file() and not directory.exists()
    assert sorted(p.name for p in output.parent.glob(".m.w2gm*")) == [".m.w2gm.notes.tmp"]


def test_a_second_run_on_a_locked_output_or_directory_fails_naming_the_first(workspace, capsys, scratch,  # noqa: F811
                                                                             interrupted):
    output, directory = interrupted
    before = snapshot(workspace)
    for lock, argv in ((output_lock(output), ["train", str(workspace / "in"), "-o", str(output), *FAST]),
                       (RunLock(directory / LOCK, "x"), ["train", "--resume", str(directory), "-q"])):
        lock.acquire()  # as another run would: flock conflicts between open files, in one process too
        try:
            line = fails_cleanly(argv, capsys, workspace / "sub", scratch)
        finally:
            lock.release()
        assert f"in use by another w2gm run (pid {os.getpid()})" in line
        assert snapshot(workspace) == before


def test_two_processes_on_one_output_one_is_refused_at_once(workspace):
    """The issue's race: two trainings on different corpora with one -o."""
    output = workspace / "m.w2gm"
    slow = [sys.executable, "-m", "w2gm", "train", str(workspace / "in"), "-o", str(output), *FAST,
            "--epochs", "100000"]
    first = subprocess.Popen(slow, stderr=subprocess.PIPE, text=True)
    try:
        lock = workspace / ".m.w2gm.w2gm-lock"
        deadline = time.monotonic() + 60
        while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.05)
        second = subprocess.run([sys.executable, "-m", "w2gm", "train", str(workspace / "notes.txt"), "-o",
                                 str(output), *FAST], capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stderr == (f"w2gm: error: --output {output}: in use by another w2gm run (pid {first.pid}); "
                                 "wait for it to finish or choose another path\n")
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)
    assert first.returncode == 130


def test_a_symlinked_subdirectory_of_a_corpus_directory_is_read_once_and_a_loop_is_not_followed(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "b.txt").write_text("beta " * 10)
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("alpha " * 10)
    (corpus / "linked").symlink_to(shared)
    (corpus / "also").symlink_to(shared)  # the same directory again: read once
    (shared / "back").symlink_to(corpus)  # a loop
    (corpus / ".hidden").mkdir()
    (corpus / ".hidden" / "c.txt").write_text("gamma " * 10)
    assert expand_paths([corpus]) == [corpus / "a.txt", corpus / "also" / "b.txt"]


def test_a_file_put_at_the_output_while_training_is_not_replaced(workspace, monkeypatch):
    """The output is checked when the run starts and again just before the model is renamed
    into place: what the user put there meanwhile stays, and the trained model is kept."""
    from w2gm import usage_pass

    output = workspace / "m.w2gm"
    count_winners = usage_pass.count_winners

    def meanwhile(*args, **kwargs):
        output.write_text("the user's file, written while w2gm trained\n")
        return count_winners(*args, **kwargs)

    monkeypatch.setattr(usage_pass, "count_winners", meanwhile)
    with pytest.raises(w2gm.W2GMError, match="changed while w2gm was writing it.*the trained model is kept in"):
        w2gm.train(str(workspace / "in"), output=output, epochs=1, min_count=1, dim=4, backend="torch", threads=1)
    assert output.read_text() == "the user's file, written while w2gm trained\n"
    assert CheckpointDir(workspace / "m.w2gm.checkpoint").has_state()
