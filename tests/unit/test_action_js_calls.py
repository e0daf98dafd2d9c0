"""The JavaScript behaviour judge of the success-rate benchmark (benchmarks/action_js_calls.py)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from benchmarks.action_js_bytecode import as_javascript
from benchmarks.action_js_calls import (
    arity,
    call_plan,
    compare_records,
    js_calls_verdict,
    targets,
    top_level_function,
)
from benchmarks.action_js_tests import typescript_compiler, typescript_loader
from benchmarks.action_verdicts import BAD, GOOD

needs_node = pytest.mark.skipif(shutil.which("node") is None, reason="no node")

OLD = """const fs = require('fs')

function label (x, y) {
  if (x > 1) {
    return 'big ' + y
  } else {
    return 'small'
  }
}

module.exports = label
"""

# A module whose function needs the package's other file and a module constant.
HELPER = "exports.PREFIX = '<'\n"
MAIN = """const { PREFIX } = require('./helper')
const SUFFIX = '>'

function wrap (x) {
  if (typeof x === 'string') {
    return PREFIX + x + SUFFIX
  } else {
    return null
  }
}

class Counter {
  constructor () {
    this.base = 10
  }

  add (n) {
    if (typeof n === 'number') {
      this.base = this.base + n
      return this.base
    }
    return -1
  }

  static twice (n) {
    return typeof n === 'number' ? n * 2 : 'no'
  }
}

const shout = (s) => String(s).toUpperCase()

