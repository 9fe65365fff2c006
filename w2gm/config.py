"""Training options: one dataclass, which the CLI turns into flags with the same help.

Every config made (flags, the Python API, a checkpoint's or a model file's record) checks its
values (:func:`check_values`): a value which is not a number, not finite, or beyond what an
engine supports is one clear error before anything is read or allocated.  What a run needs
of the machine's memory is :mod:`w2gm.limits`'s to check, once the vocabulary is known.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from .errors import W2GMError


def option(default: Any, help: str, **choices: Any) -> Any:
    return field(default=default, metadata={"help": help, **choices})


@dataclass
class TrainConfig:
    # model (paper 3.1, A.2)
    components: int = option(2, "mixture components K per word (1 gives w2g, the unimodal model)")
    dim: int = option(50, "dimension D of the mean vectors")
    covariance: Literal["spherical", "diagonal"] = option(
        "spherical", "covariance shape", choices=("spherical", "diagonal")
    )
    initial_variance: float = option(0.05, "initial variance of every component (A.2)")
    component_spread: float = option(
        0.3, "a word's components start this fraction of A.2's random offsets away from its "
        "first component (1: independent A.2 draws); small values let each sense claim a component"
    )
    split_at: float = option(
        0.0, "share of the run during which each word's K components stay tied as one Gaussian, after which "
        "they split apart (split.py); 0 trains K separate components from the start, as the paper does"
    )
    split_noise: float = option(
        0.05, "size of the split: the noise's standard deviation per dimension, or (principal) a distance of "
        "split_noise * sqrt(D) along the axis"
    )
    split_direction: Literal["principal", "random"] = option(
        "principal", "how tied components split: along the principal axis of each word's contexts, or by "
        "random noise (split.py)", choices=("principal", "random"),
    )
    split_min_count: int = option(
        0, "words seen fewer times keep their components tied (one sense) after the split"
    )
    separate_output: bool = option(
        True, "learn separate output (context) distributions, as word2vec and A.2 do"
    )
    # objective (3.3) and sampling (A.2)
    margin: float = option(1.0, "margin m of the max-margin loss (paper and sense objectives)")
    objective: Literal["paper", "sense", "nll"] = option(
        "paper", "paper: hinge on log E(w,c) - log E(w,c') (3.3); sense: each negative is scored against the "
        "word's components as the positive context chose them, so a component is pushed away from negatives "
        "only as often as it wins positives; nll: -log sigmoid(s(w,c)) - log sigmoid(-s(w,c')) with "
        "s = log E + b, b centring s at the start, which gives the mixture weights a gradient and ignores "
        "--margin (objective.py)", choices=("paper", "sense", "nll"),
    )
    occurrence_sense: Literal["off", "hard", "soft"] = option(
        "off", "off: each (word, context) pair weighs the word's components by its own energy (Eq. 2); hard: each "
        "occurrence of a word first takes the component that best explains its whole window (the product of "
        "E(component, context word) over the window's words, occurrence.py) and trains every pair of that "
        "occurrence through it alone; soft: through the window's posterior over components, flattened by "
        "--occurrence-temperature.  With hard or soft the mixture weights follow the share of the occurrences "
        "each component takes instead of a gradient", choices=("off", "hard", "soft"),
    )
    occurrence_temperature: float = option(
        1.0, "with --occurrence-sense: the window's summed log energies are divided by this before the posterior "
        "(above 1 flattens it, where the window's words are not independent evidence)"
    )
    window: int = option(10, "maximum context window; each centre word draws its size from 1..window")
    subsample: float = option(
        1e-5, "subsampling threshold t: a word of frequency f is kept with probability "
        "min(1, sqrt(t/f)); 0 disables"
    )
    negatives: int = option(1, "negative context words per positive pair")
    negative_sharing: Literal["auto", "pair", "window"] = option(
        "auto", "pair: every (word, context) pair draws its own negatives (3.3); window: the pairs of one centre "
        "word share one draw and train as one update, a row that u of its pairs use taking u Adagrad steps of "
        "their mean gradient in one (pWord2Vec, Ji et al. 2016: the negatives' terms once per centre instead of "
        "once per pair, 3-5 times faster on a CPU at five negatives); auto: window with the numba engine "
        "(the CPU's), pair with the others", choices=("auto", "pair", "window"),
    )
    negative_power: float = option(0.75, "negatives are drawn from unigram counts to this power")
    # corpus and vocabulary
    min_count: int = option(5, "drop words seen fewer times (their tokens are removed from the text, as word2vec does)")
    max_vocab: int | None = option(None, "keep at most this many most frequent words")
    tokenizer: Literal["words", "whitespace"] = option(
        "words", "how text becomes words: 'words' casefolds and keeps words of letters and digits (with inner "
        "apostrophes), dropping punctuation; 'whitespace' keeps every whitespace-separated token as it is, for "
        "pre-tokenised text such as text8", choices=("words", "whitespace"),
    )
    lowercase: bool = option(False, "with --tokenizer whitespace: lowercase the tokens ('words' always casefolds)")
    encoding_errors: Literal["replace", "strict"] = option(
        "replace", "invalid UTF-8: replace with U+FFFD and report the count, or stop",
        choices=("replace", "strict"),
    )
    # optimisation
    epochs: int = option(5, "passes over the corpus")
    lr: float = option(0.05, "initial learning rate")
    lr_min: float = option(1e-5, "final learning rate; the rate decays linearly to it over the whole run")
    optimizer: Literal["adagrad", "adam"] = option(
        "adagrad", "Adagrad (paper) or lazy Adam on the rows a batch touches",
        choices=("adagrad", "adam"),
    )
    batch_size: int = option(4096, "(word, context) pairs per update")
    # execution
    backend: Literal["auto", "torch", "numba", "triton"] = option(
        "auto", "update engine: numba (compiled Hogwild loop, CPU), triton (fused kernel, CUDA) or torch "
        "(the readable reference, any device); auto picks numba on the CPU and triton on a GPU",
        choices=("auto", "torch", "numba", "triton"),
    )
    span_tokens: int = option(
        0, "corpus tokens per span, the unit of work between progress reports, model synchronisation "
        "across ranks and checkpoints (0: 1M on the CPU, 16M on a GPU, 256k for the torch backend on the CPU)"
    )
    device: str = option("auto", "auto (cuda when available), cpu, cuda or cuda:N")
    threads: int = option(
        0, "CPU threads (0: all cores); several Hogwild threads race on shared rows, so a run is bit-reproducible "
        "only with --threads 1"
    )
    read_workers: int = option(
        0, "processes that read and encode the text (0: one per usable CPU; 1: this process alone); "
        "any number gives the same word ids"
    )
    seed: int = option(1, "random seed for initialisation and sampling")

    def __post_init__(self) -> None:
        check_values(self)  # types, finite values and the engines' limits first
        positive = ("components", "dim", "window", "epochs", "batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise W2GMError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if self.span_tokens < 0:
            raise W2GMError(f"--span-tokens must be >= 0, got {self.span_tokens}")
        if self.negatives < 1:
            raise W2GMError(f"--negatives must be at least 1, got {self.negatives}")
        if self.min_count < 1:
            raise W2GMError(f"--min-count must be at least 1, got {self.min_count}")
        if self.max_vocab is not None and self.max_vocab < 2:
            raise W2GMError(f"--max-vocab must be at least 2, got {self.max_vocab}")
        if not (self.lr > 0 and 0 <= self.lr_min <= self.lr):
            raise W2GMError(f"need 0 <= --lr-min <= --lr and --lr > 0, got lr={self.lr}, lr-min={self.lr_min}")
        if not 0 <= self.component_spread <= 1:
            raise W2GMError(f"--component-spread must be in [0, 1], got {self.component_spread}")
        if not self.initial_variance > 0:
            raise W2GMError(f"--initial-variance must be positive, got {self.initial_variance}")
        if not 0 <= self.split_at < 1:
            raise W2GMError(f"--split-at must be in [0, 1), got {self.split_at}")
        if not self.split_noise >= 0:
            raise W2GMError(f"--split-noise must be >= 0, got {self.split_noise}")
        if self.subsample < 0:
            raise W2GMError(f"--subsample must be >= 0, got {self.subsample}")
        if self.negative_sharing == "window" and self.objective == "sense":
            raise W2GMError("--negative-sharing window: the sense objective scores each negative against its own "
                            "pair's context; use --negative-sharing pair (or auto) with --objective sense")
        if self.occurrence_sense != "off" and self.objective == "sense":
            raise W2GMError("--occurrence-sense and --objective sense both choose a component per pair: use one")
        if not self.occurrence_temperature > 0:
            raise W2GMError(f"--occurrence-temperature must be positive, got {self.occurrence_temperature}")
        for name in ("covariance", "objective", "tokenizer", "optimizer", "encoding_errors", "backend",
                     "split_direction", "occurrence_sense"):
            allowed = FIELDS[name].metadata["choices"]
            if getattr(self, name) not in allowed:
                flag = "--" + name.replace("_", "-")
                raise W2GMError(f"{flag} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        known = {k: v for k, v in values.items() if k in FIELDS}
        # runs from before the tokenizer was recorded all split on whitespace
        known.setdefault("tokenizer", "whitespace")
        known.setdefault("negative_sharing", "pair")  # what runs from before the option trained
        return cls(**known)


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}

#: Options that change how a run executes but not what it computes: a resumed run may
#: change them freely.
EXECUTION_FIELDS = frozenset({"backend", "span_tokens", "device", "threads", "read_workers"})

#: Named sets of options, applied under the user's own.  "paper" is A.2 as published,
#: for billions of tokens.  "small" is what a corpus of a few million tokens needs: more
#: of the frequent words kept, a faster rate and more passes (measured on the 2.1M-token
#: text8 prefix in benchmarks/text8_quality.py: WS-353 48 against the paper defaults' 23).
PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    # nll (objective.py) where it was measured best: on Gutenberg and the text8 prefix it beat
    # the paper's hinge by 14-38 points of the similarity sum, K=1 and K=2, and cut the junk
    # components from 52-68 % to 22-24 % (README, "Senses"); the paper preset keeps 3.3's hinge.
    # Five negatives, as skip-gram takes, added another 44 (Gutenberg) and 9 (text8 prefix) to
    # K=2 and brought junk under 20 %; ten lost 34 on Gutenberg.  Tied components split along
    # their contexts' principal axis at 0.4 of the run (split.py) gave the senses: the
    # SemEval V-measure rose from 1.2 to 6.8 (Gutenberg) and 1.0 to 4.9 (text8 prefix), junk
    # fell to 5.6 and 9.0 %, SCWS AvgSimC passed K=1's, and the planted senses separated on
    # every seed; the similarity sum moved by -8.5 (Gutenberg) and +6.4 (text8 prefix).
    # Fifteen passes where ten were: K=1 and K=2 gained 13-18 points of the sum on both
    # corpora, SCWS AvgSimC and the V-measure rose with them (lr 0.05 lost 81).
    "small": {"subsample": 1e-4, "lr": 0.1, "epochs": 15, "objective": "nll", "negatives": 5, "split_at": 0.4},
    # chosen once the corpus has been read, by the rules of w2gm.autopreset; until then A.2's
    "auto": {},
}


def make_config(preset: str = "paper", **options: Any) -> TrainConfig:
    """A config from a preset, overridden by any option given (for "auto", the settings
    :func:`w2gm.autopreset.choose` picks are applied by training, after reading the corpus)."""
    if preset not in PRESETS:
        raise W2GMError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    unknown = set(options) - set(FIELDS)
    if unknown:
        raise W2GMError(f"unknown training option(s): {', '.join(sorted(unknown))}")
    return TrainConfig(**{**PRESETS[preset], **options})


# ------------------------------------------------------------ value checks

#: numba compiles the pair loop with D, K and C as the lengths of tuples (0, ..., n-1); it
#: fails on tuples of more than 1000 elements, so D is bounded by that for the numba engine.
MAX_COMPILED_DIM = 1000
#: The numba engine unrolls its K x K loops over component pairs, so compiling grows fast
#: with K: a first run at K = 8, D = 10 took 7 minutes on 2 busy cores, nearly all of it
#: compiling (the result is cached for later runs); more components need the torch engine.
MAX_COMPILED_COMPONENTS = 8
#: numpy's SeedSequence takes non-negative integers, torch's manual_seed 64-bit ones.
MAX_SEED = 2**64 - 1
#: More threads than this is a typo: each holds buffers and an OS thread's stack.
MAX_THREADS = 1024
#: Unigram counts (at most 2**63) raised to this power stay far inside float64's range.
MAX_NEGATIVE_POWER = 10.0
_DEVICE = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_type(name: str, value: Any, default: Any) -> None:
    """Values from JSON or the Python API have the type of the field's default; a number
    in a field with no default type must still be finite."""
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if number and not math.isfinite(value):
        raise W2GMError(f"{_flag(name)} must be a finite number, got {value}")
    if isinstance(default, bool):
        ok = isinstance(value, bool)
    elif isinstance(default, int) or name == "max_vocab":
        ok = number and isinstance(value, int) or (default is None and value is None)
    elif isinstance(default, float):
        ok = number
    elif isinstance(default, str):
        ok = isinstance(value, str)
    else:
        ok = True  # None or a factory: the config's own checks know the field
    if not ok:
        raise W2GMError(f"{_flag(name)}: {value!r} is not a valid value")


def _in_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise W2GMError(f"{_flag(name)} must be between {low} and {high}, got {value}")


def check_values(config: TrainConfig) -> None:
    """Types, finiteness and the engines' ranges; the config's own checks follow."""
    for spec in dataclasses.fields(config):
        _check_type(spec.name, getattr(config, spec.name), spec.default)
    if config.backend == "numba":
        check_engine(config, "numba")
    if config.margin < 0:
        raise W2GMError(f"--margin must be >= 0, got {config.margin}")
    _in_range("negative_power", config.negative_power, 0, MAX_NEGATIVE_POWER)
    _in_range("seed", config.seed, 0, MAX_SEED)
    _in_range("threads", config.threads, 0, MAX_THREADS)
    _in_range("read_workers", config.read_workers, 0, MAX_THREADS)
    if not _DEVICE.match(config.device):
        raise W2GMError(f"--device {config.device!r}: use auto, cpu, cuda or cuda:N")


def check_engine(config: TrainConfig, backend: str) -> None:
    """What the engine a run resolved to can compile (a model trained elsewhere, on a GPU
    say, may have more dimensions: loading it is no concern of this)."""
    if backend == "triton" and config.negative_sharing == "window":
        raise W2GMError("--negative-sharing window: the Triton engine draws negatives per pair; "
                        "use --negative-sharing pair or auto on a GPU")
    if backend != "numba":
        return
    engine = "the numba engine" + ("" if config.backend == "numba" else ", which --backend auto picks on the CPU")
    if config.dim > MAX_COMPILED_DIM:
        raise W2GMError(f"--dim {config.dim}: at most {MAX_COMPILED_DIM} with {engine}; use --backend torch for more")
    if config.components > MAX_COMPILED_COMPONENTS:
        raise W2GMError(f"--components {config.components}: at most {MAX_COMPILED_COMPONENTS} with {engine}; "
                        "use --backend torch for more")
