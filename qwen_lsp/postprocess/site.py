"""The site of a suggestion, reduced to what the post-processing rules read.

A :class:`CompletionSite` is what the completion use case knows (the document around the
cursor, the kind of suggestion, the file's indentation step, the language and the rules
switched off); :func:`context_for` reduces it once per site to a :class:`Context`: the
cursor line, the lines below it, the line ending, how deep a suggestion may start. The
rules in the sibling modules read only that. The small text and indentation helpers they
all share live here too, at the bottom.

Pure: strings in, strings out (code points; any of ``\\r\\n``, ``\\r``, ``\\n`` ends a
line, as in LSP).
"""

from __future__ import annotations

import difflib
import itertools
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

from qwen_lsp.postprocess.scope import declared_below, unbound_below

CompletionKind = Literal["line", "block"]

DEFAULT_INDENT_UNIT = "    "

# A tab has no width of its own. When a file indents with tabs and the model answers with
# spaces, one level is taken to be four spaces, the most common space indentation.
ASSUMED_TAB_WIDTH = 4

NEWLINE_RE = re.compile(r"\r\n|\r|\n")

_INDENTED_LINE_RE = re.compile(r"[\r\n][ \t]")

# Closing bracket -> its opener (the cuts and the bracket balance both scan brackets).
OPENERS = {")": "(", "]": "[", "}": "{"}


@dataclass(frozen=True)
class CompletionSite:
    """Where a suggestion will be inserted, as far as cleaning it up needs to know.

    ``prefix`` and ``suffix`` are the whole document before and after the cursor (code
    points, any line ending). The rules read the cursor line and the first non-blank line
    after it; the rest is only searched for whether any line is indented at all.
    ``indent_unit`` is the file's indentation step, usually from :func:`detect_indent_unit`.
    """

    prefix: str
    suffix: str
    kind: CompletionKind
    indent_unit: str = DEFAULT_INDENT_UNIT
    # Our language name (languages.language_for); with it, a suggestion that adds syntax
    # errors to the document is trimmed or dropped. None: text rules only.
    language: str | None = None
    # Rules to leave out, by name (the internal setting disableRules): the evaluation
    # switches them off one at a time to measure what each buys. Empty: all rules apply.
    disabled_rules: frozenset[str] = frozenset()


def detect_indent_unit(text: str) -> str:
    """The file's indentation step: ``"\\t"`` or N spaces; four spaces when unknown.

    Each line indented deeper than the previous space-indented line votes for the size
    of that step, and a majority of tab-indented lines (counting the whitespace of
    empty lines, where auto-indent put it) means tabs. Lines starting with
    ``*`` (block-comment bodies, ``" * text"``) are skipped: a Javadoc-heavy file would
    otherwise look one-space indented. Steps outside 2..8 columns are alignment, not
    indentation, and do not vote.
    """
    tab_lines = 0
    space_lines = 0
    steps: Counter[int] = Counter()
    previous_width = 0
    for line in iter_lines(text):
        stripped = line.strip()
        indent = leading_ws(line)
        if not stripped:
            # An editor's auto-indent on an empty line (often the cursor line of a new
            # file) says tabs or spaces, though not how many.
            tab_lines += indent.startswith("\t")
            space_lines += indent.startswith(" ")
            continue
        if stripped.startswith("*"):
            continue
        if indent.startswith("\t"):
            tab_lines += 1
            continue
        if "\t" in indent:
            continue
        width = len(indent)
        if width:
            space_lines += 1
        if 2 <= width - previous_width <= 8:
            steps[width - previous_width] += 1
        previous_width = width
    if tab_lines > space_lines:
        return "\t"
    if steps:
        return " " * most_common_step(steps)
    return DEFAULT_INDENT_UNIT


# --- the site, reduced to what the rules read -------------------------------------------


@dataclass(frozen=True)
class Context:
    kind: CompletionKind
    before: str | None  # the cursor line before the cursor; None when unknown (no site)
    after: str  # the cursor line after the cursor
    next_line: str | None  # the first non-blank line below the cursor line
    tab_width: int | None  # None: compare indentation only where every tab width agrees
    indent_unit: str
    eol: str
    file_indents: bool  # some line of the document is indented: its style is known
    # Columns of leading whitespace past which a suggestion with no visible character yet
    # is a run of blanks, not indentation; None when unknown (no site).
    blank_limit: int | None = None
    # The next non-blank lines after next_line (a few).
    later_lines: tuple[str, ...] = ()
    # Every two consecutive non-blank lines of the document around the cursor (stripped,
    # each long enough to be distinctive): what a suggestion may not copy (repeat-elsewhere).
    file_runs: frozenset[tuple[str, str]] = frozenset()
    # The line above opens a block the cursor is not indented into yet ("if x:" then a
    # cursor at the if's own column): the suggestion's first line must indent itself.
    body_not_indented: bool = False
    # The cursor sits at column 0 of an empty line below indented code: the editor (or a
    # save that strips trailing whitespace) left the line bare, so the indentation it needs
    # is unknown and the model's own is the best guess there is.
    indent_unknown: bool = False
    # Names the function around the cursor declares only below it (scope.declared_below).
    declared_below: frozenset[str] = frozenset()
    # Names the Python function around the cursor reads below it that nothing binds: the
    # gap has to (scope.unbound_below; block suggestions only).
    unbound_below: frozenset[str] = frozenset()
    language: str | None = None  # the site's (none without a site)
    disabled_rules: frozenset[str] = frozenset()  # the site's (none without a site)

    def enabled(self, rule: str) -> bool:
        """Whether a rule added for quality is on (all are; the evaluation switches them off
        one at a time through the disableRules setting, QWEN_LSP_DISABLE_RULES, to measure
        what each buys)."""
        return rule not in self.disabled_rules


