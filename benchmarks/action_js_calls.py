"""Same behaviour on generated calls, for a rewritten JavaScript function (Simplify).

The JavaScript counterpart of benchmarks/action_calls.py. The function is judged *in its
module*: the whole file, original or edited, is compiled by node as a CommonJS module of
its real path (so ``require`` finds the package's other files and its dependencies, a
fresh module object each run), with one line appended that hands the function to the
runner. What can be handed over: a top-level ``function`` declaration, a top-level
``const f = function / arrow``, and a method of a top-level class (a static method is
called on the class; another on a fresh ``new Cls()`` when the constructor takes no
arguments, else on ``Object.create(Cls.prototype)``). Each is called with seeded argument
tuples from a pool of small values, one second per call (a returned promise is awaited,
one second too). Per call: the result, the arguments afterwards if it changed them
(``util.inspect``), the object it was called on afterwards, what it logged, or the
error's name.

The original runs twice and the edit once, each in its own node process (identical
conditions); results that differ between the original's two runs (the clock, random
numbers) prove nothing: "unchecked". Old and new must agree on every call, and at least
``MIN_RETURNED`` calls must have returned normally on the original, not all alike. A
file node cannot load as CommonJS (an ES module) falls back to the function declaration
alone, in a bare ``vm`` context. node runs in the sandbox of
action_verdicts.run_sandboxed with its permission model on (files read-only, no child
processes, no workers), and functions that name the network are not run.

Choosing the calls and comparing the records is pure; running them is not.
"""

from __future__ import annotations

import json
import random
import shutil
from dataclasses import dataclass
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
    # (npm's code parses headers and specs: strings with their punctuation)
    "text/html;q=0.8",
    "en-US,en;q=0.9, gzip",
    [],
    [3, 1, 2],
    ["b", "a"],
    {"a": 1},
    {"name": "x", "value": 2},
)
# Names whose use means the function may reach the network, which the permission model of
# node 20 does not close: not run.
NETWORK = frozenset(
    "fetch http https http2 net tls dgram dns undici WebSocket XMLHttpRequest "
    "connect request socket".split()
)
_MARK = "@@qwen-js-calls@@"
# node's flags: the permission model, reading allowed (the module's dependencies).
# (no warnings: node's own, about the permission model, would land among a call's logs)
NODE_FLAGS = ["--experimental-permission", "--allow-fs-read=*", "--no-warnings"]

