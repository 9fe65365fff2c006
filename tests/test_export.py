"""``w2gm export``: word2vec text and binary files that gensim loads back to the same
vectors (the words' by default, the components' or both on request), the projector's two
files, and nothing partial or overwritten on failure."""

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
@pytest.mark.parametrize("keys", ["words", "components", "both"])
def test_gensim_loads_the_export_to_the_same_vectors(tmp_path, k, fmt, keys):
    models = pytest.importorskip("gensim.models", reason="gensim is an optional peer for this comparison")
    model = _model(k)
    path = tmp_path / "vectors.bin"
    if k == 1 and keys == "components":
        with pytest.raises(W2GMError, match="--keys words"):
            export_module.export(model, path, fmt, keys=keys)
        return
    export_module.export(model, path, fmt, keys=keys)
    loaded = models.KeyedVectors.load_word2vec_format(str(path), binary=fmt == "word2vec-binary")
    components = [f"{w}:{i}" for w in WORDS for i in range(k)] if k > 1 else []
    expected = {"words": WORDS, "components": components, "both": WORDS + components}[keys]
    assert loaded.index_to_key == expected
    # the words' rows are their mixtures' means, the components' their means
    weights = model.input.weights().numpy()[..., None]
    means = model.input.means.numpy()
    rows = {"words": (weights * means).sum(1), "components": means.reshape(-1, 6)[: len(components)]}
    wanted = np.vstack([rows[kind] for kind in ("words", "components") if keys in (kind, "both")])
    np.testing.assert_allclose(loaded.vectors, wanted, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(loaded.vectors, model.vectors[[model.get_index(key) for key in expected]])


def test_the_default_export_serves_gensim_word_code(tmp_path):
    """The README's promise: gensim's most_similar, evaluate_word_pairs and
    evaluate_word_analogies work on the file a K=2 model exports by default."""
    models = pytest.importorskip("gensim.models", reason="gensim is an optional peer for this comparison")
    model = _model(2)
    export_module.export(model, tmp_path / "v.txt", "word2vec")
    loaded = models.KeyedVectors.load_word2vec_format(str(tmp_path / "v.txt"))
    theirs, ours = loaded.most_similar("rock", topn=4), model.most_similar("rock", topn=4)
    assert [k for k, _ in theirs] == [k for k, _ in ours]
    assert [s for _, s in theirs] == pytest.approx([s for _, s in ours], abs=1e-6)
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("rock\tstone\t9\nrock\tdon't\t1\nstone\tnaïve\t4\nnaïve\tdon't\t6\n")
    (_, (theirs, _), _) = loaded.evaluate_word_pairs(str(pairs))
    assert model.evaluate_word_pairs(pairs)[1][0] == pytest.approx(theirs)
    questions = tmp_path / "questions.txt"
    questions.write_text(": test\nrock stone don't naïve\n")
    theirs, ours = loaded.evaluate_word_analogies(str(questions)), model.evaluate_word_analogies(questions)
    assert theirs[1] == ours[1] and len(theirs[1][-1]["correct"] + theirs[1][-1]["incorrect"]) == 1


def test_projector_files_hold_one_row_per_component(tmp_path):
    model = _model(2)
    export_module.export(model, tmp_path / "proj", "projector")
    tensors = np.loadtxt(tmp_path / "proj" / "tensors.tsv", delimiter="\t", dtype=np.float32)
    np.testing.assert_array_equal(tensors, model.input.means.reshape(-1, 6).numpy())
    lines = (tmp_path / "proj" / "metadata.tsv").read_text().splitlines()
    assert lines[0] == "key\tword\tcomponent\tweight\tvariance\tactive" and len(lines) == 1 + 2 * len(WORDS)
    rows = [line.split("\t") for line in lines[1:]]
    assert [(key, w, int(c), a) for key, w, c, _, _, a in rows] == [
        (f"{w}:{i}", w, i, "yes") for w in WORDS for i in range(2)]
    weights = np.array([float(r[3]) for r in rows]).reshape(len(WORDS), 2)
    np.testing.assert_allclose(weights.sum(1), 1, atol=1e-5)
    variances = np.array([float(r[4]) for r in rows])
    np.testing.assert_allclose(variances, model.input.variances().reshape(-1).numpy(), rtol=1e-5)
    export_module.export(model, tmp_path / "words", "projector", keys="both")
    lines = (tmp_path / "words" / "metadata.tsv").read_text().splitlines()
    assert lines[1] == "rock\trock\t\t\t\tyes" and len(lines) == 1 + 3 * len(WORDS)


def test_inactive_components_are_left_out_unless_asked_for(tmp_path):
    gensim_models = pytest.importorskip("gensim.models", reason="gensim is an optional peer for this comparison")
    model = _model(2)
    counts = torch.tensor([[50, 0], [30, 30], [0, 40], [20, 20], [10, 10]])  # rock:1 and don't:0 never win
    model.usage = Usage.from_counts(counts)
    export_module.export(model, tmp_path / "active.txt", "word2vec", keys="both")
    loaded = gensim_models.KeyedVectors.load_word2vec_format(str(tmp_path / "active.txt"))
    assert "rock:1" not in loaded and "stone:1" in loaded and len(loaded) == 3 * len(WORDS) - 2
    np.testing.assert_array_equal(loaded["rock:0"], model["rock:0"])
    np.testing.assert_allclose(loaded["rock"], model["rock:0"], rtol=1e-6)  # rock is rock:0 alone
    export_module.export(model, tmp_path / "proj", "projector", include_inactive=True)
    rows = [line.split("\t") for line in (tmp_path / "proj" / "metadata.tsv").read_text().splitlines()[1:]]
    assert [key for key, _, _, _, _, active in rows if active == "no"] == ["rock:1", "don't:0"]


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
    _model(2).save(path)
    result = _cli("export", path, out, "--force", "--keys", "both")
    assert result.returncode == 0 and out.read_text().startswith(f"{3 * len(WORDS)} 6\n")
    assert "keys: both" in result.stdout


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
