"""How a suggestion is laid out: whitespace, indentation, and what is no code at all.

Rule 4 strips trailing whitespace and trailing blank lines; rule 5 re-indents
continuation lines into the file's indentation unit; the cursor-indentation rule starts
the suggestion at the cursor's column when the cursor already sits at the line's
indentation; rule 6 drops a suggestion that only promises code (``# Your code here``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from qwen_lsp import languages
from qwen_lsp.postprocess.site import (
    ASSUMED_TAB_WIDTH,
    Context,
    indent_columns,
    leading_ws,
    most_common_step,
)

# Space-indentation widths between which a suggestion is re-indented. Other steps (8, or
# odd numbers) are far more often hanging indents or alignment than a different style.
_CONVERTIBLE_SPACE_UNITS = (2, 4)

# --- rule 4: whitespace ------------------------------------------------------------------


def strip_trailing_whitespace(lines: list[str], context: Context) -> list[str]:
    """Remove whitespace at the end of every line the suggestion ends.

    WHY: trailing whitespace is invisible in ghost text and noise once accepted. The
    last line is exempt when text follows the cursor: there its end is the middle of a
    line, and ``a, `` before ``x)`` needs its space.
    """
    keep_last = bool(context.after.strip())
    return [
        line if keep_last and i == len(lines) - 1 else line.rstrip() for i, line in enumerate(lines)
    ]


def drop_trailing_blank_lines(lines: list[str]) -> list[str]:
    """Drop blank lines at the end of a suggestion.

    WHY: accepting them would push the code after the cursor down; the blank lines the
    file needs are already there.
    """
    end = len(lines)
    while end > 1 and not lines[end - 1].strip():
        end -= 1
    return lines[:end]


# --- rule 5: indentation -----------------------------------------------------------------


def convert_indentation(lines: list[str], context: Context) -> list[str]:
    """Re-indent continuation lines written with another unit into the file's unit.

    WHY: the model's habits (four spaces) beat the file's style (tabs in Go, two spaces
    in much JavaScript); accepted as is, the suggestion mixes styles or, in Python,
    does not even parse. The first line is left alone: it continues the cursor line. A
    document without a single indented line has no style to convert to yet (the unit is
    only a default then) and the model's choice stands.
    """
    if len(lines) < 2 or not context.file_indents:
        return lines
    if context.indent_unit == "\t":
        return _spaces_to_tabs(lines)
    lines = _tabs_to_spaces(lines, context.indent_unit)
    return _respace(lines, context)


def _spaces_to_tabs(lines: list[str]) -> list[str]:
    # Rises between the space-indented lines, from column 0: the model's own step.
    widths = [0] + [
        len(leading_ws(line)) for line in lines[1:] if line.strip() and line.startswith(" ")
    ]
    if len(widths) == 1:
        return lines
    rises = [b - a for a, b in zip(widths, widths[1:], strict=False) if b > a]
    step = _indent_step(rises)
    unit = step if step in _CONVERTIBLE_SPACE_UNITS else ASSUMED_TAB_WIDTH
    out = [lines[0]]
    for line in lines[1:]:
        indent = leading_ws(line)
        if not line.strip() or " " not in indent:
            out.append(line)
            continue
        spaces = indent.count(" ")
        levels = indent.count("\t") + spaces // unit
        out.append("\t" * levels + " " * (spaces % unit) + line[len(indent) :])
    return out


def _tabs_to_spaces(lines: list[str], unit: str) -> list[str]:
    out = [lines[0]]
    for line in lines[1:]:
        indent = leading_ws(line)
        out.append(indent.replace("\t", unit) + line[len(indent) :] if "\t" in indent else line)
    return out


def _respace(lines: list[str], context: Context) -> list[str]:
    """Convert a space step other than the file's (2 vs 4) into the file's.

    The step is read from the suggestion's own indentation changes, starting from the
    cursor line, and only a consistent 2 or 4 is converted. Depth is counted from the
    cursor line's indentation, which is in the file's style already.
    """
    file_step = len(context.indent_unit)
    before = context.before or ""
    reference = leading_ws(before + lines[0]) if lines[0].strip() else leading_ws(before)
    base = indent_columns(reference, file_step)
    widths = [base] + [len(leading_ws(line)) for line in lines[1:] if line.strip()]
    rises = [b - a for a, b in zip(widths, widths[1:], strict=False) if b > a]
    if not rises or file_step not in _CONVERTIBLE_SPACE_UNITS:
        return lines
    step = _indent_step(rises)
    if step == file_step or step not in _CONVERTIBLE_SPACE_UNITS:
        return lines
    if any(rise % step for rise in rises):
        return lines
    out = [lines[0]]
    for line in lines[1:]:
        indent = leading_ws(line)
        if not line.strip():
            out.append(line)
            continue
        width = len(indent)
        if width >= base:
            levels, extra = divmod(width - base, step)
            new_width = base + levels * file_step + extra
        else:
            levels, extra = divmod(width, step)
            new_width = levels * file_step + extra
        out.append(" " * new_width + line[len(indent) :])
    return out


def _indent_step(rises: Sequence[int]) -> int:
    """The most common indentation rise; ties go to the smaller."""
    return most_common_step(Counter(rises))


# --- the cursor's indentation ----------------------------------------------------------


def at_the_cursor_indentation(lines: list[str], context: Context) -> list[str]:
    """Start the suggestion at the cursor's column when the cursor sits at an indentation.

    WHY: the editor (or the user) put the cursor at the indentation the line needs; a
    first line that indents again is the model's artefact of a prompt that ends in a
    whole indentation token, not a wish to nest the code one level deeper. Left as it
    is, ``    return x`` after a loop puts the return inside the loop (HumanEval/10 and
    /132 failed that way). Kept when the line above opens a block the cursor is not
    indented into yet: then the indentation is the body's. Kept too at column 0 of an empty
    line below indented code, where the indentation the line needs is unknown.
    """
    if context.body_not_indented or context.indent_unknown or not context.enabled("cursor-indent"):
        return lines
    return without_extra_indent(lines, context) or lines


# How a first line ends when the next one is a continuation, free to align anywhere.
_CONTINUED = ("(", "[", ",", "\\")


def first_line_at_the_cursor(lines: list[str], context: Context) -> list[str]:
    """The suggestion without its first line's own indentation, when the cursor sits at an
    indentation, that line indents again and the next line is where a line at the cursor's
    column would put it (one level in after a line that opens a block, else at the cursor).

    WHY: the prompt ends with the cursor line's indentation and the model writes it once
    more, on the first line only: `    if not isinstance(s, str):` at the function body's
    column, then `raise` one level in and `parts = ...` back at the body's column (the 0.5B
    on cgi.py's parse_header, issue 17). The lines below say where the first belongs;
    moving all of them left (at_the_cursor_indentation) breaks the body they are right
    in, and the cut back to what parses then left nothing (3 of 16 whole functions
    through the FIM prompt on seed 6). Runs before the cuts: the block's column is read
    from the first line.
    """
    if not lines or context.tab_width is None or not context.before or context.before.strip():
        return lines
    if context.body_not_indented or not context.enabled("cursor-indent"):
        return lines
    extra = leading_ws(lines[0])
    below = next((line for line in lines[1:] if line.strip()), None)
    first = lines[0].rstrip()
    if not extra or below is None or first.endswith(_CONTINUED):
        return lines
    cursor = indent_columns(context.before, context.tab_width)
    if first.endswith((":", "{")):
        cursor += indent_columns(context.indent_unit, context.tab_width)
    if indent_columns(leading_ws(below), context.tab_width) != cursor:
        return lines
    return [lines[0][len(extra) :], *lines[1:]]


def without_extra_indent(lines: list[str], context: Context) -> list[str] | None:
    """The suggestion moved left by the indentation its first line adds at the cursor.

    The editor put the cursor at the line's indentation; a first line that indents again
    (``    break`` after ``if p % k == 0:`` + Enter) was written for a cursor one level
    further left, and so were the lines after it. None when the first line adds none.
    """
    extra = leading_ws(lines[0]) if lines else ""
    if not extra or context.before is None or context.before.strip():
        return None
    return [lines[0][len(extra) :]] + [
        line[len(extra) :] if line.startswith(extra) else line for line in lines[1:]
    ]


# --- rule 6: placeholders ----------------------------------------------------------------

# What a model writes instead of code: "# Your code here", "// TODO: implement", "...".
_PLACEHOLDER_RE = re.compile(
    r"""
      \b(?:your|my)\s+(?:own\s+)?(?:code|implementation|solution|logic)\b
    | \b(?:code|implementation|logic|solution)\s+(?:goes\s+|comes\s+)?here\b
    | ^(?:todo|fixme|xxx|tbd)\b
    | \bimplement(?:ation)?\s+(?:this|me|here|it|the\s+(?:function|method|logic))\b
    | \b(?:fill|write|add|put|insert)\s+(?:in\s+)?(?:your|the|some)\s+(?:code|logic)\b
    | \bnot\s+(?:yet\s+)?implemented\b
    | ^\.\.\.$
    """,
    re.VERBOSE | re.IGNORECASE,
)
# Statements that only stand in for code.
_STAND_INS = frozenset({"pass", "...", ";", "{}", "}"})
_COMMENT_MARKERS = ("#", "//", "/*", "*/", "* ")


def is_placeholder(lines: Sequence[str], language: str | None, context: Context) -> bool:
    """True when the suggestion is only comments (and ``pass``) that promise code.

    WHY: asked for a body, an instruct model often answers ``# Your code here`` or
    ``// TODO: implement`` and stops. Shown as ghost text it looks like an answer and
    accepting it leaves the body empty; nothing is the honest suggestion. A suggestion
    with any real code line is kept, its comments too.
    """
    if not context.enabled("placeholder"):
        return False
    markers: tuple[str, ...] = _COMMENT_MARKERS
    spec = languages.find(language)
    if spec is not None:
        own = spec.line_comment
        markers = (own, "/*", "*/", "* ") if own != "#" else ("#",)
    promised = False
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped in _STAND_INS:
            continue
        if not (stripped + " ").startswith(markers):
            return False
        comment = stripped.strip("/*# \t")
        promised = promised or bool(_PLACEHOLDER_RE.search(comment))
    return promised
