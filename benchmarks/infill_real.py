"""Holes of every shape in real files, with the cursor where editors put it (issue 17).

The tasks of benchmarks/eval_infill_real.py; importable on its own (no model, no server).

Sources: real files of this machine nobody on the project wrote, found the way the action
benchmark finds them (benchmarks/action_corpus.py: the Python standard library, npm's
JavaScript, TypeScript where an editor's node_modules has some, Go and Rust), plus C
(the examples the typing benchmark retypes, benchmarks/typing_sources.py, and their
neighbours). A function is what action_corpus.find_functions finds (5 to 60 lines, in a
file that parses cleanly); C, which it does not know, gets the same rule here.

Shapes, each a hole inside one of those functions:
  line      one whole line: a statement alone on its line
  partial   part of a line: a span from a token boundary after the line's first token,
            either to another token boundary before its last one (code after the cursor)
            or to the end of the line
  lines     2 to 4 consecutive statements in the middle of a block (at least one statement
            of that block stays before or after them)
  body      the whole body of a block inside the function (if/for/while/try/with, a nested
            closure...), 2 to 12 lines
  function  the whole body of the function after its signature (docstring included),
            2 to 20 lines

Cursor kinds (what fits each shape, CURSORS_OF):
  indent    on the hole's first line after its indentation (the editor auto-indented it)
  column0   at column 0 of that line: a blank line whose whitespace was stripped (the hole
            holds the indentation)
  eol       at the end of a line: the line before the hole (the block's header, the
            signature) for whole-line shapes (the hole starts with the newline), the end of
            the line for a partial hole (its tail)
  mid       in the middle of a line with code after it (partial holes)

A partial hole never ends inside a word or right before one: the server gives nothing
there on purpose (a suggestion would splice into the identifier), so such a hole would
measure that decision, not the suggestion.

Everything is seeded: the same seed and files give the same holes on every run.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tree_sitter import Node

from benchmarks import action_corpus
from benchmarks.infill_tasks import Kind
from qwen_lsp import syntax

Shape = Literal["line", "partial", "lines", "body", "function"]
Cursor = Literal["indent", "column0", "eol", "mid"]
SHAPES: tuple[Shape, ...] = ("line", "partial", "lines", "body", "function")
CURSORS: tuple[Cursor, ...] = ("indent", "column0", "eol", "mid")
CURSORS_OF: dict[Shape, tuple[Cursor, ...]] = {
    "line": ("indent", "column0"),
    "partial": ("mid", "eol"),
    "lines": ("indent", "column0"),
    "body": ("indent", "column0", "eol"),
    "function": ("indent", "column0", "eol"),
}
LANGUAGES = ("python", "javascript", "go", "rust", "c")
EXTENSIONS = {
    "python": ".py",
    "javascript": ".js",
    "typescript": ".ts",
    "go": ".go",
    "rust": ".rs",
    "c": ".c",
}
RUN_LINES = (2, 4)  # statements in a "lines" hole
BODY_LINES = (2, 12)
FUNCTION_LINES = (2, 20)
MAX_RUN_LINES = 12

# Where statements are listed, per language (Go lists them in a statement_list inside).
BLOCKS: dict[str, frozenset[str]] = {
    "python": frozenset({"block"}),
    "javascript": frozenset({"statement_block"}),
    "typescript": frozenset({"statement_block"}),
    "go": frozenset({"block"}),
    "rust": frozenset({"block"}),
    "c": frozenset({"compound_statement"}),
}
# Function nodes whose bodies are "function" holes, not "body" holes.
_DEFINITIONS = frozenset(
    {
        "function_definition",
        "class_definition",
        "function_declaration",
        "generator_function_declaration",
        "method_definition",
        "method_declaration",
        "function_item",
    }
)
C_FILES = (
    "/usr/share/doc/zlib1g-dev/examples/*.c",
    "/usr/share/doc/*/examples/*.c",
    "/usr/include/X11/Xtrans/*.c",
)
_IDENTIFIER = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class Task:
    """One hole with its cursor: ``prefix + hole + suffix`` is the file as it is."""

    id: str  # "python/lines/indent/textwrap.py:123:4"
    language: str
    shape: Shape
    cursor: Cursor
    path: str
    prefix: str
    hole: str
    suffix: str
    indent: int  # columns (tabs as 4) of the hole's first line: the raw indentation cut's

    @property
    def kind(self) -> Kind:
        """The generation budget's class (the raw model's 128 or 256 tokens)."""
        return "line" if self.shape in ("line", "partial") else "block"

    @property
    def language_id(self) -> str:
        return self.language

    @property
    def extension(self) -> str:
        return EXTENSIONS[self.language]

    def program(self, completion: str) -> str:
        return self.prefix + completion + self.suffix

    @property
    def reference(self) -> str:
        return self.prefix + self.hole + self.suffix


@dataclass(frozen=True)
class Site:
    """Where a hole is, before a cursor is chosen: whole lines first..last (0-based), or for
    a partial hole the code-point columns of its span on line ``first``."""

    language: str
    shape: Shape
    path: str
    first: int
    last: int
    start_col: int = 0
    mid_end_col: int = -1  # -1: no token boundary fits before the line's last token
    eol_col: int = -1
    above_blank: bool = False  # the line above the hole is blank: no end-of-line cursor

    @property
    def key(self) -> tuple[str, int, int, int]:
        return (self.path, self.first, self.last, self.start_col)


# --------------------------------------------------------------------------- finding holes


def _width(indentation: str) -> int:
    return len(indentation.expandtabs(4))


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _col(line: str, byte_col: int) -> int:
    """Code-point column of a UTF-8 byte column of ``line``."""
    return len(line.encode("utf-8", syntax.UTF8_ERRORS)[:byte_col].decode("utf-8", "replace"))


def _c_functions(root: Node) -> Iterator[Node]:
    for node in _walk(root):
        if node.type == "function_definition":
            lines = node.end_point[0] - node.start_point[0] + 1
            if action_corpus.MIN_LINES <= lines <= action_corpus.MAX_LINES:
                yield node


def _walk(root: Node) -> Iterator[Node]:
    stack = [root]
    while stack:
        node = stack.pop()
        stack.extend(reversed(node.children))
        yield node


def function_nodes(language: str, text: str, root: Node) -> list[Node]:
    """The functions action_corpus.find_functions finds (C: the same length rule)."""
    if language == "c":
        return [] if root.has_error else list(_c_functions(root))
    found = action_corpus.find_functions(language, text, "")
    wanted = {(f.line, f.end_line) for f in found}
    kinds = action_corpus.FUNCTION_NODES[language]
    nodes = []
    for node in _walk(root):
        name = node.child_by_field_name("name")
        if node.type in kinds and name is not None:
            if (name.start_point[0], node.end_point[0]) in wanted:
                nodes.append(node)
    return nodes


def _statements(block: Node) -> list[Node]:
    children = [c for c in block.named_children if c.type != "comment"]
    if len(children) == 1 and children[0].type == "statement_list":  # Go
        children = [c for c in children[0].named_children if c.type != "comment"]
    return [c for c in children if "comment" not in c.type]


def _whole_lines(lines: list[str], start: Node, end: Node) -> bool:
    """Whether ``start``..``end`` alone fill their lines (only blanks around them)."""
    first, first_col = start.start_point
    last, last_col = end.end_point
    before = lines[first].encode("utf-8", syntax.UTF8_ERRORS)[:first_col]
    after = lines[last].encode("utf-8", syntax.UTF8_ERRORS)[last_col:]
    return not before.strip() and not after.strip()


def _body_rows(language: str, lines: list[str], block: Node) -> tuple[int, int] | None:
    """The rows of a block's inside, trimmed of blank lines: None when the block shares a
    line with its header's code or its closing brace (``if x: y``, ``{ return 1 }``)."""
    if language == "python":
        first, last = block.start_point[0], block.end_point[0]
        if not _whole_lines(lines, block, block) or first == 0 or not lines[first - 1].strip():
            return None
    else:
        opening, closing = block.start_point, block.end_point
        open_line = lines[opening[0]].encode("utf-8", syntax.UTF8_ERRORS)
        close_line = lines[closing[0]].encode("utf-8", syntax.UTF8_ERRORS)
        if open_line[opening[1] + 1 :].strip() or close_line[: closing[1] - 1].strip():
            return None
        first, last = opening[0] + 1, closing[0] - 1
    while first <= last and not lines[first].strip():
        first += 1
    while last >= first and not lines[last].strip():
        last -= 1
    return (first, last) if first <= last else None


