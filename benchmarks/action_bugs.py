"""One bug put into a real function, and the diagnostic an editor would show for it (the
*Fix* rows of benchmarks/bench_action_success.py).

Bugs are of two kinds, each a change of one line of the function:

- ``name``: a name the function uses, misspelled (two letters swapped or one dropped) into
  a name bound nowhere in the file. Python: the message is ruff's (``F821 Undefined name
  `...` ``, ruff run on the file); JavaScript: it is the one ESLint's ``no-undef`` rule
  writes (``'...' is not defined.``), worked out here (no linter on this machine): the
  new name occurs nowhere in the file and is no global;
- ``syntax``: the ``:`` ending a compound statement's header (Python) or the last ``)`` of
  a line removed. The message is the one Python's ``compile()`` or ``node --check``
  gives, and the bug is kept only when it is reported on a line of the function.

The diagnostic's range and message go into the codeAction request as VS Code sends them.
:func:`fix_verdict` says whether an offered fix is right: the diagnostic is gone, nothing
outside the function changed, and the function is the original again (its tokens, comments
aside) or, where that can be checked, behaves as the original on generated calls.

Choosing the bug and the verdict's comparisons are pure; running ruff, ``compile()`` and
node is done by :func:`diagnose`.
"""

from __future__ import annotations

import ast
import builtins
import json
import keyword
import random
import re
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tree_sitter import Node

from benchmarks import action_verdicts
from benchmarks.action_corpus import FunctionSample
from benchmarks.action_verdicts import BAD, GOOD, UNCHECKED, Verdict
from qwen_lsp import syntax

RUFF = Path(sys.executable).parent / "ruff"
# Globals of JavaScript a misspelling must not land on (no-undef knows them).
_JS_GLOBALS = frozenset(
    "undefined NaN Infinity Object Array String Number Boolean Symbol Math JSON Date RegExp "
    "Error TypeError RangeError Promise Map Set WeakMap WeakSet Buffer process require module "
    "exports console globalThis window document arguments this".split()
)
_WRAPPERS = frozenset({"decorated_definition", "export_statement"})
_PY_HEADER = re.compile(r"^\s*(if|elif|else|for|while|with|try|except|finally|async for)\b.*:$")


@dataclass(frozen=True)
class Diagnostic:
    """A problem as an editor reports it (0-based lines, UTF-16 columns)."""

    line: int
    start_col: int
    end_line: int
    end_col: int
    message: str
    source: str
    code: str = ""


@dataclass(frozen=True)
class Bug:
    kind: str  # "name" or "syntax"
    line: int  # 0-based line of the file that was changed
    new_line: str  # its text with the bug
    detail: str  # what was changed, for the report
    diagnostic: Diagnostic

    def apply(self, text: str) -> str:
        lines = text.split("\n")
        lines[self.line] = self.new_line
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Bug:
        return cls(
            str(data["kind"]),
            int(data["line"]),
            str(data["new_line"]),
            str(data["detail"]),
            Diagnostic(**data["diagnostic"]),
        )


def _utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def misspellings(name: str, taken: set[str]) -> list[str]:
    """Names one slip away from ``name`` (two neighbouring letters swapped, one letter
    dropped) that are identifiers, no keyword or built-in, and not in ``taken``."""
    found: list[str] = []
    for i in range(len(name) - 1):
        swapped = name[:i] + name[i + 1] + name[i] + name[i + 2 :]
        found.append(swapped)
    if len(name) >= 4:
        found.extend(name[:i] + name[i + 1 :] for i in range(1, len(name)))
    return list(
        dict.fromkeys(
            n
            for n in found
            if n != name
            and n.isidentifier()
            and not keyword.iskeyword(n)
            and not hasattr(builtins, n)
            and n not in _JS_GLOBALS
            and n not in taken
        )
    )


def _words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z_$][\w$]*", text))


# --- where a bug can go ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Site:
    kind: str
    line: int
    start: int  # code points of the line
    end: int
    name: str = ""


