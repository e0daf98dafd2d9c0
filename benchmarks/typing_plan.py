"""The typist of the typing-replay benchmark (benchmarks/bench_typing.py): what to retype, how.

Pure and seeded: which span of a file is deleted and typed back (a function body, or the
first statements of one, of 150-400 characters, chosen among the file's functions by a
seed), and the keystrokes that type it back the way an editor sends them (one change per
character; Enter and the auto-indent after it are one change) with the gaps between them
(lognormal around 150 ms, 60-400 ms, pauses of 0.7-2 s after 8% of keys and at every end
of line). Positions are LSP positions (UTF-16 columns). No server, no model: the unit
tests (tests/unit/test_bench_typing.py) check a plan retypes its span exactly.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass

from benchmarks.lsp_driver import utf16_len
from qwen_lsp import syntax

# -- the typist ----------------------------------------------------------------------------
GAP_MEDIAN_S = 0.150
GAP_SIGMA = 0.35
GAP_RANGE_S = (0.060, 0.400)
PAUSE_PROBABILITY = 0.08
PAUSE_RANGE_S = (0.7, 2.0)
PAUSE_THRESHOLD_S = 0.5  # a keystroke is "followed by a pause" when its gap is this long
START_PAUSE_S = 1.0  # after the cold request, before the first keystroke

SPAN_CHARS = (150, 400)
BLOCK_TYPES = frozenset({"block", "statement_block", "compound_statement"})
FUNCTION_TYPES = frozenset(
    {
        "function_definition",  # Python, C
        "function_declaration",  # JavaScript, Go
        "generator_function_declaration",
        "function_expression",
        "method_definition",  # JavaScript
        "method_declaration",  # Go
        "function_item",  # Rust
    }
)


@dataclass(frozen=True)
class Keystroke:
    """One change the editor sends: ``text`` inserted at (line, utf16_col)."""

    text: str
    line: int
    utf16_col: int
    cursor_line: int  # the cursor after the change, where the request asks
    cursor_col: int
    typed: int  # characters of the span typed once this change is in
    gap: float  # seconds until the next keystroke (or the end of the file's replay)


def chunk_span(span: str) -> list[str]:
    """The span as the changes an editor sends: one per character, except that a line
    break and the indentation after it are one change (Enter plus auto-indent)."""
    return re.findall(r"(?:\r\n|\r|\n)[ \t]*|[\s\S]", span)


def cursor_at(text: str, offset: int) -> tuple[int, int]:
    """LSP position (line, UTF-16 column) of code-point ``offset`` in ``text``."""
    before = text[:offset]
    lines = re.split(r"\r\n|\r|\n", before)
    return len(lines) - 1, utf16_len(lines[-1])


def _advance(line: int, col: int, inserted: str) -> tuple[int, int]:
    parts = re.split(r"\r\n|\r|\n", inserted)
    if len(parts) == 1:
        return line, col + utf16_len(inserted)
    return line + len(parts) - 1, utf16_len(parts[-1])


def plan_keystrokes(
    text: str, start: int, end: int, seed: int | str, max_keystrokes: int | None = None
) -> list[Keystroke]:
    """Keystrokes that retype ``text[start:end]`` into ``text`` with the span deleted.

    Pure and seeded: the same arguments give the same changes and gaps. Positions are
    those of the document as it is when each change arrives.
    """
    rng = random.Random(f"gaps:{seed}")
    span = text[start:end]
    chunks = chunk_span(span)
    if max_keystrokes is not None:
        chunks = chunks[:max_keystrokes]
    line, col = cursor_at(text, start)
    typed = 0
    strokes: list[Keystroke] = []
    for i, chunk in enumerate(chunks):
        typed += len(chunk)
        next_line, next_col = _advance(line, col, chunk)
        gap = rng.lognormvariate(math.log(GAP_MEDIAN_S), GAP_SIGMA)
        gap = min(max(gap, GAP_RANGE_S[0]), GAP_RANGE_S[1])
        pause = rng.random() < PAUSE_PROBABILITY
        pause_length = rng.uniform(*PAUSE_RANGE_S)
        last = i == len(chunks) - 1
        end_of_line = not last and chunks[i + 1][0] in "\r\n"
        if pause or end_of_line or last:
            gap = pause_length
        strokes.append(Keystroke(chunk, line, col, next_line, next_col, typed, gap))
        line, col = next_line, next_col
    return strokes


def function_bodies(text: str, language: str) -> list[list[tuple[int, int]]]:
    """The statements of each function body, as code-point spans, in file order.

    A leading Python docstring is left out (we retype code, not prose). Only bodies whose
    first statement starts its own line, so that deleting them leaves the cursor on an
    indented empty line, as after typing the opener and Enter.
    """
    data = text.encode("utf-8")
    tree = syntax.get_parser(language).parse(data)
    bodies: list[list[tuple[int, int]]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        stack.extend(node.children)
        if node.type not in FUNCTION_TYPES:
            continue
        body = node.child_by_field_name("body")
        if body is None or body.type not in BLOCK_TYPES:
            continue
        statements = body.named_children
        if len(statements) == 1 and statements[0].type == "statement_list":  # Go
            statements = statements[0].named_children
        if (
            statements
            and statements[0].type == "expression_statement"
            and statements[0].named_children
            and statements[0].named_children[0].type == "string"
        ):
            statements = statements[1:]
        if not statements:
            continue
        spans = [
            (
                len(data[: n.start_byte].decode("utf-8", errors="replace")),
                len(data[: n.end_byte].decode("utf-8", errors="replace")),
            )
            for n in statements
        ]
        line_start = text.rfind("\n", 0, spans[0][0]) + 1
        if text[line_start : spans[0][0]].strip() == "":
            bodies.append(spans)
    return sorted(bodies)


def choose_span(
    text: str, language: str, seed: int | str, chars: tuple[int, int] = SPAN_CHARS
) -> tuple[int, int]:
    """A span of ``chars`` characters to retype, picked by ``seed`` among:

    1. whole function bodies of that size; else
    2. the first statements of a longer body (the longest run that fits); else
    3. the body whose size is closest.
    """
    bodies = function_bodies(text, language)
    if not bodies:
        raise ValueError(f"no function body found ({language})")
    low, high = chars
    whole = [(b[0][0], b[-1][1]) for b in bodies]
    fitting = [(s, e) for s, e in whole if low <= e - s <= high]
    if not fitting:
        for body in bodies:
            ends = [e for _, e in body if low <= e - body[0][0] <= high]
            if ends:
                fitting.append((body[0][0], max(ends)))
    if not fitting:
        distance = [max(low - (e - s), (e - s) - high) for s, e in whole]
        fitting = [span for span, d in zip(whole, distance, strict=True) if d == min(distance)]
    return random.Random(f"span:{seed}").choice(sorted(fitting))
