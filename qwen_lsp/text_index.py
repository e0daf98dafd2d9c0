"""The text side of a document: line index, UTF-8 index and coordinate conversions.

Pure bookkeeping over a str (no tree, no document): where LSP lines start (kept across
edits without a pass over the whole text), the UTF-8 size and byte offsets, LSP positions
to code points, and a text edited many times in a row. :mod:`qwen_lsp.documents` builds
its immutable snapshots on these.
"""

from __future__ import annotations

import bisect
import itertools
import operator
import re
from collections.abc import Iterator, Sequence
from functools import cached_property
from typing import Protocol, TypeAlias

from qwen_lsp import syntax

ENCODING = "utf-8"
ERRORS = syntax.UTF8_ERRORS
_STR_BREAK = re.compile(r"\r\n?|\n")
# byte offsets are indexed every CHUNK code points; a conversion encodes at most one chunk
CHUNK = 4096

# ((start_line, start_utf16_col), (end_line, end_utf16_col)), as LSP sends it.
LspPosition: TypeAlias = tuple[int, int]
LspRange: TypeAlias = tuple[LspPosition, LspPosition]
TextChange: TypeAlias = tuple[str, LspRange | None]


class PositionError(ValueError):
    """A position or offset outside the document."""


def line_starts(text: str) -> list[int]:
    """Code-point offsets where LSP lines start."""
    if "\r" not in text:
        return _cumulative_starts(map(len, text.split("\n")), text.count("\n") + 1)
    return [0, *(match.end() for match in _STR_BREAK.finditer(text))]


def _cumulative_starts(lengths: Iterator[int], line_count: int) -> list[int]:
    # start of line i = lengths of the lines before it + i one-character separators; all in C
    sums = itertools.accumulate(lengths, initial=0)
    return list(map(operator.add, sums, range(line_count)))


def utf8_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode(ENCODING, ERRORS))


def utf16_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """``text`` with every lone surrogate replaced by U+FFFD.

    JSON lets a client send "\\ud800" alone; it is no character, and the tokenizer (any
    UTF-8 encoder) rejects it. U+FFFD keeps every coordinate: it is one code point, one
    UTF-16 unit and three UTF-8 bytes, like a lone surrogate ("surrogatepass"). A real pair
    arrives as one code point (JSON decoding joins it) and is left alone.
    """
    if text.isascii():  # O(1) in CPython
        return text
    return _LONE_SURROGATE.sub("\ufffd", text)


# Lines per block of the line index: an edit copies the block lists (one entry per block)
# and rebuilds the lines it touches, so a keystroke costs the same in any file size.
_BLOCK_LINES = 512