# Runs in node, once per module text: the records of every call.
MODULE_RUNNER = r"""
const Module = require('module');
const path = require('path');
const util = require('util');
const vm = require('vm');
const fs = require('fs');
const spec = JSON.parse(fs.readFileSync('calls.json', 'utf8'));
const source = fs.readFileSync('subject.js', 'utf8');
const MARK = '@@qwen-js-calls@@';
// (an error's stack names lines of the file, which an edit moves: left out)
const show = (v) => util.inspect(v, { depth: 5, sorted: true, breakLength: Infinity })
  .replace(/\n\s+at [^\n]*/g, '');
const write = process.stdout.write.bind(process.stdout);
const exit = process.exit.bind(process);
const done = (x) => { write('\n' + MARK + JSON.stringify(x) + '\n', () => exit(0)); };
// A function that ends the process would end the runner: it throws instead.
process.exit = () => { throw new Error('process.exit'); };
let logs = [];
for (const k of ['log', 'error', 'warn', 'info', 'debug', 'trace']) {
  console[k] = (...a) => { logs.push(util.format(...a).slice(0, 200)); };
}
const failure = (e) => String((e && (e.code || e.name)) || e);
const late = () => new Promise((r) => setTimeout(() => r({ timeout: true }), 1000).unref());

async function main() {
  const m = new Module(spec.path, null);
  m.filename = spec.path;
  m.paths = Module._nodeModulePaths(path.dirname(spec.path));
  Module._cache[spec.path] = m;  // a dependency that requires this file back gets it
  try {
    m._compile(source + '\n;globalThis.__qwen = [' + spec.expose + '];\n', spec.path);
  } catch (e) {
    return done({ error: 'load: ' + failure(e) });
  }
  const [fn, owner] = globalThis.__qwen;
  if (typeof fn !== 'function') return done({ error: 'not a function' });
  const records = [];
  for (const args of spec.calls) {
    logs = [];
    let self;
    if (spec.self === 'class') self = owner;
    else if (spec.self === 'instance') {
      try { self = owner.length === 0 ? new owner() : Object.create(owner.prototype); }
      catch (e) { self = Object.create(owner.prototype); }
    }
    const given = structuredClone(args);
    globalThis.__qwenCall = () => fn.apply(self, given);
    let record;
    try {
      let value = vm.runInThisContext('globalThis.__qwenCall()', { timeout: 1000 });
      if (value && typeof value.then === 'function') {
        const settled = await Promise.race([
          Promise.resolve(value).then((v) => ({ v }), (e) => ({ e })),
          late(),
        ]);
        if (settled.timeout) { records.push({ threw: 'timeout' }); break; }
        if ('e' in settled) { records.push({ rejected: failure(settled.e), logs }); continue; }
        value = settled.v;
      }
      if (Object.prototype.toString.call(value) === '[object Generator]') {
        const steps = Array.from({ length: 100 }, () => value.next());
        value = steps.filter((x) => !x.done).map((x) => x.value);
      }
      // the arguments only when the call changed them: the outputs alone tell calls apart
      record = { returned: show(value), logs };
      if (show(given) !== show(args)) record.args = show(given);
      if (spec.self === 'instance') record.self = show(self);
    } catch (e) {
      record = { threw: failure(e), logs };
      if (e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') { records.push(record); break; }
    }
    records.push(record);
  }
  done({ records });
}
main().catch((e) => done({ error: 'runner: ' + failure(e) }));
"""

# Runs in node: the declaration alone, old and new, in a bare vm context (no require).
ALONE_RUNNER = r"""
const vm = require('vm');
const util = require('util');
const spec = JSON.parse(require('fs').readFileSync('calls.json', 'utf8'));
// (an error's stack names lines of the file, which an edit moves: left out)
const show = (v) => util.inspect(v, { depth: 5, sorted: true, breakLength: Infinity })
  .replace(/\n\s+at [^\n]*/g, '');
function records(source) {
  const out = [];
  for (const args of spec.calls) {
    const logs = [];
    const log = (...a) => { logs.push(a.map(String).join(' ')); };
    const context = vm.createContext({ console: { log, error: log, warn: log, info: log } });
    try {
      new vm.Script(source + '\n;globalThis.__f = ' + spec.name + ';').runInContext(context);
    } catch (e) {
      return { error: 'not defined alone: ' + (e && e.name) };
    }
    context.__args = structuredClone(args);
    try {
      const value = new vm.Script('__f(...__args)').runInContext(context, { timeout: 1000 });
      const record = { returned: show(value), logs };
      if (show(context.__args) !== show(args)) record.args = show(context.__args);
      out.push(record);
    } catch (e) {
      out.push({ threw: (e && (e.code || e.name)) || String(e), logs });
      if (e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') break; // the next would hang too
    }
  }
  return { records: out };
}
const runs = [records(spec.old), records(spec.old), records(spec.new)];
console.log('\n@@qwen-js-calls@@' + JSON.stringify(runs));
"""


@dataclass(frozen=True)
class Target:
    """A function of a file that the runner can be handed: ``expose`` is the JavaScript
    expression, appended to the module, that gives ``[function, owner]``; ``self`` says
    what it is called on ("": nothing, "class": the owner, "instance": an owner's)."""

    node: Node
    expose: str
    self: str
    declaration: bool  # a plain ``function`` declaration (it can be taken alone)

    @property
    def source(self) -> str:
        return (self.node.text or b"").decode("utf-8")


