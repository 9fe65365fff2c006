"""``w2gm export``: word2vec text and binary files that gensim loads back to the same
vectors, the projector's two files, and nothing partial or overwritten on failure."""

import errno
import subprocess
import sys
from unittest import mock

import numpy as np
import pytest
import torch

from w2gm import export as export_module
from w2gm.errors import W2GMError
from w2gm.keyed import KeyedMixtures
from w2gm.mixture import MixtureTable
from w2gm.usage import Usage
from w2gm.vocab import Vocabulary

WORDS = ["rock", "stone", "don't", "na\u00efve", "\u6771\u4eac"]


def _model(k):
    generator = torch.Generator().manual_seed(k)
    table = MixtureTable(torch.randn(len(WORDS), k, 6, generator=generator),
                         torch.randn(len(WORDS), k, 1, generator=generator),
                         torch.randn(len(WORDS), k, generator=generator))
    return KeyedMixtures(Vocabulary(WORDS, np.arange(len(WORDS), 0, -1) * 10), table)


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "w2gm", *map(str, args)], capture_output=True, text=True)


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("fmt", ["word2vec", "word2vec-binary"])
def test_gensim_loads_the_export_to_the_same_vectors(tmp_path, k, fmt):
    models = pytest.importorskip("gensim.models", reason="gensim is an optional peer for this comparison")
    model = _model(k)
    path = tmp_path / "vectors.bin"
    export_module.export(model, path, fmt)
    loaded = models.KeyedVectors.load_word2vec_format(str(path), binary=fmt == "word2vec-binary")
    expected_keys = WORDS if k == 1 else [f"{w}:{i}" for w in WORDS for i in range(k)]
    assert loaded.index_to_key == expected_keys == model.index_to_key
    np.testing.assert_array_equal(loaded.vectors, model.vectors)  # 9 digits restore a float32 exactly


def test_projector_files_hold_one_row_per_component(tmp_path):
    model = _model(2)
    export_module.export(model, tmp_path / "proj", "projector")
    tensors = np.loadtxt(tmp_path / "proj" / "tensors.tsv", delimiter="\t", dtype=np.float32)
    np.testing.assert_array_equal(tensors, model.vectors)
    lines = (tmp_path / "proj" / "metadata.tsv").read_text().splitlines()
    assert lines[0] == "word\tcomponent\tweight\tvariance\tactive" and len(lines) == 1 + 2 * len(WORDS)
    rows = [line.split("\t") for line in lines[1:]]
    assert [(w, int(c), a) for w, c, _, _, a in rows] == [(w, i, "yes") for w in WORDS for i in range(2)]
    weights = np.array([float(r[2]) for r in rows]).reshape(len(WORDS), 2)
    np.testing.assert_allclose(weights.sum(1), 1, atol=1e-5)
    variances = np.array([float(r[3]) for r in rows])
    np.testing.assert_allclose(variances, model.input.variances().reshape(-1).numpy(), rtol=1e-5)


def test_inactive_components_are_left_out_unless_asked_for(tmp_path):
    gensim_models = pytest.importorskip("gensim.models", reason="gensim is an optional peer for this comparison")
    model = _model(2)
    counts = torch.tensor([[50, 0], [30, 30], [0, 40], [20, 20], [10, 10]])  # rock:1 and don't:0 never win
    model.usage = Usage.from_counts(counts)
    export_module.export(model, tmp_path / "active.txt", "word2vec")
    loaded = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "active.txt"))
    assert "rock:1" not in loaded and "stone:1" in loaded and len(loaded) == 2 * len(WORDS) - 2
    np.testing.assert_array_equal(loaded["rock:0"], model["rock:0"])
    export_module.export(model, tmp_path / "proj", "projector", include_inactive=True)
    rows = [line.split("\t") for line in (tmp_path / "proj" / "metadata.tsv").read_text().splitlines()[1:]]
    assert [f"{w}:{c}" for w, c, _, _, active in rows if active == "no"] == ["rock:1", "don't:0"]


def test_cli_export_refuses_to_overwrite_without_force(tmp_path):
    path = tmp_path / "m.w2gm"
    _model(1).save(path)
    out = tmp_path / "mine.txt"
    out.write_text("the user's own file")
    result = _cli("export", path, out)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "--force" in result.stderr
    assert out.read_text() == "the user's own file"
    result = _cli("export", path, out, "--force")
    assert result.returncode == 0 and out.read_text().startswith(f"{len(WORDS)} 6\n")


def test_cli_export_of_a_damaged_model_gives_the_loaders_error(tmp_path):
    path = tmp_path / "m.w2gm"
    _model(1).save(path)
    path.write_bytes(path.read_bytes()[:200])
    result = _cli("export", path, tmp_path / "out.txt")
    assert result.returncode == 2 and result.stderr.startswith("w2gm: error: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "out.txt").exists()


def test_a_failed_export_leaves_nothing_behind(tmp_path):
    model = _model(1)
    result = _cli("export", tmp_path / "missing.w2gm", tmp_path / "out.txt")
    assert result.returncode == 2 and "missing.w2gm" in result.stderr
    with pytest.raises(W2GMError, match="directory .* does not exist"):
        export_module.export(model, tmp_path / "no" / "such" / "dir" / "out.txt", "word2vec")

    def full_disk(model, rows, handle, binary):
        handle.write(b"123 6\n")
        raise OSError(errno.ENOSPC, "No space left on device")

    with mock.patch.object(export_module, "write_word2vec", full_disk), \
            pytest.raises(W2GMError, match="No space left on device"):
        export_module.export(model, tmp_path / "out.txt", "word2vec")
    assert list(tmp_path.iterdir()) == []
