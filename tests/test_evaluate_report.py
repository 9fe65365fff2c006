"""The three renderings of a table: best-marking with ties, missing values, alignment."""

import json

from w2gm.evaluate.report import Row, Table, to_json, to_markdown, to_text


def table() -> Table:
    return Table(
        title="demo",
        label="Dataset",
        columns=["pairs", "mc", "el", "me"],
        rows=[
            Row("A", [10, 34.771, 14.7, 34.7749]),  # mc and me tie as shown (34.77)
            Row("BB", [2000, float("nan"), -3.5, 1.25]),
            Row("C", [5, float("nan"), float("nan"), float("nan")]),
        ],
        best_columns=[1, 2, 3],
        notes=["a note"],
    )


def test_ties_as_shown_are_all_marked_and_missing_values_never_are():
    t = table()
    assert t.best(t.rows[0]) == [1, 3]
    assert t.best(t.rows[1]) == [3]
    assert t.best(t.rows[2]) == []
    document = json.loads(to_json([t], {"model": "m"}))
    assert document["model"] == "m"
    rows = document["tables"][0]["rows"]
    assert [r["best"] for r in rows] == [["mc", "me"], ["me"], []]
    assert rows[1]["values"]["mc"] is None and rows[0]["values"]["mc"] == 34.771


def test_text_marks_best_cells_and_keeps_decimal_points_aligned():
    lines = to_text([table()]).splitlines()
    assert lines[0] == "demo" and lines[-1] == "a note"
    body = lines[2:5]
    assert body[0].split() == ["A", "10", "34.77*", "14.70", "34.77*"]
    assert body[1].split() == ["BB", "2000", "-", "-3.50", "1.25*"]
    assert body[2].split() == ["C", "5", "-", "-", "-"]
    # right-aligned numbers with a mark column: every '.' of the "el" column at one place
    dots = {
        line.index(".", line.index(cell)) for line, cell in zip(body[:2], ["14.70", "-3.50"], strict=True)
    }
    assert len(dots) == 1


def test_markdown_bolds_best_cells_and_escapes_pipes():
    t = table()
    t.rows.append(Row("x|y", [1, 0.5, 0.25, 0.0]))
    lines = to_markdown([t]).splitlines()
    assert lines[0] == "**demo**"
    assert lines[2] == "| Dataset | pairs | mc | el | me |"
    assert lines[3] == "|---|---:|---:|---:|---:|"
    assert lines[4] == "| A | 10 | **34.77** | 14.70 | **34.77** |"
    assert lines[7] == "| x\\|y | 1 | **0.50** | 0.25 | 0.00 |"
    assert lines[-1] == "- a note"
