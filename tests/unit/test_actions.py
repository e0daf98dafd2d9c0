"""Code actions, the pure part: targets, prompts, answers, edits and their checks."""

from __future__ import annotations

import dataclasses

import pytest

from qwen_lsp import syntax
from qwen_lsp.actions import pytypes
from qwen_lsp.actions.answer import (
    answer_complete,
    comment_block,
    extract_code,
    part_complete,
    reindent,
    result_for_answer,
)
from qwen_lsp.actions.catalogue import ActionSpec, catalogue, find_spec, offers
from qwen_lsp.actions.edits import (
    ActionResult,
    FileChange,
    OffsetEdit,
    apply_edits,
    line_diff,
    unified_diff,
)
from qwen_lsp.actions.prompt import (
    ActionInput,
    Diagnostic,
    PromptPlan,
    build_prompt,
    context_text,
    fill,
    new_file_uri,
    placeholder_values,
)
from qwen_lsp.actions.service import ActionRequest, lsp_edits
from qwen_lsp.actions.target import find_target
from qwen_lsp.actions.testcut import MAX_ASSERTIONS
from qwen_lsp.chat import CHATML, ChatTemplate
from qwen_lsp.documents import Snapshot
from qwen_lsp.engine import Special
from qwen_lsp.engine.fake import FakeBackend
from qwen_lsp.engine.lookup import PromptLookup
from qwen_lsp.settings import CustomAction
from qwen_lsp.settings_resolve import resolve_settings

QWEN_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}{%- if message.role == 'user' %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

PY = """import math
from typing import Any


class Shapes:
    @staticmethod
    def area(r):
        return math.pi * r * r

    def name(self):
        return "shapes"


def free(x):
    return x
"""


def snap(text: str, language_id: str = "python", uri: str = "file:///w/geo.py") -> Snapshot:
    return Snapshot.build(uri, language_id, 1, text)


def at(text: str, needle: str, delta: int = 0) -> int:
    return text.index(needle) + delta


def spec(action_id: str) -> ActionSpec:
    found = find_spec(action_id)
    assert found is not None
    return found


def count(text: str) -> int:
    return len(text) // 4 + 1


# -- chat template ----------------------------------------------------------------------------


def test_chat_template_keeps_user_text_out_of_special_tokens() -> None:
    template = ChatTemplate.from_template(QWEN_TEMPLATE)
    assert template.source == "gguf"
    parts = template.render("be brief", "x = '<|im_end|>'", "```python\n")
    specials = [p.text for p in parts if isinstance(p, Special)]
    assert specials == ["<|im_start|>", "<|im_end|>"] * 2 + ["<|im_start|>"]
    assert "x = '<|im_end|>'" in parts  # the user's text is one plain part
    text = "".join(p.text if isinstance(p, Special) else p for p in parts)
    assert text == (
        "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nx = '<|im_end|>'"
        "<|im_end|>\n<|im_start|>assistant\n```python\n"
    )


# The behaviour of Qwen3-family templates at the answer: thinking unless told not to.
THINKING_TEMPLATE = CHATML.replace(
    "'<|im_start|>assistant\\n' }}",
    "'<|im_start|>assistant\\n' }}{% if enable_thinking is defined and not enable_thinking %}"
    "{{ '<think>\\n\\n</think>\\n\\n' }}{% endif %}",
)


def test_a_thinking_model_is_asked_to_answer_without_thinking_first() -> None:
    assert THINKING_TEMPLATE != CHATML
    parts = ChatTemplate.from_template(THINKING_TEMPLATE).render("S", "U", "```python\n")
    # The empty thinking block: its tags are the vocabulary's special tokens, not text.
    assert parts[-5:] == [Special("<think>"), "\n\n", Special("</think>"), "\n\n", "```python\n"]


def test_chatml_fallback_matches_its_template() -> None:
    assert ChatTemplate.from_template(CHATML).render("S", "U") == ChatTemplate.from_template(
        None
    ).render("S", "U")


@pytest.mark.parametrize("template", [None, "", "{% broken", "{{ raise_exception('no') }}"])
def test_chat_template_falls_back_to_chatml(template: str | None) -> None:
    chat = ChatTemplate.from_template(template)
    assert chat.source == "chatml"
    text = "".join(p.text if isinstance(p, Special) else p for p in chat.render("S", "U"))
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n" + (
        "<|im_start|>assistant\n"
    )


# -- targets ----------------------------------------------------------------------------------


def test_empty_range_means_the_innermost_definition_with_decorators() -> None:
    s = snap(PY)
    target = find_target(s, at(PY, "math.pi"), at(PY, "math.pi"))
    assert target is not None
    assert PY[target.start : target.end] == (
        "    @staticmethod\n    def area(r):\n        return math.pi * r * r"
    )
    assert target.names == ("area",) and target.top_names == ("Shapes",)
    assert target.is_definition


def test_empty_range_outside_definitions() -> None:
    s = snap(PY)
    blank = at(PY, "\n\n\nclass") + 1
    assert find_target(s, blank, blank) is None
    assert find_target(s, blank, blank, line_fallback=True) is None
    first = find_target(s, 2, 2, line_fallback=True)
    assert first is not None and PY[first.start : first.end] == "import math"


def test_selection_is_widened_to_whole_lines() -> None:
    s = snap(PY)
    start, end = at(PY, "area(r)"), at(PY, "def name") + 3
    target = find_target(s, start, end)
    assert target is not None
    assert PY[target.start : target.end].startswith("    def area(r):")
    assert PY[target.start : target.end].endswith("    def name(self):")
    # a selection ending at the start of a line stops at the end of the line before
    line_start = at(PY, "def free")
    target = find_target(s, at(PY, "def free"), line_start + len("def free(x):\n"))
    assert target is not None and PY[target.start : target.end] == "def free(x):"


def test_selection_names_and_widening_one_line() -> None:
    s = snap(PY)
    target = find_target(s, at(PY, "class Shapes"), len(PY))
    assert target is not None and target.names == ("Shapes", "free")
    inside = at(PY, "return x")
    widened = find_target(s, inside, inside + 6, widen_line=True)
    assert widened is not None and widened.names == ("free",)
    assert PY[widened.start : widened.end] == "def free(x):\n    return x"


