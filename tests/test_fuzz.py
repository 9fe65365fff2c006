"""Property tests (issue 6, item 6): the readers on arbitrary input, the energies on every
parameter training can reach.

A reader given anything either succeeds with what a simple reference makes of the input, or
raises a one-line :class:`W2GMError` naming the file; never another exception.
"""

import gzip
import json
import math
import re
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_modelfile import random_model

from w2gm import modelfile
from w2gm.energy import gaussian_kl, log_expected_likelihood, pairwise_cosine, partial_log_energies
from w2gm.errors import ModelFileError, W2GMError
from w2gm.evaluate.datasets import read_labelled_pairs, read_scws, read_word_pairs
from w2gm.filechecks import PARAMETER_BOUNDS
from w2gm.keyed import KeyedMixtures
from w2gm.measures import MEASURES
from w2gm.reading import corpus, files, tokens

#: Few examples each, so that the module runs in well under a minute on one core; no
#: example database written into the working tree.
FUZZ = settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


def one_line_naming(error: W2GMError, path: Path) -> None:
    message = str(error)
    assert "\n" not in message and message.startswith(f"{path}")


# ------------------------------------------------------------------ corpus
#: Pieces of text and of damage: words (multi-byte too), every kind of whitespace, bytes that
#: are not UTF-8 (a lone continuation byte, a cut sequence), a NUL and another control byte.
PIECES = [
    b"rock", b"stone", b"jazz", "naïve".encode(), "日本".encode(), b"x" * 9,
    b" ", b" ", b"\n", b"\t", b"\r\n", b"\x0b", b"\x0c", "\u2028".encode(), "\u3000".encode(),
    b"\xff", b"\x80", b"\xe6\x97", b"\x00", b"\x01",
]
corpus_bytes = st.one_of(
    st.lists(st.sampled_from(PIECES), max_size=60).map(b"".join),
    st.binary(max_size=200),
)


PACKINGS = ["plain", "gzip", "damaged gzip"]


