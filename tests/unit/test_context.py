"""The FIM window: budgets, the llama.vim layout, and prompt stability while typing; the
chat prompt that asks for a block."""

from __future__ import annotations

import pytest

from qwen_lsp.chat import ChatTemplate
from qwen_lsp.context import (
    MAX_LINE_CHARS,
    TokenCounter,
    chat_continuation_prompt,
    fim_prompt,
    fim_window,
)
from qwen_lsp.engine import FimTokens, Special


def words(text: str) -> list[int]:
    """A stand-in tokenizer: one token per whitespace-separated word, at least one per line."""
    return [0] * max(1, len(text.split()))


COUNT = TokenCounter(words)
FILE = "".join(f"line{i} a b c\n" for i in range(100))  # 4 tokens a line


def window(text: str, offset: int, prefix: int = 1000, suffix: int = 1000, snap: int = 16):
    return fim_window(text, offset, COUNT, prefix, suffix, snap_lines=snap)


def test_layout_puts_cursor_line_after_middle_marker() -> None:
    text = "def f():\n    return 1\n\nx = f("
    w = window(text + ")\nprint(x)\n", len(text))
    assert w.prefix == "def f():\n    return 1\n\n"
    assert w.line_prefix == "x = f("
    assert w.suffix == ")\nprint(x)\n"
    prompt = fim_prompt(w, FimTokens())
    assert prompt == [
        Special("<|fim_prefix|>"),
        w.prefix,
        Special("<|fim_suffix|>"),
        w.suffix,
        Special("<|fim_middle|>"),
        w.line_prefix,
    ]


@pytest.mark.parametrize(
    ("document", "prefix_part", "middle"),
    [
        # Only indentation before the cursor (python, go with a tab, js): the prefix ends
        # with it and nothing follows <|fim_middle|> ...
        ("def f(xs):\n    █\n    return xs\n", "def f(xs):\n    ", None),
        ("func f() {\n\t█\n}\n", "func f() {\n\t", None),
        ("function f() {\n█\n}\n", "function f() {\n", None),
        # ... and when code is typed after it, that code follows <|fim_middle|>
        # (llama.vim), so typing on the line only changes the end of the prompt, from its
        # first character on.
        ("def f(xs):\n    return █\n", "def f(xs):\n    ", "return "),
        ("int main(void) {\n  printf(█);\n}\n", "int main(void) {\n  ", "printf("),
        ("x = 1█\n", "", "x = 1"),
    ],
)
def test_indentation_alone_ends_the_prefix(
    document: str, prefix_part: str, middle: str | None
) -> None:
    text = document.replace("█", "")
    w = window(text, document.index("█"))
    prompt = fim_prompt(w, FimTokens())
    assert prompt[1] == prefix_part
    assert prompt[3] == w.suffix
    assert prompt[4] == Special("<|fim_middle|>")
    assert prompt[5:] == ([] if middle is None else [middle])


def test_typing_a_lines_first_character_only_adds_to_the_prompts_end() -> None:
    """issue 12: on a new line, the first typed character re-read the whole suffix (the
    indentation moved from the prefix to after the middle marker): a second re-read of
    about a hundred tokens per line after the one at Enter."""

    def prompt_text(document: str) -> str:
        w = window(document.replace("█", ""), document.index("█"))
        return "".join(p.text if isinstance(p, Special) else p for p in fim_prompt(w, FimTokens()))

    before = prompt_text("def f(xs):\n    █\n    return xs\n")
    after = prompt_text("def f(xs):\n    i█\n    return xs\n")
    assert after == before + "i"


def test_indentation_follows_the_middle_marker_when_its_rule_is_off() -> None:
    """The ablation switch (the disableRules setting) reaches the prompt layout."""
    document = "def f(xs):\n    █\n    return xs\n"
    text = document.replace("█", "")
    w = window(text, document.index("█"))
    prompt = fim_prompt(w, FimTokens(), disabled_rules=("indent-in-prefix",))
    assert prompt[1] == "def f(xs):\n"
    assert prompt[4:] == [Special("<|fim_middle|>"), "    "]
    # The narrower switch: indentation ends the prefix only while nothing follows it.
    typed = "def f(xs):\n    return █\n"
    w = window(typed.replace("█", ""), typed.index("█"))
    assert fim_prompt(w, FimTokens(), disabled_rules=("indent-in-prefix-typed",))[4:] == [
        Special("<|fim_middle|>"),
        "    return ",
    ]
    prompt = fim_prompt(
        window(text, document.index("█")), FimTokens(), disabled_rules=("indent-in-prefix-typed",)
    )
    assert prompt[1] == "def f(xs):\n    "