def _python_function(text: str, sample: FunctionSample) -> ast.FunctionDef | ast.AsyncFunctionDef:
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name == sample.name
            and node.lineno - 1 == sample.line
        ):
            return node
    raise LookupError(f"no def {sample.name} on line {sample.line + 1}")


def python_sites(text: str, sample: FunctionSample) -> list[_Site]:
    """Where a bug can go in a Python function: uses of its parameters and local
    variables (names), the headers of its compound statements (syntax)."""
    function = _python_function(text, sample)
    lines = text.split("\n")
    args = function.args
    bound = {
        a.arg
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        if a is not None
    }
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
    sites: list[_Site] = []
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Name)
            and isinstance(node.ctx, ast.Load)
            and node.id in bound
            and node.lineno == node.end_lineno
            and node.lineno - 1 > sample.line
        ):
            line = lines[node.lineno - 1]
            start = len(line.encode("utf-8")[: node.col_offset].decode("utf-8", "replace"))
            sites.append(_Site("name", node.lineno - 1, start, start + len(node.id), node.id))
    for row in range(sample.line + 1, sample.end_line + 1):
        line = lines[row]
        if _PY_HEADER.match(line):
            sites.append(_Site("syntax", row, len(line) - 1, len(line)))
        elif line.rstrip().endswith(")") and line.count("(") == line.count(")"):
            end = len(line.rstrip())
            sites.append(_Site("syntax", row, end - 1, end))
    return sorted(sites, key=lambda s: (s.kind, s.line, s.start))


def _declares(node: Node) -> bool:
    """Whether a JavaScript identifier is where a name is declared (a parameter, a
    variable, a loop variable)."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "formal_parameters":
        return True
    for kind, field_name in (
        ("variable_declarator", "name"),
        ("for_in_statement", "left"),
        ("assignment_pattern", "left"),
    ):
        if parent.type == kind and parent.child_by_field_name(field_name) == node:
            return True
    return False


def javascript_sites(text: str, sample: FunctionSample) -> list[_Site]:
    """Where a bug can go in a JavaScript function: identifiers it uses that it also
    declares (names), lines ending in a call's ``)`` (syntax)."""
    source = text.encode("utf-8", syntax.UTF8_ERRORS)
    root = syntax.get_parser("javascript").parse(source).root_node
    lines = text.split("\n")
    idents, stack = [], [root]
    while stack:
        node = stack.pop()
        if node.end_point[0] < sample.line or node.start_point[0] > sample.end_line:
            continue
        if node.type == "identifier":
            idents.append(node)
        stack.extend(node.children)

    def name_of(node: Node) -> str:
        return source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    declared = {name_of(n) for n in idents if _declares(n)}
    sites: list[_Site] = []
    for node in idents:
        name = name_of(node)
        if name not in declared or _declares(node) or node.start_point[0] <= sample.line:
            continue
        row, byte_col = node.start_point
        start = len(lines[row].encode("utf-8")[:byte_col].decode("utf-8", "replace"))
        sites.append(_Site("name", row, start, start + len(name), name))
    for row in range(sample.line + 1, sample.end_line + 1):
        line = lines[row].rstrip()
        if line.endswith((")", ");")) and line.count("(") == line.count(")"):
            end = line.rindex(")")
            sites.append(_Site("syntax", row, end, end + 1))
    return sorted(sites, key=lambda s: (s.kind, s.line, s.start))


# --- the diagnostics -------------------------------------------------------------------------


def python_syntax_error(text: str) -> Diagnostic | None:
    """compile()'s first syntax error, on the whole line it names (None: it compiles)."""
    try:
        compile(text, "module.py", "exec", dont_inherit=True)
    except SyntaxError as exc:
        row = (exc.lineno or 1) - 1
        line = text.split("\n")[row] if row < text.count("\n") + 1 else ""
        indent = len(line) - len(line.lstrip())
        return Diagnostic(row, _utf16(line[:indent]), row, _utf16(line), exc.msg, "python")
    except ValueError:
        return None
    return None


