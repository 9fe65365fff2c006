"""Damaged checkpoints and model files (issue 15, classes 6 and 7): checked as strictly as
the command line's input before anything is trained, allocated or read whole.

A damaged checkpoint must give one ``w2gm: error:`` line naming the directory, and the
directory must be left exactly as it was: it may be the user's only copy of a long run.
"""

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save
from test_hostile_inputs import GOOD_TEXT, fails_cleanly, model_path, scratch  # noqa: F401 - fixtures
from test_modelfile import model_parts, write_parts
from test_user_files import interrupted_run, snapshot

import w2gm
from w2gm.checkpoint import read_metadata
from w2gm.cli import main
from w2gm.errors import ModelFileError


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """The directory of a run stopped by Ctrl-C in its third span (torch engine, tiny)."""
    home = tmp_path_factory.mktemp("damaged")
    corpus = home / "c.txt"
    corpus.write_text(GOOD_TEXT)
    return interrupted_run(corpus, home / "m.w2gm", epochs=2)


def edit_json(name: str, change: Callable[[dict], None]) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        record = json.loads((directory / name).read_text())
        change(record)
        (directory / name).write_text(json.dumps(record))
    return damage


def edit_ids(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        ids = np.load(directory / "ids.npy")
        np.save(directory / "ids.npy", change(ids.copy()))
    return damage


def edit_state(change: Callable[[dict, dict], None]) -> Callable[[Path], None]:
    def damage(directory: Path) -> None:
        data = (directory / "state.safetensors").read_bytes()
        tensors, metadata = safetensors_load(data), read_metadata(data)
        change(tensors, metadata)
        (directory / "state.safetensors").write_bytes(safetensors_save(tensors, metadata=metadata))
    return damage


def set_id(position: int, value: int) -> Callable[[Path], None]:
    def change(ids: np.ndarray) -> np.ndarray:
        ids[position % len(ids)] = value
        return ids
    return edit_ids(change)


def in_position(key: str, value) -> Callable[[Path], None]:
    def change(tensors: dict, metadata: dict) -> None:
        metadata["position"] = json.dumps(json.loads(metadata["position"]) | {key: value})
    return edit_state(change)


def in_config(key: str, value) -> Callable[[Path], None]:
    def change(tensors: dict, metadata: dict) -> None:
        metadata["config"] = json.dumps(json.loads(metadata["config"]) | {key: value})
    return edit_state(change)


def tensor(name: str, change: Callable[[torch.Tensor], torch.Tensor]) -> Callable[[Path], None]:
    def apply(tensors: dict, metadata: dict) -> None:
        tensors[name] = change(tensors[name])
    return edit_state(apply)


def repeat_first_word(record: dict) -> None:
    record["words"][1] = record["words"][0]


def miscount(record: dict) -> None:
    record["counts"][0] += 1


def swap_counts(record: dict) -> None:
    record["counts"][0], record["counts"][1] = record["counts"][1], record["counts"][0]


DAMAGES = {
    "id beyond the vocabulary": (set_id(5, 10_000), "ids.npy: id 10000 at position 5 is not in the 8-word"),
    "negative id": (set_id(0, -1), "ids.npy: id -1 at position 0 is not in the 8-word vocabulary"),
    "word listed twice": (edit_json("corpus.json", repeat_first_word), "corpus.json: the word 'the' is listed twice"),
    "count off by one": (edit_json("corpus.json", miscount), "ids.npy: holds 260 ids but the vocabulary counts 261"),
    "counts swapped": (edit_json("corpus.json", swap_counts), "ids.npy: word 0 occurs"),
    "words not strings": (edit_json("corpus.json", lambda r: r.update(words=list(range(8)))), "is not a list of"),
    "ids of int64": (edit_ids(lambda ids: ids.astype(np.int64)), "ids.npy: holds int64 of 1 dimension(s), not int32"),
    "ids of two dimensions": (edit_ids(lambda ids: ids.reshape(2, -1)), "holds int32 of 2 dimension(s)"),
    "tensor of float64": (tensor("input.means", lambda t: t.double()), "tensor input.means is torch.float64"),
    "tensor with NaN": (tensor("output.logits", lambda t: t.fill_(float("nan"))), "output.logits holds values that"),
    "negative squares": (tensor("input.optimizer.sum_squares.means", lambda t: -t), "negative accumulated squares"),
    "tensor of another shape": (tensor("input.means", lambda t: t[:, :, :3].contiguous()), "do not match"),
    "epoch beyond the run": (in_position("epoch", 99), "position 99 epochs"),
    "negative offset": (in_position("offsets", [-5]), "position offsets [-5] lie outside the corpus of 260"),
    "loss NaN": (in_position("loss", float("nan")), "position loss nan is not a finite"),
    "tokens as text": (in_position("tokens", "many"), "is not a non-negative integer"),
    "unknown position key": (in_position("spans", 3), "unexpected keyword argument 'spans'"),
    "window as text": (in_config("window", "ten"), "the config record: --window: 'ten' is not a valid value"),
    "window negative": (in_config("window", -3), "the config record: --window must be at least 1, got -3"),
    "seed negative": (in_config("seed", -1), "the config record: --seed must be between 0 and"),
}


def damaged_copy(checkpoint: Path, into: Path, damage: Callable[[Path], None]) -> Path:
    directory = into / "m.w2gm.checkpoint"
    shutil.copytree(checkpoint, directory)
    damage(directory)
    return directory


@pytest.mark.parametrize("name", DAMAGES)
def test_a_damaged_checkpoint_is_refused_before_training_and_kept(checkpoint, tmp_path, capsys, scratch,  # noqa: F811
                                                                   name):
    damage, expected = DAMAGES[name]
    directory = damaged_copy(checkpoint, tmp_path, damage)
    before = snapshot(tmp_path)
    line = fails_cleanly(["train", "--resume", str(directory), "-q"], capsys, tmp_path, scratch)
    assert line.startswith(f"w2gm: error: --resume {directory}")
    assert expected in line
    assert snapshot(tmp_path) == before


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=0), value=st.integers(min_value=0, max_value=255),
       target=st.sampled_from(["state.safetensors", "corpus.json", "ids.npy"]))
