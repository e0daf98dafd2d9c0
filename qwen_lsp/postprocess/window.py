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
        start = _window_start(head)
        head = head[start:]
        if language == "python":
            head = _enclosing_headers(prefix, start) + head
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
    else at the last of the least indented lines there (see :func:`_enclosing_headers`).

    WHY: a window that starts inside a multi-line string (a docstring's doctests) turns
    every quote after it inside out; the file then parses as one huge error whose count
    moves by chance when any text is inserted, so good suggestions were refused (a line
    of `_pydecimal.py`'s Context class, 60,000 characters below the class line)."""
    cut = len(head) - WINDOW_CHARS
    starts = [m.start() for m in _TOP_LEVEL_LINE_RE.finditer(head, max(cut - WINDOW_CHARS, 0), cut)]
    if starts:
        return starts[-1]
    # No top-level line within reach (a class longer than the window): the last of the
    # least indented lines, a statement of the outermost block there (rarely a line of a
    # string, whose lines sit deeper than the code around them).
    least: tuple[int, int] | None = None  # (indentation, start)
    for m in _LINE_START_RE.finditer(head, max(cut - WINDOW_CHARS, 0), cut):
        width = len(m.group(1))
        if least is None or width <= least[0]:
            least = (width, m.start())
    if least is not None:
        return least[1]
    return head.find("\n", cut) + 1  # (0 when there is no line end: the whole head)


# A line's start and its indentation, on lines with code that starts a statement (not
# blank, not a closing bracket).
_LINE_START_RE = re.compile(r"^([ \t]*)(?=[^\s)\]}])", re.MULTILINE)
# The kinds of a Python block's real header its made-up one keeps: a class, a function
# (``return`` and ``yield`` are legal in its body; ``await`` in an async one), or any
# other (made a loop, so that ``break`` and ``continue`` are).
_CLASS_RE = re.compile(r"class\b")
_FUNCTION_RE = re.compile(r"(?:async\s+)?def\b")
# A line that can open an enclosing block: a compound statement's keyword. Other lines
# less indented than the window's first (the text of a string at column 0, a bracket's
# continuation line) are not headers.
_HEADER_RE = re.compile(
    r"(?:async\s+)?(?:class|def|if|elif|else|for|while|try|except|finally|with|match|case)\b"
)


def _enclosing_headers(prefix: str, start: int) -> str:
    """Block headers that make the indentation of the window ``prefix[start:]`` legal
    Python: one per enclosing block of its first line, at that block's indentation, found
    by reading back from ``start``; "" when the first line is not indented.

    WHY: a window that starts on an indented line (a class longer than the window) is an
    error at its first line to Python's compiler ("unexpected indent"), which then sees
    nothing else: a suggestion that broke the cursor line was shown (``return
    a.is_signed())`` in `_pydecimal.py`, issue 17). The headers are made up (``class _:``,
    ``async def _():``, ``while 1:``, after the real header's kind), since the real one
    may span lines. Only the compiler needs them: the text stays the file's below them."""
    first = _LINE_START_RE.match(prefix, start)
    if first is None or not first.group(1):
        return ""
    width = len(first.group(1))
    headers: list[str] = []
    end = start
    while width > 0 and end > 0:
        line_start = prefix.rfind("\n", 0, end - 1) + 1
        line = prefix[line_start:end]
        end = line_start
        code = line.lstrip(" \t")
        indent = len(line) - len(code)
        if not code.strip() or indent >= width or not _HEADER_RE.match(code):
            continue
        width = indent
        if _CLASS_RE.match(code):
            kind = "class _:"
        elif _FUNCTION_RE.match(code):
            kind = "async def _():" if code.startswith("async") else "def _():"
        else:
            kind = "while 1:"
        headers.append(line[:indent] + kind + "\n")
    return "".join(reversed(headers))
