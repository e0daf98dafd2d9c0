"""The FIM window: budgets, the llama.vim layout, and prompt stability while typing."""

from __future__ import annotations

import pytest

from lsp_server.context import MAX_LINE_CHARS, FimMarkers, TokenCounter, fim_prompt, fim_window
from lsp_server.engine import Special


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
    prompt = fim_prompt(w, FimMarkers())
    assert prompt == [
        Special("<|fim_prefix|>"),
        w.prefix,
        Special("<|fim_suffix|>"),
        w.suffix,
        Special("<|fim_middle|>"),
        w.line_prefix,
    ]


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
