"""The corpus of the action success-rate benchmark (benchmarks/bench_action_success.py).

Real functions of 5 to 60 lines from files of this machine that nobody on the project
wrote: the Python standard library, npm's JavaScript (and TypeScript, where an editor's
node_modules has some), the Go and Rust files the typing benchmark retypes
(benchmarks/typing_sources.py). tree-sitter finds the functions; a seeded sample of them
is taken per language. Finding the files reads the disk; the rest is pure.
"""

from __future__ import annotations

import hashlib
import random
import sysconfig
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from qwen_lsp import syntax

MIN_LINES, MAX_LINES = 5, 60
# Files with lines this long are generated or minified: not code a user edits.
MAX_LINE_CHARS = 240
MAX_FILE_BYTES = 400_000

# What a function is, per language (the node an action's target is when the cursor is on
# its name). Classes, types and whole impl blocks are left out: the issue asks about
# functions.
FUNCTION_NODES: dict[str, frozenset[str]] = {
    "python": frozenset({"function_definition"}),
    "javascript": frozenset(
        {"function_declaration", "generator_function_declaration", "method_definition"}
    ),
    "typescript": frozenset({"function_declaration", "method_definition"}),
    "go": frozenset({"function_declaration", "method_declaration"}),
    "rust": frozenset({"function_item"}),
}
LANGUAGE_IDS = {
    "python": "python",
    "javascript": "javascript",
    "typescript": "typescript",
    "go": "go",
    "rust": "rust",
}
# Nodes that wrap a function and belong to it (its target starts there).
_WRAPPERS = frozenset({"decorated_definition", "export_statement"})


@dataclass(frozen=True)
class FunctionSample:
    """One function to run the actions on: its file and where its name is."""

    language: str
    path: str
    name: str
    line: int  # 0-based line of the name
    utf16_col: int  # LSP column of the name
    start_line: int  # 0-based first line of the function (decorators included)
    end_line: int  # 0-based last line

    @property
    def lines(self) -> int:
        return self.end_line - self.start_line + 1

    @property
    def language_id(self) -> str:
        return LANGUAGE_IDS[self.language]

    def describe(self) -> dict[str, object]:
        return {
            "language": self.language,
            "path": self.path,
            "name": self.name,
            "line": self.line + 1,
            "lines": self.lines,
            "start_line": self.start_line + 1,
        }


def _utf16_col(line_text: str, code_points: int) -> int:
    return len(line_text[:code_points].encode("utf-16-le")) // 2


def find_functions(language: str, text: str, path: str = "") -> list[FunctionSample]:
    """The functions of ``text`` whose length is within [MIN_LINES, MAX_LINES], in order.

    A file that does not parse cleanly gives none: an action's check compares syntax
    errors before and after, and a broken file would blur what is measured.
    """
    kinds = FUNCTION_NODES[language]
    source = text.encode("utf-8", syntax.UTF8_ERRORS)
    tree = syntax.get_parser(language).parse(source)
    root = tree.root_node
    if root.has_error:
        return []
    lines = text.split("\n")
    found: list[FunctionSample] = []
    stack = [root]
    while stack:
        node = stack.pop()
        stack.extend(reversed(node.children))
        if node.type not in kinds:
            continue
        name = node.child_by_field_name("name")
        if name is None:
            continue
        outer = node
        while outer.parent is not None and outer.parent.type in _WRAPPERS:
            outer = outer.parent
        start_line, end_line = outer.start_point[0], node.end_point[0]
        if not MIN_LINES <= end_line - start_line + 1 <= MAX_LINES:
            continue
        row, byte_col = name.start_point
        line_text = lines[row]
        col = len(line_text.encode("utf-8", syntax.UTF8_ERRORS)[:byte_col].decode("utf-8"))
        found.append(
            FunctionSample(
                language,
                path,
                source[name.start_byte : name.end_byte].decode("utf-8", syntax.UTF8_ERRORS),
                row,
                _utf16_col(line_text, col),
                start_line,
                end_line,
            )
        )
    return found


