"""Several ranks, one model: torchrun with gloo on the CPU."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from planted import AMBIGUOUS, PLANTED, write_two_sense_corpus
from test_checkpoint import assert_same_model, saved_tokens
from test_train import sense_of

import w2gm
from w2gm.distributed import Group

WORKER = Path(__file__).with_name("distributed_worker.py")
#: the planted options on the compiled engine, with spans short enough for several merges an epoch
RANKED = {**PLANTED, "backend": "numba", "span_tokens": 10_000}


def torchrun(ranks: int, corpus: Path, folder: Path, options: dict, wait: bool = True) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}",
               str(WORKER), str(corpus), str(folder), json.dumps(options)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if wait:
        _, stderr = process.communicate(timeout=600)
        assert process.returncode == 0, stderr[-3000:]
    return process


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_two_sense_corpus(tmp_path_factory.mktemp("dist") / "two_senses.txt")


def test_shards_cover_the_corpus_once():
    for world in (1, 2, 3, 7):
        shards = [Group(rank, world).shard(1001) for rank in range(world)]
        assert shards[0][0] == 0 and shards[-1][1] == 1001
        assert all(a[1] == b[0] for a, b in zip(shards, shards[1:], strict=False))
        assert max(b - a for a, b in shards) - min(b - a for a, b in shards) <= 1


def test_two_ranks_end_identical_and_recover_both_senses(corpus, tmp_path):
    """With the principal split: rank 0 finds the axes the tied components split along and
    shares them, so the ranks split alike."""
    output = tmp_path / "model.w2gm"
    torchrun(2, corpus, tmp_path, {**RANKED, "split_at": 0.4, "components": 2, "output": str(output)})
    ranks = [w2gm.load(tmp_path / f"{r}.w2gm") for r in range(2)]
    assert_same_model(*ranks)
    assert_same_model(w2gm.load(output), ranks[0])
    model = ranks[0]
    assert model.training["world_size"] == 2
    assert model.training["tokens"] == PLANTED["epochs"] * model.training["raw_tokens"]  # min_count 1
    # one merge a span, each accounted for in the summary's time split
    raw, t = model.training["raw_tokens"], model.training
    assert t["merges"] == PLANTED["epochs"] * -(-(raw - raw // 2) // RANKED["span_tokens"])
    assert 0 < t["merged_rows"] <= 1 and 0 <= t["merge_wait_seconds"] <= t["merge_seconds"]
    assert 0 < t["first_span_seconds"] <= t["train_seconds"] < t["train_seconds"] + t["merge_seconds"] <= t[
        "session_seconds"]
    senses = [sense_of(model, f"{AMBIGUOUS}:{k}") for k in range(2)]
    assert sorted(topic for topic, _ in senses) == ["money", "river"], senses
    assert all(agreeing >= 4 for _, agreeing in senses), senses


def test_one_rank_under_torchrun_is_the_plain_trainer(corpus, tmp_path):
    torchrun(1, corpus, tmp_path, {**RANKED, "epochs": 1})
    plain = w2gm.train(corpus, **{**RANKED, "epochs": 1})
    assert_same_model(w2gm.load(tmp_path / "0.w2gm"), plain)


def test_a_two_rank_run_stopped_by_sigterm_resumes_on_one(corpus, tmp_path):
    directory = tmp_path / "run"
    options = {**RANKED, "backend": "torch", "span_tokens": 4000, "epochs": 2,
               "checkpoint_dir": str(directory), "checkpoint_every": "1steps"}
    process = torchrun(2, corpus, tmp_path, options, wait=False)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if saved_tokens(directory) >= 8000:
                break
        except (FileNotFoundError, ValueError, KeyError):
            pass
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=300)
    assert "checkpoint saved" in stderr, stderr[-3000:]
    stopped_at = saved_tokens(directory)
    total = 2 * sum(1 for _ in corpus.read_text().split())
    assert 8000 <= stopped_at < total
    model = w2gm.train(resume=directory, threads=1)
    assert model.training["world_size"] == 1
    # the epoch's saved share is applied to the new shards, rounded down: at most a token a rank again
    assert total <= model.training["tokens"] <= total + 2
    assert model.training["final_lr"] == pytest.approx(PLANTED.get("lr_min", 1e-5))
    assert torch.isfinite(model.input.means).all()