@pytest.mark.parametrize(
    "language_id, uri, text, needle, expected, name",
    [
        (
            "javascript",
            "file:///w/a.js",
            "// adds\nexport function add(a, b) {\n  return a + b;\n}\n",
            "return",
            "// adds\nexport function add(a, b) {\n  return a + b;\n}",
            "add",
        ),
        (
            "typescript",
            "file:///w/a.ts",
            "const twice = (x: number) => {\n  return 2 * x;\n};\n",
            "return",
            "const twice = (x: number) => {\n  return 2 * x;\n};",
            "twice",
        ),
        (
            "go",
            "file:///w/a.go",
            "package m\n\nfunc (s *S) Len() int {\n\treturn s.n\n}\n",
            "return",
            "func (s *S) Len() int {\n\treturn s.n\n}",
            "Len",
        ),
        (
            "rust",
            "file:///w/a.rs",
            "impl S {\n    /// Length.\n    fn len(&self) -> usize {\n        self.n\n    }\n}\n",
            "self.n",
            "    /// Length.\n    fn len(&self) -> usize {\n        self.n\n    }",
            "len",
        ),
        (
            "c",
            "file:///w/a.c",
            "static int *first(int *xs) {\n    return xs;\n}\n",
            "return",
            "static int *first(int *xs) {\n    return xs;\n}",
            "first",
        ),
        (
            "java",
            "file:///w/A.java",
            "class A {\n    int get() {\n        return 1;\n    }\n}\n",
            "return",
            "    int get() {\n        return 1;\n    }",
            "get",
        ),
    ],
)
def test_definitions_in_other_languages(
    language_id: str, uri: str, text: str, needle: str, expected: str, name: str
) -> None:
    s = snap(text, language_id, uri)
    target = find_target(s, at(text, needle), at(text, needle))
    assert target is not None
    assert text[target.start : target.end] == expected
    assert target.names == (name,)


# -- prompt -----------------------------------------------------------------------------------


def test_context_has_imports_and_enclosing_signatures_within_budget() -> None:
    s = snap(PY)
    target = find_target(s, at(PY, "math.pi"), at(PY, "math.pi"))
    assert target is not None
    context = context_text(s, target, count, 1000)
    assert context == "import math\nfrom typing import Any\n\nclass Shapes:\n    ..."
    assert context_text(s, target, count, 8) == "class Shapes:\n    ..."
    assert context_text(s, target, count, 0) == ""


def test_prompt_layout_for_docstring() -> None:
    s = snap(PY)
    target = find_target(s, at(PY, "math.pi"), at(PY, "math.pi"))
    assert target is not None
    plan = build_prompt(
        ActionInput(spec("docstring"), s, target), ChatTemplate.from_template(None), count, 100
    )
    text = "".join(p.text if isinstance(p, Special) else p for p in plan.parts)
    # One definition: the docstring alone is asked for, and started.
    assert plan.assistant_prefix == '```python\n"""' and text.endswith('assistant\n```python\n"""')
    assert "the docstring alone" in text and plan.reply == "doc"
    # the code is shown dedented, after the context, before the task
    assert "Code:\n```python\n@staticmethod\ndef area(r):\n    return math.pi * r * r\n```" in text
    assert text.index("class Shapes:") < text.index("Code:") < text.index("Task: say what")
    assert "PEP 257" in text and "`area`" in text
    assert plan.max_tokens >= count(PY[target.start : target.end])
    # Several definitions: the code with its documentation, as before.
    both = find_target(s, at(PY, "    def name"), at(PY, "return x"))
    assert both is not None and len(both.names) == 2
    plan = build_prompt(
        ActionInput(spec("docstring"), s, both), ChatTemplate.from_template(None), count, 100
    )
    assert plan.assistant_prefix == "```python\n" and plan.reply == "code"


def test_fix_prompt_lists_diagnostics_relative_to_the_code() -> None:
    s = snap(PY)
    target = find_target(s, at(PY, "return x"), at(PY, "return x"))
    assert target is not None
    line = PY[: at(PY, "return x")].count("\n")
    diagnostics = (Diagnostic(line, "x is unused", "lint", "W1"), Diagnostic(0, "elsewhere"))
    action = ActionInput(spec("fix"), s, target, diagnostics)
    user = fill(spec("fix").prompt, placeholder_values(action, ""))
    assert "- line 2 (`return x`): x is unused (lint W1)" in user
    assert "elsewhere" not in user
    assert "(the problems listed above)" in user


def test_fill_is_one_pass_and_leaves_unknown_placeholders() -> None:
    assert fill("{a} {b} {zz}", {"a": "{b}", "b": "B"}) == "{b} B {zz}"


def test_custom_action_template() -> None:
    custom = CustomAction(title="Shout", prompt="Make {language} code louder")
    found = catalogue([custom])[-1]
    assert found.id == "custom:0" and found.kind == "refactor.rewrite" and found.rewrite
    assert found.prompt == "Make {language} code louder\n\n{code}"
    assert find_spec("custom:0", [custom]) == found


# -- answers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, prefix, expected",
    [
        ("x = 1\n```\nThat sets x.", "```python\n", "x = 1"),
        ("Sure! Here it is:\n```python\ny = 2\n```\nDone.", "", "y = 2"),
        ("```js\na\n```\ntext\n```js\nlonger\nblock\n```", "", "longer\nblock"),
        ("x = 1\ny = 2\n", "```python\n", "x = 1\ny = 2"),  # unclosed: token limit
        ("````md\n```py\nz\n```\n````", "", "```py\nz\n```"),
        ("\n```\nNo code, sorry.", "```python\n", None),
        ("", "```python\n", None),
        ("plain = True", "", "plain = True"),
    ],
)
def test_extract_code(answer: str, prefix: str, expected: str | None) -> None:
    assert extract_code(answer, prefix) == expected


def test_code_with_backtick_fences_gets_a_longer_fence() -> None:
    text = 'def f():\n    """Example:\n\n    ```\n    f()\n    ```\n    """\n'
    s = snap(text)
    target = find_target(s, 0, 0, line_fallback=True)
    assert target is not None
    action = ActionInput(spec("docstring"), s, find_target(s, 12, 12) or target)
    plan = build_prompt(action, ChatTemplate.from_template(None), count, 100)
    assert plan.assistant_prefix.startswith("````python\n") and plan.fence == "````"
    assert not answer_complete("Example:\n\n    ```\n", plan)
    assert answer_complete("def f():\n    pass\n````\n", plan)


def test_answer_complete_when_fence_closes() -> None:
    plan = PromptPlan([], "```python\n", 10, True)
    assert not answer_complete("x = 1\n```", plan)
    assert answer_complete("x = 1\n```\n", plan)
    assert not answer_complete("x = 1\n```\n", dataclasses.replace(plan, assistant_prefix=""))


@pytest.mark.parametrize(
    "answer",
    [
        "def f(x):\n    return x",  # column 0
        "    def f(x):\n        return x",  # original indentation
        "\tdef f(x):\n\t    return x",  # a tab counts four columns
    ],
)
def test_reindent_to_the_target(answer: str) -> None:
    result = reindent(answer, "    ", "    ")
    assert result == "    def f(x):\n        return x"


def test_reindent_converts_indentation_units() -> None:
    assert reindent("if x:\n  y\n", "\t", "\t") == "\tif x:\n\t\ty"
    assert reindent("if x:\n\ty", "", "    ") == "if x:\n    y"
    assert reindent("\n\nif x:\n    y\n\n", "", "  ") == "if x:\n  y"


def test_comment_block_wraps_prose() -> None:
    text = "First sentence. " * 10 + "\n\n- a bullet that is long enough " + "to wrap " * 8
    block = comment_block(text.strip(), "#", "    ", width=60)
    lines = block.split("\n")
    assert all(line.startswith("    #") and len(line) <= 60 for line in lines)
    assert "    #" in lines  # the paragraph break
    assert any(line.startswith("    #   ") for line in lines)  # bullet continuation


