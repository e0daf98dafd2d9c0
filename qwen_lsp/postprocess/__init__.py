"""Turn a raw fill-in-the-middle generation into the suggestion the editor shows.

The small instruct models this server runs rarely stop by themselves: they run on into
test code, Markdown fences and prose, repeat the lines that already follow the cursor,
close brackets the editor has already closed and wander out of the block they were
asked to fill. Every rule below is a cut or a trim that can be justified from the text
alone; checking the result against the syntax tree is a later layer on top of this one.

The cutting rules look at one line at a time and only at the lines before it, so the
same rules answer the streaming question too: :func:`is_line_complete` reports when the
first cut already lies in the completed lines of a partial generation, which lets the
engine stop early without changing what :func:`postprocess` returns.

Where each rule lives (the order in which :func:`postprocess` applies them is below):

- ``site``: :class:`CompletionSite`, :func:`detect_indent_unit`, the site reduced to what
  the rules read (``Context``), :func:`next_line_start` (where the line after a finished
  one starts), and the small text and indentation helpers.
- ``cuts``: where the suggestion ends. Rule 0, a run of blanks (``blank-run``); rule 1, a
  leaked control token, a Markdown fence, a program entry point; rule 2, the end of a
  line completion; rule 3b, two blank lines, a dedent out of the block, a repeat of the
  lines after the cursor (``repeat-later`` for the later ones), a copy of two lines the
  file has elsewhere between statements (``repeat-elsewhere``), the end of a paragraph
  when code of the same block follows the cursor (``paragraph``), the third copy of a
  line in a row, a name declared only below the cursor (``declared-below``), a jump
  above the file's next statement (``jump-before-code``), a store the file's next line
  overwrites unread (``overwritten``), a new statement after four
  lines inserted between statements (``long-insert``), a new statement the model was
  unsure of there (``unsure-insert``); after them, an ``if`` or loop that binds a name
  the code below needs only inside it (``bound-inside``); rule 3a, the end the rest of
  the cursor line already has. Before all of them, :func:`written_lines`: a generation
  without the line a token or time limit cut off.
- ``chances``: how sure the model was of each line (from its tokens' probabilities).
- ``layout``: rule 4, trailing whitespace and blank lines; rule 5, indentation
  converted to the file's unit; the cursor's indentation (``cursor-indent``, also for
  a first line alone indented again, before the cuts); rule 6,
  placeholders (``placeholder``).
- ``checks``: rule 7, the suggestion must not break the parse (``reparse``), with its
  brackets and quote closed first (``balance``), a docstring it opens closed, and a
  Python ``except`` line it ends on given ``pass``.

The quoted names are the rules the ``disableRules`` setting can switch off (through
:attr:`CompletionSite.disabled_rules`), to measure what each buys.

Pure: strings in, strings out (code points; any of ``\\r\\n``, ``\\r``, ``\\n`` ends a
line, as in LSP).
"""

from __future__ import annotations

from collections.abc import Sequence

from qwen_lsp.postprocess.chances import line_chances
from qwen_lsp.postprocess.checks import docstring_left_open, verified
from qwen_lsp.postprocess.cuts import (
    SPECIAL_TOKEN_RE,
    bound_only_inside,
    cut_at_special_token,
    first_cut,
    opens_with_blank_run,
    trim_rest_of_line_overlap,
    written_lines,
)
from qwen_lsp.postprocess.layout import (
    at_the_cursor_indentation,
    convert_indentation,
    drop_trailing_blank_lines,
    first_line_at_the_cursor,
    is_placeholder,
    strip_trailing_whitespace,
)
from qwen_lsp.postprocess.site import (
    DEFAULT_INDENT_UNIT,
    CompletionKind,
    CompletionSite,
    blind_context,
    context_for,
    detect_indent_unit,
    next_line_start,
    split_lines,
)

__all__ = [
    "DEFAULT_INDENT_UNIT",
    "CompletionKind",
    "CompletionSite",
    "detect_indent_unit",
    "ends_inside_a_docstring",
    "is_line_complete",
    "line_chances",
    "next_line_start",
    "postprocess",
    "written_lines",
]


def is_line_complete(
    partial: str, kind: CompletionKind, site: CompletionSite | None = None
) -> bool:
    """True when a partial generation already holds everything :func:`postprocess` keeps.

    Once this is True, ``postprocess(partial + more, site) == postprocess(partial, site)``
    for any ``more``, so the engine can stop generating. Line kind: the first line has
    ended. Block kind: a completed line that the cutting rules stop at (Markdown fence,
    two blank lines, a program entry point, a leaked special token, and -- with ``site``
    -- a dedent out of the block or a repeat of the line after the cursor).

    Without ``site`` the block's own indentation is known only when the suggestion opens
    with a line break; otherwise a dedent cannot be recognised and this answers False
    until another rule applies. Passing the same ``site`` that will go to
    :func:`postprocess` makes the dedent stop work everywhere.
    """
    if site is not None and site.kind != kind:
        raise ValueError(f"kind {kind!r} differs from the site's kind {site.kind!r}")
    if SPECIAL_TOKEN_RE.search(partial):
        return True
    if site is not None and opens_with_blank_run(partial, context_for(site)):
        return True
    completed = split_lines(partial)[:-1]  # the last piece may still grow
    context = context_for(site) if site is not None else blind_context(kind)
    return first_cut(first_line_at_the_cursor(completed, context), context) is not None


def ends_inside_a_docstring(raw: str, site: CompletionSite) -> bool:
    """True when the model output ``raw``, up to where the cutting rules end it, leaves a
    Python docstring it opened open: the model stopped, or closed its code block, in the
    middle of it. The post-processing closes it, but the answer was cut short (the 1.5B's
    chat answer for os.py's `execlp`: the docstring's first line, then the fence)."""
    context = context_for(site)
    if context.language != "python":
        return False
    lines = first_line_at_the_cursor(split_lines(cut_at_special_token(raw)), context)
    cut = first_cut(lines, context)
    return docstring_left_open(lines if cut is None else lines[:cut], context) is not None


def postprocess(raw: str, site: CompletionSite, chances: Sequence[float] = ()) -> str:
    """The suggestion to show for the model output ``raw`` at ``site``; "" shows nothing.
    ``chances``: per line of ``raw``, how sure the model was of it (``line_chances``).

    In order: cut at a leaked special token; cut at the first line a completion never
    contains or that leaves the hole (line rules, see ``cuts._LINE_RULES``); trim the end that
    the rest of the cursor line already has; strip trailing whitespace and trailing blank
    lines; re-indent continuation lines to the file's indentation unit. Lines are joined
    with the line ending of the cursor line.
    """
    context = context_for(site)
    raw = cut_at_special_token(raw)
    if opens_with_blank_run(raw, context):
        return ""
    lines = first_line_at_the_cursor(split_lines(raw), context)
    cut = first_cut(lines, context, chances)
    if cut is not None:
        lines = lines[:cut]
    lines = bound_only_inside(lines, context)
    lines = trim_rest_of_line_overlap(lines, context)
    lines = strip_trailing_whitespace(lines, context)
    lines = drop_trailing_blank_lines(lines)
    lines = convert_indentation(lines, context)
    lines = at_the_cursor_indentation(lines, context)
    if not any(line.strip() for line in lines) or is_placeholder(lines, site.language, context):
        return ""
    if site.language is not None and context.enabled("reparse"):
        lines = verified(lines, site, context)
        if not any(line.strip() for line in lines):
            return ""
    return context.eol.join(lines)
