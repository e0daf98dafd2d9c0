"""Builds the fill-in-the-middle prompt around the cursor, within a token budget.

The layout follows llama.vim: the text of the cursor line before the cursor goes AFTER
``<|fim_middle|>``, as if the model had already written it. Typing on a line then changes
only the very end of the prompt, so the KV cache keeps everything before it and a
keystroke costs a handful of prompt tokens instead of the whole window. Except when that
text is only indentation: then it ends the prefix (see :func:`fim_prompt`). The first line of
the prefix window is snapped to a multiple of ``snap_lines`` for the same reason: moving
down a line must not shift the start of the prompt, or every token would be new again.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from qwen_lsp.chat import ChatTemplate
from qwen_lsp.engine import FimTokens, PromptPart, Special
from qwen_lsp.languages import LANGUAGES
from qwen_lsp.similar_code import similar_chunk

# A longer line (minified code, data) says little to the model and costs a lot to tokenize.
MAX_LINE_CHARS = 1000


@dataclass(frozen=True)
class FimWindow:
    prefix: str  # whole lines above the cursor line
    suffix: str  # rest of the cursor line, then whole lines below it
    line_prefix: str  # the cursor line up to the cursor
    prefix_start_line: int
    # the similar chunk's scored lines (similar_code), for the next window to keep it
    similar_head: tuple[str, ...] = ()


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
    *,
    similar_tokens: int = 0,
    similar_keep: tuple[str, ...] = (),
    disabled_rules: Collection[str] = (),
) -> FimWindow:
    """Choose the text around ``offset`` (a code-point offset) that goes into the prompt.

    ``similar_tokens``: a budget of its own for the chunk of the file outside the window
    most like the code above the cursor (:mod:`qwen_lsp.similar_code`), put before the
    window; 0 = none. ``similar_keep``: the ``similar_head`` of the window before, whose
    chunk is kept while it is nearly as good as the best (a change costs the KV cache).

    ``disabled_rules`` (the disableRules setting, for ablations only) may hold
    ``"outline"``: then the window is only the lines nearest the cursor.
    """
    line_start = text.rfind("\n", 0, offset) + 1
    line_prefix = text[line_start:offset][-MAX_LINE_CHARS:]
    above = text[:line_start].splitlines(keepends=True)

    budget = prefix_tokens - count_tokens(line_prefix)
    first = _first_fitting(above, len(above), budget, count_tokens)
    outline: list[int] = []
    if first > 0 and "outline" not in disabled_rules:
        # The file does not fit: its imports and the headers of the definitions around the
        # cursor say more than the lines just above the window would.
        outline = _outline(above, line_prefix, budget // OUTLINE_SHARE, count_tokens)
        used = sum(count_tokens(_clip(above[i])) for i in outline)
        first = _first_fitting(above, len(above), budget - used, count_tokens)
    snapped = -(-first // snap_lines) * snap_lines
    # Snapping may only drop lines, never add any past the budget; near the cursor it
    # would drop them all, so there the exact start is used.
    start = snapped if snapped < len(above) else first

    line_end = text.find("\n", offset)
    rest_of_line = text[offset:] if line_end < 0 else text[offset : line_end + 1]
    suffix_parts = [_clip(rest_of_line)]
    used = count_tokens(suffix_parts[0])
    below: list[str] = []
    if line_end >= 0:
        below = text[line_end + 1 :].splitlines(keepends=True)
        for line in below:
            cost = count_tokens(_clip(line))
            if used + cost > suffix_tokens:
                break
            used += cost
            suffix_parts.append(_clip(line))
        below = below[len(suffix_parts) - 1 :]

    header_lines = [i for i in outline if i < start]
    extra: list[str] = []  # a similar chunk from below the suffix, after the outline
    similar_head: tuple[str, ...] = ()
    if similar_tokens > 0 and "similar-code" not in disabled_rules:
        below_start = len(above) + len(suffix_parts)  # the cursor line, the suffix's lines
        chunk = similar_chunk(
            above,
            start,
            below,
            below_start,
            similar_tokens,
            lambda line: count_tokens(_clip(line)),
            similar_keep,
            open_end_cut="similar-open-end" not in disabled_rules,
        )
        similar_head = chunk.head if chunk is not None else ()
        if chunk is not None and chunk.above:
            header_lines = sorted(
                {*header_lines, *range(chunk.start, chunk.start + len(chunk.lines))}
            )
        elif chunk is not None:
            extra = [_clip(line) for line in chunk.lines]
            if extra and not extra[-1].endswith("\n"):
                extra[-1] += "\n"
    header = "".join(_clip(above[i]) for i in header_lines) + "".join(extra)
    prefix = header + "".join(_clip(line) for line in above[start:])
    return FimWindow(
        prefix=prefix,
        suffix="".join(suffix_parts),
        line_prefix=line_prefix,
        prefix_start_line=start,
        similar_head=similar_head,
    )


def _first_fitting(
    lines: list[str], end: int, budget: int, count_tokens: Callable[[str], int]
) -> int:
    """The earliest line index such that lines[index:end] fit the token budget."""
    first = end
    used = 0
    while first > 0:
        cost = count_tokens(_clip(lines[first - 1]))
        if used + cost > budget:
            break
        used += cost
        first -= 1
    return first


# Share of the prefix budget the outline may take at most: 1/OUTLINE_SHARE.
OUTLINE_SHARE = 4

# Lines that bring names into a file, in any language we know (the text has none): every
# record's ``text.import_lines``, matched at the start of a line.
_IMPORT_RE = re.compile(
    "|".join(dict.fromkeys(line for spec in LANGUAGES for line in spec.text.import_lines))
)


def _indent_width(line: str) -> int:
    return len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())


def _outline(
    above: list[str], line_prefix: str, budget: int, count_tokens: Callable[[str], int]
) -> list[int]:
    """Indexes of the lines above the cursor that outline where it is, in file order.

    The headers of the enclosing definitions and blocks (walking up, each line indented
    less than everything below it: ``class C:``, ``def m(self):``, ``func f() {``) come
    first; then the top-level imports, while the budget lasts. Indentation finds them in
    any language, and they change only when the cursor moves to another definition, so
    the prompt's beginning (and the KV cache behind it) stays put while typing.
    """
    chosen: list[int] = []
    used = 0

    def take(indexes: range) -> bool:
        nonlocal used
        cost = sum(count_tokens(_clip(above[i])) for i in indexes)
        if used + cost > budget:
            return False
        used += cost
        chosen.extend(indexes)
        return True

    level = _indent_width(line_prefix + "x")
    for index in range(len(above) - 1, -1, -1):
        line = above[index]
        if not line.strip() or level == 0:
            continue
        width = _indent_width(line)
        if width < level and not line.lstrip().startswith(_CLOSING):
            if not take(range(index, index + 1)):
                break
            level = width
    index = 0
    while index < len(above):
        line = above[index]
        if line[:1].isspace() or not _IMPORT_RE.match(line):
            index += 1
            continue
        # A bracketed import list runs to its closing bracket (Go's import ( ... )).
        end = index + 1
        depth = line.count("(") + line.count("{") - line.count(")") - line.count("}")
        while depth > 0 and end < len(above):
            depth += above[end].count("(") + above[end].count("{")
            depth -= above[end].count(")") + above[end].count("}")
            end += 1
        if not take(range(index, end)):
            break
        index = end
    return sorted(set(chosen))


_CLOSING = (")", "]", "}")


def is_import_line(line: str) -> bool:
    """Whether a line brings names into a file (an import, include, use, require...)."""
    return not line[:1].isspace() and _IMPORT_RE.match(line) is not None


def fim_prompt(
    window: FimWindow,
    markers: FimTokens,
    header: Sequence[PromptPart] = (),
    *,
    disabled_rules: Collection[str] = (),
) -> list[PromptPart]:
    """The FIM prompt of ``window``, after ``header`` (cross-file context, usually empty).

    ``disabled_rules`` (the disableRules setting, for ablations only) may hold
    ``"indent-in-prefix"``: then the cursor line's indentation follows the middle marker
    like any other text of the line; ``"indent-in-prefix-typed"``: only so once code is
    typed after it (the layout before 2026-12-04).
    """
    indent_in_prefix = "indent-in-prefix" not in disabled_rules
    if "indent-in-prefix-typed" in disabled_rules and window.line_prefix.strip():
        indent_in_prefix = False
    return [*header, *_fim_parts(window, markers, indent_in_prefix)]


def _fim_parts(window: FimWindow, markers: FimTokens, indent_in_prefix: bool) -> list[PromptPart]:
    line = window.line_prefix
    # The cursor line's indentation ends the prefix, as in the model's FIM training, and
    # the code typed after it follows the middle marker (llama.vim's layout), as if the
    # model had written it. With only indentation before the cursor, after
    # <|fim_middle|> (where the engine heals it as the prompt's last token), the 0.5B
    # model answered a third of HumanEval lines with nothing but spaces, or ignored the
    # code after the hole; with it in the prefix single-line pass@1 went from 55% to 72%
    # (40 tasks). Keeping it there once code is typed means a new line costs one re-read
    # of the suffix (at Enter), not two: typing the line's first character only adds to
    # the prompt's end.
    indent = line[: len(line) - len(line.lstrip(" \t"))] if indent_in_prefix else ""
    typed = line[len(indent) :]
    return [
        Special(markers.prefix),
        window.prefix + indent,
        Special(markers.suffix),
        window.suffix,
        Special(markers.middle),
        *([typed] if typed else []),
    ]


# The system prompt Qwen's chat template puts in when a conversation brings none: the
# instruct models were tuned on it, so the continuation below is asked in their own frame.
CHAT_SYSTEM = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."


def chat_continuation_prompt(
    window: FimWindow, template: ChatTemplate, language: str
) -> list[PromptPart]:
    """A block suggestion asked through the chat template, with the answer prefilled.

    The answer starts as a fenced code block holding the code up to the cursor, so the
    model goes on writing the file from the cursor; the code after the cursor is shown in
    the request. The registry's models are instruct models: asked this way the 0.5B model
    writes whole bodies where the FIM prompt got one-line guesses (benchmarks/eval_infill.py
    --sample 60,45: block pass@1 56% against 38%, 9 tasks better and 1 worse; single-line
    tasks, most of them asked as blocks, 78% against 72%). It costs time: the bodies are longer
    (6.0 s a block task against 3.7 s) and the prompt shares no KV cache with the FIM
    prompts of single lines. The code after the cursor comes first in the prompt and the
    code before it last, so typing on the cursor line still changes only the prompt's end.
    """
    request = _chat_request(language)
    after = window.suffix.strip("\n")
    if after.strip():
        request += f"{_chat_after(language)}{after}\n```"
    answer_start = f"```{language}\n{window.prefix}{window.line_prefix}"
    return template.render(CHAT_SYSTEM, request, answer_start)


def chat_prompt_head(template: ChatTemplate, language: str) -> list[PromptPart]:
    """The beginning every block prompt of ``language`` shares (the template, the system
    message, the request up to the code after the cursor): worth keeping in the KV cache.
    Its last token or two may be tokenized otherwise in a whole prompt (where the code
    follows); the KV cache serves the common part."""
    return template.head(CHAT_SYSTEM, _chat_request(language) + _chat_after(language))


def _chat_request(language: str) -> str:
    return f"Continue this {language} file from where it stops."


def _chat_after(language: str) -> str:
    return f" The code that comes after it is:\n```{language}\n"