def test_line_diff_is_minimal() -> None:
    old = "a\nb\nc\nd"
    edits = line_diff(old, "a\nB\nc\nd\ne", 10)
    assert edits == [OffsetEdit(12, 14, "B\n"), OffsetEdit(16, 17, "d\ne")]
    assert apply_edits("x" * 10 + old, edits) == "x" * 10 + "a\nB\nc\nd\ne"


# -- results ----------------------------------------------------------------------------------


def run(
    text: str, needle: str, action_id: str, answer: str, full: bool = False, **kwargs: object
) -> ActionResult:
    """The result of ``answer``, what the model wrote after the prompt's end; ``full``:
    the model was asked for the whole code (as for a selection of several definitions)."""
    s = snap(text, **kwargs)  # type: ignore[arg-type]
    target = find_target(s, at(text, needle), at(text, needle), line_fallback=True)
    assert target is not None
    the_spec = spec(action_id)
    if full:
        the_spec = dataclasses.replace(the_spec, reply="code")
    uri = new_file_uri(the_spec, s)
    action = ActionInput(the_spec, s, target, new_file_uri=uri)
    plan = build_prompt(action, ChatTemplate.from_template(None), count, 100)
    return result_for_answer(action, answer, plan)


def new_text(result: ActionResult) -> str:
    assert result.ok, result.message
    [change] = result.changes
    return change.new_text()


def test_docstring_result_is_reindented_and_minimal() -> None:
    # The answer continues the prompt's '"""': the docstring alone, then notes.
    result = run(PY, "math.pi", "docstring", 'Area."""\n```\nnotes')
    [change] = result.changes
    assert change.edits == (
        OffsetEdit(
            at(PY, "        return math.pi"),
            at(PY, "        return math.pi"),
            '        """Area."""\n',
        ),
    )
    assert change.version == 1


SCORES = """import math


def summarize_scores(scores, threshold=50):
    if not scores:
        return {}
    passed = [s for s in scores if s >= threshold]
    failed = [s for s in scores if s < threshold]
    total = 0
    for s in scores:
        total += s
    average = total / len(scores)
    result = {
        "passed": len(passed),
        "failed": len(failed),
        "average": round(average, 2),
        "best": max(scores),
    }
    return result
"""


def test_a_docstring_alone_for_a_fifteen_line_function() -> None:
    """Issue 16's example: the 0.5B model writes the docstring alone; it goes into the
    body at the body's indentation, its own indentation kept, the code untouched."""
    answer = (
        "\nSummarize scores based on a given threshold.\n\nArgs:\n    scores (list): The "
        "scores.\n    threshold (int): The passing score.\n\nReturns:\n    dict: Counts "
        'and the average.\n"""\n```\n'
    )
    new = new_text(run(SCORES, "passed =", "docstring", answer))
    docstring = (
        '    """\n    Summarize scores based on a given threshold.\n\n    Args:\n'
        "        scores (list): The scores.\n        threshold (int): The passing score.\n\n"
        '    Returns:\n        dict: Counts and the average.\n    """\n'
    )
    head = "def summarize_scores(scores, threshold=50):\n"
    assert new == SCORES.replace(head, head + docstring)


@pytest.mark.parametrize(
    "answer",
    [
        # the function rewritten with its docstring (decorator and all)
        '@staticmethod\ndef area(r):\n    """Area of a disc."""\n    return math.pi * r * r\n```',
        # the docstring above the def
        '"""Area of a disc."""\n\n@staticmethod\ndef area(r):\n    return math.pi * r * r\n```',
        # inside a class the model made up, and the code "improved" on the way
        'class Circle:\n    def area(r):\n        """Area of a disc."""\n        return 3.14 * r**2'
        "\n```",
        # the docstring alone, then an example of use
        '"""Area of a disc."""\n\nprint(area(2))\n```',
        # the body without its signature
        '"""Area of a disc."""\nreturn math.pi * r * r\n```',
        # the function renamed (its documentation is still for the target)
        'def circle_area(r):\n    """Area of a disc."""\n    return r\n```',
    ],
)
def test_docstring_taken_from_what_small_models_write(answer: str) -> None:
    new = new_text(run(PY, "math.pi", "docstring", answer, full=True))
    head = "    def area(r):\n"
    assert new == PY.replace(head, head + '        """Area of a disc."""\n')


def test_docstring_check_refuses_code_without_one() -> None:
    answer = "def area(r):\n    # area\n    return math.pi * r * r\n```"
    result = run(PY, "math.pi", "docstring", answer, full=True)
    assert not result.ok and "did not add a docstring" in result.message
    cut_off = run(PY, "math.pi", "docstring", "Area of a disc, given its\n")  # token limit
    assert not cut_off.ok and "did not add a docstring" in cut_off.message


def test_an_existing_docstring_is_replaced() -> None:
    text = 'def f(x):\n    """Old."""\n    return x\n'
    new = new_text(run(text, "return", "docstring", 'New.\n\n    More.\n    """\n```'))
    assert new == 'def f(x):\n    """New.\n\n    More.\n    """\n    return x\n'
    # written again as it was: said plainly (VS Code shows it), not "the same as the code"
    result = run(text, "return", "docstring", 'Old."""\n```')
    assert not result.ok and "`f` is documented already" in result.message


def test_js_doc_comment_counts() -> None:
    js = "function add(a, b) {\n  return a + b;\n}\n"
    kwargs = {"language_id": "javascript", "uri": "file:///w/a.js"}
    assert new_text(run(js, "return", "docstring", " Adds. */\n```", **kwargs)).startswith(
        "/** Adds. */\nfunction add"
    )
    full = "/** Adds. */\nfunction add(a, b) {\n  return b + a;\n}\n```"
    new = new_text(run(js, "return", "docstring", full, full=True, **kwargs))
    assert new == "/** Adds. */\n" + js  # the code is the original's


def test_doc_comment_alone_goes_above_the_code() -> None:
    go = "package m\n\n// old\nfunc F() int {\n\treturn 1\n}\n"
    kwargs = {"language_id": "go", "uri": "file:///w/m.go"}
    # The answer continues the prompt's "// F ", then the model starts on the code.
    answer = "returns one.\n// Always.\nfunc F() int {\n```"
    new = new_text(run(go, "return", "docstring", answer, **kwargs))
    assert new == "package m\n\n// F returns one.\n// Always.\nfunc F() int {\n\treturn 1\n}\n"
    method = "package m\n\ntype T struct{}\n\nfunc (t T) F() int {\n\treturn 1\n}\n"
    answer = "\t// F returns one.\n\tfunc (t T) F() int {\n\t\treturn 1\n\t}\n```"
    new = new_text(run(method, "return", "docstring", answer, full=True, **kwargs))
    assert new == method.replace("func (t T)", "// F returns one.\nfunc (t T)")


