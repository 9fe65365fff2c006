"""Progress: a bar only where someone watches, plain lines in a log, and a figure that means
something (the probe of w2gm.training_progress)."""

import io
import subprocess
import sys
import tempfile

import numpy as np
import pytest
import torch
from planted import PLANTED, write_two_sense_corpus

from w2gm.config import make_config
from w2gm.energy import log_expected_likelihood
from w2gm.progress import Progress
from w2gm.reading.corpus import encode
from w2gm.trainer import Trainer
from w2gm.training_progress import PairProbe


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_and_a_log_gets_lines_at_milestones():
    screen, log = Terminal(), io.StringIO()
    for stream in (screen, log):
        bar = Progress("training", 3000, "tok", stream=stream, every=3600)
        for epoch in range(3):
            bar.describe(f"epoch {epoch + 1}/3")
            for _ in range(10):
                bar.update(100)
            bar.milestone()
        bar.close()
    assert "\r" in screen.getvalue()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue() and len(lines) == 3
    assert lines[0].startswith("w2gm: training 1.00k of 3.00k tokens (33%)") and lines[0].endswith("epoch 1/3")
    assert lines[2].startswith("w2gm: training 3.00k of 3.00k tokens (100%)")


def test_a_log_gets_a_line_every_so_often_between_milestones(monkeypatch):
    clock = iter(range(0, 10_000, 10))  # each reading of the clock 10 s later
    monkeypatch.setattr("w2gm.progress.time.monotonic", lambda: next(clock))
    log = io.StringIO()
    bar = Progress("reading", None, "B", binary=True, stream=log, every=60)
    for _ in range(30):
        bar.update(1024)
    assert len(log.getvalue().splitlines()) == 30 * 10 // 60
    assert log.getvalue().splitlines()[0].startswith("w2gm: reading 6.00kB in 01:00")


def test_disabled_progress_writes_nothing():
    for stream in (Terminal(), io.StringIO()):
        bar = Progress("training", 10, "tok", stream=stream, enabled=False, every=0)
        bar.update(5)
        bar.milestone()
        bar.close()
        assert stream.getvalue() == ""


def test_training_into_a_log_writes_lines_not_frames(tmp_path):
    """stderr redirected (a pipe here): no carriage return, one line per epoch with the
    probe's figure, and the summary names it."""
    corpus = write_two_sense_corpus(tmp_path / "c.txt", sentences=300)
    result = subprocess.run(
        [sys.executable, "-m", "w2gm", "train", str(corpus), "-o", str(tmp_path / "m.w2gm"), "--epochs", "3",
         "--min-count", "1", "--dim", "8", "--backend", "torch", "--span-tokens", "500"],
        capture_output=True, text=True, check=True,
    )
    assert "\r" not in result.stderr
    epochs = [line for line in result.stderr.splitlines() if "epoch" in line]
    assert [line.split("epoch ")[1][:3] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert all(line.startswith("w2gm: training ") and "true contexts above random words" in line
               for line in epochs)
    assert "true contexts above random words" in result.stdout


def trained_on_planted_text(tmp_path, epochs: int) -> tuple[Trainer, PairProbe, np.ndarray]:
    corpus = write_two_sense_corpus(tmp_path / "two_senses.txt", sentences=3000)
    encoded = encode([corpus], tempfile.mkdtemp(dir=tmp_path), min_count=1, read_workers=1)
    config = make_config(**{**PLANTED, "epochs": epochs})
    trainer = Trainer(encoded.vocab, config, torch.device("cpu"))
    return trainer, PairProbe(encoded.ids, encoded.vocab, config, trainer.device), encoded.ids


def test_the_probe_is_at_chance_before_training_and_rises_with_it(tmp_path):
    trainer, probe, ids = trained_on_planted_text(tmp_path, epochs=2)
    start = probe.ranked(trainer.tables["input"], trainer.tables["output"])
    assert len(probe) > 1000 and start == pytest.approx(0.5, abs=0.05)
    summary = trainer.fit(ids, progress=False)
    # six disjoint topics: a word's true contexts are easy to tell from random words
    assert summary["ranked"] == probe.ranked(trainer.tables["input"], trainer.tables["output"]) > 0.8
    # what it counts: the share of (pair, negative) won by the true context, pair by pair
    words, contexts = trainer.tables["input"], trainer.tables["output"]

    def energy(w: int, c: int) -> float:
        def pick(table, i):
            return table.means[i], table.log_variances[i], table.log_weights()[i]
        return float(log_expected_likelihood(*pick(words, w), *pick(contexts, c)))

    few = PairProbe(ids, trainer.vocab, trainer.config, trainer.device, pairs=300)  # the same draws, fewer
    triples = zip(few.centres.tolist(), few.contexts.tolist(), few.negatives.tolist(), strict=True)
    wins = [energy(w, c) > energy(w, n) for w, c, row in triples for n in row]
    assert few.ranked(words, contexts) == pytest.approx(np.mean(wins), abs=1e-6)


def test_the_probe_draws_the_same_sample_for_the_same_seed(tmp_path):
    trainer, probe, ids = trained_on_planted_text(tmp_path, epochs=1)
    again = PairProbe(ids, trainer.vocab, trainer.config, trainer.device)
    assert torch.equal(probe.centres, again.centres) and torch.equal(probe.negatives, again.negatives)
