"""``w2gm eval`` and ``w2gm neighbors`` through their own parser: layouts, formats that agree,
flags, and one-line errors."""

import argparse
import json
import re

import numpy as np
import pytest
from test_evaluate_models import build_model, random_model

from w2gm.errors import W2GMError
from w2gm.evaluate import catalogue, commands
from w2gm.evaluate.datasets import find_file, read_entailment, read_word_pairs


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="w2gm")
    commands.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """A random model knowing half of the evaluation words (so every table has OOV pairs)."""
    root = catalogue.bundled_data_dir()
    words = set()
    for name, relative in catalogue.SIMILARITY.items():
        data = read_word_pairs(find_file(root / relative), name)
        words |= {w.lower() for w in data.first + data.second}
    entailment = read_entailment(root / catalogue.ENTAILMENT)
    words |= set(entailment.first + entailment.second)
    vocabulary = sorted(words)[::2] + ["rock", "bank"]
    path = tmp_path_factory.mktemp("model") / "random.w2gm"
    random_model(sorted(set(vocabulary)), k=2, d=10, seed=0).save(path)
    return str(path)


def test_eval_prints_every_table_in_the_papers_layout(model_path, capsys):
    assert run(["eval", model_path]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"model: {model_path}; vocabulary: ")
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("Dataset  pairs"))
    assert header.split() == ["Dataset", "pairs", "OOV", "max_cosine", "elk", "min_euclidean", "mean_cosine",
                              "centroid_cosine"]
    start = lines.index(header)
    rows = [line.split() for line in lines[start + 1 : start + 9]]
    assert [r[0] for r in rows] == list(catalogue.SIMILARITY)
    for row in rows:  # the marked measures of a row are the largest
        values = [float(v.rstrip("*")) for v in row[3:]]
        marked = [i for i, v in enumerate(row[3:]) if v.endswith("*")]
        assert marked == [i for i, v in enumerate(values) if v == max(values)]
    assert re.search(r"^SCWS\s+2003\s+\d+", out, re.MULTILINE)
    for measure in ("max_cosine", "kl", "elk"):
        assert re.search(rf"^{measure}\s+-?\d+\.\d\d", out, re.MULTILINE)
    assert "KL(w1_i || w2_j) with w1 the specific word" in out
    assert re.search(r"^rock:0\s+0\.\d{3}", out, re.MULTILINE)


def test_json_and_markdown_carry_the_text_numbers(model_path, capsys):
    run(["eval", model_path, "--datasets", "mc", "RG", "baroni2012"])
    text = capsys.readouterr().out
    run(["eval", model_path, "--datasets", "mc", "RG", "baroni2012", "--json"])
    document = json.loads(capsys.readouterr().out)
    run(["eval", model_path, "--datasets", "mc", "RG", "baroni2012", "--markdown"])
    markdown = capsys.readouterr().out
    assert document["model"] == model_path and document["components"] == 2
    similarity, entailment = document["tables"][0], document["tables"][1]
    assert [row["label"] for row in similarity["rows"]] == ["MC", "RG"]
    for table in (similarity, entailment):
        for row in table["rows"]:
            text_line = next(line for line in text.splitlines() if line.split()[:1] == [row["label"]])
            md_line = next(line for line in markdown.splitlines() if line.startswith(f"| {row['label']} |"))
            for value in row["values"].values():
                shown = f"{value:.2f}" if isinstance(value, float) else str(value)
                assert shown in text_line.replace("*", " ").split()
                assert shown in md_line.replace("*", " ").split()
            for best in row["best"]:
                assert f"**{row['values'][best]:.2f}**" in md_line


def test_user_similarity_files_replace_the_standard_sets(model_path, tmp_path, capsys):
    mine = tmp_path / "mine.tsv"
    mine.write_text("w1\tw2\tscore\nabandon\tabdomen\t3\nable\tabsence\t1\nhappy\tcheerful\t9\n")
    run(
        ["eval", model_path, "--similarity", str(mine), "--measures", "elk", "max_cosine", "--variance-words"]
    )
    out = capsys.readouterr().out
    assert re.search(r"^mine\.tsv\s+3\s+\d", out, re.MULTILINE)
    for absent in ("\nSL ", "SCWS", "Entailment", "Mean per-dimension variance"):
        assert absent not in out


