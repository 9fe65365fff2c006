"""Checkpoints: kill and resume, Ctrl-C, divergence, and what a resumed run may change."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from planted import write_two_sense_corpus

import w2gm
from w2gm.checkpoint import CheckpointDir, CheckpointSchedule, read_metadata
from w2gm.engines.reference import ReferenceUpdater
from w2gm.errors import W2GMError
from w2gm.keyed import KeyedMixtures

#: A run of about 20 spans of 3000 tokens that takes some seconds on one thread, so that a
#: signal can land in its middle.
OPTIONS = dict(min_count=1, subsample=0, window=5, dim=10, epochs=2, span_tokens=3000, backend="torch",
               threads=1, batch_size=256, lr=0.05, lr_min=1e-4, seed=3)


def flags(options: dict) -> list[str]:
    return [part for key, value in options.items() for part in (f"--{key.replace('_', '-')}", str(value))]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_two_sense_corpus(tmp_path_factory.mktemp("ckpt") / "corpus.txt", sentences=3000)


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory):
    return w2gm.train(corpus, output=tmp_path_factory.mktemp("whole") / "whole.w2gm", **OPTIONS)


def saved_tokens(directory) -> int:
    """Tokens trained at the directory's checkpoint, read from the file's metadata only."""
    metadata = read_metadata((directory / "state.safetensors").read_bytes())
    return json.loads(metadata["position"])["tokens"]


def start_training(corpus, output, extra=()):
    command = [sys.executable, "-m", "w2gm", "train", str(corpus), "-o", str(output), "-q",
               "--checkpoint-every", "1steps", *flags(OPTIONS), *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_checkpoint(process, directory, at_least: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"training ended before the signal: {process.communicate()}")
        try:
            tokens = saved_tokens(directory)
            if tokens >= at_least:
                return tokens
        except (FileNotFoundError, ValueError, KeyError):
            pass
        time.sleep(0.02)
    pytest.fail("no checkpoint appeared")


def assert_same_model(a, b):
    for name in ("input", "output"):
        for p, t in getattr(a, name).parameters().items():
            assert torch.equal(t, getattr(b, name).parameters()[p]), (name, p)


def test_sigkill_mid_epoch_then_resume_ends_where_an_uninterrupted_run_does(corpus, uninterrupted, tmp_path):
    output = tmp_path / "model.w2gm"
    directory = tmp_path / "model.w2gm.checkpoint"
    total = uninterrupted.training["tokens"]
    process = start_training(corpus, output)
    seen = wait_for_checkpoint(process, directory, at_least=int(0.6 * total))  # in the second epoch
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not output.exists()
    resumed_from = saved_tokens(directory)
    # the checkpoint is at least as far as the last one seen: at most one interval is repeated
    assert seen <= resumed_from < total
    assert resumed_from - seen <= OPTIONS["span_tokens"]
    model = w2gm.train(resume=directory)
    assert model.training["tokens"] == total
    assert model.training["final_lr"] == pytest.approx(OPTIONS["lr_min"])
    assert_same_model(w2gm.load(output), uninterrupted)
    assert not directory.exists()  # cleaned up once the model was saved


def test_ctrl_c_saves_a_checkpoint_and_exits_cleanly(corpus, uninterrupted, tmp_path):
    output = tmp_path / "model.w2gm"
    directory = tmp_path / "model.w2gm.checkpoint"
    process = start_training(corpus, output)
    wait_for_checkpoint(process, directory, at_least=1)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert f"w2gm train --resume {directory}" in stderr.strip().splitlines()[-1]
    assert 0 < saved_tokens(directory) < uninterrupted.training["tokens"]
    finished = subprocess.run([sys.executable, "-m", "w2gm", "train", "-q", "--resume", str(directory)],
                              capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert_same_model(w2gm.load(output), uninterrupted)


@pytest.fixture
def diverged(corpus, tmp_path, monkeypatch):
    """A run whose parameters turn NaN in its third span, with a checkpoint after every span."""
    original = ReferenceUpdater.train_span
    calls = []

    def poisoned(self, ids, lr_start, lr_end, seed):
        calls.append(seed)
        result = original(self, ids, lr_start, lr_end, seed)
        if len(calls) == 3:
            self.trainer.tables["input"].means[0, 0, 0] = float("nan")
        return result

    monkeypatch.setattr(ReferenceUpdater, "train_span", poisoned)
    output = tmp_path / "m.w2gm"
    with pytest.raises(W2GMError, match=r"diverged: a parameter became NaN .* epoch 1, after 9,000 tokens") as error:
        w2gm.train(corpus, output=output, checkpoint_every="1steps", **OPTIONS)
    monkeypatch.undo()
    return output, tmp_path / "m.w2gm.checkpoint", str(error.value)


def test_divergence_stops_with_the_step_and_keeps_the_last_good_checkpoint(diverged):
    output, directory, message = diverged
    assert not output.exists()
    assert f"--resume {directory}" in message
    assert saved_tokens(directory) == 6000  # two good spans
    state = CheckpointDir(directory).load().tensors
    assert all(torch.isfinite(t).all() for t in state.values())


def test_a_resumed_run_refuses_other_options_unless_told(diverged):
    output, directory, _ = diverged
    with pytest.raises(W2GMError, match=r"--lr 0.05 -> 0.02.*--allow-config-change"):
        w2gm.train(resume=directory, lr=0.02)
    with pytest.raises(W2GMError, match="cannot change --dim"):
        w2gm.train(resume=directory, dim=20, allow_config_change=True)
    with pytest.raises(W2GMError, match="give no CORPUS"):
        w2gm.train(output, resume=directory)
    model = w2gm.train(resume=directory, lr=0.02, threads=1, allow_config_change=True)
    assert model.config["lr"] == 0.02
    assert model.training["final_lr"] == pytest.approx(OPTIONS["lr_min"])
    assert w2gm.load(output).training["tokens"] == model.training["tokens"]


def test_a_new_run_will_not_overwrite_an_earlier_runs_checkpoint(corpus, diverged):
    output, directory, _ = diverged
    with pytest.raises(W2GMError, match=f"--checkpoint-dir {directory}: holds the checkpoint of an earlier run"):
        w2gm.train(corpus, output=output, **OPTIONS)
    assert CheckpointDir(directory).has_state()


def test_damaged_or_missing_checkpoints_give_one_line_errors(diverged, tmp_path):
    _, directory, _ = diverged
    state = directory / "state.safetensors"
    state.write_bytes(state.read_bytes()[:100])
    with pytest.raises(W2GMError, match="state.safetensors is damaged"):
        w2gm.train(resume=directory)
    with pytest.raises(W2GMError, match="no such directory"):
        w2gm.train(resume=tmp_path / "nowhere")
    state.unlink()
    with pytest.raises(W2GMError, match="no checkpoint in this directory"):
        w2gm.train(resume=directory)


@pytest.mark.parametrize("text, seconds, steps", [("30s", 30, None), ("10min", 600, None), ("2h", 7200, None),
                                                  ("500steps", None, 500), ("1step", None, 1)])
def test_checkpoint_every_reads_times_and_steps(text, seconds, steps):
    schedule = CheckpointSchedule.parse(text)
    assert (schedule.seconds, schedule.steps) == (seconds, steps)


@pytest.mark.parametrize("text", ["", "10", "5 parsecs", "-3s", "0min"])
def test_checkpoint_every_rejects_what_it_cannot_read(text):
    with pytest.raises(W2GMError, match="--checkpoint-every"):
        CheckpointSchedule.parse(text)


def test_a_model_that_cannot_be_saved_is_kept_for_resume(corpus, uninterrupted, tmp_path, monkeypatch):
    def full_disk(self, path, *args):
        raise W2GMError(f"cannot write {path}: No space left on device")

    monkeypatch.setattr(KeyedMixtures, "save", full_disk)
    output = tmp_path / "m.w2gm"
    with pytest.raises(W2GMError, match=r"No space left on device; the trained model is kept in .*--resume"):
        w2gm.train(corpus, output=output, **OPTIONS)
    monkeypatch.undo()
    directory = tmp_path / "m.w2gm.checkpoint"
    assert saved_tokens(directory) == uninterrupted.training["tokens"]
    model = w2gm.train(resume=directory)  # nothing left to train: it only saves
    assert model.training["tokens"] == uninterrupted.training["tokens"]
    assert_same_model(w2gm.load(output), uninterrupted)


def test_errors_before_training_leave_no_checkpoint_directory(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(W2GMError, match="empty"):
        w2gm.train(empty, output=tmp_path / "m.w2gm")
    assert os.listdir(tmp_path) == ["empty.txt"]
