"""``w2gm train -``: text from standard input, plain or compressed, with the same one-line
errors as a file."""

import gzip
import subprocess
import sys

import pytest

from w2gm.keyed import KeyedMixtures

TEXT = "The cat sat on the mat, and the dog sat on the log.\n" * 30
# the reference engine: what is tested is the reading; a numba shape of its own would cost
# 45 s of compiling
TINY = ["--dim", "4", "--epochs", "1", "--min-count", "1", "--window", "2", "--threads", "1", "-q",
        "--backend", "torch"]


def _train(stdin: bytes, tmp_path, *args):
    out = tmp_path / "m.w2gm"
    result = subprocess.run([sys.executable, "-m", "w2gm", "train", *args, "-o", str(out), *TINY],
                            input=stdin, capture_output=True)
    return result, out


def test_training_reads_compressed_standard_input(tmp_path):
    """gzip recognised by its first bytes, which a pipe cannot seek back over."""
    result, out = _train(gzip.compress(TEXT.encode()), tmp_path, "-")
    assert result.returncode == 0, result.stderr.decode()
    model = KeyedMixtures.load(out)
    assert sorted(model.vocab.words) == sorted({"the", "cat", "sat", "on", "mat", "and", "dog", "log"})
    assert model.training["raw_tokens"] == 13 * 30


@pytest.mark.parametrize(("data", "message"), [
    (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4, "<stdin>:1: looks like a binary file (NUL byte"),
    (b"ok\ncaf\xe9 na\xefve\n", "<stdin>:2: invalid UTF-8 at byte 6"),
    (b"", "<stdin>: no words in this input"),
    (b"-- ... !!!\n", "<stdin>: no words in this input (punctuation only)"),
])
def test_bad_standard_input_gets_the_files_one_line_errors(tmp_path, data, message):
    result, out = _train(data, tmp_path, "-", "--encoding-errors", "strict")
    stderr = result.stderr.decode()
    assert result.returncode == 2 and stderr.count("\n") == 1 and message in stderr, stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_standard_input_can_be_named_once(tmp_path):
    result, _ = _train(TEXT.encode(), tmp_path, "-", "-")
    assert result.returncode == 2 and "standard input (-) can be read only once" in result.stderr.decode()