class LineIndex:
    """The LSP line starts of one text, in blocks that versions of a document share.

    Line ``firsts[k] + i`` starts at code point ``blocks[k][i] + shifts[k]``. Blocks are
    never mutated: an edit builds new lists for the blocks it touches and shifts the later
    ones, O(number of blocks + lines touched) instead of a pass over the whole text.
    """

    __slots__ = ("blocks", "shifts", "firsts", "heads")

    def __init__(self, blocks: list[list[int]], shifts: list[int]) -> None:
        self.blocks = blocks
        self.shifts = shifts
        self.firsts = list(itertools.accumulate((len(b) for b in blocks[:-1]), initial=0))
        self.heads = [block[0] + shift for block, shift in zip(blocks, shifts, strict=True)]

    @classmethod
    def of(cls, text: str) -> LineIndex:
        starts = line_starts(text)
        blocks = [starts[i : i + _BLOCK_LINES] for i in range(0, len(starts), _BLOCK_LINES)]
        return cls(blocks, [0] * len(blocks))

    def count(self) -> int:
        return self.firsts[-1] + len(self.blocks[-1])

    def start(self, line: int) -> int:
        block = bisect.bisect_right(self.firsts, line) - 1
        return self.blocks[block][line - self.firsts[block]] + self.shifts[block]

    def line_of(self, offset: int) -> int:
        """The last line starting at or before ``offset``."""
        block = bisect.bisect_right(self.heads, offset) - 1
        index = bisect.bisect_right(self.blocks[block], offset - self.shifts[block]) - 1
        return self.firsts[block] + index

    def edited(self, text: Readable, start: int, end: int, delta: int) -> LineIndex:
        """The line starts of ``text``, which is this index's text with code points
        ``start:end`` replaced by ``end - start + delta`` new ones."""
        count = self.count()
        # The lines whose starts may change: from the one holding the character before the
        # edit (a "\r" there may be joined by an inserted "\n") to the first one starting
        # two characters after it (its two characters before are untouched, so it stays
        # a line start, moved by delta).
        low = self.line_of(max(start - 1, 0))
        high = self.line_of(end + 1) + 1
        region_start = self.start(low)
        region_end = self.start(high) + delta if high < count else len(text)
        region = text[region_start:region_end]
        fresh = [region_start + s for s in line_starts(region)]
        if high < count:
            fresh.pop()  # the region ends with a line break: that start is line ``high``'s
        first_block = bisect.bisect_right(self.firsts, low) - 1
        last_block = bisect.bisect_right(self.firsts, high - 1) - 1
        head_block, tail_block = self.blocks[first_block], self.blocks[last_block]
        head_shift, tail_shift = self.shifts[first_block], self.shifts[last_block] + delta
        merged = [s + head_shift for s in head_block[: low - self.firsts[first_block]]]
        merged += fresh
        merged += [s + tail_shift for s in tail_block[high - self.firsts[last_block] :]]
        middle = [merged[i : i + _BLOCK_LINES] for i in range(0, len(merged), _BLOCK_LINES)]
        blocks = self.blocks[:first_block] + middle + self.blocks[last_block + 1 :]
        shifts = (
            self.shifts[:first_block]
            + [0] * len(middle)
            + [shift + delta for shift in self.shifts[last_block + 1 :]]
        )
        return LineIndex(blocks, shifts)