def test_any_damaged_byte_is_refused_in_one_line_or_the_run_ends_well(checkpoint, capsys, offset, value, target):
    """One byte of a checkpoint file changed anywhere: resuming either refuses, in one line
    and touching nothing, or trains to a model that loads (a changed float is still a float)."""
    with tempfile.TemporaryDirectory() as scratch_dir:
        home = Path(scratch_dir)
        directory = home / "m.w2gm.checkpoint"
        shutil.copytree(checkpoint, directory)
        path = directory / target
        data = bytearray(path.read_bytes())
        data[offset % len(data)] = value
        path.write_bytes(bytes(data))
        before = snapshot(home)
        code = main(["train", "--resume", str(directory), "-q", "-o", str(home / "m.w2gm")])
        captured = capsys.readouterr()
        if code == 0:
            assert len(w2gm.load(home / "m.w2gm").vocab) == 8 and not directory.exists()
        else:
            assert code == 2 and captured.err.count("\n") == 1, captured.err
            assert captured.err.startswith(f"w2gm: error: --resume {directory}")
            assert snapshot(home) == before


# ------------------------------------------------------------------ model files


@pytest.mark.parametrize("value, expected", [
    ("ten", "--window: 'ten' is not a valid value"),
    (-3, "--window must be at least 1, got -3"),
    (1e9, "--window: 1000000000.0 is not a valid value"),
])
def test_a_model_whose_metadata_has_a_wrong_type_or_range_is_refused(tmp_path, capsys, scratch, model_path,  # noqa: F811
                                                                    value, expected):
    tensors, metadata = model_parts(model_path)
    bad = write_parts(tmp_path / "bad.w2gm", tensors, metadata | {"config": json.dumps({"window": value})})
    with pytest.raises(ModelFileError, match="corrupt model file"):
        w2gm.load(bad)
    line = fails_cleanly(["eval", str(bad)], capsys, tmp_path, scratch)
    assert line == f"w2gm: error: {bad}: corrupt model file (the config record: {expected})"


def test_a_header_followed_by_gigabytes_is_refused_before_reading_them(tmp_path, capsys, scratch, model_path):  # noqa: F811
    bad = tmp_path / "big.w2gm"
    shutil.copy(model_path, bad)
    with open(bad, "r+b") as handle:
        handle.truncate(30 << 30)  # sparse: 30 GB on paper, no disk used
    line = fails_cleanly(["neighbors", str(bad), "rock"], capsys, tmp_path, scratch)
    assert "corrupt model file (32,212," in line and "bytes of unexplained data after the tensors)" in line


def test_a_header_announcing_more_data_than_the_file_holds_is_truncated(tmp_path, model_path):  # noqa: F811
    tensors, metadata = model_parts(model_path)
    bad = write_parts(tmp_path / "cut.w2gm", tensors, metadata)
    data = bad.read_bytes()
    bad.write_bytes(data[:-4])
    with pytest.raises(ModelFileError, match=r"corrupt model file \(truncated\)"):
        w2gm.load(bad)


def test_a_model_larger_than_the_memory_available_is_refused_before_reading(tmp_path, model_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr("w2gm.filechecks.available_memory", lambda: model_path.stat().st_size)
    with pytest.raises(ModelFileError, match=r"loading this 0 MiB model needs about 0 MiB of memory, 0 MiB is"):
        w2gm.load(model_path)
    monkeypatch.setattr("w2gm.filechecks.available_memory", lambda: 2 * model_path.stat().st_size)
    assert len(w2gm.load(model_path).vocab) == 6
