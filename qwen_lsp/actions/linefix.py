"""A fix written as the corrected line(s) alone, put in the place of the reported ones.

Asked to fix a problem the editor reports on a line, a small model rewriting the whole
function also "improves" what was not broken, and takes long. It is asked for the
corrected line(s) alone instead (prompt.py); this module finds where they go: the
window of the target's lines that covers the reported lines and reads most like the
answer (a model often repeats a line of context around the one it fixed), and puts the
answer there at that window's indentation. An answer that matches no such window is not
taken (None): the caller then reads it as a rewrite of the whole target. When the
answer failed, :func:`retry_start` says how a second attempt's answer is started;
:func:`avoided_tokens` keeps an undefined name out of the answers, :func:`closing_tokens`
leads a second attempt to the bracket a line left open.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence

from qwen_lsp import brackets
from qwen_lsp.actions import nearby
from qwen_lsp.actions.prompt import ActionInput, Diagnostic, reported_lines
from qwen_lsp.actions.text import dedent, indent_of
from qwen_lsp.postprocess.site import likeness
from qwen_lsp.text_index import PositionError

# How much an answer must read like the lines it replaces (mean ratio per line).
MIN_LIKENESS = 0.5
MAX_ANSWER_LINES = 8
# The logit bias that keeps a token out of an answer (OpenAI's API reads -100 as "never").
NEVER = -100.0
# The logit bias toward the bracket a line left open, on the second attempt of its fix
# (bench_action_success, `)` removed: see README "Code actions, measured").
# 3 closed 12 of 14 recorded lines whole, 0 closed 8; 6 and 10 began to put the `)` on a
# line of its own, or before the next statement.
TOWARD_CLOSING = 3.0


_WORD = re.compile(r"[A-Za-z_$][\w$]*")


def _with_word(line: str, word: str, named: Sequence[str]) -> str | None:
    """``line`` with the name a diagnostic quoted replaced by ``word``, when it is on the
    line and ``word`` reads like a slip of it; None otherwise."""
    for match in _WORD.finditer(line):
        name = match.group()
        if name in named and name != word and likeness(name, word) >= 0.6:
            return line[: match.start()] + word + line[match.end() :]
    return None


def quoted_names(diagnostics: Sequence[Diagnostic]) -> list[str]:
    """The names the diagnostics' messages quote ("Undefined name `kpet`"), and the one
    Go's "undefined: kpet" names without quotes."""
    found = [n for d in diagnostics for n in re.findall(r"[`'\"]([\w$]+)[`'\"]", d.message)]
    found.extend(n for d in diagnostics if (n := nearby.undefined_name(d.message)) is not None)
    return list(dict.fromkeys(found))


def only_the_name(line: str, fixed: str, named: Sequence[str]) -> str:
    """The model's version ``fixed`` of a reported ``line`` that quotes an undefined name:
    when it wrote one new word that reads like a slip of that name, ``line`` with the
    name replaced by it, the rest as it was; else ``fixed`` as written. Rewriting the
    line, the 0.5B model also "tidied" what was not broken (Rust's ``match &*forat...``
    came back ``match format...``, which no longer compiles)."""
    old_words = set(_WORD.findall(line))
    if not any(name in old_words for name in named):
        return fixed
    new_words = [w for w in dict.fromkeys(_WORD.findall(fixed)) if w not in old_words]
    slips = [w for w in new_words if any(likeness(name, w) >= 0.6 for name in named)]
    if len(slips) != 1:
        return fixed
    return _with_word(line, slips[0], named) or fixed


def is_lines(answer: str) -> bool:
    """Whether an answer is short enough to be corrected lines (not a whole body)."""
    return len(answer.strip("\n").split("\n")) <= MAX_ANSWER_LINES


def _least_likeness(answer: list[str], window: list[str]) -> float:
    """How much the answer reads like a window, line for line: its least alike line
    (a line the model made up beside the one it fixed must not replace a real one)."""
    if not answer or len(answer) != len(window):
        return 0.0
    return min(likeness(a, w) for a, w in zip(answer, window, strict=True))