def _name(node: Node) -> str:
    found = node.child_by_field_name("name")
    return (found.text or b"").decode("utf-8") if found is not None else ""


def _keywords(node: Node) -> set[str]:
    return {c.type for c in node.children if not c.is_named}


def targets(text: str, name: str) -> list[Target]:
    """The functions named ``name`` the runner can be handed, in the file's order."""
    root = syntax.get_parser("javascript").parse(text.encode("utf-8")).root_node
    found: list[Target] = []
    for child in root.named_children:
        node = (
            child.child_by_field_name("declaration") if child.type == "export_statement" else child
        )
        if node is None:
            continue
        if node.type in ("function_declaration", "generator_function_declaration"):
            if _name(node) == name:
                found.append(Target(node, f"{name}, undefined", "", True))
        elif node.type in ("lexical_declaration", "variable_declaration"):
            for declarator in node.named_children:
                value = declarator.child_by_field_name("value")
                functional = ("arrow_function", "function_expression", "function")
                if _name(declarator) == name and value is not None and value.type in functional:
                    found.append(Target(value, f"{name}, undefined", "", False))
        elif node.type == "class_declaration" and (owner := _name(node)):
            body = node.child_by_field_name("body")
            for member in body.named_children if body is not None else []:
                if member.type != "method_definition" or _name(member) != name:
                    continue
                if _keywords(member) & {"get", "set"} or name == "constructor":
                    continue  # not called as a function
                if "static" in _keywords(member):
                    found.append(Target(member, f"{owner}.{name}, {owner}", "class", False))
                else:
                    where = f"{owner}.prototype.{name}, {owner}"
                    found.append(Target(member, where, "instance", False))
    return found


def top_level_function(text: str, name: str) -> str | None:
    """The source of the top-level ``function name(...)`` declaration of a JavaScript
    file (``export`` aside), when it is neither async nor a generator; else None."""
    for target in targets(text, name):
        if target.declaration and target.node.type == "function_declaration":
            if "async" not in _keywords(target.node):
                return target.source
    return None


def arity(node: Node) -> int:
    parameters = node.child_by_field_name("parameters")
    if parameters is None:  # an arrow function's lone parameter, without parentheses
        return 1 if node.child_by_field_name("parameter") is not None else 0
    return len(parameters.named_children)