@lru_cache(maxsize=4)
def context_for(site: CompletionSite) -> Context:
    # Cached: while streaming, the engine asks about one site after every token.
    prefix, suffix = site.prefix, site.suffix
    last_break = max(prefix.rfind("\n"), prefix.rfind("\r"))
    above, before = prefix[: last_break + 1], prefix[last_break + 1 :]
    suffix_lines = iter_lines(suffix)
    after = next(suffix_lines)
    below = [line for line in itertools.islice(suffix_lines, 64) if line.strip()]
    next_line = below[0] if below else None
    unit = _valid_indent_unit(site.indent_unit)
    tab_width = ASSUMED_TAB_WIDTH if unit == "\t" else len(unit)
    return Context(
        kind=site.kind,
        before=before,
        after=after,
        next_line=next_line,
        tab_width=tab_width,
        indent_unit=unit,
        eol=_cursor_line_ending(prefix, suffix, last_break),
        file_indents=prefix[:1] in (" ", "\t")
        or bool(_INDENTED_LINE_RE.search(prefix) or _INDENTED_LINE_RE.search(suffix)),
        blank_limit=_blank_limit(above, before, next_line, unit),
        later_lines=_later_lines_in_reach(below, tab_width),
        # Only block suggestions are cut at a copied run (cuts._copies_a_run_elsewhere).
        file_runs=_runs_of_two_lines(above, suffix) if site.kind == "block" else frozenset(),
        body_not_indented=_body_not_indented(above, before, unit),
        indent_unknown=_indent_unknown(above, before, after),
        declared_below=declared_below(site.language, prefix, suffix),
        unbound_below=unbound_below(site.language, prefix, suffix)
        if site.kind == "block"
        else frozenset(),
        language=site.language,
        disabled_rules=site.disabled_rules,
    )


def blind_context(kind: CompletionKind) -> Context:
    return Context(kind, None, "", None, None, DEFAULT_INDENT_UNIT, "\n", False)


def _valid_indent_unit(unit: str) -> str:
    if unit == "\t" or (unit and unit.strip(" ") == ""):
        return unit
    return DEFAULT_INDENT_UNIT


def _cursor_line_ending(prefix: str, suffix: str, last_break: int) -> str:
    """The line ending of the cursor line, so inserted lines match their neighbours."""
    match = NEWLINE_RE.search(suffix)
    if match is not None:
        return match.group()
    if last_break < 0:
        return "\n"
    if prefix[last_break] == "\r":
        return "\r"
    return "\r\n" if prefix[last_break - 1 : last_break] == "\r" else "\n"


def _blank_limit(above: str, before: str, next_line: str | None, unit: str) -> int:
    """The deepest indentation a suggestion could plausibly start with, plus one level.

    Code on the cursor line goes at most a level or two deeper than its neighbours: the
    line above (which may open a block), the cursor line itself and the line below.
    """
    tab_width = ASSUMED_TAB_WIDTH if unit == "\t" else len(unit)
    previous = next((line for line in reversed(split_lines(above)) if line.strip()), "")
    lines = (previous, before, next_line or "")
    return max(indent_columns(leading_ws(line), tab_width) for line in lines) + 2 * tab_width


def _body_not_indented(above: str, before: str, unit: str) -> bool:
    previous = next((line for line in reversed(split_lines(above)) if line.strip()), "")
    if not previous.rstrip().endswith((":", "{", "(", "[")):
        return False
    tab_width = ASSUMED_TAB_WIDTH if unit == "\t" else len(unit)
    return indent_columns(leading_ws(before), tab_width) <= indent_columns(
        leading_ws(previous), tab_width
    )


def _indent_unknown(above: str, before: str, after: str) -> bool:
    if before or after.strip():
        return False
    previous = next((line for line in reversed(split_lines(above)) if line.strip()), "")
    return bool(leading_ws(previous))


