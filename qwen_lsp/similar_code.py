"""Code of the current file that resembles the code at the cursor, from beyond the window.

The model writes better code when the prompt shows it the file's own way of doing the
thing at the cursor: the other ``save_*`` methods that end with ``self.memoize(obj)``, the
other ``Context`` methods that start with ``a = _convert_other(a, raiseit=True)``. A window
four times wider finds such code (issue 17: +10 points of edit similarity on one line and
few lines), at four times the reading. This module finds the one chunk of lines that
looks most like the code just above the cursor, from above the window or below the code
after the cursor, for a budget of its own a fraction of that.

Likeness is the Jaccard index of the two chunks' sets of identifiers, as Copilot and
Continue rank snippets of other files (here: of the same file, outside the window). The
candidates are chunks on a grid of CHUNK_STEP lines of the text, so the same code gives
the same chunk wherever the cursor is, and the query leaves out the cursor line: typing
on it changes nothing (the chunk goes before the window, where a change costs the KV
cache behind it).

Pure: lines in, lines out.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

# A chunk is scored on its first MATCH_LINES lines and shown with the lines that follow
# them, up to CHUNK_LINES: the code at the cursor is what comes after its query lines, and
# a chunk scored whole prefers the bare signature to the signature with its body (fewer
# names, a higher Jaccard index). Measured on 138 held-out Python holes (line and lines,
# seeds 4 and 6): the hole's first line is in the chunk shown for 19 holes whose window
# does not hold it, against 14 when scored whole; the window four times wider, 23.
MATCH_LINES = 6
CHUNK_LINES = 12
CHUNK_STEP = 6
# The lines above the cursor that say what is being written (the cursor line left out).
QUERY_LINES = 12
# Below this share of identifiers in common a chunk is no pattern to follow, only noise
# that pushes nothing else out but costs reading.
MIN_SIMILARITY = 0.2
# The chunk shown at the last request stays while it scores at least this share of the
# best: the chunk goes before the window, and every change of it is the window read again
# (about 4 s on one CPU core). Moving the cursor down a file line by line (lines 200 to
# 700 of _pydecimal.py and tarfile.py), the chunk changed at 25-27% of the lines without
# it, 17-19% with it (the window's start: every 16 lines).
KEEP_SHARE = 0.75

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class SimilarChunk:
    lines: tuple[str, ...]  # as in the text, line endings kept
    start: int  # index of its first line in the sequence it was taken from
    above: bool  # from the lines above the window (else from below the suffix)
    similarity: float
    head: tuple[str, ...]  # the lines scored, as in the text: what ``keep`` names


def identifiers(lines: Sequence[str]) -> frozenset[str]:
    return frozenset(name for line in lines for name in _IDENTIFIER.findall(line))


@functools.lru_cache(maxsize=8192)
def _chunk_identifiers(chunk: tuple[str, ...]) -> frozenset[str]:
    # Every keystroke looks at every chunk of the file again, and the chunks are the same:
    # remembered, a 6,000-line file costs a couple of milliseconds instead of forty.
    return identifiers(chunk)


def jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    common = len(a & b)  # (|a| + |b| - common is the union's size, not built)
    return common / (len(a) + len(b) - common)


def similar_chunk(
    above: Sequence[str],
    window_start: int,
    below: Sequence[str],
    below_start: int,
    budget: int,
    count_tokens: Callable[[str], int],
    keep: tuple[str, ...] = (),
    open_end_cut: bool = True,
) -> SimilarChunk | None:
    """The chunk most like the QUERY_LINES lines at the end of ``above`` (the lines above
    the cursor line), from ``above[:window_start]`` (the lines the window leaves out) or
    ``below`` (the lines after the suffix window, the first of them line ``below_start``
    of the text ``above`` starts), cut to ``budget`` tokens; None when nothing reaches
    MIN_SIMILARITY or the budget is 0.

    The chunks start on lines of the text that are multiples of CHUNK_STEP, wherever the
    cursor is: moving it down a line must not give every chunk below other lines. ``keep``:
    the ``head`` of the chunk chosen last time, kept while it scores KEEP_SHARE of the best.
    ``open_end_cut``: the chunk ends before its last lines that open a block or a bracket
    (:func:`_leaves_open`; off only to measure what that buys).
    """
    if budget <= 0:
        return None
    query = identifiers(above[max(0, len(above) - QUERY_LINES) :])
    if not query:
        return None
    best: SimilarChunk | None = None
    previous: SimilarChunk | None = None
    candidates = [(above, True, window_start, 0), (below, False, len(below), below_start)]
    for lines, is_above, end, first_line in candidates:
        for start in range(-first_line % CHUNK_STEP, end, CHUNK_STEP):
            head = tuple(lines[start : min(end, start + MATCH_LINES)])
            score = jaccard(_chunk_identifiers(head), query)
            if score < MIN_SIMILARITY:
                continue
            if head == keep or best is None or score > best.similarity:
                chunk = tuple(lines[start : min(end, start + CHUNK_LINES)])
                found = SimilarChunk(chunk, start, is_above, score, head)
                if head == keep:
                    previous = found
                if best is None or score > best.similarity:
                    best = found
    if best is None:
        return None
    if previous is not None and previous.similarity >= KEEP_SHARE * best.similarity:
        best = previous
    return _within(best, budget, count_tokens, open_end_cut)


def _within(
    chunk: SimilarChunk, budget: int, count_tokens: Callable[[str], int], open_end_cut: bool
) -> SimilarChunk | None:
    """The chunk without its blank edges, its first lines that fit ``budget`` tokens (and
    with ``open_end_cut``, not ending with a line that opens something)."""
    lines = list(chunk.lines)
    start = chunk.start
    while lines and not lines[0].strip():
        lines.pop(0)
        start += 1
    kept: list[str] = []
    used = 0
    for line in lines:
        used += count_tokens(line)
        if used > budget:
            break
        kept.append(line)
    while kept and (not kept[-1].strip() or (open_end_cut and _leaves_open(kept[-1]))):
        kept.pop()
    if not kept:
        return None
    return SimilarChunk(tuple(kept), start, chunk.above, chunk.similarity, chunk.head)


# What ends a line that opens a block or a bracket: the lines after it belong to it.
_OPENERS = (":", "{", "(", "[", "\\")


def _leaves_open(line: str) -> bool:
    """Whether ``line`` opens something its next lines would go on with.

    WHY: the prompt goes on after the chunk with the window's first line, whatever that is.
    A chunk that ended with ``for ts in range(1, n+1):`` (tabnanny.py, its body cut off by
    CHUNK_LINES) made the window's first lines, another method's comments and code, read
    as that loop's body, and the 1.5B wrote them as the body of the same loop at the
    cursor (issue 17)."""
    return line.rstrip().endswith(_OPENERS)
