"""Scoring of holes from real files (benchmarks/eval_infill_real.py), where no tests exist.

- exact: the file with the suggestion inserted equals the file, once trailing whitespace of
  every line is dropped (an indentation missing at column 0 or a newline missing at the end
  of a line is not exact);
- edit similarity: 1 - Levenshtein(suggestion, removed text) / the longer length, both with
  trailing whitespace of each line and trailing newlines dropped (an empty suggestion to a
  non-empty hole is 0);
- adds a syntax error: tree-sitter finds more ERROR/MISSING nodes in the file with the
  suggestion than in the file itself; for Python also when the compiler rejects it and
  not the file, unless it rejects the file without the suggestion at the same place, off
  the suggestion's lines, with the same message (an empty body stays empty when a comment
  line above it is continued: the error is the hole's, not the suggestion's);
- empty: nothing to show (never counted as a syntax error).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from benchmarks import infill_tasks
from benchmarks.infill_real import SHAPES, Task
from benchmarks.infill_tasks import Execution
from qwen_lsp import syntax

_WHITESPACE_AT_END = re.compile(r"[ \t]+$", re.MULTILINE)


def normalized(text: str) -> str:
    return _WHITESPACE_AT_END.sub("", text)


def levenshtein(a: str, b: str) -> int:
    """Edits (insert, delete, replace one character) that turn ``a`` into ``b``."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


def edit_similarity(completion: str, hole: str) -> float:
    a, b = normalized(completion).rstrip("\n"), normalized(hole).rstrip("\n")
    longest = max(len(a), len(b))
    return 1.0 if longest == 0 else 1.0 - levenshtein(a, b) / longest


def exact_match(task: Task, completion: str) -> bool:
    return normalized(task.program(completion)) == normalized(task.reference)


class SyntaxCounter:
    """Error counts of programs, the reference files' cached (many tasks share a file)."""

    def __init__(self) -> None:
        self._reference: dict[tuple[str, str], tuple[int, bool]] = {}

    def _count(self, language: str, text: str) -> int:
        tree = syntax.get_parser(language).parse(text.encode("utf-8", syntax.UTF8_ERRORS))
        return syntax.count_errors(tree.root_node)

    def _rejects(self, language: str, text: str) -> bool:
        return language == "python" and infill_tasks.python_rejects(text)

    def adds_error(self, task: Task, completion: str) -> tuple[bool, bool]:
        """(tree-sitter finds more errors, Python's compiler rejects it and not the file,
        not only with the hole's own error)."""
        key = (task.path, task.language)
        if key not in self._reference:
            reference = task.reference
            self._reference[key] = (
                self._count(task.language, reference),
                self._rejects(task.language, reference),
            )
        errors, rejected = self._reference[key]
        program = task.program(completion)
        tree_sitter = self._count(task.language, program) > errors
        compiler = not rejected and self._rejects(task.language, program)
        if compiler:
            compiler = not _the_holes_error(task, completion)
        return tree_sitter, compiler


def _the_holes_error(task: Task, completion: str) -> bool:
    """Python's compiler stops on the file with the suggestion where it stops on the file
    without it, with the same message, outside the lines the suggestion is on (counted
    from the start above them, from the end below them): the error is the hole's."""
    first_line = task.prefix.count("\n") + 1
    last_line = first_line + completion.count("\n")
    program, without = task.program(completion), task.program("")
    error, other = infill_tasks.python_error(program), infill_tasks.python_error(without)
    if error is None or other is None or error[2] != other[2]:
        return False
    line, from_end, _ = error
    if line < first_line:
        return line == other[0]
    return line > last_line and from_end == other[1]


@dataclass(frozen=True)
class Score:
    exact: bool
    similarity: float
    empty: bool
    syntax_error: bool  # either of the next two
    tree_sitter_error: bool
    compile_error: bool


def score(task: Task, completion: str, counter: SyntaxCounter) -> Score:
    empty = not completion.strip()
    tree_sitter, compiler = (False, False) if empty else counter.adds_error(task, completion)
    return Score(
        exact=exact_match(task, completion),
        similarity=round(edit_similarity(completion, task.hole), 4),
        empty=empty,
        syntax_error=tree_sitter or compiler,
        tree_sitter_error=tree_sitter,
        compile_error=compiler,
    )


def score_record(
    task: Task,
    completions: dict[str, tuple[str, float]],
    counter: SyntaxCounter,
    execute: Callable[[str], Execution] | None = None,
) -> dict[str, Any]:
    """A task's JSON record: each variant's completion, its seconds and its score; with
    ``execute`` (a tested hole: the program's run) also whether its tests pass."""
    record = {
        "id": task.id,
        "language": task.language,
        "shape": task.shape,
        "cursor": task.cursor,
        "path": task.path,
        "hole": task.hole,
        "variants": {
            variant: {
                "completion": completion,
                "seconds": round(seconds, 2),
                **asdict(score(task, completion, counter)),
            }
            for variant, (completion, seconds) in completions.items()
        },
    }
    if execute is not None:
        for variant, (completion, _) in completions.items():
            run = execute(task.program(completion))
            cell = record["variants"][variant]
            cell.update(passed=run.passed, run_status=run.status, run_detail=run.detail)
    return record


