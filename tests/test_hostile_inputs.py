"""Hostile inputs through the command line (issue 6, items 4 and 5).

Every fault must end ``w2gm`` with exit code 2 and exactly one line on stderr, starting
``w2gm: error:`` and naming the file (and line) or the option at fault; nothing on stdout,
nothing new in the output directory and nothing left in the temporary directory.  The
commands run in-process through :func:`w2gm.cli.main`, the console script's entry point:
an exception other than :class:`W2GMError` would escape it and fail the test, where the
console script would print a traceback (``tests/test_cli.py`` runs the real script).
"""

import gzip
import lzma
import random
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_modelfile import model_parts, random_model, write_parts

from w2gm import modelfile
from w2gm.cli import main

GOOD_TEXT = "the cat sat on the mat and the dog sat on the log\n" * 20


@pytest.fixture
def scratch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The temporary directory the commands use for their working files."""
    directory = tmp_path / "tmp"
    directory.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(directory))
    return directory


def fails_cleanly(argv: list[str], capsys: pytest.CaptureFixture[str], output_dir: Path, scratch: Path) -> str:
    """Run ``w2gm argv``; check the failure contract and return the error line."""
    output_dir.mkdir(exist_ok=True)
    before = sorted(output_dir.iterdir())
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2
    assert captured.out == ""
    assert captured.err.endswith("\n") and captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("w2gm: error: ")
    assert sorted(output_dir.iterdir()) == before
    assert list(scratch.iterdir()) == []
    return captured.err.rstrip("\n")


def random_bytes_without_nul(size: int) -> bytes:
    generator = random.Random(0)
    return bytes(generator.randrange(1, 256) for _ in range(size))


def first_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def corrupt_gzip(text: str) -> bytes:
    data = bytearray(gzip.compress(text.encode()))
    data[15:25] = b"\xff" * 10  # inside the deflate stream, after a valid gzip header
    return bytes(data)


# (name of the file, its bytes, extra options, what the error line must contain)
CORPUS_FAULTS = [
    ("empty.txt", b"", [], "{path}: no words in this file (empty)"),
    ("blank.txt", b"  \n\t\n   \n", [], "{path}: no words in this file (whitespace only)"),
    ("program.bin", b"\x7fELF\x02\x01\x01\x00\x00\x00binary", [], "{path}:1: looks like a binary file (NUL byte"),
    ("noise.bin", random_bytes_without_nul(4000), [], "{path}: looks like a binary file ("),
    ("latin1.txt", "ok\ncafé naïve\n".encode("latin-1"), ["--encoding-errors", "strict"],
     "{path}:2: invalid UTF-8 at byte 6 (use --encoding-errors replace"),
    ("few.txt", b"alpha beta gamma alpha", [], "only 0 distinct word(s) occur at least --min-count=5 times"),
    ("token.txt", (GOOD_TEXT + "x" * 200_000 + " end\n").encode(), [], "{path}:21: a token longer than 100000"),
    ("blob.txt", b"b" * 300_000, [], "{path}:1: a token longer than 100000"),
    ("corrupt.gz", corrupt_gzip(GOOD_TEXT), [], "{path}: corrupt or truncated compressed data"),
    ("cut.xz", first_half(lzma.compress(GOOD_TEXT.encode())), [], "{path}: corrupt or truncated compressed data"),
]


@pytest.mark.parametrize("name, content, options, expected", CORPUS_FAULTS, ids=[f[0] for f in CORPUS_FAULTS])
def test_train_on_a_hostile_corpus(tmp_path, capsys, scratch, name, content, options, expected):
    corpus = tmp_path / name
    corpus.write_bytes(content)
    output_dir = tmp_path / "out"
    line = fails_cleanly(
        ["train", str(corpus), "-o", str(output_dir / "m.w2gm"), "-q", *options], capsys, output_dir, scratch
    )
    assert expected.format(path=corpus) in line


def test_a_hostile_file_inside_a_corpus_directory_is_named(tmp_path, capsys, scratch):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text(GOOD_TEXT)
    (corpus / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    line = fails_cleanly(["train", str(corpus), "-o", str(tmp_path / "out" / "m.w2gm"), "-q"], capsys,
                         tmp_path / "out", scratch)
    assert f"{corpus / 'b.png'}:3: looks like a binary file" in line


def test_invalid_utf8_is_replaced_by_default_and_counted(tmp_path, capsys, scratch):
    corpus = tmp_path / "latin1.txt"
    corpus.write_bytes((GOOD_TEXT + "café naïve\n").encode("latin-1"))
    output = tmp_path / "m.w2gm"
    # the reference engine: what is tested is the reading; a numba shape of its own would
    # cost the suite 45 s of compiling
    assert main(["train", str(corpus), "-o", str(output), "-q", "--epochs", "1", "--dim", "4",
                 "--backend", "torch"]) == 0
    assert "; 2 undecodable bytes replaced;" in capsys.readouterr().out
    assert output.is_file()


@pytest.mark.parametrize(
    "corpus, output, expected",
    [
        ("nowhere.txt", "m.w2gm", "{tmp}/nowhere.txt: no such file or directory"),
        ("empty_dir", "m.w2gm", "{tmp}/empty_dir: directory holds no files"),
        ("good.txt", "missing/m.w2gm", "--output {tmp}/missing/m.w2gm: directory {tmp}/missing does not exist"),
        ("good.txt", "out", "--output {tmp}/out: is a directory"),
        ("good.txt", "good.txt/m.w2gm", "--output {tmp}/good.txt/m.w2gm: {tmp}/good.txt is not a directory"),
    ],
)
def test_train_with_missing_input_or_unwritable_output(tmp_path, capsys, scratch, corpus, output, expected):
    (tmp_path / "good.txt").write_text(GOOD_TEXT)
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "out").mkdir()
    line = fails_cleanly(["train", str(tmp_path / corpus), "-o", str(tmp_path / output), "-q"], capsys,
                         tmp_path / "out", scratch)
    assert expected.format(tmp=tmp_path) in line


# ------------------------------------------------------------------ models
@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "m.w2gm"
    random_model().save(path)
    return path


def newer_model(path: Path, model: Path) -> None:
    tensors, metadata = model_parts(model)
    write_parts(path, tensors, metadata | {"format_version": str(modelfile.FORMAT_VERSION + 1)})


def foreign_safetensors(path: Path, model: Path) -> None:
    tensors, _ = model_parts(model)
    write_parts(path, tensors, {"format": "pt"})


MODEL_FAULTS: dict[str, tuple[Callable[[Path, Path], object], str]] = {
    "missing": (lambda path, model: None, "{path}: no such model file"),
    "directory": (lambda path, model: path.mkdir(), "{path}: is a directory, not a model file"),
    "empty": (lambda path, model: path.write_bytes(b""), "{path}: not a w2gm model file (only 0 bytes)"),
    "truncated": (
        lambda path, model: path.write_bytes(first_half(model.read_bytes())),
        "{path}: not a w2gm model file, or truncated (bad header length)",
    ),
    "text": (lambda path, model: path.write_text(GOOD_TEXT), "{path}: not a w2gm model file"),
    "foreign": (foreign_safetensors, "{path}: not a w2gm model file (a safetensors file of another kind)"),
    "newer": (
        newer_model,
        f"{{path}}: model format version {modelfile.FORMAT_VERSION + 1} is newer than this w2gm reads "
        f"({modelfile.FORMAT_VERSION}); upgrade w2gm",
    ),
}


@pytest.mark.parametrize("command, words", [("eval", []), ("neighbors", ["rock"]), ("senses", ["rock"])])
@pytest.mark.parametrize("fault", MODEL_FAULTS)
def test_commands_on_a_bad_model_file(tmp_path, capsys, scratch, model_path, command, words, fault):
    make, expected = MODEL_FAULTS[fault]
    bad = tmp_path / "bad.w2gm"
    make(bad, model_path)
    line = fails_cleanly([command, str(bad), *words], capsys, tmp_path, scratch)
    assert expected.format(path=bad) in line


# -------------------------------------------------------- evaluation files
SIMILARITY_FAULTS = [
    ("short.txt", b"rock stone 7\nrock jazz\n", "{path}:2: expected two words and a score, got 2 field(s)"),
    ("word.txt", b"rock stone 7\nrock jazz high\n", "{path}:2: score 'high' is not a finite number"),
    ("inf.txt", b"rock stone 7\nrock jazz inf\n", "{path}:2: score 'inf' is not a finite number"),
    ("latin1.txt", "rock stone 7\njazz café 3\n".encode("latin-1"), "{path}:2: not UTF-8 text"),
    ("nul.txt", b"rock stone 7\nrock\x00jazz 3\n", "{path}:2: NUL byte: a binary file, not text"),
    ("empty.txt", b"", "{path}: no word pairs found"),
    ("comments.txt", b"# only a comment\n", "{path}: no word pairs found"),
    ("corrupt.txt.gz", corrupt_gzip("rock stone 7\n" * 50), "{path}: cannot read"),
]


@pytest.mark.parametrize("name, content, expected", SIMILARITY_FAULTS, ids=[f[0] for f in SIMILARITY_FAULTS])
def test_eval_on_a_malformed_similarity_file(tmp_path, capsys, scratch, model_path, name, content, expected):
    pairs = tmp_path / name
    pairs.write_bytes(content)
    line = fails_cleanly(["eval", str(model_path), "--similarity", str(pairs)], capsys, tmp_path, scratch)
    assert expected.format(path=pairs) in line


SCWS_ROW = "1\trock\tn\tjazz\tn\tthe <b> rock </b> band\tsome <b> jazz </b> here\t7.0"


@pytest.mark.parametrize(
    "relative, content, dataset, expected",
    [
        ("scws/ratings.txt", SCWS_ROW + "\n1\trock\tn\n", "SCWS", "{path}:2: expected at least 8 tab-separated"),
        ("scws/ratings.txt", SCWS_ROW.replace("<b> jazz </b>", "jazz"), "SCWS", "{path}:1: a context must mark"),
        ("entailment/baroni2012/negative-examples.txtinput", "dog-n\tcar-n\ncar-n\n", "Baroni2012",
         "{path}:2: expected two words, got 1 field(s)"),
        ("similarity/EN-MC-30.txt", "rock stone\n", "MC", "{path}:1: expected two words and a score"),
        ("similarity/EN-RG-65.txt", None, "RG", "{path}: no such file (nor EN-RG-65.txt.gz)"),
    ],
)
def test_eval_on_a_malformed_data_directory(tmp_path, capsys, scratch, model_path, relative, content, dataset,
                                            expected):
    data = tmp_path / "data"
    (data / "entailment/baroni2012").mkdir(parents=True)
    (data / "entailment/baroni2012/positive-examples.txtinput").write_text("dog-n\tanimal-n\n")
    path = data / relative
    if content is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    argv = ["eval", str(model_path), "--data-dir", str(data), "--datasets", dataset]
    line = fails_cleanly(argv, capsys, tmp_path, scratch)
    assert expected.format(path=path) in line


def test_eval_with_a_missing_data_directory(tmp_path, capsys, scratch, model_path):
    line = fails_cleanly(["eval", str(model_path), "--data-dir", str(tmp_path / "nowhere")], capsys, tmp_path,
                         scratch)
    assert f"{tmp_path / 'nowhere'}: data directory does not exist" in line


# ------------------------------------------------------------- full disks
@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[str], Path]]:
    """Mount small tmpfs file systems (``mount -o OPTIONS``); skip where that is not allowed."""
    mounted: list[Path] = []

    def mount(options: str) -> Path:
        point = tmp_path / f"tmpfs{len(mounted)}"
        point.mkdir()
        try:
            result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)],
                                    capture_output=True, text=True)
        except FileNotFoundError:
            pytest.skip("no mount command here")
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)


def test_train_onto_a_full_disk_keeps_the_previous_model(tmp_path, capsys, scratch, tmpfs):
    disk = tmpfs("size=96k")
    output = disk / "m.w2gm"
    random_model().save(output)
    previous = output.read_bytes()
    corpus = tmp_path / "words.txt"
    corpus.write_text(" ".join(f"w{i}" for i in range(100)) + "\n")  # x K=2 x D=100: 80 kB a table, two tables
    argv = ["train", str(corpus), "-o", str(output), "-q", "--epochs", "1", "--min-count", "1", "--dim", "100",
            "--backend", "torch",  # not a numba shape of its own to compile
            "--checkpoint-dir", str(tmp_path / "run")]  # the save, not the checkpoints, meets the full disk
    line = fails_cleanly(argv, capsys, disk, scratch)
    kept = tmp_path / "run"
    assert line == (f"w2gm: error: cannot write {output}: No space left on device; the trained model is kept in "
                    f"{kept}: make room, then w2gm train --resume {kept}")
    assert output.read_bytes() == previous


def test_train_onto_a_read_only_file_system(tmp_path, capsys, scratch, tmpfs):
    disk = tmpfs("ro,size=64k")
    (tmp_path / "good.txt").write_text(GOOD_TEXT)
    line = fails_cleanly(["train", str(tmp_path / "good.txt"), "-o", str(disk / "m.w2gm"), "-q"], capsys, disk,
                         scratch)
    assert line == f"w2gm: error: --output {disk / 'm.w2gm'}: directory {disk} is not writable (Read-only file system)"


def test_a_line_break_in_a_path_still_gives_one_line(tmp_path, capsys, scratch):
    corpus = tmp_path / "two\nlines.txt"
    corpus.write_text("")
    line = fails_cleanly(["train", str(corpus), "-o", str(tmp_path / "out" / "m.w2gm"), "-q"], capsys,
                         tmp_path / "out", scratch)
    assert "two lines.txt: no words in this file (empty)" in line