def test_eval_with_shared_data_dir_matches_the_bundle(model_path, capsys):
    shared = catalogue.bundled_data_dir().parents[2].parent / "shared" / "data"
    if not shared.is_dir():
        pytest.skip(f"needs the project's shared data folder at {shared} (../shared/data beside the checkout); "
                    "absent here")
    run(["eval", model_path, "--datasets", "WS", "SCWS", "--json"])
    bundled = json.loads(capsys.readouterr().out)
    run(["eval", model_path, "--datasets", "WS", "SCWS", "--json", "--data-dir", str(shared)])
    assert json.loads(capsys.readouterr().out)["tables"] == bundled["tables"]


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--datasets", "YP"], "unknown dataset 'YP'"),
        (["--measures", "cosine"], "unknown measure 'cosine'"),
        (["--data-dir", "/nonexistent/dir"], "data directory does not exist"),
        (["--window", "0"], "window must be at least 1"),
        (["--folds", "1", "--datasets", "Baroni2012"], "at least 2 folds"),
    ],
)
def test_eval_user_errors_are_one_line(model_path, argv, message):
    with pytest.raises(W2GMError, match=message) as error:
        run(["eval", model_path, *argv])
    assert "\n" not in str(error.value)


def test_eval_errors_name_the_file_and_line(model_path, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("cat dog 1\ncat dog\n")
    with pytest.raises(W2GMError, match=rf"^{bad}:2: expected two words and a score"):
        run(["eval", model_path, "--similarity", str(bad)])
    with pytest.raises(W2GMError, match="no such model file"):
        run(["eval", str(tmp_path / "missing.w2gm")])


def neighbour_model(tmp_path):
    """rock:0 near stone/basalt, rock:1 near jazz/pop; variances chosen to reorder them."""
    e = np.eye(3)
    words = ["rock", "stone", "basalt", "jazz", "pop"]
    means = np.array(
        [
            [e[0], e[1]],
            [e[0] + 0.1 * e[2], -e[0]],
            [e[0] + 0.3 * e[2], -e[1]],
            [e[1] + 0.1 * e[2], -e[0] - e[2]],
            [e[1] + 0.3 * e[2], -e[1] - e[2]],
        ]
    )
    log_variances = np.log([[[0.2], [0.3]], [[0.9], [0.5]], [[0.1], [0.5]], [[0.8], [0.5]], [[0.05], [0.5]]])
    path = tmp_path / "rock.w2gm"
    build_model(words, means, log_variances, logits=np.array([[1.0, 0.0]] + [[0.0, 0.0]] * 4)).save(path)
    return str(path)


def test_neighbors_prints_table_1(tmp_path, capsys):
    path = neighbour_model(tmp_path)
    assert run(["neighbors", path, "rock", "--topn", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].split() == ["Nearest", "neighbours", "by", "cosine", "of", "the", "component", "means",
                                "(paper", "Table", "1),", "highest", "cosine", "first"]  # fmt: skip
    assert lines[3].split()[:2] == ["Word", "Co."]
    weight = np.exp(1.0) / (np.exp(1.0) + 1)
    assert lines[4].split() == ["rock", "0", f"{weight:.3f}", "0.200", "stone:0,", "basalt:0"]
    assert lines[5].split() == ["rock", "1", f"{1 - weight:.3f}", "0.300", "jazz:0,", "pop:0"]


def test_neighbors_by_variance_puts_the_lowest_variance_first(tmp_path, capsys):
    path = neighbour_model(tmp_path)
    run(["neighbors", path, "rock:1", "--topn", "2", "--by-variance", "--json"])
    document = json.loads(capsys.readouterr().out)
    (row,) = document["tables"][0]["rows"]
    assert row["label"] == "rock" and row["values"]["Co."] == 1
    assert row["values"]["Nearest neighbours"] == ["pop:0", "jazz:0"]


def test_neighbors_unknown_word_is_a_one_line_error(tmp_path):
    path = neighbour_model(tmp_path)
    with pytest.raises(W2GMError, match="unknown word 'granite'"):
        run(["neighbors", path, "granite"])
    with pytest.raises(W2GMError, match="component 2 of 'rock' does not exist"):
        run(["neighbors", path, "rock:2"])
    with pytest.raises(W2GMError, match="--topn must be at least 1"):
        run(["neighbors", path, "rock", "--topn", "0"])


def test_a_model_that_knows_almost_nothing_still_gets_every_table(tmp_path, capsys):
    path = tmp_path / "tiny.w2gm"
    random_model(["tiger", "cat", "rock", "aircraft", "vehicle"], k=2, d=4, seed=0).save(path)
    assert run(["eval", str(path)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^WS\s+353\s+351(\s+-){5}$", out, re.MULTILINE)  # two known pairs: no correlation
    assert re.search(r"^kl(\s+-){5}$", out, re.MULTILINE)  # one known pair, one label
    assert "not in the vocabulary: bank, apple, star, cell, left" in out
