"""The readers on the real evaluation files (shared data and the bundled copies), and on
malformed input."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from w2gm.errors import W2GMError
from w2gm.evaluate import catalogue
from w2gm.evaluate.datasets import find_file, read_entailment, read_scws, read_word_pairs

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
BUNDLE = catalogue.bundled_data_dir()


@pytest.fixture
def shared() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"needs the project's shared data folder at {SHARED} (../shared/data beside the checkout); "
                    "absent here")
    return SHARED


@pytest.mark.parametrize(
    "relative, rows",
    [
        ("similarity/SimLex-999/SimLex-999.txt", 999),
        ("similarity/EN-WS-353-ALL.txt", 353),
        ("similarity/WordSim353/wordsim353/combined.csv", 353),
        ("similarity/WordSim353/wordsim353/combined.tab", 353),
        ("similarity/EN-WS-353-SIM.txt", 203),
        ("similarity/WordSim353/wordsim353_sim_rel/wordsim_similarity_goldstandard.txt", 203),
        ("similarity/EN-WS-353-REL.txt", 252),
        ("similarity/WordSim353/wordsim353_sim_rel/wordsim_relatedness_goldstandard.txt", 252),
        ("similarity/EN-MEN-TR-3k.txt", 3000),
        ("similarity/MEN/MEN_dataset_natural_form_full", 3000),
        ("similarity/MEN/MEN_dataset_lemma_form_full", 3000),
        ("similarity/EN-MC-30.txt", 30),
        ("similarity/EN-RG-65.txt", 65),
        ("similarity/EN-RW-STANFORD.txt", 2034),
        ("similarity/RW/rw.txt", 2034),
    ],
)
def test_similarity_files_have_their_published_row_counts(shared, relative, rows):
    data = read_word_pairs(shared / relative)
    assert len(data) == len(data.second) == len(data.scores) == rows
    assert np.isfinite(data.scores).all()


def test_scws_and_baroni_have_their_published_row_counts(shared):
    items = read_scws(shared / "scws/ratings.txt")
    assert len(items) == 2003
    entailment = read_entailment(shared / "entailment/baroni2012")
    assert int(entailment.labels.sum()) == 1385 and int((~entailment.labels).sum()) == 1385


def test_original_formats_read_to_the_same_pairs(shared):
    """The same data in different distributions: WordSim-353 as CSV with a header, as TSV
    with a header and as the header-less CRLF copy; RW with and without the individual
    ratings; MEN's tagged lemma form and the copy the paper's code read."""

    def rows(relative):
        data = read_word_pairs(shared / relative)
        return list(zip(data.first, data.second, data.scores.tolist(), strict=True))

    ws = rows("similarity/EN-WS-353-ALL.txt")
    assert rows("similarity/WordSim353/wordsim353/combined.csv") == ws
    assert rows("similarity/WordSim353/wordsim353/combined.tab") == ws
    assert rows("similarity/RW/rw.txt") == rows("similarity/EN-RW-STANFORD.txt")
    assert rows("similarity/MEN/MEN_dataset_lemma_form_full") == rows("similarity/EN-MEN-TR-3k.txt")


def test_wordsim_splits_are_subsets_of_the_whole(shared):
    whole = read_word_pairs(shared / "similarity/EN-WS-353-ALL.txt")
    scores: dict[tuple[str, str], set[float]] = {}
    for a, b, s in zip(whole.first, whole.second, whole.scores, strict=True):
        scores.setdefault((a, b), set()).add(float(s))
    covered = set()
    for name in ("wordsim_similarity_goldstandard.txt", "wordsim_relatedness_goldstandard.txt"):
        part = read_word_pairs(shared / "similarity/WordSim353/wordsim353_sim_rel" / name)
        for a, b, s in zip(part.first, part.second, part.scores, strict=True):
            assert float(s) in scores[(a, b)]
            covered.add((a, b))
    assert covered == set(scores)


def test_simlex_score_is_the_simlex999_column_not_the_third(shared):
    path = shared / "similarity/SimLex-999/SimLex-999.txt"
    data = read_word_pairs(path)
    lines = path.read_text().splitlines()
    column = lines[0].split("\t").index("SimLex999")
    expected = [float(line.split("\t")[column]) for line in lines[1:]]
    assert data.scores.tolist() == expected
    assert data.first[0] == "old" and data.second[0] == "new"


def test_pos_tags_are_stripped_only_when_every_word_has_one(shared, tmp_path):
    men = read_word_pairs(shared / "similarity/MEN/MEN_dataset_lemma_form_full")
    assert not any(w.endswith(("-n", "-v", "-j")) for w in men.first + men.second)
    baroni = read_entailment(shared / "entailment/baroni2012")
    assert not any(w.endswith("-n") for w in baroni.first + baroni.second)
    assert ("aircraft", "vehicle") in set(zip(baroni.first, baroni.second, strict=True))
    mixed = tmp_path / "mixed.txt"
    mixed.write_text("x-ray scan-n 3.0\nt-shirt shirt-n 7.5\n")
    data = read_word_pairs(mixed)
    assert data.first == ["x-ray", "t-shirt"] and data.second == ["scan-n", "shirt-n"]


def test_scws_targets_sit_at_their_positions(shared):
    for item in read_scws(shared / "scws/ratings.txt"):
        for side in (item.first, item.second):
            assert side.context[side.position].lower() == side.word.lower()
            assert "<b>" not in side.context and "</b>" not in side.context
        assert 0.0 <= item.score <= 10.0


def test_bundled_copies_are_the_shared_files(shared):
    relatives = [*catalogue.SIMILARITY.values(), catalogue.SCWS]
    relatives += [f"{catalogue.ENTAILMENT}/{kind}-examples.txtinput" for kind in ("positive", "negative")]
    for relative in relatives:
        bundled = find_file(BUNDLE / relative)
        content = gzip.decompress(bundled.read_bytes()) if bundled.suffix == ".gz" else bundled.read_bytes()
        assert content == (shared / relative).read_bytes(), relative


def test_every_catalogue_dataset_is_bundled_and_reads():
    sizes = {
        name: len(read_word_pairs(find_file(BUNDLE / rel), name))
        for name, rel in catalogue.SIMILARITY.items()
    }
    assert sizes == {
        "SL": 999,
        "WS": 353,
        "WS-S": 203,
        "WS-R": 252,
        "MEN": 3000,
        "MC": 30,
        "RG": 65,
        "RW": 2034,
    }
    assert len(read_scws(find_file(BUNDLE / catalogue.SCWS))) == 2003
    assert len(read_entailment(BUNDLE / catalogue.ENTAILMENT)) == 2770


def test_dataset_names_match_case_insensitively():
    assert catalogue.canonical_names(["ws-s", "scws", "BARONI2012", "MC", "mc"]) == [
        "WS-S",
        "SCWS",
        "Baroni2012",
        "MC",
    ]
    with pytest.raises(W2GMError, match="unknown dataset 'YP'.*SL, WS"):
        catalogue.canonical_names(["YP"])


@pytest.mark.parametrize(
    "text",
    [
        "cat\tdog\t7.5\ncar\tautomobile\t9\n",
        "word1,word2,score\ncat,dog,7.5\ncar,automobile,9\n",
        "w1 w2 rating\r\ncat   dog 7.5\r\ncar automobile 9\r\n",
        "# a comment\n\ncat dog 7.5\ncar automobile 9",
        "Word 1\tWord 2\tPOS\tscore\ncat\tdog\tN\t7.5\ncar\tautomobile\tN\t9\n",
    ],
)
def test_user_files_in_any_delimiter_with_or_without_header(tmp_path, text):
    path = tmp_path / "pairs.txt"
    path.write_text(text)
    for candidate in (path, tmp_path / "pairs.txt.gz"):
        if candidate.suffix == ".gz":
            candidate.write_bytes(gzip.compress(text.encode()))
        data = read_word_pairs(candidate)
        assert data.first == ["cat", "car"] and data.second == ["dog", "automobile"]
        assert data.scores.tolist() == [7.5, 9.0]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("cat dog 7.5\ncar automobile\n", 2, "expected two words and a score"),
        ("cat dog 7.5\n\ncar automobile high\n", 3, "is not a finite number"),
        ("cat dog 7.5\ncar automobile nan\n", 2, "is not a finite number"),
        ("a b 1\nc d 2\n\xff\xfe 3\n", 3, "not UTF-8"),
        ("score\tw1\tw2\n7.5\n", 2, "expected two words and a score"),  # the score column is never a word's
    ],
)
def test_malformed_similarity_row_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.txt"
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(W2GMError, match=message) as error:
        read_word_pairs(path)
    assert str(error.value).startswith(f"{path}:{line}: ") and "\n" not in str(error.value)


def test_malformed_scws_and_entailment_rows_name_file_and_line(tmp_path):
    good = "1\tbank\tn\triver\tn\tthe <b> bank </b> of\ta <b> river </b> here\t7.0"
    scws = tmp_path / "ratings.txt"
    scws.write_text(good + "\n" + good.replace("<b> river </b>", "river") + "\n")
    with pytest.raises(W2GMError, match=rf"^{scws}:2: .*<b> word </b>"):
        read_scws(scws)
    scws.write_text(good + "\n1\tbank\tn\n")
    with pytest.raises(W2GMError, match=rf"^{scws}:2: expected at least 8"):
        read_scws(scws)
    scws.write_text(good.replace("7.0", "seven") + "\n")
    with pytest.raises(W2GMError, match=rf"^{scws}:1: average rating 'seven'"):
        read_scws(scws)
    (tmp_path / "positive-examples.txtinput").write_text("dog-n\tanimal-n\n")
    (tmp_path / "negative-examples.txtinput").write_text("dog-n\tcar-n\ncar-n\tdog-n\textra\n")
    with pytest.raises(W2GMError, match=r"negative-examples.txtinput:2: expected two words"):
        read_entailment(tmp_path)


def test_missing_files_are_one_line_errors(tmp_path):
    with pytest.raises(W2GMError, match="no such file"):
        read_word_pairs(tmp_path / "absent.txt")
    with pytest.raises(W2GMError, match="no such file"):
        read_entailment(tmp_path)
    with pytest.raises(W2GMError, match="data directory does not exist"):
        catalogue.data_dir(tmp_path / "nowhere")
    (tmp_path / "empty.txt").write_text("# nothing\n")
    with pytest.raises(W2GMError, match="no word pairs"):
        read_word_pairs(tmp_path / "empty.txt")