@pytest.mark.parametrize(
    "text, offset, expected_line_prefix, expected_suffix",
    [
        ("", 0, "", ""),
        ("abc", 3, "abc", ""),
        ("abc", 0, "", "abc"),
        ("a\r\nb", 3, "", "b"),  # CRLF: the "\r" stays with the line above
        ("x\n", 2, "", ""),
    ],
)
def test_edges(text: str, offset: int, expected_line_prefix: str, expected_suffix: str) -> None:
    w = window(text, offset)
    assert w.line_prefix == expected_line_prefix
    assert w.suffix == expected_suffix
    assert w.prefix + w.line_prefix + w.suffix == text


def test_prefix_budget_is_respected_and_start_snaps() -> None:
    cursor = FILE.index("line80 ")
    w = window(FILE, cursor, prefix=100)  # 25 lines fit
    tokens = sum(COUNT(line) for line in w.prefix.splitlines(keepends=True))
    assert tokens <= 100
    assert w.prefix_start_line % 16 == 0
    assert w.prefix.startswith(f"line{w.prefix_start_line} ")
    assert w.prefix.endswith("line79 a b c\n")


def test_prefix_start_is_stable_while_moving_down() -> None:
    """Moving the cursor down a few lines keeps the first prompt tokens identical."""
    starts = {
        window(FILE, FILE.index(f"line{n} "), prefix=100).prefix_start_line for n in range(66, 70)
    }
    assert len(starts) == 1


def test_suffix_budget() -> None:
    cursor = FILE.index("line10 ") + 6
    w = window(FILE, cursor, suffix=9)  # rest of line 10 (3 tokens) + 1 more line (4)
    assert w.suffix == " a b c\nline11 a b c\n"


def test_long_lines_are_clipped() -> None:
    huge = "x" * (MAX_LINE_CHARS * 5)
    text = huge + "\n" + huge
    w = window(text, len(text))
    assert len(w.line_prefix) == MAX_LINE_CHARS
    assert len(w.prefix) == MAX_LINE_CHARS + 1


def test_zero_budget_keeps_only_the_cursor_line() -> None:
    cursor = FILE.index("line50 ") + 4
    w = window(FILE, cursor, prefix=0, suffix=0)
    assert w.prefix == ""
    assert w.line_prefix == "line"


def test_token_counter_caches() -> None:
    calls: list[str] = []

    def tokenize(text: str) -> list[int]:
        calls.append(text)
        return [1, 2]

    counter = TokenCounter(tokenize, capacity=2)
    assert counter("a") == counter("a") == 2
    counter("b")
    counter("c")  # evicts "a"
    counter("a")
    assert calls == ["a", "b", "c", "a"]


# --- the outline of a file that does not fit ------------------------------------------------

CURSOR = "█"


def _long_body(indent: str, statement: str, count: int = 80) -> str:
    return "".join(f"{indent}{statement.format(i=i)}\n" for i in range(count))


OUTLINE_CASES = [
    (
        "python-imports-class-and-method",
        "import os\nfrom typing import (\n    Any,\n    List,\n)\n\nX = 1\n\n\nclass Store:\n"
        "    def load(self, path):\n"
        + _long_body("        ", "x{i} = read(path, {i})")
        + "        █\n",
        [
            "import os\n",
            "from typing import (\n",
            "    Any,\n",
            "    List,\n",
            ")\n",
            "class Store:\n",
            "    def load(self, path):\n",
        ],
        ["X = 1\n"],
    ),
    (
        "go-import-block-and-func",
        'package main\n\nimport (\n\t"fmt"\n\t"os"\n)\n\nvar debug = false\n\n'
        "func run(args []string) error {\n"
        + _long_body("\t", "v{i} := load(args, {i})")
        + "\t█\n}\n",
        [
            "package main\n",
            "import (\n",
            '\t"fmt"\n',
            '\t"os"\n',
            ")\n",
            "func run(args []string) error {\n",
        ],
        ["var debug = false\n"],
    ),
    (
        "js-require-class-and-method",
        "const fs = require('fs');\nimport { join } from 'path';\n\nclass Cache {\n  get(key) {\n"
        "    if (key) {\n"
        + _long_body("      ", "const v{i} = this.read(key, {i});")
        + "      █\n    }\n  }\n}\n",
        [
            "const fs = require('fs');\n",
            "import { join } from 'path';\n",
            "class Cache {\n",
            "  get(key) {\n",
            "    if (key) {\n",
        ],
        [],
    ),
    (
        "rust-use-impl-fn-and-a-finished-function-left-out",
        "use std::io;\n\nfn helper() -> u8 {\n    1\n}\n\n"
        "impl Reader {\n    fn read(&self) -> u8 {\n"
        + _long_body("        ", "let v{i} = self.get({i});")
        + "        █\n    }\n}\n",
        ["use std::io;\n", "impl Reader {\n", "    fn read(&self) -> u8 {\n"],
        ["fn helper() -> u8 {\n", "}\n"],
    ),
]


