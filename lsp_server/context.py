"""Builds the fill-in-the-middle prompt around the cursor, within a token budget.

The layout follows llama.vim: the text of the cursor line before the cursor goes AFTER
``<|fim_middle|>``, as if the model had already written it. Typing on a line then changes
only the very end of the prompt, so the KV cache keeps everything before it and a
keystroke costs a handful of prompt tokens instead of the whole window. The first line of
the prefix window is snapped to a multiple of ``snap_lines`` for the same reason: moving
down a line must not shift the start of the prompt, or every token would be new again.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from lsp_server.engine import PromptPart, Special

# A longer line (minified code, data) says little to the model and costs a lot to tokenize.
MAX_LINE_CHARS = 1000


@dataclass(frozen=True)
class FimWindow:
    prefix: str  # whole lines above the cursor line
    suffix: str  # rest of the cursor line, then whole lines below it
    line_prefix: str  # the cursor line up to the cursor
    prefix_start_line: int


@dataclass(frozen=True)
class FimMarkers:
    prefix: str = "<|fim_prefix|>"
    suffix: str = "<|fim_suffix|>"
    middle: str = "<|fim_middle|>"


class TokenCounter:
    """Counts tokens per line, remembering recent lines: the window moves, lines repeat."""

    def __init__(self, tokenize: Callable[[str], list[int]], capacity: int = 8192):
        self._tokenize = tokenize
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._capacity = capacity

    def __call__(self, line: str) -> int:
        count = self._cache.get(line)
        if count is None:
            count = len(self._tokenize(line))
            self._cache[line] = count
            if len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(line)
        return count


def _clip(line: str) -> str:
    if len(line) <= MAX_LINE_CHARS:
        return line
    ending = "\n" if line.endswith("\n") else ""
    return line[:MAX_LINE_CHARS] + ending


def fim_window(
    text: str,
    offset: int,
    count_tokens: Callable[[str], int],
    prefix_tokens: int,
    suffix_tokens: int,
    snap_lines: int = 16,
) -> FimWindow:
    """Choose the text around ``offset`` (a code-point offset) that goes into the prompt."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_prefix = text[line_start:offset][-MAX_LINE_CHARS:]
    above = text[:line_start].splitlines(keepends=True)

    budget = prefix_tokens - count_tokens(line_prefix)
    first = len(above)  # the earliest line that still fits, walking up from the cursor
    used = 0
    while first > 0:
        cost = count_tokens(_clip(above[first - 1]))
        if used + cost > budget:
            break
        used += cost
        first -= 1
    snapped = -(-first // snap_lines) * snap_lines
    # Snapping may only drop lines, never add any past the budget; near the cursor it
    # would drop them all, so there the exact start is used.
    start = snapped if snapped < len(above) else first
    prefix = "".join(_clip(line) for line in above[start:])

    line_end = text.find("\n", offset)
    rest_of_line = text[offset:] if line_end < 0 else text[offset : line_end + 1]
    suffix_parts = [_clip(rest_of_line)]
    used = count_tokens(suffix_parts[0])
    if line_end >= 0:
        for line in text[line_end + 1 :].splitlines(keepends=True):
            cost = count_tokens(_clip(line))
            if used + cost > suffix_tokens:
                break
            used += cost
            suffix_parts.append(_clip(line))
    return FimWindow(
        prefix=prefix,
        suffix="".join(suffix_parts),
        line_prefix=line_prefix,
        prefix_start_line=start,
    )


def fim_prompt(window: FimWindow, markers: FimMarkers) -> list[PromptPart]:
    return [
        Special(markers.prefix),
        window.prefix,
        Special(markers.suffix),
        window.suffix,
        Special(markers.middle),
        window.line_prefix,
    ]
