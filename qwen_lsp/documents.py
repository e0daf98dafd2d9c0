"""Open documents: text, syntax tree, and every coordinate conversion of the project.

Three units meet here and nowhere else:

- LSP positions: (line, UTF-16 code unit column); lines end at "\\n", "\\r\\n" or "\\r".
- Python str offsets: code points (variables named ``offset``).
- tree-sitter: UTF-8 bytes (``byte_offset``) and points (row, byte column) whose rows are
  counted by "\\n" only -- a lone "\\r" ends an LSP line but not a tree-sitter row.

State is immutable: a :class:`Snapshot` never changes, and :class:`Document` swaps in a new
one per change, so a worker thread can keep reading the snapshot it took while the event loop
applies edits. Trees are never edited in place: an incremental reparse edits a copy. The
text-only bookkeeping (line index, byte offsets, positions to code points) is in
:mod:`qwen_lsp.text_index`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple, overload

from tree_sitter import Tree

from qwen_lsp import languages, syntax, text_index
from qwen_lsp.text_index import (
    ENCODING,
    ERRORS,
    LspPosition,
    LspRange,
    PositionError,
    TextChange,
    TextIndex,
    apply_batch,
    clean_text,
    utf16_len,
)

MAX_PARSE_BYTES = 2_000_000
# Changes in one didChange beyond which the final text is parsed afresh instead of
# reparsing an edited tree.
_CHEAP_BATCH = 8


class TreeEdit(NamedTuple):
    """Arguments of ``Tree.edit``: bytes, and (row, byte column) points with rows by "\\n"."""

    start_byte: int
    old_end_byte: int
    new_end_byte: int
    start_point: tuple[int, int]
    old_end_point: tuple[int, int]
    new_end_point: tuple[int, int]


class DocumentNotOpenError(KeyError):
    """A change for a document that was never opened (or was closed)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "document not open"