def call_plan(count: int, seed: int = 1) -> list[list[Any]]:
    """Seeded argument lists of ``count`` arguments (0 to 3 used)."""
    count = min(count, 3)
    rng = random.Random(seed)
    if count == 0:
        return [[]]
    calls = [[rng.choice(POOL) for _ in range(count)] for _ in range(CALLS)]
    if count >= 2:
        # A third more calls give two arguments the same value: where `<` and `<=` part
        # (a rewrite's usual slip), random tuples seldom go.
        for args in [list(a) for a in calls[: CALLS // 3]]:
            first, second = rng.sample(range(count), 2)
            args[second] = args[first]
            calls.append(args)
    return calls


def _network(node: Node) -> str:
    """A name of the function that may reach the network ("" if none)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type in ("identifier", "property_identifier"):
            word = (current.text or b"").decode("utf-8")
            if word in NETWORK:
                return word
        stack.extend(current.children)
    return ""


def compare_records(
    old: dict[str, Any] | None, again: dict[str, Any] | None, new: dict[str, Any] | None
) -> Verdict:
    """The verdict on the original's two runs and the edit's run (None: no output)."""
    if old is None or "records" not in old:
        return Verdict(UNCHECKED, f"the original could not be called: {(old or {}).get('error')}")
    if again != old:
        return Verdict(UNCHECKED, "the original gives other results when run again")
    if new is None or "records" not in new:
        return Verdict(BAD, f"the new code could not be called: {(new or {}).get('error')}")
    for index, (a, b) in enumerate(zip(old["records"], new["records"], strict=False)):
        if a != b:
            return Verdict(BAD, f"call {index + 1} differs: {a} != {b}"[:300])
    if len(new["records"]) != len(old["records"]):
        return Verdict(BAD, "the new code stopped at another call")
    returned = [r for r in old["records"] if "returned" in r]
    if len(returned) < MIN_RETURNED:
        return Verdict(UNCHECKED, f"only {len(returned)} generated calls returned on the original")
    if len({json.dumps(r, sort_keys=True) for r in returned}) < 2:
        # (a function that always returns null would pass as well)
        return Verdict(UNCHECKED, "every call that returned on the original gave the same")
    returned = len(returned)
    return Verdict(GOOD, f"same results on {returned} generated calls")


def _found(output: str) -> Any:
    for line in output.split("\n"):
        if line.startswith(_MARK):
            return json.loads(line[len(_MARK) :])
    return None


def _module_run(
    node: str, path: str, text: str, spec: dict[str, Any], timeout: float, loader: str
) -> Any:
    runner = loader + MODULE_RUNNER
    files = {"calls.json": json.dumps({**spec, "path": path}), "runner.js": runner}
    run = run_sandboxed({**files, "subject.js": text}, [node, *NODE_FLAGS, "runner.js"], timeout)
    return _found(run.output)


def js_calls_verdict(
    old_text: str,
    new_text: str,
    name: str,
    timeout: float,
    path: str = "",
    line: int = 0,
    loader: str = "",
) -> Verdict:
    """Whether ``name`` (the one nearest 0-based ``line`` of the old text, at ``path``) in
    the new file behaves as in the old one on generated calls. ``loader``: JavaScript run
    before the module is loaded (for a TypeScript file transpiled to ``old_text``: what
    loads the ``.ts`` files it requires)."""
    node = shutil.which("node")
    if node is None:
        return Verdict(UNCHECKED, "no node on this machine")
    before, after = targets(old_text, name), targets(new_text, name)
    if not before:
        return Verdict(UNCHECKED, "not a function the runner can be handed")
    rank = min(range(len(before)), key=lambda i: abs(before[i].node.start_point[0] - line))
    old = before[rank]
    if rank >= len(after):
        return Verdict(BAD, f"the new file has no {name} in its place")
    if after[rank].self != old.self:  # (a declaration made a const arrow is still called)
        return Verdict(BAD, f"{name} is no longer called on the same object")
    if word := _network(old.node):
        return Verdict(UNCHECKED, f"may reach the network: {word}")
    calls = call_plan(arity(old.node))
    spec = {"expose": old.expose, "self": old.self, "calls": calls}
    first = _module_run(node, path, old_text, spec, timeout, loader) if path else None
    if first is not None and "records" in first:
        again = _module_run(node, path, old_text, spec, timeout, loader)
        spec = {**spec, "expose": after[rank].expose}
        return compare_records(
            first, again, _module_run(node, path, new_text, spec, timeout, loader)
        )
    # The module does not load here (an ES module, a missing dependency): the declaration
    # alone, where it is one.
    why = (first or {}).get("error", "no path") if path else "no path"
    old_alone, new_alone = top_level_function(old_text, name), top_level_function(new_text, name)
    if old_alone is None or new_alone is None:
        return Verdict(
            UNCHECKED, f"the module could not be loaded ({why}); not a plain declaration"
        )
    spec = {"name": name, "old": old_alone, "new": new_alone, "calls": calls}
    run = run_sandboxed(
        {"calls.json": json.dumps(spec), "runner.js": ALONE_RUNNER},
        [node, *NODE_FLAGS, "runner.js"],
        timeout,
    )
    runs = _found(run.output) or [None, None, None]
    verdict = compare_records(*runs)
    return Verdict(verdict.outcome, f"{verdict.note} (alone: the module {why})", verdict.details)
