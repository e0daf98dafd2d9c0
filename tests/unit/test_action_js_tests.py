"""Generated JavaScript and TypeScript test files, run by node's test runner in the
sandbox (benchmarks/action_js_tests.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.action_js_tests import js_tests_verdict, read_tap, typescript_compiler
from benchmarks.action_verdicts import BAD, GOOD, UNCHECKED

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="no node")

# A module that needs a file of its own folder: a copy alone would not load.
MODULE = (
    "const { twice } = require('./helper')\n\n"
    "function quad (x) {\n  return twice(twice(x))\n}\n\nmodule.exports = { quad }\n"
)
HELPER = "exports.twice = (x) => 2 * x\n"
HEAD = "const test = require('node:test');\nconst assert = require('node:assert');\n"


def _package(folder: Path) -> str:
    (folder / "helper.js").write_text(HELPER)
    path = folder / "calc.js"
    path.write_text(MODULE)
    return str(path)


def test_the_tap_summary_is_read() -> None:
    output = (
        "not ok 2 - two\n  ---\n  error: |-\n    Expected values to be strictly equal:\n    \n"
        "    1 !== 2\n  code: 'ERR_ASSERTION'\n"
        "  ...\n    1..1\n1..3\n# tests 4\n# suites 0\n# pass 2\n# fail 1\n# cancelled 1\n"
    )
    tap = read_tap(output)
    assert (tap.tests, tap.passed, tap.failed) == (4, 2, 2)
    assert tap.failures == ["two: Expected values to be strictly equal: 1 !== 2"]
    assert read_tap("") == read_tap("TAP version 13\n")


@needs_node
def test_the_tests_run_against_the_module_where_it_lies(tmp_path: Path) -> None:
    path = _package(tmp_path)
    tests = HEAD + "const { quad } = require('./calc');\n\n"
    tests += "test('one', () => {\n  assert.strictEqual(quad(1), 4);\n});\n\n"
    tests += "test('two', () => {\n  assert.strictEqual(quad(2), 9);\n});\n"
    verdict = js_tests_verdict("javascript", "calc", MODULE, tests, 60, path)
    assert verdict.outcome == GOOD
    assert verdict.details["passed"] == 1 and verdict.details["failed"] == 1
    assert "9" in str(verdict.details["failures"])


@needs_node
def test_a_test_file_that_does_not_load_is_bad(tmp_path: Path) -> None:
    path = _package(tmp_path)
    wrong_path = HEAD + "const { quad } = require('../lib/calc');\ntest('a', () => {});\n"
    verdict = js_tests_verdict("javascript", "calc", MODULE, wrong_path, 60, path)
    assert verdict.outcome == BAD and "Cannot find module" in verdict.note
    twice = HEAD + "test('a', () => {\n  const x = 1;\n  const x = 2;\n});\n"
    verdict = js_tests_verdict("javascript", "calc", MODULE, twice, 60, path)
    assert verdict.outcome == BAD and "already been declared" in verdict.note
    no_test = HEAD + "const { quad } = require('./calc');\nassert.ok(quad);\n"
    verdict = js_tests_verdict("javascript", "calc", MODULE, no_test, 60, path)
    assert verdict.outcome == BAD and "no test ran" in verdict.note
    forever = HEAD + "test('a', () => {\n  while (true) {}\n});\n"
    verdict = js_tests_verdict("javascript", "calc", MODULE, forever, 3, path)
    assert verdict.outcome == BAD and "time limit" in verdict.note


@needs_node
def test_a_module_that_does_not_load_here_is_not_the_tests_fault(tmp_path: Path) -> None:
    path = _package(tmp_path)
    (tmp_path / "helper.js").unlink()
    tests = HEAD + "const { quad } = require('./calc');\ntest('a', () => {});\n"
    verdict = js_tests_verdict("javascript", "calc", MODULE, tests, 60, path)
    assert verdict.outcome == UNCHECKED and "module under test" in verdict.note


@needs_node
@pytest.mark.skipif(typescript_compiler() is None, reason="no TypeScript compiler")
def test_typescript_runs_with_its_types_stripped(tmp_path: Path) -> None:
    # imported from the package's src folder, as its tsconfig's baseUrl had it
    module = (
        "import { twice } from 'common/helper';\n\n"
        "export function quad(x: number): number {\n  return twice(twice(x));\n}\n"
    )
    (tmp_path / "src" / "common").mkdir(parents=True)
    helper = tmp_path / "src" / "common" / "helper.ts"
    helper.write_text("export const twice = (x: number): number => 2 * x;\n")
    path = tmp_path / "src" / "calc.ts"
    path.write_text(module)
    tests = "import { test } from 'node:test';\nimport assert from 'node:assert';\n"
    tests += "import { quad } from './calc';\n\n"
    tests += "test('one', () => {\n  const n: number = 1;\n  assert.strictEqual(quad(n), 4);\n});\n"
    verdict = js_tests_verdict("typescript", "calc", module, tests, 60, str(path))
    assert verdict.outcome == GOOD and verdict.details["passed"] == 1
