"""One bug put into a real function, and the diagnostic an editor would show for it (the
*Fix* rows of benchmarks/bench_action_success.py).

Bugs are of two kinds, each a change of one line of the function:

- ``name``: a name the function uses, misspelled (two letters swapped or one dropped) into
  a name bound nowhere in the file and no keyword or builtin. Python: the message is
  ruff's (``F821 Undefined name `...` ``, ruff run on the file). The other languages'
  tools are not on this machine (no ESLint, tsc, gopls; rustc is, but the corpus files do
  not compile alone), so their message is worked out here, on every occurrence of the new
  name: ESLint's ``no-undef`` (``'x' is not defined.``), TypeScript's tsserver (``Cannot
  find name 'x'.``, TS2304; tsserver often adds ``Did you mean 'y'?`` (TS2552), left out:
  the harder case), Go's gopls (``undefined: x``, from go/types), rustc as rust-analyzer
  shows it (``cannot find value `x` in this scope``, E0425);
- ``syntax``: the ``:`` ending a compound statement's header (Python) or the last ``)`` of
  a line removed. Python and JavaScript: the message is the one Python's ``compile()`` or
  ``node --check`` gives. TypeScript, Go, Rust: the position of the first error of a
  tree-sitter parse of the changed file (Rust: the ``(`` left open, where rustc puts it)
  and the message that language's compiler gives for a ``)`` missing there, worked out
  here, not run. The bug is kept only when it is reported on a line of the function.

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
# JavaScript's and TypeScript's reserved words, and TypeScript's global types.
_TS_GLOBALS = frozenset(
    "var let const function new delete instanceof of class extends this yield async await "
    "throw catch switch case do null true false enum interface implements private public "
    "protected readonly abstract as is satisfies any unknown never void string number "
    "boolean bigint symbol object Partial Required "
    "Readonly Record Pick Omit Exclude Extract NonNullable ReturnType Parameters Awaited "
    "Iterable Iterator PromiseLike ArrayLike keyof typeof declare namespace".split()
)
# Go's predeclared identifiers and keywords (The Go Programming Language Specification,
# "Predeclared identifiers" and "Keywords").
_GO_RESERVED = frozenset(
    "any bool byte comparable complex64 complex128 error float32 float64 int int8 int16 "
    "int32 int64 rune string uint uint8 uint16 uint32 uint64 uintptr true false iota nil "
    "append cap clear close complex copy delete imag len make max min new panic print "
    "println real recover break case chan const continue default defer else fallthrough "
    "for func go goto if import interface map package range return select struct switch "
    "type var".split()
)
# Rust's keywords and the names its prelude brings into every module (std::prelude).
_RUST_RESERVED = frozenset(
    "as async await break const continue crate dyn else enum extern false fn for if impl "
    "in let loop match mod move mut pub ref return self Self static struct super trait "
    "true type unsafe use where while Some None Ok Err Option Result Vec String Box drop "
    "Copy Clone Send Sync Sized Default Drop Fn FnMut FnOnce Iterator IntoIterator "
    "ToString ToOwned From Into bool char str i8 i16 i32 i64 i128 isize u8 u16 u32 u64 "
    "u128 usize f32 f64".split()
)
_RESERVED = _JS_GLOBALS | _TS_GLOBALS | _GO_RESERVED | _RUST_RESERVED
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
    dropped) that are identifiers, no keyword or built-in (of any language the benchmark
    covers: one list is simpler and costs a few candidates), and not in ``taken``."""
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
            and n not in _RESERVED
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


def _in_field(node: Node, parent_type: str, field_name: str = "") -> bool:
    """Whether ``node``'s parent is a ``parent_type`` holding it (in ``field_name``, when
    one is given)."""
    parent = node.parent
    if parent is None or parent.type != parent_type:
        return False
    return not field_name or node in parent.children_by_field_name(field_name)


def _js_declares(node: Node) -> bool:
    """Whether a JavaScript identifier is where a name is declared (a parameter, a
    variable, a loop variable)."""
    return (
        _in_field(node, "formal_parameters")
        or _in_field(node, "variable_declarator", "name")
        or _in_field(node, "for_in_statement", "left")
        or _in_field(node, "assignment_pattern", "left")
    )


def _ts_declares(node: Node) -> bool:
    """Whether a TypeScript identifier is where a name is declared: as in JavaScript, a
    typed parameter, or a name in a destructuring pattern (JavaScript's rule is left as
    its figures were measured with: names in patterns are no bug sites there)."""
    return (
        _js_declares(node)
        or _in_field(node, "required_parameter", "pattern")
        or _in_field(node, "optional_parameter", "pattern")
        or _in_field(node, "rest_pattern")
        or _in_field(node, "array_pattern")
    )


def _go_declares(node: Node) -> bool:
    """Whether a Go identifier is where a name is declared (a parameter or result, ``var``,
    ``const``, the left of ``:=``, a ``range`` or type switch variable)."""
    if node.parent is None:
        return False
    if node.parent.type in {
        "parameter_declaration",
        "variadic_parameter_declaration",
        "var_spec",
        "const_spec",
    }:
        return node in node.parent.children_by_field_name("name")
    if node.parent.type == "expression_list":
        return any(
            _in_field(node.parent, kind, "left")
            for kind in ("short_var_declaration", "range_clause")
        )
    return _in_field(node, "type_switch_statement", "alias")