def test_part_complete_ends_small_answers() -> None:
    assert not part_complete('"""Area\n', "doc", "python")
    assert not part_complete('"""Area."""', "doc", "python")  # the line is not complete
    assert part_complete('"""Area."""\n', "doc", "python")
    assert not part_complete("/**\n * Adds.\n", "doc", "javascript")
    assert part_complete("/**\n * Adds.\n */\n", "doc", "javascript")
    assert part_complete("// F is.\nfunc F() {\n", "doc", "go")
    assert not part_complete("def f(a: int,\n", "signatures", "python")
    assert part_complete("def f(a: int,\n      b: str) -> None:\n", "signatures", "python")
    assert part_complete("function f(a: number): number {\n", "signatures", "typescript")


@pytest.mark.parametrize(
    "answer, message",
    [
        ("def area(r:\n    return (\n```", "would add a syntax error to geo.py at line 6"),
        ("def other(r):\n    return r\n```", "drops `area`"),
        # (Simplify: the code as it was says there was nothing to simplify)
        ("@staticmethod\ndef area(r):\n    return math.pi * r * r\n```", "nothing to simplify"),
        ("```\nI cannot do that.", "contains no code"),
    ],
)
def test_bad_answers_are_refused(answer: str, message: str) -> None:
    result = run(PY, "math.pi", "simplify", answer)
    assert (
        not result.ok
        and message in result.message
        and result.message.endswith("nothing was changed.")
    )


@pytest.mark.parametrize(
    "answer, expected",
    [
        # the function, then an example of its use and prose: the function alone is kept
        (
            "@staticmethod\ndef area(r):\n    return math.pi * r ** 2\n\n\n"
            "# Example usage:\nprint(Shapes.area(2))\n```",
            "        return math.pi * r ** 2\n",
        ),
        # the body alone: it goes under the original signature
        ("return math.pi * r ** 2\n```", "        return math.pi * r ** 2\n"),
        # inside a class of its own making
        (
            "class Shapes:\n    @staticmethod\n    def area(r):\n        return math.pi * r ** 2"
            "\n```",
            "        return math.pi * r ** 2\n",
        ),
    ],
)
def test_rewrites_reconciled_with_the_target(answer: str, expected: str) -> None:
    new = new_text(run(PY, "math.pi", "simplify", answer))
    assert new == PY.replace("        return math.pi * r * r\n", expected)


def test_a_rewrite_keeps_the_helpers_it_defines() -> None:
    answer = (
        "import operator\n\n\ndef _same(x):\n    return x\n\n\ndef free(x):\n"
        "    return _same(x)\n\n\n# Example:\nprint(free(1))\n\n\n"
        'if __name__ == "__main__":\n    free(2)\n```'
    )
    new = new_text(run(PY, "return x", "simplify", answer))
    assert new == PY.replace(
        "def free(x):\n    return x\n",
        "import operator\n\n\ndef _same(x):\n    return x\n\n\ndef free(x):\n    return _same(x)\n",
    )
    # The prompt's context copied back (the file's imports, its class's header) is no
    # part of the rewrite.
    answer = (
        "import math\nfrom typing import Any\n\n\nclass Shapes:\n    ...\n\n\n@staticmethod\n"
        "def area(r):\n    return math.pi * r ** 2\n```"
    )
    assert new_text(run(PY, "math.pi", "simplify", answer)) == PY.replace("r * r", "r ** 2")
    answer = "import math\nimport operator\n\n\ndef free(x):\n    return operator.pos(x)\n```"
    assert new_text(run(PY, "return x", "simplify", answer)) == PY.replace(
        "def free(x):\n    return x\n",
        "import operator\n\n\ndef free(x):\n    return operator.pos(x)\n",
    )
    # A method: an import would land in the class body; it is left out.
    answer = (
        "import math\n\n\n@staticmethod\ndef area(r):\n    return math.pi * r ** 2\n\n\n"
        "area(1)\n```"
    )
    new = new_text(run(PY, "math.pi", "simplify", answer))
    assert new == PY.replace("r * r", "r ** 2")


JS_CLASS = (
    "class Bag {\n  total(items) {\n    let sum = 0;\n    for (const x of items) sum += x;\n"
    "    return sum;\n  }\n}\n"
)
JS_SIMPLE = JS_CLASS.replace(
    "    let sum = 0;\n    for (const x of items) sum += x;\n    return sum;\n",
    "    return items.reduce((a, b) => a + b, 0);\n",
)


@pytest.mark.parametrize(
    "answer",
    [
        "total(items) {\n  return items.reduce((a, b) => a + b, 0);\n}\n```",
        "class Bag {\n  total(items) {\n    return items.reduce((a, b) => a + b, 0);\n  }\n}\n```",
        "return items.reduce((a, b) => a + b, 0);\n```",
    ],
)
def test_a_javascript_method_is_read_as_a_method(answer: str) -> None:
    """`total(items) { ... }` alone reads as a call and a block: it is read in a class."""
    kwargs = {"language_id": "javascript", "uri": "file:///w/bag.js"}
    assert new_text(run(JS_CLASS, "let sum", "simplify", answer, **kwargs)) == JS_SIMPLE
    documented = "/** Sums the items. */\ntotal(items) {\n  return 0;\n}\n```"
    new = new_text(run(JS_CLASS, "let sum", "docstring", documented, full=True, **kwargs))
    assert new == JS_CLASS.replace("  total(", "  /** Sums the items. */\n  total(")


def test_doc_comment_alone_for_a_method_and_code_cut_after_it() -> None:
    kwargs = {"language_id": "javascript", "uri": "file:///w/bag.js"}
    # The answer continues the prompt's "/**"; it was stopped on the method's first line.
    answer = "\n * Sums the items.\n */\ntotal(items) {\n```"
    new = new_text(run(JS_CLASS, "let sum", "docstring", answer, **kwargs))
    assert new == JS_CLASS.replace("  total(", "  /**\n   * Sums the items.\n   */\n  total(")
    rust = 'fn main() {\n    let x = 1;\n    println!("{}", x);\n}\n'
    answer = "Prints one.\n/// Twice.\nfn main() {\n    let x\n```"
    kwargs = {"language_id": "rust", "uri": "file:///w/main.rs"}
    new = new_text(run(rust, "let x", "docstring", answer, **kwargs))
    assert new == "/// Prints one.\n/// Twice.\n" + rust


def test_a_rust_doc_comment_is_completed_above_its_function() -> None:
    """A Rust /// comment ends with its newline: the line below it (the function's) was
    taken as the comment's last line and replaced (render_markdown in rustc's main.rs)."""
    rust = "/// Prints.\nfn main() {\n    let x = 1;\n}\n"
    kwargs = {"language_id": "rust", "uri": "file:///w/main.rs"}
    new = new_text(run(rust, "let x", "docstring", " Prints x.\n///\n/// Once.\n```", **kwargs))
    assert new == "/// Prints x.\n///\n/// Once.\nfn main() {\n    let x = 1;\n}\n"


