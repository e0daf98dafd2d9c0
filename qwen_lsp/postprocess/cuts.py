"""Where a suggestion ends: the cuts (rules 0 to 3).

A run of blanks (rule 0), a leaked control token (rule 1), and the line rules: a Markdown
fence or a program entry point (1), the end of a line completion (2), two blank lines, a
dedent out of the block, a repeat of the lines after the cursor, the end of a paragraph
between statements and a line repeated in a loop (3b). Each line rule decides at line i
from lines[0..i] only, which is what lets :func:`is_line_complete` stop the engine early
with the same answer. Last, the end of the suggestion that the rest of
the cursor line already has is trimmed (rule 3a).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from qwen_lsp.postprocess.scope import declared_names, python_bound_names, used_names
from qwen_lsp.postprocess.site import (
    ASSUMED_TAB_WIDTH,
    NEWLINE_RE,
    OPENERS,
    Context,
    indent_at_most,
    indent_columns,
    indent_less,
    leading_ws,
    likeness,
)

# `<|endoftext|>`, `<|fim_middle|>`, `<|im_end|>`, `<|file_sep|>`... and DeepSeek's
# full-width `<｜fim▁end｜>`: control tokens that leaked into the text as characters.
SPECIAL_TOKEN_RE = re.compile(r"<[|\uff5c][^\s<>|\uff5c]{1,64}[|\uff5c]>")

_FENCE = "```"

# Program entry points and test harnesses, matched at the start of a stripped line.
_ENTRY_POINT_RE = re.compile(
    r"""
      if\s+__name__\s*==                            # Python script guard
    | if\s*\(\s*require\.main\s*===?\s*module\b     # Node.js script guard
    | func\s+main\s*\(\s*\)                         # Go
    | (?:pub\s+)?fn\s+main\s*\(                     # Rust
    | \#\[cfg\(test\)\]                             # Rust unit-test module
    | (?:(?:public|static|final)\s+)+void\s+main\s*\(   # Java
    | (?:int|void)\s+main\s*\(                      # C, C++
    """,
    re.VERBOSE,
)

# --- rule 0: a run of blanks -------------------------------------------------------------


def opens_with_blank_run(text: str, context: Context) -> bool:
    """True when the suggestion starts with more whitespace than any indentation here.

    WHY: a small model sometimes answers with nothing but spaces, one token after another,
    up to the token limit: seconds of work for an empty suggestion. A first line whose
    leading whitespace (from the start of the cursor line) goes two levels past the
    deepest neighbouring line is not indentation; what might follow on that line is not
    worth waiting for. Decided from the first line's beginning alone, so the streaming
    stop agrees with :func:`postprocess`.
    """
    limit = context.blank_limit
    if limit is None or context.before is None or not context.enabled("blank-run"):
        return False
    first = NEWLINE_RE.split(text, maxsplit=1)[0]
    # After code on the cursor line only the suggestion's own whitespace counts.
    lead = leading_ws(first if context.before.strip() else context.before + first)
    tab_width = context.tab_width or ASSUMED_TAB_WIDTH
    return indent_columns(lead, tab_width) > limit


# --- rule 1 (characters): leaked control tokens ------------------------------------------


def cut_at_special_token(text: str) -> str:
    """Cut at text like ``<|endoftext|>``.

    WHY: a control token that comes out as text means the model has ended (or derailed
    into another document); nothing after it belongs to this completion, and the token
    itself must never reach the buffer.
    """
    match = SPECIAL_TOKEN_RE.search(text)
    return text if match is None else text[: match.start()]


# --- rules 1, 2 and 3b (lines): where the suggestion ends --------------------------------


@dataclass
class _Scan:
    """What the line rules know after reading lines[0..i]."""

    context: Context
    chances: Sequence[float] = ()  # per line: how sure the model was of it (chances.py)
    first_content: int | None = None  # index of the first line with suggested text
    block_indent: str | None = None  # indentation of that line; None when unknown

    def note(self, lines: Sequence[str], i: int) -> None:
        if self.first_content is not None or not lines[i].strip():
            return
        self.first_content = i
        if i > 0:
            self.block_indent = leading_ws(lines[i])
        elif self.context.before is not None:
            # The first line continues the cursor line; its indentation is the line's.
            self.block_indent = leading_ws(self.context.before + lines[0])


_LineRule = Callable[[Sequence[str], int, _Scan], int | None]


def _markdown_fence(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop before a Markdown code fence line (```` ``` ````, ```` ```python ````).

    WHY: instruct models wrap answers in fences and follow the closing one with prose.
    A fence is never code in the languages served, so whatever follows it is not code
    either; a suggestion that opens with one shows nothing.
    """
    return i if lines[i].lstrip().startswith(_FENCE) else None


def _entry_point_run_on(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop before a program entry point or test harness the suggestion did not start with.

    WHY: having written the code asked for, small models go on to demonstrate it:
    ``if __name__ == "__main__":``, ``func main()``, ``#[cfg(test)]``, ``public static
    void main``. Inside a block the dedent rule already stops this; at the top level
    nothing else does. Only lines at or above the block's own level count, so a
    suggestion that starts such a construct (or nests one) keeps it.
    """
    start, indent = scan.first_content, scan.block_indent
    if start is None or i <= start or indent is None:
        return None
    line = lines[i]
    if not _ENTRY_POINT_RE.match(line.lstrip()):
        return None
    return i if indent_at_most(leading_ws(line), indent, scan.context.tab_width) else None


def _end_of_line_kind(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """A line completion is the first line only -- unless that line opens a block.

    WHY: the syntax layer asked for one line here; anything after the first line break
    is the model guessing at code the user has not reached. But a line that ends by
    opening a block (``if n < 0:``, ``for (...) {``) is not finished without its body:
    shown alone it leaves the file broken. Then the body comes too, up to the first line
    back at the opener's indentation (a closing bracket there is kept).
    """
    context = scan.context
    if context.kind != "line":
        return None
    opener = (context.before or "") + lines[0]
    if not _opens_body(opener, context):
        return i + 1
    if i == 0 or not lines[i].strip() or context.before is None:
        return None  # (without the site the opener's indentation is unknown)
    if not indent_at_most(leading_ws(lines[i]), leading_ws(opener), context.tab_width):
        return None
    return i + 1 if lines[i].lstrip()[:1] in _CLOSING_BRACKETS else i


_CLOSING_BRACKETS = frozenset("}])")


def _opens_body(line: str, context: Context) -> bool:
    """The completed cursor line ends with a block opener and no body follows it yet."""
    if context.before is None:
        # Without the site only the suggestion is known: assume it may open a body (and
        # so stop less often), unless its own first line shows it does not.
        return not line.strip() or line.rstrip().endswith((":", "{"))
    if context.after.strip() or not line.rstrip().endswith((":", "{")):
        return False
    body = context.next_line
    if body is None:
        return True
    # A body already below (deeper than the opener) means the user is editing the
    # opener line itself; then one line is the right answer.
    return indent_at_most(leading_ws(body), leading_ws(line), context.tab_width)


def _two_blank_lines(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop at two blank lines in a row.

    WHY: two blank lines separate top-level units (PEP 8; rare anywhere else), so the
    model has finished one unit and is starting another that nobody asked for -- the
    run-on that the dedent rule cannot see when the hole is at the top level.
    """
    if scan.context.kind != "block" or i < 2:
        return None
    return i - 1 if not lines[i].strip() and not lines[i - 1].strip() else None


def _dedent(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop at the first non-blank line indented less than the block's first line.

    WHY: a block completion fills the block it starts in; a line to the left of it has
    left that block (the closing ``}`` already in the file, the next function, test
    code). Measured on the 0.5B model, this cut alone lifts HumanEval single-line
    infilling from 6% to 52% passing.
    """
    indent = scan.block_indent
    if scan.context.kind != "block" or indent is None or i == 0 or not lines[i].strip():
        return None
    return i if indent_less(leading_ws(lines[i]), indent, scan.context.tab_width) else None


def _repeats_suffix(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop before a line that repeats the first non-blank line after the cursor.

    WHY: the model does not see that the text after the hole will follow its answer and
    often writes it out again; from the repeat on, the suggestion duplicates the file.
    Lines compare stripped, but the repeat must not be nested deeper than the original:
    a deeper ``}`` or ``return err`` is the model's own code, not the file's next line.
    """
    target = scan.context.next_line
    line = lines[i]
    if target is None or line.strip() != target.strip():
        return None
    before = scan.context.before
    if i > 0:
        indent = leading_ws(line)
    elif before is not None and not before.strip() and not scan.context.after.strip():
        indent = leading_ws(before + line)  # the first line is a whole line of its own
    else:
        return None
    return i if indent_at_most(indent, leading_ws(target), scan.context.tab_width) else None


def _paragraph_between_statements(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop at a blank line followed by code back at the block's level, when the file's
    code goes on at that level right after the cursor.

    WHY: a blank line among statements with more statements of the same block below is a
    place to insert code between them, a line or a few, not the rest of the body (that
    is where a docstring-only body or the end of a block leads). The small model fills
    such a hole with one paragraph, then a blank line, then a new comment and paragraph
    of its own (``# compute log10(...)`` and four more statements for a one-line hole);
    the blank line is where its answer to the hole ends. A blank line inside a nested
    body (the next line deeper than the block) does not count, so a method or a loop the
    suggestion writes keeps its inner paragraphs. Nor does a paragraph whose first line
    binds a name the code below reads and nothing binds (scope.unbound_below): the gap
    goes on there (the 1.5B's ``formatter = ...`` in cgitb.py, issue 17).
    """
    context, indent = scan.context, scan.block_indent
    if context.kind != "block" or indent is None or i < 2 or not lines[i].strip():
        return None
    if not context.enabled("paragraph") or context.next_line is None or lines[i - 1].strip():
        return None
    tab_width = context.tab_width
    if indent_less(leading_ws(context.next_line), indent, tab_width):
        return None  # the block ends after the cursor: its rest may be asked for
    if not indent_at_most(leading_ws(lines[i]), indent, tab_width):
        return None  # deeper: a nested body's own blank line
    start = scan.first_content
    if start is None or i - 1 <= start:
        return None
    if _binds_what_the_gap_needs(lines[i : i + 1], lines[:i], context):
        return None  # the gap goes on: the code below reads what this line binds
    blank = i - 1
    while blank - 1 > start and not lines[blank - 1].strip():
        blank -= 1
    return blank


# A repeated line this short (``}``, ``else:``, ``break``) is as likely the model's own.
_DISTINCTIVE_CHARS = 6


def _repeats_later_suffix(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop before a continuation line that repeats one of the next few lines of the file,
    or before the line above it when that one is the model's own version of the file line
    just above the repeated one.

    WHY: the model often skips the line right after the hole and writes the ones after it
    (``idx = 0`` then ``for i in s:`` already below): from there on the suggestion
    duplicates the file. Only a line at exactly the indentation of the file's line counts,
    and only one long enough to be distinctive. The 1.5B also rewrites the file's next
    lines with one of them changed: the hole's line, then ``if inspect.isfunction(object):
    ...`` for the file's ``if inspect.isroutine(object): ...``, then the file's ``except
    AttributeError:`` (pydoc.py, issue 17): the changed line is not part of the hole, since
    the exact repeat right after it shows where the model was.
    """
    line = lines[i]
    stripped = line.strip()
    context = scan.context
    if i == 0 or len(stripped) < _DISTINCTIVE_CHARS or not context.enabled("repeat-later"):
        return None
    for index, target in enumerate(context.later_lines):
        if stripped == target.strip() and leading_ws(line) == leading_ws(target):
            above = context.next_line if index == 0 else context.later_lines[index - 1]
            start = scan.first_content
            if above is not None and start is not None and i - 1 > start:
                if _rewrites(lines[i - 1], above):
                    return i - 1
            return i
    return None


def _copies_a_run_elsewhere(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Between statements, stop before a new statement that starts two lines the file
    already has, one after the other, somewhere near the cursor.

    WHY: having written the hole, the model goes on with code it has read elsewhere in the
    file: the 0.5B wrote lzma.py's ``self._check_can_read()`` right, then ``if size < 0:
    size = io.DEFAULT_BUFFER_SIZE`` from the next method, eleven lines down (issue 17):
    beyond the repeat-later rule's reach, and from another block. Inserted among the
    block's statements, a copy of two of the file's lines is not the code the gap is
    missing. Only where code of the same block follows the cursor (at the end of a block
    or in an empty body, code like the file's may be asked for: the rest of a loop, a
    method written like its twin), only at a statement of the block's own level after the
    first (a body the suggestion opens may use the file's idioms), only lines long
    enough to be distinctive (site._runs_of_two_lines), and not inside a comment (the
    1.5B copied os.py's three-line comment and was left with its first line, ending in
    "if", issue 17).
    """
    context, indent, start = scan.context, scan.block_indent, scan.first_content
    if context.kind != "block" or indent is None or start is None or i - 1 <= start:
        return None
    target = context.next_line
    if target is None or not context.enabled("repeat-elsewhere"):
        return None
    if indent_less(leading_ws(target), indent, context.tab_width):
        return None  # the block ends after the cursor
    if leading_ws(lines[i - 1]) != indent:
        return None
    if _is_comment(lines[i - 2]) and _is_comment(lines[i - 1]):
        return None  # inside a comment: a cut would end it mid-sentence
    return i - 1 if (lines[i - 1].strip(), lines[i].strip()) in context.file_runs else None


def _is_comment(line: str) -> bool:
    return bool(_COMMENT_RE.match(line.lstrip()))


# A line this much like a file line (difflib's ratio, stripped) is the model's version of
# it: one name or literal changed in a line of several.
_REWRITE_RATIO = 0.8


def _rewrites(line: str, target: str) -> bool:
    """Whether ``line`` is ``target`` with a small change, at its indentation."""
    if leading_ws(line) != leading_ws(target) or line.strip() == target.strip():
        return False
    return likeness(line, target) >= _REWRITE_RATIO


def _stuck_in_a_loop(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop at the third copy in a row of one line, keeping the first.

    WHY: a small model that repeats itself stays stuck until its token budget runs out
    (``book.add_item(BookItem::new());`` thirteen times in a row for a one-line hole in
    Rust, issue 17). Code repeats a statement twice in a row now and then, three times
    hardly ever; the copies after the first are the loop, not the answer.
    """
    line = lines[i].strip()
    if i < 2 or len(line) < _DISTINCTIVE_CHARS or lines[i] != lines[i - 1]:
        return None
    return i - 1 if lines[i - 1] == lines[i - 2] else None


# A statement that leaves its block: nothing after it in the same block runs.
_JUMP_RE = re.compile(r"(?:return|raise|throw|continue|break)\b")
# A branch or a closer: a line that goes on with the statement above it.
_GOES_ON_ABOVE_RE = re.compile(r"(?:else|elif|except|finally|catch|case|default)\b|[)\]}]")
# Lines that are not the next statement of a block: those, or a comment (the code after
# it is not known from one line).
_COMMENT_RE = re.compile(r"#|//|/\*|\*|--")
_NOT_A_STATEMENT_RE = re.compile(_GOES_ON_ABOVE_RE.pattern + "|" + _COMMENT_RE.pattern)


def _jump_before_code(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop before a continuation line that leaves the block (``return``, ``raise``,
    ``throw``, ``continue``, ``break``) at the indentation of the file's next line of
    code: that code would never run.

    WHY: the model writes the hole, then its own version of the statement that follows
    it (the 1.5B: ``s.append('traps=[' ...)`` right, then ``return '\\n'.join(s)`` above
    the file's ``return ', '.join(s) + ')'``: issue 17). Real code has no statement after
    a jump in the same block, so the line is never part of the hole. The first line is
    left alone: cutting it leaves nothing.
    """
    context = scan.context
    target = context.next_line
    if i == 0 or target is None or not context.enabled("jump-before-code"):
        return None
    line = lines[i]
    if not _JUMP_RE.match(line.lstrip()) or leading_ws(line) != leading_ws(target):
        return None
    return None if _NOT_A_STATEMENT_RE.match(target.lstrip()) else i


def _uses_a_later_declaration(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop before a continuation line that reads a name the function declares only
    below the cursor (and the suggestion has not declared itself).

    WHY: such a line cannot run there (the name does not exist yet): the model skipped
    the lines that declare it and went on with the code after the hole, out of order
    (``const bgB = ...`` right, then ``const cr = contrastRatio(...fgR, fgG, fgB)`` with
    ``let fgR`` three lines below the hole: TypeScript, issue 17). The first line is
    left alone: cutting it leaves nothing, and the reparse check is its judge.
    """
    later = scan.context.declared_below
    if i == 0 or not later or not scan.context.enabled("declared-below"):
        return None
    used = used_names(lines[i]) & later
    if not used:
        return None
    language = scan.context.language
    own = declared_names(language, "\n".join(lines[: i + 1]))
    return i if used - own else None


# An assignment statement on one line: its targets (names or dotted attributes, chained
# ``a = b = ...``), then the value. ``==`` is a comparison, ``x: int =`` left out.
_ASSIGNMENT_RE = re.compile(r"((?:[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*\s*=(?!=)\s*)+)(.*)")
_TARGET_RE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_REFERENCE_RE = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
# Quoted strings: their words are not reads (a comment's are kept: a read too many only
# keeps a line).
_STRING_RE = re.compile(r"\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'")


def _overwritten_by_next_line(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop before a continuation line that assigns only what the file's next line
    assigns again without reading it, at the same indentation.

    WHY: such a store is dead (nothing reads it before the file overwrites it), which
    real code hardly ever has: the line is the model's own version of the file's next
    line, not part of the hole. The 1.5B wrote the hole's ``self.a = a``, then
    ``self.opcodes = None`` and ``self.matching_blocks = None`` above the file's
    ``self.matching_blocks = self.opcodes = None`` (difflib.py, issue 17). An attribute
    counts as read by any call in the next line (a method may read it), a plain name only
    where that line's value names it. The first line is left alone: cutting it leaves
    nothing.
    """
    target = scan.context.next_line
    start = scan.first_content
    if start is None or i <= start or target is None or not scan.context.enabled("overwritten"):
        return None
    line = lines[i]
    if leading_ws(line) != leading_ws(target):
        return None
    stored, overwritten = _assignment(line), _assignment(target)
    if stored is None or overwritten is None or not _balanced(target):
        return None
    names, _ = stored
    again, value = overwritten
    if not names <= again:
        return None
    reads = set(_REFERENCE_RE.findall(_STRING_RE.sub(" ", value)))
    calls = "(" in value
    for name in names:
        if any(
            read == name or read.startswith(name + ".") or name.startswith(read + ".")
            for read in reads
        ):
            return None
        if "." in name and calls:
            return None
    return i


def _assignment(line: str) -> tuple[frozenset[str], str] | None:
    """The targets and the value of a one-line assignment statement, or None."""
    match = _ASSIGNMENT_RE.fullmatch(line.strip().rstrip(";"))
    if match is None or not match.group(2).strip():
        return None
    return frozenset(_TARGET_RE.findall(match.group(1))), match.group(2)


def _balanced(line: str) -> bool:
    """Whether a line closes every bracket it opens (a statement that ends on it)."""
    code = _STRING_RE.sub(" ", line)
    return all(code.count(o) == code.count(c) for o, c in ("()", "[]", "{}"))


# Lines an insertion between two statements of a block may take before a new statement at
# the block's level ends it (a compound statement is never cut: only a new one).
_INSERT_LINES = 4


def _long_insert_between_statements(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop before a new statement at the block's level once the suggestion has written
    _INSERT_LINES lines, when the file's code goes on at that level right after the cursor.

    WHY: between two statements of a block the small model goes on writing the block as
    it imagines it (``self.smtp_state = self.RESET`` and five more assignments for the one
    line ``self.received_data = ''``), and each line past the hole costs the whole
    suggestion. Replayed on the recorded answers of issue 17's runs (0.5B Python at
    column 0, 40 + 40 holes, seed 3: few lines 35.5 -> 37.2 edit similarity; Rust few
    lines 53.5 -> 57.6, JavaScript 23.9 -> 25.6, Go 37.0 -> 38.0; 1.5B Python 35.9 -> 36.7),
    no row lost; three lines cut more answers that were right (a Go hole of four lines).
    A whole body (the block ends after the cursor) is not limited.
    """
    start = scan.first_content
    if start is None or i - start < _INSERT_LINES or not scan.context.enabled("long-insert"):
        return None
    return i if _new_statement_between_statements(lines, i, scan) else None


# Below this a new statement is one the model was unsure of (line_chances: the geometric
# mean of its tokens' probabilities).
_UNSURE_BELOW = 0.6


def _unsure_insert_between_statements(lines: Sequence[str], i: int, scan: _Scan) -> int | None:
    """Stop before a new statement at the block's level that the model was unsure of,
    when the file's code goes on at that level right after the cursor.

    WHY: between two statements of a block the hole may be one line or several, which
    the text cannot tell; the model's own doubt can. After the line it was asked for, a
    small model goes on guessing the next statements, and a guess costs the suggestion
    more than a missing line does. The first line is never cut (that is all there is),
    nor a guess that goes on to bind a name the code after the cursor reads and nothing
    binds (scope.unbound_below): the gap is more than the lines before it then (the
    1.5B wrote remote.py's docstring, then ``try: data = json.loads(...)`` for code below
    that reads ``data``, and was cut after the docstring, issue 17).
    """
    start, chances = scan.first_content, scan.chances
    if start is None or i <= start or i >= len(chances) or chances[i] >= _UNSURE_BELOW:
        return None
    if not scan.context.enabled("unsure-insert"):
        return None
    if not _new_statement_between_statements(lines, i, scan):
        return None
    return None if _binds_what_the_gap_needs(lines[i:], lines[:i], scan.context) else i


def _binds_what_the_gap_needs(
    lines: Sequence[str], earlier: Sequence[str], context: Context
) -> bool:
    """True when ``lines`` bind a name the code after the cursor reads and nothing binds
    (scope.unbound_below) that the ``earlier`` lines of the suggestion do not."""
    needed = context.unbound_below
    if not needed:
        return False
    return bool(needed & python_bound_names(lines) - python_bound_names(earlier))


def _new_statement_between_statements(lines: Sequence[str], i: int, scan: _Scan) -> bool:
    """True when lines[i] starts a new statement at the level of the block being
    written, and the file's code after the cursor goes on at that level (not a body that
    ends there)."""
    context, indent = scan.context, scan.block_indent
    if context.kind != "block" or indent is None or context.next_line is None:
        return False
    line, tab_width = lines[i], context.tab_width
    if not line.strip() or indent_less(leading_ws(context.next_line), indent, tab_width):
        return False
    if not indent_at_most(leading_ws(line), indent, tab_width):
        return False  # deeper: inside the compound statement being written
    return not _GOES_ON_ABOVE_RE.match(line.lstrip())


_LINE_RULES: tuple[_LineRule, ...] = (
    _markdown_fence,
    _entry_point_run_on,
    _end_of_line_kind,
    _two_blank_lines,
    _dedent,
    _repeats_suffix,
    _repeats_later_suffix,
    _copies_a_run_elsewhere,
    _paragraph_between_statements,
    _stuck_in_a_loop,
    _uses_a_later_declaration,
    _jump_before_code,
    _overwritten_by_next_line,
    _long_insert_between_statements,
    _unsure_insert_between_statements,
)


def first_cut(lines: Sequence[str], context: Context, chances: Sequence[float] = ()) -> int | None:
    """How many lines to keep, or None when no rule stops in ``lines``; ``chances``:
    per line, how sure the model was of it (none known: every line sure).

    Each rule decides at line i from lines[0..i] only; this is what makes the streaming
    answer of :func:`is_line_complete` agree with :func:`postprocess`.
    """
    scan = _Scan(context, chances)
    for i in range(len(lines)):
        scan.note(lines, i)
        cuts = [cut for rule in _LINE_RULES if (cut := rule(lines, i, scan)) is not None]
        if cuts:
            return min(cuts)
    return None


# --- after the line rules: a needed name bound on one path only ---------------------------

# A statement whose body may not run: a name bound only inside it may stay unbound.
_CONDITIONAL_RE = re.compile(r"(?:if|for|while|async\s+for)\b")
_LATER_CLAUSE_RE = re.compile(r"(?:elif|else)\b")


def bound_only_inside(lines: list[str], context: Context) -> list[str]:
    """The suggestion cut before an ``if``, ``for`` or ``while`` statement after its first
    line, when that statement is where it binds a name the code after the cursor reads and
    nothing binds (scope.unbound_below), inside the body only and with no ``else``.

    WHY: the gap has to bind that name for the code below, on every path; bound inside a
    body that may not run, the code below reads an unbound name. The model has then left
    the gap and rewritten what follows it inside a condition of its own: the 1.5B wrote
    pkgutil.py's ``fullname = self._fix_name(fullname)`` right, then ``if self.filename is
    None:`` with the hole's ``mod_type = self.etc[2]`` and the method's rest inside it
    (issue 17; the 0.5B the same). Decided on the lines the line rules kept, as a whole
    (an ``else`` further down binds it on the other path): the streaming stop is not
    affected, it only shortens what those rules keep. A suggestion that starts with the
    statement is left to the reparse check: cutting it leaves nothing (the 0.5B's
    ``if level <= 0 and n: s = ... else: ...`` in reprlib.py scored above the raw cuts).
    """
    needed = context.unbound_below
    if not needed or context.kind != "block" or not context.enabled("bound-inside"):
        return lines
    scan = _Scan(context)
    for i in range(len(lines)):
        scan.note(lines, i)
    start, indent, tab_width = scan.first_content, scan.block_indent, context.tab_width
    if start is None or indent is None:
        return lines
    i = start + 1
    while i < len(lines):
        line = lines[i]
        if leading_ws(line) != indent or not _CONDITIONAL_RE.match(line.lstrip()):
            i += 1
            continue
        end, has_else = i + 1, False  # the statement: its body and its elif / else clauses
        while end < len(lines):
            later = lines[end]
            if later.strip() and not indent_less(indent, leading_ws(later), tab_width):
                if leading_ws(later) != indent or not _LATER_CLAUSE_RE.match(later.lstrip()):
                    break
                has_else = has_else or later.lstrip().startswith("else")
            end += 1
        inside = python_bound_names(lines[i + 1 : end]) - python_bound_names(lines[: i + 1])
        if needed & inside and not has_else:
            return lines[:i]
        i = end
    return lines


# --- rule 3a: the end that is already in the file ----------------------------------------


def trim_rest_of_line_overlap(lines: list[str], context: Context) -> list[str]:
    """Drop the end of the suggestion that the rest of the cursor line already starts with.

    WHY: editors auto-close brackets and quotes, and the model writes them again:
    ``foo(a, b)`` typed into ``foo(|)`` would leave ``foo(a, b))``. The longest such
    overlap goes, unless one of its closing brackets closes a bracket the suggestion
    itself opened before the overlap (``print(|)`` + ``len(xs)`` is right as it is).
    """
    rest = context.after.lstrip()
    if not rest or not lines:
        return lines
    last = lines[-1].rstrip()
    body = "\n".join([*lines[:-1], last])
    for size in range(min(len(last), len(rest)), 0, -1):
        if rest.startswith(last[-size:]) and not _closes_own_bracket(body, len(body) - size):
            return [*lines[:-1], last[:-size]]
    return lines


def _closes_own_bracket(text: str, start: int) -> bool:
    """True if a closing bracket in text[start:] matches an opener in text[:start]."""
    stack: list[tuple[str, int]] = []
    for index, char in enumerate(text):
        if char in "([{":
            stack.append((char, index))
        elif char in OPENERS:
            if stack and stack[-1][0] == OPENERS[char]:
                _, opened_at = stack.pop()
                if index >= start and opened_at < start:
                    return True
            # An unmatched closer closes something before the cursor: a duplicate.
    return False


def written_lines(text: str, stop_reason: str) -> str:
    """A generation's ``text`` without the line a token or time limit cut off, when lines above
    it are complete: that line is half a statement (``self._file.seek``), or a call the
    bracket rule would close on arguments the model never chose, or a comment stopped
    mid-sentence (issue 17: 19 of about 600 block answers on real files hit the 160-token
    cap). Lines left open at the end (``select {``) go too: their body was never written,
    and closing them makes one up (``select {}``). A first line cut off is all there is,
    and stays (as with maxTokensLine)."""
    if stop_reason not in ("max_tokens", "time_cap") or text.endswith(("\n", "\r")):
        return text
    lines = text.splitlines(keepends=True)[:-1]
    while lines and (not lines[-1].strip() or lines[-1].rstrip()[-1] in _LEFT_OPEN):
        lines.pop()
    return "".join(lines) or text


_LEFT_OPEN = frozenset("{([:,\\")
