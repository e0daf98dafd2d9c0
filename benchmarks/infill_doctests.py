"""Holes in real files whose answers can be run: functions of the standard library with
doctests (issue 17: "plus execution where they do").

    .venv/bin/python -m benchmarks.infill_doctests      # the pool: functions, holes per shape

A function of the Python standard library (the files benchmarks/infill_real.py reads) is in
the pool when its own docstring holds doctest examples that pass on the file as it is. A
hole (any shape of infill_real) is kept only when

- it lies inside such a function's body,
- the doctests run at least one of its lines (traced on the file as it is): a hole in a
  branch the examples never take would pass whatever is written there, and
- the doctests fail once the hole is left empty: an answer that does nothing fails.

An answer is scored by executing the module with the answer in place and running the
function's examples from the original docstring against it (a "function" hole replaces the
docstring too; the test stays the original's). Every run is a fresh interpreter in an empty
temporary folder with a time-out and memory and file-size caps
(benchmarks/infill_tasks.py: the code is model output and never runs in this process).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import infill_real as ir
from benchmarks.infill_tasks import Execution, run_sandboxed
from qwen_lsp import syntax

TIMEOUT = 20.0

# Loads the module file given as argv[1] under the name argv[2], the way an import would
# (registered in sys.modules first: pickling and recursive imports find it).
_LOAD = r"""
import doctest, json, sys, types
path, name = sys.argv[1], sys.argv[2]
source = open(path, encoding="utf-8").read()
module = types.ModuleType(name)
module.__file__ = path
sys.modules[name] = module
exec(compile(source, path, "exec"), module.__dict__)
"""

# The file as it is: every doctest of a function with its result and the lines it ran.
_PROBE = (
    _LOAD
    + r"""
found = []
for test in doctest.DocTestFinder().find(module, name):
    if not test.examples or test.lineno is None:
        continue
    lines = set()
    def tracer(frame, event, arg):
        if frame.f_code.co_filename != path:
            return None
        if event == "line":
            lines.add(frame.f_lineno)
        return tracer
    runner = doctest.DocTestRunner(verbose=False)
    sys.settrace(tracer)
    try:
        result = runner.run(test, out=lambda text: None, clear_globs=False)
    finally:
        sys.settrace(None)
    found.append({"name": test.name, "docstring": test.docstring, "lineno": test.lineno,
                  "failed": result.failed, "attempted": result.attempted,
                  "lines": sorted(lines)})
json.dump(found, sys.stdout)
"""
)

# The file with an answer in place (argv[1]): the original examples (argv[3], a file) run
# against it; exit 0 when every one passes.
_CHECK = (
    _LOAD
    + r"""
docstring = open(sys.argv[3], encoding="utf-8").read()
test = doctest.DocTestParser().get_doctest(docstring, dict(module.__dict__), sys.argv[4], path, 0)
result = doctest.DocTestRunner(verbose=False).run(test, out=sys.stderr.write)
sys.exit(0 if result.attempted and not result.failed else 1)
"""
)


@dataclass(frozen=True)
class Doctest:
    """A function's doctest: the examples of its original docstring and the file lines
    (1-based) running them executed."""

    module: str
    name: str  # "statistics.median"
    docstring: str
    docstring_row: int  # 0-based line of the docstring's opening quotes
    lines: frozenset[int]


def module_name(path: str) -> str:
    return Path(path).stem


def probe(path: str, text: str, timeout: float = TIMEOUT) -> list[Doctest]:
    """The doctests of functions in ``text`` (the file at ``path``) that pass on it."""
    arguments = ["-c", _PROBE, "module.py", module_name(path)]
    run, out = run_sandboxed(arguments, {"module.py": text}, timeout, stdout=True)
    if not run.passed:
        return []
    return [
        Doctest(
            module_name(path),
            found["name"],
            found["docstring"],
            found["lineno"],
            frozenset(found["lines"]),
        )
        for found in json.loads(out)
        if found["attempted"] and not found["failed"]
    ]


def check(doctest: Doctest, program: str, timeout: float = TIMEOUT) -> Execution:
    """Whether ``doctest``'s examples pass on ``program`` (its module with an answer in)."""
    files = {"module.py": program, "examples.txt": doctest.docstring}
    arguments = ["-c", _CHECK, "module.py", doctest.module, "examples.txt", doctest.name]
    return run_sandboxed(arguments, files, timeout)[0]


class Checker:
    """Runs each (doctest, program) once however often it is asked."""

    def __init__(self, timeout: float = TIMEOUT) -> None:
        self.timeout = timeout
        self._runs: dict[tuple[str, str], Execution] = {}

    def check(self, doctest: Doctest, program: str) -> Execution:
        key = (doctest.name, program)
        if key not in self._runs:
            self._runs[key] = check(doctest, program, self.timeout)
        return self._runs[key]


