"""Rule 7: the suggestion must not break the parse.

The cuts and the layout rules read text; only a parser knows whether the file still
parses with the suggestion in it. The document around the cursor is parsed with
tree-sitter (and, for Python, compiled) with and without the suggestion; one that adds
errors gets its open brackets and quote closed, or is cut back until it adds none.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from tree_sitter import Tree

from qwen_lsp import brackets, languages, syntax
from qwen_lsp.postprocess.layout import without_extra_indent
from qwen_lsp.postprocess.site import (
    NEWLINE_RE,
    CompletionSite,
    Context,
    leading_ws,
)
from qwen_lsp.postprocess.window import parsed_window

# --- rule 7: the suggestion must not break the parse ---------------------------------------

# Candidates checked at most, longest first: a bound on the parsing work per suggestion.
_MAX_CHECKS = 40


@dataclass(frozen=True)
class _Checker:
    """Whether inserting a text at the cursor adds syntax errors to the document."""

    language: str
    head: str  # the document before the cursor (a window of whole lines)
    tail: str  # the document after the cursor
    errors: int  # tree-sitter ERROR/MISSING nodes without any insertion
    python_error: tuple[int, str] | None  # Python only: the compiler's first complaint
    # Code follows the cursor on its line, and that line does not parse yet: a hole in the
    # middle of a line being written. An insertion there must mend the line; one that
    # leaves it as broken as before rewrites what follows instead of filling the hole
    # (`self.‸ 0` given `_read_pos += size`; `(‸)` given `(10 * time.Second)`).
    mid_line_broken: bool = False
    # Blank and comment lines right below the cursor line: the compiler reports a missing
    # body or a bad dedent on the next line of code, past them.
    skipped_lines: int = 0

    def adds_errors(self, insertion: str) -> bool:
        text = self.head + insertion + self.tail
        tree = syntax.get_parser(self.language).parse(text.encode("utf-8", syntax.UTF8_ERRORS))
        if syntax.count_errors(tree.root_node) > self.errors:
            return True
        error = _python_error(text) if self.language == "python" else None
        if self.mid_line_broken and not NEWLINE_RE.search(insertion):
            if _line_is_broken(self.language, tree, error, _line_count(self.head) - 1):
                return True
        if self.language != "python":
            return False
        # tree-sitter-python accepts an opener without a body and inconsistent dedents;
        # the compiler does not. Any complaint is new unless the document had the same
        # one below the cursor already (an empty body the suggestion did not fill), which
        # the insertion only moves down.
        if error is None:
            return False
        if self.python_error is None:
            return True
        line, message = self.python_error
        if line < _line_count(self.head):
            return False  # the code above is broken already: the compiler cannot tell
        if error[0] > _line_count(self.head) + _line_count(insertion) + self.skipped_lines:
            # WHY: the document's complaint (an empty body at the cursor, which the
            # insertion fills) hid the rest of the file from the compiler; one found past
            # the next line of code below the insertion was there already (a broken line
            # further down, or the checked window ending inside a block: inspect.py's
            # `else:`).
            # What an insertion breaks is reported on it or on the line after it: an
            # unclosed bracket or string at its opener, a missing body or a bad dedent
            # on the next line of code.
            return False
        return error != (line + _line_count(insertion) - 1, message)

    def mends(self, insertion: str) -> bool:
        """Whether the document has fewer syntax errors with ``insertion`` than without."""
        return self.errors_with(insertion) < self.errors and not self.adds_errors(insertion)

    def errors_with(self, insertion: str) -> int:
        """tree-sitter's ERROR/MISSING nodes in the document with ``insertion`` at the cursor."""
        text = self.head + insertion + self.tail
        tree = syntax.get_parser(self.language).parse(text.encode("utf-8", syntax.UTF8_ERRORS))
        return syntax.count_errors(tree.root_node)


def _line_count(text: str) -> int:
    return len(NEWLINE_RE.findall(text)) + 1


def _line_is_broken(
    language: str, tree: Tree, python_error: tuple[int, str] | None, row: int
) -> bool:
    """Whether line ``row`` (0-based) of the parsed text holds a syntax error: for Python
    the compiler's first complaint (``python_error``) is on it; otherwise tree-sitter
    finds an error on it (syntax.has_error_on_row)."""
    if language == "python":
        return python_error is not None and python_error[0] == row + 1
    return syntax.has_error_on_row(tree.root_node, row)


