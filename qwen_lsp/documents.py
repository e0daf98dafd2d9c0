"""Open documents: text, syntax tree, and every coordinate conversion of the project.

Three units meet here and nowhere else:

- LSP positions: (line, UTF-16 code unit column); lines end at "\\n", "\\r\\n" or "\\r".
- Python str offsets: code points (variables named ``offset``).
- tree-sitter: UTF-8 bytes (``byte_offset``) and points (row, byte column) whose rows are
  counted by "\\n" only -- a lone "\\r" ends an LSP line but not a tree-sitter row.

State is immutable: a :class:`Snapshot` never changes, and :class:`Document` swaps in a new
one per change, so a worker thread can keep reading the snapshot it took while the event loop
applies edits. Trees are never edited in place: an incremental reparse edits a copy.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import NamedTuple, TypeAlias

from tree_sitter import Tree

from qwen_lsp import languages, syntax

MAX_PARSE_BYTES = 2_000_000

# ((start_line, start_utf16_col), (end_line, end_utf16_col)), as LSP sends it.
LspPosition: TypeAlias = tuple[int, int]
LspRange: TypeAlias = tuple[LspPosition, LspPosition]
TextChange: TypeAlias = tuple[str, LspRange | None]

_ENCODING = "utf-8"
_ERRORS = syntax.UTF8_ERRORS
_STR_BREAK = re.compile(r"\r\n?|\n")
# byte offsets are indexed every _CHUNK code points; a conversion encodes at most one chunk
_CHUNK = 4096


class TreeEdit(NamedTuple):
    """Arguments of ``Tree.edit``: bytes, and (row, byte column) points with rows by "\\n"."""

    start_byte: int
    old_end_byte: int
    new_end_byte: int
    start_point: tuple[int, int]
    old_end_point: tuple[int, int]
    new_end_point: tuple[int, int]


class PositionError(ValueError):
    """A position or offset outside the document."""


class DocumentNotOpenError(KeyError):
    """A change for a document that was never opened (or was closed)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "document not open"


def _line_starts(text: str) -> list[int]:
    """Code-point offsets where LSP lines start."""
    if "\r" not in text:
        return _cumulative_starts(map(len, text.split("\n")), text.count("\n") + 1)
    return [0, *(match.end() for match in _STR_BREAK.finditer(text))]


def _cumulative_starts(lengths: Iterator[int], line_count: int) -> list[int]:
    # start of line i = lengths of the lines before it + i one-character separators; all in C
    sums = itertools.accumulate(lengths, initial=0)
    return list(map(operator.add, sums, range(line_count)))


def _utf16_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


