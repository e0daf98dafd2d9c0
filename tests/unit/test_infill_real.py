"""The hole maker of the real-file evaluation (benchmarks/infill_real.py) and its scores,
without a model: each shape and cursor gives what it says, and the same seed the same holes."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import infill_real as ir
from benchmarks import infill_real_scores as scores
from benchmarks.eval_infill_real import first_visible_line, simple_cuts, window
from benchmarks.infill_real_replay import replayed

PYTHON = '''import os


def walk(top, verbose=False):
    """Yield the files under top."""
    found = []
    for name in os.listdir(top):
        path = os.path.join(top, name)
        if os.path.isdir(path):
            found.extend(walk(path))
            continue
        found.append(path)
    total = len(found)
    if verbose:
        print("files:", total)
    return found
'''

C = """#include <stdio.h>

int sum(int *xs, int n) {
    int total = 0;
    for (int i = 0; i < n; i++) {
        total += xs[i];
        printf("%d", total);
    }
    return total;
}
"""

GO = """package main

func count(xs []int) int {
\tn := 0
\tfor _, x := range xs {
\t\tif x > 0 {
\t\t\tn++
\t\t}
\t}
\treturn n
}
"""


def sites(language: str, text: str, shape: ir.Shape) -> list[ir.Site]:
    return [s for s in ir.find_sites(language, text, f"/src/file{language}") if s.shape == shape]


def lines_of(text: str, site: ir.Site) -> list[str]:
    return text.split("\n")[site.first : site.last + 1]


def test_every_shape_is_found_in_a_python_function() -> None:
    [function] = sites("python", PYTHON, "function")
    assert lines_of(PYTHON, function)[0] == '    """Yield the files under top."""'
    assert lines_of(PYTHON, function)[-1] == "    return found"
    bodies = [lines_of(PYTHON, s) for s in sites("python", PYTHON, "body")]
    assert [line.strip() for line in bodies[0]] == [
        "path = os.path.join(top, name)",
        "if os.path.isdir(path):",
        "found.extend(walk(path))",
        "continue",
        "found.append(path)",
    ]
    assert ["found.extend(walk(path))", "continue"] in [[x.strip() for x in b] for b in bodies]
    # a one-line body (print under if verbose) is a line hole, not a body hole
    assert all(len(b) >= 2 for b in bodies)
    singles = [lines_of(PYTHON, s)[0].strip() for s in sites("python", PYTHON, "line")]
    assert "total = len(found)" in singles and 'print("files:", total)' in singles
    assert "for name in os.listdir(top):" not in singles  # a compound statement spans lines


def test_a_run_of_lines_never_takes_a_whole_block() -> None:
    runs = sites("python", PYTHON, "lines")
    assert runs
    for site in runs:
        assert 2 <= site.last - site.first + 1 <= ir.MAX_RUN_LINES
    texts = ["\n".join(x.strip() for x in lines_of(PYTHON, s)) for s in runs]
    assert "found.extend(walk(path))\ncontinue" not in texts  # the whole if body
    assert 'total = len(found)\nif verbose:\nprint("files:", total)' in texts


def test_brace_languages_leave_the_braces_to_the_file() -> None:
    [function] = sites("c", C, "function")
    assert lines_of(C, function)[0] == "    int total = 0;"
    assert lines_of(C, function)[-1] == "    return total;"
    [body] = sites("c", C, "body")
    assert [x.strip() for x in lines_of(C, body)] == ["total += xs[i];", 'printf("%d", total);']
    assert ir.cursors(function) == ("indent", "column0", "eol")
    [spaced] = sites("c", C.replace("n) {\n", "n) {\n\n"), "function")
    assert ir.cursors(spaced) == ("indent", "column0")  # the line above is blank: no eol
    [go_function] = sites("go", GO, "function")
    assert lines_of(GO, go_function)[0] == "\tn := 0"
    assert "\t\t\tn++" not in [lines_of(GO, s)[0] for s in sites("go", GO, "body")]  # one line
    assert "\tn := 0" in [lines_of(GO, s)[0] for s in sites("go", GO, "line")]


@pytest.mark.parametrize("shape", ["line", "lines", "body", "function"])
def test_each_cursor_kind_puts_the_cursor_where_it_says(shape: ir.Shape) -> None:
    for site in sites("python", PYTHON, shape):
        indentation = PYTHON.split("\n")[site.first][
            : 4 * (ir.make_task(PYTHON, site, "indent").indent // 4)
        ]
        for cursor in ir.cursors(site):
            task = ir.make_task(PYTHON, site, cursor)
            assert task.reference == PYTHON and task.shape == shape and task.cursor == cursor
            assert task.suffix.startswith("\n")  # the hole ends its last line
            if cursor == "indent":
                assert task.prefix.endswith("\n" + indentation) and not task.hole[0].isspace()
            elif cursor == "column0":
                assert task.prefix.endswith("\n") and task.hole.startswith(indentation)
            else:  # eol: the end of the line above, which is not blank
                assert cursor == "eol" and task.hole.startswith("\n" + indentation)
                assert task.prefix.split("\n")[-1].strip()
            assert task.indent == len(indentation)


def test_partial_holes_end_mid_line_or_at_its_end() -> None:
    partials = sites("python", PYTHON, "partial")
    assert partials
    for site in partials:
        for cursor in ir.cursors(site):
            task = ir.make_task(PYTHON, site, cursor)
            assert task.reference == PYTHON and "\n" not in task.hole and task.hole.strip()
            assert task.prefix.split("\n")[-1].strip()  # code before the cursor
            after = task.suffix.split("\n")[0]
            if cursor == "mid":
                assert after.strip() and not (after[0].isalnum() or after[0] == "_")
            else:
                assert cursor == "eol" and not after.strip()


def test_a_cursor_that_does_not_fit_the_shape_is_refused() -> None:
    site = sites("python", PYTHON, "line")[0]
    with pytest.raises(ValueError):
        ir.make_task(PYTHON, site, "mid")


def test_the_same_seed_gives_the_same_holes() -> None:
    files = {f"/src/f{i}.py": PYTHON.replace("walk", f"walk{i}") for i in range(6)}
    first, counts = ir.build_tasks(files, "python", 2, seed=1)
    again, _ = ir.build_tasks(dict(reversed(list(files.items()))), "python", 2, seed=1)
    other, _ = ir.build_tasks(files, "python", 2, seed=2)
    assert [t.id for t in first] == [t.id for t in again]
    assert [t.id for t in first] != [t.id for t in other]
    assert counts["function"] == 6
    assert {t.shape for t in first} == set(ir.SHAPES)
    for shape in ir.SHAPES:
        holes = {(t.path, t.id.rsplit("/", 1)[1]) for t in first if t.shape == shape}
        assert len(holes) == 2  # two holes per shape, each with every cursor of its shape


def test_scores() -> None:
    [site] = [
        s for s in sites("python", PYTHON, "line") if "total = len" in PYTHON.split("\n")[s.first]
    ]
    indent, column0 = ir.make_task(PYTHON, site, "indent"), ir.make_task(PYTHON, site, "column0")
    counter = scores.SyntaxCounter()
    assert scores.score(indent, "total = len(found)  ", counter).exact
    assert not scores.score(column0, "total = len(found)", counter).exact  # no indentation
    assert scores.score(column0, "    total = len(found)", counter).exact
    assert scores.score(indent, "total = len(foun)", counter).similarity == pytest.approx(
        1 - 1 / 18, abs=1e-3
    )
    assert scores.score(indent, "", counter).similarity == 0.0
    broken = scores.score(indent, "total = len(found", counter)
    assert broken.syntax_error and broken.tree_sitter_error and not broken.exact
    assert not scores.score(indent, "", counter).syntax_error  # empty: nothing shown
    assert scores.levenshtein("kitten", "sitting") == 3


def test_simple_cuts_and_the_raw_window() -> None:
    site = sites("python", PYTHON, "body")[0]
    eol = ir.make_task(PYTHON, site, "eol")
    answer = "\n            x = 1\n            y = 2\n    return x\n"
    assert first_visible_line(answer) == "\n            x = 1"
    assert simple_cuts(eol, answer)["raw n_indent"] == "\n            x = 1\n            y = 2"
    prefix, suffix = "a\nbb\nccc\nd", "e\nff\nggg"
    assert window(prefix, suffix, len, (5, 4)) == ("ccc\nd", "e\nff")  # newlines count
    assert window(prefix, suffix, len, (0, 0)) == ("d", "e")


def test_rows_and_groups_average_each_variant() -> None:
    def record(language: str, shape: str, similarity: float, exact: bool) -> dict[str, object]:
        cell = {"exact": exact, "similarity": similarity, "syntax_error": False, "empty": False}
        return {
            "language": language,
            "shape": shape,
            "cursor": "indent",
            "variants": {"server": {**cell, "seconds": 1.0}},
        }

    records = [record("go", "line", 1.0, True), record("go", "body", 0.5, False)]
    records.append(record("c", "line", 0.0, False))
    rows = scores.summarize(records, ["server"])
    assert [(r["language"], r["shape"]) for r in rows] == [
        ("c", "line"),
        ("go", "line"),
        ("go", "body"),
    ]
    assert scores.overall(records, ["server"])["server"]["similarity"] == 50.0
    by_shape = scores.grouped(records, ["server"], "shape")
    assert by_shape["line"]["server"] == {
        "n": 2,
        "exact": 50.0,
        "similarity": 50.0,
        "syntax_errors": 0,
        "empty": 0,
    }
    assert "line" in scores.grouped_table(by_shape, "shape", ["server"])


def test_a_row_counts_the_holes_the_server_wins_and_loses_against_the_better_cut() -> None:
    def record(server: float, first: float, n_indent: float) -> dict[str, object]:
        def cell(similarity: float) -> dict[str, object]:
            return {"exact": False, "similarity": similarity, "syntax_error": False, "empty": False}

        variants = {"server": server, "raw first line": first, "raw n_indent": n_indent}
        return {
            "language": "python",
            "shape": "line",
            "cursor": "column0",
            "variants": {v: {**cell(x), "seconds": 1.0} for v, x in variants.items()},
        }

    # first line is the better cut on average (0.6 vs 0.5): the holes are judged against it
    records = [record(0.9, 0.8, 0.1), record(0.2, 0.7, 0.9), record(0.3, 0.3, 0.5)]
    [row] = scores.summarize(records, ["server", "raw first line", "raw n_indent"])
    assert row["holes_vs_best_cut"] == [1, 1]
    assert scores.lead(row) == pytest.approx(-13.3, abs=0.1)
    assert "-13.3 (1/1)" in scores.table([row], ["server", "raw first line", "raw n_indent"])


def test_an_error_the_hole_leaves_is_not_the_suggestions() -> None:
    # A whole body cut out after a comment line: the file without it does not compile.
    prefix = "def f(x):\n    if x:\n        # say why"
    hole, suffix = "\n        return 1", "\n    return 3\n"
    task = ir.Task("t", "python", "body", "eol", "t.py", prefix, hole, suffix, 8)
    counter = scores.SyntaxCounter()
    continued = scores.score(task, " and how", counter)  # the comment goes on; still no body
    assert not continued.compile_error and not continued.syntax_error
    # The same place, another error: the suggestion's.
    assert scores.score(task, "\n        return (", counter).compile_error
    assert not scores.score(task, "\n        return 1", counter).syntax_error
    # A line the hole broke and the suggestion leaves broken: counted (it must mend it).
    line = ir.Task("t", "python", "partial", "mid", "t.py", "x = f(", "a, b)", " + 1\n", 0)
    assert scores.score(line, "a, b", counter).compile_error
    assert not scores.score(line, "a, b)", counter).syntax_error


def test_a_replay_puts_back_what_the_server_put_before_the_models_text() -> None:
    def task(prefix: str, hole: str, cursor: ir.Cursor) -> ir.Task:
        suffix = "\n    return y\n"
        return ir.Task("t", "python", "line", cursor, "t.py", prefix, hole, suffix, 4)

    def generation(text: str) -> dict[str, object]:
        return {"extra": {"model_text": text, "stop_reason": "done"}}

    # Column 0 of a bare line between two statements: asked as if indented.
    bare = task("def f(x):\n    y = 1\n", "    z = 2", "column0")
    assert replayed(bare, generation("z = 2\n"), "    z = 2") == "    z = 2"
    # The end of a finished line: the retry on the next line, seen in the recorded answer.
    finished = task("def f(x):\n    y = 1", "\n    z = 2", "eol")
    assert replayed(finished, generation("z = 2\n"), "\n    z = 2") == "\n    z = 2"


def test_a_replay_can_leave_a_rule_out() -> None:
    """What a rule changed in a run: the replays with and without it differ there."""
    prefix = "class M:\n    def f(self, a):\n        "
    suffix = "\n        self.blocks = self.codes = None\n"
    task = ir.Task("t", "python", "lines", "indent", "t.py", prefix, "self.a = a", suffix, 4)
    generation = {"extra": {"model_text": "self.a = a\n        self.codes = None\n"}}
    assert replayed(task, generation) == "self.a = a"
    without = replayed(task, generation, disabled_rules=frozenset({"overwritten"}))
    assert without == "self.a = a\n        self.codes = None"


def test_files_can_come_from_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import eval_infill_real

    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(PYTHON)
    (tmp_path / "pkg" / "b.txt").write_text("not matched")
    monkeypatch.chdir(tmp_path)
    assert list(ir.load_files("python", ["pkg/*.py"])) == [str(tmp_path / "pkg" / "a.py")]
    assert list(ir.load_files("python", [str(tmp_path / "pkg" / "*.py")])) == [
        str(tmp_path / "pkg" / "a.py")
    ]
    args = eval_infill_real.parse_args(
        ["--languages", "python", "--shapes", "function", "--files", "python=pkg/*.py"]
    )
    tasks, notes, _ = eval_infill_real.load_tasks(args)
    assert notes["python"]["files"] == 1 and tasks
    assert {task.path for task in tasks} == {str(tmp_path / "pkg" / "a.py")}
    with pytest.raises(SystemExit, match="LANG=GLOB"):
        eval_infill_real.load_tasks(eval_infill_real.parse_args(["--files", "pkg/*.py"]))
