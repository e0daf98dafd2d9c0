"""Cross-file context: code from other files, put before the FIM prompt as a repository.

Two sources, both from documents the editor has open (the server reads no files):

- recent edits: a small ring of chunks (a few dozen lines around each edit) of other
  files, the code the user is working on elsewhere;
- definitions: functions, classes, types and methods of other open documents whose names
  appear near the cursor or in the current file's imports, found with their syntax trees.

They are written in Qwen2.5-Coder's repository-level layout, which it was trained on::

    <|repo_name|>{repo}
    <|file_sep|>{path}
    {code}
    <|file_sep|>{current path}
    <|fim_prefix|>...

The header sits at the very start of the prompt, so the KV cache keeps it only while it
does not change. Everything that decides it is chosen to move rarely: the ring changes
when another file is edited, the names near the cursor come from a snapped block of
lines that leaves out the cursor line itself (typing there changes nothing), and the
chosen snippets are written in an order that does not depend on their ranking (files by
path, snippets by line). With nothing to add the header is empty and the prompt is the
single-file one, byte for byte.
"""

from __future__ import annotations

import posixpath
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from tree_sitter import Node

from lsp_server import languages
from lsp_server.context import is_import_line
from lsp_server.documents import Snapshot
from lsp_server.engine import FimTokens, PromptPart, Special
from lsp_server.languages import Definitions

# A chunk of the ring: lines around an edit, starting at a multiple of CHUNK_STEP so that
# edits close together land in the same chunk (it is replaced, not added again).
CHUNK_LINES = 16
CHUNK_STEP = 8
RING_CAPACITY = 8
# One busy file must not push every other file's chunks out of the ring.
CHUNKS_PER_FILE = 3
# Share of lines two texts have in common above which one is a near-copy of the other:
# such a chunk only makes the model repeat code that is already on screen.
NEAR_COPY = 0.6

# Names near the cursor are taken from blocks of NAME_SNAP lines counted from the top of
# the file: moving the cursor within its block keeps the same names, hence the same header
# (and the KV cache behind it).
NAME_SNAP = 16
# A definition is shown whole up to this many lines; a longer one as its head (signature
# and first lines), a longer class as an outline (method bodies left out).
WHOLE_DEFINITION_LINES = 14
HEAD_LINES = 6
OUTLINE_LINES = 24
DEFINITIONS_PER_NAME = 2
MIN_NAME_LENGTH = 3
ELIDED = "..."

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Keywords and names every file uses: never a definition worth the budget.
_COMMON = frozenset(
    """and async await break case catch class const continue def default defer delete elif
    else enum export extends false final finally for from func function go impl import in
    interface let match mod new nil none not null package pass private protected pub public
    raise return self static struct super switch this throw true try type typeof use var
    void while with yield None True False int str float bool list dict set tuple string
    """.split()
)


# --------------------------------------------------------------------------- the ring


@dataclass(frozen=True)
class Chunk:
    """Lines ``start_line`` .. of one document, as they were after an edit."""

    uri: str
    start_line: int
    lines: tuple[str, ...]

    @property
    def end_line(self) -> int:  # exclusive
        return self.start_line + len(self.lines)


def _meaningful(lines: Iterable[str]) -> set[str]:
    return {stripped for line in lines if len(stripped := line.strip()) > 2}


def similarity(a: Iterable[str], b: Iterable[str]) -> float:
    """Share of distinctive lines (stripped, longer than two characters) the two texts have
    in common, relative to the smaller: 1.0 when one is contained in the other."""
    lines_a, lines_b = _meaningful(a), _meaningful(b)
    if not lines_a or not lines_b:
        return 0.0
    return len(lines_a & lines_b) / min(len(lines_a), len(lines_b))