def usable_text(text: str) -> bool:
    """Whether a file reads like hand-written code (not minified, not huge)."""
    if len(text.encode("utf-8", "replace")) > MAX_FILE_BYTES:
        return False
    return all(len(line) <= MAX_LINE_CHARS for line in text.split("\n"))


def sample(functions: Iterable[FunctionSample], count: int, seed: int) -> list[FunctionSample]:
    """``count`` functions chosen with ``seed`` (all when there are fewer), in a stable
    order: the same seed and files give the same sample on every machine run."""
    ordered = sorted(functions, key=lambda f: (f.path, f.line, f.name))
    if len(ordered) <= count:
        return ordered
    chosen = random.Random(seed).sample(range(len(ordered)), count)
    return [ordered[i] for i in sorted(chosen)]


# --- the files of this machine ---------------------------------------------------------------


def _glob(patterns: Iterable[str]) -> list[Path]:
    found: list[Path] = []
    for pattern in patterns:
        path = Path(pattern).expanduser()
        anchor = Path(path.anchor)
        found.extend(sorted(p for p in anchor.glob(str(path.relative_to(anchor))) if p.is_file()))
    return found


# Debian packages that put Go's and Rust's sources on a machine (the registry the project
# installs from): `apt-get install golang-src librust-regex-dev librust-serde-dev`.
GO_RUST_SOURCES = "golang-src librust-regex-dev librust-serde-dev"
_GO_ROOTS = ("/usr/lib/go*", "/usr/local/go")
_GO_PACKAGES = ("strings", "bytes", "strconv", "sort", "path", "bufio", "text/tabwriter")


def candidate_files(language: str) -> list[Path]:
    """Where each language's code is looked for (absent places are skipped)."""
    stdlib = sysconfig.get_paths()["stdlib"]
    editors = "~/.cache/qwen-lsp/editors/**/node_modules"
    patterns = {
        "python": [f"{stdlib}/*.py"],
        "javascript": [
            "/usr/lib/node_modules/npm/lib/**/*.js",
            "/usr/lib/node_modules/npm/node_modules/*/lib/**/*.js",
            "/usr/local/lib/node_modules/npm/lib/**/*.js",
        ],
        "typescript": [f"{editors}/**/src/**/*.ts", "/usr/lib/node_modules/**/src/**/*.ts"],
        # Go's and Rust's come from Debian where they are installed (GO_RUST_SOURCES).
        "go": [
            "/usr/share/doc/git/contrib/**/*.go",
            *(f"{go}/src/{package}/*.go" for go in _GO_ROOTS for package in _GO_PACKAGES),
        ],
        "rust": [
            "~/.rustup/toolchains/*/share/doc/rust/html/error_codes/main.rs",
            "~/.rustup/toolchains/*/lib/rustlib/src/rust/library/core/src/str/*.rs",
            "/usr/share/cargo/registry/*/src/**/*.rs",
        ],
    }[language]
    files = _glob(patterns)
    return [
        f
        for f in files
        if not f.name.endswith((".d.ts", ".min.js", "_test.go"))
        and "/test/" not in str(f)
        and not f.name.startswith("__")
    ]


def load_corpus(
    languages: Iterable[str], per_language: int, seed: int
) -> tuple[list[FunctionSample], dict[str, str]]:
    """The seeded sample per language, and for each language how many functions it was
    taken from (or why there are none)."""
    samples: list[FunctionSample] = []
    notes: dict[str, str] = {}
    for language in languages:
        seen: set[str] = set()  # the same file twice (two toolchains) counts once
        functions: list[FunctionSample] = []
        files = candidate_files(language)
        for path in files:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            digest = hashlib.sha256(text.encode()).hexdigest()
            if digest in seen or not usable_text(text):
                continue
            seen.add(digest)
            functions.extend(find_functions(language, text, str(path)))
        chosen = sample(functions, per_language, seed)
        samples.extend(chosen)
        notes[language] = (
            f"{len(chosen)} of {len(functions)} functions in {len(seen)} files"
            if functions
            else "no such files on this machine"
        )
        if language in ("go", "rust") and len(functions) < per_language:
            notes[language] += f" (more: apt-get install {GO_RUST_SOURCES})"
    return samples, notes
