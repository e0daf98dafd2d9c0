"""The document around the cursor, parsed once per completion site.

The syntax check (checks.py) and the names declared below the cursor (scope.py) both read
the code around the cursor through tree-sitter. Parsing the whole document for each would
cost a parse of a long file twice per suggestion; both read one window of whole lines
around the cursor instead, parsed once and cached while the engine streams tokens for the
same site.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from tree_sitter import Tree

from qwen_lsp import syntax

# Characters of text either side of the cursor in the window: whole lines, within this
# many (a file's definitions rarely span more; parsing stays a few milliseconds).
WINDOW_CHARS = 48_000

_TOP_LEVEL_LINE_RE = re.compile(r"^(?=[^\s)\]}])", re.MULTILINE)


@dataclass(frozen=True)
class ParsedWindow:
    head: str  # the window before the cursor (whole lines, or the document's start)
    tail: str  # the window after the cursor
    text: str  # head + tail
    tree: Tree  # text, parsed
    cursor_byte: int  # the cursor's byte offset in the parsed text (UTF-8)


@lru_cache(maxsize=4)
def parsed_window(language: str, prefix: str, suffix: str) -> ParsedWindow:
    """The window of ``prefix`` + ``suffix`` around the cursor between them, parsed as
    ``language`` (one tree-sitter knows)."""
    head, tail = prefix, suffix
    if len(head) > WINDOW_CHARS:
        head = head[_window_start(head) :]
    if len(tail) > WINDOW_CHARS:
        end = tail.find("\n", WINDOW_CHARS)
        tail = tail if end < 0 else tail[: end + 1]
    cursor_byte = len(head.encode("utf-8", syntax.UTF8_ERRORS))
    text = head + tail
    tree = syntax.get_parser(language).parse(text.encode("utf-8", syntax.UTF8_ERRORS))
    return ParsedWindow(head, tail, text, tree, cursor_byte)


def _window_start(head: str) -> int:
    """Where the window of a long ``head`` starts: at the last top-level line before the
    point WINDOW_CHARS characters above the cursor, looking back at most as far again;
    else at the first line after that point.

    WHY: a window that starts inside a multi-line string (a docstring's doctests) turns
    every quote after it inside out; the file then parses as one huge error whose count
    moves by chance when any text is inserted, so good suggestions were refused (a line
    of `_pydecimal.py`'s Context class, 60,000 characters below the class line)."""
    cut = len(head) - WINDOW_CHARS
    starts = [m.start() for m in _TOP_LEVEL_LINE_RE.finditer(head, max(cut - WINDOW_CHARS, 0), cut)]
    if starts:
        return starts[-1]
    return head.find("\n", cut) + 1  # (0 when there is no line end: the whole head)
