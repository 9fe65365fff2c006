"""Signals at every stage (issue 15, class 5): while the text is read, in the middle of a
long span, and a span stopped part-way then finished by a resumed run."""

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from planted import write_two_sense_corpus
from test_checkpoint import assert_same_model, flags
from test_hogwild import DIM, VOCAB, trainer

import w2gm
from w2gm.checkpoint import read_metadata
from w2gm.chunks import SpanChunks
from w2gm.config import TrainConfig
from w2gm.errors import W2GMError


def tables(t) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in t.state().items()}


@pytest.mark.parametrize("backend", ["torch", "numba"])
def test_a_span_stopped_part_way_then_finished_equals_the_span_trained_whole(backend):
    """The engine's chunks: stop after three, finish skipping those; same tables, same pairs."""
    config = TrainConfig(components=2, dim=DIM, threads=1, backend=backend, batch_size=64, subsample=0, window=3)
    tokens = np.random.default_rng(5).integers(0, len(VOCAB), 600)
    span = torch.from_numpy(tokens) if backend == "torch" else tokens
    whole = trainer(config, warm=True)
    whole_loss, whole_pairs = whole.updater.train_span(span, 0.05, 0.01, seed=7)

    parts = trainer(config, warm=True)
    asked = []
    parts.updater.chunks = SpanChunks(should_stop=lambda: len(asked) >= 3 or bool(asked.append(1)))
    first_loss, first_pairs = parts.updater.train_span(span, 0.05, 0.01, seed=7)
    stopped = parts.updater.chunks
    assert stopped.stopped and stopped.done == [0, 1, 2]
    parts.updater.chunks = SpanChunks(skip=frozenset(stopped.done))
    rest_loss, rest_pairs = parts.updater.train_span(span, 0.05, 0.01, seed=7)
    assert 0 < first_pairs < whole_pairs and first_pairs + rest_pairs == whole_pairs
    assert first_loss + rest_loss == pytest.approx(whole_loss, rel=1e-5)
    for name, value in tables(whole).items():
        assert torch.equal(value, tables(parts)[name]), name


def test_sigterm_while_reading_the_text_removes_the_ids_and_says_so(tmp_path):
    corpus = tmp_path / "big.txt"
    line = " ".join(f"w{i % 5000}" for i in range(10_000)) + "\n"
    corpus.write_text(line * 800)  # 8M tokens: seconds to read
    output = tmp_path / "m.w2gm"
    directory = tmp_path / "m.w2gm.checkpoint"
    process = subprocess.Popen([sys.executable, "-m", "w2gm", "train", str(corpus), "-o", str(output), "-q"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    # the serial reader's provisional ids, or the pieces' ids of the parallel one
    while not ((directory / "provisional_ids.bin").exists() or any(directory.glob(".w2gm-pieces/*.ids"))):
        if time.monotonic() > deadline or process.poll() is not None:
            process.kill()
            pytest.fail(f"reading was not seen: {process.communicate()}")
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    assert stderr == "w2gm: stopped by SIGTERM\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.txt"]


#: One span an epoch, of many small batches: a span takes seconds.
LONG_SPANS = dict(min_count=1, subsample=0, window=5, dim=8, epochs=1, span_tokens=1_000_000, backend="torch",
                  threads=1, batch_size=16, seed=4)


def test_sigterm_in_a_long_span_stops_within_seconds_and_the_resumed_run_ends_as_an_uninterrupted_one(tmp_path):
    corpus = write_two_sense_corpus(tmp_path / "c.txt", sentences=600)
    whole = w2gm.train(corpus, output=tmp_path / "whole.w2gm", **LONG_SPANS)
    output, directory = tmp_path / "m.w2gm", tmp_path / "m.w2gm.checkpoint"
    command = [sys.executable, "-m", "w2gm", "train", str(corpus), "-o", str(output), "-q", *flags(LONG_SPANS)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (directory / "corpus.json").exists():  # written just before training starts
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.02)
    time.sleep(1.0)
    process.send_signal(signal.SIGTERM)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    waited = time.monotonic() - sent
    assert process.returncode == 130, stderr
    assert waited < 5.0
    assert stderr.startswith("w2gm: interrupted after 0 of ") and "chunks of the next span (torch, batches of" in stderr
    assert stderr.endswith(f"continue with: w2gm train --resume {directory}\n")
    position = json.loads(read_metadata((directory / "state.safetensors").read_bytes())["position"])
    assert position["tokens"] == 0 and position["partial"]["done"]  # stopped in the first span
    resumed = w2gm.train(resume=directory)
    assert resumed.training["tokens"] == whole.training["tokens"]
    assert resumed.training["pairs"] == whole.training["pairs"]
    assert_same_model(w2gm.load(output), whole)


def test_a_span_stopped_part_way_needs_the_same_cutting_to_resume():
    record = SpanChunks(skip=frozenset({0, 1})).record((0, 500), "torch, batches of 16")
    with pytest.raises(W2GMError, match=r"resume with the --span-tokens, --backend and --threads it ran with"):
        SpanChunks.resumed(record, (0, 500), "numba, 8 blocks", lambda: False)
    assert SpanChunks.resumed(record, (0, 500), "torch, batches of 16", lambda: False).skip == {0, 1}
