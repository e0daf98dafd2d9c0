"""Same behaviour on generated calls, for a rewritten JavaScript function (Simplify).

The JavaScript counterpart of benchmarks/action_calls.py. A module of npm cannot be
loaded alone (it requires its package's other files), so the function is taken alone: its
declaration, old and new, is evaluated in a fresh ``vm`` context of node (no ``require``,
no ``process``: a function that reaches for them throws the same ReferenceError both
ways, and such calls do not count) and called with seeded argument tuples from a pool of
small values. Per call: the result and the arguments afterwards (``util.inspect``), what
it logged, or the error's name; each call has a one-second limit (the calls stop at the
first that takes longer). Old and new must agree on every call, and at least
``MIN_RETURNED`` calls must have returned normally on the old one for the verdict to say
anything. Only top-level ``function`` declarations that are
neither ``async`` nor generators are run (a method needs its object): the rest is
"unchecked". node runs in the sandbox of action_verdicts.run_sandboxed.

Choosing the calls and comparing the records is pure; running them is not.
"""

from __future__ import annotations

import json
import random
import shutil
from typing import Any

from tree_sitter import Node

from benchmarks.action_verdicts import BAD, GOOD, UNCHECKED, Verdict, run_sandboxed
from qwen_lsp import syntax

MIN_RETURNED = 3
CALLS = 24
# The values arguments are made of (JSON: node gets them as they are).
POOL: tuple[Any, ...] = (
    0,
    1,
    3,
    -2,
    2.5,
    True,
    False,
    None,
    "",
    "a",
    "abc",
    "Hello world",
    "x-y_z 1",
    [],
    [3, 1, 2],
    ["b", "a"],
    {"a": 1},
    {"name": "x", "value": 2},
)

# Runs in node: the records of every call, for the old and the new declaration.
RUNNER = r"""
const vm = require('vm');
const util = require('util');
const spec = JSON.parse(require('fs').readFileSync('calls.json', 'utf8'));
const show = (v) => util.inspect(v, { depth: 5, sorted: true, breakLength: Infinity });
function records(source) {
  const out = [];
  for (const args of spec.calls) {
    const logs = [];
    const log = (...a) => { logs.push(a.map(String).join(' ')); };
    const context = vm.createContext({ console: { log, error: log, warn: log, info: log } });
    try {
      new vm.Script(source + '\n;globalThis.__f = ' + spec.name + ';').runInContext(context);
    } catch (e) {
      out.push({ defined: false, error: e && e.name });
      continue;
    }
    context.__args = structuredClone(args);
    try {
      const value = new vm.Script('__f(...__args)').runInContext(context, { timeout: 1000 });
      out.push({ returned: show(value), args: show(context.__args), logs });
    } catch (e) {
      out.push({ threw: (e && (e.code || e.name)) || String(e), logs });
      if (e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') break; // the next would hang too
    }
  }
  return out;
}
console.log(JSON.stringify({ old: records(spec.old), new: records(spec.new) }));
"""


def top_level_function(text: str, name: str) -> str | None:
    """The source of the top-level ``function name(...)`` declaration of a JavaScript
    file (``export`` aside), when it is neither async nor a generator; else None."""
    source = text.encode("utf-8")
    root = syntax.get_parser("javascript").parse(source).root_node
    for child in root.named_children:
        node: Node | None = child
        if child.type == "export_statement":
            node = child.child_by_field_name("declaration")
        if node is None or node.type != "function_declaration":
            continue
        found = node.child_by_field_name("name")
        if found is None or found.text != name.encode("utf-8"):
            continue
        if any(c.type == "async" for c in node.children):
            return None
        return source[node.start_byte : node.end_byte].decode("utf-8")
    return None


def arity(function_source: str) -> int:
    root = syntax.get_parser("javascript").parse(function_source.encode("utf-8")).root_node
    declaration = root.named_children[0] if root.named_children else None
    parameters = declaration.child_by_field_name("parameters") if declaration else None
    return len(parameters.named_children) if parameters is not None else 0


def call_plan(function_source: str, seed: int = 1) -> list[list[Any]]:
    """Seeded argument lists, as many as the function has parameters (0 to 3 used)."""
    count = min(arity(function_source), 3)
    rng = random.Random(seed)
    if count == 0:
        return [[]]
    return [[rng.choice(POOL) for _ in range(count)] for _ in range(CALLS)]


def compare_records(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> Verdict:
    returned = sum(1 for r in old if "returned" in r)
    if any(r.get("defined") is False for r in old):
        return Verdict(UNCHECKED, "the old function cannot be defined alone")
    for index, (a, b) in enumerate(zip(old, new, strict=True)):
        if a != b:
            return Verdict(BAD, f"call {index + 1} differs: {a} != {b}"[:300])
    if returned < MIN_RETURNED:
        return Verdict(UNCHECKED, f"only {returned} generated calls returned on the original")
    return Verdict(GOOD, f"same results on {returned} generated calls")


def js_calls_verdict(old_text: str, new_text: str, name: str, timeout: float) -> Verdict:
    """Whether ``name`` in the new file behaves as in the old one on generated calls."""
    node = shutil.which("node")
    if node is None:
        return Verdict(UNCHECKED, "no node on this machine")
    old = top_level_function(old_text, name)
    new = top_level_function(new_text, name)
    if old is None or new is None:
        return Verdict(UNCHECKED, "not a top-level function declaration")
    calls = call_plan(old)
    spec = json.dumps({"name": name, "old": old, "new": new, "calls": calls})
    run = run_sandboxed({"calls.json": spec, "runner.js": RUNNER}, [node, "runner.js"], timeout)
    try:
        found = json.loads(run.output.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Verdict(UNCHECKED, f"the calls did not run: {run.output[-200:]!r}")
    return compare_records(found["old"], found["new"])