def summarize(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> list[dict[str, Any]]:
    """One row per language x shape x cursor (in that order) with every variant's cell."""
    keys = sorted(
        {(r["language"], r["shape"], r["cursor"]) for r in records},
        key=lambda k: (k[0], SHAPES.index(k[1]), k[2]),
    )
    rows = []
    for language, shape, cursor in keys:
        mine = [
            r
            for r in records
            if (r["language"], r["shape"], r["cursor"]) == (language, shape, cursor)
        ]
        row: dict[str, Any] = {"language": language, "shape": shape, "cursor": cursor}
        row["n"] = len(mine)
        for variant in variants:
            scores = [r["variants"][variant] for r in mine if variant in r["variants"]]
            if not scores:
                continue
            n = len(scores)
            row[variant] = {
                **_rates(scores),
                "mean_seconds": round(sum(s["seconds"] for s in scores) / n, 2),
            }
        row["holes_vs_best_cut"] = _holes_vs_best_cut(row, mine)
        rows.append(row)
    return rows


def _holes_vs_best_cut(row: dict[str, Any], records: Sequence[dict[str, Any]]) -> list[int] | None:
    """[holes where the server beats the row's better simple cut, holes where it loses]:
    a row of 8 or 16 holes with a lead of a few points may be one hole's difference."""
    cuts = [c for c in CUTS if c in row]
    if "server" not in row or not cuts:
        return None
    best = max(cuts, key=lambda c: row[c]["similarity"])
    pairs = [
        (r["variants"]["server"]["similarity"], r["variants"][best]["similarity"])
        for r in records
        if "server" in r["variants"] and best in r["variants"]
    ]
    return [sum(s > c for s, c in pairs), sum(s < c for s, c in pairs)]


def grouped(
    records: Sequence[dict[str, Any]], variants: Sequence[str], field: str
) -> dict[str, Any]:
    """``overall`` per value of a record's ``field`` (shape, cursor or language): rows of
    two tasks are noisy, these are not as much."""
    values = sorted({r[field] for r in records})
    return {v: overall([r for r in records if r[field] == v], variants) for v in values}


def _cell(cell: dict[str, Any] | None, similarity_digits: int, empty: bool = False) -> str:
    """A table cell: [pass % /] exact % / edit similarity % / syntax errors (and empty
    answers)."""
    if cell is None:
        return "-"
    text = (
        f"{cell['exact']:.0f} / {cell['similarity']:.{similarity_digits}f} / "
        f"{cell['syntax_errors']}"
    )
    if "passed" in cell:
        text = f"{cell['passed']:.0f} | {text}"
    return f"{text} ({cell['empty']})" if empty else text


def grouped_table(groups: dict[str, dict[str, Any]], field: str, variants: Sequence[str]) -> str:
    head = f"{field:<12} {'n':>4}" + "".join(f" | {v[:22]:>22}" for v in variants)
    lines = [head, "-" * len(head)]
    for value, cells in groups.items():
        n = max(cell["n"] for cell in cells.values())
        line = f"{value:<12} {n:>4}"
        for variant in variants:
            line += f" | {_cell(cells.get(variant), similarity_digits=1):>22}"
        lines.append(line)
    return "\n".join(lines)


def overall(records: Sequence[dict[str, Any]], variants: Sequence[str]) -> dict[str, Any]:
    """Each variant over every task: the figures the CI floor compares."""
    out: dict[str, Any] = {}
    for variant in variants:
        scores = [r["variants"][variant] for r in records if variant in r["variants"]]
        if scores:
            out[variant] = {"n": len(scores), **_rates(scores)}
    return out


def _rates(scores: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A cell's figures over some tasks' scores (pass % only where every task was run)."""
    n = len(scores)
    rates: dict[str, Any] = {}
    if all("passed" in s for s in scores):
        rates["passed"] = round(100.0 * sum(s["passed"] for s in scores) / n, 1)
    rates.update(
        exact=round(100.0 * sum(s["exact"] for s in scores) / n, 1),
        similarity=round(100.0 * sum(s["similarity"] for s in scores) / n, 1),
        syntax_errors=sum(s["syntax_error"] for s in scores),
        empty=sum(s["empty"] for s in scores),
    )
    return rates


CUTS = ("raw first line", "raw n_indent")


def lead(row: dict[str, Any], variant: str = "server", figure: str = "similarity") -> float | None:
    """``figure`` (edit similarity, or pass %) of ``variant`` minus the better simple
    cut's, in points."""
    cuts = [row[c][figure] for c in CUTS if figure in row.get(c, {})]
    if figure not in row.get(variant, {}) or not cuts:
        return None
    return round(row[variant][figure] - max(cuts), 1)


def table(rows: Sequence[dict[str, Any]], variants: Sequence[str]) -> str:
    """Exact match % / edit similarity % / syntax errors (empty answers) per row, and the
    server's lead over the better simple cut in edit similarity; for tested holes also the
    pass % and its lead."""
    tested = any("passed" in row.get(v, {}) for row in rows for v in variants)
    width = 26 if tested else 22
    head = f"{'language':<10} {'shape':<8} {'cursor':<7} {'n':>3}"
    for variant in variants:
        head += f" | {variant[:width]:>{width}}"
    head += f" | {'sim. vs best cut':>16}" + (f" | {'pass vs best cut':>16}" if tested else "")
    lines = [head, "-" * len(head)]
    for row in rows:
        line = f"{row['language']:<10} {row['shape']:<8} {row['cursor']:<7} {row['n']:>3}"
        for variant in variants:
            line += f" | {_cell(row.get(variant), similarity_digits=0, empty=True):>{width}}"
        margin, holes = lead(row), row.get("holes_vs_best_cut")
        shown = "-" if margin is None else f"{margin:+.1f}"
        if margin is not None and holes:
            shown += f" ({holes[0]}/{holes[1]})"
        line += f" | {shown:>16}"
        if tested:
            passes = lead(row, figure="passed")
            line += f" | {'-' if passes is None else f'{passes:+.1f}':>16}"
        lines.append(line)
    lines.append(
        "cells: "
        + ("doctests pass % | " if tested else "")
        + "exact % / edit similarity % / syntax errors added (empty answers)"
    )
    lines.append("vs best cut: points (holes the server wins/loses against that cut)")
    return "\n".join(lines)
