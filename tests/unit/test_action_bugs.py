"""The Fix rows of the action success-rate benchmark (benchmarks/action_bugs.py): one bug
put into a real function, the diagnostic an editor would show, the verdict on a fix."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

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


TS = """import { readFileSync } from 'fs'

export function total(items: number[], start?: number): number {
  let sum = start ?? 0
  for (const item of items) {
    sum += Math.abs(item);
  }
  return Math.max(sum, items.length)
}
"""
GO = """package m

import "strings"

func join(parts []string, sep string) (string, error) {
\tout := []string{}
\tfor _, part := range parts {
\t\tout = append(out, strings.TrimSpace(part))
\t}
\treturn strings.Join(out, sep), nil
}
"""
RS = """use std::fmt;

fn total(values: &[i32], limit: i32) -> i32 {
    let mut sum = 0;
    for value in values {
        sum += value.min(&limit);
    }
    println!("{}", sum);
    sum.max(values.len() as i32)
}
"""
_EXT = {"typescript": "ts", "go": "go", "rust": "rs"}


def _tree_sample(language: str, text: str) -> object:
    [found] = find_functions(language, text, f"/x/m.{_EXT[language]}")
    return found


@pytest.mark.parametrize(
    ("language", "text", "names"),
    [
        ("typescript", TS, {"items", "start", "sum", "item"}),
        ("go", GO, {"parts", "sep", "out", "part"}),
        ("rust", RS, {"values", "limit", "sum", "value"}),
    ],
)
def test_tree_sites_are_the_names_the_function_declares(
    language: str, text: str, names: set[str]
) -> None:
    sample = _tree_sample(language, text)
    sites = action_bugs.tree_sites(language, text, sample)  # type: ignore[arg-type]
    assert {s.name for s in sites if s.kind == "name"} == names
    lines = text.split("\n")
    for site in sites:
        if site.kind == "name":
            assert lines[site.line][site.start : site.end] == site.name
        else:
            assert lines[site.line][site.start] == ")"


@pytest.mark.parametrize(
    ("language", "text", "name", "message", "code"),
    [
        ("typescript", TS, "smu", "Cannot find name 'smu'.", "2304"),
        ("go", GO, "spe", "undefined: spe", "UndeclaredName"),
        ("rust", RS, "vaue", "cannot find value `vaue` in this scope", "E0425"),
    ],
)
def test_an_undefined_name_gets_its_servers_message(
    language: str, text: str, name: str, message: str, code: str
) -> None:
    old = {"smu": "sum += Math", "spe": "Join(out, sep)", "vaue": "value.min"}[name]
    new = {"smu": "smu += Math", "spe": "Join(out, spe)", "vaue": "vaue.min"}[name]
    buggy = text.replace(old, new)
    [found] = action_bugs.diagnose(language, "name", buggy, name)
    assert (found.message, found.code) == (message, code)
    line = buggy.split("\n")[found.line]
    assert line[found.start_col : found.end_col] == name
    assert action_bugs.diagnose(language, "name", text, name) == []  # bound nowhere: gone


def test_a_called_rust_name_is_a_function() -> None:
    buggy = RS.replace("let mut sum = 0;", "let mut sum = zreo();")
    [found] = action_bugs.diagnose("rust", "name", buggy, "zreo")
    assert found.message == "cannot find function `zreo` in this scope"


@pytest.mark.parametrize(
    ("language", "text", "old", "new", "message", "where"),
    [
        ("typescript", TS, "Math.abs(item);", "Math.abs(item;", "')' expected.", (5, 24)),
        (
            "go",
            GO,
            "strings.TrimSpace(part))",
            "strings.TrimSpace(part)",
            "missing ',' before newline in argument list",
            (7, 43),  # the newline: go/parser meets the semicolon it puts there
        ),
        (
            "rust",
            RS,
            "value.min(&limit);",
            "value.min(&limit;",
            "mismatched closing delimiter: `}`",
            (5, 24),
        ),
    ],
)
def test_a_missing_paren_is_placed_by_the_parse(
    language: str, text: str, old: str, new: str, message: str, where: tuple[int, int]
) -> None:
    buggy = text.replace(old, new)
    [found] = action_bugs.diagnose(language, "syntax", buggy)
    assert (found.message, (found.line, found.start_col)) == (message, where)
    assert action_bugs.diagnose(language, "syntax", text) == []


@pytest.mark.parametrize(("language", "text"), [("typescript", TS), ("go", GO), ("rust", RS)])
def test_tree_language_bugs_are_reported_inside_the_function(language: str, text: str) -> None:
    sample = _tree_sample(language, text)
    kinds = set()
    for seed in range(10):
        bug = action_bugs.choose_bug(language, text, sample, seed)  # type: ignore[arg-type]
        assert bug is not None
        kinds.add(bug.kind)
        assert sample.line < bug.diagnostic.line <= sample.end_line  # type: ignore[attr-defined]
        assert bug.diagnostic.source != action_bugs.TREE_SITTER
        fixed = action_bugs.fix_verdict(language, text, text, sample, bug)  # type: ignore[arg-type]
        assert fixed.outcome == GOOD
        left = action_bugs.fix_verdict(language, text, bug.apply(text), sample, bug)  # type: ignore[arg-type]
        assert left.outcome == BAD
    assert kinds == {"name", "syntax"}


def test_an_error_without_a_known_message_is_not_a_bug() -> None:
    # "}(" : go/parser would complain of the next line's token, not of a ")"
    text = GO.replace("\treturn strings", "\tgo func() {\n\t}(\n\treturn strings")
    [found] = action_bugs.diagnose("go", "syntax", text)
    assert found.source == action_bugs.TREE_SITTER


RUSTC = shutil.which("rustc") or (
    "/root/.cargo/bin/rustc" if Path("/root/.cargo/bin/rustc").exists() else None
)


@pytest.mark.skipif(RUSTC is None, reason="no rustc")
def test_the_rust_delimiter_message_is_rustcs(tmp_path: Path) -> None:
    buggy = RS.replace("value.min(&limit);", "value.min(&limit;")
    (tmp_path / "m.rs").write_text(buggy)
    run = subprocess.run(
        [
            str(RUSTC),
            "--error-format=json",
            "--emit=metadata",
            "--out-dir",
            str(tmp_path),
            str(tmp_path / "m.rs"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    first = json.loads(run.stderr.split("\n")[0])
    [found] = action_bugs.diagnose("rust", "syntax", buggy)
    spans = [
        (s["line_start"] - 1, s["column_start"] - 1) for s in first["spans"] if s["is_primary"]
    ]
    assert first["message"] == found.message
    assert (found.line, found.start_col) in spans