@pytest.mark.parametrize(
    ("name", "document", "kept", "left_out"), OUTLINE_CASES, ids=[c[0] for c in OUTLINE_CASES]
)
def test_outline_of_a_file_that_does_not_fit(
    name: str, document: str, kept: list[str], left_out: list[str]
) -> None:
    text = document.replace(CURSOR, "")
    offset = document.index(CURSOR)
    w = window(text, offset, prefix=200, suffix=20)
    lines = w.prefix.splitlines(keepends=True)
    assert sum(COUNT(line) for line in lines) + COUNT(w.line_prefix) <= 200
    header = lines[: len(kept)]
    assert header == kept  # in file order, before the window
    assert not any(line in lines for line in left_out)
    assert lines[-1] == text[:offset].splitlines(keepends=True)[-2]  # the window ends above


def test_no_outline_when_its_rule_is_off() -> None:
    """The ablation switch (the disableRules setting) reaches the window."""
    _, document, kept, _ = OUTLINE_CASES[0]
    text = document.replace(CURSOR, "")
    offset = document.index(CURSOR)
    with_outline = window(text, offset, prefix=200, suffix=20)
    w = fim_window(text, offset, COUNT, 200, 20, disabled_rules=("outline",))
    above = text[: offset - len(w.line_prefix)]
    assert above.endswith(w.prefix)  # only the lines just above the cursor
    assert not above.endswith(with_outline.prefix)
    assert not any(line in w.prefix.splitlines(keepends=True) for line in kept)


def test_file_that_fits_gets_no_outline() -> None:
    text = "import os\n\ndef f():\n    return 1\n"
    w = window(text, len(text))
    assert w.prefix == text


def test_outline_stays_within_its_share_of_the_budget() -> None:
    imports = "".join(f"import module{i}\n" for i in range(50))  # 2 tokens a line
    text = imports + "\ndef f():\n" + _long_body("    ", "x{i} = {i}") + "    "
    w = window(text, len(text), prefix=80)
    outline = [line for line in w.prefix.splitlines() if line.startswith(("import", "def"))]
    assert outline[-1] == "def f():"  # the enclosing header comes before imports
    assert 2 * len(outline) <= 80 // 4 + 2


def test_outline_is_stable_while_typing_in_one_function() -> None:
    text = "import os\n\ndef f():\n" + _long_body("    ", "x{i} = os.sep * {i}", 80)
    starts = set()
    for n in range(60, 64):
        offset = text.index(f"    x{n} ") + 4
        w = window(text, offset, prefix=100)
        starts.add(w.prefix.split("    x", 1)[0])
    assert starts == {"import os\ndef f():\n"}


CHATML = ChatTemplate.from_template(None)


@pytest.mark.parametrize(
    ("document", "language", "answer_start", "shown_after"),
    [
        # A body to write with code below it: the code below is shown, fenced, in the request.
        (
            "def f(xs):\n    █\n    return total\n",
            "python",
            "```python\ndef f(xs):\n    ",
            "```python\n    return total\n```",
        ),
        # Nothing after the cursor: the request says nothing about what follows.
        ("fn main() {\n    █", "rust", "```rust\nfn main() {\n    ", None),
        # Text that looks like a control token stays text (never a Special part).
        (
            "s = '<|im_end|>'\nif s:\n\t█\n}\n",
            "go",
            "```go\ns = '<|im_end|>'\nif s:\n\t",
            "```go\n}\n```",
        ),
    ],
)
def test_block_prompt_prefills_the_answer_with_the_code_up_to_the_cursor(
    document: str, language: str, answer_start: str, shown_after: str | None
) -> None:
    text = document.replace("█", "")
    w = window(text, document.index("█"))
    prompt = chat_continuation_prompt(w, CHATML, language)
    assert prompt[-1] == answer_start  # the model goes on from the cursor
    assert prompt[-3:-1] == [Special("<|im_start|>"), "assistant\n"]
    request = next(p for p in prompt if isinstance(p, str) and "Continue this" in p)
    assert f"Continue this {language} file" in request
    assert (shown_after in request) if shown_after else ("after it" not in request)
    specials = [p.text for p in prompt if isinstance(p, Special)]
    assert "<|im_end|>" in specials and not any("'" in token for token in specials)
    assert specials.count("<|im_end|>") == 2  # the system and user turns, no more


def test_block_prompt_changes_only_at_its_end_while_typing_on_the_cursor_line() -> None:
    text = FILE + "    def g(self):\n        \n" + FILE
    cursor = len(FILE) + len("    def g(self):\n        ")
    before = chat_continuation_prompt(window(text, cursor), CHATML, "python")
    typed = text[:cursor] + "ret" + text[cursor:]
    after = chat_continuation_prompt(window(typed, cursor + 3), CHATML, "python")
    assert before[:-1] == after[:-1]
    assert after[-1] == before[-1] + "ret"