def test_documentation_that_repeats_the_request_is_refused_and_a_loop_cut() -> None:
    """What the 0.5B model wrote for Rust functions before the request was reworded: its
    answer, started with "///", went on with the request's words."""
    rust = 'fn main() {\n    let x = 1;\n    println!("{}", x);\n}\n'
    kwargs = {"language_id": "rust", "uri": "file:///w/main.rs"}
    echo = " Rust doc comments (three slashes) directly above it, without examples.\n```"
    result = run(rust, "let x", "docstring", echo, **kwargs)
    assert not result.ok and "repeats the request" in result.message
    # the start "///" went on without a space
    assert new_text(run(rust, "let x", "docstring", "Prints x.\n```", **kwargs)).startswith(
        "/// Prints x.\nfn main"
    )
    # A Go function's doc: six good lines, then the same again until the token limit; the
    # repeated part and the empty comment line before it are left out.
    go = "package m\n\nfunc (c *C) readAddr() string {\n\treturn c.a\n}\n"
    kwargs = {"language_id": "go", "uri": "file:///w/m.go"}
    good = " reads the address.\n// If the socket is insecure, it returns the first one.\n//\n"
    loop = good + "// If the socket is insecure, it returns the first one.\n// If the"
    new = new_text(run(go, "return c.a", "docstring", loop, **kwargs))
    assert new == go.replace("func (c", "// readAddr" + good.rstrip("/\n") + "\nfunc (c")
    # A Python docstring saying one line over and over is refused.
    looping = "Area.\n" + "    It is the area.\n" * 4 + '    """\n```'
    result = run(PY, "math.pi", "docstring", looping)
    assert not result.ok and "over and over" in result.message


def test_annotations_must_be_added() -> None:
    # The answer continues the prompt's "def free(x: ": the signature alone.
    new = new_text(run(PY, "return x", "annotate", "int) -> int:\n```"))
    assert new == PY.replace("def free(x):", "def free(x: int) -> int:")
    # Asked for the whole code instead:
    result = run(PY, "return x", "annotate", "def free(x):\n    return x\n```", full=True)
    assert not result.ok and "adds no type annotations to `free`" in result.message
    result = run(PY, "return x", "annotate", "def free(x=1):\n```", full=True)
    assert not result.ok and "no type annotations" in result.message
    renamed = run(PY, "return x", "annotate", "def free(y: int) -> int:\n```", full=True)
    assert not renamed.ok and "not only its type annotations" in renamed.message
    # The whole function: its signature is taken, never its body.
    full = "def free(x: int) -> int:\n    return x + 0\n```"
    assert new_text(run(PY, "return x", "annotate", full, full=True)) == new
    # Signatures alone for a class: each goes to its method.
    signatures = "class Shapes:\n    def area(r: float) -> float:\n    def name(self) -> str:\n```"
    new = new_text(run(PY, "class Shapes", "annotate", signatures))
    assert "    def area(r: float) -> float:\n        return math.pi" in new
    assert '    def name(self) -> str:\n        return "shapes"' in new


@pytest.mark.parametrize(
    "written, spelled",
    [
        ("Optional[int]", "int | None"),
        ("List[Dict[str, Optional[int]]]", "list[dict[str, int | None]]"),
        ("Union[int, str, None]", "int | str | None"),
        ("typing.Tuple[int, ...]", "tuple[int, ...]"),
        ("Optional[Union[int, str]]", "int | str | None"),
        ("Callable[[int], str]", "Callable[[int], str]"),  # no built-in spelling
    ],
)
def test_typing_aliases_spelled_as_builtins(written: str, spelled: str) -> None:
    assert pytypes.builtin_generics(f"def f(x: {written}) -> None:", set()) == (
        f"def f(x: {spelled}) -> None:"
    )
    kept = pytypes.builtin_generics(f"def f(x: {written}):", {"Optional", "List", "Union"})
    assert ("Optional[" in kept) == ("Optional[" in written)


def test_annotations_the_module_cannot_evaluate_are_refused() -> None:
    new = new_text(run(PY, "return x", "annotate", "Optional[int]) -> List[int]:\n```"))
    assert "def free(x: int | None) -> list[int]:" in new
    result = run(PY, "return x", "annotate", "Any) -> Sequence[Point]:\n```")
    assert not result.ok and "use `Point`, which geo.py does not import" in result.message
    # PY imports Any; a forward reference in a string and a dotted name's module are fine.
    new = new_text(run(PY, "return x", "annotate", 'Any) -> "Shapes":\n```'))
    assert 'def free(x: Any) -> "Shapes":' in new
    # A name the file uses only inside a function (a parameter) is not bound where the
    # annotation is evaluated.
    local = "def g(point):\n    return point\n\n\ndef h(x):\n    return x\n"
    result = run(local, "return x", "annotate", "point.Point) -> None:\n```")
    assert not result.ok and "use `point`" in result.message
    assert pytypes.known_names(PY + "if x:\n    import os as o\nclass C:\n    T = int\n") >= {
        "math",
        "Any",
        "Shapes",
        "free",
        "o",
        "C",
        "T",
    }
    future = "from __future__ import annotations\n\n\ndef g(x):\n    return x\n"
    assert new_text(run(future, "return x", "annotate", "Iterable[int]) -> Foo:\n```"))


@pytest.mark.parametrize(
    "language_id, text, start",
    [
        ("python", "class A:\n    def f(self, a, b=1, *r):\n        return a\n", "def f(self, a: "),
        ("python", "def f(a: int, *, b=2):\n    return a\n", "def f(a: int, *, b: "),
        (
            "python",
            "def f(\n    a: int,\n    b,\n):\n    return a\n",
            "def f(\n    a: int,\n    b: ",
        ),
        ("python", "class A:\n    def f(self):\n        return 1\n", "def f(self) -> "),
        ("python", "def f(a: int) -> int:\n    return a\n", "def f("),
        ("typescript", "export function add(a, b?) {\n  return a;\n}\n", "function add(a: "),
        ("typescript", "function add(a: number) {\n  return a;\n}\n", "function add(a: number): "),
        ("typescript", "class B {\n  m(x = 1) {\n    return x;\n  }\n}\n", "m(x: "),
    ],
)
def test_an_annotation_answer_starts_at_the_first_missing_type(
    language_id: str, text: str, start: str
) -> None:
    """Started at the bracket, the 0.5B model copied the signature as it was."""
    s = snap(text, language_id, "file:///w/x.py" if language_id == "python" else "file:///w/x.ts")
    needle = at(text, "return")
    target = find_target(s, needle, needle)
    assert target is not None
    plan = build_prompt(
        ActionInput(spec("annotate"), s, target), ChatTemplate.from_template(None), count, 100
    )
    assert plan.assistant_prefix.split("\n", 1)[1] == start