def find_sites(language: str, text: str, path: str) -> list[Site]:
    """Every hole of every shape in the functions of ``text`` (the cursor not chosen yet)."""
    if "\r" in text or not action_corpus.usable_text(text):
        return []
    root = syntax.get_parser(language).parse(text.encode("utf-8", syntax.UTF8_ERRORS)).root_node
    lines = text.split("\n")
    sites: set[Site] = set()
    block_types = BLOCKS[language]
    for function in function_nodes(language, text, root):
        body = function.child_by_field_name("body")
        if body is None:
            continue
        rows = _body_rows(language, lines, body)
        if rows and FUNCTION_LINES[0] <= rows[1] - rows[0] + 1 <= FUNCTION_LINES[1]:
            sites.add(_lines_site(language, "function", path, lines, *rows))
        for block in _walk(body):
            if block.type not in block_types:
                continue
            parent = block.parent
            if block != body and parent is not None and parent.type not in _DEFINITIONS:
                rows = _body_rows(language, lines, block)
                if rows and BODY_LINES[0] <= rows[1] - rows[0] + 1 <= BODY_LINES[1]:
                    sites.add(_lines_site(language, "body", path, lines, *rows))
            sites.update(_statement_sites(language, lines, path, _statements(block)))
    return sorted(sites, key=lambda s: (s.shape, s.key))


