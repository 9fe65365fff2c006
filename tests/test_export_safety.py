"""``w2gm export`` held to ``train``'s rules for outputs (issue 30, class 1).

Whatever the output names and whatever the flags, an export either writes the whole
export where asked and changes nothing else, or fails in one line and changes nothing:
never a symbolic link, device, FIFO or the model being exported replaced (``--force``
included), never two exports to one path both "succeeding", never a partial file left
after a full disk, Ctrl-C or SIGTERM, and the projector's two files both or neither.
"""

import errno
import os
import signal
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_export import WORDS, _model
from test_user_files import make_device_or_socket

from w2gm import export as export_module
from w2gm.cli import main
from w2gm.errors import W2GMError
from w2gm.runlock import output_lock

PROPERTY = settings(max_examples=150, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def snapshot(directory: Path) -> dict[str, object]:
    """Every entry under ``directory``: links as their target, FIFOs by kind, files by bytes and inode."""
    entries: dict[str, object] = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        name = str(path.relative_to(directory))
        if stat.S_ISLNK(info.st_mode):
            entries[name] = ("link", os.readlink(path))
        elif stat.S_ISREG(info.st_mode):
            entries[name] = ("file", path.read_bytes(), info.st_ino)
        else:
            entries[name] = ("dir" if stat.S_ISDIR(info.st_mode) else "special", info.st_ino)
    return entries


def make_workspace(root: Path) -> Path:
    """The user's things beside the model: notes, a hard link to the model, links to both,
    a dangling link, a FIFO, a directory, an earlier projector export."""
    root.mkdir()
    _model(2).save(root / "m.w2gm")
    (root / "notes.txt").write_text("my notes\n")
    os.link(root / "m.w2gm", root / "hard.w2gm")
    (root / "notes.link").symlink_to("notes.txt")
    (root / "model.link").symlink_to("m.w2gm")
    (root / "dangling.link").symlink_to("nowhere")
    os.mkfifo(root / "fifo")
    make_device_or_socket(root / "device")
    (root / "sub").mkdir()
    (root / "proj").mkdir()
    (root / "proj" / "tensors.tsv").write_text("old tensors\n")
    (root / "proj" / "metadata.tsv").write_text("old metadata\n")
    (root / "proj" / "mine.txt").write_text("the user's own file in the projector directory\n")
    (root / "linked_proj").symlink_to("proj")
    (root / "proj_with_model").mkdir()
    os.link(root / "m.w2gm", root / "proj_with_model" / "tensors.tsv")
    return root


NAMES = ["new.txt", "notes.txt", "m.w2gm", "hard.w2gm", "notes.link", "model.link", "dangling.link", "fifo", "device",
         "sub", "proj", "linked_proj", "proj_with_model", "new_proj", "", ".", "missing/x.txt"]
SPELLINGS = ["{}", "./{}", "sub/../{}", "{root}/{}"]  # relative to the workspace, or absolute


def expected_to_succeed(root: Path, target: Path, fmt: str, force: bool) -> bool:
    """The rules, stated on their own: what an export may replace."""
    model = root / "m.w2gm"

    def replaceable_file(path: Path) -> bool:
        if not os.path.lexists(path):
            return path.parent.is_dir()
        info = path.lstat()
        return stat.S_ISREG(info.st_mode) and force and not path.samefile(model)

    if not target.name or target.name in (".", ".."):
        return False
    if fmt != "projector":
        return replaceable_file(target)
    if not os.path.lexists(target):
        return target.parent.is_dir()
    if target.is_symlink() or not target.is_dir():
        return False
    return all(replaceable_file(target / name) for name in export_module.PROJECTOR_FILES)


@PROPERTY
@given(name=st.sampled_from(NAMES), spelling=st.sampled_from(SPELLINGS),
       fmt=st.sampled_from(export_module.FORMATS), force=st.booleans(), by_cli=st.booleans())
def test_an_export_writes_what_was_asked_or_changes_nothing(tmp_path, name, spelling, fmt, force, by_cli):
    root = make_workspace(Path(tempfile.mkdtemp(dir=tmp_path)) / "home")
    output = name if name in ("", ".") else spelling.format(name, root=root)
    cwd = os.getcwd()
    os.chdir(root)
    try:
        target = Path(output)
        will_succeed = expected_to_succeed(root, target, fmt, force)
        before = snapshot(root)
        model = export_module.KeyedMixtures.load(root / "m.w2gm")
        if by_cli:
            code = main(["export", "m.w2gm", output, "--format", fmt, *(["--force"] if force else [])])
            succeeded = code == 0
            assert code in (0, 2)
        else:
            try:
                export_module.export(model, output, fmt, force, model_path=root / "m.w2gm")
                succeeded = True
            except W2GMError as error:
                assert "\n" not in str(error)
                succeeded = False
        after = snapshot(root)
    finally:
        os.chdir(cwd)
    assert succeeded == will_succeed, (output, fmt, force)
    # nothing but the outputs changed, and no temporary or lock file is left anywhere
    written = set()
    if succeeded:
        resolved = (root / target) if not target.is_absolute() else target
        relative = os.path.relpath(os.path.normpath(resolved), root)
        written = {relative} if fmt != "projector" else {relative, *(f"{relative}/{n}" for n in
                                                                     export_module.PROJECTOR_FILES)}
    assert {k: v for k, v in after.items() if k not in written} == \
        {k: v for k, v in before.items() if k not in written}
    assert after["m.w2gm"] == before["m.w2gm"]
    if succeeded and fmt != "projector":
        assert after[relative][1].startswith(f"{len(WORDS)} 6".encode())  # one row per word
    if succeeded and fmt == "projector":
        assert len(after[f"{relative}/tensors.tsv"][1].splitlines()) == 2 * len(WORDS)


def test_a_second_export_to_a_path_in_use_stops_at_once(tmp_path, capsys):
    root = make_workspace(tmp_path / "home")
    for output, fmt in ((root / "out.txt", "word2vec"), (root / "new_proj", "projector")):
        before = snapshot(root)
        lock = output_lock(output)
        lock.acquire()  # as another export would: flock conflicts between open files, in one process too
        try:
            assert main(["export", str(root / "m.w2gm"), str(output), "--format", fmt]) == 2
        finally:
            lock.release()
        assert f"in use by another w2gm run (pid {os.getpid()})" in capsys.readouterr().err
        assert snapshot(root) == before


def test_two_export_processes_on_one_path_one_is_refused(tmp_path):
    root = make_workspace(tmp_path / "home")
    slow = slow_export(root, root / "out.txt")
    try:
        second = subprocess.run([sys.executable, "-m", "w2gm", "export", str(root / "m.w2gm"), str(root / "out.txt")],
                                capture_output=True, text=True, timeout=120)
        assert second.returncode == 2 and "in use by another w2gm run" in second.stderr
    finally:
        slow.send_signal(signal.SIGINT)
        slow.communicate(timeout=60)
    assert not (root / "out.txt").exists()


SLOW_EXPORT = """
import sys, time
from w2gm import cli, export
def slow(model, rows, handle, binary):
    handle.write(b"partial " * 100_000)
    handle.flush()
    print("writing", flush=True)
    time.sleep(60)
export.write_word2vec = slow
export.write_projector_metadata = lambda *args: slow(None, None, args[-1], False)  # the handle comes last
sys.exit(cli.main(sys.argv[1:]))
"""


def slow_export(root: Path, output: Path, *flags: str) -> subprocess.Popen:
    """An export that writes part of its file, says so on stdout, and waits."""
    process = subprocess.Popen([sys.executable, "-c", SLOW_EXPORT, "export", str(root / "m.w2gm"), str(output),
                                *flags], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline() == "writing\n", process.stderr.read()
    return process


@pytest.mark.parametrize("fmt, number, code, said", [("word2vec", signal.SIGTERM, 143, "stopped by SIGTERM"),
                                                     ("projector", signal.SIGTERM, 143, "stopped by SIGTERM"),
                                                     ("word2vec", signal.SIGINT, 130, "interrupted")])
def test_a_stopped_export_removes_its_partial_files_and_says_so(tmp_path, fmt, number, code, said):
    root = make_workspace(tmp_path / "home")
    output = root / ("out.txt" if fmt == "word2vec" else "proj")
    before = snapshot(root)
    process = slow_export(root, output, "--format", fmt, "--force")
    assert any(".tmp" in p.name for p in root.iterdir()) or any(".tmp" in p.name for p in output.iterdir())
    process.send_signal(number)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == code
    assert stderr == f"w2gm: {said}; nothing was written to {output} (the partial files are removed)\n"
    assert snapshot(root) == before


def test_what_a_killed_export_left_is_cleared_by_the_next(tmp_path):
    root = make_workspace(tmp_path / "home")
    for output, fmt in ((root / "out.txt", "word2vec"), (root / "proj", "projector")):
        process = slow_export(root, output, "--format", fmt, "--force")
        process.kill()
        process.communicate(timeout=60)
        left = [p for p in root.iterdir() if p.name.startswith(f".{output.name}.") and p.name.endswith(".tmp")]
        assert len(left) == 1  # the write in progress, which SIGKILL cannot clean
        assert main(["export", str(root / "m.w2gm"), str(output), "--format", fmt, "--force"]) == 0
        assert not left[0].exists()
    assert not [p for p in root.iterdir() if p.name.endswith((".tmp", ".w2gm-lock"))]
    assert (root / "proj" / "mine.txt").exists()


def test_a_full_disk_during_a_projector_export_leaves_neither_file(tmp_path, monkeypatch):
    root = make_workspace(tmp_path / "home")
    model = _model(2)

    def full_disk(*args):
        handle = args[-1]
        handle.write(b"word\tcomponent\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(export_module, "write_projector_metadata", full_disk)
    for output in (root / "new_proj", root / "proj"):
        before = snapshot(root)
        with pytest.raises(W2GMError, match=f"cannot write {output}: No space left on device"):
            export_module.export(model, output, "projector", force=True)
        assert snapshot(root) == before


def test_a_file_put_at_the_output_while_exporting_is_not_replaced(tmp_path, monkeypatch):
    root = make_workspace(tmp_path / "home")
    output = root / "out.txt"
    original = export_module.write_word2vec

    def meanwhile(*args):
        original(*args)
        output.write_text("written by someone else while w2gm exported\n")

    monkeypatch.setattr(export_module, "write_word2vec", meanwhile)
    with pytest.raises(W2GMError, match="changed while w2gm was writing it"):
        export_module.export(_model(2), output, "word2vec")
    assert output.read_text() == "written by someone else while w2gm exported\n"
    assert not [p for p in root.iterdir() if p.name.endswith((".tmp", ".w2gm-lock"))]


def test_export_to_standard_output(tmp_path):
    root = make_workspace(tmp_path / "home")
    result = subprocess.run([sys.executable, "-m", "w2gm", "export", str(root / "m.w2gm"), "-"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.startswith(f"{len(WORDS)} 6\n")  # one row per word
    assert "to standard output" in result.stderr and not (root / "-").exists()
    os.chdir(root)
    try:
        export_module.export(_model(2), "./-", "word2vec")  # a file named "-"
    finally:
        os.chdir(tmp_path)
    assert (root / "-").read_text().startswith(f"{len(WORDS)} 6\n")