def test_typescript_signature_alone() -> None:
    ts = "export function add(a, b) {\n  return a + b;\n}\n"
    kwargs = {"language_id": "typescript", "uri": "file:///w/a.ts"}
    new = new_text(run(ts, "return", "annotate", "number, b: number): number {\n```", **kwargs))
    assert new == ts.replace("add(a, b)", "add(a: number, b: number): number")
    method = "class Bag {\n  add(a, b) {\n    return a + b;\n  }\n}\n"
    new = new_text(run(method, "return", "annotate", "number, b: number): number {\n```", **kwargs))
    assert new == method.replace("add(a, b)", "add(a: number, b: number): number")
    multi = "function add(\n  a: number,\n  b: number\n): number;\n```"
    new = new_text(run(ts, "return", "annotate", multi, full=True, **kwargs))
    assert new.startswith("export function add(\n  a: number,\n  b: number\n): number {\n")


def test_explain_goes_above_as_comments() -> None:
    new = new_text(run(PY, "math.pi", "explain", "It **computes** the area.\n```\n```"))
    assert "    # It computes the area.\n    @staticmethod\n" in new
    go = "package m\n\nfunc F() int {\n\treturn 1\n}\n"
    new = new_text(
        run(go, "return", "explain", "Returns one.", language_id="go", uri="file:///w/m.go")
    )
    assert "// Returns one.\nfunc F() int {" in new


# The languages added after the first nine: each is offered documentation and explanations,
# and a scripted answer becomes a checked edit written in its own comment syntax.
NEW_LANGUAGES = [
    (
        "ruby",
        "file:///w/shop.rb",
        'class Bin\n  def aisle\n    1\n  end\n\n  # old\n  def label\n    "aisle"\n  end\nend\n',
        '"aisle"',
        "# Names the bin.\n```",  # just the comment: it replaces the old one
        'class Bin\n  def aisle\n    1\n  end\n\n  # Names the bin.\n  def label\n    "aisle"\n'
        "  end\nend\n",
        '  # old\n  def label\n    "aisle"\n  end',
        "  # It sums.\n  # old\n  def label\n",
    ),
    (
        "php",
        "file:///w/shop.php",
        "<?php\n\nfunction total(array $xs): int\n{\n    return array_sum($xs);\n}\n",
        "return",
        "/**\n * Sums the bins.\n */\nfunction total(array $xs): int\n{\n"
        "    return array_sum($xs);\n}\n```",
        "<?php\n\n/**\n * Sums the bins.\n */\nfunction total(array $xs): int\n{\n"
        "    return array_sum($xs);\n}\n",
        "function total(array $xs): int\n{\n    return array_sum($xs);\n}",
        "<?php\n\n// It sums.\nfunction total(",
    ),
    (
        "csharp",
        "file:///w/Shop.cs",
        "class Bin\n{\n    public int Total(int[] xs)\n    {\n        return xs.Length;\n"
        "    }\n}\n",
        "return",
        "/// <summary>Counts the bins.</summary>\n```",
        "class Bin\n{\n    /// <summary>Counts the bins.</summary>\n"
        "    public int Total(int[] xs)\n    {\n        return xs.Length;\n    }\n}\n",
        "    public int Total(int[] xs)\n    {\n        return xs.Length;\n    }",
        "{\n    // It sums.\n    public int Total(",
    ),
    (
        "lua",
        "file:///w/shop.lua",
        "local M = {}\n\nfunction M.total(xs)\n  return #xs\nend\n\nreturn M\n",
        "return #",
        "--- Counts the bins.\n```",
        "local M = {}\n\n--- Counts the bins.\nfunction M.total(xs)\n  return #xs\nend\n\n"
        "return M\n",
        "function M.total(xs)\n  return #xs\nend",
        "local M = {}\n\n-- It sums.\nfunction M.total(xs)\n",
    ),
    (
        "shellscript",
        "file:///w/shop.sh",
        '#!/bin/sh\n\ntotal() {\n  echo "$#"\n}\n',
        "echo",
        "# Prints how many arguments it got.\n```",
        '#!/bin/sh\n\n# Prints how many arguments it got.\ntotal() {\n  echo "$#"\n}\n',
        'total() {\n  echo "$#"\n}',
        "#!/bin/sh\n\n# It sums.\ntotal() {\n",
    ),
    (
        "kotlin",
        "file:///w/Shop.kt",
        "class Bin {\n    fun total(xs: List<Int>): Int {\n        return xs.sum()\n    }\n}\n",
        "return",
        "/** Sums [xs]. */\n```",
        "class Bin {\n    /** Sums [xs]. */\n    fun total(xs: List<Int>): Int {\n"
        "        return xs.sum()\n    }\n}\n",
        "    fun total(xs: List<Int>): Int {\n        return xs.sum()\n    }",
        "class Bin {\n    // It sums.\n    fun total(",
    ),
]


@pytest.mark.parametrize(
    "language_id, uri, text, needle, doc_answer, documented, target_text, explained",
    NEW_LANGUAGES,
    ids=[case[0] for case in NEW_LANGUAGES],
)
def test_new_languages_document_and_explain(
    language_id: str,
    uri: str,
    text: str,
    needle: str,
    doc_answer: str,
    documented: str,
    target_text: str,
    explained: str,
) -> None:
    s = snap(text, language_id, uri)
    target = find_target(s, at(text, needle), at(text, needle))
    assert target is not None and text[target.start : target.end] == target_text
    ids = [o.spec.id for o in offers(s, target, (), None, False)]
    # Add docstring is not listed where the definition has documentation (Ruby's
    # "# old"); requested anyway, its answer replaces it (below).
    assert "explain" in ids and ("docstring" in ids) == ("# old" not in text)
    kwargs = {"language_id": language_id, "uri": uri}
    assert new_text(run(text, needle, "docstring", doc_answer, True, **kwargs)) == documented
    # a blank line below the first: the code, changed, with nothing directly above it
    # (or, Ruby's, its old comment: the same documentation as before)
    first, rest = target_text.split("\n", 1)
    undocumented = run(text, needle, "docstring", f"{first}\n\n{rest}\n```", True, **kwargs)
    assert not undocumented.ok
    assert "did not add a docstring" in undocumented.message or (
        "documented already" in undocumented.message and first.strip().startswith("#")
    )
    assert explained in new_text(run(text, needle, "explain", "It **sums**.", **kwargs))


def test_python_tests_import_the_real_code() -> None:
    # The answer starts after "from geo import free\n\n\ndef test_" (the prompt's end).
    answer = (
        "free():\n    assert free(1) == 1\n\n\nfrom solution import free\n\n"
        "def free(x):\n    return x\n\n"
        "def test_free_two():\n    assert free(2) == 2\n```"
    )
    result = run(PY, "return x", "tests", answer)
    [change] = result.changes
    assert change.create and change.uri == "file:///w/test_geo.py"
    assert change.new_text() == (
        "from geo import free\n\n\ndef test_free():\n    assert free(1) == 1\n\n\n"
        "from geo import free\n\n\ndef test_free_two():\n    assert free(2) == 2\n"
    )