def _rust_declares(node: Node) -> bool:
    """Whether a Rust identifier is where a name is bound (a parameter, ``let``, ``for``,
    a closure parameter, a name in a pattern)."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "tuple_struct_pattern":  # Some(x): x is bound, Some is not
        return node not in parent.children_by_field_name("type")
    return (
        _in_field(node, "parameter", "pattern")
        or _in_field(node, "let_declaration", "pattern")
        or _in_field(node, "for_expression", "pattern")
        or parent.type in {"closure_parameters", "match_pattern", "mut_pattern"}
        or parent.type in {"tuple_pattern", "slice_pattern", "ref_pattern"}
    )


_DECLARES: dict[str, Callable[[Node], bool]] = {
    "javascript": _js_declares,
    "typescript": _ts_declares,
    "go": _go_declares,
    "rust": _rust_declares,
}


def _is_use(language: str, node: Node) -> bool:
    """Whether an identifier that is no declaration names a variable (Rust: not a path's
    part, not a macro's name)."""
    if language == "rust":
        return not _in_field(node, "scoped_identifier") and not _in_field(
            node, "macro_invocation", "macro"
        )
    return True


def tree_sites(language: str, text: str, sample: FunctionSample) -> list[_Site]:
    """Where a bug can go in a JavaScript, TypeScript, Go or Rust function: identifiers it
    uses that it also declares (names), lines ending in a call's ``)`` (syntax)."""
    source = text.encode("utf-8", syntax.UTF8_ERRORS)
    root = syntax.get_parser(language).parse(source).root_node
    lines = text.split("\n")
    declares = _DECLARES[language]
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

    declared = {name_of(n) for n in idents if declares(n)}
    sites: list[_Site] = []
    for node in idents:
        name = name_of(node)
        if (
            name not in declared
            or declares(node)
            or not _is_use(language, node)
            or node.start_point[0] <= sample.line
        ):
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


def javascript_sites(text: str, sample: FunctionSample) -> list[_Site]:
    return tree_sites("javascript", text, sample)


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


# What each language's usual server says of an undefined name: (message, source, code).
_UNDEFINED: dict[str, tuple[str, str, str]] = {
    # ESLint's rule no-undef (eslint/lib/rules/no-undef.js, message "undef").
    "javascript": ("'{name}' is not defined.", "eslint", "no-undef"),
    # TypeScript's diagnosticMessages.json, "Cannot find name '{0}'." (2304); tsserver's
    # diagnostics have the source "ts".
    "typescript": ("Cannot find name '{name}'.", "ts", "2304"),
    # go/types' "undefined: %s" (code UndeclaredName), which gopls shows as source
    # "compiler".
    "go": ("undefined: {name}", "compiler", "UndeclaredName"),
    # rustc_resolve's E0425, as rustc printed it here for a snippet; rust-analyzer shows
    # cargo check's diagnostics with the source "rustc".
    "rust": ("cannot find value `{name}` in this scope", "rustc", "E0425"),
}
_CALLED = "cannot find function `{name}` in this scope"  # E0425 on a callee
# Where tree-sitter has no verdict of a compiler's, the first error it finds is said with
# this source: a fix that leaves it is not a fix, but it is not sent as a bug's diagnostic.
TREE_SITTER = "tree-sitter"
_OPENERS = {"(": ")", "[": "]", "{": "}"}


def _undefined_name(language: str, text: str, name: str) -> list[Diagnostic]:
    """The undefined-name diagnostic on every occurrence of ``name`` in ``text`` (one
    bound nowhere in the file: a regular expression finds them, no parse is needed)."""
    message, source, code = _UNDEFINED[language]
    found = []
    for row, line in enumerate(text.split("\n")):
        for m in re.finditer(rf"(?<![\w$.]){re.escape(name)}(?![\w$])", line):
            said = message
            if language == "rust" and line[m.end() :].lstrip().startswith("("):
                said = _CALLED
            found.append(
                Diagnostic(
                    row,
                    _utf16(line[: m.start()]),
                    row,
                    _utf16(line[: m.end()]),
                    said.format(name=name),
                    source,
                    code,
                )
            )
    return found


def _first_error(node: Node) -> Node | None:
    """The first ERROR or MISSING node under ``node``, in the text's order."""
    if node.is_error or node.is_missing:
        return node
    if not node.has_error:
        return None
    for child in node.children:
        found = _first_error(child)
        if found is not None:
            return found
    return None


def _leaves(node: Node) -> list[Node]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if current.child_count == 0:
            found.append(current)
        stack.extend(reversed(current.children))
    return found


def _rust_unclosed(source: bytes, root: Node) -> tuple[Node, str] | None:
    """rustc's lexer matches every bracket before it parses: the first ``(``/``[``/``{``
    whose closer is of another kind, and that closer (None: they all match)."""
    opened: list[Node] = []
    for leaf in _leaves(root):
        token = source[leaf.start_byte : leaf.end_byte].decode("utf-8", "replace")
        if leaf.is_missing or leaf.parent is None or leaf.parent.type.endswith("comment"):
            continue
        if token in _OPENERS:
            opened.append(leaf)
        elif token in _OPENERS.values() and opened:
            last = opened.pop()
            if _OPENERS[source[last.start_byte : last.end_byte].decode()] != token:
                return last, token
    return None


def _point_diagnostic(
    text: str, row: int, byte_col: int, end_byte_col: int, message: str, source: str, code: str
) -> Diagnostic:
    line = text.split("\n")[row].encode("utf-8", syntax.UTF8_ERRORS)
    start = _utf16(line[:byte_col].decode("utf-8", "replace"))
    end = _utf16(line[:end_byte_col].decode("utf-8", "replace"))
    return Diagnostic(row, start, row, max(end, start + 1), message, source, code)


def _go_newline(source: bytes, error: Node) -> int | None:
    """Where go/parser meets a call's or a parenthesis' missing ``)``: at the newline
    ending the line, when that line gets an automatic semicolon (it ends in a name, a
    literal or a closing bracket) and tree-sitter's error starts on it inside the
    brackets (None: go/parser would stop elsewhere, on a token of another line)."""
    if error.parent is None or error.parent.type not in {
        "argument_list",
        "parenthesized_expression",
    }:
        return None
    line_start = source.rfind(b"\n", 0, error.start_byte) + 1
    line_end = source.find(b"\n", error.start_byte)
    line_end = len(source) if line_end < 0 else line_end
    if not source[line_start : error.start_byte].strip():
        return None  # the brackets were opened on a line before: the error is not at its end
    before = source[:line_end].rstrip(b" \t")
    if chr(before[-1]).isalnum() or chr(before[-1]) in "_\"'`)]}":
        return line_end
    return None


def tree_syntax_error(language: str, text: str) -> Diagnostic | None:
    """The syntax error of a TypeScript, Go or Rust file, placed by a tree-sitter parse,
    with the message that language's compiler gives for a missing ``)`` there (None: the
    file parses)."""
    source = text.encode("utf-8", syntax.UTF8_ERRORS)
    root = syntax.get_parser(language).parse(source).root_node
    if not root.has_error:
        return None
    if language == "rust":
        unclosed = _rust_unclosed(source, root)
        if unclosed is not None:
            # rustc's lexer: "mismatched closing delimiter: `}`", its first primary span
            # (the header's position) on the delimiter left open.
            opener, closer = unclosed
            row, col = opener.start_point
            message = f"mismatched closing delimiter: `{closer}`"
            return _point_diagnostic(text, row, col, col + 1, message, "rustc", "")
    error = _first_error(root)
    assert error is not None  # has_error holds
    row, col = error.start_point
    end = error.end_point[1] if error.end_point[0] == row else col + 1
    inside = error.parent.type if error.parent is not None else ""
    if language == "typescript" and error.is_missing and error.type == ")":
        # TypeScript's diagnosticMessages.json, "'{0}' expected." (1005), where the
        # parser wanted the ")".
        return _point_diagnostic(text, row, col, col + 1, "')' expected.", "ts", "1005")
    newline = _go_newline(source, error) if language == "go" else None
    if newline is not None:
        # go/parser (parser.go, expectClosing and expect); gopls shows parse errors with
        # the source "syntax".
        message = (
            "missing ',' before newline in argument list"
            if inside == "argument_list"
            else "expected ')', found newline"
        )
        line_start = source.rfind(b"\n", 0, newline) + 1
        return _point_diagnostic(
            text, row, newline - line_start, newline - line_start, message, "syntax", ""
        )
    return _point_diagnostic(text, row, col, end, "syntax error", TREE_SITTER, "")


def diagnose(language: str, kind: str, text: str, name: str = "") -> list[Diagnostic]:
    """What the editor would report for a bug of ``kind`` in ``text``: the syntax error,
    or the undefined name ``name`` (Python: ruff's F821; the others: their server's
    message, worked out here)."""
    if language == "python":
        error = python_syntax_error(text)
        if error is not None:
            return [error]
        if kind == "name":
            return [d for d in ruff_undefined_names(text) if not name or f"`{name}`" in d.message]
        return []
    if language == "javascript":
        error = node_check(text, _js_is_module(text))
    else:
        error = tree_syntax_error(language, text)
    if error is not None:
        return [error]
    if kind == "name" and name:
        return _undefined_name(language, text, name)
    return []


# --- choosing the bug ------------------------------------------------------------------------


def candidate_bugs(
    language: str, text: str, sample: FunctionSample, seed: int
) -> list[tuple[_Site, str, str]]:
    """(site, the line with the bug, what changed), in a seeded order that alternates
    the kinds. Pure."""
    if language == "python":
        sites = python_sites(text, sample)
    else:
        sites = tree_sites(language, text, sample)
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
            if sample.line <= d.line <= sample.end_line and d.source != TREE_SITTER
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
