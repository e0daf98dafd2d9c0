"""The pure parts of the action success-rate benchmark: the corpus (action_corpus), the
verdicts on offered edits (action_verdicts) and the summary (action_report)."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks import action_report, action_verdicts
from benchmarks.action_corpus import find_functions, sample, usable_text
from benchmarks.action_verdicts import BAD, GOOD, UNCHECKED
from benchmarks.bench_action_success import request_words

PY = '''import os


def short(x):
    return x


@cache
def média(path, mode="r"):
    """Open it."""
    é = "🎉"
    if not path:
        return None
    with open(path, mode) as handle:
        return handle.read()


class Box:
    def size(self, items, limit=10):
        total = 0
        for item in items:
            total += len(item)
        return min(total, limit)
'''


# -- corpus ----------------------------------------------------------------------------------


def test_functions_of_five_to_sixty_lines_with_their_names() -> None:
    found = find_functions("python", PY, "/x/m.py")
    assert [(f.name, f.start_line, f.line, f.lines) for f in found] == [
        ("média", 7, 8, 8),
        ("size", 18, 18, 5),
    ]
    assert found[0].utf16_col == 4 and found[1].utf16_col == 8
    rust = "fn a() {}\n" + "\n".join(
        ["fn wide() {", '    let s = "🎉"; fn é() {}', "    1;", "    2;", "}"]
    )
    assert [f.name for f in find_functions("rust", rust)] == ["wide"]
    go = "package m\n\nfunc (s *S) 𝒜() int {\n\tx := 1\n\ty := 2\n\tz := 3\n\treturn x + y + z\n}\n"
    [method] = find_functions("go", go)
    assert method.name == "𝒜" and method.utf16_col == len("func (s *S) ")


def test_broken_and_minified_files_are_left_out() -> None:
    assert find_functions("python", "def f(:\n" + PY) == []
    assert not usable_text("x = 1;" * 100)
    assert usable_text(PY)


def test_the_sample_is_seeded_and_stable() -> None:
    functions = find_functions("python", PY * 20, "/x/m.py")
    first = sample(functions, 5, seed=3)
    assert first == sample(list(reversed(functions)), 5, seed=3)
    assert first != sample(functions, 5, seed=4)
    assert len(first) == 5 and first == sorted(first, key=lambda f: f.line)
    assert sample(functions[:2], 5, seed=3) == functions[:2]


# -- verdicts --------------------------------------------------------------------------------

FUNC = """def area(w, h=2):
    # the area
    if w < 0:
        raise ValueError(w)
    return w * h