def _lines_site(
    language: str, shape: Shape, path: str, lines: list[str], first: int, last: int
) -> Site:
    above_blank = first == 0 or not lines[first - 1].strip()
    return Site(language, shape, path, first, last, above_blank=above_blank)


def _statement_sites(
    language: str, lines: list[str], path: str, statements: list[Node]
) -> Iterator[Site]:
    for i, statement in enumerate(statements):
        row = statement.start_point[0]
        if row == statement.end_point[0] and _whole_lines(lines, statement, statement):
            yield Site(language, "line", path, row, row)
            partial = _partial_site(language, lines, path, statement)
            if partial is not None:
                yield partial
        for count in range(RUN_LINES[0], RUN_LINES[1] + 1):
            j = i + count - 1
            if j >= len(statements) or (i == 0 and j == len(statements) - 1):
                continue
            first, last = statement.start_point[0], statements[j].end_point[0]
            if last - first + 1 <= MAX_RUN_LINES and _whole_lines(lines, statement, statements[j]):
                yield Site(language, "lines", path, first, last)


def _leaves(node: Node) -> list[Node]:
    return [n for n in _walk(node) if n.child_count == 0 and n.end_byte > n.start_byte]


def _partial_site(language: str, lines: list[str], path: str, statement: Node) -> Site | None:
    """A partial hole on a one-line statement: its start a token start after the first
    token, its ends chosen by the statement's position (seeded per site)."""
    row = statement.start_point[0]
    line = lines[row]
    leaves = [leaf for leaf in _leaves(statement) if leaf.start_point[0] == row]
    if len(leaves) < 3:
        return None
    rng = random.Random(f"{path}:{row}")
    starts = [_col(line, leaf.start_point[1]) for leaf in leaves[1:-1]]
    start = rng.choice(starts)
    last_end = _col(line, leaves[-1].end_point[1])
    ends = [
        col
        for col in (_col(line, leaf.end_point[1]) for leaf in leaves)
        if start < col < last_end and not _IDENTIFIER.match(line[col]) and line[start:col].strip()
    ]
    mid = rng.choice(ends) if ends else -1
    eol = len(line.rstrip())
    return Site(language, "partial", path, row, row, start, mid, eol)


# --------------------------------------------------------------------------- cursors


