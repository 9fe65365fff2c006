"""The command line's smoke tests: every command, as the installed script runs it, on a tiny
model it trains itself (issue 30, classes 5 and 6).

``.ci/run`` runs these once more (``pytest -m smoke``) as a user who is not root and whose
home directory is read-only, as a service account or a container's user is: no command may
need to write anywhere but where it is told.  And a closed pipe (``w2gm neighbours m rock |
head -0``) ends every command quietly, as it ends ``cat``: exit 141, nothing on stderr.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from planted import write_two_sense_corpus

pytestmark = pytest.mark.smoke

#: The reference engine, which needs no compiling, on a few hundred sentences.
TINY = ["-q", "--epochs", "1", "--min-count", "1", "--dim", "8", "--components", "2", "--window", "3",
        "--backend", "torch", "--threads", "1"]
CLOSED_PIPE = 128 + signal.SIGPIPE


def w2gm(*args: object, stdout: int | None = subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "w2gm", *map(str, args)], stdout=stdout,
                            stderr=subprocess.PIPE, text=True)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory with a corpus, a model the CLI trained on it, and a word-pairs file."""
    directory = tmp_path_factory.mktemp("smoke")
    write_two_sense_corpus(directory / "corpus.txt", sentences=300)
    (directory / "pairs.txt").write_text("bank river0 5\nbank money0 5\nriver0 river1 9\nmoney0 space0 1\n")
    process = w2gm("train", directory / "corpus.txt", "-o", directory / "m.w2gm", *TINY)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    assert "saved" in out and (directory / "m.w2gm").is_file()
    return directory


def free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return probe.getsockname()[1]


def commands(tiny: Path) -> dict[str, list[object]]:
    model = tiny / "m.w2gm"
    return {
        "neighbours": ["neighbours", model, "bank", "--topn", "3"],
        "senses": ["senses", model, "bank", "--context", "bank"],
        "eval": ["eval", model, "--similarity", tiny / "pairs.txt", "--variance-words", "bank"],
        "export": ["export", model, tiny / "vectors.txt", "--force"],
        "projector": ["export", model, tiny / "projector", "--format", "projector", "--force"],
        "export to stdout": ["export", model, "-"],
    }


def test_every_command_answers_on_a_tiny_model(tiny):
    running = {name: w2gm(*argv) for name, argv in commands(tiny).items()}  # side by side
    results = {name: (process, *process.communicate(timeout=300)) for name, process in running.items()}
    for name, (process, _, err) in results.items():
        assert process.returncode == 0, (name, err)
    assert "Nearest neighbours" in results["neighbours"][1] and "\nbank " in results["neighbours"][1]
    assert "no known context word in 'bank'" in results["senses"][1]
    assert "pairs.txt" in results["eval"][1]
    rows, dim = (tiny / "vectors.txt").read_text().splitlines()[0].split()
    assert int(dim) == 8 and int(rows) >= 2
    assert sorted(p.name for p in (tiny / "projector").iterdir()) == ["metadata.tsv", "tensors.tsv"]
    assert results["export to stdout"][1].splitlines()[0] == f"{rows} {dim}"


def test_a_closed_pipe_ends_every_command_quietly(tiny):
    """Standard output a pipe whose reader is gone: every command stops at its first write,
    with the status SIGPIPE gives and no traceback."""
    # one way out (cli.main) for all; these write to standard output in different ways: a
    # table at the end, a stream of rows, a line before serving
    argvs = {name: commands(tiny)[name] for name in ("neighbours", "senses", "eval", "export to stdout")}
    argvs["serve"] = ["serve", tiny / "m.w2gm", "--port", free_port()]
    reader, writer = os.pipe()
    os.close(reader)
    try:
        running = {name: w2gm(*argv, stdout=writer) for name, argv in argvs.items()}
    finally:
        os.close(writer)
    for name, process in running.items():
        _, err = process.communicate(timeout=300)
        assert (process.returncode, err) == (CLOSED_PIPE, ""), name
