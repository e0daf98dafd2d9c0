"""Generated JavaScript and TypeScript test files, run with node's own test runner (the
success-rate benchmark's tests verdict).

The server writes ``{stem}.test.js`` beside ``{stem}.js``, requiring it as ``./{stem}``.
The corpus' modules are files of npm packages that require their package's other files,
so a copy alone does not load: in the sandbox (action_verdicts.run_sandboxed), ``{stem}.js``
is a one-line module that re-exports the original file where it lies (read only), whose
own requires then resolve. A runner loads that module first (if it does not load here,
the verdict is "unchecked": not the test file's doing), then the test file (an error
there: the file does not load, "bad"); the tests it registered then run under
``node:test`` with the TAP reporter, whose counts are read. A failing test counts in the
pass rate, not against the file.

TypeScript: node 20 cannot strip types (``--experimental-strip-types`` came with 22.6),
so the runner registers a ``.ts`` loader that transpiles each file with the TypeScript
compiler's ``transpileModule`` (types dropped, ``import`` made ``require``; nothing is
type-checked) from an editor's node_modules, where one is installed; bare imports also
resolve from the module's ``src`` folder (the baseUrl its package's tsconfig had).

The TAP reading is pure; the run is not (model-written code runs only in the sandbox).
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from benchmarks.action_verdicts import BAD, GOOD, UNCHECKED, Verdict, run_sandboxed

MODULE_EXIT = 3  # the runner's exit codes: the module under test did not load
TESTS_EXIT = 4  # ... the test file did not

# The TypeScript compilers looked for, first found used (an editor's, as installed by
# scripts/setup.sh; the machine's global one).
TYPESCRIPT = (
    "~/.cache/qwen-lsp/editors/*/node_modules/code-server/lib/vscode/extensions/node_modules/"
    "typescript/lib/typescript.js",
    "~/.cache/qwen-lsp/editors/*/node_modules/typescript/lib/typescript.js",
    "/usr/lib/node_modules/typescript/lib/typescript.js",
    "/usr/local/lib/node_modules/typescript/lib/typescript.js",
)

# Loads .ts files through the compiler's transpileModule (CommonJS out).
_TS_LOADER = r"""
const ts = require(%(typescript)s);
const fs = require('node:fs');
require.extensions['.ts'] = (module, filename) => {
  const out = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      esModuleInterop: true,
    },
  });
  module._compile(out.outputText, filename);
};
// A package's TypeScript sources import each other from their src folder (tsconfig's
// baseUrl, which npm packages do not ship): 'common/parser/Types'.
process.env.NODE_PATH = %(source_root)s;
require('node:module').Module._initPaths();
"""

_RUNNER = r"""
%(loader)s
const say = (what, error) => {
  const text = error instanceof Error ? error.name + ': ' + error.message : String(error);
  console.log('# ' + what + ': ' + text.replace(/\s+/g, ' '));
};
try { require(%(module)s); } catch (error) {
  say('module-load-failed', error);
  process.exit(%(module_exit)d);
}
try { require(%(tests)s); } catch (error) {
  say('tests-load-failed', error);
  process.exit(%(tests_exit)d);
}
"""

_COUNT = re.compile(r"^# (tests|pass|fail|cancelled) (\d+)[ \t]*$", re.M)
_NOT_OK = re.compile(r"^[ \t]*not ok \d+ - (.*)$")
_ERROR = re.compile(r"^[ \t]*error: (.*)$")
_FIELD = re.compile(r"^[ \t]*(?:\w+:|\.\.\.)")  # the next YAML field ends a block
_LOAD = re.compile(r"^# (?:module|tests)-load-failed: (.*)$", re.M)


@dataclass(frozen=True)
class TapCounts:
    tests: int
    passed: int
    failed: int  # failed or cancelled (a promise never settled, a parent that failed)
    failures: list[str]


def read_tap(output: str) -> TapCounts:
    """The summary counts of node's TAP reporter (the last of each: the whole run's) and
    the failing tests, each with its error's first line."""
    counts: dict[str, int] = {}
    for kind, number in _COUNT.findall(output):
        counts[kind] = int(number)
    failures: list[str] = []
    lines = output.split("\n")
    for index, line in enumerate(lines):
        match = _NOT_OK.match(line)
        if match is None:
            continue
        why = ""
        for at in range(index + 1, min(index + 12, len(lines))):
            error = _ERROR.match(lines[at])
            if error is not None:
                why = error[1]
                if why.startswith("|"):  # a block: its lines, as one
                    block = itertools.takewhile(
                        lambda line: not _FIELD.match(line), lines[at + 1 : at + 8]
                    )
                    why = " ".join(line.strip() for line in block if line.strip())
                break
        failures.append(f"{match[1]}: {why.strip(chr(39))}"[:160])
    return TapCounts(
        counts.get("tests", 0),
        counts.get("pass", 0),
        counts.get("fail", 0) + counts.get("cancelled", 0),
        failures,
    )


def typescript_compiler() -> str | None:
    """The first TypeScript compiler of :data:`TYPESCRIPT` installed here, or None."""
    for pattern in TYPESCRIPT:
        expanded = Path(pattern).expanduser()
        anchor = Path(expanded.anchor)
        found = sorted(anchor.glob(str(expanded.relative_to(anchor))))
        if found:
            return str(found[0])
    return None


def typescript_loader(module_path: str | None) -> str | None:
    """The JavaScript that makes node load ``.ts`` files (types stripped), for a module at
    ``module_path``; None without a TypeScript compiler here. A block of its own: its
    names stay out of the script it is put at the start of."""
    compiler = typescript_compiler()
    if compiler is None:
        return None
    root = _source_root(module_path)
    loader = _TS_LOADER % {"typescript": json.dumps(compiler), "source_root": json.dumps(root)}
    return "{\n" + loader + "}\n"


def _source_root(module_path: str | None) -> str:
    """The nearest folder named ``src`` holding ``module_path`` ("" without one)."""
    if module_path is None:
        return ""
    path = Path(module_path)
    return next((str(p) for p in path.parents if p.name == "src"), "")


def _module_file(module_text: str, module_path: str | None, extension: str) -> str:
    """The sandbox's ``{stem}.js``: the original file re-exported where it lies (its
    requires resolve there) when ``module_text`` is that file's text, else the text."""
    if module_path is not None:
        try:
            same = Path(module_path).read_text(encoding="utf-8") == module_text
        except OSError:
            same = False
        if same:
            return f"module.exports = require({json.dumps(module_path)});\n"
    return module_text if extension == ".js" else ""


def js_tests_verdict(
    language: str,
    module: str,
    module_text: str,
    tests: str,
    timeout: float,
    module_path: str | None = None,
) -> Verdict:
    """A generated test file for ``module``, run by node's test runner in the sandbox: GOOD
    when it loads and at least one test ran (whether they passed is in the details), BAD
    when it does not load, runs no test or hits the time limit; UNCHECKED when node (or,
    for TypeScript, a compiler) is missing, or the module under test does not load."""
    if shutil.which("node") is None:
        return Verdict(UNCHECKED, "node is not installed")
    extension = ".ts" if language == "typescript" else ".js"
    loader = ""
    if extension == ".ts":
        found = typescript_loader(module_path)
        if found is None:
            return Verdict(UNCHECKED, "no TypeScript compiler here to strip the types")
        loader = found
    shim = _module_file(module_text, module_path, extension)
    if not shim:
        return Verdict(UNCHECKED, "the module under test is not a file here")
    test_file = f"{module}.test{extension}"
    runner = _RUNNER % {
        "loader": loader,
        "module": json.dumps(f"./{module}.js"),
        "tests": json.dumps(f"./{test_file}"),
        "module_exit": MODULE_EXIT,
        "tests_exit": TESTS_EXIT,
    }
    files = {f"{module}.js": shim, test_file: tests, "run-tests.js": runner}
    run = run_sandboxed(files, ["node", "--test-reporter=tap", "run-tests.js"], timeout)
    tap = read_tap(run.output)
    details: dict[str, object] = {
        "passed": tap.passed,
        "failed": tap.failed,
        "errors": 0,
        "failures": tap.failures[:8],
    }
    load = _LOAD.search(run.output)
    why = load[1][:120] if load else ""
    if run.returncode is None:
        return Verdict(BAD, "the tests hit the time limit", details)
    if run.returncode == MODULE_EXIT:
        return Verdict(UNCHECKED, "the module under test does not load here: " + why)
    if run.returncode == TESTS_EXIT:
        return Verdict(BAD, "the test file does not load: " + why, {**details, "errors": 1})
    if not tap.tests:
        tail = run.output.strip().split("\n")[-1][:100] if run.output.strip() else ""
        return Verdict(BAD, "no test ran" + (": " + tail if tail else ""), details)
    return Verdict(GOOD, "ran (node --test)", details)