def packed(content: bytes, packing: str) -> bytes:
    """``content`` as is, gzip-compressed, or compressed with a byte of the deflate stream flipped."""
    if packing == "plain":
        return content
    data = bytearray(gzip.compress(content))
    if packing == "damaged gzip":
        data[10 + (len(data) - 18) // 2] ^= 0xFF  # between the 10-byte header and the 8-byte trailer
    return bytes(data)


def undecodable_bytes(content: bytes) -> int:
    """Bytes that are not part of a UTF-8 character: surrogateescape turns each into one
    lone surrogate, whatever the replace handler groups them into."""
    return sum("\udc80" <= c <= "\udcff" for c in content.decode("utf-8", "surrogateescape"))


#: What str.split() keeps apart and the reader's blocks are cut after.
COMMON_SEPARATOR = re.compile("[ \n\t\r]")
#: Characters that mark a file as binary (C0 controls that are not whitespace, DEL).
CONTROL = re.compile("[\x01-\x08\x0e-\x1b\x7f]")
LONGEST_TOKEN = 12


@FUZZ
@given(
    content=corpus_bytes,
    packing=st.sampled_from(PACKINGS),
    strict=st.booleans(),
    block_bytes=st.integers(1, 40),
)
def test_corpus_encoding_matches_a_plain_split_or_fails_in_one_line(content, packing, strict, block_bytes):
    """Any bytes, read in blocks of any size (so tokens and characters straddle them), with
    tokens longer than LONGEST_TOKEN characters refused."""
    text = content.decode("utf-8", "replace")
    reference = text.split()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "corpus.txt"
        path.write_bytes(packed(content, packing))
        workdir = Path(directory) / "work"
        with (
            mock.patch.object(files, "BLOCK_BYTES", block_bytes),
            mock.patch.object(tokens, "MAX_TOKEN_CHARS", LONGEST_TOKEN),
        ):
            try:
                encoded = corpus.encode([path], workdir, min_count=1, tokenizer="whitespace",
                                        encoding_errors="strict" if strict else "replace")
            except W2GMError as error:
                assert "\n" not in str(error)
                assert str(path) in str(error) or "--min-count" in str(error)
                assert list(workdir.iterdir()) == []  # nothing half-written stays
                longest_run = max(len(run) for run in COMMON_SEPARATOR.split(text))
                assert (
                    packing == "damaged gzip"
                    or b"\x00" in content
                    or CONTROL.search(text)
                    or (strict and undecodable_bytes(content))
                    or longest_run > LONGEST_TOKEN
                    or len(set(reference)) < 2
                ), f"refused for no reason: {error}"
                return
            words = [encoded.vocab.words[i] for i in encoded.ids]
            raw_tokens, replaced_bytes = encoded.raw_tokens, encoded.replaced_bytes
            del encoded  # the memory map, before its directory goes
    assert b"\x00" not in content
    assert not (strict and undecodable_bytes(content))
    assert all(len(token) <= LONGEST_TOKEN for token in reference) and len(set(reference)) >= 2
    assert words == reference and raw_tokens == len(reference)
    assert replaced_bytes == undecodable_bytes(content)


# ---------------------------------------------------------- evaluation files
FIELDS = ["rock", "stone", "jazz-n", "x-ray", "Word 1", "score", "SimLex999", "7.5", "-1", "1e400", "nan", "inf",
          "", "<b>", "</b>", "<b> rock </b>", "the <b> stone </b> wall", "#"]
SEPARATORS = ["\t", ",", " ", "  "]
row = st.tuples(st.lists(st.sampled_from(FIELDS), max_size=11), st.sampled_from(SEPARATORS)).map(
    lambda parts: parts[1].join(parts[0])
)
dataset_bytes = st.one_of(
    st.lists(row, max_size=12).map(lambda rows: "\n".join(rows).encode()),
    st.lists(st.sampled_from([b"rock stone 7\n", b"\xff", b"\x00", b"\r\n", b"\xef\xbb\xbf", b"#"]), max_size=8)
    .map(b"".join),
    st.binary(max_size=120),
)


def parsed_or_refused(reader, path: Path):
    try:
        return reader(path)
    except W2GMError as error:
        one_line_naming(error, path)
        return None


@FUZZ
@given(content=dataset_bytes, packing=st.sampled_from(PACKINGS))
def test_word_pair_files_parse_to_finite_scores_or_fail_in_one_line(content, packing):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / ("pairs.txt" if packing == "plain" else "pairs.txt.gz")
        path.write_bytes(packed(content, packing))
        pairs = parsed_or_refused(read_word_pairs, path)
    if pairs is not None:
        assert packing != "damaged gzip"
        assert 1 <= len(pairs.first) == len(pairs.second) == len(pairs.scores) <= content.count(b"\n") + 1
        assert np.isfinite(pairs.scores).all()
        assert all(pairs.first) and all(pairs.second)


@FUZZ
@given(content=dataset_bytes)
def test_entailment_and_scws_files_parse_or_fail_in_one_line(content):
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "data.txt"
        path.write_bytes(content)
        labelled = parsed_or_refused(lambda p: read_labelled_pairs(p, True), path)
        items = parsed_or_refused(read_scws, path)
    if labelled is not None:
        assert len(labelled.first) == len(labelled.second) == len(labelled.labels) >= 1
        assert all(labelled.first) and all(labelled.second)
    for item in items or []:
        assert math.isfinite(item.score)
        for side in (item.first, item.second):
            assert 0 <= side.position < len(side.context)
            assert "<b>" not in side.context and "</b>" not in side.context


# ---------------------------------------------------------------- model file
@pytest.fixture(scope="module")
def model_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("model") / "m.w2gm"
    random_model().save(path)
    return path.read_bytes()


def header_of(data: bytes) -> tuple[dict, bytes]:
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def with_header(header: dict, body: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return len(encoded).to_bytes(8, "little") + encoded + body


def loads_and_answers_or_refuses(data: bytes) -> None:
    """A file that loads is a working model; any other is a ModelFileError naming it."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "m.w2gm"
        path.write_bytes(data)
        try:
            model = KeyedMixtures.load(path)
        except ModelFileError as error:
            one_line_naming(error, path)
            return
    answers_finitely(model)


def answers_finitely(model: KeyedMixtures) -> None:
    """Every measure between the first and last words, their neighbours and a sense: finite."""
    first, last = model.vocab.words[0], model.vocab.words[-1]
    assert all(math.isfinite(score) for _, score in model.most_similar(first))
    for measure in MEASURES:
        assert math.isfinite(model.similarity(first, last, measure=measure)), measure
    assert np.isfinite(model.disambiguate(first, [last])).all()


@FUZZ
@given(data=st.data())
def test_damaged_model_bytes_are_refused_or_still_a_model(model_bytes, data):
    damaged = bytearray(model_bytes)
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        at = data.draw(st.integers(0, len(damaged)), label="at")
        edit = data.draw(st.sampled_from(["overwrite", "insert", "delete", "truncate"]), label="edit")
        piece = data.draw(st.binary(min_size=1, max_size=8), label="bytes")
        if edit == "overwrite":
            damaged[at : at + len(piece)] = piece
        elif edit == "insert":
            damaged[at:at] = piece
        elif edit == "delete":
            del damaged[at : at + len(piece)]
        else:
            del damaged[at:]
    loads_and_answers_or_refuses(bytes(damaged))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 1 << 40) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4),
    max_leaves=12,
)
DTYPES = ["F32", "F64", "F16", "BF16", "I64", "I32", "U8", "BOOL", "U32", "C64"]


@FUZZ
@given(data=st.data())
def test_model_headers_with_changed_entries_are_refused_or_still_a_model(model_bytes, data):
    """Headers still of a w2gm model, with tensor entries or metadata changed, so that the
    checks past the format's name are reached."""
    header, body = header_of(model_bytes)
    names = sorted(header)
    for _ in range(data.draw(st.integers(1, 3), label="changes")):
        name = data.draw(st.sampled_from(names), label="entry")
        if name == "__metadata__":
            key = data.draw(st.sampled_from(["format_version", "config", "training"]), label="key")
            value = data.draw(st.one_of(json_values.map(json.dumps), st.text(max_size=6)), label="value")
            header[name][key] = value
            continue
        field = data.draw(st.sampled_from(["dtype", "shape", "data_offsets"]), label="field")
        header[name][field] = data.draw(
            {
                "dtype": st.sampled_from(DTYPES),
                "shape": st.lists(st.integers(0, 8), max_size=4),
                "data_offsets": st.lists(st.integers(0, len(body)), min_size=2, max_size=2).map(sorted),
            }[field],
            label="value",
        )
    loads_and_answers_or_refuses(with_header(header, body))


@FUZZ
@given(header=st.dictionaries(st.text(max_size=8), json_values, max_size=5), body=st.binary(max_size=64))
def test_arbitrary_headers_are_refused(header, body):
    header["__metadata__"] = {"format": modelfile.FORMAT_NAME, "format_version": "1"}
    loads_and_answers_or_refuses(with_header(header, body))


# ------------------------------------------------------------------ energies
#: The parameter ranges of the energy tests: those a model file may hold
#: (w2gm.filechecks.PARAMETER_BOUNDS), so that every model that loads has finite energies.
#: Means in a box of half-width 1000 (training starts them within sqrt(3/D) of 0 and they
#: stay within about 1); log variances in [-20, 20], variances from 2e-9 to 5e8, beyond
#: anything training reaches from its start at log 0.05 (the epsilon of 1e-4 added to
#: variance sums flattens the loss below e^-9); logits in [-1000, 1000].  All in float32,
#: as trained.
MEAN, LOG_VARIANCE, LOGIT = (PARAMETER_BOUNDS[name] for name in ("means", "log_variances", "logits"))


@st.composite
def mixture_pair(draw):
    k_f, k_g = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dim = draw(st.integers(1, 64))
    columns = draw(st.sampled_from([1, dim]))

    def array(shape, bound):
        elements = st.floats(-bound, bound, width=32)
        return torch.from_numpy(draw(hnp.arrays(np.float32, shape, elements=elements)))

    def mixture(k):
        return array((k, dim), MEAN), array((k, columns), LOG_VARIANCE), torch.log_softmax(array((k,), LOGIT), -1)

    return mixture(k_f), mixture(k_g)


@FUZZ
@given(pair=mixture_pair())
def test_energies_and_their_gradients_are_finite_over_the_allowed_ranges(pair):
    (means_f, log_var_f, log_w_f), (means_g, log_var_g, log_w_g) = pair
    leaves = [t.clone().requires_grad_() for t in (means_f, log_var_f, means_g, log_var_g)]
    xi = partial_log_energies(*leaves)
    log_elk = log_expected_likelihood(leaves[0], leaves[1], log_w_f, leaves[2], leaves[3], log_w_g)
    assert torch.isfinite(xi).all() and torch.isfinite(log_elk)
    # logsumexp of the weighted partial energies: at least the largest term, at most the
    # largest partial energy (the weights sum to one)
    xi_values, value = xi.detach(), float(log_elk.detach())
    weighted = xi_values + log_w_f[:, None] + log_w_g[None, :]
    slack = 1e-5 * float(xi_values.abs().max()) + 1e-4
    assert float(weighted.max()) - slack <= value <= float(xi_values.max()) + slack
    log_elk.backward()
    assert all(torch.isfinite(leaf.grad).all() for leaf in leaves)
    assert torch.isfinite(gaussian_kl(means_f, log_var_f, means_g, log_var_g)).all()
    assert torch.isfinite(pairwise_cosine(means_f, means_g)).all()
