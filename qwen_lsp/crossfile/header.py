"""The repository header: which snippets of other files go before the FIM prompt, and how
they are written.

:class:`CrossFileContext` is what the completion service holds; :func:`choose_snippets`
ranks the candidates (definitions of the names near the cursor, recent edits) within the
token budget and :func:`render` writes them in the repository-level layout. What keeps
the header stable while typing is explained in :mod:`qwen_lsp.crossfile`.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from qwen_lsp import languages, uris
from qwen_lsp.admission import Admission, admit_all
from qwen_lsp.context import is_import_line
from qwen_lsp.crossfile.definitions import Definition, definitions
from qwen_lsp.crossfile.ring import CHUNK_LINES, NEAR_COPY, Chunk, RecentChunks, similarity
from qwen_lsp.documents import Snapshot
from qwen_lsp.engine import FimTokens, PromptPart, Special

# Names near the cursor are taken from blocks of NAME_SNAP lines counted from the top of
# the file: moving the cursor within its block keeps the same names, hence the same header
# (and the KV cache behind it).
NAME_SNAP = 16
DEFINITIONS_PER_NAME = 2
MIN_NAME_LENGTH = 3

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
    path = uris.path_part(uri)
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
    folder (a path, "" when unknown); ``admission`` says which documents may enter a prompt
    (not private, not too large: :mod:`qwen_lsp.admission`). A refused document is kept out
    of the ring, the index and every header.
    """

    documents: Callable[[], Sequence[Snapshot]]
    root: Callable[[], str] = lambda: ""
    admission: Admission = admit_all
    ring: RecentChunks = field(default_factory=RecentChunks)
    _index: dict[str, _Indexed] = field(default_factory=dict)

    def record_edit(self, snapshot: Snapshot, first_line: int, last_line: int) -> None:
        if not self.admission(snapshot.uri, snapshot.text).admitted:
            self.forget(snapshot.uri)  # it may have been admitted before (grown, settings)
            return
        # the lines read on demand: a keystroke must not split a huge document
        self.ring.record(snapshot.uri, snapshot.lines(), (first_line + last_line) // 2)

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
        others = [
            s
            for s in self.documents()
            if s.uri != uri and self.admission(s.uri, s.text).admitted and not s.is_binary
        ]
        if not others:
            return EMPTY
        admitted = {s.uri for s in others}
        # (the ring may hold chunks of a document refused since: a changed setting)
        chunks = [chunk for chunk in self.ring.chunks() if chunk.uri in admitted]
        root = self.root()
        # the repository line and the current file's separator and path
        frame = 2 + count_tokens(repo_name(uri, root) + "\n")
        frame += count_tokens(relative_path(uri, root) + "\n")
        snippets = choose_snippets(
            uri,
            text,
            offset,
            others,
            chunks,
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


def _definition_line() -> re.Pattern[str]:
    """A line that defines a name, in any language we know (the text has none): from every
    record's text rules, its modifiers and keyword, then the name, after a Go receiver
    (``func (s *Store) Get``) or the table or object it is defined on (``function M.total``,
    ``def self.build``, ``fun Bin.label``)."""
    rules = [spec.text for spec in languages.LANGUAGES]
    keywords = "|".join(sorted({re.escape(k) for r in rules for k in r.definition_keywords}))
    modifiers = "|".join(sorted({re.escape(m) for r in rules for m in r.definition_modifiers}))
    return re.compile(
        rf"^[ \t]*(?:(?:{modifiers})\s+)*(?:{keywords})\s+(?:\([^)]*\)\s*)?"
        r"(?:[A-Za-z_][A-Za-z0-9_]*\.)*([A-Za-z_][A-Za-z0-9_]*)",
        re.MULTILINE,
    )


_DEFINED_HERE = _definition_line()


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
        parent = posixpath.dirname(uris.path_part(uri))
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