def _documented_bodies(text: str, doctests: Iterable[Doctest]) -> list[tuple[range, Doctest]]:
    """Each doctest's function body rows (0-based): the function among infill_real's
    (action_corpus's length rule) whose body opens with the docstring the test came from."""
    root = syntax.get_parser("python").parse(text.encode("utf-8", syntax.UTF8_ERRORS)).root_node
    by_row = {d.docstring_row: d for d in doctests}
    bodies = []
    for function in ir.function_nodes("python", text, root):
        body = function.child_by_field_name("body")
        first = body.named_children[0] if body is not None and body.named_children else None
        if first is None or first.type != "expression_statement":
            continue
        doctest = by_row.get(first.start_point[0])
        if doctest is not None and body is not None:
            bodies.append((range(body.start_point[0], body.end_point[0] + 1), doctest))
    return bodies


def candidates(path: str, text: str, timeout: float = TIMEOUT) -> list[tuple[ir.Site, Doctest]]:
    """infill_real's holes in ``text`` inside a function with passing doctests that run
    one of the hole's lines, each with its doctest (not yet checked to fail when empty)."""
    bodies = _documented_bodies(text, probe(path, text, timeout))
    found = []
    for site in ir.find_sites("python", text, path):
        for body, doctest in bodies:
            if site.first in body and site.last in body:
                rows = range(site.first + 1, site.last + 2)
                if any(row in doctest.lines for row in rows):
                    found.append((site, doctest))
                break
    return found


def detects_empty(checker: Checker, text: str, site: ir.Site, doctest: Doctest) -> bool:
    """Whether the doctests fail once the hole is left empty."""
    task = ir.make_task(text, site, ir.cursors(site)[0])
    return not checker.check(doctest, task.program("")).passed


def spread(found: Sequence[tuple[ir.Site, Doctest]], seed: str) -> list[tuple[ir.Site, Doctest]]:
    """``found`` in a seeded order that takes one hole of each function in turn (a module
    with sixty tested functions does not fill the sample)."""
    rng = random.Random(seed)
    by_function: dict[str, list[tuple[ir.Site, Doctest]]] = {}
    for site, doctest in sorted(found, key=lambda pair: pair[0].key):
        by_function.setdefault(doctest.name, []).append((site, doctest))
    names = sorted(by_function)
    rng.shuffle(names)
    for name in names:
        rng.shuffle(by_function[name])
    ordered = []
    for turn in range(max((len(v) for v in by_function.values()), default=0)):
        ordered.extend(by_function[n][turn] for n in names if turn < len(by_function[n]))
    return ordered


def candidate_files() -> dict[str, str]:
    """The standard library files infill_real reads that hold a doctest example."""
    files = ir.load_files("python")
    return {path: text for path, text in files.items() if ">>> " in text}


def build_tasks(
    per_shape: int,
    seed: int,
    shapes: Iterable[ir.Shape] = ir.SHAPES,
    cursor_kinds: Iterable[ir.Cursor] = ir.CURSORS,
    checker: Checker | None = None,
) -> tuple[list[ir.Task], dict[str, Doctest], dict[str, int]]:
    """``per_shape`` tested holes of each shape (the first of spread's order whose empty
    answer fails), each with every cursor kind that fits it; the doctest of each task (by
    id); how many holes of each shape there were before the empty-answer check."""
    checker = checker or Checker()
    files = candidate_files()
    found: list[tuple[ir.Site, Doctest]] = []
    for path in sorted(files):
        found.extend(candidates(path, files[path], checker.timeout))
    wanted = set(cursor_kinds)
    tasks: list[ir.Task] = []
    doctests: dict[str, Doctest] = {}
    counts: dict[str, int] = {}
    for shape in shapes:
        of_shape = [(site, doctest) for site, doctest in found if site.shape == shape]
        counts[shape] = len(of_shape)
        taken = 0
        for site, doctest in spread(of_shape, f"{seed}:doctest:{shape}"):
            if taken == per_shape:
                break
            if not detects_empty(checker, files[site.path], site, doctest):
                continue
            taken += 1
            for cursor in ir.cursors(site):
                if cursor in wanted:
                    task = ir.make_task(files[site.path], site, cursor)
                    tasks.append(task)
                    doctests[task.id] = doctest
    return tasks, doctests, counts


def main() -> None:
    files = candidate_files()
    total: dict[str, int] = {}
    for path in sorted(files):
        found = candidates(path, files[path])
        if not found:
            continue
        functions = sorted({d.name for _, d in found})
        shapes = {s: sum(site.shape == s for site, _ in found) for s in ir.SHAPES}
        for shape, count in shapes.items():
            total[shape] = total.get(shape, 0) + count
        print(f"{Path(path).name}: {len(functions)} functions, holes {shapes}")
    print(f"holes per shape (before the empty-answer check): {total}")


if __name__ == "__main__":
    main()
