"""The JavaScript behaviour judge of the success-rate benchmark (benchmarks/action_js_calls.py)."""

from __future__ import annotations

import shutil

import pytest

from benchmarks.action_js_calls import call_plan, js_calls_verdict, top_level_function

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


def test_the_function_is_taken_alone_and_called_with_seeded_arguments() -> None:
    source = top_level_function(OLD, "label")
    assert source is not None and source.startswith("function label (x, y) {")
    assert source.endswith("}") and "module.exports" not in source
    plan = call_plan(source)
    assert plan == call_plan(source) and len(plan) > 3 and all(len(a) == 2 for a in plan)
    assert top_level_function("async function f () {}\n", "f") is None
    assert top_level_function("class A { f () { return 1 } }\n", "f") is None
    assert top_level_function("export function f (a) { return a }\n", "f") is not None


@needs_node
def test_the_same_behaviour_is_good_and_another_is_bad() -> None:
    same = OLD.replace("  } else {\n    return 'small'\n  }", "  }\n  return 'small'")
    assert js_calls_verdict(OLD, same, "label", 30).outcome == "good"
    other = OLD.replace("return 'small'", "return 'tiny'")
    verdict = js_calls_verdict(OLD, other, "label", 30)
    assert verdict.outcome == "bad" and "differs" in verdict.note


@needs_node
def test_a_function_that_needs_its_module_is_not_judged() -> None:
    text = "function read (p) {\n  return fs.readFileSync(p)\n}\n"
    verdict = js_calls_verdict(text, text, "read", 30)
    assert verdict.outcome == "unchecked" and "returned" in verdict.note
    endless = "function spin (n) {\n  while (true) {}\n}\n"
    assert js_calls_verdict(endless, endless, "spin", 60).outcome == "unchecked"