class _TextIndex:
    """Derived data of one text, computed on first use (each result is deterministic, so two
    threads racing to compute one only waste a little work)."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def source(self) -> bytes:
        return self.text.encode(_ENCODING, _ERRORS)

    @cached_property
    def line_starts(self) -> list[int]:
        return _line_starts(self.text)

    @cached_property
    def chunk_byte_starts(self) -> list[int]:
        """Byte offset of code point ``k * _CHUNK`` at index k (k = 0 .. len(text) // _CHUNK)."""
        text = self.text
        sizes = (
            len(text[i : i + _CHUNK].encode(_ENCODING, _ERRORS))
            for i in range(0, len(text) // _CHUNK * _CHUNK, _CHUNK)
        )
        return list(itertools.accumulate(sizes, initial=0))

    @cached_property
    def is_binary(self) -> bool:
        return "\x00" in self.text


@dataclass(frozen=True, eq=False)
class Snapshot:
    """An immutable version of a document with its tree and coordinate conversions."""

    uri: str
    language_id: str
    language: str | None
    version: int
    text: str
    tree: Tree | None = field(default=None, repr=False)
    _index: _TextIndex = field(default_factory=lambda: _TextIndex(""), repr=False)

    def __post_init__(self) -> None:
        # the index travels along through dataclasses.replace (keeping its caches) as long as
        # it belongs to this very text; anything else gets a fresh one
        if self._index.text is not self.text:
            object.__setattr__(self, "_index", _TextIndex(self.text))

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
        index = _TextIndex(text)
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
        return len(self._index.line_starts)

    # --- lines ------------------------------------------------------------------------------

    def _check_line(self, line: int) -> None:
        if not 0 <= line < self.line_count():
            raise PositionError(
                f"line {line} is outside {self.uri} (it has {self.line_count()} lines, 0-based)"
            )

    def line_range(self, line: int) -> tuple[int, int]:
        """Code-point (start, end) of ``line``, the end before its line ending."""
        self._check_line(line)
        starts = self._index.line_starts
        start = starts[line]
        if line + 1 == len(starts):
            return start, len(self.text)
        next_start = starts[line + 1]
        ending = 2 if self.text[next_start - 2 : next_start] == "\r\n" else 1
        return start, next_start - ending

    def line_at(self, line: int) -> str:
        """The text of ``line`` without its line ending."""
        start, end = self.line_range(line)
        return self.text[start:end]

    # --- LSP position <-> code-point offset ---------------------------------------------------

    def offset_at(self, line: int, utf16_col: int) -> int:
        """Code-point offset of an LSP position.

        A column past the end of the line means the line end (LSP rule); a column between the
        two halves of a surrogate pair rounds down. ``(line_count, 0)`` is the end of the text;
        any other line outside the document, or a negative value, raises PositionError.
        """
        if utf16_col < 0:
            raise PositionError(f"negative column {utf16_col} in {self.uri}")
        if line == self.line_count() and utf16_col == 0:
            return len(self.text)
        start, end = self.line_range(line)
        content = self.text[start:end]
        if content.isascii():
            return start + min(utf16_col, len(content))
        units = content.encode("utf-16-le", "surrogatepass")
        col = min(utf16_col, len(units) // 2)
        if 0 < col < len(units) // 2:
            unit = int.from_bytes(units[2 * col - 2 : 2 * col], "little")
            next_unit = int.from_bytes(units[2 * col : 2 * col + 2], "little")
            if 0xD800 <= unit <= 0xDBFF and 0xDC00 <= next_unit <= 0xDFFF:
                col -= 1  # between the halves of a pair: stay before the character
        return start + len(units[: 2 * col].decode("utf-16-le", "surrogatepass"))

    def clamped_offset(self, line: int, utf16_col: int) -> int:
        """Like :meth:`offset_at`, but a line beyond the end of the text means its end (editors
        send such range ends). Negative values still raise PositionError."""
        if line >= self.line_count():
            return len(self.text)
        return self.offset_at(line, utf16_col)

    def position_at(self, offset: int) -> LspPosition:
        """LSP (line, utf16_col) of a code-point offset (inside a "\\r\\n": the line end)."""
        self._check_offset(offset)
        line = bisect.bisect_right(self._index.line_starts, offset) - 1
        start, end = self.line_range(line)
        return line, _utf16_len(self.text[start : min(offset, end)])

    def _check_offset(self, offset: int) -> None:
        if not 0 <= offset <= len(self.text):
            raise PositionError(
                f"offset {offset} is outside {self.uri} (0..{len(self.text)} code points)"
            )

    # --- code points <-> bytes <-> tree-sitter points -----------------------------------------

    def byte_offset(self, offset: int) -> int:
        """UTF-8 byte offset of a code-point offset."""
        self._check_offset(offset)
        if self.text.isascii():
            return offset
        chunk = offset // _CHUNK
        segment = self.text[chunk * _CHUNK : offset]
        return self._index.chunk_byte_starts[chunk] + len(segment.encode(_ENCODING, _ERRORS))

    def offset_from_byte(self, byte_offset: int) -> int:
        """Code-point offset of a UTF-8 byte offset; inside a character, that character's start."""
        source = self.source
        if not 0 <= byte_offset <= len(source):
            raise PositionError(
                f"byte offset {byte_offset} is outside {self.uri} (0..{len(source)} bytes)"
            )
        if self.text.isascii():
            return byte_offset
        starts = self._index.chunk_byte_starts
        chunk = bisect.bisect_right(starts, byte_offset) - 1
        # step back over UTF-8 continuation bytes (0b10xxxxxx) to a character start
        while starts[chunk] < byte_offset < len(source) and source[byte_offset] & 0xC0 == 0x80:
            byte_offset -= 1
        segment = source[starts[chunk] : byte_offset].decode(_ENCODING, _ERRORS)
        return chunk * _CHUNK + len(segment)

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
        inserted = new_text.encode(_ENCODING, _ERRORS)
        start_point = self.point_at_byte(start_byte)
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
            old_end_point=self.point_at_byte(old_end_byte),
            new_end_point=new_end_point,
        )

    def apply_change(self, new_text: str, range_: LspRange | None) -> Snapshot:
        """A new snapshot with one LSP content change applied (``range_`` None: full text).

        Range ends past the document end are clamped to it; a reversed range is reordered.
        With a tree, the reparse is incremental: a copy of the old tree is edited (this
        snapshot's tree is left as it was) and handed to the parser.
        """
        if range_ is None:
            index = _TextIndex(new_text)
            tree = _parse(self.language, new_text, index, None)
            return replace(self, text=new_text, tree=tree, _index=index)
        start = self.clamped_offset(*range_[0])
        end = self.clamped_offset(*range_[1])
        if end < start:
            start, end = end, start
        text = self.text[:start] + new_text + self.text[end:]
        index = _TextIndex(text)
        old_tree: Tree | None = None
        if self.tree is not None:
            old_tree = self.tree.copy()
            old_tree.edit(**self.tree_edit(start, end, new_text)._asdict())
        tree = _parse(self.language, text, index, old_tree)
        return replace(self, text=text, tree=tree, _index=index)


def _parse(
    language: str | None, text: str, index: _TextIndex, old_tree: Tree | None
) -> Tree | None:
    """Parse unless there is no grammar, the text is binary, or it is too large."""
    if language is None or index.is_binary:
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
        state = self._state
        for new_text, range_ in changes:
            state = state.apply_change(new_text, range_)
        self._state = state.with_version(version)


class DocumentStore:
    """Open documents by uri. Mutated from the event loop only; readers take snapshots."""

    def __init__(self) -> None:
        self._documents: dict[str, Document] = {}
        self._lock = threading.Lock()

    def open(self, uri: str, language_id: str, version: int, text: str) -> Document:
        """Open (or re-open, replacing) a document."""
        document = Document(uri, language_id, version, text)
        with self._lock:
            self._documents[uri] = document
        return document

    def change(self, uri: str, version: int, changes: Sequence[TextChange]) -> Document:
        document = self.get(uri)
        if document is None:
            raise DocumentNotOpenError(f"cannot change {uri}: it is not open")
        document.apply_changes(changes, version)
        return document

    def close(self, uri: str) -> None:
        with self._lock:
            self._documents.pop(uri, None)

    def get(self, uri: str) -> Document | None:
        with self._lock:
            return self._documents.get(uri)

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
