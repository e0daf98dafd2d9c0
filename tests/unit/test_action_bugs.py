"""The Fix rows of the action success-rate benchmark (benchmarks/action_bugs.py): one bug
put into a real function, the diagnostic an editor would show, the verdict on a fix."""

from __future__ import annotations

import shutil

import pytest

from benchmarks import action_bugs
from benchmarks.action_bugs import Bug, Diagnostic
from benchmarks.action_corpus import find_functions
from benchmarks.action_verdicts import BAD, GOOD, UNCHECKED, Verdict

PY = """import os


def total(values, limit=10):
    result = 0
    for value in values:
        if value > limit:
            break
        result += value
    return min(result, len(values))
"""
JS = """const fs = require('fs')

function sum (items, start) {
  let total = start
  for (const item of items) {
    total += Number(item)
  }
  return Math.max(total, items.length)
}
"""


def _sample(language: str, text: str) -> object:
    [found] = find_functions(language, text, f"/x/m.{'py' if language == 'python' else 'js'}")
    return found


def test_misspellings_are_one_slip_away_and_bound_nowhere() -> None:
    found = action_bugs.misspellings("value", {"values", "vaule"})
    assert "avlue" in found and "vlue" in found
    assert "vaule" not in found  # the file has it already
    assert all(n.isidentifier() for n in found)
    assert action_bugs.misspellings("ab", {"ba"}) == []
    assert "else" not in action_bugs.misspellings("esle", set())  # no keyword
    assert "len" not in action_bugs.misspellings("eln", set())  # built-ins are bound


def test_python_bugs_are_reported_inside_the_function() -> None:
    sample = _sample("python", PY)
    kinds = {site.kind for site, _, _ in action_bugs.candidate_bugs("python", PY, sample, 1)}
    assert kinds == {"name", "syntax"}
    orders = {
        tuple(d for _, _, d in action_bugs.candidate_bugs("python", PY, sample, seed))
        for seed in range(4)
    }
    assert len(orders) > 1  # the seed chooses
    for seed in range(6):
        bug = action_bugs.choose_bug("python", PY, sample, seed)  # type: ignore[arg-type]
        assert bug is not None
        assert sample.line <= bug.diagnostic.line <= sample.end_line  # type: ignore[attr-defined]
        buggy = bug.apply(PY)
        assert buggy.count("\n") == PY.count("\n") and buggy != PY
        if bug.kind == "syntax":
            assert bug.diagnostic.source == "python"
            with pytest.raises(SyntaxError):
                compile(buggy, "m.py", "exec")
        else:
            assert bug.diagnostic.source == "ruff" and bug.diagnostic.code == "F821"
            assert bug.diagnostic.message.startswith("Undefined name `")
            line = buggy.split("\n")[bug.diagnostic.line]
            new_name = bug.detail.split(" -> ")[1]
            assert line[bug.diagnostic.start_col : bug.diagnostic.end_col] == new_name
        assert Bug.from_json(bug.to_json()) == bug


def test_a_file_broken_already_gets_no_bug() -> None:
    broken = PY + "\ndef other(:\n    pass\n"
    sample = find_functions("python", PY, "/x/m.py")[0]
    assert action_bugs.choose_bug("python", broken, sample, 1) is None


def test_javascript_sites_and_the_no_undef_message() -> None:
    sample = _sample("javascript", JS)
    sites = action_bugs.javascript_sites(JS, sample)  # type: ignore[arg-type]
    names = {s.name for s in sites if s.kind == "name"}
    assert names == {"items", "start", "total", "item"}  # declared here, used here
    assert any(s.kind == "syntax" and s.line == 5 for s in sites)  # Number(item)
    found = action_bugs.diagnose("javascript", "name", JS.replace("start\n", "strat\n"), "strat")
    assert [(d.line, d.start_col, d.message, d.code) for d in found] == [
        (3, 14, "'strat' is not defined.", "no-undef")
    ]


def test_node_check_output_is_read() -> None:
    output = (
        "/tmp/x/file.js:6\n"
        "    total += Number(item\n"
        "                        ^\n\n"
        "SyntaxError: missing ) after argument list\n"
        "    at wrapSafe (node:internal/modules/cjs/loader:1464:18)\n"
    )
    text = JS.replace("Number(item)", "Number(item")
    found = action_bugs.parse_node_check(output, text)
    assert found == Diagnostic(5, 24, 5, 24, "missing ) after argument list", "node")


@pytest.mark.skipif(shutil.which("node") is None, reason="no node")
def test_a_javascript_syntax_bug_is_reported_by_node() -> None:
    sample = _sample("javascript", JS)
    bugs = [action_bugs.choose_bug("javascript", JS, sample, seed) for seed in range(8)]  # type: ignore[arg-type]
    syntax = [b for b in bugs if b is not None and b.kind == "syntax"]
    assert syntax and all(b.diagnostic.source == "node" for b in syntax)
    assert "missing )" in syntax[0].diagnostic.message


def test_ruff_output_is_read_with_utf16_columns() -> None:
    text = "def f():\n    é = 1\n    return éé + vaule\n"
    output = (
        '[{"code": "F821", "message": "Undefined name `vaule`",'
        ' "location": {"row": 3, "column": 17}, "end_location": {"row": 3, "column": 22}}]'
    )
    [found] = action_bugs.parse_ruff(output, text)
    assert (found.line, found.start_col, found.end_col, found.code) == (2, 16, 21, "F821")


def _bug(buggy_line: str, line: int = 5) -> Bug:
    found = Diagnostic(line, 4, line, 20, "Undefined name `vaule`", "ruff", "F821")
    return Bug("name", line, buggy_line, "value -> vaule", found)


def test_the_fix_verdict() -> None:
    sample = _sample("python", PY)
    bug = _bug("    for value in vaules:", 5)
    bug = Bug("name", 5, "    for value in vaules:", "values -> vaules", bug.diagnostic)
    buggy = bug.apply(PY)

    def check(language: str, kind: str, text: str, name: str) -> list[Diagnostic]:
        return [bug.diagnostic] if name in text else []

    def verdict(new: str, **kw: object) -> Verdict:
        return action_bugs.fix_verdict("python", PY, new, sample, bug, check, **kw)  # type: ignore[arg-type]

    assert verdict(PY).outcome == GOOD
    assert verdict(buggy).note == "nothing changed"
    recommented = PY.replace("        break", "        break  # too big")
    assert verdict(recommented).outcome == GOOD
    outside = PY.replace("import os", "import sys")
    assert verdict(outside).outcome == BAD and "above" in verdict(outside).note
    below = PY + "\nx = 1\n"
    assert verdict(below).outcome == BAD and "below" in verdict(below).note
    renamed = buggy.replace("vaules", "vaules2")  # not reported: it passes check(); still
    assert verdict(buggy.replace("in vaules", "in vaules ")).outcome == BAD  # still there
    other = PY.replace("min(result, len(values))", "min(len(values), result)")
    assert verdict(other).outcome == UNCHECKED
    same = Verdict(GOOD, "same results on 5 generated calls")
    judged = verdict(other, behaviour=lambda old, new: same)
    assert judged.outcome == GOOD and "5 generated calls" in judged.note
    differs = Verdict(BAD, "total([]) gave 1, was 0")
    assert verdict(renamed, behaviour=lambda old, new: differs).outcome == BAD