_DIGITS_RE = re.compile(r"\d+")


def _python_error(text: str) -> tuple[int, str] | None:
    """(line, message with its numbers blanked) of the first SyntaxError, or None.

    Compiled, not only parsed: ``break`` outside a loop or ``return`` outside a function
    parse fine and are rejected only when the compiler builds the code (a for loop's
    ``else:`` written at the loop's column turns the ``break`` under it into one).
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SyntaxWarning for "\d" and the like
        try:
            compile(text, "<suggestion>", "exec", dont_inherit=True)
        except SyntaxError as error:
            return error.lineno or 1, _DIGITS_RE.sub("N", error.msg)
        except (ValueError, RecursionError, MemoryError) as error:
            return 1, type(error).__name__
    return None


@lru_cache(maxsize=4)
def _checker(site: CompletionSite) -> _Checker | None:
    language = site.language
    if language is None or languages.find(language) is None:
        return None
    window = parsed_window(language, site.prefix, site.suffix)
    head, tail, tree = window.head, window.tail, window.tree
    python_error = _python_error(window.text) if language == "python" else None
    rest_of_line = NEWLINE_RE.split(tail, maxsplit=1)[0]
    mid_line_broken = bool(rest_of_line.strip()) and _line_is_broken(
        language, tree, python_error, _line_count(head) - 1
    )
    return _Checker(
        language,
        head,
        tail,
        syntax.count_errors(tree.root_node),
        python_error,
        mid_line_broken,
        _blank_or_comment_lines_after_first(tail),
    )


def _blank_or_comment_lines_after_first(text: str) -> int:
    count = 0
    for line in NEWLINE_RE.split(text)[1:]:
        if line.strip() and not line.lstrip().startswith("#"):
            break
        count += 1
    return count


def verified(lines: list[str], site: CompletionSite, context: Context) -> list[str]:
    """The suggestion, or its longest beginning that adds no syntax error; [] if none.

    WHY: the cutting rules read text; only a parser knows whether the file still parses
    with the suggestion in it. A suggestion that adds an error is first given the
    closing brackets and quote its last line leaves open (``foo(a, b`` before an empty
    rest of line), then cut back at line ends, then at token ends within the first line
    that broke it; what never parses is not shown. The document's own errors do not
    count against a suggestion: only errors it adds do.
    """
    checker = _checker(site)
    if checker is None:
        return lines
    checks = 0

    def fits(candidate: list[str]) -> bool:
        nonlocal checks
        checks += 1
        return not checker.adds_errors(context.eol.join(candidate))

    def fits_or_balanced(candidate: list[str]) -> list[str] | None:
        if fits(candidate):
            return candidate
        balanced = (
            _balanced(candidate, context, site.language) if context.enabled("balance") else None
        )
        if balanced is not None and balanced != candidate and fits(balanced):
            return balanced
        return None

    found = fits_or_balanced(lines)
    if found is lines:
        found = _balanced_in_broken_document(lines, site, context, checker)
    if found is not None:
        return _docstring_closed(found, site, context, checker)
    closed = _opened_docstring_closed(lines, context)
    if closed is not None and fits(closed):
        return closed
    handled = _handler_given_pass(lines, site, context)
    if handled is not None and fits(handled):
        return handled
    shifted = without_extra_indent(lines, context)
    if shifted is not None:
        found = fits_or_balanced(shifted)
        if found is not None:
            return found
    kept = 0  # whole lines that parse
    for count in range(len(lines), 0, -1):
        if checks >= _MAX_CHECKS:
            return []
        if not lines[count - 1].strip():
            continue
        if count < len(lines) and fits(lines[:count]):
            kept = count
            break
        closed = _docstring_closed_below(lines[:count], context)
        if closed is not None and fits(closed):
            return closed
    if kept < len(lines):
        line = lines[kept]
        for end in reversed(_token_ends(line)):
            if checks >= _MAX_CHECKS:
                break
            candidate = [*lines[:kept], line[:end]]
            if not line[:end].strip().strip("\"'"):
                break  # nothing, or only the quotes of an empty string: no code to show
            found = fits_or_balanced(candidate)
            if found is not None:
                return found
    return lines[:kept]


def _balanced_in_broken_document(
    lines: list[str], site: CompletionSite, context: Context, checker: _Checker
) -> list[str]:
    """The suggestion with the brackets it opened and left open closed, when the document
    was broken at the cursor already and the closed suggestion leaves it with fewer errors
    than the suggestion as written; otherwise the suggestion as written.

    WHY: a document broken at the cursor (a call being written, ``process.on('log', (...``)
    breaks the rest of the file for the parser, so an answer whose block runs into the token
    limit with its own braces open adds no error to it: it even has fewer (issue 17: the
    0.5B's `args) => {` block in node-gyp's log.js, shown with two braces open, 33 errors
    without it and 23 with it). Its own open brackets are the added error the count cannot
    see; a closed answer that parses better is what the user needs. An answer that leaves a
    block open for the code below the cursor to close is kept: closing it there leaves that
    code's closer unmatched, and the count goes up, not down."""
    if checker.errors == 0 or not context.enabled("balance"):
        return lines
    comment = languages.get(site.language).line_comment if site.language else "#"
    before = context.before or ""
    found = brackets.scan(before + "\n".join(lines), comment)
    if not any(at >= len(before) for _, at in found.brackets):
        return lines  # nothing of its own left open
    balanced = _balanced(lines, context, site.language)
    if balanced is None or balanced == lines:
        return lines
    if checker.errors_with(context.eol.join(balanced)) >= checker.errors_with(
        context.eol.join(lines)
    ) or checker.adds_errors(context.eol.join(balanced)):
        return lines
    return balanced


_TRIPLE_QUOTES = ('"' * 3, "'" * 3)


def _docstring_closed(
    lines: list[str], site: CompletionSite, context: Context, checker: _Checker
) -> list[str]:
    """A one-line answer in a docstring opened on the cursor line, with nothing after the
    cursor: the answer with the closing quotes, when they mend the document.

    WHY: the model ends the docstring's line and stops; without its closing quotes every
    line below is read as the string's text, and the file stays broken (issue 17: the
    1.5B after the three quotes that open `sock_avail`'s docstring: the evaluation counts it as
    adding a syntax error). Quotes closed further down leave the document parsing: then
    nothing is added (the docstring goes on below)."""
    if site.language != "python" or len(lines) != 1 or context.after.strip():
        return lines
    before = context.before or ""
    quote = next((q for q in _TRIPLE_QUOTES if before.count(q) % 2 == 1), None)
    if quote is None or quote in lines[0] or not lines[0].strip():
        return lines
    closed = [lines[0].rstrip() + quote]
    return closed if checker.mends(closed[0]) else lines


_TOKEN_RE = re.compile(r"\w+|\s+|\S")


def _token_ends(line: str) -> list[int]:
    """Offsets in ``line`` where a token (word, or one other visible character) ends."""
    return [m.end() for m in _TOKEN_RE.finditer(line) if not m.group().isspace()][:-1]


def docstring_left_open(lines: Sequence[str], context: Context) -> str | None:
    """The triple quote a Python suggestion opens and leaves open (not one the cursor line
    opened before it), or None."""
    if context.language != "python":
        return None
    before, text = context.before or "", "\n".join(lines)
    return next(
        (q for q in _TRIPLE_QUOTES if before.count(q) % 2 == 0 and text.count(q) % 2 == 1),
        None,
    )


def _opened_docstring_closed(lines: list[str], context: Context) -> list[str] | None:
    """The suggestion with the triple quote its last line opens closed at that line's end;
    None when it opens none.

    WHY: a docstring's first line, and the answer ends there (the 0.5B's chat answer
    closed its code block after the opening quotes and `execlp(file, *args)` in os.py,
    issue 17): left open, the string runs into the file's next docstring, and the cuts
    at token ends kept only an empty string of it."""
    quote = docstring_left_open(lines, context)
    if quote is None or not lines or lines[-1].count(quote) % 2 == 0:
        return None
    return [*lines[:-1], lines[-1].rstrip() + quote]


def _docstring_closed_below(lines: list[str], context: Context) -> list[str] | None:
    """The suggestion, which opens with a docstring it leaves open, with the closing quotes
    on a line of their own below, at the docstring's indentation; None otherwise.

    WHY: the model wrote the docstring's lines and then stopped, or went on with no
    closing quotes (the 0.5B for `bisect.insort_right` wrote the six lines of its docstring,
    then, at column 0 and in quotes of its own, the module's docstring). Every cut at a
    line end leaves the string open, and the cuts at token ends inside the first line kept
    only the two quote characters `""` of it: the docstring is worth more than that."""
    opening = next((i for i, line in enumerate(lines) if line.strip()), None)
    if opening is None:
        return None
    first = lines[opening].lstrip()
    if not first.startswith(_TRIPLE_QUOTES):
        return None  # (checked before the lines are joined: tried at each cut)
    quote = docstring_left_open(lines, context)
    if quote is None or not first.startswith(quote):
        return None
    # (an answer from the end of the line above starts with its line break)
    before = context.before or ""
    indent = before if opening == 0 and not before.strip() else ""
    indent += lines[opening][: len(lines[opening]) - len(first)]
    return [*lines, indent + quote]


_HANDLER_RE = re.compile(r"except\b[^#]*:\s*$")


def _handler_given_pass(
    lines: list[str], site: CompletionSite, context: Context
) -> list[str] | None:
    """The suggestion, which ends with a Python ``except ...:`` line after lines of its own,
    with ``pass`` as that handler's body; None otherwise.

    WHY: the model stopped right after the handler's line (the 0.5B's chat answer closed its
    code block after `except KeyError:` for `MutableMapping.clear` in _collections_abc.py,
    issue 17: the file's own body there is `pass`). Left without a body the handler breaks
    the parse, and the cuts at line ends then drop the whole `try` statement, which is
    most of the answer."""
    if site.language != "python":
        return None
    last = max((i for i, line in enumerate(lines) if line.strip()), default=0)
    if last == 0 or not _HANDLER_RE.match(lines[last].lstrip()):
        return None
    return [*lines[: last + 1], leading_ws(lines[last]) + context.indent_unit + "pass"]


def _balanced(lines: list[str], context: Context, language: str | None) -> list[str] | None:
    """The suggestion with the brackets and the quote it leaves open closed.

    A bracket or quote opened on the last line is closed at its end; a bracket that ends
    an earlier line (a body ``{``, a list ``[``) gets a line of its own at that line's
    indentation, followed by the cursor line's brackets opened before the cursor when
    that line is the one (``})``). Openers before the cursor are closed too when nothing
    follows the cursor on its line (otherwise the rest of the line closes them: an
    editor's auto-closed bracket). None when there is nothing to close or the text is too
    tricky to scan (a triple quote, a bracket the suggestion left open in the middle of an
    earlier line).
    """
    if not lines:
        return None
    comment = languages.get(language).line_comment if language else "#"
    before = context.before or ""
    start = len(before)
    scan = before + "\n".join(lines)
    last_line_start = scan.rfind("\n") + 1
    rest_closes = bool(context.after.strip())
    found = brackets.scan(scan, comment)
    if found.unsure_strings:
        return None  # a triple quote, or a string left open on an earlier line
    tail = ""
    if found.quote:
        if found.quote_at < last_line_start or (found.quote_at < start and rest_closes):
            return None
        tail = found.quote
    extra: list[str] = []
    extra_line_start = -1  # where the line starts whose bracket the last extra line closes
    for char, at in reversed(found.brackets):
        if at < start and rest_closes:
            break  # opened before the cursor: the rest of the cursor line closes it
        if at >= last_line_start:
            tail += brackets.CLOSER_OF[char]
            continue
        line_start = scan.rfind("\n", 0, at) + 1
        line_end = scan.find("\n", at)
        if at < start and line_start == extra_line_start:
            # WHY: the cursor line's call being written (`on('log', (...` + `args) => {`),
            # open before the bracket that ends its line: closed right after it, as code
            # is written (`})`). One the suggestion opened in the middle of a line is not:
            # a call it ran out of tokens in is cut inside instead (issue 17: nested
            # `Chapter::new(` calls of the 0.5B in rustc's main.rs).
            extra[-1] += brackets.CLOSER_OF[char]
            continue
        if scan[at + 1 : line_end].strip():
            return None  # open in the middle of an earlier line: cut inside it
        extra.append(leading_ws(scan[line_start:at]) + brackets.CLOSER_OF[char])
        extra_line_start = line_start
    if not tail and not extra:
        return None
    return [*lines[:-1], lines[-1] + tail, *extra]