module.exports = { wrap, Counter, shout }
"""


def _package(tmp_path: Path) -> Path:
    (tmp_path / "helper.js").write_text(HELPER)
    main = tmp_path / "main.js"
    main.write_text(MAIN)
    return main


def test_the_functions_the_runner_can_be_handed() -> None:
    source = top_level_function(OLD, "label")
    assert source is not None and source.startswith("function label (x, y) {")
    assert source.endswith("}") and "module.exports" not in source
    [label] = targets(OLD, "label")
    assert (label.expose, label.self) == ("label, undefined", "")
    assert arity(label.node) == 2
    plan = call_plan(2)
    assert plan == call_plan(2) and len(plan) > 3 and all(len(a) == 2 for a in plan)
    assert plan != call_plan(2, seed=2) and call_plan(0) == [[]]
    assert top_level_function("async function f () {}\n", "f") is None
    assert top_level_function("class A { f () { return 1 } }\n", "f") is None
    assert top_level_function("export function f (a) { return a }\n", "f") is not None
    [add] = targets(MAIN, "add")
    assert (add.expose, add.self) == ("Counter.prototype.add, Counter", "instance")
    [twice] = targets(MAIN, "twice")
    assert (twice.expose, twice.self) == ("Counter.twice, Counter", "class")
    [shout] = targets(MAIN, "shout")
    assert shout.node.type == "arrow_function" and arity(shout.node) == 1
    getter = "class A {\n  get size () { return 1 }\n}\n"
    assert targets(getter, "size") == [] and targets(MAIN, "base") == []
    nested = "function outer () {\n  function inner (a) { return a }\n}\n"
    assert targets(nested, "inner") == []


def test_records_prove_only_what_the_original_did_the_same_way_twice() -> None:
    runs = {"records": [{"returned": "1", "logs": []}, {"returned": "2", "logs": []}] * 2}
    assert compare_records(runs, runs, runs).outcome == "good"
    other = {"records": [{"returned": "1", "logs": []}, {"returned": "3", "logs": []}] * 2}
    assert compare_records(runs, runs, other).outcome == "bad"
    assert compare_records(runs, other, runs).outcome == "unchecked"  # not deterministic
    assert compare_records(runs, runs, {"error": "load: SyntaxError"}).outcome == "bad"
    assert compare_records({"error": "load: SyntaxError"}, None, runs).outcome == "unchecked"
    alike = {"records": [{"returned": "null", "logs": []}] * 5}
    verdict = compare_records(alike, alike, alike)
    assert verdict.outcome == "unchecked" and "the same" in verdict.note
    thrown = {"records": [{"threw": "TypeError", "logs": []}] * 5}
    assert compare_records(thrown, thrown, thrown).outcome == "unchecked"
    shorter = {"records": runs["records"][:3]}
    assert compare_records(runs, runs, shorter).outcome == "bad"


@needs_node
def test_the_same_behaviour_is_good_and_another_is_bad() -> None:
    same = OLD.replace("  } else {\n    return 'small'\n  }", "  }\n  return 'small'")
    assert js_calls_verdict(OLD, same, "label", 30).outcome == "good"
    other = OLD.replace("return 'small'", "return 'tiny'")
    verdict = js_calls_verdict(OLD, other, "label", 30)
    assert verdict.outcome == "bad" and "differs" in verdict.note


@needs_node
def test_a_function_is_called_in_its_module_with_its_requires(tmp_path: Path) -> None:
    main = str(_package(tmp_path))
    same = MAIN.replace(
        "  if (typeof x === 'string') {\n    return PREFIX + x + SUFFIX\n  } else {\n"
        "    return null\n  }",
        "  return typeof x === 'string' ? PREFIX + x + SUFFIX : null",
    )
    verdict = js_calls_verdict(MAIN, same, "wrap", 30, main, 4)
    assert verdict.outcome == "good" and "alone" not in verdict.note, verdict.note
    other = MAIN.replace("PREFIX + x + SUFFIX", "PREFIX + x")
    assert js_calls_verdict(MAIN, other, "wrap", 30, main, 4).outcome == "bad"
    # Alone (no path given), the module's names are missing on both sides: nothing proven.
    assert js_calls_verdict(MAIN, same, "wrap", 30).outcome == "unchecked"
    # An arrow function at the top level.
    arrow = MAIN.replace("String(s).toUpperCase()", "`${s}`.toUpperCase()")
    assert js_calls_verdict(MAIN, arrow, "shout", 30, main, 37).outcome == "good"
    lower = MAIN.replace("String(s).toUpperCase()", "String(s).toLowerCase()")
    assert js_calls_verdict(MAIN, lower, "shout", 30, main, 37).outcome == "bad"


@needs_node
def test_a_method_is_called_on_an_instance_and_its_state_compared(tmp_path: Path) -> None:
    main = str(_package(tmp_path))
    same = MAIN.replace("this.base = this.base + n", "this.base += n")
    assert js_calls_verdict(MAIN, same, "add", 30, main, 16).outcome == "good"
    # Returns the same, but leaves the object in another state: bad.
    stateless = MAIN.replace(
        "      this.base = this.base + n\n      return this.base", "      return this.base + n"
    )
    verdict = js_calls_verdict(MAIN, stateless, "add", 30, main, 16)
    assert verdict.outcome == "bad", verdict.note
    static = MAIN.replace("n * 2 : 'no'", "n + n : 'no'")
    assert js_calls_verdict(MAIN, static, "twice", 30, main, 24).outcome == "good"
    wrong = MAIN.replace("n * 2 : 'no'", "n * 3 : 'no'")
    assert js_calls_verdict(MAIN, wrong, "twice", 30, main, 24).outcome == "bad"


@needs_node
def test_what_cannot_be_proven_is_not_judged(tmp_path: Path) -> None:
    text = "function read (p) {\n  return fs.readFileSync(p)\n}\n"
    verdict = js_calls_verdict(text, text, "read", 30)
    assert verdict.outcome == "unchecked" and "returned" in verdict.note
    endless = "function spin (n) {\n  while (true) {}\n}\n"
    assert js_calls_verdict(endless, endless, "spin", 60).outcome == "unchecked"
    random = tmp_path / "random.js"
    random.write_text("function pick (a) {\n  return Math.random() + String(a)\n}\n")
    verdict = js_calls_verdict(random.read_text(), random.read_text(), "pick", 30, str(random))
    assert verdict.outcome == "unchecked" and "run again" in verdict.note
    network = "function get (u) {\n  return fetch(u)\n}\n"
    verdict = js_calls_verdict(network, network, "get", 30, str(random))
    assert verdict.outcome == "unchecked" and "network" in verdict.note


@needs_node
def test_the_runner_cannot_write_files(tmp_path: Path) -> None:
    target = tmp_path / "written.txt"
    text = (
        "const fs = require('fs')\n"
        f"function save (x) {{\n  fs.writeFileSync({str(target)!r}, String(x))\n  return x\n}}\n"
    )
    module = tmp_path / "save.js"
    module.write_text(text)
    verdict = js_calls_verdict(text, text, "save", 30, str(module))
    assert verdict.outcome == "unchecked" and not target.exists()


@needs_node
def test_a_bound_moved_by_one_is_found() -> None:
    old = (
        "function within (v, low, high) {\n  if (low <= v && v <= high) {\n    return true\n"
        "  }\n  return false\n}\n"
    )
    same = "function within (v, low, high) {\n  return low <= v && v <= high\n}\n"
    assert js_calls_verdict(old, same, "within", 30).outcome == "good"
    shifted = "function within (v, low, high) {\n  return low <= v && v < high\n}\n"
    assert js_calls_verdict(old, shifted, "within", 30).outcome == "bad"


@needs_node
def test_a_typescript_function_is_called_in_its_module_transpiled(tmp_path: Path) -> None:
    """A TypeScript function that needs the file it imports: called in its module, which
    node loads with the compiler's loader (the imported .ts file transpiled too)."""
    if typescript_compiler() is None:
        pytest.skip("no TypeScript compiler here (scripts/install_editors.sh installs one)")
    (tmp_path / "twice.ts").write_text(
        "export function twice(n: number): number {\n  return 2 * n;\n}\n"
    )
    old = (
        "import { twice } from './twice';\n\nexport function scale(n: number): number {\n"
        "  const scaled = twice(n) + 1;\n  return scaled;\n}\n"
    )
    module = tmp_path / "scale.ts"
    module.write_text(old)
    loader = typescript_loader(str(module))
    assert loader is not None

    def verdict(new: str) -> str:
        javascript = as_javascript(old, new, 30)
        assert javascript is not None
        return js_calls_verdict(*javascript, "scale", 30, str(module), 2, loader).outcome

    assert (
        verdict(
            old.replace(
                "  const scaled = twice(n) + 1;\n  return scaled;", "  return twice(n) + 1;"
            )
        )
        == GOOD
    )
    assert verdict(old.replace("twice(n) + 1", "twice(n) - 1")) == BAD