"""


def test_docstring_verdicts() -> None:
    documented = FUNC.replace(":\n", ':\n    """Area of a w by h rectangle."""\n', 1)
    assert action_verdicts.docstring_verdict("python", FUNC, documented, "area", 0).outcome == GOOD
    changed = documented.replace("w * h", "h * w")
    verdict = action_verdicts.docstring_verdict("python", FUNC, changed, "area", 0)
    assert verdict.outcome == BAD and "w * h" in verdict.note
    # A string put elsewhere is no docstring, and it is code.
    elsewhere = FUNC.replace("    return", '    "note"\n    return')
    assert action_verdicts.docstring_verdict("python", FUNC, elsewhere, "area", 0).outcome == BAD
    dropped = FUNC.replace("    # the area\n", "")  # comments are documentation
    verdict = action_verdicts.docstring_verdict("python", FUNC, dropped, "area", 0)
    assert verdict.outcome == BAD and "no docstring" in verdict.note
    go = "package m\n\nfunc F() int {\n\treturn 1\n}\n"
    with_doc = go.replace("func F", "// F returns one.\nfunc F")
    assert action_verdicts.docstring_verdict("go", go, with_doc, "F", 2).outcome == GOOD
    spaced = go.replace("func F", "// F returns one.\n\n\nfunc F")
    assert action_verdicts.docstring_verdict("go", go, spaced, "F", 2).outcome == BAD
    # A getter and a setter share a name: the one asked about is followed, not the nearest.
    js = "class A {\n  get x () {\n    return 1\n  }\n\n  set x (v) {\n    this.v = v\n  }\n}\n"
    doc = "  /**\n   * Sets x.\n   *\n   * @param v the value.\n   */\n"
    setter_doc = js.replace("  set x", doc + "  set x")  # the getter is nearer line 5 now
    verdict = action_verdicts.docstring_verdict("javascript", js, setter_doc, "x", 5)
    assert verdict.outcome == GOOD
    assert action_verdicts.docstring_verdict("javascript", js, setter_doc, "x", 1).outcome == BAD


def test_documentation_that_copies_the_request_or_loops_is_bad() -> None:
    """What the 0.5B model wrote for Rust functions (main.rs of rustc's error codes), and
    for a Go function stuck on one line."""
    rust = "impl Format {\n    fn from(format: &str) -> Format {\n        todo!()\n    }\n}\n"
    request = request_words("docstring", "rust")
    good = rust.replace("    fn from", "    /// Reads a format name.\n    fn from")
    verdict = action_verdicts.docstring_verdict("rust", rust, good, "from", 1, request)
    assert verdict.outcome == GOOD  # (the doc comment's own indentation is not code)
    task = request.split("Task: ")[1].split(".")[0].replace("{subject}", "`from`")
    echoed = rust.replace("    fn from", f"    /// {task}.\n    fn from")
    verdict = action_verdicts.docstring_verdict("rust", rust, echoed, "from", 1, request)
    assert verdict.outcome == BAD and "repeats the request" in verdict.note
    assert action_verdicts.docstring_verdict("rust", rust, echoed, "from", 1).outcome == GOOD
    looping = rust.replace(
        "    fn from", "    /// Reads.\n" + "    /// It returns.\n" * 4 + "    fn from"
    )
    verdict = action_verdicts.docstring_verdict("rust", rust, looping, "from", 1, request)
    assert verdict.outcome == BAD and "repeats a line" in verdict.note


def test_annotation_verdicts() -> None:
    typed = FUNC.replace("def area(w, h=2):", "def area(w: float, h: float = 2) -> float:")
    verdict = action_verdicts.annotations_verdict("python", FUNC, typed, "area", 0)
    assert verdict.outcome == GOOD and verdict.details == {"added": 3}
    new_default = typed.replace("= 2", "= 3")
    verdict = action_verdicts.annotations_verdict("python", FUNC, new_default, "area", 0)
    assert verdict.outcome == BAD and "code changed" in verdict.note
    recommented = FUNC.replace("# the area", "# area")
    verdict = action_verdicts.annotations_verdict("python", FUNC, recommented, "area", 0)
    assert verdict.outcome == BAD  # a comment is not an annotation
    assert action_verdicts.annotations_verdict("python", FUNC, FUNC, "area", 0).outcome == BAD
    ts = "function add(a, b) {\n  return a + b;\n}\n"
    ts_typed = "function add(a: number, b: number): number {\n  return a + b;\n}\n"
    assert action_verdicts.annotations_verdict("typescript", ts, ts_typed, "add", 0).outcome == GOOD


def test_annotation_verdicts_take_the_imports_the_annotations_need() -> None:
    module = '"""Areas."""\nimport math\n\n\n' + FUNC
    typed = module.replace("def area(w, h=2):", "def area(w: Sequence[float], h: Any = 2) -> Any:")
    imported = typed.replace(
        "import math\n",
        "import math\nfrom collections.abc import Sequence\nfrom typing import Any\n",
    )
    verdict = action_verdicts.annotations_verdict("python", module, imported, "area", 4)
    assert verdict.outcome == GOOD, verdict.note
    assert verdict.details == {"added": 3, "imports": 2}
    # The module would not import: Sequence is evaluated when the def runs.
    verdict = action_verdicts.annotations_verdict("python", module, typed, "area", 4)
    assert verdict.outcome == BAD and "Sequence" in verdict.note
    future = "from __future__ import annotations\n" + typed
    verdict = action_verdicts.annotations_verdict(
        "python",
        future.replace("def area(w: Sequence[float], h: Any = 2) -> Any:", "def area(w, h=2):"),
        future,
        "area",
        5,
    )
    assert verdict.outcome == GOOD, verdict.note
    # A built-in function is no type (`callable | None` fails when the def runs).
    called = module.replace("def area(w, h=2):", "def area(w: callable, h: float = 2) -> float:")
    verdict = action_verdicts.annotations_verdict("python", module, called, "area", 4)
    assert verdict.outcome == BAD and "callable" in verdict.note
    # Any other import, or one the annotations do not use, is code changed.
    for line in ("import os\n", "from typing import Any, Dict\n", "from mylib import Any\n"):
        other = imported.replace("from typing import Any\n", line)
        verdict = action_verdicts.annotations_verdict("python", module, other, "area", 4)
        assert verdict.outcome == BAD, line


def test_comment_verdicts() -> None:
    explained = "# Raises for a negative width.\n# Else w times h.\n" + FUNC
    assert action_verdicts.comment_verdict("python", FUNC, explained).outcome == GOOD
    assert action_verdicts.comment_verdict("python", FUNC, FUNC).outcome == BAD
    reworded = explained.replace("w * h", "h * w")
    assert action_verdicts.comment_verdict("python", FUNC, reworded).outcome == BAD
    code = "x = 1\n" + FUNC
    assert action_verdicts.comment_verdict("python", FUNC, code).outcome == BAD
    docstring = '"""Module doc."""\n' + FUNC
    assert action_verdicts.comment_verdict("python", FUNC, docstring).outcome == BAD


MODULE = "def double(x):\n    return 2 * x\n"


def test_python_tests_run_in_a_sandbox() -> None:
    tests = (
        "from mod import double\n\n\ndef test_one():\n    assert double(1) == 2\n\n\n"
        "def test_two():\n    assert double(2) == 5\n"
    )
    verdict = action_verdicts.tests_verdict("python", "mod", MODULE, tests, 60)
    assert verdict.outcome == GOOD
    assert verdict.details["passed"] == 1 and verdict.details["failed"] == 1
    broken = "from mod import triple\n\n\ndef test_one():\n    assert triple(1) == 3\n"
    verdict = action_verdicts.tests_verdict("python", "mod", MODULE, broken, 60)
    assert verdict.outcome == BAD and verdict.details["errors"] == 1
    assert action_verdicts.tests_verdict("python", "mod", MODULE, "def test(:", 60).outcome == BAD
    assert action_verdicts.tests_verdict("go", "m", "", "package m\n", 60).outcome == GOOD


def test_a_runaway_test_is_killed_at_the_time_limit() -> None:
    forever = "def test_loop():\n    while True:\n        pass\n"
    verdict = action_verdicts.tests_verdict("python", "mod", MODULE, forever, 3)
    assert verdict.outcome == BAD and "time limit" in verdict.note


def test_simplify_keeps_the_doctest_results() -> None:
    function = 'def double(x):\n    """\n    >>> double(3)\n    6\n    """\n    return 2 * x\n'
    same = function.replace("2 * x", "x + x")
    verdict = action_verdicts.simplify_verdict("mod", function, same, "double", function, 60)
    assert verdict.outcome == GOOD
    wrong = function.replace("2 * x", "x * x")
    verdict = action_verdicts.simplify_verdict("mod", function, wrong, "double", function, 60)
    assert verdict.outcome == BAD
    # The examples come from the original: a simplification that drops them is still run.
    bare = "def double(x):\n    return x << 1\n"
    verdict = action_verdicts.simplify_verdict("mod", function, bare, "double", function, 60)
    assert verdict.outcome == GOOD
    verdict = action_verdicts.simplify_verdict("mod", MODULE, MODULE, "double", MODULE, 60)
    assert verdict.outcome == UNCHECKED


# -- the summary -----------------------------------------------------------------------------


def _row(action: str, status: str, verdict: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "action": action,
        "language": "python",
        "status": status,
        "verdict": verdict,
        "seconds": 2.0,
        "generated_tokens": 10,
        "message": extra.pop("message", ""),
        "note": extra.pop("note", ""),
        "details": extra.pop("details", {}),
    }


def test_summary_table_and_reasons() -> None:
    rows = [
        _row("docstring", "offered", GOOD),
        _row("docstring", "offered", BAD, note="code changed: x"),
        _row("docstring", "refused", message="qwen-lsp: the model's answer drops `f`; nothing"),
        _row("docstring", "refused", message="qwen-lsp: the model's answer drops `g`; nothing"),
        _row("tests", "offered", GOOD, details={"passed": 3, "failed": 1}),
        _row("tests", "offered", GOOD, details={"passed": 2, "failed": 0}),
        _row("tests", "error", message="TimeoutError: "),
        _row("docstring", "unlisted", message="not listed for this function"),
    ]
    lines = action_report.summarize(rows)
    doc, tests = lines
    assert (doc["n"], doc["offered"], doc["refused"], doc["good"], doc["bad"]) == (
        4,
        50.0,
        50.0,
        25.0,
        25.0,
    )
    assert doc["target"] == 90 and doc["median_s"] == 2.0
    assert (doc["unlisted"], tests["unlisted"]) == (1, 0)  # no request: not in the rates
    assert (tests["tests_passed"], tests["tests_failed"], tests["files_all_pass"]) == (5, 1, 1)
    assert tests["error"] == pytest.approx(33.3)
    table = action_report.format_table(lines)
    assert "docstring" in table and "5/6" in table
    assert action_report.reasons(rows)[0] == (
        "docstring",
        "refused: the model's answer drops `…`; nothing",
        2,
    )


def test_the_answers_are_read_from_the_server_log(tmp_path: Any) -> None:
    from benchmarks.bench_action_success import AnswerLog

    log = tmp_path / "server.log"
    log.write_text("x INFO qwen_lsp: action docstring a.py: prompt=1\n")
    answers = AnswerLog(log)
    assert answers.last() is None
    with log.open("a") as out:
        out.write("x DEBUG qwen_lsp.actions.service: action answer 'one\\n\"two\"'\n")
        out.write('x DEBUG qwen_lsp.actions.service: action answer "it\'s"\n')
    assert answers.last() == "it's"
    assert answers.last() is None  # each answer is read once


def test_a_recorded_answer_is_taken_again_by_the_current_code(tmp_path: Any) -> None:
    from benchmarks.action_replay import replay_row

    path = tmp_path / "geo.py"
    path.write_text(FUNC)
    row = {
        "language": "python",
        "path": str(path),
        "name": "area",
        "line": 1,
        "lines": 5,
        "action": "docstring",
        "status": "refused",
        "verdict": None,
        "note": "",
        "details": {},
        "message": "qwen-lsp: the model's answer drops `area`; nothing was changed.",
        "answer": 'Area of a w by h rectangle."""\n```\n',  # after the prompt's '"""'
    }
    replayed = replay_row(row, 0)
    assert replayed["status"] == "offered" and replayed["verdict"] == GOOD
    assert replay_row({**row, "answer": ""}, 0) == {**row, "answer": ""}


def test_a_simplification_that_only_changes_the_layout_is_bad() -> None:
    js = "// Usage.\nfunction usage (c) {\n  return c.join('\\n')\n}\n"
    reformatted = "function usage(c) {\n  return c.join('\\n');\n}\n"
    assert action_verdicts.layout_only("javascript", js, reformatted) == (
        "only the layout changed (comments dropped)"
    )
    assert action_verdicts.layout_only("javascript", js, js.replace("(c) {", "(c){")) == (
        "only the layout changed"
    )
    simpler = "// Usage.\nfunction usage (c) {\n  return c.join('\\n') || ''\n}\n"
    assert action_verdicts.layout_only("javascript", js, simpler) == ""
    assert action_verdicts.layout_only("python", FUNC, FUNC.replace("w * h", "h * w")) == ""