def test_tests_cut_off_at_the_token_limit_keep_complete_tests() -> None:
    answer = "one():\n    assert free(1) == 1\n\n\ndef test_two():\n    assert free(2) == [2, 2, 2"
    [change] = run(PY, "return x", "tests", answer).changes
    assert change.new_text() == (
        "from geo import free\n\n\ndef test_one():\n    assert free(1) == 1\n"
    )


def test_a_test_answer_stops_and_is_cut_at_one_assertion_too_many() -> None:
    s = snap(PY)
    target = find_target(s, at(PY, "return x"), at(PY, "return x"))
    assert target is not None
    action = ActionInput(spec("tests"), s, target, new_file_uri="file:///w/test_geo.py")
    plan = build_prompt(action, ChatTemplate.from_template(None), count, 100)
    assert plan.tests
    # The answer starts after "def test_"; case after case in one test, as the 0.5B writes.
    cases = "".join(
        f"\n    # Test case {i}\n    assert free({i}) == {i}\n" for i in range(MAX_ASSERTIONS)
    )
    answer = "free():" + cases
    assert not answer_complete(answer, plan)
    answer += "\n    # Test case 9\n    assert "
    assert answer_complete(answer, plan)  # streaming stops here
    assert not answer_complete(answer, dataclasses.replace(plan, tests=False))
    [change] = result_for_answer(action, answer, plan).changes
    assert change.new_text() == "from geo import free\n\n\ndef test_free():" + cases


def test_python_tests_import_what_they_use() -> None:
    answer = "free():\n    with pytest.raises(TypeError):\n        free(Shapes)\n```"
    [change] = run(PY, "return x", "tests", answer).changes
    assert change.new_text().startswith("import pytest\nfrom geo import free, Shapes\n\n\n")


def _tests_prompt(text: str, needle: str, language_id: str, uri: str) -> PromptPlan:
    s = snap(text, language_id, uri)
    target = find_target(s, at(text, needle), at(text, needle))
    assert target is not None
    the_spec = spec("tests")
    action = ActionInput(the_spec, s, target, new_file_uri=new_file_uri(the_spec, s))
    return build_prompt(action, ChatTemplate.from_template(None), count, 100)


def test_tests_of_a_python_method_say_to_call_it_on_an_object() -> None:
    def asked(plan: PromptPlan) -> str:
        return "".join(str(p) for p in plan.parts)

    method = asked(_tests_prompt(PY, '"shapes"', "python", "file:///w/geo.py"))
    assert "make one first (`obj = Shapes(...)`" in method and "`obj.name(...)`" in method
    for static in ("math.pi", "return x"):  # a static method, a function: called as they are
        assert "obj = " not in asked(_tests_prompt(PY, static, "python", "file:///w/geo.py"))
    init = "class Box:\n    def __init__(self, n):\n        self.n = n\n"
    assert "the constructor of `Box`" in asked(
        _tests_prompt(init, "self.n", "python", "file:///w/box.py")
    )


def test_javascript_tests_are_started_as_a_test_of_the_runner() -> None:
    js = "function add(a, b) {\n  return a + b;\n}\nmodule.exports = { add };\n"
    plan = _tests_prompt(js, "return", "javascript", "file:///w/calc.js")
    assert plan.assistant_prefix == (
        "```javascript\nconst test = require('node:test');\nconst assert = require('node:assert');"
        "\nconst { add } = require('./calc');\n\ntest('"
    )


JS_GYP = """class Gyp {
  static parse(text) {
    return new Gyp(text);
  }

  usage() {
    return 'node-gyp';
  }
}

module.exports = Gyp;
"""


def test_javascript_tests_bind_a_module_that_exports_one_class_as_it_is() -> None:
    plan = _tests_prompt(JS_GYP, "node-gyp", "javascript", "file:///w/gyp.js")
    assert "\nconst Gyp = require('./gyp');\n\ntest('" in plan.assistant_prefix
    asked = "".join(str(p) for p in plan.parts)
    assert "make one first (`const obj = new Gyp(...)`" in asked and "`obj.usage(...)`" in asked
    static = "".join(
        str(p) for p in _tests_prompt(JS_GYP, "return new", "javascript", "file:///w/gyp.js").parts
    )
    assert "call it on the class, `Gyp.parse(...)`" in static and "const obj" not in static
    named = JS_GYP.replace("module.exports = Gyp;", "module.exports = { Gyp };")
    plan = _tests_prompt(named, "node-gyp", "javascript", "file:///w/gyp.js")
    assert "\nconst { Gyp } = require('./gyp');\n" in plan.assistant_prefix


def test_typescript_tests_are_started_as_a_test_of_the_runner() -> None:
    ts = "export default function add(a: number, b: number): number {\n  return a + b;\n}\n"
    plan = _tests_prompt(ts, "return", "typescript", "file:///w/calc.ts")
    assert plan.assistant_prefix == (
        "```typescript\nimport { test } from 'node:test';\nimport assert from 'node:assert';"
        "\nimport add from './calc';\n\ntest('"
    )
    answer = "adds', () => {\n  assert.strictEqual(add(1, 2), 3);\n});\n```"
    result = run(ts, "return", "tests", answer, language_id="typescript", uri="file:///w/calc.ts")
    assert new_text(result).endswith(
        "import add from './calc';\n\n"
        "test('adds', () => {\n  assert.strictEqual(add(1, 2), 3);\n});\n"
    )


def test_python_tests_for_a_method_import_its_class() -> None:
    answer = "area():\n    assert Shapes.area(1) > 3\n```"
    [change] = run(PY, "math.pi", "tests", answer).changes
    assert change.new_text().startswith("from geo import Shapes\n\n\ndef test_area():")


def test_tests_without_tests_are_refused() -> None:
    result = run(PY, "return x", "tests", "x = 1\n```", language_id="go", uri="file:///w/a.go")
    assert not result.ok


def test_tests_below_when_files_cannot_be_created() -> None:
    s = snap(PY)
    target = find_target(s, at(PY, "return x"), at(PY, "return x"))
    assert target is not None
    action = ActionInput(spec("tests"), s, target, can_create_files=False)
    assert action.placement == "below"
    plan = build_prompt(action, ChatTemplate.from_template(None), count, 100)
    assert "end of the same file" in "".join(str(p) for p in plan.parts)
    answer = "free():\n    assert free(2) == 2\n\nfrom geo import free\n```"
    new = new_text(result_for_answer(action, answer, plan))
    assert new == PY + "\n\ndef test_free():\n    assert free(2) == 2\n"


def test_tests_appended_to_an_existing_file() -> None:
    s = snap(PY)
    target = find_target(s, at(PY, "return x"), at(PY, "return x"))
    assert target is not None
    existing = "import geo\n\n\ndef test_old():\n    pass\n"
    action = ActionInput(
        spec("tests"), s, target, new_file_uri="file:///w/test_geo.py", new_file_text=existing
    )
    plan = build_prompt(action, ChatTemplate.from_template(None), count, 100)
    answer = "new():\n    assert geo.free(1) == 1\n```"
    [change] = result_for_answer(action, answer, plan).changes
    assert not change.create
    assert change.new_text() == existing + "\n\n" + "def test_new():\n    assert geo.free(1) == 1\n"