def _shifted(lines: list[str], indent: str) -> list[str]:
    """``lines`` (dedented: the first line's indentation is the answer's base) moved to
    ``indent``, their indentation relative to the first line kept."""
    base = indent_of(lines[0])
    out = []
    for line in lines:
        if not line.strip():
            out.append("")
        elif line.startswith(base):
            out.append(indent + line[len(base) :])
        else:  # less indented than the first line: kept as the answer wrote it, moved
            out.append(indent + line.lstrip(" \t"))
    return out


def with_fixed_lines(
    text: str, start: int, end: int, reported: list[int], answer: str, named: Sequence[str] = ()
) -> str | None:
    """The target (code points [start, end) of ``text``) with the lines the answer
    corrects replaced by it, "\\n" line ends; None when the answer is no such line(s).

    ``reported`` are the document lines (0-based) the problems are on; ``named``, the
    names their messages quote ("Undefined name `kpet`"): an answer that is one name
    alone replaces the one of them on the reported line.
    """
    lines = dedent(answer.replace("\r\n", "\n")).strip("\n").split("\n")
    if not reported or not lines or not lines[0].strip() or len(lines) > MAX_ANSWER_LINES:
        return None
    target = text[start:end].replace("\r\n", "\n")
    first_line = text[:start].count("\n")
    own = target.split("\n")
    low = min(reported) - first_line
    high = max(reported) - first_line
    if low < 0 or high >= len(own):
        return None
    if low == high and len(lines) == 1 and _WORD.fullmatch(lines[0].strip()):
        # The corrected name alone (`kept` for an undefined `kpet`): it replaces the word
        # of the reported line it is a slip of.
        fixed = _with_word(own[low], lines[0].strip(), named)
        if fixed is None:
            return None
        return "\n".join(own[:low] + [fixed] + own[low + 1 :])
    best: tuple[float, int, int] | None = None
    # Windows of the answer's length that cover the reported lines, or the reported
    # lines themselves when the answer is shorter (lines joined, or one dropped).
    spans = [(s, s + len(lines)) for s in range(high - len(lines) + 1, low + 1)]
    if not spans:
        spans = [(low, high + 1)]
    for begin, finish in spans:
        if begin < 0 or finish > len(own):
            continue
        window = own[begin:finish]
        score = (
            _least_likeness(lines, window) if len(window) == len(lines) else _joined(lines, window)
        )
        if best is None or score > best[0]:
            best = (score, begin, finish)
    if (best is None or best[0] < MIN_LIKENESS) and low == high:
        # One reported line, and lines around it the model made up: its own line alone.
        score, line = max((likeness(a, own[low]), a) for a in lines if a.strip())
        if score >= MIN_LIKENESS:
            lines, best = [line], (score, low, low + 1)
    if best is None or best[0] < MIN_LIKENESS:
        return None
    _, begin, finish = best
    window = own[begin:finish]
    if len(window) == len(lines):  # line for line: each keeps the indentation it had
        new = [
            indent_of(w) + a.lstrip(" \t") if a.strip() else ""
            for a, w in zip(lines, window, strict=True)
        ]
        for row in range(max(low, begin), min(high + 1, finish)):
            new[row - begin] = only_the_name(own[row], new[row - begin], named)
    else:
        new = _shifted(lines, indent_of(window[0]))
    return "\n".join(own[:begin] + new + own[finish:])


def rewritten_lines(
    text: str, start: int, end: int, reported: list[int], answer: str, named: Sequence[str] = ()
) -> str | None:
    """An answer that rewrote the whole target (code points [start, end) of ``text``),
    as the 0.5B model often does when asked for the corrected lines: its version of the
    reported lines alone, found by lining its lines up with the target's. What else it
    changed (a method's header written otherwise, a docstring) is not the fix, and not
    taken. "" when it left them as they were and changed nothing next to them (the
    problem copied back); None when it cannot tell (lines were added or dropped at
    them, or changed next to them: a `)` put on a line of its own), except when they
    still hold a name ``named`` says is undefined: whatever changed next to them, that
    problem was copied back.
    """
    if not reported:
        return None
    first_line = text[:start].count("\n")
    own = text[start:end].replace("\r\n", "\n").split("\n")
    new = answer.replace("\r\n", "\n").strip("\n").split("\n")
    low, high = min(reported) - first_line, max(reported) - first_line
    matcher = difflib.SequenceMatcher(
        None, [line.strip() for line in own], [line.strip() for line in new], autojunk=False
    )
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i1 <= low and high < i2:
            if tag == "equal":
                nearby_change = any(
                    t != "equal" and a <= high + 1 and b >= low  # touches them
                    for t, a, b, _, _ in matcher.get_opcodes()
                )
                # Go's `sokCtx.Wait()` came back as it was, the misspelling copied onto
                # the lines around it: taken whole, it was offered with the problem.
                still = any(
                    name in _WORD.findall(line) for line in own[low : high + 1] for name in named
                )
                return None if nearby_change and not still else ""
            if tag != "replace" or i2 - i1 != j2 - j1:
                # Lines added or dropped around them: which are the fix is a guess (a
                # made-up line would pass for the one above), the whole answer is judged.
                return None
            # Line for line: the reported ones alone (not the header the model wrote
            # otherwise just above them).
            return "\n".join(new[j1 + low - i1 : j1 + high - i1 + 1])
    return None


def _joined(answer: list[str], window: list[str]) -> float:
    return difflib.SequenceMatcher(
        None, " ".join(a.strip() for a in answer), " ".join(w.strip() for w in window)
    ).ratio()


def retry_start(action: ActionInput) -> str:
    """What the second attempt at a fix starts its answer with (the model goes on from
    there), or "" when there is none: an undefined name's line up to the name (the model
    then writes a name there, not the line it copied; the line above when the name starts
    its line), another problem's line whole (the model then writes what is missing at
    its end: a `:`, a `)`; before the `;` that ends it when a bracket is left open).
    Only for one reported line.
    """
    reported = reported_lines(action)
    if len(reported) != 1:
        return ""
    line = reported[0]
    first = action.snapshot.position_at(action.target.start)[0]
    code_lines = dedent(action.code).split("\n")
    if line - first >= len(code_lines):
        return ""
    shown = code_lines[line - first].lstrip(" \t")
    text = action.snapshot.text.split("\n")[line].rstrip("\r")
    named = [
        (d.column, name)
        for d in action.diagnostics
        if d.line == line and (name := nearby.undefined_name(d.message)) is not None
    ]
    if not named:
        comment = "#" if action.snapshot.language == "python" else "//"
        if shown.rstrip().endswith(";") and open_brackets(text, comment):
            # A bracket left open before the statement's `;` (Rust's `parse_args(;`):
            # started after the `;`, the model can only write more after it.
            return shown.rstrip()[:-1]
        return shown
    start_col, name = named[0]
    column = len(text.encode("utf-16-le")[: 2 * start_col].decode("utf-16-le", "replace"))
    before = text[:column].lstrip(" \t")
    # Only when the name is where the diagnostic says and the line reads as shown.
    if not shown.startswith(before) or not text[column:].startswith(name):
        return ""
    if not before and line - first >= 1 and code_lines[line - first - 1].strip():
        # The name starts its line (Go's `sokCtx.Wait()`): nothing of the line comes
        # before it, so the answer is started with the line above, as the model was
        # shown it (the fix then goes into a window of two lines).
        return code_lines[line - first - 1].lstrip(" \t") + "\n"
    return before


def avoided_tokens(action: ActionInput, tokenize: Callable[[str], list[int]]) -> dict[int, float]:
    """Token ids kept out of a fix's answers (bias NEVER): the token that starts each
    undefined name a diagnostic quotes inside the target, written after a space, after
    the character before it on its line, or alone. Told the name is undefined and even
    which one was meant, the 0.5B model still copies the line back with it.

    A token the rest of the code needs is not avoided: the code is tokenized with the
    name replaced by the nearest defined one (nearby.similar_names; left out when there
    is none), and its tokens stay allowed, so an answer can always write the code around
    the fix as it was.
    """
    snapshot, target = action.snapshot, action.target
    text = snapshot.text
    found: dict[int, str] = {}
    for diagnostic in action.diagnostics:
        name = nearby.undefined_name(diagnostic.message)
        if name is None:
            continue
        try:
            offset = snapshot.offset_at(diagnostic.line, diagnostic.column)
        except PositionError:
            continue
        # Only where the diagnostic says the name is (else the column is not known).
        if target.start <= offset <= target.end - len(name) and text.startswith(name, offset):
            found[offset] = name
    if not found:
        return {}
    fixed = text[target.start : target.end]
    for offset, name in sorted(found.items(), reverse=True):
        meant = nearby.similar_names(snapshot, name, target.start, target.end)
        at = offset - target.start
        fixed = fixed[:at] + (meant[0] if meant else "") + fixed[at + len(name) :]
    needed = set(tokenize(fixed))
    avoided: set[int] = set()
    for offset, name in found.items():
        before = text[offset - 1] if offset > target.start else ""
        for lead in {" ", "" if before.isspace() else before, ""}:
            token = _first_token_of(name, lead, tokenize)
            if token is not None and token not in needed:
                avoided.add(token)
    return dict.fromkeys(sorted(avoided), NEVER)


def _first_token_of(name: str, lead: str, tokenize: Callable[[str], list[int]]) -> int | None:
    """The token that holds the first letter of ``name`` written after ``lead`` (a
    space, a `(` or `.`: tokenizers merge one such character with the word after it)."""
    tokens = tokenize(lead + name)
    if not lead:
        return tokens[0] if tokens else None
    alone = tokenize(lead)
    if len(alone) == 1 and tokens[:1] == alone:  # the lead is a token of its own
        return tokens[1] if len(tokens) > 1 else None
    return tokens[0] if tokens else None


def open_brackets(line: str, comment: str = "#") -> str:
    """The closing brackets ``line`` needs for the ones it opens and leaves open,
    innermost first ("" when none); brackets in strings and after ``comment`` are not
    counted."""
    return brackets.scan(line, comment).closers()


def closing_tokens(action: ActionInput, tokenize: Callable[[str], list[int]]) -> dict[int, float]:
    """Token ids a fix's second attempt is led to (bias TOWARD_CLOSING): when the problem
    is a bracket the reported line leaves open at its end (the message names a bracket:
    "'(' was never closed", "missing ) after argument list"), the closing bracket(s),
    alone or with what usually follows them (a line end, `,`, `;` where the code uses
    it). Its answer is started with the line whole (retry_start); unled, the 0.5B model
    ends the line there again.
    """
    reported = reported_lines(action)
    if len(reported) != 1:
        return {}
    line = reported[0]
    first_line = action.snapshot.position_at(action.target.start)[0]
    messages = [d.message for d in action.diagnostics if d.line == line]
    if not any(set(m) & set("()[]{}") for m in messages) or any(
        nearby.undefined_name(m) for m in messages
    ):
        return {}
    text = action.snapshot.text.split("\n")[line].rstrip("\r")
    comment = "#" if action.snapshot.language == "python" else "//"
    closers = open_brackets(text, comment)
    # A line that ends with a closing bracket (`f(g(x)`): the engine writes its last
    # token again (token healing), and a lead to a lone `)` there beats the `))` it needs.
    if not closers or text.rstrip()[-1:] in brackets.CLOSER_OF.values():
        return {}
    # A `;` only where the code ends its statements so (else the fix adds one the file
    # does not use: JavaScript without semicolons got `super(handler);`).
    code = action.code.split("\n")
    semicolons = any(
        other.rstrip().endswith(";") for i, other in enumerate(code) if i != line - first_line
    )
    endings = ("", "\n", ",", ",\n", ":", ":\n") + ((";", ";\n") if semicolons else ())
    led: set[int] = set()
    for after in endings:
        tokens = tokenize(closers + after)
        if tokens:
            led.add(tokens[0])
    return dict.fromkeys(sorted(led), TOWARD_CLOSING)