# How many non-blank lines after the first one below the cursor a suggestion may not repeat
# (the repeat-later rule in cuts reads them as Context.later_lines). Six, not two: the 0.5B
# wrote a hole's line of an __init__ and then the file's line five statements further down,
# then its `if` (issue 17, held-out code: 4 -> 100 on both cursors). Replayed on 547
# recorded answers (both models, every shape, Python and five other languages), nothing
# else moved with six or twelve.
_LATER_LINES = 6


def _later_lines_in_reach(below: Sequence[str], tab_width: int | None) -> tuple[str, ...]:
    """The few lines after the first one below the cursor that the suggestion could run
    into without leaving its block first.

    WHY: a line that comes after one indented less than itself (``depth -= 1`` after
    ``elif c == ")":``) sits in another block. Writing it again is the model filling its own
    block the same way (the two branches of an if often end alike), not a skip into the
    code below: to reach that copy, the suggestion would have to write the dedented line
    first.
    """
    reachable = []
    for index, target in enumerate(below[1 : 1 + _LATER_LINES], 1):
        indent = leading_ws(target)
        if not any(indent_less(leading_ws(line), indent, tab_width) for line in below[:index]):
            reachable.append(target)
    return tuple(reachable)


# Lines of the document read for file_runs, each way from the cursor: a few windows' worth
# (the copies seen were 6 and 11 lines away), and a bound on the work a huge file costs.
_RUN_REACH = 400
# A line shorter than this (``}``, ``else:``, ``return x``) is as likely the model's own.
_RUN_LINE_CHARS = 8


def _runs_of_two_lines(above: str, suffix: str) -> frozenset[tuple[str, str]]:
    """Each two consecutive non-blank lines of the document near the cursor, stripped, both
    at least _RUN_LINE_CHARS long (the cursor line left out: it is where the suggestion goes)."""
    chars = _RUN_REACH * 120  # split no more than that of a huge file (its cut lines out)
    before = split_lines(above[-chars:])[1 if len(above) > chars else 0 :][-_RUN_REACH:]
    after = split_lines(suffix[:chars])[1 : -1 if len(suffix) > chars else None][:_RUN_REACH]
    runs: set[tuple[str, str]] = set()
    for part in (before, after):
        lines = [line.strip() for line in part if line.strip()]
        runs.update(
            pair
            for pair in zip(lines, lines[1:], strict=False)
            if min(len(pair[0]), len(pair[1])) >= _RUN_LINE_CHARS
        )
    return frozenset(runs)


# --- small text helpers ------------------------------------------------------------------


def split_lines(text: str) -> list[str]:
    return NEWLINE_RE.split(text)


def iter_lines(text: str) -> Iterator[str]:
    """The lines of ``text`` one at a time (always at least one, possibly empty)."""
    start = 0
    for match in NEWLINE_RE.finditer(text):
        yield text[start : match.start()]
        start = match.end()
    yield text[start:]


def likeness(a: str, b: str) -> float:
    """How alike two lines read, their indentation aside (difflib's ratio, 0 to 1)."""
    return difflib.SequenceMatcher(None, a.strip(), b.strip(), autojunk=False).ratio()


def leading_ws(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def indent_columns(indent: str, tab_width: int) -> int:
    return indent.count("\t") * tab_width + indent.count(" ")


def indent_less(indent: str, than: str, tab_width: int | None) -> bool:
    """indent < than in columns; with an unknown tab width, only if true for every width."""
    if tab_width is not None:
        return indent_columns(indent, tab_width) < indent_columns(than, tab_width)
    tabs, spaces = indent.count("\t"), indent.count(" ")
    than_tabs, than_spaces = than.count("\t"), than.count(" ")
    return (
        tabs <= than_tabs and spaces <= than_spaces and (tabs, spaces) != (than_tabs, than_spaces)
    )


def indent_at_most(indent: str, than: str, tab_width: int | None) -> bool:
    """indent <= than in columns; with an unknown tab width, only if true for every width."""
    if tab_width is not None:
        return indent_columns(indent, tab_width) <= indent_columns(than, tab_width)
    return indent.count("\t") <= than.count("\t") and indent.count(" ") <= than.count(" ")


def most_common_step(steps: Counter[int]) -> int:
    return max(steps, key=lambda step: (steps[step], -step))


def next_line_start(text: str, offset: int) -> str | None:
    """ "\n" + indentation when the cursor ends a line of code, else None: where the
    next line would start if the user pressed Enter (editors keep the indentation)."""
    line_start = text.rfind("\n", 0, offset) + 1
    line_end = text.find("\n", offset)
    before = text[line_start:offset]
    after = text[offset:] if line_end < 0 else text[offset:line_end]
    if not before.strip() or after.strip():
        return None
    return "\n" + before[: len(before) - len(before.lstrip())]