class TextWindow(NamedTuple):
    """Whole lines of a document around a cursor (see :meth:`Snapshot.window`)."""

    text: str
    start: int  # code-point offset of ``text`` in the document
    start_line: int


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An immutable version of a document with its tree and coordinate conversions."""

    uri: str
    language_id: str
    language: str | None
    version: int
    text: str
    tree: Tree | None = field(default=None, repr=False)
    _index: TextIndex = field(default_factory=lambda: TextIndex(""), repr=False)

    def __post_init__(self) -> None:
        # the index travels along through dataclasses.replace (keeping its caches) as long as
        # it belongs to this very text; anything else gets a fresh one
        if self._index.text is not self.text:
            object.__setattr__(self, "_index", TextIndex(self.text))

    @classmethod
    def build(
        cls,
        uri: str,
        language_id: str,
        version: int,
        text: str,
        *,
        language: str | None = None,
    ) -> Snapshot:
        """A snapshot of ``text``, freshly parsed. ``language`` defaults to
        :func:`languages.language_for` of ``language_id``/``uri``."""
        if language is None:
            language = languages.language_for(language_id, uri)
        index = TextIndex(text)
        tree = _parse(language, text, index, None)
        return cls(uri, language_id, language, version, text, tree, index)

    # --- properties -------------------------------------------------------------------------

    @property
    def source(self) -> bytes:
        """The text as UTF-8 bytes (what tree-sitter parsed)."""
        return self._index.source

    @property
    def is_binary(self) -> bool:
        """Whether the text contains NUL (such documents get no tree)."""
        return self._index.is_binary

    def line_count(self) -> int:
        return self._index.lines.count()

    def utf8_size(self) -> int:
        """The text's size in UTF-8 bytes, carried from version to version by the edits."""
        return self._index.utf8_size

    # --- lines ------------------------------------------------------------------------------

    def line_range(self, line: int) -> tuple[int, int]:
        """Code-point (start, end) of ``line``, the end before its line ending."""
        return text_index.line_range(self.uri, self.text, self._index.lines, line)

    def line_at(self, line: int) -> str:
        """The text of ``line`` without its line ending."""
        start, end = self.line_range(line)
        return self.text[start:end]

    def lines(self) -> Sequence[str]:
        """The document's lines (without line endings) as a sequence that reads only the
        lines asked for: no pass over the whole text."""
        return _LinesView(self)

    def lines_between(self, first: int, end: int) -> list[str]:
        """Lines ``first`` .. ``end - 1`` (clamped to the document), without line endings."""
        first, end = max(first, 0), min(end, self.line_count())
        return [self.line_at(line) for line in range(first, end)]

    def window(self, offset: int, before: int, after: int, snap_lines: int = 16) -> TextWindow:
        """Whole lines around ``offset``: what a prompt or a check around a cursor may read,
        so that their work is bounded by these sizes, not by the document's.

        The window starts at most about ``before`` code points before ``offset``, at a line
        that is a multiple of ``snap_lines`` (so that rules counting lines in blocks from
        the top of the file count alike in the window), and ends after the line holding
        the code point ``after`` code points after ``offset``. A document that fits is
        returned whole (the very same str).
        """
        self._check_offset(offset)
        text, lines = self.text, self._index.lines
        if offset <= before and len(text) - offset <= after:
            return TextWindow(text, 0, 0)
        cursor_line = lines.line_of(offset)
        first = lines.line_of(max(offset - before, 0))
        first = -(-first // snap_lines) * snap_lines
        if first > cursor_line:  # the cursor line alone is longer than ``before``
            first = cursor_line // snap_lines * snap_lines
        start = lines.start(first)
        last = lines.line_of(min(offset + after, len(text))) + 1
        end = lines.start(last) if last < lines.count() else len(text)
        if start == 0 and end == len(text):
            return TextWindow(text, 0, 0)
        return TextWindow(text[start:end], start, first)

    # --- LSP position <-> code-point offset ---------------------------------------------------

    def offset_at(self, line: int, utf16_col: int) -> int:
        """Code-point offset of an LSP position.

        A column past the end of the line means the line end (LSP rule); a column between the
        two halves of a surrogate pair rounds down. ``(line_count, 0)`` is the end of the text;
        any other line outside the document, or a negative value, raises PositionError.
        """
        return text_index.offset_at(self.uri, self.text, self._index.lines, line, utf16_col)

    def clamped_offset(self, line: int, utf16_col: int) -> int:
        """Like :meth:`offset_at`, but a line beyond the end of the text means its end (editors
        send such range ends). Negative values still raise PositionError."""
        return text_index.clamped_offset(self.uri, self.text, self._index.lines, line, utf16_col)

    def position_at(self, offset: int) -> LspPosition:
        """LSP (line, utf16_col) of a code-point offset (inside a "\\r\\n": the line end)."""
        self._check_offset(offset)
        line = self._index.lines.line_of(offset)
        start, end = self.line_range(line)
        return line, utf16_len(self.text[start : min(offset, end)])

    def _check_offset(self, offset: int) -> None:
        if not 0 <= offset <= len(self.text):
            raise PositionError(
                f"offset {offset} is outside {self.uri} (0..{len(self.text)} code points)"
            )

    # --- code points <-> bytes <-> tree-sitter points -----------------------------------------

    def byte_offset(self, offset: int) -> int:
        """UTF-8 byte offset of a code-point offset."""
        self._check_offset(offset)
        return self._index.byte_offset(offset)

    def offset_from_byte(self, byte_offset: int) -> int:
        """Code-point offset of a UTF-8 byte offset; inside a character, that character's start."""
        source = self.source
        if not 0 <= byte_offset <= len(source):
            raise PositionError(
                f"byte offset {byte_offset} is outside {self.uri} (0..{len(source)} bytes)"
            )
        return self._index.offset_from_byte(byte_offset)

    def point_at_byte(self, byte_offset: int) -> tuple[int, int]:
        """tree-sitter point (row, byte column) of a byte offset: rows end at "\\n" only."""
        source = self.source
        if not 0 <= byte_offset <= len(source):
            raise PositionError(f"byte offset {byte_offset} is outside {self.uri}")
        row = source.count(b"\n", 0, byte_offset)
        return row, byte_offset - (source.rfind(b"\n", 0, byte_offset) + 1)

    def point_at(self, offset: int) -> tuple[int, int]:
        """tree-sitter point (row, byte column) of a code-point offset."""
        return self.point_at_byte(self.byte_offset(offset))

    def position_from_byte(self, byte_offset: int) -> LspPosition:
        """LSP (line, utf16_col) of a UTF-8 byte offset (e.g. a node's start_byte)."""
        return self.position_at(self.offset_from_byte(byte_offset))

    # --- changes ----------------------------------------------------------------------------

    def with_version(self, version: int) -> Snapshot:
        return replace(self, version=version)

    def tree_edit(self, start: int, end: int, new_text: str) -> TreeEdit:
        """The tree-sitter edit replacing code points ``start:end`` of this text by ``new_text``."""
        start_byte = self.byte_offset(start)
        old_end_byte = self.byte_offset(end)
        inserted = new_text.encode(ENCODING, ERRORS)
        point = self._ascii_point if self.cheap_points() else self.point_at_byte
        start_point = point(start_byte)
        newlines = inserted.count(b"\n")
        if newlines:
            new_end_point = (start_point[0] + newlines, len(inserted) - inserted.rfind(b"\n") - 1)
        else:
            new_end_point = (start_point[0], start_point[1] + len(inserted))
        return TreeEdit(
            start_byte=start_byte,
            old_end_byte=old_end_byte,
            new_end_byte=start_byte + len(inserted),
            start_point=start_point,
            old_end_point=point(old_end_byte),
            new_end_point=new_end_point,
        )

    def _ascii_point(self, byte_offset: int) -> tuple[int, int]:
        """:meth:`point_at_byte` from the line index, when :meth:`cheap_points` holds."""
        line = self._index.lines.line_of(byte_offset)
        return line, byte_offset - self._index.lines.start(line)

    def apply_change(self, new_text: str, range_: LspRange | None) -> Snapshot:
        """A new snapshot with one LSP content change applied (``range_`` None: full text).

        Range ends past the document end are clamped to it; a reversed range is reordered.
        With a tree, the reparse is incremental: a copy of the old tree is edited (this
        snapshot's tree is left as it was) and handed to the parser.
        """
        return self.apply_changes([(new_text, range_)])

    def apply_changes(self, changes: Sequence[TextChange]) -> Snapshot:
        """A new snapshot with LSP content changes applied in order, parsed once.

        Each change is applied to the text (and its line index, incrementally) in turn. A
        few changes (a keystroke, an editor's multi-cursor edit) are described to one copy
        of the tree with ``Tree.edit`` and the tree is reparsed once, incrementally; after
        a longer batch (or a full-text replacement) the final text is parsed afresh: one
        parse per call either way.
        """
        if len(changes) > _CHEAP_BATCH:
            # Many edits spread over a file cost tree-sitter more to reuse than a fresh
            # parse (0.56 MB of Python, 1,000 edits: 2.7 s against 0.5 s), and a str per
            # intermediate text would copy the whole text per change.
            text, lines = apply_batch(self.uri, self.text, self._index.lines, changes)
            index = TextIndex(text, lines)
            return replace(
                self, text=text, tree=_parse(self.language, text, index, None), _index=index
            )
        state = self
        edited = self.tree.copy() if self.tree is not None else None
        fresh = False
        for new_text, range_ in changes:
            if range_ is None:
                state = replace(state, text=new_text, tree=None, _index=TextIndex(new_text))
                edited, fresh = None, True
                continue
            start = state.clamped_offset(*range_[0])
            end = state.clamped_offset(*range_[1])
            if end < start:
                start, end = end, start
            if edited is not None:
                edited.edit(**state.tree_edit(start, end, new_text)._asdict())
            text = state.text[:start] + new_text + state.text[end:]
            index = state._index.edited(text, start, end, new_text)
            state = replace(state, text=text, tree=None, _index=index)
        if edited is None and not fresh:  # no tree before, and the text stays unparsed
            fresh = self.language is not None
        tree = _parse(state.language, state.text, state._index, None if fresh else edited)
        return replace(state, tree=tree)

    def cheap_points(self) -> bool:
        """Whether :meth:`tree_edit` needs no pass over the whole text: ASCII (bytes are code
        points) without "\\r" (tree-sitter rows are LSP lines)."""
        return self.text.isascii() and "\r" not in self.text


class _LinesView(Sequence[str]):
    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot

    def __len__(self) -> int:
        return self._snapshot.line_count()

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            if step != 1:
                return [self._snapshot.line_at(i) for i in range(start, stop, step)]
            return self._snapshot.lines_between(start, stop)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._snapshot.line_at(index)


def _parse(language: str | None, text: str, index: TextIndex, old_tree: Tree | None) -> Tree | None:
    """Parse unless there is no grammar, the text is binary, or it is too large."""
    if language is None or len(text) > MAX_PARSE_BYTES or index.is_binary:
        return None
    # a code point is at most 4 bytes: skip encoding when the text cannot be too large
    if len(text) * 4 > MAX_PARSE_BYTES and len(index.source) > MAX_PARSE_BYTES:
        return None
    parser = syntax.get_parser(language)
    if old_tree is None:  # the binding rejects an explicit None despite its stub
        return parser.parse(index.source)
    return parser.parse(index.source, old_tree)


class Document:
    """The current state of one open document: a :class:`Snapshot` swapped per change."""

    def __init__(self, uri: str, language_id: str, version: int, text: str) -> None:
        self._state = Snapshot.build(uri, language_id, version, text)

    def snapshot(self) -> Snapshot:
        """The current immutable state; safe to read from any thread while edits go on."""
        return self._state

    @property
    def uri(self) -> str:
        return self._state.uri

    @property
    def language_id(self) -> str:
        return self._state.language_id

    @property
    def language(self) -> str | None:
        return self._state.language

    @property
    def version(self) -> int:
        return self._state.version

    @version.setter
    def version(self, version: int) -> None:
        self._state = self._state.with_version(version)

    @property
    def text(self) -> str:
        return self._state.text

    @property
    def tree(self) -> Tree | None:
        return self._state.tree

    @property
    def is_binary(self) -> bool:
        return self._state.is_binary

    def line_count(self) -> int:
        return self._state.line_count()

    def line_at(self, line: int) -> str:
        return self._state.line_at(line)

    def offset_at(self, line: int, utf16_col: int) -> int:
        return self._state.offset_at(line, utf16_col)

    def position_at(self, offset: int) -> LspPosition:
        return self._state.position_at(offset)

    def byte_offset(self, offset: int) -> int:
        return self._state.byte_offset(offset)

    def apply_change(self, new_text: str, range_: LspRange | None) -> None:
        """Apply one LSP content change (see :meth:`Snapshot.apply_change`)."""
        self._state = self._state.apply_change(new_text, range_)

    def apply_changes(self, changes: Sequence[TextChange], version: int) -> None:
        """Apply changes in order and set ``version``; readers see all of them or none."""
        self._state = self._state.apply_changes(changes).with_version(version)


class DocumentStore:
    """Open documents by uri. Mutated from the event loop only; readers take snapshots."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}
        self._lock = threading.Lock()

    def open(self, uri: str, language_id: str, version: int, text: str) -> Document:
        """Open (or re-open, replacing) a document. Lone surrogates become U+FFFD
        (:func:`clean_text`): no text a client sends can make a later request fail."""
        document = Document(uri, language_id, version, clean_text(text))
        with self._lock:
            self._documents[uri] = document
        return document

    def change(self, uri: str, version: int, changes: Sequence[TextChange]) -> Document:
        document = self.get(uri)
        if document is None:
            raise DocumentNotOpenError(f"cannot change {uri}: it is not open")
        document.apply_changes([(clean_text(text), range_) for text, range_ in changes], version)
        return document

    def close(self, uri: str) -> None:
        with self._lock:
            self._documents.pop(uri, None)

    def get(self, uri: str) -> Document | None:
        with self._lock:
            return self._documents.get(uri)

    def utf8_size(self, uri: str, text: str) -> int | None:
        """The UTF-8 size of ``text`` when it is the open document ``uri``'s current text
        (known without encoding it), else None."""
        document = self.get(uri)
        if document is None or document.text is not text:
            return None
        return document.snapshot().utf8_size()

    def snapshots(self) -> list[Snapshot]:
        """The current snapshot of every open document (safe from any thread)."""
        with self._lock:
            documents = list(self._documents.values())
        return [document.snapshot() for document in documents]

    def __contains__(self, uri: object) -> bool:
        with self._lock:
            return uri in self._documents

    def __len__(self) -> int:
        with self._lock:
            return len(self._documents)