class TextIndex:
    """Derived data of one text, computed on first use (each result is deterministic, so two
    threads racing to compute one only waste a little work). An index made by
    :meth:`edited` gets its line index and binary flag from the previous text's without a
    pass over the whole text."""

    def __init__(
        self,
        text: str,
        lines: LineIndex | None = None,
        binary: bool | None = None,
        utf8_size: int | None = None,
    ):
        self.text = text
        self._lines = lines
        self._binary = binary
        self._utf8_size = utf8_size

    def edited(self, text: str, start: int, end: int, inserted: str) -> TextIndex:
        """The index of ``text``: this one's text with ``start:end`` replaced by ``inserted``."""
        lines = self.lines.edited(text, start, end, len(inserted) - (end - start))
        binary = None if self._binary is not False or "\x00" in inserted else False
        size = self._utf8_size
        if size is not None:  # kept up to date by the edit: no pass over the whole text
            size += utf8_len(inserted) - utf8_len(self.text[start:end])
        return TextIndex(text, lines, binary, size)

    @property
    def utf8_size(self) -> int:
        if self._utf8_size is None:
            source = self.__dict__.get("source")  # encoded already (parsed), else not kept
            self._utf8_size = len(source) if source is not None else utf8_len(self.text)
        return self._utf8_size

    @property
    def lines(self) -> LineIndex:
        if self._lines is None:
            self._lines = LineIndex.of(self.text)
        return self._lines

    @cached_property
    def source(self) -> bytes:
        return self.text.encode(ENCODING, ERRORS)

    @cached_property
    def chunk_byte_starts(self) -> list[int]:
        """Byte offset of code point ``k * CHUNK`` at index k (k = 0 .. len(text) // CHUNK)."""
        text = self.text
        sizes = (
            len(text[i : i + CHUNK].encode(ENCODING, ERRORS))
            for i in range(0, len(text) // CHUNK * CHUNK, CHUNK)
        )
        return list(itertools.accumulate(sizes, initial=0))

    def byte_offset(self, offset: int) -> int:
        """UTF-8 byte offset of a code-point offset (in range: the caller checked)."""
        if self.text.isascii():
            return offset
        chunk = offset // CHUNK
        segment = self.text[chunk * CHUNK : offset]
        return self.chunk_byte_starts[chunk] + len(segment.encode(ENCODING, ERRORS))

    def offset_from_byte(self, byte_offset: int) -> int:
        """Code-point offset of a UTF-8 byte offset (in range: the caller checked); inside a
        character, that character's start."""
        if self.text.isascii():
            return byte_offset
        source = self.source
        starts = self.chunk_byte_starts
        chunk = bisect.bisect_right(starts, byte_offset) - 1
        # step back over UTF-8 continuation bytes (0b10xxxxxx) to a character start
        while starts[chunk] < byte_offset < len(source) and source[byte_offset] & 0xC0 == 0x80:
            byte_offset -= 1
        segment = source[starts[chunk] : byte_offset].decode(ENCODING, ERRORS)
        return chunk * CHUNK + len(segment)

    @property
    def is_binary(self) -> bool:
        if self._binary is None:
            self._binary = "\x00" in self.text
        return self._binary


class Readable(Protocol):
    """What the coordinate functions read of a text: a str, or :class:`Pieces`."""

    def __len__(self) -> int: ...

    def __getitem__(self, key: slice, /) -> str: ...


def line_range(uri: str, text: Readable, lines: LineIndex, line: int) -> tuple[int, int]:
    count = lines.count()
    if not 0 <= line < count:
        raise PositionError(f"line {line} is outside {uri} (it has {count} lines, 0-based)")
    start = lines.start(line)
    if line + 1 == count:
        return start, len(text)
    next_start = lines.start(line + 1)
    ending = 2 if text[next_start - 2 : next_start] == "\r\n" else 1
    return start, next_start - ending


def offset_at(uri: str, text: Readable, lines: LineIndex, line: int, utf16_col: int) -> int:
    if utf16_col < 0:
        raise PositionError(f"negative column {utf16_col} in {uri}")
    if line == lines.count() and utf16_col == 0:
        return len(text)
    start, end = line_range(uri, text, lines, line)
    content = text[start:end]
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


def clamped_offset(uri: str, text: Readable, lines: LineIndex, line: int, utf16_col: int) -> int:
    if line >= lines.count():
        return len(text)
    return offset_at(uri, text, lines, line, utf16_col)


class Pieces:
    """A text edited many times in a row: spans of earlier strs, so that an edit copies only
    the text it inserts and a read only the text it reads."""

    def __init__(self, text: str) -> None:
        self._spans: list[tuple[str, int, int]] = [(text, 0, len(text))]
        self._starts = [0]
        self._length = len(text)

    def __len__(self) -> int:
        return self._length

    def _span_at(self, offset: int) -> int:
        return max(bisect.bisect_right(self._starts, offset) - 1, 0)

    def __getitem__(self, key: slice, /) -> str:
        start, stop, _ = key.indices(self._length)
        parts: list[str] = []
        index = self._span_at(start)
        while start < stop and index < len(self._spans):
            source, low, high = self._spans[index]
            at = low + start - self._starts[index]
            take = min(high, at + stop - start)
            parts.append(source[at:take])
            start += take - at
            index += 1
        return "".join(parts)

    def replace(self, start: int, end: int, new_text: str) -> None:
        first, last = self._span_at(start), self._span_at(end)
        source, low, high = self._spans[first]
        left = (source, low, low + start - self._starts[first])
        source, low, high = self._spans[last]
        right = (source, low + end - self._starts[last], high)
        middle = [span for span in (left, (new_text, 0, len(new_text)), right) if span[1] < span[2]]
        self._spans[first : last + 1] = middle
        lengths = (high - low for _, low, high in self._spans[first:])
        self._starts[first:] = itertools.accumulate(lengths, initial=self._starts[first])
        self._starts.pop()
        self._length += len(new_text) - (end - start)
        if not self._spans:
            self._spans, self._starts = [("", 0, 0)], [0]

    def join(self) -> str:
        return "".join(source[low:high] for source, low, high in self._spans)


def apply_batch(
    uri: str, text: str, lines: LineIndex, changes: Sequence[TextChange]
) -> tuple[str, LineIndex]:
    """The text and line index after ``changes``, each change costing the lines it touches."""
    pieces = Pieces(text)
    for new_text, range_ in changes:
        if range_ is None:
            pieces, lines = Pieces(new_text), LineIndex.of(new_text)
            continue
        start = clamped_offset(uri, pieces, lines, *range_[0])
        end = clamped_offset(uri, pieces, lines, *range_[1])
        if end < start:
            start, end = end, start
        pieces.replace(start, end, new_text)
        lines = lines.edited(pieces, start, end, len(new_text) - (end - start))
    return pieces.join(), lines