def cursors(site: Site) -> tuple[Cursor, ...]:
    """The cursor kinds this hole gets (a partial hole without room before its last token
    has no ``mid``)."""
    kinds = CURSORS_OF[site.shape]
    if site.shape == "partial" and site.mid_end_col < 0:
        return tuple(k for k in kinds if k != "mid")
    if site.above_blank:
        return tuple(k for k in kinds if k != "eol")
    return kinds


def make_task(text: str, site: Site, cursor: Cursor) -> Task:
    """The task of ``site`` with the cursor ``cursor`` (one of cursors(site))."""
    if cursor not in cursors(site):
        raise ValueError(f"a {site.shape} hole has no {cursor} cursor")
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)
    first_line = lines[site.first]
    indentation = _indentation(first_line)
    name = Path(site.path).name
    task_id = f"{site.language}/{site.shape}/{cursor}/{name}:{site.first + 1}"
    if site.shape == "partial":
        line_start = starts[site.first]
        start = line_start + site.start_col
        end = line_start + (site.mid_end_col if cursor == "mid" else site.eol_col)
        task_id += f":{site.start_col}"
    else:
        end = starts[site.last] + len(lines[site.last])
        start = {
            "indent": starts[site.first] + len(indentation),
            "column0": starts[site.first],
            "eol": starts[site.first] - 1,  # the newline ending the line above
        }[cursor]
    return Task(
        id=task_id,
        language=site.language,
        shape=site.shape,
        cursor=cursor,
        path=site.path,
        prefix=text[:start],
        hole=text[start:end],
        suffix=text[end:],
        indent=_width(indentation),
    )


# --------------------------------------------------------------------------- the corpus


def candidate_files(language: str) -> list[Path]:
    if language != "c":
        return action_corpus.candidate_files(language)
    return action_corpus._glob(C_FILES)


def load_files(language: str, globs: Sequence[str] | None = None) -> dict[str, str]:
    """The language's usable files by path, each content once (two toolchains' copies):
    from its usual sources, or from the files ``globs`` match (relative ones from the
    current folder)."""
    seen: set[str] = set()
    files: dict[str, str] = {}
    paths = candidate_files(language) if globs is None else _matching(globs)
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        digest = hashlib.sha256(text.encode()).hexdigest()
        if digest not in seen:
            seen.add(digest)
            files[str(path)] = text
    return files


def _matching(globs: Sequence[str]) -> list[Path]:
    found: list[Path] = []
    for pattern in globs:
        path = Path(pattern).expanduser()
        if path.is_absolute():
            found.extend(action_corpus._glob([pattern]))
        else:
            found.extend(sorted(p for p in Path.cwd().glob(pattern) if p.is_file()))
    return found


def choose(sites: Sequence[Site], count: int, seed: int | str) -> list[Site]:
    """``count`` sites chosen with ``seed`` (all when there are fewer), in a stable order."""
    ordered = sorted(sites, key=lambda s: s.key)
    if count <= 0 or len(ordered) <= count:
        return ordered
    chosen = random.Random(str(seed)).sample(range(len(ordered)), count)
    return [ordered[i] for i in sorted(chosen)]


def build_tasks(
    files: dict[str, str],
    language: str,
    per_shape: int,
    seed: int,
    shapes: Iterable[Shape] = SHAPES,
    cursor_kinds: Iterable[Cursor] = CURSORS,
) -> tuple[list[Task], dict[str, int]]:
    """``per_shape`` holes of each shape, seeded, each with every cursor kind that fits it;
    and how many holes of each shape there were to choose from."""
    sites: list[Site] = []
    for path in sorted(files):
        sites.extend(find_sites(language, files[path], path))
    wanted = set(cursor_kinds)
    tasks: list[Task] = []
    counts: dict[str, int] = {}
    for shape in shapes:
        of_shape = [s for s in sites if s.shape == shape]
        counts[shape] = len(of_shape)
        for site in choose(of_shape, per_shape, f"{seed}:{language}:{shape}"):
            for cursor in cursors(site):
                if cursor in wanted:
                    tasks.append(make_task(files[site.path], site, cursor))
    return tasks, counts
