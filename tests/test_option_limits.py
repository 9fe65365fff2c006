"""Option values (issue 15, class 4): one place checks them, the config, for every way a
config is made; what it accepts the engines can run, what it refuses is one line.
"""

import dataclasses
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_hostile_inputs import GOOD_TEXT, fails_cleanly, scratch  # noqa: F401 - scratch is a fixture

from w2gm import limits
from w2gm.config import (
    FIELDS,
    MAX_COMPILED_COMPONENTS,
    MAX_COMPILED_DIM,
    MAX_NEGATIVE_POWER,
    MAX_THREADS,
    TrainConfig,
    check_engine,
)
from w2gm.errors import W2GMError

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.sampled_from([0, 1, -1, 1000, 1001, 2**63, 2**64, 2**64 - 1, 1e9, -3, float("nan")]),
    st.text(max_size=5), st.none(), st.booleans(),
)
NUMERIC = [name for name, spec in FIELDS.items()
           if isinstance(spec.default, int | float) and not isinstance(spec.default, bool)]


def accepted_invariants(config: TrainConfig) -> None:
    """What the engines rely on in every config they are given."""
    for name in NUMERIC:
        value = getattr(config, name)
        assert isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value), name
    assert config.components >= 1 and config.dim >= 1 and config.window >= 1 and config.negatives >= 1
    assert 0 <= config.seed <= 2**64 - 1 and 0 <= config.threads <= MAX_THREADS
    assert config.subsample >= 0 and config.margin >= 0 and config.lr > 0 and 0 <= config.lr_min <= config.lr
    assert 0 <= config.negative_power <= MAX_NEGATIVE_POWER
    if config.backend == "numba":
        assert config.dim <= MAX_COMPILED_DIM and config.components <= MAX_COMPILED_COMPONENTS


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(NUMERIC), value=NUMBERS, backend=st.sampled_from(["auto", "torch", "numba"]))
def test_any_value_of_any_option_is_accepted_sanely_or_refused_in_one_line(name, value, backend):
    try:
        config = TrainConfig(backend=backend, **{name: value})
    except W2GMError as error:
        message = str(error)
        assert "\n" not in message and f"--{name.replace('_', '-')}" in message
        return
    accepted_invariants(config)


@settings(max_examples=100, deadline=None)
@given(values=st.dictionaries(st.sampled_from(NUMERIC), NUMBERS, max_size=4))
def test_a_record_read_back_from_a_file_is_checked_as_the_flags_are(values):
    """A checkpoint's or a model's config record (JSON: any type) goes through the same checks."""
    base = TrainConfig().to_dict()
    try:
        config = TrainConfig.from_dict({**base, **values})
    except W2GMError:
        return
    accepted_invariants(config)


@pytest.mark.parametrize("flags, expected", [
    (["--subsample", "nan"], "--subsample must be a finite number, got nan"),
    (["--margin", "nan"], "--margin must be a finite number, got nan"),
    (["--negative-power", "nan"], "--negative-power must be a finite number"),
    (["--lr", "inf"], "--lr must be a finite number"),
    (["--dim", "1001"], "--dim 1001: at most 1000 with the numba engine, which --backend auto picks on the CPU"),
    (["--components", "1000", "--dim", "10"], "--components 1000: at most 8 with the numba engine"),
    (["--seed", "-1"], "--seed must be between 0 and 18446744073709551615, got -1"),
    (["--seed", str(2**70)], f"--seed must be between 0 and 18446744073709551615, got {2**70}"),
    (["--device", "meta"], "--device 'meta': use auto, cpu, cuda or cuda:N"),
    (["--device", "mps"], "--device 'mps': use auto, cpu, cuda or cuda:N"),
    (["--threads", "100000"], "--threads must be between 0 and 1024, got 100000"),
    (["--window", "1000000"], "these options need about"),
    (["--negatives", "1000000"], "these options need about"),
])
def test_the_issues_option_values_are_one_line_errors_leaving_nothing(tmp_path, capsys, scratch,  # noqa: F811
                                                                       flags, expected):
    corpus = tmp_path / "c.txt"
    corpus.write_text(GOOD_TEXT)
    line = fails_cleanly(["train", str(corpus), "-o", str(tmp_path / "out" / "m.w2gm"), "-q", "--min-count", "1",
                          *flags], capsys, tmp_path / "out", scratch)
    assert expected in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.txt", "out", "tmp"]  # no checkpoint directory


def test_the_memory_estimate_grows_with_each_size_and_refuses_beyond_what_is_available():
    base = TrainConfig(backend="torch")
    need = sum(limits.training_memory(base, 10_000, 10**6, "torch", 1 << 18, 1).values())
    for name, factor in (("components", 10), ("dim", 10), ("window", 10), ("negatives", 10), ("batch_size", 10)):
        bigger = dataclasses.replace(base, **{name: getattr(base, name) * factor})
        assert sum(limits.training_memory(bigger, 10_000, 10**6, "torch", 1 << 18, 1).values()) > need, name
    limits.check_memory(base, 10_000, 10**6, "torch", 1 << 18, 1, available=need)
    expected = r"need about \d+ MiB of memory \(.* for 10,000 words x K=2 x D=50.*\) but \d+ MiB is available"
    with pytest.raises(W2GMError, match=expected):
        limits.check_memory(base, 10_000, 10**6, "torch", 1 << 18, 1, available=need - 1)


def test_the_numba_limits_bind_a_run_on_numba_not_a_config_or_a_model_trained_elsewhere():
    config = TrainConfig(dim=1200, components=16)  # --backend auto: a GPU run may use these
    check_engine(config, "triton")
    check_engine(config, "torch")
    with pytest.raises(W2GMError, match="--dim 1200: at most 1000 with the numba engine, which --backend auto"):
        check_engine(config, "numba")
    with pytest.raises(W2GMError, match="--components 16: at most 8 with the numba engine; use --backend torch"):
        TrainConfig(components=16, backend="numba")