def parse_ruff(output: str, text: str) -> list[Diagnostic]:
    """ruff's JSON output as diagnostics (its columns are 1-based code points)."""
    lines = text.split("\n")
    found = []
    for item in json.loads(output or "[]"):
        row, col = item["location"]["row"] - 1, item["location"]["column"] - 1
        end_row, end_col = item["end_location"]["row"] - 1, item["end_location"]["column"] - 1
        found.append(
            Diagnostic(
                row,
                _utf16(lines[row][:col]),
                end_row,
                _utf16(lines[end_row][:end_col]),
                item["message"],
                "ruff",
                item.get("code") or "",
            )
        )
    return found


def ruff_undefined_names(text: str) -> list[Diagnostic]:
    with tempfile.TemporaryDirectory(prefix="qwen-lsp-ruff-") as folder:
        path = Path(folder) / "module.py"
        path.write_text(text, encoding="utf-8")
        run = subprocess.run(
            [
                str(RUFF),
                "check",
                "--isolated",
                "--select",
                "F821",
                "--output-format",
                "json",
                "--exit-zero",
                str(path),
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    return parse_ruff(run.stdout, text)


def parse_node_check(output: str, text: str) -> Diagnostic | None:
    """``node --check``'s error (file:line, the line, a caret, the message)."""
    lines = output.split("\n")
    for index, line in enumerate(lines):
        found = re.match(r"^.*:(\d+)$", line)
        if found is None:
            continue
        row = int(found[1]) - 1
        caret = next((i for i in range(index + 1, len(lines)) if "^" in lines[i]), None)
        message = next((m for m in lines[index + 1 :] if re.match(r"^\w*Error: ", m)), "")
        if not message or row >= text.count("\n") + 1:
            return None
        source_line = text.split("\n")[row]
        col = lines[caret].index("^") if caret is not None else 0
        col = min(col, len(source_line))
        return Diagnostic(
            row,
            _utf16(source_line[:col]),
            row,
            _utf16(source_line[: col + 1]),
            message.split(": ", 1)[1],
            "node",
        )
    return None


def node_check(text: str, module: bool) -> Diagnostic | None:
    with tempfile.TemporaryDirectory(prefix="qwen-lsp-node-") as folder:
        path = Path(folder) / ("file.mjs" if module else "file.js")
        path.write_text(text, encoding="utf-8")
        run = subprocess.run(
            ["node", "--check", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    if run.returncode == 0:
        return None
    return parse_node_check(run.stderr, text) or Diagnostic(0, 0, 0, 0, run.stderr[:200], "node")


def _js_is_module(text: str) -> bool:
    return bool(re.search(r"^(import|export)\s", text, re.M))


def diagnose(language: str, kind: str, text: str, name: str = "") -> list[Diagnostic]:
    """What the editor would report for a bug of ``kind`` in ``text``: the syntax error,
    or the undefined name ``name`` (Python: ruff's F821; JavaScript: no-undef)."""
    if language == "python":
        error = python_syntax_error(text)
        if error is not None:
            return [error]
        if kind == "name":
            return [d for d in ruff_undefined_names(text) if not name or f"`{name}`" in d.message]
        return []
    error = node_check(text, _js_is_module(text))
    if error is not None:
        return [error]
    if kind == "name" and name:
        return [
            Diagnostic(
                row,
                _utf16(line[: m.start()]),
                row,
                _utf16(line[: m.end()]),
                f"'{name}' is not defined.",
                "eslint",
                "no-undef",
            )
            for row, line in enumerate(text.split("\n"))
            for m in re.finditer(rf"(?<![\w$.]){re.escape(name)}(?![\w$])", line)
        ]
    return []


# --- choosing the bug ------------------------------------------------------------------------


def candidate_bugs(
    language: str, text: str, sample: FunctionSample, seed: int
) -> list[tuple[_Site, str, str]]:
    """(site, the line with the bug, what changed), in a seeded order that alternates
    the kinds. Pure."""
    sites = (python_sites if language == "python" else javascript_sites)(text, sample)
    rng = random.Random(f"{seed}:{sample.path}:{sample.line}")
    taken = _words(text)
    lines = text.split("\n")
    by_kind: dict[str, list[tuple[_Site, str, str]]] = {}
    for site in sites:
        line = lines[site.line]
        if site.kind == "name":
            options = misspellings(site.name, taken)
            if not options:
                continue
            new = rng.choice(options)
            entry = (site, line[: site.start] + new + line[site.end :], f"{site.name} -> {new}")
        else:
            removed = line[site.start : site.end]
            entry = (site, line[: site.start] + line[site.end :], f"`{removed}` removed")
        by_kind.setdefault(site.kind, []).append(entry)
    kinds = sorted(by_kind)
    rng.shuffle(kinds)
    for entries in by_kind.values():
        rng.shuffle(entries)
    ordered: list[tuple[_Site, str, str]] = []
    for index in range(max((len(v) for v in by_kind.values()), default=0)):
        ordered.extend(by_kind[k][index] for k in kinds if index < len(by_kind[k]))
    return ordered


def choose_bug(
    language: str,
    text: str,
    sample: FunctionSample,
    seed: int,
    check: Callable[[str, str, str, str], list[Diagnostic]] = diagnose,
    tries: int = 6,
) -> Bug | None:
    """The first candidate bug the diagnostic tools report inside the function (and the
    unchanged file does not already have that problem)."""
    if check(language, "syntax", text, ""):
        return None
    for site, new_line, detail in candidate_bugs(language, text, sample, seed)[:tries]:
        lines = text.split("\n")
        lines[site.line] = new_line
        mutated = "\n".join(lines)
        name = detail.split(" -> ")[1] if site.kind == "name" else ""
        found = [
            d
            for d in check(language, site.kind, mutated, name)
            if sample.line <= d.line <= sample.end_line
        ]
        if found:
            return Bug(site.kind, site.line, new_line, detail, found[0])
    return None


# --- the verdict -----------------------------------------------------------------------------


def outside_changed(language: str, original: str, new: str, sample: FunctionSample) -> str:
    """Where the fixed file differs from the original outside the function ("" when it
    does not): the lines above and below the function (found again by its name) must be
    the original's."""
    old_lines, new_lines = original.split("\n"), new.split("\n")
    head, tail = sample.start_line, len(old_lines) - sample.end_line - 1
    node = action_verdicts.function_in(language, new, original, sample.name, sample.line)
    new_head, new_tail = head, tail
    if node is not None:
        outer = node
        while outer.parent is not None and outer.parent.type in _WRAPPERS:
            outer = outer.parent
        new_head = outer.start_point[0]
        new_tail = len(new_lines) - node.end_point[0] - 1
    if new_head != head or old_lines[:head] != new_lines[:head]:
        return "above the function"
    if new_tail != tail or old_lines[len(old_lines) - tail :] != new_lines[len(new_lines) - tail :]:
        return "below the function"
    return ""


def fix_verdict(
    language: str,
    original: str,
    new: str,
    sample: FunctionSample,
    bug: Bug,
    check: Callable[[str, str, str, str], list[Diagnostic]] = diagnose,
    behaviour: Callable[[str, str], Verdict] | None = None,
) -> Verdict:
    """Whether ``new`` (the buggy file after the offered fix) fixes ``bug`` right."""
    if new == bug.apply(original):
        return Verdict(BAD, "nothing changed")
    where = outside_changed(language, original, new, sample)
    if where:
        return Verdict(BAD, f"code changed {where}")
    name = bug.detail.split(" -> ")[1] if bug.kind == "name" else ""
    left = check(language, bug.kind, new, name)
    if left:
        return Verdict(BAD, f"still reported: {left[0].message[:80]}")
    if action_verdicts.tokens(language, new) == action_verdicts.tokens(language, original):
        return Verdict(GOOD, "the original restored")
    plain = action_verdicts.without_docs(language, new, docstrings=False)
    if action_verdicts.tokens(language, plain) == action_verdicts.tokens(
        language, action_verdicts.without_docs(language, original, docstrings=False)
    ):
        return Verdict(GOOD, "the original restored (comments differ)")
    if behaviour is not None:
        judged = behaviour(original, new)
        if judged.outcome != UNCHECKED:
            return Verdict(judged.outcome, "not the original: " + judged.note, judged.details)
    return Verdict(UNCHECKED, "fixed, but not the original code")
