"""The ring of recent edits: chunks of the other files the user just worked on.

A chunk is a few dozen lines around an edit, snapped to a multiple of CHUNK_STEP lines so
that edits close together replace one chunk instead of adding another; a near-copy of a
chunk already held replaces it too (:func:`similarity`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

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