class RecentChunks:
    """A bounded ring of chunks around recent edits, newest last.

    Written from the event loop (didChange), read from the model worker: the ring is an
    immutable tuple swapped under a lock, so a reader always sees a consistent one.
    """

    def __init__(
        self,
        capacity: int = RING_CAPACITY,
        chunk_lines: int = CHUNK_LINES,
        per_file: int = CHUNKS_PER_FILE,
    ) -> None:
        self._capacity = capacity
        self._chunk_lines = chunk_lines
        self._per_file = per_file
        self._chunks: tuple[Chunk, ...] = ()
        self._lock = threading.Lock()

    def chunks(self) -> tuple[Chunk, ...]:
        return self._chunks

    def record(self, uri: str, lines: Sequence[str], edited_line: int) -> None:
        """Remember the lines around ``edited_line`` of a document (all its lines given)."""
        if not lines:
            return
        # the edit near the chunk's top: what follows an edited line (a body) says more
        start = max(0, (edited_line - self._chunk_lines // 4) // CHUNK_STEP * CHUNK_STEP)
        start = min(start, max(0, len(lines) - self._chunk_lines) // CHUNK_STEP * CHUNK_STEP)
        chunk = Chunk(uri, start, tuple(lines[start : start + self._chunk_lines]))
        if not _meaningful(chunk.lines):
            return  # blank lines say nothing
        with self._lock:
            kept = [
                old
                for old in self._chunks
                # the same region of the same file (it changed), or a near-copy elsewhere
                if not (old.uri == uri and _overlaps(old, chunk))
                and similarity(old.lines, chunk.lines) < NEAR_COPY
            ]
            kept.append(chunk)
            same_file = [c for c in kept if c.uri == uri]
            for old in same_file[: max(0, len(same_file) - self._per_file)]:
                kept.remove(old)
            self._chunks = tuple(kept[-self._capacity :])

    def forget(self, uri: str) -> None:
        with self._lock:
            self._chunks = tuple(c for c in self._chunks if c.uri != uri)


def _overlaps(a: Chunk, b: Chunk) -> bool:
    return a.start_line < b.end_line and b.start_line < a.end_line


# --------------------------------------------------------------------------- definitions


@dataclass(frozen=True)
class Definition:
    name: str
    start_line: int  # tree-sitter rows (lines ended by "\n")
    end_line: int  # inclusive
    lines: tuple[str, ...]  # what the prompt shows
    top_level: bool
    whole: bool = True  # False: an outline or a head, some of its lines left out


MAX_DEPTH = 6


def _node_name(node: Node, rules: Definitions) -> str:
    named = node.child_by_field_name("name")
    if named is not None:
        if named.type in rules.qualified_names and named.named_child_count:
            named = named.named_children[-1]  # `M.total` goes by `total`
        return (named.text or b"").decode("utf-8", "replace")
    # C and C++ functions: the name is at the end of a chain of declarators
    declarator = node.child_by_field_name("declarator")
    while declarator is not None:
        if declarator.type in ("identifier", "field_identifier", "qualified_identifier"):
            return (declarator.text or b"").decode("utf-8", "replace")
        declarator = declarator.child_by_field_name("declarator")
    return ""


def _shown_node(node: Node) -> Node:
    """The node whose text shows a definition: with its decorators, its `type` keyword,
    its `const` declaration."""
    parent = node.parent
    if parent is not None and parent.type in (
        "decorated_definition",
        "type_declaration",
        "lexical_declaration",
        "variable_declaration",
    ):
        if parent.named_child_count == 1 or parent.type == "decorated_definition":
            return parent
    return node


def _body(node: Node, rules: Definitions) -> Node | None:
    body = node.child_by_field_name("body")
    if body is None and rules.bodies:
        body = next((c for c in node.named_children if c.type in rules.bodies), None)
    return body


def definitions(snapshot: Snapshot) -> list[Definition]:
    """The definitions of a document, in file order (empty without a tree or a language)."""
    spec = languages.find(snapshot.language)
    if snapshot.tree is None or spec is None:
        return []
    rules = spec.definitions
    lines = snapshot.text.split("\n")
    found: list[Definition] = []

    def visit(node: Node, depth: int, header: str | None) -> None:
        for child in node.named_children:
            kind = child.type
            if kind in rules.leaves or kind in rules.containers:
                if kind == "variable_declarator":
                    value = child.child_by_field_name("value")
                    if value is None or value.type not in rules.function_values:
                        continue
                name = _node_name(child, rules)
                if name:
                    found.append(_definition(name, child, lines, rules, header))
                if kind in rules.containers and depth < MAX_DEPTH:
                    body = _body(child, rules)
                    if body is not None:  # its members show under its first line
                        visit(body, depth + 1, lines[child.start_point[0]].rstrip("\r"))
            elif kind in rules.descend and depth < MAX_DEPTH:
                # an impl block or a class body: its header names the methods' owner
                owner = header
                if kind in ("impl_item",):
                    owner = lines[child.start_point[0]].rstrip("\r")
                visit(child, depth + 1, owner)

    visit(snapshot.tree.root_node, 0, None)
    return found


def _definition(
    name: str, node: Node, lines: list[str], rules: Definitions, header: str | None
) -> Definition:
    shown = _shown_node(node)
    first, last = shown.start_point[0], shown.end_point[0]
    if shown.end_point[1] == 0 and last > first:
        last -= 1  # a node that ends at a line start ends on the line before
    text = [line.rstrip("\r") for line in lines[first : last + 1]]
    whole = len(text) <= WHOLE_DEFINITION_LINES
    if not whole:
        if node.type in rules.containers:
            text = _outline(node, lines, first, last, rules)
        else:
            text = _head(node, lines, first, rules)
    if header is not None:
        text = [header, *text]
    return Definition(name, first, last, tuple(text), header is None, whole)


def _head(node: Node, lines: list[str], first: int, rules: Definitions) -> list[str]:
    """The signature (up to where the body starts) and the first lines after it."""
    body = _body(node, rules)
    signature_end = body.start_point[0] if body is not None else first
    end = max(signature_end + 1, first + HEAD_LINES)
    head = [line.rstrip("\r") for line in lines[first:end]]
    indent = _indentation(lines[first + 1] if first + 1 < len(lines) else "") or "    "
    return [*head, indent + ELIDED]


def _outline(node: Node, lines: list[str], first: int, last: int, rules: Definitions) -> list[str]:
    """A class without its method bodies: fields and signatures, what callers need."""
    skipped: set[int] = set()
    body = _body(node, rules)
    for member in body.named_children if body is not None else []:
        inner = member
        if inner.type == "decorated_definition":
            inner = inner.child_by_field_name("definition") or inner
        member_body = _body(inner, rules)
        if inner.type not in rules.leaves or member_body is None:
            continue
        body_first = member_body.start_point[0]
        body_last = member_body.end_point[0]
        if body_first == inner.start_point[0]:
            body_first += 1  # a brace body starts on the signature's line
        skipped.update(range(body_first, body_last + 1))
    shown: list[str] = []
    for index in range(first, last + 1):
        if index in skipped:
            # a stub on the signature's line: `def f(self) -> int: ...`, `f() { ... }`
            if shown and index - 1 not in skipped:
                shown[-1] += " ... }" if shown[-1].endswith("{") else " " + ELIDED
            continue
        if lines[index].strip():
            shown.append(lines[index].rstrip("\r"))
    return shown[:OUTLINE_LINES]


def _indentation(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


# --------------------------------------------------------------------------- the header


@dataclass(frozen=True)
class Snippet:
    uri: str
    start_line: int
    end_line: int  # inclusive
    lines: tuple[str, ...]
    whole: bool = True  # every line of start_line..end_line is shown
    recent: bool = False  # a chunk of the ring, not a definition


@dataclass(frozen=True)
class CrossFileHeader:
    parts: tuple[PromptPart, ...]
    snippets: tuple[Snippet, ...]
    tokens: int


EMPTY = CrossFileHeader((), (), 0)


@dataclass(frozen=True)
class NamesNear:
    """Identifiers the code around the cursor uses, by how close they are."""

    above: list[str]  # the cursor's block of NAME_SNAP lines and the block above it
    below: list[str]  # the block below
    imported: list[str]  # the other names the file imports


def names_near(text: str, offset: int) -> NamesNear:
    """The names near ``offset``, each tier most used first.

    Blocks are NAME_SNAP lines from the top of the file and the cursor line is left out, so
    the names stay the same while the user types on one line or moves within a block.
    """
    lines = text.split("\n")
    cursor_line = text.count("\n", 0, offset)
    block = cursor_line // NAME_SNAP * NAME_SNAP
    seen: set[str] = set()

    def tier(first: int, end: int) -> list[str]:
        counts: dict[str, int] = {}
        for index in range(max(0, first), min(len(lines), end)):
            if index == cursor_line or is_import_line(lines[index]):
                continue
            for name in _IDENTIFIER.findall(lines[index]):
                if len(name) >= MIN_NAME_LENGTH and name not in _COMMON and name not in seen:
                    counts[name] = counts.get(name, 0) + 1
        seen.update(counts)
        return sorted(counts, key=lambda name: (-counts[name], name))

    above = tier(block - NAME_SNAP, block + NAME_SNAP)
    below = tier(block + NAME_SNAP, block + 2 * NAME_SNAP)
    imported: list[str] = []
    for index, line in enumerate(lines):
        if index != cursor_line and is_import_line(line):
            for name in _IDENTIFIER.findall(line):
                if len(name) >= MIN_NAME_LENGTH and name not in _COMMON and name not in seen:
                    seen.add(name)
                    imported.append(name)
    return NamesNear(above, below, imported)


def relative_path(uri: str, root: str) -> str:
    """The document's path relative to the workspace root (else its file name)."""
    path = unquote(urlsplit(uri).path) if "://" in uri else uri
    if root:
        root = root.rstrip("/")
        if path.startswith(root + "/"):
            return path[len(root) + 1 :]
    return posixpath.basename(path) or path


@dataclass
class _Indexed:
    text: str
    definitions: list[Definition]


@dataclass
class CrossFileContext:
    """The ring of recent edits and an index of the open documents' definitions.

    ``documents`` lists the open documents' current snapshots; ``root`` is the workspace
    folder (a path, "" when unknown).
    """

    documents: Callable[[], Sequence[Snapshot]]
    root: Callable[[], str] = lambda: ""
    ring: RecentChunks = field(default_factory=RecentChunks)
    _index: dict[str, _Indexed] = field(default_factory=dict)

    def record_edit(self, snapshot: Snapshot, first_line: int, last_line: int) -> None:
        lines = snapshot.text.split("\n")
        self.ring.record(snapshot.uri, lines, (first_line + last_line) // 2)

    def forget(self, uri: str) -> None:
        self.ring.forget(uri)
        self._index.pop(uri, None)

    def definitions_of(self, snapshot: Snapshot) -> list[Definition]:
        """Definitions of a document, computed once per text (called from the worker)."""
        indexed = self._index.get(snapshot.uri)
        if indexed is None or indexed.text is not snapshot.text:
            indexed = _Indexed(snapshot.text, definitions(snapshot))
            self._index[snapshot.uri] = indexed
        return indexed.definitions

    def header(
        self,
        uri: str,
        text: str,
        offset: int,
        budget: int,
        count_tokens: Callable[[str], int],
        markers: FimTokens,
    ) -> CrossFileHeader:
        """The repository header for a prompt at ``offset`` of ``text`` (document ``uri``)."""
        if budget <= 0 or not markers.repo_name or not markers.file_sep:
            return EMPTY
        others = [s for s in self.documents() if s.uri != uri and not s.is_binary]
        if not others:
            return EMPTY
        root = self.root()
        # the repository line and the current file's separator and path
        frame = 2 + count_tokens(repo_name(uri, root) + "\n")
        frame += count_tokens(relative_path(uri, root) + "\n")
        snippets = choose_snippets(
            uri,
            text,
            offset,
            others,
            self.ring.chunks(),
            self.definitions_of,
            budget - frame,
            lambda snippet: snippet_cost(snippet, root, count_tokens),
        )
        if not snippets:
            return EMPTY
        parts = render(snippets, uri, root, markers)
        used = frame + sum(snippet_cost(s, root, count_tokens) for s in snippets)
        return CrossFileHeader(tuple(parts), tuple(snippets), used)


def snippet_cost(snippet: Snippet, root: str, count_tokens: Callable[[str], int]) -> int:
    """Tokens of a snippet with its file separator and path (an upper bound when two
    snippets of one file share them)."""
    lines = sum(count_tokens(line + "\n") for line in snippet.lines)
    return lines + 1 + count_tokens(relative_path(snippet.uri, root) + "\n")


def choose_snippets(
    uri: str,
    text: str,
    offset: int,
    others: Sequence[Snapshot],
    chunks: Sequence[Chunk],
    definitions_of: Callable[[Snapshot], list[Definition]],
    budget: int,
    cost: Callable[[Snippet], int],
) -> list[Snippet]:
    """Snippets of other files within ``budget`` tokens, in the order they are written.

    In order of value, while the budget lasts: definitions of the names used just above
    and around the cursor (what the code there calls), the newest edit elsewhere, the types
    those definitions mention, definitions of the names used below, the older edits, then
    definitions of the other names the file imports. A candidate that is a near-copy of the
    code around the cursor, or lies inside one already taken, is left out.
    """
    lines = text.split("\n")
    cursor_line = text.count("\n", 0, offset)
    around = lines[max(0, cursor_line - CHUNK_LINES) : cursor_line + CHUNK_LINES]
    local_names = _local_names(text)
    chosen: list[Snippet] = []
    used = 0

    def take(candidate: Snippet) -> None:
        nonlocal used
        if any(_inside(candidate, taken) for taken in chosen):
            return
        if similarity(candidate.lines, around) >= NEAR_COPY:
            return
        price = cost(candidate)
        if used + price > budget:
            return
        # a candidate that covers snippets already taken replaces them
        for taken in [t for t in chosen if _inside(t, candidate)]:
            chosen.remove(taken)
            used -= cost(taken)
        chosen.append(candidate)
        used += price

    def take_definitions(names: Sequence[str]) -> None:
        for definition, owner in _wanted_definitions(names, tried, others, definitions_of):
            take(
                Snippet(
                    owner,
                    definition.start_line,
                    definition.end_line,
                    definition.lines,
                    definition.whole,
                )
            )
        tried.update(names)

    near = names_near(text, offset)
    tried = set(local_names)  # the file's own definitions win over another file's
    recent = [
        Snippet(chunk.uri, chunk.start_line, chunk.end_line - 1, chunk.lines, recent=True)
        for chunk in reversed(chunks)
        if chunk.uri != uri and any(s.uri == chunk.uri for s in others)
    ]
    take_definitions(near.above)
    for snippet in recent[:1]:  # where the user just was
        take(snippet)
    # The types those definitions mention (a parameter's class, a return type): what the
    # code at the cursor gets back from them and reaches into.
    mentioned = dict.fromkeys(
        name for snippet in chosen for line in snippet.lines for name in _IDENTIFIER.findall(line)
    )
    take_definitions([name for name in mentioned if name not in tried])
    take_definitions(near.below)
    for snippet in recent[1:]:
        take(snippet)
    take_definitions([name for name in near.imported if name not in tried])
    return sorted(chosen, key=lambda s: (s.uri, s.start_line))


_DEFINED_HERE = re.compile(
    r"^[ \t]*(?:export\s+)?(?:pub\s+)?(?:async\s+)?"
    r"(?:def|class|func|function|fn|struct|enum|trait|interface|type)\s+(?:\([^)]*\)\s*)?"
    r"([A-Za-z_][A-Za-z0-9_]*)",
    re.MULTILINE,
)


def _local_names(text: str) -> set[str]:
    """Names the current file defines itself (its own definition wins over another's)."""
    return set(_DEFINED_HERE.findall(text))


def _inside(inner: Snippet, outer: Snippet) -> bool:
    """Whether ``outer`` makes ``inner`` redundant: it spans it, and shows all its lines or,
    for a method inside a class outline, its signature (the outline is the cheaper view)."""
    return (
        (outer.whole or not inner.recent)
        and inner.uri == outer.uri
        and outer.start_line <= inner.start_line
        and inner.end_line <= outer.end_line
    )


def _wanted_definitions(
    names: Sequence[str],
    skipped: set[str],
    others: Sequence[Snapshot],
    definitions_of: Callable[[Snapshot], list[Definition]],
) -> Iterator[tuple[Definition, str]]:
    """(definition, uri) for each wanted name, top-level definitions first."""
    by_name: dict[str, list[tuple[Definition, str]]] = {}
    for snapshot in sorted(others, key=lambda s: s.uri):
        for definition in definitions_of(snapshot):
            by_name.setdefault(definition.name, []).append((definition, snapshot.uri))
    for name in names:
        if name in skipped:
            continue
        found = sorted(by_name.get(name, []), key=lambda pair: not pair[0].top_level)
        for definition, owner in found[:DEFINITIONS_PER_NAME]:
            yield definition, owner


def repo_name(uri: str, root: str) -> str:
    """The workspace folder's name, else the name of the folder the document is in."""
    repo = posixpath.basename(root.rstrip("/")) if root else ""
    if not repo:
        parent = posixpath.dirname(unquote(urlsplit(uri).path) if "://" in uri else uri)
        repo = posixpath.basename(parent) or relative_path(uri, "")
    return repo


def render(
    snippets: Sequence[Snippet], uri: str, root: str, markers: FimTokens
) -> list[PromptPart]:
    """The header: repository name, then each file's snippets, then the current file's path."""
    parts: list[PromptPart] = [Special(markers.repo_name), repo_name(uri, root) + "\n"]
    by_file: dict[str, list[Snippet]] = {}
    for snippet in snippets:
        by_file.setdefault(snippet.uri, []).append(snippet)
    for owner in sorted(by_file):
        body: list[str] = []
        previous_end: int | None = None
        for snippet in sorted(by_file[owner], key=lambda s: s.start_line):
            if previous_end is not None and snippet.start_line > previous_end + 1:
                body.append("")  # a gap in the file
            body.extend(snippet.lines)
            previous_end = snippet.end_line
        parts += [Special(markers.file_sep), relative_path(owner, root) + "\n" + "\n".join(body)]
        parts.append("\n")
    parts += [Special(markers.file_sep), relative_path(uri, root) + "\n"]
    return _merge_text(parts)


def _merge_text(parts: list[PromptPart]) -> list[PromptPart]:
    merged: list[PromptPart] = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged
