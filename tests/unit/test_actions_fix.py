"""Fix with the editor's diagnostics: the model is asked for the corrected line(s) alone
and they are put in the place of the reported ones (qwen_lsp/actions/linefix.py)."""

from __future__ import annotations

import dataclasses
import textwrap

import pytest

from qwen_lsp.actions.answer import result_for_answer
from qwen_lsp.actions.catalogue import CODE_REPLY, find_spec
from qwen_lsp.actions.edits import ActionResult
from qwen_lsp.actions.linefix import (
    only_the_name,
    quoted_names,
    retry_start,
    rewritten_lines,
    with_fixed_lines,
)
from qwen_lsp.actions.nearby import slip_distance, undefined_name
from qwen_lsp.actions.prompt import (
    ActionInput,
    Diagnostic,
    build_prompt,
    fill,
    placeholder_values,
)
from qwen_lsp.actions.target import find_target
from qwen_lsp.chat import ChatTemplate
from qwen_lsp.documents import Snapshot

PY = '''import os


class Totals:
    def total(self, values, limit=10):
        """Sum of the values up to the limit."""
        result = 0
        for value in values:
            if value > limit:
                break
            result += value
        return min(result, len(values))
'''
NAME_BUG = PY.replace("for value in values:", "for value in vaules:")
COLON_BUG = PY.replace("if value > limit:", "if value > limit")


def _action(text: str, needle: str, message: str, with_diagnostic: bool = True) -> ActionInput:
    snapshot = Snapshot.build("file:///w/totals.py", "python", 1, text)
    at = text.index(needle)
    line = text[:at].count("\n")
    target = find_target(snapshot, at, at + len(needle), widen_line=True, line_fallback=True)
    spec = find_spec("fix")
    assert target is not None and spec is not None
    found = (Diagnostic(line, message, "ruff", "F821"),) if with_diagnostic else ()
    return ActionInput(spec, snapshot, target, found)


def _result(action: ActionInput, answer: str) -> ActionResult:
    plan = build_prompt(action, ChatTemplate.from_template(None), lambda s: len(s) // 4 + 1, 100)
    return result_for_answer(action, answer, plan)


def _new_text(result: ActionResult) -> str:
    assert result.ok, result.message
    [change] = result.changes
    return change.new_text()


def test_the_model_is_asked_for_the_reported_lines_alone() -> None:
    action = _action(NAME_BUG, "vaules", "Undefined name `vaules`")
    user = fill(action.spec.prompt, placeholder_values(action, ""))
    assert "- line 4 (`for value in vaules:`): Undefined name `vaules` (ruff F821)" in user
    assert "the corrected line(s) alone" in user and CODE_REPLY not in user
    plan = build_prompt(action, ChatTemplate.from_template(None), lambda s: len(s) // 4, 100)
    assert plan.reply == "lines"
    # Without a diagnostic: the whole code, and no "keep every line as it is".
    bare = _action(NAME_BUG, "vaules", "", with_diagnostic=False)
    user = fill(bare.spec.prompt, placeholder_values(bare, ""))
    assert user.endswith(CODE_REPLY) and "exactly as it is" not in user


@pytest.mark.parametrize(
    "answer",
    [
        "for value in values:\n```\n",  # the line alone, as asked
        "        for value in values:\n```\n",  # at the document's indentation
        # with the line above it, as context
        "result = 0\nfor value in values:\n```\n",
        # with the line below it (its indentation relative to the first)
        "for value in values:\n    if value > limit:\n```\n",
    ],
)
def test_corrected_lines_replace_the_reported_one(answer: str) -> None:
    action = _action(NAME_BUG, "vaules", "Undefined name `vaules`")
    assert _new_text(_result(action, answer)) == PY


def test_a_syntax_error_fixed_on_its_line() -> None:
    action = _action(COLON_BUG, "if value > limit", "expected ':'")
    assert _new_text(_result(action, "if value > limit:\n```\n")) == PY


def test_a_whole_function_is_still_taken_as_a_rewrite() -> None:
    answer = textwrap.dedent(PY.split("class Totals:\n")[1]) + "```\n"
    action = _action(NAME_BUG, "vaules", "Undefined name `vaules`")
    assert _new_text(_result(action, answer)) == PY


def test_lines_found_nowhere_are_refused_not_put_as_the_body() -> None:
    action = _action(NAME_BUG, "vaules", "Undefined name `vaules`")
    result = _result(action, "print('done')\n```\n")
    assert not result.ok and "does not read like the reported lines" in result.message


def test_with_fixed_lines_keeps_everything_else() -> None:
    start = NAME_BUG.index("    def total")
    line = NAME_BUG[: NAME_BUG.index("vaules")].count("\n")
    fixed = with_fixed_lines(NAME_BUG, start, len(NAME_BUG) - 1, [line], "for value in values:")
    assert fixed == PY[start:-1]
    assert with_fixed_lines(NAME_BUG, start, len(NAME_BUG) - 1, [line], "x = 1") is None
    assert with_fixed_lines(NAME_BUG, start, len(NAME_BUG) - 1, [], "for v in values:") is None
    assert with_fixed_lines(NAME_BUG, start, len(NAME_BUG) - 1, [0], "import os") is None


# -- rewrites whose body a small model cut off --------------------------------------------------

TURTLE = """class RawTurtle(TPen):
    def __init__(self, canvas=None, shape=_CFG["shape"]):
        if isinstance(canvas, _Screen):
            self.screen = canvas
        else:
            raise TurtleGraphicsError("bad canvas argument %s" % canvas)
        screen = self.screen
        screen._turtles.append(self)
        self.turtle = _TurtleImage(screen, shape)
"""


def test_a_rewrite_whose_tail_fell_out_of_the_method_is_refused() -> None:
    # Recorded from the 0.5B model asked to simplify RawTurtle.__init__: the last
    # statements at the class's level, where they would no longer be the method's.
    answer = (
        "import types\n\nclass RawTurtle(TPen):\n"
        '    def __init__(self, canvas=None, shape=_CFG["shape"]):\n'
        "        if isinstance(canvas, _Screen):\n            self.screen = canvas\n"
        '        else:\n            raise TurtleGraphicsError("bad canvas argument %s" % canvas)\n'
        "\n    screen = self.screen\n    screen._turtles.append(self)\n"
        "    self.turtle = _TurtleImage(screen, shape)\n```\n"
    )
    snapshot = Snapshot.build("file:///w/turtle.py", "python", 1, TURTLE)
    at = TURTLE.index("__init__")
    target = find_target(snapshot, at, at, line_fallback=True)
    spec = find_spec("simplify")
    assert target is not None and spec is not None
    result = _result(ActionInput(spec, snapshot, target), answer)
    assert not result.ok and "cuts the function's body off" in result.message
    # Example calls after a whole function use no parameter of it: dropped, as before.
    example = answer.replace(
        "\n    screen = self.screen\n    screen._turtles.append(self)\n"
        "    self.turtle = _TurtleImage(screen, shape)\n",
        "        self.screen._turtles.append(self)\n\n\nturtle = RawTurtle(None)\n",
    )
    assert _result(ActionInput(spec, snapshot, target), example).ok


# -- Simplify: the code must change, its documentation stays -----------------------------------

JS = """const path = require('path')

// Returns the usage instructions.
function usage (commands) {
  return commands.map((c) => '  - ' + c).join('\\n')
}
"""


def _simplify(text: str, language_id: str, needle: str, answer: str) -> ActionResult:
    uri = "file:///w/cli.js" if language_id == "javascript" else "file:///w/m.py"
    snapshot = Snapshot.build(uri, language_id, 1, text)
    at = text.index(needle)
    target = find_target(snapshot, at, at, line_fallback=True)
    spec = find_spec("simplify")
    assert target is not None and spec is not None
    return _result(ActionInput(spec, snapshot, target), answer)


def test_a_simplification_that_only_reformats_is_refused() -> None:
    # Recorded from the 0.5B model (npm's node-gyp `usage`): the doc comment dropped,
    # the space before the parameters gone, a semicolon added; nothing simplified.
    answer = (
        "function usage(commands) {\n  return commands.map((c) => '  - ' + c).join('\\n');\n"
        "}\n```\n"
    )
    result = _simplify(JS, "javascript", "usage (", answer)
    assert not result.ok and "only changes the layout or the comments" in result.message


def test_a_real_simplification_keeps_the_doc_comment_above() -> None:
    answer = (
        "function usage(commands) {\n  return commands.map((c) => `  - ${c}`).join('\\n')\n}\n```\n"
    )
    new = _new_text(_simplify(JS, "javascript", "usage (", answer))
    assert "// Returns the usage instructions.\nfunction usage(commands) {\n" in new
    assert new.startswith("const path = require('path')\n\n//")


HELP = """def help_string(action):
    help = action.help
    if '%(default)' not in help
        if action.default is not SUPPRESS:
            help += ' (default: %(default)s)'
    return help
"""


def test_a_made_up_line_beside_the_fixed_one_is_left_out() -> None:
    # Recorded from the 0.5B model (argparse's _get_help_string, its `:` removed): the
    # fixed line, then a line of its own in place of the real next one. Taken line for
    # line, the real `if` became that line and its block an unexpected indent.
    action = _action(HELP, "if '%(default)' not in help", "expected ':'")
    answer = "if '%(default)' not in help:\n    help += ' (default: %(default)s)'\n```"
    new = _new_text(_result(action, answer))
    assert new == HELP.replace("not in help\n", "not in help:\n")


def test_python_code_the_compiler_refuses_is_refused() -> None:
    # tree-sitter reads an unexpected indent as code; Python's compiler does not.
    action = _action(HELP, "if '%(default)' not in help", "expected ':'")
    answer = HELP.replace("not in help\n", "not in help:\n").replace(
        "    help = action.help\n", "    help = action.help\n        help = help or ''\n"
    )
    result = _result(action, answer + "```")
    assert not result.ok and "syntax error" in result.message


def test_the_corrected_name_alone_replaces_the_one_reported() -> None:
    # The 0.5B model in the real-model e2e test answered a 5-token fix for an undefined
    # `kpet`: the name alone.
    action = _action(NAME_BUG, "vaules", "Undefined name `vaules`")
    assert _new_text(_result(action, "values\n```\n")) == PY  # not `value` -> `values`
    unnamed = _action(NAME_BUG, "vaules", "something is wrong here")
    assert not _result(unnamed, "values\n```\n").ok  # no name quoted: not guessed


# -- what the prompt of a fix tells the model ---------------------------------------------------


def test_undefined_name_diagnostics_name_the_defined_names_that_look_like_it() -> None:
    assert undefined_name("Undefined name `vaules`") == "vaules"
    assert undefined_name("'entr' is not defined.") == "entr"
    assert undefined_name("undefined: pth") == "pth"
    assert undefined_name("expected ':'") is None
    assert slip_distance("eky", "key") == 1 and slip_distance("entr", "length") == 3
    action = _action(NAME_BUG, "vaules", "Undefined name `vaules`")
    user = fill(action.spec.prompt, placeholder_values(action, ""))
    # `values` (one slip away), not `value` (two slips).
    assert "Undefined name `vaules` (ruff F821) Did you mean `values`?\n" in user
    colon = _action(COLON_BUG, "if value > limit", "expected ':'")
    assert "Did you mean" not in fill(colon.spec.prompt, placeholder_values(colon, ""))


def test_the_reported_line_is_shown_again_alone_and_no_context_is_given() -> None:
    # The 0.5B model copied the whole function back with the bug, or (for a method)
    # answered with the class header the context showed it.
    action = _action(NAME_BUG, "vaules", "Undefined name `vaules`")
    user = fill(action.spec.prompt, placeholder_values(action, ""))
    assert "The line to correct:\n```python\nfor value in vaules:\n```\n\nTask: fix" in user
    plan = build_prompt(action, ChatTemplate.from_template(None), lambda s: len(s) // 4, 100)
    rendered = "".join(p for p in plan.parts if isinstance(p, str))
    assert "class Totals" not in rendered and "import os" not in rendered
    bare = _action(NAME_BUG, "vaules", "", with_diagnostic=False)
    assert "to correct" not in fill(bare.spec.prompt, placeholder_values(bare, ""))


def test_a_second_attempt_starts_the_answer_where_the_fix_goes() -> None:
    # An undefined name: its line up to the name (the model writes a name there).
    line = NAME_BUG.split("\n").index("        for value in vaules:")
    found = (Diagnostic(line, "Undefined name `vaules`", "ruff", "F821", 21),)
    action = dataclasses.replace(_action(NAME_BUG, "vaules", ""), diagnostics=found)
    assert retry_start(action) == "for value in "
    # The diagnostic's column not on the name (an editor's own ranges): no start.
    moved = (dataclasses.replace(found[0], column=8),)
    assert retry_start(dataclasses.replace(action, diagnostics=moved)) == ""
    # Another problem: the line whole (the model writes what is missing at its end).
    colon = _action(COLON_BUG, "if value > limit", "expected ':'")
    assert retry_start(colon) == "if value > limit"
    # Problems on two lines: no second attempt.
    two = (*colon.diagnostics, dataclasses.replace(colon.diagnostics[0], line=line))
    assert retry_start(dataclasses.replace(colon, diagnostics=two)) == ""
    # Taken with the start, the answer is the fixed line.
    plan = build_prompt(colon, ChatTemplate.from_template(None), len, 100, "if value > limit")
    assert plan.assistant_prefix == "```python\nif value > limit"
    assert _new_text(result_for_answer(colon, ":\n```\n", plan)) == PY


def test_a_simplification_that_changes_nothing_says_there_was_nothing_to_simplify() -> None:
    # The 0.5B model answers most Simplify requests with the code as it was: the user is
    # told so plainly, and gets no edit.
    answer = JS.split("\n\n", 1)[1] + "```\n"
    result = _simplify(JS, "javascript", "usage (", answer)
    assert not result.ok and not result.changes
    assert result.message == (
        "qwen-lsp: the model found nothing to simplify here (it answered the code as it "
        "was); nothing was changed."
    )


TWO_METHODS = '''class Calendar:
    def prmonth(self, year, month):
        """Print a month's calendar."""
        print(self.formatmonth(year, month), end="")

    def formatmonth(self, year, month):
        """A month's calendar."""
        text = self.name(year, month)
        for week in self.weeks(year, month):
            text += week
        return text
'''


def test_a_rewrite_for_a_bracket_left_open_changes_only_its_own_method() -> None:
    # bench_action_success, calendar.py's prmonth with its last `)` removed: tree-sitter's
    # recovery stretched the method over the next one, and the model's answer (the method
    # fixed, then the next one cut short) took that whole span: `formatmonth` lost lines.
    broken = TWO_METHODS.replace('end="")', 'end=""')
    action = _action(broken, 'end=""', "'(' was never closed")
    assert broken[action.target.start : action.target.end].endswith('end=""')
    answer = textwrap.dedent(TWO_METHODS.split("class Calendar:\n")[1]).split("        text +=")[0]
    assert _new_text(_result(action, answer + "```\n")) == TWO_METHODS


def test_the_brace_an_else_after_a_return_leaves_is_put_back() -> None:
    # Recorded from the 0.5B model (npm code): told that `} else {` and its line become
    # `}` and that line, it wrote the line alone.
    code = (
        "function check (ok) {\n  if (ok) {\n    return 1\n  } else {\n"
        "    throw new Error('no')\n  }\n}\n"
    )
    new = _new_text(_simplify(code, "javascript", "check (", "throw new Error('no')\n```\n"))
    assert new == (
        "function check (ok) {\n  if (ok) {\n    return 1\n  }\n  throw new Error('no')\n}\n"
    )
    # only the brace: another line is still not the suggested change
    other = _simplify(code, "javascript", "check (", "throw new Error('yes')\n```\n")
    assert not other.ok and "not the simplification" in other.message


def test_of_a_rewritten_line_only_the_name_is_taken() -> None:
    # Rust, the 0.5B model: `match &*forat...` came back `match format...`, which no
    # longer compiles; the name it wrote goes into the line as it was.
    line = "        match &*forat.to_lowercase() {"
    fixed = "        match format.to_lowercase() {"
    assert only_the_name(line, fixed, ["forat"]) == "        match &*format.to_lowercase() {"
    # No new word like the name (another fix: `self.` put before it), or no name quoted
    # on the line: the model's line as written.
    assert only_the_name("x = vaule", "x = self.vaule", ["vaule"]) == "x = self.vaule"
    assert only_the_name("x = vaule + 1", "x = other + 1", ["vaule"]) == "x = other + 1"
    assert only_the_name("x = y(", "x = y()", []) == "x = y()"
    # Two words like it: which one is meant is not known.
    assert only_the_name("x = vaule", "x = value or values", ["vaule"]) == "x = value or values"
    # Through the corrected lines: the rest of the reported line stays the original's.
    start = NAME_BUG.index("    def total")
    line_no = NAME_BUG[: NAME_BUG.index("vaules")].count("\n")
    answer = "for value in sorted(values):"
    fixed = with_fixed_lines(NAME_BUG, start, len(NAME_BUG) - 1, [line_no], answer, ["vaules"])
    assert fixed == PY[start:-1]


def test_a_name_that_starts_its_line_is_retried_after_the_line_above() -> None:
    bug = PY.replace("            result += value", "            reslut += value")
    line = bug.split("\n").index("            reslut += value")
    found = (Diagnostic(line, "Undefined name `reslut`", "ruff", "F821", 12),)
    action = dataclasses.replace(_action(bug, "reslut", ""), diagnostics=found)
    start = retry_start(action)
    assert start == "break\n"
    plan = build_prompt(action, ChatTemplate.from_template(None), len, 100, start)
    assert _new_text(result_for_answer(action, "    result += value\n```\n", plan)) == PY
    # The line above blank: no start (a window across it would not be the code's).
    spaced = bug.replace("                break\n", "                break\n\n")
    found = (Diagnostic(line + 1, "Undefined name `reslut`", "ruff", "F821", 12),)
    assert retry_start(dataclasses.replace(_action(spaced, "reslut", ""), diagnostics=found)) == ""


def test_a_bracket_left_open_before_the_semicolon_is_retried_before_it() -> None:
    text = "fn main() {\n    let (a, b) = parse_args(;\n    run(a, b);\n}\n"
    snapshot = Snapshot.build("file:///w/main.rs", "rust", 1, text)
    at = text.index("parse_args")
    target = find_target(snapshot, at, at + 1, widen_line=True, line_fallback=True)
    spec = find_spec("fix")
    assert target is not None and spec is not None
    found = (Diagnostic(1, "mismatched closing delimiter: `}`", "rustc", "", 27),)
    action = ActionInput(spec, snapshot, target, found)
    start = retry_start(action)
    assert start == "let (a, b) = parse_args("
    plan = build_prompt(action, ChatTemplate.from_template(None), len, 100, start)
    new = _new_text(result_for_answer(action, ");\n```\n", plan))
    assert new == text.replace("parse_args(;", "parse_args();")
    # Without a bracket left open, the `;` is no sign: the line whole.
    closed = dataclasses.replace(
        action, snapshot=Snapshot.build("file:///w/main.rs", "rust", 1, text.replace("(;", "();"))
    )
    assert retry_start(closed) == "let (a, b) = parse_args();"


def test_a_name_copied_back_with_changes_around_it_is_not_taken() -> None:
    # Go, the 0.5B model: the whole function back with `sokCtx.Wait()` as it was and the
    # misspelling copied onto the next line; taken whole, it was offered with the problem.
    text = (
        "func (p *Proxy) closeOnIdle(sockCtx *socketContext) {\n"
        "\ttime.Sleep(d)\n"
        "\tsokCtx.Wait()\n"
        "\tsockCtx.mutex.Lock()\n"
        "}\n"
    )
    answer = text.replace("\tsockCtx.mutex", "\tsokCtx.mutex")
    names = quoted_names([Diagnostic(2, "undefined: sokCtx", "compiler", "UndeclaredName")])
    assert names == ["sokCtx"]
    assert rewritten_lines(text, 0, len(text) - 1, [2], answer, names) == ""
    # Without the name (a syntax problem), a change next to the line may be its fix.
    assert rewritten_lines(text, 0, len(text) - 1, [2], answer) is None
    quoted = [Diagnostic(2, "Undefined name `kpet`", "ruff", "F821")]
    assert quoted_names(quoted) == ["kpet"]
