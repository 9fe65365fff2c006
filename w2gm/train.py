"""``w2gm.train``: from corpus files to a saved model, as ``w2gm train`` runs it.

Reads and encodes the corpus (:mod:`w2gm.reading`), applies the preset (:mod:`w2gm.autopreset`),
starts or resumes a run in its checkpoint directory, trains with :class:`w2gm.trainer.Trainer`,
counts component usage (:mod:`w2gm.usage_pass`) and saves the model atomically, keeping the
checkpoint when the save fails.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Iterable
from typing import Any

import torch

from . import autopreset, distributed, usage_pass
from .checkpoint import CheckpointDir, CheckpointSchedule, Position
from .config import EXECUTION_FIELDS, PRESETS, TrainConfig, check_engine, make_config
from .engines import resolve_backend, resolve_device
from .errors import W2GMError
from .keyed import KeyedMixtures
from .outputs import Claim, claim_output
from .reading.corpus import EncodedCorpus, encode
from .reading.files import expand_paths, sample_corpus_path
from .runlock import RunLock
from .stopping import TrainingInterrupted, sigterm_raises
from .trainer import Checkpointing, Trainer
from .usage import Usage

CorpusArg = str | os.PathLike | Iterable[str | os.PathLike] | None

#: Options a resumed run can never change: they shape the tables or the corpus.
FIXED_ON_RESUME = ("components", "dim", "covariance", "separate_output", "min_count", "max_vocab", "lowercase",
                   "tokenizer", "encoding_errors", "optimizer")


def _corpus_paths(corpus: CorpusArg) -> list[str | os.PathLike]:
    if corpus is None:
        return [sample_corpus_path()]
    if isinstance(corpus, str | os.PathLike):
        return [corpus]
    paths = list(corpus)
    return paths or [sample_corpus_path()]


def resumed_config(saved: dict[str, Any], preset: str | None, options: dict[str, Any],
                   allow_change: bool) -> TrainConfig:
    """The saved config with the options given now; changes other than how the run
    executes need ``allow_change``, and the shape of the model and corpus never changes."""
    base = TrainConfig.from_dict(saved)
    requested = {**(PRESETS[preset] if preset else {}), **options}
    make_config(preset or "paper", **options)  # the same checks as a new run
    changed = {k: v for k, v in requested.items() if getattr(base, k) != v and k not in EXECUTION_FIELDS}
    described = ", ".join(f"--{k.replace('_', '-')} {getattr(base, k)} -> {v}" for k, v in changed.items())
    fixed = [k for k in changed if k in FIXED_ON_RESUME]
    if fixed:
        raise W2GMError(f"--resume: {described}: a resumed run cannot change "
                        f"{', '.join('--' + k.replace('_', '-') for k in fixed)}; start a new run instead")
    if changed and not allow_change:
        raise W2GMError(f"--resume: the run was started with other options ({described}); "
                        "give --allow-config-change to go on with the new ones")
    return dataclasses.replace(base, **requested)


def _prepare_corpus(
    group: distributed.Group, directory: CheckpointDir, corpus: CorpusArg, config: TrainConfig, progress: bool
) -> EncodedCorpus:
    """Rank 0 reads the text into the checkpoint directory; the other ranks wait and then
    map the same ids (several hosts need the directory on a shared filesystem)."""
    failure: str | None = None
    encoded = None
    if group.is_main:
        try:
            directory.prepare()
            encoded = encode(
                _corpus_paths(corpus), directory.path, config.min_count, config.max_vocab,
                config.lowercase, config.encoding_errors, config.tokenizer, progress, config.read_workers,
            )
            directory.write_corpus(encoded)
        except W2GMError as error:
            failure = str(error)
    failure = group.share(failure)  # type: ignore[assignment]
    if failure is not None:
        raise W2GMError(failure)
    return encoded if encoded is not None else directory.read_corpus()


def train(
    corpus: CorpusArg = None,
    *,
    output: str | os.PathLike | None = None,
    progress: bool = False,
    preset: str | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    checkpoint_every: str | None = "10min",
    resume: str | os.PathLike | None = None,
    allow_config_change: bool = False,
    overwrite: bool = False,
    **options: Any,
) -> KeyedMixtures:
    """Train a model on text files (a path, a directory, or a list of them; ``None`` takes the
    bundled sample) with a preset (see :data:`w2gm.config.PRESETS`; the default, "auto", picks
    settings for the corpus's size by the rules of :mod:`w2gm.autopreset`) and any
    :class:`TrainConfig` option over it; optionally save it to ``output``.

    The run keeps its corpus ids and checkpoints in ``checkpoint_dir`` (default
    ``OUTPUT.checkpoint``; a temporary directory without ``output``), saving one every
    ``checkpoint_every`` (``"30s"``, ``"10min"``, ``"500steps"``, None: only on Ctrl-C or
    SIGTERM) and deleting the directory once the model is saved.  ``resume`` continues the
    run whose checkpoint directory it names.  Under torchrun every rank calls this; rank 0
    reads the corpus and writes the checkpoints and the model.

    ``output`` replaces an earlier model but no other file unless ``overwrite`` is given
    (:mod:`w2gm.outputs`); the output and the checkpoint directory are locked against
    other runs for as long as this one lasts (:mod:`w2gm.runlock`).
    """
    with sigterm_raises():
        locks: list[RunLock] = []
        torch_threads = torch.get_num_threads()
        try:
            return _train(corpus, output, progress, preset, checkpoint_dir, checkpoint_every, resume,
                          allow_config_change, overwrite, options, locks)
        finally:
            torch.set_num_threads(torch_threads)
            for lock in locks:
                lock.release()


def _train(corpus: CorpusArg, output: str | os.PathLike | None, progress: bool, preset: str | None,
           checkpoint_dir: str | os.PathLike | None, checkpoint_every: str | None,
           resume: str | os.PathLike | None, allow_config_change: bool, overwrite: bool,
           options: dict[str, Any], locks: list[RunLock]) -> KeyedMixtures:
    saved = None
    if resume is not None:
        if corpus is not None and _corpus_paths(corpus) != [sample_corpus_path()]:
            raise W2GMError("--resume continues on the corpus saved with the checkpoint; give no CORPUS")
        directory = CheckpointDir(resume)
        saved = directory.load()
        config = resumed_config(saved.config, preset, options, allow_config_change)
        output = output if output is not None else saved.output
    else:
        preset = preset or autopreset.AUTO
        config = make_config(preset, **options)
    schedule = CheckpointSchedule.parse(checkpoint_every) if checkpoint_every else CheckpointSchedule()
    group, device_name = distributed.init(config.device)
    device = resolve_device(device_name)
    backend = resolve_backend(config, device)
    check_engine(config, backend)  # before the text is read
    # With the numba engine its own threads train; torch's pool, in the small operations
    # between spans (the probe, the split), would only spin against them: on 2 busy cores
    # the probe took 10 times the CPU with 2 torch threads, the split 1.5-2.7 times.
    threads = 1 if backend == "numba" else config.threads
    if threads > 0:
        torch.set_num_threads(threads)
    temporary = None
    if saved is None:
        if checkpoint_dir is None and output is None:
            temporary = tempfile.TemporaryDirectory(prefix="w2gm-")
            checkpoint_dir = group.share(temporary.name if group.is_main else None)  # type: ignore[assignment]
        directory = CheckpointDir(checkpoint_dir if checkpoint_dir is not None else f"{output}.checkpoint")
    claim = None
    if output is not None and group.is_main:
        inputs = [] if saved is not None else expand_paths(_corpus_paths(corpus))
        claim = claim_output(output, inputs, overwrite)  # checked, locked, leftovers cleared
        locks.append(claim.lock)
        directory.refuse_as_output(claim.path)
    if saved is not None and group.is_main:
        directory.claim()
    locks.append(directory.lock)  # released last, after the directory's own cleanup
    try:
        # what the model records as its preset: resumed runs go on with the settings they had
        preset_label = "resumed" if saved is not None else preset
        read_started = time.perf_counter()
        if saved is None:
            encoded = _prepare_corpus(group, directory, corpus, config, progress)
            if preset == autopreset.AUTO:
                rule = autopreset.choose(len(encoded.ids))
                preset_label = autopreset.describe(rule, len(encoded.ids), options)
                config = dataclasses.replace(config, **{k: v for k, v in rule.settings.items() if k not in options})
        else:
            encoded = directory.read_corpus()
        read_seconds = time.perf_counter() - read_started
        fit_started = time.perf_counter()
        trainer = Trainer(encoded.vocab, config, device, group)
        position = Position()
        if saved is not None:
            directory.check_position(saved, config.epochs, len(encoded.ids))
            try:
                trainer.load_state({k: v.to(device) for k, v in saved.tensors.items()})
            except W2GMError as error:
                raise W2GMError(f"--resume {directory.path}: {directory.state_path.name} is damaged ({error})") \
                    from None
            position = saved.position
        checkpointing = Checkpointing(directory, schedule, None if output is None else str(output))
        summary = trainer.fit(encoded.ids, progress=progress, position=position,
                              checkpointing=None if temporary is not None else checkpointing)
        summary["fit_seconds"] = time.perf_counter() - fit_started  # the tables, the probe and fit
    except TrainingInterrupted:
        raise
    except (W2GMError, KeyboardInterrupt) as error:
        # nothing half-made is left behind, but a checkpoint is the user's work: keep it
        if group.is_main and not directory.has_state():
            directory.remove()
        elif isinstance(error, KeyboardInterrupt) and temporary is None:
            raise TrainingInterrupted(f"interrupted; the last checkpoint is kept in {directory.path}: "
                                      f"w2gm train --resume {directory.path}") from None
        raise
    finally:
        distributed.finish(group)
    summary |= {"raw_tokens": encoded.raw_tokens, "replaced_bytes": encoded.replaced_bytes,
                "read_seconds": read_seconds, "vocab_size": len(encoded.vocab), "device": str(device),
                "output": None if output is None else str(output)}
    model = trainer.model(summary)
    model.config["preset"] = preset_label
    if group.is_main:  # which component wins in context, counted on the training device
        started = time.perf_counter()
        model.usage = Usage.from_counts(usage_pass.count_winners(
            trainer.tables["input"], trainer.tables.get("output", trainer.tables["input"]),
            encoded.ids, config.window, device, threads=config.threads,
            keep=encoded.vocab.keep_probabilities(config.subsample)))
        model.training["usage_seconds"] = time.perf_counter() - started
        if claim is not None:
            _save_or_keep(model, claim, trainer, checkpointing, position)
        directory.remove()
    if temporary is not None:
        temporary.cleanup()
    return model


def _save_or_keep(model: KeyedMixtures, claim: Claim, trainer: Trainer, checkpointing: Checkpointing,
                  position: Position) -> None:
    """Save the model; when that fails (a full disk) or is interrupted, keep the trained
    state in the checkpoint directory if it fits, so that --resume only has to save it."""
    directory, output = checkpointing.directory, claim.path
    try:
        model.save(output, claim.verify)  # nothing put at the output since the run began is replaced
    except (W2GMError, KeyboardInterrupt) as error:
        try:
            trainer.save_checkpoint(checkpointing, position)
        except W2GMError:
            directory.remove()
            raise error from None
        if isinstance(error, KeyboardInterrupt):
            raise TrainingInterrupted(f"interrupted while saving {output}; the trained model is kept in "
                                      f"{directory.path}: w2gm train --resume {directory.path}") from None
        raise W2GMError(f"{error}; the trained model is kept in {directory.path}: make room, then "
                        f"w2gm train --resume {directory.path}") from None