def test_crlf_and_utf16_positions() -> None:
    text = 'def f(x):\r\n    return "😀" + x\r\n'
    s = snap(text)
    result = run(text, "return", "docstring", 'Smile."""\n```')
    [change] = result.changes
    assert change.new_text() == 'def f(x):\r\n    """Smile."""\r\n    return "😀" + x\r\n'
    assert lsp_edits(change, s) == [((1, 0), (1, 0), '    """Smile."""\r\n')]


def test_grammarless_language_can_explain_with_known_comments() -> None:
    text = "x = 1\nmain = print x\n"
    s = snap(text, "haskell", "file:///w/a.hs")
    target = find_target(s, 0, len(text))
    assert target is not None
    ids = [o.spec.id for o in offers(s, target, (), None, False)]
    assert ids == ["fix", "explain"]  # (no tree: nothing for Simplify to find)
    assert offers(snap("x", "plaintext", "file:///w/a.txt"), target, (), None, False)[1:] == [
        o for o in offers(snap("x", "plaintext", "file:///w/a.txt"), target, (), None, False)[1:]
    ]


def test_offers_filter_by_kind_and_need() -> None:
    s = snap(PY)
    line = find_target(s, 2, 2, line_fallback=True)  # "import math": no definition
    ids = [o.spec.id for o in offers(s, line, (), None, False)]
    assert ids == ["fix", "explain"]  # and Simplify only where there is something to simplify
    code = "def odd(n):\n    if n % 2:\n        return True\n    return False\n"
    odd = snap(code)
    whole = find_target(odd, 0, len(code))
    refactors = offers(odd, whole, (), ["refactor.rewrite"], False)
    assert [o.spec.id for o in refactors] == ["docstring", "annotate", "simplify"]
    assert offers(s, None, (), None, False) == []


def test_new_file_uris() -> None:
    assert new_file_uri(spec("tests"), snap("x", uri="file:///w/a%20b.py")) == (
        "file:///w/test_a%20b.py"
    )
    go = snap("package m\n", "go", "file:///w/m.go")
    assert new_file_uri(spec("tests"), go) == "file:///w/m_test.go"
    rust = snap("fn f() {}\n", "rust", "file:///w/m.rs")
    assert new_file_uri(spec("tests"), rust) == ""  # a test module in the file
    assert new_file_uri(spec("docstring"), go) == ""


def test_unified_diff() -> None:
    change = FileChange("file:///w/t.py", "", (OffsetEdit(0, 0, "x = 1\n"),), create=True)
    assert unified_diff(change, "a/t.py", "b/t.py") == (
        "--- /dev/null\n+++ b/t.py\n@@ -0,0 +1 @@\n+x = 1\n"
    )


# -- requests, settings, engine helpers -------------------------------------------------------


def test_action_request_round_trip() -> None:
    request = ActionRequest("fix", "file:///a.py", 3, ((1, 2), (3, 4)), (Diagnostic(1, "m", "s"),))
    assert ActionRequest.from_json(request.to_json()) == request
    with pytest.raises(ValueError):
        ActionRequest.from_json({"action": "fix"})


def test_custom_actions_setting() -> None:
    good = {
        "customActions": [
            {"title": "T", "prompt": "P", "languages": ["python"], "target": "newFile"}
        ]
    }
    settings = resolve_settings({}, good).settings
    assert settings.customActions == (
        CustomAction(title="T", prompt="P", languages=("python",), target="newFile"),
    )
    for bad in (
        "not a list",
        [{"title": "T"}],
        [{"title": "T", "prompt": "P", "target": "sideways"}],
        [{"title": "T", "prompt": "P", "kind": "not a kind"}],
        [{"title": "T", "prompt": "P", "color": "red"}],
        [{"title": "T", "prompt": 5}],
    ):
        resolved = resolve_settings({}, {"customActions": bad})
        assert resolved.settings.customActions == ()
        assert len(resolved.problems) == 1 and "customActions" in resolved.problems[0]


def test_prompt_lookup_walks_the_source_in_order() -> None:
    source = [1, 2, 3, 9, 1, 2, 4, 5, 6]
    lookup = PromptLookup(max_draft=3, max_ngram=2)
    # the output so far copies the second "1 2": the guess continues from there
    history = [*source, 7, 1, 2]
    assert lookup.draft(history) == [3, 9, 1]  # first match after the (empty) source position
    lookup.feedback(3, 0)  # rejected: shorter guesses
    assert lookup.draft([*source, 7, 1, 2, 4]) == [5, 6]  # the "2 4" n-gram
    assert PromptLookup(0).draft(history) == []


def test_prompt_lookup_pauses_when_short_guesses_fail() -> None:
    history = [1, 2, 3, 1, 2]
    lookup = PromptLookup(max_draft=2, max_ngram=1)
    assert lookup.draft(history) == [3, 1]
    lookup.feedback(2, 0)  # the shortest guess failed: no guesses for a while
    assert [lookup.draft(history) for _ in range(8)] == [[]] * 8
    assert lookup.draft(history) != []


def test_fake_backend_contains_keys() -> None:
    fake = FakeBackend(contains={"a && b": "both", "a": "one"})
    assert fake._answer_for("x a y b") == "both"
    assert fake._answer_for("x a y") == "one"
    assert fake._answer_for("nothing") == "fake_completion()\n"


def test_edits_parse() -> None:
    new = new_text(run(PY, "return x", "simplify", "def free(x):\n    return +x  # same\n```"))
    tree = syntax.get_parser("python").parse(new.encode())
    assert syntax.count_errors(tree.root_node) == 0


def test_the_lines_of_a_docstring_that_copy_the_request_are_left_out() -> None:
    """The 0.5B model's docstrings for typing's `__eq__` and imghdr's `testall`: good
    sections under a summary copied from the request, or a good docstring ending with the
    request's last sentence. Those lines go; the rest is the docstring."""
    code = "def same(a, b):\n    return a == b\n"
    answer = (
        "\nA one-line summary of same.\n\nArgs:\n    a: The first value.\n    b: The second."
        '\n\nReturns:\n    True when they are equal.\n"""\n'
    )
    new = new_text(run(code, "return", "docstring", answer))
    assert new == (
        'def same(a, b):\n    """\n    Args:\n        a: The first value.\n'
        "        b: The second.\n\n    Returns:\n        True when they are equal.\n"
        '    """\n    return a == b\n'
    )
    ending = '\nCompare two values.\nIf it already has some, complete it.\n"""\n'
    new = new_text(run(code, "return", "docstring", ending))
    assert '"""\n    Compare two values.\n    """' in new and "complete it" not in new
    # only the copy: refused, saying why
    copy = '\nA one-line summary, then Args:, Returns: and Raises: sections.\n"""\n'
    result = run(code, "return", "docstring", copy)
    assert not result.ok and "repeats the request" in result.message
